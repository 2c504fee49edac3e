/* A module built for ABI 1.0, before the host table grew socket_flags: it must still load. */
#include "evi_plugin.h"

static const evi_module_t module = {
    EVI_ABI_MAJOR,
    0,
    sizeof(evi_module_t),
    "test_older_minor",
    "1.0",
    "",
    NULL,
    0,
    NULL,
    0,
    NULL,
    0,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
};
const evi_module_t *evi_module_descriptor(void) {
    return &module;
}
