/* Pure parts of event_datagram: see dgram_format.h. */
#include "dgram_format.h"

#include <stdio.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *msg, const char *s, size_t len) {
    snprintf(err, errlen, msg, (int)len, s);
    return -1;
}

static int parse_port(const char *p, const char *end, uint16_t *port) {
    unsigned long v = 0;
    if (p == end || end - p > 5) return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v == 0 || v > 65535) return -1;
    *port = (uint16_t)v;
    return 0;
}

int dgram_split_udp(const char *s, size_t len, char *host, size_t hostlen, uint16_t *port,
                    char *err, size_t errlen) {
    const char *end = s + len, *h, *he, *colon;

    if (len == 0) return fail(err, errlen, "empty address%.*s: expected udp:HOST:PORT", "", 0);
    if (s[0] == '[') {
        h = s + 1;
        he = memchr(h, ']', len - 1);
        if (!he)
            return fail(err, errlen,
                        "'%.*s': missing ']' after the IPv6 address (expected udp:[::1]:PORT)", s,
                        len);
        colon = he + 1;
        if (colon == end || *colon != ':')
            return fail(err, errlen, "'%.*s': missing ':PORT' (expected udp:[::1]:PORT)", s, len);
    } else {
        h = s;
        colon = memchr(s, ':', len);
        if (!colon)
            return fail(err, errlen, "'%.*s': missing ':PORT' (expected udp:HOST:PORT)", s, len);
        he = colon;
        if (memchr(colon + 1, ':', (size_t)(end - colon - 1)))
            return fail(err, errlen,
                        "'%.*s': an IPv6 address must be written in brackets, as "
                        "udp:[::1]:PORT",
                        s, len);
    }
    if (he == h) return fail(err, errlen, "'%.*s': missing host (expected udp:HOST:PORT)", s, len);
    if ((size_t)(he - h) >= hostlen) return fail(err, errlen, "'%.*s': host name too long", s, len);
    if (parse_port(colon + 1, end, port) < 0)
        return fail(err, errlen, "'%.*s': the port must be a number from 1 to 65535", s, len);
    memcpy(host, h, (size_t)(he - h));
    host[he - h] = 0;
    return 0;
}

#define INT_MAX_CHARS 20 /* "-9223372036854775808" */

size_t dgram_text_bound(const evi_event_t *ev) {
    size_t n = ev->name.len + 2, i;
    for (i = 0; i < ev->nparams; i++) {
        const evi_param_t *p = &ev->params[i];
        n += p->name.len + 2 + 1; /* name "::" ... "\n" */
        n += p->type == EVI_VAL_INT ? INT_MAX_CHARS : 2 * p->s.len + 2;
    }
    return n;
}

static char *put(char *b, const char *s, size_t len) {
    memcpy(b, s, len);
    return b + len;
}

static char *put_int(char *b, int64_t v) {
    char tmp[INT_MAX_CHARS];
    size_t i = sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) tmp[--i] = '-';
    return put(b, tmp + i, sizeof tmp - i);
}

static char *put_text_value(char *b, const evi_str_t *v) {
    const char *p, *end = v->s + v->len;
    if (v->len == 0) return b;
    if (!memchr(v->s, '\n', v->len)) return put(b, v->s, v->len);
    *b++ = '"';
    for (p = v->s; p < end; p++) {
        if (*p == '"') *b++ = '\\';
        *b++ = *p;
    }
    *b++ = '"';
    return b;
}

size_t dgram_text_write(const evi_event_t *ev, char *buf) {
    char *b = put(buf, ev->name.s, ev->name.len);
    size_t i;
    *b++ = '\n';
    for (i = 0; i < ev->nparams; i++) {
        const evi_param_t *p = &ev->params[i];
        if (p->name.len) {
            b = put(b, p->name.s, p->name.len);
            b = put(b, "::", 2);
        }
        if (p->type == EVI_VAL_INT)
            b = put_int(b, p->i);
        else
            b = put_text_value(b, &p->s);
        *b++ = '\n';
    }
    *b++ = '\n';
    return (size_t)(b - buf);
}
