// The MI request handler (core/mi/jsonrpc.cpp handle_body) with the core's commands over a
// real event core: any body gives a JSON reply (or none, for notifications), never a crash or
// an escaped exception. Also the mi_listen address parser.
#include "app.hpp"
#include "fuzz_event.hpp"
#include "fuzz_stub.hpp"
#include "mi/jsonrpc.hpp"
#include "mi/server.hpp"
#include "runtime.hpp"

#include <chrono>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bool once = (fuzz::quiet_logs(), true);
    (void)once;
    std::string_view body(reinterpret_cast<const char *>(data), size);
    if (size > 0 && data[0] == '@') { // "@ADDRESS": an mi_listen entry
        (void)evi::mi::parse_listen_address(body.substr(1));
        return 0;
    }
    // One App for the process (an EventCore is costly to build); every subscription an input
    // made is removed after it, so that each input starts from the same state.
    static evi::App &app = *[] {
        auto *a = new evi::App;
        fuzz::add_stubs(*a);
        a->events = std::make_unique<evi::EventCore>(a->transports);
        (void)a->events->publish("E_A");
        (void)a->events->publish("E_B");
        evi::mi::register_core_commands(*a);
        return a;
    }();
    std::string reply = evi::mi::handle_body(app.commands, body);
    (void)evi::mi::take_after_reply();
    if (!reply.empty() && nlohmann::json::parse(reply, nullptr, false).is_discarded())
        fuzz::fail("the MI reply is not JSON", reply);
    for (const auto &sub : app.events->subscribers())
        (void)app.events->unsubscribe(sub.event, sub.socket, false);
    fuzz::quiet_logs(); // log_level may have changed it
    return 0;
}
