"""The benchmark's report: results.md from all.json's document (machine,
configuration, runs)."""

from . import MiB
from . import methods as M
from .mdtable import table
from .stats import BUILDS, groupby, med, pair_ratios


def fmt(x, nd=2):
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def comp_cores(r, name="compress"):
    t = (r.get("total_time_ms") or 0) / 1000
    c = (r.get("thread_cpu_s") or {}).get("src", {}).get(name)
    return c / t if t and c is not None else None


def top_threads(r, side, n=4):
    t = (r.get("thread_cpu_s") or {}).get(side) or {}
    return ", ".join(f"{k} {v:.2f}" for k, v in list(t.items())[:n])


def cores_used(r):
    """Average CPUs both QEMUs kept busy during a migration."""
    cpu = (r["cpu_s_per_gib"]["src"] + r["cpu_s_per_gib"]["dst"]) * r["ram_mib"] / 1024
    return cpu / (r["total_time_ms"] / 1000)


def report(doc):
    runs = doc["runs"]
    L = []
    mi = doc["machine"]
    L.append(f"# Migration benchmark, {doc['mode']} mode, {doc['started']}\n")
    L.append(f"Machine: {mi['nproc']} CPUs ({mi['cpu_model']}), load average "
             f"at start {' '.join(f'{x:.2f}' for x in mi['loadavg'])}; "
             f"kernel {mi['kernel']}.  Command: `{doc['command']}`.  "
             f"Wall time {doc.get('wall_s', 0):.0f} s.\n")
    L.append("".join(f"- {b}: `{path}`\n"
                     for b, path in doc.get("qemu", {}).items()))
    if doc.get("hogs"):
        L.append(f"CPU hogs: {doc['hogs']} busy-loop process(es) ran for "
                 "the whole run.\n")
    if any(not r.get("method") for r in runs):
        L.append("Ratios are patched/stock per A-B pair (same rep); below 1 "
                 "means the patched build took less time or CPU.\n")
    tp = throughput_section(L, doc, runs)
    live_section(L, runs)
    guestperf_section(L, runs)
    hogs_section(L, doc, tp)
    pinned_section(L, runs)
    links_section(L, runs)
    recommend_section(L, runs)
    if doc.get("plots"):
        L.append("## Plots\n")
        for p in doc["plots"]:
            L.append(f"![{p}]({p})")
        L.append("")
    return "\n".join(L)


# ---- paused and live guests, guestperf ---------------------------------


def throughput_section(L, doc, runs):
    """Paused guests: per (threads, wait-thread) and build, medians and
    patched/stock pair ratios.  Returns the runs it covered (the hogs
    section reuses them)."""
    mi = doc["machine"]
    tp = [r for r in runs if r.get("scenario") in ("throughput", "wait")
          and "threads" in r and r.get("max_bandwidth_mib_s") == 0
          and r.get("cap_s") == 600]
    if not tp:
        return tp
    L.append("## Paused guest: compression pipeline throughput\n")
    L.append(f"Guest RAM {tp[0]['ram_mib']} MiB, paused; medians over "
             "reps.  CPU s/GiB is the QEMU process's CPU time during the "
             "migration per GiB of guest RAM; cores used is both QEMUs' "
             f"CPU time over the wall time (of {mi['nproc']} CPUs): below "
             "that, the pipeline waits rather than computes.\n")
    rows = []
    for (t, w), rs in throughput_groups(tp):
        tr, cs, cd = throughput_ratios(rs)
        for b in BUILDS:
            br = [r for r in rs if r["build"] == b]
            if not br:
                continue
            rows.append([
                t, "off" if w else "on", b,
                fmt(med([r["total_time_ms"] / 1000 for r in br])),
                fmt(med([r["mib_s"] for r in br]), 1),
                fmt(med([r["cpu_s_per_gib"]["src"] for r in br])),
                fmt(med([r["cpu_s_per_gib"]["dst"] for r in br])),
                fmt(med([cores_used(r) for r in br])),
                fmt(med([(r["compression"] or {}).get("busy")
                         for r in br]))]
                + ([f"{fmt(med(tr), 3)} {tr}", fmt(med(cs), 3),
                    fmt(med(cd), 3)] if b == "patched" else
                   ["", "", ""]))
    L += table(["threads", "wait", "build", "total s", "MiB/s",
                "src CPU s/GiB", "dst CPU s/GiB", "cores used", "busy",
                "time ratio p/s", "src CPU ratio", "dst CPU ratio"],
               rows)
    L.append("")
    L.append("Per-thread CPU seconds (last rep; compression threads exit "
             "at the end of the migration, so their last sample may miss "
             "up to 0.1 s):\n")
    rows = []
    for (t, w), rs in throughput_groups(tp):
        for b in BUILDS:
            br = [r for r in rs if r["build"] == b]
            if br:
                rows.append([t, "off" if w else "on", b,
                             top_threads(br[-1], "src"),
                             top_threads(br[-1], "dst")])
    L += table(["threads", "wait", "build", "source threads",
                "destination threads"], rows)
    L.append("")
    return tp


def live_section(L, runs):
    """Live guests: convergence per dirty rate, max-bandwidth and
    wait-thread, and the highest rate at which every run converged."""
    lv = [r for r in runs if "dirty_rate_mib_s" in r]
    if not lv:
        return
    cap = lv[0]["cap_s"]
    L.append("## Live guest: convergence\n")
    L.append(f"Guest RAM {lv[0]['ram_mib']} MiB, 2 compress threads, "
             f"cap {cap:g} s (then migrate_cancel: not converged). "
             "`conv` = converged runs / runs.  Times, downtime and "
             "transferred are medians over the converged runs.\n")
    L.append("`compress cores` = CPU seconds of the source's compression "
             "threads / migration time (how much of the 2 CPUs the "
             "pipeline got); `mig thr s` = CPU of the migration "
             "thread; `vCPU cores` the same for the guest's vCPU thread; "
             "`guest wrote MiB/s` = what the workload really wrote "
             "during the migration (its heartbeats; it asks for `rate`)."
             "\n")
    rows = []
    for (rate, bw, w), rs in sorted(groupby(
            lv, lambda r: (r["dirty_rate_mib_s"],
                           r["max_bandwidth_mib_s"],
                           not r["wait_thread"])).items()):
        tr = pair_ratios(rs, lambda r: r["total_time_ms"]
                         if r["converged"] else None)
        for b in BUILDS:
            br = [r for r in rs if r["build"] == b]
            ok = [r for r in br if r["converged"]]
            rows.append([
                rate, bw or "unlimited", "off" if w else "on", b,
                f"{len(ok)}/{len(br)}",
                fmt(med([r["total_time_ms"] / 1000 for r in ok])),
                fmt(med([r["downtime_ms"] for r in ok])),
                fmt(med([(r["transferred_bytes"] or 0) / MiB
                         for r in br]), 0),
                fmt(med([r["iterations"] for r in br])),
                fmt(med([(r["compression"] or {}).get("busy_rate_overall")
                         for r in br]), 3),
                fmt(med([r["cpu_s"]["src"] for r in br]), 1),
                fmt(med([comp_cores(r) for r in br]), 2),
                fmt(med([comp_cores(r, "CPU 0/TCG") for r in br]), 2),
                fmt(med([(r.get("guest_dirtied") or {}).get("mib_s")
                         for r in br]), 1),
                fmt(med([r["thread_cpu_s"]["src"].get("live_migration")
                         for r in br]), 2),
                f"{fmt(med(tr), 3)} {tr}" if b == "patched" else ""])
    L += table(["rate MiB/s", "max-bw", "wait", "build", "conv",
                "total s", "downtime ms", "MiB sent", "iter",
                "busy rate", "src CPU s", "compress cores", "vCPU cores",
                "guest wrote MiB/s", "mig thr s", "time ratio p/s"],
               rows)
    L.append("")
    L.append("Highest dirty rate at which every run converged "
             "(wait-thread on):\n")
    rows = []
    for bw, rs in sorted(groupby([r for r in lv if r["wait_thread"]],
                                 lambda r: r["max_bandwidth_mib_s"]).items()):
        best = {}
        for b in BUILDS:
            ok = [rate for rate, g in groupby(
                [r for r in rs if r["build"] == b],
                lambda r: r["dirty_rate_mib_s"]).items()
                if all(r["converged"] for r in g)]
            best[b] = max(ok) if ok else None
        ratio = (fmt(best["patched"] / best["stock"], 2)
                 if best["patched"] and best["stock"] else "-")
        tested = sorted({r["dirty_rate_mib_s"] for r in rs})
        rows.append([bw or "unlimited", fmt(best["stock"]),
                     fmt(best["patched"]),
                     f"{ratio} (rates tested: {tested})"])
    L += table(["max-bw", "stock", "patched", "patched/stock"], rows)
    L.append("")


def guestperf_section(L, runs):
    """QEMU's own guestperf.py, one row per run."""
    gp = [r for r in runs if r.get("scenario") == "guestperf"]
    if not gp:
        return
    L.append("## guestperf.py --compression-mt (QEMU 7.2's own tool, "
             "TCG wrapper)\n")
    L.append(f"Guest: {gp[0].get('gp_args', '')}; stress.c dirties "
             "its RAM as fast as it can and logs how long each GiB took "
             "(guest ms/GiB: lower = the guest ran faster during the "
             "migration).  Status `cancelled` = not converged within "
             "--max-time; its figures are from the last progress "
             "record before the cancel.\n")
    rows = []
    for r in sorted(gp, key=lambda r: (r["rep"], BUILDS.index(r["build"]))):
        if r.get("error"):
            rows.append([r["build"], r["rep"],
                         f"error: {r['error'][:80]}"] + [""] * 5)
            continue
        rows.append([r["build"], r["rep"], r["status"],
                     r["total_time_ms"], r["downtime_ms"],
                     r["iterations"],
                     fmt((r["transferred_bytes"] or 0) / MiB, 0),
                     fmt(r.get("guest_ms_per_gib_median"), 0)])
    L += table(["build", "rep", "status", "total ms", "downtime ms",
                "iter", "MiB sent", "guest ms/GiB written (median)"],
               rows)
    L.append("")



# ---- CPU hogs ----------------------------------------------------------


def throughput_groups(tp):
    """The throughput runs by (threads, wait-thread off), in order."""
    return sorted(groupby(tp, lambda r: (r["threads"],
                                         not r["wait_thread"])).items())


def throughput_ratios(rs):
    """Per-pair patched/stock ratios of total time and of source and
    destination CPU per GiB."""
    return (pair_ratios(rs, lambda r: r["total_time_ms"]),
            pair_ratios(rs, lambda r: r["cpu_s_per_gib"]["src"]),
            pair_ratios(rs, lambda r: r["cpu_s_per_gib"]["dst"]))


def ratio_stats(xs):
    """(median, max) of a list of ratios, (None, None) if empty."""
    return (med(xs), max(xs)) if xs else (None, None)


def hogs_section(L, doc, tp):
    if not doc.get("hogs") or not tp:
        return
    L.append(f"## Throughput with {doc['hogs']} CPU hog(s): patched/stock "
             "pair ratios\n")
    L.append(f"{doc['hogs']} busy loops competed with both QEMUs for the "
             f"{doc['machine']['nproc']} CPUs during every run.  Each "
             "ratio is one A-B pair (same rep): patched (the default "
             "build, libdeflate) over stock; below 1 = patched faster or "
             "cheaper.\n")
    rows = []
    for (t, w), rs in throughput_groups(tp):
        tr, cs, cd = throughput_ratios(rs)
        rows.append([t, "off" if w else "on", len(tr), tr]
                    + [fmt(x, 3) for x in (*ratio_stats(tr),
                                           *ratio_stats(cs),
                                           *ratio_stats(cd))])
    L += table(["threads", "wait", "pairs", "time ratios", "median", "max",
                "src CPU median", "src CPU max", "dst CPU median",
                "dst CPU max"], rows)
    L.append("")


# ---- pinned ------------------------------------------------------------


def method_order(name):
    return M.NAMES.index(name) if name in M.NAMES else len(M.NAMES)


def mib(b):
    return None if b is None else b / MiB


def pinned_summary(runs):
    """{method: medians of the pinned runs} in methods order: n, seconds
    (total time), times (each rep's), mib_s_per_core (guest RAM MiB / s /
    source cores), cpu_src / cpu_dst (s per GiB), wire (bytes),
    transferred (bytes, QEMU's count), src_cores, ram_mib, build."""
    pr = [r for r in runs if r.get("scenario") == "pinned" and
          r.get("converged")]
    out = {}
    for name, rs in sorted(groupby(pr, lambda r: r["method"]).items(),
                           key=lambda kv: method_order(kv[0])):
        cores = len((rs[0].get("cpus") or {}).get("src") or [0])
        secs = med([r["total_time_ms"] / 1000 for r in rs])
        out[name] = {
            "n": len(rs), "build": rs[0]["build"],
            "ram_mib": rs[0]["ram_mib"], "src_cores": cores,
            "seconds": secs,
            "times": [r["total_time_ms"] / 1000 for r in rs],
            "mib_s_per_core": med([r["ram_mib"] /
                                   (r["total_time_ms"] / 1000) / cores
                                   for r in rs]),
            "cpu_src": med([r["cpu_s_per_gib"]["src"] for r in rs]),
            "cpu_dst": med([r["cpu_s_per_gib"]["dst"] for r in rs]),
            "wire": med([r.get("wire_bytes") for r in rs]),
            "transferred": med([r.get("transferred_bytes") for r in rs]),
            "qmp_in": med([r.get("qmp_bytes_in") for r in rs]),
        }
    return out


def break_even_text(be):
    """One cell: where the method beats raw (none)."""
    if be is None:
        return "-"
    w, link = be["wins"], be["link"]
    if w == "always":
        return "always (faster unlimited, sends no more)"
    if w == "never":
        return "never (slower unlimited, sends no less)"
    what = (f"{M.mib_s(link):.1f} MiB/s = {M.mbit_s(link):.0f} Mbit/s")
    return f"links below {what}" if w == "below" else \
        f"links above {what}"


def pinned_break_even(summ):
    """{method: break_even() against none}, from pinned_summary()."""
    raw = summ.get("none")
    out = {}
    for name, d in summ.items():
        if name == "none" or raw is None or None in (
                raw["seconds"], raw["wire"], d["seconds"], d["wire"]):
            out[name] = None
            continue
        out[name] = M.break_even(raw["seconds"], raw["wire"], d["seconds"],
                                 d["wire"])
    return out


def pinned_section(L, runs):
    summ = pinned_summary(runs)
    if not summ:
        return
    first = next(iter(summ.values()))
    pr = [r for r in runs if r.get("scenario") == "pinned"]
    cpus = pr[0].get("cpus") or {}
    threads = sorted({r["threads"] for r in pr if r.get("threads")})
    channels = sorted({r["multifd"]["channels"] for r in pr
                       if r.get("multifd")})
    threads = threads[0] if len(threads) == 1 else threads or "-"
    channels = channels[0] if len(channels) == 1 else channels or "-"
    L.append("## Pinned: one source core, one destination core\n")
    L.append(f"Paused {first['ram_mib']} MiB guest; source QEMU on CPU(s) "
             f"{cpus.get('src')}, destination on {cpus.get('dst')} (every "
             "QEMU thread inherits the affinity); compress-threads = "
             f"decompress-threads = {threads}, multifd "
             f"{channels} channels, "
             "level 1, max-bandwidth unlimited.  Medians over the reps "
             "(methods alternate in rounds).  MiB/s per source core = guest "
             "RAM MiB / total time / source cores.  CPU s/GiB: each QEMU "
             "process's CPU time per GiB of guest RAM.  Wire MiB: bytes the "
             "destination read from the migration socket(s) (LD_PRELOAD "
             "counter); QEMU MiB: query-migrate's transferred (RAM only; "
             "uncompressed pages for multifd-zlib/zstd).\n")
    L.append("Break-even: with T(L) = max(T unlimited, wire bytes / L) for "
             "each method, the link speed L below which the method beats "
             "`none` (raw): raw's wire bytes / the method's unlimited "
             "time.\n")
    bes = pinned_break_even(summ)
    L += table(["method", "build", "runs", "total s", "times",
                "MiB/s per src core", "src CPU s/GiB", "dst CPU s/GiB",
                "wire MiB", "QEMU MiB", "beats none on"],
               [[name, d["build"], d["n"], fmt(d["seconds"]),
                 [round(t, 2) for t in d["times"]],
                 fmt(d["mib_s_per_core"], 1), fmt(d["cpu_src"]),
                 fmt(d["cpu_dst"]), fmt(mib(d["wire"]), 1),
                 fmt(mib(d["transferred"]), 1),
                 "(raw)" if name == "none" else
                 break_even_text(bes.get(name))]
                for name, d in summ.items()])
    qmp = [d["qmp_in"] for d in summ.values() if d["qmp_in"] is not None]
    if qmp:
        L.append(f"\nQMP traffic into the destination (counted apart, not "
                 f"in wire MiB): median {med(qmp):.0f} bytes per run.")
    L.append("")


# ---- links -------------------------------------------------------------


def links_cells(runs):
    """{(guest, link): {method: cell}} of the links runs, cell = {"n",
    "conv" (converged runs), "seconds" (median total time of the converged
    runs), "lo", "hi" (their fastest and slowest), "ratio" (seconds / the
    fastest method's in the same guest and link), "wire" (median wire
    bytes of all), "transferred", "downtime", "cpu_src", "cpu_dst", "cap",
    "wire_mb_s" (wire bytes / total time, in 1e6 bytes/s), "guest_mib_s"
    (what the live guest wrote)}."""
    lr = [r for r in runs if r.get("scenario") == "links"]
    out = {}
    for (g, link, name), rs in groupby(
            lr, lambda r: (r["guest"], r["link_bytes_s"],
                           r["method"])).items():
        ok = [r for r in rs if r["converged"]]
        times = [r["total_time_ms"] / 1000 for r in ok]
        out.setdefault((g, link), {})[name] = {
            "n": len(rs), "conv": len(ok),
            "seconds": med(times),
            "lo": min(times) if times else None,
            "hi": max(times) if times else None,
            "wire": med([r.get("wire_bytes") for r in rs]),
            "transferred": med([r.get("transferred_bytes") for r in rs]),
            "downtime": med([r.get("downtime_ms") for r in ok]),
            "cpu_src": med([r["cpu_s"]["src"] for r in rs]),
            "cpu_dst": med([r["cpu_s"]["dst"] for r in rs]),
            "cap": rs[0]["cap_s"],
            "wire_mb_s": med([r["wire_bytes"] / 1e6 /
                              (r["total_time_ms"] / 1000) for r in rs
                              if r.get("wire_bytes") is not None and
                              r.get("total_time_ms")]),
            "guest_mib_s": med([(r.get("guest_dirtied") or {}).get("mib_s")
                                for r in rs]),
        }
    for cells in out.values():
        best = min((c["seconds"] for c in cells.values()
                    if c["seconds"] is not None), default=None)
        for c in cells.values():
            c["ratio"] = (c["seconds"] / best if best and
                          c["seconds"] is not None else None)
    return out


def links_keys(cells):
    """(guest, link) keys in report order: paused then live, unlimited
    then fastest to slowest."""
    return sorted(cells, key=lambda k: (k[0] != "paused",
                                        M.link_order(k[1])))


def shaped_by_tbf(lr):
    """Whether the links runs had tbf links between namespaces (else,
    results from before: QEMU's max-bandwidth was the link)."""
    return any("shaping" in r for r in lr)


def spread(c):
    if c["lo"] is None:
        return "-"
    return f"{c['lo']:.2f}-{c['hi']:.2f}"


def links_shaping_text(L, lr):
    """How the links were made: tbf between namespaces (a table of each
    link's tbf parameters and what a TCP stream reached on it), or, in
    results from before, QEMU's max-bandwidth."""
    if not shaped_by_tbf(lr):
        L.append("The link is QEMU's max-bandwidth (results from before "
                 "the links were shaped: 0 = unlimited, QEMU 7.2's "
                 "qemu_file_rate_limit() limits only when the limit is > "
                 "0), over a unix socket.  In QEMU 7.2 max-bandwidth "
                 "counts what the compress threads produce (compressed "
                 "bytes) for stock-zlib and patched-*, but uncompressed "
                 "pages for multifd-zlib and multifd-zstd "
                 "(multifd_send_pages() accounts pages x page size + the "
                 "packet header), so a cap throttles multifd-zlib/zstd on "
                 "raw size: compare their wire MiB with the link's rate "
                 "times the time.\n")
        return
    L.append("The link: the source QEMU runs in one network namespace, "
             "the destination in another, and they migrate over TCP on the "
             "veth pair between them, shaped with tbf on the egress of "
             "both ends (`tc qdisc replace dev VETH root tbf rate R burst "
             "B latency L`: both directions, as on a real link); "
             "unlimited = no qdisc, the veth's own speed.  QEMU's "
             "max-bandwidth is 0 (no limit in 7.2) for every method.  tbf "
             "counts whole Ethernet frames, so a TCP stream's payload "
             "gets about 95.6% of the rate (1448 of 1514 bytes a full "
             "frame; a real Ethernet link, with preamble and gap, about "
             "94%).  `TCP reached`: one TCP stream between the namespaces "
             "(Python, before the QEMUs started), what the link gives "
             "at most on this machine.\n")
    rows = []
    for link, rs in sorted(groupby(lr, lambda r: r["link_bytes_s"]).items(),
                           key=lambda kv: M.link_order(kv[0])):
        tbf = rs[0].get("tbf") or {}
        got = med([r.get("link_measured_bytes_s") for r in rs])
        rows.append([M.link_label(link),
                     fmt(tbf.get("burst_bytes")),
                     fmt(tbf.get("latency_ms")) + (" ms" if tbf else ""),
                     "-" if got is None else f"{got / 1e6:.1f} MB/s"
                     + (f" ({got / link:.3f} of the rate)" if link else "")])
    L += table(["link", "tbf burst bytes", "tbf latency", "TCP reached"],
               rows)
    L.append("")


def links_section(L, runs):
    cells = links_cells(runs)
    if not cells:
        return
    lr = [r for r in runs if r.get("scenario") == "links"]
    live = [r for r in lr if r["guest"] == "live"]
    reps = max(c["n"] for cs in cells.values() for c in cs.values())
    L.append("## Links: every method at a few link speeds\n")
    L.append(f"Guest RAM {lr[0]['ram_mib']} MiB, unpinned (both QEMUs share "
             f"the machine's CPUs), 2 compress threads (= decompress "
             "threads) or 2 multifd channels, level 1, up to "
             f"{reps} rep(s).  "
             + (f"Live: the workload dirties {live[0]['live_rate_mib_s']} "
                f"MiB/s; cap {live[0]['cap_s']:g} s, then migrate_cancel "
                "(not converged).  " if live else "")
             + "`total s`: the median of the converged runs, `min-max` "
             "their spread, `x fastest` the median over the fastest "
             "method's at that link; downtime of the converged runs, wire "
             "MiB (what the destination read from the migration sockets) "
             "of all runs.\n")
    links_shaping_text(L, lr)
    L.append("`wire MB/s` = wire bytes / total time / 1e6 (compare with "
             "the link); `guest wrote MiB/s` = what the live workload really "
             "wrote during the migration (`-`: a migration shorter than its "
             "1 s heartbeats).\n")
    rows = []
    for key in links_keys(cells):
        g, link = key
        for name, c in sorted(cells[key].items(),
                              key=lambda kv: method_order(kv[0])):
            rows.append([g, M.link_label(link), name,
                         f"{c['conv']}/{c['n']}", fmt(c["seconds"]),
                         spread(c), fmt(c["ratio"]),
                         fmt(mib(c["wire"]), 1), fmt(c["wire_mb_s"], 1),
                         fmt(mib(c["transferred"]), 1), fmt(c["downtime"], 0),
                         fmt(c["cpu_src"], 1), fmt(c["cpu_dst"], 1),
                         fmt(c["guest_mib_s"], 1) if g == "live" else ""])
    L += table(["guest", "link", "method", "conv", "total s", "min-max s",
                "x fastest", "wire MiB", "wire MB/s", "QEMU MiB",
                "downtime ms", "src CPU s", "dst CPU s",
                "guest wrote MiB/s"], rows)
    L.append("")


# ---- recommendations ---------------------------------------------------

FLAG_ABOVE = 1.05     # a patched compress method this much slower: flagged


def pick(times):
    """{"best", "runner_up", "libvirt", "patched"} of {method: median
    seconds or None}: the fastest and second fastest (method, seconds),
    the fastest a Debian 12 libvirt user can select (methods.Method.
    libvirt), and {patched compress method: its seconds / that one's}."""
    rk = M.ranking({n: t for n, t in sorted(
        times.items(), key=lambda kv: method_order(kv[0]))})
    lv = [(n, t) for n, t in rk if n in M.BY_NAME and M.BY_NAME[n].libvirt]
    out = {"best": rk[0] if rk else None,
           "runner_up": rk[1] if len(rk) > 1 else None,
           "libvirt": lv[0] if lv else None, "patched": {}}
    for n, t in times.items():
        if n in M.BY_NAME and M.BY_NAME[n].patched:
            out["patched"][n] = (t / lv[0][1] if lv and t is not None
                                 else None)
    return out


def recommendations(runs):
    """Rows of "with N cores and a link of X, use Y", from the measured
    runs only: dicts with cores, guest, link and pick()'s keys.  N = 2:
    the links runs (medians of the converged runs); "1 + 1": the pinned
    runs (unlimited, a unix socket)."""
    rows = []
    cells = links_cells(runs)
    for key in links_keys(cells):
        g, link = key
        rows.append(dict(cores="2", guest=g, link=link, **pick(
            {n: c["seconds"] for n, c in cells[key].items()})))
    summ = pinned_summary(runs)
    if summ:
        rows.append(dict(cores="1 + 1 (pinned)", guest="paused", link=0,
                         **pick({n: d["seconds"]
                                 for n, d in summ.items()})))
    return rows


def pick_text(p):
    return "-" if p is None else f"{p[0]} ({p[1]:.2f} s)"


def ratio_text(x):
    """A patched/libvirt ratio, bold above FLAG_ABOVE."""
    if x is None:
        return "-"
    return f"**{x:.2f}**" if x > FLAG_ABOVE else f"{x:.2f}"


def recommend_section(L, runs):
    rows = recommendations(runs)
    if not rows:
        return
    patched = [n for n in M.NAMES
               if any(n in r["patched"] for r in rows)]
    lr = [r for r in runs if r.get("scenario") == "links"]
    L.append("## Which method to use\n")
    L.append("With N cores and a link of X, use Y: the method with the "
             "lowest median total time, measured (converged runs only).  "
             "N = 2: both QEMUs share the 2 CPUs (the links runs"
             + (", each link a tbf-shaped veth between two network "
                "namespaces" if shaped_by_tbf(lr) else
                ", each link QEMU's max-bandwidth, which in 7.2 throttles "
                "multifd-zlib/zstd on their uncompressed size"
                if lr else "")
             + ").  1 + 1: one source core and one destination core (the "
             "pinned runs, unlimited).  `libvirt`: the fastest method a "
             "Debian 12 libvirt user can select (raw precopy `none`, "
             "`multifd` without compression = virsh migrate --parallel, "
             "and the compress methods = --compressed --comp-methods mt); "
             "`M / libvirt`: the patched compress method M's median time "
             "over that one's, **bold** above "
             f"{FLAG_ABOVE:g} (more than {FLAG_ABOVE * 100 - 100:.0f}% "
             "slower than the user's best choice; 1.00 when it is that "
             "choice).\n")
    L += table(["cores", "guest", "link", "use", "runner-up", "libvirt"]
               + [f"{n} / libvirt" for n in patched],
               [[r["cores"], r["guest"], M.link_label(r["link"]),
                 pick_text(r["best"]), pick_text(r["runner_up"]),
                 pick_text(r["libvirt"])]
                + [ratio_text(r["patched"].get(n)) for n in patched]
                for r in rows])
    L.append("")
