// What the host table (evi_host_t) handed to each module is wired to.
#pragma once

#include "evi_plugin.h"

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace evi {

class EventCore;
class TransportRegistry;
class Runtime;
namespace mi {
class CommandRegistry;
}

// Script routes, as the `route:` transport (plugins/route) runs them. Implemented by
// core/script; absent (nullptr) until the script is compiled.
class RouteProvider {
  public:
    virtual ~RouteProvider() = default;
    // The event_route[NAME] block, or nullptr. `sync` is set for `event_route[NAME, sync]`.
    virtual evi_route_t *find_event_route(std::string_view name, bool &sync) = 0;
    // Run it with the event's params as $param(...); EVI_OK or EVI_ERR (already logged).
    virtual int run_event_route(evi_route_t *route, const evi_event_t &ev) = 0;
};

// Module counters (host->counter_register / counter_add), exported by MI and /metrics.
class Counters {
  public:
    struct Value {
        std::string name; // evi_<module>_<name>
        std::string help;
        int64_t value;
    };
    int add_counter(std::string_view module, std::string_view name, std::string_view help);
    void add(int id, int64_t delta);
    std::vector<Value> snapshot() const;

  private:
    struct Entry {
        std::string name, help;
        std::atomic<int64_t> value{0};
    };
    mutable std::mutex mutex_;
    std::deque<Entry> entries_; // deque: stable addresses while growing
};

struct HostServices {
    HostServices(EventCore &e, TransportRegistry &t, Runtime &r, mi::CommandRegistry &c)
        : events(e), transports(t), runtime(r), commands(c) {}
    EventCore &events;
    TransportRegistry &transports;
    Runtime &runtime;
    mi::CommandRegistry &commands;
    Counters counters;
    RouteProvider *routes = nullptr;
};

// What a module's host table points back to (evi_host_t.module).
struct ModuleContext {
    std::string name;
    HostServices *services = nullptr;
};

// Fill a module's host table for `ctx` (which must outlive the table).
void fill_host_table(evi_host_t &table, ModuleContext *ctx);

} // namespace evi
