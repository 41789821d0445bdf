"""scripts/bench-migration: compressed migration on the patched QEMU 7.2
(qemu-threads) against stock, alternating builds, with medians, per-pair
ratios, results.md and plots.  See docs/benchmarks.md."""

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from . import MiB, ROOT, Failure, Interrupted
from . import engine, guest, guestperf, methods, migration, ui, wirecount
from .guest import Console
from .migration import Compress
from .plots import make_plots
from .qemu import Qemu, _child_setup, build_qemu, guest_argv, stop_all
from .qmp import QMPError
from .report import report
from .stats import BUILDS, guest_dirtied
from .ui import Parser, log, warn

PROG = "bench-migration"
# --help's description and epilog (kept as they were when this was one
# script).
HELP = '''\
Benchmark compressed migration: patched QEMU 7.2 (qemu-threads) vs stock.

Runs the same scenarios on the patched build (`qemu/build-qemu | tail -1`)
and on the baseline (`qemu/build-qemu --baseline | tail -1`: stock 7.2
compress threads + the TCG dirty-tracking fix), alternating patched, stock,
patched, stock, and reports medians and per-pair ratios (patched/stock).

Scenarios (--only):
  throughput  a paused guest whose RAM the workload filled with realistic
              content, migrated with compress-threads 1, 2 and 4
  live        the workload dirtying memory at fixed rates, with and without
              a max-bandwidth limit: converges within the cap or not
  wait        compress-wait-thread off: throughput with 2 threads and one
              live rate
  guestperf   QEMU's own tests/migration/guestperf.py --compression-mt on
              both builds (TCG through a wrapper)
Run only when named in --only (not part of the default):
  pinned      source QEMU on CPU 0, destination on CPU 1, a paused guest
              (512 MiB full) migrated by every method (below) with 1
              compress thread / 2 multifd channels, unlimited bandwidth:
              time, MiB/s per source core, CPU s/GiB, wire MiB and the
              break-even link speed of each compressed method against raw
              (3 rounds; full: about 4 minutes; quick 1; smoke 1)
  links       every method side by side at max-bandwidth unlimited,
              125e6 and 12.5e6 bytes/s (125 MB/s = 1 Gbit/s, 12.5 MB/s
              = 100 Mbit/s), a paused 320 MiB guest (192 MiB of content)
              and a live one dirtying 8 MiB/s (cap 40 s), 2 threads /
              channels, unpinned, 2 reps (full: about 15 minutes, at most
              about 35 if every live run hit the cap; quick, 1 rep, 128
              MiB of content, cap 20 s: 5 to 6 minutes; smoke: 128 MiB
              guest, unlimited and 12.5e6 only: about 3 minutes)

Methods (pinned, links; --methods): none (stock, no compression),
stock-zlib, patched-zlib (`qemu/build-qemu --no-libdeflate`),
patched-libdeflate (the patched default) with the compress capability at
level 1, multifd, multifd-zlib, multifd-zstd (stock, level 1).  Every run
records wire_bytes: what the destination really read from the migration
socket(s) (an LD_PRELOAD shim, tools/guest/wire-count.c), since QEMU 7.2's
"transferred" counts multifd-zlib/zstd pages uncompressed.

--hogs N starts N busy-loop processes for the whole run (e.g. --only
throughput --hogs 2 --reps 6: the throughput scenario with only 2 threads
unless --threads says otherwise, and patched/stock pair ratios in the
report).

Output: a results folder (default bench-results/<UTC timestamp>/) with the
raw JSON of every run, results.md and PNG plots.  See docs/benchmarks.md.
The guest, QMP client and process handling come from scripts/migrate-demo.
'''

# Per-mode settings.  Rates in MiB/s of guest writes; cap in seconds.
MODES = {
    "full": dict(reps=3, tp_ram=1024, tp_threads=[1, 2, 4],
                 live_ram=256, live_ws=128,
                 live_rates=[4, 8, 16, 32, 48, 64, 80, 96],
                 live_bws=[0, 8], live_bw_rates=[8, 16],
                 live_reps=2, cap=60, wait_rate=16,
                 gp_mem=1, gp_max_time=60, gp_sleep=10),
    "quick": dict(reps=1, tp_ram=256, tp_threads=[1, 2, 4],
                  live_ram=256, live_ws=128, live_rates=[8, 16, 32],
                  live_bws=[0], live_bw_rates=[], live_reps=1, cap=20,
                  wait_rate=16, gp_mem=1, gp_max_time=15, gp_sleep=8),
    "smoke": dict(reps=1, tp_ram=128, tp_threads=[2],
                  live_ram=128, live_ws=48, live_rates=[8], live_bws=[0],
                  live_bw_rates=[], live_reps=1, cap=20, wait_rate=8,
                  gp_mem=1, gp_max_time=8, gp_sleep=2),
}
# pinned and links (links in bytes/s, 0 = unlimited; links_rate: the live
# guest's dirty rate in MiB/s; links_cap: its convergence cap in s).
MODES["full"].update(pin_ram=512, pin_reps=3, links_ram=320, links_ws=192,
                     links=[0, 125000000, 12500000], links_rate=8,
                     links_reps=2, links_cap=40)
MODES["quick"].update(pin_ram=256, pin_reps=1, links_ram=256, links_ws=128,
                      links=[0, 125000000, 12500000], links_rate=8,
                      links_reps=1, links_cap=20)
MODES["smoke"].update(pin_ram=128, pin_reps=1, links_ram=128, links_ws=48,
                      links=[0, 12500000], links_rate=8, links_reps=1,
                      links_cap=15)
SCENARIOS = ("throughput", "live", "wait", "guestperf", "pinned", "links")
DEFAULT_ONLY = ("throughput", "live", "wait", "guestperf")
PIN_THREADS = 1      # compress threads in the pinned scenario
LINK_THREADS = 2     # compress threads / multifd channels in links
RANDOM_PCT = 10      # share of pages of incompressible random bytes
VRATE = 16           # workload verification rate in the live runs (MiB/s)


def parse_args(argv):
    p = Parser(prog=PROG, description=HELP.split("\n\n")[0],
               formatter_class=argparse.RawDescriptionHelpFormatter,
               epilog=HELP.split("\n\n", 1)[1])
    m = p.add_mutually_exclusive_group()
    m.add_argument("--quick", action="store_true",
                   help="fewer reps, 256 MiB guests, 3 live rates, 20 s cap "
                        "(about 5 minutes)")
    m.add_argument("--smoke", action="store_true",
                   help="one tiny run of each scenario (a test, not a "
                        "benchmark)")
    p.add_argument("--only", metavar="LIST", default=",".join(DEFAULT_ONLY),
                   help="comma-separated scenarios of "
                        f"{','.join(SCENARIOS)} (default: "
                        f"{','.join(DEFAULT_ONLY)})")
    p.add_argument("--methods", metavar="LIST",
                   help="methods of pinned and links (default all: "
                        f"{','.join(methods.NAMES)})")
    p.add_argument("--links", metavar="LIST",
                   help="links' max-bandwidth values in bytes/s, 0 = "
                        "unlimited (default 0,125e6,12.5e6; smoke "
                        "0,12.5e6)")
    p.add_argument("--threads", metavar="LIST",
                   help="throughput's compress threads (default 1,2,4; "
                        "with --hogs 2)")
    p.add_argument("--hogs", type=int, default=0, metavar="N",
                   help="run N CPU hogs (busy loops) for the whole run")
    p.add_argument("--reps", type=int, metavar="N",
                   help="repetitions per build and configuration (default: "
                        "3 full, 1 quick; links 2 full)")
    p.add_argument("--out", metavar="DIR",
                   help="results folder (default bench-results/<UTC time>/)")
    p.add_argument("--rates", metavar="LIST",
                   help="live dirty rates in MiB/s, e.g. 8,16,32")
    p.add_argument("--cap", type=float, metavar="S",
                   help="live convergence cap in seconds (default 60, quick 20)")
    p.add_argument("--qemu", metavar="PATH", help="patched QEMU (default "
                   "`qemu/build-qemu | tail -1`)")
    p.add_argument("--baseline-qemu", metavar="PATH", help="stock QEMU "
                   "(default `qemu/build-qemu --baseline | tail -1`)")
    p.add_argument("--zlib-qemu", metavar="PATH", help="patched QEMU "
                   "without libdeflate, for patched-zlib (default "
                   "`qemu/build-qemu --no-libdeflate | tail -1`)")
    p.add_argument("--replot", metavar="DIR",
                   help="only rebuild results.md and the plots of DIR")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--verbose", "-v", action="store_true")
    a = p.parse_args(argv)
    a.mode = "smoke" if a.smoke else "quick" if a.quick else "full"
    a.only = [s.strip() for s in a.only.split(",") if s.strip()]
    for s in a.only:
        if s not in SCENARIOS:
            p.error(f"--only: unknown scenario {s!r} "
                    f"(choose from {','.join(SCENARIOS)})")
    if a.reps is not None and not 1 <= a.reps <= 50:
        p.error("--reps must be 1..50")
    if not 0 <= a.hogs <= 64:
        p.error("--hogs must be 0..64")
    if a.methods:
        a.methods = [x.strip() for x in a.methods.split(",") if x.strip()]
        bad = [x for x in a.methods if x not in methods.BY_NAME]
        if bad or not a.methods:
            p.error(f"--methods: unknown {bad} (choose from "
                    f"{','.join(methods.NAMES)})")
        # Always in the canonical order (raw first: the break-even base).
        a.methods = [n for n in methods.NAMES if n in a.methods]
    if a.links:
        try:
            a.links = methods.parse_links(a.links)
        except ValueError as e:
            p.error(f"--links: {e}")
    def int_list(opt, value, hi, unit=""):
        try:
            xs = [int(x) for x in value.split(",")]
        except ValueError:
            p.error(f"--{opt} {value}: not a list of integers")
        if any(x < 1 or x > hi for x in xs):
            p.error(f"--{opt} must be 1..{hi}{unit}")
        return xs

    if a.threads:
        a.threads = int_list("threads", a.threads, 16)
    if a.rates:
        a.rates = int_list("rates", a.rates, 4096, " MiB/s")
    if a.cap is not None and a.cap <= 0:
        p.error("--cap must be positive")
    for opt in ("qemu", "baseline_qemu", "zlib_qemu"):
        v = getattr(a, opt)
        if v is not None and not (os.path.isfile(v) and os.access(v, os.X_OK)):
            p.error(f"--{opt.replace('_', '-')} {v}: not an executable file")
    if a.replot and not os.path.isfile(os.path.join(a.replot, "all.json")):
        p.error(f"--replot {a.replot}: no all.json there")
    return a


# --------------------------------------------------------------------------
# Setup


def machine_info():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    model = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu_model": model,
            "loadavg": list(os.getloadavg()), "kernel": platform.release(),
            "python": platform.python_version()}



# --------------------------------------------------------------------------
# Guests and migrations


class Source:
    """A booted source guest: its QEMU, serial console, build and how it
    was started."""

    def __init__(self, qemu, con, build, ram, cmdline):
        self.qemu = qemu
        self.con = con
        self.build = build
        self.ram = ram
        self.cmdline = cmdline

    @property
    def qmp(self):
        return self.qemu.qmp

    @property
    def role(self):
        return self.qemu.role

    def stop(self):
        self.qemu.stop()


class Bench:
    def __init__(self, a, cfg, out):
        self.a = a
        self.cfg = cfg
        self.out = out
        self.bins = {}
        self.rundir = tempfile.mkdtemp(prefix="bench-migration.")
        self.runs = []
        self.n = 0

    def setup(self, builds=BUILDS):
        """The QEMU builds needed (keys of methods.BUILD_ARGS), the guest
        kernel and initramfs, and the wire-count shim."""
        given = {"patched": self.a.qemu, "stock": self.a.baseline_qemu,
                 "patched-zlib": self.a.zlib_qemu}
        for b in builds:
            self.bins[b] = given[b] or build_qemu(methods.BUILD_ARGS[b])
            log(f"{b}: {self.bins[b]}")
        gdir = os.path.join(guest.cache_dir(), "guest")
        self.kernel = guest.fetch_kernel(gdir)
        self.initrd = guest.build_initramfs(gdir)
        self.wire_so = wirecount.build(self.rundir)

    def argv(self, ram, cmdline, incoming):
        return guest_argv(self.kernel, self.initrd, cmdline, ram,
                          incoming=incoming)

    def boot(self, build, ram, ws, rate, idle, cpus=None):
        self.n += 1
        cmdline = guest.kernel_cmdline(ws, rate, VRATE, random_pct=RANDOM_PCT,
                                       idle=idle)
        q = Qemu(f"src{self.n}-{build}", self.bins[build], self.rundir,
                 self.argv(ram, cmdline, False), cpus=cpus).start()
        con = Console(q.serial, q.role, self.a.verbose)

        def alive():
            if not q.alive():
                raise Failure(f"{q.role} QEMU exited: {q.output()}")

        t0 = time.monotonic()
        why = guest.wait_ready(con, 1, 300, alive)
        if why == "fatal":
            raise Failure(f"{q.role} guest: {con.fatal}\n{con.tail()}")
        if why == "timeout":
            raise Failure(f"{q.role}: guest did not get ready in 300 s:\n"
                          f"{con.tail()}")
        log(f"  booted {build} source (pid {q.pid}, {ram} MiB, ws {ws} MiB,"
            f" rate {rate}{', idle' if idle else ''}"
            f"{f', CPUs {cpus}' if cpus is not None else ''}) in "
            f"{time.monotonic() - t0:.1f}s, fill {con.ready_fill()}")
        return Source(q, con, build, ram, cmdline)

    def repause(self, src):
        """QEMU 7.2 refuses to migrate a VM "paused due to previous
        migration" (postmigrate): cont, then stop again.  The idle
        workload does not touch its pages in between."""
        if src.qmp.cmd("query-status")["status"] == "postmigrate":
            src.qmp.cmd("cont")
            src.qmp.cmd("stop")

    def wait_heartbeats(self, src, n=2, timeout=30):
        if not guest.wait_heartbeats(src.con, n, timeout, 0.1):
            raise Failure(f"{src.role}: no heartbeats after cont:\n"
                          f"{src.con.tail()}")

    def migrate(self, src, threads, wait_thread, bandwidth, cap, label,
                method=None, link=None, channels=2, dst_cpus=None,
                extra=None):
        """One migration src -> fresh destination of the same build.
        bandwidth: MiB/s, 0 = unlimited; link: the same in bytes/s, if
        given (then bandwidth is ignored).  cap: seconds, then
        migrate_cancel (counts as not converged).  method: a
        methods.Method (its compress or multifd settings, with threads
        compress threads or `channels` multifd channels; explicitly off
        the other), else the compress capability with threads.
        dst_cpus: the destination's CPU affinity.  extra: fields added
        to the record (scenario, rep...) before it is written.  Returns
        the run record (with wire_bytes: what the destination read from
        the migration sockets)."""
        build = src.build
        self.n += 1
        wire_out = os.path.join(self.rundir, f"wire-{self.n}")
        role = f"dst{self.n}-{build}"
        dst = Qemu(role, self.bins[build], self.rundir,
                   self.argv(src.ram, src.cmdline, True),
                   env=wirecount.env(self.wire_so, wire_out,
                                     os.path.join(self.rundir,
                                                  f"{role}.qmp")),
                   cpus=dst_cpus).start()
        sq = src.qemu
        bw_bytes = int(bandwidth * MiB) if link is None else int(link)
        multifd = None
        try:
            if method is None:
                compress = Compress(threads, threads, 1, wait_thread)
                migration.configure(sq.qmp, compress, max_bandwidth=bw_bytes)
                migration.configure(dst.qmp, compress)
            else:
                compress, multifd = methods.settings(method, threads,
                                                     channels)
                migration.configure_method(sq.qmp, compress, multifd,
                                           max_bandwidth=bw_bytes)
                migration.configure_method(dst.qmp, compress, multifd)
            cpus = {"src": sq.affinity(), "dst": dst.affinity()}
            uri = migration.listen(dst.qmp, "unix", os.path.join(
                self.rundir, f"m{self.n}.sock"))
            src.con.poll()
            hb0 = src.con.hbs[-1] if src.con.hbs else None
            res = engine.migrate(sq, dst, uri, cap=cap, label=label,
                                 guest_ram_bytes=src.ram * MiB)
            src.con.poll()
            hb1 = src.con.hbs[-1] if src.con.hbs else None
        finally:
            dst.stop()
        wire = wirecount.read(wire_out)
        if wire is None:
            warn(f"{label}: no wire count from {dst.role} (did it exit "
                 "normally?)")
        # What the guest really wrote while migrating.
        dirtied = guest_dirtied(hb0, hb1)
        rec = run_record(res, label=label, build=build,
                         qemu=self.bins[build], cap_s=cap, threads=threads,
                         decompress_threads=threads, wait_thread=wait_thread,
                         max_bandwidth_mib_s=bandwidth, ram_mib=src.ram,
                         cmdline=src.cmdline, guest_dirtied=dirtied)
        rec.update(wire_fields(wire))
        rec["max_bandwidth_bytes_s"] = bw_bytes
        if link is not None:
            rec["max_bandwidth_mib_s"] = round(bw_bytes / MiB, 3)
        rec["cpus"] = cpus
        rec["hogs"] = self.a.hogs
        if method is not None:
            rec["method"] = method.name
            rec["link_bytes_s"] = bw_bytes
            rec["multifd"] = (None if multifd is None else
                              {"channels": multifd.channels,
                               "compression": multifd.compression,
                               "level": multifd.level})
            if compress is None:
                rec["threads"] = rec["decompress_threads"] = None
        rec.update(extra or {})
        self.runs.append(rec)
        with open(os.path.join(self.out, "runs",
                               f"{len(self.runs):03d}-{label}-{build}.json"),
                  "w") as f:
            json.dump(rec, f, indent=1)
        return rec

    # ---- scenarios --------------------------------------------------------
    def throughput(self, configs, reps):
        """configs: [(threads, wait_thread, scenario name)]."""
        c = self.cfg
        ram = c["tp_ram"]
        ws = ram * 7 // 8 - 64
        log(f"[throughput] paused {ram} MiB guest, {ws} MiB filled by the "
            f"workload; (threads, wait-thread) "
            f"{[(t, 'on' if w else 'off') for t, w, _ in configs]}; "
            f"{reps} rep(s) per build")
        srcs = {}
        try:
            for b in BUILDS:
                srcs[b] = self.boot(b, ram, ws, 1, idle=True)
                srcs[b].qmp.cmd("stop")
            for rep in range(reps):
                for threads, wait, scenario in configs:
                    for b in BUILDS:
                        lab = f"{scenario}-t{threads}-w{'on' if wait else 'off'}"
                        self.repause(srcs[b])
                        r = self.migrate(srcs[b], threads, wait, 0, 600, lab,
                                         extra={"scenario": scenario,
                                                "rep": rep})
                        if not r["converged"]:
                            raise Failure(f"{lab} {b}: paused-guest migration "
                                          f"ended {r['status']}")
                        log(f"  {lab:22s} {b:7s} rep {rep}: "
                            f"{r['total_time_ms'] / 1000:6.2f} s "
                            f"{r['mib_s']:7.1f} MiB/s  CPU/GiB src "
                            f"{r['cpu_s_per_gib']['src']:.2f} s dst "
                            f"{r['cpu_s_per_gib']['dst']:.2f} s  busy "
                            f"{r['compression']['busy']}")
        finally:
            for q in srcs.values():
                q.stop()

    def live(self, rates, bws, reps, wait_rate):
        """Each rate with each max-bandwidth (wait-thread on), and at
        wait_rate (None: not) also unlimited with wait-thread off."""
        c = self.cfg
        cap = self.a.cap or c["cap"]
        if wait_rate is not None and wait_rate not in rates:
            rates = sorted(rates + [wait_rate])
        log(f"[live] {c['live_ram']} MiB guest, ws "
            f"{c['live_ws']} MiB, rates {rates} MiB/s, max-bandwidth "
            f"{['unlimited' if b == 0 else b for b in bws]}, 2 threads, "
            f"wait-thread on (and off at {wait_rate} MiB/s), cap {cap:g} s")
        stop_above = None
        for rate in rates:
            confs = []
            if rate in (self.a.rates or c["live_rates"]) and "live" in self.a.only:
                confs = [(b, True, "live") for b in bws if b == 0 or
                         rate in c["live_bw_rates"] or self.a.rates]
            if rate == wait_rate:
                if "live" not in self.a.only:
                    confs.append((0, True, "wait"))
                confs.append((0, False, "wait"))
            if not confs:
                continue
            if stop_above is not None and not self.a.rates and \
                    rate != wait_rate:
                log(f"  skipping {rate} MiB/s: neither build converged at "
                    f"{stop_above} MiB/s (unlimited bandwidth)")
                continue
            srcs = {}
            try:
                for b in BUILDS:
                    srcs[b] = self.boot(b, c["live_ram"], c["live_ws"], rate,
                                        idle=False)
                    srcs[b].qmp.cmd("stop")
                conv_here = []
                for bw, wait, scenario in confs:
                    for rep in range(reps):
                        for b in BUILDS:
                            q = srcs[b]
                            st = q.qmp.cmd("query-status")["status"]
                            if st != "running":
                                q.qmp.cmd("cont")
                            self.wait_heartbeats(q, 2)
                            lab = (f"{scenario}-r{rate}-bw{bw or 'inf'}-"
                                   f"w{'on' if wait else 'off'}")
                            r = self.migrate(q, 2, wait, bw, cap, lab,
                                             extra={"scenario": scenario,
                                                    "rep": rep,
                                                    "dirty_rate_mib_s": rate})
                            if scenario == "live" and bw == 0:
                                conv_here.append(r["converged"])
                            if q.qmp.cmd("query-status")["status"] == "running":
                                q.qmp.cmd("stop")
                            hb = q.con.last_hb() or {}
                            if hb.get("corrupt"):
                                raise Failure(f"{q.role}: guest reports "
                                              "corruption")
                            cmp_ = r["compression"] or {}
                            log(f"  {lab:26s} {b:7s} rep {rep}: "
                                f"{'converged' if r['converged'] else 'NOT converged':13s} "
                                f"{(r['total_time_ms'] or 0) / 1000:6.2f} s "
                                f"downtime {r['downtime_ms']} ms, "
                                f"{(r['transferred_bytes'] or 0) / MiB:.0f} MiB,"
                                f" {r['iterations']} iter, busy "
                                f"{cmp_.get('busy')}, CPU src "
                                f"{r['cpu_s']['src']:.1f} s")
            finally:
                for q in srcs.values():
                    q.stop()
            if conv_here and not any(conv_here) and stop_above is None:
                stop_above = rate



    # ---- pinned and links --------------------------------------------------
    def method_run(self, src, m, threads, link, cap, label, scenario, rep,
                   dst_cpus=None, **extra):
        return self.migrate(src, threads, True, 0, cap, label, method=m,
                            link=link, channels=2, dst_cpus=dst_cpus,
                            extra=dict(scenario=scenario, rep=rep, **extra))

    def pinned(self, names, reps):
        """A paused guest, the source QEMU on one CPU and the destination
        on another, every method in turn (a round), reps rounds."""
        c = self.cfg
        ram = c["pin_ram"]
        ws = ram * 7 // 8 - 64
        avail = sorted(os.sched_getaffinity(0))
        if len(avail) < 2:
            raise Failure(f"pinned needs 2 CPUs, this process may use "
                          f"{avail}")
        scpu, dcpu = avail[0], avail[1]
        log(f"[pinned] paused {ram} MiB guest, {ws} MiB filled; source on "
            f"CPU {scpu}, destination on CPU {dcpu}; compress threads "
            f"{PIN_THREADS}, multifd channels 2, unlimited bandwidth; "
            f"methods {','.join(names)}; {reps} round(s)")
        srcs = {}
        try:
            for b in methods.builds_of(names):
                srcs[b] = self.boot(b, ram, ws, 1, idle=True, cpus=[scpu])
                srcs[b].qmp.cmd("stop")
            for rep in range(reps):
                for name in names:
                    m = methods.BY_NAME[name]
                    src = srcs[m.build]
                    self.repause(src)
                    lab = f"pinned-{name}"
                    r = self.method_run(src, m, PIN_THREADS, 0, 600, lab,
                                        "pinned", rep, dst_cpus=[dcpu])
                    if not r["converged"]:
                        raise Failure(f"{lab}: paused-guest migration ended "
                                      f"{r['status']}")
                    log(f"  {lab:26s} rep {rep}: "
                        f"{r['total_time_ms'] / 1000:6.2f} s "
                        f"{r['mib_s']:7.1f} MiB/s  CPU/GiB src "
                        f"{r['cpu_s_per_gib']['src']:.2f} s dst "
                        f"{fmt_opt(r['cpu_s_per_gib']['dst'])} s  wire "
                        f"{fmt_mib(r['wire_bytes'])} MiB")
        finally:
            for q in srcs.values():
                q.stop()

    def links(self, names, links, reps):
        """Every method on every link, a paused guest then a live one
        (dirtying links_rate MiB/s, cap links_cap s): per rep, per link,
        the methods in turn."""
        c = self.cfg
        ram, ws, rate = c["links_ram"], c["links_ws"], c["links_rate"]
        cap = self.a.cap or c["links_cap"]
        log(f"[links] {ram} MiB guest, {ws} MiB of content, max-bandwidth "
            f"{', '.join(methods.link_label(x) for x in links)}; paused, "
            f"then live at {rate} MiB/s (cap {cap:g} s); "
            f"{LINK_THREADS} threads / channels; methods "
            f"{','.join(names)}; {reps} rep(s)")
        for guest_mode in ("paused", "live"):
            live = guest_mode == "live"
            srcs = {}
            try:
                for b in methods.builds_of(names):
                    srcs[b] = self.boot(b, ram, ws, rate if live else 1,
                                        idle=not live)
                    srcs[b].qmp.cmd("stop")
                for rep in range(reps):
                    for link in links:
                        for name in names:
                            m = methods.BY_NAME[name]
                            q = srcs[m.build]
                            if live:
                                if q.qmp.cmd("query-status")["status"] != \
                                        "running":
                                    q.qmp.cmd("cont")
                                self.wait_heartbeats(q, 2)
                            else:
                                self.repause(q)
                            lab = (f"links-{guest_mode}-"
                                   f"{link_tag(link)}-{name}")
                            r = self.method_run(
                                q, m, LINK_THREADS, link,
                                cap if live else 600, lab, "links", rep,
                                guest=guest_mode,
                                live_rate_mib_s=rate if live else None)
                            if live:
                                if q.qmp.cmd("query-status")["status"] == \
                                        "running":
                                    q.qmp.cmd("stop")
                                hb = q.con.last_hb() or {}
                                if hb.get("corrupt"):
                                    raise Failure(f"{q.role}: guest reports "
                                                  "corruption")
                            elif not r["converged"]:
                                raise Failure(f"{lab}: paused-guest "
                                              f"migration ended {r['status']}")
                            log(f"  {lab:40s} rep {rep}: "
                                f"{'converged' if r['converged'] else 'NOT converged':13s} "
                                f"{(r['total_time_ms'] or 0) / 1000:6.2f} s"
                                f" wire {fmt_mib(r['wire_bytes'])} MiB, "
                                f"QEMU transferred "
                                f"{fmt_mib(r['transferred_bytes'])} MiB, "
                                f"downtime {r['downtime_ms']} ms")
            finally:
                for q in srcs.values():
                    q.stop()

    # ---- guestperf -------------------------------------------------------
    def guestperf(self, reps):
        c = self.cfg
        work = os.path.join(self.rundir, "guestperf")
        script, initrd = guestperf.prepare(work, self.bins["stock"],
                                           self.bins["patched"])
        for rep in range(reps):
            for b in BUILDS:
                wrap = os.path.join(work, f"qemu-tcg-{b}")
                guestperf.write_wrapper(wrap, self.bins[b])
                outj = os.path.join(self.out, "runs",
                                    f"guestperf-{b}-rep{rep}.json")
                log(f"  guestperf {b} rep {rep}: --mem {c['gp_mem']} "
                    f"--compression-mt-threads 2 --max-time "
                    f"{c['gp_max_time']}")
                rec = {"scenario": "guestperf", "build": b, "rep": rep}
                rec.update(guestperf.run(
                    script, wrap, self.kernel, initrd, outj, c["gp_mem"],
                    c["gp_sleep"], c["gp_max_time"], work))
                self.runs.append(rec)
                log(f"  guestperf {b:7s} rep {rep}: " + (
                    rec.get("error") or
                    f"{rec['status']}, total {rec['total_time_ms']} ms, "
                    f"downtime {rec['downtime_ms']} ms, {rec['iterations']} "
                    f"iter, {rec['transferred_bytes'] / MiB:.0f} MiB"))


def fmt_opt(x, nd=2):
    return "-" if x is None else f"{x:.{nd}f}"


def fmt_mib(b):
    return "-" if b is None else f"{b / MiB:.1f}"


def link_tag(link):
    """A file-name-friendly link label: 'inf', '125M', '12.5M'."""
    return "inf" if not link else f"{link / 1e6:g}M"


def wire_fields(wire):
    """The run record's wire fields from the shim's counts (or None):
    wire_bytes (migration sockets), qmp_bytes_in (the destination's QMP
    socket, our own commands) and the raw counts."""
    if wire is None:
        return {"wire_bytes": None, "qmp_bytes_in": None, "wire": None}
    return {"wire_bytes": wire["migration_bytes"],
            "qmp_bytes_in": wire["other_bytes"], "wire": wire}


class Hogs:
    """N busy-loop processes (one CPU each, if they get it), in their own
    process groups, dying with us."""

    CODE = "while True: pass"

    def __init__(self, n):
        self.n = n
        self.procs = []

    def start(self):
        for _ in range(self.n):
            self.procs.append(subprocess.Popen(
                [sys.executable, "-c", self.CODE], stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=_child_setup))
        if self.n:
            log(f"started {self.n} CPU hog(s): pids "
                f"{[p.pid for p in self.procs]}")
        return self

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            p.wait()
        if self.procs:
            log(f"stopped {len(self.procs)} CPU hog(s)")
        self.procs = []


def needed_builds(only, names):
    """The builds the selected scenarios run on."""
    out = []
    if any(s in only for s in DEFAULT_ONLY):
        out += list(BUILDS)
    if "pinned" in only or "links" in only:
        out += [b for b in methods.builds_of(names) if b not in out]
    return out


def run_record(res, **context):
    """The record of one migration (runs/NNN-*.json): the run's context
    (label, build, how it was configured, what the guest wrote: the
    report groups by these), then the engine's Result (to_dict)."""
    rec = dict(context)
    rec.update(res.to_dict())
    return rec


def load_doc(out):
    """A results folder's all.json, its runs with the current key names
    (engine.upgrade: older records load too)."""
    with open(os.path.join(out, "all.json")) as f:
        doc = json.load(f)
    doc["runs"] = [engine.upgrade(r) for r in doc.get("runs", [])]
    return doc


def write_outputs(doc, out, plots=True):
    with open(os.path.join(out, "all.json"), "w") as f:
        json.dump(doc, f, indent=1)
    if plots:
        doc["plots"] = make_plots(out)
        with open(os.path.join(out, "all.json"), "w") as f:
            json.dump(doc, f, indent=1)
    text = report(doc)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text + "\n")
    return text


# --------------------------------------------------------------------------


def main(argv):
    ui.set_prog(PROG)
    a = parse_args(argv)
    if a.replot:
        doc = load_doc(a.replot)
        print(write_outputs(doc, a.replot, not a.no_plots))
        return 0
    cfg = dict(MODES[a.mode])
    if a.reps:
        cfg["reps"] = a.reps
        cfg["live_reps"] = a.reps
        cfg["pin_reps"] = a.reps
        cfg["links_reps"] = a.reps
    if a.rates:
        cfg["live_rates"] = a.rates
    if a.threads:
        cfg["tp_threads"] = a.threads
    elif a.hogs and a.mode != "smoke":
        cfg["tp_threads"] = [2]
    if a.links:
        cfg["links"] = a.links
    cfg["methods"] = a.methods or list(methods.NAMES)
    cfg["hogs"] = a.hogs
    started = time.strftime("%Y-%m-%dT%H%M%SZ", time.gmtime())
    out = os.path.abspath(a.out or os.path.join(ROOT, "bench-results",
                                                started))
    os.makedirs(os.path.join(out, "runs"), exist_ok=True)

    def on_signal(signum, frame):
        raise Interrupted(signum)

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    bench = Bench(a, cfg, out)
    doc = {"mode": a.mode, "started": started,
           "command": " ".join(["scripts/bench-migration"] + argv),
           "machine": machine_info(), "config": cfg,
           "workload_mix": {"zero_pct": 30, "text_pct": 35,
                            "binary_pct": 35 - RANDOM_PCT,
                            "random_pct": RANDOM_PCT},
           "hogs": a.hogs, "runs": bench.runs}
    t0 = time.monotonic()
    status = 0
    hogs = Hogs(a.hogs)
    log(f"{a.mode} mode, scenarios {','.join(a.only)}; results in {out}")
    try:
        bench.setup(needed_builds(a.only, cfg["methods"]))
        doc["qemu"] = dict(bench.bins)
        hogs.start()
        doc["kernel"] = bench.kernel
        tpc = []
        if "throughput" in a.only:
            tpc += [(t, True, "throughput") for t in cfg["tp_threads"]]
        if "wait" in a.only:
            if "throughput" not in a.only:
                tpc.append((2, True, "wait"))
            tpc.append((2, False, "wait"))
        if tpc:
            bench.throughput(tpc, cfg["reps"])
        if "live" in a.only or "wait" in a.only:
            bench.live(cfg["live_rates"] if "live" in a.only else [],
                       cfg["live_bws"], cfg["live_reps"],
                       cfg["wait_rate"] if "wait" in a.only else None)
        if "guestperf" in a.only:
            bench.guestperf(1)
        if "pinned" in a.only:
            bench.pinned(cfg["methods"], cfg["pin_reps"])
        if "links" in a.only:
            bench.links(cfg["methods"], cfg["links"], cfg["links_reps"])
    except (Failure, QMPError, OSError, subprocess.SubprocessError) as e:
        ui.failed(f"{type(e).__name__}: {e}")
        doc["error"] = f"{type(e).__name__}: {e}"
        status = 1
    except Interrupted as e:
        print(f"{PROG}: interrupted ({e}); stopping QEMU", file=sys.stderr,
              flush=True)
        doc["error"] = f"interrupted by {e}"
        status = 128 + e.signum
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        hogs.stop()
        stop_all()
        if status == 0:
            shutil.rmtree(bench.rundir, ignore_errors=True)
        else:
            log(f"logs kept in {bench.rundir}")
    doc["wall_s"] = round(time.monotonic() - t0, 1)
    doc["machine"]["loadavg_end"] = list(os.getloadavg())
    if "qemu" not in doc:
        doc["qemu"] = dict(bench.bins)
    text = write_outputs(doc, out, not a.no_plots)
    print(text, flush=True)
    ui.result(f"done in {doc['wall_s']:.0f} s; results in {out}")
    return status
