// What `evid -c` says about a socket written literally in subscribe_event: the real transport
// modules (built in this tree) are loaded and initialized as evid does, and the compiler runs
// the transport's parse() on the literal, so that a socket refused at run time is a config
// error with file:line:col and the transport's reason.
#include "app.hpp"
#include "config/parser.hpp"
#include "log/log.hpp"
#include "runtime.hpp"
#include "script/script.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

struct Host {
    evi::App app;
    std::filesystem::path dir;

    Host() {
        const char *mpath = std::getenv("EVI_BUILD_MPATH");
        REQUIRE(mpath != nullptr);
        evi::log::set_level(evi::log::Crit);
        app.runtime = std::make_unique<evi::Runtime>(1);
        app.events = std::make_unique<evi::EventCore>(app.transports);
        app.services = std::make_unique<evi::HostServices>(*app.events, app.transports,
                                                           *app.runtime, app.commands);
        app.modules.set_permission_check(false); // not what is tested here
        for (const char *m : {"event_datagram.so", "event_virtual.so", "event_flatstore.so"}) {
            auto r = app.modules.load(m, {mpath});
            REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        }
        auto r = app.modules.init_all(*app.services);
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        dir =
            std::filesystem::temp_directory_path() / ("evi-sockets-" + std::to_string(::getpid()));
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
    }
    ~Host() {
        app.script.reset();
        app.events->shutdown(std::chrono::milliseconds(0));
        app.events.reset();
        app.modules.destroy_all();
        std::filesystem::remove_all(dir);
    }

    // Compile one subscribe_event(…) in startup_route: the error, or "" when it compiled.
    std::string subscribe(const std::string &socket) {
        auto cfg = evi::config::parse_text(
            "startup_route {\n  subscribe_event(\"E_X\", \"" + socket + "\");\n}\n", "t.cfg");
        if (!cfg) return cfg.error().message;
        auto s = evi::script::Script::compile(*cfg, app);
        if (!s) return s.error().message;
        app.script = *s;
        return "";
    }
};

} // namespace

TEST_CASE("a literal udp socket that the transport refuses is a config error at its place") {
    Host h;
    CHECK(h.subscribe("udp:999.1.1.1:x") ==
          "t.cfg:2:26: error: bad socket 'udp:999.1.1.1:x': '999.1.1.1:x': the port must be a "
          "number from 1 to 65535");
}

TEST_CASE("a literal udp socket the transport accepts compiles") {
    Host h;
    CHECK(h.subscribe("udp:127.0.0.1:9") == "");
    CHECK(h.subscribe("unix:/run/evi-test.sock") == "");
}

TEST_CASE("a virtual socket is checked member by member") {
    Host h;
    CHECK(h.subscribe("virtual:FAILOVER udp:127.0.0.1:9 udp:127.0.0.1:70000")
              .starts_with("t.cfg:2:26: error: bad socket 'virtual:FAILOVER udp:127.0.0.1:9 "
                           "udp:127.0.0.1:70000': member 2 'udp:127.0.0.1:70000': "));
    CHECK(h.subscribe("virtual:FAILOVER udp:127.0.0.1:9 unix:/run/x.sock") == "");
}

TEST_CASE("a literal flatstore socket is not opened by the check: no file appears") {
    Host h;
    const auto file = h.dir / "events.log";
    CHECK(h.subscribe("flatstore:" + file.string()) == "");
    CHECK_FALSE(std::filesystem::exists(file));
    // nor through a virtual set that holds one
    CHECK(h.subscribe("virtual:PARALLEL udp:127.0.0.1:9 flatstore:" + file.string()) == "");
    CHECK_FALSE(std::filesystem::exists(file));
}

TEST_CASE("a socket built at run time is not checked at compile time") {
    Host h;
    CHECK(h.subscribe("udp:999.1.1.1:$var(port)") == "");
}
