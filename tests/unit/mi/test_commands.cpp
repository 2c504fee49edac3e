// The core's MI commands against a real event core, with a small in-process transport
// ("test:NAME") that records what it is given.
#include "app.hpp"
#include "log/log.hpp"
#include "mi/jsonrpc.hpp"
#include "mi/server.hpp"
#include "runtime.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <mutex>

using namespace evi;
using namespace evi::mi;

namespace {

std::mutex g_mutex;
std::vector<std::string> g_delivered; // the JSON of every delivered event

int t_parse(evi_str_t address, int, void **sock, unsigned *, char *err, size_t errlen) {
    if (address.len == 0) {
        std::snprintf(err, errlen, "expected test:NAME");
        return EVI_ERR;
    }
    *sock = new std::string(address.s, address.len);
    return EVI_OK;
}
int t_raise(void *, const evi_event_t *ev, uint64_t) {
    std::lock_guard lock(g_mutex);
    g_delivered.emplace_back(ev->json.s, ev->json.len);
    return EVI_OK;
}
int t_match(const void *a, const void *b) {
    return *static_cast<const std::string *>(a) == *static_cast<const std::string *>(b);
}
int t_print(const void *sock, char *buf, size_t len) {
    return std::snprintf(buf, len, "%s", static_cast<const std::string *>(sock)->c_str());
}
void t_free(void *sock) {
    delete static_cast<std::string *>(sock);
}

const evi_transport_t kTest{
    sizeof(evi_transport_t), "test", EVI_TF_JSON, t_parse, t_raise, t_match, t_print, t_free};

struct Fixture {
    App app;
    Fixture() {
        REQUIRE(app.transports.add(&kTest, "unit_test"));
        app.events = std::make_unique<EventCore>(app.transports);
        REQUIRE(app.events->publish("E_A"));
        REQUIRE(app.events->publish("E_B"));
        register_core_commands(app);
        std::lock_guard lock(g_mutex);
        g_delivered.clear();
    }
    ~Fixture() { app.events->shutdown(std::chrono::milliseconds(0)); }

    json call(const std::string &method, const json &params = json::object()) {
        json req = json::object();
        req["jsonrpc"] = "2.0";
        req["id"] = "1";
        req["method"] = method;
        req["params"] = params;
        return json::parse(handle_body(app.commands, dump(req)));
    }
    json result(const std::string &method, const json &params = json::object()) {
        json r = call(method, params);
        REQUIRE_MESSAGE(r.contains("result"), dump(r));
        return r["result"];
    }
    json error(const std::string &method, const json &params = json::object()) {
        json r = call(method, params);
        REQUIRE_MESSAGE(r.contains("error"), dump(r));
        return r["error"];
    }
};

std::vector<std::string> delivered() {
    std::lock_guard lock(g_mutex);
    return g_delivered;
}

} // namespace

TEST_CASE_FIXTURE(Fixture, "events_list gives name and id of every published event") {
    CHECK(dump(result("events_list")) ==
          R"({"Events":[{"name":"E_A","id":0},{"name":"E_B","id":1}]})");
    CHECK(result("evi:list") == result("events_list"));
}

TEST_CASE_FIXTURE(Fixture, "event_subscribe then subscribers_list shows socket, expire and ttl") {
    CHECK(result("event_subscribe", {{"event", "E_A"}, {"socket", "test:one"}, {"expire", "60"}}) ==
          "OK");
    json list = result("subscribers_list", {{"event", "E_A"}});
    json sub = list["Event"]["Subscribers"][0];
    CHECK(list["Event"]["name"] == "E_A");
    CHECK(list["Event"]["id"] == 0);
    CHECK(sub["socket"] == "test:one");
    CHECK(sub["expire"] == 60);
    CHECK(sub["ttl"].get<int64_t>() >= 59);
    CHECK(sub["ttl"].get<int64_t>() <= 60);
    CHECK(sub["state"] == "up");
    CHECK(sub["delivered"] == 0);
    CHECK(sub["dropped"] == 0);
}

TEST_CASE_FIXTURE(Fixture, "the default expire is 3600 seconds") {
    CHECK(result("evi:subscribe", json::array({"E_A", "test:d"})) == "OK");
    CHECK(result("subscribers_list",
                 {{"event", "E_A"}, {"socket", "test:d"}})["Event"]["Subscriber"]["expire"] ==
          3600);
}

TEST_CASE_FIXTURE(Fixture, "expire 0 unsubscribes") {
    REQUIRE(result("event_subscribe", {{"event", "E_A"}, {"socket", "test:x"}}) == "OK");
    CHECK(result("event_subscribe", {{"event", "E_A"}, {"socket", "test:x"}, {"expire", 0}}) ==
          "OK");
    CHECK(dump(result("subscribers_list")) == R"({"Events":[]})");
}

TEST_CASE_FIXTURE(Fixture, "a negative expire is -32602 with OpenSIPS's data text") {
    CHECK(
        dump(error("event_subscribe", {{"event", "E_A"}, {"socket", "test:x"}, {"expire", -1}})) ==
        R"({"code":-32602,"message":"Invalid params","data":"Negative expire value"})");
}

TEST_CASE_FIXTURE(Fixture, "a non-numeric expire is -32602") {
    CHECK(error("event_subscribe",
                {{"event", "E_A"}, {"socket", "test:x"}, {"expire", "soon"}})["code"] == -32602);
}

TEST_CASE_FIXTURE(Fixture,
                  "subscribing to an unknown event or through an unknown transport is 400") {
    json e = error("event_subscribe", {{"event", "E_NOPE"}, {"socket", "test:x"}});
    CHECK(e["code"] == 400);
    CHECK(e["message"] == "Bad parameter value");
    e = error("event_subscribe", {{"event", "E_A"}, {"socket", "nope:x"}});
    CHECK(e["code"] == 400);
    CHECK(e["message"] == "Bad parameter value");
}

TEST_CASE_FIXTURE(Fixture, "subscribers_list of an unknown event or subscriber is 404") {
    CHECK(dump(error("subscribers_list", {{"event", "E_NOPE"}})) ==
          R"({"code":404,"message":"Event not published"})");
    CHECK(dump(error("subscribers_list", {{"event", "E_A"}, {"socket", "test:none"}})) ==
          R"({"code":404,"message":"Subscriber does not exist"})");
}

TEST_CASE_FIXTURE(Fixture, "raise_event of an unknown event is 404 and without subscribers 480") {
    CHECK(dump(error("raise_event", {{"event", "E_NOPE"}})) ==
          R"({"code":404,"message":"Event not registered"})");
    CHECK(dump(error("raise_event", {{"event", "E_B"}})) ==
          R"({"code":480,"message":"Temporarily Unavailable"})");
}

TEST_CASE_FIXTURE(Fixture,
                  "an event name over 64 characters is 400 saying its length and the rule") {
    const std::string name = "E_" + std::string(298, 'X');
    const std::string expected =
        R"({"code":400,"message":"Bad parameter value","data":"bad event name )"
        R"('E_XXXXXXXXXXXXXX...': it is 300 characters long; expected 1 to 64 characters of )"
        R"(letters, digits, '_', '.', ':', '-'"})";
    CHECK(dump(error("raise_event", {{"event", name}})) == expected);
    CHECK(dump(error("event_subscribe", {{"event", name}, {"socket", "test:x"}})) == expected);
    CHECK(dump(error("subscribers_list", {{"event", name}})) == expected);
    CHECK(dump(error("subscribers_list", {{"event", name}, {"socket", "test:x"}})) == expected);
}

TEST_CASE_FIXTURE(Fixture, "an event name with a bad character is 400 naming it and its position") {
    CHECK(dump(error("raise_event", {{"event", "E_A B"}})) ==
          R"({"code":400,"message":"Bad parameter value","data":"bad event name 'E_A B': it )"
          R"(has a space at position 4; expected 1 to 64 characters of letters, digits, '_', )"
          R"('.', ':', '-'"})");
    // a control character is shown escaped, never raw
    json e = error("event_subscribe", {{"event", "E\x1b[2J"}, {"socket", "test:x"}});
    CHECK(e["code"] == 400);
    CHECK(e["data"] == "bad event name 'E\\x1b[2J': it has '\\x1b' at position 2; expected 1 to "
                       "64 characters of letters, digits, '_', '.', ':', '-'");
}

TEST_CASE_FIXTURE(Fixture, "an event name of exactly 64 characters is only unknown") {
    const std::string name = "E_" + std::string(62, 'X');
    CHECK(dump(error("raise_event", {{"event", name}})) ==
          R"({"code":404,"message":"Event not registered"})");
}

TEST_CASE_FIXTURE(Fixture, "raise_event params: numbers become ints, other values compact JSON") {
    REQUIRE(result("event_subscribe", {{"event", "E_A"}, {"socket", "test:r"}}) == "OK");
    CHECK(result("raise_event",
                 {{"event", "E_A"}, {"params", {{"ip", "10.0.0.9"}, {"n", 5}, {"l", {1, "a"}}}}}) ==
          "OK");
    CHECK(result("raise_event", {{"event", "E_A"}, {"params", "{\"s\":\"x\",\"f\":2.7}"}}) == "OK");
    CHECK(result("evi:raise", json::array({"E_A", "a", "7"})) == "OK");
    CHECK(result("raise_event", {{"event", "E_A"}}) == "OK");
    CHECK(
        delivered() ==
        std::vector<std::string>{
            R"({"jsonrpc":"2.0","method":"E_A","params":{"ip":"10.0.0.9","n":5,"l":"[1,\"a\"]"}})",
            R"({"jsonrpc":"2.0","method":"E_A","params":{"s":"x","f":2}})",
            R"({"jsonrpc":"2.0","method":"E_A","params":["a","7"]})",
            R"({"jsonrpc":"2.0","method":"E_A"})"});
}

TEST_CASE_FIXTURE(Fixture, "an expire beyond the int64 range is invalid params, not a wrap") {
    CHECK(error("event_subscribe",
                {{"event", "E_A"}, {"socket", "test:x"}, {"expire", 1e20}})["code"] == -32602);
    CHECK(error("event_subscribe",
                {{"event", "E_A"}, {"socket", "test:x"}, {"expire", -1e300}})["code"] == -32602);
}

TEST_CASE_FIXTURE(Fixture, "raise_event params beyond the int64 range saturate") {
    REQUIRE(result("event_subscribe", {{"event", "E_A"}, {"socket", "test:r"}}) == "OK");
    CHECK(result("raise_event", {{"event", "E_A"}, {"params", "[1e20, -1e300, 9.5e18, -2.5]"}}) ==
          "OK");
    CHECK(delivered() == std::vector<std::string>{R"({"jsonrpc":"2.0","method":"E_A","params":)"
                                                  R"([9223372036854775807,-9223372036854775808,)"
                                                  R"(9223372036854775807,-2]})"});
}

TEST_CASE_FIXTURE(Fixture, "raise_event with a string that is not a JSON object is 400") {
    REQUIRE(result("event_subscribe", {{"event", "E_A"}, {"socket", "test:r"}}) == "OK");
    CHECK(error("raise_event", {{"event", "E_A"}, {"params", "{not json"}})["code"] == 400);
    CHECK(error("raise_event", {{"event", "E_A"}, {"params", "{not json"}})["message"] ==
          "Bad Params");
}

TEST_CASE_FIXTURE(Fixture, "which lists every command and alias, or one command's sets") {
    json all = result("which");
    for (const char *name :
         {"events_list", "evi:list", "event_subscribe", "evi:subscribe", "subscribers_list",
          "evi:subscribers", "raise_event", "evi:raise", "which", "help", "version", "uptime",
          "modules_list", "module_params", "get_statistics", "log_level", "shutdown"})
        CHECK_MESSAGE(std::find(all.begin(), all.end(), json(name)) != all.end(), name);
    CHECK(dump(result("which", {{"command", "raise_event"}})) ==
          R"([["event"],["event","params"]])");
    CHECK(dump(result("which", {{"command", "version"}})) == R"([[]])");
    CHECK(dump(result("which", {{"command", "evi:"}})) ==
          R"(["evi:list","evi:subscribe","evi:subscribers","evi:raise"])");
    CHECK(dump(error("which", {{"command", "nope"}})) ==
          R"({"code":404,"message":"unknown MI command"})");
}

TEST_CASE_FIXTURE(Fixture, "help describes a command") {
    json h = result("help", {{"command", "evi:subscribe"}});
    CHECK(h["Exported by"] == "core");
    CHECK(dump(h["Parameters"]) == R"([["event","socket"],["event","socket","expire"]])");
    CHECK(h["Help"].get<std::string>().find("Subscribe") == 0);
}

TEST_CASE_FIXTURE(Fixture, "log_level reads and sets the level, by number or name") {
    CHECK(result("log_level", {{"level", "info"}})["Log level"] == 3);
    CHECK(result("log_level", json::array({"-1"}))["Log level"] == -1);
    CHECK(result("log_level")["Log level"] == -1);
    CHECK(error("log_level", {{"level", "loud"}})["code"] == -32602);
    log::set_level(log::Notice);
}

TEST_CASE_FIXTURE(Fixture, "get_statistics filters by group and name") {
    REQUIRE(result("event_subscribe", {{"event", "E_A"}, {"socket", "test:s"}}) == "OK");
    REQUIRE(result("raise_event", {{"event", "E_A"}}) == "OK");
    json evi = result("get_statistics", {{"statistics", {"evi:"}}});
    CHECK(evi["evi:raised"] == 1);
    CHECK(evi["evi:delivered"] == 1);
    CHECK_FALSE(evi.contains("core:uptime"));
    CHECK(dump(result("get_statistics", json::array({json::array({"events:E_A"})}))) ==
          R"({"events:E_A":1})");
    CHECK(error("get_statistics", {{"statistics", {"nope:nothing"}}})["code"] == 404);
}

TEST_CASE_FIXTURE(Fixture, "shutdown answers OK and asks for shutdown after the reply") {
    bool asked = false;
    app.request_shutdown = [&asked] { asked = true; };
    (void)take_after_reply();
    CHECK(result("kill") == "OK");
    CHECK_FALSE(asked);
    for (auto &fn : take_after_reply())
        fn();
    CHECK(asked);
}
