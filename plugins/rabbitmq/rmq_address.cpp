#include "rmq_address.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace evi::rmq {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string lower(std::string_view s) {
    std::string r(s);
    std::transform(r.begin(), r.end(), r.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return r;
}

// Escapes '%', control bytes, and the characters that would end the component.
std::string escape(std::string_view s, std::string_view specials) {
    static const char digits[] = "0123456789ABCDEF";
    std::string r;
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '%' || c < 0x20 || c == 0x7f || specials.find(ch) != std::string_view::npos) {
            r += '%';
            r += digits[c >> 4];
            r += digits[c & 15];
        } else {
            r += ch;
        }
    }
    return r;
}

bool component(std::string_view raw, const char *what, std::string &out, std::string &err) {
    if (!url_unescape(raw, out)) {
        err = std::string("malformed %-escape in the ") + what + " '" + std::string(raw) +
              "' (expected %XX with two hex digits)";
        return false;
    }
    return true;
}

bool parse_params(std::string_view params, Address &a, std::string &err) {
    while (!params.empty()) {
        size_t semi = params.find(';');
        std::string_view item = params.substr(0, semi);
        params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
        if (item.empty()) continue;
        size_t eq = item.find('=');
        std::string key = lower(item.substr(0, eq));
        bool has_value = eq != std::string_view::npos;
        std::string_view raw = has_value ? item.substr(eq + 1) : std::string_view{};
        if (key == "exchange" || key == "vhost") {
            std::string value;
            if (!has_value || raw.empty()) {
                err = "parameter '" + key + "' needs a value (" + key + "=NAME)";
                return false;
            }
            if (!component(raw, key.c_str(), value, err)) return false;
            (key == "exchange" ? a.exchange : a.vhost) = value;
        } else if (key == "persistent" || key == "tls") {
            if (has_value) {
                err = "parameter '" + key + "' takes no value";
                return false;
            }
            (key == "persistent" ? a.persistent : a.tls) = true;
        } else if (key == "tls_domain") {
            // OpenSIPS names a tls_mgm domain here; ours are the tls_* modparams.
            a.tls = true;
        } else {
            err = "unknown parameter '" + std::string(item) +
                  "' (expected exchange=NAME, persistent, vhost=NAME or tls, ';'-separated, "
                  "before '?')";
            return false;
        }
    }
    return true;
}

// A host that print() writes back as it was read: a name or IPv4 address, or an IPv6 address
// (then printed in brackets). '[', ']', '/', '?', '@', ':' outside brackets, blanks and control
// bytes would make the printed socket another socket, or no socket at all.
bool valid_host(std::string_view host, bool bracketed) {
    if (bracketed)
        return host.find(':') != std::string_view::npos &&
               std::all_of(host.begin(), host.end(), [](unsigned char c) {
                   return std::isxdigit(c) || c == ':' || c == '.';
               });
    return std::all_of(host.begin(), host.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '.' || c == '-' || c == '_';
    });
}

// The host as an error message may show it: printable, and not too long.
std::string shown(std::string_view s) {
    std::string r = escape(s.substr(0, 64), "");
    if (s.size() > 64) r += "...";
    return r;
}

bool parse_hostport(std::string_view hp, Address &a, std::string &err) {
    std::string_view host = hp, port;
    const bool bracketed = !hp.empty() && hp.front() == '[';
    if (bracketed) {
        size_t close = hp.find(']');
        if (close == std::string_view::npos) {
            err = "missing ']' after the IPv6 address '" + std::string(hp) + "'";
            return false;
        }
        host = hp.substr(1, close - 1);
        std::string_view rest = hp.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                err = "expected ':PORT' after ']' in '" + std::string(hp) + "'";
                return false;
            }
            port = rest.substr(1);
            if (port.empty()) {
                err = "empty port after ':' in '" + std::string(hp) + "'";
                return false;
            }
        }
    } else {
        size_t colon = hp.rfind(':');
        if (colon != std::string_view::npos) {
            host = hp.substr(0, colon);
            port = hp.substr(colon + 1);
            if (port.empty()) {
                err = "empty port after ':' in '" + std::string(hp) + "'";
                return false;
            }
        }
    }
    if (host.empty()) {
        err = "missing broker host (expected [user[:password]@]host[:port]/[params?]routing_key)";
        return false;
    }
    if (!component(host, "host", a.host, err)) return false;
    if (!valid_host(a.host, bracketed)) {
        err = "bad broker host '" + shown(a.host) +
              (bracketed ? "': expected an IPv6 address in brackets (hex digits, ':' and '.', "
                           "as in [::1]:5672)"
                         : "': expected a host name or IPv4 address (letters, digits, '.', '-', "
                           "'_'), or an IPv6 address in brackets, as in [::1]:5672");
        return false;
    }
    if (!port.empty()) {
        unsigned v = 0;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
        if (ec != std::errc{} || end != port.data() + port.size() || v == 0 || v > 65535) {
            err = "bad port '" + std::string(port) + "' (expected 1-65535)";
            return false;
        }
        a.port = static_cast<uint16_t>(v);
    }
    return true;
}

} // namespace

bool url_unescape(std::string_view s, std::string &out) {
    out.clear();
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size()) return false;
        int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
        if (hi < 0 || lo < 0) return false;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return true;
}

std::optional<Address> Address::parse(std::string_view text, std::string &err) {
    Address a;
    size_t slash = text.find('/');
    if (slash == std::string_view::npos) {
        err = "missing '/' before the routing key (expected "
              "[user[:password]@]host[:port]/[params?]routing_key)";
        return std::nullopt;
    }
    std::string_view authority = text.substr(0, slash);
    std::string_view path = text.substr(slash + 1);

    size_t at = authority.rfind('@');
    bool port_given = false;
    if (at != std::string_view::npos) {
        std::string_view userinfo = authority.substr(0, at);
        authority = authority.substr(at + 1);
        size_t colon = userinfo.find(':');
        std::string_view user = userinfo.substr(0, colon);
        if (user.empty()) {
            err = "empty user name before '@'";
            return std::nullopt;
        }
        if (!component(user, "user name", a.user, err)) return std::nullopt;
        a.password.clear(); // as OpenSIPS: a user without a password logs in with an empty one
        if (colon != std::string_view::npos &&
            !component(userinfo.substr(colon + 1), "password", a.password, err))
            return std::nullopt;
    }
    {
        std::string_view hp = authority;
        if (!hp.empty() && hp.front() == '[')
            port_given = hp.find("]:") != std::string_view::npos;
        else
            port_given = hp.find(':') != std::string_view::npos;
        if (!parse_hostport(hp, a, err)) return std::nullopt;
    }

    std::string_view key = path;
    size_t q = path.find('?');
    if (q != std::string_view::npos) {
        if (!parse_params(path.substr(0, q), a, err)) return std::nullopt;
        key = path.substr(q + 1);
    }
    if (!component(key, "routing key", a.routing_key, err)) return std::nullopt;
    if (a.routing_key.empty() && a.exchange.empty()) {
        err = "missing routing key after '/' (the default exchange routes by queue name)";
        return std::nullopt;
    }
    if (a.routing_key.size() > 255 || a.exchange.size() > 255) {
        err = "routing key and exchange name are limited to 255 bytes";
        return std::nullopt;
    }
    if (a.tls && !port_given) a.port = 5671;
    return a;
}

std::string Address::print() const {
    std::string r = escape(user, ":@/");
    r += '@';
    if (host.find(':') != std::string::npos)
        r += "[" + host + "]";
    else
        r += escape(host, ":@/");
    r += ':' + std::to_string(port) + '/';
    std::string params;
    auto add = [&](const std::string &p) {
        if (!params.empty()) params += ';';
        params += p;
    };
    if (!exchange.empty()) add("exchange=" + escape(exchange, ";?"));
    if (persistent) add("persistent");
    if (vhost != "/") add("vhost=" + escape(vhost, ";?/"));
    if (tls) add("tls");
    if (!params.empty()) r += params + '?';
    r += escape(routing_key, "?");
    return r;
}

std::string Address::endpoint_key() const {
    // '\n' cannot appear unescaped in a component, so the key is unambiguous enough; the
    // lengths make it exact.
    std::string k;
    for (const std::string *s : {&user, &password, &vhost})
        k += std::to_string(s->size()) + ':' + *s;
    k += lower(host) + '\n' + std::to_string(port) + (tls ? "\ntls" : "\nplain");
    return k;
}

std::string Address::endpoint_text() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return user + "@" + h + ":" + std::to_string(port) + " vhost '" + vhost + "'" +
           (tls ? " (tls)" : "");
}

bool Address::same_destination(const Address &o) const {
    return user == o.user && lower(host) == lower(o.host) && port == o.port && vhost == o.vhost &&
           tls == o.tls && exchange == o.exchange && routing_key == o.routing_key;
}

} // namespace evi::rmq
