"""results.md's pinned, links, recommendation and hogs sections."""

import unittest

import benchdoc
from migrate_tools import MiB, report


class Base(unittest.TestCase):
    doc = staticmethod(benchdoc.method_doc)

    def setUp(self):
        self.md = report.report(self.doc())
        self.lines = self.md.splitlines()

    def row(self, prefix):
        rows = [ln for ln in self.lines if ln.startswith(prefix)]
        self.assertEqual(len(rows), 1, (prefix, rows))
        return [c.strip() for c in rows[0].split("|")[1:-1]]


class TestPinned(Base):
    def test_sections(self):
        for h in ("## Pinned", "## Links", "## Which method to use"):
            self.assertIn(h, self.md)
        self.assertNotIn("## Paused guest", self.md)
        self.assertNotIn("Ratios are patched/stock", self.md)
        self.assertIn("- stock: `/q/stock`", self.md)

    def test_summary(self):
        s = report.pinned_summary(benchdoc.method_runs())
        self.assertEqual(list(s), ["none", "stock-zlib",
                                   "patched-libdeflate", "multifd-zstd"])
        n = s["none"]
        self.assertEqual((n["n"], n["seconds"], n["wire"]), (2, 1.1,
                                                             200 * MiB))
        self.assertAlmostEqual(n["mib_s_per_core"], (256 + 256 / 1.2) / 2)
        self.assertEqual(n["src_cores"], 1)

    def test_rows(self):
        c = self.row("| none | stock |")
        self.assertEqual(c[2:5], ["2", "1.10", "[1.0, 1.2]"])
        self.assertEqual(c[8], "200.0")        # wire MiB
        self.assertEqual(c[10], "(raw)")
        # stock-zlib: 4.2 s, 80 MiB; raw sends 200 MiB: break-even
        # 200 MiB / 4.2 s = 47.6 MiB/s.
        c = self.row("| stock-zlib | stock |")
        self.assertEqual(c[10], "links below 47.6 MiB/s = 399 Mbit/s")
        c = self.row("| patched-libdeflate | patched |")
        self.assertEqual(c[10], "links below 100.0 MiB/s = 839 Mbit/s")
        c = self.row("| multifd-zstd | stock |")   # 1.2 s > 1.1 s
        self.assertEqual(c[10], "links below 166.7 MiB/s = 1398 Mbit/s")
        self.assertIn("median 500 bytes per run", self.md)


class TestLinks(Base):
    def test_rows(self):
        c = self.row("| live | 12.5 MB/s (100 Mbit/s) | none |")
        self.assertEqual(c[3:6], ["0/1", "-", "400.0"])
        c = self.row("| paused | 12.5 MB/s (100 Mbit/s) | patched-libdeflate |")
        self.assertEqual(c[3:7], ["1/1", "7.00", "80.0", "12.0"])
        c = self.row("| live | unlimited | multifd-zstd |")
        self.assertEqual(c[7], "200.0")        # QEMU's (uncompressed) count
        self.assertEqual(c[11], "7.5")
        self.assertEqual(self.row("| paused | unlimited | none |")[11], "")
        # Paused first, unlimited before 12.5 MB/s.
        keys = [ln.split("|")[1:3] for ln in self.lines
                if ln.startswith("| paused |") or ln.startswith("| live |")]
        self.assertEqual(keys[0][1].strip(), "unlimited")

    def test_recommendations(self):
        rows = report.recommendations(benchdoc.method_runs())
        got = {(r["cores"], r["guest"], r["link"], r["basis"]):
               (r["best"], r["runner_up"]) for r in rows}
        self.assertEqual(got[(2, "paused", 0, "measured")],
                         (("multifd-zstd", 0.8), ("none", 1.0)))
        # The not-converged raw run is no candidate.
        self.assertEqual(got[(2, "live", 12500000, "measured")],
                         (("patched-libdeflate", 9.0), ("multifd-zstd", 20.0)))
        # One core, modelled from pinned: on 12.5 MB/s, multifd-zstd
        # max(1.2, 70 MiB / 12.5e6) = 5.87 s beats patched-libdeflate
        # 6.54 s (stock-zlib: 6.71 s); unlimited: none (1.1 s).
        best, second = got[(1, "paused", 12500000, "modelled")]
        self.assertEqual(best[0], "multifd-zstd")
        self.assertAlmostEqual(best[1], 70 * MiB / 12.5e6)
        self.assertEqual(second[0], "patched-libdeflate")
        self.assertEqual(got[(1, "paused", 0, "measured")][0], ("none", 1.1))
        c = self.row("| 1 | paused | unlimited |")
        self.assertEqual(c[3:], ["none (1.10 s)", "multifd-zstd (1.20 s)",
                                 "measured"])
        # Two cores on a real 12.5 MB/s link, from the unlimited links
        # runs: multifd-zstd max(0.8, 70 MiB / 12.5e6 = 5.87 s) beats
        # patched-libdeflate (6.54 s), unlike with QEMU's cap (13 s).
        self.assertEqual(got[(2, "paused", 12500000, "measured")][0],
                         ("patched-libdeflate", 7.0))
        best, second = got[(2, "paused", 12500000, "modelled")]
        self.assertEqual(best[0], "multifd-zstd")
        self.assertEqual(second[0], "patched-libdeflate")
        c = [r for r in rows if r["basis"] == "modelled" and
             r["cores"] == 2]
        self.assertEqual([r["link"] for r in c], [12500000])
        self.assertEqual(c[0]["best"][0], "multifd-zstd")
        self.assertEqual(len(self.row("| 2 | paused | 12.5 MB/s (100 "
                                      "Mbit/s) | multifd-zstd")), 6)

    def test_no_links(self):
        runs = [r for r in benchdoc.method_runs()
                if r["scenario"] == "pinned"]
        rows = report.recommendations(runs)
        self.assertEqual([(r["link"], r["basis"]) for r in rows],
                         [(0, "measured"), (125000000, "modelled"),
                          (12500000, "modelled")])


class TestHogs(Base):
    doc = staticmethod(benchdoc.hogs_doc)

    def test_hogs(self):
        self.assertIn("CPU hogs: 2 busy-loop", self.md)
        self.assertIn("## Throughput with 2 CPU hog(s)", self.md)
        # 2 threads: 2.5/4.0 and 2.6/4.1.
        c = self.row("| 2 | on | 2 |")
        self.assertEqual(c[3:6], ["[0.625, 0.634]", "0.629", "0.634"])

    def test_no_hogs(self):
        d = benchdoc.hogs_doc()
        d["hogs"] = 0
        self.assertNotIn("CPU hog", report.report(d))


if __name__ == "__main__":
    unittest.main()
