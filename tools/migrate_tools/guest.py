"""The guest: Debian's kernel (fetched once), an initramfs whose /init is
tools/guest/workload.c, the kernel command line that configures it, and
its serial console (heartbeats, page addresses, corruption, kernel
errors)."""

import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

from . import ROOT, Failure
from . import packages
from .ui import Progress, log

WORKLOAD_C = os.path.join("tools", "guest", "workload.c")
# Bump when the way the initramfs is made changes.
INITRAMFS_RECIPE = "1"


def cache_dir(explicit=None):
    """The cache: explicit, else $QEMU_THREADS_CACHE, else
    ~/.cache/qemu-threads."""
    return os.path.abspath(explicit or os.environ.get("QEMU_THREADS_CACHE")
                           or os.path.expanduser("~/.cache/qemu-threads"))


def kernel_cmdline(ws, rate, vrate, random_pct=None, idle=False):
    """The guest kernel's command line; workload.* configure the workload
    (MiB, MiB/s; random_pct: share of incompressible pages; idle: fill the
    working set once, then only heartbeat)."""
    s = (f"console=ttyS0 quiet panic=-1 mitigations=off "
         f"workload.ws={ws} workload.rate={rate} workload.vrate={vrate}")
    if random_pct is not None:
        s += f" workload.random={random_pct}"
    if idle:
        s += " workload.idle=1"
    return s


# ---- kernel

APT_UPDATED = False


def apt_update():
    """apt-get update, once, before looking for the kernel package."""
    global APT_UPDATED
    if APT_UPDATED:
        return
    s = packages.sudo_prefix()
    if s is None:
        raise Failure("apt-get update needs root")
    log("apt-get update")
    subprocess.run(s + ["apt-get", "update", "-qq"], stdout=sys.stderr,
                   check=True)
    APT_UPDATED = True


def kernel_package(depends_output):
    """The package linux-image-amd64 depends on, from `apt-cache depends`."""
    m = re.search(r"Depends: (linux-image-[0-9][^\s]*)", depends_output)
    return m.group(1) if m else None


def fetch_kernel(gdir):
    """Debian's kernel, from linux-image-amd64, extracted once into gdir."""
    have = sorted(glob.glob(os.path.join(gdir, "vmlinuz-*")))
    if have:
        return have[-1]

    def depends():
        r = subprocess.run(["apt-cache", "depends", "linux-image-amd64"],
                           capture_output=True, text=True)
        return kernel_package(r.stdout)

    pkg = depends()
    if pkg is None:
        apt_update()
        pkg = depends()
    if pkg is None:
        raise Failure("apt-cache knows no linux-image-amd64 (not Debian?); "
                      "use --kernel PATH")
    os.makedirs(gdir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="kernel.", dir=gdir)
    try:
        log(f"fetching {pkg} (apt-get download, about 70 MB)")
        cmd = ["apt-get", "download", "-q", pkg]
        if os.geteuid() == 0:
            cmd[1:1] = ["-o", "APT::Sandbox::User=root"]
        subprocess.run(cmd, cwd=tmp, stdout=subprocess.DEVNULL, check=True)
        debs = glob.glob(os.path.join(tmp, "*.deb"))
        if len(debs) != 1:
            raise Failure(f"apt-get download {pkg} gave {debs}")
        # dpkg-deb -x, but only ./boot/vmlinuz-* (the modules are not
        # needed: the guest loads none).
        p = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", debs[0]],
                             stdout=subprocess.PIPE)
        out = None
        with tarfile.open(fileobj=p.stdout, mode="r|") as tf:
            for m in tf:
                base = os.path.basename(m.name)
                if m.isfile() and re.fullmatch(r"\./boot/vmlinuz-.*", m.name):
                    out = os.path.join(gdir, base)
                    with tf.extractfile(m) as f, open(out + ".tmp", "wb") as o:
                        shutil.copyfileobj(f, o)
                    os.rename(out + ".tmp", out)
        p.stdout.close()
        if p.wait() != 0 or out is None:
            raise Failure(f"no /boot/vmlinuz-* in {debs[0]}")
        with open(os.path.join(gdir, "kernel-package.txt"), "w") as f:
            f.write(os.path.basename(debs[0]) + "\n")
        log(f"kernel: {out}")
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- initramfs

def cpio_newc(entries):
    """entries: (name, mode, data, rdevmajor, rdevminor) -> newc archive."""
    out = bytearray()
    ino = 300000
    for name, mode, data, maj, mnr in entries + [("TRAILER!!!", 0, b"", 0, 0)]:
        ino += 1
        nb = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, maj, mnr,
                  len(nb), 0)
        out += b"070701" + b"".join(b"%08X" % v for v in fields) + nb
        out += b"\0" * (-len(out) % 4)
        out += data
        out += b"\0" * (-len(out) % 4)
    out += b"\0" * (-len(out) % 512)
    return bytes(out)


def initramfs_entries(init):
    """/dev/console, /proc, /sys and init as /init."""
    return [
        ("dev", 0o040755, b"", 0, 0),
        ("dev/console", 0o020600, b"", 5, 1),
        ("proc", 0o040555, b"", 0, 0),
        ("sys", 0o040555, b"", 0, 0),
        ("init", 0o100755, init, 0, 0),
    ]


def initramfs_key(src, gcc_version):
    """The cache key of an initramfs: the workload's source, gcc, recipe."""
    return hashlib.sha256(src + gcc_version.encode() +
                          INITRAMFS_RECIPE.encode()).hexdigest()[:16]


def build_initramfs(gdir):
    """Static workload as /init in a newc cpio; cached by source hash."""
    srcf = os.path.join(ROOT, WORKLOAD_C)
    with open(srcf, "rb") as f:
        src = f.read()
    if not shutil.which("gcc") or not os.path.exists(
            "/usr/lib/x86_64-linux-gnu/libc.a"):
        packages.ensure("guest")
    gccv = subprocess.run(["gcc", "-dumpfullversion"], capture_output=True,
                          text=True).stdout.strip()
    key = initramfs_key(src, gccv)
    out = os.path.join(gdir, f"initramfs-{key}.cpio")
    if os.path.exists(out):
        return out
    os.makedirs(gdir, exist_ok=True)
    binf = os.path.join(gdir, f"workload-{key}")
    log(f"building {WORKLOAD_C} (gcc -static)")
    r = subprocess.run(["gcc", "-static", "-O2", "-Wall", "-Wextra", "-o",
                        binf + ".tmp", srcf], capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"gcc -static {WORKLOAD_C} failed:\n{r.stderr}")
    os.rename(binf + ".tmp", binf)
    with open(binf, "rb") as f:
        init = f.read()
    data = cpio_newc(initramfs_entries(init))
    with open(out + ".tmp", "wb") as f:
        f.write(data)
    os.rename(out + ".tmp", out)
    log(f"initramfs: {out} ({len(data) // 1024} KiB)")
    return out


# ---- serial console

HB_RE = re.compile(rb"workload: hb t=(\d+) written=(\d+) verified=(\d+) "
                   rb"passes=(\d+) corrupt=(\d+)")
PAGE_RE = re.compile(rb"workload: page idx=(\d+) paddr=0x([0-9a-f]+)")
OOPS_RE = re.compile(rb"\] (BUG|Oops|general protection|kernel BUG|\S+: segfault|"
                     rb"list_(add|del) corruption|Kernel panic|WARNING)")
ANSI_RE = re.compile(rb"\x1b(\[[0-9;?]*[A-Za-z]|c)")


def parse_heartbeat(line):
    """The dict of a `workload: hb ...` line, or None."""
    m = HB_RE.search(line)
    if not m:
        return None
    t, w, v, p, c = (int(x) for x in m.groups())
    return dict(t=t, written=w, verified=v, passes=p, corrupt=c)


class Console:
    """A guest's serial console, read from its file as it grows."""

    def __init__(self, path, role, echo):
        self.path = path
        self.role = role
        self.echo = echo
        self.off = 0
        self.part = b""
        self.lines = []
        self.hbs = []          # (monotonic time seen, dict)
        self.pages = []        # (idx, paddr)
        self.corrupt = []      # CORRUPT lines
        self.ready = False
        self.fatal = None
        self.oops_at = None    # index in lines of the first kernel error

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read()
        except FileNotFoundError:
            return
        self.off += len(data)
        self.feed(data)

    def feed(self, data):
        """Take in more console output."""
        data = self.part + data
        *lines, self.part = re.split(rb"\r?\n", data)
        for raw in lines:
            line = ANSI_RE.sub(b"", raw.replace(b"\r", b""))
            self.lines.append(line)
            if self.echo:
                Progress.clear()
                print(f"  [{self.role}] {line.decode(errors='replace')}",
                      file=sys.stderr, flush=True)
            hb = parse_heartbeat(line)
            if hb:
                self.hbs.append((time.monotonic(), hb))
                continue
            if b"workload: ready" in line:
                self.ready = True
            m = PAGE_RE.search(line)
            if m:
                self.pages.append((int(m.group(1)), int(m.group(2), 16)))
            if b"workload: CORRUPT" in line:
                self.corrupt.append(line.decode(errors="replace").strip())
            if self.oops_at is None and OOPS_RE.search(line):
                self.oops_at = len(self.lines) - 1
            if (b"Kernel panic" in line or b"workload: FATAL" in line) \
                    and self.fatal is None:
                self.fatal = line.decode(errors="replace").strip()

    def last_hb(self):
        return self.hbs[-1][1] if self.hbs else None

    def ready_fill(self):
        """What the `workload: ready fill=...` line says, or '?'."""
        return next((ln.decode(errors="replace").split("fill=")[1]
                     for ln in self.lines if b"ready fill=" in ln), "?")

    def oops(self, n=6):
        """The first lines of the kernel's error report, if any."""
        if self.oops_at is None:
            return self.tail(n)
        return "\n".join("    " + ln.decode(errors="replace")
                         for ln in self.lines[self.oops_at:self.oops_at + n])

    def tail(self, n=15):
        return "\n".join("    " + ln.decode(errors="replace")
                         for ln in self.lines[-n:])


def wait_ready(con, heartbeats, timeout, alive):
    """Poll con until the workload said it is ready and `heartbeats`
    heartbeats came.  alive() runs each round and raises if the QEMU died.
    Returns None, 'fatal' (the guest died: con.fatal) or 'timeout'."""
    t0 = time.monotonic()
    while True:
        con.poll()
        alive()
        if con.fatal:
            return "fatal"
        if con.ready and len(con.hbs) >= heartbeats:
            return None
        if time.monotonic() - t0 > timeout:
            return "timeout"
        time.sleep(0.2)


def wait_heartbeats(con, n, timeout, interval, alive=None):
    """Poll con until n more heartbeats came; False after timeout s.
    alive(), if given, runs each round and raises if the QEMU died."""
    con.poll()
    n0 = len(con.hbs)
    t0 = time.monotonic()
    while len(con.hbs) < n0 + n:
        if time.monotonic() - t0 > timeout:
            return False
        time.sleep(interval)
        con.poll()
        if alive:
            alive()
    return True
