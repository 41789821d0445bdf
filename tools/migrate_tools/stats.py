"""Small statistics over benchmark runs: medians, patched/stock ratios
per pair, grouping, CPU seconds by thread group."""

import statistics

from . import MiB


def med(xs):
    """The median of the values that are not None; None if there are none."""
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def pair_ratios(runs, key):
    """Per-rep patched/stock ratios of key(run) for runs of one config."""
    by = {}
    for r in runs:
        by.setdefault(r["rep"], {})[r["build"]] = r
    out = []
    for rep in sorted(by):
        p, s = by[rep].get("patched"), by[rep].get("stock")
        if p and s:
            kp, ks = key(p), key(s)
            if kp is not None and ks:
                out.append(round(kp / ks, 3))
    return out


def groupby(runs, keyf):
    """{key: [runs]} in the order the runs come."""
    g = {}
    for r in runs:
        g.setdefault(keyf(r), []).append(r)
    return g


def top_groups(groups, ndigits, minimum):
    """{group: seconds} rounded, largest first, without those under
    minimum."""
    return {k: round(v, ndigits) for k, v in
            sorted(groups.items(), key=lambda kv: -kv[1]) if v >= minimum}


def guest_dirtied(hb0, hb1):
    """What the guest wrote between two (seen, heartbeat) pairs, or None if
    they are not one after the other (heartbeats are 1 s apart: +-1 s at
    each end)."""
    if not (hb0 and hb1 and hb1[0] > hb0[0] and hb1[1]["t"] > hb0[1]["t"]):
        return None
    g = {"written_pages": hb1[1]["written"] - hb0[1]["written"],
         "seconds": hb1[1]["t"] - hb0[1]["t"]}
    g["mib_s"] = round(g["written_pages"] * 4096 / MiB / g["seconds"], 1)
    return g


BUILDS = ("patched", "stock")
