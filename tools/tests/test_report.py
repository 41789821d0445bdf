"""results.md from a benchmark document."""

import unittest

import benchdoc
from migrate_tools import report


class TestReport(unittest.TestCase):
    def setUp(self):
        self.md = report.report(benchdoc.doc())
        self.lines = self.md.splitlines()

    def row(self, prefix):
        rows = [ln for ln in self.lines if ln.startswith(prefix)]
        self.assertEqual(len(rows), 1, (prefix, rows))
        return [c.strip() for c in rows[0].split("|")[1:-1]]

    def test_header(self):
        self.assertEqual(self.lines[0],
                         "# Migration benchmark, quick mode, "
                         "2026-01-01T000000Z")
        self.assertIn("Machine: 2 CPUs (Test CPU), load average at start "
                      "1.00 0.50 0.25; kernel 6.1.", self.md)
        self.assertIn("- patched: `/q/patched`", self.md)

    def test_sections(self):
        for h in ("## Paused guest", "## Live guest", "## guestperf",
                  "## Plots"):
            self.assertIn(h, self.md)
        self.assertIn("![throughput.png](throughput.png)", self.md)

    def test_throughput_rows(self):
        # 1 thread: patched 4.0 and 4.1 s, stock 5.0 and 5.1 s.
        c = self.row("| 1 | on | patched | 4.05 |")      # median total s
        self.assertEqual(c[9], "0.802 [0.8, 0.804]")     # time ratio, pairs
        self.assertEqual(self.row("| 1 | on | stock | 5.05 |")[9], "")
        self.assertEqual(self.row("| 2 | off | patched | 1.00 |")[9], "0.800 [0.8]")
        # cores used: (8 + 4) s/GiB * 0.25 GiB / 4 s
        self.assertEqual(self.row("| 1 | on | patched | 4.05")[7], "0.75")

    def test_thread_rows(self):
        c = self.row("| 2 | off | stock | compress")
        self.assertEqual(c[3], "compress 1.25, main 0.50, live_migration 0.25")

    def test_live(self):
        c = self.row("| 16 | unlimited | on | stock |")
        self.assertEqual(c[4], "0/1")
        self.assertEqual(c[5], "-")        # no converged run: no time
        c = self.row("| 8 | unlimited | on | patched |")
        self.assertEqual(c[4:6], ["1/1", "5.00"])
        self.assertEqual(c[-1], "0.500 [0.5]")
        self.assertEqual(c[11], "0.50")    # compress cores: 2.5 s / 5 s
        # Highest rate where every run converged: stock 8, patched 16.
        self.assertEqual(self.row("| unlimited | 8 | 16 |")[3],
                         "2.00 (rates tested: [8, 16])")

    def test_guestperf(self):
        self.assertEqual(self.row("| patched | 0 | completed")[3:],
                         ["5000", "20", "4", "900", "1100"])
        self.assertIn("| stock | 0 | error: no report: boom | | | | | |",
                      self.md)

    def test_fmt(self):
        self.assertEqual(report.fmt(None), "-")
        self.assertEqual(report.fmt(1.23456), "1.23")
        self.assertEqual(report.fmt(1.23456, 3), "1.235")
        self.assertEqual(report.fmt(7), "7")

    def test_empty(self):
        d = benchdoc.doc()
        d["runs"], d["plots"] = [], []
        md = report.report(d)
        self.assertNotIn("##", md)


if __name__ == "__main__":
    unittest.main()
