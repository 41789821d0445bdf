"""What a command prints: its name before each log line, warnings, a
one-line progress bar on a terminal, and argument errors in one line."""

import argparse
import shutil
import sys

from . import MiB

# The command whose lines these are; the entry point sets it (set_prog).
PROG = "migrate-demo"


def set_prog(name):
    global PROG
    PROG = name


def log(msg):
    Progress.clear()
    print(f"{PROG}: {msg}", flush=True)


def warn(msg):
    Progress.clear()
    print(f"{PROG}: warning: {msg}", file=sys.stderr, flush=True)


def failed(msg):
    """The final error line of a command, on stderr."""
    Progress.clear()
    print(f"{PROG}: FAILED: {msg}", file=sys.stderr, flush=True)


class Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line, before anything starts.
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(2)


class Progress:
    enabled = False
    shown = False

    @classmethod
    def clear(cls):
        if cls.shown:
            sys.stdout.write("\r\033[K")
            sys.stdout.flush()
            cls.shown = False

    @classmethod
    def show(cls, text):
        if not cls.enabled:
            return
        width = shutil.get_terminal_size((100, 24)).columns - 1
        sys.stdout.write("\r\033[K" + text[:width])
        sys.stdout.flush()
        cls.shown = True


def bar(frac, width=20):
    frac = max(0.0, min(1.0, frac))
    n = int(round(frac * width))
    return "[" + "#" * n + "." * (width - n) + "]"


def fmt_progress(info, rate_mib, elapsed):
    """One line from a query-migrate answer."""
    ram = info.get("ram", {})
    comp = info.get("compression", {})
    total = ram.get("total", 0) or 1
    remaining = ram.get("remaining", total)
    frac = (total - remaining) / total
    s = (f"{bar(frac)} {100 * frac:5.1f}% "
         f"{ram.get('transferred', 0) / MiB:7.1f} MiB sent "
         f"{rate_mib:6.1f} MiB/s  dirty {ram.get('dirty-pages-rate', 0):6d} p/s"
         f"  iter {ram.get('dirty-sync-count', 0):3d}")
    if comp:
        s += (f"  busy {comp.get('busy-rate', 0):.2f}"
              f"  ratio {comp.get('compression-rate', 0):4.1f}")
    return s + f"  {elapsed:5.1f}s {info.get('status', '?')}"
