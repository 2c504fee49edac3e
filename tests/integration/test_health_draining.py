"""GET /health answers 200 while evid runs and 503 while it drains its queues on shutdown."""
import signal
import time
import unittest

from evitest import EvidTestCase, wait_for
from reliability_peers import StalledPeer


class HealthWhileDraining(EvidTestCase):
    def test_health_is_503_while_queues_drain_after_sigterm(self):
        peer = StalledPeer()
        self.addCleanup(peer.close)
        e = self.evid("""
shutdown_timeout = 3
loadmodule "event_xmlrpc.so"
modparam("event_xmlrpc", "timeout", 5000)
startup_route {
    subscribe_event("E_H", "xmlrpc:127.0.0.1:%d:take");
    raise_event("E_H");
    raise_event("E_H");
}
""" % peer.port)
        status, _, _ = e.http("GET", "/health")
        self.assertEqual(status, 200)
        # The first event is stuck at the stalled peer: the queue is not empty.
        self.assertTrue(wait_for(lambda: peer.conns, timeout=5))
        e.proc.send_signal(signal.SIGTERM)
        seen = wait_for(lambda: self._health(e) == 503, timeout=2)
        self.assertTrue(seen, e.log())
        self.assertEqual(e.proc.wait(15), 0)
        self.assertIn("could not be delivered within shutdown_timeout", e.log())

    @staticmethod
    def _health(e):
        try:
            return e.http("GET", "/health", timeout=1)[0]
        except OSError:
            return None


if __name__ == "__main__":
    unittest.main()
