// evid: the EVI host. Reads an OpenSIPS-style config, loads transport modules, runs the script
// and the management interface, and delivers events until SIGTERM/SIGINT.
#include "app.hpp"
#include "config/ast.hpp"
#include "config/parser.hpp"
#include "log/log.hpp"
#include "mi/core_events.hpp"
#include "mi/server.hpp"
#include "runtime.hpp"
#include "script/script.hpp"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <pthread.h>
#include <string>
#include <unistd.h>

namespace {

void usage(FILE *out) {
    std::fprintf(out,
                 "usage: evid [-f FILE] [-c] [-l LEVEL] [-V] [-h]\n"
                 "  -f FILE   config file (default: evid.cfg)\n"
                 "  -c        check the config (parse, load modules, apply modparams, compile the\n"
                 "            script, resolve subscriptions) and exit\n"
                 "  -l LEVEL  log level, -3..4 or a name (overrides log_level)\n"
                 "  -V        print the version and exit\n"
                 "  -h        this help\n"
                 "evid runs in the foreground and logs to stderr.\n");
}

// Modules of an uninstalled evid live in <build>/plugins; an installed one in <libdir>/evi.
std::vector<std::string> default_mpath() {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    const std::string build = EVI_BUILD_MPATH;
    const auto build_root = std::filesystem::path(build).parent_path().string();
    if (!ec && exe.rfind(build_root + "/", 0) == 0) return {build, EVI_INSTALL_MPATH};
    return {EVI_INSTALL_MPATH};
}

struct Options {
    std::string config = "evid.cfg";
    bool check = false;
    std::optional<int> level;
};

// Applies the directives in file order: globals, loadmodule, modparam.
evi::Result<void> apply_directives(evi::App &app, const evi::config::Config &cfg) {
    using namespace evi::config;
    bool mpath_defaulted = false;
    for (const auto &d : cfg.directives) {
        if (auto g = std::get_if<GlobalParam>(&d)) {
            auto r = evi::apply_global(app.globals, *g);
            if (!r) return evi::make_error(format_error(g->loc, r.error().message));
            if (g->name == "log_level" || g->name == "debug")
                evi::log::set_level(app.globals.log_level);
        } else if (auto l = std::get_if<LoadModule>(&d)) {
            if (app.globals.mpath.empty() && !mpath_defaulted) {
                app.globals.mpath = default_mpath();
                mpath_defaulted = true;
            }
            app.modules.set_permission_check(app.globals.module_permission_check);
            auto r = app.modules.load(l->path, app.globals.mpath);
            if (!r) return evi::make_error(format_error(l->loc, r.error().message));
        } else if (auto m = std::get_if<ModParam>(&d)) {
            auto r = app.modules.set_param(m->module, m->param, m->value);
            if (!r) return evi::make_error(format_error(m->loc, r.error().message));
        }
    }
    return {};
}

int run(const Options &opt) {
    // SIGTERM, SIGINT and SIGHUP go to the main thread only (sigwait below). They are blocked
    // before anything can start a thread (subscriber workers start while the script compiles,
    // modules may start threads in init()), since a thread inherits its creator's mask: one
    // that did not block SIGTERM would take the default action and kill evid outright.
    // `evid -c` keeps the default actions, so that Ctrl-C still ends a slow check.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    if (!opt.check) pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    auto parsed = evi::config::parse_file(opt.config);
    if (!parsed) {
        std::fprintf(stderr, "%s\n", parsed.error().message.c_str());
        return 1;
    }
    evi::App app;
    app.config_path = opt.config;
    if (auto r = apply_directives(app, *parsed); !r) {
        std::fprintf(stderr, "%s\n", r.error().message.c_str());
        return 1;
    }
    if (opt.level) {
        app.globals.log_level = *opt.level;
    }
    evi::log::set_level(app.globals.log_level);

    app.runtime = std::make_unique<evi::Runtime>(app.globals.workers);
    evi::CoreOptions core_options;
    core_options.queue_size = static_cast<size_t>(app.globals.queue_size);
    core_options.delivery_retries = app.globals.delivery_retries;
    core_options.event_threshold_us = app.globals.event_threshold_us;
    app.events = std::make_unique<evi::EventCore>(app.transports, core_options);
    app.services = std::make_unique<evi::HostServices>(*app.events, app.transports, *app.runtime,
                                                       app.commands);

    auto fail = [&](const std::string &msg) {
        // Module and listener messages may quote configured values: never echo a raw control
        // byte to the terminal.
        std::fprintf(stderr, "%s: error: %s\n", opt.config.c_str(),
                     evi::config::excerpt(msg, 4096).c_str());
        app.events->shutdown(std::chrono::milliseconds(0));
        app.events.reset();
        app.modules.destroy_all();
        return 1;
    };

    if (auto r = app.modules.init_all(*app.services); !r) return fail(r.error().message);
    if (auto r = evi::setup_core_events(app); !r) return fail(r.error().message);
    evi::mi::register_core_commands(app);

    auto script = evi::script::Script::compile(*parsed, app);
    if (!script) {
        std::fprintf(stderr, "%s\n", script.error().message.c_str());
        app.events->shutdown(std::chrono::milliseconds(0));
        app.events.reset();
        app.modules.destroy_all();
        return 1;
    }
    app.script = *script;
    app.services->routes = app.script.get();

    if (opt.check) {
        if (auto r = evi::mi::check_listen(app.globals); !r) return fail(r.error().message);
        std::fprintf(stderr, "%s: configuration OK\n", opt.config.c_str());
        app.events->shutdown(std::chrono::milliseconds(0));
        app.events.reset();
        app.modules.destroy_all();
        return 0;
    }

    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGXFSZ, SIG_IGN); // a write past the file-size limit fails with EFBIG instead
    const pid_t self = getpid();
    app.request_shutdown = [self] { kill(self, SIGTERM); };

    if (auto r = app.modules.start_all(); !r) return fail(r.error().message);
    evi::mi::Server mi(app);
    if (auto r = mi.start(); !r) {
        app.modules.stop_all();
        return fail(r.error().message);
    }
    app.runtime->every(std::chrono::seconds(1), [&app] { app.events->reap_expired(); });
    app.runtime->start();
    app.script->start();
    LOG_NOTICE("evid started (version %s, %d workers, %zu modules)", EVI_VERSION,
               app.runtime->workers(), app.modules.modules().size());

    for (;;) {
        int sig = 0;
        if (sigwait(&signals, &sig) != 0) continue;
        if (sig == SIGHUP) {
            LOG_NOTICE("SIGHUP: reopening files");
            app.modules.reopen_all();
            continue;
        }
        LOG_NOTICE("%s received, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
        break;
    }

    // Drain first, with the MI still up so that /health answers 503 meanwhile. Modules learn
    // the deadline first: a delivery waiting on a stalled peer gives up by then.
    app.draining = true;
    // One deadline for both, so that no module waits past the moment the core gives up.
    const auto deadline = std::chrono::steady_clock::now() + // CLOCK_MONOTONIC
                          std::chrono::seconds(app.globals.shutdown_timeout);
    app.modules.drain_all(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline.time_since_epoch()).count());
    const auto lost = app.events->shutdown_until(deadline);
    if (lost)
        LOG_WARN("%llu queued events could not be delivered within shutdown_timeout (%d s)",
                 static_cast<unsigned long long>(lost), app.globals.shutdown_timeout);
    evi::teardown_core_events(app);
    mi.stop();
    app.runtime->stop();
    app.modules.stop_all();
    app.services->routes = nullptr;
    app.script.reset();
    app.events.reset();
    app.modules.destroy_all();
    LOG_NOTICE("evid stopped");
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    Options opt;
    int c;
    while ((c = getopt(argc, argv, "f:cl:Vh")) != -1) {
        switch (c) {
        case 'f':
            opt.config = optarg;
            break;
        case 'c':
            opt.check = true;
            break;
        case 'l': {
            auto l = evi::log::parse_level(optarg);
            if (!l) {
                std::fprintf(stderr,
                             "evid: bad log level '%s': expected -3..4 or a name "
                             "(alert, crit, error, warn, notice, info, debug)\n",
                             optarg);
                return 2;
            }
            opt.level = *l;
            evi::log::set_level(*l);
            break;
        }
        case 'V':
            std::printf("evid %s (plugin ABI %d.%d)\n", EVI_VERSION, EVI_ABI_MAJOR, EVI_ABI_MINOR);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        std::fprintf(stderr, "evid: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    try {
        return run(opt);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "evid: fatal: %s\n", e.what());
        return 1;
    }
}
