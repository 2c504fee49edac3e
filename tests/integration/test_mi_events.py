"""The core events, each received by a real subscriber (a UDP socket of this test)."""
import os
import socket
import unittest

from evitest import EvidTestCase, wait_for
from mi_peer import UdpSink


class CoreEvents(EvidTestCase):
    def sink(self):
        s = UdpSink()
        self.addCleanup(s.close)
        return s

    def subscribe(self, e, event, sock):
        r = e.mi("event_subscribe", {"event": event, "socket": sock})
        self.assertEqual(r.get("result"), "OK", r)

    def test_subscriber_status_reports_down_then_up(self):
        e = self.evid('loadmodule "event_datagram.so"\nroute[p] { raise_event("E_MI_A"); }\n')
        status = self.sink()
        self.subscribe(e, "E_EVI_SUBSCRIBER_STATUS", status.socket)
        path = os.path.join(e.dir, "consumer.sock")
        self.subscribe(e, "E_MI_A", "unix:" + path)
        e.mi("raise_event", {"event": "E_MI_A"})  # nobody bound at path: delivery fails
        down = status.recv_json()
        self.assertEqual(down, {"jsonrpc": "2.0", "method": "E_EVI_SUBSCRIBER_STATUS", "params": {
            "event": "E_MI_A", "socket": "unix:" + path, "status": "down",
            "reason": "delivery failed"}})
        consumer = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(consumer.close)
        consumer.bind(path)
        e.mi("raise_event", {"event": "E_MI_A"})
        up = status.recv_json()
        self.assertEqual(up["params"]["status"], "up")
        self.assertEqual(up["params"]["reason"], "delivery succeeded")
        consumer.settimeout(5)
        self.assertEqual(consumer.recv(1000), b'{"jsonrpc":"2.0","method":"E_MI_A"}')

    def test_threshold_event_for_a_slow_delivery(self):
        e = self.evid('loadmodule "event_datagram.so"\nevent_threshold_us = 1\n'
                      'route[p] { raise_event("E_MI_A"); }\n')
        th, target = self.sink(), self.sink()
        self.subscribe(e, "E_CORE_THRESHOLD", th.socket)
        self.subscribe(e, "E_MI_A", target.socket)
        e.mi("raise_event", {"event": "E_MI_A"})
        msg = th.recv_json()
        self.assertIsNotNone(msg)
        self.assertEqual(list(msg["params"]), ["source", "time", "extra"])
        self.assertEqual(msg["params"]["source"], "delivery")
        self.assertIsInstance(msg["params"]["time"], int)
        self.assertGreater(msg["params"]["time"], 1)
        self.assertEqual(msg["params"]["extra"], "event E_MI_A to " + target.socket)
        # Its own slow deliveries do not feed back: the stream stops.
        th.drain(0.5)
        self.assertIsNone(th.recv(0.5))

    def test_log_event_carries_error_lines(self):
        e = self.evid('loadmodule "event_datagram.so"\nlog_event_enabled = yes\n'
                      'timer_route[tick, 1] { xlog("L_ERR", "mi-test error line\\n"); '
                      'xlog("L_INFO", "mi-test info line\\n"); }\n')
        logs = self.sink()
        self.subscribe(e, "E_CORE_LOG", logs.socket)
        msg = logs.recv_method("E_CORE_LOG", timeout=5)
        self.assertIsNotNone(msg, e.log())
        p = msg["params"]
        self.assertEqual(list(p), ["time", "level", "module", "message"])
        self.assertEqual(p["level"], "ERROR")
        self.assertIn("mi-test error line", p["message"])
        # Only lines at or above log_event_level_filter (default: errors).
        for raw in logs.drain(1.2, limit=2.5):
            self.assertNotIn("info line", raw)

    def test_log_event_does_not_loop_when_its_own_delivery_fails(self):
        e = self.evid('loadmodule "event_datagram.so"\nlog_event_enabled = yes\n'
                      'log_event_level_filter = warn\n'
                      'timer_route[tick, 1] { xlog("L_ERR", "mi-test tick\\n"); }\n')
        self.subscribe(e, "E_CORE_LOG", "unix:" + os.path.join(e.dir, "nobody.sock"))
        ok = self.sink()
        self.subscribe(e, "E_CORE_LOG", ok.socket)
        got = [m for m in (ok.recv_json(3) for _ in range(3)) if m]
        self.assertTrue(got)
        self.assertLess(len(ok.drain(1.0, limit=3)), 50)  # bounded, no feedback storm
        self.assertIn("result", e.mi("events_list", {}))

    def test_memory_threshold_event(self):
        mem = self.sink()
        e = self.evid('loadmodule "event_datagram.so"\nmem_threshold_mb = 1\n'
                      'startup_route { subscribe_event("E_CORE_MEM_THRESHOLD", "%s"); }\n'
                      % mem.socket)
        msg = mem.recv_json(timeout=5)
        self.assertIsNotNone(msg, e.log())
        self.assertEqual(msg["method"], "E_CORE_MEM_THRESHOLD")
        self.assertEqual(list(msg["params"]), ["used", "threshold", "pid"])
        self.assertEqual(msg["params"]["threshold"], 1024 * 1024)
        self.assertGreater(msg["params"]["used"], 1024 * 1024)
        self.assertEqual(msg["params"]["pid"], e.proc.pid)
        self.assertIsNone(mem.recv(1.5))  # once per crossing, not every second


if __name__ == "__main__":
    unittest.main()
