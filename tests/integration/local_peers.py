"""Peers for the local transports' integration tests (event_datagram, event_flatstore,
event_virtual): datagram sinks on loopback UDP (v4/v6) and Unix sockets, file helpers, and the
common config head. Stdlib only."""
import json
import os
import socket
import time

from evitest import wait_for

MODULES = ('loadmodule "event_datagram.so"\n'
           'loadmodule "event_flatstore.so"\n'
           'loadmodule "event_virtual.so"\n')


class DatagramSink:
    """A bound datagram socket that collects what it receives. kind: "udp4", "udp6", "unix"."""

    def __init__(self, kind="udp4", path=None, host=None):
        self.kind = kind
        if kind == "unix":
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.bind(path)
            self.address = "unix:" + path
        else:
            fam = socket.AF_INET6 if kind == "udp6" else socket.AF_INET
            host = host or ("::1" if kind == "udp6" else "127.0.0.1")
            self.sock = socket.socket(fam, socket.SOCK_DGRAM)
            self.sock.bind((host, 0))
            port = self.sock.getsockname()[1]
            self.address = "udp:[%s]:%d" % (host, port) if kind == "udp6" else \
                "udp:%s:%d" % (host, port)
            self.port = port
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.got = []
        self.senders = []  # the source address of each payload in got

    def drain(self, timeout=0.0):
        """Collect whatever arrives within timeout (seconds); returns all payloads so far."""
        self.sock.settimeout(timeout if timeout > 0 else 0.0001)
        while True:
            try:
                payload, sender = self.sock.recvfrom(262144)
                self.got.append(payload)
                self.senders.append(sender)
            except (socket.timeout, BlockingIOError):
                return self.got
            self.sock.settimeout(0.0001)

    def wait(self, n, timeout=5):
        """Wait until n payloads arrived; returns the list (maybe shorter on timeout)."""
        deadline = time.time() + timeout
        while len(self.got) < n and time.time() < deadline:
            self.drain(0.05)
        return self.got

    def json(self):
        return [json.loads(p) for p in self.got]

    def close(self):
        self.sock.close()


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def wait_file(path, expected, timeout=5):
    """Wait until the file's bytes equal expected; returns what it holds in the end."""
    wait_for(lambda: read(path) == expected, timeout)
    return read(path)


def mi_ok(e, method, params=None):
    """An MI call that must succeed; returns its result."""
    r = e.mi(method, params)
    if "error" in r:
        raise AssertionError("%s %r failed: %r" % (method, params, r["error"]))
    return r["result"]


def subscribers(e, event):
    """The subscribers_list entries of one event (a list of dicts)."""
    r = mi_ok(e, "subscribers_list")
    for ev in r.get("Events", []):
        if ev["name"] == event:
            return ev.get("Subscribers", [])
    return []


def statistic(e, name):
    """One value of get_statistics (e.g. "modules:evi_event_datagram_oversized")."""
    r = mi_ok(e, "get_statistics", {"statistics": ["all"]})
    return r.get(name)
