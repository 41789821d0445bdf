"""The benchmark's plots (PNG, matplotlib's Agg backend): throughput and
CPU per GiB of the paused guest, total time of the live runs, total time
per method against link speed (links), time, CPU and wire bytes per
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
    {guest: {method: {"x", "seconds" (median total time of the converged
    runs, at x), "failed_x", "failed_caps"}}}, "ticks": [(x, label)],
    "unlimited_x", "unlimited_note"}.  x is the link speed in MB/s (1e6
    bytes/s); unlimited is drawn at the right end: at the rate the raw
    method (none, paused) really reached unlimited (wire bytes / time),
    unless that is not 2x beyond the fastest finite link."""
    lr = [r for r in runs if r.get("scenario") == "links"]
    if not lr:
        return None
    finite = sorted({r["link_bytes_s"] for r in lr if r["link_bytes_s"]})
    top = finite[-1] / 1e6 if finite else 100.0
    raw = [r["wire_bytes"] / (r["total_time_ms"] / 1000) / 1e6 for r in lr
           if r["method"] == "none" and not r["link_bytes_s"] and
           r["guest"] == "paused" and r["converged"] and r.get("wire_bytes")]
    if raw and med(raw) >= 2 * top:
        ux = med(raw)
        note = f"unlimited (none reached {ux:.0f} MB/s)"
    else:
        ux = 4 * top
        note = "unlimited"
    guests = {}
    for g in ("paused", "live"):
        rg = [r for r in lr if r["guest"] == g]
        if not rg:
            continue
        per = {}
        for name in M.NAMES:
            rs = [r for r in rg if r["method"] == name]
            if not rs:
                continue
            xs, ys = [], []
            for link in sorted({r["link_bytes_s"] for r in rs},
                               key=lambda x: x or float("inf")):
                ok = [r["total_time_ms"] / 1000 for r in rs
                      if r["link_bytes_s"] == link and r["converged"]]
                if ok:
                    xs.append(link / 1e6 if link else ux)
                    ys.append(med(ok))
            bad = [r for r in rs if not r["converged"]]
            per[name] = {"x": xs, "seconds": ys,
                         "failed_x": [r["link_bytes_s"] / 1e6
                                      if r["link_bytes_s"] else ux
                                      for r in bad],
                         "failed_caps": [r["cap_s"] for r in bad]}
        guests[g] = per
    ticks = [(x / 1e6, f"{x / 1e6:g} MB/s\n{x * 8 / 1e6:g} Mbit/s")
             for x in finite] + [(ux, note.replace(" (", "\n("))]
    return {"guests": guests, "ticks": ticks, "unlimited_x": ux,
            "unlimited_note": note}


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
        gs = list(ld["guests"])
        fig, axs = plt.subplots(1, len(gs), figsize=(6.5 * len(gs), 4.5),
                                squeeze=False)
        for ax, g in zip(axs[0], gs):
            for name, d in ld["guests"][g].items():
                col, mk, ls = METHOD_STYLES.get(name, ("grey", ".", "-"))
                ax.plot(d["x"], d["seconds"], marker=mk, linestyle=ls,
                        color=col, label=name)
                if d["failed_x"]:
                    ax.plot(d["failed_x"], d["failed_caps"], "x", color=col,
                            markersize=10)
            ax.set_xscale("log")
            ax.set_xticks([x for x, _ in ld["ticks"]])
            ax.set_xticklabels([t for _, t in ld["ticks"]], fontsize=7)
            ax.minorticks_off()
            ax.set_xlabel("link (QEMU max-bandwidth)")
            ax.set_ylabel("total time (s)")
            ax.set_title(f"{g} guest" + ("  (x: not converged, at cap)"
                                          if g == "live" else ""))
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
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
