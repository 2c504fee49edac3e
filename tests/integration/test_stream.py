"""event_stream against a small JSON-RPC peer over TCP on loopback (rpc_peers.JsonRpcPeer)."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evitest import EvidTestCase, free_port, wait_for  # noqa: E402
from rpc_peers import JsonRpcPeer  # noqa: E402


def stream_config(subscriptions, modparams=()):
    """subscriptions: [(event, socket)]; modparams: [(name, value text)]."""
    lines = ['loadmodule "event_stream.so"']
    lines += ['modparam("event_stream", "%s", %s)' % (k, v) for k, v in modparams]
    lines.append("startup_route {")
    lines += ['    subscribe_event("%s", "%s");' % (ev, sock) for ev, sock in subscriptions]
    lines.append("}")
    return "\n".join(lines) + "\n"


class StreamCase(EvidTestCase):
    def peer(self, mode="silent", **kw):
        p = JsonRpcPeer(mode, **kw)
        self.addCleanup(p.close)
        return p

    def raise_event(self, e, event, params=None):
        args = {"event": event}
        if params is not None:
            args["params"] = params
        reply = e.mi("raise_event", args)
        self.assertEqual(reply.get("result"), "OK", reply)

    def subscriber(self, e, event):
        for ev in e.mi("subscribers_list")["result"]["Events"]:
            if ev["name"] == event:
                return ev["Subscribers"][0]
        self.fail("no subscriber of %s" % event)

    def wait_outcome(self, e, event, key, n=1, timeout=10):
        sub = wait_for(lambda: (lambda s: s if s[key] >= n else None)(self.subscriber(e, event)),
                       timeout=timeout, interval=0.05)
        self.assertTrue(sub, "%s of %s never reached %d: %s"
                        % (key, event, n, self.subscriber(e, event)))
        return sub


class TestStreamNotifications(StreamCase):
    def test_notifications_are_json_objects_back_to_back_on_one_connection(self):
        peer = self.peer()
        e = self.evid(stream_config([("E_S", "tcp:127.0.0.1:%d" % peer.port)]))
        for i in range(3):
            self.raise_event(e, "E_S", {"s": "hello", "n": i})
        peer.wait_messages(3)
        self.assertEqual(peer.raw,
                         b'{"jsonrpc":"2.0","method":"E_S","params":{"s":"hello","n":0}}'
                         b'{"jsonrpc":"2.0","method":"E_S","params":{"s":"hello","n":1}}'
                         b'{"jsonrpc":"2.0","method":"E_S","params":{"s":"hello","n":2}}')
        self.assertEqual(peer.connections, 1)
        sub = self.wait_outcome(e, "E_S", "delivered", 3)
        self.assertEqual(sub["failed"], 0)

    def test_method_in_the_socket_and_event_param_shape_the_payload(self):
        peer = self.peer()
        e = self.evid(stream_config([("E_PIKE_BLOCKED", "tcp:127.0.0.1:%d/handle_cmd" % peer.port)],
                                    [("event_param", '"opensips_event"')]))
        self.raise_event(e, "E_PIKE_BLOCKED", {"ip": "192.168.2.11"})
        peer.wait_messages(1)
        self.assertEqual(peer.raw, b'{"jsonrpc":"2.0","method":"handle_cmd","params":'
                                   b'{"opensips_event":"E_PIKE_BLOCKED","ip":"192.168.2.11"}}')

    def test_strings_are_json_escaped(self):
        peer = self.peer()
        e = self.evid(stream_config([("E_S", "tcp:127.0.0.1:%d" % peer.port)]))
        value = 'q"b\\s/\n\t\u00e9'
        self.raise_event(e, "E_S", {"v": value, "neg": -7})
        self.assertEqual(peer.wait_messages(1)[0]["params"], {"v": value, "neg": -7})

    def test_subscribers_of_one_destination_share_its_connection(self):
        peer = self.peer()
        e = self.evid(stream_config([("E_A", "tcp:127.0.0.1:%d" % peer.port),
                                     ("E_B", "tcp:127.0.0.1:%d/other" % peer.port)]))
        for i in range(3):
            self.raise_event(e, "E_A", {"i": i})
            self.raise_event(e, "E_B", {"i": i})
        msgs = peer.wait_messages(6)
        self.assertEqual(sorted(m["method"] for m in msgs), ["E_A"] * 3 + ["other"] * 3)
        self.assertEqual(peer.connections, 1)

    def test_connection_closed_by_the_peer_is_replaced(self):
        peer = self.peer(mode="close")  # closes after every message
        e = self.evid(stream_config([("E_S", "tcp:127.0.0.1:%d" % peer.port)]))
        self.raise_event(e, "E_S", {"i": 1})
        peer.wait_messages(1)
        time.sleep(0.3)
        self.raise_event(e, "E_S", {"i": 2})
        msgs = peer.wait_messages(2)
        self.assertEqual([m["params"]["i"] for m in msgs], [1, 2])
        self.assertEqual(peer.connections, 2)
        sub = self.wait_outcome(e, "E_S", "delivered", 2)
        self.assertEqual(sub["failed"], 0)

    def test_ipv6_loopback_in_brackets(self):
        try:
            peer = self.peer(host="::1")
        except OSError as exc:
            self.skipTest("no IPv6 loopback: %s" % exc)
        e = self.evid(stream_config([("E_S", "tcp:[::1]:%d/m" % peer.port)]))
        self.raise_event(e, "E_S", {"i": 1})
        self.assertEqual(peer.wait_messages(1), [{"jsonrpc": "2.0", "method": "m",
                                                  "params": {"i": 1}}])

    def test_dead_peer_is_a_failed_delivery(self):
        port = free_port()
        e = self.evid(stream_config([("E_S", "tcp:127.0.0.1:%d" % port)]))
        self.raise_event(e, "E_S", {"i": 1})
        sub = self.wait_outcome(e, "E_S", "failed")
        self.assertEqual(sub["state"], "down")
        self.assertIn("Connection refused", e.log())
        peer = self.peer(port=port)
        self.raise_event(e, "E_S", {"i": 2})
        self.assertEqual(peer.wait_messages(1)[0]["params"], {"i": 2})
        self.assertEqual(self.wait_outcome(e, "E_S", "delivered")["state"], "up")


class TestStreamReliable(StreamCase):
    def test_requests_are_confirmed_by_their_replies(self):
        peer = self.peer(mode="result")
        e = self.evid(stream_config([("E_S", "tcp:127.0.0.1:%d" % peer.port)],
                                    [("reliable_mode", 1)]))
        for i in range(3):
            self.raise_event(e, "E_S", {"i": i})
        msgs = peer.wait_messages(3)
        sub = self.wait_outcome(e, "E_S", "delivered", 3)
        self.assertEqual((sub["failed"], sub["retried"]), (0, 0))
        ids = [m["id"] for m in msgs]
        self.assertEqual(len(set(ids)), 3)
        self.assertTrue(all(isinstance(i, int) and i > 0 for i in ids), ids)
        self.assertEqual(msgs[0], {"id": ids[0], "jsonrpc": "2.0", "method": "E_S",
                                   "params": {"i": 0}})
        self.assertTrue(peer.raw.startswith(b'{"id":%d,"jsonrpc":"2.0","method":"E_S",' % ids[0]))
        self.assertEqual(peer.connections, 1)

    def test_error_reply_is_a_failed_delivery(self):
        peer = self.peer(mode="error")
        e = self.evid(stream_config([("E_S", "tcp:127.0.0.1:%d" % peer.port)],
                                    [("reliable_mode", 1)]))
        self.raise_event(e, "E_S", {"i": 1})
        sub = self.wait_outcome(e, "E_S", "failed")
        self.assertEqual(sub["delivered"], 0)
        self.assertGreater(sub["retried"], 0)
        self.assertEqual(len(peer.messages), 1 + sub["retried"])
        self.assertIn('error reply {"code": -32000, "message": "refused"}', e.log())

    def test_missing_reply_is_a_failed_delivery_after_the_timeout(self):
        peer = self.peer(mode="silent")
        e = self.evid(stream_config([("E_S", "tcp:127.0.0.1:%d" % peer.port)],
                                    [("reliable_mode", 1), ("timeout", 200)]))
        t0 = time.time()
        self.raise_event(e, "E_S", {"i": 1})
        self.assertLess(time.time() - t0, 1.0, "raising waited for the reply")
        sub = self.wait_outcome(e, "E_S", "failed")
        self.assertEqual(sub["delivered"], 0)
        self.assertIn("no reply within 200 ms", e.log())
        self.assertEqual(len(peer.messages), 1 + sub["retried"])

    def test_unnamed_params_are_sent_as_an_array(self):
        peer = self.peer(mode="result")
        e = self.evid(stream_config([("E_S", "tcp:127.0.0.1:%d" % peer.port)],
                                    [("reliable_mode", 1), ("event_param", '"ev"')]))
        reply = e.mi("raise_event", {"event": "E_S", "params": [3, "five"]})
        if "error" in reply:
            self.skipTest("the MI does not raise unnamed params: %s" % reply["error"])
        msg = peer.wait_messages(1)[0]
        self.assertEqual(msg["params"], ["E_S", 3, "five"])
        self.wait_outcome(e, "E_S", "delivered")


if __name__ == "__main__":
    unittest.main()
