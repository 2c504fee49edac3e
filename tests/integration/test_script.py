"""The script language with a real evid: event_route blocks (event_route.so) that raise further
events into flatstore files and UDP sockets, exact output; sync chains, async routes, the
nesting limit, timer_route, runtime errors that do not stop the daemon, `evid -c` config errors
with file:line:col, and the 1,000,000-event startup_route loop."""
import json
import os
import time
import unittest

from evitest import EvidTestCase, check_config, wait_for
from script_peer import UdpSink, head, read, wait_file, wait_lines

MODULES = ('loadmodule "event_flatstore.so"\n'
           'loadmodule "event_datagram.so"\n'
           'loadmodule "event_route.so"\n')


class ScriptTest(EvidTestCase):
    def sink(self):
        s = UdpSink()
        self.addCleanup(s.close)
        return s

    def test_async_event_route_raises_a_composed_event_into_a_file(self):
        e = self.evid(head() + MODULES + r'''
startup_route {
    subscribe_event("E_OUT", "flatstore:@DIR@/out.log");
    $avp(n) = "n"; $avp(n) = "ip";
    $avp(v) = 41; $avp(v) = "10.0.0.1";
    raise_event("E_PIKE", $avp(n), $avp(v));
}
event_route[E_PIKE] {
    fetch_event_params("ip=$var(ip);n=$var(n)");
    $avp(o) = $var(n) + 1;
    $avp(o) = "blocked " + $param(ip);
    raise_event("E_OUT", , $avp(o));
}
''')
        self.assertEqual(wait_file(os.path.join(e.dir, "out.log"), b"E_OUT,blocked 10.0.0.1,42\n"),
                         b"E_OUT,blocked 10.0.0.1,42\n")

    def test_sync_event_routes_chain_and_reach_a_udp_socket_in_order(self):
        s = self.sink()
        self.evid(head() + MODULES + r'''
startup_route {
    subscribe_event("E_OUT", "%s");
    $avp(v) = "start";
    raise_event("E_A", , $avp(v));
    raise_event("E_OUT");
}
event_route[E_A, sync] {
    $avp(n) = "hop"; $avp(n) = "from";
    $avp(v) = 1; $avp(v) = $param(1) + ">A";
    raise_event("E_B", $avp(n), $avp(v));
}
event_route[E_B, sync] {
    $avp(n) = "hop"; $avp(n) = "from";
    $avp(v) = $param(hop) + 1; $avp(v) = $param(from) + ">B";
    raise_event("E_OUT", $avp(n), $avp(v));
}
''' % s.address)
        got = s.wait(2)
        self.assertEqual(got, [
            b'{"jsonrpc":"2.0","method":"E_OUT","params":{"from":"start>A>B","hop":2}}',
            b'{"jsonrpc":"2.0","method":"E_OUT"}'])

    def test_an_event_raised_over_mi_runs_its_event_route(self):
        e = self.evid(head() + MODULES + r'''
startup_route { subscribe_event("E_OUT", "flatstore:@DIR@/mi.log"); }
event_route[E_MI] {
    $avp(v) = $param(n) * 2; $avp(v) = "\xc3\xa9" + $param(s);
    raise_event("E_OUT", , $avp(v));
}
''')
        r = e.mi("raise_event", {"event": "E_MI", "params": {"s": "x", "n": 21}})
        self.assertEqual(r.get("result"), "OK", r)
        self.assertEqual(wait_file(os.path.join(e.dir, "mi.log"), "E_OUT,éx,42\n".encode()),
                         "E_OUT,éx,42\n".encode())

    def test_route_sockets_are_listed_and_refused_without_an_event_route(self):
        e = self.evid(head() + MODULES + 'event_route[E_R] { exit; }\n')
        subs = json.dumps(e.mi("subscribers_list", {}))
        self.assertIn("route:E_R", subs)
        r = e.mi("event_subscribe", {"event": "E_R", "socket": "route:E_NOPE"})
        self.assertIn("error", r, r)

    def test_timer_route_runs_every_interval(self):
        e = self.evid(head() + MODULES + r'''
startup_route { subscribe_event("E_BEAT", "flatstore:@DIR@/beat.log"); }
timer_route[beat, 1] { $avp(v) = "tick"; raise_event("E_BEAT", , $avp(v)); }
''')
        got = wait_lines(os.path.join(e.dir, "beat.log"), 2, timeout=5)
        self.assertEqual(got[:24], b"E_BEAT,tick\nE_BEAT,tick\n")

    def test_the_nesting_limit_stops_a_sync_loop_and_the_daemon_keeps_running(self):
        e = self.evid(head() + MODULES + r'''
startup_route {
    subscribe_event("E_OUT", "flatstore:@DIR@/loop.log");
    raise_event("E_LOOP");
}
event_route[E_LOOP, sync] { raise_event("E_OUT"); raise_event("E_LOOP"); }
''')
        self.assertEqual(read(os.path.join(e.dir, "loop.log")).count(b"\n"), 99)
        self.assertIn("event_route[E_LOOP] not run: 100 routes are already nested on this "
                      "thread", e.log())
        self.assertTrue(e.alive())
        self.assertIn("result", e.mi("events_list", {}))

    def test_a_runtime_error_logs_route_and_location_and_the_daemon_keeps_running(self):
        e = self.evid(head() + MODULES + r'''
startup_route { subscribe_event("E_OUT", "flatstore:@DIR@/err.log"); }
timer_route[t, 1] {
    raise_event("E_OUT");
    $var(x) = 1 / $var(zero);
    raise_event("E_OUT");
}
''')
        self.assertTrue(e.wait_log("runtime error in timer_route[t] at %s:10:17: division by zero"
                                   % e.cfg_path, timeout=4), e.log())
        wait_lines(os.path.join(e.dir, "err.log"), 2, timeout=4)
        self.assertEqual(read(os.path.join(e.dir, "err.log"))[:12], b"E_OUT\nE_OUT\n")
        self.assertTrue(e.alive())

    def test_xlog_writes_expanded_text_to_the_log(self):
        e = self.evid(head() + MODULES + r'''
startup_route { $var(n) = 3; xlog("L_NOTICE", "n is $var(n), pid $pid\n"); }
''')
        self.assertIn("n is 3, pid %d" % e.proc.pid, e.log())

    def test_a_million_events_from_a_startup_loop_are_all_written(self):
        path_line = 'subscribe_event("E_PERF", "flatstore:@DIR@/perf.log");'
        e = self.evid(head() + 'max_while_loops = 1000000\n' + MODULES + r'''
startup_route {
    %s
    $avp(n) = "seq"; $avp(n) = "caller";
    $avp(v) = 12345; $avp(v) = "alice@example.com";
    $var(t0) = $Ts * 1000000 + $Tsm;
    $var(i) = 0;
    while ($var(i) < 1000000) {
        raise_event("E_PERF", $avp(n), $avp(v));
        $var(i) = $var(i) + 1;
    }
    $var(us) = $Ts * 1000000 + $Tsm - $var(t0);
    xlog("L_NOTICE", "raised $var(i) events in $var(us) us\n");
}
''' % path_line, start_timeout=120)
        data = read(os.path.join(e.dir, "perf.log"))
        self.assertEqual(data.count(b"\n"), 1000000)
        self.assertEqual(data[:31], b"E_PERF,alice@example.com,12345\n")
        self.assertEqual(len(data), 31 * 1000000)
        us = int(e.log().split("raised 1000000 events in ")[1].split(" us")[0])
        print("\n  startup_route loop: 1,000,000 events with two params to flatstore in "
              "%.2f s = %d events/s" % (us / 1e6, 1e12 / us))


class ScriptConfigErrorTest(unittest.TestCase):
    """`evid -c -f` prints file:line:col: error: … and exits non-zero."""

    def check(self, text):
        rc, err, path = check_config(head() + text)
        return rc, err.replace(path, "CFG")

    def assertConfigError(self, text, expected):
        rc, err = self.check(text)
        self.assertNotEqual(rc, 0, err)
        self.assertIn(expected, err)

    def test_a_good_script_checks_ok(self):
        rc, err = self.check(MODULES + 'event_route[E_X] { xlog("$param(1)"); }\n'
                             'startup_route { raise_event("E_X"); }\n')
        self.assertEqual(rc, 0, err)

    def test_a_missing_semicolon(self):
        self.assertConfigError('startup_route {\n    xlog("a")\n}\n',
                               "CFG:5:1: error: expected ';' after the call to xlog(…), found '}'")

    def test_an_unknown_directive(self):
        self.assertConfigError('\nfork = no\nlisten udp:1.2.3.4:5060\n',
                               "CFG:5:1: error: unknown directive 'listen'")

    def test_event_route_without_the_module(self):
        self.assertConfigError('\nevent_route[E_PIKE_BLOCKED] { exit; }\n',
                               'CFG:4:1: error: event_route[E_PIKE_BLOCKED] needs the event_route '
                               'module: add loadmodule "event_route.so"')

    def test_an_unknown_function(self):
        self.assertConfigError('startup_route {\n  t_relay();\n}\n',
                               "CFG:4:3: error: unknown function 't_relay'")

    def test_param_outside_event_route(self):
        self.assertConfigError('timer_route[t, 5] {\n  xlog("$param(ip)");\n}\n',
                               "CFG:4:9: error: $param(ip) is only available in event_route")

    def test_a_second_event_route_for_one_event(self):
        self.assertConfigError(MODULES + 'event_route[E] { exit; }\nevent_route[E] { exit; }\n',
                               "CFG:7:13: error: event_route[E] is already defined at CFG:6:1")


if __name__ == "__main__":
    unittest.main()
