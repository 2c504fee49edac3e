#include "log/log.hpp"

#include <atomic>
#include <cctype>
#include <charconv>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>
#include <sys/time.h>

namespace evi::log {

namespace {
std::atomic<int> g_level{Notice};
std::mutex g_sink_mutex;
Sink g_sink;
std::atomic<int> g_sink_level{Err};
std::atomic<bool> g_has_sink{false};
thread_local bool t_in_sink = false;

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto &c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}
} // namespace

void set_level(int lvl) {
    g_level.store(lvl, std::memory_order_relaxed);
}
int level() {
    return g_level.load(std::memory_order_relaxed);
}

std::optional<int> parse_level(std::string_view text) {
    int n = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec == std::errc() && p == text.data() + text.size()) {
        if (n < Alert || n > Debug) return std::nullopt;
        return n;
    }
    const std::string t = lower(text);
    if (t == "alert") return Alert;
    if (t == "crit" || t == "critical") return Crit;
    if (t == "err" || t == "error") return Err;
    if (t == "warn" || t == "warning") return Warn;
    if (t == "notice") return Notice;
    if (t == "info") return Info;
    if (t == "debug" || t == "dbg") return Debug;
    return std::nullopt;
}

const char *level_name(int lvl) {
    switch (lvl) {
    case Alert:
        return "ALERT";
    case Crit:
        return "CRITICAL";
    case Err:
        return "ERROR";
    case Warn:
        return "WARNING";
    case Notice:
        return "NOTICE";
    case Info:
        return "INFO";
    case Debug:
        return "DBG";
    default:
        return lvl < Alert ? "ALERT" : "DBG";
    }
}

void write(int lvl, std::string_view module, std::string_view message) {
    if (enabled(lvl)) {
        timeval tv{};
        gettimeofday(&tv, nullptr);
        tm t{};
        localtime_r(&tv.tv_sec, &t);
        char stamp[32];
        std::strftime(stamp, sizeof stamp, "%b %d %H:%M:%S", &t);
        std::string line;
        line.reserve(message.size() + module.size() + 48);
        line.append(stamp).append(" [").append(level_name(lvl)).append("] ");
        line.append(module).append(": ").append(message);
        if (line.empty() || line.back() != '\n') line.push_back('\n');
        std::fwrite(line.data(), 1, line.size(), stderr);
    }
    if (g_has_sink.load(std::memory_order_acquire) && !t_in_sink &&
        lvl <= g_sink_level.load(std::memory_order_relaxed)) {
        Sink sink;
        {
            std::lock_guard lock(g_sink_mutex);
            sink = g_sink;
        }
        if (sink) {
            t_in_sink = true;
            sink(lvl, module, message);
            t_in_sink = false;
        }
    }
}

void writef(int lvl, const char *module, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (static_cast<size_t>(n) < sizeof buf) {
        write(lvl, module, std::string_view(buf, static_cast<size_t>(n)));
        return;
    }
    std::string big(static_cast<size_t>(n) + 1, '\0');
    va_start(ap, fmt);
    std::vsnprintf(big.data(), big.size(), fmt, ap);
    va_end(ap);
    big.resize(static_cast<size_t>(n));
    write(lvl, module, big);
}

void set_sink(Sink sink, int min_level) {
    std::lock_guard lock(g_sink_mutex);
    g_sink = std::move(sink);
    g_sink_level.store(min_level);
    g_has_sink.store(static_cast<bool>(g_sink), std::memory_order_release);
}

void clear_sink() {
    set_sink(nullptr, Err);
}

} // namespace evi::log
