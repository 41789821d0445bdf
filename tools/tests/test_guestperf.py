"""guestperf's engine patch and its report's summary."""

import unittest

from migrate_tools import Failure, guestperf

ENGINE = '''\
            if self._max_time_reached():
                src.command("migrate_cancel")
            progress_history.append(progress)
            progress_history.append(progress)
            src.shutdown()
            dst.shutdown()

            return Report(hardware, scenario, progress_history,
'''


class TestGuestperf(unittest.TestCase):
    def test_patch(self):
        s = guestperf.patch_engine(ENGINE)
        self.assertIn("                except Exception as _e:\n", s)
        self.assertNotIn("            src.shutdown()\n", s)
        self.assertIn("if progress._ram._total_bytes:\n"
                      "                    progress_history.append(progress)\n"
                      '                src.command("migrate_cancel")', s)

    def test_patch_refuses_other_sources(self):
        with self.assertRaisesRegex(Failure, "unexpected source"):
            guestperf.patch_engine("print('hello')\n")
        no_cancel = ENGINE.replace('src.command("migrate_cancel")', "pass")
        with self.assertRaisesRegex(Failure, "cancel"):
            guestperf.patch_engine(no_cancel)

    def test_summarize(self):
        j = {"progress_history": [
            {"status": "active", "duration": 900, "downtime": 0,
             "ram": {"total_bytes": 1 << 30, "iterations": 3,
                     "transferred_bytes": 5 << 20}},
            {"status": "cancelled", "duration": 1000, "ram": {}}],
            "guest_timings": [{"value": 1200}, {"value": 1000},
                              {"value": 1100}, {"value": 1300}]}
        s = guestperf.summarize(j)
        self.assertEqual(s["status"], "cancelled")
        self.assertFalse(s["converged"])
        self.assertEqual(s["total_time_ms"], 900)     # last record with RAM
        self.assertEqual(s["transferred_bytes"], 5 << 20)
        self.assertEqual(s["guest_ms_per_gib_median"], 1150)
        self.assertEqual(s["guest_timings"], 4)

    def test_wrapper_and_args(self):
        self.assertIn("q=/q/stock\n", guestperf.WRAPPER.format(qemu="/q/stock"))
        self.assertEqual(guestperf.args_text(1, 2, 8),
                         "--mem 1 (RAM 1 GiB + 512 MiB), 1 vCPU, --sleep 2, "
                         "--max-time 8, --max-iters 30, --bandwidth 0, "
                         "--downtime 300, --compression-mt-threads 2")


if __name__ == "__main__":
    unittest.main()
