// event_datagram's pure parts (plugins/datagram/dgram_format.c): udp address splitting and
// the OpenSIPS 2.x text payload against its bound.
#include "dgram_format.h"
#include "fuzz_event.hpp"

#include <cstring>
#include <memory>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FuzzedDataProvider in(data, size);
    if (in.ConsumeBool()) {
        size_t hostlen = in.ConsumeIntegralInRange<size_t>(1, 300);
        std::string addr = in.ConsumeRemainingBytesAsString();
        // The address exactly as long as it is (not NUL-terminated): ASan sees over-reads.
        std::unique_ptr<char[]> a(new char[addr.size() ? addr.size() : 1]);
        memcpy(a.get(), addr.data(), addr.size());
        std::unique_ptr<char[]> host(new char[hostlen]);
        uint16_t port = 0;
        char err[128];
        if (dgram_split_udp(a.get(), addr.size(), host.get(), hostlen, &port, err, sizeof err) ==
            0) {
            if (port == 0) fuzz::fail("dgram_split_udp accepted port 0");
            if (strnlen(host.get(), hostlen) == hostlen) fuzz::fail("host not NUL-terminated");
        } else if (strnlen(err, sizeof err) == sizeof err || err[0] == '\0') {
            fuzz::fail("dgram_split_udp failed without a reason");
        }
        return 0;
    }
    fuzz::Event e(in);
    size_t bound = dgram_text_bound(&e.ev);
    std::unique_ptr<char[]> buf(new char[bound ? bound : 1]);
    size_t n = dgram_text_write(&e.ev, buf.get());
    if (n > bound) fuzz::fail("dgram_text_write wrote more than dgram_text_bound");
    return 0;
}
