"""Faults (issue 8): a flatstore file that hits the file-size limit (RLIMIT_FSIZE: the "disk
full" a test can make without root), and a Unix datagram consumer whose socket is removed and
later recreated. Each fault gives counted failures and E_EVI_SUBSCRIBER_STATUS "down", evid
keeps running, and deliveries succeed again ("up") once the fault clears."""
import json
import os
import socket
import tempfile
import time
import unittest

from evitest import EvidTestCase, wait_for
from local_peers import MODULES, DatagramSink, mi_ok
from reliability_peers import limited_evid


def subscriber(e, event, prefix):
    r = mi_ok(e, "subscribers_list", {"event": event})
    for s in r["Event"]["Subscribers"]:
        if s["socket"].startswith(prefix):
            return s
    raise AssertionError("no %s subscriber of %s in %s" % (prefix, event, r))


def statuses(sink, timeout=0.5):
    """The params of every E_EVI_SUBSCRIBER_STATUS received so far."""
    sink.drain(timeout)
    out = []
    for p in sink.got:
        m = json.loads(p)
        if m.get("method") == "E_EVI_SUBSCRIBER_STATUS":
            out.append(m["params"])
    return out


class FaultsTest(EvidTestCase):
    def status_sink(self):
        s = DatagramSink("udp4")
        self.addCleanup(s.close)
        return s

    def wrapper(self, ignore_xfsz):
        wrapdir = tempfile.mkdtemp(prefix="evi-rel-wrap-")
        self.addCleanup(lambda: (os.unlink(os.path.join(wrapdir, "evid-limited")),
                                 os.rmdir(wrapdir)))
        # 16 KiB per file for evid (ulimit -f counts 1024-byte blocks in dash and bash).
        return limited_evid(wrapdir, "-f 16", ignore_xfsz=ignore_xfsz)

    def test_evid_survives_a_write_past_the_file_size_limit(self):
        e = self.evid(MODULES + """
startup_route { subscribe_event("E_F", "flatstore:@DIR@/f.log"); }
route[declare] { raise_event("E_F"); }
""", binary=self.wrapper(ignore_xfsz=False))
        for i in range(400):
            try:
                e.mi("raise_event", {"event": "E_F", "params": {"i": i, "v": "v" * 100}})
            except OSError:
                break
        time.sleep(0.5)  # let a dying process be reaped
        self.assertTrue(e.alive(), "evid died at the file-size limit:\n" + e.log()[-2000:])

    def test_flatstore_past_the_file_size_limit_counts_failures_and_recovers(self):
        # evid starts with SIGXFSZ ignored (see the known bug above), as it should set itself.
        sink = self.status_sink()
        wrapper = self.wrapper(ignore_xfsz=True)
        e = self.evid(MODULES + """
startup_route {
    subscribe_event("E_F", "flatstore:@DIR@/f.log");
    subscribe_event("E_EVI_SUBSCRIBER_STATUS", "%s");
}
route[declare] { raise_event("E_F"); }
""" % sink.address, binary=wrapper)
        path = os.path.join(e.dir, "f.log")
        value = "v" * 100
        n = 400  # ~41 KiB of lines: well past the limit
        for i in range(n):
            mi_ok(e, "raise_event", {"event": "E_F", "params": {"i": i, "v": value}})
        self.assertTrue(e.alive(), "evid died at the file-size limit (SIGXFSZ?):\n" +
                        e.log()[-2000:])
        s = wait_for(lambda: (lambda s: s if s["delivered"] + s["failed"] == n else None)(
            subscriber(e, "E_F", "flatstore:")), timeout=10)
        self.assertTrue(s, subscriber(e, "E_F", "flatstore:"))
        self.assertGreater(s["failed"], 0, s)
        self.assertGreater(s["delivered"], 0, s)
        self.assertLessEqual(os.path.getsize(path), 16 * 1024)
        # Every delivered line is in the file, whole.
        with open(path) as f:
            lines = f.read().split("\n")
        whole = [l for l in lines if l.startswith("E_F,") and l.endswith(value)]
        self.assertEqual(len(whole), s["delivered"])
        down = wait_for(lambda: [p for p in statuses(sink) if p.get("status") == "down" and
                                 p.get("event") == "E_F"], timeout=5)
        self.assertTrue(down, "no E_EVI_SUBSCRIBER_STATUS down for E_F: %r" % statuses(sink))
        self.assertIn("flatstore:", down[0]["socket"])

        # The fault clears (the file is truncated, as after rotation): deliveries work again.
        with open(path, "w"):
            pass
        before = subscriber(e, "E_F", "flatstore:")["delivered"]
        for i in range(5):
            mi_ok(e, "raise_event", {"event": "E_F", "params": {"i": n + i, "v": value}})
        self.assertTrue(wait_for(lambda: subscriber(e, "E_F", "flatstore:")["delivered"] ==
                                 before + 5, timeout=5), subscriber(e, "E_F", "flatstore:"))
        up = wait_for(lambda: [p for p in statuses(sink) if p.get("status") == "up" and
                               p.get("event") == "E_F"], timeout=5)
        self.assertTrue(up, "no E_EVI_SUBSCRIBER_STATUS up for E_F: %r" % statuses(sink))
        self.assertTrue(e.alive())

    def test_a_short_write_leaves_no_partial_line(self):
        e = self.evid(MODULES + """
startup_route { subscribe_event("E_F", "flatstore:@DIR@/f.log"); }
route[declare] { raise_event("E_F"); }
""", binary=self.wrapper(ignore_xfsz=True))
        for i in range(400):
            mi_ok(e, "raise_event", {"event": "E_F", "params": {"i": i, "v": "v" * 100}})
        with open(os.path.join(e.dir, "f.log")) as f:
            self.assertTrue(f.read().endswith("\n"), "the file ends with a partial line")

    def test_a_unix_consumer_removed_then_recreated_gets_events_again(self):
        sink = self.status_sink()
        e = self.evid(MODULES + """
startup_route {
    subscribe_event("E_EVI_SUBSCRIBER_STATUS", "%s");
}
route[declare] { raise_event("E_U"); }
""" % sink.address)
        path = os.path.join(e.dir, "consumer.sock")
        consumer = DatagramSink("unix", path=path)
        self.addCleanup(consumer.close)
        mi_ok(e, "event_subscribe", {"event": "E_U", "socket": "unix:" + path, "expire": 600})

        def raise_(i):
            mi_ok(e, "raise_event", {"event": "E_U", "params": {"i": i}})

        raise_(0)
        self.assertEqual(len(consumer.wait(1)), 1)

        # The consumer goes away (socket closed and its file removed).
        consumer.close()
        os.unlink(path)
        for i in range(1, 11):
            raise_(i)
        s = wait_for(lambda: (lambda s: s if s["failed"] == 10 else None)(
            subscriber(e, "E_U", "unix:")), timeout=10)
        self.assertTrue(s, subscriber(e, "E_U", "unix:"))
        self.assertEqual(s["delivered"], 1, s)
        self.assertTrue(wait_for(lambda: [p for p in statuses(sink)
                                          if p.get("status") == "down"], timeout=5),
                        statuses(sink))

        # A new consumer binds the same path: events flow again, without resubscribing.
        consumer2 = DatagramSink("unix", path=path)
        self.addCleanup(consumer2.close)
        for i in range(11, 16):
            raise_(i)
        got = consumer2.wait(5)
        self.assertEqual(len(got), 5, got)
        self.assertTrue(wait_for(lambda: [p for p in statuses(sink)
                                          if p.get("status") == "up"], timeout=5),
                        statuses(sink))
        s = subscriber(e, "E_U", "unix:")
        self.assertEqual((s["delivered"], s["failed"], s["dropped"]), (6, 10, 0), s)
        self.assertTrue(e.alive())

    def test_flatstore_refuses_a_device_such_as_dev_full_with_a_reason(self):
        e = self.evid(MODULES + 'route[declare] { raise_event("E_F"); }\n')
        r = e.mi("event_subscribe", {"event": "E_F", "socket": "flatstore:/dev/full"})
        self.assertIn("error", r, r)
        self.assertTrue(e.alive())


if __name__ == "__main__":
    unittest.main()
