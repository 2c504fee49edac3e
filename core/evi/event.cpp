#include "evi/event.hpp"

#include <charconv>

namespace evi {

OwnedEvent::OwnedEvent(std::string_view name, const evi_param_t *params, size_t n,
                       std::string json)
    : name_(name), json_(std::move(json)) {
    // Copy every string first, then point the C views at the copies (strings_ never grows
    // after this, so the pointers stay valid).
    strings_.reserve(2 * n);
    for (size_t i = 0; i < n; ++i) {
        strings_.emplace_back(params[i].name.s ? params[i].name.s : "", params[i].name.len);
        if (params[i].type == EVI_VAL_STR)
            strings_.emplace_back(params[i].s.s ? params[i].s.s : "", params[i].s.len);
        else
            strings_.emplace_back();
    }
    params_.resize(n);
    for (size_t i = 0; i < n; ++i) {
        const auto &nm = strings_[2 * i];
        const auto &sv = strings_[2 * i + 1];
        params_[i].name = {nm.data(), nm.size()};
        params_[i].type = params[i].type;
        params_[i].i = params[i].i;
        params_[i].s = {sv.data(), sv.size()};
    }
    view_.name = {name_.data(), name_.size()};
    view_.params = params_.data();
    view_.nparams = n;
    view_.json = {json_.data(), json_.size()};
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
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        out.append(s.data() + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\b': out.append("\\b"); break;
        case '\f': out.append("\\f"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
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

std::string encode_json_notification(std::string_view name, const evi_param_t *params,
                                     size_t n) {
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
            if (i)
                out.push_back(',');
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
