/*
 * event_example: the template a third party copies to write an EVI transport.
 *
 * Transport "jsonl": socket `jsonl:/path/to/file` appends each event's JSON-RPC notification
 * as one line (JSON Lines). It is an inline transport (no EVI_TF_BLOCKING): one write() with
 * O_APPEND per event, cheap enough to run on the raiser's thread.
 *
 * Build it out of tree against an installed EVI: see meson.build and README.md beside this file.
 */
#include <evi_plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* The host table, kept from init(). */
static const evi_host_t *host;

/* modparam("event_example", "file_mode", "0640") */
static mode_t file_mode = 0644;
static _Atomic long long lines_written;
static int counter_lines = -1;

struct jsonl_socket {
    int fd;
    char path[]; /* NUL-terminated */
};

static int set_file_mode(const evi_param_value_t *v, char *err, size_t errlen) {
    char *end = NULL;
    long mode = strtol(v->s.s, &end, 8);
    if (!end || *end || mode < 0 || mode > 0777) {
        snprintf(err, errlen, "expected an octal file mode such as \"0640\"");
        return EVI_ERR;
    }
    file_mode = (mode_t)mode;
    return EVI_OK;
}

static int get_file_mode(char *buf, size_t len) {
    return snprintf(buf, len, "%04o", file_mode);
}

static const evi_param_def_t params[] = {
    {"file_mode", EVI_PARAM_STR, "0644", 1, 0, NULL,
     "permissions of files this module creates (octal)", set_file_mode, get_file_mode},
};

static int jsonl_parse(evi_str_t address, int from_mi, void **sock, unsigned *flags, char *err,
                       size_t errlen) {
    (void)from_mi;
    (void)flags;
    if (address.len == 0 || address.s[0] != '/') {
        snprintf(err, errlen, "expected an absolute file path, e.g. jsonl:/var/log/events.jsonl");
        return EVI_ERR;
    }
    struct jsonl_socket *s = malloc(sizeof *s + address.len + 1);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return EVI_ERR;
    }
    memcpy(s->path, address.s, address.len);
    s->path[address.len] = '\0';
    s->fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, file_mode);
    if (s->fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", s->path, strerror(errno));
        free(s);
        return EVI_ERR;
    }
    *sock = s;
    return EVI_OK;
}

static int jsonl_raise(void *sock, const evi_event_t *ev, uint64_t token) {
    (void)token;
    struct jsonl_socket *s = sock;
    struct iovec iov[2] = {{(void *)ev->json.s, ev->json.len}, {"\n", 1}};
    ssize_t n = writev(s->fd, iov, 2);
    if (n != (ssize_t)(ev->json.len + 1)) {
        host->log(host, EVI_L_ERR, "write to %s failed: %s", s->path,
                  n < 0 ? strerror(errno) : "short write");
        return EVI_ERR;
    }
    atomic_fetch_add(&lines_written, 1);
    host->counter_add(host, counter_lines, 1);
    return EVI_OK;
}

static int jsonl_match(const void *a, const void *b) {
    return strcmp(((const struct jsonl_socket *)a)->path, ((const struct jsonl_socket *)b)->path) ==
           0;
}

static int jsonl_print(const void *sock, char *buf, size_t len) {
    return snprintf(buf, len, "%s", ((const struct jsonl_socket *)sock)->path);
}

static void jsonl_free(void *sock) {
    struct jsonl_socket *s = sock;
    close(s->fd);
    free(s);
}

static const evi_transport_t transports[] = {
    {sizeof(evi_transport_t), "jsonl", EVI_TF_JSON, jsonl_parse, jsonl_raise, jsonl_match,
     jsonl_print, jsonl_free},
};

/* MI: example_lines → {"lines": N} */
static void mi_lines(const evi_mi_request_t *req) {
    char out[64];
    int n = snprintf(out, sizeof out, "{\"lines\":%lld}", (long long)atomic_load(&lines_written));
    req->reply(req->reply_ctx, 0, (evi_str_t){out, (size_t)n});
}

static const char *const no_params[] = {"", NULL};
static const evi_mi_cmd_t mi_cmds[] = {
    {"example_lines", NULL, "How many lines event_example has written.", no_params, mi_lines},
};

static int mod_init(const evi_host_t *h, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    host = h;
    counter_lines = host->counter_register(host, "lines_total", "lines written");
    host->log(host, EVI_L_INFO, "event_example ready (file mode %04o)", file_mode);
    return EVI_OK;
}

static const evi_module_t module = {
    .abi_major = EVI_ABI_MAJOR,
    .abi_minor = EVI_ABI_MINOR,
    .size = sizeof(evi_module_t),
    .name = "event_example",
    .version = "1.0.0",
    .description = "JSON Lines files: the plugin template",
    .params = params,
    .nparams = sizeof params / sizeof params[0],
    .transports = transports,
    .ntransports = sizeof transports / sizeof transports[0],
    .mi_cmds = mi_cmds,
    .nmi_cmds = sizeof mi_cmds / sizeof mi_cmds[0],
    .init = mod_init,
};

const evi_module_t *evi_module_descriptor(void) {
    return &module;
}
