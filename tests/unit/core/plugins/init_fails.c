/* A module whose init() refuses to start, with a message. */
#include "evi_plugin.h"
#include <stdio.h>

static int init(const evi_host_t *h, char *err, size_t len) {
    (void)h;
    snprintf(err, len, "cannot open /nonexistent/state: No such file or directory");
    return EVI_ERR;
}
static const evi_module_t module = {
    EVI_ABI_MAJOR,
    EVI_ABI_MINOR,
    sizeof(evi_module_t),
    "test_init_fails",
    "1.0",
    "",
    NULL,
    0,
    NULL,
    0,
    NULL,
    0,
    init,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
};
const evi_module_t *evi_module_descriptor(void) {
    return &module;
}
