// The process log: one level, stderr, and an optional hook that turns log lines into
// E_CORE_LOG events. A process-wide logger is the one global the core keeps: every thread and
// every module logs, and threading a logger through every call would buy nothing.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace evi::log {

// The same numbers as OpenSIPS's L_* levels (and evi_plugin.h's EVI_L_*).
enum Level : int {
    Alert = -3,
    Crit = -2,
    Err = -1,
    Warn = 1,
    Notice = 2,
    Info = 3,
    Debug = 4,
};

void set_level(int level);
int level();
inline bool enabled(int lvl) {
    return lvl <= level();
}

// Accepts a number (-3..4) or a name (alert, crit, error/err, warn/warning, notice, info,
// debug/dbg).
std::optional<int> parse_level(std::string_view text);
const char *level_name(int level);

void write(int level, std::string_view module, std::string_view message);
void writef(int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Called for every line written at or above the sink's level (E_CORE_LOG). The sink is not
// called again for lines logged while it runs (no recursion).
using Sink = std::function<void(int level, std::string_view module, std::string_view msg)>;
void set_sink(Sink sink, int min_level);
void clear_sink();

} // namespace evi::log

#define EVI_LOG(lvl, module, ...)                                                                  \
    do {                                                                                           \
        if (::evi::log::enabled(lvl)) ::evi::log::writef(lvl, module, __VA_ARGS__);                \
    } while (0)
#define LOG_ERR(...) EVI_LOG(::evi::log::Err, "core", __VA_ARGS__)
#define LOG_WARN(...) EVI_LOG(::evi::log::Warn, "core", __VA_ARGS__)
#define LOG_NOTICE(...) EVI_LOG(::evi::log::Notice, "core", __VA_ARGS__)
#define LOG_INFO(...) EVI_LOG(::evi::log::Info, "core", __VA_ARGS__)
#define LOG_DBG(...) EVI_LOG(::evi::log::Debug, "core", __VA_ARGS__)
