/*
 * Pure parts of event_flatstore: the line format, the allowed-directories check, rotated file
 * names and permission strings. No I/O here, so the unit tests compile this file on its own.
 */
#ifndef EVI_FLAT_LINE_H
#define EVI_FLAT_LINE_H

#include "evi_plugin.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct flat_format {
    const char *delim; /**< between fields, never empty, no '\n' or '\r' */
    size_t delim_len;
    const char *escape; /**< written instead of the delimiter inside a value; NULL: one space */
    size_t escape_len;
    int suppress_name;          /**< 1: the line starts with the first value */
    unsigned char special[256]; /**< set by flat_format_init: bytes that need a closer look */
} flat_format_t;

/** Fill f->special from the fields above; call once after setting them. */
void flat_format_init(flat_format_t *f);

/** Upper bound of the line's size for this event (bytes, including the final '\n'). */
size_t flat_line_bound(const flat_format_t *f, const evi_event_t *ev);

/**
 * Write the line into buf (at least flat_line_bound() bytes) and return its length:
 *   E_NAME<d>value1<d>value2\n     (suppress_name: value1<d>value2\n; no params: just \n)
 * Names are never written; ints are signed decimal; an empty string still gets its delimiter.
 * Inside values the delimiter becomes `escape` (or a space) and '\n' / '\r' become spaces;
 * the event itself is not modified.
 */
size_t flat_line_write(const flat_format_t *f, const evi_event_t *ev, char *buf);

/** 1 when canonical directory `dir` is `allowed` or below it (both absolute, no trailing '/'
 *  except for "/" itself), else 0. */
int flat_dir_is_below(const char *dir, const char *allowed);

/**
 * The next entry of a comma-separated directory list: skips separators and blanks, sets
 * *start and *len to the entry (trailing blanks and '/' removed, "/" kept) and returns the position
 * after it, or NULL when the list is exhausted.
 */
const char *flat_next_list_entry(const char *p, const char **start, size_t *len);

/** The name a rotated file gets: "<base>.YYYYMMDD-HHMMSS" (UTC), plus ".<seq>" when seq > 0.
 *  Returns the length like snprintf. */
int flat_rotated_name(char *buf, size_t len, const char *base, time_t t, unsigned seq);

/** Parse an octal permission string ("644", "0640"); returns the mode or -1. */
long flat_parse_mode(const char *s);

#ifdef __cplusplus
}
#endif

#endif
