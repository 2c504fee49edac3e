/*
 * Linked into the transport fuzz targets: getaddrinfo() resolves numeric addresses (and
 * "localhost", from /etc/hosts) only, so that a fuzzed host name never becomes a DNS query
 * leaving the machine. Defined in the executable, it takes precedence over libc's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <string.h>

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res) {
    static gai_fn real;
    struct addrinfo h;
    if (!real) real = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
    if (hints)
        h = *hints;
    else {
        memset(&h, 0, sizeof h);
        h.ai_family = AF_UNSPEC;
    }
    if (!node || strcmp(node, "localhost") != 0) h.ai_flags |= AI_NUMERICHOST;
    return real(node, service, &h, res);
}
