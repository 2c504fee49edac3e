/* A module built for a newer minor of the same major: the loader must refuse it. */
#include "evi_plugin.h"

static const evi_module_t module = {
    .abi_major = EVI_ABI_MAJOR,
    .abi_minor = EVI_ABI_MINOR + 1,
    .size = sizeof(evi_module_t),
    .name = "test_newer_minor",
    .version = "1.0",
    .description = "",
};
const evi_module_t *evi_module_descriptor(void) {
    return &module;
}
