// event_stream's bytes: socket address, JSON-RPC payload, and the reply scanner.
#include "stream_wire.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

evi_str_t str(const char *s) {
    return evi_str_t{s, std::char_traits<char>::length(s)};
}

evi_param_t sparam(const char *name, const char *value) {
    evi_param_t p{};
    p.name = str(name);
    p.type = EVI_VAL_STR;
    p.s = str(value);
    return p;
}

evi_param_t iparam(const char *name, int64_t value) {
    evi_param_t p{};
    p.name = str(name);
    p.type = EVI_VAL_INT;
    p.i = value;
    return p;
}

evi_event_t event(const char *name, const std::vector<evi_param_t> &params) {
    evi_event_t ev{};
    ev.name = str(name);
    ev.params = params.data();
    ev.nparams = params.size();
    return ev;
}

stream::Address parsed(const char *text) {
    stream::Address a;
    std::string err;
    bool ok = stream::parse_address(text, a, err);
    INFO(err);
    REQUIRE(ok);
    return a;
}

std::string parse_error(const char *text) {
    stream::Address a;
    std::string err;
    CHECK_FALSE(stream::parse_address(text, a, err));
    return err;
}

stream::Scan scan(const std::string &buf, std::size_t &used, stream::Reply &r) {
    return stream::scan_reply(buf, used, r);
}

} // namespace

TEST_CASE("a tcp address without a method uses the event name") {
    auto a = parsed("127.0.0.1:8080");
    CHECK(a.dest.host == "127.0.0.1");
    CHECK(a.dest.port == 8080);
    CHECK(a.method.empty());
    CHECK(stream::print_address(a) == "127.0.0.1:8080");
}

TEST_CASE("a tcp address may name the method after a slash") {
    auto a = parsed("[::1]:8080/block_ip");
    CHECK(a.dest.host == "::1");
    CHECK(a.method == "block_ip");
    CHECK(stream::print_address(a) == "[::1]:8080/block_ip");
}

TEST_CASE("malformed tcp addresses are refused with a reason") {
    CHECK(parse_error("127.0.0.1").find("HOST:PORT") != std::string::npos);
    CHECK(parse_error("127.0.0.1:").find("port") != std::string::npos);
    CHECK(parse_error("127.0.0.1:99999").find("port") != std::string::npos);
    CHECK(parse_error("127.0.0.1:80/").find("empty") != std::string::npos);
    CHECK(parse_error("127.0.0.1:80x").find("after the port") != std::string::npos);
    CHECK(parse_error("::1:80").find("host") != std::string::npos);
}

TEST_CASE("tcp addresses match on host, port and method") {
    CHECK(stream::same_address(parsed("H:1/m"), parsed("h:1/m")));
    CHECK_FALSE(stream::same_address(parsed("h:1/m"), parsed("h:1")));
    CHECK_FALSE(stream::same_address(parsed("h:1"), parsed("h:2")));
}

TEST_CASE("a notification carries the event name as method and named params as an object") {
    std::vector<evi_param_t> ps{sparam("ip", "192.168.2.11"), iparam("n", -42)};
    CHECK(stream::build_payload("E_PIKE_BLOCKED", event("E_PIKE_BLOCKED", ps), 0, "") ==
          R"({"jsonrpc":"2.0","method":"E_PIKE_BLOCKED","params":{"ip":"192.168.2.11","n":-42}})");
}

TEST_CASE("a request in reliable mode starts with its id") {
    std::vector<evi_param_t> ps{sparam("ip", "1.2.3.4")};
    CHECK(stream::build_payload("E_X", event("E_X", ps), 915243442, "") ==
          R"({"id":915243442,"jsonrpc":"2.0","method":"E_X","params":{"ip":"1.2.3.4"}})");
}

TEST_CASE("an event without params has no params member") {
    CHECK(stream::build_payload("E_X", event("E_X", {}), 0, "") ==
          R"({"jsonrpc":"2.0","method":"E_X"})");
}

TEST_CASE("unnamed params are sent as an array") {
    evi_param_t a = iparam("", 3), b = iparam("", 5);
    a.name = b.name = evi_str_t{nullptr, 0};
    std::vector<evi_param_t> ps{a, b};
    CHECK(stream::build_payload("E_MY_EVENT", event("E_MY_EVENT", ps), 0, "") ==
          R"({"jsonrpc":"2.0","method":"E_MY_EVENT","params":[3,5]})");
}

TEST_CASE("event_param puts the event name first among named params") {
    std::vector<evi_param_t> ps{sparam("ip", "192.168.2.11")};
    CHECK(
        stream::build_payload("handle_cmd", event("E_PIKE_BLOCKED", ps), 0, "opensips_event") ==
        R"({"jsonrpc":"2.0","method":"handle_cmd","params":{"opensips_event":"E_PIKE_BLOCKED","ip":"192.168.2.11"}})");
}

TEST_CASE("event_param puts the event name first in an array of unnamed params") {
    evi_param_t a = iparam("", 3);
    a.name = evi_str_t{nullptr, 0};
    std::vector<evi_param_t> ps{a};
    CHECK(stream::build_payload("m", event("E_A", ps), 0, "ev") ==
          R"({"jsonrpc":"2.0","method":"m","params":["E_A",3]})");
}

TEST_CASE("event_param is sent even when the event has no params") {
    CHECK(stream::build_payload("m", event("E_A", {}), 7, "ev") ==
          R"({"id":7,"jsonrpc":"2.0","method":"m","params":{"ev":"E_A"}})");
}

TEST_CASE("strings are escaped as JSON; slash and UTF-8 are not") {
    std::string out;
    stream::append_json_string(out, std::string_view("q\" b\\ /\xC3\xA9\n\t\r\b\f\x01\x1f", 16));
    CHECK(out == R"("q\" b\\ /)"
                 "\xC3\xA9"
                 R"(\n\t\r\b\f\u0001\u001f")");
}

TEST_CASE("a reply is found with its id and no error") {
    std::string buf = R"({"jsonrpc":"2.0","result":8,"id":915243442})";
    std::size_t used = 0;
    stream::Reply r;
    REQUIRE(scan(buf, used, r) == stream::Scan::Complete);
    CHECK(used == buf.size());
    CHECK(r.has_id);
    CHECK(r.id == 915243442);
    CHECK_FALSE(r.is_error);
}

TEST_CASE("an error reply is recognised") {
    std::string buf = R"( {"jsonrpc":"2.0","error":{"code":-32000,"message":"no"},"id":3})";
    std::size_t used = 0;
    stream::Reply r;
    REQUIRE(scan(buf, used, r) == stream::Scan::Complete);
    CHECK(r.id == 3);
    CHECK(r.is_error);
    CHECK(r.error_text == R"({"code":-32000,"message":"no"})");
}

TEST_CASE("a null error is not an error") {
    std::string buf = R"({"id":3,"result":true,"error":null})";
    std::size_t used = 0;
    stream::Reply r;
    REQUIRE(scan(buf, used, r) == stream::Scan::Complete);
    CHECK_FALSE(r.is_error);
}

TEST_CASE("replies back to back are cut one at a time, and a partial one waits for more") {
    std::string buf =
        "{\"id\":1,\"result\":\"}{\"}\n{\"id\":2,\"result\":[1,{\"a\":null}]}{\"id\":";
    std::size_t used = 0;
    stream::Reply r;
    REQUIRE(scan(buf, used, r) == stream::Scan::Complete);
    CHECK(r.id == 1);
    buf.erase(0, used);
    REQUIRE(scan(buf, used, r) == stream::Scan::Complete);
    CHECK(r.id == 2);
    buf.erase(0, used);
    CHECK(scan(buf, used, r) == stream::Scan::Incomplete);
    buf += "3}";
    REQUIRE(scan(buf, used, r) == stream::Scan::Complete);
    CHECK(r.id == 3);
}

TEST_CASE("a reply split inside a string or a literal is incomplete, not invalid") {
    std::size_t used = 0;
    stream::Reply r;
    CHECK(scan(R"({"id":1,"result":"ab\)", used, r) == stream::Scan::Incomplete);
    CHECK(scan(R"({"id":1,"error":nu)", used, r) == stream::Scan::Incomplete);
    CHECK(scan("  \n", used, r) == stream::Scan::Incomplete);
    CHECK(used == 3);
}

TEST_CASE("bytes that are not JSON are invalid") {
    std::size_t used = 0;
    stream::Reply r;
    CHECK(scan("HTTP/1.1 400 Bad Request\r\n", used, r) == stream::Scan::Invalid);
    CHECK(scan(R"({"id" 1})", used, r) == stream::Scan::Invalid);
    CHECK(scan(R"({"id":1,})", used, r) == stream::Scan::Invalid);
    CHECK(scan(R"({"id":nope})", used, r) == stream::Scan::Invalid);
}

TEST_CASE("an id that is not an integer is not one of ours") {
    std::size_t used = 0;
    stream::Reply r;
    REQUIRE(scan(R"({"id":"7","result":1})", used, r) == stream::Scan::Complete);
    CHECK_FALSE(r.has_id);
    REQUIRE(scan(R"({"id":7.5,"result":1})", used, r) == stream::Scan::Complete);
    CHECK_FALSE(r.has_id);
}
