// evi-bench-dispatch: the event core's dispatch cost, through its C++ API, to a null inline
// transport. For each (subscribers of the raised event, published events) cell it publishes the
// events, gives every other event one subscriber (so the registry and the subscriber table are
// full), then raises the measured event until ~DELIVERIES deliveries were made.
// Prints one JSON object per cell: ns per delivery (wall and CPU: the machine may be shared,
// CPU is the steadier figure) and per raise, with and without the JSON
// payload (EVI_TF_JSON makes the core encode the notification once per raise).
//
//   evi-bench-dispatch [DELIVERIES] [SUBS,…] [EVENTS,…]
#include "evi/event_core.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sstream>
#include <string>
#include <vector>

using namespace evi;

namespace {

std::atomic<uint64_t> g_delivered{0};

int parse(evi_str_t a, int, void **sock, unsigned *, char *, size_t) {
    *sock = new std::string(a.s, a.len);
    return EVI_OK;
}
int match(const void *a, const void *b) {
    return *static_cast<const std::string *>(a) == *static_cast<const std::string *>(b);
}
int print(const void *sock, char *buf, size_t len) {
    return std::snprintf(buf, len, "%s", static_cast<const std::string *>(sock)->c_str());
}
void free_sock(void *sock) {
    delete static_cast<std::string *>(sock);
}
int raise_null(void *, const evi_event_t *ev, uint64_t) {
    // Touch the payload so that the encoding cannot be skipped.
    g_delivered.fetch_add(1 + (ev->json.len & 0), std::memory_order_relaxed);
    return EVI_OK;
}

const evi_transport_t null_t{
    sizeof(evi_transport_t), "null", 0, parse, raise_null, match, print, free_sock};
const evi_transport_t nulljson_t{
    sizeof(evi_transport_t), "nulljson", EVI_TF_JSON, parse, raise_null, match, print, free_sock};

double cpu_now() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

std::vector<long> list(const char *s, std::vector<long> def) {
    if (!s) return def;
    std::vector<long> v;
    std::stringstream in(s);
    std::string item;
    while (std::getline(in, item, ','))
        v.push_back(std::atol(item.c_str()));
    return v;
}

void cell(const char *proto, long subs, long events, long deliveries) {
    TransportRegistry transports;
    (void)transports.add(&null_t, "bench");
    (void)transports.add(&nulljson_t, "bench");
    EventCore core(transports);
    for (long e = 0; e < events; ++e) {
        std::string name = "E_OTHER_" + std::to_string(e);
        (void)core.publish(name);
        if (e + 1 < events) // the last slot is the measured event
            (void)core.subscribe(name, std::string(proto) + ":o" + std::to_string(e),
                                 std::chrono::seconds(0), false);
    }
    auto id = core.publish("E_BENCH");
    if (!id) {
        std::fprintf(stderr, "publish failed\n");
        std::exit(1);
    }
    for (long s = 0; s < subs; ++s)
        (void)core.subscribe("E_BENCH", std::string(proto) + ":s" + std::to_string(s),
                             std::chrono::seconds(0), false);
    evi_param_t params[3] = {};
    params[0].name = {"callid", 6};
    params[0].type = EVI_VAL_STR;
    params[0].s = {"bench-12345", 11};
    params[1].name = {"from", 4};
    params[1].type = EVI_VAL_STR;
    params[1].s = {"sip:alice@example.com", 21};
    params[2].name = {"seq", 3};
    params[2].type = EVI_VAL_INT;
    params[2].i = 12345;
    long raises = std::max(1L, deliveries / std::max(1L, subs));
    g_delivered = 0;
    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpu_now();
    for (long r = 0; r < raises; ++r) {
        params[2].i = r;
        (void)core.raise(*id, params, 3);
    }
    double c1 = cpu_now();
    auto t1 = std::chrono::steady_clock::now();
    double ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
    uint64_t got = g_delivered.load();
    std::printf("{\"transport\":\"%s\",\"subscribers\":%ld,\"published_events\":%ld,"
                "\"raises\":%ld,\"deliveries\":%llu,\"ns_per_delivery\":%.1f,"
                "\"ns_per_raise\":%.1f,\"cpu_ns_per_delivery\":%.1f,\"cpu_s\":%.4f}\n",
                proto, subs, events + 1, raises, static_cast<unsigned long long>(got),
                got ? ns / double(got) : 0.0, ns / double(raises),
                got ? (c1 - c0) * 1e9 / double(got) : 0.0, c1 - c0);
    std::fflush(stdout);
    core.shutdown(std::chrono::milliseconds(0));
}

} // namespace

int main(int argc, char **argv) {
    long deliveries = argc > 1 ? std::atol(argv[1]) : 2000000;
    auto subs = list(argc > 2 ? argv[2] : nullptr, {1, 10, 100, 1000});
    auto events = list(argc > 3 ? argv[3] : nullptr, {10, 1000, 100000});
    for (const char *proto : {"null", "nulljson"})
        for (long e : events)
            for (long s : subs)
                cell(proto, s, e, deliveries);
    return 0;
}
