/* A module built for a future ABI major: the loader must refuse it. */
#include "evi_plugin.h"

static const evi_module_t module = {
    .abi_major = 99,
    .abi_minor = 0,
    .size = sizeof(evi_module_t),
    .name = "test_bad_abi",
    .version = "1.0",
    .description = "",
};
const evi_module_t *evi_module_descriptor(void) {
    return &module;
}
