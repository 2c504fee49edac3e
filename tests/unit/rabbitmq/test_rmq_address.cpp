// The event_rabbitmq socket syntax: rabbitmq:[user[:password]@]host[:port]/[params?]routing_key
#include <doctest/doctest.h>

#include "rmq_address.h"

using evi::rmq::Address;

namespace {
Address ok(const char *text) {
    std::string err;
    auto a = Address::parse(text, err);
    INFO("socket: " << text << " error: " << err);
    REQUIRE(a.has_value());
    return *a;
}
std::string error_of(const char *text) {
    std::string err;
    auto a = Address::parse(text, err);
    CHECK_FALSE(a.has_value());
    return err;
}
} // namespace

TEST_CASE(
    "a bare host and routing key use guest/guest, port 5672, vhost / and the default exchange") {
    Address a = ok("127.0.0.1/pike");
    CHECK(a.user == "guest");
    CHECK(a.password == "guest");
    CHECK(a.host == "127.0.0.1");
    CHECK(a.port == 5672);
    CHECK(a.vhost == "/");
    CHECK(a.exchange == "");
    CHECK(a.routing_key == "pike");
    CHECK_FALSE(a.persistent);
    CHECK_FALSE(a.tls);
}

TEST_CASE("user, password and port are read from the authority") {
    Address a = ok("bob:s3cret@broker.example:5673/events");
    CHECK(a.user == "bob");
    CHECK(a.password == "s3cret");
    CHECK(a.host == "broker.example");
    CHECK(a.port == 5673);
    CHECK(a.routing_key == "events");
}

TEST_CASE("a user without a password logs in with an empty one, as in OpenSIPS") {
    Address a = ok("bob@host/k");
    CHECK(a.user == "bob");
    CHECK(a.password == "");
}

TEST_CASE("params before '?' set exchange, persistent, vhost and tls") {
    Address a = ok("h/exchange=amq.topic;persistent;vhost=prod;tls?sip.calls");
    CHECK(a.exchange == "amq.topic");
    CHECK(a.persistent);
    CHECK(a.vhost == "prod");
    CHECK(a.tls);
    CHECK(a.port == 5671);
    CHECK(a.routing_key == "sip.calls");
}

TEST_CASE("tls keeps an explicit port") {
    CHECK(ok("h:6000/tls?k").port == 6000);
}

TEST_CASE("OpenSIPS's tls_domain parameter means tls") {
    CHECK(ok("h/tls_domain=rmq?k").tls);
}

TEST_CASE("components are URL-unescaped") {
    Address a = ok("us%40r:p%3Aw%2Fd@h/vhost=%2Fprod;exchange=ex%3Bx?key%3Fwith%25");
    CHECK(a.user == "us@r");
    CHECK(a.password == "p:w/d");
    CHECK(a.vhost == "/prod");
    CHECK(a.exchange == "ex;x");
    CHECK(a.routing_key == "key?with%");
}

TEST_CASE("a password may hold a raw '@': the last '@' before the first '/' ends it") {
    Address a = ok("u:p@ss@h/k");
    CHECK(a.password == "p@ss");
    CHECK(a.host == "h");
}

TEST_CASE("an IPv6 host is written in brackets") {
    Address a = ok("[::1]:5673/k");
    CHECK(a.host == "::1");
    CHECK(a.port == 5673);
    CHECK(ok("[::1]/k").port == 5672);
}

TEST_CASE("a host outside [A-Za-z0-9._-] is refused with what a host may be") {
    const std::string expected =
        "': expected a host name or IPv4 address (letters, digits, '.', '-', '_'), or an IPv6 "
        "address in brackets, as in [::1]:5672";
    CHECK(error_of("a]:b:5672/q") == "bad broker host 'a]:b" + expected);
    CHECK(error_of("a[b/q") == "bad broker host 'a[b" + expected);
    CHECK(error_of("a%2Fb/q") == "bad broker host 'a/b" + expected);
    CHECK(error_of("a%3Fb:5672/q") == "bad broker host 'a?b" + expected);
    CHECK(error_of("a%40b/q") == "bad broker host 'a@b" + expected);
    CHECK(error_of("a%20b/q") == "bad broker host 'a b" + expected);
    CHECK(error_of("a%1Bb/q") == "bad broker host 'a%1Bb" + expected);
    CHECK(error_of("x:y:5672/q") == "bad broker host 'x:y" + expected);
}

TEST_CASE("inside brackets only an IPv6 address is accepted") {
    const std::string expected =
        "': expected an IPv6 address in brackets (hex digits, ':' and '.', as in [::1]:5672)";
    CHECK(error_of("[a]b:1]:5672/q").find("expected ':PORT' after ']'") != std::string::npos);
    CHECK(error_of("[::1/x]:5672/q").find("missing ']'") != std::string::npos);
    CHECK(error_of("[h]:5672/q") == "bad broker host 'h" + expected);
    CHECK(error_of("[::1%2Feth0]/q") == "bad broker host '::1/eth0" + expected);
    CHECK(ok("[2001:db8::10.0.0.1]/q").host == "2001:db8::10.0.0.1");
}

TEST_CASE("host names, IPv4 and IPv6 addresses print and parse back to the same socket") {
    for (const char *text : {"rabbit-1.example_org/q", "10.0.0.1:5673/q", "[::1]:5673/q",
                             "u:p@[fe80::1]/exchange=e?k", "H.EXAMPLE/q"}) {
        Address a = ok(text);
        std::string err;
        auto again = Address::parse(a.print(), err);
        INFO(text << " -> " << a.print() << ": " << err);
        REQUIRE(again.has_value());
        CHECK(again->host == a.host);
        CHECK(again->port == a.port);
        CHECK(again->same_destination(a));
    }
}

TEST_CASE("an exchange with an empty routing key is accepted (fanout)") {
    Address a = ok("h/exchange=fan?");
    CHECK(a.exchange == "fan");
    CHECK(a.routing_key == "");
}

TEST_CASE("malformed sockets are refused with a sentence that says what was expected") {
    CHECK(error_of("127.0.0.1").find("missing '/'") != std::string::npos);
    CHECK(error_of("/key").find("missing broker host") != std::string::npos);
    CHECK(error_of("h:0/k").find("bad port '0'") != std::string::npos);
    CHECK(error_of("h:70000/k").find("bad port") != std::string::npos);
    CHECK(error_of("h:56x/k").find("bad port '56x'") != std::string::npos);
    CHECK(error_of("h/").find("missing routing key") != std::string::npos);
    CHECK(error_of("h/colour=red?k").find("unknown parameter 'colour=red'") != std::string::npos);
    CHECK(error_of("h/exchange?k").find("needs a value") != std::string::npos);
    CHECK(error_of("h/persistent=1?k").find("takes no value") != std::string::npos);
    CHECK(error_of("h/k%4").find("malformed %-escape") != std::string::npos);
    CHECK(error_of("[::1/k").find("missing ']'") != std::string::npos);
    CHECK(error_of("@h/k").find("empty user") != std::string::npos);
}

TEST_CASE("print shows user, host, port, params and key, never the password") {
    CHECK(ok("bob:s3cret@10.0.0.1/q").print() == "bob@10.0.0.1:5672/q");
    CHECK(ok("h/persistent;exchange=ex;vhost=v;tls?k").print() ==
          "guest@h:5671/exchange=ex;persistent;vhost=v;tls?k");
    CHECK(ok("[::1]:5673/k").print() == "guest@[::1]:5673/k");
}

TEST_CASE("print escapes what would not parse back") {
    Address a = ok("us%40r@h/vhost=%2Fa%3Bb?k%3F");
    CHECK(a.print() == "us%40r@h:5672/vhost=%2Fa%3Bb?k%3F");
    std::string err;
    auto again = Address::parse(a.print(), err);
    REQUIRE(again.has_value());
    CHECK(again->same_destination(a));
    CHECK(ok("h/k%3Fx").print() == "guest@h:5672/k%3Fx");
}

TEST_CASE("sockets match when broker, vhost, user, exchange and routing key are the same") {
    CHECK(ok("h/k").same_destination(ok("guest:other@H:5672/k")));
    CHECK(ok("h/persistent?k").same_destination(ok("h/k")));
    CHECK_FALSE(ok("h/k").same_destination(ok("h/k2")));
    CHECK_FALSE(ok("h/k").same_destination(ok("h:5673/k")));
    CHECK_FALSE(ok("h/k").same_destination(ok("h/vhost=v?k")));
    CHECK_FALSE(ok("h/k").same_destination(ok("bob@h/k")));
    CHECK_FALSE(ok("h/k").same_destination(ok("h/exchange=x?k")));
    CHECK_FALSE(ok("h/k").same_destination(ok("h:5672/tls?k")));
}

TEST_CASE("one connection serves sockets of the same endpoint, whatever exchange or key") {
    CHECK(ok("h/k").endpoint_key() == ok("H/exchange=x;persistent?k2").endpoint_key());
    CHECK(ok("h/k").endpoint_key() != ok("h/vhost=v?k").endpoint_key());
    CHECK(ok("h/k").endpoint_key() != ok("guest:x@h/k").endpoint_key());
    CHECK(ok("h/k").endpoint_key() != ok("h:5672/tls?k").endpoint_key());
}
