"""The benchmark's run records."""

import contextlib
import io
import unittest

from migrate_tools import GiB, MiB, bench, engine
from migrate_tools.methods import NAMES


def record(info, st="completed", dst_status="completed"):
    res = engine.result_of(dict(info, status=st), dst_status=dst_status,
                           wall=1.23456, cpu={"src": 2.0, "dst": None},
                           groups={"src": {}, "dst": {}},
                           guest_ram_bytes=256 * MiB)
    return bench.run_record(res, label="throughput-t2-won", build="patched",
                            qemu="/q", cap_s=600, threads=2,
                            decompress_threads=2, wait_thread=True,
                            max_bandwidth_mib_s=0, ram_mib=256,
                            cmdline="console=ttyS0", guest_dirtied=None)


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
        # The run's context first, then the engine's figures.
        self.assertEqual(list(r)[:3], ["label", "build", "qemu"])
        self.assertEqual((r["threads"], r["cap_s"], r["ram_mib"]),
                         (2, 600, 256))

    def test_not_converged(self):
        r = record({"status": "cancelled", "total-time": 20000}, "cancelled",
                   None)
        self.assertFalse(r["converged"])
        self.assertNotIn("mib_s", r)
        self.assertIsNone(r["compression"])
        self.assertEqual(r["ram_total_bytes"], 256 * MiB)  # the guest's RAM


class TestArgs(unittest.TestCase):
    def test_modes(self):
        a = bench.parse_args(["--smoke", "--only", "live,wait"])
        self.assertEqual((a.mode, a.only), ("smoke", ["live", "wait"]))
        a = bench.parse_args(["--rates", "8,16"])
        self.assertEqual((a.mode, a.rates), ("full", [8, 16]))
        self.assertEqual(a.only, list(bench.DEFAULT_ONLY))
        self.assertEqual(a.hogs, 0)

    def test_new_options(self):
        a = bench.parse_args(["--only", "pinned,links", "--methods",
                              "multifd-zstd,none", "--links", "0,12.5e6",
                              "--hogs", "2", "--threads", "2"])
        self.assertEqual(a.only, ["pinned", "links"])
        self.assertEqual(a.methods, ["none", "multifd-zstd"])  # canonical
        self.assertEqual(a.links, [0, 12500000])
        self.assertEqual((a.hogs, a.threads), (2, [2]))

    def test_bad_options(self):
        for argv in (["--methods", "gzip"], ["--links", "fast"],
                     ["--hogs", "-1"], ["--threads", "0"],
                     ["--only", "pinnned"]):
            with self.assertRaises(SystemExit, msg=argv), \
                    contextlib.redirect_stderr(io.StringIO()):
                bench.parse_args(argv)


class TestHelpers(unittest.TestCase):
    def test_needed_builds(self):
        self.assertEqual(bench.needed_builds(["throughput"], NAMES),
                         ["patched", "stock"])
        self.assertEqual(bench.needed_builds(["links"], NAMES),
                         ["stock", "patched-zlib", "patched"])
        self.assertEqual(bench.needed_builds(
            ["pinned"], ["none", "patched-libdeflate"]), ["stock", "patched"])
        self.assertEqual(bench.needed_builds(["live", "pinned"], NAMES),
                         ["patched", "stock", "patched-zlib"])

    def test_wire_fields(self):
        self.assertEqual(bench.wire_fields(None), {
            "wire_bytes": None, "qmp_bytes_in": None, "wire": None})
        w = {"migration_bytes": 9, "migration_calls": 1, "other_bytes": 4,
             "other_calls": 4}
        self.assertEqual(bench.wire_fields(w)["wire_bytes"], 9)
        self.assertEqual(bench.wire_fields(w)["qmp_bytes_in"], 4)

    def test_link_tag(self):
        self.assertEqual([bench.link_tag(x) for x in (0, 125000000,
                                                      12500000)],
                         ["inf", "125M", "12.5M"])

    def test_hogs(self):
        h = bench.Hogs(1)
        with contextlib.redirect_stderr(io.StringIO()):
            h.start()
            p = h.procs[0]
            self.assertIsNone(p.poll())
            h.stop()
        self.assertIsNotNone(p.poll())
        self.assertEqual(h.procs, [])


if __name__ == "__main__":
    unittest.main()
