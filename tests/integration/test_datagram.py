"""event_datagram with a real evid: exact payloads over UDP (IPv4, IPv6) and Unix datagram
sockets, the OpenSIPS 2.x text format, oversized events, a Unix socket without a listener,
and whole-address matching."""
import os
import shutil
import socket
import tempfile
import unittest

from evitest import EvidTestCase, wait_for
from local_peers import (MODULES, DatagramSink, ipv6_loopback, mi_ok, statistic,
                         subscribers)

def wmem_default():
    """The default socket send buffer: a unix datagram larger than it is EMSGSIZE."""
    try:
        with open("/proc/sys/net/core/wmem_default") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 1 << 30


HELLO = b'{"jsonrpc":"2.0","method":"E_UDP","params":{"s":"hello","n":42}}'


class DatagramTest(EvidTestCase):
    def sink(self, kind="udp4", **kw):
        s = DatagramSink(kind, **kw)
        self.addCleanup(s.close)
        return s

    def start(self, sockets, event="E_UDP", extra=""):
        subs = "".join('    subscribe_event("%s", "%s");\n' % (event, s) for s in sockets)
        # A route that never runs publishes the event, so MI subscriptions to it are accepted.
        return self.evid(MODULES + extra + "startup_route {\n" + subs + "}\n" +
                         'route[declare] {\n    raise_event("%s");\n}\n' % event)

    def test_udp_ipv4_payload_is_the_compact_json_notification(self):
        s = self.sink("udp4")
        e = self.start([s.address])
        mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"s": "hello", "n": 42}})
        self.assertEqual(s.wait(1), [HELLO])

    @unittest.skipUnless(ipv6_loopback(), "no IPv6 loopback on this machine")
    def test_udp_ipv6_in_brackets_gets_the_same_payload(self):
        s = self.sink("udp6")
        e = self.start([s.address])
        mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"s": "hello", "n": 42}})
        self.assertEqual(s.wait(1), [HELLO])

    def test_unix_datagram_socket_gets_the_same_payload(self):
        tmp = tempfile.mkdtemp(prefix="evi-dgram-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "consumer.sock")
        s = self.sink("unix", path=path)
        e = self.start([s.address])
        mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"s": "hello", "n": 42}})
        self.assertEqual(s.wait(1), [HELLO])

    def test_an_event_without_params_has_no_params_key(self):
        s = self.sink()
        e = self.evid(MODULES + 'startup_route {\n    subscribe_event("E_NOPARAMS", "%s");\n'
                      '    raise_event("E_NOPARAMS");\n}\n' % s.address)
        self.assertEqual(s.wait(1), [b'{"jsonrpc":"2.0","method":"E_NOPARAMS"}'])
        self.assertTrue(e.alive())

    def test_one_event_is_one_datagram_in_raise_order(self):
        s = self.sink()
        e = self.start([s.address])
        for i in range(20):
            mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"i": i}})
        got = s.wait(20)
        self.assertEqual(got, [b'{"jsonrpc":"2.0","method":"E_UDP","params":{"i":%d}}' % i
                               for i in range(20)])

    def test_text_payload_format_is_the_opensips_2_format(self):
        s = self.sink()
        e = self.start([s.address], extra='modparam("event_datagram", "payload_format", "text")\n')
        mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"s": "hello", "n": 42}})
        mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"m": "two\nlines \"q\"",
                                                               "neg": -7}})
        self.assertEqual(s.wait(2), [b"E_UDP\ns::hello\nn::42\n\n",
                                     b'E_UDP\nm::"two\nlines \\"q\\""\nneg::-7\n\n'])

    def test_an_oversized_event_is_refused_and_counted_never_truncated(self):
        s = self.sink()
        e = self.start([s.address])
        mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"big": "x" * 70000}})
        mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"s": "hello", "n": 42}})
        self.assertEqual(s.wait(1), [HELLO])
        self.assertEqual(s.drain(0.3), [HELLO])
        self.assertEqual(statistic(e, "modules:evi_event_datagram_oversized"), 1)
        sub = subscribers(e, "E_UDP")[0]
        self.assertEqual((sub["delivered"], sub["failed"]), (1, 1))

    def test_an_oversized_event_is_logged_with_its_size_and_the_reason(self):
        s = self.sink()
        e = self.start([s.address])
        mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"big": "x" * 70000}})
        size = len(b'{"jsonrpc":"2.0","method":"E_UDP","params":{"big":""}}') + 70000
        self.assertTrue(e.wait_log("cannot send a %d-byte event to udp:%s: Message too long"
                                   % (size, s.address.split(":", 1)[1])), e.log()[-2000:])
        self.assertEqual(statistic(e, "modules:evi_event_datagram_oversized"), 1)

    @unittest.skipUnless(wmem_default() < 400000, "unix datagrams of 400 kB fit here")
    def test_an_event_larger_than_a_unix_datagram_is_refused_and_counted(self):
        tmp = tempfile.mkdtemp(prefix="evi-dgram-")
        self.addCleanup(shutil.rmtree, tmp, True)
        s = self.sink("unix", path=os.path.join(tmp, "consumer.sock"))
        e = self.start([s.address])
        mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"big": "x" * 70000}})
        mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"big": "y" * 400000}})
        got = s.wait(1)
        self.assertEqual(len(got), 1)  # 70 kB fits a unix datagram; 400 kB does not
        self.assertEqual(len(got[0]), len(b'{"jsonrpc":"2.0","method":"E_UDP","params":{"big":""}}')
                         + 70000)
        # refused at every attempt (the core retries a failed unix delivery), never sent
        self.assertTrue(wait_for(
            lambda: statistic(e, "modules:evi_event_datagram_oversized") >= 1))
        self.assertEqual(s.drain(0.3), got)

    def test_a_burst_into_a_slow_unix_listener_loses_nothing(self):
        tmp = tempfile.mkdtemp(prefix="evi-dgram-")
        self.addCleanup(shutil.rmtree, tmp, True)
        s = self.sink("unix", path=os.path.join(tmp, "consumer.sock"))
        e = self.start([s.address])
        n = 300  # the kernel queues only net.unix.max_dgram_qlen (often 10) datagrams
        for i in range(n):
            mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"i": i}})
        got = s.wait(n, timeout=20)
        self.assertEqual(got, [b'{"jsonrpc":"2.0","method":"E_UDP","params":{"i":%d}}' % i
                               for i in range(n)])
        sub = subscribers(e, "E_UDP")[0]
        self.assertEqual((sub["delivered"], sub["dropped"]), (n, 0))

    def test_a_restarted_unix_listener_gets_the_next_events(self):
        tmp = tempfile.mkdtemp(prefix="evi-dgram-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "consumer.sock")
        s = DatagramSink("unix", path=path)
        e = self.start([s.address])
        mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"i": 1}})
        self.assertEqual(len(s.wait(1)), 1)
        s.close()
        os.unlink(path)
        s2 = self.sink("unix", path=path)
        mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"i": 2}})
        self.assertEqual(s2.wait(1), [b'{"jsonrpc":"2.0","method":"E_UDP","params":{"i":2}}'])

    def test_a_unix_socket_without_listener_is_a_failed_delivery(self):
        path = "/tmp/evi-dgram-nobody-%d.sock" % os.getpid()
        e = self.start(["unix:" + path])
        mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"s": "hello"}})
        self.assertTrue(wait_for(lambda: subscribers(e, "E_UDP")[0]["failed"] >= 1))
        self.assertEqual(subscribers(e, "E_UDP")[0]["delivered"], 0)
        self.assertGreaterEqual(statistic(e, "modules:evi_event_datagram_send_failed"), 1)

    def test_a_bound_but_closed_unix_socket_is_a_failed_delivery(self):
        path = "/tmp/evi-dgram-closed-%d.sock" % os.getpid()
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        s.close()  # the file stays, nobody listens: ECONNREFUSED
        e = self.start(["unix:" + path])
        mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"s": "hello"}})
        self.assertTrue(wait_for(lambda: subscribers(e, "E_UDP")[0]["failed"] >= 1))

    def test_match_compares_the_whole_address_not_a_prefix(self):
        a = self.sink("udp4", host="127.0.0.1")
        b = DatagramSink("udp4", host="127.0.0.10")
        self.addCleanup(b.close)
        e = self.start([])
        for addr in (a.address, "udp:127.0.0.10:%d" % a.port, a.address):
            mi_ok(e, "event_subscribe", {"event": "E_UDP", "socket": addr, "expire": 60})
        self.assertEqual(sorted(x["socket"] for x in subscribers(e, "E_UDP")),
                         sorted([a.address, "udp:127.0.0.10:%d" % a.port]))

    def test_match_refreshes_the_same_destination(self):
        a = self.sink()
        e = self.start([])
        for _ in range(3):
            mi_ok(e, "event_subscribe", {"event": "E_UDP", "socket": a.address, "expire": 60})
        self.assertEqual(len(subscribers(e, "E_UDP")), 1)
        mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"s": "hello", "n": 42}})
        self.assertEqual(a.wait(1), [HELLO])
        self.assertEqual(a.drain(0.3), [HELLO])

    def test_a_udp_port_nobody_listened_on_gets_the_next_event_once_someone_does(self):
        # Each datagram to the closed port brings an ICMP port unreachable back; a connected
        # socket reports it from the next send, which sends nothing unless it is made again.
        s = self.sink()
        port = s.port
        s.close()
        e = self.start(["udp:127.0.0.1:%d" % port])
        for i in range(3):
            mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"i": i}})
        s2 = DatagramSink("udp4")
        s2.sock.close()
        s2.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s2.sock.bind(("127.0.0.1", port))
        self.addCleanup(s2.close)
        mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"i": 3}})
        self.assertEqual(s2.wait(1), [b'{"jsonrpc":"2.0","method":"E_UDP","params":{"i":3}}'])
        sub = subscribers(e, "E_UDP")[0]
        self.assertEqual((sub["delivered"], sub["failed"]), (4, 0))
        self.assertEqual(statistic(e, "modules:evi_event_datagram_send_failed"), 0)

    def sources_of_three_sinks(self, extra):
        sinks = [self.sink() for _ in range(3)]
        e = self.start([x.address for x in sinks], extra=extra)
        mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"s": "hello", "n": 42}})
        for x in sinks:
            self.assertEqual(x.wait(1), [HELLO])
        return [x.senders[0] for x in sinks]

    def test_each_udp_subscriber_sends_from_a_socket_of_its_own_by_default(self):
        src = self.sources_of_three_sinks("")
        self.assertEqual(len(set(src)), 3, src)

    def test_past_udp_connected_sockets_subscribers_share_one_socket(self):
        src = self.sources_of_three_sinks(
            'modparam("event_datagram", "udp_connected_sockets", 1)\n')
        self.assertEqual(sorted(src.count(x) for x in set(src)), [1, 2], src)
        src = self.sources_of_three_sinks(
            'modparam("event_datagram", "udp_connected_sockets", 0)\n')
        self.assertEqual(len(set(src)), 1, src)

    def test_subscribers_of_one_destination_share_its_connected_socket(self):
        # udp_connected_sockets counts destinations: two events to sink a take one socket
        # (one source port, which is not the shared unconnected socket's), so the limit of 1
        # leaves sink b on the shared socket.
        a, b = self.sink(), self.sink()
        e = self.start([a.address, b.address], extra=(
            'modparam("event_datagram", "udp_connected_sockets", 1)\n'
            'route[declare2] {\n    raise_event("E_UDP2");\n}\n'))
        mi_ok(e, "event_subscribe", {"event": "E_UDP2", "socket": a.address, "expire": 60})
        for ev in ("E_UDP", "E_UDP2"):
            mi_ok(e, "raise_event", {"event": ev, "params": {"n": 1}})
        self.assertEqual(len(a.wait(2)), 2)
        self.assertEqual(len(b.wait(1)), 1)
        self.assertEqual(len(set(a.senders)), 1, a.senders)
        self.assertNotEqual(a.senders[0], b.senders[0])
        shared = b.senders[0]
        # The socket stays while one subscriber of a is left...
        mi_ok(e, "event_subscribe", {"event": "E_UDP2", "socket": a.address, "expire": 0})
        mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"n": 2}})
        self.assertEqual(len(a.wait(3)), 3)
        self.assertEqual(a.senders[2], a.senders[0])
        # ...and goes with the last: its place is free for a new destination.
        mi_ok(e, "event_subscribe", {"event": "E_UDP", "socket": a.address, "expire": 0})
        c = self.sink()
        mi_ok(e, "event_subscribe", {"event": "E_UDP", "socket": c.address, "expire": 60})
        mi_ok(e, "raise_event", {"event": "E_UDP", "params": {"n": 3}})
        self.assertEqual(len(c.wait(1)), 1)
        self.assertEqual(len(b.wait(3)), 3)  # b has E_UDP 1, 2 and 3
        self.assertNotEqual(c.senders[0], shared)
        self.assertEqual(set(b.senders), {shared})
        self.assertEqual(len(a.drain(0.2)), 3)

    def test_an_ipv6_address_without_brackets_is_refused_with_the_syntax(self):
        e = self.start([])
        r = e.mi("event_subscribe", {"event": "E_UDP", "socket": "udp:::1:9999", "expire": 60})
        self.assertIn("error", r)
        self.assertIn("udp:[::1]:PORT", r["error"].get("data", "") + r["error"]["message"])

    def test_bad_ports_are_refused(self):
        e = self.start([])
        for sock in ("udp:127.0.0.1", "udp:127.0.0.1:0", "udp:127.0.0.1:65536",
                     "udp:127.0.0.1:http"):
            r = e.mi("event_subscribe", {"event": "E_UDP", "socket": sock, "expire": 60})
            self.assertIn("error", r, sock)


if __name__ == "__main__":
    unittest.main()
