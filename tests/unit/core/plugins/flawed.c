/* A module with one flaw, chosen at build time, for the loader's validation tests:
 *   FLAW_SHORT_SIZE   its transport declares size 4;
 *   FLAW_BOTH_FLAGS   its transport is EVI_TF_BLOCKING | EVI_TF_ASYNC;
 *   FLAW_PARSE_FLAGS  parse() turns a valid transport into BLOCKING | ASYNC for one socket;
 * and, in every variant, an MI command "flawed_reply" that answers invalid JSON. */
#include "evi_plugin.h"

#include <stdlib.h>

static int parse(evi_str_t address, int from_mi, void **sock, unsigned *flags, char *err,
                 size_t errlen) {
    (void)from_mi;
    (void)err;
    (void)errlen;
#ifdef FLAW_PARSE_FLAGS
    if (address.len == 5) *flags |= EVI_TF_BLOCKING | EVI_TF_ASYNC; /* "clash" */
#else
    (void)address;
    (void)flags;
#endif
    *sock = malloc(1);
    return *sock ? EVI_OK : EVI_ERR;
}
static int raise_ev(void *sock, const evi_event_t *ev, uint64_t token) {
    (void)sock;
    (void)ev;
    (void)token;
    return EVI_OK;
}
static void free_sock(void *sock) {
    free(sock);
}

static const evi_transport_t transports[] = {{
#ifdef FLAW_SHORT_SIZE
    .size = 4,
#else
    .size = sizeof(evi_transport_t),
#endif
    .proto = "flawed",
#ifdef FLAW_BOTH_FLAGS
    .flags = EVI_TF_BLOCKING | EVI_TF_ASYNC,
#endif
    .parse = parse,
    .raise = raise_ev,
    .free = free_sock,
}};

static void bad_reply(const evi_mi_request_t *req) {
    req->reply(req->reply_ctx, 0, EVI_STR("{\"lines\": 1"));
}
static const char *const no_params[] = {"", NULL};
static const evi_mi_cmd_t cmds[] = {{
    .name = "flawed_reply",
    .help = "answers invalid JSON",
    .param_sets = no_params,
    .handler = bad_reply,
}};

static const evi_module_t module = {
    .abi_major = EVI_ABI_MAJOR,
    .abi_minor = EVI_ABI_MINOR,
    .size = sizeof(evi_module_t),
    .name = MODULE_NAME,
    .version = "1.0",
    .description = "",
    .transports = transports,
    .ntransports = 1,
    .mi_cmds = cmds,
    .nmi_cmds = 1,
};
const evi_module_t *evi_module_descriptor(void) {
    return &module;
}
