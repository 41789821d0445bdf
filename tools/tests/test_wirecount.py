"""The wire-count shim: its report, and a real count on a socketpair."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from migrate_tools import wirecount

CHILD = r'''
import os, socket, sys
a, b = socket.socketpair()
c, d = socket.socketpair(socket.AF_UNIX)
a.sendall(b"x" * 100000)
got = 0
while got < 100000:
    got += len(b.recv(65536))
c.sendall(b"y" * 10)
os.read(d.fileno(), 10)          # read() on a socket counts too
r, w = os.pipe()
os.write(w, b"z" * 50)
os.read(r, 50)                   # a pipe does not
srv = socket.socket(socket.AF_UNIX)
srv.bind(sys.argv[1])            # QT_WIRE_EXCLUDE: counted apart
srv.listen(1)
cl = socket.socket(socket.AF_UNIX)
cl.connect(sys.argv[1])
conn, _ = srv.accept()
cl.sendall(b"q" * 7)
conn.recv(100)
conn.close()                     # its fd number, reused, is looked up again
e, f = socket.socketpair()
e.sendall(b"r" * 5)
f.recv(100)
'''


class TestParse(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(wirecount.parse(
            "migration_bytes 10\nmigration_calls 2\nother_bytes 3\n"
            "other_calls 3\n"), {"migration_bytes": 10, "migration_calls": 2,
                                 "other_bytes": 3, "other_calls": 3})
        self.assertIsNone(wirecount.parse("migration_bytes 10\n"))
        self.assertIsNone(wirecount.read("/nonexistent/wire"))

    def test_env(self):
        e = wirecount.env("/x/w.so", "/x/out", "/x/q.qmp")
        self.assertEqual(e["QT_WIRE_OUT"], "/x/out")
        self.assertEqual(e["QT_WIRE_EXCLUDE"], "/x/q.qmp")
        self.assertTrue(e["LD_PRELOAD"].startswith("/x/w.so"))


@unittest.skipUnless(shutil.which("cc"), "no cc")
class TestShim(unittest.TestCase):
    def test_counts_sockets_only(self):
        with tempfile.TemporaryDirectory() as d:
            so = wirecount.build(d)
            out = os.path.join(d, "wire")
            qmp = os.path.join(d, "q.sock")
            env = dict(os.environ, **wirecount.env(so, out, qmp))
            subprocess.run([sys.executable, "-c", CHILD, qmp], env=env,
                           check=True)
            got = wirecount.read(out)
        self.assertIsNotNone(got)
        # The interpreter reads nothing else from sockets.
        self.assertEqual(got["migration_bytes"], 100015)
        self.assertEqual(got["other_bytes"], 7)


if __name__ == "__main__":
    unittest.main()
