/* A small module for the loader tests: typed parameters and one inline transport. */
#include "evi_plugin.h"

#include <stdio.h>
#include <string.h>

static int64_t p_int = 7;
static char p_str[64] = "default";
static int64_t p_bool = 0;
static int64_t p_size = 0;
static int64_t p_enum = 0;

static int set_int(const evi_param_value_t *v, char *err, size_t len) {
    (void)err;
    (void)len;
    p_int = v->i;
    return EVI_OK;
}
static int set_str(const evi_param_value_t *v, char *err, size_t len) {
    if (v->s.len >= sizeof p_str) {
        snprintf(err, len, "at most %zu characters", sizeof p_str - 1);
        return EVI_ERR;
    }
    memcpy(p_str, v->s.s, v->s.len);
    p_str[v->s.len] = 0;
    return EVI_OK;
}
static int set_bool(const evi_param_value_t *v, char *e, size_t l) {
    (void)e;
    (void)l;
    p_bool = v->i;
    return EVI_OK;
}
static int set_size(const evi_param_value_t *v, char *e, size_t l) {
    (void)e;
    (void)l;
    p_size = v->i;
    return EVI_OK;
}
static int set_enum(const evi_param_value_t *v, char *e, size_t l) {
    (void)e;
    (void)l;
    p_enum = v->i;
    return EVI_OK;
}
static int get_int(char *buf, size_t len) {
    return snprintf(buf, len, "%lld", (long long)p_int);
}

static const char *const modes[] = {"json", "text", NULL};

static const evi_param_def_t params[] = {
    {"count", EVI_PARAM_INT, "7", 1, 100, NULL, "a number", set_int, get_int},
    {"name", EVI_PARAM_STR, "default", 1, 0, NULL, "a name", set_str, NULL},
    {"flag", EVI_PARAM_BOOL, "0", 1, 0, NULL, "a switch", set_bool, NULL},
    {"limit", EVI_PARAM_SIZE, "0", 0, 1024 * 1024, NULL, "a size", set_size, NULL},
    {"mode", EVI_PARAM_ENUM, "json", 1, 0, modes, "a mode", set_enum, NULL},
};

/* Transport "null": accepts any address, delivers nowhere. */
static char sock_dummy;
static int t_parse(evi_str_t a, int from_mi, void **sock, unsigned *flags, char *err, size_t len) {
    (void)from_mi;
    (void)flags;
    if (a.len == 0) {
        snprintf(err, len, "expected an address after 'null:'");
        return EVI_ERR;
    }
    *sock = &sock_dummy;
    return EVI_OK;
}
static int t_raise(void *s, const evi_event_t *ev, uint64_t t) {
    (void)s;
    (void)ev;
    (void)t;
    return EVI_OK;
}
static int t_print(const void *s, char *buf, size_t len) {
    (void)s;
    return snprintf(buf, len, "x");
}

static const evi_transport_t transports[] = {
    {sizeof(evi_transport_t), "null", 0, t_parse, t_raise, NULL, t_print, NULL},
};

static int init(const evi_host_t *h, char *err, size_t len) {
    (void)h;
    if (strcmp(p_str, "fail") == 0) {
        snprintf(err, len, "name 'fail' asks init to fail");
        return EVI_ERR;
    }
    return EVI_OK;
}

static const evi_module_t module = {
    .abi_major = EVI_ABI_MAJOR,
    .abi_minor = EVI_ABI_MINOR,
    .size = sizeof(evi_module_t),
    .name = "test_good",
    .version = "1.0",
    .description = "loader test module",
    .params = params,
    .nparams = sizeof params / sizeof params[0],
    .transports = transports,
    .ntransports = 1,
    .init = init,
};

const evi_module_t *evi_module_descriptor(void) {
    return &module;
}
