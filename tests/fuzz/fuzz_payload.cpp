// The host's JSON notification encoder (core/evi/event.cpp encode_json_notification): for
// valid UTF-8 input the output is JSON carrying exactly the event's name and values.
#include "evi/event.hpp"
#include "fuzz_event.hpp"
#include "fuzz_util.hpp"

#include <nlohmann/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FuzzedDataProvider in(data, size);
    fuzz::Event e(in);
    std::string out =
        evi::encode_json_notification({e.ev.name.s, e.ev.name.len}, e.ev.params, e.ev.nparams);
    bool utf8 = fuzz::valid_utf8({e.ev.name.s, e.ev.name.len});
    for (auto &p : e.params)
        utf8 = utf8 && fuzz::valid_utf8({p.name.s, p.name.len}) &&
               (p.type != EVI_VAL_STR || fuzz::valid_utf8({p.s.s, p.s.len}));
    if (!utf8) return 0;
    auto j = nlohmann::ordered_json::parse(out, nullptr, false);
    if (j.is_discarded()) fuzz::fail("notification is not JSON", out);
    if (j["jsonrpc"] != "2.0" || j["method"] != std::string(e.ev.name.s, e.ev.name.len))
        fuzz::fail("notification header", out);
    if (e.params.empty()) {
        if (j.contains("params")) fuzz::fail("params without params", out);
        return 0;
    }
    const auto &ps = j["params"];
    // An object when the first param is named (values by position in insertion order; a
    // repeated name keeps one member), else an array of every value.
    if (ps.is_array()) {
        if (ps.size() != e.params.size()) fuzz::fail("array params count", out);
        for (size_t i = 0; i < e.params.size(); ++i) {
            const auto &p = e.params[i];
            bool ok = p.type == EVI_VAL_INT ? ps[i] == p.i : ps[i] == std::string(p.s.s, p.s.len);
            if (!ok) fuzz::fail("array param value", out);
        }
    } else if (!ps.is_object()) {
        fuzz::fail("params neither array nor object", out);
    }
    return 0;
}
