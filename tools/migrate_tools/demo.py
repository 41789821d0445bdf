"""scripts/migrate-demo: live-migrate a small Linux guest between two QEMUs
with compress on, show progress, and prove no page was lost (the guest's own
verifier on the destination, and a page-by-page compare of guest RAM).
See docs/migrate-demo.md."""

import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from . import MiB, Failure, Interrupted
from . import engine, guest, migration, ramdump, ui
from .guest import Console
from .migration import Compress
from .qemu import Qemu, build_qemu, guest_argv, stop_all
from .qmp import QMPError
from .ui import Parser, Progress, log

PROG = "migrate-demo"
# --help's description (kept as it was when this was one script).
DESCRIPTION = ("Live-migrate a small Linux guest between two QEMUs with "
               "compress on.")


# --------------------------------------------------------------------------
# Arguments


def parse_args(argv):
    p = Parser(prog=PROG, description=DESCRIPTION,
               formatter_class=argparse.RawDescriptionHelpFormatter,
               epilog="Exit status: 0 all checks passed, 1 a check or a step "
                      "failed, 2 bad arguments, 130 interrupted.\n"
                      "With --inject-corruption, 0 means both checks caught "
                      "the injected corruption.")
    g = p.add_argument_group("QEMU")
    g.add_argument("--qemu", metavar="PATH",
                   help="source QEMU (default: $QEMU_THREADS_DEMO_QEMU, else "
                        "`qemu/build-qemu --features debian | tail -1`)")
    g.add_argument("--dst-qemu", metavar="PATH",
                   help="destination QEMU (default: the source's)")
    g.add_argument("--baseline", action="store_true",
                   help="use `qemu/build-qemu --baseline` (stock 7.2 "
                        "compress threads + the TCG dirty fix) by default")
    g.add_argument("--accel", default="tcg",
                   help="accelerator, e.g. tcg (default) or kvm")
    g.add_argument("--machine", default="pc-i440fx-7.2",
                   help="machine type, the same on both sides "
                        "(default: pc-i440fx-7.2)")
    g.add_argument("--cpu", help="-cpu model (default: QEMU's)")
    g.add_argument("--smp", type=int, default=1, help="vCPUs (default 1)")
    g.add_argument("--ram", type=int, default=256, metavar="MiB",
                   help="guest RAM in MiB (default 256)")

    g = p.add_argument_group("guest workload")
    g.add_argument("--kernel", metavar="PATH",
                   help="guest kernel (default: Debian's linux-image-amd64, "
                        "fetched once into the cache)")
    g.add_argument("--ws", type=int, default=64, metavar="MiB",
                   help="working set the workload dirties and verifies "
                        "(default 64)")
    g.add_argument("--rate", type=int, default=16, metavar="MiB/s",
                   help="dirtying rate; 0 = as fast as the guest can "
                        "(default 16)")
    g.add_argument("--vrate", type=int, default=128, metavar="MiB/s",
                   help="verification rate; 0 = as fast as it can "
                        "(default 128)")

    g = p.add_argument_group("migration")
    g.add_argument("--compress-threads", type=int, default=2, metavar="N",
                   help="source compression threads, 1..255 (default 2)")
    g.add_argument("--decompress-threads", type=int, default=2, metavar="N",
                   help="destination decompression threads, 1..255 "
                        "(default 2)")
    g.add_argument("--compress-level", type=int, default=1, metavar="0-9",
                   help="deflate level, 0..9; 0 = no compression "
                        "(default 1)")
    g.add_argument("--compress-wait-thread", choices=("on", "off"),
                   default="on",
                   help="on: wait for a free compression thread; off: send "
                        "the page uncompressed instead (default on)")
    g.add_argument("--no-compress", action="store_true",
                   help="migrate without the compress capability, for "
                        "comparison (default: compress on)")
    g.add_argument("--max-bandwidth", type=float, metavar="MiB/s",
                   help="max-bandwidth; 0 = unlimited (default: QEMU's "
                        "default, 128 MiB/s of wire bytes in 7.2)")
    g.add_argument("--downtime-limit", type=int, metavar="ms",
                   help="downtime-limit (default: QEMU's, 300 ms)")
    g.add_argument("--transport", choices=("tcp", "unix"), default="tcp",
                   help="tcp on 127.0.0.1 (free port) or a unix socket")
    g.add_argument("--scenario", choices=("normal", "kill-dest", "cancel"),
                   default="normal",
                   help="kill-dest: kill the first destination mid-migration; "
                        "cancel: migrate_cancel the first attempt; both then "
                        "migrate to a fresh destination")
    g.add_argument("--fail-after", type=float, default=2.0, metavar="SECONDS",
                   help="in kill-dest/cancel, act this long after the first "
                        "attempt becomes active (default 2)")
    g.add_argument("--fail-bandwidth", type=float, default=8, metavar="MiB/s",
                   help="max-bandwidth of the first attempt in kill-dest/"
                        "cancel, so it is still running when we act "
                        "(default 8)")

    g = p.add_argument_group("checks and output")
    g.add_argument("--no-compare", action="store_true",
                   help="skip the RAM comparison (the destination then "
                        "starts running at once, without -S)")
    g.add_argument("--inject-corruption", type=int, nargs="?", const=4,
                   default=0, metavar="PAGES",
                   help="before comparing, overwrite 64 bytes in PAGES "
                        "(default 4) of the workload's pages in the "
                        "destination's RAM, to prove both checks catch it")
    g.add_argument("--check-seconds", type=float, default=5, metavar="S",
                   help="watch the destination guest at least this long "
                        "(default 5)")
    g.add_argument("--boot-timeout", type=float, default=180, metavar="S",
                   help="seconds for the guest to start its workload "
                        "(default 180)")
    g.add_argument("--timeout", type=float, default=600, metavar="S",
                   help="migration timeout, then migrate_cancel and fail "
                        "(default 600)")
    g.add_argument("--json", metavar="FILE", help="write the summary as JSON")
    g.add_argument("--progress", choices=("auto", "always", "never"),
                   default="auto",
                   help="progress bar, on stderr (auto: when stderr is a "
                        "terminal; default auto)")
    g.add_argument("--verbose", "-v", action="store_true",
                   help="echo the guests' serial consoles")
    g.add_argument("--keep", action="store_true",
                   help="keep the run directory (logs, serial output)")
    g.add_argument("--cache-dir", metavar="DIR",
                   help="cache (default: $QEMU_THREADS_CACHE or "
                        "~/.cache/qemu-threads)")
    a = p.parse_args(argv)

    def bad(msg):
        p.error(msg)

    if not 1 <= a.compress_threads <= 255:
        bad(f"--compress-threads must be 1..255, not {a.compress_threads}")
    if not 1 <= a.decompress_threads <= 255:
        bad(f"--decompress-threads must be 1..255, not {a.decompress_threads}")
    if not 0 <= a.compress_level <= 9:
        bad(f"--compress-level must be 0..9, not {a.compress_level}")
    if not 1 <= a.smp <= 64:
        bad(f"--smp must be 1..64, not {a.smp}")
    if a.ram < 64:
        bad(f"--ram must be at least 64 MiB, not {a.ram}")
    if a.ws < 1 or a.ws > a.ram - 48:
        bad(f"--ws must be 1..{a.ram - 48} MiB with --ram {a.ram} "
            f"(the kernel needs the rest), not {a.ws}")
    if a.rate < 0 or a.vrate < 0:
        bad("--rate and --vrate must be >= 0")
    if a.max_bandwidth is not None and a.max_bandwidth < 0:
        bad("--max-bandwidth must be >= 0")
    if a.fail_bandwidth <= 0 or a.fail_after < 0:
        bad("--fail-bandwidth must be > 0 and --fail-after >= 0")
    if a.downtime_limit is not None and not 0 <= a.downtime_limit <= 2000000:
        bad("--downtime-limit must be 0..2000000 ms")
    if a.inject_corruption < 0 or a.inject_corruption > 8:
        bad("--inject-corruption takes 1..8 pages")
    if a.inject_corruption and a.no_compare:
        bad("--inject-corruption needs the RAM comparison "
            "(drop --no-compare)")
    if a.check_seconds < 0 or a.boot_timeout <= 0 or a.timeout <= 0:
        bad("timeouts must be positive")
    if a.kernel is not None and not os.path.isfile(a.kernel):
        bad(f"--kernel {a.kernel}: no such file")
    for opt in ("qemu", "dst_qemu"):
        v = getattr(a, opt)
        if v is not None and not (os.path.isfile(v) and os.access(v, os.X_OK)):
            bad(f"--{opt.replace('_', '-')} {v}: not an executable file")
    env_q = os.environ.get("QEMU_THREADS_DEMO_QEMU")
    if a.qemu is None and env_q and not (os.path.isfile(env_q) and
                                         os.access(env_q, os.X_OK)):
        bad(f"QEMU_THREADS_DEMO_QEMU={env_q}: not an executable file")
    if not re.fullmatch(r"[a-z0-9_,=.-]+", a.accel):
        bad(f"--accel {a.accel}: not an accelerator name")
    if a.json:
        d = os.path.dirname(os.path.abspath(a.json))
        if not os.path.isdir(d):
            bad(f"--json {a.json}: no directory {d}")
    return a


# --------------------------------------------------------------------------
# QEMU


def find_qemu(qemu=None, dst_qemu=None, baseline=False):
    """(source, destination) QEMU binaries: qemu, else
    $QEMU_THREADS_DEMO_QEMU, else qemu/build-qemu's: the patched build
    with Debian's feature set, or with
    --baseline the minimal stock one."""
    if qemu:
        src = qemu
    elif os.environ.get("QEMU_THREADS_DEMO_QEMU"):
        src = os.environ["QEMU_THREADS_DEMO_QEMU"]
        log(f"QEMU from $QEMU_THREADS_DEMO_QEMU: {src}")
    else:
        src = build_qemu(["--baseline"] if baseline
                         else ["--features", "debian"])
    dst = dst_qemu or src
    for q in (src, dst):
        if not (os.path.isfile(q) and os.access(q, os.X_OK)):
            raise Failure(f"{q}: not an executable QEMU")
    return os.path.abspath(src), os.path.abspath(dst)


# --------------------------------------------------------------------------
# The demo


class Demo:
    def __init__(self, a):
        self.a = a
        self.rundir = None
        self.src = None
        self.src_con = None
        self.result = {}
        self.compress = None if a.no_compress else Compress(
            a.compress_threads, a.decompress_threads, a.compress_level,
            a.compress_wait_thread == "on")

    # ---- setup ----------------------------------------------------------
    def qemu_argv(self, incoming):
        a = self.a
        return guest_argv(self.kernel, self.initrd, self.cmdline, a.ram,
                          machine=a.machine, accel=a.accel, smp=a.smp,
                          cpu=a.cpu, incoming=incoming,
                          paused=not a.no_compare)

    def start_src(self):
        a = self.a
        self.src = Qemu("src", self.src_bin, self.rundir,
                        self.qemu_argv(False)).start()
        self.src_con = Console(self.src.serial, "src", a.verbose)
        self.default_bandwidth = self.src.qmp.cmd(
            "query-migrate-parameters")["max-bandwidth"]
        log(f"source QEMU {self.src.version} "
            f"pid {self.src.pid}; booting the guest")
        t0 = time.monotonic()
        why = guest.wait_ready(self.src_con, 2, a.boot_timeout,
                               self.check_src_alive)
        if why == "fatal":
            raise Failure(f"source guest: {self.src_con.fatal}\n"
                          f"{self.src_con.tail()}")
        if why == "timeout":
            hint = ("" if a.accel == "tcg" else
                    f" (does -accel {a.accel} work on this host? "
                    "try --accel tcg)")
            raise Failure(f"guest did not start its workload in "
                          f"{a.boot_timeout:.0f}s{hint}; serial console:"
                          f"\n{self.src_con.tail()}")
        self.result["boot_seconds"] = round(time.monotonic() - t0, 1)
        hb = self.src_con.last_hb()
        log(f"guest up in {time.monotonic() - t0:.1f}s; workload running "
            f"(written={hb['written']} verified={hb['verified']} "
            f"corrupt={hb['corrupt']})")
        if hb["corrupt"]:
            raise Failure("source guest reports corruption before migrating")

    def check_src_alive(self):
        if not self.src.alive():
            raise Failure(f"source QEMU exited (status "
                          f"{self.src.proc.returncode}):\n{self.src.output()}"
                          f"\n  serial:\n{self.src_con.tail()}")

    def start_dst(self, n):
        q = Qemu(f"dst{n}", self.dst_bin, self.rundir,
                 self.qemu_argv(True)).start()
        other = (f" ({self.dst_bin})" if self.dst_bin != self.src_bin
                 else "")
        log(f"destination QEMU {q.version}"
            f"{other} pid {q.pid} (-incoming defer"
            f"{', -S' if not self.a.no_compare else ''})")
        return q

    def configure(self, q, bandwidth):
        """bandwidth: MiB/s; None: QEMU's default (on the source, also
        after a throttled first attempt)."""
        a = self.a
        if bandwidth is not None:
            max_bw = int(bandwidth * MiB)
        elif q is self.src:
            max_bw = self.default_bandwidth
        else:
            max_bw = None
        params = migration.configure(q.qmp, self.compress, max_bw,
                                     a.downtime_limit)
        if params and a.verbose:
            log(f"{q.role}: migrate-set-parameters {json.dumps(params)}")

    # ---- one migration --------------------------------------------------
    def migrate(self, dst, n, bandwidth, action=None):
        """Migrate src -> dst. action: None, 'kill-dest' or 'cancel'.
        Returns the engine's Result."""
        a = self.a
        self.configure(self.src, bandwidth)
        self.configure(dst, None)
        uri = migration.listen(dst.qmp, a.transport,
                               os.path.join(self.rundir, f"migrate{n}.sock"))
        log(f"migrating to {uri}" + (
            "" if a.no_compress else
            f" with compress (threads {a.compress_threads}/"
            f"{a.decompress_threads}, level {a.compress_level}, "
            f"wait-thread {a.compress_wait_thread})") +
            (f", max-bandwidth {bandwidth:g} MiB/s" if bandwidth is not None
             else ""))
        acted = []

        def on_poll(info, t, t_active):
            self.src_con.poll()
            self.check_src_alive()
            if action and not acted and t_active is not None and \
                    t_active >= a.fail_after:
                acted.append(t)
                ram = info.get("ram", {})
                log(f"{'killing the destination (SIGKILL)' if action == 'kill-dest' else 'migrate_cancel'}"
                    f" after {t:.1f}s, {ram.get('transferred', 0) / MiB:.1f} MiB sent")
                self.result.setdefault("failed_attempts", []).append({
                    "action": action, "after_seconds": round(t, 2),
                    "transferred_bytes": ram.get("transferred", 0)})
                if action == "kill-dest":
                    dst.kill()
                else:
                    self.src.qmp.cmd("migrate_cancel")

        res = engine.migrate(self.src, dst, uri, cap=a.timeout,
                             label=f"migration to {dst.role}",
                             dst_must_live=action is None, on_poll=on_poll)
        if res.cancelled_by_cap:
            raise Failure(f"migration did not finish in {a.timeout:.0f}s "
                          f"(status {res.status}; try a lower --rate or a "
                          f"higher --downtime-limit)")
        return res

    # ---- checks ----------------------------------------------------------
    def inject(self, dst):
        """Overwrite 64 bytes in some of the workload's pages in the paused
        destination's RAM, through QEMU's own mapping of guest RAM:
        HMP gpa2hva gives the host address, /proc/PID/mem writes it."""
        pages = self.src_con.pages[:self.a.inject_corruption]
        if len(pages) < self.a.inject_corruption or not all(p for _, p in pages):
            raise Failure("the guest reported no physical addresses of its "
                          "pages; cannot inject")
        done = []
        with open(f"/proc/{dst.pid}/mem", "r+b", buffering=0) as mem:
            for idx, paddr in pages:
                out = dst.qmp.hmp(f"gpa2hva 0x{paddr:x}")
                m = re.search(r" is (0x[0-9a-f]+)", out)
                if not m:
                    raise Failure(f"gpa2hva 0x{paddr:x}: {out.strip()}")
                hva = int(m.group(1), 16) + 512
                mem.seek(hva)
                old = mem.read(64)
                new = bytes(b ^ 0xA5 for b in old)
                mem.seek(hva)
                mem.write(new)
                mem.seek(hva)
                if mem.read(64) != new:
                    raise Failure(f"write to destination RAM at 0x{paddr:x} "
                                  "did not stick")
                done.append({"idx": idx, "paddr": paddr, "hva": hva - 512})
        log(f"injected corruption into {len(done)} workload pages of the "
            f"destination's RAM: " +
            ", ".join(f"0x{d['paddr']:x}" for d in done))
        return done

    def compare_ram(self, dst):
        """dump-guest-memory on both (source postmigrate, destination paused
        by -S), then compare page by page."""
        st_src = self.src.qmp.cmd("query-status")["status"]
        st_dst = dst.qmp.cmd("query-status")["status"]
        if st_src == "running" or st_dst == "running":
            raise Failure(f"cannot compare RAM: source {st_src}, "
                          f"destination {st_dst}")
        dumps = {}
        t0 = time.monotonic()
        for q in (self.src, dst):
            path = os.path.join(self.rundir, f"{q.role}.dump")
            q.qmp.cmd("dump-guest-memory", timeout=600, paging=False,
                      protocol=f"file:{path}")
            dumps[q.role] = path
        segs = {r: ramdump.elf_loads(p) for r, p in dumps.items()}
        s_src, s_dst = segs[self.src.role], segs[dst.role]
        if not ramdump.same_layout(s_src, s_dst):
            raise Failure(f"guest memory layouts differ: source "
                          f"{[(hex(p), n) for p, _, n in s_src]}, destination "
                          f"{[(hex(p), n) for p, _, n in s_dst]}")
        with open(dumps[self.src.role], "rb") as fa, \
                open(dumps[dst.role], "rb") as fb:
            total, diffs = ramdump.differing_pages(fa, s_src, fb, s_dst)
        for p in dumps.values():
            os.unlink(p)
        secs = time.monotonic() - t0
        return {"pages": total, "differing_pages": len(diffs),
                "differing_paddrs": [f"0x{p:x}" for p in diffs[:64]],
                "seconds": round(secs, 1)}

    def watch_dst(self, dst, con):
        """The destination guest must keep running its workload: heartbeats
        with written/verified going up, at least two full verification
        passes, and no corruption reported.  Returns (first heartbeat, last
        heartbeat, problem or None)."""
        a = self.a
        t0 = time.monotonic()
        first = None
        while True:
            con.poll()
            hb = con.last_hb()
            if hb and first is None:
                first = hb
            if con.fatal:
                time.sleep(0.5)  # let the rest of the oops arrive
                con.poll()
                return first, con.last_hb(), (
                    f"destination guest died: {con.fatal}\n{con.oops()}")
            if not dst.alive():
                return first, hb, (
                    f"destination QEMU exited after migration (status "
                    f"{dst.proc.returncode}): {dst.output()}\n  serial:\n"
                    f"{con.tail()}")
            if first and hb and time.monotonic() - t0 >= a.check_seconds \
                    and hb["passes"] >= first["passes"] + 2 \
                    and hb["written"] > first["written"] \
                    and len(con.hbs) >= 3:
                return first, hb, None
            if time.monotonic() - t0 > max(30.0, 4 * a.check_seconds):
                try:
                    st = dst.qmp.cmd("query-status")["status"]
                except (OSError, QMPError):
                    st = "unknown"
                out = con.tail() if con.lines else "    (nothing since the migration)"
                return first, hb, (
                    f"destination guest is not running its workload: no "
                    f"progress in its heartbeats for "
                    f"{time.monotonic() - t0:.0f}s (VM {st}); its serial "
                    f"console:\n{out}")
            time.sleep(0.2)

    def watch_src_after_failure(self, what):
        """After a failed or cancelled attempt, the source guest must still
        be running its workload."""
        st = self.src.qmp.cmd("query-status")["status"]
        if st != "running":
            raise Failure(f"after the {what}, the source VM is {st}, "
                          "not running")
        self.src_con.poll()
        w0 = self.src_con.last_hb()["written"]
        if not guest.wait_heartbeats(self.src_con, 2, 30, 0.2,
                                     self.check_src_alive):
            raise Failure(f"after the {what}, the source guest stopped "
                          f"its heartbeats:\n{self.src_con.tail()}")
        hb = self.src_con.last_hb()
        if hb["corrupt"] or hb["written"] <= w0:
            raise Failure(f"after the {what}, source guest: {hb}")
        log(f"source guest still running after the {what} "
            f"(written={hb['written']} corrupt={hb['corrupt']})")

    # ---- main -----------------------------------------------------------
    def run(self):
        a = self.a
        self.src_bin, self.dst_bin = find_qemu(a.qemu, a.dst_qemu, a.baseline)
        cache = guest.cache_dir(a.cache_dir)
        gdir = os.path.join(cache, "guest")
        self.kernel = os.path.abspath(a.kernel) if a.kernel else guest.fetch_kernel(gdir)
        self.initrd = guest.build_initramfs(gdir)
        self.cmdline = guest.kernel_cmdline(a.ws, a.rate, a.vrate)
        self.rundir = tempfile.mkdtemp(prefix="migrate-demo.")
        r = self.result
        r.update({
            "qemu": self.src_bin, "dst_qemu": self.dst_bin,
            "accel": a.accel, "machine": a.machine, "ram_mib": a.ram,
            "smp": a.smp, "kernel": self.kernel, "initrd": self.initrd,
            "workload": {"ws_mib": a.ws, "rate_mib_s": a.rate,
                         "vrate_mib_s": a.vrate},
            "transport": a.transport, "scenario": a.scenario,
            "compress": None if a.no_compress else {
                "threads": a.compress_threads,
                "decompress_threads": a.decompress_threads,
                "level": a.compress_level,
                "wait_thread": a.compress_wait_thread == "on"},
            "max_bandwidth_mib_s": a.max_bandwidth,
            "downtime_limit_ms": a.downtime_limit,
        })
        log(f"run directory {self.rundir}")
        self.start_src()

        n = 1
        if a.scenario != "normal":
            dst = self.start_dst(n)
            res = self.migrate(dst, n, a.fail_bandwidth, action=a.scenario)
            what = ("destination's death" if a.scenario == "kill-dest"
                    else "migrate_cancel")
            want = "failed" if a.scenario == "kill-dest" else "cancelled"
            if res.status != want:
                raise Failure(f"first attempt ended {res.status}, "
                              f"expected {want} (finished before we could "
                              f"act? lower --fail-after/--fail-bandwidth)")
            log(f"source reports the first migration {res.status}"
                + (f": {res.error_desc}" if res.error_desc else ""))
            r["failed_attempts"][-1]["status"] = res.status
            r["failed_attempts"][-1]["error"] = res.error_desc
            if a.scenario == "cancel":
                # The destination sees the stream end and exits by itself.
                try:
                    dst.proc.wait(30)
                    log(f"cancelled destination exited (status "
                        f"{dst.proc.returncode})")
                except subprocess.TimeoutExpired:
                    log("cancelled destination still running; stopping it")
                    dst.stop()
                r["failed_attempts"][-1]["dst_exit"] = dst.proc.returncode
            self.watch_src_after_failure(what)
            n += 1

        dst = self.start_dst(n)
        dst_con = Console(dst.serial, dst.role, a.verbose)
        res = self.migrate(dst, n, a.max_bandwidth)
        if res.status != "completed":
            raise Failure(f"migration {res.status}: "
                          f"{res.error_desc or ''}\n"
                          f"destination:\n{dst.output()}")
        if res.dst_status != "completed":
            raise Failure(f"destination side: {res.dst_status}")
        r["migration"] = res.to_dict()
        self.print_migration(res)

        failed = []
        if not a.no_compare:
            injected = self.inject(dst) if a.inject_corruption else []
            log("comparing guest RAM (dump-guest-memory on both sides)")
            cmp_ = self.compare_ram(dst)
            r["ram_compare"] = cmp_
            log(f"RAM compare: {cmp_['differing_pages']} of {cmp_['pages']} "
                f"pages differ ({cmp_['seconds']}s)"
                + (f": {', '.join(cmp_['differing_paddrs'][:8])}"
                   if cmp_["differing_pages"] else ""))
            if injected:
                r["injected"] = [f"0x{d['paddr']:x}" for d in injected]
                want = {f"0x{d['paddr']:x}" for d in injected}
                got = set(cmp_["differing_paddrs"])
                r["injection_caught_by_compare"] = want <= got
            elif cmp_["differing_pages"]:
                failed.append(f"{cmp_['differing_pages']} pages differ")
            dst.qmp.cmd("cont")
            log("destination resumed (cont)")
        first, hb, problem = self.watch_dst(dst, dst_con)
        r["dst_guest"] = {"first_heartbeat": first, "last_heartbeat": hb,
                          "corrupt_lines": dst_con.corrupt[:16],
                          "problem": problem}
        if problem:
            log(problem)
            failed.append(problem.split("\n")[0])
            hb = hb or {"corrupt": 0, "written": 0, "passes": 0}
        else:
            log(f"destination guest running its workload: "
                f"written {first['written']} -> {hb['written']}, passes "
                f"{first['passes']} -> {hb['passes']}, "
                f"corrupt={hb['corrupt']}")
        src_hb = self.src_con.last_hb()
        if a.inject_corruption:
            caught_guest = hb["corrupt"] > src_hb["corrupt"]
            r["injection_caught_by_guest"] = caught_guest
            r["guest_corrupt_reported"] = hb["corrupt"]
            for ln in dst_con.corrupt[:8]:
                log(f"  guest: {ln}")
            if not r["injection_caught_by_compare"]:
                failed.append("the RAM compare missed injected pages")
            if not caught_guest:
                failed.append("the guest verifier missed the injected pages")
            if r["ram_compare"]["differing_pages"] != len(r["injected"]):
                failed.append(f"RAM compare found "
                              f"{r['ram_compare']['differing_pages']} pages, "
                              f"{len(r['injected'])} injected")
        elif hb["corrupt"] or dst_con.corrupt:
            failed.append(f"the destination guest reports {hb['corrupt']} "
                          f"corrupt pages")
            for ln in dst_con.corrupt[:8]:
                log(f"  guest: {ln}")
        r["cpu_seconds_total"] = {"src": self.src.cpu(), "dst": dst.cpu()}
        self.print_checks(failed)
        r["ok"] = not failed
        return 0 if not failed else 1

    def print_migration(self, res):
        c = res.compression
        cpu = res.cpu_s
        lines = [
            "migration completed",
            f"  total time    {res.total_time_ms / 1000:.2f} s   "
            f"(setup {res.setup_time_ms} ms, downtime {res.downtime_ms} ms)",
            f"  RAM           {res.ram_total_bytes / MiB:.0f} MiB guest, "
            f"{res.transferred_bytes / MiB:.1f} MiB transferred, "
            f"{res.iterations} iterations, "
            f"{res.duplicate_pages} zero pages",
        ]
        if c:
            lines.append(
                f"  compression   {c.pages} pages -> "
                f"{(c.compressed_bytes or 0) / MiB:.1f} MiB, ratio "
                f"{c.ratio}, busy {c.busy} "
                f"(busy rate {c.busy_rate_overall})")
        lines.append(
            f"  CPU           source {cpu['src']:.1f} s, destination "
            f"{cpu['dst']:.1f} s during the migration (wall "
            f"{res.wall_s or 0:.1f} s)"
            if cpu["dst"] is not None else
            f"  CPU           source {cpu['src']:.1f} s")
        for side in ("src", "dst"):
            tg = res.thread_cpu_s[side]
            if tg:
                lines.append(f"    {side} threads  " + ", ".join(
                    f"{k} {v:.1f}" for k, v in list(tg.items())[:6]))
        for ln in lines:
            print(ln, flush=True)

    def print_checks(self, failed):
        r = self.result
        if self.a.inject_corruption:
            print(f"corruption injection: {len(r['injected'])} pages "
                  f"written in the destination's RAM; RAM compare "
                  f"{'caught them' if r['injection_caught_by_compare'] else 'MISSED them'}"
                  f" ({r['ram_compare']['differing_pages']} differing); "
                  f"guest verifier "
                  f"{'caught' if r['injection_caught_by_guest'] else 'MISSED'}"
                  f" ({r['guest_corrupt_reported']} corrupt pages reported)",
                  flush=True)
        if failed:
            print("FAILED: " + "; ".join(failed), flush=True)
        else:
            print("OK" + ("" if self.a.inject_corruption else
                          ": no page lost (guest verifier: 0 corrupt"
                          + ("" if self.a.no_compare else
                             f"; RAM compare: 0 of "
                             f"{r['ram_compare']['pages']} pages differ")
                          + ")"), flush=True)



def main(argv):
    ui.set_prog(PROG)
    a = parse_args(argv)
    Progress.enabled = (a.progress == "always" or
                        (a.progress == "auto" and sys.stderr.isatty()))

    def on_signal(signum, frame):
        raise Interrupted(signum)

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    demo = Demo(a)
    status = 1
    try:
        status = demo.run()
    except Failure as e:
        ui.failed(e)
        demo.result["ok"] = False
        demo.result["error"] = str(e)
    except (QMPError, OSError, subprocess.CalledProcessError) as e:
        ui.failed(f"{type(e).__name__}: {e}")
        demo.result["ok"] = False
        demo.result["error"] = f"{type(e).__name__}: {e}"
    except Interrupted as e:
        Progress.clear()
        print(f"{PROG}: interrupted ({e}); stopping QEMU", file=sys.stderr,
              flush=True)
        demo.result["ok"] = False
        demo.result["error"] = f"interrupted by {e}"
        status = 128 + e.signum
    finally:
        # Stop what we started, even if another signal arrives meanwhile.
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        stop_all()
        if demo.rundir:
            for d in glob.glob(os.path.join(demo.rundir, "*.dump")):
                os.unlink(d)
            if a.keep or status not in (0,):
                if a.keep:
                    ui.result(f"kept {demo.rundir}")
                else:
                    log(f"logs kept in {demo.rundir}")
            else:
                shutil.rmtree(demo.rundir, ignore_errors=True)
        if a.json:
            with open(a.json, "w") as f:
                json.dump(demo.result, f, indent=2, default=str)
                f.write("\n")
    return status
