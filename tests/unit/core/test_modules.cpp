// The module loader against real shared objects built for these tests (tests/unit/core/plugins).
#include "evi/event_core.hpp"
#include "log/log.hpp"
#include "mi/command.hpp"
#include "modules/host_api.hpp"
#include "modules/modules.hpp"
#include "runtime.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

using namespace evi;

namespace {

std::string plugin_dir() {
    const char *d = std::getenv("EVI_TEST_PLUGINS");
    REQUIRE(d != nullptr);
    return d;
}

bool contains(const std::string &text, const std::string &part) {
    return text.find(part) != std::string::npos;
}

// What init_all() hands to modules: the event core, transports, a runtime, MI commands.
struct Host {
    TransportRegistry transports;
    EventCore core{transports};
    Runtime runtime{1};
    mi::CommandRegistry commands;
    HostServices services{core, transports, runtime, commands};
};

} // namespace

TEST_CASE("a module is found through mpath and its descriptor is read") {
    ModuleSet set;
    auto m = set.load("test_good.so", {"/nonexistent", plugin_dir()});
    REQUIRE(m);
    CHECK((*m)->name() == "test_good");
    CHECK((*m)->descriptor().nparams == 5);
    CHECK(set.find("TEST_GOOD") == *m);
}

TEST_CASE("a module is found in <dir>/<name>/<name>.so") {
    namespace fs = std::filesystem;
    auto tmp = fs::temp_directory_path() / ("evi-mpath-" + std::to_string(::getpid()));
    fs::create_directories(tmp / "test_good");
    fs::copy_file(plugin_dir() + "/test_good.so", tmp / "test_good" / "test_good.so",
                  fs::copy_options::overwrite_existing);
    ModuleSet set;
    auto m = set.load("test_good.so", {tmp.string()});
    REQUIRE(m);
    CHECK((*m)->path() == fs::canonical(tmp / "test_good" / "test_good.so").string());
    fs::remove_all(tmp);
}

TEST_CASE("a missing module names every place searched") {
    ModuleSet set;
    auto r = set.load("event_nope.so", {"/opt/a", "/opt/b"});
    REQUIRE_FALSE(r);
    const auto &msg = r.error().message;
    CHECK(contains(msg, "module 'event_nope.so' not found; searched:"));
    CHECK(contains(msg, "/opt/a/event_nope.so"));
    CHECK(contains(msg, "/opt/a/event_nope/event_nope.so"));
    CHECK(contains(msg, "/opt/b/event_nope.so"));
}

TEST_CASE("a shared object without the descriptor is not an EVI module") {
    ModuleSet set;
    auto r = set.load(plugin_dir() + "/test_no_symbol.so", {});
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, "is not an EVI module: it does not export "
                                      "evi_module_descriptor()"));
}

TEST_CASE("a module built for another ABI major is refused with both versions") {
    ModuleSet set;
    auto r = set.load(plugin_dir() + "/test_bad_abi.so", {});
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, "test_bad_abi.so was built for EVI plugin ABI 99.0, "
                                      "this evid speaks ABI 1." +
                                          std::to_string(EVI_ABI_MINOR)));
}

TEST_CASE("a module built for a newer ABI minor is refused") {
    ModuleSet set;
    auto r = set.load(plugin_dir() + "/test_newer_minor.so", {});
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message,
                   "was built for EVI plugin ABI 1." + std::to_string(EVI_ABI_MINOR + 1) +
                       ", this evid speaks ABI 1." + std::to_string(EVI_ABI_MINOR)));
}

TEST_CASE("a module built for an older ABI minor of the same major loads") {
    ModuleSet set;
    auto m = set.load(plugin_dir() + "/test_older_minor.so", {});
    REQUIRE(m);
    CHECK((*m)->name() == "test_older_minor");
}

TEST_CASE("shutdown skips the hooks a module's descriptor is too short to have") {
    // test_older_minor's size ends before drain (ABI 1.2); the slot past it aborts if called.
    Host host;
    ModuleSet set;
    REQUIRE(set.load(plugin_dir() + "/test_older_minor.so", {}));
    REQUIRE(set.init_all(host.services));
    REQUIRE(set.start_all());
    set.drain_all(0);
    set.stop_all();
    set.destroy_all();
    CHECK(set.modules().empty());
}

TEST_CASE("a file that is not a shared object reports what the dynamic linker said") {
    namespace fs = std::filesystem;
    auto tmp = fs::temp_directory_path() / ("evi-junk-" + std::to_string(::getpid()) + ".so");
    FILE *f = std::fopen(tmp.c_str(), "w");
    std::fputs("this text is not an ELF shared object, but it is long enough to have a header\n",
               f);
    std::fclose(f);
    ModuleSet set;
    set.set_permission_check(false); // /tmp itself is world-writable
    auto r = set.load(tmp.string(), {});
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, "cannot load module " + tmp.string() + ": "));
    CHECK(contains(r.error().message, "invalid ELF header"));
    fs::remove(tmp);
}

TEST_CASE("the same module loaded twice is refused") {
    ModuleSet set;
    REQUIRE(set.load("test_good.so", {plugin_dir()}));
    auto r = set.load("test_good.so", {plugin_dir()});
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, "module 'test_good' is already loaded"));
}

TEST_CASE("modparam values are checked against the parameter's type and range") {
    ModuleSet set;
    REQUIRE(set.load("test_good.so", {plugin_dir()}));
    CHECK(set.set_param("test_good", "count", int64_t{5}));
    CHECK(set.set_param("test_good", "count", std::string("50")));
    auto r = set.set_param("test_good", "count", int64_t{500});
    REQUIRE_FALSE(r);
    CHECK(r.error().message ==
          "modparam: test_good parameter 'count': expected integer from 1 to 100, got 500");
    r = set.set_param("test_good", "count", std::string("many"));
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, "expected an integer from 1 to 100, got string \"many\""));
    r = set.set_param("test_good", "name", int64_t{3});
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, "expected a string, got integer 3"));
    CHECK(set.set_param("test_good", "flag", std::string("yes")));
    r = set.set_param("test_good", "flag", std::string("maybe"));
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, "expected a boolean"));
    CHECK(set.set_param("test_good", "limit", std::string("64k")));
    r = set.set_param("test_good", "limit", std::string("2m"));
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, "from 0 to 1048576, got 2m"));
    CHECK(set.set_param("test_good", "mode", std::string("TEXT")));
    r = set.set_param("test_good", "mode", std::string("xml"));
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, "expected one of: json, text; got xml"));
}

TEST_CASE("a setter may refuse a value with its own reason") {
    ModuleSet set;
    REQUIRE(set.load("test_good.so", {plugin_dir()}));
    auto r = set.set_param("test_good", "name", std::string(100, 'x'));
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, "refused the value"));
    CHECK(contains(r.error().message, "at most 63 characters"));
}

TEST_CASE("modparam errors quote names and values escaped and cut short") {
    ModuleSet set;
    REQUIRE(set.load("test_good.so", {plugin_dir()}));
    auto r = set.set_param("test_good", "mode", std::string("x\x1b[2J\xff"));
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "modparam: test_good parameter 'mode': expected one of: json, "
                               "text; got x\\x1b[2J\\xff");
    r = set.set_param("test_good", "col\x07our", int64_t{1});
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, "has no parameter 'col\\x07our'"));
    r = set.set_param("test_good", "count", std::string(1 << 20, '9') + "x");
    REQUIRE_FALSE(r);
    CHECK(r.error().message.size() < 300);
    CHECK(contains(r.error().message, "... (1048577 bytes)"));
    r = set.set_param("nope\x1b", "x", int64_t{1});
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, "no loaded module matches 'nope\\x1b'"));
}

TEST_CASE("a missing module's name is quoted escaped") {
    ModuleSet set;
    auto r = set.load("ev\x1b[2J.so", {"/opt/a"});
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, "module 'ev\\x1b[2J.so' not found; searched:\n"
                                      "    /opt/a/ev\\x1b[2J.so"));
}

TEST_CASE("an unknown parameter lists the valid ones") {
    ModuleSet set;
    REQUIRE(set.load("test_good.so", {plugin_dir()}));
    auto r = set.set_param("test_good", "colour", int64_t{1});
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "modparam: module 'test_good' has no parameter 'colour' (its "
                               "parameters: count, name, flag, limit, mode)");
}

TEST_CASE("modparam's module name is an anchored case-insensitive regex") {
    ModuleSet set;
    REQUIRE(set.load("test_good.so", {plugin_dir()}));
    CHECK(set.set_param("TEST_.*", "count", int64_t{3}));
    auto r = set.set_param("test", "count", int64_t{3}); // anchored: no partial match
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, "no loaded module matches 'test' (loaded: test_good); "
                                      "modparam must come after the module's loadmodule"));
    CHECK_FALSE(set.set_param("test_(", "count", int64_t{3}));
}

TEST_CASE("init registers the module's transports, and a failing init says why") {
    Host host;
    ModuleSet set;
    REQUIRE(set.load("test_good.so", {plugin_dir()}));
    REQUIRE(set.init_all(host.services));
    CHECK(host.transports.find("null") != nullptr);

    ModuleSet bad;
    REQUIRE(bad.load(plugin_dir() + "/test_init_fails.so", {}));
    auto r = bad.init_all(host.services);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "module test_init_fails failed to initialise: cannot open "
                               "/nonexistent/state: No such file or directory");
}

TEST_CASE("a module file or directory others may write is refused, unless checks are off") {
    namespace fs = std::filesystem;
    auto tmp = fs::temp_directory_path() / ("evi-perm-" + std::to_string(::getpid()));
    fs::create_directories(tmp);
    fs::permissions(tmp, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
    const auto so = tmp / "test_good.so";
    fs::copy_file(plugin_dir() + "/test_good.so", so, fs::copy_options::overwrite_existing);

    fs::permissions(so, fs::perms::others_write, fs::perm_options::add);
    {
        ModuleSet set;
        auto r = set.load(so.string(), {});
        REQUIRE_FALSE(r);
        CHECK(contains(r.error().message, "refusing to load " + fs::canonical(so).string() + ": " +
                                              fs::canonical(so).string() +
                                              " is writable by every user"));
        set.set_permission_check(false);
        CHECK(set.load(so.string(), {}));
    }
    fs::permissions(so, fs::perms::others_write, fs::perm_options::remove);
    fs::permissions(tmp, fs::perms::group_write, fs::perm_options::add);
    {
        ModuleSet set;
        auto r = set.load(so.string(), {});
        REQUIRE_FALSE(r);
        CHECK(contains(r.error().message, "is writable by its group"));
    }
    fs::permissions(tmp, fs::perms::group_write, fs::perm_options::remove);
    {
        ModuleSet set;
        CHECK(set.load(so.string(), {}));
    }
    fs::remove_all(tmp);
}

TEST_CASE("a transport declaring a size shorter than ABI 1.0's is refused, naming it") {
    Host host;
    ModuleSet set;
    REQUIRE(set.load(plugin_dir() + "/test_flawed_short_size.so", {}));
    auto r = set.init_all(host.services);
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, "module 'test_flawed_short_size': transport 'flawed' "
                                      "declares size 4, shorter than the ABI 1.0"));
    CHECK(host.transports.find("flawed") == nullptr);
}

TEST_CASE("a transport both blocking and asynchronous is refused at load") {
    Host host;
    ModuleSet set;
    REQUIRE(set.load(plugin_dir() + "/test_flawed_both_flags.so", {}));
    auto r = set.init_all(host.services);
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, "module 'test_flawed_both_flags': transport 'flawed' "
                                      "flags: EVI_TF_BLOCKING and EVI_TF_ASYNC together"));
}

TEST_CASE("a socket whose parse() makes it both blocking and asynchronous is refused") {
    Host host;
    ModuleSet set;
    REQUIRE(set.load(plugin_dir() + "/test_flawed_parse_flags.so", {}));
    REQUIRE(set.init_all(host.services));
    CHECK(host.transports.open("flawed:ok", false));
    auto r = host.transports.open("flawed:clash", false);
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, "bad socket 'flawed:clash': module "
                                      "test_flawed_parse_flags's parse() set EVI_TF_BLOCKING "
                                      "and EVI_TF_ASYNC together"));
}

TEST_CASE("a module's MI reply that is not JSON is a 500 and is logged, cut short") {
    Host host;
    ModuleSet set;
    REQUIRE(set.load(plugin_dir() + "/test_flawed_parse_flags.so", {}));
    REQUIRE(set.init_all(host.services));
    std::vector<std::string> lines;
    log::set_sink([&](int, std::string_view module, std::string_view msg) {
        lines.push_back(std::string(module) + ": " + std::string(msg));
    }, log::Err);
    const auto *cmd = host.commands.find("flawed_reply");
    REQUIRE(cmd != nullptr);
    auto out = cmd->handler(mi::Params::object());
    log::set_sink(nullptr, log::Err);
    auto *failure = std::get_if<mi::Failure>(&out);
    REQUIRE(failure != nullptr);
    CHECK(failure->code == 500);
    REQUIRE(lines.size() == 1);
    CHECK(contains(lines[0], "module test_flawed_parse_flags: MI command's reply is not valid "
                             "JSON (answered 500): {\"lines\": 1"));
}
