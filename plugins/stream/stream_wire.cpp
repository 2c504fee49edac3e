#include "stream_wire.h"

#include <cstdio>

namespace stream {

bool parse_address(std::string_view text, Address &out, std::string &err) {
    out = Address{};
    std::size_t pos = evinet::parse_host_port(text, out.dest, err);
    if (pos == 0) {
        err += " (expected HOST:PORT[/METHOD])";
        return false;
    }
    std::string_view rest = text.substr(pos);
    if (rest.empty()) return true;
    if (rest[0] != '/') {
        err = "unexpected '" + std::string(rest) + "' after the port (expected HOST:PORT[/METHOD])";
        return false;
    }
    rest.remove_prefix(1);
    if (rest.empty()) {
        err = "the method after '/' is empty (expected HOST:PORT[/METHOD])";
        return false;
    }
    for (char c : rest) {
        auto u = static_cast<unsigned char>(c);
        if (u <= ' ' || u == 0x7f) {
            err = "the method may not contain spaces or control characters";
            return false;
        }
    }
    out.method = std::string(rest);
    return true;
}

std::string print_address(const Address &a) {
    std::string s = a.dest.print();
    if (!a.method.empty()) s += "/" + a.method;
    return s;
}

bool same_address(const Address &a, const Address &b) {
    return a.dest.same(b.dest) && a.method == b.method;
}

void append_json_string(std::string &out, std::string_view s) {
    out += '"';
    for (char c : s) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char u[8];
                std::snprintf(u, sizeof u, "\\u%04x", static_cast<unsigned>(c));
                out += u;
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

std::string build_payload(std::string_view method, const evi_event_t &ev, int64_t id,
                          std::string_view event_param) {
    std::string j;
    j.reserve(64 + method.size() + ev.nparams * 32);
    j += '{';
    if (id != 0) {
        j += "\"id\":";
        j += std::to_string(id);
        j += ',';
    }
    j += "\"jsonrpc\":\"2.0\",\"method\":";
    append_json_string(j, method);
    std::string_view name(ev.name.s ? ev.name.s : "", ev.name.len);
    if (ev.nparams > 0 || !event_param.empty()) {
        bool array = ev.nparams > 0 && ev.params[0].name.len == 0;
        j += array ? ",\"params\":[" : ",\"params\":{";
        bool first = true;
        if (!event_param.empty()) {
            if (!array) {
                append_json_string(j, event_param);
                j += ':';
            }
            append_json_string(j, name);
            first = false;
        }
        for (std::size_t i = 0; i < ev.nparams; ++i) {
            const evi_param_t &p = ev.params[i];
            if (!first) j += ',';
            first = false;
            if (!array) {
                append_json_string(j, std::string_view(p.name.s ? p.name.s : "", p.name.len));
                j += ':';
            }
            if (p.type == EVI_VAL_INT)
                j += std::to_string(p.i);
            else if (p.s.s)
                append_json_string(j, std::string_view(p.s.s, p.s.len));
            else
                j += "null";
        }
        j += array ? ']' : '}';
    }
    j += '}';
    return j;
}

namespace {

bool is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/** A small JSON scanner: finds where a value ends, and what a reply object says. */
class Scanner {
  public:
    explicit Scanner(std::string_view s) : s_(s) {}

    Scan top(std::size_t &consumed, Reply &r) {
        skip_ws();
        consumed = p_;
        if (p_ == s_.size()) return Scan::Incomplete;
        Scan st = s_[p_] == '{' ? object(&r, 1) : value(1);
        if (st == Scan::Complete) consumed = p_;
        return st;
    }

  private:
    static constexpr int max_depth = 64;
    std::string_view s_;
    std::size_t p_ = 0;

    void skip_ws() {
        while (p_ < s_.size() && is_ws(s_[p_]))
            ++p_;
    }

    Scan value(int depth) {
        if (depth > max_depth) return Scan::Invalid;
        skip_ws();
        if (p_ == s_.size()) return Scan::Incomplete;
        char c = s_[p_];
        if (c == '{') return object(nullptr, depth);
        if (c == '[') return array(depth);
        if (c == '"') return string();
        if (c == '-' || (c >= '0' && c <= '9')) return number(depth == 1);
        return literal();
    }

    Scan literal() {
        for (std::string_view lit : {"true", "false", "null"}) {
            if (s_[p_] != lit[0]) continue;
            std::string_view have = s_.substr(p_, lit.size());
            if (have != lit.substr(0, have.size())) return Scan::Invalid;
            if (have.size() < lit.size()) return Scan::Incomplete;
            p_ += lit.size();
            return Scan::Complete;
        }
        return Scan::Invalid;
    }

    Scan number(bool top_level) {
        std::size_t start = p_;
        if (s_[p_] == '-') ++p_;
        while (p_ < s_.size() && ((s_[p_] >= '0' && s_[p_] <= '9') || s_[p_] == '.' ||
                                  s_[p_] == 'e' || s_[p_] == 'E' || s_[p_] == '+' || s_[p_] == '-'))
            ++p_;
        if (p_ == s_.size() && top_level) return Scan::Incomplete; // "12" may still become "123"
        if (p_ == s_.size()) return Scan::Incomplete;
        return p_ > start + (s_[start] == '-' ? 1 : 0) ? Scan::Complete : Scan::Invalid;
    }

    Scan string() {
        ++p_; // opening quote
        while (p_ < s_.size()) {
            char c = s_[p_++];
            if (c == '\\') {
                if (p_ == s_.size()) return Scan::Incomplete;
                ++p_;
            } else if (c == '"') {
                return Scan::Complete;
            } else if (static_cast<unsigned char>(c) < 0x20) {
                return Scan::Invalid;
            }
        }
        return Scan::Incomplete;
    }

    Scan array(int depth) {
        ++p_; // [
        skip_ws();
        if (p_ == s_.size()) return Scan::Incomplete;
        if (s_[p_] == ']') {
            ++p_;
            return Scan::Complete;
        }
        for (;;) {
            Scan st = value(depth + 1);
            if (st != Scan::Complete) return st;
            skip_ws();
            if (p_ == s_.size()) return Scan::Incomplete;
            char c = s_[p_++];
            if (c == ']') return Scan::Complete;
            if (c != ',') return Scan::Invalid;
        }
    }

    /** An object; with r (the top level), notes its "id" and "error" members. */
    Scan object(Reply *r, int depth) {
        if (depth > max_depth) return Scan::Invalid;
        ++p_; // {
        skip_ws();
        if (p_ == s_.size()) return Scan::Incomplete;
        if (s_[p_] == '}') {
            ++p_;
            return Scan::Complete;
        }
        for (;;) {
            skip_ws();
            if (p_ == s_.size()) return Scan::Incomplete;
            if (s_[p_] != '"') return Scan::Invalid;
            std::size_t key_start = p_ + 1;
            Scan st = string();
            if (st != Scan::Complete) return st;
            std::string_view key = s_.substr(key_start, p_ - 1 - key_start);
            skip_ws();
            if (p_ == s_.size()) return Scan::Incomplete;
            if (s_[p_++] != ':') return Scan::Invalid;
            skip_ws();
            std::size_t value_start = p_;
            st = value(depth + 1);
            if (st != Scan::Complete) return st;
            if (r) note_member(*r, key, s_.substr(value_start, p_ - value_start));
            skip_ws();
            if (p_ == s_.size()) return Scan::Incomplete;
            char c = s_[p_++];
            if (c == '}') return Scan::Complete;
            if (c != ',') return Scan::Invalid;
        }
    }

    static void note_member(Reply &r, std::string_view key, std::string_view value) {
        if (key == "id") {
            std::size_t i = 0;
            bool neg = !value.empty() && value[0] == '-';
            if (neg) i = 1;
            if (i == value.size() || value.size() - i > 18) return;
            int64_t v = 0;
            for (; i < value.size(); ++i) {
                if (value[i] < '0' || value[i] > '9')
                    return; // a string, a fraction…: not one of our ids
                v = v * 10 + (value[i] - '0');
            }
            r.has_id = true;
            r.id = neg ? -v : v;
        } else if (key == "error") {
            r.is_error = value != "null";
            r.error_text = std::string(value.substr(0, 200));
        }
    }
};

} // namespace

Scan scan_reply(std::string_view buf, std::size_t &consumed, Reply &r) {
    r = Reply{};
    return Scanner(buf).top(consumed, r);
}

} // namespace stream
