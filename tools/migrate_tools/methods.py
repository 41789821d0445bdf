"""Migration methods (a QEMU build and migration settings) compared by the
pinned and links scenarios of scripts/bench-migration, named sets of
them, link speeds, and the break-even link speed of a compressed method
against raw (pinned).  Pure functions, no QEMU.

Link speeds are in bytes/s (125e6 = 125 MB/s = 1 Gbit/s); 0 = unlimited."""

from dataclasses import dataclass

from . import MiB
from .migration import Compress, Multifd


@dataclass(frozen=True)
class Method:
    name: str
    build: str          # key of Bench.bins and BUILD_ARGS
    kind: str           # "raw", "compress" or "multifd"
    multifd_compression: str = "none"
    level: int = 1      # compress-level or multifd-zlib/zstd-level
    wait_thread: bool = True    # compress-wait-thread

    @property
    def libvirt(self):
        """Whether Debian 12's libvirt (9.0) can ask QEMU for it: plain
        precopy, the compress capability (virsh migrate --compressed
        --comp-methods mt) and multifd without compression (--parallel);
        multifd's zlib and zstd came to libvirt later, and it leaves
        compress-wait-thread at QEMU's default, on."""
        return self.kind == "raw" or (
            self.kind == "compress" and self.wait_thread) or (
            self.kind == "multifd" and self.multifd_compression == "none")

    @property
    def patched(self):
        """A compress method on a build with the series."""
        return self.kind == "compress" and self.build.startswith("patched")


METHODS = (
    Method("none", "stock", "raw"),
    Method("stock-zlib", "stock", "compress"),
    Method("patched-zlib", "patched-zlib", "compress"),
    Method("patched-libdeflate", "patched-libdeflate", "compress"),
    Method("patched-isal", "patched", "compress"),
    # compress-level 2: igzip level 1, zlib level 1's ratio (patch 0011)
    Method("patched-isal-2", "patched", "compress", level=2),
    # compress-wait-thread off: a page goes raw when every thread is busy
    # (QMP only: libvirt cannot set it)
    Method("patched-isal-nowait", "patched", "compress", wait_thread=False),
    Method("multifd", "stock", "multifd", "none"),
    Method("multifd-zlib", "stock", "multifd", "zlib"),
    Method("multifd-zstd", "stock", "multifd", "zstd"),
)
BY_NAME = {m.name: m for m in METHODS}
NAMES = tuple(m.name for m in METHODS)
# qemu/build-qemu arguments of each build a method runs on: "patched" is
# the series' default (ISA-L's deflate when found, else libdeflate, else
# zlib), "patched-libdeflate" without ISA-L, "patched-zlib" without
# either.
BUILD_ARGS = {"patched": [], "stock": ["--baseline"],
              "patched-zlib": ["--no-libdeflate"],
              "patched-libdeflate": ["--no-isal"]}
# Named sets for --methods (with method names, in any mix).
SETS = {
    "all": NAMES,
    "libvirt": tuple(m.name for m in METHODS if m.libvirt),
    "compress": tuple(m.name for m in METHODS if m.kind == "compress"),
}


def select(items):
    """The methods named by method and set names, in METHODS order (raw
    first: the break-even base).  ValueError on an unknown name."""
    want = set()
    for x in items:
        if x in SETS:
            want.update(SETS[x])
        elif x in BY_NAME:
            want.add(x)
        else:
            raise ValueError(f"unknown method {x!r} (methods: "
                             f"{','.join(NAMES)}; sets: {','.join(SETS)})")
    if not want:
        raise ValueError("no method")
    return [n for n in NAMES if n in want]


def settings(method, threads, channels=2):
    """(Compress or None, Multifd or None) of a method: compress-threads =
    decompress-threads = threads at the method's compress-level, or
    multifd with `channels` channels and the method's compression at its
    level."""
    if method.kind == "compress":
        return Compress(threads, threads, method.level,
                        method.wait_thread), None
    if method.kind == "multifd":
        return None, Multifd(channels, method.multifd_compression,
                             method.level)
    return None, None


def builds_of(names):
    """The builds the methods named run on, in METHODS order."""
    out = []
    for n in names:
        b = BY_NAME[n].build
        if b not in out:
            out.append(b)
    return out


# ---- link speeds

def parse_links(text):
    """'0,125e6,12.5e6' -> [0, 125000000, 12500000] (bytes/s; 0, 'inf'
    or 'unlimited' = unlimited).  ValueError if not such a list."""
    out = []
    for x in text.split(","):
        x = x.strip().lower()
        if x in ("inf", "unlimited", "0"):
            out.append(0)
            continue
        v = float(x)
        if not 1e5 <= v <= 1e12:
            raise ValueError(f"link speed {x}: not 0 or 1e5..1e12 bytes/s")
        out.append(int(round(v)))
    if not out:
        raise ValueError("no link speed")
    return out


def link_label(link):
    """'unlimited', '125 MB/s (1 Gbit/s)' or '12.5 MB/s (100 Mbit/s)'."""
    if not link:
        return "unlimited"
    bits = link * 8
    speed = f"{bits / 1e9:g} Gbit/s" if bits >= 1e9 else \
        f"{bits / 1e6:g} Mbit/s"
    return f"{link / 1e6:g} MB/s ({speed})"


def link_order(link):
    """Sort key: unlimited first, then fastest to slowest."""
    return -(link or float("inf"))


# ---- pinned: raw against a compressed method

def break_even(t_raw, b_raw, t_m, b_m):
    """Where a method m beats raw, from each one's time at unlimited
    bandwidth (t, s) and the bytes it put on the wire (b), if each took
    T(L) = max(t, b / L) on a link of L bytes/s (CPU-bound or
    link-bound, whichever is slower).  Returns {"wins": ..., "link": L}:

      "below"   m is faster on links slower than L (bytes/s): m is slower
                unlimited but sends less; L = b_raw / t_m (raw, link-bound,
                takes as long as m unlimited)
      "above"   m is faster on links faster than L = b_m / t_raw (m is
                faster unlimited but sends more)
      "always"  never slower (faster or as fast unlimited, sends no more)
      "never"   never faster (slower unlimited, sends no less)
    """
    if t_m <= t_raw and b_m <= b_raw:
        return {"wins": "always", "link": None}
    if t_m > t_raw and b_m >= b_raw:
        return {"wins": "never", "link": None}
    if t_m > t_raw:
        return {"wins": "below", "link": b_raw / t_m}
    return {"wins": "above", "link": b_m / t_raw}


def mib_s(link):
    return link / MiB


def mbit_s(link):
    return link * 8 / 1e6


def ranking(times):
    """[(name, seconds)] fastest first, of {name: seconds or None}
    (None: no converged run), ties in the order given."""
    return sorted(((n, t) for n, t in times.items() if t is not None),
                  key=lambda nt: nt[1])
