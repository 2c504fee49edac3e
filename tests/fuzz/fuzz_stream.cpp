// event_stream's wire (plugins/stream/stream_wire.cpp): address round trip, the JSON-RPC
// payload (valid JSON carrying the event), and the reply scanner fed by a hostile peer.
#include "fuzz_event.hpp"
#include "fuzz_util.hpp"
#include "stream_wire.h"

#include <nlohmann/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FuzzedDataProvider in(data, size);
    switch (in.ConsumeIntegralInRange<int>(0, 2)) {
    case 0: {
        std::string text = in.ConsumeRemainingBytesAsString();
        stream::Address a;
        std::string err;
        if (!stream::parse_address(text, a, err)) {
            if (err.empty()) fuzz::fail("stream parse_address failed without a reason");
            break;
        }
        std::string printed = stream::print_address(a);
        stream::Address b;
        if (!stream::parse_address(printed, b, err))
            fuzz::fail("stream: the printed address does not parse back", printed + ": " + err);
        if (!stream::same_address(a, b))
            fuzz::fail("stream: the printed address is another address", printed);
        break;
    }
    case 1: {
        std::string method = in.ConsumeRandomLengthString(32);
        int64_t id = in.ConsumeIntegral<int64_t>();
        std::string event_param = in.ConsumeRandomLengthString(16);
        fuzz::Event e(in);
        if (method.empty()) method.assign(e.ev.name.s, e.ev.name.len); // as stream.cpp does
        std::string payload = stream::build_payload(method, e.ev, id, event_param);
        bool utf8 = fuzz::valid_utf8(method) && fuzz::valid_utf8(event_param) &&
                    fuzz::valid_utf8({e.ev.name.s, e.ev.name.len});
        for (auto &p : e.params)
            utf8 = utf8 && fuzz::valid_utf8({p.name.s, p.name.len}) &&
                   (p.type != EVI_VAL_STR || fuzz::valid_utf8({p.s.s, p.s.len}));
        if (!utf8) break; // bytes pass through as they are (OpenSIPS does the same)
        auto j = nlohmann::json::parse(payload, nullptr, false);
        if (j.is_discarded()) fuzz::fail("stream payload is not JSON", payload);
        if (!j.is_object() || j.value("method", std::string("\x01")) != method)
            fuzz::fail("stream payload method", payload);
        break;
    }
    default: {
        std::string wire = in.ConsumeRemainingBytesAsString();
        std::string_view rest = wire;
        for (int guard = 0; guard < 10000; ++guard) {
            size_t consumed = 0;
            stream::Reply r;
            auto st = stream::scan_reply(rest, consumed, r);
            if (consumed > rest.size()) fuzz::fail("scan_reply consumed too much");
            if (st != stream::Scan::Complete) break;
            if (consumed == 0) fuzz::fail("scan_reply: Complete without consuming");
            rest.remove_prefix(consumed);
        }
        break;
    }
    }
    return 0;
}
