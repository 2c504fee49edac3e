// event_virtual's pure parts (plugins/virtual/virtual_spec.c): the "POLICY sock1 sock2" spec,
// the attempt order (a permutation) and PARALLEL set matching.
#include "fuzz_event.hpp"
#include "virtual_spec.h"

#include <cstring>
#include <memory>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FuzzedDataProvider in(data, size);
    switch (in.ConsumeIntegralInRange<int>(0, 2)) {
    case 0: {
        size_t max = in.ConsumeIntegralInRange<size_t>(0, 16);
        std::string spec = in.ConsumeRemainingBytesAsString();
        std::unique_ptr<char[]> s(new char[spec.size() ? spec.size() : 1]);
        memcpy(s.get(), spec.data(), spec.size());
        std::unique_ptr<evi_str_t[]> members(new evi_str_t[max ? max : 1]);
        int policy = -1;
        size_t n = 0;
        char err[160];
        if (virt_parse_spec(s.get(), spec.size(), &policy, members.get(), max, &n, err,
                            sizeof err) == 0) {
            if (n == 0 || n > max) fuzz::fail("virt_parse_spec member count", std::to_string(n));
            if (policy < 0 || policy > 2) fuzz::fail("virt_parse_spec policy");
            for (size_t i = 0; i < n; ++i)
                if (members[i].s < s.get() ||
                    members[i].s + members[i].len > s.get() + spec.size() || members[i].len == 0)
                    fuzz::fail("virt_parse_spec member outside the spec");
        } else if (err[0] == '\0' || strnlen(err, sizeof err) == sizeof err) {
            fuzz::fail("virt_parse_spec failed without a reason");
        }
        break;
    }
    case 1: {
        int policy = in.ConsumeIntegralInRange<int>(0, 2);
        size_t n = in.ConsumeIntegralInRange<size_t>(0, 32);
        // virtual.c passes `next % n` (start + i would wrap for a start near SIZE_MAX).
        size_t start = n ? in.ConsumeIntegral<size_t>() % n : 0;
        std::vector<unsigned char> pen(n ? n : 1);
        for (size_t i = 0; i < n; ++i)
            pen[i] = in.ConsumeBool();
        std::vector<size_t> order(n ? n : 1, SIZE_MAX);
        virt_attempt_order(policy, n, start, pen.data(), order.data());
        std::vector<bool> seen(n);
        for (size_t i = 0; i < n; ++i) {
            if (order[i] >= n || seen[order[i]])
                fuzz::fail("virt_attempt_order: not a permutation");
            seen[order[i]] = true;
        }
        break;
    }
    default: {
        size_t n = in.ConsumeIntegralInRange<size_t>(0, 8);
        std::vector<unsigned char> eq(n * n + 1);
        for (size_t i = 0; i < n * n; ++i)
            eq[i] = in.ConsumeBool();
        (void)virt_same_set(n, eq.data());
        break;
    }
    }
    return 0;
}
