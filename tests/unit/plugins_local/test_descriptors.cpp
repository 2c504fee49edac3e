// The descriptor each transport module exports, as the host reads it after dlopen(): ABI
// version, name, transports, typed parameters with their defaults, MI commands and hooks.
#include "evi_plugin.h"

#include <dlfcn.h>
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace {

const evi_module_t *load(const char *file) {
    const char *dir = std::getenv("EVI_BUILD_MPATH");
    REQUIRE(dir != nullptr);
    std::string path = std::string(dir) + "/" + file;
    void *h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    INFO(path << ": " << (h ? "" : dlerror()));
    REQUIRE(h != nullptr);
    auto fn = reinterpret_cast<const evi_module_t *(*)()>(dlsym(h, EVI_MODULE_SYMBOL));
    REQUIRE(bool(fn));
    const evi_module_t *m = fn();
    REQUIRE(m != nullptr);
    return m;
}

std::vector<std::string> protos(const evi_module_t *m) {
    std::vector<std::string> v;
    for (size_t i = 0; i < m->ntransports; i++)
        v.emplace_back(m->transports[i].proto);
    return v;
}

const evi_param_def_t *param(const evi_module_t *m, const std::string &name) {
    for (size_t i = 0; i < m->nparams; i++)
        if (name == m->params[i].name) return &m->params[i];
    return nullptr;
}

void check_abi(const evi_module_t *m, const char *name) {
    CHECK(m->abi_major == EVI_ABI_MAJOR);
    CHECK(m->abi_minor == EVI_ABI_MINOR);
    CHECK(m->size == sizeof(evi_module_t));
    CHECK(std::string(m->name) == name);
    for (size_t i = 0; i < m->ntransports; i++)
        CHECK(m->transports[i].size == sizeof(evi_transport_t));
}

} // namespace

TEST_CASE("event_datagram exports udp and unix, both wanting JSON") {
    const evi_module_t *m = load("event_datagram.so");
    check_abi(m, "event_datagram");
    CHECK(protos(m) == std::vector<std::string>{"udp", "unix"});
    for (size_t i = 0; i < m->ntransports; i++)
        CHECK(m->transports[i].flags == EVI_TF_JSON);
}

TEST_CASE("event_datagram's payload_format is an enum json|text defaulting to json") {
    const evi_module_t *m = load("event_datagram.so");
    const evi_param_def_t *p = param(m, "payload_format");
    REQUIRE(p != nullptr);
    CHECK(p->type == EVI_PARAM_ENUM);
    CHECK(std::string(p->default_value) == "json");
    CHECK(std::string(p->enum_values[0]) == "json");
    CHECK(std::string(p->enum_values[1]) == "text");
    CHECK(p->enum_values[2] == nullptr);
}

TEST_CASE("event_datagram's unix_timeout_ms is an int of milliseconds defaulting to 1000") {
    const evi_module_t *m = load("event_datagram.so");
    const evi_param_def_t *p = param(m, "unix_timeout_ms");
    REQUIRE(p != nullptr);
    CHECK(p->type == EVI_PARAM_INT);
    CHECK(std::string(p->default_value) == "1000");
    CHECK(p->min == 0);
    CHECK(p->max == 60000);
}

TEST_CASE("event_flatstore exports flatstore as an inline transport without JSON") {
    const evi_module_t *m = load("event_flatstore.so");
    check_abi(m, "event_flatstore");
    CHECK(protos(m) == std::vector<std::string>{"flatstore"});
    CHECK(m->transports[0].flags == 0);
    CHECK(bool(m->reopen));
}

TEST_CASE("event_flatstore's parameters have OpenSIPS's names, types and defaults") {
    const evi_module_t *m = load("event_flatstore.so");
    struct Expected {
        const char *name;
        int type;
        const char *def;
    } expected[] = {
        {"max_open_sockets", EVI_PARAM_INT, "100"},   {"delimiter", EVI_PARAM_STR, ","},
        {"escape_delimiter", EVI_PARAM_STR, ""},      {"file_permissions", EVI_PARAM_STR, "644"},
        {"suppress_event_name", EVI_PARAM_BOOL, "0"}, {"rotate_period", EVI_PARAM_INT, "0"},
        {"rotate_count", EVI_PARAM_INT, "0"},         {"rotate_size", EVI_PARAM_SIZE, "0"},
        {"allowed_dirs", EVI_PARAM_STR, ""},          {"flush_interval_ms", EVI_PARAM_INT, "0"},
    };
    for (const auto &e : expected) {
        INFO(e.name);
        const evi_param_def_t *p = param(m, e.name);
        REQUIRE(p != nullptr);
        CHECK(p->type == e.type);
        CHECK(std::string(p->default_value) == e.def);
        CHECK(bool(p->set));
    }
    CHECK(param(m, "max_open_sockets")->min == 1);
    CHECK(param(m, "max_open_sockets")->max == 65535);
}

TEST_CASE("event_flatstore exports evi_flat_rotate, alias event_flatstore:rotate, with a path") {
    const evi_module_t *m = load("event_flatstore.so");
    REQUIRE(m->nmi_cmds == 1);
    CHECK(std::string(m->mi_cmds[0].name) == "evi_flat_rotate");
    CHECK(std::string(m->mi_cmds[0].alias) == "event_flatstore:rotate");
    CHECK(std::string(m->mi_cmds[0].param_sets[0]) == "path");
}

TEST_CASE("event_virtual exports virtual as a blocking transport with failover_timeout 30") {
    const evi_module_t *m = load("event_virtual.so");
    check_abi(m, "event_virtual");
    CHECK(protos(m) == std::vector<std::string>{"virtual"});
    CHECK((m->transports[0].flags & EVI_TF_BLOCKING) != 0);
    const evi_param_def_t *p = param(m, "failover_timeout");
    REQUIRE(p != nullptr);
    CHECK(p->type == EVI_PARAM_INT);
    CHECK(std::string(p->default_value) == "30");
}
