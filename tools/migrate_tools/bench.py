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

from . import GiB, MiB, ROOT, Failure, Interrupted
from . import guest, guestperf, migration, ui
from .guest import Console
from .migration import Compress
from .plots import make_plots
from .qemu import CpuMeter, Qemu, build_qemu, guest_argv, stop_all
from .qmp import QMPError
from .report import report
from .stats import BUILDS, guest_dirtied, top_groups
from .ui import Parser, log

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
SCENARIOS = ("throughput", "live", "wait", "guestperf")
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
    p.add_argument("--only", metavar="LIST", default=",".join(SCENARIOS),
                   help="comma-separated scenarios (default: all: "
                        f"{','.join(SCENARIOS)})")
    p.add_argument("--reps", type=int, metavar="N",
                   help="repetitions per build and configuration (default: "
                        "3 full, 1 quick)")
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
    if a.rates:
        try:
            a.rates = [int(x) for x in a.rates.split(",")]
        except ValueError:
            p.error(f"--rates {a.rates}: not a list of integers")
        if any(r < 1 or r > 4096 for r in a.rates):
            p.error("--rates must be 1..4096 MiB/s")
    if a.cap is not None and a.cap <= 0:
        p.error("--cap must be positive")
    for opt in ("qemu", "baseline_qemu"):
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

    def setup(self):
        self.bins["patched"] = self.a.qemu or build_qemu([])
        self.bins["stock"] = self.a.baseline_qemu or build_qemu(["--baseline"])
        for b in BUILDS:
            log(f"{b}: {self.bins[b]}")
        gdir = os.path.join(guest.cache_dir(), "guest")
        self.kernel = guest.fetch_kernel(gdir)
        self.initrd = guest.build_initramfs(gdir)

    def argv(self, ram, cmdline, incoming):
        return guest_argv(self.kernel, self.initrd, cmdline, ram,
                          incoming=incoming)

    def boot(self, build, ram, ws, rate, idle):
        self.n += 1
        cmdline = guest.kernel_cmdline(ws, rate, VRATE, random_pct=RANDOM_PCT,
                                       idle=idle)
        q = Qemu(f"src{self.n}-{build}", self.bins[build], self.rundir,
                 self.argv(ram, cmdline, False)).start()
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
            f" rate {rate}{', idle' if idle else ''}) in "
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

    def migrate(self, src, threads, wait_thread, bandwidth, cap, label):
        """One migration src -> fresh destination of the same build.
        bandwidth: MiB/s, 0 = unlimited.  cap: seconds, then migrate_cancel
        (counts as not converged).  Returns the run record."""
        build = src.build
        self.n += 1
        dst = Qemu(f"dst{self.n}-{build}", self.bins[build], self.rundir,
                   self.argv(src.ram, src.cmdline, True)).start()
        sq = src.qemu
        try:
            compress = Compress(threads, threads, 1, wait_thread)
            migration.configure(sq.qmp, compress,
                                max_bandwidth=int(bandwidth * MiB))
            migration.configure(dst.qmp, compress)
            uri = migration.listen(dst.qmp, "unix", os.path.join(
                self.rundir, f"m{self.n}.sock"))
            meter = CpuMeter(sq, dst)
            src.con.poll()
            hb0 = src.con.hbs[-1] if src.con.hbs else None
            t0 = time.monotonic()
            sq.qmp.cmd("migrate", uri=uri)
            cancelled_by_cap = False
            samples = []
            last_ram = {}
            while True:
                info = sq.qmp.cmd("query-migrate")
                now = time.monotonic()
                meter.sample()
                st = info.get("status")
                if info.get("ram"):
                    last_ram = info
                samples.append(progress_sample(info, now - t0))
                if st in migration.DONE:
                    info = migration.settled(sq.qmp, info)
                    break
                if not dst.alive():
                    raise Failure(f"{dst.role} exited during migration:\n"
                                  f"{dst.output()}")
                if now - t0 > cap and not cancelled_by_cap:
                    cancelled_by_cap = True
                    sq.qmp.cmd("migrate_cancel")
                if now - t0 > cap + 60:
                    raise Failure(f"{label}: migration neither finished nor "
                                  "cancelled 60 s after the cap")
                time.sleep(0.1 if now - t0 < 5 else 0.25)
            wall = time.monotonic() - t0
            time.sleep(0.05)
            src.con.poll()
            hb1 = src.con.hbs[-1] if src.con.hbs else None
            # What the guest really wrote while migrating.
            dirtied = guest_dirtied(hb0, hb1)
            dst_status = None
            if st == "completed":
                dst_status = migration.poll_status(
                    dst.qmp, ("completed", "failed"), 200, 0.05)
            cpu = meter.finish()
            groups = {side: top_groups(q.thread_groups(), 3, 0.005)
                      for side, q in (("src", sq), ("dst", dst))}
        finally:
            dst.stop()
        if not info.get("ram"):
            # After migrate_cancel query-migrate has no figures: use the
            # last poll that had them (at most 0.25 s before the cancel).
            info = dict(last_ram, status=st)
            info.setdefault("total-time", int(wall * 1000))
            info.pop("downtime", None)
        rec = run_record(info, src, cpu, groups, samples, dirtied,
                         label=label, build=build, qemu=self.bins[build],
                         st=st, dst_status=dst_status,
                         cancelled_by_cap=cancelled_by_cap, cap=cap,
                         threads=threads, wait_thread=wait_thread,
                         bandwidth=bandwidth, wall=wall)
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
                        r = self.migrate(srcs[b], threads, wait, 0, 600, lab)
                        r["scenario"] = scenario
                        r["rep"] = rep
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
                            r = self.migrate(q, 2, wait, bw, cap, lab)
                            r["scenario"] = scenario
                            r["rep"] = rep
                            r["dirty_rate_mib_s"] = rate
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


def progress_sample(info, t):
    """One point of a run's time series, from query-migrate at t s."""
    ram = info.get("ram", {})
    comp = info.get("compression", {})
    return {"t": round(t, 2), "status": info.get("status"),
            "transferred": ram.get("transferred"),
            "remaining": ram.get("remaining"),
            "iterations": ram.get("dirty-sync-count"),
            "dirty_pages_rate": ram.get("dirty-pages-rate"),
            "busy": comp.get("busy"),
            "busy_rate": comp.get("busy-rate")}


def run_record(info, src, cpu, groups, samples, dirtied, label, build, qemu,
               st, dst_status, cancelled_by_cap, cap, threads, wait_thread,
               bandwidth, wall):
    """The record of one migration (runs/NNN-*.json) from the source's
    final query-migrate and what was measured around it."""
    ram = info.get("ram", {})
    comp = info.get("compression") or {}
    total_b = ram.get("total") or src.ram * MiB
    pages_all = (ram.get("normal", 0) + ram.get("duplicate", 0) +
                 comp.get("pages", 0))
    rec = {
        "label": label, "build": build, "qemu": qemu,
        "status": st, "dst_status": dst_status,
        "converged": st == "completed" and dst_status == "completed",
        "cancelled_by_cap": cancelled_by_cap, "cap_s": cap,
        "threads": threads, "decompress_threads": threads,
        "wait_thread": wait_thread, "max_bandwidth_mib_s": bandwidth,
        "ram_mib": src.ram, "cmdline": src.cmdline,
        "total_time_ms": info.get("total-time"),
        "downtime_ms": info.get("downtime"),
        "setup_time_ms": info.get("setup-time"),
        "wall_s": round(wall, 3),
        "ram_total_bytes": total_b,
        "transferred_bytes": ram.get("transferred"),
        "iterations": ram.get("dirty-sync-count"),
        "duplicate_pages": ram.get("duplicate"),
        "normal_pages": ram.get("normal"),
        "compression": {
            "pages": comp.get("pages"),
            "compressed_bytes": comp.get("compressed-size"),
            "busy": comp.get("busy"),
            "busy_rate_overall": round(comp.get("busy", 0) / pages_all, 4)
            if pages_all else None,
            "qemu_busy_rate_last": comp.get("busy-rate"),
            "qemu_compression_rate_last": comp.get("compression-rate"),
        } if comp else None,
        "guest_dirtied": dirtied,
        "cpu_s": {k: round(v, 3) if v is not None else None
                  for k, v in cpu.items()},
        "thread_cpu_s": groups,
        "samples": samples,
    }
    if rec["converged"] and rec["total_time_ms"]:
        t = rec["total_time_ms"] / 1000
        rec["mib_s"] = round(total_b / MiB / t, 1)
        gib = total_b / GiB
        rec["cpu_s_per_gib"] = {k: round(v / gib, 3) if v is not None
                                else None for k, v in cpu.items()}
    return rec


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
        with open(os.path.join(a.replot, "all.json")) as f:
            doc = json.load(f)
        print(write_outputs(doc, a.replot, not a.no_plots))
        return 0
    cfg = dict(MODES[a.mode])
    if a.reps:
        cfg["reps"] = a.reps
        cfg["live_reps"] = a.reps
    if a.rates:
        cfg["live_rates"] = a.rates
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
           "runs": bench.runs}
    t0 = time.monotonic()
    status = 0
    log(f"{a.mode} mode, scenarios {','.join(a.only)}; results in {out}")
    try:
        bench.setup()
        doc["qemu"] = dict(bench.bins)
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
    log(f"done in {doc['wall_s']:.0f} s; results in {out}")
    return status
