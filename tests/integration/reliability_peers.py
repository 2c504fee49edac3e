"""Helpers for the reliability tests (issue 8): process memory and descriptors from /proc, a
TCP peer that accepts and never answers, a slow but live XML-RPC-ish HTTP peer, and a wrapper
that starts evid under resource limits (stdlib only)."""
import os
import socket
import stat
import tempfile
import threading
import time

from evitest import EVID


def rss_kib(pid):
    """VmRSS of a process in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for %d" % pid)


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def limited_evid(tmpdir, ulimit_args, ignore_xfsz=False):
    """A script that execs evid under `ulimit ULIMIT_ARGS` (e.g. "-f 16" for 16 KiB files).
    ignore_xfsz: start evid with SIGXFSZ ignored (inherited through exec), so that a write past
    the limit fails with EFBIG instead of killing the process."""
    path = os.path.join(tmpdir, "evid-limited")
    trap = "trap '' XFSZ\n" if ignore_xfsz else ""
    with open(path, "w") as f:
        f.write('#!/bin/sh\nulimit %s || exit 99\n%sexec "%s" "$@"\n' % (ulimit_args, trap, EVID))
    os.chmod(path, stat.S_IRWXU)
    return path


class StalledPeer:
    """Accepts TCP connections on 127.0.0.1 and never reads or answers: a consumer that hung.
    Counts the connections it accepted."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self._stop = False
        self._t = threading.Thread(target=self._accept, daemon=True)
        self._t.start()

    def _accept(self):
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except socket.timeout:
                continue
            except OSError:
                return

    def close(self):
        self._stop = True
        self._t.join(2)
        for c in self.conns:
            c.close()
        self.sock.close()


class SlowHttpPeer:
    """An HTTP/1.1 keep-alive server that answers every POST with an XML-RPC success after
    `delay` seconds: slow but alive. Counts the calls it answered."""

    OK = (b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n")
    BODY = (b"<?xml version=\"1.0\"?>\n<methodResponse><params><param><value><string>OK"
            b"</string></value></param></params></methodResponse>\n")

    def __init__(self, delay):
        self.delay = delay
        self.calls = 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self._threads = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept(self):
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(c,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, c):
        buf = b""
        c.settimeout(0.2)
        with c:
            while not self._stop:
                try:
                    chunk = c.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while True:
                    head_end = buf.find(b"\r\n\r\n")
                    if head_end < 0:
                        break
                    length = 0
                    for line in buf[:head_end].split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    if len(buf) < head_end + 4 + length:
                        break
                    buf = buf[head_end + 4 + length:]
                    time.sleep(self.delay)
                    try:
                        c.sendall(self.OK % len(self.BODY) + self.BODY)
                    except OSError:
                        return
                    with self.lock:
                        self.calls += 1

    def close(self):
        self._stop = True
        self.sock.close()
        for t in self._threads:
            t.join(2)


XMLRPC_PEER_SCRIPT = r'''
import json, sys, xmlrpc.server
class H(xmlrpc.server.SimpleXMLRPCRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
class S(xmlrpc.server.SimpleXMLRPCServer):
    allow_reuse_address = True
out = open(sys.argv[2], "a")
class D:
    def _dispatch(self, method, params):
        out.write(json.dumps([method] + list(params)) + "\n")
        out.flush()
        return True
s = S(("127.0.0.1", int(sys.argv[1])), requestHandler=H, logRequests=False, allow_none=True)
s.register_instance(D())
print("ready", flush=True)
s.serve_forever()
'''


class XmlRpcPeerProcess:
    """A real XML-RPC server in its own process (so that it can be SIGKILLed like a crashed
    consumer), appending every call as a JSON line [method, params…] to `path`."""

    def __init__(self, port, path):
        import subprocess
        import sys
        self.port = port
        self.path = path
        self.proc = subprocess.Popen([sys.executable, "-c", XMLRPC_PEER_SCRIPT, str(port), path],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        if b"ready" not in line:
            self.kill()
            raise RuntimeError("the XML-RPC peer did not start")

    def kill(self):
        import signal
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(5)
        self.proc.stdout.close()

    def calls(self):
        import json
        try:
            with open(self.path) as f:
                return [json.loads(l) for l in f if l.endswith("\n")]
        except FileNotFoundError:
            return []
