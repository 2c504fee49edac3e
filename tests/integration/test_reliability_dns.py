"""A DNS name that stops resolving (issue 8), through the real resolver: evid runs in a private
mount namespace whose /etc/hosts is a file this test rewrites (see fault_peers), and whose
nameserver refuses at once (or, for the slow-resolver case, never answers).

What each transport does with names (plugins/*/README.md):
- udp: (datagram) resolved once, when the subscription is made, and kept: an unresolvable name
  is refused at subscribe time with a message naming it; later DNS changes do not matter.
- xmlrpc: and tcp: (stream) resolve at each (re)connect, on the subscriber's delivery worker: a
  failed resolution is a failed attempt (retried within delivery_retries, then counted as
  failed) logged with the host's name; delivery resumes once the name resolves again. A slow
  resolver delays that worker only, never the raiser."""
import json
import os
import socket
import time
import unittest

import fault_peers
from evitest import EvidTestCase, free_port, wait_for
from local_peers import DatagramSink, mi_ok
from reliability_peers import XmlRpcPeerProcess
from rpc_peers import JsonRpcPeer

NAME = "evi-peer.test"


class DnsTest(EvidTestCase):
    def setUp(self):
        self.tmp, self.hosts, self.resolv = fault_peers.private_hosts(
            self, {NAME: "127.0.0.1"}, "evi-rel-dns-")
        self.sink = DatagramSink("udp4")
        self.addCleanup(self.sink.close)

    def start(self, body, resolv=None):
        wrapper = fault_peers.private_hosts_evid(self.tmp, self.hosts, resolv or self.resolv)
        e = self.evid(body, binary=wrapper)
        self.assertTrue(fault_peers.is_evid(e), "the wrapper did not exec evid")
        return e

    def xmlrpc_evid(self, port, retries, resolv=None, head=""):
        return self.start(head + """
log_level = 4
delivery_retries = %d
loadmodule "event_xmlrpc.so"
loadmodule "event_datagram.so"
modparam("event_xmlrpc", "timeout", 2000)
startup_route {
    subscribe_event("E_S", "xmlrpc:%s:%d:ev");
    subscribe_event("E_EVI_SUBSCRIBER_STATUS", "%s");
}
""" % (retries, NAME, port, self.sink.address), resolv)

    def peer(self, port, path):
        p = XmlRpcPeerProcess(port, path)
        self.addCleanup(p.kill)
        return p

    @staticmethod
    def received(peer):  # the values of i the peer got: ["ev", "E_S", "i", N]
        return [c[3] for c in peer.calls() if c[0] == "ev"]

    def raise_range(self, e, a, b):
        for i in range(a, b):
            mi_ok(e, "raise_event", {"event": "E_S", "params": {"i": i}})

    def assert_outage_logged(self, e, proto):
        """The outage's first failure is an error naming the host; the resolver's answer is in
        the log too (at debug level when another failure, e.g. a reset, came first)."""
        self.assertTrue(e.wait_log("cannot resolve %s" % NAME, timeout=15), e.log()[-3000:])
        self.assertTrue([l for l in e.log().splitlines()
                         if "[ERROR]" in l and "%s:%s:" % (proto, NAME) in l], e.log()[-3000:])

    def my_statuses(self):
        return [p["status"] for p in fault_peers.statuses(self.sink) if p.get("event") == "E_S"]

    def test_xmlrpc_events_queued_while_the_name_does_not_resolve_arrive_once_it_does(self):
        port = free_port()
        e = self.xmlrpc_evid(port, retries=100)
        path = os.path.join(e.dir, "calls.jsonl")
        peer = self.peer(port, path)
        self.raise_range(e, 0, 3)
        self.assertTrue(wait_for(lambda: self.received(peer) == [0, 1, 2], timeout=10),
                        self.received(peer))

        # The name goes away and the peer dies: evid must reconnect, and cannot resolve.
        self.hosts.set({})
        peer.kill()
        self.raise_range(e, 3, 8)
        self.assert_outage_logged(e, "xmlrpc")
        s = wait_for(lambda: (lambda s: s if s["retried"] >= 2 else None)(
            fault_peers.subscriber(e, "E_S", "xmlrpc:")), timeout=15)
        self.assertTrue(s, fault_peers.subscriber(e, "E_S", "xmlrpc:"))
        self.assertEqual(s["delivered"], 3, s)
        self.assertEqual(s["failed"], 0, s)  # still within the retry budget
        self.assertTrue(e.alive())

        # The name resolves again and the peer is back: the queued events arrive, in order.
        self.hosts.set({NAME: "127.0.0.1"})
        peer = self.peer(port, path)
        self.assertTrue(wait_for(lambda: self.received(peer) == [0, 1, 2, 3, 4, 5, 6, 7],
                                 timeout=30), self.received(peer))
        s = wait_for(lambda: (lambda s: s if s["delivered"] == 8 and s["queued"] == 0
                              else None)(fault_peers.subscriber(e, "E_S", "xmlrpc:")), timeout=10)
        self.assertTrue(s, fault_peers.subscriber(e, "E_S", "xmlrpc:"))
        self.assertEqual((s["failed"], s["dropped"]), (0, 0), s)
        self.assertGreaterEqual(s["retried"], 2, s)

    def test_xmlrpc_without_retries_each_unresolvable_delivery_is_a_counted_failure(self):
        port = free_port()
        e = self.xmlrpc_evid(port, retries=0)
        path = os.path.join(e.dir, "calls.jsonl")
        peer = self.peer(port, path)
        self.raise_range(e, 0, 1)
        self.assertTrue(wait_for(lambda: self.received(peer) == [0], timeout=10))

        self.hosts.set({})
        peer.kill()
        self.raise_range(e, 1, 6)
        s = wait_for(lambda: (lambda s: s if s["failed"] == 5 and s["queued"] == 0 else None)(
            fault_peers.subscriber(e, "E_S", "xmlrpc:")), timeout=20)
        self.assertTrue(s, fault_peers.subscriber(e, "E_S", "xmlrpc:"))
        self.assertEqual(s["delivered"], 1, s)
        self.assert_outage_logged(e, "xmlrpc")
        self.assertTrue(wait_for(lambda: "down" in self.my_statuses(), timeout=5),
                        fault_peers.statuses(self.sink))
        self.assertTrue(e.alive())

        self.hosts.set({NAME: "127.0.0.1"})
        peer = self.peer(port, path)
        self.raise_range(e, 6, 9)
        self.assertTrue(wait_for(lambda: self.received(peer) == [0, 6, 7, 8], timeout=15),
                        self.received(peer))
        self.assertTrue(wait_for(lambda: self.my_statuses()[-1:] == ["up"], timeout=5),
                        fault_peers.statuses(self.sink))
        s = fault_peers.subscriber(e, "E_S", "xmlrpc:")
        self.assertEqual((s["delivered"], s["failed"]), (4, 5), s)

    def test_stream_reconnects_once_the_name_resolves_again(self):
        port = free_port()
        e = self.start("""
log_level = 4
delivery_retries = 100
loadmodule "event_stream.so"
modparam("event_stream", "reliable_mode", 1)
modparam("event_stream", "timeout", 300)
startup_route { subscribe_event("E_S", "tcp:%s:%d"); }
""" % (NAME, port))

        def received(peer):
            return [m["params"]["i"] for m in peer.wait_messages(0, 0)]

        peer = JsonRpcPeer("result", port=port)
        self.addCleanup(lambda: peer.close())
        self.raise_range(e, 0, 3)
        self.assertTrue(wait_for(lambda: received(peer) == [0, 1, 2], timeout=10),
                        received(peer))

        self.hosts.set({})
        peer.close()
        self.raise_range(e, 3, 6)
        self.assert_outage_logged(e, "tcp")
        s = wait_for(lambda: (lambda s: s if s["retried"] >= 2 else None)(
            fault_peers.subscriber(e, "E_S", "tcp:")), timeout=15)
        self.assertTrue(s, fault_peers.subscriber(e, "E_S", "tcp:"))
        self.assertEqual((s["delivered"], s["failed"]), (3, 0), s)

        self.hosts.set({NAME: "127.0.0.1"})
        peer = JsonRpcPeer("result", port=port)
        self.assertTrue(wait_for(lambda: received(peer) == [3, 4, 5], timeout=30),
                        received(peer))
        s = wait_for(lambda: (lambda s: s if s["delivered"] == 6 and s["queued"] == 0
                              else None)(fault_peers.subscriber(e, "E_S", "tcp:")), timeout=10)
        self.assertTrue(s, fault_peers.subscriber(e, "E_S", "tcp:"))
        self.assertEqual((s["failed"], s["dropped"]), (0, 0), s)

    def test_a_resolver_that_never_answers_does_not_block_the_raiser(self):
        # A nameserver that swallows queries: each lookup of a missing name takes ~2 s.
        try:
            hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.addCleanup(hole.close)
            hole.bind(("127.0.0.2", 53))
        except OSError as err:
            self.skipTest("cannot bind a silent nameserver on 127.0.0.2:53: %s" % err)
        resolv = os.path.join(self.tmp, "resolv-silent.conf")
        with open(resolv, "w") as f:
            f.write("nameserver 127.0.0.2\noptions timeout:2 attempts:1\n")
        port = free_port()
        # Events still queued behind the stuck lookup are not waited for at the end.
        e = self.xmlrpc_evid(port, retries=100, resolv=resolv, head="shutdown_timeout = 1\n")
        peer = self.peer(port, os.path.join(e.dir, "calls.jsonl"))
        self.raise_range(e, 0, 1)
        self.assertTrue(wait_for(lambda: self.received(peer) == [0], timeout=10))

        self.hosts.set({})
        peer.kill()
        self.raise_range(e, 1, 2)  # the worker now waits in getaddrinfo
        self.assertTrue(wait_for(lambda: hole.recv(512, socket.MSG_DONTWAIT)
                                 if _readable(hole) else None, timeout=10),
                        "evid never asked the nameserver")
        worst = 0.0
        for i in range(2, 52):
            t0 = time.monotonic()
            mi_ok(e, "raise_event", {"event": "E_S", "params": {"i": i}})
            worst = max(worst, time.monotonic() - t0)
        self.assertLess(worst, 1.0, "a raise waited for the resolver")
        s = fault_peers.subscriber(e, "E_S", "xmlrpc:")
        self.assertEqual(s["delivered"], 1, s)
        self.assertGreaterEqual(s["queued"], 40, s)
        self.assertTrue(e.alive())

    def test_udp_subscription_to_a_name_that_does_not_resolve_is_refused_naming_it(self):
        e = self.start('loadmodule "event_datagram.so"\nroute[declare] { raise_event("E_U"); }\n')
        r = e.mi("event_subscribe", {"event": "E_U", "socket": "udp:evi-gone.test:9999"})
        self.assertIn("error", r, r)
        self.assertIn("evi-gone.test", json.dumps(r), r)
        self.assertTrue(e.alive())

    def test_udp_keeps_the_address_resolved_at_subscribe_time(self):
        target = DatagramSink("udp4")
        self.addCleanup(target.close)
        e = self.start('loadmodule "event_datagram.so"\nroute[declare] { raise_event("E_U"); }\n')
        mi_ok(e, "event_subscribe", {"event": "E_U", "socket": "udp:%s:%d" % (NAME, target.port),
                                     "expire": 600})
        mi_ok(e, "raise_event", {"event": "E_U", "params": {"i": 0}})
        self.assertEqual(len(target.wait(1)), 1)
        self.hosts.set({})
        mi_ok(e, "raise_event", {"event": "E_U", "params": {"i": 1}})
        got = target.wait(2)
        self.assertEqual([json.loads(p)["params"]["i"] for p in got], [0, 1])
        # A new subscription to the name is refused now.
        r = e.mi("event_subscribe", {"event": "E_U", "socket": "udp:%s:%d" % (NAME, 9)})
        self.assertIn("error", r, r)
        self.assertIn(NAME, json.dumps(r), r)


def _readable(sock):
    import select
    return select.select([sock], [], [], 0.05)[0]


if __name__ == "__main__":
    unittest.main()
