"""The MI commands against a running evid, over HTTP POST /mi: exact JSON for good and bad
params, the evi:* aliases, expiry, batches, and what OpenSIPS's own CLI sends."""
import json
import os
import time
import unittest

from evitest import EvidTestCase, plugin_abi, wait_for
from mi_peer import UdpSink

CONFIG = """
loadmodule "event_datagram.so"
route[publish] {
    raise_event("E_MI_A");
    raise_event("E_MI_B");
}
"""

CORE_EVENTS = ["E_CORE_THRESHOLD", "E_CORE_LOG", "E_EVI_SUBSCRIBER_STATUS",
               "E_CORE_MEM_THRESHOLD"]


class MiCommands(EvidTestCase):
    def setUp(self):
        self.e = self.evid(CONFIG)
        self.sink = UdpSink()
        self.addCleanup(self.sink.close)

    def result(self, method, params=None, **kw):
        r = self.e.mi(method, params if params is not None else {}, **kw)
        self.assertIn("result", r, r)
        return r["result"]

    def error(self, method, params=None):
        r = self.e.mi(method, params if params is not None else {})
        self.assertIn("error", r, r)
        return r["error"]

    def subscribe(self, expire=None, event="E_MI_A", sock=None):
        p = {"event": event, "socket": sock or self.sink.socket}
        if expire is not None:
            p["expire"] = expire
        self.assertEqual(self.result("event_subscribe", p), "OK")

    # -- events_list --
    def test_events_list_gives_every_published_event_with_its_id(self):
        names = [e["name"] for e in self.result("events_list")["Events"]]
        self.assertEqual(names[:4], CORE_EVENTS)
        self.assertIn("E_MI_A", names)
        events = self.result("events_list")["Events"]
        self.assertEqual(events[names.index("E_MI_A")],
                         {"name": "E_MI_A", "id": names.index("E_MI_A")})
        self.assertEqual(self.result("evi:list"), self.result("events_list"))

    # -- event_subscribe / subscribers_list --
    def test_subscription_is_listed_with_socket_expire_ttl_and_counters(self):
        self.subscribe(expire=120)
        ids = {e["name"]: e["id"] for e in self.result("events_list")["Events"]}
        r = self.result("subscribers_list")
        self.assertEqual(len(r["Events"]), 1)
        ev = r["Events"][0]
        sub = ev["Subscribers"][0]
        self.assertIn(sub.pop("ttl"), (119, 120))
        self.assertEqual(ev, {"name": "E_MI_A", "id": ids["E_MI_A"], "Subscribers": [
            {"socket": self.sink.socket, "expire": 120, "state": "up", "delivered": 0,
             "failed": 0, "retried": 0, "dropped": 0, "queued": 0}]})

    def test_subscribers_list_of_one_event_and_of_one_socket(self):
        self.subscribe()
        one = self.result("subscribers_list", {"event": "E_MI_A"})["Event"]
        self.assertEqual(one["name"], "E_MI_A")
        self.assertEqual([s["socket"] for s in one["Subscribers"]], [self.sink.socket])
        sub = self.result("evi:subscribers", {"event": "E_MI_A", "socket": self.sink.socket})
        self.assertEqual(sub["Event"]["Subscriber"]["socket"], self.sink.socket)
        self.assertEqual(sub["Event"]["Subscriber"]["expire"], 3600)
        self.assertEqual(self.result("subscribers_list", {"event": "E_MI_B"})["Event"]
                         ["Subscribers"], [])

    def test_subscribers_list_errors_are_404(self):
        self.assertEqual(self.error("subscribers_list", {"event": "E_NOPE"}),
                         {"code": 404, "message": "Event not published"})
        self.assertEqual(self.error("subscribers_list",
                                    {"event": "E_MI_A", "socket": self.sink.socket}),
                         {"code": 404, "message": "Subscriber does not exist"})

    def test_expire_zero_unsubscribes(self):
        self.subscribe()
        self.subscribe(expire=0)
        self.assertEqual(self.result("subscribers_list"), {"Events": []})

    def test_subscribing_again_refreshes_instead_of_adding(self):
        self.subscribe(expire=100)
        self.subscribe(expire=200)
        subs = self.result("subscribers_list", {"event": "E_MI_A"})["Event"]["Subscribers"]
        self.assertEqual(len(subs), 1)
        self.assertEqual(subs[0]["expire"], 200)

    def test_an_expired_subscription_disappears_and_ttl_counts_down(self):
        self.subscribe(expire=2)
        ttl = self.result("subscribers_list", {"event": "E_MI_A"})["Event"]["Subscribers"][0]["ttl"]
        self.assertIn(ttl, (1, 2))
        gone = wait_for(lambda: self.result("subscribers_list") == {"Events": []}, timeout=6)
        self.assertTrue(gone)

    def test_negative_expire_is_invalid_params_with_opensips_text(self):
        self.assertEqual(self.error("event_subscribe", {"event": "E_MI_A",
                                                        "socket": self.sink.socket,
                                                        "expire": -5}),
                         {"code": -32602, "message": "Invalid params",
                          "data": "Negative expire value"})

    def test_bad_subscribe_params(self):
        self.assertEqual(self.error("event_subscribe", {"event": "E_MI_A"}),
                         {"code": -32602, "message": "Invalid params"})
        self.assertEqual(self.error("event_subscribe", {"event": "E_MI_A",
                                                        "socket": self.sink.socket,
                                                        "expire": "soon"}),
                         {"code": -32602, "message": "Invalid params"})
        e = self.error("event_subscribe", {"event": "E_NOPE", "socket": self.sink.socket})
        self.assertEqual((e["code"], e["message"]), (400, "Bad parameter value"))
        e = self.error("event_subscribe", {"event": "E_MI_A", "socket": "nope:1.2.3.4:5"})
        self.assertEqual((e["code"], e["message"]), (400, "Bad parameter value"))
        self.assertIn("nope", e["data"])
        e = self.error("event_subscribe", {"event": "E_MI_A", "socket": "udp:127.0.0.1:99999"})
        self.assertEqual((e["code"], e["message"]), (400, "Bad parameter value"))

    # -- raise_event --
    def test_raise_event_with_object_params_reaches_the_subscriber_exactly(self):
        self.subscribe()
        self.assertEqual(self.result("raise_event", {"event": "E_MI_A",
                                                     "params": {"ip": "10.0.0.9", "n": 5}}), "OK")
        self.assertEqual(self.sink.recv(),
                         '{"jsonrpc":"2.0","method":"E_MI_A","params":{"ip":"10.0.0.9","n":5}}')

    def test_raise_event_params_as_a_string_holding_json(self):
        self.subscribe()
        self.assertEqual(self.result("evi:raise", {"event": "E_MI_A",
                                                   "params": '{"a":[1,2],"b":true,"c":1.5}'}),
                         "OK")
        self.assertEqual(self.sink.recv(),
                         '{"jsonrpc":"2.0","method":"E_MI_A","params":{"a":"[1,2]","b":"true","c":1}}')

    def test_raise_event_positional_values_as_opensips_cli_sends_them(self):
        self.subscribe()
        self.assertEqual(self.result("raise_event", ["E_MI_A", ["x", "42"]]), "OK")
        self.assertEqual(self.sink.recv(),
                         '{"jsonrpc":"2.0","method":"E_MI_A","params":["x","42"]}')
        self.assertEqual(self.result("raise_event", ["E_MI_A"]), "OK")
        self.assertEqual(self.sink.recv(), '{"jsonrpc":"2.0","method":"E_MI_A"}')

    def test_raise_event_errors(self):
        self.assertEqual(self.error("raise_event", {"event": "E_NOPE"}),
                         {"code": 404, "message": "Event not registered"})
        self.assertEqual(self.error("raise_event", {"event": "E_MI_B"}),
                         {"code": 480, "message": "Temporarily Unavailable"})
        self.subscribe()
        self.assertEqual(self.error("raise_event", {"event": "E_MI_A", "params": "{oops"}),
                         {"code": 400, "message": "Bad Params",
                          "data": "params is not a JSON object"})
        self.assertEqual(self.error("raise_event", {}),
                         {"code": -32602, "message": "Invalid params"})

    # -- the JSON-RPC envelope --
    def test_unknown_method_is_32601_and_string_ids_are_echoed(self):
        r = self.e.mi("no_such_command", {}, id="12345")
        self.assertEqual(r, {"jsonrpc": "2.0", "error": {"code": -32601,
                                                         "message": "Method not found"},
                             "id": "12345"})

    def test_opensips_cli_request_shape_is_served(self):
        # What opensips-cli sends: string id, Connection: close, string values.
        body = json.dumps({"jsonrpc": "2.0", "id": "4242", "method": "event_subscribe",
                           "params": {"event": "E_MI_A", "socket": self.sink.socket,
                                      "expire": "60"}})
        status, headers, data = self.e.http("POST", "/mi", body, {
            "Content-Type": "application/json", "Connection": "close"})
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("Content-Type"), "application/json")
        self.assertEqual(data, b'{"jsonrpc":"2.0","result":"OK","id":"4242"}')
        sub = self.result("subscribers_list", {"event": "E_MI_A", "socket": self.sink.socket})
        self.assertEqual(sub["Event"]["Subscriber"]["expire"], 60)

    def test_errors_come_back_with_http_200(self):
        status, _, data = self.e.http("POST", "/mi", json.dumps(
            {"jsonrpc": "2.0", "id": "1", "method": "raise_event", "params": {"event": "E_X"}}),
            {"Content-Type": "application/json"})
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(data)["error"]["code"], 404)

    def test_batch_answers_each_request_in_order(self):
        self.subscribe()
        batch = [
            {"jsonrpc": "2.0", "id": 1, "method": "raise_event", "params": {"event": "E_MI_A"}},
            {"jsonrpc": "2.0", "method": "raise_event", "params": {"event": "E_MI_A"}},
            {"jsonrpc": "2.0", "id": "b", "method": "nope"},
            {"jsonrpc": "2.0", "id": 3, "method": "raise_event", "params": {"event": "E_NOPE"}},
        ]
        status, _, data = self.e.http("POST", "/mi", json.dumps(batch),
                                      {"Content-Type": "application/json"})
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(data), [
            {"jsonrpc": "2.0", "result": "OK", "id": 1},
            {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"},
             "id": "b"},
            {"jsonrpc": "2.0", "error": {"code": 404, "message": "Event not registered"},
             "id": 3}])
        self.assertEqual(len([self.sink.recv(), self.sink.recv()]), 2)  # notification ran too

    def test_notification_only_gets_204_and_runs(self):
        self.subscribe()
        status, _, data = self.e.http("POST", "/mi", json.dumps(
            {"jsonrpc": "2.0", "method": "raise_event", "params": {"event": "E_MI_A"}}),
            {"Content-Type": "application/json"})
        self.assertEqual((status, data), (204, b""))
        self.assertEqual(self.sink.recv(), '{"jsonrpc":"2.0","method":"E_MI_A"}')

    def test_malformed_json_is_32700_with_null_id(self):
        status, _, data = self.e.http("POST", "/mi", '{"jsonrpc": "2.0", "method"',
                                      {"Content-Type": "application/json"})
        self.assertEqual(status, 200)
        self.assertEqual(data, b'{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}')
        self.assertEqual(self.result("version")["Server"][:4], "evid")

    def test_invalid_request_is_32600(self):
        r = self.e.mi("events_list", "not-structured")
        self.assertEqual(r["error"]["code"], -32600)
        self.assertEqual(r["id"], 1)

    # -- which / help / version / uptime --
    def test_which_lists_every_command_and_alias(self):
        names = self.result("which")
        for n in ["events_list", "evi:list", "event_subscribe", "evi:subscribe",
                  "subscribers_list", "evi:subscribers", "raise_event", "evi:raise", "which",
                  "help", "version", "uptime", "modules_list", "module_params",
                  "get_statistics", "log_level", "shutdown", "kill"]:
            self.assertIn(n, names)
        self.assertEqual(self.result("which", {"command": "raise_event"}),
                         [["event"], ["event", "params"]])
        self.assertEqual(self.result("which", {"command": "subscribers_list"}),
                         [[], ["event"], ["event", "socket"]])
        self.assertEqual(self.result("which", ["event_subscribe"]),
                         [["event", "socket"], ["event", "socket", "expire"]])
        self.assertEqual(self.error("which", {"command": "nope"}),
                         {"code": 404, "message": "unknown MI command"})

    def test_help_version_and_uptime(self):
        h = self.result("help", {"command": "raise_event"})
        self.assertEqual(h["Exported by"], "core")
        self.assertEqual(h["Aliases"], ["evi:raise"])
        self.assertEqual(h["Parameters"], [["event"], ["event", "params"]])
        v = self.result("version")
        self.assertRegex(v["Server"], r"^evid \(\d+\.\d+\.\d+\)$")
        self.assertEqual(v["ABI"], plugin_abi())
        u = self.result("uptime")
        self.assertEqual(sorted(u), ["Now", "Up since", "Up time"])
        self.assertRegex(u["Up time"], r"^\d+ \[sec\]$")

    # -- modules --
    def test_modules_list_and_module_params(self):
        mods = self.result("modules_list")["Modules"]
        dgram = [m for m in mods if m["name"] == "event_datagram"]
        self.assertEqual(len(dgram), 1)
        self.assertEqual(dgram[0]["abi"], plugin_abi())
        self.assertTrue(dgram[0]["path"].endswith("event_datagram.so"))
        self.assertIn("udp", dgram[0]["transports"])
        params = self.result("module_params", {"module": "event_datagram"})["Modules"]
        self.assertEqual(params[0]["name"], "event_datagram")
        fmt = [p for p in params[0]["Params"] if p["name"] == "payload_format"][0]
        self.assertEqual(fmt["type"], "enum")
        self.assertEqual(fmt["values"], ["json", "text"])
        self.assertEqual(fmt["default"], "json")
        self.assertEqual(self.error("module_params", {"module": "event_nope"}),
                         {"code": 404, "message": "Module not loaded"})

    # -- statistics, log level --
    def test_get_statistics_counts_what_the_test_raised(self):
        self.subscribe()
        for _ in range(3):
            self.assertEqual(self.result("raise_event", {"event": "E_MI_A"}), "OK")
        self.sink.drain()
        stats = self.result("get_statistics", {"statistics": ["evi:", "events:E_MI_A"]})
        self.assertEqual(stats["events:E_MI_A"], 3)
        self.assertEqual(stats["evi:delivered"], 3)
        self.assertEqual(stats["evi:dropped"], 0)
        self.assertNotIn("core:uptime", stats)
        self.assertIn("core:uptime", self.result("get_statistics", ["all"]))
        self.assertEqual(self.error("get_statistics", {"statistics": ["nope:x"]}),
                         {"code": 404, "message": "Statistics Not Found"})

    def test_log_level_get_and_set(self):
        self.assertEqual(self.result("log_level"), {"Log level": 2})
        self.assertEqual(self.result("log_level", {"level": "4"}), {"Log level": 4})
        self.assertEqual(self.result("log_level", ["warn"]), {"Log level": 1})
        self.assertEqual(self.result("log_level"), {"Log level": 1})
        self.assertEqual(self.error("log_level", {"level": "9"})["code"], -32602)

    # -- event names no event can have --
    def test_an_event_name_over_64_characters_is_400_with_its_length_and_the_rule(self):
        name = "E_" + "X" * 298
        want = {"code": 400, "message": "Bad parameter value",
                "data": "bad event name 'E_XXXXXXXXXXXXXX...': it is 300 characters long; "
                        "expected 1 to 64 characters of letters, digits, '_', '.', ':', '-'"}
        self.assertEqual(self.error("raise_event", {"event": name}), want)
        self.assertEqual(self.error("event_subscribe", {"event": name,
                                                        "socket": self.sink.socket}), want)
        self.assertEqual(self.error("subscribers_list", {"event": name}), want)
        self.assertEqual(self.error("evi:raise", [name, {"a": 1}]), want)

    def test_an_event_name_with_a_bad_character_is_400_naming_it_escaped(self):
        err = self.error("raise_event", {"event": "E_MI\x1b[2J"})
        self.assertEqual(err["code"], 400)
        self.assertEqual(err["data"], "bad event name 'E_MI\\x1b[2J': it has '\\x1b' at position "
                                      "5; expected 1 to 64 characters of letters, digits, '_', "
                                      "'.', ':', '-'")
        self.assertNotIn("\x1b", self.e.log())

    # -- shutdown --
    def test_shutdown_answers_ok_then_evid_exits_cleanly(self):
        self.assertEqual(self.result("shutdown"), "OK")
        self.assertTrue(wait_for(lambda: not self.e.alive(), timeout=15))
        self.assertEqual(self.e.proc.returncode, 0)


class ScriptSubscriptions(EvidTestCase):
    def test_a_startup_route_subscription_never_expires_and_has_no_ttl(self):
        sink = UdpSink()
        self.addCleanup(sink.close)
        e = self.evid('loadmodule "event_datagram.so"\n'
                      'startup_route { subscribe_event("E_MI_S", "%s"); }\n' % sink.socket)
        sub = e.mi("subscribers_list", {"event": "E_MI_S", "socket": sink.socket})["result"]
        self.assertEqual(sub["Event"]["Subscriber"], {
            "socket": sink.socket, "expire": "never", "state": "up", "delivered": 0,
            "failed": 0, "retried": 0, "dropped": 0, "queued": 0})


class ModuleCommands(EvidTestCase):
    """Commands a module exports through the ABI are served like the core's."""

    def test_flatstore_rotate_is_listed_described_and_callable(self):
        e = self.evid('loadmodule "event_flatstore.so"\nroute[p] { raise_event("E_MI_A"); }\n')
        names = e.mi("which", {})["result"]
        self.assertIn("evi_flat_rotate", names)
        self.assertIn("event_flatstore:rotate", names)
        self.assertEqual(e.mi("which", {"command": "evi_flat_rotate"})["result"], [["path"], []])
        self.assertEqual(e.mi("evi_flat_rotate", {}), {"jsonrpc": "2.0", "result": "OK", "id": 1})
        self.assertEqual(e.mi("event_flatstore:rotate", [])["result"], "OK")
        self.assertEqual(e.mi("evi_flat_rotate", {"nope": 1})["error"],
                         {"code": -32602, "message": "Invalid params"})


if __name__ == "__main__":
    unittest.main()
