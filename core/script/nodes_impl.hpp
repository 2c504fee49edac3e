// The node types: what each expression, statement and function does at run time.
// Included by script.cpp (the compiler) only.
#pragma once

#include "evi/event_core.hpp"
#include "log/log.hpp"
#include "script/nodes.hpp"

#include <ctime>
#include <regex>
#include <unistd.h>

namespace evi::script {

// ---- helpers --------------------------------------------------------------------------------

[[noreturn]] inline void runtime_error(const config::Location &loc, std::string msg) {
    throw ScriptError{std::move(msg), loc};
}

// A failure that does not stop the route (a function returning -1): logged right away.
void report(const Frame &f, const config::Location &loc, const std::string &msg);

inline int64_t as_number(const Value &v, const config::Location &loc) {
    if (is_int(v)) return std::get<int64_t>(v);
    if (is_null(v)) return 0;
    const auto &s = std::get<std::string>(v);
    if (auto n = parse_int(s)) return *n;
    runtime_error(loc, "\"" + config::excerpt(s) + "\" is not a number");
}

// ---- values and pseudo-variables ------------------------------------------------------------

struct ConstNode : Node {
    Value v;
    Value eval(Frame &) const override { return v; }
    void print(Frame &, std::string &out) const override { append_printed(out, v); }
};

struct VarGet : Node {
    size_t slot = 0;
    Value eval(Frame &f) const override { return f.vars[slot]; }
    void print(Frame &f, std::string &out) const override { append_printed(out, f.vars[slot]); }
};

struct AvpGet : Node {
    size_t slot = 0;
    const Value &newest(const Frame &f) const {
        static const Value null;
        const auto &stack = f.avps[slot];
        return stack.empty() ? null : stack.back();
    }
    Value eval(Frame &f) const override { return newest(f); }
    void print(Frame &f, std::string &out) const override { append_printed(out, newest(f)); }
};

// $(avp(x)[N]): N from the newest (0, 1, …) or from the oldest (-1, -2, …).
struct AvpAt : Node {
    size_t slot = 0;
    int index = 0;
    Value eval(Frame &f) const override {
        const auto &stack = f.avps[slot];
        const auto n = static_cast<int64_t>(stack.size());
        const int64_t i = index >= 0 ? n - 1 - index : -1 - index;
        if (i < 0 || i >= n) return Value{};
        return stack[static_cast<size_t>(i)];
    }
};

inline Value param_value(const evi_param_t &p) {
    if (p.type == EVI_VAL_INT) return p.i;
    return std::string(p.s.s ? p.s.s : "", p.s.len);
}

struct ParamByName : Node {
    std::string name;
    const evi_param_t *find(const Frame &f) const {
        if (!f.event) return nullptr;
        for (size_t i = 0; i < f.event->nparams; ++i) {
            const auto &p = f.event->params[i];
            if (p.name.len == name.size() &&
                name.compare(0, name.size(), p.name.s, p.name.len) == 0)
                return &p;
        }
        return nullptr;
    }
    Value eval(Frame &f) const override {
        auto p = find(f);
        return p ? param_value(*p) : Value{};
    }
};

struct ParamByPos : Node {
    size_t index = 0; // 0-based
    Value eval(Frame &f) const override {
        if (!f.event || index >= f.event->nparams) return Value{};
        return param_value(f.event->params[index]);
    }
};

struct TsGet : Node {
    Value eval(Frame &) const override { return static_cast<int64_t>(std::time(nullptr)); }
};
// The microseconds of the current second (OpenSIPS's $Tsm).
struct TsmGet : Node {
    Value eval(Frame &) const override {
        timespec ts{};
        clock_gettime(CLOCK_REALTIME, &ts);
        return static_cast<int64_t>(ts.tv_nsec / 1000);
    }
};
struct PidGet : Node {
    Value eval(Frame &) const override { return static_cast<int64_t>(getpid()); }
};
struct RcGet : Node {
    Value eval(Frame &f) const override { return f.rc; }
};

// "blocked $param(ip) after $var(n) tries"
struct FormatNode : Node {
    struct Part {
        std::string text;
        NodePtr pv; // set for a pseudo-variable
    };
    std::vector<Part> parts;
    void print(Frame &f, std::string &out) const override {
        for (const auto &p : parts) {
            if (p.pv)
                p.pv->print(f, out);
            else
                out += p.text;
        }
    }
    Value eval(Frame &f) const override {
        std::string s;
        print(f, s);
        return s;
    }
};

// ---- operators ------------------------------------------------------------------------------

struct NegNode : Node {
    NodePtr x;
    Value eval(Frame &f) const override {
        return static_cast<int64_t>(0 - static_cast<uint64_t>(as_number(x->eval(f), x->loc)));
    }
};

struct NotNode : Node {
    NodePtr x;
    bool test(Frame &f) const override { return !x->test(f); }
    Value eval(Frame &f) const override { return static_cast<int64_t>(test(f)); }
};

struct LogicNode : Node {
    bool is_and = true;
    NodePtr l, r;
    bool test(Frame &f) const override {
        return is_and ? (l->test(f) && r->test(f)) : (l->test(f) || r->test(f));
    }
    Value eval(Frame &f) const override { return static_cast<int64_t>(test(f)); }
};

struct ArithNode : Node {
    config::Op op = config::Op::Add;
    NodePtr l, r;
    Value eval(Frame &f) const override {
        Value a = l->eval(f);
        Value b = r->eval(f);
        if (op == config::Op::Add && (is_str(a) || is_str(b))) {
            if (is_str(a)) {
                append_value(std::get<std::string>(a), b);
                return a;
            }
            std::string s;
            append_value(s, a);
            append_value(s, b);
            return s;
        }
        const uint64_t x = static_cast<uint64_t>(as_number(a, l->loc));
        const uint64_t y = static_cast<uint64_t>(as_number(b, r->loc));
        switch (op) {
        case config::Op::Add:
            return static_cast<int64_t>(x + y);
        case config::Op::Sub:
            return static_cast<int64_t>(x - y);
        case config::Op::Mul:
            return static_cast<int64_t>(x * y);
        default:
            break;
        }
        const auto sx = static_cast<int64_t>(x), sy = static_cast<int64_t>(y);
        if (sy == 0)
            runtime_error(loc, op == config::Op::Div ? "division by zero" : "modulo by zero");
        if (sx == INT64_MIN && sy == -1) return op == config::Op::Div ? sx : int64_t{0};
        return op == config::Op::Div ? sx / sy : sx % sy;
    }
};

// == != < > <= >=: numbers compare as numbers (a numeric string against a number too),
// strings byte-wise; NULL equals only NULL and is neither smaller nor greater than anything.
struct CmpNode : Node {
    config::Op op = config::Op::Eq;
    NodePtr l, r;
    bool test(Frame &f) const override {
        Value a = l->eval(f);
        Value b = r->eval(f);
        if (is_null(a) || is_null(b)) {
            bool both = is_null(a) && is_null(b);
            if (op == config::Op::Eq) return both;
            if (op == config::Op::Ne) return !both;
            if (op == config::Op::Le || op == config::Op::Ge) return both;
            return false;
        }
        int c;
        std::optional<int64_t> x, y;
        if (is_int(a))
            x = std::get<int64_t>(a);
        else if (is_int(b))
            x = parse_int(std::get<std::string>(a));
        if (is_int(b))
            y = std::get<int64_t>(b);
        else if (is_int(a))
            y = parse_int(std::get<std::string>(b));
        if (x && y) {
            c = *x < *y ? -1 : (*x > *y ? 1 : 0);
        } else if (is_str(a) && is_str(b)) {
            c = std::get<std::string>(a).compare(std::get<std::string>(b));
            c = c < 0 ? -1 : (c > 0 ? 1 : 0);
        } else {
            std::string sa, sb;
            append_value(sa, a);
            append_value(sb, b);
            c = sa.compare(sb);
            c = c < 0 ? -1 : (c > 0 ? 1 : 0);
        }
        switch (op) {
        case config::Op::Eq:
            return c == 0;
        case config::Op::Ne:
            return c != 0;
        case config::Op::Lt:
            return c < 0;
        case config::Op::Gt:
            return c > 0;
        case config::Op::Le:
            return c <= 0;
        case config::Op::Ge:
            return c >= 0;
        default:
            return false;
        }
    }
    Value eval(Frame &f) const override { return static_cast<int64_t>(test(f)); }
};

// =~ and !~: POSIX extended, case-insensitive, matches anywhere (as OpenSIPS's regexec).
constexpr auto kRegexFlags =
    std::regex::extended | std::regex::icase | std::regex::nosubs | std::regex::optimize;

struct MatchNode : Node {
    bool negate = false;
    NodePtr l;
    std::optional<std::regex> re; // a literal pattern, compiled once
    NodePtr pattern;              // otherwise, compiled at each run
    bool test(Frame &f) const override {
        Value a = l->eval(f);
        if (is_null(a)) return negate;
        std::string s;
        append_value(s, a);
        bool m;
        if (re) {
            m = std::regex_search(s, *re);
        } else {
            std::string p;
            append_value(p, pattern->eval(f));
            try {
                m = std::regex_search(s, std::regex(p, kRegexFlags));
            } catch (const std::regex_error &e) {
                runtime_error(pattern->loc,
                              "bad regular expression \"" + config::excerpt(p) + "\": " + e.what());
            }
        }
        return m != negate;
    }
    Value eval(Frame &f) const override { return static_cast<int64_t>(test(f)); }
};

// ---- functions ------------------------------------------------------------------------------

struct CallNode : Node {
    virtual int64_t call(Frame &f) const = 0;
    Value eval(Frame &f) const override {
        f.rc = call(f);
        return f.rc;
    }
    bool test(Frame &f) const override {
        f.rc = call(f);
        return f.rc > 0;
    }
};

struct XlogNode : CallNode {
    int level = log::Err;
    NodePtr format;
    int64_t call(Frame &f) const override {
        if (!log::enabled(level)) return 1;
        f.buf.clear();
        format->print(f, f.buf);
        log::write(level, "xlog", f.buf);
        return 1;
    }
};

// The event name of raise_event/subscribe_event: resolved at compile time when literal.
struct EventName {
    int id = -1; // a literal name, published at compile time
    std::string literal;
    NodePtr dynamic; // otherwise
};

struct RaiseEventNode : CallNode {
    EventName event;
    ssize_t attrs = -1, vals = -1; // avp slots
    std::string attrs_text, vals_text;

    int64_t call(Frame &f) const override {
        EventCore &core = *f.program->events;
        int id = event.id;
        std::string dyn;
        if (id < 0) {
            append_value(dyn, event.dynamic->eval(f));
            auto r = core.publish(dyn);
            if (!r) {
                report(f, loc, "raise_event: " + r.error().message);
                return -1;
            }
            id = *r;
        }
        size_t n = 0;
        if (vals >= 0) {
            const auto &values = f.avps[static_cast<size_t>(vals)];
            const std::vector<Value> *names =
                attrs >= 0 ? &f.avps[static_cast<size_t>(attrs)] : nullptr;
            n = values.size();
            if (names && names->size() < n) {
                report(f, loc,
                       "raise_event: " + vals_text + " has " + std::to_string(n) + " values but " +
                           attrs_text + " only " + std::to_string(names->size()) +
                           " names; event not raised");
                return -1;
            }
            if (names && names->size() > n && log::enabled(log::Warn))
                log::write(log::Warn, "script",
                           f.route->title + " at " + loc.str() + ": raise_event: " + attrs_text +
                               " has more names than " + vals_text +
                               " has values; the extra names are ignored");
            f.params.resize(n);
            // Both stacks are read from the most recently pushed value down (DESIGN.md).
            for (size_t i = 0; i < n; ++i) {
                evi_param_t &p = f.params[i];
                p = evi_param_t{};
                const Value &v = values[n - 1 - i];
                if (is_int(v)) {
                    p.type = EVI_VAL_INT;
                    p.i = std::get<int64_t>(v);
                } else {
                    const auto &s = std::get<std::string>(v);
                    p.type = EVI_VAL_STR;
                    p.s = {s.data(), s.size()};
                }
                if (names) {
                    const Value &nm = (*names)[names->size() - 1 - i];
                    if (!is_str(nm)) {
                        report(f, loc,
                               "raise_event: attribute names must be strings, " + attrs_text +
                                   " holds a number; event not raised");
                        return -1;
                    }
                    const auto &s = std::get<std::string>(nm);
                    p.name = {s.data(), s.size()};
                }
            }
        }
        auto r = core.raise(id, n ? f.params.data() : nullptr, n);
        if (!r) {
            report(f, loc, "raise_event: " + r.error().message);
            return -1;
        }
        return 1;
    }
};

struct SubscribeEventNode : CallNode {
    EventName event;
    NodePtr socket;
    NodePtr expire; // nullptr: never expires
    int64_t call(Frame &f) const override {
        EventCore &core = *f.program->events;
        std::string name = event.literal;
        if (event.id < 0) {
            name.clear();
            append_value(name, event.dynamic->eval(f));
            if (auto r = core.publish(name); !r) {
                report(f, loc, "subscribe_event: " + r.error().message);
                return -1;
            }
        }
        std::string sock;
        append_value(sock, socket->eval(f));
        int64_t secs = 0;
        if (expire) {
            secs = as_number(expire->eval(f), expire->loc);
            if (secs < 0) {
                report(f, loc, "subscribe_event: negative expire " + std::to_string(secs));
                return -1;
            }
        }
        auto r = core.subscribe(name, sock, std::chrono::seconds(secs), false);
        if (!r) {
            report(f, loc,
                   "subscribe_event(\"" + name + "\", \"" + sock + "\"): " + r.error().message);
            return -1;
        }
        return 1;
    }
};

// Where fetch_event_params and assignments store a value.
struct Target {
    bool avp = false;
    size_t slot = 0;
    void set(Frame &f, Value v, bool replace) const {
        if (!avp) {
            f.vars[slot] = std::move(v);
            return;
        }
        auto &stack = f.avps[slot];
        if (is_null(v)) { // = NULL deletes the newest value, := NULL every value
            if (replace)
                stack.clear();
            else if (!stack.empty())
                stack.pop_back();
            return;
        }
        if (replace) stack.clear();
        stack.push_back(std::move(v));
    }
};

struct FetchParamsNode : CallNode {
    struct Item {
        std::string name; // empty: by position
        size_t position = 0;
        Target target;
    };
    std::vector<Item> items;
    int64_t call(Frame &f) const override {
        if (!f.event) {
            report(f, loc, "fetch_event_params: no event is being handled here");
            return -1;
        }
        int64_t rc = 1;
        for (const auto &it : items) {
            const evi_param_t *found = nullptr;
            if (it.name.empty()) {
                if (it.position < f.event->nparams) found = &f.event->params[it.position];
            } else {
                for (size_t i = 0; i < f.event->nparams; ++i) {
                    const auto &p = f.event->params[i];
                    if (p.name.len == it.name.size() &&
                        it.name.compare(0, it.name.size(), p.name.s, p.name.len) == 0) {
                        found = &p;
                        break;
                    }
                }
            }
            if (found)
                it.target.set(f, param_value(*found), false);
            else
                rc = -1;
        }
        return rc;
    }
};

struct RouteCallNode : CallNode {
    const RouteCode *callee = nullptr;
    int64_t call(Frame &f) const override;
};

// ---- statements -----------------------------------------------------------------------------

struct CallAction : Action {
    NodePtr call;
    Flow exec(Frame &f) const override {
        call->eval(f);
        return Flow::Next;
    }
};

struct AssignAction : Action {
    Target target;
    bool replace = false;
    NodePtr value;
    Flow exec(Frame &f) const override {
        target.set(f, value->eval(f), replace);
        return Flow::Next;
    }
};

// if … else if … else if … else: the arms in order, the first true one runs (a plain if has
// one arm).
struct IfAction : Action {
    struct Arm {
        NodePtr cond;
        Block block;
    };
    std::vector<Arm> arms;
    Block else_block;
    Flow exec(Frame &f) const override {
        for (const auto &arm : arms)
            if (arm.cond->test(f)) return arm.block.exec(f);
        return else_block.exec(f);
    }
};

struct WhileAction : Action {
    NodePtr cond;
    Block body;
    Flow exec(Frame &f) const override {
        const int64_t limit = f.program->max_while_loops;
        int64_t n = 0;
        while (cond->test(f)) {
            if (++n > limit)
                runtime_error(loc, "while loop stopped after max_while_loops (" +
                                       std::to_string(limit) +
                                       ") iterations; raise max_while_loops if this is meant");
            Flow fl = body.exec(f);
            if (fl != Flow::Next) return fl;
        }
        return Flow::Next;
    }
};

struct ReturnAction : Action {
    NodePtr value; // nullptr: return(1)
    Flow exec(Frame &f) const override {
        f.ret = value ? as_number(value->eval(f), value->loc) : 1;
        return Flow::Return;
    }
};

struct ExitAction : Action {
    Flow exec(Frame &) const override { return Flow::Exit; }
};

struct BlockAction : Action {
    Block block;
    Flow exec(Frame &f) const override { return block.exec(f); }
};

} // namespace evi::script
