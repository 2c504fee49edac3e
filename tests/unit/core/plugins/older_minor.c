/* A module built for ABI 1.0, before the host table grew socket_flags and the descriptor grew
 * drain: its size ends at reopen. It must still load, and the host must not read what lies past
 * its size: the drain slot here aborts the process if it is ever called. */
#include "evi_plugin.h"

#include <stdlib.h>

static void drain_past_the_size(int64_t deadline_ms) {
    (void)deadline_ms;
    abort();
}

static const evi_module_t module = {
    .abi_major = EVI_ABI_MAJOR,
    .abi_minor = 0,
    .size = offsetof(evi_module_t, drain),
    .name = "test_older_minor",
    .version = "1.0",
    .description = "",
    .drain = drain_past_the_size,
};
const evi_module_t *evi_module_descriptor(void) {
    return &module;
}
