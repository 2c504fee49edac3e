// A parsed event_rabbitmq socket:
//   rabbitmq:[user[:password]@]host[:port]/[params?]routing_key
// params: ';'-separated exchange=NAME, persistent, vhost=NAME, tls (tls_domain=X means tls).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace evi::rmq {

struct Address {
    std::string user = "guest";
    std::string password = "guest";
    std::string host; // without IPv6 brackets
    uint16_t port = 5672;
    std::string vhost = "/";
    std::string exchange; // "" = the default exchange
    std::string routing_key;
    bool persistent = false;
    bool tls = false;

    /** Parses the part after "rabbitmq:"; on error returns nullopt and a sentence in err. */
    static std::optional<Address> parse(std::string_view text, std::string &err);

    /** As the user would write it (without "rabbitmq:"), never with the password. */
    std::string print() const;

    /** Same broker endpoint: one AMQP connection serves every socket with the same key. */
    std::string endpoint_key() const;

    /** The broker endpoint as shown in logs: user@host:port vhost "/". */
    std::string endpoint_text() const;

    /** Both sockets address the same destination (broker, vhost, user, exchange, key). */
    bool same_destination(const Address &o) const;
};

/** %XX-decodes s; returns false on a malformed escape. */
bool url_unescape(std::string_view s, std::string &out);

} // namespace evi::rmq
