#include "mi/jsonrpc.hpp"

#include "log/log.hpp"

#include <exception>

namespace evi::mi {

namespace {

// True when the text nests arrays/objects deeper than kMaxJsonDepth (strings skipped).
bool too_deep(std::string_view body) {
    size_t depth = 0;
    bool in_string = false, escaped = false;
    for (char c : body) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (c == '[' || c == '{') {
            if (++depth > kMaxJsonDepth) return true;
        } else if ((c == ']' || c == '}') && depth > 0)
            --depth;
    }
    return false;
}

json error_object(int code, std::string_view message, const json &id,
                  const std::optional<json> &data) {
    json err = json::object();
    err["code"] = code;
    err["message"] = std::string(message);
    if (data) err["data"] = *data;
    json reply = json::object();
    reply["jsonrpc"] = "2.0";
    reply["error"] = std::move(err);
    reply["id"] = id;
    return reply;
}

// The same text as dumping {"jsonrpc": "2.0", "result": …, "id": …}, without building it.
std::string result_text(const json &result, const json &id) {
    std::string out = R"({"jsonrpc":"2.0","result":)";
    out += result.is_null() ? R"("OK")" : dump(result);
    out += R"(,"id":)";
    out += dump(id);
    out += '}';
    return out;
}

// One request object, whose params are moved out; its reply's text, or nullopt for a
// notification (nothing to send back).
std::optional<std::string> handle_one(const CommandRegistry &commands, json &req) {
    const json null_id = nullptr;
    if (!req.is_object()) return error_reply(-32600, "Invalid Request", null_id, std::nullopt);
    const auto idv = req.find("id");
    const bool notification = idv == req.end();
    json id = notification ? null_id : *idv;
    if (!(id.is_string() || id.is_number() || id.is_null()))
        return error_reply(-32600, "Invalid Request", null_id,
                           json("id must be a string, a number or null"));
    auto jv = req.find("jsonrpc");
    if (jv == req.end() || !jv->is_string() || *jv != "2.0")
        return error_reply(-32600, "Invalid Request", id, json("jsonrpc must be \"2.0\""));
    auto mv = req.find("method");
    if (mv == req.end() || !mv->is_string())
        return error_reply(-32600, "Invalid Request", id, json("method must be a string"));
    json params = nullptr;
    if (auto pv = req.find("params"); pv != req.end()) {
        if (!pv->is_object() && !pv->is_array())
            return error_reply(-32600, "Invalid Request", id,
                               json("params must be an object or an array"));
        params = std::move(*pv);
    }

    const std::string &method = mv->get_ref<const std::string &>();
    const Command *cmd = commands.find(method);
    if (!cmd) {
        if (notification) return std::nullopt;
        return error_reply(-32601, "Method not found", id, std::nullopt);
    }
    auto mapped = map_params(*cmd, std::move(params));
    if (auto *f = std::get_if<Failure>(&mapped)) {
        if (notification) return std::nullopt;
        return error_reply(f->code, f->message, id, f->data);
    }
    Outcome outcome;
    try {
        outcome = cmd->handler(std::get<Params>(mapped));
    } catch (const std::exception &e) {
        LOG_ERR("MI command %s failed: %s", method.c_str(), e.what());
        outcome = Failure{-32603, "Internal error", json(e.what())};
    }
    if (notification) return std::nullopt;
    if (auto *f = std::get_if<Failure>(&outcome))
        return error_reply(f->code, f->message, id, f->data);
    return result_text(std::get<json>(outcome), id);
}

} // namespace

std::string dump(const json &j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string error_reply(int code, std::string_view message, const json &id,
                        const std::optional<json> &data) {
    return dump(error_object(code, message, id, data));
}

std::variant<Params, Failure> map_params(const Command &command, json params) {
    static const std::vector<std::vector<std::string>> kNoParams{{}};
    const auto &sets = command.param_sets.empty() ? kNoParams : command.param_sets;

    if (params.is_null() || params.is_object()) {
        const size_t n = params.is_null() ? 0 : params.size();
        for (const auto &set : sets) {
            if (set.size() != n) continue;
            bool all = true;
            for (const auto &name : set)
                all = all && params.contains(name);
            if (all) return params.is_null() ? Params(json::object()) : Params(std::move(params));
        }
        return invalid_params();
    }
    if (!params.is_array()) return invalid_params();

    const size_t n = params.size();
    for (const auto &set : sets) {
        if (set.size() != n) continue;
        Params named = json::object();
        for (size_t i = 0; i < n; ++i)
            named[set[i]] = std::move(params[i]);
        return named;
    }
    // A trailing "params" takes every extra positional value (raise_event E_X a b c).
    const std::vector<std::string> *variadic = nullptr;
    for (const auto &set : sets)
        if (!set.empty() && set.back() == "params" && set.size() <= n &&
            (!variadic || set.size() > variadic->size()))
            variadic = &set;
    if (variadic) {
        Params named = json::object();
        const size_t fixed = variadic->size() - 1;
        for (size_t i = 0; i < fixed; ++i)
            named[(*variadic)[i]] = std::move(params[i]);
        json rest = json::array();
        for (size_t i = fixed; i < n; ++i)
            rest.push_back(std::move(params[i]));
        named["params"] = std::move(rest);
        return named;
    }
    return invalid_params();
}

std::string handle_body(const CommandRegistry &commands, std::string_view body) {
    if (too_deep(body))
        return error_reply(
            -32700, "Parse error", nullptr,
            json("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"));
    json req = json::parse(body.begin(), body.end(), nullptr, false);
    if (req.is_discarded()) return error_reply(-32700, "Parse error");
    if (!req.is_array()) {
        auto reply = handle_one(commands, req);
        return reply ? std::move(*reply) : std::string();
    }
    if (req.empty()) return error_reply(-32600, "Invalid Request", nullptr, json("empty batch"));
    std::string out;
    for (auto &r : req)
        if (auto reply = handle_one(commands, r)) {
            out += out.empty() ? '[' : ',';
            out += *reply;
        }
    return out.empty() ? out : out + ']';
}

} // namespace evi::mi
