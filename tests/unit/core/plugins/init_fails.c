/* A module whose init() refuses to start, with a message. */
#include "evi_plugin.h"
#include <stdio.h>

static int init(const evi_host_t *h, char *err, size_t len) {
    (void)h;
    snprintf(err, len, "cannot open /nonexistent/state: No such file or directory");
    return EVI_ERR;
}
static const evi_module_t module = {
    .abi_major = EVI_ABI_MAJOR,
    .abi_minor = EVI_ABI_MINOR,
    .size = sizeof(evi_module_t),
    .name = "test_init_fails",
    .version = "1.0",
    .description = "",
    .init = init,
};
const evi_module_t *evi_module_descriptor(void) {
    return &module;
}
