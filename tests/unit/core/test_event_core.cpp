// The event core with transports declared in this file and registered through the core's own
// TransportRegistry (the same path a module's transports take).
#include "evi/event_core.hpp"
#include "evi/shared_snapshot.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

using namespace evi;
using namespace std::chrono_literals;

namespace {

struct Recorder {
    std::mutex m;
    std::condition_variable cv;
    std::vector<std::string> seen; // "address|event|json"
    std::vector<uint64_t> tokens;
    bool gate_open = true;
    int entered = 0; // deliveries that reached the transport (before the gate)
    int status = EVI_OK;
} rec;

std::string s(evi_str_t v) {
    return std::string(v.s ? v.s : "", v.len);
}

int parse(evi_str_t a, int, void **sock, unsigned *, char *err, size_t len) {
    if (a.len == 0) {
        std::snprintf(err, len, "expected a name");
        return EVI_ERR;
    }
    *sock = new std::string(s(a));
    return EVI_OK;
}
int match(const void *a, const void *b) {
    return *static_cast<const std::string *>(a) == *static_cast<const std::string *>(b);
}
int print(const void *sock, char *buf, size_t len) {
    return std::snprintf(buf, len, "%s", static_cast<const std::string *>(sock)->c_str());
}
void free_sock(void *sock) {
    delete static_cast<std::string *>(sock);
}

int record(void *sock, const evi_event_t *ev, uint64_t token, bool gated) {
    std::unique_lock lock(rec.m);
    ++rec.entered;
    rec.cv.notify_all();
    if (gated) rec.cv.wait(lock, [] { return rec.gate_open; });
    rec.seen.push_back(*static_cast<std::string *>(sock) + "|" + s(ev->name) + "|" + s(ev->json));
    if (token) rec.tokens.push_back(token);
    rec.cv.notify_all();
    return rec.status;
}
int raise_record(void *sock, const evi_event_t *ev, uint64_t token) {
    return record(sock, ev, token, false);
}
int raise_blocking(void *sock, const evi_event_t *ev, uint64_t token) {
    return record(sock, ev, token, true);
}
int raise_async(void *sock, const evi_event_t *ev, uint64_t token) {
    record(sock, ev, token, false);
    return EVI_PENDING;
}

const evi_transport_t inline_t{
    sizeof(evi_transport_t), "rec", EVI_TF_JSON, parse, raise_record, match, print, free_sock};
const evi_transport_t blocking_t{sizeof(evi_transport_t),
                                 "slow",
                                 EVI_TF_BLOCKING | EVI_TF_JSON,
                                 parse,
                                 raise_blocking,
                                 match,
                                 print,
                                 free_sock};
const evi_transport_t async_t{
    sizeof(evi_transport_t), "async", EVI_TF_ASYNC, parse, raise_async, match, print, free_sock};

struct Fixture {
    TransportRegistry transports;
    std::unique_ptr<EventCore> core;
    Fixture(CoreOptions o = {}) {
        REQUIRE(transports.add(&inline_t, "test"));
        REQUIRE(transports.add(&blocking_t, "test"));
        REQUIRE(transports.add(&async_t, "test"));
        o.retry_backoff_ms = 1;
        core = std::make_unique<EventCore>(transports, o);
        std::lock_guard lock(rec.m);
        rec.seen.clear();
        rec.tokens.clear();
        rec.entered = 0;
        rec.gate_open = true;
        rec.status = EVI_OK;
    }
    ~Fixture() {
        {
            std::lock_guard lock(rec.m);
            rec.gate_open = true;
        }
        rec.cv.notify_all();
        core->shutdown(1000ms);
    }
    size_t seen() {
        std::lock_guard lock(rec.m);
        return rec.seen.size();
    }
    bool wait_seen(size_t n) {
        std::unique_lock lock(rec.m);
        return rec.cv.wait_for(lock, 5s, [&] { return rec.seen.size() >= n; });
    }
};

evi_param_t int_param(const char *name, int64_t v) {
    return {{name, std::strlen(name)}, EVI_VAL_INT, v, {nullptr, 0}};
}

} // namespace

TEST_CASE("publishing is idempotent and names are checked") {
    Fixture f;
    auto a = f.core->publish("E_A");
    REQUIRE(a);
    CHECK(*f.core->publish("E_A") == *a);
    CHECK_FALSE(f.core->publish(""));
    CHECK_FALSE(f.core->publish(std::string(65, 'X')));
    CHECK(f.core->publish(std::string(64, 'X')));
    CHECK_FALSE(f.core->publish("E BAD"));
    CHECK(f.core->publish("E BAD").error().message.find("expected 1 to 64 characters") !=
          std::string::npos);
}

TEST_CASE("raising an unpublished event is an error") {
    Fixture f;
    auto r = f.core->raise("E_NOPE", nullptr, 0);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "event 'E_NOPE' is not published");
}

TEST_CASE("an inline subscriber receives the JSON payload on the raiser's thread") {
    Fixture f;
    REQUIRE(f.core->publish("E_X"));
    REQUIRE(f.core->subscribe("E_X", "rec:one", 0s, false));
    auto p = int_param("n", 42);
    auto r = f.core->raise("E_X", &p, 1);
    REQUIRE(r);
    CHECK(*r == 1);
    REQUIRE(f.seen() == 1);
    CHECK(rec.seen[0] == R"(one|E_X|{"jsonrpc":"2.0","method":"E_X","params":{"n":42}})");
    auto subs = f.core->subscribers("E_X");
    REQUIRE(subs.size() == 1);
    CHECK(subs[0].socket == "rec:one");
    CHECK(subs[0].delivered == 1);
    CHECK(subs[0].expire_at == 0);
}

TEST_CASE("subscribing a matching socket again refreshes instead of adding") {
    Fixture f;
    REQUIRE(f.core->publish("E_X"));
    CHECK(*f.core->subscribe("E_X", "rec:one", 0s, false) == SubscribeOutcome::Added);
    CHECK(*f.core->subscribe("E_X", "rec:one", 100s, false) == SubscribeOutcome::Refreshed);
    CHECK(*f.core->subscribe("E_X", "rec:two", 0s, false) == SubscribeOutcome::Added);
    auto subs = f.core->subscribers("E_X");
    REQUIRE(subs.size() == 2);
    CHECK(subs[0].expire_at != 0);
    CHECK(subs[0].ttl > 98);
    CHECK(subs[0].ttl <= 100);
}

TEST_CASE("a bad socket is refused with the transport's reason") {
    Fixture f;
    REQUIRE(f.core->publish("E_X"));
    auto r = f.core->subscribe("E_X", "rec:", 0s, false);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "bad socket 'rec:': expected a name");
    auto u = f.core->subscribe("E_X", "nope:x", 0s, false);
    REQUIRE_FALSE(u);
    CHECK(u.error().message.find("no loaded module provides the 'nope' transport") !=
          std::string::npos);
    CHECK_FALSE(f.core->subscribe("E_X", "justtext", 0s, false));
    CHECK_FALSE(f.core->subscribe("E_UNKNOWN", "rec:a", 0s, false));
}

TEST_CASE("an expired subscriber receives nothing and is reaped") {
    Fixture f;
    REQUIRE(f.core->publish("E_X"));
    REQUIRE(f.core->subscribe("E_X", "rec:short", 1s, false));
    REQUIRE(f.core->subscribe("E_X", "rec:forever", 0s, false));
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    auto r = f.core->raise("E_X", nullptr, 0);
    REQUIRE(r);
    CHECK(*r == 1);
    REQUIRE(f.seen() == 1);
    CHECK(rec.seen[0].rfind("forever|", 0) == 0);
    f.core->reap_expired();
    CHECK(f.core->events()[0].subscribers == 1);
}

TEST_CASE("probe is true only while the event has a subscriber that has not expired") {
    Fixture f;
    const int id = *f.core->publish("E_X");
    CHECK_FALSE(f.core->probe(id));
    CHECK_FALSE(f.core->probe(id + 1));
    REQUIRE(f.core->subscribe("E_X", "rec:short", 1s, false));
    CHECK(f.core->probe(id));
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    CHECK_FALSE(f.core->probe(id)); // expired, not reaped yet
    REQUIRE(f.core->subscribe("E_X", "rec:forever", 0s, false));
    CHECK(f.core->probe(id));
}

TEST_CASE("unsubscribe removes the subscriber") {
    Fixture f;
    REQUIRE(f.core->publish("E_X"));
    REQUIRE(f.core->subscribe("E_X", "rec:a", 0s, false));
    REQUIRE(f.core->unsubscribe("E_X", "rec:a", false));
    CHECK(f.core->subscribers("E_X").empty());
    CHECK(*f.core->raise("E_X", nullptr, 0) == 0);
    CHECK_FALSE(f.core->unsubscribe("E_X", "rec:a", false));
}

// Raisers load the subscriber list while subscribe/unsubscribe replace it. Under
// ThreadSanitizer (CI) this checks that loading and replacing are ordered: with libstdc++ 12's
// std::atomic<std::shared_ptr> they were not, and TSan caught it in evid.
TEST_CASE("raisers and a subscriber that comes and goes run at once, and lose nothing") {
    Fixture f;
    REQUIRE(f.core->publish("E_X"));
    REQUIRE(f.core->subscribe("E_X", "rec:keep", 0s, false));
    constexpr int kRaisers = 2, kRaises = 2000;
    std::atomic<int> failed{0};
    std::vector<std::thread> raisers;
    for (int t = 0; t < kRaisers; ++t)
        raisers.emplace_back([&] {
            for (int i = 0; i < kRaises; ++i)
                if (!f.core->raise("E_X", nullptr, 0)) ++failed;
        });
    for (int i = 0; i < 300; ++i) {
        REQUIRE(f.core->subscribe("E_X", "rec:tmp", 0s, false));
        REQUIRE(f.core->unsubscribe("E_X", "rec:tmp", false));
    }
    for (auto &t : raisers)
        t.join();
    CHECK(failed.load() == 0);
    std::lock_guard lock(rec.m);
    CHECK(std::count_if(rec.seen.begin(), rec.seen.end(), [](const std::string &l) {
              return l.rfind("keep|", 0) == 0;
          }) == kRaisers * kRaises);
}

// subscribers() (MI subscribers_list) reads the list while subscribe/unsubscribe replace it.
// It once iterated a snapshot it did not hold, so the vector could be freed under it: a
// heap-use-after-free under AddressSanitizer, a data race under ThreadSanitizer (CI runs both).
TEST_CASE("listing subscribers while one comes and goes reads whole lists") {
    Fixture f;
    REQUIRE(f.core->publish("E_X"));
    REQUIRE(f.core->subscribe("E_X", "rec:keep", 0s, false));
    std::atomic<bool> done{false};
    std::atomic<int> bad{0};
    std::thread lister([&] {
        while (!done.load()) {
            auto subs = f.core->subscribers("E_X");
            if (subs.empty() || subs.size() > 2 || subs[0].socket != "rec:keep") ++bad;
        }
    });
    for (int i = 0; i < 2000; ++i) {
        REQUIRE(f.core->subscribe("E_X", "rec:tmp" + std::to_string(i % 7), 0s, false));
        REQUIRE(f.core->unsubscribe("E_X", "rec:tmp" + std::to_string(i % 7), false));
    }
    done = true;
    lister.join();
    CHECK(bad.load() == 0);
}

TEST_CASE("a SharedSnapshot is read and replaced at once; every value read is whole") {
    struct Box {
        explicit Box(int v) : value(v), check(~v) {}
        ~Box() { check = value; } // a value read after its release fails the check
        int value, check;
    };
    SharedSnapshot<const Box> snap{std::make_shared<const Box>(0)};
    std::weak_ptr<const Box> first = snap.load();
    std::atomic<bool> done{false};
    std::atomic<int> bad{0}, reads{0};
    std::thread reader([&] {
        int last = 0;
        while (!done.load()) {
            auto b = snap.load();
            if (b->check != ~b->value || b->value < last) ++bad;
            last = b->value;
            ++reads;
        }
    });
    while (reads.load() == 0)
        std::this_thread::yield();
    for (int v = 1; v <= 20000; ++v)
        snap.store(std::make_shared<const Box>(v));
    done = true;
    reader.join();
    CHECK(bad.load() == 0);
    CHECK(snap.load()->value == 20000);
    CHECK(first.expired()); // replaced values are released
}

TEST_CASE("a blocking subscriber is served by its worker, in order") {
    Fixture f;
    REQUIRE(f.core->publish("E_X"));
    REQUIRE(f.core->subscribe("E_X", "slow:w", 0s, false));
    for (int i = 0; i < 100; ++i) {
        auto p = int_param("i", i);
        REQUIRE(f.core->raise("E_X", &p, 1));
    }
    REQUIRE(f.wait_seen(100));
    for (int i = 0; i < 100; ++i)
        CHECK(rec.seen[i].find("\"i\":" + std::to_string(i) + "}") != std::string::npos);
}

TEST_CASE("a stuck blocking subscriber never blocks the raiser or a healthy subscriber") {
    CoreOptions o;
    o.queue_size = 3;
    Fixture f(o);
    REQUIRE(f.core->publish("E_X"));
    {
        std::lock_guard lock(rec.m);
        rec.gate_open = false; // the stuck peer never returns while this is closed
    }
    REQUIRE(f.core->subscribe("E_X", "slow:stuck", 0s, false));
    REQUIRE(f.core->subscribe("E_X", "rec:healthy", 0s, false));
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 1000; ++i)
        REQUIRE(f.core->raise("E_X", nullptr, 0));
    CHECK(std::chrono::steady_clock::now() - t0 < 2s); // bounded, not a benchmark
    auto subs = f.core->subscribers("E_X");
    const auto &stuck = subs[0].socket == "slow:stuck" ? subs[0] : subs[1];
    const auto &healthy = subs[0].socket == "slow:stuck" ? subs[1] : subs[0];
    CHECK(healthy.delivered == 1000);
    CHECK(stuck.dropped >= 996);
    CHECK(stuck.dropped + stuck.queued == 1000);
}

TEST_CASE("a queue that overflows counts exactly what it dropped") {
    CoreOptions o;
    o.queue_size = 5;
    Fixture f(o);
    REQUIRE(f.core->publish("E_X"));
    {
        std::lock_guard lock(rec.m);
        rec.gate_open = false;
    }
    REQUIRE(f.core->subscribe("E_X", "slow:stuck", 0s, false));
    REQUIRE(f.core->raise("E_X", nullptr, 0)); // taken by the worker, which blocks on the gate
    {
        // Wait until the worker holds it: the queue itself is empty again.
        std::unique_lock lock(rec.m);
        REQUIRE(rec.cv.wait_for(lock, 5s, [] { return rec.entered == 1; }));
    }
    for (int i = 0; i < 20; ++i)
        REQUIRE(f.core->raise("E_X", nullptr, 0));
    auto sub = f.core->subscribers("E_X")[0];
    CHECK(sub.dropped == 15);
    {
        std::lock_guard lock(rec.m);
        rec.gate_open = true;
    }
    rec.cv.notify_all();
    REQUIRE(f.wait_seen(6));
    f.core->shutdown(2000ms);
    sub = f.core->subscribers("E_X")[0];
    CHECK(sub.delivered == 6);
    CHECK(sub.dropped == 15);
}

TEST_CASE("a failing delivery is retried, counted, and reported down then up") {
    CoreOptions o;
    o.delivery_retries = 2;
    // Before the fixture: a delivery worker may still report while ~Fixture shuts the core down.
    std::vector<std::string> status;
    std::mutex sm;
    Fixture f(o);
    f.core->on_subscriber_status = [&](const std::string &ev, const std::string &sock, bool up,
                                       const std::string &) {
        std::lock_guard lock(sm);
        status.push_back(ev + " " + sock + (up ? " up" : " down"));
    };
    REQUIRE(f.core->publish("E_X"));
    REQUIRE(f.core->subscribe("E_X", "slow:flaky", 0s, false));
    rec.status = EVI_ERR;
    REQUIRE(f.core->raise("E_X", nullptr, 0));
    REQUIRE(f.wait_seen(3)); // first try + 2 retries
    for (int i = 0; i < 200 && f.core->subscribers("E_X")[0].failed == 0; ++i)
        std::this_thread::sleep_for(5ms);
    auto sub = f.core->subscribers("E_X")[0];
    CHECK(sub.failed == 1);
    CHECK(sub.retried == 2);
    CHECK_FALSE(sub.up);
    rec.status = EVI_OK;
    REQUIRE(f.core->raise("E_X", nullptr, 0));
    REQUIRE(f.wait_seen(4));
    for (int i = 0; i < 200 && f.core->subscribers("E_X")[0].delivered == 0; ++i)
        std::this_thread::sleep_for(5ms);
    CHECK(f.core->subscribers("E_X")[0].up);
    std::lock_guard lock(sm);
    REQUIRE(status.size() == 2);
    CHECK(status[0] == "E_X slow:flaky down");
    CHECK(status[1] == "E_X slow:flaky up");
}

TEST_CASE("an async transport's outcome arrives through report()") {
    Fixture f;
    REQUIRE(f.core->publish("E_X"));
    REQUIRE(f.core->subscribe("E_X", "async:a", 0s, false));
    REQUIRE(f.core->raise("E_X", nullptr, 0));
    REQUIRE(f.core->raise("E_X", nullptr, 0));
    REQUIRE(f.wait_seen(2));
    std::vector<uint64_t> tokens;
    {
        std::lock_guard lock(rec.m);
        tokens = rec.tokens;
    }
    REQUIRE(tokens.size() == 2);
    // Both are in flight once the worker has handed them over.
    for (int i = 0; i < 500 && f.core->subscribers("E_X")[0].queued != 2; ++i)
        std::this_thread::sleep_for(1ms);
    CHECK(f.core->subscribers("E_X")[0].queued == 2);
    f.core->report(tokens[0], EVI_OK);
    f.core->report(tokens[1], EVI_ERR);
    auto sub = f.core->subscribers("E_X")[0];
    CHECK(sub.delivered == 1);
    CHECK(sub.failed == 1);
    CHECK(sub.queued == 0);
}

TEST_CASE("raising after shutdown is refused") {
    Fixture f;
    REQUIRE(f.core->publish("E_X"));
    f.core->shutdown(0ms);
    CHECK_FALSE(f.core->raise("E_X", nullptr, 0));
}
