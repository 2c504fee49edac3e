"""Regressions for what the fuzzers found (tests/fuzz), driven through a real evid. Each test
names the fuzz target and input file (tests/fuzz/regressions/TARGET/NAME) it came from."""
import unittest

from evitest import EvidTestCase


class FuzzRegressionsTest(EvidTestCase):
    # KNOWN BUG (issue 8 report), from fuzz_rabbitmq (regressions/rabbitmq/host_with_brackets):
    # plugins/rabbitmq/rmq_address.cpp parse_hostport accepts a host holding ']' or '[' when it
    # is not bracketed ("a]:b" with port 5672); Address::print() then brackets it
    # ("[a]:b]:5672") and that text does not parse back ("bad port 'b]:5672'"), so the socket
    # that subscribers_list shows cannot be subscribed again. Fix: refuse '[', ']', blanks and
    # control characters in an unbracketed host, and '[' / ']' inside brackets.
    # Remove the decorator once fixed.
    @unittest.expectedFailure
    def test_the_printed_rabbitmq_socket_subscribes_again(self):
        e = self.evid('loadmodule "event_rabbitmq.so"\nroute[d] { raise_event("E_R"); }\n')
        r = e.mi("event_subscribe", {"event": "E_R", "socket": "rabbitmq:a]:b:5672/q",
                                     "expire": 100})
        if "error" in r:
            return  # refused at once: that is the fix
        subs = e.mi("subscribers_list", {"event": "E_R"})["result"]["Event"]["Subscribers"]
        self.assertEqual(len(subs), 1, subs)
        again = e.mi("event_subscribe", {"event": "E_R", "socket": subs[0]["socket"],
                                         "expire": 100})
        self.assertNotIn("error", again, again)


if __name__ == "__main__":
    unittest.main()
