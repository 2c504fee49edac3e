/*
 * event_virtual: one subscription delivered through several sockets of any transport.
 *
 *   virtual:PARALLEL udp:127.0.0.1:8888 flatstore:/var/log/evi/events.log
 *   virtual:FAILOVER rabbitmq:guest:guest@127.0.0.1:5672/q udp:127.0.0.1:8888
 *   virtual:ROUND-ROBIN udp:10.0.0.1:8888 udp:10.0.0.2:8888
 *
 * Members are opened, raised, printed, matched and closed through the host table, so this
 * module knows no other transport. A socket whose members all deliver inline is inline too;
 * otherwise it is blocking: raise() runs on the subscriber's delivery worker and
 * host->socket_raise() gives each member's real outcome (it waits for blocking and
 * asynchronous members).
 */
#define _GNU_SOURCE
#include "evi_plugin.h"
#include "virtual_spec.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_MEMBERS 64

struct member {
    evi_socket_t *sock;
    _Atomic int64_t failed_at_ms; /* monotonic ms of the last failure; 0: none */
};

struct virt_sock {
    int policy;
    size_t n;
    atomic_size_t next; /* ROUND-ROBIN: where the next event starts */
    struct member m[];
};

static const evi_host_t *host;
static int64_t failover_timeout = 30;
static int ctr_member_failed = -1, ctr_lost = -1;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1; /* never 0 */
}

/* ---- parameters ------------------------------------------------------------------------- */

static int set_timeout(const evi_param_value_t *v, char *e, size_t n) {
    (void)e, (void)n;
    failover_timeout = v->i;
    return EVI_OK;
}
static int get_timeout(char *b, size_t n) {
    return snprintf(b, n, "%lld", (long long)failover_timeout);
}

static const evi_param_def_t params[] = {
    {"failover_timeout", EVI_PARAM_INT, "30", 0, 86400, NULL,
     "seconds a member that failed is tried only after the others (FAILOVER, ROUND-ROBIN)",
     set_timeout, get_timeout},
};

/* ---- transport -------------------------------------------------------------------------- */

static void virt_free(void *sock) {
    struct virt_sock *v = sock;
    for (size_t i = 0; i < v->n; i++)
        if (v->m[i].sock) host->socket_close(host, v->m[i].sock);
    free(v);
}

/* Inline when every member delivers inline (udp, flatstore, route sync): the members run on
 * the raiser's thread as they would if subscribed one by one, with no queue in between.
 * Otherwise blocking: raise() runs on the subscriber's worker and may wait for members. The
 * core encodes the JSON payload once when a member wants it. */
static unsigned virt_flags(const struct virt_sock *v) {
    unsigned member_flags = 0;
    if (!EVI_HOST_HAS(host, socket_flags)) return EVI_TF_BLOCKING | EVI_TF_JSON;
    for (size_t i = 0; i < v->n; i++)
        member_flags |= host->socket_flags(host, v->m[i].sock);
    if (member_flags & (EVI_TF_BLOCKING | EVI_TF_ASYNC))
        return EVI_TF_BLOCKING | (member_flags & EVI_TF_JSON);
    return member_flags & EVI_TF_JSON;
}

static int virt_parse(evi_str_t address, int from_mi, void **out, unsigned *flags, char *err,
                      size_t errlen) {
    evi_str_t members[MAX_MEMBERS];
    size_t n;
    int policy;
    struct virt_sock *v;

    if (virt_parse_spec(address.s, address.len, &policy, members, MAX_MEMBERS, &n, err, errlen) < 0)
        return EVI_ERR;
    v = calloc(1, sizeof *v + n * sizeof v->m[0]);
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return EVI_ERR;
    }
    v->policy = policy;
    v->n = n;
    for (size_t i = 0; i < n; i++) {
        char merr[512];
        merr[0] = 0;
        if (host->socket_open(host, members[i], from_mi, &v->m[i].sock, merr, sizeof merr) !=
                EVI_OK ||
            !v->m[i].sock) {
            snprintf(err, errlen, "member %zu '%.*s': %s", i + 1, (int)members[i].len, members[i].s,
                     merr[0] ? merr : "cannot open");
            v->m[i].sock = NULL;
            virt_free(v);
            return EVI_ERR;
        }
    }
    *flags = virt_flags(v);
    *out = v;
    return EVI_OK;
}

/* Try members in order until one delivers; every member failed: the event is lost here. */
static int deliver_one(struct virt_sock *v, const evi_event_t *ev, size_t start) {
    unsigned char penalised[MAX_MEMBERS];
    size_t order[MAX_MEMBERS];
    int64_t now = now_ms(), window = failover_timeout * 1000;

    for (size_t i = 0; i < v->n; i++) {
        int64_t f = atomic_load(&v->m[i].failed_at_ms);
        penalised[i] = f != 0 && now - f < window;
    }
    virt_attempt_order(v->policy, v->n, start, penalised, order);
    for (size_t k = 0; k < v->n; k++) {
        struct member *m = &v->m[order[k]];
        if (host->socket_raise(host, m->sock, ev) == EVI_OK) {
            atomic_store(&m->failed_at_ms, 0);
            return EVI_OK;
        }
        atomic_store(&m->failed_at_ms, now_ms());
        host->counter_add(host, ctr_member_failed, 1);
    }
    host->counter_add(host, ctr_lost, 1);
    return EVI_ERR;
}

static int deliver_all(struct virt_sock *v, const evi_event_t *ev) {
    size_t delivered = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (host->socket_raise(host, v->m[i].sock, ev) == EVI_OK) {
            atomic_store(&v->m[i].failed_at_ms, 0);
            delivered++;
        } else {
            atomic_store(&v->m[i].failed_at_ms, now_ms());
            host->counter_add(host, ctr_member_failed, 1);
        }
    }
    if (delivered) return EVI_OK;
    host->counter_add(host, ctr_lost, 1);
    return EVI_ERR;
}

static int virt_raise(void *sock, const evi_event_t *ev, uint64_t token) {
    struct virt_sock *v = sock;
    (void)token;
    switch (v->policy) {
    case VIRT_PARALLEL:
        return deliver_all(v, ev);
    case VIRT_ROUND_ROBIN:
        return deliver_one(v, ev, atomic_fetch_add(&v->next, 1) % v->n);
    default:
        return deliver_one(v, ev, 0);
    }
}

static int virt_match(const void *a, const void *b) {
    const struct virt_sock *x = a, *y = b;
    unsigned char eq[MAX_MEMBERS * MAX_MEMBERS];
    if (x->policy != y->policy || x->n != y->n) return 0;
    if (x->policy != VIRT_PARALLEL) {
        for (size_t i = 0; i < x->n; i++)
            if (!host->socket_match(host, x->m[i].sock, y->m[i].sock)) return 0;
        return 1;
    }
    for (size_t i = 0; i < x->n; i++)
        for (size_t j = 0; j < x->n; j++)
            eq[i * x->n + j] = (unsigned char)host->socket_match(host, x->m[i].sock, y->m[j].sock);
    return virt_same_set(x->n, eq);
}

/* Appends like snprintf: counts everything, copies what fits (buf has len bytes). */
static void append(char *buf, size_t len, size_t *used, const char *s, size_t n) {
    if (*used < len) {
        size_t room = len - *used - 1, c = n < room ? n : room;
        memcpy(buf + *used, s, c);
        buf[*used + c] = 0;
    }
    *used += n;
}

static int virt_print(const void *sock, char *buf, size_t len) {
    const struct virt_sock *v = sock;
    const char *name = virt_policy_name(v->policy);
    size_t used = 0;
    char tmp[1024];
    if (len) buf[0] = 0;
    append(buf, len, &used, name, strlen(name));
    for (size_t i = 0; i < v->n; i++) {
        int n = host->socket_print(host, v->m[i].sock, tmp, sizeof tmp - 1);
        if (n < 0) n = 0;
        append(buf, len, &used, " ", 1);
        if ((size_t)n < sizeof tmp - 1) {
            append(buf, len, &used, tmp, (size_t)n);
        } else {
            char *big = malloc((size_t)n + 2);
            if (big) {
                host->socket_print(host, v->m[i].sock, big, (size_t)n + 1);
                append(buf, len, &used, big, (size_t)n);
                free(big);
            }
        }
    }
    return (int)used;
}

static const evi_transport_t transports[] = {
    {sizeof(evi_transport_t), "virtual", EVI_TF_BLOCKING | EVI_TF_JSON, virt_parse, virt_raise,
     virt_match, virt_print, virt_free},
};

/* ---- lifecycle -------------------------------------------------------------------------- */

static int virt_init(const evi_host_t *h, char *err, size_t errlen) {
    (void)err, (void)errlen;
    host = h;
    ctr_member_failed =
        h->counter_register(h, "member_failed", "deliveries a member socket failed");
    ctr_lost = h->counter_register(h, "all_members_failed",
                                   "deliveries that failed on every member (the event is lost "
                                   "unless the core's retry succeeds)");
    return EVI_OK;
}

static const evi_module_t module = {
    .abi_major = EVI_ABI_MAJOR,
    .abi_minor = EVI_ABI_MINOR,
    .size = sizeof(evi_module_t),
    .name = "event_virtual",
    .version = "1.0.0",
    .description =
        "One subscription delivered through several sockets: PARALLEL, FAILOVER, ROUND-ROBIN",
    .params = params,
    .nparams = sizeof params / sizeof params[0],
    .transports = transports,
    .ntransports = sizeof transports / sizeof transports[0],
    .init = virt_init,
};

const evi_module_t *evi_module_descriptor(void) {
    return &module;
}
