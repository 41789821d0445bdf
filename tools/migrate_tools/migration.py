"""One migration's QMP side: compress and multifd capabilities and
parameters, the destination's listening address, and polling
query-migrate."""

import time
from dataclasses import dataclass

from . import Failure
from .qmp import QMPError


@dataclass
class Compress:
    """The compress capability's parameters."""
    threads: int = 2
    decompress_threads: int = 2
    level: int = 1
    wait_thread: bool = True


@dataclass
class Multifd:
    """The multifd capability's parameters.  compression: "none", "zlib"
    or "zstd" (QEMU 7.2's multifd-compression); the level of the chosen
    one is set."""
    channels: int = 2
    compression: str = "none"
    level: int = 1


def parameters(compress=None, max_bandwidth=None, downtime_limit=None,
               multifd=None):
    """migrate-set-parameters arguments; max_bandwidth in bytes/s (0: no
    limit in QEMU 7.2: qemu_file_rate_limit() only limits when
    rate_limit_max > 0)."""
    params = {}
    if multifd is not None:
        params["multifd-channels"] = multifd.channels
        params["multifd-compression"] = multifd.compression
        if multifd.compression in ("zlib", "zstd"):
            params[f"multifd-{multifd.compression}-level"] = multifd.level
    if compress is not None:
        params.update({
            "compress-threads": compress.threads,
            "decompress-threads": compress.decompress_threads,
            "compress-level": compress.level,
            "compress-wait-thread": compress.wait_thread})
    if max_bandwidth is not None:
        params["max-bandwidth"] = max_bandwidth
    if downtime_limit is not None:
        params["downtime-limit"] = downtime_limit
    return params


def configure(qmp, compress=None, max_bandwidth=None, downtime_limit=None):
    """The compress capability (if compress) and the parameters, on one
    side; returns the parameters set."""
    if compress is not None:
        qmp.cmd("migrate-set-capabilities", capabilities=[
            {"capability": "compress", "state": True}])
    params = parameters(compress, max_bandwidth, downtime_limit)
    if params:
        qmp.cmd("migrate-set-parameters", **params)
    return params


def configure_method(qmp, compress=None, multifd=None, max_bandwidth=None,
                     downtime_limit=None):
    """Both the compress and the multifd capability, each on only if its
    parameters are given (explicitly off otherwise: a source is reused
    across methods), then the parameters; returns the parameters set.
    Call on both sides before migrate / migrate-incoming."""
    qmp.cmd("migrate-set-capabilities", capabilities=[
        {"capability": "compress", "state": compress is not None},
        {"capability": "multifd", "state": multifd is not None}])
    params = parameters(compress, max_bandwidth, downtime_limit, multifd)
    if params:
        qmp.cmd("migrate-set-parameters", **params)
    return params


def listen(qmp, transport, sock_path, host="127.0.0.1"):
    """migrate-incoming on the destination: 'tcp' on a free port of host
    (an address of the destination's) or 'unix' on sock_path; returns the
    URI to migrate to."""
    if transport == "tcp":
        qmp.cmd("migrate-incoming", uri=f"tcp:{host}:0")
        addrs = qmp.cmd("query-migrate").get("socket-address", [])
        port = inet_port(addrs)
        if port is None:
            raise Failure(f"destination reports no listening port: {addrs}")
        return f"tcp:{host}:{port}"
    uri = f"unix:{sock_path}"
    qmp.cmd("migrate-incoming", uri=uri)
    return uri


def inet_port(addrs):
    """The first inet port of query-migrate's socket-address, or None."""
    ports = [x["port"] for x in addrs if x.get("type") == "inet"]
    return ports[0] if ports else None


DONE = ("completed", "failed", "cancelled")


def settled(qmp, info, timeout=5.0):
    """The source's query-migrate once its final figures are in.

    QEMU 7.2's migration thread sets COMPLETED (migration_completion)
    before migration_calculate_complete() fills in total-time and
    downtime, so a query in between reports total-time 0.  Re-query
    until it is set; any other status is returned as it is."""
    deadline = time.monotonic() + timeout
    while info.get("status") == "completed" and not info.get("total-time"):
        if time.monotonic() > deadline:
            raise QMPError("query-migrate: completed but total-time "
                           f"still unset after {timeout:.0f}s")
        time.sleep(0.02)
        info = qmp.cmd("query-migrate")
    return info


def poll_status(qmp, wanted, tries, interval):
    """query-migrate up to `tries` times until its status is in wanted;
    returns the last status seen (the destination's, after a migration,
    while it finishes loading on its own)."""
    st = None
    for _ in range(tries):
        st = qmp.cmd("query-migrate").get("status")
        if st in wanted:
            break
        time.sleep(interval)
    return st


def wait_status(qmp, wanted, timeout=60, interval=0.05):
    """Wait for a status in wanted (a status or a tuple of them); returns
    it.  Failure if the migration ends otherwise or after timeout s."""
    if isinstance(wanted, str):
        wanted = (wanted,)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = qmp.cmd("query-migrate").get("status")
        if st in wanted:
            return st
        if st in ("failed", "cancelled"):
            raise Failure(f"migration {st}, wanted {'/'.join(wanted)}")
        time.sleep(interval)
    raise Failure(f"migration not {'/'.join(wanted)} after {timeout} s")
