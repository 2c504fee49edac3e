/* Pure parts of event_virtual: see virtual_spec.h. */
#include "virtual_spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const policy_names[] = {"PARALLEL", "FAILOVER", "ROUND-ROBIN"};

const char *virt_policy_name(int policy) {
    return policy >= 0 && policy <= 2 ? policy_names[policy] : "?";
}

static int is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int virt_parse_spec(const char *s, size_t len, int *policy, evi_str_t *members, size_t max,
                    size_t *n, char *err, size_t errlen) {
    const char *p = s, *end = s + len, *t;
    int i;

    while (p < end && is_blank(*p))
        p++;
    for (t = p; t < end && !is_blank(*t); t++)
        ;
    *policy = -1;
    for (i = 0; i < 3; i++)
        if ((size_t)(t - p) == strlen(policy_names[i]) &&
            strncasecmp(p, policy_names[i], (size_t)(t - p)) == 0)
            *policy = i;
    if (*policy < 0) {
        snprintf(err, errlen,
                 "unknown policy '%.*s': expected virtual:POLICY sock1 sock2 ... with POLICY "
                 "PARALLEL, FAILOVER or ROUND-ROBIN",
                 (int)(t - p), p);
        return -1;
    }
    *n = 0;
    for (p = t;;) {
        while (p < end && is_blank(*p))
            p++;
        if (p == end) break;
        for (t = p; t < end && !is_blank(*t); t++)
            ;
        if (*n == max) {
            snprintf(err, errlen, "too many members (at most %zu)", max);
            return -1;
        }
        members[*n].s = p;
        members[*n].len = (size_t)(t - p);
        (*n)++;
        p = t;
    }
    if (*n == 0) {
        snprintf(err, errlen, "no member sockets: expected virtual:%s sock1 sock2 ...",
                 policy_names[*policy]);
        return -1;
    }
    return 0;
}

void virt_attempt_order(int policy, size_t n, size_t start, const unsigned char *penalised,
                        size_t *order) {
    size_t k = 0, i, pass;
    if (n == 0) return;
    if (policy != VIRT_ROUND_ROBIN) start = 0;
    for (pass = 0; pass < 2; pass++)
        for (i = 0; i < n; i++) {
            size_t m = (start + i) % n;
            if ((penalised && penalised[m]) == (pass == 1)) order[k++] = m;
        }
}

/* Kuhn's augmenting paths: n is small (a handful of members). */
static int augment(size_t n, const unsigned char *eq, size_t i, unsigned char *seen,
                   size_t *owner) {
    for (size_t j = 0; j < n; j++) {
        if (!eq[i * n + j] || seen[j]) continue;
        seen[j] = 1;
        if (owner[j] == (size_t)-1 || augment(n, eq, owner[j], seen, owner)) {
            owner[j] = i;
            return 1;
        }
    }
    return 0;
}

int virt_same_set(size_t n, const unsigned char *eq) {
    size_t *owner = malloc(n * sizeof *owner + 1);
    unsigned char *seen = malloc(n + 1);
    int ok = owner && seen;
    for (size_t j = 0; ok && j < n; j++)
        owner[j] = (size_t)-1;
    for (size_t i = 0; ok && i < n; i++) {
        memset(seen, 0, n);
        ok = augment(n, eq, i, seen, owner);
    }
    free(owner);
    free(seen);
    return ok;
}
