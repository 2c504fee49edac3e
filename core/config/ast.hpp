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
    std::string str() const {
        return file + ":" + std::to_string(line) + ":" + std::to_string(col);
    }
};

// "file:line:col: error: message". Control bytes (but line breaks) and invalid UTF-8 in the
// message are escaped as excerpt() does: a safety net for messages that quote input raw.
std::string format_error(const Location &loc, std::string_view message);

// What an error message may quote of the input: at most `max` bytes, so that a hostile config
// (a 10 MB name) never turns into a 10 MB error, and never a raw control byte or invalid UTF-8
// (an ESC would drive the terminal that shows the log): those are written as \n, \r, \t or
// \xHH. Valid UTF-8 stays as it is.
std::string excerpt(std::string_view text, size_t max = 64);

// What is wrong with an event name (empty when nothing is), as a sentence that quotes the name
// safely and says what is expected: 1 to 64 characters of letters, digits, '_', '.', ':', '-'
// (the event core's rule, evi::kMaxEventNameLength).
std::string event_name_problem(std::string_view name);

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
