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

    def test_titles(self):
        self.assertEqual(plots.bandwidth_title(0), "max-bandwidth unlimited")
        self.assertEqual(plots.bandwidth_title(8), "max-bandwidth 8 MiB/s")


if __name__ == "__main__":
    unittest.main()
