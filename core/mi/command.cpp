#include "mi/command.hpp"

#include <charconv>

namespace evi::mi {

bool CommandRegistry::add(Command command) {
    std::lock_guard lock(mutex_);
    if (by_name_.count(command.name)) return false;
    for (const auto &a : command.aliases)
        if (by_name_.count(a)) return false;
    auto owned = std::make_unique<Command>(std::move(command));
    by_name_[owned->name] = owned.get();
    for (const auto &a : owned->aliases)
        by_name_[a] = owned.get();
    commands_.push_back(std::move(owned));
    return true;
}

const Command *CommandRegistry::find(const std::string &name) const {
    std::lock_guard lock(mutex_);
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
}

std::vector<const Command *> CommandRegistry::all() const {
    std::lock_guard lock(mutex_);
    std::vector<const Command *> out;
    for (const auto &c : commands_)
        out.push_back(c.get());
    return out;
}

std::vector<std::string> CommandRegistry::names() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto &c : commands_) {
        out.push_back(c->name);
        for (const auto &a : c->aliases)
            out.push_back(a);
    }
    return out;
}

Failure invalid_params(std::string data) {
    Failure f{-32602, "Invalid params", std::nullopt};
    if (!data.empty()) f.data = std::move(data);
    return f;
}

Failure bad_parameter_value(std::string data) {
    Failure f{400, "Bad parameter value", std::nullopt};
    if (!data.empty()) f.data = std::move(data);
    return f;
}

Got get_string(const Params &params, const char *name, std::string &out) {
    if (!params.is_object()) return Got::Missing;
    auto it = params.find(name);
    if (it == params.end()) return Got::Missing;
    if (it->is_string()) {
        out = it->get<std::string>();
        return Got::Ok;
    }
    if (it->is_number_integer()) {
        out = std::to_string(it->get<int64_t>());
        return Got::Ok;
    }
    return Got::Bad;
}

namespace {
bool parse_int(std::string_view s, int64_t &out) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}
} // namespace

Got get_int(const Params &params, const char *name, int64_t &out) {
    if (!params.is_object()) return Got::Missing;
    auto it = params.find(name);
    if (it == params.end()) return Got::Missing;
    if (it->is_number_integer()) {
        out = it->get<int64_t>();
        return Got::Ok;
    }
    if (it->is_number_float()) {
        double d = it->get<double>();
        // Only a whole number inside int64_t's range converts (the cast is undefined outside).
        if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) ||
            d != static_cast<double>(static_cast<int64_t>(d)))
            return Got::Bad;
        out = static_cast<int64_t>(d);
        return Got::Ok;
    }
    if (it->is_string() && parse_int(it->get_ref<const std::string &>(), out)) return Got::Ok;
    return Got::Bad;
}

namespace {
thread_local std::vector<std::function<void()>> t_after_reply;
}

void after_reply(std::function<void()> fn) {
    t_after_reply.push_back(std::move(fn));
}

std::vector<std::function<void()>> take_after_reply() {
    std::vector<std::function<void()>> out;
    out.swap(t_after_reply);
    return out;
}

} // namespace evi::mi
