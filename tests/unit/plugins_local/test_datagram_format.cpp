// event_datagram's pure parts: udp address splitting and the OpenSIPS 2.x text payload.
#include "dgram_format.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

struct Split {
    int rc;
    std::string host;
    unsigned port;
    std::string err;
};

Split split(const std::string &a) {
    char host[64] = {0}, err[256] = {0};
    uint16_t port = 0;
    int rc = dgram_split_udp(a.data(), a.size(), host, sizeof host, &port, err, sizeof err);
    return {rc, host, port, err};
}

evi_param_t str_param(const char *name, const std::string &v) {
    evi_param_t p{};
    p.name = {name, std::char_traits<char>::length(name)};
    p.type = EVI_VAL_STR;
    p.s = {v.data(), v.size()};
    return p;
}

evi_param_t int_param(const char *name, int64_t v) {
    evi_param_t p{};
    p.name = {name, std::char_traits<char>::length(name)};
    p.type = EVI_VAL_INT;
    p.i = v;
    return p;
}

std::string text(const char *name, const std::vector<evi_param_t> &params) {
    evi_event_t ev{};
    ev.name = {name, std::char_traits<char>::length(name)};
    ev.params = params.data();
    ev.nparams = params.size();
    std::string buf(dgram_text_bound(&ev), '\0');
    size_t n = dgram_text_write(&ev, buf.data());
    REQUIRE(n <= buf.size());
    buf.resize(n);
    return buf;
}

} // namespace

TEST_CASE("an IPv4 udp address splits into host and port") {
    auto s = split("127.0.0.1:8888");
    CHECK(s.rc == 0);
    CHECK(s.host == "127.0.0.1");
    CHECK(s.port == 8888);
}

TEST_CASE("a bracketed IPv6 address loses its brackets") {
    auto s = split("[::1]:9");
    CHECK(s.rc == 0);
    CHECK(s.host == "::1");
    CHECK(s.port == 9);
}

TEST_CASE("a host name is kept for resolution at subscribe time") {
    auto s = split("localhost:65535");
    CHECK(s.rc == 0);
    CHECK(s.host == "localhost");
    CHECK(s.port == 65535);
}

TEST_CASE("an IPv6 address without brackets is refused with the syntax to use") {
    auto s = split("::1:8888");
    CHECK(s.rc == -1);
    CHECK(s.err.find("udp:[::1]:PORT") != std::string::npos);
}

TEST_CASE("an address without a port is refused") {
    CHECK(split("127.0.0.1").rc == -1);
    CHECK(split("[::1]").rc == -1);
    CHECK(split("127.0.0.1:").rc == -1);
}

TEST_CASE("ports outside 1..65535 or not numeric are refused") {
    CHECK(split("127.0.0.1:0").rc == -1);
    CHECK(split("127.0.0.1:65536").rc == -1);
    CHECK(split("127.0.0.1:http").rc == -1);
    CHECK(split("127.0.0.1:-1").rc == -1);
    CHECK(split("127.0.0.1:99999999").rc == -1);
}

TEST_CASE("an address without a host is refused") {
    CHECK(split(":8888").rc == -1);
    CHECK(split("[]:8888").rc == -1);
}

TEST_CASE("the text payload of an event without params is its name and an empty line") {
    CHECK(text("E_X", {}) == "E_X\n\n");
}

TEST_CASE("named params are written name::value, one per line, in the event's order") {
    CHECK(text("E_UDP", {str_param("s", "hello"), int_param("n", 42)}) ==
          "E_UDP\ns::hello\nn::42\n\n");
}

TEST_CASE("unnamed params are written as bare values") {
    CHECK(text("E_X", {str_param("", "a"), int_param("", 7)}) == "E_X\na\n7\n\n");
}

TEST_CASE("negative ints are written signed") {
    CHECK(text("E_X", {int_param("n", -5), int_param("m", INT64_MIN)}) ==
          "E_X\nn::-5\nm::-9223372036854775808\n\n");
}

TEST_CASE("an empty string value leaves nothing after the separator") {
    CHECK(text("E_X", {str_param("e", "")}) == "E_X\ne::\n\n");
}

TEST_CASE("a value with a newline is quoted and its double quotes escaped, as OpenSIPS does") {
    CHECK(text("E_X", {str_param("v", "a\"b\nc")}) == "E_X\nv::\"a\\\"b\nc\"\n\n");
}

TEST_CASE("a value with quotes but no newline is written as is") {
    CHECK(text("E_X", {str_param("v", "say \"hi\"")}) == "E_X\nv::say \"hi\"\n\n");
}

TEST_CASE("the size bound holds for the worst case: a value of only quotes and newlines") {
    std::string v(1000, '"');
    v[500] = '\n';
    std::string t = text("E_X", {str_param("v", v)});
    CHECK(t.size() == 4 + 3 + 1002 + 1 + 1 + 999);
}
