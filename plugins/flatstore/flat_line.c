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

/* Eight bytes at a time: the bytes of a value are copied a word at a time while no word holds
 * a byte that needs a closer look (the delimiter's first byte, '\n', '\r'). memcpy of a fixed
 * 8 bytes compiles to one load or store, with no alignment assumed. */
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static uint64_t load_word(const char *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void store_word(char *p, uint64_t v) {
    memcpy(p, &v, sizeof v);
}

/* Non-zero when some byte of v is below n (n <= 128), or equals the byte repeated in
 * `pattern`: the classic "has a zero byte" tests, exact for "none", all that is asked here. */
static uint64_t has_less(uint64_t v, uint64_t n) {
    return (v - ONES * n) & ~v & HIGHS;
}
static uint64_t has_byte(uint64_t v, uint64_t pattern) {
    return has_less(v ^ pattern, 1);
}

/* '\n' and '\r' are below 14; so are NUL and tab, which only send their word bytewise. */
static int needs_look(uint64_t v, uint64_t delim_word) {
    return (has_less(v, '\r' + 1) | has_byte(v, delim_word)) != 0;
}

/* Copy a value, keeping the line intact: delimiter -> escape (or ' '), '\n' and '\r' -> ' '. */
static char *put_value(char *b, const flat_format_t *f, const char *s, size_t n) {
    const char *end = s + n, *lim;
    const char *copied = s; /* [copied, s) went out byte for byte, unchanged */
    const char d0 = f->delim[0];
    const uint64_t dw = ONES * (unsigned char)d0;
    while (s < end) {
        if (end - s >= 8) {
            uint64_t v = load_word(s);
            if (!needs_look(v, dw)) {
                store_word(b, v); /* 8 bytes in, 8 bytes out: within the bound */
                b += 8;
                s += 8;
                continue;
            }
        } else if ((size_t)(end - copied) >= 8) {
            /* The last 1..7 bytes: the value's last word, which starts up to 7 bytes back, where
             * every byte went out unchanged (not, say, the end of a delimiter "ab" replaced by a
             * space). When it needs no look, writing it again where those bytes went rewrites
             * them unchanged and adds the tail. */
            size_t back = 8 - (size_t)(end - s);
            uint64_t v = load_word(end - 8);
            if (!needs_look(v, dw)) {
                store_word(b - back, v);
                return b + (end - s);
            }
        }
        /* A byte to look at lies within the next 8 (or the value ends there): bytewise. */
        lim = end - s > 8 ? s + 8 : end;
        while (s < lim && !f->special[(unsigned char)*s])
            *b++ = *s++;
        if (s == lim) continue;
        if (*s == d0 && (size_t)(end - s) >= f->delim_len &&
            memcmp(s, f->delim, f->delim_len) == 0) {
            if (f->escape)
                b = put(b, f->escape, f->escape_len);
            else
                *b++ = ' ';
            s += f->delim_len;
        } else {
            *b++ = *s == d0 ? d0 : ' ';
            s++;
        }
        copied = s;
    }
    return b;
}

size_t flat_line_write(const flat_format_t *f, const evi_event_t *ev, char *buf) {
    char *b = buf;
    size_t i;
    if (!f->suppress_name) b = put_value(b, f, ev->name.s, ev->name.len);
    for (i = 0; i < ev->nparams; i++) {
        const evi_param_t *p = &ev->params[i];
        if (i > 0 || !f->suppress_name) {
            if (f->delim_len == 1)
                *b++ = f->delim[0];
            else
                b = put(b, f->delim, f->delim_len);
        }
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
