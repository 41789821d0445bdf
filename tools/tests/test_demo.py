"""The demo's arguments."""

import contextlib
import io
import unittest

from migrate_tools import demo


class TestArgs(unittest.TestCase):
    def test_defaults(self):
        a = demo.parse_args([])
        self.assertEqual((a.compress_threads, a.decompress_threads,
                          a.compress_level, a.compress_wait_thread),
                         (2, 2, 1, "on"))
        self.assertEqual((a.ram, a.ws, a.rate, a.vrate), (256, 64, 16, 128))
        self.assertEqual(a.inject_corruption, 0)
        self.assertEqual(demo.parse_args(["--inject-corruption"])
                         .inject_corruption, 4)

    def test_bad(self):
        for argv, msg in ((["--ws", "500"], "--ws must be 1..208 MiB"),
                          (["--compress-level", "10"], "must be 0..9"),
                          (["--inject-corruption", "--no-compare"],
                           "needs the RAM comparison")):
            err = io.StringIO()
            with contextlib.redirect_stderr(err), \
                    self.assertRaises(SystemExit) as e:
                demo.parse_args(argv)
            self.assertEqual(e.exception.code, 2)
            lines = err.getvalue().splitlines()
            self.assertEqual(len(lines), 1)
            self.assertTrue(lines[0].startswith("migrate-demo: error: "))
            self.assertIn(msg, lines[0])
            self.assertTrue(lines[0].endswith(" (see --help)"))

    def test_help_states_defaults(self):
        # Every compress flag says what it does and its default.
        out = io.StringIO()
        with contextlib.redirect_stdout(out), self.assertRaises(SystemExit):
            demo.parse_args(["--help"])
        text = " ".join(out.getvalue().split())
        for flag in ("--compress-threads N", "--decompress-threads N",
                     "--compress-level 0-9", "--compress-wait-thread {on,off}",
                     "--no-compress"):
            after = text.split(f" {flag} ", 1)[1]
            self.assertIn("(default", after.split(" --", 1)[0], flag)

    def test_compress_settings(self):
        d = demo.Demo(demo.parse_args(["--compress-threads", "4",
                                       "--compress-wait-thread", "off"]))
        self.assertEqual((d.compress.threads, d.compress.wait_thread),
                         (4, False))
        self.assertIsNone(demo.Demo(demo.parse_args(["--no-compress"]))
                          .compress)


if __name__ == "__main__":
    unittest.main()
