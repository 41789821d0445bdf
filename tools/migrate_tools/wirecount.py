"""Bytes that really cross the migration socket, counted on the
destination by an LD_PRELOAD shim (tools/guest/wire-count.c) built with
cc into the run folder: the sums of read()/readv()/recv*() on its sockets,
written at exit.  The destination's QMP socket is counted apart."""

import os
import subprocess

from . import ROOT, Failure

SOURCE = os.path.join("tools", "guest", "wire-count.c")


def build(workdir):
    """cc the shim into workdir; returns the .so's path."""
    so = os.path.join(workdir, "wire-count.so")
    r = subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra",
                        "-Werror", "-o", so, os.path.join(ROOT, SOURCE),
                        "-ldl"], capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"cc {SOURCE} failed (status {r.returncode}):\n"
                      f"{r.stderr.strip()}")
    return so


def env(so, out, exclude):
    """Environment additions for a destination QEMU: the shim, the file it
    writes at exit and the (QMP) socket path it counts apart."""
    pre = os.environ.get("LD_PRELOAD")
    return {"LD_PRELOAD": so + (" " + pre if pre else ""),
            "QT_WIRE_OUT": out, "QT_WIRE_EXCLUDE": exclude}


def parse(text):
    """{"migration_bytes", "migration_calls", "other_bytes", "other_calls"}
    of the shim's report; None if it is not complete."""
    got = {}
    for ln in text.splitlines():
        parts = ln.split()
        if len(parts) == 2 and parts[1].isdigit():
            got[parts[0]] = int(parts[1])
    keys = ("migration_bytes", "migration_calls", "other_bytes",
            "other_calls")
    if not all(k in got for k in keys):
        return None
    return {k: got[k] for k in keys}


def read(out):
    """The shim's report in file out (after the QEMU exited), or None."""
    try:
        with open(out) as f:
            return parse(f.read())
    except OSError:
        return None
