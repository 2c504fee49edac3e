#include "evi/event.hpp"

#include <charconv>
#include <cstring>
#include <new>

namespace evi {

OwnedEvent::OwnedEvent(std::string_view name, const evi_param_t *params, size_t n,
                       std::string_view json) {
    size_t bytes = n * sizeof(evi_param_t) + name.size() + json.size();
    for (size_t i = 0; i < n; ++i)
        bytes += params[i].name.len + (params[i].type == EVI_VAL_STR ? params[i].s.len : 0);
    buffer_.reset(new std::byte[bytes ? bytes : 1]);
    auto *out = reinterpret_cast<evi_param_t *>(buffer_.get());
    char *text = reinterpret_cast<char *>(buffer_.get() + n * sizeof(evi_param_t));
    auto copy = [&text](const char *s, size_t len) -> evi_str_t {
        evi_str_t r{text, len};
        if (len) std::memcpy(text, s, len);
        text += len;
        return r;
    };
    for (size_t i = 0; i < n; ++i) {
        evi_param_t p{};
        p.type = params[i].type;
        p.name = copy(params[i].name.s, params[i].name.len);
        if (p.type == EVI_VAL_STR) {
            p.s = copy(params[i].s.s, params[i].s.len);
        } else {
            p.i = params[i].i;
            p.s = {text, 0};
        }
        new (out + i) evi_param_t(p);
    }
    view_.name = copy(name.data(), name.size());
    view_.params = n ? out : nullptr;
    view_.nparams = n;
    view_.json = copy(json.data(), json.size());
}

std::vector<evi_param_t> to_c_params(const EventParams &params) {
    std::vector<evi_param_t> out(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
        const auto &p = params[i];
        out[i].name = {p.name.data(), p.name.size()};
        if (auto v = std::get_if<int64_t>(&p.value)) {
            out[i].type = EVI_VAL_INT;
            out[i].i = *v;
            out[i].s = {nullptr, 0};
        } else {
            const auto &s = std::get<std::string>(p.value);
            out[i].type = EVI_VAL_STR;
            out[i].i = 0;
            out[i].s = {s.data(), s.size()};
        }
    }
    return out;
}

void append_json_string(std::string &out, std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    out.push_back('"');
    size_t run = 0; // start of the current run of bytes that need no escaping
    for (size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s.data() + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            out.append("\\\"");
            break;
        case '\\':
            out.append("\\\\");
            break;
        case '\b':
            out.append("\\b");
            break;
        case '\f':
            out.append("\\f");
            break;
        case '\n':
            out.append("\\n");
            break;
        case '\r':
            out.append("\\r");
            break;
        case '\t':
            out.append("\\t");
            break;
        default:
            out.append("\\u00");
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0xf]);
        }
    }
    out.append(s.data() + run, s.size() - run);
    out.push_back('"');
}

namespace {
void append_value(std::string &out, const evi_param_t &p) {
    if (p.type == EVI_VAL_INT) {
        char buf[24];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, p.i);
        out.append(buf, end);
    } else {
        append_json_string(out, std::string_view(p.s.s ? p.s.s : "", p.s.len));
    }
}
} // namespace

std::string encode_json_notification(std::string_view name, const evi_param_t *params, size_t n) {
    std::string out;
    size_t guess = 40 + name.size();
    for (size_t i = 0; i < n; ++i)
        guess += params[i].name.len + params[i].s.len + 24;
    out.reserve(guess);
    out.append("{\"jsonrpc\":\"2.0\",\"method\":");
    append_json_string(out, name);
    if (n > 0) {
        const bool named = params[0].name.len > 0;
        out.append(",\"params\":");
        out.push_back(named ? '{' : '[');
        for (size_t i = 0; i < n; ++i) {
            if (i) out.push_back(',');
            if (named) {
                append_json_string(out, std::string_view(params[i].name.s ? params[i].name.s : "",
                                                         params[i].name.len));
                out.push_back(':');
            }
            append_value(out, params[i]);
        }
        out.push_back(named ? '}' : ']');
    }
    out.push_back('}');
    return out;
}

} // namespace evi
