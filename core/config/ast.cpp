#include "config/ast.hpp"

#include "evi/event.hpp"

#include <cctype>

namespace evi::config {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one (overlong
// forms, surrogates and code points above U+10FFFF are not valid) or is a C1 control.
size_t utf8_length(std::string_view s, size_t i) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = b(0);
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf; // the range of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        if (c == 0xc2) lo = 0xa0; // U+0080..U+009F are C1 control characters: escaped too
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else {
        return 0;
    }
    if (i + n > s.size()) return 0;
    if (b(1) < lo || b(1) > hi) return 0;
    for (size_t k = 2; k < n; ++k)
        if ((b(k) & 0xc0) != 0x80) return 0;
    return n;
}

// Appends text[0..max) to out with control bytes and invalid UTF-8 escaped; returns how many
// bytes of text were taken.
size_t escape_into(std::string &out, std::string_view text, size_t max, bool keep_newlines) {
    static const char hex[] = "0123456789abcdef";
    size_t i = 0;
    while (i < text.size() && i < max) {
        const auto c = static_cast<unsigned char>(text[i]);
        if ((c >= 0x20 && c < 0x7f) || (c == '\n' && keep_newlines)) {
            out.push_back(static_cast<char>(c));
            ++i;
        } else if (c == '\n') {
            out += "\\n";
            ++i;
        } else if (c == '\r') {
            out += "\\r";
            ++i;
        } else if (c == '\t') {
            out += "\\t";
            ++i;
        } else if (size_t n = c >= 0x80 ? utf8_length(text, i) : 0; n && i + n <= max) {
            out.append(text.substr(i, n));
            i += n;
        } else if (n) {
            break; // a character that does not fit in `max` whole: cut before it
        } else {
            out += "\\x";
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
            ++i;
        }
    }
    return i;
}

} // namespace

std::string excerpt(std::string_view text, size_t max) {
    std::string out;
    if (escape_into(out, text, max, false) < text.size())
        out += "... (" + std::to_string(text.size()) + " bytes)";
    return out;
}

std::string format_error(const Location &loc, std::string_view message) {
    std::string out = loc.str() + ": error: ";
    escape_into(out, message, message.size(), true);
    return out;
}

std::string event_name_problem(std::string_view name) {
    const std::string expected = "expected 1 to " + std::to_string(kMaxEventNameLength) +
                                 " characters of letters, digits, '_', '.', ':', '-'";
    if (name.empty()) return "bad event name '': it is empty; " + expected;
    if (name.size() > kMaxEventNameLength)
        return "bad event name '" + excerpt(name.substr(0, 16)) + "...': it is " +
               std::to_string(name.size()) + " characters long; " + expected;
    for (size_t i = 0; i < name.size(); ++i) {
        const auto c = static_cast<unsigned char>(name[i]);
        if (std::isalnum(c) || c == '_' || c == '.' || c == ':' || c == '-') continue;
        return "bad event name '" + excerpt(name) + "': it has " +
               (c == ' ' ? std::string("a space") : "'" + excerpt(name.substr(i, 1)) + "'") +
               " at position " + std::to_string(i + 1) + "; " + expected;
    }
    return {};
}

} // namespace evi::config
