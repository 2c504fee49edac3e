/* A module built for a future ABI major: the loader must refuse it. */
#include "evi_plugin.h"

static const evi_module_t module = {
    99,
    0,
    sizeof(evi_module_t),
    "test_bad_abi",
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
    NULL,
};
const evi_module_t *evi_module_descriptor(void) {
    return &module;
}
