// Script compile-time checks: what `evid -c` reports, as "file:line:col: error: …".
#include "script_host.hpp"

using script_test::Host;

TEST_CASE("an unknown function is an error listing the known ones") {
    Host h;
    CHECK(h.compile("startup_route {\n  sl_send_reply(404);\n}") ==
          "t.cfg:2:3: error: unknown function 'sl_send_reply' (known: xlog, raise_event, "
          "subscribe_event, fetch_event_params, route)");
}

TEST_CASE("a wrong number of arguments is an error with the signature") {
    Host h;
    CHECK(h.compile("startup_route { xlog(\"L_ERR\", \"a\", \"b\"); }") ==
          "t.cfg:1:17: error: xlog takes 1 to 2 arguments ([level,] format), got 3");
    CHECK(h.compile("startup_route { raise_event(); }") ==
          "t.cfg:1:17: error: raise_event takes 1 to 3 arguments (name [, attrs_avp] [, "
          "vals_avp]), got 0");
    CHECK(h.compile("startup_route { subscribe_event(\"E\"); }") ==
          "t.cfg:1:17: error: subscribe_event takes 2 to 3 arguments (event, socket [, expire]), "
          "got 1");
}

TEST_CASE("raise_event needs AVPs for names and values") {
    Host h;
    CHECK(h.compile("startup_route { raise_event(\"E\", $var(n), $avp(v)); }") ==
          "t.cfg:1:34: error: argument 2 of raise_event must be an $avp(…) holding the attribute "
          "names");
    CHECK(h.compile("startup_route { raise_event(\"E\", \"x\"); }") ==
          "t.cfg:1:34: error: argument 2 of raise_event must be an $avp(…) holding the values");
    CHECK(h.compile("startup_route { raise_event(\"E\", $avp(n), ); }") ==
          "t.cfg:1:43: error: argument 3 of raise_event is empty");
    CHECK(h.compile("startup_route { raise_event(\"E\", ); }") ==
          "t.cfg:1:34: error: argument 2 of raise_event is empty");
    CHECK(h.compile("startup_route { raise_event(5); }") ==
          "t.cfg:1:29: error: the event name of raise_event must be a string");
}

TEST_CASE("null as an event name is a config error, not a crash (fuzz_config)") {
    Host h;
    CHECK(h.compile("startup_route { subscribe_event(null, \"nocolon\"); }") ==
          "t.cfg:1:33: error: the event name of subscribe_event must be a string");
    CHECK(h.compile("startup_route { raise_event(null); }") ==
          "t.cfg:1:29: error: the event name of raise_event must be a string");
}

TEST_CASE("a bad literal event name is a config error") {
    Host h;
    CHECK(h.compile("startup_route { raise_event(\"E X\"); }") ==
          "t.cfg:1:29: error: bad event name 'E X': it has a space at position 2; expected 1 to "
          "64 characters of letters, digits, '_', '.', ':', '-'");
}

TEST_CASE("an event name over 64 characters is a config error that gives its length") {
    Host h;
    CHECK(h.compile("startup_route { raise_event(\"" + std::string(300, 'E') + "\"); }") ==
          "t.cfg:1:29: error: bad event name 'EEEEEEEEEEEEEEEE...': it is 300 characters long; "
          "expected 1 to 64 characters of letters, digits, '_', '.', ':', '-'");
}

TEST_CASE("a control byte in an event name is shown escaped, never raw") {
    Host h;
    CHECK(h.compile("startup_route { subscribe_event(\"E\\x1b[2J\", \"rec:x\"); }") ==
          "t.cfg:1:33: error: bad event name 'E\\x1b[2J': it has '\\x1b' at position 2; "
          "expected 1 to 64 characters of letters, digits, '_', '.', ':', '-'");
}

TEST_CASE("a bad socket or regex echoes its text with control bytes escaped") {
    Host h;
    CHECK(h.compile(std::string("startup_route { subscribe_event(\"E\", \"no\x1b\x07") +
                    std::string(1, '\0') + "colon\"); }") ==
          "t.cfg:1:38: error: bad socket \"no\\x1b\\x07\\x00colon\": expected proto:address, as "
          "in \"udp:127.0.0.1:8888\"");
    CHECK(h.compile("startup_route { if (\"a\" =~ \"(\\xff\") { exit; } }") ==
          "t.cfg:1:28: error: bad regular expression \"(\\xff\": Mismatched '(' and ')' in "
          "regular expression");
}

TEST_CASE("xlog levels are checked") {
    Host h;
    CHECK(h.compile("startup_route { xlog(\"L_LOUD\", \"x\"); }") ==
          "t.cfg:1:22: error: the xlog level must be one of \"L_ALERT\", \"L_CRIT\", \"L_ERR\", "
          "\"L_WARN\", \"L_NOTICE\", \"L_INFO\", \"L_DBG\"");
}

TEST_CASE("subscribe_event expire must be a number of seconds") {
    Host h;
    CHECK(h.compile("startup_route { subscribe_event(\"E\", \"rec:x\", \"soon\"); }") ==
          "t.cfg:1:47: error: the expire of subscribe_event must be a number of seconds (0 or "
          "more; 0 never expires)");
}

TEST_CASE("an unknown route name is an error listing the defined routes") {
    Host h;
    CHECK(h.compile("route[a] { }\nroute[b] { }\nstartup_route {\n  route(c);\n}") ==
          "t.cfg:4:9: error: unknown route 'c' (defined: a, b)");
}

TEST_CASE("$param and fetch_event_params are refused outside event_route") {
    Host h;
    CHECK(h.compile("startup_route {\n  xlog(\"$param(ip)\");\n}") ==
          "t.cfg:2:9: error: $param(ip) is only available in event_route (and routes called "
          "from it), not in startup_route");
    CHECK(h.compile("timer_route[t, 5] { fetch_event_params(\"$var(x)\"); }") ==
          "t.cfg:1:21: error: fetch_event_params is only available in event_route (and routes "
          "called from it), not in timer_route[t]");
}

TEST_CASE("$param in a route called from a timer_route is refused, from an event_route allowed") {
    Host h;
    CHECK(h.compile("route[r] { $var(x) = $param(1); }\nevent_route[E] { route(r); }") == "");
    Host h2;
    CHECK(h2.compile("route[r] { $var(x) = $param(1); }\ntimer_route[t, 5] { route(r); }") ==
          "t.cfg:1:22: error: $param(1) is only available in event_route (and routes called "
          "from it), but route[r] is called from timer_route[t] at t.cfg:2:21");
}

TEST_CASE("a bad regular expression is a config error at the pattern") {
    Host h;
    CHECK(h.compile("startup_route { if (\"a\" =~ \"(\") exit; }")
              .rfind("t.cfg:1:28: error: bad regular expression \"(\": ", 0) == 0);
}

TEST_CASE("only $var and $avp can be assigned") {
    Host h;
    CHECK(h.compile("event_route[E] { $param(x) = 1; }") ==
          "t.cfg:1:18: error: $param(x) is read-only: only $var(…) and $avp(…) can be assigned");
}

TEST_CASE("fetch_event_params items are checked") {
    Host h;
    CHECK(h.compile("event_route[E] { fetch_event_params(\"a=$avp(x);;\"); }") ==
          "t.cfg:1:48: error: empty item in the fetch_event_params list (expected "
          "[name=]$avp(…) or $var(…))");
    CHECK(h.compile("event_route[E] { fetch_event_params(\"a=b\"); }") ==
          "t.cfg:1:38: error: expected $avp(…) or $var(…) in the fetch_event_params item \"a=b\"");
    CHECK(h.compile("event_route[E] { fetch_event_params(\"$Ts\"); }") ==
          "t.cfg:1:38: error: $Ts is read-only: only $var(…) and $avp(…) can be assigned");
}

TEST_CASE("an unknown pseudo-variable in a function argument is a config error") {
    Host h;
    CHECK(h.compile("startup_route { xlog(\"x $foo y\"); }")
              .rfind("t.cfg:1:25: error: unknown pseudo-variable $foo", 0) == 0);
}

TEST_CASE("event_route without the event_route module says to load it") {
    Host h(10000, false);
    CHECK(h.compile("\nevent_route[E_PIKE] { exit; }") ==
          "t.cfg:2:1: error: event_route[E_PIKE] needs the event_route module: add loadmodule "
          "\"event_route.so\"");
}

TEST_CASE("return takes a number") {
    Host h;
    CHECK(h.compile("route[r] { return(\"x\"); }") ==
          "t.cfg:1:19: error: return takes a number, as in return(1) or return(-1)");
}

TEST_CASE("a literal subscribe_event socket must name a loaded transport") {
    Host h;
    CHECK(h.compile("startup_route { subscribe_event(\"E\", \"udp:127.0.0.1:9\"); }") ==
          "t.cfg:1:38: error: no loaded module provides the transport 'udp' of "
          "\"udp:127.0.0.1:9\" (loaded: rec, route)");
    CHECK(h.compile("startup_route { subscribe_event(\"E\", \"nocolon\"); }") ==
          "t.cfg:1:38: error: bad socket \"nocolon\": expected proto:address, as in "
          "\"udp:127.0.0.1:8888\"");
    CHECK(h.compile("startup_route { subscribe_event(\"E\", 5); }") ==
          "t.cfg:1:38: error: the socket of subscribe_event must be a string such as "
          "\"udp:127.0.0.1:8888\"");
}

TEST_CASE("an indexed AVP can be read but not assigned or raised") {
    Host h;
    CHECK(h.compile("startup_route { $(avp(a)[0]) = 1; }") ==
          "t.cfg:1:17: error: $(avp(a)[0]) can only be read: assign $avp(a) (= pushes, := "
          "replaces)");
    CHECK(h.compile("startup_route { raise_event(\"E\", $(avp(a)[0])); }") ==
          "t.cfg:1:34: error: argument 2 of raise_event must be an $avp(…) holding the values");
}
