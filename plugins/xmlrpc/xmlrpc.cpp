/*
 * event_xmlrpc — XML-RPC calls over HTTP/1.1 (keep-alive), OpenSIPS's socket syntax and body.
 *
 * A blocking transport: the host calls raise() from the subscriber's delivery worker (one at a
 * time per socket) and retries failed deliveries itself. raise() returns the real outcome: the
 * HTTP status and the XML-RPC <fault> are read, within `timeout` ms.
 */
#include "evi_plugin.h"
#include "tcp_client.h"
#include "xmlrpc_wire.h"

#include <cstdio>
#include <memory>
#include <mutex>
#include <new>
#include <string>

namespace {

/** Module settings: written by modparam setters before init(), read-only afterwards. */
struct Settings {
    bool use_struct = false;
    unsigned timeout_ms = 1000;
    bool keepalive = true;
    const evi_host_t *host = nullptr;
};
Settings settings;

/** A subscriber's destination and its keep-alive connection. */
struct XmlrpcSocket {
    xmlrpc::Address addr;
    std::mutex mu; // the host serialises raise() per socket; this keeps it so for any caller
    evinet::TcpConnection conn;
    bool failing = false; // log the first failure loudly, the repeats quietly
};

template <class... A> void host_log(int level, const char *fmt, A... args) {
    if (settings.host && settings.host->log) settings.host->log(settings.host, level, fmt, args...);
}

void set_err(char *err, std::size_t errlen, const std::string &text) {
    if (err && errlen) std::snprintf(err, errlen, "%s", text.c_str());
}

/** One attempt at a call on the socket's connection. Returns 1 when done (ok or not), 0 when
 *  a reused keep-alive connection turned out to be closed by the server before it read the
 *  request (the caller then tries once more on a new connection). */
int call_once(XmlrpcSocket &s, const std::string &request, bool &ok, std::string &why) {
    ok = false;
    bool reused = false;
    if (s.conn.is_open()) {
        std::string stray;
        if (s.conn.read_pending(stray) && stray.empty())
            reused = true;
        else
            s.conn.close(); // closed by the server while idle, or it sent something unasked
    }
    if (!reused && !s.conn.connect(s.addr.dest, evinet::deadline_in(settings.timeout_ms), why))
        return 1;
    evinet::Deadline deadline = evinet::deadline_in(settings.timeout_ms);
    if (!s.conn.send_all(request, deadline, why)) {
        s.conn.close();
        return reused ? 0 : 1;
    }
    std::string in;
    xmlrpc::HttpResponse r;
    bool eof = false;
    xmlrpc::HttpParse st;
    while ((st = xmlrpc::parse_http_response(in, eof, r, why)) == xmlrpc::HttpParse::NeedMore) {
        long n = s.conn.recv_some(in, deadline, why);
        if (n < 0) break;
        if (n == 0) eof = true;
    }
    if (st != xmlrpc::HttpParse::Complete) {
        // A late answer must not be taken for the next call's: drop the connection.
        s.conn.close();
        return (reused && eof && in.empty()) ? 0 : 1;
    }
    ok = xmlrpc::response_ok(r, why);
    // After an error the server may not have read our body (Python answers 404 early):
    // its state is unknown, so the next call starts on a new connection.
    if (!ok || !r.keep_alive || !settings.keepalive || r.consumed != in.size()) s.conn.close();
    return 1;
}

int deliver(XmlrpcSocket &s, const evi_event_t &ev) {
    std::lock_guard<std::mutex> lock(s.mu);
    std::string body = xmlrpc::build_body(s.addr.method, ev, settings.use_struct);
    std::string request = xmlrpc::build_request(s.addr, body, settings.keepalive);
    bool ok = false;
    std::string why;
    if (call_once(s, request, ok, why) == 0) call_once(s, request, ok, why);
    std::string where = xmlrpc::print_address(s.addr);
    int name_len = static_cast<int>(ev.name.len);
    if (ok) {
        if (s.failing) host_log(EVI_L_INFO, "xmlrpc:%s accepts calls again", where.c_str());
        s.failing = false;
        return EVI_OK;
    }
    host_log(s.failing ? EVI_L_DBG : EVI_L_ERR, "%.*s to xmlrpc:%s failed: %s", name_len, ev.name.s,
             where.c_str(), why.c_str());
    s.failing = true;
    return EVI_ERR;
}

int xmlrpc_parse(evi_str_t address, int, void **sock, unsigned *, char *err, std::size_t errlen) {
    try {
        auto s = std::make_unique<XmlrpcSocket>();
        std::string why;
        if (!xmlrpc::parse_address(std::string_view(address.s, address.len), s->addr, why)) {
            set_err(err, errlen, why);
            return EVI_ERR;
        }
        *sock = s.release();
        return EVI_OK;
    } catch (...) {
        set_err(err, errlen, "out of memory");
        return EVI_ERR;
    }
}

int xmlrpc_raise(void *sock, const evi_event_t *ev, uint64_t) {
    try {
        return deliver(*static_cast<XmlrpcSocket *>(sock), *ev);
    } catch (...) {
        return EVI_ERR;
    }
}

int xmlrpc_match(const void *a, const void *b) {
    return xmlrpc::same_address(static_cast<const XmlrpcSocket *>(a)->addr,
                                static_cast<const XmlrpcSocket *>(b)->addr)
               ? 1
               : 0;
}

int xmlrpc_print(const void *sock, char *buf, std::size_t len) {
    try {
        std::string s = xmlrpc::print_address(static_cast<const XmlrpcSocket *>(sock)->addr);
        return std::snprintf(buf, len, "%s", s.c_str());
    } catch (...) {
        return std::snprintf(buf, len, "%s", "?");
    }
}

void xmlrpc_free(void *sock) {
    delete static_cast<XmlrpcSocket *>(sock);
}

int set_use_struct(const evi_param_value_t *v, char *, std::size_t) {
    settings.use_struct = v->i != 0;
    return EVI_OK;
}
int get_use_struct(char *buf, std::size_t len) {
    return std::snprintf(buf, len, "%d", settings.use_struct ? 1 : 0);
}
int set_timeout(const evi_param_value_t *v, char *, std::size_t) {
    settings.timeout_ms = static_cast<unsigned>(v->i);
    return EVI_OK;
}
int get_timeout(char *buf, std::size_t len) {
    return std::snprintf(buf, len, "%u", settings.timeout_ms);
}
int set_keepalive(const evi_param_value_t *v, char *, std::size_t) {
    settings.keepalive = v->i != 0;
    return EVI_OK;
}
int get_keepalive(char *buf, std::size_t len) {
    return std::snprintf(buf, len, "%d", settings.keepalive ? 1 : 0);
}

const evi_param_def_t params[] = {
    {"use_struct_param", EVI_PARAM_BOOL, "0", 0, 1, nullptr,
     "send each named event parameter as a one-member <struct> instead of <name> + <value>",
     set_use_struct, get_use_struct},
    {"timeout", EVI_PARAM_INT, "1000", 1, 600000, nullptr,
     "milliseconds to connect, and then to send a call and read its whole response", set_timeout,
     get_timeout},
    {"keepalive", EVI_PARAM_BOOL, "1", 0, 1, nullptr,
     "keep the HTTP/1.1 connection open between calls (0: one connection per call)", set_keepalive,
     get_keepalive},
};

const evi_transport_t transports[] = {
    {sizeof(evi_transport_t), "xmlrpc", EVI_TF_BLOCKING, xmlrpc_parse, xmlrpc_raise, xmlrpc_match,
     xmlrpc_print, xmlrpc_free},
};

int xmlrpc_init(const evi_host_t *host, char *, std::size_t) {
    settings.host = host;
    return EVI_OK;
}

void xmlrpc_destroy() {
    settings.host = nullptr;
}

const evi_module_t module = {
    .abi_major = EVI_ABI_MAJOR,
    .abi_minor = EVI_ABI_MINOR,
    .size = sizeof(evi_module_t),
    .name = "event_xmlrpc",
    .version = "1.0.0",
    .description = "XML-RPC calls over HTTP/1.1 keep-alive (OpenSIPS's xmlrpc: sockets and body)",
    .params = params,
    .nparams = sizeof params / sizeof params[0],
    .transports = transports,
    .ntransports = sizeof transports / sizeof transports[0],
    .mi_cmds = nullptr,
    .nmi_cmds = 0,
    .init = xmlrpc_init,
    .start = nullptr,
    .stop = nullptr,
    .destroy = xmlrpc_destroy,
    .reopen = nullptr,
    .drain = evinet::drain, // calls still waiting on a peer give up by the host's deadline
};

} // namespace

const evi_module_t *evi_module_descriptor(void) {
    return &module;
}
