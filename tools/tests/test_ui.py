"""The progress bar's line."""

import unittest

from migrate_tools import MiB, ui


class TestProgress(unittest.TestCase):
    def test_bar(self):
        self.assertEqual(ui.bar(0), "[" + "." * 20 + "]")
        self.assertEqual(ui.bar(0.5, 4), "[##..]")
        self.assertEqual(ui.bar(2), "[" + "#" * 20 + "]")

    def test_line(self):
        info = {"status": "active",
                "ram": {"total": 100, "remaining": 25,
                        "transferred": 3 * MiB, "dirty-pages-rate": 42,
                        "dirty-sync-count": 2},
                "compression": {"busy-rate": 0.125,
                                "compression-rate": 2.75}}
        self.assertEqual(
            ui.fmt_progress(info, 12.5, 3.25),
            "[###############.....]  75.0%     3.0 MiB sent   12.5 MiB/s"
            "  dirty     42 p/s  iter   2  busy 0.12  ratio  2.8"
            "    3.2s active")
        self.assertTrue(ui.fmt_progress({}, 0, 0).endswith("0.0s ?"))


if __name__ == "__main__":
    unittest.main()
