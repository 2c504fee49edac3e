/*
 * event_route: the "route" transport. A subscriber "route:E_X" runs the script's
 * event_route[E_X] block with the event's params visible as $param(...).
 *
 * The script owns the routes; this module only finds them (host->route_find) when a socket is
 * parsed and runs them (host->route_run) when an event is delivered:
 *   - event_route[E_X, sync]  → an inline socket: the route runs on the raiser's thread;
 *   - event_route[E_X] / [E_X, async] → a blocking socket: the host runs the route on the
 *     subscriber's delivery worker, never on the raiser's thread.
 */
#include "evi_plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const evi_host_t *host;

typedef struct route_sock {
    evi_route_t *route;
    int sync;
    size_t len;
    char name[]; /* the event name, NUL-terminated */
} route_sock_t;

static int route_init(const evi_host_t *h, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    host = h;
    return EVI_OK;
}

static int route_parse(evi_str_t address, int from_mi, void **sock, unsigned *flags, char *err,
                       size_t errlen) {
    (void)from_mi;
    evi_route_t *route = NULL;
    int sync = 0;
    if (address.len == 0) {
        snprintf(err, errlen,
                 "expected an event name after \"route:\", as in route:E_PIKE_BLOCKED");
        return EVI_ERR;
    }
    if (!host || host->route_find(host, address, &route, &sync) != EVI_OK || !route) {
        snprintf(err, errlen,
                 "the script has no event_route[%.*s] block (a route: socket runs the "
                 "event_route of that name)",
                 (int)address.len, address.s);
        return EVI_ERR;
    }
    route_sock_t *s = malloc(sizeof *s + address.len + 1);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return EVI_ERR;
    }
    s->route = route;
    s->sync = sync;
    s->len = address.len;
    memcpy(s->name, address.s, address.len);
    s->name[address.len] = '\0';
    *sock = s;
    *flags &= ~(unsigned)(EVI_TF_BLOCKING | EVI_TF_ASYNC);
    if (!sync) *flags |= EVI_TF_BLOCKING; /* async: a delivery worker runs the route */
    return EVI_OK;
}

static int route_raise(void *sock, const evi_event_t *ev, uint64_t token) {
    (void)token;
    route_sock_t *s = sock;
    int rc = host->route_run(host, s->route, ev);
    /* A route that failed at run time has logged why; re-running it (the host retries failed
     * blocking deliveries) would repeat whatever it did before failing. Only sync routes
     * report the failure, as their outcome is never retried. */
    return s->sync ? rc : EVI_OK;
}

static int route_match(const void *a, const void *b) {
    const route_sock_t *x = a, *y = b;
    return x->len == y->len && memcmp(x->name, y->name, x->len) == 0;
}

static int route_print(const void *sock, char *buf, size_t len) {
    const route_sock_t *s = sock;
    return snprintf(buf, len, "%s", s->name);
}

static void route_free(void *sock) {
    free(sock);
}

static const evi_transport_t transports[] = {{
    sizeof(evi_transport_t),
    "route",
    EVI_TF_BLOCKING,
    route_parse,
    route_raise,
    route_match,
    route_print,
    route_free,
}};

static const evi_module_t module = {
    .abi_major = EVI_ABI_MAJOR,
    .abi_minor = EVI_ABI_MINOR,
    .size = sizeof(evi_module_t),
    .name = "event_route",
    .version = "1.0.0",
    .description = "Runs the script's event_route[E_NAME] blocks for events (socket route:E_NAME)",
    .transports = transports,
    .ntransports = sizeof transports / sizeof transports[0],
    .init = route_init,
};

const evi_module_t *evi_module_descriptor(void) {
    return &module;
}
