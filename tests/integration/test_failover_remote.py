"""virtual:FAILOVER over two remote transports: RabbitMQ first, XML-RPC second. When the broker
stops in the middle of a stream, events move to the XML-RPC server and none is lost."""
import json
import os
import threading
import time
import unittest

from evitest import PLUGINS, EvidTestCase, wait_for
import rabbit_peer
import rpc_peers

broker = None


def setUpModule():
    global broker
    for so in ("event_rabbitmq.so", "event_xmlrpc.so", "event_virtual.so"):
        if not os.path.exists(os.path.join(PLUGINS, so)):
            raise unittest.SkipTest(so + " not built")
    reason = rabbit_peer.available()
    if reason:
        raise RuntimeError(reason)
    broker = rabbit_peer.Broker()
    unittest.addModuleCleanup(broker.remove)
    broker.start()


class FailoverRabbitToXmlRpc(EvidTestCase):
    def test_events_move_to_xmlrpc_when_the_broker_stops_and_none_is_lost(self):
        xr = rpc_peers.XmlRpcPeer()
        self.addCleanup(xr.close)
        self.addCleanup(lambda: broker.running() or broker.start())
        broker.peer("delete", "q_fo", "queue", "q_fo", "durable")
        socket = ("virtual:FAILOVER rabbitmq:127.0.0.1:%d/persistent?q_fo xmlrpc:127.0.0.1:%d:evi_event"
                  % (broker.port, xr.port))
        e = self.evid('loadmodule "event_rabbitmq.so"\nloadmodule "event_xmlrpc.so"\n'
                      'loadmodule "event_virtual.so"\n'
                      # an event waits for the broker at most 1 s, then FAILOVER moves it on
                      'modparam("event_rabbitmq", "max_event_age", 1)\n'
                      'modparam("event_rabbitmq", "connect_timeout", 200)\n'
                      'startup_route {\n  subscribe_event("E_FO", "%s");\n}\n' % socket)
        total = 600
        raised = [0]
        errors = []
        down = threading.Event()

        def stream():
            try:
                for i in range(total):
                    if i == total * 2 // 3:
                        down.wait(60)  # the last third is raised while the broker is away
                    r = e.mi("raise_event", {"event": "E_FO", "params": {"n": i}})
                    if r.get("result") != "OK":
                        errors.append(r)
                    raised[0] = i + 1
                    time.sleep(0.005)
            except Exception as ex:
                errors.append(repr(ex))

        def outcomes():
            for ev in e.mi("subscribers_list")["result"]["Events"]:
                if ev["name"] == "E_FO":
                    return ev["Subscribers"][0]

        t = threading.Thread(target=stream)
        t.start()
        try:
            self.assertTrue(wait_for(lambda: outcomes()["delivered"] >= 200, timeout=60),
                            outcomes())
            self.assertEqual(xr.calls, [], "the broker was up: nothing should go to XML-RPC")
            broker.stop()
            stopped_at = raised[0]
        finally:
            down.set()
            t.join(120)
        self.assertEqual(errors, [])
        self.assertLess(stopped_at, total, "the stream ended before the broker stopped")
        ok = wait_for(lambda: outcomes()["delivered"] >= total, timeout=60)
        s = outcomes()
        self.assertTrue(ok, s)
        self.assertEqual((s["delivered"], s["failed"], s["dropped"]), (total, 0, 0), s)

        via_xmlrpc = set()
        for method, params in xr.calls:
            self.assertEqual(method, "evi_event")
            self.assertEqual(params[:2], ("E_FO", "n"))
            via_xmlrpc.add(params[2])
        self.assertTrue(via_xmlrpc, "nothing moved to XML-RPC after the broker stopped")

        broker.start()
        via_broker = {json.loads(m.body)["params"]["n"]
                      for m in broker.consume("q_fo", total * 2, idle_ms=1000)}
        self.assertTrue(via_broker)
        missing = set(range(total)) - via_broker - via_xmlrpc
        self.assertEqual(missing, set())


if __name__ == "__main__":
    unittest.main()
