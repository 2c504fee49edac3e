// JSON-RPC 2.0 as the MI speaks it: request validation, param mapping, reply bytes.
#include "globals.hpp"
#include "mi/jsonrpc.hpp"
#include "mi/observe.hpp"
#include "mi/server.hpp"

#include <doctest/doctest.h>

using namespace evi;
using namespace evi::mi;

namespace {

// A registry with a few plain commands: echo returns the named params it got.
void fill(CommandRegistry &r) {
    r.add({"echo",
           {"e:echo"},
           "Return the params.",
           {{}, {"a"}, {"a", "b"}},
           [](const Params &p) -> Outcome { return p; }});
    r.add({"nothing", {}, "Return nothing.", {}, [](const Params &) -> Outcome { return json(); }});
    r.add({"missing", {}, "Fail with 404.", {{}}, [](const Params &) -> Outcome {
               return Failure{404, "Event not registered", {}};
           }});
    r.add({"throws", {}, "Throw.", {{}}, [](const Params &) -> Outcome {
               throw std::runtime_error("boom");
           }});
    r.add({"raise",
           {},
           "Variadic params.",
           {{"event"}, {"event", "params"}},
           [](const Params &p) -> Outcome { return p; }});
}

std::string call(std::string_view body) {
    static CommandRegistry r;
    static bool filled = (fill(r), true);
    (void)filled;
    return handle_body(r, body);
}

} // namespace

TEST_CASE("a malformed body is answered with -32700 and a null id") {
    CHECK(call("{\"jsonrpc\":\"2.0\",") ==
          R"({"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null})");
}

TEST_CASE("JSON nested deeper than the limit is a parse error, not a crash") {
    std::string deep(100000, '[');
    CHECK(call(deep).find("\"code\":-32700") != std::string::npos);
}

TEST_CASE("a string id is echoed and a command with nothing to return answers OK") {
    CHECK(call(R"({"jsonrpc": "2.0", "id": "12345", "method": "nothing", "params": {}})") ==
          R"({"jsonrpc":"2.0","result":"OK","id":"12345"})");
}

TEST_CASE("a numeric id is echoed as a number") {
    CHECK(call(R"({"jsonrpc":"2.0","id":7,"method":"nothing"})") ==
          R"({"jsonrpc":"2.0","result":"OK","id":7})");
}

TEST_CASE("an unknown method is -32601") {
    CHECK(call(R"({"jsonrpc":"2.0","id":1,"method":"nope"})") ==
          R"({"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1})");
}

TEST_CASE("an alias calls the same command") {
    CHECK(call(R"({"jsonrpc":"2.0","id":1,"method":"e:echo","params":{"a":"x"}})") ==
          R"({"jsonrpc":"2.0","result":{"a":"x"},"id":1})");
}

TEST_CASE("a request without jsonrpc 2.0 is -32600 with its id") {
    CHECK(
        call(R"({"id":3,"method":"nothing"})") ==
        R"({"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"jsonrpc must be \"2.0\""},"id":3})");
}

TEST_CASE("params that are neither object nor array make an invalid request") {
    CHECK(call(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":"a"})").find("-32600") !=
          std::string::npos);
}

TEST_CASE("an id of the wrong type is -32600 with a null id") {
    CHECK(call(R"({"jsonrpc":"2.0","id":{"x":1},"method":"nothing"})").find(R"("code":-32600)") !=
          std::string::npos);
    CHECK(call(R"({"jsonrpc":"2.0","id":{"x":1},"method":"nothing"})").find(R"("id":null)") !=
          std::string::npos);
}

TEST_CASE("positional params are mapped to the names of the set with their count") {
    CHECK(call(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":["x","y"]})") ==
          R"({"jsonrpc":"2.0","result":{"a":"x","b":"y"},"id":1})");
}

TEST_CASE("empty object and empty array both mean no params") {
    CHECK(call(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":{}})") ==
          R"({"jsonrpc":"2.0","result":{},"id":1})");
    CHECK(call(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":[]})") ==
          R"({"jsonrpc":"2.0","result":{},"id":1})");
}

TEST_CASE("named params that match no parameter set are -32602") {
    CHECK(call(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":{"zzz":1}})") ==
          R"({"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params"},"id":1})");
    CHECK(call(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":["1","2","3"]})") ==
          R"({"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params"},"id":1})");
}

TEST_CASE("extra positional values go into a trailing params set as an array") {
    CHECK(call(R"({"jsonrpc":"2.0","id":1,"method":"raise","params":["E_X","a","5"]})") ==
          R"({"jsonrpc":"2.0","result":{"event":"E_X","params":["a","5"]},"id":1})");
    CHECK(call(R"({"jsonrpc":"2.0","id":1,"method":"raise","params":["E_X",["a","b"]]})") ==
          R"({"jsonrpc":"2.0","result":{"event":"E_X","params":["a","b"]},"id":1})");
}

TEST_CASE("a command's failure becomes a JSON-RPC error with its code") {
    CHECK(call(R"({"jsonrpc":"2.0","id":"a","method":"missing"})") ==
          R"({"jsonrpc":"2.0","error":{"code":404,"message":"Event not registered"},"id":"a"})");
}

TEST_CASE("a handler that throws answers -32603 and the server keeps going") {
    CHECK(
        call(R"({"jsonrpc":"2.0","id":1,"method":"throws"})") ==
        R"({"jsonrpc":"2.0","error":{"code":-32603,"message":"Internal error","data":"boom"},"id":1})");
}

TEST_CASE("a batch answers each request in order and leaves notifications out") {
    CHECK(call(R"([{"jsonrpc":"2.0","id":1,"method":"nothing"},)"
               R"({"jsonrpc":"2.0","method":"nothing"},)"
               R"({"jsonrpc":"2.0","id":2,"method":"nope"}, 5])") ==
          R"([{"jsonrpc":"2.0","result":"OK","id":1},)"
          R"({"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":2},)"
          R"({"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}])");
}

TEST_CASE("an empty batch is one invalid request") {
    CHECK(
        call("[]") ==
        R"({"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":"empty batch"},"id":null})");
}

TEST_CASE("notifications alone get no reply at all") {
    CHECK(call(R"({"jsonrpc":"2.0","method":"nothing"})").empty());
    CHECK(call(R"([{"jsonrpc":"2.0","method":"nothing"},{"jsonrpc":"2.0","method":"nope"}])")
              .empty());
}

TEST_CASE("numeric strings are accepted where an integer is expected") {
    int64_t v = 0;
    CHECK(get_int(json::parse(R"({"expire":"60"})"), "expire", v) == Got::Ok);
    CHECK(v == 60);
    CHECK(get_int(json::parse(R"({"expire":"-5"})"), "expire", v) == Got::Ok);
    CHECK(v == -5);
    CHECK(get_int(json::parse(R"({"expire":120})"), "expire", v) == Got::Ok);
    CHECK(v == 120);
    CHECK(get_int(json::parse(R"({"expire":"60s"})"), "expire", v) == Got::Bad);
    CHECK(get_int(json::parse(R"({"expire":1.5})"), "expire", v) == Got::Bad);
    CHECK(get_int(json::parse(R"({"expire":[1]})"), "expire", v) == Got::Bad);
    CHECK(get_int(json::parse(R"({})"), "expire", v) == Got::Missing);
}

TEST_CASE("a number is accepted where a string is expected") {
    std::string s;
    CHECK(get_string(json::parse(R"({"event":12})"), "event", s) == Got::Ok);
    CHECK(s == "12");
    CHECK(get_string(json::parse(R"({"event":{}})"), "event", s) == Got::Bad);
}

TEST_CASE("mi_listen accepts IPv4, bracketed IPv6 and unix sockets") {
    auto v4 = parse_listen_address("127.0.0.1:8888");
    REQUIRE(v4);
    CHECK(v4->host == "127.0.0.1");
    CHECK(v4->port == 8888);
    CHECK(v4->loopback);
    auto v6 = parse_listen_address("[::1]:9000");
    REQUIRE(v6);
    CHECK(v6->host == "::1");
    CHECK(v6->loopback);
    auto ux = parse_listen_address("unix:/run/evi/mi.sock");
    REQUIRE(ux);
    CHECK(ux->unix_socket);
    CHECK(ux->path == "/run/evi/mi.sock");
    CHECK(ux->loopback);
    CHECK_FALSE(parse_listen_address("0.0.0.0:8888")->loopback);
    CHECK_FALSE(parse_listen_address("[::]:8888")->loopback);
    CHECK(parse_listen_address("127.0.0.2:1")->loopback);
}

TEST_CASE("a bad mi_listen entry says what was expected") {
    auto r = parse_listen_address("127.0.0.1");
    REQUIRE_FALSE(r);
    CHECK(r.error().message ==
          "mi_listen \"127.0.0.1\": expected IPv4:port, [IPv6]:port or unix:/path (e.g. "
          "127.0.0.1:8888)");
    CHECK(parse_listen_address("127.0.0.1:70000").error().message ==
          "mi_listen \"127.0.0.1:70000\": expected a port between 1 and 65535");
    CHECK(parse_listen_address("example.org:80").error().message ==
          "mi_listen \"example.org:80\": \"example.org\" is not an IP address");
    CHECK_FALSE(parse_listen_address("unix:relative.sock"));
}

TEST_CASE("a non-loopback mi_listen is refused unless mi_auth_token is set") {
    Globals g;
    g.mi_listen = {"127.0.0.1:8888", "0.0.0.0:8888"};
    auto r = check_listen(g);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "mi_listen \"0.0.0.0:8888\": refusing to serve the management "
                               "interface on a non-loopback address without mi_auth_token");
    g.mi_auth_token = "secret";
    CHECK(check_listen(g));
}

TEST_CASE("Prometheus label values escape backslash, quote and newline") {
    CHECK(prometheus_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
}

TEST_CASE("the status page escapes HTML") {
    CHECK(html_escape("<a href=\"x\">&'") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
}
