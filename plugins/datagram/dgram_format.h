/*
 * Pure parts of event_datagram: socket address splitting and the OpenSIPS 2.x text payload.
 * No I/O here, so the unit tests compile this file on its own.
 */
#ifndef EVI_DGRAM_FORMAT_H
#define EVI_DGRAM_FORMAT_H

#include "evi_plugin.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Split the address part of a `udp:` socket ("127.0.0.1:8888", "[::1]:8888",
 * "example.org:8888") into host (NUL-terminated, without brackets) and port (1..65535).
 * Returns 0, or -1 with a sentence in err.
 */
int dgram_split_udp(const char *s, size_t len, char *host, size_t hostlen, uint16_t *port,
                    char *err, size_t errlen);

/** Upper bound of the text payload's size for this event (bytes, no NUL). */
size_t dgram_text_bound(const evi_event_t *ev);

/**
 * Write the OpenSIPS 2.x/3.0 text payload into buf (at least dgram_text_bound() bytes):
 *   E_NAME\n  then per param  [name::]value\n  then \n.
 * A string value that contains '\n' is written between double quotes with each '"' written
 * as '\"', as OpenSIPS does. Returns the length written.
 */
size_t dgram_text_write(const evi_event_t *ev, char *buf);

#ifdef __cplusplus
}
#endif

#endif
