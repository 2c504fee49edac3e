// event_rabbitmq: publishes events to a RabbitMQ broker (AMQP 0-9-1, rabbitmq-c).
// The C ABI glue: parameters, the "rabbitmq" transport, lifecycle. Nothing is thrown across
// this boundary: every entry point catches.

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "evi_plugin.h"
#include "rmq_address.h"
#include "rmq_connection.h"

namespace {

using evi::rmq::Address;
using evi::rmq::Connection;
using evi::rmq::Counter;

/** A subscriber's socket: where to publish, and the connection that does it. */
struct Socket {
    std::shared_ptr<const Address> address;
    std::shared_ptr<Connection> connection;
};

/** The module's state (one per loaded module). */
struct Module {
    const evi_host_t *host = nullptr;
    evi::rmq::Settings settings;
    std::mutex mu;
    std::map<std::string, std::shared_ptr<Connection>> connections; // by endpoint key
    std::map<Counter, int> counters;
};

Module &mod() {
    static Module m;
    return m;
}

void host_log(int level, const std::string &msg) {
    const evi_host_t *h = mod().host;
    if (h) h->log(h, level, "%s", msg.c_str());
}

int write_err(char *err, size_t errlen, const std::string &msg) {
    if (err && errlen) std::snprintf(err, errlen, "%s", msg.c_str());
    return EVI_ERR;
}

// ---- parameters ---------------------------------------------------------------------------

#define INT_PARAM(fn, field)                                                                       \
    int fn(const evi_param_value_t *v, char *, size_t) {                                           \
        mod().settings.field = static_cast<decltype(mod().settings.field)>(v->i);                  \
        return EVI_OK;                                                                             \
    }
INT_PARAM(set_heartbeat, heartbeat_s)
INT_PARAM(set_connect_timeout, connect_timeout_ms)
INT_PARAM(set_timeout, timeout_ms)
INT_PARAM(set_queue_size, queue_size)
INT_PARAM(set_max_event_age, max_event_age_s)
#undef INT_PARAM

int set_confirms(const evi_param_value_t *v, char *, size_t) {
    mod().settings.publisher_confirms = v->i != 0;
    return EVI_OK;
}
int set_tls_verify(const evi_param_value_t *v, char *, size_t) {
    mod().settings.tls_verify = v->i != 0;
    return EVI_OK;
}

int set_file(std::string &field, const evi_param_value_t *v, char *err, size_t errlen) {
    std::string path(v->s.s ? v->s.s : "", v->s.len);
    if (!path.empty()) {
        std::FILE *f = std::fopen(path.c_str(), "r");
        if (!f)
            return write_err(err, errlen, "cannot read '" + path + "': " + std::strerror(errno));
        std::fclose(f);
    }
    field = path;
    return EVI_OK;
}
int set_ca(const evi_param_value_t *v, char *e, size_t l) {
    return set_file(mod().settings.tls_ca_file, v, e, l);
}
int set_cert(const evi_param_value_t *v, char *e, size_t l) {
    return set_file(mod().settings.tls_cert_file, v, e, l);
}
int set_key(const evi_param_value_t *v, char *e, size_t l) {
    return set_file(mod().settings.tls_key_file, v, e, l);
}

// Current values, for the MI's module_params.
int print_value(char *buf, size_t len, const std::string &v) {
    if (buf && len) std::snprintf(buf, len, "%s", v.c_str());
    return static_cast<int>(v.size());
}
#define GETTER(fn, expr)                                                                           \
    int fn(char *buf, size_t len) {                                                                \
        return print_value(buf, len, expr);                                                        \
    }
GETTER(get_heartbeat, std::to_string(mod().settings.heartbeat_s))
GETTER(get_connect_timeout, std::to_string(mod().settings.connect_timeout_ms))
GETTER(get_timeout, std::to_string(mod().settings.timeout_ms))
GETTER(get_confirms, std::to_string(mod().settings.publisher_confirms ? 1 : 0))
GETTER(get_queue_size, std::to_string(mod().settings.queue_size))
GETTER(get_max_event_age, std::to_string(mod().settings.max_event_age_s))
GETTER(get_ca, mod().settings.tls_ca_file)
GETTER(get_cert, mod().settings.tls_cert_file)
GETTER(get_key, mod().settings.tls_key_file)
GETTER(get_tls_verify, std::to_string(mod().settings.tls_verify ? 1 : 0))
#undef GETTER

const evi_param_def_t kParams[] = {
    {"heartbeat", EVI_PARAM_INT, "0", 0, 65535, nullptr,
     "AMQP heartbeat interval in seconds (0: off); a silent broker is then detected", set_heartbeat,
     get_heartbeat},
    {"connect_timeout", EVI_PARAM_INT, "500", 1, 600000, nullptr,
     "milliseconds allowed for the TCP (and TLS) connection to the broker", set_connect_timeout,
     get_connect_timeout},
    {"timeout", EVI_PARAM_INT, "5000", 0, 3600000, nullptr,
     "milliseconds allowed for the login, each broker command, and a publish's confirm before "
     "the connection is re-established (0: no limit)",
     set_timeout, get_timeout},
    {"publisher_confirms", EVI_PARAM_BOOL, "1", 0, 0, nullptr,
     "an event counts as delivered only once the broker confirmed it", set_confirms, get_confirms},
    {"queue_size", EVI_PARAM_INT, "10000", 1, 10000000, nullptr,
     "events kept per broker connection while it is down or slow (then raisers are told to retry)",
     set_queue_size, get_queue_size},
    {"max_event_age", EVI_PARAM_INT, "0", 0, 31536000, nullptr,
     "seconds an event may wait for the broker before it is dropped and counted as failed (0: "
     "no limit)",
     set_max_event_age, get_max_event_age},
    {"tls_ca_file", EVI_PARAM_STR, "", 0, -1, nullptr,
     "PEM file of the CA that signed the broker's certificate", set_ca, get_ca},
    {"tls_cert_file", EVI_PARAM_STR, "", 0, -1, nullptr,
     "PEM client certificate, for brokers that verify peers", set_cert, get_cert},
    {"tls_key_file", EVI_PARAM_STR, "", 0, -1, nullptr, "PEM private key of tls_cert_file", set_key,
     get_key},
    {"tls_verify", EVI_PARAM_BOOL, "1", 0, 0, nullptr,
     "verify the broker's certificate chain and host name", set_tls_verify, get_tls_verify},
};

// ---- the transport ------------------------------------------------------------------------

evi::rmq::Hooks make_hooks() {
    evi::rmq::Hooks h;
    h.report = [](uint64_t token, int status) {
        const evi_host_t *host = mod().host;
        if (host) host->report(host, token, status);
    };
    h.log = host_log;
    h.count = [](Counter c, int64_t delta) {
        Module &m = mod();
        auto it = m.counters.find(c); // filled in init, read-only afterwards
        if (m.host && it != m.counters.end() && it->second >= 0)
            m.host->counter_add(m.host, it->second, delta);
    };
    return h;
}

int rmq_parse(evi_str_t address, int, void **sock, unsigned *, char *err, size_t errlen) {
    try {
        std::string why;
        auto parsed =
            Address::parse(std::string_view(address.s ? address.s : "", address.len), why);
        if (!parsed) return write_err(err, errlen, why);
        Module &m = mod();
        auto s = std::make_unique<Socket>();
        s->address = std::make_shared<const Address>(std::move(*parsed));
        {
            std::lock_guard<std::mutex> g(m.mu);
            auto &c = m.connections[s->address->endpoint_key()];
            if (!c) c = std::make_shared<Connection>(*s->address, m.settings, make_hooks());
            s->connection = c;
            c->attach();
        }
        *sock = s.release();
        return EVI_OK;
    } catch (const std::exception &e) {
        return write_err(err, errlen, std::string("event_rabbitmq: ") + e.what());
    } catch (...) {
        return write_err(err, errlen, "event_rabbitmq: internal error");
    }
}

int rmq_raise(void *sock, const evi_event_t *ev, uint64_t token) {
    try {
        auto *s = static_cast<Socket *>(sock);
        if (!s || !ev || !ev->json.s || ev->json.len == 0) return EVI_ERR;
        return s->connection->submit(token, std::string_view(ev->json.s, ev->json.len), s->address);
    } catch (...) {
        return EVI_ERR;
    }
}

int rmq_match(const void *a, const void *b) {
    auto *x = static_cast<const Socket *>(a);
    auto *y = static_cast<const Socket *>(b);
    return x && y && x->address->same_destination(*y->address) ? 1 : 0;
}

int rmq_print(const void *sock, char *buf, size_t len) {
    try {
        std::string text = static_cast<const Socket *>(sock)->address->print();
        if (buf && len) std::snprintf(buf, len, "%s", text.c_str());
        return static_cast<int>(text.size());
    } catch (...) {
        if (buf && len) buf[0] = '\0';
        return 0;
    }
}

void rmq_free(void *sock) {
    auto *s = static_cast<Socket *>(sock);
    if (s) s->connection->detach();
    delete s;
}

const evi_transport_t kTransports[] = {
    {sizeof(evi_transport_t), "rabbitmq", EVI_TF_ASYNC | EVI_TF_JSON, rmq_parse, rmq_raise,
     rmq_match, rmq_print, rmq_free},
};

// ---- lifecycle ----------------------------------------------------------------------------

int rmq_init(const evi_host_t *host, char *err, size_t errlen) {
    Module &m = mod();
    m.host = host;
    const evi::rmq::Settings &s = m.settings;
    if (!s.tls_cert_file.empty() != !s.tls_key_file.empty())
        return write_err(err, errlen, "tls_cert_file and tls_key_file go together: set both");
    const std::pair<Counter, const char *> names[] = {
        {Counter::Published, "published"}, {Counter::Confirmed, "confirmed"},
        {Counter::Failed, "failed"},       {Counter::Expired, "expired"},
        {Counter::Returned, "returned"},   {Counter::Reconnects, "reconnects"},
    };
    const char *help[] = {
        "events written to a broker",
        "events the broker confirmed",
        "events reported as failed (nack, unroutable, expired, refused, shutdown)",
        "events dropped by max_event_age",
        "events the broker returned as unroutable",
        "connections re-established after a failure",
    };
    for (size_t i = 0; i < std::size(names); ++i)
        m.counters[names[i].first] = host->counter_register(host, names[i].second, help[i]);
    return EVI_OK;
}

void rmq_stop() {
    Module &m = mod();
    std::map<std::string, std::shared_ptr<Connection>> conns;
    {
        std::lock_guard<std::mutex> g(m.mu);
        conns = m.connections;
    }
    int grace_ms = m.settings.timeout_ms > 0 ? std::min(m.settings.timeout_ms, 10000) : 5000;
    auto deadline = evi::rmq::Clock::now() + std::chrono::milliseconds(grace_ms);
    try {
        for (auto &[key, c] : conns)
            c->request_stop(deadline);
        for (auto &[key, c] : conns)
            c->join();
    } catch (...) {
    }
}

void rmq_destroy() {
    Module &m = mod();
    std::map<std::string, std::shared_ptr<Connection>> conns;
    {
        std::lock_guard<std::mutex> g(m.mu);
        conns.swap(m.connections);
    }
    conns.clear(); // joins any thread still running
    evi::rmq::release_tls_library();
    m.host = nullptr;
}

const evi_module_t kModule = {
    .abi_major = EVI_ABI_MAJOR,
    .abi_minor = EVI_ABI_MINOR,
    .size = sizeof(evi_module_t),
    .name = "event_rabbitmq",
    .version = "1.0.0",
    .description = "RabbitMQ transport: JSON-RPC notifications over AMQP with publisher confirms",
    .params = kParams,
    .nparams = std::size(kParams),
    .transports = kTransports,
    .ntransports = std::size(kTransports),
    .mi_cmds = nullptr,
    .nmi_cmds = 0,
    .init = rmq_init,
    .start = nullptr,
    .stop = rmq_stop,
    .destroy = rmq_destroy,
    .reopen = nullptr,
    .drain = nullptr,
};

} // namespace

extern "C" const evi_module_t *evi_module_descriptor(void) {
    return &kModule;
}
