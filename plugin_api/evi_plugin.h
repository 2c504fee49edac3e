/*
 * evi_plugin.h — the EVI plugin ABI.
 *
 * This is the only file a transport plugin needs. It is plain C99 and usable from C++.
 * Read it top to bottom: every struct and function says who calls it, on which thread,
 * and who owns the memory.
 *
 * A plugin is a shared object that exports exactly ONE symbol, `evi_module_descriptor`,
 * a function returning a pointer to a constant `evi_module_t`. The host:
 *   1. dlopen()s the file, calls evi_module_descriptor(), checks the ABI version;
 *   2. applies `modparam` values through the module's parameter table (validated by the host);
 *   3. calls init() with the host function table (evi_host_t);
 *   4. resolves subscriptions through the module's transports (parse);
 *   5. calls start(); raises events (raise); at shutdown drain(), stop(), then destroy().
 *
 * Versioning: a plugin built against ABI major M, minor m loads into a host of major M and
 * minor >= m. Every struct starts with its own size (or is described by one that does), and
 * fields are only ever appended, so a host can read an older plugin's structs.
 *
 * Memory: whoever allocates frees. Strings cross as pointer + length (evi_str_t) and are
 * only valid during the call that hands them over unless said otherwise; copy what you keep.
 * Errors are returned as status codes with a message written into a caller-provided buffer;
 * nothing is thrown across this boundary.
 */
#ifndef EVI_PLUGIN_H
#define EVI_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EVI_ABI_MAJOR 1
#define EVI_ABI_MINOR 2

/** The one symbol a plugin exports. */
#define EVI_MODULE_SYMBOL "evi_module_descriptor"

/* ---------------------------------------------------------------------------------------- */
/* Plain values                                                                             */
/* ---------------------------------------------------------------------------------------- */

/** A string as pointer + length; not NUL-terminated unless said otherwise. */
typedef struct evi_str {
    const char *s;
    size_t len;
} evi_str_t;

/** Status codes returned by plugin and host functions. */
typedef enum evi_status {
    EVI_OK = 0,      /**< done (delivered, accepted, …) */
    EVI_ERR = -1,    /**< failed; the delivery counts as failed */
    EVI_AGAIN = -2,  /**< (async raise) no room now: the host keeps the event and retries later */
    EVI_PENDING = 1, /**< (async raise) accepted; the outcome comes later through host->report */
} evi_status_t;

/** Log levels, the same numbers as OpenSIPS's L_* levels. */
enum evi_log_level {
    EVI_L_ALERT = -3,
    EVI_L_CRIT = -2,
    EVI_L_ERR = -1,
    EVI_L_WARN = 1,
    EVI_L_NOTICE = 2,
    EVI_L_INFO = 3,
    EVI_L_DBG = 4,
};

/** Type of an event attribute. */
typedef enum evi_val_type {
    EVI_VAL_INT = 1,
    EVI_VAL_STR = 2,
} evi_val_type_t;

/** One event attribute (parameter): optional name, typed value. */
typedef struct evi_param {
    evi_str_t name; /**< name.len == 0: unnamed */
    int type;       /**< evi_val_type_t */
    int64_t i;      /**< value when type == EVI_VAL_INT */
    evi_str_t s;    /**< value when type == EVI_VAL_STR */
} evi_param_t;

/**
 * An event being delivered. Owned by the host, valid only during raise(); a plugin that
 * delivers later (asynchronous transports) copies what it needs.
 */
typedef struct evi_event {
    evi_str_t name;            /**< e.g. "E_PIKE_BLOCKED" */
    const evi_param_t *params; /**< in the order they were raised */
    size_t nparams;
    /**
     * The OpenSIPS 3 JSON-RPC notification, compact, encoded once per raise by the host:
     * {"jsonrpc":"2.0","method":"E_X","params":{...}}. Set when the transport has the
     * EVI_TF_JSON flag; otherwise may be {NULL, 0}.
     */
    evi_str_t json;
} evi_event_t;

/* ---------------------------------------------------------------------------------------- */
/* Transports                                                                               */
/* ---------------------------------------------------------------------------------------- */

/** Transport flags (evi_transport_t.flags; parse() may override them per socket). */
enum evi_transport_flags {
    /** raise() may block (connect, wait for a reply): the host calls it from a delivery worker
     *  fed by the subscriber's bounded queue, never from the raiser's thread. */
    EVI_TF_BLOCKING = 1u << 0,
    /** raise() hands the event to the plugin's own I/O and returns EVI_PENDING (or EVI_AGAIN);
     *  the plugin reports the outcome later with host->report(token, status). */
    EVI_TF_ASYNC = 1u << 1,
    /** the transport wants evi_event_t.json filled in. */
    EVI_TF_JSON = 1u << 2,
};
/* No flag (neither BLOCKING nor ASYNC): an inline transport, cheap and non-blocking; raise() runs
 * on the raiser's thread and its return value is the outcome. */

/**
 * A transport, e.g. proto "udp" for sockets written "udp:127.0.0.1:8888".
 *
 * Threading: parse/print/match/free are called from the host's control threads (config,
 * MI). raise() may be called from several threads at once for different sockets, and for
 * inline transports for the same socket too: the plugin protects what it shares. For
 * blocking transports, raise() on one socket is serialised by the host (one delivery
 * worker per subscriber).
 */
typedef struct evi_transport {
    size_t size;       /**< sizeof(evi_transport_t) as the plugin was built */
    const char *proto; /**< socket prefix before ':', e.g. "udp", "flatstore" */
    unsigned flags;    /**< evi_transport_flags */

    /**
     * Parse the address part of a socket (after "proto:") into a new socket handle.
     * On error return EVI_ERR and write a sentence into err (what was wrong, what was
     * expected). `flags` holds the transport's flags on entry and may be changed for
     * this socket (e.g. an event_route socket that must not run on the raiser's thread).
     * `from_mi` is 1 when the subscription comes from the management interface (untrusted).
     */
    int (*parse)(evi_str_t address, int from_mi, void **sock, unsigned *flags, char *err,
                 size_t errlen);

    /**
     * Deliver one event. Inline and blocking transports return EVI_OK or EVI_ERR. Async
     * transports return EVI_PENDING and later call host->report(token, status) exactly
     * once, or return EVI_AGAIN when full (the host retries), or EVI_ERR.
     */
    int (*raise)(void *sock, const evi_event_t *ev, uint64_t token);

    /** 1 when two sockets address the same destination (a new subscription then refreshes
     *  the old one), 0 otherwise. */
    int (*match)(const void *a, const void *b);

    /** Print the socket as the user would write it, without "proto:" and without secrets.
     *  Returns the full length needed (like snprintf); writes at most len bytes + NUL. */
    int (*print)(const void *sock, char *buf, size_t len);

    /** Release a socket returned by parse. Never called while a raise() on it runs. */
    void (*free)(void *sock);
} evi_transport_t;

/* ---------------------------------------------------------------------------------------- */
/* Parameters (modparam)                                                                    */
/* ---------------------------------------------------------------------------------------- */

typedef enum evi_param_type {
    EVI_PARAM_INT = 1,  /**< integer within [min, max] */
    EVI_PARAM_STR = 2,  /**< string */
    EVI_PARAM_BOOL = 3, /**< 0/1, yes/no, on/off, true/false → 0 or 1 */
    EVI_PARAM_SIZE = 4, /**< bytes, with optional k/m/g suffix (1024-based), within [min, max] */
    EVI_PARAM_ENUM = 5, /**< one of enum_values (case-insensitive); the setter gets its index */
} evi_param_type_t;

/** A parameter value handed to a setter, already checked by the host. */
typedef struct evi_param_value {
    int64_t i;   /**< INT, BOOL, SIZE: the number; ENUM: index into enum_values */
    evi_str_t s; /**< the text as written (NUL-terminated); for STR the value */
} evi_param_value_t;

/**
 * One entry of a module's parameter table. The host parses and checks the value against
 * the type and range, then calls set() (on the config thread, before init()). set() may
 * still refuse with a message; it copies what it keeps.
 */
typedef struct evi_param_def {
    const char *name;
    int type;                       /**< evi_param_type_t */
    const char *default_value;      /**< as text, for documentation and `module_params` */
    int64_t min, max;               /**< INT and SIZE: inclusive range (min > max: no range) */
    const char *const *enum_values; /**< ENUM: NULL-terminated list */
    const char *help;               /**< one sentence */
    int (*set)(const evi_param_value_t *v, char *err, size_t errlen);
    /** Optional: print the current value (for `module_params`); returns length like snprintf. */
    int (*get)(char *buf, size_t len);
} evi_param_def_t;

/* ---------------------------------------------------------------------------------------- */
/* Management interface commands exported by a module                                       */
/* ---------------------------------------------------------------------------------------- */

/** A management request handed to a module command. Valid only during the handler call. */
typedef struct evi_mi_request {
    const evi_param_t *params; /**< named params; strings stay strings, JSON numbers are ints */
    size_t nparams;
    /** The reply: call exactly once. code 0 = success and `json` is the JSON result text
     *  (e.g. "\"OK\"" or an object); otherwise a JSON-RPC error code and `json` is the
     *  message text (not JSON). */
    void (*reply)(void *reply_ctx, int code, evi_str_t json);
    void *reply_ctx;
} evi_mi_request_t;

typedef struct evi_mi_cmd {
    const char *name;  /**< e.g. "evi_flat_rotate" */
    const char *alias; /**< e.g. "event_flatstore:rotate", or NULL */
    const char *help;
    /** Parameter sets as OpenSIPS's `which` prints them: NULL-terminated lists of names,
     *  ';'-joined per set, e.g. {"path", NULL} or {"", "event;socket", NULL}. Positional
     *  params are mapped to the names of the set with their count. */
    const char *const *param_sets;
    /** Called on an MI thread; may be called concurrently with raise(). */
    void (*handler)(const evi_mi_request_t *req);
} evi_mi_cmd_t;

/* ---------------------------------------------------------------------------------------- */
/* The host table: everything a plugin may call                                             */
/* ---------------------------------------------------------------------------------------- */

typedef struct evi_host evi_host_t;
/** A socket of any loaded transport, opened through the host (see socket_open). */
typedef struct evi_socket evi_socket_t;
/** A script route, found with route_find. */
typedef struct evi_route evi_route_t;

/**
 * Handed to init(); valid until destroy() returns. Each module gets its own table (the
 * `module` field identifies it, e.g. for log prefixes). Append-only: check `size` before
 * using a field added after ABI 1.0. All functions are thread-safe.
 */
struct evi_host {
    uint32_t abi_major;
    uint32_t abi_minor;
    size_t size;  /**< sizeof(evi_host_t) as the host was built */
    void *module; /**< opaque, the calling module */

    /** Log a printf-style message at an evi_log_level, prefixed with the module's name. */
    void (*log)(const evi_host_t *h, int level, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;

    /** Publish (register) an event name, idempotent. Returns the event id (>= 0) or EVI_ERR. */
    int (*publish)(const evi_host_t *h, evi_str_t name);

    /** Raise an event to its subscribers (the event must be published). Never blocks.
     *  Returns the number of subscribers it was dispatched to, or EVI_ERR. */
    int (*raise)(const evi_host_t *h, evi_str_t name, const evi_param_t *params, size_t nparams);

    /** Async transports: the outcome (EVI_OK or EVI_ERR) of a raise that returned
     *  EVI_PENDING with this token. Call exactly once per token, from any thread. */
    void (*report)(const evi_host_t *h, uint64_t token, int status);

    /** Open a socket of any loaded transport ("udp:1.2.3.4:5", "flatstore:/x"). This is how
     *  a module composes other transports without knowing them (event_virtual). */
    int (*socket_open)(const evi_host_t *h, evi_str_t socket, int from_mi, evi_socket_t **out,
                       char *err, size_t errlen);

    /** Deliver an event through an opened socket and return its real outcome (EVI_OK or
     *  EVI_ERR): for blocking and async transports this waits for the outcome, so call it
     *  only from a blocking transport's raise(). */
    int (*socket_raise)(const evi_host_t *h, evi_socket_t *s, const evi_event_t *ev);

    /** print() of the socket's transport, with "proto:" in front. */
    int (*socket_print)(const evi_host_t *h, const evi_socket_t *s, char *buf, size_t len);

    /** 1 when both sockets have the same transport and it matches them. */
    int (*socket_match)(const evi_host_t *h, const evi_socket_t *a, const evi_socket_t *b);

    /** Close a socket from socket_open. */
    void (*socket_close)(const evi_host_t *h, evi_socket_t *s);

    /** Find a script route by name ("event_route[E_X]" blocks are found by their event
     *  name). Returns EVI_OK and sets *route, and *sync to 1 for `sync` routes; EVI_ERR
     *  when there is no such route. */
    int (*route_find)(const evi_host_t *h, evi_str_t name, evi_route_t **route, int *sync);

    /** Run a route with the event's params visible as $param(...). Returns EVI_OK, or
     *  EVI_ERR when the route failed at run time (already logged). */
    int (*route_run)(const evi_host_t *h, evi_route_t *route, const evi_event_t *ev);

    /** Call cb(arg) every interval_ms on a host timer thread, until stop(). */
    int (*timer_add)(const evi_host_t *h, unsigned interval_ms, void (*cb)(void *arg), void *arg);

    /** Register a module counter, exported in get_statistics and /metrics as
     *  evi_<module>_<name>; returns an id >= 0, or EVI_ERR. */
    int (*counter_register)(const evi_host_t *h, const char *name, const char *help);
    /** Add to a counter, from any thread. */
    void (*counter_add)(const evi_host_t *h, int id, int64_t delta);

    /* ---- ABI 1.1 (check with EVI_HOST_HAS(h, socket_flags)) ---- */

    /** The EVI_TF_* flags a socket from socket_open was given by its transport's parse().
     *  A transport composed of other sockets may deliver inline itself when every one of
     *  them is inline (event_virtual does). */
    unsigned (*socket_flags)(const evi_host_t *h, const evi_socket_t *s);
};

/** True when the host table `h` has `field` (fields are appended with minor versions). */
#define EVI_HOST_HAS(h, field)                                                                     \
    ((h)->size >= offsetof(evi_host_t, field) + sizeof(((evi_host_t *)0)->field))

/* ---------------------------------------------------------------------------------------- */
/* The module descriptor                                                                    */
/* ---------------------------------------------------------------------------------------- */

/**
 * What evi_module_descriptor() returns: a pointer to a constant that lives as long as the
 * module is loaded. The first three fields never move.
 */
typedef struct evi_module {
    uint32_t abi_major; /**< EVI_ABI_MAJOR */
    uint32_t abi_minor; /**< EVI_ABI_MINOR */
    size_t size;        /**< sizeof(evi_module_t) */

    const char *name;    /**< "event_datagram", as in modparam("event_datagram", …) */
    const char *version; /**< the module's own version, e.g. "1.0.0" */
    const char *description;

    const evi_param_def_t *params;
    size_t nparams;
    const evi_transport_t *transports;
    size_t ntransports;
    const evi_mi_cmd_t *mi_cmds;
    size_t nmi_cmds;

    /** After all modparams, before any socket is parsed. Keep `host`. Return EVI_OK or
     *  EVI_ERR with a message in err. Config thread. */
    int (*init)(const evi_host_t *host, char *err, size_t errlen);
    /** After every module's init: start threads, open connections. May be NULL. */
    int (*start)(char *err, size_t errlen);
    /** Shutdown, in reverse load order: stop accepting, flush within the grace period.
     *  No raise() is called after stop() returns. May be NULL. */
    void (*stop)(void);
    /** Release everything. May be NULL. */
    void (*destroy)(void);
    /** SIGHUP (logrotate): reopen files and similar. Called on a host thread, possibly
     *  while raise() runs on others. May be NULL. */
    void (*reopen)(void);

    /* ---- ABI 1.2 (the host reads it only when `size` covers it) ---- */

    /** Shutdown has begun: the host delivers what is queued until deadline_ms, a
     *  CLOCK_MONOTONIC time in milliseconds (shutdown_timeout from the signal), then stops.
     *  A raise() that waits on a peer must give up by then, or a stalled peer holds evid
     *  past shutdown_timeout (up to the transport's own timeout). Called once, on the main
     *  thread, while raise() may run on others; stop() comes later. May be NULL. */
    void (*drain)(int64_t deadline_ms);
} evi_module_t;

/** Every plugin defines this one function (and exports nothing else). */
const evi_module_t *evi_module_descriptor(void);

/** Convenience for C (a compound literal; C++ writes evi_str_t{"lit", 3}): EVI_STR("lit"). */
#define EVI_STR(lit) ((evi_str_t){(lit), sizeof(lit) - 1})

#ifdef __cplusplus
}
#endif

#endif /* EVI_PLUGIN_H */
