"""What the plots show, prepared without matplotlib."""

import unittest

import benchdoc
from migrate_tools import plots


class TestPlotData(unittest.TestCase):
    def test_throughput(self):
        d = plots.throughput_data(benchdoc.runs())
        self.assertEqual(d["ram_mib"], 256)
        self.assertEqual(d["threads"], [1, 2])      # the wait run is not here
        p = d["builds"]["patched"]
        self.assertEqual(p["threads"], [1, 2])
        self.assertEqual(p["points"][1], [64.0, 62.4])
        self.assertEqual(p["mib_s"], [63.2, 100.45])
        self.assertEqual(p["cpu_src"], [8.1, 5.1])
        self.assertEqual(d["builds"]["stock"]["cpu_dst"], [5.05, 4.05])

    def test_live(self):
        lv = plots.live_data(benchdoc.runs())
        self.assertEqual([bw for bw, _ in lv], [0])
        per = lv[0][1]
        self.assertEqual(per["patched"], {"rates": [8, 16],
                                          "seconds": [5.0, 8.0],
                                          "failed_rates": [],
                                          "failed_caps": []})
        self.assertEqual(per["stock"], {"rates": [8], "seconds": [10.0],
                                        "failed_rates": [16],
                                        "failed_caps": [20]})

    def test_nothing_to_plot(self):
        gp = [r for r in benchdoc.runs() if r["scenario"] == "guestperf"]
        self.assertIsNone(plots.throughput_data(gp))
        self.assertIsNone(plots.live_data(gp))

    def test_links(self):
        d = plots.links_data(benchdoc.method_runs())
        self.assertEqual(d["guests"], ["paused", "live"])
        self.assertEqual(d["links"], [0, 12500000])
        c = d["cells"][("paused", 12500000)]
        self.assertEqual(c["methods"], ["none", "patched-libdeflate",
                                        "patched-isal", "multifd",
                                        "multifd-zstd"])
        i = c["methods"].index("patched-libdeflate")
        self.assertAlmostEqual(c["seconds"][i], 7.2)
        self.assertEqual((c["lo"][i], c["hi"][i], c["failed"][i]),
                         (7.0, 7.4, 0))
        c = d["cells"][("live", 12500000)]
        # none: no converged run, drawn at its cap; multifd: 1 of 2.
        self.assertEqual((c["seconds"][0], c["failed"][0], c["caps"][0]),
                         (None, 2, 40))
        self.assertEqual((c["seconds"][3], c["failed"][3]), (30.0, 1))
        self.assertIsNone(plots.links_data(benchdoc.runs()))

    def test_pinned(self):
        d = plots.pinned_data(benchdoc.method_runs())
        self.assertEqual(d["methods"], ["none", "stock-zlib",
                                        "patched-libdeflate", "multifd-zstd"])
        for got, want in zip(d["seconds"], [1.1, 4.2, 2.0, 1.2]):
            self.assertAlmostEqual(got, want)
        self.assertEqual(d["wire_mib"], [200, 80, 78, 70])
        self.assertIsNone(plots.pinned_data(benchdoc.runs()))

    def test_titles(self):
        self.assertEqual(plots.bandwidth_title(0), "max-bandwidth unlimited")
        self.assertEqual(plots.bandwidth_title(8), "max-bandwidth 8 MiB/s")


if __name__ == "__main__":
    unittest.main()
