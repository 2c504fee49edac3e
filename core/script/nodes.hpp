// The compiled form of a script: expression and statement nodes, each a small closure over
// what the compiler resolved (slots, event ids, regexes, routes). Nothing is looked up by name
// while a route runs, except $param(name) among the current event's few params.
#pragma once

#include "config/ast.hpp"
#include "evi_plugin.h"
#include "script/value.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace evi {
class EventCore;
}

namespace evi::script {

struct Program;
struct RouteCode;

// One run of a top-level route (startup, timer, event): its $var and $avp values, the event
// (for $param), and scratch space reused from run to run on the same thread.
struct Frame {
    const Program *program = nullptr;
    const RouteCode *route = nullptr; // the route currently running (route() changes it)
    const evi_event_t *event = nullptr;
    std::vector<Value> vars;
    std::vector<std::vector<Value>> avps; // back() is the newest value
    int64_t rc = 1;                       // $rc: the last function's return code
    int64_t ret = 1;                      // the value of return(n)
    int route_depth = 0;                  // route() nesting
    std::vector<evi_param_t> params;      // raise_event
    std::string buf;                      // xlog
};

// A runtime error: logged with the route and the location, then the run stops.
struct ScriptError {
    std::string message;
    config::Location loc;
};
// `exit` inside a route called from an expression: unwinds to the top-level run.
struct ExitRequest {};

struct Node {
    config::Location loc;
    virtual ~Node() = default;
    virtual Value eval(Frame &f) const = 0;
    // As an if/while condition. Function calls are true when they return > 0.
    virtual bool test(Frame &f) const { return truthy(eval(f)); }
    // Append the value as text (formats, xlog), without building a temporary when possible.
    virtual void print(Frame &f, std::string &out) const { append_printed(out, eval(f)); }
};
using NodePtr = std::unique_ptr<Node>;

enum class Flow { Next, Return, Exit };

struct Action {
    config::Location loc;
    virtual ~Action() = default;
    virtual Flow exec(Frame &f) const = 0;
};
using ActionPtr = std::unique_ptr<Action>;

struct Block {
    std::vector<ActionPtr> actions;
    Flow exec(Frame &f) const {
        for (const auto &a : actions) {
            Flow fl = a->exec(f);
            if (fl != Flow::Next) return fl;
        }
        return Flow::Next;
    }
};

struct RouteCode {
    config::RouteKind kind = config::RouteKind::Route;
    std::string name;
    std::string title; // "event_route[E_X]"
    config::Location loc;
    int64_t interval = 0;
    bool sync = false;
    Block body;
    // For the "$param outside event_route" check: the first $param / fetch_event_params.
    bool uses_event = false;
    config::Location event_use_loc;
    std::string event_use_text;
    std::vector<std::pair<RouteCode *, config::Location>> callees;
};

struct Program {
    EventCore *events = nullptr;
    int64_t max_while_loops = 10000;
    size_t nvars = 0, navps = 0;
    std::vector<std::unique_ptr<RouteCode>> routes;
    RouteCode *startup = nullptr;
    std::vector<RouteCode *> timers;
    std::map<std::string, RouteCode *, std::less<>> named;        // route[name]
    std::map<std::string, RouteCode *, std::less<>> event_routes; // event_route[E]
};

} // namespace evi::script
