// event_flatstore when its file or directory disappears, driven through the module's ABI with a
// host table of our own: the health timer is the callback the module registered, called by the
// test, so nothing here waits for a clock.
#include "evi_plugin.h"

#include <dlfcn.h>
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct FakeHost {
    std::vector<std::string> logs;
    std::vector<std::pair<void (*)(void *), void *>> timers;
    int64_t write_failed = 0;
    int write_failed_id = -1;
    int next_counter = 0;
};
FakeHost *fake;

void fake_log(const evi_host_t *, int, const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fake->logs.emplace_back(buf);
}
int fake_publish(const evi_host_t *, evi_str_t) {
    return 0;
}
int fake_raise(const evi_host_t *, evi_str_t, const evi_param_t *, size_t) {
    return 0;
}
int fake_timer_add(const evi_host_t *, unsigned, void (*cb)(void *), void *arg) {
    fake->timers.emplace_back(cb, arg);
    return 0;
}
int fake_counter_register(const evi_host_t *, const char *name, const char *) {
    int id = fake->next_counter++;
    if (std::string(name) == "write_failed") fake->write_failed_id = id;
    return id;
}
void fake_counter_add(const evi_host_t *, int id, int64_t d) {
    if (id == fake->write_failed_id) fake->write_failed += d;
}

const evi_module_t *load() {
    const char *dir = std::getenv("EVI_BUILD_MPATH");
    REQUIRE(dir != nullptr);
    std::string path = std::string(dir) + "/event_flatstore.so";
    // One copy for every test case: the module's destroy() resets its state.
    void *h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    INFO(path << ": " << (h ? "" : dlerror()));
    REQUIRE(h != nullptr);
    auto fn = reinterpret_cast<const evi_module_t *(*)()>(dlsym(h, EVI_MODULE_SYMBOL));
    REQUIRE(bool(fn));
    return fn();
}

std::string slurp(const fs::path &p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/* One module instance with one flatstore socket on <tmp>/d/f.log. */
struct Fixture {
    FakeHost h;
    evi_host_t table{};
    const evi_module_t *m = nullptr;
    const evi_transport_t *t = nullptr;
    void *sock = nullptr;
    fs::path root, dir, file;

    explicit Fixture(int64_t flush_interval_ms = 0) {
        fake = &h;
        char tmpl[] = "/tmp/evi-flat-faults-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        root = tmpl;
        dir = root / "d";
        file = dir / "f.log";
        fs::create_directory(dir);

        table.abi_major = EVI_ABI_MAJOR;
        table.abi_minor = EVI_ABI_MINOR;
        table.size = sizeof table;
        table.log = fake_log;
        table.publish = fake_publish;
        table.raise = fake_raise;
        table.timer_add = fake_timer_add;
        table.counter_register = fake_counter_register;
        table.counter_add = fake_counter_add;

        m = load();
        char err[256] = "";
        set_flush_interval(flush_interval_ms);
        REQUIRE(m->init(&table, err, sizeof err) == EVI_OK);
        REQUIRE(m->start(err, sizeof err) == EVI_OK);
        // the health check (and rotate_period) timer, and the batch flush timer if batched
        REQUIRE(h.timers.size() == (flush_interval_ms ? 2u : 1u));
        t = &m->transports[0];
        std::string addr = file.string();
        unsigned flags = t->flags;
        REQUIRE(t->parse(evi_str_t{addr.data(), addr.size()}, 0, &sock, &flags, err, sizeof err) ==
                EVI_OK);
    }
    ~Fixture() {
        t->free(sock);
        if (m->stop) m->stop();
        if (m->destroy) m->destroy();
        set_flush_interval(0); // module parameters outlive destroy(): back to the default
        std::error_code ec;
        fs::permissions(dir, fs::perms::owner_all, ec);
        fs::remove_all(root, ec);
        fake = nullptr;
    }
    void set_flush_interval(int64_t ms) {
        for (size_t i = 0; i < m->nparams; i++)
            if (std::string(m->params[i].name) == "flush_interval_ms") {
                std::string text = std::to_string(ms);
                evi_param_value_t v{ms, evi_str_t{text.c_str(), text.size()}};
                char err[128];
                REQUIRE(m->params[i].set(&v, err, sizeof err) == EVI_OK);
                return;
            }
        FAIL("no flush_interval_ms parameter");
    }
    int raise(const char *value) {
        evi_param_t p{};
        p.type = EVI_VAL_STR;
        p.s = evi_str_t{value, std::strlen(value)};
        evi_event_t ev{};
        ev.name = evi_str_t{"E_F", 3};
        ev.params = &p;
        ev.nparams = 1;
        return t->raise(sock, &ev, 0);
    }
    void tick() {
        for (auto &[cb, arg] : h.timers)
            cb(arg);
    }
    bool logged(const std::string &text) const {
        for (auto &l : h.logs)
            if (l.find(text) != std::string::npos) return true;
        return false;
    }
};

} // namespace

TEST_CASE("a deleted file is created again at the next health check and receives the next lines") {
    Fixture f;
    CHECK(f.raise("a") == EVI_OK);
    fs::remove(f.file);
    f.tick();
    REQUIRE(fs::exists(f.file));
    CHECK(f.raise("b") == EVI_OK);
    CHECK(slurp(f.file) == "E_F,b\n");
    CHECK(f.logged("was deleted: created it again"));
    CHECK(f.h.write_failed == 0);
}

TEST_CASE("a healthy file is left alone by the health check") {
    Fixture f;
    CHECK(f.raise("a") == EVI_OK);
    f.tick();
    CHECK(f.raise("b") == EVI_OK);
    CHECK(slurp(f.file) == "E_F,a\nE_F,b\n");
    CHECK(f.h.logs.empty());
}

TEST_CASE("while its directory is deleted every line fails and is counted, with one log line") {
    Fixture f;
    CHECK(f.raise("a") == EVI_OK);
    fs::remove_all(f.dir);
    f.tick();
    for (int i = 0; i < 5; i++)
        CHECK(f.raise("lost") == EVI_ERR);
    f.tick(); // still gone, same reason: nothing new to say
    CHECK(f.h.write_failed == 5);
    int lines = 0;
    for (auto &l : f.h.logs)
        lines += l.find("cannot be created again") != std::string::npos;
    CHECK(lines == 1);
    CHECK(f.logged("does not exist"));
}

TEST_CASE("a re-created directory gets a new file and the lines that follow") {
    Fixture f;
    fs::remove_all(f.dir);
    f.tick();
    CHECK(f.raise("lost") == EVI_ERR);
    fs::create_directory(f.dir);
    f.tick();
    REQUIRE(fs::exists(f.file));
    CHECK(f.raise("back") == EVI_OK);
    CHECK(slurp(f.file) == "E_F,back\n");
    CHECK(f.logged("can be written again (1 lines failed while it could not be opened)"));
}

TEST_CASE("a directory replaced by a symbolic link is not followed") {
    Fixture f;
    fs::path elsewhere = f.root / "elsewhere";
    fs::create_directory(elsewhere);
    fs::remove_all(f.dir);
    fs::create_directory_symlink(elsewhere, f.dir);
    f.tick();
    CHECK(f.raise("x") == EVI_ERR);
    CHECK_FALSE(fs::exists(elsewhere / "f.log"));
    CHECK(f.logged("is now a link to another place"));
}

TEST_CASE("MI rotation of a file that is gone recovers it once its directory is back") {
    Fixture f;
    fs::remove_all(f.dir);
    f.tick();
    CHECK(f.raise("lost") == EVI_ERR);
    fs::create_directory(f.dir);
    // SIGHUP's reopen hook takes the same path as evi_flat_rotate
    f.m->reopen();
    CHECK(f.raise("back") == EVI_OK);
    CHECK(slurp(f.file) == "E_F,back\n");
}

TEST_CASE("batched lines not yet written when the directory vanished land in the new file") {
    Fixture f(10000); // flush_interval_ms: nothing is flushed by time during the test
    CHECK(f.raise("buffered") == EVI_OK);
    fs::remove_all(f.dir);
    f.h.timers[0].first(f.h.timers[0].second); // the health check only: the file is gone
    CHECK(f.raise("lost") == EVI_ERR);
    fs::create_directory(f.dir);
    f.h.timers[0].first(f.h.timers[0].second);
    CHECK(slurp(f.file) == "E_F,buffered\n");
    CHECK(f.raise("after") == EVI_OK);
    f.m->stop(); // flushes
    CHECK(slurp(f.file) == "E_F,buffered\nE_F,after\n");
}
