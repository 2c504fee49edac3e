// Publisher-confirm bookkeeping: acks, nacks (single and multiple) and returned messages.
#include <doctest/doctest.h>

#include "rmq_confirms.h"

using namespace evi::rmq;

namespace {
std::shared_ptr<const Address> dest(const char *exchange, const char *key) {
    auto a = std::make_shared<Address>();
    a->host = "h";
    a->exchange = exchange;
    a->routing_key = key;
    return a;
}
Outgoing item(uint64_t token, const char *body, std::shared_ptr<const Address> d) {
    Outgoing o;
    o.token = token;
    o.body = body;
    o.dest = std::move(d);
    return o;
}
std::vector<uint64_t> tokens(const std::vector<Completed> &done) {
    std::vector<uint64_t> t;
    for (auto &c : done)
        t.push_back(c.item.token);
    return t;
}
ConfirmWindow window_of(int n) {
    ConfirmWindow w;
    auto d = dest("", "q");
    for (int i = 1; i <= n; ++i)
        w.add(i, item(100 + i, "b", d));
    return w;
}
} // namespace

TEST_CASE("a single ack settles only its own delivery tag") {
    ConfirmWindow w = window_of(3);
    auto done = w.settle(2, false, false);
    CHECK(tokens(done) == std::vector<uint64_t>{102});
    CHECK(done[0].outcome == Outcome::Confirmed);
    CHECK(w.size() == 2);
}

TEST_CASE("a multiple ack settles every tag up to it, in publish order") {
    ConfirmWindow w = window_of(5);
    auto done = w.settle(3, true, false);
    CHECK(tokens(done) == std::vector<uint64_t>{101, 102, 103});
    CHECK(w.size() == 2);
}

TEST_CASE("a nack fails what it covers") {
    ConfirmWindow w = window_of(4);
    auto done = w.settle(2, true, true);
    REQUIRE(done.size() == 2);
    CHECK(done[0].outcome == Outcome::Nacked);
    CHECK(done[1].outcome == Outcome::Nacked);
}

TEST_CASE("an ack for an unknown or already settled tag settles nothing") {
    ConfirmWindow w = window_of(2);
    w.settle(1, false, false);
    CHECK(w.settle(1, false, false).empty());
    CHECK(w.settle(9, false, false).empty());
    CHECK(w.size() == 1);
}

TEST_CASE("a returned message is failed when its ack arrives, even within a multiple ack") {
    ConfirmWindow w;
    w.add(1, item(1, "{\"a\":1}", dest("", "q")));
    w.add(2, item(2, "{\"a\":2}", dest("", "nowhere")));
    w.add(3, item(3, "{\"a\":3}", dest("", "q")));
    CHECK(w.mark_returned("", "nowhere", "{\"a\":2}"));
    auto done = w.settle(3, true, false);
    REQUIRE(done.size() == 3);
    CHECK(done[0].outcome == Outcome::Confirmed);
    CHECK(done[1].outcome == Outcome::Returned);
    CHECK(done[2].outcome == Outcome::Confirmed);
}

TEST_CASE("a return marks the oldest unsettled identical message only once") {
    ConfirmWindow w;
    auto d = dest("ex", "k");
    w.add(1, item(1, "same", d));
    w.add(2, item(2, "same", d));
    CHECK(w.mark_returned("ex", "k", "same"));
    CHECK(w.mark_returned("ex", "k", "same"));
    CHECK_FALSE(w.mark_returned("ex", "k", "same"));
    CHECK_FALSE(w.mark_returned("other", "k", "same"));
}

TEST_CASE("after a lost connection every unsettled event comes back in publish order") {
    ConfirmWindow w = window_of(4);
    w.settle(2, false, false);
    auto again = w.take_all();
    REQUIRE(again.size() == 3);
    CHECK(again[0].token == 101);
    CHECK(again[1].token == 103);
    CHECK(again[2].token == 104);
    CHECK(w.empty());
}
