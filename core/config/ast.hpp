// The parsed configuration file: top-level directives in file order, and the route blocks.
// Owned by core/config (parser) — core/script defines what a route body holds.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace evi::config {

struct Location {
    std::string file;
    int line = 0; // 1-based
    int col = 0;  // 1-based
    std::string str() const { return file + ":" + std::to_string(line) + ":" + std::to_string(col); }
};

// "file:line:col: error: message"
inline std::string format_error(const Location &loc, std::string_view message) {
    return loc.str() + ": error: " + std::string(message);
}

// What an error message may quote of the input: at most `max` bytes, so that a hostile config
// (a 10 MB name) never turns into a 10 MB error.
inline std::string excerpt(std::string_view text, size_t max = 64) {
    if (text.size() <= max)
        return std::string(text);
    return std::string(text.substr(0, max)) + "... (" + std::to_string(text.size()) + " bytes)";
}

using Literal = std::variant<int64_t, std::string>;

// log_level = 3      mpath = "/a/":"/b/"
struct GlobalParam {
    Location loc;
    std::string name;
    std::vector<Literal> values; // several when written "a":"b"
};

// loadmodule "event_datagram.so"
struct LoadModule {
    Location loc;
    std::string path;
};

// modparam("event_datagram", "payload_format", "json")
struct ModParam {
    Location loc;
    std::string module; // an anchored, case-insensitive regex over loaded module names
    std::string param;
    Literal value;
    Location value_loc;
};

using Directive = std::variant<GlobalParam, LoadModule, ModParam>;

struct RouteBlock; // defined in core/script (statements of one route)

struct Config {
    std::string file;
    std::vector<Directive> directives;               // in file order
    std::vector<std::shared_ptr<RouteBlock>> routes; // in file order
};

} // namespace evi::config
