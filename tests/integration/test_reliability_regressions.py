"""Regressions for what the fuzzers found (tests/fuzz), driven through a real evid. Each test
names the fuzz target and input file (tests/fuzz/regressions/TARGET/NAME) it came from."""
import unittest

from evitest import EvidTestCase


class FuzzRegressionsTest(EvidTestCase):
    # From fuzz_rabbitmq (regressions/rabbitmq/host_with_brackets): parse_hostport accepted a
    # host holding ']' ("a]:b" with port 5672), which print() bracketed ("[a]:b]:5672") into a
    # socket that did not parse back. Such hosts are now refused with what a host may be.
    def test_a_rabbitmq_host_with_brackets_is_refused_with_a_reason(self):
        e = self.evid('loadmodule "event_rabbitmq.so"\nroute[d] { raise_event("E_R"); }\n')
        r = e.mi("event_subscribe", {"event": "E_R", "socket": "rabbitmq:a]:b:5672/q",
                                     "expire": 100})
        self.assertIn("error", r, r)
        self.assertIn("bad broker host 'a]:b': expected a host name or IPv4 address",
                      r["error"].get("data", ""), r)
        subs = e.mi("subscribers_list", {"event": "E_R"})
        self.assertEqual(subs["result"]["Event"]["Subscribers"], [], subs)

    def test_the_printed_rabbitmq_socket_subscribes_again(self):
        e = self.evid('loadmodule "event_rabbitmq.so"\nroute[d] { raise_event("E_R"); }\n')
        for socket in ("rabbitmq:u:p@[::1]:5673/exchange=ex?q", "rabbitmq:rabbit-1.local/q"):
            r = e.mi("event_subscribe", {"event": "E_R", "socket": socket, "expire": 100})
            self.assertNotIn("error", r, r)
        subs = e.mi("subscribers_list", {"event": "E_R"})["result"]["Event"]["Subscribers"]
        self.assertEqual(len(subs), 2, subs)
        for s in subs:
            again = e.mi("event_subscribe", {"event": "E_R", "socket": s["socket"],
                                             "expire": 100})
            self.assertNotIn("error", again, again)
        subs = e.mi("subscribers_list", {"event": "E_R"})["result"]["Event"]["Subscribers"]
        self.assertEqual(len(subs), 2, "subscribing the printed socket refreshes it: %s" % subs)

if __name__ == "__main__":
    unittest.main()
