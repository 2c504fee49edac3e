// The script: route blocks of the config compiled once into a tree of closures, run by the
// runtime (startup_route, timer_route), by the `route:` transport (event_route) and by route().
#pragma once

#include "app.hpp"
#include "config/ast.hpp"
#include "modules/host_api.hpp"
#include "result.hpp"

#include <memory>
#include <string_view>

namespace evi::script {

struct Program; // the compiled routes (script.cpp)

class Script : public RouteProvider, public std::enable_shared_from_this<Script> {
  public:
    // Called after every module is loaded and initialised (so app.transports knows every
    // proto) and after app.events exists. Publishes every event name used literally in the
    // script (raise_event, subscribe_event, event_route), subscribes "route:E_X" (never
    // expires) for every event_route[E_X] block, resolves route names, checks functions,
    // argument counts and types, regexes, and $param outside event_route. Sets
    // app.services->routes to the new script when app.services exists.
    // Errors: "file:line:col: error: …".
    static Result<std::shared_ptr<Script>> compile(const config::Config &cfg, App &app);

    ~Script() override;
    Script(const Script &) = delete;
    Script &operator=(const Script &) = delete;

    // Runs startup_route on the calling thread, then schedules every timer_route with
    // app.runtime->every(...) (when app.runtime exists).
    void start();

    evi_route_t *find_event_route(std::string_view name, bool &sync) override;
    int run_event_route(evi_route_t *route, const evi_event_t &ev) override;

    // How deep sync event_routes may nest on one thread (an event_route raising an event
    // whose sync event_route raises …).
    static constexpr int kMaxNesting = 100;

  private:
    Script(App &app, std::unique_ptr<Program> program);
    App &app_;
    std::unique_ptr<Program> program_;
};

} // namespace evi::script
