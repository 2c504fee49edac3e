/* Pure parts of event_flatstore: see flat_line.h. */
#include "flat_line.h"

#include <stdio.h>
#include <string.h>

#define INT_MAX_CHARS 20 /* "-9223372036854775808" */

size_t flat_line_bound(const flat_format_t *f, const evi_event_t *ev) {
    size_t grow = f->escape_len > 1 ? f->escape_len : 1;
    size_t n = ev->name.len * grow + 1, i;
    for (i = 0; i < ev->nparams; i++) {
        const evi_param_t *p = &ev->params[i];
        n += f->delim_len + (p->type == EVI_VAL_INT ? INT_MAX_CHARS : p->s.len * grow);
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

void flat_format_init(flat_format_t *f) {
    memset(f->special, 0, sizeof f->special);
    f->special[(unsigned char)f->delim[0]] = 1;
    f->special['\n'] = 1;
    f->special['\r'] = 1;
}

/* Copy a value, keeping the line intact: delimiter -> escape (or ' '), '\n' and '\r' -> ' '. */
static char *put_value(char *b, const flat_format_t *f, const char *s, size_t n) {
    const char *end = s + n, *p;
    const char d0 = f->delim[0];
    while (s < end) {
        for (p = s; p < end && !f->special[(unsigned char)*p]; p++)
            ;
        b = put(b, s, (size_t)(p - s));
        if (p == end) break;
        if (*p == d0 && (size_t)(end - p) >= f->delim_len &&
            memcmp(p, f->delim, f->delim_len) == 0) {
            if (f->escape)
                b = put(b, f->escape, f->escape_len);
            else
                *b++ = ' ';
            s = p + f->delim_len;
        } else {
            *b++ = *p == d0 ? d0 : ' ';
            s = p + 1;
        }
    }
    return b;
}

size_t flat_line_write(const flat_format_t *f, const evi_event_t *ev, char *buf) {
    char *b = buf;
    size_t i;
    if (!f->suppress_name) b = put_value(b, f, ev->name.s, ev->name.len);
    for (i = 0; i < ev->nparams; i++) {
        const evi_param_t *p = &ev->params[i];
        if (i > 0 || !f->suppress_name) b = put(b, f->delim, f->delim_len);
        if (p->type == EVI_VAL_INT)
            b = put_int(b, p->i);
        else
            b = put_value(b, f, p->s.s, p->s.len);
    }
    *b++ = '\n';
    return (size_t)(b - buf);
}

int flat_dir_is_below(const char *dir, const char *allowed) {
    size_t n = strlen(allowed);
    if (n == 1 && allowed[0] == '/') return dir[0] == '/';
    return strncmp(dir, allowed, n) == 0 && (dir[n] == 0 || dir[n] == '/');
}

static int is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

const char *flat_next_list_entry(const char *p, const char **start, size_t *len) {
    const char *e;
    while (*p && (*p == ',' || is_blank(*p)))
        p++;
    if (!*p) return NULL;
    for (e = p; *e && *e != ','; e++)
        ;
    *start = p;
    *len = (size_t)(e - p);
    while (*len > 0 && is_blank(p[*len - 1]))
        (*len)--;
    while (*len > 1 && p[*len - 1] == '/')
        (*len)--;
    return e;
}

int flat_rotated_name(char *buf, size_t len, const char *base, time_t t, unsigned seq) {
    struct tm tm;
    gmtime_r(&t, &tm);
    if (seq)
        return snprintf(buf, len, "%s.%04d%02d%02d-%02d%02d%02d.%u", base, tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, seq);
    return snprintf(buf, len, "%s.%04d%02d%02d-%02d%02d%02d", base, tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

long flat_parse_mode(const char *s) {
    long m = 0;
    size_t n = strlen(s), i;
    if (n < 3 || n > 4) return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '7') return -1;
        m = m * 8 + (s[i] - '0');
    }
    return m;
}
