/*
 * event_datagram: events as UDP (IPv4/IPv6) and Unix datagrams.
 *
 *   udp:127.0.0.1:8888   udp:[::1]:8888   udp:host.example:8888   unix:/run/consumer.sock
 *
 * One event per datagram. UDP is an inline transport: one non-blocking send on the raiser's
 * thread (the kernel may drop UDP anyway), over a socket connected to the destination (one per
 * destination, shared by its subscribers, up to udp_connected_sockets destinations), else over
 * one shared unconnected socket. Unix datagrams are reliable, so a unix socket is a blocking
 * transport (the host queues its events and calls raise() from the subscriber's worker): one
 * connected socket per subscriber that waits, bounded by unix_timeout_ms, while the listener's
 * queue is full, instead of dropping the event. The payload is the host's JSON-RPC notification
 * (no per-event allocation) or, with payload_format "text", the OpenSIPS 2.x text format built
 * on the stack.
 */
#define _GNU_SOURCE
#include "dgram_format.h"
#include "evi_plugin.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define UDP4_MAX_PAYLOAD 65507 /* 65535 - 20 (IPv4 header) - 8 (UDP header) */
#define UDP6_MAX_PAYLOAD 65527 /* 65535 - 8 (UDP header); the IPv6 header is not counted */

enum { FORMAT_JSON = 0, FORMAT_TEXT = 1 };

static const evi_host_t *host;
static int payload_format = FORMAT_JSON;
static int64_t unix_timeout_ms = 1000;
static int64_t udp_connected_max = 64;
static int fd_udp4 = -1, fd_udp6 = -1; /* shared, unconnected: sendto() */
static int ctr_oversized = -1, ctr_send_failed = -1;
static _Atomic long last_error_log;
/* drain(): the host's shutdown deadline (CLOCK_MONOTONIC ms); a unix send stops waiting then */
static _Atomic int64_t give_up_ms = INT64_MAX;

/* A UDP socket connected to one destination, shared by every subscriber of that destination. */
struct udp_dest {
    struct udp_dest *next;
    int refs; /* subscribers using it; guarded by dests_lock */
    int fd;   /* fixed while refs > 0 */
    socklen_t addrlen;
    struct sockaddr_storage addr;
};

static pthread_mutex_t dests_lock = PTHREAD_MUTEX_INITIALIZER;
static struct udp_dest *dests; /* guarded by dests_lock */
static int64_t ndests;         /* guarded by dests_lock */

struct dgram_sock {
    int family;
    int fd; /* unix: the connected socket, -1 until the first send; guarded by lock */
    struct udp_dest *dest; /* udp: the connected socket (set once by parse), or NULL: shared */
    pthread_mutex_t lock;
    socklen_t addrlen;
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
    } addr;
    char text[]; /* the address as the user wrote it, NUL-terminated */
};

/* ---- parameters ------------------------------------------------------------------------- */

static const char *const format_names[] = {"json", "text", NULL};

static int set_payload_format(const evi_param_value_t *v, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    payload_format = (int)v->i;
    return EVI_OK;
}

static int get_payload_format(char *buf, size_t len) {
    return snprintf(buf, len, "%s", format_names[payload_format]);
}

static int set_unix_timeout(const evi_param_value_t *v, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    unix_timeout_ms = v->i;
    return EVI_OK;
}

static int get_unix_timeout(char *buf, size_t len) {
    return snprintf(buf, len, "%lld", (long long)unix_timeout_ms);
}

static int set_udp_connected(const evi_param_value_t *v, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    udp_connected_max = v->i;
    return EVI_OK;
}

static int get_udp_connected(char *buf, size_t len) {
    return snprintf(buf, len, "%lld", (long long)udp_connected_max);
}

static const evi_param_def_t params[] = {
    {"payload_format", EVI_PARAM_ENUM, "json", 0, -1, format_names,
     "json: the JSON-RPC 2.0 notification; text: the OpenSIPS 2.x 'E_X\\nname::value\\n\\n' "
     "format",
     set_payload_format, get_payload_format},
    {"unix_timeout_ms", EVI_PARAM_INT, "1000", 0, 60000, NULL,
     "how long a unix send waits for room in the listener's queue before it fails (the core "
     "then retries)",
     set_unix_timeout, get_unix_timeout},
    {"udp_connected_sockets", EVI_PARAM_INT, "64", 0, 65536, NULL,
     "how many UDP destinations get a socket connected to them (a send then skips the route "
     "lookup), shared by every subscriber of that destination; the others share one "
     "unconnected socket. 0: none",
     set_udp_connected, get_udp_connected},
};

/* ---- helpers ---------------------------------------------------------------------------- */

/* Send errors are logged at most once a second: a dead peer must not flood the log. */
static void log_send_error(const struct dgram_sock *s, const char *proto, int err, size_t len) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    long last = atomic_load_explicit(&last_error_log, memory_order_relaxed);
    if (now.tv_sec == last ||
        !atomic_compare_exchange_strong(&last_error_log, &last, (long)now.tv_sec))
        return;
    host->log(host, EVI_L_ERR, "cannot send a %zu-byte event to %s:%s: %s", len, proto, s->text,
              strerror(err));
}

static struct dgram_sock *sock_new(const char *text, size_t len) {
    struct dgram_sock *s = calloc(1, sizeof *s + len + 1);
    if (s) {
        memcpy(s->text, text, len);
        s->fd = -1;
        pthread_mutex_init(&s->lock, NULL);
    }
    return s;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- udp -------------------------------------------------------------------------------- */

/*
 * The socket connected to the subscriber's destination: the kernel then looks the route up
 * once, not per datagram (loopback: about 6% less CPU per send). Subscribers of the same
 * destination (several events, one consumer) share it; a new destination gets one while fewer
 * than udp_connected_sockets destinations have one. Leaves s->dest NULL past that limit, or
 * when the socket cannot be made (EMFILE, no route): the subscriber then uses the shared
 * unconnected socket, as it always could.
 */
static void udp_connect(struct dgram_sock *s) {
    struct udp_dest *d;
    pthread_mutex_lock(&dests_lock);
    for (d = dests; d; d = d->next)
        if (d->addrlen == s->addrlen && memcmp(&d->addr, &s->addr, s->addrlen) == 0) break;
    if (!d && ndests < udp_connected_max && (d = calloc(1, sizeof *d))) {
        d->fd = socket(s->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (d->fd < 0 || connect(d->fd, &s->addr.sa, s->addrlen) != 0) {
            if (d->fd >= 0) close(d->fd);
            free(d);
            d = NULL;
        } else {
            d->addrlen = s->addrlen;
            memcpy(&d->addr, &s->addr, s->addrlen);
            d->next = dests;
            dests = d;
            ndests++;
        }
    }
    if (d) {
        d->refs++;
        s->dest = d;
    }
    pthread_mutex_unlock(&dests_lock);
}

static void udp_disconnect(struct dgram_sock *s) {
    struct udp_dest **p;
    if (!s->dest) return;
    pthread_mutex_lock(&dests_lock);
    if (--s->dest->refs == 0) {
        for (p = &dests; *p != s->dest; p = &(*p)->next)
            ;
        *p = s->dest->next;
        ndests--;
        close(s->dest->fd);
        free(s->dest);
    }
    pthread_mutex_unlock(&dests_lock);
    s->dest = NULL;
}

static int udp_parse(evi_str_t address, int from_mi, void **out, unsigned *flags, char *err,
                     size_t errlen) {
    char hostname[256], port_s[8];
    uint16_t port;
    struct addrinfo hints, *res = NULL;
    int rc;
    (void)from_mi;

    if (dgram_split_udp(address.s, address.len, hostname, sizeof hostname, &port, err, errlen) < 0)
        return EVI_ERR;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(port_s, sizeof port_s, "%u", (unsigned)port);
    rc = getaddrinfo(hostname, port_s, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "cannot resolve host '%s': %s", hostname, gai_strerror(rc));
        return EVI_ERR;
    }
    struct dgram_sock *s = sock_new(address.s, address.len);
    if (!s) {
        freeaddrinfo(res);
        snprintf(err, errlen, "out of memory");
        return EVI_ERR;
    }
    s->family = res->ai_family;
    s->addrlen = res->ai_addrlen;
    memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if ((s->family == AF_INET && fd_udp4 < 0) || (s->family == AF_INET6 && fd_udp6 < 0) ||
        (s->family != AF_INET && s->family != AF_INET6)) {
        snprintf(err, errlen, "'%s': no %s UDP socket available on this host", s->text,
                 s->family == AF_INET6 ? "IPv6" : "IPv4");
        free(s);
        return EVI_ERR;
    }
    udp_connect(s);
    if (payload_format == FORMAT_TEXT) *flags &= ~(unsigned)EVI_TF_JSON;
    *out = s;
    return EVI_OK;
}

/*
 * One UDP datagram. A connected socket keeps the error an ICMP message reports for an earlier
 * datagram (port unreachable: ECONNREFUSED) and returns it from the next send, which then
 * sends nothing: that send is made once more. So, as over the shared unconnected socket, which
 * never hears of such errors, a datagram to a port nobody listens on counts as delivered.
 */
static ssize_t udp_send(const struct dgram_sock *s, int shared_fd, const char *buf, size_t len) {
    int again = 0;
    for (;;) {
        ssize_t n = s->dest ? send(s->dest->fd, buf, len, 0)
                            : sendto(shared_fd, buf, len, 0, &s->addr.sa, s->addrlen);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (!s->dest || errno == EAGAIN || errno == EMSGSIZE || again++) return n;
    }
}

/* ---- unix ------------------------------------------------------------------------------- */

static int unix_parse(evi_str_t address, int from_mi, void **out, unsigned *flags, char *err,
                      size_t errlen) {
    struct dgram_sock *s;
    (void)from_mi;

    if (address.len == 0) {
        snprintf(err, errlen, "empty path: expected unix:/path/to/socket");
        return EVI_ERR;
    }
    if (memchr(address.s, 0, address.len)) {
        snprintf(err, errlen, "the socket path contains a NUL byte");
        return EVI_ERR;
    }
    if (address.len >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(err, errlen, "'%.*s': a unix socket path has at most %zu bytes", (int)address.len,
                 address.s, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        return EVI_ERR;
    }
    s = sock_new(address.s, address.len);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return EVI_ERR;
    }
    s->family = AF_UNIX;
    s->addr.un.sun_family = AF_UNIX;
    memcpy(s->addr.un.sun_path, address.s, address.len);
    s->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + address.len + 1);
    if (payload_format == FORMAT_TEXT) *flags &= ~(unsigned)EVI_TF_JSON;
    *flags |= EVI_TF_BLOCKING; /* may wait for the listener: never on the raiser's thread */
    *out = s;
    return EVI_OK;
}

/*
 * One datagram to a unix listener over this subscriber's connected socket. Waits (poll) up to
 * unix_timeout_ms while the listener's queue is full; reconnects once when the listener was
 * restarted. Returns the bytes sent or -1 with errno set.
 */
static ssize_t unix_send(struct dgram_sock *s, const char *buf, size_t len) {
    const int64_t deadline = now_ms() + unix_timeout_ms;
    int reconnected = 0, e = 0;
    ssize_t n = -1;

    pthread_mutex_lock(&s->lock);
    for (;;) {
        if (s->fd < 0) {
            s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (s->fd < 0) {
                e = errno;
                break;
            }
            if (connect(s->fd, &s->addr.sa, s->addrlen) < 0) {
                e = errno;
                close(s->fd);
                s->fd = -1;
                break;
            }
        }
        n = send(s->fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0) break;
        e = errno;
        if (e == EINTR) continue;
        if (e == EAGAIN) {
            /* in slices of 100 ms, so that a drain() meanwhile ends the wait on time */
            const int64_t give_up = atomic_load_explicit(&give_up_ms, memory_order_relaxed);
            int64_t left = (deadline < give_up ? deadline : give_up) - now_ms();
            struct pollfd p = {s->fd, POLLOUT, 0};
            if (left <= 0) {
                e = ETIMEDOUT;
                break;
            }
            (void)poll(&p, 1, left < 100 ? (int)left : 100);
            continue;
        }
        /* the listener went away (and may be back under the same path): connect again */
        close(s->fd);
        s->fd = -1;
        if (reconnected++ || (e != ECONNREFUSED && e != ENOTCONN && e != ECONNRESET && e != EPIPE))
            break;
    }
    pthread_mutex_unlock(&s->lock);
    if (n < 0) errno = e;
    return n;
}

/* ---- shared by both transports ---------------------------------------------------------- */

static int dgram_raise(void *sock, const evi_event_t *ev, uint64_t token) {
    struct dgram_sock *s = sock;
    char stack[8192], *heap = NULL;
    const char *buf;
    size_t len, max;
    ssize_t n;
    int fd, rc = EVI_OK;
    (void)token;

    if (payload_format == FORMAT_TEXT) {
        size_t need = dgram_text_bound(ev);
        char *b = stack;
        if (need > sizeof stack && !(b = heap = malloc(need))) {
            host->counter_add(host, ctr_send_failed, 1);
            return EVI_ERR;
        }
        len = dgram_text_write(ev, b);
        buf = b;
    } else {
        buf = ev->json.s;
        len = ev->json.len;
        if (!buf || !len) {
            host->log(host, EVI_L_ERR, "the host handed %.*s over without its JSON payload",
                      (int)ev->name.len, ev->name.s);
            return EVI_ERR;
        }
    }

    switch (s->family) {
    case AF_INET:
        fd = fd_udp4, max = UDP4_MAX_PAYLOAD;
        break;
    case AF_INET6:
        fd = fd_udp6, max = UDP6_MAX_PAYLOAD;
        break;
    default:
        fd = -1, max = (size_t)-1; /* the kernel says EMSGSIZE past the socket buffer */
        break;
    }

    if (len > max) {
        n = -1;
        errno = EMSGSIZE;
    } else if (s->family == AF_UNIX) {
        n = unix_send(s, buf, len);
    } else {
        n = udp_send(s, fd, buf, len);
    }
    if (n < 0 || (size_t)n != len) {
        int e = n < 0 ? errno : EMSGSIZE;
        host->counter_add(host, e == EMSGSIZE ? ctr_oversized : ctr_send_failed, 1);
        log_send_error(s, s->family == AF_UNIX ? "unix" : "udp", e, len);
        rc = EVI_ERR;
    }
    free(heap);
    return rc;
}

static int dgram_match(const void *a, const void *b) {
    const struct dgram_sock *x = a, *y = b;
    if (x->family != y->family || x->addrlen != y->addrlen) return 0;
    switch (x->family) {
    case AF_INET:
        return x->addr.in4.sin_port == y->addr.in4.sin_port &&
               x->addr.in4.sin_addr.s_addr == y->addr.in4.sin_addr.s_addr;
    case AF_INET6:
        return x->addr.in6.sin6_port == y->addr.in6.sin6_port &&
               x->addr.in6.sin6_scope_id == y->addr.in6.sin6_scope_id &&
               memcmp(&x->addr.in6.sin6_addr, &y->addr.in6.sin6_addr,
                      sizeof x->addr.in6.sin6_addr) == 0;
    default:
        return strcmp(x->addr.un.sun_path, y->addr.un.sun_path) == 0;
    }
}

static int dgram_print(const void *sock, char *buf, size_t len) {
    return snprintf(buf, len, "%s", ((const struct dgram_sock *)sock)->text);
}

static void dgram_free(void *sock) {
    struct dgram_sock *s = sock;
    if (s->family != AF_UNIX)
        udp_disconnect(s);
    else if (s->fd >= 0)
        close(s->fd);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static const evi_transport_t transports[] = {
    {sizeof(evi_transport_t), "udp", EVI_TF_JSON, udp_parse, dgram_raise, dgram_match, dgram_print,
     dgram_free},
    {sizeof(evi_transport_t), "unix", EVI_TF_JSON, unix_parse, dgram_raise, dgram_match,
     dgram_print, dgram_free},
};

/* ---- lifecycle -------------------------------------------------------------------------- */

static int dgram_socket(int family) {
    return socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

static void dgram_drain(int64_t deadline_ms) {
    atomic_store_explicit(&give_up_ms, deadline_ms, memory_order_relaxed);
}

static void dgram_destroy(void) {
    if (fd_udp4 >= 0) close(fd_udp4);
    if (fd_udp6 >= 0) close(fd_udp6);
    fd_udp4 = fd_udp6 = -1;
}

static int dgram_init(const evi_host_t *h, char *err, size_t errlen) {
    host = h;
    fd_udp4 = dgram_socket(AF_INET);
    fd_udp6 = dgram_socket(AF_INET6); /* may fail where IPv6 is off: udp:[…] is then refused */
    if (fd_udp4 < 0) {
        snprintf(err, errlen, "cannot create a datagram socket: %s", strerror(errno));
        dgram_destroy();
        return EVI_ERR;
    }
    ctr_oversized = h->counter_register(h, "oversized",
                                        "events refused because they do not fit in one datagram");
    ctr_send_failed = h->counter_register(
        h, "send_failed", "events the kernel refused to send (no listener, buffer full, ...)");
    return EVI_OK;
}

static const evi_module_t module = {
    .abi_major = EVI_ABI_MAJOR,
    .abi_minor = EVI_ABI_MINOR,
    .size = sizeof(evi_module_t),
    .name = "event_datagram",
    .version = "1.0.0",
    .description = "Events as UDP (IPv4/IPv6) and Unix datagrams, one event per datagram",
    .params = params,
    .nparams = sizeof params / sizeof params[0],
    .transports = transports,
    .ntransports = sizeof transports / sizeof transports[0],
    .init = dgram_init,
    .destroy = dgram_destroy,
    .drain = dgram_drain,
};

const evi_module_t *evi_module_descriptor(void) {
    return &module;
}
