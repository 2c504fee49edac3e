"""Overload and isolation (issue 8): 1,000,000 events raised at an event with two subscribers, an
XML-RPC peer that accepts and never answers (stalled), or a RabbitMQ broker that is stopped
(nothing listens on its port), and a healthy flatstore file. evid's
memory stays bounded by the queue, the stalled subscriber's drops are counted exactly
(raised = delivered + failed + dropped + queued), the healthy subscriber gets every event in
order, and the raiser is not slowed down by the stalled one."""
import json
import os
import time
import unittest

from evitest import EvidTestCase, wait_for
from local_peers import DatagramSink, mi_ok
from mi_peer import parse_prometheus
from reliability_peers import StalledPeer, rss_kib

N = 1000000
CHUNKS = 4  # N is raised in rounds of CHUNK events, E_BASE and E_LOAD taking turns
CHUNK = N // CHUNKS
QUEUE = 200


def config(port, status_socket):
    return """
queue_size = %d
delivery_retries = 0
max_while_loops = 1000000
loadmodule "event_xmlrpc.so"
loadmodule "event_flatstore.so"
loadmodule "event_route.so"
loadmodule "event_datagram.so"
modparam("event_xmlrpc", "timeout", 200)
startup_route {
    subscribe_event("E_LOAD", "xmlrpc:127.0.0.1:%d:never");
    subscribe_event("E_LOAD", "flatstore:@DIR@/healthy.log");
    subscribe_event("E_BASE", "flatstore:@DIR@/base.log");
    subscribe_event("E_EVI_SUBSCRIBER_STATUS", "%s");
}
route[burst] {
    $var(i) = $param(from);
    $var(end) = $param(from) + $param(n);
    while ($var(i) < $var(end)) {
        $avp(v) := $var(i);
        raise_event($var(name), , $avp(v));
        $var(i) = $var(i) + 1;
    }
}
event_route[E_GO_BASE] {
    $var(name) = "E_BASE";
    route(burst);
    xlog("L_NOTICE", "burst E_BASE $param(from) done\\n");
}
event_route[E_GO] {
    $var(name) = "E_LOAD";
    route(burst);
    xlog("L_NOTICE", "burst E_LOAD $param(from) done\\n");
}
""" % (QUEUE, port, status_socket)


RMQ_HELD = 100  # events the rabbitmq module holds per broker while it is down


def rabbitmq_config(port, status_socket):
    """config() with the stalled XML-RPC peer replaced by a broker that is down."""
    text = config(0, status_socket)
    text = text.replace('subscribe_event("E_LOAD", "xmlrpc:127.0.0.1:0:never");',
                        'subscribe_event("E_LOAD", "rabbitmq:127.0.0.1:%d/evi");' % port)
    text = text.replace('modparam("event_xmlrpc", "timeout", 200)\n', "")
    return text.replace('loadmodule "event_xmlrpc.so"\n',
                        'loadmodule "event_rabbitmq.so"\n'
                        'modparam("event_rabbitmq", "queue_size", %d)\n' % RMQ_HELD)


def subscriber(e, event, prefix):
    r = mi_ok(e, "subscribers_list", {"event": event})
    for s in r["Event"]["Subscribers"]:
        if s["socket"].startswith(prefix):
            return s
    raise AssertionError("no %s subscriber of %s in %s" % (prefix, event, r))


def raised(e, event):
    r = mi_ok(e, "get_statistics", {"statistics": ["events:" + event]})
    return int(r["events:" + event])


def count_lines(path):
    n = 0
    with open(path, "rb") as f:
        for _ in f:
            n += 1
    return n


def burst(test, e, name, first, timeout=240):
    """Raises CHUNK events at `name` (E_BASE or E_LOAD) from script, their values counting up
    from `first`; returns the seconds it took, MI call included."""
    go = {"E_BASE": "E_GO_BASE", "E_LOAD": "E_GO"}[name]
    t0 = time.monotonic()
    mi_ok(e, "raise_event", {"event": go, "params": {"from": first, "n": CHUNK}})
    test.assertTrue(e.wait_log("burst %s %d done" % (name, first), timeout=timeout),
                    "the burst did not finish:\n" + e.log()[-3000:])
    return time.monotonic() - t0


def timed_bursts(test, e, what):
    """Raises N events at E_BASE (a healthy subscriber only) and N at E_LOAD (the same plus the
    one in trouble), in CHUNKS rounds that take turns, and asserts that the raiser is not held
    up by the subscriber in trouble: the fastest E_LOAD round is within 20% of the fastest
    E_BASE round, plus a tenth of a second. The fastest of several rounds, because a loaded
    machine only ever adds time: one round of each (as before) failed on a noisy CI machine
    with 1.27 times the time, where other runs of the same build measured 0.95-1.08."""
    base, load = [], []
    for k in range(CHUNKS):
        first = k * CHUNK
        if k % 2 == 0:
            base.append(burst(test, e, "E_BASE", first))
            load.append(burst(test, e, "E_LOAD", first))
        else:
            load.append(burst(test, e, "E_LOAD", first))
            base.append(burst(test, e, "E_BASE", first))
    print("\n  %d events in %d rounds: %.2fs without (fastest round %.2fs), %.2fs with %s "
          "(fastest round %.2fs)" % (N, CHUNKS, sum(base), min(base), sum(load), what, min(load)))
    test.assertLess(min(load), min(base) * 1.2 + 0.1,
                    "rounds without: %s, with: %s" % (base, load))


class OverloadTest(EvidTestCase):
    def test_a_stalled_subscriber_costs_bounded_memory_and_counted_drops_only(self):
        peer = StalledPeer()
        self.addCleanup(peer.close)
        sink = DatagramSink("udp4")
        self.addCleanup(sink.close)
        e = self.evid(config(peer.port, sink.address), start_timeout=30)
        rss0 = rss_kib(e.proc.pid)

        # The raiser's own rate with a healthy subscriber only, and with the stalled one too:
        # the stalled peer does not hold it up.
        timed_bursts(self, e, "a stalled subscriber")
        rss1 = rss_kib(e.proc.pid)
        print("  RSS %d -> %d KiB" % (rss0, rss1))
        self.assertTrue(e.alive())

        # Memory: bounded by the queue (QUEUE small events), not by the 1,000,000 raised.
        self.assertLess(rss1 - rss0, 64 * 1024, "RSS grew by %d KiB" % (rss1 - rss0))

        # Every event was raised.
        self.assertEqual(raised(e, "E_LOAD"), N)

        # The healthy subscriber got every event, in order.
        healthy = os.path.join(e.dir, "healthy.log")
        self.assertTrue(wait_for(lambda: subscriber(e, "E_LOAD", "flatstore:")["delivered"] == N,
                                 timeout=30), subscriber(e, "E_LOAD", "flatstore:"))
        h = subscriber(e, "E_LOAD", "flatstore:")
        self.assertEqual((h["failed"], h["dropped"], h["queued"]), (0, 0, 0), h)
        self.assertEqual(count_lines(healthy), N)
        with open(healthy) as f:
            for i, line in enumerate(f):
                if line != "E_LOAD,%d\n" % i:
                    self.fail("line %d of the healthy file is %r" % (i + 1, line))

        # The stalled subscriber: the queue was full almost all the time, so most events were
        # dropped, and every event is accounted for. `queued` counts the queue plus the one
        # event in the worker's hands.
        s = subscriber(e, "E_LOAD", "xmlrpc:")
        self.assertGreater(s["dropped"], N - 10 * QUEUE, s)
        self.assertLessEqual(s["queued"], QUEUE + 1, s)
        accounted = s["delivered"] + s["failed"] + s["dropped"] + s["queued"]
        self.assertIn(N - accounted, (0, 1), s)

        # The consumer goes away for good: the queue drains (fast failures) and the books close
        # exactly.
        peer.close()
        self.assertTrue(wait_for(lambda: subscriber(e, "E_LOAD", "xmlrpc:")["queued"] == 0,
                                 timeout=60), subscriber(e, "E_LOAD", "xmlrpc:"))
        s = wait_for(lambda: (lambda s: s if s["delivered"] + s["failed"] + s["dropped"] == N
                              else None)(subscriber(e, "E_LOAD", "xmlrpc:")), timeout=10)
        self.assertTrue(s, subscriber(e, "E_LOAD", "xmlrpc:"))
        self.assertEqual(s["delivered"], 0, s)

        # The stalled subscriber was reported down (E_EVI_SUBSCRIBER_STATUS), once or a few
        # times, not once per failed event.
        downs = []
        for p in sink.drain(1.0):
            m = json.loads(p)
            if m.get("method") == "E_EVI_SUBSCRIBER_STATUS" and \
                    m["params"].get("socket", "").startswith("xmlrpc:") and \
                    m["params"].get("status") == "down":
                downs.append(m["params"])
        self.assertTrue(downs, "no E_EVI_SUBSCRIBER_STATUS down for the stalled subscriber")
        self.assertLess(len(downs), 10, downs[:3])

        # /metrics tells the same story.
        status, _, body = e.http("GET", "/metrics")
        samples, _ = parse_prometheus(body.decode())
        dropped = [v for (name, labels), v in samples.items()
                   if name == "evi_subscriber_dropped_total" and
                   dict(labels).get("event") == "E_LOAD" and
                   dict(labels).get("socket", "").startswith("xmlrpc:")]
        self.assertEqual(dropped, [s["dropped"]])
        self.assertTrue(e.alive())


class BrokerDownOverloadTest(EvidTestCase):
    def test_a_stopped_broker_costs_bounded_memory_and_counted_drops_only(self):
        import socket as socketmod
        # A port that was free a moment ago: the broker "is stopped", connects are refused.
        s = socketmod.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        sink = DatagramSink("udp4")
        self.addCleanup(sink.close)
        e = self.evid(rabbitmq_config(port, sink.address), start_timeout=30)
        rss0 = rss_kib(e.proc.pid)
        timed_bursts(self, e, "a stopped broker")
        rss1 = rss_kib(e.proc.pid)
        print("  RSS %d -> %d KiB" % (rss0, rss1))
        self.assertTrue(e.alive())
        self.assertLess(rss1 - rss0, 64 * 1024, "RSS grew by %d KiB" % (rss1 - rss0))
        self.assertEqual(raised(e, "E_LOAD"), N)

        # The healthy subscriber got every event.
        self.assertTrue(wait_for(lambda: subscriber(e, "E_LOAD", "flatstore:")["delivered"] == N,
                                 timeout=30), subscriber(e, "E_LOAD", "flatstore:"))
        self.assertEqual(count_lines(os.path.join(e.dir, "healthy.log")), N)

        # The broker's subscriber: the module holds RMQ_HELD events, the host's queue QUEUE
        # more (plus the one being retried); everything else was dropped, and counted.
        s = subscriber(e, "E_LOAD", "rabbitmq:")
        self.assertEqual(s["delivered"], 0, s)
        self.assertLessEqual(s["queued"], QUEUE + 1 + RMQ_HELD, s)
        self.assertGreater(s["dropped"], N - QUEUE - 1 - RMQ_HELD - 10 * QUEUE, s)
        accounted = s["delivered"] + s["failed"] + s["dropped"] + s["queued"]
        self.assertIn(N - accounted, (0, 1), s)
        self.assertTrue(e.alive())


if __name__ == "__main__":
    unittest.main()
