// event_route.so's "route" transport (plugins/route/route.c compiled in), wired to a compiled
// script through the core's host table: what parse, print, match and raise do.
#include "script_host.hpp"

#include <cstring>

using script_test::Host;

namespace {
const evi_transport_t &route_transport() {
    return script_test::evi_module_descriptor()->transports[0];
}
evi_str_t str(const char *s) {
    return {s, std::strlen(s)};
}
} // namespace

TEST_CASE("a route: socket of a sync event_route is inline, of an async one blocking") {
    Host h;
    REQUIRE(h.compile("event_route[E_S, sync] { exit; }\nevent_route[E_A] { exit; }") == "");
    const auto &t = route_transport();
    CHECK(std::string(t.proto) == "route");
    void *s = nullptr, *a = nullptr;
    unsigned fs = t.flags, fa = t.flags;
    char err[256] = "";
    REQUIRE(t.parse(str("E_S"), 0, &s, &fs, err, sizeof err) == EVI_OK);
    REQUIRE(t.parse(str("E_A"), 1, &a, &fa, err, sizeof err) == EVI_OK);
    CHECK(fs == 0u);
    CHECK(fa == unsigned(EVI_TF_BLOCKING));
    char buf[32];
    CHECK(t.print(s, buf, sizeof buf) == 3);
    CHECK(std::string(buf) == "E_S");
    CHECK(t.match(s, s) == 1);
    CHECK(t.match(s, a) == 0);
    t.free(s);
    t.free(a);
}

TEST_CASE("a route: socket for an event without an event_route is refused with a sentence") {
    Host h;
    REQUIRE(h.compile("event_route[E_S] { exit; }") == "");
    const auto &t = route_transport();
    void *s = nullptr;
    unsigned f = t.flags;
    char err[256] = "";
    CHECK(t.parse(str("E_NONE"), 1, &s, &f, err, sizeof err) == EVI_ERR);
    CHECK(std::string(err) == "the script has no event_route[E_NONE] block (a route: socket runs "
                              "the event_route of that name)");
    CHECK(t.parse(str(""), 1, &s, &f, err, sizeof err) == EVI_ERR);
    CHECK(std::string(err) == "expected an event name after \"route:\", as in "
                              "route:E_PIKE_BLOCKED");
}

TEST_CASE("raise on a route: socket runs the event_route with the event's params") {
    Host h;
    REQUIRE(h.compile("startup_route { subscribe_event(\"E_OUT\", \"rec:x\"); }\n"
                      "event_route[E_S, sync] { $avp(v) = $param(k); raise_event(\"E_OUT\", , "
                      "$avp(v)); }") == "");
    h.app.script->start();
    const auto &t = route_transport();
    void *s = nullptr;
    unsigned f = t.flags;
    char err[256] = "";
    REQUIRE(t.parse(str("E_S"), 0, &s, &f, err, sizeof err) == EVI_OK);
    evi_param_t p{};
    p.name = str("k");
    p.type = EVI_VAL_STR;
    p.s = str("v1");
    evi_event_t ev{str("E_S"), &p, 1, {nullptr, 0}};
    CHECK(t.raise(s, &ev, 0) == EVI_OK);
    CHECK(h.events() == "E_OUT(\"v1\")");
    t.free(s);
}

TEST_CASE("a sync route that fails at run time reports the failure, an async one does not") {
    Host h;
    REQUIRE(h.compile("event_route[E_S, sync] { $var(x) = 1 / 0; }\n"
                      "event_route[E_A] { $var(x) = 1 / 0; }") == "");
    const auto &t = route_transport();
    void *s = nullptr, *a = nullptr;
    unsigned fs = t.flags, fa = t.flags;
    char err[256] = "";
    REQUIRE(t.parse(str("E_S"), 0, &s, &fs, err, sizeof err) == EVI_OK);
    REQUIRE(t.parse(str("E_A"), 0, &a, &fa, err, sizeof err) == EVI_OK);
    evi_event_t ev{str("E_S"), nullptr, 0, {nullptr, 0}};
    CHECK(t.raise(s, &ev, 0) == EVI_ERR);
    // async: retrying would re-run what the route did before failing
    CHECK(t.raise(a, &ev, 0) == EVI_OK);
    CHECK(h.logs("division by zero") != "");
    t.free(s);
    t.free(a);
}
