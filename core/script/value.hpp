// Script values: NULL, a 64-bit integer or a byte string, and the conversions the operators use.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace evi::script {

using Value = std::variant<std::monostate, int64_t, std::string>;

inline bool is_null(const Value &v) {
    return v.index() == 0;
}
inline bool is_int(const Value &v) {
    return v.index() == 1;
}
inline bool is_str(const Value &v) {
    return v.index() == 2;
}

// "42", "-7" → number; anything else (including "", " 1", "1x") → nullopt.
inline std::optional<int64_t> parse_int(std::string_view s) {
    int64_t n = 0;
    if (s.empty()) return std::nullopt;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return n;
}

inline void append_int(std::string &out, int64_t n) {
    char buf[24];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, n);
    (void)ec;
    out.append(buf, p);
}

// For '+' concatenation: NULL adds nothing.
inline void append_value(std::string &out, const Value &v) {
    if (is_int(v))
        append_int(out, std::get<int64_t>(v));
    else if (is_str(v))
        out += std::get<std::string>(v);
}

// For formats (xlog, function arguments): NULL prints as OpenSIPS prints it.
inline void append_printed(std::string &out, const Value &v) {
    if (is_null(v))
        out += "<null>";
    else
        append_value(out, v);
}

// if ($var(x)): NULL, 0 and "" are false.
inline bool truthy(const Value &v) {
    if (is_int(v)) return std::get<int64_t>(v) != 0;
    if (is_str(v)) return !std::get<std::string>(v).empty();
    return false;
}

} // namespace evi::script
