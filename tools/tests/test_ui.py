"""The progress bar's line, and which stream each kind of line goes to."""

import contextlib
import io
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


class TestStreams(unittest.TestCase):
    """Results on stdout, everything else on stderr."""

    def run_ui(self, fn, *args):
        out, err = io.StringIO(), io.StringIO()
        saved = ui.PROG
        ui.set_prog("tool")
        try:
            with contextlib.redirect_stdout(out), \
                    contextlib.redirect_stderr(err):
                fn(*args)
        finally:
            ui.set_prog(saved)
        return out.getvalue(), err.getvalue()

    def test_log_warn_failed_on_stderr(self):
        self.assertEqual(self.run_ui(ui.log, "booting"),
                         ("", "tool: booting\n"))
        self.assertEqual(self.run_ui(ui.warn, "slow"),
                         ("", "tool: warning: slow\n"))
        self.assertEqual(self.run_ui(ui.failed, "boom"),
                         ("", "tool: FAILED: boom\n"))

    def test_result_on_stdout(self):
        self.assertEqual(self.run_ui(ui.result, "ok: done"),
                         ("tool: ok: done\n", ""))

    def test_progress_on_stderr(self):
        def bar():
            ui.Progress.show("[##..] 50%")
            ui.log("next")
        saved = ui.Progress.enabled
        ui.Progress.enabled = True
        try:
            out, err = self.run_ui(bar)
        finally:
            ui.Progress.enabled = saved
        self.assertEqual(out, "")
        self.assertEqual(err, "\r\033[K[##..] 50%\r\033[Ktool: next\n")
        self.assertFalse(ui.Progress.shown)


if __name__ == "__main__":
    unittest.main()
