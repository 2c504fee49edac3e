"""event_rabbitmq against a real RabbitMQ broker on loopback (started here, stopped at the end).

One broker serves the whole module (plain and TLS listeners); the tests that stop it start it
again before they end."""
import json
import os
import shutil
import signal
import tempfile
import threading
import time
import unittest

from evitest import PLUGINS, Evid, EvidTestCase, wait_for
import fault_peers
import rabbit_peer

broker = None
certs = None
other_ca = None


def setUpModule():
    global broker, certs, other_ca
    if not os.path.exists(os.path.join(PLUGINS, "event_rabbitmq.so")):
        raise unittest.SkipTest("event_rabbitmq.so not built (librabbitmq missing at configure)")
    reason = rabbit_peer.available()
    if reason:
        raise RuntimeError(reason)
    cert_dir = tempfile.mkdtemp(prefix="evi-rabbit-certs-")
    certs = rabbit_peer.make_test_ca(cert_dir)
    other_ca = os.path.join(cert_dir, "other-ca.pem")
    broker = rabbit_peer.Broker(tls_files=certs)
    # Runs after the last test, and also when setUpModule fails half-way.
    unittest.addModuleCleanup(broker.remove)
    unittest.addModuleCleanup(shutil.rmtree, cert_dir, True)
    broker.start()


BODY = '{"jsonrpc":"2.0","method":"E_RMQ","params":{"s":"hello","n":42}}'


def config(socket, params=""):
    return ('loadmodule "event_rabbitmq.so"\n' + params +
            'startup_route {\n    subscribe_event("E_RMQ", "%s");\n}\n' % socket)


def subscriber(e, event="E_RMQ"):
    for ev in e.mi("subscribers_list")["result"]["Events"]:
        if ev["name"] == event:
            return ev["Subscribers"][0]
    return None


def stat(e, name):
    return e.mi("get_statistics", {"statistics": ["all"]})["result"].get(
        "modules:evi_event_rabbitmq_" + name)


class RabbitTestCase(EvidTestCase):
    def raise_hello(self, e, event="E_RMQ"):
        r = e.mi("raise_event", {"event": event, "params": {"s": "hello", "n": 42}})
        self.assertEqual(r.get("result"), "OK", r)

    def wait_outcomes(self, e, n, timeout=15):
        ok = wait_for(lambda: (lambda s: s and s["delivered"] + s["failed"] >= n)(subscriber(e)),
                      timeout=timeout)
        self.assertTrue(ok, "outcomes never reached %d: %s" % (n, subscriber(e)))
        return subscriber(e)

    def ensure_broker_running(self):
        if not broker.running():
            broker.start()


class Delivery(RabbitTestCase):
    def test_plain_delivery_publishes_the_json_rpc_notification_to_the_queue(self):
        broker.peer("queue", "q_plain", "transient")
        e = self.evid(config("rabbitmq:127.0.0.1:%d/q_plain" % broker.port))
        self.raise_hello(e)
        s = self.wait_outcomes(e, 1)
        self.assertEqual((s["delivered"], s["failed"]), (1, 0))
        msgs = broker.consume("q_plain", 10, idle_ms=300)
        self.assertEqual(len(msgs), 1, msgs)
        m = msgs[0]
        self.assertEqual(m.body, BODY)
        self.assertEqual(m.content_type, "application/json")
        self.assertEqual(m.delivery_mode, 0)
        self.assertEqual((m.exchange, m.routing_key), ("", "q_plain"))

    def test_exchange_and_routing_key_reach_the_bound_queue(self):
        broker.peer("exchange", "ev_topic", "topic", "queue", "q_topic", "transient",
                    "bind", "q_topic", "ev_topic", "sip.#")
        e = self.evid(config("rabbitmq:guest:guest@127.0.0.1:%d/exchange=ev_topic?sip.calls"
                             % broker.port))
        self.raise_hello(e)
        self.assertEqual(self.wait_outcomes(e, 1)["delivered"], 1)
        msgs = broker.consume("q_topic", 10, idle_ms=300)
        self.assertEqual([(m.exchange, m.routing_key, m.body) for m in msgs],
                         [("ev_topic", "sip.calls", BODY)])

    def test_persistent_sets_delivery_mode_2(self):
        broker.peer("queue", "q_persist", "durable")
        e = self.evid(config("rabbitmq:127.0.0.1:%d/persistent?q_persist" % broker.port))
        self.raise_hello(e)
        self.assertEqual(self.wait_outcomes(e, 1)["delivered"], 1)
        msgs = broker.consume("q_persist", 10, idle_ms=300)
        self.assertEqual([(m.delivery_mode, m.body) for m in msgs], [(2, BODY)])

    def test_vhost_parameter_publishes_into_that_vhost(self):
        broker.ctl("add_vhost", "evi_vh")
        broker.ctl("set_permissions", "-p", "evi_vh", "guest", ".*", ".*", ".*")
        broker.peer("queue", "q_vh", "transient", vhost="evi_vh")
        e = self.evid(config("rabbitmq:127.0.0.1:%d/vhost=evi_vh?q_vh" % broker.port))
        self.raise_hello(e)
        self.assertEqual(self.wait_outcomes(e, 1)["delivered"], 1)
        self.assertEqual([m.body for m in broker.consume("q_vh", 10, 300, vhost="evi_vh")],
                         [BODY])

    def test_events_of_one_subscriber_arrive_in_raise_order(self):
        broker.peer("queue", "q_order", "transient")
        e = self.evid(config("rabbitmq:127.0.0.1:%d/q_order" % broker.port))
        for i in range(200):
            e.mi("raise_event", {"event": "E_RMQ", "params": {"n": i}})
        self.assertEqual(self.wait_outcomes(e, 200)["delivered"], 200)
        got = [json.loads(m.body)["params"]["n"] for m in broker.consume("q_order", 500, 300)]
        self.assertEqual(got, list(range(200)))

    def test_without_publisher_confirms_events_are_still_delivered(self):
        broker.peer("queue", "q_noconfirm", "transient")
        e = self.evid(config("rabbitmq:127.0.0.1:%d/q_noconfirm" % broker.port,
                             'modparam("event_rabbitmq", "publisher_confirms", 0)\n'))
        for i in range(50):
            e.mi("raise_event", {"event": "E_RMQ", "params": {"n": i}})
        self.assertEqual(self.wait_outcomes(e, 50)["delivered"], 50)
        self.assertEqual(stat(e, "confirmed"), 50)  # counted when written, without a confirm
        got = [json.loads(m.body)["params"]["n"] for m in broker.consume("q_noconfirm", 99, 300)]
        self.assertEqual(got, list(range(50)))

    def test_heartbeat_is_negotiated_with_the_broker(self):
        broker.peer("queue", "q_hb", "transient")
        e = self.evid(config("rabbitmq:127.0.0.1:%d/q_hb" % broker.port,
                             'modparam("event_rabbitmq", "heartbeat", 7)\n'))
        self.raise_hello(e)
        self.assertEqual(self.wait_outcomes(e, 1)["delivered"], 1)
        conns = broker.ctl("list_connections", "client_properties", "timeout")
        ours = [l for l in conns.splitlines() if "evid event_rabbitmq" in l]
        self.assertEqual(len(ours), 1, conns)
        self.assertTrue(ours[0].rstrip().endswith("\t7"), ours[0])
        broker.consume("q_hb", 10, 200)

    def test_a_removed_subscription_receives_nothing_more(self):
        broker.peer("queue", "q_unsub", "transient")
        e = self.evid('loadmodule "event_rabbitmq.so"\n')
        sock = "rabbitmq:127.0.0.1:%d/q_unsub" % broker.port
        ev = "E_CORE_THRESHOLD"
        self.assertEqual(e.mi("event_subscribe", {"event": ev, "socket": sock, "expire": 120})
                         .get("result"), "OK")
        e.mi("raise_event", {"event": ev, "params": {"n": 1}})
        self.assertTrue(wait_for(lambda: broker.count("q_unsub") == 1, timeout=10))
        self.assertEqual(e.mi("event_subscribe", {"event": ev, "socket": sock, "expire": 0})
                         .get("result"), "OK")
        e.mi("raise_event", {"event": ev, "params": {"n": 2}})
        time.sleep(0.5)
        got = [json.loads(m.body)["params"]["n"] for m in broker.consume("q_unsub", 10, 300)]
        self.assertEqual(got, [1])

    def test_print_hides_the_password(self):
        e = self.evid(config("rabbitmq:bob:s3cret@127.0.0.1:%d/persistent?q" % broker.port))
        s = subscriber(e)
        self.assertEqual(s["socket"], "rabbitmq:bob@127.0.0.1:%d/persistent?q" % broker.port)
        self.assertNotIn("s3cret", json.dumps(e.mi("subscribers_list")))


class Failures(RabbitTestCase):
    def test_bad_credentials_fail_with_a_clear_error_and_the_daemon_keeps_running(self):
        broker.peer("queue", "q_good", "transient")
        e = self.evid('loadmodule "event_rabbitmq.so"\nstartup_route {\n'
                      '  subscribe_event("E_RMQ", "rabbitmq:guest:wrong@127.0.0.1:%d/q_good");\n'
                      '  subscribe_event("E_OK", "rabbitmq:127.0.0.1:%d/q_good");\n}\n'
                      % (broker.port, broker.port))
        self.raise_hello(e)
        s = self.wait_outcomes(e, 1)
        self.assertEqual((s["delivered"], s["failed"]), (0, 1))
        self.assertTrue(e.wait_log("ACCESS_REFUSED"), e.log())
        self.assertIn("refused the connection: login as 'guest' on vhost '/'", e.log())
        self.assertNotIn("wrong", e.log())
        # While refused, further events fail at once; the daemon and other brokers work.
        self.raise_hello(e)
        self.assertEqual(self.wait_outcomes(e, 2)["failed"], 2)
        self.assertTrue(e.alive())
        self.raise_hello(e, "E_OK")
        ok = wait_for(lambda: subscriber(e, "E_OK")["delivered"] == 1, timeout=10)
        self.assertTrue(ok, subscriber(e, "E_OK"))
        self.assertEqual([m.body for m in broker.consume("q_good", 10, 300)],
                         [BODY.replace("E_RMQ", "E_OK")])

    def test_an_unknown_vhost_is_refused_with_the_brokers_reason(self):
        e = self.evid(config("rabbitmq:127.0.0.1:%d/vhost=no_such_vhost?q" % broker.port))
        self.raise_hello(e)
        s = self.wait_outcomes(e, 1)
        self.assertEqual((s["delivered"], s["failed"]), (0, 1))
        self.assertIn("530 NOT_ALLOWED - vhost no_such_vhost not found", e.log())

    def test_an_unroutable_event_counts_as_failed(self):
        e = self.evid(config("rabbitmq:127.0.0.1:%d/no_such_queue" % broker.port))
        self.raise_hello(e)
        s = self.wait_outcomes(e, 1)
        self.assertEqual((s["delivered"], s["failed"]), (0, 1))
        self.assertEqual(stat(e, "returned"), 1)
        self.assertIn("312 NO_ROUTE", e.log())

    def test_a_missing_exchange_fails_the_event_and_not_the_others(self):
        broker.peer("queue", "q_after", "transient")
        e = self.evid('loadmodule "event_rabbitmq.so"\nstartup_route {\n'
                      '  subscribe_event("E_RMQ", "rabbitmq:127.0.0.1:%d/exchange=nope?k");\n'
                      '  subscribe_event("E_OK", "rabbitmq:127.0.0.1:%d/q_after");\n}\n'
                      % (broker.port, broker.port))
        self.raise_hello(e)
        self.raise_hello(e, "E_OK")
        s = self.wait_outcomes(e, 1)
        self.assertEqual((s["delivered"], s["failed"]), (0, 1))
        self.assertIn("exchange 'nope': 404 NOT_FOUND", e.log())
        self.assertTrue(wait_for(lambda: subscriber(e, "E_OK")["delivered"] == 1, timeout=10))
        self.assertEqual(len(broker.consume("q_after", 10, 300)), 1)

    def test_an_event_the_broker_rejects_fails_alone_and_the_others_arrive(self):
        # Messages above max_message_size make the broker close the channel without saying
        # which one it was: the module must single it out, not fail its neighbours.
        broker.ctl("eval", "application:set_env(rabbit, max_message_size, 2048).")
        self.addCleanup(broker.ctl, "eval",
                        "application:set_env(rabbit, max_message_size, 134217728).")
        broker.peer("queue", "q_big", "transient")
        e = self.evid(config("rabbitmq:127.0.0.1:%d/q_big" % broker.port))
        for i in range(10):
            params = {"n": i, "pad": "x" * 5000} if i == 4 else {"n": i}
            e.mi("raise_event", {"event": "E_RMQ", "params": params})
        s = self.wait_outcomes(e, 10)
        self.assertEqual((s["delivered"], s["failed"]), (9, 1), e.log())
        self.assertIn("406 PRECONDITION_FAILED - message size", e.log())
        got = {json.loads(m.body)["params"]["n"] for m in broker.consume("q_big", 100, 300)}
        self.assertEqual(got, set(range(10)) - {4})  # at-least-once: some may come twice

    def test_a_malformed_socket_is_refused_with_the_reason(self):
        e = self.evid('loadmodule "event_rabbitmq.so"\n')
        r = e.mi("event_subscribe", {"event": "E_CORE_THRESHOLD",
                                     "socket": "rabbitmq:127.0.0.1/colour=red?k"})
        self.assertIn("error", r)
        self.assertIn("unknown parameter 'colour=red'", json.dumps(r))


class Shutdown(RabbitTestCase):
    """The module frees rabbitmq-c's TLS state at unload only when TLS was used: freeing it
    otherwise failed an assertion in librabbitmq and aborted evid (exit code 134) at every
    shutdown, and at every start-up that failed."""

    def test_evid_that_published_without_tls_stops_with_exit_code_0(self):
        broker.peer("queue", "q_shutdown", "transient")
        e = self.evid(config("rabbitmq:127.0.0.1:%d/q_shutdown" % broker.port))
        self.raise_hello(e)
        self.assertEqual(self.wait_outcomes(e, 1)["delivered"], 1)
        self.assertEqual(e.stop(), 0, e.log())
        self.assertNotIn("Assertion", e.log())

    def test_evid_that_published_over_tls_stops_with_exit_code_0(self):
        broker.peer("queue", "q_shutdown_tls", "transient")
        e = self.evid(config("rabbitmq:localhost:%d/tls?q_shutdown_tls" % broker.tls_port,
                             'modparam("event_rabbitmq", "tls_ca_file", "%s")\n' % certs[0]))
        self.raise_hello(e)
        self.assertEqual(self.wait_outcomes(e, 1)["delivered"], 1)
        self.assertEqual(e.stop(), 0, e.log())

    def test_a_start_up_that_fails_exits_with_the_config_error_code(self):
        # The MI port is taken: evid refuses to start, unloads the module and exits 1.
        first = self.evid('loadmodule "event_rabbitmq.so"\n')
        second = Evid('loadmodule "event_rabbitmq.so"\nmi_listen = "127.0.0.1:%d"\n'
                      % first.mi_port)
        with self.assertRaises(RuntimeError):
            second.start()
        rc = second.stop()
        second.__exit__(None, None, None)
        self.assertEqual(rc, 1)


class BrokerOutages(RabbitTestCase):
    def tearDown(self):
        self.ensure_broker_running()

    def stream_through_outage(self, queue, total, take_down):
        """Raises `total` events (n = 0…total-1) over MI at a steady pace; in the middle
        `take_down()` stops the broker, which is then started again; checks that every n
        reached the queue."""
        broker.peer("delete", queue, "queue", queue, "durable")
        e = self.evid(config("rabbitmq:127.0.0.1:%d/persistent?%s" % (broker.port, queue),
                             'modparam("event_rabbitmq", "connect_timeout", 200)\n'))
        raised = [0]
        errors = []
        down = threading.Event()

        def stream():
            try:
                for i in range(total):
                    if i == total * 9 // 10:
                        down.wait(60)  # the last tenth is raised while the broker is away
                    r = e.mi("raise_event", {"event": "E_RMQ", "params": {"n": i}})
                    if r.get("result") != "OK":
                        errors.append(r)
                    raised[0] = i + 1
                    if i % 200 == 0:
                        # ~0.5 ms per event: the stream outlasts a broker stop (up to ~4 s
                        # with traffic), so the outage lands in the middle
                        time.sleep(0.1)
            except Exception as ex:  # reported by the assertion below
                errors.append(repr(ex))

        t = threading.Thread(target=stream)
        t.start()
        try:
            self.assertTrue(wait_for(lambda: raised[0] >= total // 5, timeout=30))
            take_down()
            interrupted_at = raised[0]
            down.set()
            broker.start()
        finally:
            down.set()
            t.join(120)
        self.assertEqual(errors, [])
        self.assertLess(interrupted_at, total, "the stream ended before the outage")
        s = self.wait_outcomes(e, total, timeout=120)
        self.assertEqual((s["delivered"], s["failed"], s["dropped"]), (total, 0, 0),
                         "%s\nevid's log (end):\n%s" % (s, e.log()[-4000:]))
        msgs = broker.consume(queue, total * 2, idle_ms=1000)
        seen = {json.loads(m.body)["params"]["n"] for m in msgs}
        self.assertEqual(len(seen), total, "missing: %s" % sorted(set(range(total)) - seen)[:20])
        self.assertGreaterEqual(stat(e, "reconnects"), 1)
        return e

    def test_a_refusal_right_after_the_broker_dropped_us_is_waited_out(self):
        # RabbitMQ can refuse a login (403 "access to vhost '/' refused") for a moment after a
        # restart; the CI once saw a crash test fail 3999 events that way. A broker that
        # accepted us before gets 10 s before its refusals fail events. Here the refusal is a
        # password changed and changed back while evid's connection is closed.
        broker.ctl("add_user", "flip", "pw1")
        self.addCleanup(broker.ctl, "delete_user", "flip")
        broker.ctl("set_permissions", "-p", "/", "flip", ".*", ".*", ".*")
        broker.peer("delete", "q_flip", "queue", "q_flip", "transient")
        e = self.evid(config("rabbitmq:flip:pw1@127.0.0.1:%d/q_flip" % broker.port))
        self.raise_hello(e)
        self.assertEqual(self.wait_outcomes(e, 1)["delivered"], 1)
        broker.ctl("change_password", "flip", "other")
        broker.ctl("close_all_connections", "refusal test")
        for _ in range(3):
            self.raise_hello(e)
        self.assertTrue(e.wait_log("403 ACCESS_REFUSED", timeout=10), e.log())
        broker.ctl("change_password", "flip", "pw1")
        s = self.wait_outcomes(e, 4, timeout=30)
        self.assertEqual((s["delivered"], s["failed"]), (4, 0), s)
        self.assertEqual(len(broker.consume("q_flip", 10, 300)), 4)
        # A refusal that lasts beyond the grace fails the events, as a refused login always did.
        broker.ctl("change_password", "flip", "other")
        broker.ctl("close_all_connections", "refusal test")
        self.raise_hello(e)
        s = self.wait_outcomes(e, 5, timeout=40)
        self.assertEqual((s["delivered"], s["failed"]), (4, 1), s)
        self.assertIn("refused the connection: login as 'flip'", e.log())

    def test_a_broker_restart_in_a_stream_of_10000_events_loses_none(self):
        e = self.stream_through_outage("q_stream", 10000, broker.stop)
        self.assertIn("320 CONNECTION_FORCED", e.log())

    def test_a_broker_crash_in_a_stream_of_events_loses_none(self):
        # SIGKILL: the broker forgets what it had not written to disk, and the confirms it
        # had not sent are lost with the connection: those events must be published again.
        self.stream_through_outage("q_crash", 5000, broker.kill)

    def test_a_full_queue_keeps_events_in_the_host_until_the_broker_returns(self):
        broker.peer("delete", "q_full", "queue", "q_full", "durable")
        broker.stop()
        e = self.evid(config("rabbitmq:127.0.0.1:%d/persistent?q_full" % broker.port,
                             'modparam("event_rabbitmq", "queue_size", 3)\n'
                             'modparam("event_rabbitmq", "connect_timeout", 200)\n'))
        for i in range(20):
            e.mi("raise_event", {"event": "E_RMQ", "params": {"n": i}})
        time.sleep(1)
        s = subscriber(e)
        self.assertEqual((s["delivered"], s["failed"], s["dropped"]), (0, 0, 0), s)
        self.assertGreater(s["queued"], 0, s)  # the host holds what the module had no room for
        broker.start()
        s = self.wait_outcomes(e, 20, timeout=30)
        self.assertEqual((s["delivered"], s["failed"]), (20, 0))
        got = [json.loads(m.body)["params"]["n"] for m in broker.consume("q_full", 40, 500)]
        self.assertEqual(got, list(range(20)))

    def test_a_frozen_broker_is_left_after_timeout_and_rejoined_without_loss(self):
        # SIGSTOP: the TCP connection stays open but nothing answers, neither confirms nor
        # logins. The module must give up on it after `timeout` and deliver once it thaws.
        broker.peer("delete", "q_frozen", "queue", "q_frozen", "durable")
        e = self.evid(config("rabbitmq:127.0.0.1:%d/persistent?q_frozen" % broker.port,
                             'modparam("event_rabbitmq", "timeout", 1000)\n'
                             'modparam("event_rabbitmq", "connect_timeout", 200)\n'))
        for i in range(50):
            e.mi("raise_event", {"event": "E_RMQ", "params": {"n": i}})
        self.assertEqual(self.wait_outcomes(e, 50)["delivered"], 50)
        pid = broker.pid()
        os.kill(pid, signal.SIGSTOP)
        self.addCleanup(os.kill, pid, signal.SIGCONT)
        for i in range(50, 100):
            e.mi("raise_event", {"event": "E_RMQ", "params": {"n": i}})
        self.assertTrue(e.wait_log("no confirm from the broker within 1000 ms", timeout=10),
                        e.log())
        time.sleep(2.5)  # reconnects meet a login that never answers: bounded by timeout
        self.assertEqual(subscriber(e)["delivered"], 50)
        self.assertTrue(e.alive())
        os.kill(pid, signal.SIGCONT)
        s = self.wait_outcomes(e, 100, timeout=30)
        self.assertEqual((s["delivered"], s["failed"]), (100, 0))
        got = {json.loads(m.body)["params"]["n"] for m in broker.consume("q_frozen", 300, 500)}
        self.assertEqual(got, set(range(100)))

    def test_events_raised_while_the_broker_is_down_at_start_up_arrive_in_order(self):
        broker.peer("delete", "q_down", "queue", "q_down", "durable")
        broker.stop()
        e = self.evid(config("rabbitmq:127.0.0.1:%d/persistent?q_down" % broker.port,
                             'modparam("event_rabbitmq", "connect_timeout", 200)\n'))
        for i in range(5):
            e.mi("raise_event", {"event": "E_RMQ", "params": {"n": i}})
        self.assertTrue(e.wait_log("cannot connect to broker", timeout=5), e.log())
        self.assertEqual(subscriber(e)["delivered"], 0)
        broker.start()
        s = self.wait_outcomes(e, 5, timeout=20)
        self.assertEqual((s["delivered"], s["failed"]), (5, 0))
        got = [json.loads(m.body)["params"]["n"] for m in broker.consume("q_down", 10, 500)]
        self.assertEqual(got, [0, 1, 2, 3, 4])

    def test_max_event_age_drops_and_counts_events_that_waited_too_long(self):
        broker.peer("delete", "q_age", "queue", "q_age", "durable")
        broker.stop()
        e = self.evid(config("rabbitmq:127.0.0.1:%d/persistent?q_age" % broker.port,
                             'modparam("event_rabbitmq", "max_event_age", 1)\n'
                             'modparam("event_rabbitmq", "connect_timeout", 200)\n'))
        for i in range(3):
            e.mi("raise_event", {"event": "E_RMQ", "params": {"n": i}})
        s = self.wait_outcomes(e, 3, timeout=10)
        self.assertEqual((s["delivered"], s["failed"]), (0, 3))
        self.assertEqual(stat(e, "expired"), 3)
        self.assertIn("older than max_event_age 1 s", e.log())
        broker.start()
        e.mi("raise_event", {"event": "E_RMQ", "params": {"n": 3}})
        s = self.wait_outcomes(e, 4, timeout=20)
        self.assertEqual((s["delivered"], s["failed"]), (1, 3))
        got = [json.loads(m.body)["params"]["n"] for m in broker.consume("q_age", 10, 500)]
        self.assertEqual(got, [3])


class DnsOutage(RabbitTestCase):
    """A broker host name that stops resolving (issue 8), through the real resolver: evid runs
    in a private mount namespace whose /etc/hosts this test rewrites (fault_peers). The module
    resolves at each (re)connect: events wait in the module and the host, and arrive once the
    name resolves again."""
    NAME = "evi-broker.test"

    def setUp(self):
        self.tmp, self.hosts, self.resolv = fault_peers.private_hosts(
            self, {self.NAME: "127.0.0.1"}, "evi-rmq-dns-")

    def tearDown(self):
        self.ensure_broker_running()

    def test_events_raised_while_the_broker_name_does_not_resolve_arrive_once_it_does(self):
        broker.peer("delete", "q_dns", "queue", "q_dns", "durable")
        wrapper = fault_peers.private_hosts_evid(self.tmp, self.hosts, self.resolv)
        e = self.evid(config("rabbitmq:%s:%d/persistent?q_dns" % (self.NAME, broker.port),
                             'modparam("event_rabbitmq", "connect_timeout", 200)\n'),
                      binary=wrapper)
        self.assertTrue(fault_peers.is_evid(e), "the wrapper did not exec evid")
        for i in range(3):
            self.raise_n(e, i)
        s = self.wait_outcomes(e, 3)
        self.assertEqual((s["delivered"], s["failed"]), (3, 0), s)

        # The name goes away, then the connection breaks: evid must reconnect, and cannot.
        self.hosts.set({})
        broker.stop()
        broker.start()
        for i in range(3, 8):
            self.raise_n(e, i)
        self.assertTrue(e.wait_log("cannot connect to broker", timeout=20), e.log()[-3000:])
        line = [l for l in e.log().splitlines() if "cannot connect to broker" in l][-1]
        self.assertIn(self.NAME, line)
        self.assertRegex(line, r"(?i)hostname|resolv|lookup")
        time.sleep(1)
        s = subscriber(e)
        self.assertEqual((s["delivered"], s["failed"], s["dropped"]), (3, 0, 0), s)
        self.assertTrue(e.alive())

        # The name resolves again: the waiting events arrive, in order, none lost.
        self.hosts.set({self.NAME: "127.0.0.1"})
        s = self.wait_outcomes(e, 8, timeout=40)
        self.assertEqual((s["delivered"], s["failed"], s["dropped"]), (8, 0, 0), s)
        got = [json.loads(m.body)["params"]["n"] for m in broker.consume("q_dns", 20, 500)]
        self.assertEqual(got, list(range(8)))

    def raise_n(self, e, n):
        r = e.mi("raise_event", {"event": "E_RMQ", "params": {"n": n}})
        self.assertEqual(r.get("result"), "OK", r)


class Tls(RabbitTestCase):
    def test_tls_delivers_to_a_broker_whose_certificate_the_ca_signed(self):
        broker.peer("queue", "q_tls", "transient")
        e = self.evid(config("rabbitmq:localhost:%d/tls?q_tls" % broker.tls_port,
                             'modparam("event_rabbitmq", "tls_ca_file", "%s")\n' % certs[0]))
        self.raise_hello(e)
        s = self.wait_outcomes(e, 1)
        self.assertEqual((s["delivered"], s["failed"]), (1, 0), e.log())
        self.assertEqual([m.body for m in broker.consume("q_tls", 10, 300)], [BODY])

    def test_tls_verifies_a_certificate_issued_for_the_brokers_ip_address(self):
        broker.peer("queue", "q_tls_ip", "transient")
        e = self.evid(config("rabbitmq:127.0.0.1:%d/tls?q_tls_ip" % broker.tls_port,
                             'modparam("event_rabbitmq", "tls_ca_file", "%s")\n' % certs[0]))
        self.raise_hello(e)
        s = self.wait_outcomes(e, 1)
        self.assertEqual((s["delivered"], s["failed"]), (1, 0), e.log())
        self.assertEqual([m.body for m in broker.consume("q_tls_ip", 10, 300)], [BODY])

    def test_tls_refuses_a_broker_certificate_from_another_ca(self):
        e = self.evid(config("rabbitmq:localhost:%d/tls?q_tls" % broker.tls_port,
                             'modparam("event_rabbitmq", "tls_ca_file", "%s")\n' % other_ca))
        self.raise_hello(e)
        s = self.wait_outcomes(e, 1)
        self.assertEqual((s["delivered"], s["failed"]), (0, 1))
        self.assertIn("refused the connection", e.log())


if __name__ == "__main__":
    unittest.main()
