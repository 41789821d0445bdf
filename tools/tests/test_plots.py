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
        self.assertEqual(list(d["guests"]), ["paused", "live"])
        # none reached 200 MiB / 1 s = 209.7 MB/s unlimited: >= 2x 12.5.
        ux = 200 * 1024 * 1024 / 1e6
        self.assertAlmostEqual(d["unlimited_x"], ux)
        self.assertEqual(d["ticks"][0][0], 12.5)
        p = d["guests"]["paused"]["patched-libdeflate"]
        self.assertEqual((p["x"], p["seconds"]), ([12.5, ux], [7.0, 1.5]))
        n = d["guests"]["live"]["none"]
        self.assertEqual((n["x"], n["failed_x"], n["failed_caps"]),
                         ([ux], [12.5], [40]))
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
