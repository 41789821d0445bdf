"""A minimal QMP client and QEMU launcher for the scripts in qemu-tests/.

Python 3 standard library only.
"""

import json
import os
import socket
import subprocess
import time

class Failure(Exception):
    pass


class QMP:
    """Just enough of a QMP client: one command at a time, events skipped."""

    def __init__(self, path, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise Failure(f"no QMP socket at {path}")
                time.sleep(0.05)
        self.rfile = self.sock.makefile("rb")
        self._read()                      # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        line = self.rfile.readline()
        if not line:
            raise Failure("QMP connection closed")
        return json.loads(line)

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self._read()
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise Failure(f"{name}: {r['error'].get('desc')}")

    def wait_status(self, want, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.cmd("query-migrate").get("status")
            if st == want:
                return
            if st in ("failed", "cancelled"):
                raise Failure(f"migration {st}, wanted {want}")
            time.sleep(0.05)
        raise Failure(f"migration not {want} after {timeout} s")


RAM_MIB = 64


def start_qemu(qemu, workdir, name, extra, env=None, wrapper=(),
               qmp_timeout=30):
    """A paused pc guest with a QMP socket; its output goes to NAME.log.
    `wrapper` goes before QEMU's command line (e.g. valgrind)."""
    sock = os.path.join(workdir, name + ".qmp")
    log = open(os.path.join(workdir, name + ".log"), "wb")
    argv = list(wrapper) + [qemu, "-M", "pc-i440fx-7.2", "-accel", "tcg",
                            "-m", str(RAM_MIB),
            "-nodefaults", "-display", "none", "-S",
            "-qmp", f"unix:{sock},server=on,wait=off"] + extra
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                         stderr=subprocess.STDOUT, env=env)
    try:
        return p, QMP(sock, qmp_timeout)
    except Failure:
        p.kill()
        p.wait()
        raise


def stop_qemu(p):
    if p.poll() is None:
        p.kill()
    p.wait()


