/*
 * event_stream — JSON-RPC over one persistent TCP connection per destination (OpenSIPS 3.1's
 * event_stream: sockets "tcp:HOST:PORT[/METHOD]").
 *
 * A blocking transport: the host calls raise() from the subscriber's delivery worker and
 * retries failures itself. Subscribers of the same HOST:PORT share one connection (a mutex
 * serialises them). In reliable_mode each event is a request with an id and counts as
 * delivered only when a reply with that id and without "error" arrives within `timeout`.
 */
#include "evi_plugin.h"
#include "stream_wire.h"
#include "tcp_client.h"

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

/** Module settings: written by modparam setters before init(), read-only afterwards. */
struct Settings {
    bool reliable = false;
    unsigned timeout_ms = 1000;
    std::string event_param;
    const evi_host_t *host = nullptr;
};
Settings settings;

/** One destination HOST:PORT and its connection, shared by the sockets that address it. */
struct Destination {
    evinet::HostPort dest;
    std::mutex mu; // one exchange at a time on the connection
    evinet::TcpConnection conn;
    std::string rbuf;     // received bytes not yet scanned (reliable mode)
    bool failing = false; // log the first failure loudly, the repeats quietly
};

struct StreamSocket {
    stream::Address addr;
    std::shared_ptr<Destination> dest;
};

/** The destinations in use, so that sockets to the same HOST:PORT share a connection. */
struct Destinations {
    std::mutex mu;
    std::vector<std::weak_ptr<Destination>> list;

    std::shared_ptr<Destination> acquire(const evinet::HostPort &hp) {
        std::lock_guard<std::mutex> lock(mu);
        std::shared_ptr<Destination> found;
        std::vector<std::weak_ptr<Destination>> alive;
        for (auto &w : list) {
            auto d = w.lock();
            if (!d) continue;
            if (!found && d->dest.same(hp)) found = d;
            alive.push_back(w);
        }
        if (!found) {
            found = std::make_shared<Destination>();
            found->dest = hp;
            alive.push_back(found);
        }
        list.swap(alive);
        return found;
    }
};
Destinations destinations;

std::atomic<uint32_t> last_id{0};

/** Request ids: positive, unique per process (until they wrap after 2^31 requests). */
int64_t next_request_id() {
    for (;;) {
        uint32_t v = (last_id.fetch_add(1, std::memory_order_relaxed) + 1) & 0x7fffffffu;
        if (v != 0) return v;
    }
}

template <class... A> void host_log(int level, const char *fmt, A... args) {
    if (settings.host && settings.host->log) settings.host->log(settings.host, level, fmt, args...);
}

void set_err(char *err, std::size_t errlen, const std::string &text) {
    if (err && errlen) std::snprintf(err, errlen, "%s", text.c_str());
}

void drop_connection(Destination &d) {
    d.conn.close();
    d.rbuf.clear();
}

/** Before a new exchange: drop what the peer sent since the last one (replies that came too
 *  late) and tell whether the idle connection is still usable. */
bool connection_usable(Destination &d) {
    if (!d.conn.is_open()) return false;
    if (!d.conn.read_pending(d.rbuf)) {
        drop_connection(d); // the peer closed it while idle
        return false;
    }
    if (!settings.reliable) {
        d.rbuf.clear(); // nothing is expected from the peer in notification mode
        return true;
    }
    for (;;) {
        std::size_t used = 0;
        stream::Reply r;
        stream::Scan st = stream::scan_reply(d.rbuf, used, r);
        if (st == stream::Scan::Invalid) {
            drop_connection(d);
            return false;
        }
        d.rbuf.erase(0, used);
        if (st == stream::Scan::Incomplete) return true;
    }
}

/** One attempt. Returns 1 when done (ok or not), 0 when a reused connection turned out to be
 *  closed by the peer before it answered (the caller tries once more on a new connection). */
int exchange(Destination &d, const std::string &payload, int64_t id, bool &ok, std::string &why) {
    ok = false;
    bool reused = connection_usable(d);
    if (!reused && !d.conn.connect(d.dest, evinet::deadline_in(settings.timeout_ms), why)) return 1;
    evinet::Deadline deadline = evinet::deadline_in(settings.timeout_ms);
    if (!d.conn.send_all(payload, deadline, why)) {
        drop_connection(d);
        return reused ? 0 : 1;
    }
    if (!settings.reliable) {
        ok = true;
        return 1;
    }
    bool answered = false;
    for (;;) {
        for (;;) {
            std::size_t used = 0;
            stream::Reply r;
            stream::Scan st = stream::scan_reply(d.rbuf, used, r);
            if (st == stream::Scan::Invalid) {
                why = "the peer sent something that is not JSON";
                drop_connection(d);
                return 1;
            }
            d.rbuf.erase(0, used);
            if (st == stream::Scan::Incomplete) break;
            answered = true;
            if (!r.has_id || r.id != id)
                continue; // a late reply to an earlier request, or not a reply
            if (r.is_error) {
                why = "error reply " + r.error_text;
                return 1;
            }
            ok = true;
            return 1;
        }
        long n = d.conn.recv_some(d.rbuf, deadline, why);
        if (n > 0) continue;
        if (n == 0)
            why = "the peer closed the connection before replying";
        else if (n == -2 && !evinet::giving_up())
            why = "no reply within " + std::to_string(settings.timeout_ms) + " ms";
        // A late reply would only be discarded: start the next exchange on a new connection.
        drop_connection(d);
        return (n == 0 && reused && !answered) ? 0 : 1;
    }
}

bool all_params_named(const evi_event_t &ev) {
    for (std::size_t i = 0; i < ev.nparams; ++i)
        if (ev.params[i].name.len == 0) return false;
    return true;
}

int deliver(StreamSocket &s, const evi_event_t &ev) {
    Destination &d = *s.dest;
    std::lock_guard<std::mutex> lock(d.mu);
    std::string_view name(ev.name.s ? ev.name.s : "", ev.name.len);
    int64_t id = settings.reliable ? next_request_id() : 0;
    std::string payload;
    if (!settings.reliable && s.addr.method.empty() && settings.event_param.empty() && ev.json.s &&
        ev.json.len && all_params_named(ev)) {
        payload.assign(ev.json.s, ev.json.len); // the host's encoding is exactly ours here
    } else {
        std::string_view method = s.addr.method.empty() ? name : s.addr.method;
        payload = stream::build_payload(method, ev, id, settings.event_param);
    }
    bool ok = false;
    std::string why;
    if (exchange(d, payload, id, ok, why) == 0) exchange(d, payload, id, ok, why);
    std::string where = stream::print_address(s.addr);
    if (ok) {
        if (d.failing) host_log(EVI_L_INFO, "tcp:%s accepts events again", where.c_str());
        d.failing = false;
        return EVI_OK;
    }
    host_log(d.failing ? EVI_L_DBG : EVI_L_ERR, "%.*s to tcp:%s failed: %s",
             static_cast<int>(name.size()), name.data(), where.c_str(), why.c_str());
    d.failing = true;
    return EVI_ERR;
}

int stream_parse(evi_str_t address, int, void **sock, unsigned *flags, char *err,
                 std::size_t errlen) {
    try {
        auto s = std::make_unique<StreamSocket>();
        std::string why;
        if (!stream::parse_address(std::string_view(address.s, address.len), s->addr, why)) {
            set_err(err, errlen, why);
            return EVI_ERR;
        }
        s->dest = destinations.acquire(s->addr.dest);
        // The host's JSON is used only for plain notifications; spare it the encoding otherwise.
        if (flags &&
            (settings.reliable || !s->addr.method.empty() || !settings.event_param.empty()))
            *flags &= ~static_cast<unsigned>(EVI_TF_JSON);
        *sock = s.release();
        return EVI_OK;
    } catch (...) {
        set_err(err, errlen, "out of memory");
        return EVI_ERR;
    }
}

int stream_raise(void *sock, const evi_event_t *ev, uint64_t) {
    try {
        return deliver(*static_cast<StreamSocket *>(sock), *ev);
    } catch (...) {
        return EVI_ERR;
    }
}

int stream_match(const void *a, const void *b) {
    return stream::same_address(static_cast<const StreamSocket *>(a)->addr,
                                static_cast<const StreamSocket *>(b)->addr)
               ? 1
               : 0;
}

int stream_print(const void *sock, char *buf, std::size_t len) {
    try {
        std::string s = stream::print_address(static_cast<const StreamSocket *>(sock)->addr);
        return std::snprintf(buf, len, "%s", s.c_str());
    } catch (...) {
        return std::snprintf(buf, len, "%s", "?");
    }
}

void stream_free(void *sock) {
    delete static_cast<StreamSocket *>(sock);
}

int set_reliable(const evi_param_value_t *v, char *, std::size_t) {
    settings.reliable = v->i != 0;
    return EVI_OK;
}
int get_reliable(char *buf, std::size_t len) {
    return std::snprintf(buf, len, "%d", settings.reliable ? 1 : 0);
}
int set_timeout(const evi_param_value_t *v, char *, std::size_t) {
    settings.timeout_ms = static_cast<unsigned>(v->i);
    return EVI_OK;
}
int get_timeout(char *buf, std::size_t len) {
    return std::snprintf(buf, len, "%u", settings.timeout_ms);
}
int set_event_param(const evi_param_value_t *v, char *, std::size_t) {
    try {
        settings.event_param.assign(v->s.s ? v->s.s : "", v->s.len);
        return EVI_OK;
    } catch (...) {
        return EVI_ERR;
    }
}
int get_event_param(char *buf, std::size_t len) {
    return std::snprintf(buf, len, "%s", settings.event_param.c_str());
}

const evi_param_def_t params[] = {
    {"reliable_mode", EVI_PARAM_BOOL, "0", 0, 1, nullptr,
     "send requests with ids and count an event as delivered only when its reply has no error",
     set_reliable, get_reliable},
    {"timeout", EVI_PARAM_INT, "1000", 1, 600000, nullptr,
     "milliseconds to connect, and then to send an event (and, in reliable_mode, get its reply)",
     set_timeout, get_timeout},
    {"event_param", EVI_PARAM_STR, "", 0, -1, nullptr,
     "name of a param that carries the event's name (empty: not sent)", set_event_param,
     get_event_param},
};

const evi_transport_t transports[] = {
    {sizeof(evi_transport_t), "tcp", EVI_TF_BLOCKING | EVI_TF_JSON, stream_parse, stream_raise,
     stream_match, stream_print, stream_free},
};

int stream_init(const evi_host_t *host, char *, std::size_t) {
    settings.host = host;
    return EVI_OK;
}

void stream_destroy() {
    settings.host = nullptr;
}

const evi_module_t module = {
    .abi_major = EVI_ABI_MAJOR,
    .abi_minor = EVI_ABI_MINOR,
    .size = sizeof(evi_module_t),
    .name = "event_stream",
    .version = "1.0.0",
    .description =
        "JSON-RPC over persistent TCP connections (OpenSIPS's tcp: sockets of event_stream)",
    .params = params,
    .nparams = sizeof params / sizeof params[0],
    .transports = transports,
    .ntransports = sizeof transports / sizeof transports[0],
    .mi_cmds = nullptr,
    .nmi_cmds = 0,
    .init = stream_init,
    .start = nullptr,
    .stop = nullptr,
    .destroy = stream_destroy,
    .reopen = nullptr,
    .drain = evinet::drain, // calls still waiting on a peer give up by the host's deadline
};

} // namespace

const evi_module_t *evi_module_descriptor(void) {
    return &module;
}
