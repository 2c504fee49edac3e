"""event_xmlrpc against Python's own XML-RPC server (xmlrpc.server) on loopback."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evitest import EvidTestCase, check_config, free_port, wait_for  # noqa: E402
from rpc_peers import JsonRpcPeer, RawHttpPeer, XmlRpcPeer  # noqa: E402


def xmlrpc_config(subscriptions, modparams=()):
    """subscriptions: [(event, socket)]; modparams: [(name, value text)]."""
    lines = ['loadmodule "event_xmlrpc.so"']
    lines += ['modparam("event_xmlrpc", "%s", %s)' % (k, v) for k, v in modparams]
    lines.append("startup_route {")
    lines += ['    subscribe_event("%s", "%s");' % (ev, sock) for ev, sock in subscriptions]
    lines.append("}")
    return "\n".join(lines) + "\n"


class XmlRpcCase(EvidTestCase):
    def peer(self, **kw):
        p = XmlRpcPeer(**kw)
        self.addCleanup(p.close)
        return p

    def raise_event(self, e, event, params=None):
        args = {"event": event}
        if params is not None:
            args["params"] = params
        reply = e.mi("raise_event", args)
        self.assertEqual(reply.get("result"), "OK", reply)

    def subscriber(self, e, event):
        reply = e.mi("subscribers_list")
        for ev in reply["result"]["Events"]:
            if ev["name"] == event:
                return ev["Subscribers"][0]
        self.fail("no subscriber of %s in %s" % (event, reply))

    def wait_outcome(self, e, event, key, n=1, timeout=10):
        """Waits until the subscriber's counter `key` reaches n; returns the subscriber."""
        sub = wait_for(lambda: (lambda s: s if s[key] >= n else None)(self.subscriber(e, event)),
                       timeout=timeout, interval=0.05)
        self.assertTrue(sub, "%s of %s never reached %d: %s"
                        % (key, event, n, self.subscriber(e, event)))
        return sub


class TestXmlRpcBody(XmlRpcCase):
    def test_named_params_arrive_as_extra_positional_values(self):
        peer = self.peer()
        e = self.evid(xmlrpc_config([("E_XR", "xmlrpc:127.0.0.1:%d:some_method" % peer.port)]))
        self.raise_event(e, "E_XR", {"s": "hello", "n": 42})
        calls = peer.wait_calls(1)
        self.assertEqual(calls, [("some_method", ("E_XR", "s", "hello", "n", 42))])
        self.assertEqual(peer.bodies[0],
                         b'<?xml version="1.0"?>\n<methodCall>\n'
                         b"<methodName>some_method</methodName>\n<params>\n"
                         b"<param>\n<value><string>E_XR</string></value>\n</param>\n"
                         b"<param>\n<name>s</name>\n<value><string>hello</string></value>\n"
                         b"</param>\n"
                         b"<param>\n<name>n</name>\n<value><int>42</int></value>\n</param>\n"
                         b"</params>\n</methodCall>")
        self.assertEqual(self.wait_outcome(e, "E_XR", "delivered")["failed"], 0)

    def test_struct_mode_sends_one_struct_per_param(self):
        peer = self.peer()
        e = self.evid(xmlrpc_config([("E_XR", "xmlrpc:127.0.0.1:%d:some_method" % peer.port)],
                                    [("use_struct_param", 1)]))
        self.raise_event(e, "E_XR", {"s": "hello", "n": 42})
        calls = peer.wait_calls(1)
        self.assertEqual(calls, [("some_method", ("E_XR", {"s": "hello"}, {"n": 42}))])
        self.assertIn(b"<param>\n<value><struct><member>\n<name>s</name>\n"
                      b"<value><string>hello</string></value>\n</member></struct></value>\n"
                      b"</param>\n", peer.bodies[0])

    def test_both_modes_carry_the_same_values(self):
        params = {"s": "hello", "n": 42, "neg": -5}
        got = {}
        for mode in (0, 1):
            peer = self.peer()
            e = self.evid(xmlrpc_config([("E_XR", "xmlrpc:127.0.0.1:%d:m" % peer.port)],
                                        [("use_struct_param", mode)]))
            self.raise_event(e, "E_XR", params)
            args = peer.wait_calls(1)[0][1]
            if mode == 0:
                got[mode] = dict(zip(args[1::2], args[2::2]))
            else:
                got[mode] = {k: v for d in args[1:] for k, v in d.items()}
            self.assertEqual(args[0], "E_XR")
            e.stop()
        self.assertEqual(got[0], params)
        self.assertEqual(got[1], params)

    def test_markup_in_values_and_names_is_escaped_and_arrives_intact(self):
        peer = self.peer()
        e = self.evid(xmlrpc_config([("E_XR", "xmlrpc:127.0.0.1:%d:m" % peer.port)]))
        self.raise_event(e, "E_XR", {"a<b>": 'x & <y> "z" \'q\'', "u": "caf\u00e9 \u2603"})
        calls = peer.wait_calls(1)
        self.assertEqual(calls[0][1],
                         ("E_XR", "a<b>", 'x & <y> "z" \'q\'', "u", "caf\u00e9 \u2603"))
        self.assertIn(b"<name>a&lt;b&gt;</name>", peer.bodies[0])
        self.assertIn(b"x &amp; &lt;y&gt;", peer.bodies[0])

    def test_negative_integers_arrive_signed(self):
        peer = self.peer()
        e = self.evid(xmlrpc_config([("E_XR", "xmlrpc:127.0.0.1:%d:m" % peer.port)]))
        self.raise_event(e, "E_XR", {"n": -5})
        self.assertEqual(peer.wait_calls(1)[0][1], ("E_XR", "n", -5))

    def test_unnamed_params_are_bare_values(self):
        peer = self.peer()
        e = self.evid(xmlrpc_config([("E_XR", "xmlrpc:127.0.0.1:%d:m" % peer.port)],
                                    [("use_struct_param", 1)]))
        self.raise_event(e, "E_XR", [3, "five"])
        self.assertEqual(peer.wait_calls(1), [("m", ("E_XR", 3, "five"))])

    def test_path_in_the_socket_is_the_http_path(self):
        peer = self.peer()
        e = self.evid(xmlrpc_config([("E_XR", "xmlrpc:127.0.0.1:%d/custom/path:m" % peer.port)]))
        self.raise_event(e, "E_XR", {"n": 1})
        self.assertEqual(len(peer.wait_calls(1)), 1)
        self.wait_outcome(e, "E_XR", "delivered")

    def test_ipv6_loopback_in_brackets(self):
        try:
            peer = self.peer(host="::1")
        except OSError as exc:
            self.skipTest("no IPv6 loopback: %s" % exc)
        e = self.evid(xmlrpc_config([("E_XR", "xmlrpc:[::1]:%d:m" % peer.port)]))
        self.raise_event(e, "E_XR", {"n": 1})
        self.assertEqual(peer.wait_calls(1), [("m", ("E_XR", "n", 1))])
        self.assertEqual(peer.headers[0]["Host"], "[::1]:%d" % peer.port)


class TestXmlRpcConnection(XmlRpcCase):
    def test_calls_share_one_keep_alive_connection(self):
        peer = self.peer()
        e = self.evid(xmlrpc_config([("E_XR", "xmlrpc:127.0.0.1:%d:m" % peer.port)]))
        for i in range(5):
            self.raise_event(e, "E_XR", {"i": i})
        calls = peer.wait_calls(5)
        self.assertEqual([c[1][2] for c in calls], [0, 1, 2, 3, 4])
        self.assertEqual(peer.connections, 1)
        self.assertEqual(peer.headers[0]["Connection"], "keep-alive")
        self.assertEqual(self.wait_outcome(e, "E_XR", "delivered", 5)["failed"], 0)

    def test_keepalive_off_opens_one_connection_per_call(self):
        peer = self.peer()
        e = self.evid(xmlrpc_config([("E_XR", "xmlrpc:127.0.0.1:%d:m" % peer.port)],
                                    [("keepalive", 0)]))
        for i in range(3):
            self.raise_event(e, "E_XR", {"i": i})
        peer.wait_calls(3)
        self.wait_outcome(e, "E_XR", "delivered", 3)
        self.assertEqual(peer.connections, 3)
        self.assertEqual(peer.headers[0]["Connection"], "close")

    def test_an_http10_server_that_closes_after_each_call_gets_every_call(self):
        peer = self.peer(http10=True)
        e = self.evid(xmlrpc_config([("E_XR", "xmlrpc:127.0.0.1:%d:m" % peer.port)]))
        for i in range(3):
            self.raise_event(e, "E_XR", {"i": i})
        self.assertEqual([c[1][2] for c in peer.wait_calls(3)], [0, 1, 2])
        sub = self.wait_outcome(e, "E_XR", "delivered", 3)
        self.assertEqual((sub["failed"], sub["retried"]), (0, 0))
        self.assertEqual(peer.connections, 3)

    def test_connection_closed_by_the_idle_server_is_replaced_without_failure(self):
        peer = self.peer(idle_timeout=0.2)  # the server drops idle keep-alive connections
        e = self.evid(xmlrpc_config([("E_XR", "xmlrpc:127.0.0.1:%d:m" % peer.port)]))
        self.raise_event(e, "E_XR", {"i": 1})
        peer.wait_calls(1)
        time.sleep(0.6)
        self.raise_event(e, "E_XR", {"i": 2})
        self.assertEqual(len(peer.wait_calls(2)), 2)
        sub = self.wait_outcome(e, "E_XR", "delivered", 2)
        self.assertEqual((sub["failed"], sub["retried"]), (0, 0))
        self.assertEqual(peer.connections, 2)

    def test_chunked_responses_in_pieces_are_read_whole_and_keep_the_connection(self):
        body = (b"<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n"
                b"<value><boolean>1</boolean></value>\n</param>\n</params>\n"
                b"</methodResponse>\n")
        response = (b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n"
                    + b"%x\r\n" % 10 + body[:10] + b"\r\n"
                    + b"%x\r\n" % (len(body) - 10) + body[10:] + b"\r\n0\r\n\r\n")
        peer = RawHttpPeer(response, pieces=7)
        self.addCleanup(peer.close)
        e = self.evid(xmlrpc_config([("E_XR", "xmlrpc:127.0.0.1:%d:m" % peer.port)]))
        for i in range(3):
            self.raise_event(e, "E_XR", {"i": i})
        sub = self.wait_outcome(e, "E_XR", "delivered", 3)
        self.assertEqual((sub["failed"], sub["retried"]), (0, 0))
        self.assertEqual(len(peer.requests), 3)
        self.assertEqual(peer.connections, 1)


class TestXmlRpcFailures(XmlRpcCase):
    def test_fault_reply_is_a_failed_delivery(self):
        peer = self.peer()
        peer.faults["refuse"] = (7, "refused <here>")
        e = self.evid(xmlrpc_config([("E_XR", "xmlrpc:127.0.0.1:%d:refuse" % peer.port)]))
        self.raise_event(e, "E_XR", {"n": 1})
        sub = self.wait_outcome(e, "E_XR", "failed")
        self.assertEqual(sub["delivered"], 0)
        self.assertEqual(len(peer.calls), 1 + sub["retried"])  # every retry reached the server
        self.assertGreater(sub["retried"], 0)
        self.assertIn("XML-RPC fault 7: refused <here>", e.log())

    def test_http_error_status_is_a_failed_delivery(self):
        peer = self.peer()
        e = self.evid(xmlrpc_config([("E_XR", "xmlrpc:127.0.0.1:%d/nowhere:m" % peer.port)]))
        self.raise_event(e, "E_XR", {"n": 1})
        sub = self.wait_outcome(e, "E_XR", "failed")
        self.assertEqual(sub["delivered"], 0)
        self.assertIn("HTTP 404", e.log())

    def test_dead_server_fails_and_a_server_started_later_gets_the_next_event(self):
        port = free_port()
        e = self.evid(xmlrpc_config([("E_XR", "xmlrpc:127.0.0.1:%d:m" % port)]))
        self.raise_event(e, "E_XR", {"n": 1})
        sub = self.wait_outcome(e, "E_XR", "failed")
        self.assertEqual(sub["state"], "down")
        self.assertIn("Connection refused", e.log())
        self.assertTrue(e.alive())
        peer = self.peer(port=port)
        self.raise_event(e, "E_XR", {"n": 2})
        self.assertEqual(peer.wait_calls(1), [("m", ("E_XR", "n", 2))])
        self.assertEqual(self.wait_outcome(e, "E_XR", "delivered")["state"], "up")

    def test_slow_server_times_out_without_holding_up_other_subscribers(self):
        peer = self.peer()
        peer.delays["slow"] = 2.0
        e = self.evid(xmlrpc_config([("E_SLOW", "xmlrpc:127.0.0.1:%d:slow" % peer.port),
                                     ("E_FAST", "xmlrpc:127.0.0.1:%d:fast" % peer.port)],
                                    [("timeout", 300)]))
        t0 = time.time()
        self.raise_event(e, "E_SLOW", {"n": 1})
        self.raise_event(e, "E_FAST", {"n": 2})
        self.assertLess(time.time() - t0, 1.0, "raising waited on the slow server")
        self.assertTrue(wait_for(lambda: any(c[0] == "fast" for c in peer.calls), timeout=1.5),
                        "the fast subscriber waited for the slow one")
        sub = self.wait_outcome(e, "E_SLOW", "failed", timeout=15)
        self.assertEqual(sub["delivered"], 0)
        self.assertIn("no response before the timeout", e.log())

    def test_malformed_socket_in_the_script_is_a_config_error_with_the_reason(self):
        port = free_port()
        rc, err, _ = check_config(xmlrpc_config([("E_XR", "xmlrpc:127.0.0.1:%d" % port)]))
        self.assertEqual(rc, 1, err)
        self.assertRegex(err, r":\d+:\d+: error: bad socket 'xmlrpc:127\.0\.0\.1:%d': "
                              r"missing ':METHOD' \(expected HOST:PORT\[/PATH\]:METHOD\)" % port)

    def test_malformed_socket_over_mi_is_a_bad_parameter(self):
        peer = self.peer()
        e = self.evid(xmlrpc_config([("E_XR", "xmlrpc:127.0.0.1:%d:m" % peer.port)]))
        reply = e.mi("event_subscribe", {"event": "E_XR", "socket": "xmlrpc:[::1:80:m",
                                         "expire": 60})
        self.assertEqual(reply["error"]["code"], 400, reply)
        self.assertIn("missing ']'", reply["error"].get("data", ""))



class TestFailoverToXmlRpc(XmlRpcCase):
    """The real outcomes of event_xmlrpc and event_stream drive event_virtual's FAILOVER."""

    def failover_config(self, members, modparams=()):
        lines = ['loadmodule "event_xmlrpc.so"', 'loadmodule "event_stream.so"',
                 'loadmodule "event_virtual.so"']
        lines += ['modparam(%s, "%s", %s)' % (m, k, v) for m, k, v in modparams]
        lines += ["startup_route {",
                  '    subscribe_event("E_FO", "virtual:FAILOVER %s");' % " ".join(members),
                  "}"]
        return "\n".join(lines) + "\n"

    def test_a_fault_moves_the_event_to_the_next_member(self):
        peer = self.peer()
        peer.faults["primary"] = (3, "primary is read-only")
        e = self.evid(self.failover_config(["xmlrpc:127.0.0.1:%d:primary" % peer.port,
                                            "xmlrpc:127.0.0.1:%d:backup" % peer.port]))
        self.raise_event(e, "E_FO", {"n": 1})
        calls = peer.wait_calls(2)
        self.assertEqual(calls, [("primary", ("E_FO", "n", 1)), ("backup", ("E_FO", "n", 1))])
        sub = self.wait_outcome(e, "E_FO", "delivered")
        self.assertEqual(sub["failed"], 0)

    def test_a_stream_peer_that_does_not_answer_fails_over_to_xmlrpc(self):
        silent = JsonRpcPeer("silent")
        self.addCleanup(silent.close)
        peer = self.peer()
        e = self.evid(self.failover_config(
            ["tcp:127.0.0.1:%d" % silent.port, "xmlrpc:127.0.0.1:%d:backup" % peer.port],
            [('"event_stream"', "reliable_mode", 1), ('"event_stream"', "timeout", 200)]))
        self.raise_event(e, "E_FO", {"n": 1})
        self.assertEqual(peer.wait_calls(1), [("backup", ("E_FO", "n", 1))])
        self.assertEqual(len(silent.wait_messages(1)), 1)
        self.assertEqual(self.wait_outcome(e, "E_FO", "delivered")["failed"], 0)

    def test_a_dead_xmlrpc_server_fails_over_to_a_live_one(self):
        peer = self.peer()
        e = self.evid(self.failover_config(["xmlrpc:127.0.0.1:%d:m" % free_port(),
                                            "xmlrpc:127.0.0.1:%d:m" % peer.port]))
        for i in range(3):
            self.raise_event(e, "E_FO", {"i": i})
        self.assertEqual([c[1][2] for c in peer.wait_calls(3)], [0, 1, 2])
        self.assertEqual(self.wait_outcome(e, "E_FO", "delivered", 3)["failed"], 0)


if __name__ == "__main__":
    unittest.main()
