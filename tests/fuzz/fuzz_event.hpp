// Builds an evi_event_t (name + params) out of fuzzer bytes, for the payload encoders.
#pragma once

#include "evi_plugin.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <vector>

namespace fuzz {

struct Event {
    std::deque<std::string> strings; // stable addresses for the evi_str_t views
    std::vector<evi_param_t> params;
    evi_event_t ev{};

    evi_str_t keep(std::string s) {
        strings.push_back(std::move(s));
        return {strings.back().data(), strings.back().size()};
    }

    // A name as the core allows it (1 to 64 of [A-Za-z0-9_.:-]: EventCore::publish refuses the
    // rest, so no encoder ever sees one), then up to 16 params: named or not, int or string.
    explicit Event(FuzzedDataProvider &in) {
        static constexpr char kAlphabet[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-";
        std::string name = in.ConsumeRandomLengthString(64);
        for (char &c : name)
            c = kAlphabet[static_cast<unsigned char>(c) % (sizeof kAlphabet - 1)];
        if (name.empty()) name = "E";
        ev.name = keep(std::move(name));
        size_t n = in.ConsumeIntegralInRange<size_t>(0, 16);
        for (size_t i = 0; i < n && in.remaining_bytes() > 0; ++i) {
            evi_param_t p{};
            if (in.ConsumeBool()) p.name = keep(in.ConsumeRandomLengthString(32));
            if (in.ConsumeBool()) {
                p.type = EVI_VAL_INT;
                p.i = in.ConsumeIntegral<int64_t>();
            } else {
                p.type = EVI_VAL_STR;
                p.s = keep(in.ConsumeRandomLengthString(256));
            }
            params.push_back(p);
        }
        ev.params = params.data();
        ev.nparams = params.size();
        ev.json = keep(in.ConsumeRandomLengthString(128));
    }
};

// Abort with a message (libFuzzer records the input as a crash).
[[noreturn]] inline void fail(const char *what, const std::string &detail = {}) {
    std::string shown; // C-escaped, so that the report shows every byte
    for (unsigned char c : detail) {
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            shown += (char)c;
        } else {
            char hex[8];
            snprintf(hex, sizeof hex, "\\x%02x", c);
            shown += hex;
        }
    }
    fprintf(stderr, "FUZZ PROPERTY VIOLATED: %s %s\n", what, shown.c_str());
    abort();
}

} // namespace fuzz
