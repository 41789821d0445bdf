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
        self.assertEqual(s["patched-libdeflate"]["build"],
                         "patched-libdeflate")
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
        c = self.row("| patched-libdeflate | patched-libdeflate |")
        self.assertEqual(c[10], "links below 100.0 MiB/s = 839 Mbit/s")
        c = self.row("| multifd-zstd | stock |")   # 1.2 s > 1.1 s
        self.assertEqual(c[10], "links below 166.7 MiB/s = 1398 Mbit/s")
        self.assertIn("median 500 bytes per run", self.md)


class TestLinks(Base):
    def test_rows(self):
        # guest, link, method, conv, total s, min-max s, x fastest, wire
        # MiB, wire MB/s, QEMU MiB, downtime, src CPU, dst CPU, guest wrote
        c = self.row("| live | 12.5 MB/s (100 Mbit/s) | none |")
        self.assertEqual(c[3:8], ["0/2", "-", "-", "-", "400.0"])
        c = self.row("| live | 12.5 MB/s (100 Mbit/s) | multifd |")
        self.assertEqual(c[3:7], ["1/2", "30.00", "30.00-30.00", "3.37"])
        c = self.row("| paused | 12.5 MB/s (100 Mbit/s) | "
                     "patched-libdeflate |")
        self.assertEqual(c[3:9], ["2/2", "7.20", "7.00-7.40", "1.18",
                                  "80.0", "11.7"])
        c = self.row("| paused | 12.5 MB/s (100 Mbit/s) | multifd-zstd |")
        self.assertEqual(c[4:7], ["6.10", "6.00-6.20", "1.00"])
        c = self.row("| live | unlimited | multifd-zstd |")
        self.assertEqual(c[9], "200.0")        # QEMU's (uncompressed) count
        self.assertEqual(c[13], "7.5")
        self.assertEqual(self.row("| paused | unlimited | none |")[13], "")
        # Paused first, unlimited before 12.5 MB/s; methods in order.
        keys = [[x.strip() for x in ln.split("|")[1:4]] for ln in self.lines
                if ln.startswith("| paused |") or ln.startswith("| live |")]
        self.assertEqual(keys[0], ["paused", "unlimited", "none"])
        self.assertEqual([k[2] for k in keys[:5]],
                         ["none", "patched-libdeflate", "patched-isal",
                          "multifd", "multifd-zstd"])
        self.assertEqual(keys[-1][:2], ["live", "12.5 MB/s (100 Mbit/s)"])

    def test_shaping(self):
        self.assertIn("shaped with tbf on the egress of both ends", self.md)
        self.assertNotIn("QEMU's max-bandwidth (results from before",
                         self.md)
        c = self.row("| 12.5 MB/s (100 Mbit/s) | 65536 |")
        self.assertEqual(c[2:], ["20 ms", "11.9 MB/s (0.956 of the rate)"])
        c = self.row("| unlimited | - |")
        self.assertEqual(c[2:], ["-", "1500.0 MB/s"])

    def test_cells(self):
        cells = report.links_cells(benchdoc.method_runs())
        c = cells[("paused", 0)]["patched-isal"]
        self.assertEqual((c["n"], c["conv"]), (2, 2))
        self.assertAlmostEqual(c["seconds"], 1.3)
        self.assertEqual((c["lo"], c["hi"]), (1.2, 1.4))
        self.assertAlmostEqual(c["ratio"], 1.3 / 0.6)
        self.assertIsNone(cells[("live", 12500000)]["none"]["ratio"])

    def test_recommendations(self):
        rows = report.recommendations(benchdoc.method_runs())
        got = {(r["cores"], r["guest"], r["link"]): r for r in rows}
        self.assertEqual(len(rows), 5)
        r = got[("2", "paused", 0)]
        self.assertEqual((r["best"][0], r["runner_up"][0], r["libvirt"][0]),
                         ("multifd", "multifd-zstd", "multifd"))
        self.assertAlmostEqual(r["patched"]["patched-isal"], 1.3 / 0.6)
        # multifd-zstd is fastest, but libvirt's best is patched-isal.
        r = got[("2", "paused", 12500000)]
        self.assertEqual((r["best"][0], r["runner_up"][0], r["libvirt"][0]),
                         ("multifd-zstd", "patched-isal", "patched-isal"))
        self.assertEqual(r["patched"]["patched-isal"], 1.0)
        self.assertAlmostEqual(r["patched"]["patched-libdeflate"], 7.2 / 6.9)
        # Not converged runs are no candidates: multifd's one run is.
        r = got[("2", "live", 12500000)]
        self.assertEqual(r["best"], ("patched-isal", 8.9))
        self.assertEqual(r["libvirt"], ("patched-isal", 8.9))
        r = got[("1 + 1 (pinned)", "paused", 0)]
        self.assertEqual(r["best"], ("none", 1.1))
        self.assertEqual(r["runner_up"][0], "multifd-zstd")
        self.assertAlmostEqual(r["patched"]["patched-libdeflate"], 2.0 / 1.1)

    def test_recommend_table(self):
        # cores, guest, link, use, runner-up, libvirt, then one ratio
        # column per patched compress method (methods order).
        hdr = [ln for ln in self.lines if ln.startswith("| cores |")][0]
        self.assertTrue(hdr.endswith("| libvirt | patched-libdeflate / "
                                     "libvirt | patched-isal / libvirt |"))
        c = self.row("| 2 | paused | unlimited |")
        self.assertEqual(c[3:], ["multifd (0.60 s)", "multifd-zstd (0.80 s)",
                                 "multifd (0.60 s)", "**2.67**",
                                 "**2.17**"])
        c = self.row("| 2 | paused | 12.5 MB/s (100 Mbit/s) |")
        self.assertEqual(c[5:], ["patched-isal (6.90 s)", "1.04", "1.00"])
        c = self.row("| 1 + 1 (pinned) | paused | unlimited |")
        self.assertEqual(c[3:], ["none (1.10 s)", "multifd-zstd (1.20 s)",
                                 "none (1.10 s)", "**1.82**", "-"])
        self.assertIn("**bold** above 1.05", self.md)

    def test_flag(self):
        self.assertEqual(report.ratio_text(1.05), "1.05")
        self.assertEqual(report.ratio_text(1.0501), "**1.05**")
        self.assertEqual(report.ratio_text(1.2), "**1.20**")
        self.assertEqual(report.ratio_text(None), "-")

    def test_no_links(self):
        runs = [r for r in benchdoc.method_runs()
                if r["scenario"] == "pinned"]
        rows = report.recommendations(runs)
        self.assertEqual([(r["cores"], r["link"]) for r in rows],
                         [("1 + 1 (pinned)", 0)])
        self.assertNotIn("## Links", report.report(dict(
            benchdoc.method_doc(), runs=runs)))

    def test_old_results(self):
        # Links runs from before tbf: QEMU's max-bandwidth was the link.
        runs = benchdoc.method_runs()
        for r in runs:
            for k in ("shaping", "tbf", "link_measured_bytes_s",
                      "transport"):
                r.pop(k, None)
        md = report.report(dict(benchdoc.method_doc(), runs=runs))
        self.assertIn("The link is QEMU's max-bandwidth (results from "
                      "before", md)
        self.assertNotIn("tbf burst", md)
        self.assertIn("each link QEMU's max-bandwidth", md)
        self.assertIn("| 2 | paused | 12.5 MB/s (100 Mbit/s) | "
                      "multifd-zstd (6.10 s)", md)


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
