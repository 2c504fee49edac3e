"""Helpers for the script integration tests: a UDP sink on loopback, file polling, and a
config head that sets mpath and mi_listen itself so that config line numbers stay as written.
Stdlib only."""
import socket
import time

from evitest import PLUGINS, free_port, wait_for


def head(mi_port=None):
    """The first two config lines: mpath and mi_listen (evitest then prepends nothing)."""
    return ('mpath = "%s"\nmi_listen = "127.0.0.1:%d"\n'
            % (PLUGINS, mi_port or free_port()))


class UdpSink:
    """A UDP socket bound on 127.0.0.1 that collects datagrams."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address = "udp:127.0.0.1:%d" % self.sock.getsockname()[1]
        self.got = []

    def wait(self, n, timeout=5):
        """Collect until n datagrams arrived or timeout; returns them (bytes)."""
        deadline = time.time() + timeout
        while len(self.got) < n and time.time() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                self.got.append(self.sock.recv(65536))
            except socket.timeout:
                break
        return self.got

    def close(self):
        self.sock.close()


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def wait_file(path, expected, timeout=5):
    """Wait until the file holds exactly `expected`; returns what it holds in the end."""
    wait_for(lambda: read(path) == expected, timeout)
    return read(path)


def wait_lines(path, n, timeout=10):
    """Wait until the file has at least n lines; returns its bytes."""
    wait_for(lambda: read(path).count(b"\n") >= n, timeout)
    return read(path)
