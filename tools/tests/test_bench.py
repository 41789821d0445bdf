"""The benchmark's run records."""

import unittest

from migrate_tools import GiB, MiB, bench


class FakeSource:
    ram = 256
    cmdline = "console=ttyS0"


def record(info, st="completed", dst_status="completed"):
    return bench.run_record(
        info, FakeSource(), {"src": 2.0, "dst": None}, {"src": {}, "dst": {}},
        [], None, label="throughput-t2-won", build="patched", qemu="/q",
        st=st, dst_status=dst_status, cancelled_by_cap=False, cap=600,
        threads=2, wait_thread=True, bandwidth=0, wall=1.23456)


class TestRecord(unittest.TestCase):
    def test_converged(self):
        info = {"status": "completed", "total-time": 2000, "downtime": 5,
                "ram": {"total": GiB // 2, "transferred": 100 * MiB,
                        "normal": 10, "duplicate": 30,
                        "dirty-sync-count": 3},
                "compression": {"pages": 60, "busy": 5,
                                "compressed-size": 123}}
        r = record(info)
        self.assertTrue(r["converged"])
        self.assertEqual(r["mib_s"], 256.0)
        self.assertEqual(r["cpu_s_per_gib"], {"src": 4.0, "dst": None})
        self.assertEqual(r["compression"]["busy_rate_overall"], 0.05)
        self.assertEqual(r["wall_s"], 1.235)
        self.assertEqual(r["iterations"], 3)

    def test_not_converged(self):
        r = record({"status": "cancelled", "total-time": 20000}, "cancelled",
                   None)
        self.assertFalse(r["converged"])
        self.assertNotIn("mib_s", r)
        self.assertIsNone(r["compression"])
        self.assertEqual(r["ram_total_bytes"], 256 * MiB)  # the guest's RAM

    def test_sample(self):
        s = bench.progress_sample({"status": "active", "ram": {
            "transferred": 7, "remaining": 3, "dirty-sync-count": 1,
            "dirty-pages-rate": 9}}, 1.234)
        self.assertEqual(s, {"t": 1.23, "status": "active", "transferred": 7,
                             "remaining": 3, "iterations": 1,
                             "dirty_pages_rate": 9, "busy": None,
                             "busy_rate": None})


class TestArgs(unittest.TestCase):
    def test_modes(self):
        a = bench.parse_args(["--smoke", "--only", "live,wait"])
        self.assertEqual((a.mode, a.only), ("smoke", ["live", "wait"]))
        a = bench.parse_args(["--rates", "8,16"])
        self.assertEqual((a.mode, a.rates), ("full", [8, 16]))


if __name__ == "__main__":
    unittest.main()
