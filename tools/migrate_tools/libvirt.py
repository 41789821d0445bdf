"""Hosts and a guest for libvirt migration tests, on one machine.

Each Host is Debian's libvirtd in its own mount namespace, with private
/etc, /run, /var/lib, /var/log and /var/cache libvirt directories and its
own host UUID, reachable as qemu+unix:///system?socket=....  A host can
also have its own QEMU installed: an overlay, a tree of unpacked .deb files
whose /usr/bin/qemu-system-x86_64 and /usr/lib/<multiarch>/qemu are bound
over the machine's in that namespace, so that every host runs
/usr/bin/qemu-system-x86_64 as a real host does and the domain XML never
names another emulator.

A Domain is a transient TCG guest booting Debian's kernel with the
project's workload as /init (tools/guest/workload.c: it keeps writing
pages and re-verifying what it wrote), migrated between hosts with

    virsh migrate --live --compressed --comp-methods mt --comp-mt-threads 2
        --comp-mt-dthreads 2 --comp-mt-level 1 --verbose [--p2p]

and checked after every hop: running on the destination only, the guest's
verifier clean (corrupt=0) and writing there, and compressed pages counted
by QEMU's own query-migrate (read through virsh qemu-monitor-command while
the job runs: libvirt 9.0's domjobinfo does not show mt compression).
"""

import json
import os
import signal
import subprocess
import time
import uuid

from . import Failure, guest
from .ui import log, result

DOMAIN = "qemu-threads-libvirt-test"
EMULATOR = "/usr/bin/qemu-system-x86_64"
MODULE_DIR = "/usr/lib/x86_64-linux-gnu/qemu"
LIBVIRT_DIRS = ("etc/libvirt", "run/libvirt", "var/lib/libvirt",
                "var/log/libvirt", "var/cache/libvirt")
RAM_MIB = 256


class Host:
    """One libvirtd in its own mount namespace, as if on its own host.
    overlay: a directory with usr/bin/qemu-system-x86_64 (and the modules)
    to run instead of the machine's."""

    def __init__(self, work, name, port_base, overlay=None):
        self.name = name
        self.root = os.path.join(work, name)
        self.overlay = overlay
        self.proc = None
        for d in LIBVIRT_DIRS:
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        self.sock = os.path.join(self.root, "run/libvirt/libvirt-sock")
        self.uri = f"qemu+unix:///system?socket={self.sock}"
        etc = os.path.join(self.root, "etc/libvirt")
        with open(os.path.join(etc, "libvirtd.conf"), "w") as f:
            # Two daemons with one UUID refuse to migrate ("Attempt to
            # migrate guest to the same host"); this VM has no DMI UUID.
            f.write(f'host_uuid = "{uuid.uuid4()}"\n'
                    'auth_unix_rw = "none"\nauth_unix_ro = "none"\n'
                    'log_outputs = "3:file:/var/log/libvirt/libvirtd.log"\n')
        with open(os.path.join(etc, "qemu.conf"), "w") as f:
            f.write('user = "root"\ngroup = "root"\n'
                    'security_driver = "none"\n'
                    # QEMU's stderr in /var/log/libvirt/qemu/, no virtlogd
                    'stdio_handler = "file"\n'
                    'cgroup_controllers = [ ]\nnamespaces = [ ]\n'
                    'remember_owner = 0\n'
                    f'migration_port_min = {port_base}\n'
                    f'migration_port_max = {port_base + 15}\n')

    def binds(self):
        b = [(os.path.join(self.root, d), "/" + d) for d in LIBVIRT_DIRS]
        if self.overlay:
            for p in (EMULATOR, MODULE_DIR):
                src = self.overlay + p
                if not os.path.exists(src):
                    raise Failure(f"host {self.name}: the overlay has no {p}")
                b.append((src, p))
        return b

    def start(self):
        binds = " && ".join(f"mkdir -p {dst} && mount --bind {src} {dst}"
                            if not dst.startswith("/usr/") else
                            f"mount --bind {src} {dst}"
                            for src, dst in self.binds())
        script = (f"mount --make-rprivate / && {binds} && "
                  "exec libvirtd -f /etc/libvirt/libvirtd.conf "
                  "-p /run/libvirt/libvirtd.pid")
        out = open(os.path.join(self.root, "libvirtd.out"), "wb")
        self.proc = subprocess.Popen(["unshare", "-m", "sh", "-c", script],
                                     stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise Failure(f"libvirtd {self.name} exited "
                              f"{self.proc.returncode}: {self.output()}")
            if os.path.exists(self.sock) and self.virsh(
                    "version", check=False).returncode == 0:
                return
            if time.monotonic() > deadline:
                raise Failure(f"libvirtd {self.name} did not answer in 60 s: "
                              f"{self.output()}")
            time.sleep(0.2)

    def rebind(self):
        """Binds the overlay's emulator again if it is gone: apt replacing
        /usr/bin/qemu-system-x86_64 on the machine (a rename) detaches a
        bind mount on it in every other namespace."""
        if not self.overlay:
            return
        src = self.overlay + EMULATOR
        subprocess.run(["nsenter", "-t", str(self.proc.pid), "-m", "sh", "-c",
                        f"mountpoint -q {EMULATOR} || "
                        f"mount --bind {src} {EMULATOR}"], check=True)

    def output(self):
        with open(os.path.join(self.root, "libvirtd.out"), "rb") as f:
            return f.read().decode(errors="replace")[-800:]

    def virsh(self, *args, check=True, timeout=300):
        r = subprocess.run(["virsh", "-q", "-c", self.uri] + list(args),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise Failure(f"virsh {' '.join(args[:2])} on {self.name}: "
                          f"{r.stderr.strip() or r.stdout.strip()}")
        return r

    def has_domain(self):
        return self.virsh("domstate", DOMAIN, check=False).returncode == 0

    def state(self):
        return self.virsh("domstate", DOMAIN, check=False).stdout.strip()

    def qemu_pid(self):
        p = os.path.join(self.root, "run/libvirt/qemu", DOMAIN + ".pid")
        with open(p) as f:
            return int(f.read().strip())

    def qemu_version(self):
        """What the domain's QEMU says it is (query-version's package)."""
        r = self.virsh("qemu-monitor-command", DOMAIN,
                       '{"execute":"query-version"}')
        return json.loads(r.stdout)["return"]["package"].strip()

    def qemu_log(self):
        p = os.path.join(self.root, "var/log/libvirt/qemu", DOMAIN + ".log")
        try:
            with open(p, errors="replace") as f:
                return f.read()[-1500:]
        except OSError:
            return "(no QEMU log)"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            if self.has_domain():
                self.virsh("destroy", DOMAIN, check=False, timeout=60)
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def domain_xml(emulator, kernel, initrd, cmdline, serial):
    return f"""<domain type='qemu'>
  <name>{DOMAIN}</name>
  <memory unit='MiB'>{RAM_MIB}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>{cmdline}</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>{emulator}</emulator>
    <serial type='file'><source path='{serial}'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
"""


def kill_strays():
    """QEMUs of these tests that outlived their daemon (QEMU daemonizes)."""
    subprocess.run(["pkill", "-KILL", "-f", f"guest={DOMAIN}"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def strays():
    """What of ours still runs: daemons and QEMUs."""
    time.sleep(0.5)
    return subprocess.run(
        ["pgrep", "-a", "-f", f"guest={DOMAIN}|libvirtd -f "
         "/etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd.pid"],
        capture_output=True, text=True).stdout.strip()


class Domain:
    """The test guest, followed across hosts: its console file changes at
    every hop (the destination's definition names its own)."""

    def __init__(self, work, kernel, initrd, name):
        self.work = work
        self.kernel = kernel
        self.initrd = initrd
        self.name = name
        self.hops = 0
        self.host = None
        self.emulator = None
        self.serial = None
        self.hb = None

    def _serial(self):
        self.hops += 1
        return os.path.join(self.work, f"{self.name}-{self.hops}.serial")

    def create(self, host, emulator=EMULATOR):
        self.serial = self._serial()
        xml = os.path.join(self.work, f"{self.name}.xml")
        with open(xml, "w") as f:
            f.write(domain_xml(emulator, self.kernel, self.initrd,
                               guest.kernel_cmdline(32, 16, 128), self.serial))
        host.virsh("create", xml)
        self.host, self.emulator = host, emulator
        con = guest.Console(self.serial, self.name, False)
        state = guest.wait_ready(con, 2, 300, lambda: None)
        if state:
            raise Failure(f"{self.name}: the guest did not come up ({state}):"
                          f"\n{con.tail()}\n{host.qemu_log()}")
        self.hb = con.last_hb()

    def verify(self, heartbeats=3):
        """The guest runs where it is, keeps writing, and its verifier has
        found nothing wrong."""
        con = guest.Console(self.serial, self.name, False)
        if not guest.wait_heartbeats(con, heartbeats, 120, 1):
            raise Failure(f"{self.name}: no heartbeats on {self.host.name}:\n"
                          f"{con.tail()}\n{self.host.qemu_log()}")
        hb = con.last_hb()
        if con.corrupt or hb["corrupt"] or \
                (self.hb and hb["written"] <= self.hb["written"]):
            raise Failure(f"{self.name} on {self.host.name}: {hb} "
                          f"{con.corrupt[:3]}")
        self.hb = hb
        return hb

    def migrate(self, dst, paused=False, p2p=False, dst_emulator=None):
        """Migrates to DST with compress "mt" on; verifies the guest there.
        paused: suspended for the migration, resumed after it."""
        src = self.host
        dst_emulator = dst_emulator or self.emulator
        log(f"{self.name}: {src.name} -> {dst.name}"
            f"{' (--p2p)' if p2p else ''}"
            f"{', paused during the migration' if paused else ''}")
        if paused:
            src.virsh("suspend", DOMAIN)
        dst_serial = self._serial()
        dxml = src.virsh("dumpxml", "--migratable", DOMAIN).stdout
        dxml = dxml.replace(f"<emulator>{self.emulator}</emulator>",
                            f"<emulator>{dst_emulator}</emulator>")
        dxml = dxml.replace(f"path='{self.serial}'", f"path='{dst_serial}'")
        if dst_emulator not in dxml or dst_serial not in dxml:
            raise Failure(f"{self.name}: cannot rewrite the domain XML for "
                          "the destination")
        dxml_path = os.path.join(self.work, f"{self.name}-{self.hops}.xml")
        with open(dxml_path, "w") as f:
            f.write(dxml)
        argv = ["virsh", "-c", src.uri, "migrate", "--live", "--compressed",
                "--comp-methods", "mt", "--comp-mt-threads", "2",
                "--comp-mt-dthreads", "2", "--comp-mt-level", "1",
                "--verbose", "--xml", dxml_path]
        if p2p:
            argv.append("--p2p")
        argv += [DOMAIN, dst.uri, "tcp://127.0.0.1"]
        t0 = time.monotonic()
        mig = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        compression = None
        status = None
        while mig.poll() is None:
            r = src.virsh("qemu-monitor-command", DOMAIN,
                          '{"execute":"query-migrate"}', check=False,
                          timeout=30)
            if r.returncode == 0:
                info = json.loads(r.stdout).get("return", {})
                status = info.get("status", status)
                if info.get("compression"):
                    compression = info["compression"]
            time.sleep(0.2)
        out = mig.stdout.read()
        secs = time.monotonic() - t0
        if mig.returncode != 0:
            raise Failure(f"{self.name}: virsh migrate exited "
                          f"{mig.returncode}: {out.strip()[-600:]}\n"
                          f"source QEMU log:\n{src.qemu_log()}\n"
                          f"destination QEMU log:\n{dst.qemu_log()}")
        if src.has_domain():
            raise Failure(f"{self.name}: the domain is still on {src.name}")
        want = "paused" if paused else "running"
        got = dst.state()
        if got != want:
            raise Failure(f"{self.name}: the domain is {got or 'gone'} on "
                          f"{dst.name}, not {want}:\n{dst.qemu_log()}")
        self.host, self.emulator, self.serial = dst, dst_emulator, dst_serial
        if paused:
            dst.virsh("resume", DOMAIN)
        if not compression or compression.get("pages", 0) <= 0:
            raise Failure(f"{self.name}: query-migrate counted no compressed "
                          f"pages (last status {status}, compression "
                          f"{compression})")
        hb = self.verify()
        result(f"ok: {self.name}: {src.name} -> {dst.name} in {secs:.1f} s, "
            f"{compression['pages']} compressed pages "
            f"({compression.get('compressed-size', 0) // 1024} KiB, busy "
            f"{compression.get('busy', 0)}); guest written={hb['written']} "
            f"verified={hb['verified']} corrupt={hb['corrupt']}")
        return secs

    def destroy(self):
        if self.host and self.host.has_domain():
            self.host.virsh("destroy", DOMAIN, check=False, timeout=60)
        self.host = None
