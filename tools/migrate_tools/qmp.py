"""The QMP client: one command at a time over a unix socket, events kept
aside, replies matched by id."""

import json
import socket
import time


class QMPError(Exception):
    pass


def split_lines(buf):
    """(complete lines, rest) of what has arrived so far."""
    *lines, rest = buf.split(b"\n")
    return lines, rest


class QMP:
    """timeout: for connecting and the greeting; cmd_timeout: the default
    of cmd(); None waits for ever.  sock: an already connected socket
    instead of path.  oob: enable out-of-band execution (cmd_oob()), which
    QEMU runs even while its main thread is blocked."""

    def __init__(self, path, timeout=30.0, cmd_timeout=30.0, sock=None,
                 oob=False):
        self.cmd_timeout = cmd_timeout
        if sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(path)
            except OSError:
                sock.close()
                raise
        self.sock = sock
        self.buf = b""
        self.lines = []
        self.events = []
        self.next_id = 0
        try:
            greeting = self._recv(timeout)
            if "QMP" not in greeting:
                raise QMPError(f"no QMP greeting: {greeting}")
            self.version = greeting["QMP"]["version"]["qemu"]
            if oob:
                self.cmd("qmp_capabilities", enable=["oob"])
            else:
                self.cmd("qmp_capabilities")
        except (OSError, QMPError, ValueError):
            self.close()
            raise

    @classmethod
    def wait_for(cls, path, timeout=30.0, cmd_timeout=None):
        """Connect, retrying until the socket exists (for timeout s)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return cls(path, timeout=cmd_timeout, cmd_timeout=cmd_timeout)
            except OSError:
                if time.monotonic() > deadline:
                    raise QMPError(f"no QMP socket at {path}") from None
                time.sleep(0.05)

    def _recv(self, timeout):
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.lines:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise QMPError("timed out waiting for QMP")
                self.sock.settimeout(left)
            else:
                self.sock.settimeout(None)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise QMPError("timed out waiting for QMP") from None
            if not chunk:
                raise QMPError("QMP connection closed")
            self.lines, self.buf = split_lines(self.buf + chunk)
        return json.loads(self.lines.pop(0))

    @staticmethod
    def message(name, msg_id, args, oob=False):
        """The bytes of one command; argument names take '-' for '_'."""
        msg = {"exec-oob" if oob else "execute": name, "id": msg_id}
        if args:
            msg["arguments"] = {k.replace("_", "-"): v
                                for k, v in args.items()}
        return json.dumps(msg).encode() + b"\n"

    def cmd(self, name, timeout=None, **args):
        """Run one command; its return value, or QMPError."""
        return self._run(self.message(name, self.next_id + 1, args), name,
                         timeout)

    def cmd_oob(self, name, timeout=None, **args):
        """cmd(), out of band (the connection must have been made with
        oob=True, and the command must allow it)."""
        return self._run(self.message(name, self.next_id + 1, args, oob=True),
                         name, timeout)

    def _run(self, msg, name, timeout):
        if timeout is None:
            timeout = self.cmd_timeout
        self.next_id += 1
        self.sock.sendall(msg)
        while True:
            r = self._recv(timeout)
            if "event" in r:
                self.events.append(r)
                continue
            if r.get("id") != self.next_id:
                continue
            if "error" in r:
                raise QMPError(f"{name}: {r['error'].get('desc', r['error'])}")
            return r.get("return")

    def hmp(self, line):
        return self.cmd("human-monitor-command", command_line=line)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
