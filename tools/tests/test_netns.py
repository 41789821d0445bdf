"""The two-namespace hosts' pure parts: tbf's burst and commands, names,
stale namespaces, commands run in a namespace (no root needed)."""

import os
import unittest

from migrate_tools import netns


class TestTbf(unittest.TestCase):
    def test_burst(self):
        # rate / HZ (250), at least 64 KiB.
        self.assertEqual(netns.tbf_burst(1250000000), 5000000)
        self.assertEqual(netns.tbf_burst(125000000), 500000)
        self.assertEqual(netns.tbf_burst(12500000), 65536)
        self.assertEqual(netns.tbf_burst(1e5), 65536)
        self.assertEqual(netns.tbf_burst(16384001), 65537)    # rounded up
        for rate in (1e5, 12.5e6, 125e6, 1.25e9, 1e12):
            self.assertGreaterEqual(netns.tbf_burst(rate), rate / netns.HZ)

    def test_params(self):
        self.assertIsNone(netns.tbf_params(0))
        self.assertEqual(netns.tbf_params(12.5e6),
                         {"rate_bytes_s": 12500000, "burst_bytes": 65536,
                          "latency_ms": 20})

    def test_commands(self):
        self.assertEqual(
            netns.tbf_command("ns1", "veth-src", 125e6),
            ["tc", "-n", "ns1", "qdisc", "replace", "dev", "veth-src",
             "root", "tbf", "rate", "1000000000bit", "burst", "500000",
             "latency", "20ms"])
        self.assertEqual(netns.unshape_command("ns2", "veth-dst"),
                         ["tc", "-n", "ns2", "qdisc", "del", "dev",
                          "veth-dst", "root"])


class TestNames(unittest.TestCase):
    def test_stale(self):
        listing = ("qtnf-src-100-1 (id: 0)\nqtnf-dst-100-1 (id: 1)\n"
                   "qtnf-src-200-2\nqtbm-src-100-1\nother\n"
                   "qtnfx-src-100-1\n")
        self.assertEqual(netns.stale(listing, "qtnf", lambda p: p == 200),
                         ["qtnf-src-100-1", "qtnf-dst-100-1"])
        self.assertEqual(netns.stale(listing, "qtbm", lambda p: False),
                         ["qtbm-src-100-1"])
        self.assertEqual(netns.stale(listing, "qtnf", lambda p: True), [])

    def test_hosts_names(self):
        h = netns.Hosts(3, "qtzz")
        try:
            self.assertEqual(h.ns, {"src": f"qtzz-src-{os.getpid()}-3",
                                    "dst": f"qtzz-dst-{os.getpid()}-3"})
            self.assertEqual(h.uri(4444), "tcp:10.77.0.2:4444")
            self.assertIn(h, netns.Hosts.ALL)
        finally:
            h.destroy()             # made nothing: removes nothing
        self.assertNotIn(h, netns.Hosts.ALL)

    def test_exec_argv(self):
        self.assertEqual(netns.exec_argv("n", ["qemu", "-m", "64"]),
                         ["ip", "netns", "exec", "n", "qemu", "-m", "64"])
        # The environment for the command only, through env(1); a value
        # with spaces stays one argument.
        self.assertEqual(
            netns.exec_argv("n", ["qemu"], {"LD_PRELOAD": "/a.so /b.so",
                                            "QT_WIRE_OUT": "/w"}),
            ["ip", "netns", "exec", "n", "env", "LD_PRELOAD=/a.so /b.so",
             "QT_WIRE_OUT=/w", "qemu"])

    def test_fmt_rate(self):
        self.assertEqual(netns.fmt_rate(0), "unshaped")
        self.assertEqual(netns.fmt_rate(12.5e6),
                         "12.5 MB/s (0.1 Gbit/s)")


if __name__ == "__main__":
    unittest.main()
