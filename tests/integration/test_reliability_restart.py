"""A consumer that crashes and comes back (issue 8): the XML-RPC peer is SIGKILLed in the middle
of a stream of events and restarted on the same port. The events raised while it was gone are
counted as failed (or dropped), never silently lost; E_EVI_SUBSCRIBER_STATUS says "down" then
"up"; and once it is back every new event reaches it without resubscribing."""
import json
import os
import unittest

from evitest import EvidTestCase, free_port, wait_for
from local_peers import DatagramSink, mi_ok
from reliability_peers import XmlRpcPeerProcess


def subscriber(e, event, prefix):
    r = mi_ok(e, "subscribers_list", {"event": event})
    for s in r["Event"]["Subscribers"]:
        if s["socket"].startswith(prefix):
            return s
    raise AssertionError("no %s subscriber of %s in %s" % (prefix, event, r))


class RestartTest(EvidTestCase):
    def test_an_xmlrpc_peer_killed_and_restarted_mid_stream(self):
        port = free_port()
        sink = DatagramSink("udp4")
        self.addCleanup(sink.close)
        e = self.evid("""
loadmodule "event_xmlrpc.so"
loadmodule "event_datagram.so"
modparam("event_xmlrpc", "timeout", 300)
startup_route {
    subscribe_event("E_S", "xmlrpc:127.0.0.1:%d:ev");
    subscribe_event("E_EVI_SUBSCRIBER_STATUS", "%s");
}
""" % (port, sink.address))
        path = os.path.join(e.dir, "calls.jsonl")
        peer = XmlRpcPeerProcess(port, path)
        self.addCleanup(lambda: peer.kill())

        def raise_range(a, b):
            for i in range(a, b):
                mi_ok(e, "raise_event", {"event": "E_S", "params": {"i": i}})

        def received():  # the values of i the peer got
            return sorted(c[3] for c in peer.calls() if c[0] == "ev")  # ["ev", "E_S", "i", N]

        def settled(n):
            s = subscriber(e, "E_S", "xmlrpc:")
            return s if s["delivered"] + s["failed"] + s["dropped"] == n and \
                s["queued"] == 0 else None

        raise_range(0, 30)
        self.assertTrue(wait_for(lambda: len(received()) == 30, timeout=10), received())

        peer.kill()  # the consumer crashes: its sockets are closed by the kernel
        raise_range(30, 60)
        s = wait_for(lambda: settled(60), timeout=30)
        self.assertTrue(s, subscriber(e, "E_S", "xmlrpc:"))
        self.assertEqual(s["delivered"], 30, s)
        self.assertEqual(s["failed"] + s["dropped"], 30, s)

        peer = XmlRpcPeerProcess(port, path)  # back on the same port
        raise_range(60, 90)
        self.assertTrue(wait_for(lambda: received()[-30:] == list(range(60, 90)), timeout=15),
                        received()[-30:])
        s = wait_for(lambda: settled(90), timeout=10)
        self.assertTrue(s, subscriber(e, "E_S", "xmlrpc:"))
        self.assertEqual(s["delivered"], 60, s)
        self.assertEqual(received(), list(range(0, 30)) + list(range(60, 90)))

        sink.drain(0.5)
        statuses = [json.loads(p)["params"] for p in sink.got
                    if json.loads(p).get("method") == "E_EVI_SUBSCRIBER_STATUS"]
        mine = [p["status"] for p in statuses if p.get("event") == "E_S"]
        self.assertIn("down", mine, statuses)
        self.assertEqual(mine[-1], "up", statuses)
        self.assertTrue(e.alive())


if __name__ == "__main__":
    unittest.main()
