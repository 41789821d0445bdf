"""The benchmark's run specs and records, arguments and helpers."""

import contextlib
import io
import unittest

from migrate_tools import GiB, MiB, bench, engine
from migrate_tools.methods import BY_NAME, NAMES

SRC = bench.Source(None, None, "patched", 256, "console=ttyS0")


def result(info, st="completed", dst_status="completed"):
    return engine.result_of(dict(info, status=st), dst_status=dst_status,
                            wall=1.23456, cpu={"src": 2.0, "dst": None},
                            groups={"src": {}, "dst": {}},
                            guest_ram_bytes=256 * MiB)


def record(info, st="completed", dst_status="completed"):
    spec = bench.RunSpec("throughput-t2-won", "throughput", 1, 600, 2, True)
    return bench.run_record(spec, SRC, "/q", result(info, st, dst_status),
                            None, cpus={"src": [0, 1], "dst": [0, 1]},
                            guest_dirtied=None)


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

    def test_context(self):
        r = record({"status": "completed", "total-time": 2000,
                    "ram": {"total": GiB // 2}})
        self.assertEqual((r["scenario"], r["rep"], r["wait_thread"],
                          r["decompress_threads"]),
                         ("throughput", 1, True, 2))
        self.assertEqual((r["max_bandwidth_mib_s"],
                          r["max_bandwidth_bytes_s"]), (0, 0))
        self.assertEqual((r["wire_bytes"], r["cmdline"]),
                         (None, "console=ttyS0"))
        self.assertEqual(r["cpus"], {"src": [0, 1], "dst": [0, 1]})
        self.assertNotIn("method", r)
        self.assertNotIn("link_bytes_s", r)

    def test_live_spec(self):
        spec = bench.RunSpec("live-r8-bw8-won", "live", 0, 20, 2, True,
                             bandwidth_mib_s=8,
                             extra={"dirty_rate_mib_s": 8})
        self.assertEqual(spec.max_bandwidth, 8 * MiB)
        c, m = spec.settings()
        self.assertEqual((c.threads, c.wait_thread, m), (2, True, None))
        r = bench.run_record(spec, SRC, "/q", result({}), None)
        self.assertEqual((r["max_bandwidth_mib_s"], r["dirty_rate_mib_s"]),
                         (8, 8))

    def test_method_spec(self):
        tbf = {"rate_bytes_s": 12500000, "burst_bytes": 65536,
               "latency_ms": 20}
        spec = bench.RunSpec("links-paused-12.5M-multifd-zstd", "links", 2,
                             600, 2, method=BY_NAME["multifd-zstd"],
                             link=12500000,
                             extra={"guest": "paused", "shaping": "tbf",
                                    "tbf": tbf})
        # QEMU's max-bandwidth stays unlimited: the link is tbf's.
        self.assertEqual(spec.max_bandwidth, 0)
        r = bench.run_record(spec, SRC, "/q", result({}),
                             {"migration_bytes": 9, "migration_calls": 1,
                              "other_bytes": 4, "other_calls": 4},
                             transport="tcp")
        self.assertEqual((r["method"], r["link_bytes_s"], r["shaping"],
                          r["tbf"], r["transport"]),
                         ("multifd-zstd", 12500000, "tbf", tbf, "tcp"))
        self.assertEqual(r["multifd"], {"channels": 2, "compression": "zstd",
                                        "level": 1})
        self.assertEqual((r["threads"], r["decompress_threads"]),
                         (None, None))
        self.assertEqual((r["wire_bytes"], r["rep"], r["guest"]),
                         (9, 2, "paused"))
        spec = bench.RunSpec("pinned-patched-isal", "pinned", 0, 600, 1,
                             method=BY_NAME["patched-isal"], dst_cpus=[1])
        c, m = spec.settings()
        self.assertEqual((c.threads, c.decompress_threads, m), (1, 1, None))
        r = bench.run_record(spec, SRC, "/q", result({}), None)
        self.assertEqual((r["threads"], r["multifd"], r["link_bytes_s"],
                          r["compress_level"]), (1, None, 0, 1))
        spec.method = BY_NAME["patched-isal-2"]
        r = bench.run_record(spec, SRC, "/q", result({}), None)
        self.assertEqual((r["method"], r["compress_level"]),
                         ("patched-isal-2", 2))

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
        a = bench.parse_args(["--methods", "libvirt"])
        self.assertEqual(a.methods, ["none", "stock-zlib", "patched-zlib",
                                     "patched-libdeflate", "patched-isal", "patched-isal-2",
                                     "multifd"])
        self.assertIsNone(a.libdeflate_qemu)

    def test_mode_settings(self):
        self.assertEqual(bench.MODES["full"]["links"],
                         [0, 1250000000, 125000000, 12500000])
        self.assertEqual(bench.MODES["quick"]["links"],
                         bench.MODES["full"]["links"])
        self.assertEqual(bench.MODES["smoke"]["links"], [0, 12500000])
        self.assertEqual([bench.MODES[m]["links_reps"]
                          for m in ("full", "quick", "smoke")], [3, 1, 1])
        self.assertEqual(bench.DEFAULT_ONLY,
                         ("throughput", "live", "wait", "guestperf"))

    def test_steps(self):
        # Every scenario has a step, and every step's scenarios exist.
        named = [n for names, _ in bench.STEPS for n in names]
        self.assertEqual(set(named), set(bench.SCENARIO_BY_NAME))
        self.assertEqual([s.name for s in bench.SCENARIOS if s.root],
                         ["links"])

    def test_help(self):
        out = io.StringIO()
        with self.assertRaises(SystemExit), contextlib.redirect_stdout(out):
            bench.parse_args(["--help"])
        text = out.getvalue()
        self.assertIn("--libdeflate-qemu PATH", text)
        self.assertIn("`qemu/build-qemu --no-isal | tail -1`", text)
        self.assertIn("tbf", text)

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
                         ["stock", "patched-zlib", "patched-libdeflate",
                          "patched"])
        self.assertEqual(bench.needed_builds(
            ["pinned"], ["none", "patched-isal"]), ["stock", "patched"])
        self.assertEqual(bench.needed_builds(
            ["live", "pinned"], ["none", "patched-libdeflate"]),
            ["patched", "stock", "patched-libdeflate"])

    def test_preflight(self):
        self.assertIsNone(bench.preflight(["throughput", "pinned"]))
        why = bench.preflight(["links"])
        if bench.os.geteuid() != 0:
            self.assertIn("needs root", why)
        else:
            self.assertTrue(why is None or "iproute2" in why, why)

    def test_wire_fields(self):
        self.assertEqual(bench.wire_fields(None), {
            "wire_bytes": None, "qmp_bytes_in": None, "wire": None})
        w = {"migration_bytes": 9, "migration_calls": 1, "other_bytes": 4,
             "other_calls": 4}
        self.assertEqual(bench.wire_fields(w)["wire_bytes"], 9)
        self.assertEqual(bench.wire_fields(w)["qmp_bytes_in"], 4)

    def test_link_tag(self):
        self.assertEqual([bench.link_tag(x) for x in (0, 1250000000,
                                                      125000000, 12500000)],
                         ["inf", "1250M", "125M", "12.5M"])

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
