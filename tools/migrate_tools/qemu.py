"""A QEMU process: its command line, launch in its own process group (dies
with us), QMP connection, stop, and CPU time per process and per thread
from /proc."""

import ctypes
import glob
import os
import re
import signal
import subprocess
import time

from . import ROOT, Failure
from .qmp import QMP, QMPError
from .ui import log, warn

CLK_TCK = os.sysconf("SC_CLK_TCK")


def build_qemu(extra):
    """Path of the QEMU `qemu/build-qemu EXTRA` builds or finds cached
    (EXTRA: [] for the patched build, ["--baseline"] for stock)."""
    cmd = [os.path.join(ROOT, "qemu", "build-qemu")] + extra
    log(f"running {' '.join(['qemu/build-qemu'] + extra)} "
        "(a cache hit takes a second; a first build, minutes)")
    r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if r.returncode != 0 or not r.stdout.strip():
        raise Failure(f"qemu/build-qemu {' '.join(extra)} failed "
                      f"(status {r.returncode}); use --qemu PATH to run "
                      "another QEMU")
    return r.stdout.strip().splitlines()[-1]


def guest_argv(kernel, initrd, cmdline, ram, machine="pc-i440fx-7.2",
               accel="tcg", smp=1, cpu=None, incoming=False, paused=True):
    """QEMU arguments for a guest booting kernel + initrd, serial console
    and QMP aside (Qemu adds those).  incoming: wait for a migration
    (-incoming defer), and with paused stay stopped after it (-S)."""
    argv = ["-nographic", "-nodefaults", "-no-user-config",
            "-machine", machine, "-accel", accel,
            "-m", str(ram), "-smp", str(smp), "-no-reboot"]
    if cpu:
        argv += ["-cpu", cpu]
    argv += ["-kernel", kernel, "-initrd", initrd, "-append", cmdline]
    if incoming:
        argv += ["-incoming", "defer"]
        if paused:
            argv += ["-S"]
    return argv


# ---- CPU time from /proc

def stat_cpu_ticks(stat):
    """utime + stime, in clock ticks, of a /proc/.../stat line (the command
    name in parentheses may hold spaces and parentheses)."""
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def cpu_seconds(pid, tid=None):
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    try:
        with open(path) as f:
            s = f.read()
    except OSError:
        return None
    return stat_cpu_ticks(s) / CLK_TCK


def thread_cpu(pid):
    """{tid: (name, cpu seconds)} for the live threads of pid."""
    out = {}
    for tdir in glob.glob(f"/proc/{pid}/task/*"):
        tid = os.path.basename(tdir)
        try:
            with open(os.path.join(tdir, "comm")) as f:
                name = f.read().strip()
        except OSError:
            continue
        c = cpu_seconds(pid, tid)
        if c is not None:
            out[tid] = (name, c)
    return out


def thread_group(tid, pid, name):
    """The group a thread's CPU is counted in: 'main' for the main thread,
    else its name without a trailing number ('compress/1' -> 'compress')."""
    if int(tid) == pid:
        return "main"
    return re.sub(r"[/ ]?\d+$", "", name) or name


def sum_groups(threads, pid):
    """{group: CPU seconds} of {tid: (name, seconds)}."""
    groups = {}
    for tid, (name, c) in threads.items():
        g = thread_group(tid, pid, name)
        groups[g] = groups.get(g, 0.0) + c
    return groups


def thread_deltas(threads, base):
    """threads minus base ({tid: (name, seconds)}); a thread not in base
    started after it, from 0."""
    return {tid: (nm, c - base.get(tid, (nm, 0.0))[1])
            for tid, (nm, c) in threads.items()}


# ---- processes

def _child_setup():
    # Die with us even if we are SIGKILLed (the child is in its own process
    # group, so a terminal's Ctrl-C reaches only us; we stop it ourselves).
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Qemu:
    """One QEMU with its serial console in ROLE.serial, QMP on ROLE.qmp and
    its output in ROLE.log in rundir.  env: variables added to ours (e.g.
    LD_PRELOAD); cpus: CPU numbers the process (and so every thread it
    starts) may run on, set before exec."""

    ALL = []

    def __init__(self, role, binary, rundir, argv, env=None, cpus=None):
        self.env = env
        self.cpus = cpus
        self.role = role
        self.binary = binary
        self.dir = rundir
        self.serial = os.path.join(rundir, f"{role}.serial")
        self.qmp_path = os.path.join(rundir, f"{role}.qmp")
        self.log = os.path.join(rundir, f"{role}.log")
        self.argv = [binary, "-name", f"{role},debug-threads=on",
                     "-chardev", f"socket,id=qmp,path={self.qmp_path},"
                                 "server=on,wait=off",
                     "-mon", "chardev=qmp,mode=control",
                     "-chardev", f"file,id=ser0,path={self.serial}",
                     "-serial", "chardev:ser0"] + argv
        self.proc = None
        self.qmp = None
        self.threads = {}   # tid -> (name, cpu) last seen

    def start(self, timeout=30.0):
        cpus = self.cpus

        def setup():
            _child_setup()
            if cpus is not None:
                os.sched_setaffinity(0, cpus)

        env = dict(os.environ, **self.env) if self.env else None
        with open(self.log, "wb") as logf:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=logf,
                stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=setup, env=env)
        Qemu.ALL.append(self)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise Failure(f"{self.role} QEMU exited with status "
                              f"{self.proc.returncode} at start:\n"
                              f"  {' '.join(self.argv)}\n{self.output()}")
            if os.path.exists(self.qmp_path):
                try:
                    self.qmp = QMP(self.qmp_path)
                    break
                except (OSError, QMPError):
                    pass
            if time.monotonic() > deadline:
                raise Failure(f"{self.role} QEMU: no QMP after {timeout:.0f}s"
                              f"\n{self.output()}")
            time.sleep(0.05)
        return self

    @property
    def pid(self):
        return self.proc.pid

    @property
    def version(self):
        """'7.2.0' from the QMP greeting."""
        v = self.qmp.version
        return f"{v['major']}.{v['minor']}.{v['micro']}"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def output(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read().rstrip() or "(no output)"
        except OSError:
            return "(no output)"

    def cpu(self):
        return cpu_seconds(self.pid)

    def affinity(self):
        """The CPUs the QEMU process may run on (a sorted list)."""
        return sorted(os.sched_getaffinity(self.pid))

    def sample_threads(self):
        if self.alive():
            self.threads.update(thread_cpu(self.pid))

    def thread_groups(self):
        """CPU seconds by thread name, digits and '/N' suffixes folded."""
        return sum_groups(self.threads, self.pid)

    def stop(self, grace=3.0):
        if self.proc is None or self.proc.poll() is not None:
            if self.qmp:
                self.qmp.close()
            return
        if self.qmp:
            try:
                self.qmp.cmd("quit", timeout=2)
            except (OSError, QMPError, ValueError):
                pass
            self.qmp.close()
        try:
            self.proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(grace)
                return
            except subprocess.TimeoutExpired:
                pass

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def stop_all():
    """Stop every Qemu started, newest first."""
    for q in reversed(Qemu.ALL):
        try:
            q.stop()
        except Exception as e:  # keep stopping the others
            warn(f"stopping {q.role}: {e}")


class CpuMeter:
    """CPU time of a source and a destination over one migration: the
    processes' totals, and per thread (each Qemu's .threads ends up holding
    what every thread used in between)."""

    def __init__(self, src, dst):
        self.src, self.dst = src, dst
        self.cpu0 = {"src": src.cpu(), "dst": dst.cpu()}
        src.threads, dst.threads = {}, {}
        self.base = {"src": thread_cpu(src.pid), "dst": thread_cpu(dst.pid)}

    def sample(self):
        self.src.sample_threads()
        self.dst.sample_threads()

    def finish(self):
        """{"src": seconds, "dst": seconds or None if it has exited}."""
        cpu = {"src": (self.src.cpu() or 0) - (self.cpu0["src"] or 0),
               "dst": ((self.dst.cpu() or 0) - (self.cpu0["dst"] or 0))
               if self.dst.alive() else None}
        for side, q in (("src", self.src), ("dst", self.dst)):
            q.sample_threads()
            q.threads = thread_deltas(q.threads, self.base[side])
        return cpu


# ---- a bare QEMU for qemu/tests/

RAM_MIB = 64


def start_qemu(qemu, workdir, name, extra, env=None, wrapper=(),
               qmp_timeout=30):
    """A paused pc guest with no disk, a QMP socket and its output in
    NAME.log in workdir: (Popen, QMP).  `wrapper` goes before QEMU's
    command line (e.g. valgrind).  Commands wait for ever."""
    sock = os.path.join(workdir, name + ".qmp")
    with open(os.path.join(workdir, name + ".log"), "wb") as logf:
        argv = list(wrapper) + [
            qemu, "-M", "pc-i440fx-7.2", "-accel", "tcg", "-m", str(RAM_MIB),
            "-nodefaults", "-display", "none", "-S",
            "-qmp", f"unix:{sock},server=on,wait=off"] + extra
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                             stderr=subprocess.STDOUT, env=env)
    try:
        return p, QMP.wait_for(sock, qmp_timeout)
    except (QMPError, ValueError):
        p.kill()
        p.wait()
        raise


def stop_qemu(p):
    if p.poll() is None:
        p.kill()
    p.wait()
