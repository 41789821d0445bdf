"""What a command prints.  Two streams, so that a caller can pipe or
capture a command's results without its narrative:

  stdout  results only: summaries, tables, paths the user asked for
          (result(), or a plain print());
  stderr  everything else: log lines, warnings, the final error, the
          progress bar, argument errors (one line each, with the
          command's name)."""

import argparse
import os
import sys

from . import MiB

# The command whose lines these are; the entry point sets it (set_prog).
PROG = "migrate-demo"


def set_prog(name):
    global PROG
    PROG = name


def log(msg):
    """A line of narrative (what the command is doing), on stderr."""
    Progress.clear()
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def result(msg):
    """A result line (a check's verdict, a summary), on stdout."""
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
    """The one-line progress bar, redrawn in place on stderr (beside the
    log lines it is cleared for, never among the results)."""

    enabled = False
    shown = False

    @classmethod
    def clear(cls):
        if cls.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            cls.shown = False

    @classmethod
    def show(cls, text):
        if not cls.enabled:
            return
        width = stderr_columns() - 1
        sys.stderr.write("\r\033[K" + text[:width])
        sys.stderr.flush()
        cls.shown = True


def stderr_columns():
    """The width of the terminal the bar is drawn on (stderr's; stdout
    may be a pipe), 100 if it has none."""
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 100


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
