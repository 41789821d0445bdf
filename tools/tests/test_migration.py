"""Migration setup and status polling against a scripted QMP."""

import unittest

from migrate_tools import Failure, migration
from migrate_tools.migration import Compress, Multifd
from migrate_tools.qmp import QMPError


class ScriptedQMP:
    """cmd() records each call; query-migrate answers come from a list
    (the last repeats)."""

    def __init__(self, statuses=(), infos=None):
        self.calls = []
        self.infos = list(infos or [{"status": s} for s in statuses])

    def cmd(self, name, **args):
        self.calls.append((name, args))
        if name == "query-migrate":
            return self.infos.pop(0) if len(self.infos) > 1 else self.infos[0]
        return {}


class TestSetup(unittest.TestCase):
    def test_parameters(self):
        self.assertEqual(migration.parameters(), {})
        self.assertEqual(
            migration.parameters(Compress(4, 2, 9, False), 0, 500),
            {"compress-threads": 4, "decompress-threads": 2,
             "compress-level": 9, "compress-wait-thread": False,
             "max-bandwidth": 0, "downtime-limit": 500})

    def test_configure(self):
        q = ScriptedQMP()
        migration.configure(q, Compress(), max_bandwidth=8 << 20)
        self.assertEqual(q.calls[0], ("migrate-set-capabilities", {
            "capabilities": [{"capability": "compress", "state": True}]}))
        self.assertEqual(q.calls[1][0], "migrate-set-parameters")
        self.assertEqual(q.calls[1][1]["max-bandwidth"], 8 << 20)
        q = ScriptedQMP()
        self.assertEqual(migration.configure(q), {})
        self.assertEqual(q.calls, [])   # no compress, nothing to set

    def test_multifd(self):
        self.assertEqual(migration.parameters(multifd=Multifd(2, "zstd", 1)),
                         {"multifd-channels": 2, "multifd-compression": "zstd",
                          "multifd-zstd-level": 1})
        self.assertEqual(migration.parameters(multifd=Multifd(4)),
                         {"multifd-channels": 4, "multifd-compression": "none"})
        q = ScriptedQMP()
        migration.configure_method(q, multifd=Multifd(2, "zlib", 1),
                                   max_bandwidth=12500000)
        self.assertEqual(q.calls[0], ("migrate-set-capabilities", {
            "capabilities": [{"capability": "compress", "state": False},
                             {"capability": "multifd", "state": True}]}))
        self.assertEqual(q.calls[1], ("migrate-set-parameters", {
            "multifd-channels": 2, "multifd-compression": "zlib",
            "multifd-zlib-level": 1, "max-bandwidth": 12500000}))
        q = ScriptedQMP()
        migration.configure_method(q, Compress(1, 1))
        self.assertEqual(q.calls[0][1]["capabilities"], [
            {"capability": "compress", "state": True},
            {"capability": "multifd", "state": False}])
        self.assertEqual(q.calls[1][1]["compress-threads"], 1)
        q = ScriptedQMP()
        self.assertEqual(migration.configure_method(q), {})
        self.assertEqual(len(q.calls), 1)   # both capabilities off

    def test_listen(self):
        q = ScriptedQMP(infos=[{"socket-address": [
            {"type": "unix", "path": "/x"},
            {"type": "inet", "host": "127.0.0.1", "port": "41234"}]}])
        self.assertEqual(migration.listen(q, "tcp", "/unused"),
                         "tcp:127.0.0.1:41234")
        self.assertEqual(q.calls[0], ("migrate-incoming",
                                      {"uri": "tcp:127.0.0.1:0"}))
        # Another address of the destination's (the links scenario's
        # namespace).
        q = ScriptedQMP(infos=[{"socket-address": [
            {"type": "inet", "host": "10.77.0.2", "port": "40000"}]}])
        self.assertEqual(migration.listen(q, "tcp", None, host="10.77.0.2"),
                         "tcp:10.77.0.2:40000")
        self.assertEqual(q.calls[0], ("migrate-incoming",
                                      {"uri": "tcp:10.77.0.2:0"}))
        q = ScriptedQMP()
        self.assertEqual(migration.listen(q, "unix", "/run/m1.sock"),
                         "unix:/run/m1.sock")
        q = ScriptedQMP(infos=[{}])
        with self.assertRaisesRegex(Failure, "no listening port"):
            migration.listen(q, "tcp", "/unused")


class TestPolling(unittest.TestCase):
    def test_wait_status(self):
        q = ScriptedQMP(["setup", "active", "completed"])
        self.assertEqual(migration.wait_status(q, "completed", 5, 0), "completed")
        q = ScriptedQMP(["active", "cancelled"])
        self.assertEqual(migration.wait_status(q, ("cancelled", "failed"),
                                               5, 0), "cancelled")
        q = ScriptedQMP(["active", "failed"])
        with self.assertRaisesRegex(Failure, "^migration failed, wanted "
                                    "completed$"):
            migration.wait_status(q, "completed", 5, 0)
        q = ScriptedQMP(["active"])
        with self.assertRaisesRegex(Failure, "not completed after 0.05 s"):
            migration.wait_status(q, "completed", 0.05, 0.01)

    def test_poll_status(self):
        q = ScriptedQMP(["active", "active", "completed"])
        self.assertEqual(migration.poll_status(q, ("completed",), 10, 0),
                         "completed")
        self.assertEqual(len(q.calls), 3)
        q = ScriptedQMP(["active"])
        self.assertEqual(migration.poll_status(q, ("completed",), 3, 0),
                         "active")
        self.assertEqual(len(q.calls), 3)

    def test_settled(self):
        q = ScriptedQMP(infos=[{"status": "completed", "total-time": 0},
                               {"status": "completed", "total-time": 42}])
        info = migration.settled(q, {"status": "completed"})
        self.assertEqual(info["total-time"], 42)
        self.assertEqual(migration.settled(q, {"status": "failed"}),
                         {"status": "failed"})
        q = ScriptedQMP(infos=[{"status": "completed"}])
        with self.assertRaises(QMPError):
            migration.settled(q, {"status": "completed"}, timeout=0.05)


if __name__ == "__main__":
    unittest.main()
