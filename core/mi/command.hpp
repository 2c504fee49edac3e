// Management commands: one registry for the core's commands and those exported by modules.
// The MI server (core/mi/server) turns JSON-RPC requests into calls of these handlers.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace evi::mi {

using json = nlohmann::ordered_json;

// A JSON-RPC error: -32602 invalid params, or OpenSIPS's codes (400, 404, 480, 500).
struct Failure {
    int code = 500;
    std::string message;
    std::optional<json> data;
};

// Named params: an object whose values are whatever the client sent (strings, numbers,
// objects). Positional params are mapped to names by the command's parameter sets first.
using Params = json;
using Outcome = std::variant<json, Failure>;
using Handler = std::function<Outcome(const Params &)>;

struct Command {
    std::string name;                                 // "event_subscribe"
    std::vector<std::string> aliases;                 // "evi:subscribe"
    std::string help;                                 // one sentence
    std::vector<std::vector<std::string>> param_sets; // OpenSIPS `which`: [["event","socket"],…]
    Handler handler;
    std::string module = {}; // who exports it, for `help`; empty: the core
};

// Failures every handler uses: -32602 "Invalid params" (optionally with data), and OpenSIPS's
// 400 "Bad parameter value".
Failure invalid_params(std::string data = {});
Failure bad_parameter_value(std::string data = {});

// Reading named params with OpenSIPS's leniency: clients such as opensips-cli send every value
// as a string, so a numeric string is accepted where an integer is expected, and a number is
// accepted where a string is expected.
enum class Got { Missing, Ok, Bad };
Got get_string(const Params &params, const char *name, std::string &out);
Got get_int(const Params &params, const char *name, int64_t &out);

// Run fn after the current reply has been written to the client (the server calls what the
// handler queued; outside a server it runs when the request is done). `shutdown` uses it so
// that its "OK" reaches the client before the listener closes.
void after_reply(std::function<void()> fn);
std::vector<std::function<void()>> take_after_reply();

class CommandRegistry {
  public:
    // Refuses (returns false) a name or alias that is already taken.
    bool add(Command command);
    const Command *find(const std::string &name_or_alias) const;
    std::vector<const Command *> all() const; // registration order
    std::vector<std::string> names() const;   // every name and alias

  private:
    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<Command>> commands_;
    std::map<std::string, const Command *, std::less<>> by_name_;
};

} // namespace evi::mi
