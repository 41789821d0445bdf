"""The QMP client against a fake QEMU on a socket pair."""

import json
import socket
import threading
import unittest

from migrate_tools.qmp import QMP, QMPError, split_lines

GREETING = {"QMP": {"version": {"qemu": {"major": 7, "minor": 2,
                                         "micro": 0}},
                    "capabilities": []}}


class FakeQemu:
    """Answers each command with replies(msg) -> [bytes to send]."""

    def __init__(self, replies):
        self.ours, self.theirs = socket.socketpair()
        self.replies = replies
        self.got = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        with self.theirs, self.theirs.makefile("rb") as f:
            self.talk(f)

    def talk(self, f):
        self.theirs.sendall(json.dumps(GREETING).encode() + b"\r\n")
        for line in f:
            msg = json.loads(line)
            self.got.append(msg)
            if msg["execute"] == "qmp_capabilities":
                out = [json.dumps({"return": {}, "id": msg["id"]}).encode()
                       + b"\n"]
            else:
                out = self.replies(msg)
            for chunk in out:
                self.theirs.sendall(chunk)
            if out == [b""]:
                return

    def client(self, **kw):
        return QMP(None, sock=self.ours, **kw)


def reply(msg, value):
    return (json.dumps({"return": value, "id": msg["id"]}) + "\n").encode()


class TestQMP(unittest.TestCase):
    def test_greeting_and_capabilities(self):
        fake = FakeQemu(lambda m: [reply(m, {})])
        q = fake.client()
        self.assertEqual(q.version["minor"], 2)
        self.assertEqual(fake.got[0]["execute"], "qmp_capabilities")
        q.close()

    def test_events_and_other_ids_are_skipped(self):
        def replies(m):
            ev = json.dumps({"event": "STOP", "timestamp": {}}) + "\n"
            stale = json.dumps({"return": "stale", "id": m["id"] - 1}) + "\n"
            return [ev.encode() + stale.encode() + reply(m, {"status": "ok"})]
        fake = FakeQemu(replies)
        q = fake.client()
        self.assertEqual(q.cmd("query-status"), {"status": "ok"})
        self.assertEqual([e["event"] for e in q.events], ["STOP"])
        q.close()

    def test_reply_split_across_chunks(self):
        def replies(m):
            b = reply(m, {"n": 12345})
            return [b[:3], b[3:10], b[10:]]
        fake = FakeQemu(replies)
        q = fake.client()
        self.assertEqual(q.cmd("x"), {"n": 12345})
        self.assertEqual(q.cmd("y"), {"n": 12345})
        q.close()

    def test_arguments_use_dashes(self):
        fake = FakeQemu(lambda m: [reply(m, None)])
        q = fake.client()
        q.cmd("migrate-set-parameters", compress_threads=4, uri="unix:/x")
        args = fake.got[-1]["arguments"]
        self.assertEqual(args, {"compress-threads": 4, "uri": "unix:/x"})
        self.assertNotIn("arguments", json.loads(QMP.message("stop", 1, {})))
        q.close()

    def test_error_raises(self):
        def replies(m):
            return [json.dumps({"error": {"class": "GenericError",
                                          "desc": "no such thing"},
                                "id": m["id"]}).encode() + b"\n"]
        fake = FakeQemu(replies)
        q = fake.client()
        with self.assertRaisesRegex(QMPError, "^bogus: no such thing$"):
            q.cmd("bogus")
        q.close()

    def test_closed_connection_raises(self):
        fake = FakeQemu(lambda m: [b""])
        q = fake.client()
        with self.assertRaisesRegex(QMPError, "closed"):
            q.cmd("quit")
        q.close()

    def test_timeout_raises(self):
        fake = FakeQemu(lambda m: [])
        q = fake.client(cmd_timeout=0.2)
        with self.assertRaisesRegex(QMPError, "timed out"):
            q.cmd("query-migrate")
        q.close()

    def test_no_socket(self):
        with self.assertRaisesRegex(QMPError, "no QMP socket"):
            QMP.wait_for("/nonexistent/qmp.sock", timeout=0.1)

    def test_split_lines(self):
        self.assertEqual(split_lines(b"a\nb\nc"), ([b"a", b"b"], b"c"))
        self.assertEqual(split_lines(b"partial"), ([], b"partial"))
        self.assertEqual(split_lines(b"x\n"), ([b"x"], b""))


if __name__ == "__main__":
    unittest.main()
