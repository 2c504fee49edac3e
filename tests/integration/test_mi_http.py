"""The MI's HTTP side against a running evid: listeners (IPv4, IPv6, Unix), the token rule,
limits and timeouts, malformed input, /health, /metrics and the status page in Chromium."""
import http.client
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
import unittest

from evitest import Evid, EvidTestCase, free_port, wait_for
from mi_peer import (UdpSink, parse_prometheus, post_mi_request, raw_exchange,
                     split_response)

BASE = """
loadmodule "event_datagram.so"
route[publish] { raise_event("E_MI_A"); raise_event("E_MI_B"); }
"""

EVENTS_LIST = json.dumps({"jsonrpc": "2.0", "id": "1", "method": "events_list", "params": {}})


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class MiHttp(EvidTestCase):
    def assert_serving(self, e):
        r = e.mi("events_list", {})
        self.assertIn("result", r, r)

    # -- the token rule --
    def test_non_loopback_bind_without_token_is_refused_at_start(self):
        port = free_port()
        e = Evid(BASE + 'mi_listen = "0.0.0.0:%d"\n' % port)
        self.addCleanup(e.__exit__, None, None, None)
        with self.assertRaises(RuntimeError) as cm:
            e.start()
        self.assertIn('mi_listen "0.0.0.0:%d": refusing to serve the management interface on '
                      'a non-loopback address without mi_auth_token' % port, str(cm.exception))
        self.assertNotEqual(e.proc.returncode, 0)

    def test_bad_mi_listen_names_the_address(self):
        e = Evid(BASE + 'mi_listen = "127.0.0.1"\n')
        self.addCleanup(e.__exit__, None, None, None)
        with self.assertRaises(RuntimeError) as cm:
            e.start()
        self.assertIn('mi_listen "127.0.0.1": expected IPv4:port', str(cm.exception))

    def test_bind_failure_says_which_address_and_why(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        self.addCleanup(busy.close)
        port = busy.getsockname()[1]
        e = Evid(BASE + 'mi_listen = "127.0.0.1:%d"\n' % port)
        self.addCleanup(e.__exit__, None, None, None)
        with self.assertRaises(RuntimeError) as cm:
            e.start()
        self.assertIn('mi_listen "127.0.0.1:%d": cannot bind: Address already in use' % port,
                      str(cm.exception))

    def test_with_a_token_every_request_needs_the_bearer_header(self):
        e = self.evid(BASE + 'mi_auth_token = "s3cret-token"\n')
        for headers in ({}, {"Authorization": "Bearer wrong"},
                        {"Authorization": "s3cret-token"}):
            h = {"Content-Type": "application/json"}
            h.update(headers)
            status, hdrs, body = e.http("POST", "/mi", EVENTS_LIST, h)
            self.assertEqual(status, 401, headers)
            self.assertEqual(hdrs.get("WWW-Authenticate"), "Bearer")
            self.assertEqual(json.loads(body)["error"]["message"], "Unauthorized")
        status, _, _ = e.http("GET", "/metrics")
        self.assertEqual(status, 401)
        r = e.mi("events_list", {}, headers={"Authorization": "Bearer s3cret-token"})
        self.assertIn("result", r)
        status, _, _ = e.http("GET", "/metrics", headers={"Authorization": "Bearer s3cret-token"})
        self.assertEqual(status, 200)

    # -- listeners --
    def test_unix_socket_listener_is_mode_0600_and_serves_http(self):
        port = free_port()
        e = self.evid(BASE + 'mi_listen = "127.0.0.1:%d"\nmi_listen = "unix:@DIR@/mi.sock"\n'
                      % port)
        path = os.path.join(e.dir, "mi.sock")
        st = os.stat(path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        status, headers, body = split_response(
            raw_exchange(post_mi_request(EVENTS_LIST), unix_path=path))
        self.assertEqual(status, 200)
        self.assertIn("E_MI_A", [ev["name"] for ev in json.loads(body)["result"]["Events"]])
        e.stop()
        self.assertFalse(os.path.exists(path))

    def test_a_unix_socket_in_use_is_refused_and_a_stale_one_replaced(self):
        d = tempfile.mkdtemp(prefix="evi-mi-unix-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "mi.sock")
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(path)
        stale.close()  # the file stays, nobody listens: replaced
        cfg = BASE + 'mi_listen = "127.0.0.1:%d"\nmi_listen = "unix:%s"\n'
        first = self.evid(cfg % (free_port(), path))
        self.assertEqual(split_response(raw_exchange(post_mi_request(EVENTS_LIST),
                                                     unix_path=path))[0], 200)
        second = Evid(cfg % (free_port(), path))
        self.addCleanup(second.__exit__, None, None, None)
        with self.assertRaises(RuntimeError) as cm:
            second.start()
        self.assertIn('mi_listen "unix:%s": another process is listening on %s' % (path, path),
                      str(cm.exception))
        self.assert_serving(first)

    @unittest.skipUnless(ipv6_loopback(), "no IPv6 loopback on this machine")
    def test_ipv6_loopback_listener(self):
        port = free_port(host="::1")
        e = self.evid(BASE + 'mi_listen = "[::1]:%d"\n' % port)
        conn = http.client.HTTPConnection("::1", port, timeout=5)
        self.addCleanup(conn.close)
        conn.request("POST", "/mi", EVENTS_LIST, {"Content-Type": "application/json"})
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertIn("result", json.loads(r.read()))

    def test_keep_alive_serves_several_requests_on_one_connection(self):
        e = self.evid(BASE)
        conn = http.client.HTTPConnection("127.0.0.1", e.mi_port, timeout=5)
        self.addCleanup(conn.close)
        socks = []
        for i in range(3):
            conn.request("POST", "/mi", EVENTS_LIST, {"Content-Type": "application/json"})
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            r.read()
            socks.append(conn.sock)
        self.assertIs(socks[0], socks[2])

    def test_bodies_in_one_segment_pipelined_split_or_chunked_are_each_answered_once(self):
        e = self.evid(BASE)
        body = EVENTS_LIST.encode()
        keep = (b"POST /mi HTTP/1.1\r\nHost: evid\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body)) + body
        last = post_mi_request(body)  # Connection: close

        def answers(raw):
            out, rest = [], raw
            while rest:
                head, _, rest = rest.partition(b"\r\n\r\n")
                n = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                out.append((int(head.split()[1]), json.loads(rest[:n])["result"]))
                rest = rest[n:]
            return out

        want = (200, e.mi("events_list", {})["result"])
        # Three requests in one send: each body is parsed from the buffer, the next request's
        # bytes stay for the next header.
        self.assertEqual(answers(raw_exchange(keep + keep + last, port=e.mi_port)), [want] * 3)
        # The header first, the body later, in two pieces: the rest is read from the socket.
        s = socket.create_connection(("127.0.0.1", e.mi_port), timeout=5)
        self.addCleanup(s.close)
        split = keep.index(b"\r\n\r\n") + 4
        for piece in (keep[:split], body[:5], body[5:] + last):
            s.sendall(piece)
            time.sleep(0.05)
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
        self.assertEqual(answers(raw), [want] * 2)
        # A chunked body, whole in one send, and one whose last chunk comes later.
        chunked = (b"POST /mi HTTP/1.1\r\nHost: evid\r\nTransfer-Encoding: chunked\r\n\r\n" +
                   b"%x\r\n%s\r\n" % (10, body[:10]) + b"%x\r\n%s\r\n" % (len(body) - 10, body[10:]))
        self.assertEqual(answers(raw_exchange(chunked + b"0\r\n\r\n" + last, port=e.mi_port)),
                         [want] * 2)
        s = socket.create_connection(("127.0.0.1", e.mi_port), timeout=5)
        self.addCleanup(s.close)
        s.sendall(chunked)
        time.sleep(0.05)
        s.sendall(b"0\r\n\r\n" + last)
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
        self.assertEqual(answers(raw), [want] * 2)

    def test_replies_are_whole_http_messages_in_the_requests_version(self):
        e = self.evid(BASE)
        body = json.dumps({"jsonrpc": "2.0", "method": "raise_event",
                           "params": {"event": "E_MI_B"}, "id": 7}).encode()
        reply = b'{"jsonrpc":"2.0","error":{"code":480,"message":"Temporarily Unavailable"},"id":7}'
        head = b"POST /mi HTTP/%s\r\nHost: evid\r\nContent-Length: %d\r\n"
        raw = raw_exchange(head % (b"1.1", len(body)) + b"\r\n" + body +
                           head % (b"1.0", len(body)) + b"\r\n" + body, port=e.mi_port)
        answer = (b"Server: evid\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(reply), reply))
        self.assertEqual(raw, b"HTTP/1.1 200 OK\r\n" + answer + b"HTTP/1.0 200 OK\r\n" + answer)
        # HTTP/1.0 with keep-alive asked for: said so in the reply, and the connection stays.
        s = socket.create_connection(("127.0.0.1", e.mi_port), timeout=5)
        self.addCleanup(s.close)
        for _ in range(2):
            s.sendall(head % (b"1.0", len(body)) + b"Connection: keep-alive\r\n\r\n" + body)
            got = b""
            while not got.endswith(reply):
                chunk = s.recv(65536)
                if not chunk:  # closed: the assertion below says what came
                    break
                got += chunk
            self.assertEqual(got, b"HTTP/1.0 200 OK\r\nServer: evid\r\n"
                             b"Content-Type: application/json\r\nConnection: keep-alive\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(reply), reply))

    # -- a command that takes long --
    def test_a_command_that_takes_long_holds_up_only_its_own_connection(self):
        # A sync event_route that spins until a given second runs inside raise_event, on the MI
        # thread that took the call. Meanwhile new connections are accepted and answered by the
        # others. The route's length is wall time, the same in every build.
        e = self.evid('workers = 2\nmax_while_loops = 2000000000\n'
                      'loadmodule "event_route.so"\n'
                      'event_route[E_SLOW, sync] {\n'
                      '    xlog("L_NOTICE", "slow route begins\\n");\n'
                      '    $var(i) = 0;\n'
                      '    while ($Ts < $param(until)) { $var(i) = $var(i) + 1; }\n'
                      '    xlog("L_NOTICE", "slow route ends\\n");\n'
                      '}\n')
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "raise_event", "params": {
            "event": "E_SLOW", "params": {"until": int(time.time()) + 8}}})
        reply = {}
        t = threading.Thread(target=lambda: reply.update(
            json.loads(e.http("POST", "/mi", body, timeout=60)[2])))
        t.start()
        self.addCleanup(t.join, 60)
        self.assertTrue(e.wait_log("slow route begins", timeout=10), e.log()[-2000:])
        for i in range(3):
            # A connection of its own for each call, and each answered while the route runs.
            status, _, answer = split_response(
                raw_exchange(post_mi_request(EVENTS_LIST), port=e.mi_port, timeout=10))
            self.assertEqual(status, 200)
            self.assertIn("E_SLOW", json.dumps(json.loads(answer)["result"]))
            self.assertNotIn("slow route ends", e.log(), "call %d waited for the long command" % i)
        t.join(60)
        self.assertEqual(reply.get("result"), "OK", reply)
        self.assert_serving(e)

    # -- limits and malformed input --
    def test_oversized_body_gets_an_error_reply_and_evid_keeps_serving(self):
        e = self.evid(BASE + "mi_max_body = 2048\n")
        big = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "raise_event",
                          "params": {"event": "E_MI_A", "params": {"x": "y" * 5000}}})
        status, _, body = split_response(raw_exchange(post_mi_request(big), port=e.mi_port))
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"jsonrpc": "2.0", "error": {
            "code": -32600, "message": "Invalid Request",
            "data": "request body larger than 2048 bytes"}, "id": None})
        # A client still sending a large body gets to read the reply, not a reset.
        huge = post_mi_request(b"[" + b'"x",' * (3 << 18) + b'"x"]')
        status, _, body = split_response(raw_exchange(huge, port=e.mi_port))
        self.assertEqual((status, json.loads(body)["error"]["code"]), (200, -32600))
        # The same with chunked encoding (no Content-Length up front).
        chunked = (b"POST /mi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                   b"".join(b"%x\r\n%s\r\n" % (1000, b"a" * 1000) for _ in range(4)) +
                   b"0\r\n\r\n")
        status, _, body = split_response(raw_exchange(chunked, port=e.mi_port))
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["error"]["code"], -32600)
        self.assert_serving(e)

    def test_garbage_http_gets_400_and_evid_keeps_serving(self):
        e = self.evid(BASE)
        for junk in (b"\x00\x01\x02garbage\r\n\r\n", b"GET / HTTP/9.9 what\r\n\r\n",
                     b"POST /mi HTTP/1.1\r\nContent-Length: abc\r\n\r\n"):
            status, _, _ = split_response(raw_exchange(junk, port=e.mi_port))
            self.assertEqual(status, 400, junk)
        status, _, body = split_response(raw_exchange(
            post_mi_request(b"\xff\xfe{not json"), port=e.mi_port))
        self.assertEqual((status, json.loads(body)["error"]["code"]), (200, -32700))
        status, _, body = split_response(raw_exchange(
            post_mi_request("[" * 100000), port=e.mi_port))
        self.assertEqual((status, json.loads(body)["error"]["code"]), (200, -32700))
        self.assert_serving(e)

    def test_a_silent_client_is_disconnected_after_mi_timeout_ms(self):
        e = self.evid(BASE + "mi_timeout_ms = 300\n")
        s = socket.create_connection(("127.0.0.1", e.mi_port), timeout=5)
        self.addCleanup(s.close)
        s.sendall(b"POST /mi HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        start = time.time()
        self.assertEqual(s.recv(100), b"")
        self.assertLess(time.time() - start, 3)
        self.assert_serving(e)

    def test_connections_beyond_the_limit_get_503(self):
        e = self.evid(BASE + "mi_max_connections = 2\n")
        held = []
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", e.mi_port), timeout=5)
            self.addCleanup(s.close)
            held.append(s)
        time.sleep(0.2)
        status, _, body = split_response(raw_exchange(post_mi_request(EVENTS_LIST),
                                                      port=e.mi_port))
        self.assertEqual((status, body), (503, b"too many connections to evid\n"))
        for s in held:
            s.close()
        self.assertTrue(wait_for(lambda: e.http("POST", "/mi", EVENTS_LIST)[0] == 200))

    def test_expect_100_continue_is_answered(self):
        e = self.evid(BASE)
        s = socket.create_connection(("127.0.0.1", e.mi_port), timeout=5)
        self.addCleanup(s.close)
        body = EVENTS_LIST.encode()
        s.sendall(b"POST /mi HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
        self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n"))
        s.sendall(body)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        self.assertEqual(split_response(out)[0], 200)

    def test_other_paths_and_methods(self):
        e = self.evid(BASE)
        status, headers, _ = e.http("GET", "/mi")
        self.assertEqual((status, headers.get("Allow")), (405, "POST"))
        self.assertEqual(e.http("GET", "/nope")[0], 404)
        self.assertEqual(e.http("DELETE", "/metrics")[0], 404)

    # -- /metrics --
    def test_metrics_count_what_the_test_caused(self):
        e = self.evid(BASE)
        sink = UdpSink()
        self.addCleanup(sink.close)
        dead = os.path.join(e.dir, "nobody.sock")
        for sock in (sink.socket, "unix:" + dead):
            self.assertEqual(e.mi("event_subscribe", {"event": "E_MI_A", "socket": sock})
                             ["result"], "OK")
        for _ in range(5):
            self.assertEqual(e.mi("raise_event", {"event": "E_MI_A"})["result"], "OK")
        self.assertEqual(len([sink.recv() for _ in range(5)]), 5)
        bad = (("event", "E_MI_A"), ("socket", "unix:" + dead))

        def scrape():
            status, headers, body = e.http("GET", "/metrics")
            self.assertEqual(status, 200)
            self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"))
            return parse_prometheus(body.decode())

        # Failed deliveries are retried with backoff before they count as failed.
        self.assertTrue(wait_for(
            lambda: scrape()[0].get(("evi_subscriber_failed_total", bad)) == 5, timeout=30))
        samples, types = scrape()
        self.assertEqual(samples[("evi_event_raised_total", (("event", "E_MI_A"),))], 5)
        self.assertEqual(samples[("evi_event_raised_total", (("event", "E_MI_B"),))], 0)
        self.assertEqual(samples[("evi_event_subscribers", (("event", "E_MI_A"),))], 2)
        good = (("event", "E_MI_A"), ("socket", sink.socket))
        self.assertEqual(samples[("evi_subscriber_delivered_total", good)], 5)
        self.assertEqual(samples[("evi_subscriber_failed_total", good)], 0)
        self.assertEqual(samples[("evi_subscriber_dropped_total", good)], 0)
        self.assertEqual(samples[("evi_subscriber_queue_depth", good)], 0)
        self.assertEqual(samples[("evi_subscriber_up", good)], 1)
        self.assertEqual(samples[("evi_subscriber_delivered_total", bad)], 0)
        self.assertEqual(samples[("evi_subscriber_failed_total", bad)], 5)
        self.assertEqual(samples[("evi_subscriber_up", bad)], 0)
        self.assertEqual(types["evi_event_raised_total"], "counter")
        self.assertEqual(types["evi_subscriber_queue_depth"], "gauge")
        self.assertGreater(samples[("evi_process_resident_memory_bytes", ())], 1e6)
        self.assertGreaterEqual(samples[("evi_process_threads", ())], 2)
        self.assertGreaterEqual(samples[("evi_uptime_seconds", ())], 0)
        failed = [v for (n, _), v in samples.items() if n == "evi_event_datagram_send_failed"]
        # The module counts every attempt: the first ones and the core's retries.
        self.assertEqual(failed, [5 + samples[("evi_subscriber_retried_total", bad)]])

    def test_health_is_200_while_running(self):
        e = self.evid(BASE)
        self.assertEqual(e.http("GET", "/health")[0], 200)
        self.assertEqual(e.http("GET", "/health")[2], b"OK\n")


@unittest.skipUnless(shutil.which("chromium"), "chromium is not installed (scripts/setup)")
class StatusPage(EvidTestCase):
    def test_status_page_renders_events_subscribers_and_commands_in_chromium(self):
        e = self.evid(BASE)
        sink = UdpSink()
        self.addCleanup(sink.close)
        e.mi("event_subscribe", {"event": "E_MI_A", "socket": sink.socket})
        e.mi("raise_event", {"event": "E_MI_A"})
        profile = tempfile.mkdtemp(prefix="evi-chromium-")
        self.addCleanup(shutil.rmtree, profile, True)
        p = subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--user-data-dir=" + profile,
             "--dump-dom", "http://127.0.0.1:%d/" % e.mi_port],
            capture_output=True, text=True, timeout=90)
        dom = p.stdout
        self.assertIn("<title>evid status</title>", dom, p.stderr[-2000:])
        self.assertIn('<table id="events">', dom)
        self.assertRegex(dom, r"<tr><td>E_MI_A</td><td class=\"n\">\d+</td>"
                              r"<td class=\"n\">1</td><td class=\"n\">1</td></tr>")
        self.assertIn("<td>%s</td>" % sink.socket, dom)
        self.assertIn("<code>raise_event</code> (<code>evi:raise</code>)", dom)


if __name__ == "__main__":
    unittest.main()
