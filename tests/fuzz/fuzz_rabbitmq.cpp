// event_rabbitmq's socket syntax (plugins/rabbitmq/rmq_address.cpp): parse, print, parse
// again to the same destination; %XX unescaping.
#include "fuzz_event.hpp"
#include "rmq_address.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FuzzedDataProvider in(data, size);
    if (in.ConsumeBool()) {
        std::string out;
        std::string s = in.ConsumeRemainingBytesAsString();
        if (evi::rmq::url_unescape(s, out) && out.size() > s.size())
            fuzz::fail("url_unescape grew the string");
        return 0;
    }
    std::string text = in.ConsumeRemainingBytesAsString();
    std::string err;
    auto a = evi::rmq::Address::parse(text, err);
    if (!a) {
        if (err.empty()) fuzz::fail("rabbitmq parse failed without a reason");
        return 0;
    }
    std::string printed = a->print();
    (void)a->endpoint_key();
    (void)a->endpoint_text();
    auto b = evi::rmq::Address::parse(printed, err);
    if (!b)
        fuzz::fail("rabbitmq: the printed socket does not parse back",
                   text + " -> " + printed + ": " + err);
    if (b->host != a->host || b->port != a->port || b->vhost != a->vhost ||
        b->exchange != a->exchange || b->routing_key != a->routing_key || b->user != a->user ||
        b->persistent != a->persistent || b->tls != a->tls)
        fuzz::fail("rabbitmq: the printed socket is another socket", text + " -> " + printed);
    return 0;
}
