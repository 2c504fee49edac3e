"""Faults (issue 8): a flatstore file that hits the file-size limit (RLIMIT_FSIZE: the "disk
full" a test can make without root), a flatstore file or directory deleted while evid runs, a
flatstore directory whose permission goes away (evid runs as nobody there: root ignores modes),
and a Unix datagram consumer whose socket is removed and later recreated. Each fault gives
counted failures and E_EVI_SUBSCRIBER_STATUS "down", evid keeps running, and deliveries succeed
again ("up") once the fault clears."""
import json
import os
import shutil
import socket
import tempfile
import time
import unittest

from evitest import EvidTestCase, wait_for
from local_peers import MODULES, DatagramSink, mi_ok
from reliability_peers import limited_evid
import fault_peers


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

    # -- flatstore: the file or its directory deleted while evid runs --------------------------

    def flat_evid(self, sink, binary=None, prepare=None):
        """evid with an MI-subscribable flatstore below its dir (the logs/ directory is made by
        the test, so it can vanish), and E_EVI_SUBSCRIBER_STATUS sent to sink."""
        cfg = MODULES + """
modparam("event_flatstore", "allowed_dirs", "@DIR@")
startup_route { subscribe_event("E_EVI_SUBSCRIBER_STATUS", "%s"); }
route[declare] { raise_event("E_F"); }
""" % sink.address
        if binary is None:
            return self.evid(cfg)
        from evitest import Evid
        e = Evid(cfg, binary=binary)
        if prepare:
            prepare(e)
        e.start()
        self.addCleanup(e.__exit__, None, None, None)
        return e

    def raise_f(self, e, a, b):
        for i in range(a, b):
            mi_ok(e, "raise_event", {"event": "E_F", "params": {"i": i}})

    def settled(self, e, n):
        """The flatstore subscriber once n deliveries have an outcome."""
        s = wait_for(lambda: (lambda s: s if s["delivered"] + s["failed"] == n else None)(
            fault_peers.subscriber(e, "E_F", "flatstore:")), timeout=10)
        self.assertTrue(s, fault_peers.subscriber(e, "E_F", "flatstore:"))
        return s

    def lines(self, path):
        with open(path) as f:
            return f.read()

    def test_a_deleted_directory_fails_lines_counted_then_recovers_when_recreated(self):
        sink = self.status_sink()
        e = self.flat_evid(sink)
        logs = os.path.join(e.dir, "logs")
        path = os.path.join(logs, "f.log")
        os.mkdir(logs)
        mi_ok(e, "event_subscribe", {"event": "E_F", "socket": "flatstore:" + path,
                                     "expire": 600})
        self.raise_f(e, 0, 5)
        self.assertEqual(self.lines(path), "".join("E_F,%d\n" % i for i in range(5)))

        shutil.rmtree(logs)
        # The health check (once a second) notices, without any event raised.
        self.assertTrue(e.wait_log("cannot be created again", timeout=10), e.log()[-2000:])
        self.assertIn("does not exist", e.log())
        self.raise_f(e, 5, 25)
        s = self.settled(e, 25)
        self.assertEqual((s["delivered"], s["failed"]), (5, 20), s)
        self.assertEqual(fault_peers.metric(e, "evi_event_flatstore_write_failed_total")
                         or fault_peers.metric(e, "evi_event_flatstore_write_failed"), 20)
        down = wait_for(lambda: [p for p in fault_peers.statuses(sink)
                                 if p.get("status") == "down" and p.get("event") == "E_F"],
                        timeout=5)
        self.assertTrue(down, fault_peers.statuses(sink))
        self.assertTrue(down[0]["reason"], down)
        self.assertEqual(down[0]["socket"], "flatstore:" + path)
        # One error line for the outage, not one per failed event.
        self.assertEqual(e.log().count("cannot be created again"), 1, e.log()[-3000:])
        self.assertNotIn("cannot write to", e.log())
        self.assertTrue(e.alive())

        os.mkdir(logs)
        self.assertTrue(wait_for(lambda: os.path.exists(path), timeout=10),
                        "the file was not created again:\n" + e.log()[-2000:])
        self.assertTrue(e.wait_log("can be written again (20 lines failed", timeout=5),
                        e.log()[-2000:])
        self.raise_f(e, 25, 30)
        s = self.settled(e, 30)
        self.assertEqual((s["delivered"], s["failed"]), (10, 20), s)
        self.assertEqual(self.lines(path), "".join("E_F,%d\n" % i for i in range(25, 30)))
        up = wait_for(lambda: [p for p in fault_peers.statuses(sink)
                               if p.get("status") == "up" and p.get("event") == "E_F"],
                      timeout=5)
        self.assertTrue(up, fault_peers.statuses(sink))
        self.assertTrue(e.alive())

    def test_a_deleted_file_is_created_again_in_its_directory(self):
        sink = self.status_sink()
        e = self.flat_evid(sink)
        logs = os.path.join(e.dir, "logs")
        path = os.path.join(logs, "f.log")
        os.mkdir(logs)
        mi_ok(e, "event_subscribe", {"event": "E_F", "socket": "flatstore:" + path,
                                     "expire": 600})
        self.raise_f(e, 0, 3)
        os.unlink(path)
        self.assertTrue(wait_for(lambda: os.path.exists(path), timeout=10),
                        "the deleted file was not created again:\n" + e.log()[-2000:])
        self.assertTrue(e.wait_log("was deleted: created it again", timeout=5), e.log())
        self.raise_f(e, 3, 6)
        s = self.settled(e, 6)
        self.assertEqual((s["delivered"], s["failed"]), (6, 0), s)
        self.assertEqual(self.lines(path), "E_F,3\nE_F,4\nE_F,5\n")
        self.assertFalse([p for p in fault_peers.statuses(sink) if p.get("event") == "E_F"])

    # -- flatstore: permission denied (evid as nobody: root ignores file modes) ----------------

    def nobody_evid(self, sink):
        why = fault_peers.why_not_as_nobody()
        if why:
            self.skipTest(why)
        wrapdir = tempfile.mkdtemp(prefix="evi-rel-nobody-")
        self.addCleanup(shutil.rmtree, wrapdir, True)
        os.chmod(wrapdir, 0o755)
        uid, gid = fault_peers.nobody_ids()

        def prepare(e):
            os.chmod(e.dir, 0o755)  # nobody reads its config and runs there
            logs = os.path.join(e.dir, "logs")
            os.mkdir(logs)
            os.chown(logs, uid, gid)
            ro = os.path.join(e.dir, "ro")
            os.mkdir(ro, 0o555)
            os.chmod(ro, 0o555)
            with open(os.path.join(e.dir, "readonly.log"), "w"):
                pass
            os.chown(os.path.join(e.dir, "readonly.log"), uid, gid)
            os.chmod(os.path.join(e.dir, "readonly.log"), 0o444)
        e = self.flat_evid(sink, binary=fault_peers.nobody_evid(wrapdir), prepare=prepare)
        self.assertTrue(fault_peers.is_evid(e), "the wrapper did not exec evid")
        with open("/proc/%d/status" % e.proc.pid) as f:
            self.assertIn("Uid:\t%d\t" % uid, f.read())
        self.addCleanup(lambda: os.path.isdir(os.path.join(e.dir, "logs")) and
                        os.chmod(os.path.join(e.dir, "logs"), 0o755))
        return e

    def test_as_nobody_a_subscription_without_write_permission_is_refused_with_the_reason(self):
        e = self.nobody_evid(self.status_sink())
        for target in ("ro/f.log", "readonly.log"):
            r = e.mi("event_subscribe", {"event": "E_F", "socket":
                                         "flatstore:" + os.path.join(e.dir, target)})
            self.assertIn("error", r, r)
            self.assertIn("Permission denied", json.dumps(r), r)
        self.assertFalse(os.path.exists(os.path.join(e.dir, "ro", "f.log")))
        self.assertTrue(e.alive())

    def test_as_nobody_permission_lost_mid_run_fails_lines_counted_then_recovers(self):
        sink = self.status_sink()
        e = self.nobody_evid(sink)
        logs = os.path.join(e.dir, "logs")
        path = os.path.join(logs, "f.log")
        mi_ok(e, "event_subscribe", {"event": "E_F", "socket": "flatstore:" + path,
                                     "expire": 600})
        self.raise_f(e, 0, 3)
        self.assertEqual(self.lines(path), "E_F,0\nE_F,1\nE_F,2\n")
        # The directory loses its permissions and the file goes away (a cleanup job, a
        # rotation by another tool): evid may not create a new one.
        os.chmod(logs, 0)
        os.unlink(path)
        self.assertTrue(e.wait_log("cannot be created again", timeout=10), e.log()[-2000:])
        self.assertIn("Permission denied", e.log())
        self.raise_f(e, 3, 13)
        s = self.settled(e, 13)
        self.assertEqual((s["delivered"], s["failed"]), (3, 10), s)
        self.assertTrue(wait_for(lambda: [p for p in fault_peers.statuses(sink)
                                          if p.get("status") == "down"], timeout=5),
                        fault_peers.statuses(sink))
        self.assertTrue(e.alive())

        os.chmod(logs, 0o755)
        self.assertTrue(wait_for(lambda: os.path.exists(path), timeout=10), e.log()[-2000:])
        self.assertTrue(e.wait_log("can be written again", timeout=5), e.log()[-2000:])
        self.raise_f(e, 13, 16)
        s = self.settled(e, 16)
        self.assertEqual((s["delivered"], s["failed"]), (6, 10), s)
        self.assertEqual(self.lines(path), "E_F,13\nE_F,14\nE_F,15\n")
        self.assertEqual(os.stat(path).st_uid, fault_peers.nobody_ids()[0])
        self.assertTrue(wait_for(lambda: [p for p in fault_peers.statuses(sink)
                                          if p.get("status") == "up"], timeout=5),
                        fault_peers.statuses(sink))


if __name__ == "__main__":
    unittest.main()
