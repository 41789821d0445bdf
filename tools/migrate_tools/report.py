"""The benchmark's report: results.md from all.json's document (machine,
configuration, runs)."""

from . import MiB
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
    L.append(f"- patched: `{doc['qemu']['patched']}`\n- stock: "
             f"`{doc['qemu']['stock']}`\n")
    L.append("Ratios are patched/stock per A-B pair (same rep); below 1 "
             "means the patched build took less time or CPU.\n")
    tp = [r for r in runs if r.get("scenario") in ("throughput", "wait")
          and "threads" in r and r.get("max_bandwidth_mib_s") == 0
          and r.get("cap_s") == 600]
    if tp:
        L.append("## Paused guest: compression pipeline throughput\n")
        L.append(f"Guest RAM {tp[0]['ram_mib']} MiB, paused; medians over "
                 "reps.  CPU s/GiB is the QEMU process's CPU time during the "
                 "migration per GiB of guest RAM; cores used is both QEMUs' "
                 f"CPU time over the wall time (of {mi['nproc']} CPUs): below "
                 "that, the pipeline waits rather than computes.\n")
        L.append("| threads | wait | build | total s | MiB/s | src CPU s/GiB "
                 "| dst CPU s/GiB | cores used | busy | time ratio p/s "
                 "| src CPU ratio | dst CPU ratio |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for (t, w), rs in sorted(groupby(tp, lambda r: (r["threads"],
                                                         not r["wait_thread"])).items()):
            tr = pair_ratios(rs, lambda r: r["total_time_ms"])
            cs = pair_ratios(rs, lambda r: r["cpu_s_per_gib"]["src"])
            cd = pair_ratios(rs, lambda r: r["cpu_s_per_gib"]["dst"])
            for b in BUILDS:
                br = [r for r in rs if r["build"] == b]
                if not br:
                    continue
                L.append(
                    f"| {t} | {'off' if w else 'on'} | {b} | "
                    f"{fmt(med([r['total_time_ms'] / 1000 for r in br]))} | "
                    f"{fmt(med([r['mib_s'] for r in br]), 1)} | "
                    f"{fmt(med([r['cpu_s_per_gib']['src'] for r in br]))} | "
                    f"{fmt(med([r['cpu_s_per_gib']['dst'] for r in br]))} | "
                    f"{fmt(med([cores_used(r) for r in br]))} | "
                    f"{fmt(med([(r['compression'] or {}).get('busy') for r in br]))} | "
                    + (f"{fmt(med(tr), 3)} {tr} | {fmt(med(cs), 3)} | "
                       f"{fmt(med(cd), 3)} |" if b == "patched" else
                       "| | |"))
        L.append("")
        L.append("Per-thread CPU seconds (last rep; compression threads exit "
                 "at the end of the migration, so their last sample may miss "
                 "up to 0.1 s):\n")
        L.append("| threads | wait | build | source threads | destination "
                 "threads |")
        L.append("|---|---|---|---|---|")
        for (t, w), rs in sorted(groupby(tp, lambda r: (r["threads"],
                                                         not r["wait_thread"])).items()):
            for b in BUILDS:
                br = [r for r in rs if r["build"] == b]
                if br:
                    L.append(f"| {t} | {'off' if w else 'on'} | {b} | "
                             f"{top_threads(br[-1], 'src')} | "
                             f"{top_threads(br[-1], 'dst')} |")
        L.append("")
    lv = [r for r in runs if "dirty_rate_mib_s" in r]
    if lv:
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
        L.append("| rate MiB/s | max-bw | wait | build | conv | total s | "
                 "downtime ms | MiB sent | iter | busy rate | src CPU s | "
                 "compress cores | vCPU cores | guest wrote MiB/s | "
                 "mig thr s | time ratio p/s |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for (rate, bw, w), rs in sorted(groupby(
                lv, lambda r: (r["dirty_rate_mib_s"],
                               r["max_bandwidth_mib_s"],
                               not r["wait_thread"])).items()):
            tr = pair_ratios(rs, lambda r: r["total_time_ms"]
                             if r["converged"] else None)
            for b in BUILDS:
                br = [r for r in rs if r["build"] == b]
                ok = [r for r in br if r["converged"]]
                L.append(
                    f"| {rate} | {bw or 'unlimited'} | {'off' if w else 'on'}"
                    f" | {b} | {len(ok)}/{len(br)} | "
                    f"{fmt(med([r['total_time_ms'] / 1000 for r in ok]))} | "
                    f"{fmt(med([r['downtime_ms'] for r in ok]))} | "
                    f"{fmt(med([(r['transferred_bytes'] or 0) / MiB for r in br]), 0)} | "
                    f"{fmt(med([r['iterations'] for r in br]))} | "
                    f"{fmt(med([(r['compression'] or {}).get('busy_rate_overall') for r in br]), 3)} | "
                    f"{fmt(med([r['cpu_s']['src'] for r in br]), 1)} | "
                    f"{fmt(med([comp_cores(r) for r in br]), 2)} | "
                    f"{fmt(med([comp_cores(r, 'CPU 0/TCG') for r in br]), 2)} | "
                    f"{fmt(med([(r.get('guest_dirtied') or {}).get('mib_s') for r in br]), 1)} | "
                    f"{fmt(med([r['thread_cpu_s']['src'].get('live_migration') for r in br]), 2)} | "
                    + (f"{fmt(med(tr), 3)} {tr} |" if b == "patched"
                       else " |"))
        L.append("")
        L.append("Highest dirty rate at which every run converged "
                 "(wait-thread on):\n")
        L.append("| max-bw | stock | patched | patched/stock |")
        L.append("|---|---|---|---|")
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
            L.append(f"| {bw or 'unlimited'} | {fmt(best['stock'])} | "
                     f"{fmt(best['patched'])} | {ratio} (rates tested: "
                     f"{tested}) |")
        L.append("")
    gp = [r for r in runs if r.get("scenario") == "guestperf"]
    if gp:
        L.append("## guestperf.py --compression-mt (QEMU 7.2's own tool, "
                 "TCG wrapper)\n")
        L.append(f"Guest: {gp[0].get('gp_args', '')}; stress.c dirties "
                 "its RAM as fast as it can and logs how long each GiB took "
                 "(guest ms/GiB: lower = the guest ran faster during the "
                 "migration).  Status `cancelled` = not converged within "
                 "--max-time; its figures are from the last progress "
                 "record before the cancel.\n")
        L.append("| build | rep | status | total ms | downtime ms | iter | "
                 "MiB sent | guest ms/GiB written (median) |")
        L.append("|---|---|---|---|---|---|---|---|")
        for r in sorted(gp, key=lambda r: (r["rep"], BUILDS.index(r["build"]))):
            if r.get("error"):
                L.append(f"| {r['build']} | {r['rep']} | error: "
                         f"{r['error'][:80]} | | | | | |")
                continue
            L.append(f"| {r['build']} | {r['rep']} | {r['status']} | "
                     f"{r['total_time_ms']} | {r['downtime_ms']} | "
                     f"{r['iterations']} | "
                     f"{fmt((r['transferred_bytes'] or 0) / MiB, 0)} | "
                     f"{fmt(r.get('guest_ms_per_gib_median'), 0)} |")
        L.append("")
    if doc.get("plots"):
        L.append("## Plots\n")
        for p in doc["plots"]:
            L.append(f"![{p}]({p})")
        L.append("")
    return "\n".join(L)
