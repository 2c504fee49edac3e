// event_virtual's pure parts: the socket spec, the order members are tried in, and PARALLEL's
// set matching.
#include "virtual_spec.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

struct Spec {
    int rc;
    int policy;
    std::vector<std::string> members;
    std::string err;
};

Spec parse(const std::string &s) {
    evi_str_t m[4];
    size_t n = 0;
    int policy = -1;
    char err[256] = {0};
    Spec out{
        virt_parse_spec(s.data(), s.size(), &policy, m, 4, &n, err, sizeof err), policy, {}, err};
    for (size_t i = 0; out.rc == 0 && i < n; i++)
        out.members.emplace_back(m[i].s, m[i].len);
    return out;
}

std::vector<size_t> order(int policy, size_t start, std::vector<unsigned char> penalised) {
    std::vector<size_t> o(penalised.size());
    virt_attempt_order(policy, penalised.size(), start, penalised.data(), o.data());
    return o;
}

} // namespace

TEST_CASE("a spec is a policy and blank-separated member sockets") {
    auto s = parse("FAILOVER unix:/tmp/a.sock  udp:127.0.0.1:9\tudp:[::1]:9");
    REQUIRE(s.rc == 0);
    CHECK(s.policy == VIRT_FAILOVER);
    CHECK(s.members ==
          std::vector<std::string>{"unix:/tmp/a.sock", "udp:127.0.0.1:9", "udp:[::1]:9"});
}

TEST_CASE("the policy is case-insensitive") {
    CHECK(parse("round-robin udp:127.0.0.1:9").policy == VIRT_ROUND_ROBIN);
    CHECK(parse("Parallel udp:127.0.0.1:9").policy == VIRT_PARALLEL);
}

TEST_CASE("an unknown policy is refused and named") {
    auto s = parse("RANDOM udp:127.0.0.1:9");
    CHECK(s.rc == -1);
    CHECK(s.err.find("'RANDOM'") != std::string::npos);
    CHECK(s.err.find("PARALLEL, FAILOVER or ROUND-ROBIN") != std::string::npos);
}

TEST_CASE("a spec without members is refused") {
    CHECK(parse("PARALLEL").rc == -1);
    CHECK(parse("PARALLEL   ").rc == -1);
}

TEST_CASE("more members than allowed are refused") {
    CHECK(parse("PARALLEL a:1 b:2 c:3 d:4 e:5").rc == -1);
}

TEST_CASE("FAILOVER tries members in their written order") {
    CHECK(order(VIRT_FAILOVER, 5, {0, 0, 0}) == std::vector<size_t>{0, 1, 2});
}

TEST_CASE("FAILOVER tries a member that failed recently after all the others") {
    CHECK(order(VIRT_FAILOVER, 0, {1, 0, 0}) == std::vector<size_t>{1, 2, 0});
    CHECK(order(VIRT_FAILOVER, 0, {1, 0, 1}) == std::vector<size_t>{1, 0, 2});
}

TEST_CASE("ROUND-ROBIN starts at the rotating index and wraps around") {
    CHECK(order(VIRT_ROUND_ROBIN, 1, {0, 0, 0}) == std::vector<size_t>{1, 2, 0});
    CHECK(order(VIRT_ROUND_ROBIN, 5, {0, 0, 0}) == std::vector<size_t>{2, 0, 1});
}

TEST_CASE("ROUND-ROBIN moves a member that failed recently to the end") {
    CHECK(order(VIRT_ROUND_ROBIN, 2, {1, 0, 0}) == std::vector<size_t>{2, 1, 0});
}

TEST_CASE("every member is tried even when all failed recently") {
    CHECK(order(VIRT_FAILOVER, 0, {1, 1}) == std::vector<size_t>{0, 1});
}

TEST_CASE("PARALLEL members match as a set, whatever their order") {
    // a = {x, y}, b = {y, x}
    unsigned char eq[] = {0, 1, 1, 0};
    CHECK(virt_same_set(2, eq) == 1);
}

TEST_CASE("PARALLEL sets with a different member do not match") {
    // a = {x, x}, b = {x, y}: both of a's pair with b's x only
    unsigned char eq[] = {1, 0, 1, 0};
    CHECK(virt_same_set(2, eq) == 0);
}

TEST_CASE("policy names are printed as OpenSIPS writes them") {
    CHECK(std::string(virt_policy_name(VIRT_PARALLEL)) == "PARALLEL");
    CHECK(std::string(virt_policy_name(VIRT_FAILOVER)) == "FAILOVER");
    CHECK(std::string(virt_policy_name(VIRT_ROUND_ROBIN)) == "ROUND-ROBIN");
}
