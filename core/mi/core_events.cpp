#include "mi/core_events.hpp"

#include "app.hpp"
#include "log/log.hpp"
#include "mi/observe.hpp"
#include "runtime.hpp"

#include <atomic>
#include <ctime>
#include <mutex>
#include <unistd.h>

namespace evi {

namespace {

constexpr const char *kThreshold = "E_CORE_THRESHOLD";
constexpr const char *kLog = "E_CORE_LOG";
constexpr const char *kSubscriberStatus = "E_EVI_SUBSCRIBER_STATUS";
constexpr const char *kMemThreshold = "E_CORE_MEM_THRESHOLD";

// At most this many E_CORE_LOG events per second: a subscriber whose failed deliveries are
// themselves logged must not turn the log into a feedback loop.
constexpr int kLogEventsPerSecond = 200;

EventParam str_param(const char *name, std::string value) {
    return EventParam{name, std::move(value)};
}
EventParam int_param(const char *name, int64_t value) {
    return EventParam{name, value};
}

// Raise on a runtime thread: callers (delivery workers, the logger) may hold core locks.
void raise_later(App &app, const char *event, EventParams params) {
    if (!app.runtime || !app.events) return;
    EventCore *core = app.events.get();
    app.runtime->post(
        [core, event, params = std::move(params)] { (void)core->raise(event, params); });
}

bool mentions(std::string_view text, std::string_view what) {
    return text.find(what) != std::string_view::npos;
}

struct LogLimiter {
    std::mutex mutex;
    std::time_t second = 0;
    int count = 0;
    bool allow() {
        std::lock_guard lock(mutex);
        const std::time_t now = std::time(nullptr);
        if (now != second) {
            second = now;
            count = 0;
        }
        return ++count <= kLogEventsPerSecond;
    }
};

} // namespace

Result<void> setup_core_events(App &app) {
    if (!app.events) return make_error("core events: the event core is not created yet");
    for (const char *name : {kThreshold, kLog, kSubscriberStatus, kMemThreshold})
        if (auto r = app.events->publish(name); !r)
            return make_error(std::string("core events: cannot publish ") + name + ": " +
                              r.error().message);

    app.events->on_subscriber_status = [&app](const std::string &event, const std::string &socket,
                                              bool up, const std::string &reason) {
        raise_later(app, kSubscriberStatus,
                    {str_param("event", event), str_param("socket", socket),
                     str_param("status", up ? "up" : "down"), str_param("reason", reason)});
    };

    app.events->on_threshold = [&app](const std::string &source, int64_t micros,
                                      const std::string &extra) {
        // A slow delivery of E_CORE_THRESHOLD itself would report itself forever.
        if (mentions(source, kThreshold) || mentions(extra, kThreshold)) return;
        raise_later(
            app, kThreshold,
            {str_param("source", source), int_param("time", micros), str_param("extra", extra)});
    };

    if (app.globals.log_event_enabled) {
        auto limiter = std::make_shared<LogLimiter>();
        log::set_sink(
            [&app, limiter](int level, std::string_view module, std::string_view msg) {
                // Lines about E_CORE_LOG's own deliveries would feed the loop.
                if (mentions(msg, kLog) || !limiter->allow()) return;
                raise_later(app, kLog,
                            {int_param("time", static_cast<int64_t>(std::time(nullptr))),
                             str_param("level", log::level_name(level)),
                             str_param("module", std::string(module)),
                             str_param("message", std::string(msg))});
            },
            app.globals.log_event_level_filter);
    }

    if (app.globals.mem_threshold_mb > 0 && app.runtime) {
        const int64_t threshold = app.globals.mem_threshold_mb * 1024 * 1024;
        auto above = std::make_shared<std::atomic<bool>>(false);
        app.runtime->every(std::chrono::seconds(1), [&app, threshold, above] {
            const int64_t rss = mi::process_figures().rss_bytes;
            // Raised once per crossing; re-armed when RSS falls back below the threshold.
            if (rss > threshold) {
                if (!above->exchange(true)) {
                    LOG_WARN("resident memory %lld bytes is above mem_threshold_mb (%lld bytes)",
                             static_cast<long long>(rss), static_cast<long long>(threshold));
                    raise_later(app, kMemThreshold,
                                {int_param("used", rss), int_param("threshold", threshold),
                                 int_param("pid", static_cast<int64_t>(getpid()))});
                }
            } else {
                above->store(false);
            }
        });
    }
    return {};
}

void teardown_core_events(App &app) {
    if (app.globals.log_event_enabled) log::clear_sink();
    if (app.events) {
        app.events->on_subscriber_status = nullptr;
        app.events->on_threshold = nullptr;
    }
}

} // namespace evi
