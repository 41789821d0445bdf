"""Two hosts on one machine: network namespaces 'src' and 'dst' joined by
a veth pair (10.77.0.1/24 and 10.77.0.2/24, nothing else addressed), with
QEMUs started in either (`ip netns exec`), the link set down and up, and
shaped to a rate with tbf on both ends.  Used by qemu/tests/netns-faults
(a link that fails) and the links scenario of scripts/bench-migration (a
link of a given speed).  Needs root and iproute2.

    PYTHONPATH=tools python3 -m migrate_tools.netns [RATES]

measures what a TCP stream between the namespaces reaches at each rate
(bytes/s, 0 = unshaped; default 0,1.25e9,125e6,12.5e6).

Shaping (shape()): `tc qdisc replace dev VETH root tbf rate R burst B
latency L` on the egress of both ends, so both directions are limited as
on a real link (the data one way, the ACKs and QEMU's return path the
other); rate 0 = no qdisc at all (unshape()).  Why B and L: see
tbf_burst() and LATENCY_MS."""

import json
import os
import re
import subprocess
import sys
import time

from . import Failure
from .qemu import Qemu

ADDR = {"src": "10.77.0.1", "dst": "10.77.0.2"}
# The veth ends live only inside their namespaces, so their names need
# not be unique between Hosts.
DEV = {"src": "veth-src", "dst": "veth-dst"}
SIDES = ("src", "dst")
PROBE_PORT = 4400       # wait_reachable: nothing listens there
MEASURE_PORT = 4401     # measure()'s receiver

# tbf's burst (bucket size, bytes): the tokens the qdisc may save up.
# The kernel sends a queued packet once the bucket holds its size and
# otherwise sleeps until it will (an hrtimer); when it wakes late (a
# timer tick, 1/HZ = 4 ms at Debian's HZ=250, on a machine whose 2 CPUs
# are busy with two QEMUs), every token that would have overflowed the
# bucket meanwhile is lost bandwidth.  A bucket of rate/HZ bytes rides
# out a wakeup one tick late (tc has always asked for burst >= rate/HZ).
# Measured on a 2-CPU VM (python3 -m migrate_tools.netns): at 10 Gbit/s
# one TCP stream reached 1.19 GB/s with rate/HZ (5 MB), 0.82 GB/s with
# 64 KiB.
# At least 64 KiB: a veth passes GSO packets of up to 64 KiB, and tbf
# splits a packet larger than its bucket into MTU-sized segments (CPU
# spent in the qdisc) or, unsplittable, drops it.  What the burst lets
# through above the rate, once per idle period, is at most B bytes: 5 MB
# at 10 Gbit/s (4 ms of the link), 64 KiB at 100 Mbit/s, against the
# hundreds of MiB a migration sends.
HZ = 250
MIN_BURST = 64 * 1024
# tbf's latency: how long a packet may wait in the qdisc's queue (its
# length, limit = rate * latency + burst; beyond that it is dropped).
# 20 ms keeps a queue deep enough for TCP to keep the link busy (the
# veth's own round trip is some microseconds) and small enough not to
# add seconds of queueing (at 100 Mbit/s: 250 KB + the burst, 26 ms);
# a switch port's buffer is of that order.  One TCP stream reached
# the same rate with 5, 20 and 100 ms at 1 Gbit/s and 100 Mbit/s.
LATENCY_MS = 20


def run(*cmd):
    """Run a command; its stdout, Failure if it fails."""
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise Failure(f"{' '.join(cmd)}: status {r.returncode}: "
                      f"{(r.stderr or r.stdout).strip()}")
    return r.stdout


# ---- shaping, pure

def tbf_burst(rate):
    """tbf's burst in bytes for a rate in bytes/s: rate/HZ, at least
    MIN_BURST (see above)."""
    return max(-(-int(rate) // HZ), MIN_BURST)


def tbf_params(rate):
    """The tbf parameters of a rate in bytes/s (None for 0: unshaped):
    {"rate_bytes_s", "burst_bytes", "latency_ms"}; what the benchmark
    records."""
    if not rate:
        return None
    return {"rate_bytes_s": int(rate), "burst_bytes": tbf_burst(rate),
            "latency_ms": LATENCY_MS}


def tbf_command(ns, dev, rate):
    """The tc command that shapes dev's egress in namespace ns to rate
    bytes/s.  tc's "bps" would be bytes/s, but "bit" is what nobody
    misreads: the rate goes in bits/s."""
    p = tbf_params(rate)
    return ["tc", "-n", ns, "qdisc", "replace", "dev", dev, "root", "tbf",
            "rate", f"{p['rate_bytes_s'] * 8}bit",
            "burst", str(p["burst_bytes"]),
            "latency", f"{p['latency_ms']}ms"]


def unshape_command(ns, dev):
    """The tc command that removes dev's root qdisc (back to the veth's
    default, noqueue)."""
    return ["tc", "-n", ns, "qdisc", "del", "dev", dev, "root"]


def ns_name(prefix, side, pid, n):
    return f"{prefix}-{side}-{pid}-{n}"


def stale(listing, prefix, alive):
    """The namespaces of `ip netns list` output whose names are ours
    (ns_name with prefix) but whose pid alive(pid) says is gone."""
    out = []
    for line in listing.splitlines():
        m = re.match(rf"({re.escape(prefix)}-(?:src|dst)-(\d+)-\d+)\b", line)
        if m and not alive(int(m.group(2))):
            out.append(m.group(1))
    return out


def remove_stale(prefix):
    """Remove the namespaces an earlier run that was SIGKILLed left
    behind (their pid is gone)."""
    r = subprocess.run(["ip", "netns", "list"], capture_output=True,
                       text=True)
    for ns in stale(r.stdout, prefix,
                    lambda pid: os.path.exists(f"/proc/{pid}")):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def exec_argv(ns, argv, env=None):
    """argv run in namespace ns.  `ip netns exec` execs the command in
    place (the pid is the command's) and passes our environment through;
    env's variables are set by env(1) after it, so that they reach the
    command only (an LD_PRELOAD is not loaded into ip)."""
    pre = ["ip", "netns", "exec", ns]
    if env:
        pre += ["env"] + [f"{k}={v}" for k, v in env.items()]
    return pre + list(argv)


# ---- the hosts

PROBE = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()
except ConnectionRefusedError:
    pass
except OSError as e:
    sys.exit(f"{e}")
"""

RECEIVER = """
import json, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
buf = bytearray(1 << 20)
n, t0 = 0, None
while True:
    k = c.recv_into(buf)
    if not k:
        break
    if t0 is None:
        t0 = time.monotonic()      # the first chunk starts the clock
    else:
        n += k
print(json.dumps({"bytes": n, "seconds": time.monotonic() - (t0 or 0)}))
"""

SENDER = """
import socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), 5)
buf = memoryview(bytes(1 << 20))
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    c.sendall(buf)
c.close()
"""


class Hosts:
    """Two network namespaces, 'src' and 'dst', joined by a veth pair.
    Their names: PREFIX-SIDE-PID-N (remove_stale(PREFIX) finds those of
    a dead process).  Hosts.ALL: every Hosts made, for a last destroy()
    on the way out."""

    ALL = []

    def __init__(self, n, prefix):
        self.prefix = prefix
        self.ns = {s: ns_name(prefix, s, os.getpid(), n) for s in SIDES}
        self.made = []
        self.rate = 0
        Hosts.ALL.append(self)

    def create(self):
        for side in SIDES:
            run("ip", "netns", "add", self.ns[side])
            self.made.append(self.ns[side])
        run("ip", "link", "add", DEV["src"], "netns", self.ns["src"],
            "type", "veth", "peer", "name", DEV["dst"],
            "netns", self.ns["dst"])
        for side in SIDES:
            ns = self.ns[side]
            run("ip", "-n", ns, "link", "set", "dev", "lo", "up")
            run("ip", "-n", ns, "addr", "add", f"{ADDR[side]}/24",
                "dev", DEV[side])
            run("ip", "-n", ns, "link", "set", "dev", DEV[side], "up")
        return self

    def link(self, side, state):
        """Set side's end of the link "up" or "down"."""
        run("ip", "-n", self.ns[side], "link", "set", "dev", DEV[side], state)

    def shape(self, rate):
        """Limit the link to rate bytes/s both ways (tbf on both ends'
        egress; replaces an earlier rate); 0: unshape()."""
        if not rate:
            return self.unshape()
        for side in SIDES:
            run(*tbf_command(self.ns[side], DEV[side], rate))
        self.rate = int(rate)
        return tbf_params(rate)

    def unshape(self):
        """No qdisc on either end: the veth's own speed."""
        for side in SIDES:
            subprocess.run(unshape_command(self.ns[side], DEV[side]),
                           capture_output=True)   # none there: fine
        self.rate = 0

    def qdiscs(self):
        """{side: `tc qdisc show dev VETH` of that end}, for the record."""
        return {side: run("tc", "-n", self.ns[side], "qdisc", "show", "dev",
                          DEV[side]).strip() for side in SIDES}

    def wait_reachable(self, timeout=20.0):
        """Wait until a TCP connection from the source's namespace to the
        destination's address is answered (refused: nothing listens on
        PROBE_PORT); returns the seconds it took.  A link just set up
        drops packets for a moment, and a connection tried then fails
        with "No route to host", as on a real network."""
        t0 = time.monotonic()
        while True:
            r = subprocess.run(
                exec_argv(self.ns["src"], [sys.executable, "-c", PROBE,
                                           ADDR["dst"], str(PROBE_PORT)]),
                capture_output=True, text=True)
            if r.returncode == 0:
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise Failure(f"the destination is still unreachable "
                              f"{timeout:.0f} s after the link came up: "
                              f"{r.stderr.strip()}")
            time.sleep(0.2)

    def measure(self, seconds=2.0):
        """What one TCP stream from src to dst reaches now, in bytes/s
        (the receiver's count from its first chunk to the end)."""
        rx = subprocess.Popen(
            exec_argv(self.ns["dst"], [sys.executable, "-c", RECEIVER,
                                       ADDR["dst"], str(MEASURE_PORT)]),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        try:
            if rx.stdout.readline().strip() != "ready":
                raise Failure(f"measure: the receiver did not start: "
                              f"{rx.stderr.read().strip()}")
            run(*exec_argv(self.ns["src"], [sys.executable, "-c", SENDER,
                                            ADDR["dst"], str(MEASURE_PORT),
                                            str(seconds)]))
            out, err = rx.communicate(timeout=30)
        finally:
            if rx.poll() is None:
                rx.kill()
                rx.wait()
        try:
            got = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise Failure(f"measure: no result from the receiver: "
                          f"{err.strip()}")
        return got["bytes"] / got["seconds"] if got["seconds"] > 0 else 0.0

    def sysctl(self, key, value):
        """Set a per-namespace sysctl in both namespaces."""
        path = "/proc/sys/" + key.replace(".", "/")
        for ns in self.ns.values():
            run("ip", "netns", "exec", ns, "sh", "-c",
                f"echo {value} > {path}")

    def uri(self, port, side="dst"):
        """A migration URI to side's address."""
        return f"tcp:{ADDR[side]}:{port}"

    def qemu(self, side, role, binary, rundir, argv, env=None, cpus=None):
        """A started Qemu whose process runs in side's namespace (its pid
        is QEMU's: exec_argv); env: variables for QEMU alone (exec_argv),
        cpus: its CPU affinity (set before ip, which keeps it)."""
        q = Qemu(role, binary, rundir, argv, cpus=cpus)
        q.argv = exec_argv(self.ns[side], q.argv, env)
        return q.start()

    def destroy(self):
        """Remove the namespaces (the veth pair goes with them once no
        QEMU is left in them: stop the QEMUs first)."""
        for ns in reversed(self.made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.made = []
        if self in Hosts.ALL:
            Hosts.ALL.remove(self)


def destroy_all():
    """destroy() every Hosts not yet destroyed."""
    for h in list(Hosts.ALL):
        h.destroy()


# ---- python3 -m migrate_tools.netns

def fmt_rate(rate):
    return "unshaped" if not rate else \
        f"{rate / 1e6:g} MB/s ({rate * 8 / 1e9:g} Gbit/s)"


def main(argv):
    from .methods import parse_links
    rates = parse_links(argv[0] if argv else "0,1.25e9,125e6,12.5e6")
    seconds = float(argv[1]) if len(argv) > 1 else 3.0
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 77
    prefix = "qtms"
    remove_stale(prefix)
    h = Hosts(0, prefix)
    try:
        h.create()
        h.wait_reachable()
        for rate in rates:
            params = h.shape(rate)
            got = h.measure(seconds)
            print(json.dumps({"link": fmt_rate(rate), "tbf": params,
                              "measured_bytes_s": round(got),
                              "measured": f"{got / 1e6:.1f} MB/s",
                              "ratio": round(got / rate, 3) if rate
                              else None}), flush=True)
    finally:
        h.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
