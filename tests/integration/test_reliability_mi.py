"""MI input limits under attack (issue 8): slowloris clients (idle, and trickling one byte at a
time), a body that announces a gigabyte, deeply nested JSON, thousands of open connections.
evid must answer or cut them within its limits, keep its memory bounded, and keep serving
the other clients meanwhile."""
import json
import os
import resource
import socket
import threading
import time
import unittest

from evitest import EvidTestCase, wait_for
from mi_peer import post_mi_request, raw_exchange, split_response
from reliability_peers import rss_kib, open_fds

TIMEOUT_MS = 1000
CONFIG = """
mi_timeout_ms = %d
mi_max_connections = 64
mi_max_body = 65536
""" % TIMEOUT_MS


def connect(port, timeout=5):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def closed_by_peer(s, within):
    """True when the server closes s (EOF or reset) within `within` seconds."""
    s.settimeout(within)
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            data = s.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


class MiLimitsTest(EvidTestCase):
    def served_quickly(self, e, limit=2.0):
        """A normal request is answered within `limit` seconds."""
        t0 = time.monotonic()
        r = e.mi("version")
        self.assertIn("result", r)
        self.assertLess(time.monotonic() - t0, limit)

    # ---- slow clients ------------------------------------------------------------------

    def test_idle_connections_without_headers_are_closed_and_others_served(self):
        e = self.evid(CONFIG)
        socks = [connect(e.mi_port) for _ in range(20)]
        self.addCleanup(lambda: [s.close() for s in socks])
        for s in socks:
            s.sendall(b"POST /mi HTTP/1.1\r\nHost: evid\r\n")  # headers never finished
        self.served_quickly(e)
        t0 = time.monotonic()
        for s in socks:
            self.assertTrue(closed_by_peer(s, TIMEOUT_MS / 1000 * 3 - (time.monotonic() - t0)),
                            "an idle half-request was not closed")
        self.assertTrue(e.alive())

    def test_a_client_trickling_header_bytes_is_cut_at_the_request_deadline(self):
        # Slowloris proper: one byte every 200 ms never lets a per-read idle timer fire; the
        # request as a whole must still be cut after about mi_timeout_ms.
        e = self.evid(CONFIG)
        s = connect(e.mi_port)
        self.addCleanup(s.close)
        t0 = time.monotonic()
        head = b"POST /mi HTTP/1.1\r\nHost: evid\r\nX-Slow: " + b"a" * 1000
        cut = None
        for b in head:
            try:
                s.sendall(bytes([b]))
            except (BrokenPipeError, ConnectionResetError):
                cut = time.monotonic() - t0
                break
            s.settimeout(0.2)
            try:
                if s.recv(65536) == b"":
                    cut = time.monotonic() - t0
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                cut = time.monotonic() - t0
                break
            if time.monotonic() - t0 > TIMEOUT_MS / 1000 * 5:
                break
        self.assertIsNotNone(cut, "a trickling client kept its connection for %.1fs"
                             % (time.monotonic() - t0))
        self.assertLess(cut, TIMEOUT_MS / 1000 * 3)
        self.served_quickly(e)

    def test_a_client_trickling_the_body_is_cut_at_the_request_deadline(self):
        e = self.evid(CONFIG)
        s = connect(e.mi_port)
        self.addCleanup(s.close)
        s.sendall(b"POST /mi HTTP/1.1\r\nHost: evid\r\nContent-Length: 1000\r\n\r\n")
        t0 = time.monotonic()
        cut = None
        while time.monotonic() - t0 < TIMEOUT_MS / 1000 * 5:
            try:
                s.sendall(b" ")
            except (BrokenPipeError, ConnectionResetError):
                cut = time.monotonic() - t0
                break
            s.settimeout(0.2)
            try:
                if s.recv(65536) == b"":
                    cut = time.monotonic() - t0
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                cut = time.monotonic() - t0
                break
        self.assertIsNotNone(cut, "a client trickling its body kept the connection")
        self.assertLess(cut, TIMEOUT_MS / 1000 * 3)

    # ---- big and deep bodies -----------------------------------------------------------

    def test_a_body_announcing_a_gigabyte_is_refused_without_reading_it(self):
        e = self.evid(CONFIG)
        before = rss_kib(e.proc.pid)
        s = connect(e.mi_port)
        self.addCleanup(s.close)
        s.sendall(b"POST /mi HTTP/1.1\r\nHost: evid\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1073741824\r\n\r\n" + b"[" * 65536)
        s.settimeout(5)
        raw = b""
        try:
            while b"\r\n\r\n" not in raw:
                chunk = s.recv(65536)
                if not chunk:
                    break
                raw += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        if raw:
            status, _, body = split_response(raw)
            self.assertEqual(status, 200)
        self.assertLess(rss_kib(e.proc.pid) - before, 32 * 1024)
        self.served_quickly(e)

    def test_bodies_just_over_the_limit_in_a_loop_keep_memory_flat(self):
        e = self.evid(CONFIG)
        body = b'{"jsonrpc":"2.0","id":1,"method":"version","params":["' + b"x" * 70000 + b'"]}'
        for _ in range(20):
            raw_exchange(post_mi_request(body), port=e.mi_port, timeout=5)
        before = rss_kib(e.proc.pid)
        for _ in range(200):
            raw = raw_exchange(post_mi_request(body), port=e.mi_port, timeout=5)
            status, _, reply = split_response(raw)
            self.assertEqual(json.loads(reply)["error"]["code"], -32600)
        self.assertLess(rss_kib(e.proc.pid) - before, 16 * 1024)
        self.served_quickly(e)

    def test_json_nested_a_million_levels_is_a_parse_error(self):
        e = self.evid("mi_max_body = 4194304\n" + CONFIG.replace("mi_max_body = 65536", ""))
        for body in (b"[" * 1000000, b'{"a":' * 500000, b"[" * 500000 + b"]" * 500000):
            raw = raw_exchange(post_mi_request(body), port=e.mi_port, timeout=20)
            status, _, reply = split_response(raw)
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(reply)["error"]["code"], -32700, reply[:200])
        self.assertTrue(e.alive())
        self.served_quickly(e)

    def test_a_deep_params_object_inside_a_valid_request_is_refused(self):
        e = self.evid(CONFIG)
        params = "[" * 60 + "]" * 60  # under the 64-level limit: fine
        r = json.loads(split_response(raw_exchange(post_mi_request(
            '{"jsonrpc":"2.0","id":1,"method":"raise_event","params":{"event":"E_X",'
            '"params":%s}}' % params), port=e.mi_port))[2])
        self.assertIn(r.get("error", {}).get("code", 0), (0, 404, 480, -32602), r)
        params = "[" * 2000 + "]" * 2000
        r = json.loads(split_response(raw_exchange(post_mi_request(
            '{"jsonrpc":"2.0","id":1,"method":"raise_event","params":{"event":"E_X",'
            '"params":%s}}' % params), port=e.mi_port))[2])
        self.assertEqual(r["error"]["code"], -32700)

    # ---- many connections --------------------------------------------------------------

    def test_thousands_of_open_connections_are_refused_beyond_the_limit(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, 12000)
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        n = min(10000, want - 200)
        e = self.evid(CONFIG)
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        refused = 0
        for _ in range(n):
            try:
                s = socket.create_connection(("127.0.0.1", e.mi_port), timeout=2)
            except OSError:
                refused += 1  # the listen backlog is full: refused by the kernel, fine
                continue
            socks.append(s)
        self.assertGreater(len(socks), n // 2, "only %d connections opened" % len(socks))
        # evid holds at most mi_max_connections (+ listeners, files, modules) descriptors.
        self.assertTrue(wait_for(lambda: open_fds(e.proc.pid) < 64 + 64, timeout=10),
                        "evid holds %d descriptors" % open_fds(e.proc.pid))
        self.assertTrue(e.alive())
        for s in socks:
            s.close()
        socks.clear()
        # Once the crowd has gone, clients are served again.
        self.assertTrue(wait_for(lambda: self._served(e), timeout=TIMEOUT_MS / 1000 * 5))

    def _served(self, e):
        try:
            return "result" in e.mi("version")
        except (OSError, ValueError):  # refused, or a 503 whose body is not JSON
            return False

    def test_clients_are_served_while_64_slow_clients_hold_every_slot_then_time_out(self):
        e = self.evid(CONFIG)
        socks = [connect(e.mi_port) for _ in range(64)]
        self.addCleanup(lambda: [s.close() for s in socks])
        # Every slot is taken: a new client is told so (503) rather than left hanging...
        raw = raw_exchange(post_mi_request('{"jsonrpc":"2.0","id":1,"method":"version"}'),
                           port=e.mi_port, timeout=5)
        if raw:
            self.assertIn(split_response(raw)[0], (200, 503))
        # ...and once the slow ones time out, it is served.
        self.assertTrue(wait_for(lambda: self._served(e), timeout=TIMEOUT_MS / 1000 * 4))


if __name__ == "__main__":
    unittest.main()
