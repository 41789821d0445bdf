"""Tools that boot a Linux guest in QEMU 7.2 and live-migrate it.

scripts/migrate-demo and scripts/bench-migration are thin entry points to
demo.main and bench.main.  Standard library only; matplotlib for the plots,
imported where they are drawn.

  ui          program name, log and warning lines, the progress bar
  qmp         the QMP client
  qemu        a QEMU process: command line, launch, stop, CPU from /proc
  guest       guest kernel and initramfs, kernel command line, serial console
  packages    Debian packages, through build-aux/install-deps
  netns       two hosts: network namespaces joined by a veth pair, tbf
              shaping (qemu/tests/netns-faults, the links scenario)
  migration   capabilities and parameters, incoming side, status polling
  engine      one migration start to end (migrate, poll, collect) and its
              typed Result, shared by the demo, the benchmark and the report
  ramdump     dump-guest-memory ELF files, compared page by page
  stream      a recorded migration stream: RAM sections, page records
  stats       medians, patched/stock pair ratios, grouping
  guestperf   QEMU's tests/migration/guestperf.py, run on both builds
  mdtable     markdown tables: every table's syntax in one place
  report      the benchmark's results.md
  plots       the benchmark's PNG plots
  demo        scripts/migrate-demo
  bench       scripts/bench-migration
"""

import os
import signal

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PAGE = 4096
MiB = 1024 * 1024
GiB = 1024 * MiB


class Failure(Exception):
    """A check or a step failed: one message, exit status 1."""


class Interrupted(Exception):
    """A signal asked us to stop."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
