/*
 * Pure parts of event_virtual: the socket spec ("FAILOVER sock1 sock2"), the order in which
 * members are tried, and set equality for PARALLEL matching. No I/O; unit-tested on its own.
 */
#ifndef EVI_VIRTUAL_SPEC_H
#define EVI_VIRTUAL_SPEC_H

#include "evi_plugin.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum virt_policy { VIRT_PARALLEL = 0, VIRT_FAILOVER = 1, VIRT_ROUND_ROBIN = 2 };

/** "PARALLEL", "FAILOVER", "ROUND-ROBIN". */
const char *virt_policy_name(int policy);

/**
 * Split "POLICY sock1 sock2 ..." (blank-separated; POLICY case-insensitive). Members point
 * into `s`. Returns 0 with *policy and members[0..*n), or -1 with a sentence in err (unknown
 * policy, no member, more than `max` members).
 */
int virt_parse_spec(const char *s, size_t len, int *policy, evi_str_t *members, size_t max,
                    size_t *n, char *err, size_t errlen);

/**
 * The order in which to try n members: FAILOVER from the first, ROUND-ROBIN from `start`
 * (mod n) on around; members whose `penalised` flag is set (failed within failover_timeout)
 * keep their relative order but come after all the others. Writes n indexes to order.
 */
void virt_attempt_order(int policy, size_t n, size_t start, const unsigned char *penalised,
                        size_t *order);

/** 1 when the n members of a and the n of b pair up one to one, given eq[i*n+j] = 1 when
 *  a's member i matches b's member j (PARALLEL: a set, order ignored). */
int virt_same_set(size_t n, const unsigned char *eq);

#ifdef __cplusplus
}
#endif

#endif
