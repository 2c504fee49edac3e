// event_xmlrpc's wire (plugins/xmlrpc/xmlrpc_wire.cpp): socket address parse/print round trip,
// the XML-RPC body and HTTP request, and the HTTP response parser fed by a hostile peer.
#include "fuzz_event.hpp"
#include "xmlrpc_wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FuzzedDataProvider in(data, size);
    switch (in.ConsumeIntegralInRange<int>(0, 2)) {
    case 0: {
        std::string text = in.ConsumeRemainingBytesAsString();
        xmlrpc::Address a;
        std::string err;
        if (!xmlrpc::parse_address(text, a, err)) {
            if (err.empty()) fuzz::fail("xmlrpc parse_address failed without a reason");
            break;
        }
        std::string printed = xmlrpc::print_address(a);
        xmlrpc::Address b;
        if (!xmlrpc::parse_address(printed, b, err))
            fuzz::fail("xmlrpc: the printed address does not parse back", printed + ": " + err);
        if (!xmlrpc::same_address(a, b))
            fuzz::fail("xmlrpc: the printed address is another address", printed);
        (void)xmlrpc::build_request(a, "<x/>", true);
        break;
    }
    case 1: {
        bool use_struct = in.ConsumeBool();
        std::string method = in.ConsumeRandomLengthString(32);
        fuzz::Event e(in);
        std::string body = xmlrpc::build_body(method, e.ev, use_struct);
        // XML 1.0 cannot carry other control characters: they must have been replaced.
        for (unsigned char c : body)
            if (c < 0x20 && c != '\t' && c != '\n')
                fuzz::fail("xmlrpc body carries a control character", std::to_string(c));
        break;
    }
    default: {
        bool eof = in.ConsumeBool();
        std::string wire = in.ConsumeRemainingBytesAsString();
        xmlrpc::HttpResponse r;
        std::string err;
        auto st = xmlrpc::parse_http_response(wire, eof, r, err);
        if (st == xmlrpc::HttpParse::Complete) {
            if (r.consumed > wire.size()) fuzz::fail("parse_http_response consumed too much");
            std::string why;
            (void)xmlrpc::response_ok(r, why);
        } else if (st == xmlrpc::HttpParse::Bad && err.empty()) {
            fuzz::fail("parse_http_response: Bad without a reason");
        }
        break;
    }
    }
    return 0;
}
