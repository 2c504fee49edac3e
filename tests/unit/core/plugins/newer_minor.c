/* A module built for a newer minor of the same major: the loader must refuse it. */
#include "evi_plugin.h"

static const evi_module_t module = {
    EVI_ABI_MAJOR,
    EVI_ABI_MINOR + 1,
    sizeof(evi_module_t),
    "test_newer_minor",
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
