"""The migration engine's poll loop (against a scripted QMP, no QEMU) and
its typed result."""

import unittest

from migrate_tools import GiB, MiB, Failure, engine


class FakeQMP:
    """Answers query-migrate from a script: each answer is a dict, or a
    function of the commands seen so far; the last one repeats."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.cmds = []

    def cmd(self, name, **kw):
        self.cmds.append((name, kw))
        if name != "query-migrate":
            return {}
        a = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return a(self.cmds) if callable(a) else a


class FakeQemu:
    def __init__(self, role, answers, alive=True):
        self.role = role
        self.qmp = FakeQMP(answers)
        self.is_alive = alive
        self.proc = type("Proc", (), {"returncode": -9})()

    def alive(self):
        return self.is_alive

    def output(self):
        return "(no output)"

    def thread_groups(self):
        return {"main": 1.0, "compress": 2.5, "idle": 0.001}


class FakeMeter:
    def __init__(self):
        self.samples = 0

    def sample(self):
        self.samples += 1

    def finish(self):
        return {"src": 3.14159, "dst": 1.0}


class Clock:
    """time.monotonic and time.sleep in one: sleeping advances it."""

    def __init__(self):
        self.now = 100.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, dt):
        self.slept.append(dt)
        self.now += dt


RAM = {"total": GiB, "transferred": 10 * MiB, "remaining": GiB // 2,
       "normal": 100, "duplicate": 200, "dirty-sync-count": 1,
       "mbps": 80.5}
COMP = {"pages": 700, "busy": 50, "compressed-size": 700 * 1024,
        "busy-rate": 0.25, "compression-rate": 3.5}
ACTIVE = {"status": "active", "total-time": 500, "ram": RAM,
          "compression": COMP}
DONE = {"status": "completed", "total-time": 2000, "downtime": 30,
        "setup-time": 4, "ram": dict(RAM, remaining=0,
                                     **{"dirty-sync-count": 3}),
        "compression": COMP}


def run(answers, dst_answers=({"status": "completed"},), dst_alive=True,
        **kw):
    clock = Clock()
    src = FakeQemu("src", answers)
    dst = FakeQemu("dst", dst_answers, dst_alive)
    meter = FakeMeter()
    res = engine.migrate(src, dst, "unix:/m.sock", meter=meter, clock=clock,
                         sleep=clock.sleep, **kw)
    return res, src, dst, meter, clock


class TestLoop(unittest.TestCase):
    def test_completed(self):
        # completed before total-time is set: re-queried (settled).
        res, src, dst, meter, clock = run(
            [{"status": "setup"}, ACTIVE, ACTIVE,
             {"status": "completed", "total-time": 0}, DONE])
        self.assertEqual(src.qmp.cmds[0], ("migrate",
                                           {"uri": "unix:/m.sock"}))
        self.assertEqual((res.status, res.dst_status), ("completed",
                                                        "completed"))
        self.assertTrue(res.converged)
        self.assertFalse(res.cancelled_by_cap)
        self.assertEqual((res.total_time_ms, res.downtime_ms,
                          res.setup_time_ms, res.iterations),
                         (2000, 30, 4, 3))
        self.assertEqual(res.ram_total_bytes, GiB)
        self.assertEqual(res.mbps, 80.5)
        self.assertEqual(len(res.samples), 4)       # one per poll
        self.assertEqual(meter.samples, 4)
        self.assertEqual([s["status"] for s in res.samples],
                         ["setup", "active", "active", "completed"])
        self.assertEqual(clock.slept, [0.1, 0.1, 0.1])
        self.assertEqual(res.cpu_s, {"src": 3.142, "dst": 1.0})
        self.assertEqual(res.thread_cpu_s["src"], {"compress": 2.5,
                                                   "main": 1.0})
        self.assertEqual(res.wall_s, 0.3)
        self.assertEqual(res.mib_s(), 512.0)        # 1 GiB in 2 s
        self.assertEqual(res.cpu_s_per_gib(), {"src": 3.142, "dst": 1.0})
        # The destination was asked until it completed too.
        self.assertIn(("query-migrate", {}), dst.qmp.cmds)

    def test_cap_cancels(self):
        def after_cancel(cmds):
            if ("migrate_cancel", {}) in cmds:
                return {"status": "cancelled"}
            return ACTIVE
        res, src, dst, _, clock = run([after_cancel], cap=1.0)
        self.assertEqual(src.qmp.cmds.count(("migrate_cancel", {})), 1)
        self.assertTrue(res.cancelled_by_cap)
        self.assertEqual((res.status, res.dst_status), ("cancelled", None))
        self.assertFalse(res.converged)
        # Figures from the last poll that had them, without downtime.
        self.assertEqual(res.total_time_ms, 500)
        self.assertIsNone(res.downtime_ms)
        self.assertEqual(res.transferred_bytes, 10 * MiB)
        self.assertIsNone(res.mib_s())
        self.assertNotIn("mib_s", res.to_dict())
        self.assertEqual(dst.qmp.cmds, [])          # not asked

    def test_cap_grace(self):
        with self.assertRaisesRegex(Failure, "neither finished nor "
                                    "cancelled 2 s after the cap"):
            run([ACTIVE], cap=1.0, grace=2.0, label="lab")

    def test_slow_polls_after_5s(self):
        answers = [ACTIVE] * 60 + [DONE]
        _, _, _, _, clock = run(answers)
        self.assertEqual(clock.slept[0], engine.FAST_POLL)
        self.assertEqual(clock.slept[-1], engine.SLOW_POLL)

    def test_destination_exits(self):
        with self.assertRaisesRegex(Failure, "destination QEMU \\(dst\\) "
                                    "exited during migration"):
            run([ACTIVE, DONE], dst_alive=False)
        # Unless the caller kills it on purpose.
        res = run([ACTIVE, {"status": "failed", "error-desc": "EOF"}],
                  dst_alive=False, dst_must_live=False)[0]
        self.assertEqual((res.status, res.error_desc), ("failed", "EOF"))
        self.assertEqual(res.transferred_bytes, 10 * MiB)

    def test_on_poll(self):
        seen = []
        run([{"status": "setup"}, ACTIVE, ACTIVE, DONE],
            on_poll=lambda info, t, ta: seen.append(
                (info["status"], round(t, 2),
                 None if ta is None else round(ta, 2))))
        # Not called on the final poll; t_active from the first active.
        self.assertEqual(seen, [("setup", 0.0, None), ("active", 0.1, 0.0),
                                ("active", 0.2, 0.1)])


class TestResult(unittest.TestCase):
    def test_compression(self):
        c = engine.compression_of({"ram": RAM, "compression": COMP})
        self.assertEqual(c.busy_rate_overall, 0.05)    # 50 / 1000 pages
        self.assertEqual(c.ratio, 4.0)                 # 4096 / 1024
        self.assertEqual((c.qemu_busy_rate_last,
                          c.qemu_compression_rate_last), (0.25, 3.5))
        self.assertIsNone(engine.compression_of({"ram": RAM}))

    def test_round_trip(self):
        res = engine.result_of(DONE, dst_status="completed", wall=2.5,
                               cpu={"src": 1.0, "dst": 2.0},
                               groups={"src": {}, "dst": {}})
        d = res.to_dict()
        self.assertTrue(d["converged"])
        self.assertEqual(d["compression"]["busy_rate_overall"], 0.05)
        self.assertEqual(engine.Result.from_dict(d), res)

    def test_old_names(self):
        # A migrate-demo summary's "migration" before the engine.
        old = {"status": "completed", "total_time_ms": 2000,
               "wall_seconds": 2.1,
               "cpu_seconds_during": {"src": 1.5, "dst": 0.5},
               "thread_cpu_seconds": {"src": {"compress": 1.0}, "dst": {}},
               "compression": {"pages": 10, "compressed_bytes": 9000,
                               "ratio": 4.55, "busy": 1, "busy_rate": 0.1,
                               "qemu_last_ratio": 3.0,
                               "qemu_last_busy_rate": 0.2}}
        res = engine.Result.from_dict(old)
        self.assertEqual(res.wall_s, 2.1)
        self.assertEqual(res.cpu_s, {"src": 1.5, "dst": 0.5})
        self.assertEqual(res.thread_cpu_s["src"], {"compress": 1.0})
        self.assertEqual(res.compression.busy_rate_overall, 0.1)
        self.assertEqual(res.compression.qemu_compression_rate_last, 3.0)
        self.assertEqual(res.compression.qemu_busy_rate_last, 0.2)
        new = engine.upgrade(old)
        self.assertNotIn("cpu_seconds_during", new)
        self.assertEqual(engine.upgrade(new), new)
        self.assertIn("busy_rate", old["compression"])   # not modified

    def test_sample(self):
        s = engine.progress_sample({"status": "active", "ram": {
            "transferred": 7, "remaining": 3, "dirty-sync-count": 1,
            "dirty-pages-rate": 9}}, 1.234)
        self.assertEqual(s, {"t": 1.23, "status": "active", "transferred": 7,
                             "remaining": 3, "iterations": 1,
                             "dirty_pages_rate": 9, "busy": None,
                             "busy_rate": None})


if __name__ == "__main__":
    unittest.main()
