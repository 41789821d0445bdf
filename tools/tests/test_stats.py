"""Medians, per-pair ratios, grouping, thread groups, guest write rate."""

import unittest

from migrate_tools import stats


class TestStats(unittest.TestCase):
    def test_med(self):
        self.assertEqual(stats.med([3, 1, 2]), 2)
        self.assertEqual(stats.med([4, 1, 3, 2]), 2.5)
        self.assertEqual(stats.med([1.0, None, 2.0]), 1.5)
        self.assertEqual(stats.med([5]), 5)
        self.assertIsNone(stats.med([]))
        self.assertIsNone(stats.med([None]))

    def test_pair_ratios(self):
        runs = [{"rep": 0, "build": "patched", "t": 1.0},
                {"rep": 0, "build": "stock", "t": 2.0},
                {"rep": 1, "build": "stock", "t": 3.0},
                {"rep": 1, "build": "patched", "t": 1.0},
                {"rep": 2, "build": "patched", "t": 1.0},   # no stock
                {"rep": 3, "build": "patched", "t": 1.0},
                {"rep": 3, "build": "stock", "t": 0},        # no ratio
                {"rep": 4, "build": "patched", "t": None},
                {"rep": 4, "build": "stock", "t": 1.0}]
        self.assertEqual(stats.pair_ratios(runs, lambda r: r["t"]),
                         [0.5, 0.333])

    def test_groupby(self):
        g = stats.groupby([1, 2, 3, 4, 5], lambda x: x % 2)
        self.assertEqual(list(g), [1, 0])
        self.assertEqual(g, {1: [1, 3, 5], 0: [2, 4]})

    def test_top_groups(self):
        g = {"main": 0.004, "compress": 3.14159, "CPU 0/TCG": 5.0}
        self.assertEqual(list(stats.top_groups(g, 2, 0.01).items()),
                         [("CPU 0/TCG", 5.0), ("compress", 3.14)])
        self.assertEqual(stats.top_groups(g, 3, 0.004)["main"], 0.004)

    def test_guest_dirtied(self):
        hb = lambda seen, t, w: (seen, {"t": t, "written": w})  # noqa: E731
        self.assertEqual(stats.guest_dirtied(hb(1.0, 10, 1000),
                                             hb(5.0, 14, 1000 + 4 * 2560)),
                         {"written_pages": 10240, "seconds": 4,
                          "mib_s": 10.0})
        self.assertIsNone(stats.guest_dirtied(None, hb(5.0, 14, 1)))
        self.assertIsNone(stats.guest_dirtied(hb(1.0, 10, 1),
                                              hb(1.0, 10, 1)))


if __name__ == "__main__":
    unittest.main()
