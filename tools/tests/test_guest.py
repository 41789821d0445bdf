"""The initramfs cpio, the kernel package and command line, the serial
console parser."""

import os
import tempfile
import unittest

from migrate_tools import guest


def read_newc(data):
    """[(name, mode, rdevmajor, rdevminor, data)] of a newc archive,
    checking its alignment; stops at the trailer."""
    out = []
    pos = 0
    while True:
        assert data[pos:pos + 6] == b"070701", data[pos:pos + 6]
        f = [int(data[pos + 6 + 8 * i:pos + 14 + 8 * i], 16)
             for i in range(13)]
        mode, filesize, maj, mnr, namesize = f[1], f[6], f[9], f[10], f[11]
        pos += 110
        name = data[pos:pos + namesize - 1].decode()
        assert data[pos + namesize - 1] == 0
        pos += namesize
        pos += -pos % 4
        body = data[pos:pos + filesize]
        pos += filesize
        pos += -pos % 4
        if name == "TRAILER!!!":
            return out, pos
        out.append((name, mode, maj, mnr, body))


class TestCpio(unittest.TestCase):
    def test_roundtrip(self):
        init = b"\x7fELF" + bytes(range(256)) * 3 + b"odd"
        data = guest.cpio_newc(guest.initramfs_entries(init))
        self.assertEqual(len(data) % 512, 0)
        entries, end = read_newc(data)
        self.assertEqual(data[end:], bytes(len(data) - end))
        self.assertEqual([e[0] for e in entries],
                         ["dev", "dev/console", "proc", "sys", "init"])
        byname = {e[0]: e for e in entries}
        self.assertEqual(byname["dev/console"][1:4], (0o020600, 5, 1))
        self.assertEqual(byname["init"][1], 0o100755)
        self.assertEqual(byname["init"][4], init)
        self.assertEqual(byname["proc"][1], 0o040555)

    def test_empty(self):
        data = guest.cpio_newc([])
        self.assertEqual(read_newc(data)[0], [])
        self.assertEqual(len(data), 512)

    def test_key(self):
        k = guest.initramfs_key(b"int main;", "12.2.0")
        self.assertEqual(len(k), 16)
        self.assertEqual(k, guest.initramfs_key(b"int main;", "12.2.0"))
        self.assertNotEqual(k, guest.initramfs_key(b"int main;", "12.3.0"))
        self.assertNotEqual(k, guest.initramfs_key(b"int main; ", "12.2.0"))

    def test_workload_source_exists(self):
        from migrate_tools import ROOT
        self.assertTrue(os.path.isfile(os.path.join(ROOT, guest.WORKLOAD_C)))


class TestKernel(unittest.TestCase):
    def test_package(self):
        out = ("linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n"
               "  Depends: <linux-image-6.1-x>\n")
        self.assertEqual(guest.kernel_package(out),
                         "linux-image-6.1.0-56-amd64")
        self.assertIsNone(guest.kernel_package(""))

    def test_cmdline(self):
        self.assertEqual(
            guest.kernel_cmdline(64, 16, 128),
            "console=ttyS0 quiet panic=-1 mitigations=off workload.ws=64 "
            "workload.rate=16 workload.vrate=128")
        self.assertTrue(guest.kernel_cmdline(48, 8, 16, random_pct=10,
                                             idle=True).endswith(
            " workload.vrate=16 workload.random=10 workload.idle=1"))

    def test_cache_dir(self):
        self.assertEqual(guest.cache_dir("/x/y/"), "/x/y")


HB = b"workload: hb t=%d written=%d verified=7 passes=%d corrupt=%d"


class TestConsole(unittest.TestCase):
    def console(self):
        return guest.Console("/nonexistent", "dst1", False)

    def test_lines(self):
        c = self.console()
        c.feed(b"[    0.1] boot\r\nworkload: ready fill=12.5s\r\n"
               b"workload: page idx=3 paddr=0x2908000\n" + HB % (1, 10, 0, 0)
               + b"\n\x1b[0mworkload: CORRUPT idx=3 paddr=0x2908000 seq=2\n"
               + HB % (2, 20, 1, 1) + b"\nhalf a li")
        self.assertTrue(c.ready)
        self.assertEqual(c.ready_fill(), "12.5s")
        self.assertEqual(c.pages, [(3, 0x2908000)])
        self.assertEqual(len(c.hbs), 2)
        self.assertEqual(c.last_hb(), dict(t=2, written=20, verified=7,
                                           passes=1, corrupt=1))
        self.assertEqual(c.corrupt,
                         ["workload: CORRUPT idx=3 paddr=0x2908000 seq=2"])
        self.assertIsNone(c.fatal)
        self.assertEqual(c.part, b"half a li")
        c.feed(b"ne\n")
        self.assertEqual(c.lines[-1], b"half a line")

    def test_oops_and_panic(self):
        c = self.console()
        self.assertEqual(c.ready_fill(), "?")
        c.feed(b"ok\n[    5.0] list_add corruption. next->prev\n"
               b"[    5.1] trace\n[    5.2] Kernel panic - not syncing\n")
        self.assertEqual(c.oops_at, 1)
        self.assertIn("list_add corruption", c.oops(2))
        self.assertEqual(c.fatal, "[    5.2] Kernel panic - not syncing")
        self.assertEqual(c.tail(1), "    [    5.2] Kernel panic - not syncing")

    def test_heartbeat_parser(self):
        self.assertIsNone(guest.parse_heartbeat(b"workload: hb t=1"))
        self.assertEqual(guest.parse_heartbeat(HB % (9, 8, 7, 6))["corrupt"],
                         6)

    def test_poll_reads_what_was_added(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "serial")
            c = guest.Console(path, "src", False)
            c.poll()    # no file yet
            with open(path, "ab") as f:
                f.write(HB % (1, 1, 0, 0) + b"\nworkload: re")
            c.poll()
            with open(path, "ab") as f:
                f.write(b"ady\n")
            c.poll()
            self.assertEqual(len(c.hbs), 1)
            self.assertTrue(c.ready)
            self.assertEqual(guest.wait_ready(c, 1, 5, lambda: None), None)
            self.assertFalse(guest.wait_heartbeats(c, 1, 0.05, 0.01))


if __name__ == "__main__":
    unittest.main()
