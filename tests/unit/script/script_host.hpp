// A real host for script tests: an EventCore, the real event_route transport (plugins/route,
// compiled into the test and wired through the core's host table), and a recording "rec"
// transport declared here and registered in the core's TransportRegistry.
#pragma once

#include "app.hpp"
#include "config/parser.hpp"
#include "log/log.hpp"
#include "runtime.hpp"
#include "script/script.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace script_test {

using namespace std::chrono_literals;

// Every event delivered to a "rec:" socket, as text: E_X(a="x",b=2) or E_X("x",2).
struct Recorder {
    std::mutex m;
    std::condition_variable cv;
    std::vector<std::string> events;
    std::vector<std::thread::id> threads;
    std::vector<std::string> logs; // "LEVEL module: message"
};
inline Recorder &rec() {
    static Recorder r;
    return r;
}

inline std::string show(const evi_event_t &ev) {
    std::string out(ev.name.s, ev.name.len);
    out += "(";
    for (size_t i = 0; i < ev.nparams; ++i) {
        const auto &p = ev.params[i];
        if (i) out += ",";
        if (p.name.len) out += std::string(p.name.s, p.name.len) + "=";
        if (p.type == EVI_VAL_INT)
            out += std::to_string(p.i);
        else
            out += "\"" + std::string(p.s.s, p.s.len) + "\"";
    }
    return out + ")";
}

inline int rec_parse(evi_str_t, int, void **sock, unsigned *, char *, size_t) {
    static int dummy;
    *sock = &dummy;
    return EVI_OK;
}
inline int rec_raise(void *, const evi_event_t *ev, uint64_t) {
    auto &r = rec();
    std::lock_guard lock(r.m);
    r.events.push_back(show(*ev));
    r.threads.push_back(std::this_thread::get_id());
    r.cv.notify_all();
    return EVI_OK;
}
inline int rec_match(const void *, const void *) {
    return 1;
}
inline int rec_print(const void *, char *buf, size_t len) {
    return std::snprintf(buf, len, "x");
}
inline void rec_free(void *) {}
inline const evi_transport_t rec_transport{
    sizeof(evi_transport_t), "rec", 0, rec_parse, rec_raise, rec_match, rec_print, rec_free};

extern "C" const evi_module_t *evi_module_descriptor(void); // plugins/route/route.c

struct Host {
    evi::App app;
    evi::ModuleContext ctx;
    evi_host_t table{};

    explicit Host(int64_t max_while_loops = 10000, bool with_route_module = true) {
        {
            auto &r = rec();
            std::lock_guard lock(r.m);
            r.events.clear();
            r.threads.clear();
            r.logs.clear();
        }
        evi::log::set_level(evi::log::Debug);
        evi::log::set_sink(
            [](int level, std::string_view module, std::string_view msg) {
                auto &r = rec();
                std::lock_guard lock(r.m);
                r.logs.push_back(std::string(evi::log::level_name(level)) + " " +
                                 std::string(module) + ": " + std::string(msg));
            },
            evi::log::Debug);
        app.globals.max_while_loops = max_while_loops;
        app.runtime = std::make_unique<evi::Runtime>(1);
        REQUIRE(app.transports.add(&rec_transport, "test"));
        app.events = std::make_unique<evi::EventCore>(app.transports);
        app.services = std::make_unique<evi::HostServices>(*app.events, app.transports,
                                                           *app.runtime, app.commands);
        if (with_route_module) {
            ctx.name = "event_route";
            ctx.services = app.services.get();
            evi::fill_host_table(table, &ctx);
            const evi_module_t *m = evi_module_descriptor();
            char err[256];
            REQUIRE(m->init(&table, err, sizeof err) == EVI_OK);
            REQUIRE(app.transports.add(&m->transports[0], "event_route"));
        }
    }

    ~Host() {
        app.runtime->stop();
        app.events->shutdown(2s);
        app.services->routes = nullptr;
        app.script.reset();
        app.events.reset();
        evi::log::clear_sink();
    }

    // Parse and compile; the error message, or "" when it compiled.
    std::string compile(const std::string &text) {
        auto cfg = evi::config::parse_text(text, "t.cfg");
        if (!cfg) return cfg.error().message;
        auto s = evi::script::Script::compile(*cfg, app);
        if (!s) return s.error().message;
        app.script = *s;
        return "";
    }

    // Compile (must succeed) and run startup_route; returns the events recorded meanwhile.
    // Text without a startup_route becomes its body (from line 2), after a subscription of
    // E_OUT to the recorder.
    std::string run(const std::string &text) {
        std::string cfg =
            text.find("startup_route") != std::string::npos
                ? text
                : "startup_route { subscribe_event(\"E_OUT\", \"rec:x\");\n" + text + "\n}\n";
        auto err = compile(cfg);
        REQUIRE_MESSAGE(err.empty(), err);
        app.script->start();
        return events();
    }

    // The recorded events, one per line.
    std::string events() {
        auto &r = rec();
        std::lock_guard lock(r.m);
        std::string out;
        for (const auto &e : r.events)
            out += (out.empty() ? "" : "\n") + e;
        return out;
    }
    size_t count() {
        auto &r = rec();
        std::lock_guard lock(r.m);
        return r.events.size();
    }
    bool wait_events(size_t n, std::chrono::milliseconds timeout = 3s) {
        auto &r = rec();
        std::unique_lock lock(r.m);
        return r.cv.wait_for(lock, timeout, [&] { return r.events.size() >= n; });
    }
    // The log lines containing `needle`, one per line.
    std::string logs(const std::string &needle) {
        auto &r = rec();
        std::lock_guard lock(r.m);
        std::string out;
        for (const auto &l : r.logs)
            if (l.find(needle) != std::string::npos) out += (out.empty() ? "" : "\n") + l;
        return out;
    }
};

} // namespace script_test
