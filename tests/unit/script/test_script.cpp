// The script interpreter, run against a real event core: every statement, pseudo-variable
// and function, observed through the events it raises to a recording transport.
#include "script_host.hpp"

using script_test::Host;
using namespace std::chrono_literals;

// ---- values and operators ---------------------------------------------------------------------

TEST_CASE("arithmetic follows the usual precedence and parentheses") {
    Host h;
    CHECK(h.run(R"($avp(v) = 1 + 2 * 3 - 8 / 4 % 3; $avp(v) = (1 + 2) * 3; $avp(v) = -$avp(v) + 1;
                   raise_event("E_OUT", , $avp(v));)") == "E_OUT(-8,9,5)");
}

TEST_CASE("string + concatenates and numbers print in decimal") {
    Host h;
    CHECK(h.run(R"($var(s) = "a" + 1 + "-" + 22; $avp(v) = $var(s); $avp(v) = 2 + "x";
                   raise_event("E_OUT", , $avp(v));)") == R"(E_OUT("2x","a1-22"))");
}

TEST_CASE("a numeric string takes part in arithmetic as a number") {
    Host h;
    CHECK(
        h.run(R"($var(s) = "40"; $avp(v) = $var(s) - 2 * -1; raise_event("E_OUT", , $avp(v));)") ==
        "E_OUT(42)");
}

TEST_CASE("string escapes give the bytes they name, \\xHH included") {
    Host h;
    CHECK(h.run(R"($avp(v) = "q\"b\\n\n\t\r|\xc3\xa9|\x41"; raise_event("E_OUT", , $avp(v));)") ==
          "E_OUT(\"q\"b\\n\n\t\r|\xc3\xa9|A\")");
}

TEST_CASE("comparisons compare numbers as numbers and strings byte-wise") {
    Host h;
    CHECK(h.run(R"(
        $avp(v) = (10 > 9) + (2 <= 2) * 10 + ("10" == 10) * 100 + ("b" > "a") * 1000;
        $avp(v) = ("abc" != "abc") + (1 >= 2) * 10 + ("a" < "b") * 100;
        raise_event("E_OUT", , $avp(v));)") == "E_OUT(100,1111)");
}

TEST_CASE("regex matching is extended, case-insensitive and unanchored") {
    Host h;
    CHECK(h.run(R"(
        $var(ip) = "10.0.0.7";
        if ($var(ip) =~ "^10\.0\.") $avp(v) = "private";
        if ("HELLO world" =~ "hello") $avp(v) = "icase";
        if ($var(ip) !~ "^192") $avp(v) = "not192";
        if ($var(ip) =~ "^11") $avp(v) = "wrong";
        raise_event("E_OUT", , $avp(v));)") == R"(E_OUT("not192","icase","private"))");
}

TEST_CASE("a regex held in a variable is compiled when it is used") {
    Host h;
    CHECK(h.run(R"($var(re) = "^a+b$"; if ("aaab" =~ $var(re)) $avp(v) = 1;
                   raise_event("E_OUT", , $avp(v));)") == "E_OUT(1)");
}

TEST_CASE("&& || and ! combine conditions, and ! negates a whole comparison") {
    Host h;
    CHECK(h.run(R"(
        $var(a) = 1;
        if ($var(a) == 1 && !$var(a) == 2) $avp(v) = "and";
        if ($var(a) == 2 || $var(a) == 1) $avp(v) = "or";
        if (!($var(a) == 1)) $avp(v) = "wrong";
        raise_event("E_OUT", , $avp(v));)") == R"(E_OUT("or","and"))");
}

TEST_CASE("NULL equals only NULL and an unset variable is NULL") {
    Host h;
    CHECK(h.run(R"(
        if ($var(unset) == NULL) $avp(v) = "unset";
        $var(x) = 0;
        if ($var(x) != NULL) $avp(v) = "zero is a value";
        $var(x) = NULL;
        if ($var(x) == NULL) $avp(v) = "reset";
        raise_event("E_OUT", , $avp(v));)") == R"(E_OUT("reset","zero is a value","unset"))");
}

TEST_CASE("NULL counts as 0 in arithmetic and as nothing in concatenation") {
    Host h;
    CHECK(h.run(R"($avp(v) = $var(none) + 5; $avp(v) = "a" + $var(none) + "b";
                   raise_event("E_OUT", , $avp(v));)") == R"(E_OUT("ab",5))");
}

TEST_CASE("a string literal outside function arguments is not expanded") {
    Host h;
    CHECK(h.run(R"~($var(x) = 1; $avp(v) = "cost $var(x)"; raise_event("E_OUT", , $avp(v));)~") ==
          R"~(E_OUT("cost $var(x)"))~");
}

TEST_CASE("single-quoted strings keep backslashes and dollars as written") {
    Host h;
    CHECK(h.run(R"~($avp(v) = 'a\n$var(x)'; raise_event("E_OUT", , $avp(v));)~") ==
          R"~(E_OUT("a\n$var(x)"))~");
}

// ---- statements -------------------------------------------------------------------------------

TEST_CASE("if / else if / else pick one branch") {
    Host h;
    CHECK(h.run(R"(
        $var(i) = 0;
        while ($var(i) < 3) {
            if ($var(i) == 0) { $avp(v) = "zero"; }
            else if ($var(i) == 1) { $avp(v) = "one"; }
            else { $avp(v) = "many"; }
            $var(i) = $var(i) + 1;
        }
        raise_event("E_OUT", , $avp(v));)") == R"(E_OUT("many","one","zero"))");
}

TEST_CASE("an else-if chain of 5,000 arms is one level deep: it compiles and picks the right arm") {
    Host h;
    std::string src =
        "$var(i) = 0;\nwhile ($var(i) < 3) {\n  if ($var(i) == 100000) $avp(v) = -1;\n";
    for (int k = 1; k <= 5000; ++k)
        src += "  else if ($var(i) + 4998 == " + std::to_string(k) +
               ") $avp(v) = " + std::to_string(k) + ";\n";
    src += "  else $avp(v) = \"none\";\n  $var(i) = $var(i) + 1;\n}\n"
           "raise_event(\"E_OUT\", , $avp(v));";
    // i = 0, 1, 2: arms 4998, 4999, 5000 (the newest AVP value comes first).
    CHECK(h.run(src) == "E_OUT(5000,4999,4998)");
}

TEST_CASE("else followed by a braced if still nests, and works the same") {
    Host h;
    CHECK(h.run(R"(
        $var(i) = 2;
        if ($var(i) == 0) $avp(v) = "zero";
        else { if ($var(i) == 1) $avp(v) = "one"; else if ($var(i) == 2) $avp(v) = "two"; }
        raise_event("E_OUT", , $avp(v));)") == R"(E_OUT("two"))");
}

TEST_CASE("while loops until its condition is false") {
    Host h;
    CHECK(h.run(R"($var(i) = 0; while ($var(i) < 1000) $var(i) = $var(i) + 1;
                   $avp(v) = $var(i); raise_event("E_OUT", , $avp(v));)") == "E_OUT(1000)");
}

TEST_CASE("a while loop over max_while_loops stops the route with an error naming file:line") {
    Host h(50);
    CHECK(h.run(R"(raise_event("E_OUT");
        while (1) { $var(i) = $var(i) + 1; }
        raise_event("E_OUT");)") == "E_OUT()");
    CHECK(h.logs("runtime error") ==
          "ERROR script: runtime error in startup_route at t.cfg:3:9: while loop stopped after "
          "max_while_loops (50) iterations; raise max_while_loops if this is meant");
}

TEST_CASE("return(n) leaves route() with n, seen by if and by $rc") {
    Host h;
    CHECK(h.run(R"(startup_route {
        subscribe_event("E_OUT", "rec:x");
        if (route(check)) $avp(v) = "true";
        $avp(v) = $rc;
        route(neg);
        if (!route(neg)) $avp(v) = "false";
        $avp(v) = $rc;
        raise_event("E_OUT", , $avp(v));
    }
    route[check] { return(7); $avp(v) = "not reached"; }
    route[neg] { return(-1); })") == R"(E_OUT(-1,"false",7,"true"))");
}

TEST_CASE("a route without return gives 1 and shares $var and $avp with its caller") {
    Host h;
    CHECK(h.run(R"(startup_route {
        subscribe_event("E_OUT", "rec:x");
        $var(x) = 5;
        route(add);
        $avp(v) = $rc;
        $avp(v) = $var(x);
        raise_event("E_OUT", , $avp(v));
    }
    route[add] { $var(x) = $var(x) + 1; })") == "E_OUT(6,1)");
}

TEST_CASE("exit stops the whole run, also from inside route()") {
    Host h;
    CHECK(h.run(R"(startup_route {
        subscribe_event("E_OUT", "rec:x");
        raise_event("E_OUT");
        if (route(stop)) { raise_event("E_OUT"); }
        raise_event("E_OUT");
    }
    route[stop] { exit; })") == "E_OUT()");
}

TEST_CASE("return in the top-level route ends it") {
    Host h;
    CHECK(h.run(R"(raise_event("E_OUT"); return; raise_event("E_OUT");)") == "E_OUT()");
}

TEST_CASE("endless route() recursion is stopped with a runtime error") {
    Host h;
    h.run(R"(startup_route { route(r); } route[r] { route(r); })");
    CHECK(h.logs("runtime error") ==
          "ERROR script: runtime error in route[r] at t.cfg:1:40: route(r) nests deeper than "
          "100 calls (endless recursion?)");
}

TEST_CASE("a runtime error logs the route and location, and the next run works") {
    Host h;
    CHECK(h.compile(R"(startup_route { subscribe_event("E_OUT", "rec:x"); }
        timer_route[t, 1] { $var(z) = 0; raise_event("E_OUT"); $var(x) = 1 / $var(z); raise_event("E_OUT"); })") ==
          "");
    h.app.runtime->start();
    h.app.script->start();
    CHECK(h.wait_events(2, 3s));
    CHECK(h.events() == "E_OUT()\nE_OUT()");
    CHECK(h.logs("division")
              .find("ERROR script: runtime error in timer_route[t] at "
                    "t.cfg:2:76: division by zero") == 0);
}

// ---- pseudo-variables -------------------------------------------------------------------------

TEST_CASE("$avp is a stack: = pushes, := replaces all, = NULL pops the newest, := NULL clears") {
    Host h;
    CHECK(h.run(R"(
        $avp(a) = 1; $avp(a) = 2; $avp(a) = 3;
        raise_event("E_OUT", , $avp(a));
        $avp(a) = NULL;
        raise_event("E_OUT", , $avp(a));
        $avp(a) := 9;
        raise_event("E_OUT", , $avp(a));
        $avp(a) = 10;
        $avp(a) := NULL;
        raise_event("E_OUT", , $avp(a));
        if ($avp(a) == NULL) raise_event("E_OUT");)") ==
          "E_OUT(3,2,1)\nE_OUT(2,1)\nE_OUT(9)\nE_OUT()\nE_OUT()");
}

TEST_CASE("$avp(name) reads the newest value") {
    Host h;
    CHECK(h.run(R"($avp(a) = "old"; $avp(a) = "new"; $avp(v) = $avp(a);
                   raise_event("E_OUT", , $avp(v));)") == R"(E_OUT("new"))");
}

TEST_CASE("$(avp(name)[N]) reads one value: 0 the newest, -1 the oldest, NULL out of range") {
    Host h;
    CHECK(h.run(R"~($avp(a) = "x"; $avp(a) = "y"; $avp(a) = "z";
        $avp(v) = $(avp(a)[2]); $avp(v) = $(avp(a)[0]); $avp(v) = $(avp(a)[-1]);
        if ($(avp(a)[3]) == NULL && $(avp(a)[-4]) == NULL) $avp(v) = "nulls";
        raise_event("E_OUT", , $avp(v));)~") == R"(E_OUT("nulls","x","z","x"))");
}

TEST_CASE("$var starts empty in every run") {
    Host h;
    CHECK(h.compile(R"(startup_route { subscribe_event("E_OUT", "rec:x"); }
        timer_route[t, 1] { if ($var(n) == NULL) raise_event("E_OUT"); $var(n) = 1; })") == "");
    h.app.runtime->start();
    h.app.script->start();
    CHECK(h.wait_events(2, 4s));
    CHECK(h.events() == "E_OUT()\nE_OUT()");
}

TEST_CASE("$Ts is the unix time and $pid the process id") {
    Host h;
    const auto before = std::time(nullptr);
    h.run(R"($avp(v) = $pid; $avp(v) = $Ts; raise_event("E_OUT", , $avp(v));)");
    const auto after = std::time(nullptr);
    auto ev = h.events();
    auto comma = ev.find(',');
    long long ts = std::stoll(ev.substr(6, comma - 6));
    CHECK(ts >= before);
    CHECK(ts <= after);
    CHECK(ev.substr(comma + 1) == std::to_string(getpid()) + ")");
}

// ---- functions --------------------------------------------------------------------------------

TEST_CASE("xlog logs at L_ERR by default and expands pseudo-variables") {
    Host h;
    h.run(R"~($var(n) = 3; $avp(x) = "y"; xlog("n=$var(n) x=$avp(x) none=$var(none) $ 5\n");
             xlog("L_INFO", "info $var(n)");)~");
    CHECK(h.logs("xlog:") == "ERROR xlog: n=3 x=y none=<null> $ 5\n\nINFO xlog: info 3");
}

TEST_CASE("xlog below the log level does nothing") {
    Host h;
    evi::log::set_level(evi::log::Notice);
    h.run(R"(xlog("L_DBG", "hidden"); xlog("L_NOTICE", "shown");)");
    CHECK(h.logs("xlog:") == "NOTICE xlog: shown");
}

TEST_CASE("raise_event without AVPs raises an event without params") {
    Host h;
    CHECK(h.run(R"(raise_event("E_OUT");)") == "E_OUT()");
}

TEST_CASE("raise_event pairs names and values from the most recently pushed down") {
    Host h;
    CHECK(h.run(R"(
        $avp(n) = "b"; $avp(n) = "a";
        $avp(v) = 2;   $avp(v) = "x";
        raise_event("E_OUT", $avp(n), $avp(v));)") == R"(E_OUT(a="x",b=2))");
}

TEST_CASE("raise_event with an empty middle argument raises unnamed values") {
    Host h;
    CHECK(h.run(R"($avp(v) = 1; $avp(v) = "two"; raise_event("E_OUT", , $avp(v));)") ==
          R"(E_OUT("two",1))");
}

TEST_CASE("raise_event with two arguments takes the second as the values") {
    Host h;
    CHECK(h.run(R"($avp(v) = 1; $avp(v) = 2; raise_event("E_OUT", $avp(v));)") == "E_OUT(2,1)");
}

TEST_CASE("raise_event with more values than names does not raise and logs why") {
    Host h;
    CHECK(h.run(R"($avp(n) = "a"; $avp(v) = 1; $avp(v) = 2;
        if (!raise_event("E_OUT", $avp(n), $avp(v))) raise_event("E_OUT");)") == "E_OUT()");
    CHECK(h.logs("raise_event") ==
          "ERROR script: startup_route at t.cfg:3:14: raise_event: $avp(v) has 2 values but "
          "$avp(n) only 1 names; event not raised");
}

TEST_CASE("raise_event with more names than values raises the values and warns") {
    Host h;
    CHECK(h.run(R"($avp(n) = "b"; $avp(n) = "a"; $avp(v) = 1;
        raise_event("E_OUT", $avp(n), $avp(v));)") == "E_OUT(a=1)");
    CHECK(h.logs("more names")
              .find("WARNING script: startup_route at t.cfg:3:9: "
                    "raise_event: $avp(n) has more names") == 0);
}

TEST_CASE("raise_event with empty AVPs raises an event without params") {
    Host h;
    CHECK(
        h.run(
            R"(raise_event("E_OUT", $avp(none), $avp(nothing)); raise_event("E_OUT", , $avp(x));)") ==
        "E_OUT()\nE_OUT()");
}

TEST_CASE("raise_event refuses a number as an attribute name") {
    Host h;
    CHECK(h.run(R"($avp(n) = 5; $avp(v) = 1; raise_event("E_OUT", $avp(n), $avp(v));)") == "");
    CHECK(h.logs("attribute names must be strings") != "");
}

TEST_CASE("raise_event expands pseudo-variables in the event name") {
    Host h;
    CHECK(
        h.run(
            R"~(subscribe_event("E_DYN_7", "rec:x"); $var(n) = 7; raise_event("E_DYN_$var(n)");)~") ==
        "E_DYN_7()");
}

TEST_CASE("raise_event publishes literal event names at compile time") {
    Host h;
    CHECK(h.compile(R"(timer_route[t, 100] { raise_event("E_LATER"); })") == "");
    CHECK(h.app.events->find("E_LATER").has_value());
}

TEST_CASE("subscribe_event builds its socket from expanded strings") {
    Host h;
    CHECK(h.run(R"(startup_route { $var(p) = "rec"; subscribe_event("E_S", "$var(p):any");
                   raise_event("E_S"); })") == "E_S()");
}

TEST_CASE("subscribe_event without expire never expires, with expire it does") {
    Host h;
    h.run(
        R"(startup_route { subscribe_event("E_A", "rec:x"); subscribe_event("E_B", "rec:x", 30); })");
    auto a = h.app.events->subscribers(std::string_view("E_A"));
    auto b = h.app.events->subscribers(std::string_view("E_B"));
    REQUIRE(a.size() == 1);
    REQUIRE(b.size() == 1);
    CHECK(a[0].expire_at == 0);
    CHECK(b[0].ttl > 25);
    CHECK(b[0].ttl <= 30);
}

TEST_CASE("subscribe_event to an unknown transport returns false and logs the reason") {
    Host h;
    CHECK(
        h.run(
            R"($var(p) = "nope"; if (!subscribe_event("E_OUT", "$var(p):x")) raise_event("E_OUT");)") ==
        "E_OUT()");
    CHECK(h.logs("subscribe_event(\"E_OUT\", \"nope:x\")") != "");
}

// ---- event_route ------------------------------------------------------------------------------

TEST_CASE("event_route sees the event's params as $param(name) and $param(N)") {
    Host h;
    CHECK(h.compile(R"(startup_route { subscribe_event("E_OUT", "rec:x"); }
        event_route[E_IN, sync] {
            $avp(v) = $param(ip); $avp(v) = $param(2);
            if ($param(3) == NULL && $param(nope) == NULL) $avp(v) = "nulls";
            raise_event("E_OUT", , $avp(v));
        })") == "");
    h.app.script->start();
    evi_param_t p[2]{};
    p[0].name = {"ip", 2};
    p[0].type = EVI_VAL_STR;
    p[0].s = {"10.0.0.1", 8};
    p[1].name = {"n", 1};
    p[1].type = EVI_VAL_INT;
    p[1].i = 3;
    REQUIRE(h.app.events->raise("E_IN", p, 2));
    CHECK(h.events() == R"(E_OUT("nulls",3,"10.0.0.1"))");
}

TEST_CASE("fetch_event_params stores params by name and by position") {
    Host h;
    CHECK(h.compile(R"~(startup_route { subscribe_event("E_OUT", "rec:x"); }
        event_route[E_IN, sync] {
            fetch_event_params("$var(first); n=$avp(v); ip = $avp(v)");
            $avp(v) = $var(first);
            raise_event("E_OUT", , $avp(v));
        })~") == "");
    h.app.script->start();
    evi_param_t p[2]{};
    p[0].name = {"ip", 2};
    p[0].type = EVI_VAL_STR;
    p[0].s = {"10.0.0.1", 8};
    p[1].name = {"n", 1};
    p[1].type = EVI_VAL_INT;
    p[1].i = 3;
    REQUIRE(h.app.events->raise("E_IN", p, 2));
    CHECK(h.events() == R"(E_OUT("10.0.0.1","10.0.0.1",3))");
}

TEST_CASE("a sync event_route runs on the raiser's thread before raise_event returns") {
    Host h;
    CHECK(h.run(R"(startup_route { subscribe_event("E_OUT", "rec:x");
            $avp(v) = "hi"; raise_event("E_IN", , $avp(v)); raise_event("E_OUT"); }
        event_route[E_IN, sync] { $avp(v) = "in:" + $param(1); raise_event("E_OUT", , $avp(v)); })") ==
          "E_OUT(\"in:hi\")\nE_OUT()");
    auto &r = script_test::rec();
    CHECK(r.threads[0] == std::this_thread::get_id());
}

TEST_CASE("an async event_route runs on a delivery worker, not on the raiser's thread") {
    Host h;
    h.run(R"(startup_route { subscribe_event("E_OUT", "rec:x"); raise_event("E_IN"); }
        event_route[E_IN] { raise_event("E_OUT"); })");
    REQUIRE(h.wait_events(1));
    CHECK(h.events() == "E_OUT()");
    auto &r = script_test::rec();
    CHECK(r.threads[0] != std::this_thread::get_id());
}

TEST_CASE("event_route blocks are subscribed as route:E_X and never expire") {
    Host h;
    CHECK(h.compile("event_route[E_X] { exit; }\nevent_route[E_Y, sync] { exit; }") == "");
    auto x = h.app.events->subscribers(std::string_view("E_X"));
    REQUIRE(x.size() == 1);
    CHECK(x[0].socket == "route:E_X");
    CHECK(x[0].expire_at == 0);
    bool sync = false;
    CHECK(h.app.script->find_event_route("E_Y", sync) != nullptr);
    CHECK(sync);
    CHECK(h.app.script->find_event_route("E_Z", sync) == nullptr);
}

TEST_CASE("sync event_routes raising their own event stop at the nesting limit") {
    Host h;
    h.run(R"(startup_route { subscribe_event("E_OUT", "rec:x"); raise_event("E_LOOP"); }
        event_route[E_LOOP, sync] { raise_event("E_OUT"); raise_event("E_LOOP"); })");
    // startup_route is the first of the 100 nested runs.
    CHECK(h.count() == 99);
    CHECK(h.logs("not run").find("ERROR script: event_route[E_LOOP] not run: 100 routes are "
                                 "already nested on this thread") == 0);
}

TEST_CASE("timer_route runs every interval once the runtime runs") {
    Host h;
    CHECK(h.compile(R"(startup_route { subscribe_event("E_OUT", "rec:x"); }
        timer_route[beat, 1] { raise_event("E_OUT"); })") == "");
    h.app.runtime->start();
    h.app.script->start();
    CHECK(h.wait_events(2, 4s));
}

TEST_CASE("$Tsm is the microseconds part of the current time") {
    Host h;
    CHECK(h.run(R"(if ($Tsm >= 0 && $Tsm < 1000000) raise_event("E_OUT");)") == "E_OUT()");
}

TEST_CASE("a chain of 256 operators compiles and runs") {
    Host h;
    std::string sum = "1";
    for (int i = 1; i < 257; ++i)
        sum += " + 1";
    CHECK(h.run("$avp(v) = " + sum + "; raise_event(\"E_OUT\", $avp(v));") == "E_OUT(257)");
}

TEST_CASE("a runtime error quoting a value built at run time shows its control bytes escaped") {
    Host h;
    h.run(R"cfg($var(n) = "E_\x1b[2J"; raise_event("E_$var(n)"); $var(s) = "rec\x07";
             subscribe_event("E_OUT", "$var(s)"); $var(x) = 1 * "\x1b";)cfg");
    const std::string logs = h.logs("script:");
    CHECK(logs.find('\x1b') == std::string::npos);
    CHECK(logs.find('\x07') == std::string::npos);
    CHECK(logs.find("raise_event: bad event name 'E_E_\\x1b[2J'") != std::string::npos);
    CHECK(logs.find("bad socket 'rec\\x07'") != std::string::npos);
    CHECK(logs.find("\"\\x1b\" is not a number") != std::string::npos);
}
