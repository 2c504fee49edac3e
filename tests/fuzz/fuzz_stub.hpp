// An in-process transport that accepts every address, registered under the protos the test
// configs use, so that subscriptions in fuzzed configs and MI requests resolve without I/O.
#pragma once

#include "app.hpp"
#include "log/log.hpp"

#include <cstdio>
#include <string>

namespace fuzz {

inline int stub_parse(evi_str_t address, int, void **sock, unsigned *, char *err, size_t errlen) {
    if (address.len > 0 && address.s[0] == '!') { // a way for inputs to reach parse errors
        std::snprintf(err, errlen, "refused");
        return EVI_ERR;
    }
    *sock = new std::string(address.s, address.len);
    return EVI_OK;
}
inline int stub_raise(void *, const evi_event_t *, uint64_t) {
    return EVI_OK;
}
inline int stub_match(const void *a, const void *b) {
    return *static_cast<const std::string *>(a) == *static_cast<const std::string *>(b);
}
inline int stub_print(const void *sock, char *buf, size_t len) {
    const auto &s = *static_cast<const std::string *>(sock);
    return std::snprintf(buf, len, "%.*s", (int)s.size(), s.c_str());
}
inline void stub_free(void *sock) {
    delete static_cast<std::string *>(sock);
}

#define FUZZ_STUB(proto, flags)                                                                    \
    evi_transport_t {                                                                              \
        sizeof(evi_transport_t), proto, flags, stub_parse, stub_raise, stub_match, stub_print,     \
            stub_free                                                                              \
    }
inline const evi_transport_t kStubs[] = {
    FUZZ_STUB("udp", EVI_TF_JSON),  FUZZ_STUB("unix", 0),   FUZZ_STUB("flatstore", 0),
    FUZZ_STUB("tcp", EVI_TF_JSON),  FUZZ_STUB("xmlrpc", 0), FUZZ_STUB("rabbitmq", EVI_TF_JSON),
    FUZZ_STUB("virtual", 0),        FUZZ_STUB("route", 0),  FUZZ_STUB("rec", 0),
    FUZZ_STUB("test", EVI_TF_JSON),
};
#undef FUZZ_STUB

inline void add_stubs(evi::App &app) {
    for (const auto &t : kStubs)
        (void)app.transports.add(&t, "fuzz");
}

// Nothing below Alert+… is written: the fuzzer runs quietly.
inline void quiet_logs() {
    evi::log::set_level(evi::log::Alert - 1);
}

} // namespace fuzz
