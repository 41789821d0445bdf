"""Methods, their sets, link speeds and the break-even speed."""

import unittest

from migrate_tools import MiB, methods
from migrate_tools.methods import (BY_NAME, break_even, parse_links,
                                   ranking)


def model_time(t_unlimited, wire_bytes, link):
    """break_even()'s model: time on a link of `link` bytes/s, CPU-bound
    or link-bound."""
    return max(t_unlimited, wire_bytes / link) if link else t_unlimited


class TestMethods(unittest.TestCase):
    def test_names(self):
        self.assertEqual(methods.NAMES, (
            "none", "stock-zlib", "patched-zlib", "patched-libdeflate",
            "patched-isal", "patched-isal-2", "patched-isal-nowait",
            "multifd", "multifd-zlib", "multifd-zstd"))
        self.assertEqual(methods.builds_of(methods.NAMES),
                         ["stock", "patched-zlib", "patched-libdeflate",
                          "patched"])
        self.assertEqual(methods.builds_of(["patched-isal", "none"]),
                         ["patched", "stock"])
        # Every build has its qemu/build-qemu arguments.
        self.assertEqual(methods.BUILD_ARGS["patched-libdeflate"],
                         ["--no-isal"])
        self.assertEqual(methods.BUILD_ARGS["patched-zlib"],
                         ["--no-libdeflate"])
        self.assertEqual(methods.BUILD_ARGS["patched"], [])
        for m in methods.METHODS:
            self.assertIn(m.build, methods.BUILD_ARGS)

    def test_kinds(self):
        self.assertEqual(methods.SETS["libvirt"], (
            "none", "stock-zlib", "patched-zlib", "patched-libdeflate",
            "patched-isal", "patched-isal-2", "multifd"))
        self.assertEqual([m.name for m in methods.METHODS if m.patched],
                         ["patched-zlib", "patched-libdeflate",
                          "patched-isal", "patched-isal-2",
                          "patched-isal-nowait"])
        self.assertEqual(methods.SETS["all"], methods.NAMES)

    def test_select(self):
        self.assertEqual(methods.select(["multifd-zstd", "none"]),
                         ["none", "multifd-zstd"])     # methods order
        self.assertEqual(methods.select(["compress", "multifd"]),
                         ["stock-zlib", "patched-zlib", "patched-libdeflate",
                          "patched-isal", "patched-isal-2",
                          "patched-isal-nowait", "multifd"])
        self.assertEqual(methods.select(["all"]), list(methods.NAMES))
        for bad in (["gzip"], []):
            with self.assertRaises(ValueError):
                methods.select(bad)

    def test_settings(self):
        c, m = methods.settings(BY_NAME["none"], 2)
        self.assertEqual((c, m), (None, None))
        c, m = methods.settings(BY_NAME["patched-zlib"], 1)
        self.assertEqual((c.threads, c.decompress_threads, c.level), (1, 1, 1))
        self.assertIsNone(m)
        c, m = methods.settings(BY_NAME["multifd-zstd"], 1, channels=2)
        self.assertIsNone(c)
        self.assertEqual((m.channels, m.compression, m.level), (2, "zstd", 1))
        self.assertEqual(methods.settings(BY_NAME["multifd"], 2)[1].compression,
                         "none")
        # the same build at compress-level 2
        c, m = methods.settings(BY_NAME["patched-isal-2"], 2)
        self.assertEqual((c.threads, c.level), (2, 2))
        self.assertEqual(BY_NAME["patched-isal-2"].build, "patched")
        # compress-wait-thread off: not something libvirt can ask for
        c, m = methods.settings(BY_NAME["patched-isal-nowait"], 2)
        self.assertEqual((c.level, c.wait_thread), (1, False))
        self.assertFalse(BY_NAME["patched-isal-nowait"].libvirt)
        self.assertTrue(methods.settings(BY_NAME["patched-isal"], 2)[0]
                        .wait_thread)


class TestLinks(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(parse_links("0,125e6,12.5e6"),
                         [0, 125000000, 12500000])
        self.assertEqual(parse_links("inf, 1000000"), [0, 1000000])
        for bad in ("", "x", "-5", "10"):
            with self.assertRaises(ValueError):
                parse_links(bad)

    def test_label(self):
        self.assertEqual(methods.link_label(0), "unlimited")
        self.assertEqual(methods.link_label(125000000),
                         "125 MB/s (1 Gbit/s)")
        self.assertEqual(methods.link_label(1250000000),
                         "1250 MB/s (10 Gbit/s)")
        self.assertEqual(methods.link_label(12500000),
                         "12.5 MB/s (100 Mbit/s)")
        self.assertEqual(sorted([12500000, 0, 1250000000, 125000000],
                                key=methods.link_order),
                         [0, 1250000000, 125000000, 12500000])


class TestBreakEven(unittest.TestCase):
    def test_break_even_below(self):
        # raw: 1 s, 400 MB; compressed: 4 s, 100 MB.  Raw is link-bound
        # below 400 MB/s; it takes 4 s at 100 MB/s: the crossing.
        be = break_even(1.0, 400e6, 4.0, 100e6)
        self.assertEqual(be, {"wins": "below", "link": 100e6})
        L = be["link"]
        for link in (L * 0.99, L / 10):
            self.assertLess(model_time(4.0, 100e6, link),
                            model_time(1.0, 400e6, link))
        for link in (L * 1.01, L * 10, 0):
            self.assertGreater(model_time(4.0, 100e6, link),
                               model_time(1.0, 400e6, link))
        self.assertAlmostEqual(model_time(4.0, 100e6, L),
                               model_time(1.0, 400e6, L))

    def test_break_even_other_cases(self):
        self.assertEqual(break_even(2.0, 400e6, 1.0, 100e6),
                         {"wins": "always", "link": None})
        self.assertEqual(break_even(1.0, 400e6, 2.0, 500e6),
                         {"wins": "never", "link": None})
        # Faster unlimited but sends more: wins only on fast links.
        be = break_even(2.0, 400e6, 1.0, 500e6)
        self.assertEqual(be, {"wins": "above", "link": 250e6})
        self.assertLess(model_time(1.0, 500e6, 300e6),
                        model_time(2.0, 400e6, 300e6))
        self.assertGreater(model_time(1.0, 500e6, 200e6),
                           model_time(2.0, 400e6, 200e6))

    def test_units(self):
        self.assertEqual(methods.mib_s(2 * MiB), 2.0)
        self.assertEqual(methods.mbit_s(125e6), 1000.0)

    def test_ranking(self):
        self.assertEqual(ranking({"a": 3.0, "b": None, "c": 1.0, "d": 3.0}),
                         [("c", 1.0), ("a", 3.0), ("d", 3.0)])


if __name__ == "__main__":
    unittest.main()
