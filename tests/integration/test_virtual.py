"""event_virtual with a real evid: PARALLEL, FAILOVER and ROUND-ROBIN over real UDP and Unix
datagram sockets, files, and (when built) a blocking XML-RPC member, with dead members; match
semantics; member errors; MI restrictions passed through to members."""
import json
import os
import shutil
import tempfile
import time
import unittest

from evitest import PLUGINS, EvidTestCase, free_port, wait_for
from local_peers import (MODULES, DatagramSink, mi_ok, read, statistic, subscribers,
                         wait_file)

N = 30


class VirtualTest(EvidTestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="evi-virtual-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.dead = "unix:" + os.path.join(self.tmp, "nobody.sock")  # no listener: fails

    def sink(self):
        s = DatagramSink("udp4")
        self.addCleanup(s.close)
        return s

    def start(self, socket, extra=""):
        return self.evid(MODULES + extra + 'startup_route {\n'
                         '    subscribe_event("E_V", "virtual:%s");\n}\n'
                         'route[declare] {\n    raise_event("E_V");\n}\n' % socket)

    def raise_n(self, e, n=N):
        for i in range(n):
            mi_ok(e, "raise_event", {"event": "E_V", "params": {"i": i}})

    @staticmethod
    def seqs(sink):
        return [json.loads(p)["params"]["i"] for p in sink.got]

    def test_failover_with_a_dead_first_member_delivers_every_event_to_the_second(self):
        b, c = self.sink(), self.sink()
        e = self.start("FAILOVER %s %s %s" % (self.dead, b.address, c.address))
        self.raise_n(e)
        b.wait(N)
        self.assertEqual(self.seqs(b), list(range(N)))
        self.assertEqual(c.drain(0.2), [])
        self.assertEqual(b.got[0], b'{"jsonrpc":"2.0","method":"E_V","params":{"i":0}}')
        sub = subscribers(e, "E_V")[0]
        self.assertEqual((sub["delivered"], sub["failed"]), (N, 0))
        self.assertGreaterEqual(statistic(e, "modules:evi_event_virtual_member_failed"), 1)
        self.assertEqual(statistic(e, "modules:evi_event_virtual_all_members_failed"), 0)

    def test_failover_returns_to_a_recovered_member_after_failover_timeout(self):
        first = os.path.join(self.tmp, "first.sock")
        b = self.sink()
        e = self.start("FAILOVER unix:%s %s" % (first, b.address),
                       'modparam("event_virtual", "failover_timeout", 1)\n')
        mi_ok(e, "raise_event", {"event": "E_V", "params": {"i": 0}})  # first is dead
        self.assertEqual(len(b.wait(1)), 1)
        a = DatagramSink("unix", path=first)  # first comes back
        self.addCleanup(a.close)
        mi_ok(e, "raise_event", {"event": "E_V", "params": {"i": 1}})  # still penalised
        b.wait(2)
        self.assertEqual(self.seqs(b), [0, 1])
        self.assertEqual(a.drain(0.1), [])
        time.sleep(1.2)
        mi_ok(e, "raise_event", {"event": "E_V", "params": {"i": 2}})
        self.assertEqual(len(a.wait(1)), 1)
        self.assertEqual(self.seqs(a), [2])
        self.assertEqual(self.seqs(b), [0, 1])

    def test_failover_uses_the_first_member_while_it_works(self):
        a, b = self.sink(), self.sink()
        e = self.start("FAILOVER %s %s" % (a.address, b.address))
        self.raise_n(e, 5)
        a.wait(5)
        self.assertEqual(self.seqs(a), list(range(5)))
        self.assertEqual(b.drain(0.2), [])

    def test_failover_moves_on_when_a_blocking_member_really_fails(self):
        if not os.path.exists(os.path.join(PLUGINS, "event_xmlrpc.so")):
            self.skipTest("event_xmlrpc.so is not built")
        b = self.sink()
        dead_http = "xmlrpc:127.0.0.1:%d:method" % free_port()  # nobody listens: refused
        e = self.start("FAILOVER %s %s" % (dead_http, b.address),
                       'loadmodule "event_xmlrpc.so"\n')
        self.raise_n(e, 5)
        b.wait(5)
        self.assertEqual(self.seqs(b), list(range(5)))

    def test_round_robin_with_a_dead_member_loses_nothing(self):
        a, c = self.sink(), self.sink()
        e = self.start("ROUND-ROBIN %s %s %s" % (a.address, self.dead, c.address))
        self.raise_n(e)
        wait_for(lambda: len(a.drain()) + len(c.drain()) >= N)
        got = sorted(self.seqs(a) + self.seqs(c))
        self.assertEqual(got, list(range(N)))  # each event exactly once
        self.assertGreater(len(a.got), 0)
        self.assertGreater(len(c.got), 0)
        sub = subscribers(e, "E_V")[0]
        self.assertEqual((sub["delivered"], sub["failed"]), (N, 0))

    def test_round_robin_rotates_over_working_members(self):
        a, b, c = self.sink(), self.sink(), self.sink()
        e = self.start("ROUND-ROBIN %s %s %s" % (a.address, b.address, c.address))
        self.raise_n(e)
        wait_for(lambda: sum(len(s.drain()) for s in (a, b, c)) >= N)
        self.assertEqual([len(s.got) for s in (a, b, c)], [N // 3] * 3)
        self.assertEqual(sorted(self.seqs(a) + self.seqs(b) + self.seqs(c)), list(range(N)))

    def test_parallel_with_a_dead_member_still_delivers_to_every_other(self):
        a, c = self.sink(), self.sink()
        flat = os.path.join(self.tmp, "v.log")
        e = self.start("PARALLEL %s %s flatstore:%s %s" % (self.dead, a.address, flat,
                                                           c.address))
        self.raise_n(e)
        a.wait(N)
        c.wait(N)
        self.assertEqual(self.seqs(a), list(range(N)))
        self.assertEqual(self.seqs(c), list(range(N)))
        want = b"".join(b"E_V,%d\n" % i for i in range(N))
        self.assertEqual(wait_file(flat, want), want)
        self.assertEqual(statistic(e, "modules:evi_event_virtual_member_failed"), N)

    def test_with_only_inline_members_it_delivers_inline_and_never_queues(self):
        # queue_size 1 would drop nearly all of a tight loop if the virtual socket were queued
        a = self.sink()
        flat = os.path.join(self.tmp, "inline.log")
        e = self.evid(MODULES + 'queue_size = 1\nmax_while_loops = 5000\n'
                      'startup_route {\n'
                      '    subscribe_event("E_V", "virtual:PARALLEL %s flatstore:%s");\n'
                      '    $var(i) = 0;\n'
                      '    while ($var(i) < 2000) {\n'
                      '        $avp(v) := $var(i);\n'
                      '        raise_event("E_V", $avp(v));\n'
                      '        $var(i) = $var(i) + 1;\n'
                      '    }\n}\n' % (a.address, flat))
        want = b"".join(b"E_V,%d\n" % i for i in range(2000))
        self.assertEqual(wait_file(flat, want), want)
        sub = subscribers(e, "E_V")[0]
        self.assertEqual((sub["delivered"], sub["dropped"], sub["queued"]), (2000, 0, 0))

    def test_with_a_blocking_member_it_is_queued_and_counts_what_its_queue_drops(self):
        flat = os.path.join(self.tmp, "queued.log")
        peer = os.path.join(self.tmp, "slow.sock")  # unix: a blocking member
        e = self.evid(MODULES + 'queue_size = 1\nmax_while_loops = 5000\n'
                      'startup_route {\n'
                      '    subscribe_event("E_V", "virtual:PARALLEL unix:%s flatstore:%s");\n'
                      '    $var(i) = 0;\n'
                      '    while ($var(i) < 2000) {\n'
                      '        raise_event("E_V");\n'
                      '        $var(i) = $var(i) + 1;\n'
                      '    }\n}\n' % (peer, flat))
        sub = wait_for(lambda: [s for s in subscribers(e, "E_V")
                                if s["queued"] == 0 and s["delivered"] + s["dropped"] == 2000],
                       timeout=20)
        self.assertTrue(sub, subscribers(e, "E_V"))
        self.assertGreater(sub[0]["dropped"], 0)
        lines = read(flat).count(b"\n")
        self.assertEqual(lines, sub[0]["delivered"])

    def test_every_member_dead_fails_the_delivery_and_counts_it(self):
        e = self.start("FAILOVER %s unix:%s" % (self.dead, os.path.join(self.tmp, "x.sock")))
        self.raise_n(e, 1)
        self.assertTrue(wait_for(
            lambda: (statistic(e, "modules:evi_event_virtual_all_members_failed") or 0) >= 1))
        self.assertEqual(subscribers(e, "E_V")[0]["delivered"], 0)

    def test_the_socket_prints_its_policy_and_members(self):
        a = self.sink()
        e = self.start("failover %s %s" % (self.dead, a.address))
        self.assertEqual(subscribers(e, "E_V")[0]["socket"],
                         "virtual:FAILOVER %s %s" % (self.dead, a.address))

    def test_parallel_matches_members_as_a_set(self):
        a, b = self.sink(), self.sink()
        e = self.start("PARALLEL %s %s" % (a.address, b.address))
        mi_ok(e, "event_subscribe", {"event": "E_V", "expire": 60,
                                     "socket": "virtual:PARALLEL %s %s" % (b.address,
                                                                           a.address)})
        self.assertEqual(len(subscribers(e, "E_V")), 1)

    def test_failover_matches_members_in_order(self):
        a, b = self.sink(), self.sink()
        e = self.start("FAILOVER %s %s" % (a.address, b.address))
        mi_ok(e, "event_subscribe", {"event": "E_V", "expire": 60,
                                     "socket": "virtual:FAILOVER %s %s" % (a.address,
                                                                           b.address)})
        self.assertEqual(len(subscribers(e, "E_V")), 1)
        mi_ok(e, "event_subscribe", {"event": "E_V", "expire": 60,
                                     "socket": "virtual:FAILOVER %s %s" % (b.address,
                                                                           a.address)})
        self.assertEqual(len(subscribers(e, "E_V")), 2)

    def test_a_member_that_cannot_be_opened_is_named_in_the_error(self):
        a = self.sink()
        e = self.start("PARALLEL %s" % a.address)
        r = e.mi("event_subscribe", {"event": "E_V", "expire": 60,
                                     "socket": "virtual:PARALLEL %s udp:::1:9" % a.address})
        self.assertIn("member 2 'udp:::1:9'", r["error"].get("data", ""))
        r = e.mi("event_subscribe", {"event": "E_V", "expire": 60,
                                     "socket": "virtual:RANDOM %s" % a.address})
        self.assertIn("unknown policy 'RANDOM'", r["error"].get("data", ""))

    def test_mi_virtual_subscriptions_keep_flatstore_members_in_allowed_dirs(self):
        other = tempfile.mkdtemp(prefix="evi-virtual-other-")
        self.addCleanup(shutil.rmtree, other, True)
        flat = os.path.join(self.tmp, "v.log")
        e = self.start("PARALLEL flatstore:%s" % flat)
        r = e.mi("event_subscribe", {"event": "E_V", "expire": 60,
                                     "socket": "virtual:PARALLEL flatstore:%s/x.log" % other})
        self.assertIn("may only write below", r["error"].get("data", ""))
        self.assertIsNone(read(os.path.join(other, "x.log")))


if __name__ == "__main__":
    unittest.main()
