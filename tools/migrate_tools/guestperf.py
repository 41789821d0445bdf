"""QEMU 7.2's own tests/migration/guestperf.py --compression-mt, on a
patched copy (a cancelled run still writes its report), with its stress
initramfs and a wrapper that runs TCG instead of KVM; and its report
boiled down to a run record."""

import json
import os
import shutil
import subprocess
import sys
import time

from . import ROOT, Failure
from .guest import cpio_newc
from .stats import med

# qemu/build-qemu unpacks the QEMU 7.2 source here.

def source_dir():
    """The QEMU source tree the builds use (qemu/build-qemu --print-base)."""
    r = subprocess.run([os.path.join(ROOT, "qemu", "build-qemu"),
                        "--print-base"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    lines = r.stdout.strip().splitlines()
    if r.returncode != 0 or not lines:
        raise Failure("qemu/build-qemu --print-base failed")
    return lines[-1]

WRAPPER = """#!/bin/sh
# guestperf hard-codes -accel kvm -cpu host: run TCG instead.
q={qemu}
i=0
n=$#
while [ $i -lt $n ]; do
    a=$1; shift; i=$((i + 1))
    if [ "$a" = kvm ]; then a=tcg; fi
    if [ "$a" = -cpu ]; then shift; i=$((i + 1)); continue; fi
    set -- "$@" "$a"
done
exec "$q" "$@"
"""


def patch_engine(s):
    """guestperf/engine.py, patched: a cancelled migration (max-time
    reached) leaves the destination to exit on its own, so shutdown()
    errors are tolerated and the report is written instead of "Error: ..."
    and no JSON; and the last progress figures before a cancel are kept
    (guestperf records progress only when the iteration count grows)."""
    s2 = s.replace("            src.shutdown()\n            dst.shutdown()\n"
                   "\n            return Report(",
                   "            for _vm in (src, dst):\n"
                   "                try:\n"
                   "                    _vm.shutdown()\n"
                   "                except Exception as _e:\n"
                   "                    print('guestperf: ignoring shutdown "
                   "error: %s' % _e, file=sys.stderr)\n"
                   "\n            return Report(")
    if s2 == s:
        raise Failure("could not patch guestperf/engine.py (unexpected "
                      "source)")
    s3 = s2.replace('                src.command("migrate_cancel")\n',
                    '                if progress._ram._total_bytes:\n'
                    '                    progress_history.append(progress)\n'
                    '                src.command("migrate_cancel")\n')
    if s3.count("progress_history.append(progress)") < 3:
        raise Failure("could not patch guestperf/engine.py's cancel")
    return s3


def prepare(work, stock_bin, patched_bin, srcdir=None):
    """A patched copy of guestperf (and python/qemu) in work/tree and its
    stress initramfs; returns (guestperf.py, initrd)."""
    srcdir = srcdir or source_dir()
    gp = os.path.join(srcdir, "tests", "migration")
    if not os.path.isfile(os.path.join(gp, "guestperf.py")):
        raise Failure(f"no {gp}/guestperf.py: run qemu/build-qemu "
                      "(it unpacks the QEMU 7.2 source there)")
    os.makedirs(work, exist_ok=True)
    tree = os.path.join(work, "tree")
    shutil.copytree(os.path.join(gp, "guestperf"),
                    os.path.join(tree, "tests", "migration", "guestperf"))
    shutil.copy(os.path.join(gp, "guestperf.py"),
                os.path.join(tree, "tests", "migration"))
    shutil.copytree(os.path.join(srcdir, "python"),
                    os.path.join(tree, "python"))
    eng = os.path.join(tree, "tests", "migration", "guestperf", "engine.py")
    with open(eng) as f:
        s = f.read()
    with open(eng, "w") as f:
        f.write(patch_engine(s))
    initrd = os.path.join(work, "initrd-stress.img")
    stress = os.path.join(work, "stress")
    # stress.c includes qemu/osdep.h (config-host.h from the build
    # directory next to the stock binary) and links glib statically,
    # as tests/migration/meson.build does.
    bdir = os.path.dirname(stock_bin)
    if not os.path.isfile(os.path.join(bdir, "config-host.h")):
        bdir = os.path.dirname(patched_bin)
    pc = subprocess.run(["pkg-config", "--cflags", "--static", "--libs",
                         "glib-2.0"], capture_output=True, text=True)
    if pc.returncode != 0:
        raise Failure("pkg-config glib-2.0 failed: install libglib2.0-dev")
    flags = pc.stdout.split()
    r = subprocess.run(["gcc", "-static", "-O2",
                        "-I" + os.path.join(srcdir, "include"), "-I" + bdir,
                        "-o", stress, os.path.join(gp, "stress.c")]
                       + flags + ["-pthread"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"gcc -static stress.c failed (needs libc6-dev, "
                      f"libglib2.0-dev and {bdir}/config-host.h):\n"
                      f"{r.stderr[-2000:]}")
    with open(stress, "rb") as f:
        init = f.read()
    with open(initrd, "wb") as f:
        f.write(cpio_newc([("init", 0o100755, init, 0, 0),
                           ("dev", 0o040755, b"", 0, 0),
                           ("dev/console", 0o020600, b"", 5, 1)]))
    return os.path.join(tree, "tests", "migration", "guestperf.py"), initrd


def write_wrapper(path, qemu):
    with open(path, "w") as f:
        f.write(WRAPPER.format(qemu=qemu))
    os.chmod(path, 0o755)


def args_text(mem, sleep, max_time):
    """The settings of a run, as the report shows them."""
    return (f"--mem {mem} (RAM {mem} GiB + 512 MiB), 1 vCPU, --sleep "
            f"{sleep}, --max-time {max_time}, --max-iters 30, "
            "--bandwidth 0, --downtime 300, --compression-mt-threads 2")


def run(script, wrapper, kernel, initrd, output, mem, sleep, max_time, cwd):
    """One guestperf run (2 compression threads, unlimited bandwidth);
    returns its part of the run record."""
    cmd = [sys.executable, script,
           "--binary", wrapper, "--kernel", kernel,
           "--initrd", initrd, "--transport", "unix",
           "--mem", str(mem), "--cpus", "1",
           "--sleep", str(sleep),
           "--max-time", str(max_time),
           "--max-iters", "30", "--bandwidth", "0",
           "--downtime", "300", "--compression-mt",
           "--compression-mt-threads", "2", "--output", output]
    t0 = time.monotonic()
    pr = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd,
                        timeout=max_time + 600)
    rec = {"label": "guestperf-mt2", "command": cmd, "exit": pr.returncode,
           "gp_args": args_text(mem, sleep, max_time),
           "wall_s": round(time.monotonic() - t0, 1),
           "stderr": pr.stderr[-3000:]}
    try:
        with open(output) as f:
            rep_j = json.load(f)
        rec.update(summarize(rep_j))
    except (OSError, ValueError, KeyError, IndexError) as e:
        rec["error"] = f"no report: {e}; {pr.stderr[-500:]}"
    return rec


def summarize(j):
    """The figures of a guestperf report."""
    prog = j["progress_history"]
    final = prog[-1]
    # After migrate_cancel, query-migrate has no RAM figures: report the
    # last record that has them.
    withram = [p for p in prog if p["ram"].get("total_bytes")]
    last = withram[-1] if withram else final
    ram = last["ram"]
    return {"status": final["status"],
            "converged": last["status"] == "completed",
            "total_time_ms": last.get("duration"),
            "downtime_ms": last.get("downtime"),
            "iterations": ram.get("iterations"),
            "transferred_bytes": ram.get("transferred_bytes"),
            "ram_total_bytes": ram.get("total_bytes"),
            "normal_pages": ram.get("normal_pages"),
            "duplicate_pages": ram.get("duplicate_pages"),
            "mbps_last": ram.get("transfer_rate_mbs"),
            "guest_ms_per_gib_median": med(
                [t.get("value") for t in j.get("guest_timings") or []]),
            "guest_timings": len(j.get("guest_timings") or [])}
