/*
 * event_flatstore: events as lines appended to files.
 *
 *   flatstore:/var/log/evi/events.log   ->   E_NAME,value1,value2\n
 *
 * An inline transport: the line is built on the stack and reaches the kernel with one pwrite()
 * (O_APPEND) before raise() returns. Subscriptions to the same file share one open file; a
 * mutex per file keeps rotation and writes apart. Rotation (period, line count, size, MI
 * evi_flat_rotate, SIGHUP) raises E_FLATSTORE_ROTATION.
 */
#define _GNU_SOURCE
#include "evi_plugin.h"
#include "flat_line.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ROTATION_EVENT "E_FLATSTORE_ROTATION"
#define BATCH_SIZE (64 * 1024) /* batched mode: per-file buffer, written when full or due */

/* ---- state ------------------------------------------------------------------------------ */

struct flat_file {
    struct flat_file *next;
    int refs; /* sockets + in-flight rotations holding it; guarded by table_lock */
    pthread_mutex_t lock;
    int fd;           /* guarded by lock */
    int dirfd;        /* the parent directory, opened once: renames and reopens stay in it */
    char *path;       /* canonical: <canonical parent>/<base> */
    char *dir;        /* the canonical parent, to find it again after it was deleted */
    char *written;    /* as the first subscriber wrote it */
    const char *base; /* the last component, inside path */
    char *batch;      /* flush_interval_ms > 0: lines not yet written; guarded by lock */
    size_t batch_len;
    uint64_t lines;   /* written since the file was opened; guarded by lock */
    uint64_t bytes;   /* file size as we know it; guarded by lock */
    time_t opened_at; /* guarded by lock */
    /* The file was deleted (st_nlink == 0) and its path could not be opened again: lines fail
     * at once, without a system call, until the health check reopens it. Guarded by lock. */
    int gone;
    uint64_t failed_while_gone; /* guarded by lock */
    char gone_why[256];         /* guarded by lock */
    /* Failed writes are logged at most once a second per file. Guarded by lock. */
    time_t last_error_log;
    uint64_t errors_unlogged;
};

struct flat_sock {
    struct flat_file *file;
    char text[]; /* as written */
};

struct dir_list {
    char **v;
    size_t n;
};

static const evi_host_t *host;

static int64_t max_open_files = 100;
static char *delimiter, *escape_delimiter, *allowed_dirs_param;
static mode_t file_mode = 0644;
static int suppress_event_name;
static int64_t rotate_period, rotate_count, rotate_size;
static int64_t flush_interval_ms;
static flat_format_t fmt;

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct flat_file *files;      /* guarded by table_lock */
static size_t nfiles;                /* guarded by table_lock */
static struct dir_list config_dirs;  /* parents used by non-MI subscriptions; table_lock */
static struct dir_list allowed_dirs; /* from modparam allowed_dirs, canonical; fixed after init */

static int ctr_write_failed = -1, ctr_rotations = -1;

/* Set while this thread raises E_FLATSTORE_ROTATION: lines that event writes (a flatstore
 * subscriber of it) never trigger another rotation, so rotation cannot recurse. */
static _Thread_local int raising_rotation;

/* ---- parameters ------------------------------------------------------------------------- */

static int set_str(char **dst, const evi_param_value_t *v, char *err, size_t errlen) {
    char *s = strndup(v->s.s, v->s.len);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return EVI_ERR;
    }
    free(*dst);
    *dst = s;
    return EVI_OK;
}

static int set_max_open(const evi_param_value_t *v, char *e, size_t n) {
    (void)e, (void)n;
    max_open_files = v->i;
    return EVI_OK;
}
static int get_max_open(char *b, size_t n) {
    return snprintf(b, n, "%lld", (long long)max_open_files);
}

static int set_delimiter(const evi_param_value_t *v, char *err, size_t errlen) {
    if (v->s.len == 0 || memchr(v->s.s, '\n', v->s.len) || memchr(v->s.s, '\r', v->s.len)) {
        snprintf(err, errlen, "the delimiter must be a non-empty string without newlines");
        return EVI_ERR;
    }
    return set_str(&delimiter, v, err, errlen);
}
static int get_delimiter(char *b, size_t n) {
    return snprintf(b, n, "%s", delimiter ? delimiter : ",");
}

static int set_escape(const evi_param_value_t *v, char *err, size_t errlen) {
    if (memchr(v->s.s, '\n', v->s.len) || memchr(v->s.s, '\r', v->s.len)) {
        snprintf(err, errlen, "escape_delimiter must not contain newlines");
        return EVI_ERR;
    }
    if (v->s.len == 0) {
        free(escape_delimiter);
        escape_delimiter = NULL;
        return EVI_OK;
    }
    return set_str(&escape_delimiter, v, err, errlen);
}
static int get_escape(char *b, size_t n) {
    return snprintf(b, n, "%s", escape_delimiter ? escape_delimiter : "");
}

static int set_permissions(const evi_param_value_t *v, char *err, size_t errlen) {
    long m = flat_parse_mode(v->s.s);
    if (m < 0) {
        snprintf(err, errlen, "'%s' is not an octal file mode such as \"644\" or \"0640\"", v->s.s);
        return EVI_ERR;
    }
    file_mode = (mode_t)m;
    return EVI_OK;
}
static int get_permissions(char *b, size_t n) {
    return snprintf(b, n, "%03o", (unsigned)file_mode);
}

static int set_suppress(const evi_param_value_t *v, char *e, size_t n) {
    (void)e, (void)n;
    suppress_event_name = (int)v->i;
    return EVI_OK;
}
static int get_suppress(char *b, size_t n) {
    return snprintf(b, n, "%d", suppress_event_name);
}

#define INT64_SETTER(name, var)                                                                    \
    static int name(const evi_param_value_t *v, char *e, size_t n) {                               \
        (void)e, (void)n;                                                                          \
        var = v->i;                                                                                \
        return EVI_OK;                                                                             \
    }
INT64_SETTER(set_rotate_period, rotate_period)
INT64_SETTER(set_rotate_count, rotate_count)
INT64_SETTER(set_rotate_size, rotate_size)
INT64_SETTER(set_flush_interval, flush_interval_ms)
static int get_flush_interval(char *b, size_t n) {
    return snprintf(b, n, "%lld", (long long)flush_interval_ms);
}
static int get_rotate_period(char *b, size_t n) {
    return snprintf(b, n, "%lld", (long long)rotate_period);
}
static int get_rotate_count(char *b, size_t n) {
    return snprintf(b, n, "%lld", (long long)rotate_count);
}
static int get_rotate_size(char *b, size_t n) {
    return snprintf(b, n, "%lld", (long long)rotate_size);
}

static int set_allowed_dirs(const evi_param_value_t *v, char *err, size_t errlen) {
    return set_str(&allowed_dirs_param, v, err, errlen);
}
static int get_allowed_dirs(char *b, size_t n) {
    return snprintf(b, n, "%s", allowed_dirs_param ? allowed_dirs_param : "");
}

static const evi_param_def_t params[] = {
    {"max_open_sockets", EVI_PARAM_INT, "100", 1, 65535, NULL,
     "how many different files may be open at once; more subscriptions are refused", set_max_open,
     get_max_open},
    {"delimiter", EVI_PARAM_STR, ",", 0, -1, NULL, "the separator written between fields",
     set_delimiter, get_delimiter},
    {"escape_delimiter", EVI_PARAM_STR, "", 0, -1, NULL,
     "written instead of the delimiter inside a value (empty: a space)", set_escape, get_escape},
    {"file_permissions", EVI_PARAM_STR, "644", 0, -1, NULL,
     "octal mode of the files the module creates", set_permissions, get_permissions},
    {"suppress_event_name", EVI_PARAM_BOOL, "0", 0, 1, NULL,
     "1: lines start with the first value instead of the event's name", set_suppress, get_suppress},
    {"rotate_period", EVI_PARAM_INT, "0", 0, INT32_MAX, NULL,
     "seconds after which a non-empty file is rotated (0: never)", set_rotate_period,
     get_rotate_period},
    {"rotate_count", EVI_PARAM_INT, "0", 0, INT64_MAX, NULL,
     "lines after which a file is rotated (0: never)", set_rotate_count, get_rotate_count},
    {"rotate_size", EVI_PARAM_SIZE, "0", 0, INT64_MAX, NULL,
     "size (k/m/g) a file may not exceed before it is rotated (0: never)", set_rotate_size,
     get_rotate_size},
    {"allowed_dirs", EVI_PARAM_STR, "", 0, -1, NULL,
     "comma-separated directories below which MI subscriptions may write (empty: the "
     "directories of the config's own flatstore subscriptions)",
     set_allowed_dirs, get_allowed_dirs},
    {"flush_interval_ms", EVI_PARAM_INT, "0", 0, 60000, NULL,
     "batched mode: lines are buffered per file and reach the kernel within this many ms, "
     "one write per batch (0: one write per line before raise returns)",
     set_flush_interval, get_flush_interval},
};

/* ---- small helpers ---------------------------------------------------------------------- */

static int dir_list_has(const struct dir_list *l, const char *d) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], d) == 0) return 1;
    return 0;
}

static int dir_list_add(struct dir_list *l, const char *d, size_t len) {
    char **v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (!v) return -1;
    l->v = v;
    if (!(v[l->n] = strndup(d, len))) return -1;
    l->n++;
    return 0;
}

static void dir_list_free(struct dir_list *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* The canonical path of an open descriptor, via /proc. */
static int fd_path(int fd, char *buf, size_t len) {
    char link[64];
    ssize_t n;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    n = readlink(link, buf, len - 1);
    if (n < 0) return -1;
    buf[n] = 0;
    return 0;
}

/* Open (creating with file_mode) the last component, never following a symbolic link and
 * never blocking on a FIFO; only regular files are accepted. */
static int open_file(int dirfd, const char *base, char *err, size_t errlen) {
    int fd, created = 1;
    const int common = O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
    struct stat st;

    fd = openat(dirfd, base, common | O_CREAT | O_EXCL, file_mode);
    if (fd < 0 && errno == EEXIST) {
        created = 0;
        fd = openat(dirfd, base, common);
    }
    if (fd < 0) {
        if (errno == ELOOP)
            snprintf(err, errlen, "'%s' is a symbolic link: flatstore does not follow links", base);
        else
            snprintf(err, errlen, "cannot open '%s': %s", base, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "'%s' is not a regular file", base);
        close(fd);
        return -1;
    }
    if (created) (void)fchmod(fd, file_mode); /* the mode as configured, whatever the umask */
    return fd;
}

/* Caller holds f->lock. */
static void file_reset_counters(struct flat_file *f) {
    struct stat st;
    f->lines = 0;
    f->bytes = fstat(f->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    f->opened_at = time(NULL);
}

/* Write all of b, or nothing: after a short write (EFBIG, ENOSPC) the fragment is cut off
 * again, so that the next line does not get glued to half a line.
 * pwrite(), not write(): the file is O_APPEND, so Linux appends whatever the offset (pwrite(2),
 * BUGS), and pwrite skips the file-position mutex that write() takes in a process with more
 * than one thread (scripts/bench, flatstore: CPU per line 0.93 -> 0.88 µs). */
static int write_all(int fd, const char *b, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, b + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (done > 0) {
                int e = errno;
                struct stat st;
                if (fstat(fd, &st) == 0 && (uint64_t)st.st_size >= done)
                    (void)ftruncate(fd, st.st_size - (off_t)done);
                errno = e;
            }
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

/* Batched mode: write what is buffered, in one pwrite() (caller holds f->lock). */
static int flush_locked(struct flat_file *f) {
    int rc = 0;
    if (f->batch_len == 0) return 0;
    if (f->gone) return -1; /* kept for the file that replaces the deleted one */
    if (write_all(f->fd, f->batch, f->batch_len) < 0) {
        int e = errno;
        host->counter_add(host, ctr_write_failed, 1);
        host->log(host, EVI_L_ERR, "cannot write %zu buffered bytes to %s: %s", f->batch_len,
                  f->path, strerror(e));
        rc = -1;
    }
    f->batch_len = 0;
    return rc;
}

/* Open the path again (caller holds f->lock). When the directory itself was deleted (and maybe
 * created again), it is looked up again by its canonical path, and only accepted when it still
 * resolves to that same path: a symbolic link put in its place is refused, so a reopen never
 * writes outside the directory that was checked at subscription time. On success the old
 * descriptor is closed; on failure nothing changes and err says why. */
static int reopen_locked(struct flat_file *f, char *err, size_t errlen) {
    struct stat st;
    int fd;
    if (fstat(f->dirfd, &st) < 0 || st.st_nlink == 0) {
        char canon[PATH_MAX];
        int d = open(f->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (d < 0) {
            snprintf(err, errlen, "the directory %s %s", f->dir,
                     errno == ENOENT ? "does not exist" : strerror(errno));
            return -1;
        }
        if (fd_path(d, canon, sizeof canon) < 0 || strcmp(canon, f->dir) != 0) {
            snprintf(err, errlen, "the directory %s is now a link to another place: refused",
                     f->dir);
            close(d);
            return -1;
        }
        close(f->dirfd);
        f->dirfd = d;
    }
    fd = open_file(f->dirfd, f->base, err, errlen);
    if (fd < 0) return -1;
    close(f->fd);
    f->fd = fd;
    file_reset_counters(f);
    return 0;
}

/* The file is usable again after it was gone (caller holds lock): lines kept in the batch
 * buffer go to the new file. Writes the log text into msg. */
static void recovered_locked(struct flat_file *f, char *msg, size_t len) {
    snprintf(msg, len, "%s can be written again (%llu lines failed while it could not be opened)",
             f->path, (unsigned long long)f->failed_while_gone);
    f->gone = 0;
    f->failed_while_gone = 0;
    f->gone_why[0] = 0;
    flush_locked(f);
}

/* ---- rotation --------------------------------------------------------------------------- */

struct rotation {
    const char *reason;
    time_t when;
    char filename[PATH_MAX];
    char old_filename[PATH_MAX];
};

/*
 * Rotate f (caller holds f->lock). With `rename_old` (period, count, size) the current file is
 * renamed to <base>.YYYYMMDD-HHMMSS[.N] first, unless it was already moved away by someone
 * else; then (always) the path is opened again and the old descriptor closed. On failure the
 * old descriptor stays in use. Returns 0 and fills r, or -1.
 */
static int rotate_locked(struct flat_file *f, const char *reason, int rename_old,
                         struct rotation *r) {
    char err[256], newbase[NAME_MAX + 1];

    r->reason = reason;
    r->when = time(NULL);
    snprintf(r->filename, sizeof r->filename, "%s", f->path);
    flush_locked(f); /* buffered lines belong to the old file */
    if (fd_path(f->fd, r->old_filename, sizeof r->old_filename) < 0)
        snprintf(r->old_filename, sizeof r->old_filename, "%s", f->path);

    if (rename_old && strcmp(r->old_filename, f->path) == 0) {
        unsigned seq = 0;
        for (;;) {
            if (flat_rotated_name(newbase, sizeof newbase, f->base, r->when, seq) >=
                (int)sizeof newbase) {
                host->log(host, EVI_L_ERR, "cannot rotate %s: the name is too long", f->path);
                return -1;
            }
            if (renameat2(f->dirfd, f->base, f->dirfd, newbase, RENAME_NOREPLACE) == 0) break;
            if (errno != EEXIST || ++seq > 1000) {
                host->log(host, EVI_L_ERR, "cannot rename %s for rotation: %s", f->path,
                          strerror(errno));
                return -1;
            }
        }
        size_t dl = (size_t)(f->base - f->path);
        snprintf(r->old_filename, sizeof r->old_filename, "%.*s%s", (int)dl, f->path, newbase);
    }

    if (reopen_locked(f, err, sizeof err) < 0) {
        if (f->gone)
            host->log(host, EVI_L_ERR, "cannot reopen %s (%s rotation): %s", f->path, reason, err);
        else
            host->log(host, EVI_L_ERR, "cannot reopen %s (%s rotation): %s; still writing to %s",
                      f->path, reason, err, r->old_filename);
        return -1;
    }
    if (f->gone) {
        char msg[PATH_MAX + 128];
        recovered_locked(f, msg, sizeof msg);
        host->log(host, EVI_L_NOTICE, "%s", msg);
    }
    host->counter_add(host, ctr_rotations, 1);
    return 0;
}

static void raise_rotation(const struct rotation *r) {
    evi_param_t p[4];
    memset(p, 0, sizeof p);
    p[0].name = EVI_STR("timestamp");
    p[0].type = EVI_VAL_INT;
    p[0].i = (int64_t)r->when;
    p[1].name = EVI_STR("reason");
    p[1].type = EVI_VAL_STR;
    p[1].s = (evi_str_t){r->reason, strlen(r->reason)};
    p[2].name = EVI_STR("filename");
    p[2].type = EVI_VAL_STR;
    p[2].s = (evi_str_t){r->filename, strlen(r->filename)};
    p[3].name = EVI_STR("old_filename");
    p[3].type = EVI_VAL_STR;
    p[3].s = (evi_str_t){r->old_filename, strlen(r->old_filename)};
    raising_rotation++;
    host->raise(host, EVI_STR(ROTATION_EVENT), p, 4);
    raising_rotation--;
}

/* After a failed automatic rotation (logged), try again only after another full period, count
 * or size instead of at every line (caller holds lock). */
static void rotation_backoff(struct flat_file *f) {
    f->lines = 0;
    f->bytes = 0;
    f->opened_at = time(NULL);
}

/* Which automatic rotation a write of `len` bytes needs first, or NULL (caller holds lock). */
static const char *rotation_due(const struct flat_file *f, size_t len, time_t now) {
    if (raising_rotation || f->bytes == 0) return NULL;
    if (rotate_size > 0 && f->bytes + len > (uint64_t)rotate_size) return "size";
    if (rotate_count > 0 && f->lines >= (uint64_t)rotate_count) return "count";
    if (rotate_period > 0 && now - f->opened_at >= rotate_period) return "period";
    return NULL;
}

/* ---- the file table --------------------------------------------------------------------- */

static void file_unref_locked(struct flat_file *f) {
    if (--f->refs > 0) return;
    for (struct flat_file **pp = &files; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    nfiles--;
    pthread_mutex_lock(&f->lock);
    if (flush_locked(f) < 0 && f->gone && f->batch_len)
        host->log(host, EVI_L_ERR, "%zu buffered bytes for %s are lost: it could not be opened",
                  f->batch_len, f->path);
    pthread_mutex_unlock(&f->lock);
    free(f->batch);
    free(f->dir);
    close(f->fd);
    close(f->dirfd);
    pthread_mutex_destroy(&f->lock);
    free(f->path);
    free(f->written);
    free(f);
}

/* A snapshot of the open files, each with a reference held; release with snapshot_release. */
static struct flat_file **snapshot(size_t *n) {
    struct flat_file **v, *f;
    size_t i = 0;
    pthread_mutex_lock(&table_lock);
    v = malloc((nfiles ? nfiles : 1) * sizeof *v);
    if (v)
        for (f = files; f; f = f->next) {
            f->refs++;
            v[i++] = f;
        }
    pthread_mutex_unlock(&table_lock);
    *n = i;
    return v;
}

static void snapshot_release(struct flat_file **v, size_t n) {
    pthread_mutex_lock(&table_lock);
    for (size_t i = 0; i < n; i++)
        file_unref_locked(v[i]);
    pthread_mutex_unlock(&table_lock);
    free(v);
}

/* Rotate one file now (MI, SIGHUP) and raise the event; 0 or -1. */
static int rotate_now(struct flat_file *f, const char *reason, int rename_old) {
    struct rotation r;
    int rc;
    pthread_mutex_lock(&f->lock);
    rc = rotate_locked(f, reason, rename_old, &r);
    pthread_mutex_unlock(&f->lock);
    if (rc == 0) raise_rotation(&r);
    return rc;
}

static int rotate_all(const char *reason) {
    size_t n;
    int failed = 0;
    struct flat_file **v = snapshot(&n);
    if (!v) return -1;
    for (size_t i = 0; i < n; i++)
        failed |= rotate_now(v[i], reason, 0);
    snapshot_release(v, n);
    return failed ? -1 : 0;
}

/*
 * Is the file still there? (caller holds lock; from the health timer, once a second.) A file
 * deleted under us (rm, rm -rf of its directory) has st_nlink == 0: writing on would "succeed"
 * into an inode nobody can read, so the path is opened again. When that fails (the directory
 * is gone, no permission) the file is marked gone: its lines fail at once, counted, until a
 * later check can open it. Writes a log line into msg and returns its level, or 0.
 */
static int check_health_locked(struct flat_file *f, char *msg, size_t len) {
    char err[256];
    struct stat st;
    if (!f->gone) {
        if (fstat(f->fd, &st) < 0 || st.st_nlink > 0) return 0;
        if (reopen_locked(f, err, sizeof err) == 0) {
            snprintf(msg, len, "%s was deleted: created it again", f->path);
            return EVI_L_WARN;
        }
        f->gone = 1;
        f->failed_while_gone = 0;
        snprintf(f->gone_why, sizeof f->gone_why, "%s", err);
        snprintf(msg, len,
                 "%s was deleted and cannot be created again: %s; its lines fail until it can "
                 "(tried every second)",
                 f->path, err);
        return EVI_L_ERR;
    }
    if (reopen_locked(f, err, sizeof err) == 0) {
        recovered_locked(f, msg, len);
        return EVI_L_NOTICE;
    }
    if (strcmp(err, f->gone_why) == 0) return 0; /* said already */
    snprintf(f->gone_why, sizeof f->gone_why, "%s", err);
    snprintf(msg, len, "%s still cannot be opened: %s (%llu lines failed so far)", f->path, err,
             (unsigned long long)f->failed_while_gone);
    return EVI_L_ERR;
}

/* Host timer, once a second: the health check of every file, then rotate_period. */
static void tick(void *arg) {
    size_t n;
    (void)arg;
    struct flat_file **v = snapshot(&n);
    if (!v) return;
    time_t now = time(NULL);
    for (size_t i = 0; i < n; i++) {
        struct flat_file *f = v[i];
        struct rotation r;
        char msg[PATH_MAX + 512];
        int rotated = 0, level;
        pthread_mutex_lock(&f->lock);
        level = check_health_locked(f, msg, sizeof msg);
        if (rotate_period > 0 && !f->gone && f->bytes > 0 && now - f->opened_at >= rotate_period &&
            !(rotated = rotate_locked(f, "period", 1, &r) == 0))
            rotation_backoff(f);
        pthread_mutex_unlock(&f->lock);
        if (level) host->log(host, level, "%s", msg);
        if (rotated) raise_rotation(&r);
    }
    snapshot_release(v, n);
}

/* Batched mode: host timer every flush_interval_ms; also called by stop(). */
static void flush_all(void *arg) {
    (void)arg;
    pthread_mutex_lock(&table_lock);
    for (struct flat_file *f = files; f; f = f->next) {
        pthread_mutex_lock(&f->lock);
        flush_locked(f);
        pthread_mutex_unlock(&f->lock);
    }
    pthread_mutex_unlock(&table_lock);
}

/* ---- transport -------------------------------------------------------------------------- */

static void format_allowed(const struct dir_list *l, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < l->n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", l->v[i]);
}

static int flat_parse(evi_str_t address, int from_mi, void **out, unsigned *flags, char *err,
                      size_t errlen) {
    char dir[PATH_MAX], cdir[PATH_MAX], path[PATH_MAX];
    const char *slash, *base;
    size_t baselen;
    int dirfd, fd;
    struct flat_file *f;
    struct flat_sock *s;
    (void)flags;

    if (address.len == 0 || address.len >= PATH_MAX || memchr(address.s, 0, address.len)) {
        snprintf(err, errlen, "expected flatstore:/path/to/file");
        return EVI_ERR;
    }
    slash = memrchr(address.s, '/', address.len);
    base = slash ? slash + 1 : address.s;
    baselen = address.len - (size_t)(base - address.s);
    if (baselen == 0 || (baselen == 1 && base[0] == '.') ||
        (baselen == 2 && base[0] == '.' && base[1] == '.') || baselen > NAME_MAX) {
        snprintf(err, errlen, "'%.*s' does not name a file", (int)address.len, address.s);
        return EVI_ERR;
    }
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == address.s)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - address.s), address.s);

    dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        snprintf(err, errlen, "the directory '%s' of '%.*s' %s", dir, (int)address.len, address.s,
                 errno == ENOENT ? "does not exist" : strerror(errno));
        return EVI_ERR;
    }
    if (fd_path(dirfd, cdir, sizeof cdir) < 0 || cdir[0] != '/') {
        snprintf(err, errlen, "cannot resolve the directory '%s'", dir);
        close(dirfd);
        return EVI_ERR;
    }
    if (strlen(cdir) + 1 + baselen >= sizeof path) {
        snprintf(err, errlen, "'%.*s': the path is too long", (int)address.len, address.s);
        close(dirfd);
        return EVI_ERR;
    }
    size_t cl = strlen(cdir);
    memcpy(path, cdir, cl);
    if (strcmp(cdir, "/") != 0) path[cl++] = '/';
    memcpy(path + cl, base, baselen);
    path[cl + baselen] = 0;

    pthread_mutex_lock(&table_lock);
    if (from_mi) {
        const struct dir_list *allowed = allowed_dirs_param ? &allowed_dirs : &config_dirs;
        int ok = 0;
        for (size_t i = 0; i < allowed->n && !ok; i++)
            ok = flat_dir_is_below(cdir, allowed->v[i]);
        if (!ok) {
            char list[1024];
            format_allowed(allowed, list, sizeof list);
            if (allowed->n)
                snprintf(err, errlen,
                         "'%.*s': subscriptions made over the MI may only write below %s "
                         "(modparam allowed_dirs)",
                         (int)address.len, address.s, list);
            else
                snprintf(err, errlen,
                         "'%.*s': subscriptions made over the MI may not write files: no "
                         "directory is allowed (set modparam allowed_dirs)",
                         (int)address.len, address.s);
            goto fail_locked;
        }
    } else if (!dir_list_has(&config_dirs, cdir) &&
               dir_list_add(&config_dirs, cdir, strlen(cdir)) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail_locked;
    }

    for (f = files; f; f = f->next)
        if (strcmp(f->path, path) == 0) break;
    if (f) {
        close(dirfd);
        dirfd = -1;
    } else {
        if ((int64_t)nfiles >= max_open_files) {
            snprintf(err, errlen,
                     "cannot open '%.*s': max_open_sockets (%lld) files are already open",
                     (int)address.len, address.s, (long long)max_open_files);
            goto fail_locked;
        }
        char base0[NAME_MAX + 1];
        snprintf(base0, sizeof base0, "%.*s", (int)baselen, base);
        fd = open_file(dirfd, base0, err, errlen);
        if (fd < 0) goto fail_locked;
        f = calloc(1, sizeof *f);
        if (!f || !(f->path = strdup(path)) || !(f->dir = strdup(cdir)) ||
            !(f->written = strndup(address.s, address.len)) ||
            (flush_interval_ms > 0 && !(f->batch = malloc(BATCH_SIZE)))) {
            if (f) {
                free(f->path);
                free(f->dir);
                free(f->written);
                free(f);
            }
            close(fd);
            snprintf(err, errlen, "out of memory");
            goto fail_locked;
        }
        pthread_mutex_init(&f->lock, NULL);
        f->fd = fd;
        f->dirfd = dirfd;
        f->base = f->path + strlen(f->path) - baselen;
        file_reset_counters(f);
        f->next = files;
        files = f;
        nfiles++;
    }
    s = malloc(sizeof *s + address.len + 1);
    if (!s) {
        f->refs++;
        file_unref_locked(f);
        pthread_mutex_unlock(&table_lock);
        snprintf(err, errlen, "out of memory");
        return EVI_ERR;
    }
    f->refs++;
    pthread_mutex_unlock(&table_lock);
    s->file = f;
    memcpy(s->text, address.s, address.len);
    s->text[address.len] = 0;
    *out = s;
    return EVI_OK;

fail_locked:
    pthread_mutex_unlock(&table_lock);
    if (dirfd >= 0) close(dirfd);
    return EVI_ERR;
}

static int flat_raise(void *sock, const evi_event_t *ev, uint64_t token) {
    struct flat_file *f = ((struct flat_sock *)sock)->file;
    char stack[8192], *heap = NULL, *buf = stack;
    size_t need = flat_line_bound(&fmt, ev), len;
    struct rotation r;
    const char *due;
    int rotated = 0, rc = EVI_OK, e = 0, log_it = 0;
    uint64_t unlogged = 0;
    (void)token;

    if (need > sizeof stack && !(buf = heap = malloc(need))) {
        host->counter_add(host, ctr_write_failed, 1);
        return EVI_ERR;
    }
    len = flat_line_write(&fmt, ev, buf);

    pthread_mutex_lock(&f->lock);
    if (f->gone) { /* deleted and not openable: fail fast, logged by the health check */
        f->failed_while_gone++;
        pthread_mutex_unlock(&f->lock);
        host->counter_add(host, ctr_write_failed, 1);
        free(heap);
        return EVI_ERR;
    }
    due = rotation_due(f, len, rotate_period > 0 ? time(NULL) : 0);
    if (due && !(rotated = rotate_locked(f, due, 1, &r) == 0)) rotation_backoff(f);
    if (f->batch && len <= BATCH_SIZE) {
        /* batched mode: the line is in our buffer; a failed flush is counted there */
        if (f->batch_len + len > BATCH_SIZE) flush_locked(f);
        memcpy(f->batch + f->batch_len, buf, len);
        f->batch_len += len;
        f->lines++;
        f->bytes += len;
    } else if ((f->batch && flush_locked(f) < 0) || write_all(f->fd, buf, len) < 0) {
        e = errno;
        rc = EVI_ERR;
        /* one log line a second per file, however many lines fail */
        time_t now = time(NULL);
        if (now != f->last_error_log) {
            f->last_error_log = now;
            unlogged = f->errors_unlogged;
            f->errors_unlogged = 0;
            log_it = 1;
        } else {
            f->errors_unlogged++;
        }
    } else {
        f->lines++;
        f->bytes += len;
    }
    pthread_mutex_unlock(&f->lock);

    if (rc != EVI_OK) {
        host->counter_add(host, ctr_write_failed, 1);
        if (log_it && unlogged)
            host->log(host, EVI_L_ERR, "cannot write to %s: %s (and %llu more lines failed)",
                      f->path, strerror(e), (unsigned long long)unlogged);
        else if (log_it)
            host->log(host, EVI_L_ERR, "cannot write to %s: %s", f->path, strerror(e));
    }
    free(heap);
    if (rotated) raise_rotation(&r);
    return rc;
}

static int flat_match(const void *a, const void *b) {
    return ((const struct flat_sock *)a)->file == ((const struct flat_sock *)b)->file;
}

static int flat_print(const void *sock, char *buf, size_t len) {
    return snprintf(buf, len, "%s", ((const struct flat_sock *)sock)->text);
}

static void flat_free(void *sock) {
    struct flat_sock *s = sock;
    pthread_mutex_lock(&table_lock);
    file_unref_locked(s->file);
    pthread_mutex_unlock(&table_lock);
    free(s);
}

static const evi_transport_t transports[] = {
    {sizeof(evi_transport_t), "flatstore", 0, flat_parse, flat_raise, flat_match, flat_print,
     flat_free},
};

/* ---- MI --------------------------------------------------------------------------------- */

static void reply(const evi_mi_request_t *req, int code, const char *text) {
    req->reply(req->reply_ctx, code, (evi_str_t){text, strlen(text)});
}

/* The open file a user names: by the path as subscribed, or by its canonical path. */
static struct flat_file *find_file(struct flat_file **v, size_t n, const char *p, size_t len) {
    char dir[PATH_MAX], canon[PATH_MAX];
    const char *slash = memrchr(p, '/', len);
    canon[0] = 0;
    if (len < PATH_MAX) {
        if (!slash)
            snprintf(dir, sizeof dir, ".");
        else
            snprintf(dir, sizeof dir, "%.*s", (int)(slash == p ? 1 : slash - p), p);
        if (realpath(dir, canon)) {
            size_t cl = strlen(canon);
            snprintf(canon + cl, sizeof canon - cl, "%s%.*s", strcmp(canon, "/") ? "/" : "",
                     (int)(len - (size_t)(slash ? slash + 1 - p : 0)), slash ? slash + 1 : p);
        } else
            canon[0] = 0;
    }
    for (size_t i = 0; i < n; i++)
        if ((strlen(v[i]->written) == len && memcmp(v[i]->written, p, len) == 0) ||
            (canon[0] && strcmp(v[i]->path, canon) == 0))
            return v[i];
    return NULL;
}

static void mi_rotate(const evi_mi_request_t *req) {
    const evi_param_t *path = NULL;
    for (size_t i = 0; i < req->nparams; i++)
        if (req->params[i].name.len == 4 && memcmp(req->params[i].name.s, "path", 4) == 0)
            path = &req->params[i];
    if (!path) {
        if (rotate_all("mi") == 0)
            reply(req, 0, "\"OK\"");
        else
            reply(req, 500, "Cannot reopen every file (see the log)");
        return;
    }
    if (path->type != EVI_VAL_STR) {
        reply(req, -32602, "path must be a string");
        return;
    }
    size_t n;
    struct flat_file **v = snapshot(&n);
    if (!v) {
        reply(req, 500, "out of memory");
        return;
    }
    struct flat_file *f = find_file(v, n, path->s.s, path->s.len);
    if (!f)
        reply(req, 404, "No flatstore subscription writes to this file");
    else if (rotate_now(f, "mi", 0) < 0)
        reply(req, 500, "Cannot reopen the file (see the log)");
    else
        reply(req, 0, "\"OK\"");
    snapshot_release(v, n);
}

static const char *const rotate_param_sets[] = {"path", "", NULL};

static const evi_mi_cmd_t mi_cmds[] = {
    {"evi_flat_rotate", "event_flatstore:rotate",
     "Reopen a flatstore file (all files without a path), e.g. after logrotate moved it",
     rotate_param_sets, mi_rotate},
};

/* ---- lifecycle -------------------------------------------------------------------------- */

static int flat_init(const evi_host_t *h, char *err, size_t errlen) {
    host = h;
    if (!delimiter && !(delimiter = strdup(","))) {
        snprintf(err, errlen, "out of memory");
        return EVI_ERR;
    }
    if (escape_delimiter && strstr(escape_delimiter, delimiter)) {
        snprintf(err, errlen, "escape_delimiter '%s' must not contain the delimiter '%s'",
                 escape_delimiter, delimiter);
        return EVI_ERR;
    }
    fmt.delim = delimiter;
    fmt.delim_len = strlen(delimiter);
    fmt.escape = escape_delimiter;
    fmt.escape_len = escape_delimiter ? strlen(escape_delimiter) : 0;
    fmt.suppress_name = suppress_event_name;
    flat_format_init(&fmt);

    if (allowed_dirs_param) {
        const char *p = allowed_dirs_param, *start;
        size_t len;
        while ((p = flat_next_list_entry(p, &start, &len))) {
            char raw[PATH_MAX], canon[PATH_MAX];
            snprintf(raw, sizeof raw, "%.*s", (int)len, start);
            if (raw[0] != '/') {
                snprintf(err, errlen, "allowed_dirs: '%s' is not an absolute path", raw);
                return EVI_ERR;
            }
            const char *use = realpath(raw, canon) ? canon : raw;
            if (!realpath(raw, canon))
                h->log(h, EVI_L_WARN, "allowed_dirs: '%s' does not exist (yet)", raw);
            if (dir_list_add(&allowed_dirs, use, strlen(use)) < 0) {
                snprintf(err, errlen, "out of memory");
                return EVI_ERR;
            }
        }
    }
    if (h->publish(h, EVI_STR(ROTATION_EVENT)) < 0) {
        snprintf(err, errlen, "cannot publish %s", ROTATION_EVENT);
        return EVI_ERR;
    }
    ctr_write_failed = h->counter_register(h, "write_failed", "lines that could not be written");
    ctr_rotations = h->counter_register(h, "rotations", "files rotated (any reason)");
    return EVI_OK;
}

static int flat_start(char *err, size_t errlen) {
    if (host->timer_add(host, 1000, tick, NULL) < 0) {
        snprintf(err, errlen, "cannot start the file health and rotate_period timer");
        return EVI_ERR;
    }
    if (flush_interval_ms > 0 &&
        host->timer_add(host, (unsigned)flush_interval_ms, flush_all, NULL) < 0) {
        snprintf(err, errlen, "cannot start the flush_interval_ms timer");
        return EVI_ERR;
    }
    return EVI_OK;
}

static void flat_stop(void) {
    flush_all(NULL);
}

static void flat_reopen(void) {
    rotate_all("sighup");
}

static void flat_destroy(void) {
    /* Sockets are freed by the host before destroy(); whatever is left is closed here. */
    pthread_mutex_lock(&table_lock);
    while (files) {
        files->refs = 1;
        file_unref_locked(files);
    }
    dir_list_free(&config_dirs);
    pthread_mutex_unlock(&table_lock);
    dir_list_free(&allowed_dirs);
    free(delimiter);
    free(escape_delimiter);
    free(allowed_dirs_param);
    delimiter = escape_delimiter = allowed_dirs_param = NULL;
}

static const evi_module_t module = {
    .abi_major = EVI_ABI_MAJOR,
    .abi_minor = EVI_ABI_MINOR,
    .size = sizeof(evi_module_t),
    .name = "event_flatstore",
    .version = "1.0.0",
    .description = "Events as lines appended to files, with rotation",
    .params = params,
    .nparams = sizeof params / sizeof params[0],
    .transports = transports,
    .ntransports = sizeof transports / sizeof transports[0],
    .mi_cmds = mi_cmds,
    .nmi_cmds = sizeof mi_cmds / sizeof mi_cmds[0],
    .init = flat_init,
    .start = flat_start,
    .stop = flat_stop,
    .destroy = flat_destroy,
    .reopen = flat_reopen,
};

const evi_module_t *evi_module_descriptor(void) {
    return &module;
}
