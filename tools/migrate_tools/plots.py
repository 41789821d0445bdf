"""The benchmark's plots (PNG, matplotlib's Agg backend): throughput and
CPU per GiB of the paused guest, total time of the live runs, total time
per method on each link (links), time, CPU and wire bytes per
method (pinned).

matplotlib is imported only to draw, in an interpreter that has it: this
one, or Debian's /usr/bin/python3 with python3-matplotlib, where draw runs
as `python3 -m migrate_tools.plots OUT`."""

import json
import os
import shutil
import subprocess
import sys

from . import MiB, packages
from . import methods as M
from .stats import med
from .ui import warn

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STYLES = (("patched", "o-"), ("stock", "s--"))
LIVE_STYLES = (("patched", "o", "C0"), ("stock", "s", "C1"))


def throughput_data(runs):
    """None without throughput runs, else what the throughput and CPU per
    GiB plots show: {"ram_mib", "threads": all thread counts, "builds":
    {build: {"threads", "mib_s" (medians), "points" (each run's MiB/s, per
    thread count), "cpu_src", "cpu_dst" (medians of CPU s per GiB)}}}."""
    tp = [r for r in runs if r.get("scenario") == "throughput"]
    if not tp:
        return None
    builds = {}
    for b, _ in STYLES:
        ts = sorted({r["threads"] for r in tp if r["build"] == b})
        of = {t: [r for r in tp if r["build"] == b and r["threads"] == t]
              for t in ts}
        builds[b] = {
            "threads": ts,
            "mib_s": [med([r["mib_s"] for r in of[t]]) for t in ts],
            "points": {t: [r["mib_s"] for r in of[t]] for t in ts},
            "cpu_src": [med([r["cpu_s_per_gib"]["src"] for r in of[t]])
                        for t in ts],
            "cpu_dst": [med([r["cpu_s_per_gib"]["dst"] for r in of[t]])
                        for t in ts]}
    return {"ram_mib": tp[0]["ram_mib"],
            "threads": sorted({r["threads"] for r in tp}),
            "builds": builds}


def live_data(runs):
    """None without live runs (wait-thread on), else one entry per
    max-bandwidth, in order: (bandwidth, {build: {"rates", "seconds"
    (median total time of the converged runs, rates where some converged),
    "failed_rates", "failed_caps" (the runs that did not converge)}})."""
    lv = [r for r in runs if "dirty_rate_mib_s" in r and r["wait_thread"]]
    if not lv:
        return None
    out = []
    for bw in sorted({r["max_bandwidth_mib_s"] for r in lv}):
        per = {}
        for b, _, _ in LIVE_STYLES:
            rs = [r for r in lv if r["build"] == b and
                  r["max_bandwidth_mib_s"] == bw]
            xs, ys = [], []
            for rate in sorted({r["dirty_rate_mib_s"] for r in rs}):
                ok = [r["total_time_ms"] / 1000 for r in rs
                      if r["dirty_rate_mib_s"] == rate and r["converged"]]
                if ok:
                    xs.append(rate)
                    ys.append(med(ok))
            per[b] = {"rates": xs, "seconds": ys,
                      "failed_rates": [r["dirty_rate_mib_s"] for r in rs
                                       if not r["converged"]],
                      "failed_caps": [r["cap_s"] for r in rs
                                      if not r["converged"]]}
        out.append((bw, per))
    return out


def links_data(runs):
    """None without links runs, else what the links plot shows: {"guests":
    [guest, paused first], "links": [link bytes/s, unlimited then fastest
    to slowest], "cells": {(guest, link): {"methods", "seconds" (median
    total time of the converged runs, None if none), "lo", "hi" (their
    fastest and slowest), "failed" (runs not converged), "caps" (their
    cap, where a not converged method is drawn)}}} (methods in methods
    order)."""
    lr = [r for r in runs if r.get("scenario") == "links"]
    if not lr:
        return None
    guests = [g for g in ("paused", "live") if any(r["guest"] == g
                                                   for r in lr)]
    links = sorted({r["link_bytes_s"] for r in lr}, key=M.link_order)
    cells = {}
    for g in guests:
        for link in links:
            rs = [r for r in lr if r["guest"] == g and
                  r["link_bytes_s"] == link]
            names = [n for n in M.NAMES if any(r["method"] == n for r in rs)]
            d = {"methods": names, "seconds": [], "lo": [], "hi": [],
                 "failed": [], "caps": []}
            for n in names:
                of = [r for r in rs if r["method"] == n]
                ok = [r["total_time_ms"] / 1000 for r in of if r["converged"]]
                d["seconds"].append(med(ok))
                d["lo"].append(min(ok) if ok else None)
                d["hi"].append(max(ok) if ok else None)
                d["failed"].append(len(of) - len(ok))
                d["caps"].append(of[0]["cap_s"])
            cells[(g, link)] = d
    return {"guests": guests, "links": links, "cells": cells}


def pinned_data(runs):
    """None without pinned runs, else {"methods", "seconds", "cpu_src",
    "cpu_dst", "wire_mib"} (medians of the converged runs, methods
    order)."""
    pr = [r for r in runs if r.get("scenario") == "pinned" and
          r.get("converged")]
    if not pr:
        return None
    names = [n for n in M.NAMES if any(r["method"] == n for r in pr)]
    of = {n: [r for r in pr if r["method"] == n] for n in names}
    return {"methods": names,
            "seconds": [med([r["total_time_ms"] / 1000 for r in of[n]])
                        for n in names],
            "cpu_src": [med([r["cpu_s_per_gib"]["src"] for r in of[n]])
                        for n in names],
            "cpu_dst": [med([r["cpu_s_per_gib"]["dst"] for r in of[n]])
                        for n in names],
            "wire_mib": [med([r["wire_bytes"] / MiB for r in of[n]
                              if r.get("wire_bytes") is not None])
                         for n in names]}


METHOD_STYLES = {"none": ("k", "o", "-"), "stock-zlib": ("C1", "s", "--"),
                 "patched-zlib": ("C2", "^", "-"),
                 "patched-libdeflate": ("C0", "D", "-"),
                 "patched-isal": ("C9", "P", "-"),
                 "patched-isal-2": ("C8", "X", "-"),
                 "patched-isal-nowait": ("C6", "*", "-."),
                 "multifd": ("C7", "v", ":"), "multifd-zlib": ("C4", "<", ":"),
                 "multifd-zstd": ("C3", ">", ":")}


def bandwidth_title(bw):
    return "max-bandwidth " + ("unlimited" if bw == 0 else f"{bw:g} MiB/s")


def draw(out, runs):
    """Writes the plots into out; returns their file names."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    made = []
    tp = throughput_data(runs)
    if tp:
        fig, ax = plt.subplots(figsize=(6, 4))
        for b, m in STYLES:
            d = tp["builds"][b]
            ax.plot(d["threads"], d["mib_s"], m, label=b)
            for t in d["threads"]:
                pts = d["points"][t]
                ax.plot([t] * len(pts), pts, ".", color="grey", alpha=0.5)
        ax.set_xlabel("compress threads (= decompress threads)")
        ax.set_ylabel("MiB/s of guest RAM (median)")
        ax.set_title(f"Paused {tp['ram_mib']} MiB guest, compress level 1")
        ax.set_xticks(tp["threads"])
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(out, "throughput.png"), dpi=100)
        made.append("throughput.png")
        fig, axs = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
        for ax, side in zip(axs, ("src", "dst")):
            for b, m in STYLES:
                d = tp["builds"][b]
                ax.plot(d["threads"], d[f"cpu_{side}"], m, label=b)
            ax.set_title({"src": "source", "dst": "destination"}[side] +
                         " QEMU")
            ax.set_xlabel("compress threads")
            ax.set_xticks(tp["threads"])
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
            ax.legend()
        axs[0].set_ylabel("CPU seconds per GiB of guest RAM")
        fig.tight_layout()
        fig.savefig(os.path.join(out, "cpu-per-gib.png"), dpi=100)
        made.append("cpu-per-gib.png")
    lv = live_data(runs)
    if lv:
        fig, axs = plt.subplots(1, len(lv), figsize=(6 * len(lv), 4),
                                squeeze=False)
        for ax, (bw, per) in zip(axs[0], lv):
            for b, m, c in LIVE_STYLES:
                d = per[b]
                ax.plot(d["rates"], d["seconds"], m + "-", color=c,
                        label=f"{b} (converged)")
                ax.plot(d["failed_rates"], d["failed_caps"], "x", color=c,
                        markersize=10, label=f"{b}: not converged (at cap)")
            ax.set_xlabel("guest dirty rate (MiB/s)")
            ax.set_ylabel("total time (s)")
            ax.set_title(bandwidth_title(bw))
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "live-total-time.png"), dpi=100)
        made.append("live-total-time.png")
    ld = links_data(runs)
    if ld:
        ng, nl = len(ld["guests"]), len(ld["links"])
        fig, axs = plt.subplots(ng, nl, figsize=(3.6 * nl, 3.4 * ng),
                                squeeze=False)
        for i, g in enumerate(ld["guests"]):
            for j, link in enumerate(ld["links"]):
                ax = axs[i][j]
                d = ld["cells"][(g, link)]
                xs = list(range(len(d["methods"])))
                for x, n, t, lo, hi, bad, cap in zip(
                        xs, d["methods"], d["seconds"], d["lo"], d["hi"],
                        d["failed"], d["caps"]):
                    col = METHOD_STYLES.get(n, ("grey",))[0]
                    if t is not None:
                        ax.bar(x, t, color=col, alpha=0.8)
                        ax.errorbar(x, t, yerr=[[t - lo], [hi - t]],
                                    color="k", capsize=3, linewidth=1)
                    if bad:
                        ax.plot(x, cap, "x", color=col, markersize=9)
                ax.set_xticks(xs)
                ax.set_xticklabels(d["methods"], rotation=45, ha="right",
                                   fontsize=7)
                ax.set_title(f"{g}, {M.link_label(link)}", fontsize=8)
                ax.set_ylim(bottom=0)
                ax.grid(alpha=0.3, axis="y")
            axs[i][0].set_ylabel("total time (s)")
        fig.suptitle("Links: median total time, bars min-max over reps "
                     "(x: not converged, at the cap)", fontsize=9)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "links-total-time.png"), dpi=100)
        made.append("links-total-time.png")
    pd = pinned_data(runs)
    if pd:
        fig, axs = plt.subplots(1, 3, figsize=(13, 4))
        xs = list(range(len(pd["methods"])))
        cols = [METHOD_STYLES.get(n, ("grey",))[0] for n in pd["methods"]]
        axs[0].bar(xs, pd["seconds"], color=cols)
        axs[0].set_ylabel("total time (s)")
        w = 0.4
        axs[1].bar([x - w / 2 for x in xs], pd["cpu_src"], w, label="source")
        axs[1].bar([x + w / 2 for x in xs], pd["cpu_dst"], w,
                   label="destination")
        axs[1].set_ylabel("CPU s per GiB of guest RAM")
        axs[1].legend(fontsize=8)
        axs[2].bar(xs, pd["wire_mib"], color=cols)
        axs[2].set_ylabel("MiB on the wire")
        for ax in axs:
            ax.set_xticks(xs)
            ax.set_xticklabels(pd["methods"], rotation=30, ha="right",
                               fontsize=8)
            ax.grid(alpha=0.3, axis="y")
        fig.suptitle("Pinned: source on 1 CPU, destination on another, "
                     "paused guest, unlimited bandwidth")
        fig.tight_layout()
        fig.savefig(os.path.join(out, "pinned.png"), dpi=100)
        made.append("pinned.png")
    return made


def has_matplotlib(python):
    return os.path.exists(python) and subprocess.run(
        [python, "-c", "import matplotlib"], capture_output=True
    ).returncode == 0


def make_plots(out):
    """Draws the plots of out/all.json with an interpreter that has
    matplotlib (this one, or Debian's /usr/bin/python3 with
    python3-matplotlib, installed by build-aux/install-deps plots when we are
    root); returns their file names, [] if none could be drawn."""
    py = next((c for c in (sys.executable, "/usr/bin/python3")
               if has_matplotlib(c)), None)
    if py is None:
        if os.geteuid() == 0 and shutil.which("apt-get"):
            packages.ensure("plots")
            py = "/usr/bin/python3"
        else:
            warn("no matplotlib: plots skipped; install Debian's "
                 "python3-matplotlib as root (build-aux/install-deps plots), "
                 f"then run scripts/bench-migration --replot {out}")
            return []
    path = os.environ.get("PYTHONPATH")
    env = dict(os.environ, PYTHONPATH=TOOLS + (os.pathsep + path
                                               if path else ""))
    r = subprocess.run([py, "-m", "migrate_tools.plots", out], env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        warn(f"plotting failed: {r.stderr[-1500:]}")
        return []
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv):
    out = argv[0]
    with open(os.path.join(out, "all.json")) as f:
        doc = json.load(f)
    print(json.dumps(draw(out, doc["runs"])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
