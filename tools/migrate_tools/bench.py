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
from dataclasses import asdict, dataclass, field
from typing import Optional

from . import MiB, ROOT, Failure, Interrupted
from . import engine, guest, guestperf, methods, migration, netns, ui
from . import wirecount
from .guest import Console
from .migration import Compress
from .plots import make_plots
from .qemu import Qemu, _child_setup, build_qemu, guest_argv, stop_all
from .qmp import QMPError
from .report import report
from .stats import BUILDS, guest_dirtied
from .ui import Parser, log, warn

PROG = "bench-migration"
# --help's description and epilog.  The durations are for a 2-CPU host
# running TCG guests: estimates, except where they say "measured".
HELP = '''\
Benchmark compressed migration: patched QEMU 7.2 (qemu-threads) vs stock.

Runs the same scenarios on the patched build (`qemu/build-qemu | tail -1`)
and on the baseline (`qemu/build-qemu --baseline | tail -1`: stock 7.2
compress threads + the TCG dirty-tracking fix), alternating patched, stock,
patched, stock, and reports medians and per-pair ratios (patched/stock).

Scenarios (--only; durations on a 2-CPU host, estimates unless measured):
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
              (512 MiB full) migrated by every method (below) over a unix
              socket with 1 compress thread / 2 multifd channels,
              unlimited bandwidth: time, MiB/s per source core, CPU s/GiB,
              wire MiB and the break-even link speed of each compressed
              method against raw (3 rounds; full: about 5 minutes; quick
              1 round; smoke 1)
  links       every method on a real link of a given speed: the source
              QEMU in one network namespace, the destination in another,
              migrating over TCP on the veth pair between them, shaped
              with tbf on both ends (QEMU's max-bandwidth unlimited; needs
              root and iproute2).  Links (--links): unlimited, 10 Gbit/s,
              1 Gbit/s, 100 Mbit/s (1.25e9, 125e6, 12.5e6 bytes/s).  A
              paused 320 MiB guest (192 MiB of content), then a live one
              dirtying 8 MiB/s (cap 40 s), 2 threads / channels,
              unpinned, 3 reps (full, with pinned: 24 minutes measured
              for 9 methods, more if live runs on slow links hit the
              cap; quick: 1 rep, 256 MiB guest, 128 MiB of content, cap
              20 s: about 8 minutes; smoke: 128 MiB guest, unlimited and
              100 Mbit/s only, cap 15 s: 2 minutes measured for 4
              methods)

Methods (pinned, links; --methods takes names and sets): none (stock, no
compression), stock-zlib, patched-zlib (`qemu/build-qemu --no-libdeflate`:
zlib only), patched-libdeflate (`qemu/build-qemu --no-isal`), patched-isal
(the patched default build: ISA-L when it finds it) with the compress
capability at level 1, patched-isal-2 (the same at level 2),
patched-isal-nowait (level 1, compress-wait-thread off), multifd,
multifd-zlib, multifd-zstd (stock, level 1).  Sets: all (the default), libvirt (what Debian 12's libvirt can ask
for: none, multifd and the compress methods), compress.  Every run records
wire_bytes: what the destination really read from the migration socket(s)
(an LD_PRELOAD shim, tools/guest/wire-count.c), since QEMU 7.2's
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
# pin_*: pinned; links_*: links (links in bytes/s, 0 = unlimited;
# links_rate: the live guest's dirty rate in MiB/s; links_cap: its
# convergence cap in s).
ALL_LINKS = [0, 1250000000, 125000000, 12500000]
MODES = {
    "full": dict(reps=3, tp_ram=1024, tp_threads=[1, 2, 4],
                 live_ram=256, live_ws=128,
                 live_rates=[4, 8, 16, 32, 48, 64, 80, 96],
                 live_bws=[0, 8], live_bw_rates=[8, 16],
                 live_reps=2, cap=60, wait_rate=16,
                 gp_mem=1, gp_max_time=60, gp_sleep=10,
                 pin_ram=512, pin_reps=3,
                 links_ram=320, links_ws=192, links=ALL_LINKS,
                 links_rate=8, links_reps=3, links_cap=40),
    "quick": dict(reps=1, tp_ram=256, tp_threads=[1, 2, 4],
                  live_ram=256, live_ws=128, live_rates=[8, 16, 32],
                  live_bws=[0], live_bw_rates=[], live_reps=1, cap=20,
                  wait_rate=16, gp_mem=1, gp_max_time=15, gp_sleep=8,
                  pin_ram=256, pin_reps=1,
                  links_ram=256, links_ws=128, links=ALL_LINKS,
                  links_rate=8, links_reps=1, links_cap=20),
    "smoke": dict(reps=1, tp_ram=128, tp_threads=[2],
                  live_ram=128, live_ws=48, live_rates=[8], live_bws=[0],
                  live_bw_rates=[], live_reps=1, cap=20, wait_rate=8,
                  gp_mem=1, gp_max_time=8, gp_sleep=2,
                  pin_ram=128, pin_reps=1,
                  links_ram=128, links_ws=48, links=[0, 12500000],
                  links_rate=8, links_reps=1, links_cap=15),
}


@dataclass(frozen=True)
class Scenario:
    name: str
    default: bool           # in the default --only
    methods: bool           # runs the --methods (else patched and stock)
    root: bool = False      # needs root (network namespaces)


SCENARIOS = (Scenario("throughput", True, False),
             Scenario("live", True, False),
             Scenario("wait", True, False),
             Scenario("guestperf", True, False),
             Scenario("pinned", False, True),
             Scenario("links", False, True, root=True))
SCENARIO_BY_NAME = {s.name: s for s in SCENARIOS}
DEFAULT_ONLY = tuple(s.name for s in SCENARIOS if s.default)
# --OPTION PATH: the QEMU of a build (default: qemu/build-qemu with the
# build's methods.BUILD_ARGS).
QEMU_OPTIONS = (
    ("patched", "qemu", "patched QEMU, the default build (ISA-L when "
     "found): patched-isal and the patched side of the other scenarios"),
    ("stock", "baseline-qemu", "stock QEMU"),
    ("patched-zlib", "zlib-qemu",
     "patched QEMU without libdeflate and ISA-L, for patched-zlib"),
    ("patched-libdeflate", "libdeflate-qemu",
     "patched QEMU without ISA-L, for patched-libdeflate"),
)
PIN_THREADS = 1      # compress threads in the pinned scenario
LINK_THREADS = 2     # compress threads / multifd channels in links
RANDOM_PCT = 10      # share of pages of incompressible random bytes
VRATE = 16           # workload verification rate in the live runs (MiB/s)
NS_PREFIX = "qtbm"   # links' network namespaces (netns.Hosts)
PROBE_S = 1.5        # links: seconds of TCP measuring each link


def opt_dest(option):
    return option.replace("-", "_")


def parse_args(argv):
    p = Parser(prog=PROG, description=HELP.split("\n\n")[0],
               formatter_class=argparse.RawDescriptionHelpFormatter,
               epilog=HELP.split("\n\n", 1)[1])
    m = p.add_mutually_exclusive_group()
    m.add_argument("--quick", action="store_true",
                   help="fewer reps, 256 MiB guests, 3 live rates, 20 s cap "
                        "(default scenarios: about 5 minutes)")
    m.add_argument("--smoke", action="store_true",
                   help="one tiny run of each scenario (a test, not a "
                        "benchmark)")
    names = ",".join(s.name for s in SCENARIOS)
    p.add_argument("--only", metavar="LIST", default=",".join(DEFAULT_ONLY),
                   help=f"comma-separated scenarios of {names} (default: "
                        f"{','.join(DEFAULT_ONLY)})")
    p.add_argument("--methods", metavar="LIST",
                   help="methods of pinned and links, names or sets "
                        f"({','.join(methods.SETS)}; default all: "
                        f"{','.join(methods.NAMES)})")
    p.add_argument("--links", metavar="LIST",
                   help="links' speeds in bytes/s, shaped with tbf, 0 = "
                        "unlimited (default 0,1.25e9,125e6,12.5e6; smoke "
                        "0,12.5e6)")
    p.add_argument("--threads", metavar="LIST",
                   help="throughput's compress threads (default 1,2,4; "
                        "with --hogs 2)")
    p.add_argument("--hogs", type=int, default=0, metavar="N",
                   help="run N CPU hogs (busy loops) for the whole run")
    p.add_argument("--reps", type=int, metavar="N",
                   help="repetitions per build and configuration (default: "
                        "3 full, 1 quick; live 2 full)")
    p.add_argument("--out", metavar="DIR",
                   help="results folder (default bench-results/<UTC time>/)")
    p.add_argument("--rates", metavar="LIST",
                   help="live dirty rates in MiB/s, e.g. 8,16,32")
    p.add_argument("--cap", type=float, metavar="S",
                   help="live convergence cap in seconds (default 60, quick "
                        "20; links 40, quick 20, smoke 15)")
    for build, option, what in QEMU_OPTIONS:
        p.add_argument(f"--{option}", metavar="PATH",
                       help=f"{what} (default `"
                            + " ".join(["qemu/build-qemu"]
                                       + methods.BUILD_ARGS[build])
                            + " | tail -1`)")
    p.add_argument("--replot", metavar="DIR",
                   help="only rebuild results.md and the plots of DIR")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--verbose", "-v", action="store_true")
    a = p.parse_args(argv)
    a.mode = "smoke" if a.smoke else "quick" if a.quick else "full"
    a.only = [s.strip() for s in a.only.split(",") if s.strip()]
    for s in a.only:
        if s not in SCENARIO_BY_NAME:
            p.error(f"--only: unknown scenario {s!r} (choose from {names})")
    if a.reps is not None and not 1 <= a.reps <= 50:
        p.error("--reps must be 1..50")
    if not 0 <= a.hogs <= 64:
        p.error("--hogs must be 0..64")
    if a.methods:
        try:
            a.methods = methods.select(
                [x.strip() for x in a.methods.split(",") if x.strip()])
        except ValueError as e:
            p.error(f"--methods: {e}")
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
    for _, option, _ in QEMU_OPTIONS:
        v = getattr(a, opt_dest(option))
        if v is not None and not (os.path.isfile(v) and os.access(v, os.X_OK)):
            p.error(f"--{option} {v}: not an executable file")
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
    was started; hosts: the netns.Hosts whose "src" namespace it runs in
    (its destinations then run in "dst" and it migrates over TCP), None
    on the host's own network (a unix socket)."""

    def __init__(self, qemu, con, build, ram, cmdline, hosts=None):
        self.qemu = qemu
        self.con = con
        self.build = build
        self.ram = ram
        self.cmdline = cmdline
        self.hosts = hosts

    @property
    def qmp(self):
        return self.qemu.qmp

    @property
    def role(self):
        return self.qemu.role

    def stop(self):
        self.qemu.stop()


@dataclass
class RunSpec:
    """One migration for Bench.migrate.  cap: seconds, then
    migrate_cancel (not converged).  method: a methods.Method (its
    compress or multifd settings, with `threads` compress threads or
    `channels` multifd channels, the other explicitly off); None: the
    compress capability with `threads` and `wait_thread` (throughput,
    live, wait).  bandwidth_mib_s: QEMU's max-bandwidth, 0 = no limit.
    link: the links scenario's link speed in bytes/s (0 = unlimited; the
    shaping is the namespaces', not QEMU's).  dst_cpus: the destination's
    CPU affinity.  extra: fields added to the run record (guest,
    dirty_rate_mib_s, shaping...)."""
    label: str
    scenario: str
    rep: int
    cap: float
    threads: int = 2
    wait_thread: bool = True
    method: Optional[methods.Method] = None
    channels: int = 2
    bandwidth_mib_s: float = 0
    link: int = 0
    dst_cpus: Optional[list] = None
    extra: dict = field(default_factory=dict)

    def settings(self):
        """(Compress or None, Multifd or None)."""
        if self.method is None:
            return Compress(self.threads, self.threads, 1,
                            self.wait_thread), None
        return methods.settings(self.method, self.threads, self.channels)

    @property
    def max_bandwidth(self):
        """QEMU's max-bandwidth in bytes/s.  Always set, since 7.2's
        default is 128 MiB/s (MAX_THROTTLE); 0 is no limit
        (qemu_file_rate_limit() limits only when rate_limit_max > 0)."""
        return int(self.bandwidth_mib_s * MiB)


def run_record(spec, src, qemu, res, wire=None, **measured):
    """The record of one migration (runs/NNN-*.json): the run's context
    (label, build, how it was configured: the report groups by these),
    the engine's Result (to_dict), the wire counts (wire_fields), the
    method's settings, then measured (cpus, guest_dirtied...), scenario,
    rep and spec.extra.  The keys are those of earlier results (the
    report reads both)."""
    compress, multifd = spec.settings()
    threads = spec.threads if compress is not None else None
    rec = {"label": spec.label, "build": src.build, "qemu": qemu,
           "cap_s": spec.cap, "threads": threads,
           "decompress_threads": threads,
           "wait_thread": (spec.wait_thread if compress is None
                           else compress.wait_thread),
           "max_bandwidth_mib_s": spec.bandwidth_mib_s, "ram_mib": src.ram,
           "cmdline": src.cmdline}
    rec.update(res.to_dict())
    rec.update(wire_fields(wire))
    rec["max_bandwidth_bytes_s"] = spec.max_bandwidth
    rec["compress_level"] = None if compress is None else compress.level
    if spec.method is not None:
        rec["method"] = spec.method.name
        rec["link_bytes_s"] = spec.link
        rec["multifd"] = None if multifd is None else asdict(multifd)
    rec.update(measured)
    rec.update(scenario=spec.scenario, rep=spec.rep, **spec.extra)
    return rec


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
        given = {b: getattr(self.a, opt_dest(o)) for b, o, _ in QEMU_OPTIONS}
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

    def boot(self, build, ram, ws, rate, idle, cpus=None, hosts=None):
        """A source guest of build; in hosts' "src" namespace if hosts."""
        self.n += 1
        cmdline = guest.kernel_cmdline(ws, rate, VRATE, random_pct=RANDOM_PCT,
                                       idle=idle)
        role, argv = f"src{self.n}-{build}", self.argv(ram, cmdline, False)
        if hosts is None:
            q = Qemu(role, self.bins[build], self.rundir, argv,
                     cpus=cpus).start()
        else:
            q = hosts.qemu("src", role, self.bins[build], self.rundir, argv,
                           cpus=cpus)
        con = Console(q.serial, q.role, self.a.verbose)

        def alive():
            if not q.alive():
                raise Failure(f"{q.role} QEMU exited: {q.output()}")

        where = "" if hosts is None else f", namespace {hosts.ns['src']}"
        t0 = time.monotonic()
        why = guest.wait_ready(con, 1, 300, alive)
        if why == "fatal":
            raise Failure(f"{q.role} guest: {con.fatal}\n{con.tail()}")
        if why == "timeout":
            raise Failure(f"{q.role}: guest did not get ready in 300 s:\n"
                          f"{con.tail()}")
        log(f"  booted {build} source (pid {q.pid}, {ram} MiB, ws {ws} MiB,"
            f" rate {rate}{', idle' if idle else ''}"
            f"{f', CPUs {cpus}' if cpus is not None else ''}{where}) in "
            f"{time.monotonic() - t0:.1f}s, fill {con.ready_fill()}")
        return Source(q, con, build, ram, cmdline, hosts)

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

    def migrate(self, src, spec):
        """One migration src -> a fresh destination of the same build, as
        the RunSpec says: over a unix socket, or for a source in the
        namespaces (src.hosts) over TCP to a destination in the other
        one.  Returns the run record (run_record; also in self.runs and
        runs/), with wire_bytes: what the destination read from the
        migration socket(s)."""
        build = src.build
        self.n += 1
        wire_out = os.path.join(self.rundir, f"wire-{self.n}")
        role = f"dst{self.n}-{build}"
        env = wirecount.env(self.wire_so, wire_out,
                            os.path.join(self.rundir, f"{role}.qmp"))
        argv = self.argv(src.ram, src.cmdline, True)
        if src.hosts is None:
            dst = Qemu(role, self.bins[build], self.rundir, argv, env=env,
                       cpus=spec.dst_cpus).start()
        else:
            dst = src.hosts.qemu("dst", role, self.bins[build], self.rundir,
                                 argv, env=env, cpus=spec.dst_cpus)
        sq = src.qemu
        compress, multifd = spec.settings()
        try:
            migration.configure_method(sq.qmp, compress, multifd,
                                       max_bandwidth=spec.max_bandwidth)
            migration.configure_method(dst.qmp, compress, multifd)
            cpus = {"src": sq.affinity(), "dst": dst.affinity()}
            if src.hosts is None:
                transport = "unix"
                uri = migration.listen(dst.qmp, "unix", os.path.join(
                    self.rundir, f"m{self.n}.sock"))
            else:
                transport = "tcp"
                uri = migration.listen(dst.qmp, "tcp", None,
                                       host=netns.ADDR["dst"])
            src.con.poll()
            hb0 = src.con.hbs[-1] if src.con.hbs else None
            res = engine.migrate(sq, dst, uri, cap=spec.cap,
                                 label=spec.label,
                                 guest_ram_bytes=src.ram * MiB)
            src.con.poll()
            hb1 = src.con.hbs[-1] if src.con.hbs else None
        finally:
            dst.stop()
        wire = wirecount.read(wire_out)
        if wire is None:
            warn(f"{spec.label}: no wire count from {dst.role} (did it "
                 "exit normally?)")
        # guest_dirtied: what the guest really wrote while migrating.
        rec = run_record(spec, src, self.bins[build], res, wire, cpus=cpus,
                         hogs=self.a.hogs, transport=transport,
                         guest_dirtied=guest_dirtied(hb0, hb1))
        self.runs.append(rec)
        with open(os.path.join(self.out, "runs",
                               f"{len(self.runs):03d}-{spec.label}-{build}"
                               ".json"), "w") as f:
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
                        r = self.migrate(srcs[b], RunSpec(
                            lab, scenario, rep, 600, threads, wait))
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
                            r = self.migrate(q, RunSpec(
                                lab, scenario, rep, cap, 2, wait,
                                bandwidth_mib_s=bw,
                                extra={"dirty_rate_mib_s": rate}))
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
                    r = self.migrate(src, RunSpec(
                        lab, "pinned", rep, 600, PIN_THREADS, method=m,
                        dst_cpus=[dcpu]))
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

    def probe_links(self, hosts, links):
        """{link: bytes/s one TCP stream reached between the namespaces
        shaped to it} (PROBE_S each), before any QEMU runs."""
        out = {}
        for link in links:
            hosts.shape(link)
            out[link] = round(hosts.measure(PROBE_S))
            log(f"  link {methods.link_label(link)}: a TCP stream reaches "
                f"{out[link] / 1e6:.1f} MB/s")
        return out

    def links(self, names, links, reps):
        """Every method on every link, a paused guest then a live one
        (dirtying links_rate MiB/s, cap links_cap s): per rep, per link,
        the methods in turn.  The sources run in one network namespace,
        the destinations in another; each link is tbf on the veth pair
        between them (netns.Hosts.shape), QEMU's max-bandwidth unlimited."""
        c = self.cfg
        ram, ws, rate = c["links_ram"], c["links_ws"], c["links_rate"]
        cap = self.a.cap or c["links_cap"]
        netns.remove_stale(NS_PREFIX)
        hosts = netns.Hosts(0, NS_PREFIX)
        log(f"[links] namespaces {hosts.ns['src']} and {hosts.ns['dst']}; "
            f"{ram} MiB guest, {ws} MiB of content; links (tbf) "
            f"{', '.join(methods.link_label(x) for x in links)}; paused, "
            f"then live at {rate} MiB/s (cap {cap:g} s); "
            f"{LINK_THREADS} threads / channels; methods "
            f"{','.join(names)}; {reps} rep(s)")
        try:
            hosts.create()
            hosts.wait_reachable()
            reached = self.probe_links(hosts, links)
            for guest_mode in ("paused", "live"):
                self.links_guest(hosts, guest_mode, names, links, reps, cap,
                                 reached)
        finally:
            hosts.destroy()

    def links_guest(self, hosts, guest_mode, names, links, reps, cap,
                    reached):
        """links() for one guest mode: its sources booted, then per rep,
        per link (shaped), every method."""
        c = self.cfg
        live = guest_mode == "live"
        rate = c["links_rate"]
        srcs = {}
        try:
            for b in methods.builds_of(names):
                srcs[b] = self.boot(b, c["links_ram"], c["links_ws"],
                                    rate if live else 1, idle=not live,
                                    hosts=hosts)
                srcs[b].qmp.cmd("stop")
            for rep in range(reps):
                for link in links:
                    tbf = hosts.shape(link)
                    extra = {"guest": guest_mode,
                             "live_rate_mib_s": rate if live else None,
                             "shaping": "tbf" if link else "none",
                             "tbf": tbf,
                             "link_measured_bytes_s": reached.get(link)}
                    for name in names:
                        self.links_run(srcs, name, link, live, rep,
                                       cap if live else 600, extra)
        finally:
            for q in srcs.values():
                q.stop()

    def links_run(self, srcs, name, link, live, rep, cap, extra):
        m = methods.BY_NAME[name]
        q = srcs[m.build]
        if live:
            if q.qmp.cmd("query-status")["status"] != "running":
                q.qmp.cmd("cont")
            self.wait_heartbeats(q, 2)
        else:
            self.repause(q)
        lab = f"links-{extra['guest']}-{link_tag(link)}-{name}"
        r = self.migrate(q, RunSpec(lab, "links", rep, cap, LINK_THREADS,
                                    method=m, channels=LINK_THREADS,
                                    link=link, extra=extra))
        if live:
            if q.qmp.cmd("query-status")["status"] == "running":
                q.qmp.cmd("stop")
            hb = q.con.last_hb() or {}
            if hb.get("corrupt"):
                raise Failure(f"{q.role}: guest reports corruption")
        elif not r["converged"]:
            raise Failure(f"{lab}: paused-guest migration ended "
                          f"{r['status']}")
        log(f"  {lab:40s} rep {rep}: "
            f"{'converged' if r['converged'] else 'NOT converged':13s} "
            f"{(r['total_time_ms'] or 0) / 1000:6.2f} s"
            f" wire {fmt_mib(r['wire_bytes'])} MiB, QEMU transferred "
            f"{fmt_mib(r['transferred_bytes'])} MiB, "
            f"downtime {r['downtime_ms']} ms")

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


    # ---- steps: what --only runs, in order (STEPS) ---------------------
    def run_paused(self):
        """throughput's and wait's paused runs."""
        only, c = self.a.only, self.cfg
        configs = []
        if "throughput" in only:
            configs += [(t, True, "throughput") for t in c["tp_threads"]]
        if "wait" in only:
            if "throughput" not in only:
                configs.append((2, True, "wait"))
            configs.append((2, False, "wait"))
        self.throughput(configs, c["reps"])

    def run_live(self):
        """live's runs and wait's live one."""
        only, c = self.a.only, self.cfg
        self.live(c["live_rates"] if "live" in only else [], c["live_bws"],
                  c["live_reps"], c["wait_rate"] if "wait" in only else None)

    def run_guestperf(self):
        self.guestperf(1)

    def run_pinned(self):
        self.pinned(self.cfg["methods"], self.cfg["pin_reps"])

    def run_links(self):
        self.links(self.cfg["methods"], self.cfg["links"],
                   self.cfg["links_reps"])


# (scenarios, step): each step runs, in this order, when --only names any
# of its scenarios.
STEPS = ((("throughput", "wait"), Bench.run_paused),
         (("live", "wait"), Bench.run_live),
         (("guestperf",), Bench.run_guestperf),
         (("pinned",), Bench.run_pinned),
         (("links",), Bench.run_links))


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
    """The builds the selected scenarios run on: patched and stock, and
    those of the methods (SCENARIOS' methods)."""
    out = []
    for n in only:
        sc = SCENARIO_BY_NAME[n]
        bs = methods.builds_of(names) if sc.methods else BUILDS
        out += [b for b in bs if b not in out]
    return out


def preflight(only):
    """Why the selected scenarios cannot run here; None if they can."""
    root = [n for n in only if SCENARIO_BY_NAME[n].root]
    if not root:
        return None
    if os.geteuid() != 0:
        return (f"{','.join(root)} runs QEMU in network namespaces: needs "
                "root")
    missing = [c for c in ("ip", "tc") if not shutil.which(c)]
    if missing:
        return (f"{','.join(root)}: no {' or '.join(missing)} command "
                "(Debian package iproute2: build-aux/install-deps qemu)")
    return None


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
    cfg["methods"] = a.methods or list(methods.SETS["all"])
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
        why = preflight(a.only)
        if why:
            raise Failure(why)
        bench.setup(needed_builds(a.only, cfg["methods"]))
        doc["qemu"] = dict(bench.bins)
        hogs.start()
        doc["kernel"] = bench.kernel
        for scenarios, step in STEPS:
            if any(n in a.only for n in scenarios):
                step(bench)
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
        netns.destroy_all()
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
