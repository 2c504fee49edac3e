"""Helpers for the MI integration tests: a UDP event sink, raw HTTP over TCP or a Unix
socket, and a Prometheus text parser (stdlib only)."""
import json
import re
import socket
import time


class UdpSink:
    """Receives datagrams on 127.0.0.1:<port>; `socket` is what evid subscribes."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.socket = "udp:127.0.0.1:%d" % self.port

    def recv(self, timeout=5):
        """The next datagram as text, or None after timeout seconds."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536).decode()
        except socket.timeout:
            return None

    def recv_json(self, timeout=5):
        data = self.recv(timeout)
        return None if data is None else json.loads(data)

    def recv_method(self, method, timeout=5):
        """Skip datagrams until one whose JSON-RPC method is `method`; None on timeout."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            msg = self.recv_json(max(0.01, deadline - time.time()))
            if msg is not None and msg.get("method") == method:
                return msg
        return None

    def drain(self, quiet=0.2, limit=5.0):
        """Datagrams until none came for `quiet` seconds, or for at most `limit` seconds."""
        out = []
        deadline = time.time() + limit
        while time.time() < deadline:
            d = self.recv(quiet)
            if d is None:
                break
            out.append(d)
        return out

    def close(self):
        self.sock.close()


def raw_exchange(data, port=None, unix_path=None, timeout=5, read_until_close=True):
    """Send raw bytes, return every byte received until the server closes (or timeout)."""
    if unix_path:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(unix_path)
    else:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            if not read_until_close and b"\r\n\r\n" in out:
                break
        return out
    finally:
        s.close()


def split_response(raw):
    """(status code, headers dict with lower-case names, body bytes) of one raw response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def post_mi_request(body, content_type="application/json", extra=""):
    if isinstance(body, str):
        body = body.encode()
    return (b"POST /mi HTTP/1.1\r\nHost: evid\r\nContent-Type: " + content_type.encode() +
            b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n" +
            extra.encode() + b"\r\n" + body)


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text):
    """Returns (samples, types): samples maps (name, ((label, value), ...)) → float, types
    maps a family name → its # TYPE. Raises ValueError on a line that is not valid."""
    samples, types = {}, {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError("not a Prometheus sample: %r" % line)
        labels = ()
        if m.group(3):
            labels = tuple(sorted((k, bytes(v, "utf-8").decode("unicode_escape"))
                                  for k, v in _LABEL.findall(m.group(3))))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples, types
