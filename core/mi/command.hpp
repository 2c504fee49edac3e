// Management commands: one registry for the core's commands and those exported by modules.
// The MI server (core/mi/server) turns JSON-RPC requests into calls of these handlers.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
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
    std::string name;                              // "event_subscribe"
    std::vector<std::string> aliases;              // "evi:subscribe"
    std::string help;                              // one sentence
    std::vector<std::vector<std::string>> param_sets; // OpenSIPS `which`: [["event","socket"],…]
    Handler handler;
};

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
