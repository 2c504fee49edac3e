"""Concurrency (issue 8): 200 concurrent MI clients hammer raise_event and subscribers_list
while short-lived subscriptions expire and are made again. No crash, no failed request, and no
lost delivery: a permanent flatstore subscriber gets exactly one line per raise. Also the input
limits on names: an event name over 64 characters is refused with a reason."""
import collections
import threading
import time
import unittest

from evitest import EvidTestCase, check_config, wait_for
from local_peers import MODULES, DatagramSink, mi_ok

CLIENTS = 200
ROUNDS = 25


class ConcurrencyTest(EvidTestCase):
    def test_200_clients_raising_listing_and_resubscribing_lose_nothing(self):
        sink = DatagramSink("udp4")
        self.addCleanup(sink.close)
        e = self.evid(MODULES + """
mi_max_connections = 512
startup_route { subscribe_event("E_C", "flatstore:@DIR@/all.log"); }
""")
        errors = []
        start = threading.Barrier(CLIENTS)

        def client(t):
            try:
                start.wait(30)
                for k in range(ROUNDS):
                    r = e.mi("raise_event", {"event": "E_C", "params": {"t": t, "k": k}})
                    if r.get("result") != "OK":
                        errors.append(("raise", t, k, r))
                    if k % 5 == 0:
                        r = e.mi("event_subscribe",
                                 {"event": "E_C", "socket": sink.address, "expire": 1})
                        if "error" in r:
                            errors.append(("subscribe", t, k, r))
                    if k % 5 == 2:
                        r = e.mi("subscribers_list", {"event": "E_C"})
                        if "error" in r:
                            errors.append(("list", t, k, r))
            except Exception as ex:  # a dropped connection, a bad reply
                errors.append(("exception", t, repr(ex)))

        threads = [threading.Thread(target=client, args=(t,)) for t in range(CLIENTS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120)
        self.assertFalse(any(th.is_alive() for th in threads), "clients hung")
        self.assertEqual(errors[:5], [])
        self.assertTrue(e.alive())

        total = CLIENTS * ROUNDS
        r = mi_ok(e, "get_statistics", {"statistics": ["events:E_C"]})
        self.assertEqual(int(r["events:E_C"]), total)
        path = e.dir + "/all.log"
        lines = wait_for(lambda: (lambda ls: ls if len(ls) >= total else None)(
            open(path).read().splitlines()), timeout=10)
        self.assertTrue(lines, "the file has %d lines" % len(open(path).read().splitlines()))
        seen = collections.Counter(lines)
        self.assertEqual(len(lines), total)
        self.assertEqual(set(seen.values()), {1}, "a line was written twice")
        self.assertEqual(seen, collections.Counter(
            "E_C,%d,%d" % (t, k) for t in range(CLIENTS) for k in range(ROUNDS)))

        # The short-lived subscription expires once the hammering stops.
        self.assertTrue(wait_for(lambda: len(mi_ok(e, "subscribers_list", {"event": "E_C"})
                                             ["Event"]["Subscribers"]) == 1, timeout=5))

    def test_an_event_name_over_64_characters_is_refused_with_a_reason(self):
        long = "E_" + "X" * 63
        rc, err, _ = check_config('startup_route { raise_event("%s"); }\n' % long)
        self.assertEqual(rc, 1, err)
        self.assertIn("expected 1 to 64 characters", err)
        ok = "E_" + "X" * 62  # exactly 64
        rc, err, _ = check_config('startup_route { raise_event("%s"); }\n' % ok)
        self.assertEqual(rc, 0, err)
        # Over the MI such a name can never have been published: refused, evid unharmed.
        e = self.evid(MODULES)
        for method, params in (("raise_event", {"event": long}),
                               ("event_subscribe", {"event": long, "socket": "udp:127.0.0.1:9",
                                                    "expire": 10})):
            r = e.mi(method, params)
            self.assertIn("error", r, r)
            self.assertEqual(r["error"]["code"], 400, r)
            self.assertIn("it is 65 characters long; expected 1 to 64 characters",
                          r["error"].get("data", ""), r)
        self.assertTrue(e.alive())


if __name__ == "__main__":
    unittest.main()
