// JSON-RPC 2.0 over a request body: parse, validate, map params to a command's names, call
// the handler, build the reply. No I/O here: the HTTP server hands bodies in and writes out
// what comes back, and unit tests call it directly.
#pragma once

#include "mi/command.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace evi::mi {

// Deeper JSON than this is refused as a parse error (keeps recursion in check).
constexpr size_t kMaxJsonDepth = 64;

// The reply body for one request body (single request or batch). Empty when every request
// was a notification (no "id"): JSON-RPC then sends nothing back.
std::string handle_body(const CommandRegistry &commands, std::string_view body);

// A JSON-RPC error reply, compact.
std::string error_reply(int code, std::string_view message, const json &id = nullptr,
                        const std::optional<json> &data = std::nullopt);

// Map `params` (absent/null, an object of names, or an array of positional values) onto the
// command's parameter sets. Returns the named params, or a -32602 Failure.
std::variant<Params, Failure> map_params(const Command &command, json params);

// Compact text that never throws on invalid UTF-8 from a plugin (bad bytes become U+FFFD).
std::string dump(const json &j);

} // namespace evi::mi
