// The host table handed to modules: each entry forwards to the core, never throws.
#include "modules/host_api.hpp"

#include "evi/event_core.hpp"
#include "evi/transport.hpp"
#include "log/log.hpp"
#include "runtime.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <exception>

struct evi_socket {
    std::shared_ptr<evi::Socket> socket;
};

namespace evi {

int Counters::add_counter(std::string_view module, std::string_view name, std::string_view help) {
    std::lock_guard lock(mutex_);
    std::string full = "evi_" + std::string(module) + "_" + std::string(name);
    for (size_t i = 0; i < entries_.size(); ++i)
        if (entries_[i].name == full) return static_cast<int>(i);
    auto &e = entries_.emplace_back();
    e.name = std::move(full);
    e.help = std::string(help);
    return static_cast<int>(entries_.size() - 1);
}

void Counters::add(int id, int64_t delta) {
    // entries_ only grows and a deque keeps addresses: find the entry under the lock, add
    // outside it.
    std::atomic<int64_t> *v = nullptr;
    {
        std::lock_guard lock(mutex_);
        if (id < 0 || static_cast<size_t>(id) >= entries_.size()) return;
        v = &entries_[static_cast<size_t>(id)].value;
    }
    v->fetch_add(delta, std::memory_order_relaxed);
}

std::vector<Counters::Value> Counters::snapshot() const {
    std::lock_guard lock(mutex_);
    std::vector<Value> out;
    for (const auto &e : entries_)
        out.push_back({e.name, e.help, e.value.load()});
    return out;
}

namespace {

ModuleContext &ctx(const evi_host_t *h) {
    return *static_cast<ModuleContext *>(h->module);
}
HostServices &services(const evi_host_t *h) {
    return *ctx(h).services;
}
std::string_view view(evi_str_t s) {
    return {s.s ? s.s : "", s.len};
}

void copy_error(char *err, size_t errlen, const std::string &msg) {
    if (err && errlen) {
        std::snprintf(err, errlen, "%s", msg.c_str());
    }
}

void host_log(const evi_host_t *h, int level, const char *fmt, ...) {
    if (!log::enabled(level) || !fmt) return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    log::write(level, ctx(h).name, std::string_view(buf, std::min<size_t>(n, sizeof buf - 1)));
}

int host_publish(const evi_host_t *h, evi_str_t name) {
    try {
        auto r = services(h).events.publish(view(name));
        if (!r) {
            log::write(log::Err, ctx(h).name, r.error().message);
            return EVI_ERR;
        }
        return *r;
    } catch (const std::exception &e) {
        return EVI_ERR;
    }
}

int host_raise(const evi_host_t *h, evi_str_t name, const evi_param_t *params, size_t n) {
    try {
        auto r = services(h).events.raise(view(name), params, n);
        if (!r) {
            log::write(log::Err, ctx(h).name, r.error().message);
            return EVI_ERR;
        }
        return static_cast<int>(*r);
    } catch (const std::exception &) {
        return EVI_ERR;
    }
}

void host_report(const evi_host_t *h, uint64_t token, int status) {
    try {
        services(h).events.report(token, status, ctx(h).name);
    } catch (const std::exception &) {
    }
}

int host_socket_open(const evi_host_t *h, evi_str_t socket, int from_mi, evi_socket_t **out,
                     char *err, size_t errlen) {
    try {
        auto r = services(h).transports.open(view(socket), from_mi != 0);
        if (!r) {
            copy_error(err, errlen, r.error().message);
            return EVI_ERR;
        }
        *out = new evi_socket{std::move(*r)};
        return EVI_OK;
    } catch (const std::exception &e) {
        copy_error(err, errlen, e.what());
        return EVI_ERR;
    }
}

int host_socket_raise(const evi_host_t *h, evi_socket_t *s, const evi_event_t *ev) {
    if (!s || !ev) return EVI_ERR;
    try {
        return services(h).events.deliver_now(*s->socket, *ev);
    } catch (const std::exception &) {
        return EVI_ERR;
    }
}

int host_socket_print(const evi_host_t *, const evi_socket_t *s, char *buf, size_t len) {
    if (!s) return -1;
    const auto &t = s->socket->text();
    if (buf && len) std::snprintf(buf, len, "%s", t.c_str());
    return static_cast<int>(t.size());
}

int host_socket_match(const evi_host_t *, const evi_socket_t *a, const evi_socket_t *b) {
    return a && b && a->socket->matches(*b->socket) ? 1 : 0;
}

void host_socket_close(const evi_host_t *, evi_socket_t *s) {
    delete s;
}

unsigned host_socket_flags(const evi_host_t *, const evi_socket_t *s) {
    return s ? s->socket->flags() : 0;
}

int host_route_find(const evi_host_t *h, evi_str_t name, evi_route_t **route, int *sync) {
    auto *routes = services(h).routes;
    if (!routes || !route) return EVI_ERR;
    bool is_sync = false;
    evi_route_t *r = routes->find_event_route(view(name), is_sync);
    if (!r) return EVI_ERR;
    *route = r;
    if (sync) *sync = is_sync ? 1 : 0;
    return EVI_OK;
}

int host_route_run(const evi_host_t *h, evi_route_t *route, const evi_event_t *ev) {
    auto *routes = services(h).routes;
    if (!routes || !route || !ev) return EVI_ERR;
    try {
        return routes->run_event_route(route, *ev);
    } catch (const std::exception &e) {
        log::write(log::Err, ctx(h).name, std::string("route failed: ") + e.what());
        return EVI_ERR;
    }
}

int host_timer_add(const evi_host_t *h, unsigned interval_ms, void (*cb)(void *), void *arg) {
    if (!cb || interval_ms == 0) return EVI_ERR;
    services(h).runtime.every(std::chrono::milliseconds(interval_ms), [cb, arg] { cb(arg); });
    return EVI_OK;
}

int host_counter_register(const evi_host_t *h, const char *name, const char *help) {
    if (!name || !*name) return EVI_ERR;
    return services(h).counters.add_counter(ctx(h).name, name, help ? help : "");
}

void host_counter_add(const evi_host_t *h, int id, int64_t delta) {
    services(h).counters.add(id, delta);
}

} // namespace

void fill_host_table(evi_host_t &t, ModuleContext *module) {
    std::memset(&t, 0, sizeof t);
    t.abi_major = EVI_ABI_MAJOR;
    t.abi_minor = EVI_ABI_MINOR;
    t.size = sizeof(evi_host_t);
    t.module = module;
    t.log = host_log;
    t.publish = host_publish;
    t.raise = host_raise;
    t.report = host_report;
    t.socket_open = host_socket_open;
    t.socket_raise = host_socket_raise;
    t.socket_print = host_socket_print;
    t.socket_match = host_socket_match;
    t.socket_close = host_socket_close;
    t.route_find = host_route_find;
    t.route_run = host_route_run;
    t.timer_add = host_timer_add;
    t.counter_register = host_counter_register;
    t.counter_add = host_counter_add;
    t.socket_flags = host_socket_flags;
}

} // namespace evi
