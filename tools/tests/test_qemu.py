"""QEMU command lines and CPU time from /proc."""

import os
import unittest

from migrate_tools import qemu


class TestStat(unittest.TestCase):
    def test_ticks_after_a_tricky_name(self):
        # comm may hold spaces and parentheses: fields count from the last ')'.
        rest = ["S"] + ["0"] * 10 + ["150", "25"] + ["0"] * 30
        line = "1234 (CPU 0/TCG) (x) " + " ".join(rest) + "\n"
        self.assertEqual(qemu.stat_cpu_ticks(line), 175)

    def test_own_process(self):
        with open("/proc/self/stat") as f:
            self.assertGreaterEqual(qemu.stat_cpu_ticks(f.read()), 0)
        self.assertIsNotNone(qemu.cpu_seconds(os.getpid()))
        self.assertIsNone(qemu.cpu_seconds(2 ** 30))
        threads = qemu.thread_cpu(os.getpid())
        self.assertIn(str(os.getpid()), threads)


class TestThreadGroups(unittest.TestCase):
    def test_group_names(self):
        g = qemu.thread_group
        self.assertEqual(g("100", 100, "qemu-system-x86"), "main")
        self.assertEqual(g("101", 100, "compress/3"), "compress")
        self.assertEqual(g("102", 100, "CPU 0/TCG"), "CPU 0/TCG")
        self.assertEqual(g("103", 100, "worker 12"), "worker")
        self.assertEqual(g("104", 100, "live_migration"), "live_migration")
        self.assertEqual(g("105", 100, "42"), "42")

    def test_sum_and_deltas(self):
        threads = {"100": ("qemu", 5.0), "101": ("compress/0", 2.0),
                   "102": ("compress/1", 3.0)}
        self.assertEqual(qemu.sum_groups(threads, 100),
                         {"main": 5.0, "compress": 5.0})
        base = {"100": ("qemu", 4.0), "101": ("compress/0", 1.5)}
        self.assertEqual(qemu.thread_deltas(threads, base),
                         {"100": ("qemu", 1.0), "101": ("compress/0", 0.5),
                          "102": ("compress/1", 3.0)})


class TestArgv(unittest.TestCase):
    def test_source(self):
        v = qemu.guest_argv("/k", "/i", "console=ttyS0", 128)
        self.assertEqual(v, [
            "-nographic", "-nodefaults", "-no-user-config",
            "-machine", "pc-i440fx-7.2", "-accel", "tcg", "-m", "128",
            "-smp", "1", "-no-reboot", "-kernel", "/k", "-initrd", "/i",
            "-append", "console=ttyS0"])

    def test_destination(self):
        v = qemu.guest_argv("/k", "/i", "c", 256, accel="kvm", smp=2,
                            cpu="host", incoming=True)
        self.assertEqual(v[-3:], ["-incoming", "defer", "-S"])
        self.assertIn("-cpu", v)
        self.assertEqual(v[v.index("-cpu") + 1], "host")
        self.assertEqual(v[v.index("-smp") + 1], "2")
        v = qemu.guest_argv("/k", "/i", "c", 256, incoming=True,
                            paused=False)
        self.assertEqual(v[-2:], ["-incoming", "defer"])
        self.assertNotIn("-cpu", v)

    def test_qemu_adds_qmp_and_serial(self):
        q = qemu.Qemu("dst1", "/bin/qemu", "/run", ["-m", "64"])
        self.assertEqual(q.argv[:3], ["/bin/qemu", "-name",
                                      "dst1,debug-threads=on"])
        self.assertIn("socket,id=qmp,path=/run/dst1.qmp,server=on,wait=off",
                      q.argv)
        self.assertEqual(q.argv[-2:], ["-m", "64"])
        self.assertEqual(q.serial, "/run/dst1.serial")


if __name__ == "__main__":
    unittest.main()
