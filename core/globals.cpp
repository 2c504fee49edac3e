#include "globals.hpp"

#include "log/log.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <map>

namespace evi {

namespace {

using Values = std::vector<config::Literal>;
using Setter = std::function<Result<void>(Globals &, const Values &)>;

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

Result<int64_t> one_int(const Values &v, int64_t min, int64_t max) {
    auto range = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
    if (v.size() != 1) return make_error("expected one value, " + range);
    int64_t n = 0;
    if (auto i = std::get_if<int64_t>(&v[0])) {
        n = *i;
    } else {
        const auto &s = std::get<std::string>(v[0]);
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (ec != std::errc() || p != s.data() + s.size())
            return make_error("expected " + range + ", got \"" + s + "\"");
    }
    if (n < min || n > max) return make_error("expected " + range + ", got " + std::to_string(n));
    return n;
}

Result<std::string> one_string(const Values &v) {
    if (v.size() != 1) return make_error("expected one string value");
    if (auto s = std::get_if<std::string>(&v[0])) return *s;
    return std::to_string(std::get<int64_t>(v[0]));
}

Result<bool> one_bool(const Values &v) {
    if (v.size() == 1) {
        if (auto i = std::get_if<int64_t>(&v[0]); i && (*i == 0 || *i == 1)) return *i == 1;
        if (auto s = std::get_if<std::string>(&v[0])) {
            auto t = lower(*s);
            if (t == "yes" || t == "on" || t == "true" || t == "1") return true;
            if (t == "no" || t == "off" || t == "false" || t == "0") return false;
        }
    }
    return make_error("expected a boolean (yes/no, on/off, true/false, 1/0)");
}

Result<int> one_level(const Values &v) {
    if (v.size() == 1) {
        std::string text = std::holds_alternative<int64_t>(v[0])
                               ? std::to_string(std::get<int64_t>(v[0]))
                               : std::get<std::string>(v[0]);
        if (auto l = log::parse_level(text)) return *l;
    }
    return make_error("expected a log level from -3 (alert) to 4 (debug), or a level name");
}

template <class T> Setter int_field(T Globals::*field, int64_t min, int64_t max) {
    return [=](Globals &g, const Values &v) -> Result<void> {
        auto n = one_int(v, min, max);
        if (!n) return n.error();
        g.*field = static_cast<T>(*n);
        return {};
    };
}

const std::map<std::string, Setter, std::less<>> &setters() {
    static const std::map<std::string, Setter, std::less<>> table = {
        {"log_level",
         [](Globals &g, const Values &v) -> Result<void> {
             auto l = one_level(v);
             if (!l) return l.error();
             g.log_level = *l;
             return {};
         }},
        {"debug", // OpenSIPS 1.x spelling
         [](Globals &g, const Values &v) -> Result<void> {
             auto l = one_level(v);
             if (!l) return l.error();
             g.log_level = *l;
             return {};
         }},
        {"mpath",
         [](Globals &g, const Values &v) -> Result<void> {
             for (const auto &x : v) {
                 auto s = std::get_if<std::string>(&x);
                 if (!s || s->empty())
                     return make_error("expected one or more directory strings: \"/a\":\"/b\"");
                 g.mpath.push_back(*s);
             }
             return {};
         }},
        {"workers", int_field(&Globals::workers, 0, 256)},
        {"module_permission_check",
         [](Globals &g, const Values &v) -> Result<void> {
             auto b = one_bool(v);
             if (!b) return b.error();
             g.module_permission_check = *b;
             return {};
         }},
        {"queue_size", int_field(&Globals::queue_size, 1, 100000000)},
        {"delivery_retries", int_field(&Globals::delivery_retries, 0, 100)},
        {"shutdown_timeout", int_field(&Globals::shutdown_timeout, 0, 3600)},
        {"event_threshold_us", int_field(&Globals::event_threshold_us, 0, INT64_MAX)},
        {"log_event_enabled",
         [](Globals &g, const Values &v) -> Result<void> {
             auto b = one_bool(v);
             if (!b) return b.error();
             g.log_event_enabled = *b;
             return {};
         }},
        {"log_event_level_filter",
         [](Globals &g, const Values &v) -> Result<void> {
             auto l = one_level(v);
             if (!l) return l.error();
             g.log_event_level_filter = *l;
             return {};
         }},
        {"mem_threshold_mb", int_field(&Globals::mem_threshold_mb, 0, 1 << 20)},
        {"max_while_loops", int_field(&Globals::max_while_loops, 1, INT64_MAX)},
        {"mi_listen",
         [](Globals &g, const Values &v) -> Result<void> {
             auto s = one_string(v);
             if (!s) return s.error();
             g.mi_listen.push_back(*s);
             return {};
         }},
        {"mi_auth_token",
         [](Globals &g, const Values &v) -> Result<void> {
             auto s = one_string(v);
             if (!s) return s.error();
             g.mi_auth_token = *s;
             return {};
         }},
        {"mi_max_body", int_field(&Globals::mi_max_body, 1024, 1 << 30)},
        {"mi_max_connections", int_field(&Globals::mi_max_connections, 1, 100000)},
        {"mi_timeout_ms", int_field(&Globals::mi_timeout_ms, 100, 3600000)},
    };
    return table;
}

} // namespace

Result<void> apply_global(Globals &g, const config::GlobalParam &p) {
    const auto &table = setters();
    auto it = table.find(p.name);
    if (it == table.end()) {
        std::string known;
        for (const auto &[name, _] : table)
            known += (known.empty() ? "" : ", ") + name;
        return make_error("unknown global parameter '" + config::excerpt(p.name) +
                          "' (known: " + known + ")");
    }
    auto r = it->second(g, p.values);
    if (!r) return make_error("global parameter '" + p.name + "': " + r.error().message);
    return {};
}

} // namespace evi
