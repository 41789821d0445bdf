"""One migration from start to end, and its one typed result.

migrate() starts a migration on a configured source towards a listening
destination (migration.configure*, migration.listen), polls
query-migrate until it ends, and returns a Result: QEMU's figures, both
QEMUs' CPU time, a time series of the progress, and what became of it
on both sides.  The demo and the benchmark both migrate through it; the
report and the plots read its fields (Result.to_dict) by the same names.

Saved results from before these names (the demo's summary used
wall_seconds, cpu_seconds_during, thread_cpu_seconds and, in
compression, busy_rate, qemu_last_ratio, qemu_last_busy_rate) load
through upgrade() / Result.from_dict().
"""

import time
from dataclasses import asdict, dataclass, field, fields
from typing import Optional

from . import GiB, MiB, PAGE, Failure
from . import migration, ui
from .qemu import CpuMeter
from .stats import top_groups

# Polling: every 0.1 s for the first 5 s (short migrations still get a
# time series), then every 0.25 s.
FAST_POLL, SLOW_POLL, FAST_FOR = 0.1, 0.25, 5.0
# Seconds a migration may take to end after the cap cancelled it.
GRACE = 60.0


def poll_interval(t):
    return FAST_POLL if t < FAST_FOR else SLOW_POLL


@dataclass
class Compression:
    """The compress capability's counters at the end (query-migrate's
    "compression").  busy_rate_overall: busy / every page sent (normal,
    zero and compressed), over the whole migration; ratio: compressed
    pages' bytes / their compressed size; the qemu_*_last figures are
    QEMU's own, over its last period only."""
    pages: Optional[int] = None
    compressed_bytes: Optional[int] = None
    busy: Optional[int] = None
    busy_rate_overall: Optional[float] = None
    ratio: Optional[float] = None
    qemu_busy_rate_last: Optional[float] = None
    qemu_compression_rate_last: Optional[float] = None


@dataclass
class Result:
    """One migration.  status: the source's final status; dst_status:
    the destination's once it finished loading (None unless the source
    completed); converged: both completed; error_desc: QEMU's reason for
    a failure.  Times in ms are QEMU's, wall_s
    ours (migrate to the end of polling).  cpu_s: each QEMU process's CPU
    seconds over the migration (dst None if it exited); thread_cpu_s: the
    same by thread name.  samples: progress_sample() per poll."""
    status: str
    dst_status: Optional[str] = None
    error_desc: Optional[str] = None
    cancelled_by_cap: bool = False
    total_time_ms: Optional[int] = None
    downtime_ms: Optional[int] = None
    setup_time_ms: Optional[int] = None
    wall_s: Optional[float] = None
    ram_total_bytes: Optional[int] = None
    transferred_bytes: Optional[int] = None
    iterations: Optional[int] = None
    duplicate_pages: Optional[int] = None
    normal_pages: Optional[int] = None
    mbps: Optional[float] = None
    compression: Optional[Compression] = None
    cpu_s: dict = field(default_factory=dict)
    thread_cpu_s: dict = field(default_factory=dict)
    samples: list = field(default_factory=list)

    @property
    def converged(self):
        return self.status == "completed" and self.dst_status == "completed"

    def mib_s(self):
        """Guest RAM MiB per second of QEMU's total time, if converged."""
        if not (self.converged and self.total_time_ms and
                self.ram_total_bytes):
            return None
        return round(self.ram_total_bytes / MiB /
                     (self.total_time_ms / 1000), 1)

    def cpu_s_per_gib(self):
        """cpu_s per GiB of guest RAM, if converged."""
        if not (self.converged and self.total_time_ms and
                self.ram_total_bytes):
            return None
        gib = self.ram_total_bytes / GiB
        return {k: round(v / gib, 3) if v is not None else None
                for k, v in self.cpu_s.items()}

    def to_dict(self):
        """The JSON form: the fields, converged, and for a converged
        migration mib_s and cpu_s_per_gib."""
        d = asdict(self)
        d["converged"] = self.converged
        if self.converged and self.total_time_ms:
            d["mib_s"] = self.mib_s()
            d["cpu_s_per_gib"] = self.cpu_s_per_gib()
        return d

    @classmethod
    def from_dict(cls, d):
        """A Result from to_dict()'s form, a benchmark run record or an
        older demo summary's "migration" (upgrade()); other keys are
        ignored."""
        d = upgrade(d)
        kw = {f.name: d[f.name] for f in fields(cls) if f.name in d}
        c = kw.get("compression")
        if c is not None:
            kw["compression"] = Compression(**{
                f.name: c[f.name] for f in fields(Compression)
                if f.name in c})
        kw.setdefault("status", None)
        return cls(**kw)


# Old key -> current key, in a record and in its "compression".
RENAMED = {"wall_seconds": "wall_s", "cpu_seconds_during": "cpu_s",
           "thread_cpu_seconds": "thread_cpu_s"}
RENAMED_COMPRESSION = {"busy_rate": "busy_rate_overall",
                       "qemu_last_ratio": "qemu_compression_rate_last",
                       "qemu_last_busy_rate": "qemu_busy_rate_last"}


def upgrade(rec):
    """A copy of a saved migration record with the current key names
    (RENAMED, RENAMED_COMPRESSION); a current one comes back equal."""
    out = {RENAMED.get(k, k): v for k, v in rec.items()}
    c = out.get("compression")
    if isinstance(c, dict):
        out["compression"] = {RENAMED_COMPRESSION.get(k, k): v
                              for k, v in c.items()}
    return out


def progress_sample(info, t):
    """One point of a migration's time series, from query-migrate at t s.
    busy_rate is QEMU's busy-rate of its last period."""
    ram = info.get("ram", {})
    comp = info.get("compression", {})
    return {"t": round(t, 2), "status": info.get("status"),
            "transferred": ram.get("transferred"),
            "remaining": ram.get("remaining"),
            "iterations": ram.get("dirty-sync-count"),
            "dirty_pages_rate": ram.get("dirty-pages-rate"),
            "busy": comp.get("busy"),
            "busy_rate": comp.get("busy-rate")}


def compression_of(info):
    """Compression from a query-migrate answer, None without one."""
    comp = info.get("compression")
    if not comp:
        return None
    ram = info.get("ram", {})
    pages, csize = comp.get("pages"), comp.get("compressed-size")
    all_pages = (ram.get("normal", 0) + ram.get("duplicate", 0) +
                 (pages or 0))
    return Compression(
        pages=pages, compressed_bytes=csize, busy=comp.get("busy"),
        busy_rate_overall=round(comp.get("busy", 0) / all_pages, 4)
        if all_pages else None,
        ratio=round(pages * PAGE / csize, 2) if pages and csize else None,
        qemu_busy_rate_last=comp.get("busy-rate"),
        qemu_compression_rate_last=comp.get("compression-rate"))


def result_of(info, *, dst_status=None, cancelled_by_cap=False, wall=None,
              cpu=None, groups=None, samples=(), guest_ram_bytes=None):
    """A Result from the source's final query-migrate and what was
    measured around it.  guest_ram_bytes: ram_total_bytes when QEMU gave
    none (a cancelled migration)."""
    ram = info.get("ram", {})
    return Result(
        status=info.get("status"), dst_status=dst_status,
        error_desc=info.get("error-desc"),
        cancelled_by_cap=cancelled_by_cap,
        total_time_ms=info.get("total-time"),
        downtime_ms=info.get("downtime"),
        setup_time_ms=info.get("setup-time"),
        wall_s=round(wall, 3) if wall is not None else None,
        ram_total_bytes=ram.get("total") or guest_ram_bytes,
        transferred_bytes=ram.get("transferred"),
        iterations=ram.get("dirty-sync-count"),
        duplicate_pages=ram.get("duplicate"),
        normal_pages=ram.get("normal"), mbps=ram.get("mbps"),
        compression=compression_of(info),
        cpu_s={k: round(v, 3) if v is not None else None
               for k, v in (cpu or {}).items()},
        thread_cpu_s=groups or {}, samples=list(samples))


def final_info(info, last_ram, wall):
    """The figures of a migration that ended without them: after
    migrate_cancel (or a failure) query-migrate has a status (and
    error-desc) but no "ram"; take the last poll that had one (at most
    one poll interval before the end), with the final status, QEMU's
    elapsed time or ours, and no downtime (the guest never stopped)."""
    if info.get("ram") or not last_ram:
        return info
    out = dict(last_ram)
    out.update(info)
    out.setdefault("total-time", int(wall * 1000))
    out.pop("downtime", None)
    return out


def migrate(src, dst, uri, *, cap=None, grace=GRACE, label="migration",
            dst_must_live=True, on_poll=None, guest_ram_bytes=None,
            meter=None, clock=time.monotonic, sleep=time.sleep):
    """Migrate src to dst (both qemu.Qemu, configured; dst listening on
    uri) and poll until the source's status is completed, failed or
    cancelled.

    cap: seconds, then migrate_cancel once (cancelled_by_cap) and poll
    on; Failure if it has not ended grace s later.  dst_must_live:
    Failure if the destination exits mid-migration (off when the caller
    kills it on purpose).  on_poll(info, t, t_active): called after each
    poll of a migration still running, t seconds after migrate, t_active
    seconds after it first reported active (None before); it may act on
    either side or raise.  The progress bar (ui.Progress, when enabled)
    is redrawn each second."""
    meter = meter or CpuMeter(src, dst)
    t0 = clock()
    src.qmp.cmd("migrate", uri=uri)
    samples, last_ram = [], {}
    cancelled_by_cap = False
    active_at = None
    shown = (t0, 0)
    next_show = t0
    while True:
        info = src.qmp.cmd("query-migrate")
        now = clock()
        t = now - t0
        meter.sample()
        st = info.get("status")
        if info.get("ram"):
            last_ram = info
        if st == "active" and active_at is None:
            active_at = now
        samples.append(progress_sample(info, t))
        if now >= next_show:
            tr = info.get("ram", {}).get("transferred", 0)
            rate = (tr - shown[1]) / MiB / max(now - shown[0], 1e-6)
            shown = (now, tr)
            ui.Progress.show(ui.fmt_progress(info, rate, t))
            next_show = now + 1.0
        if st in migration.DONE:
            info = migration.settled(src.qmp, info)
            break
        if on_poll is not None:
            on_poll(info, t, None if active_at is None else now - active_at)
        if dst_must_live and not dst.alive():
            raise Failure(f"{label}: destination QEMU ({dst.role}) exited "
                          f"during migration (status "
                          f"{dst.proc.returncode}):\n{dst.output()}")
        if cap is not None and t > cap and not cancelled_by_cap:
            cancelled_by_cap = True
            src.qmp.cmd("migrate_cancel")
        if cap is not None and t > cap + grace:
            raise Failure(f"{label}: migration neither finished nor "
                          f"cancelled {grace:g} s after the cap")
        sleep(poll_interval(t))
    ui.Progress.clear()
    wall = clock() - t0
    dst_status = None
    if info.get("status") == "completed":
        # The destination finishes loading on its own.
        dst_status = migration.poll_status(
            dst.qmp, ("completed", "failed"), 200, 0.05)
    cpu = meter.finish()
    groups = {side: top_groups(q.thread_groups(), 3, 0.005)
              for side, q in (("src", src), ("dst", dst))}
    return result_of(final_info(info, last_ram, wall), dst_status=dst_status,
                     cancelled_by_cap=cancelled_by_cap, wall=wall, cpu=cpu,
                     groups=groups, samples=samples,
                     guest_ram_bytes=guest_ram_bytes)
