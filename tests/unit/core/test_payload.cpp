#include "evi/event.hpp"

#include <doctest/doctest.h>

using namespace evi;

namespace {
std::string encode(const EventParams &p, std::string_view name = "E_X") {
    auto c = to_c_params(p);
    return encode_json_notification(name, c.data(), c.size());
}
} // namespace

TEST_CASE("an event without params has no params key") {
    CHECK(encode({}) == R"({"jsonrpc":"2.0","method":"E_X"})");
}

TEST_CASE("named params become an object in the event's order") {
    CHECK(encode({{"s", std::string("hello")}, {"n", int64_t{42}}}, "E_UDP") ==
          R"({"jsonrpc":"2.0","method":"E_UDP","params":{"s":"hello","n":42}})");
    CHECK(encode({{"z", int64_t{1}}, {"a", int64_t{2}}}) ==
          R"({"jsonrpc":"2.0","method":"E_X","params":{"z":1,"a":2}})");
}

TEST_CASE("unnamed params become an array") {
    CHECK(encode({{"", std::string("a")}, {"", int64_t{-5}}}) ==
          R"({"jsonrpc":"2.0","method":"E_X","params":["a",-5]})");
}

TEST_CASE("integers are printed in full, negative and 64-bit") {
    CHECK(
        encode({{"", int64_t{INT64_MIN}}, {"", int64_t{INT64_MAX}}}) ==
        R"({"jsonrpc":"2.0","method":"E_X","params":[-9223372036854775808,9223372036854775807]})");
}

TEST_CASE("quotes, backslashes and control characters are escaped; slash and UTF-8 are not") {
    std::string v = "a\"b\\c\nd\te\r\x01\x1f/\xc3\xa9";
    CHECK(encode({{"v", v}}) == "{\"jsonrpc\":\"2.0\",\"method\":\"E_X\",\"params\":{\"v\":"
                                "\"a\\\"b\\\\c\\nd\\te\\r\\u0001\\u001f/\xc3\xa9\"}}");
}

TEST_CASE("an empty string value is kept") {
    CHECK(encode({{"e", std::string()}}) ==
          R"({"jsonrpc":"2.0","method":"E_X","params":{"e":""}})");
}

TEST_CASE("an owned event copies names and values") {
    std::string name = "n", value = "v";
    evi_param_t p{{name.data(), name.size()}, EVI_VAL_STR, 0, {value.data(), value.size()}};
    OwnedEvent ev("E_Y", &p, 1, "{}");
    name = "X";
    value = "Y";
    REQUIRE(ev.view().nparams == 1);
    CHECK(std::string(ev.view().params[0].name.s, ev.view().params[0].name.len) == "n");
    CHECK(std::string(ev.view().params[0].s.s, ev.view().params[0].s.len) == "v");
    CHECK(std::string(ev.view().name.s, ev.view().name.len) == "E_Y");
}
