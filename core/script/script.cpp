#include "script/script.hpp"

#include "config/lexer.hpp"
#include "config/parser.hpp"
#include "config/route_ast.hpp"
#include "runtime.hpp"
#include "script/nodes_impl.hpp"

#include <functional>
#include <set>
#include <unordered_map>

namespace evi::script {

using config::ExprKind;
using config::Location;
using config::Op;
using config::PvType;
using config::RouteKind;
using config::StmtKind;

// ---- running --------------------------------------------------------------------------------

namespace {

// Frames are reused per thread and per nesting level: a run allocates nothing once warm.
thread_local std::vector<std::unique_ptr<Frame>> t_frames;
thread_local int t_nesting = 0;

constexpr int kMaxRouteDepth = 100; // route() calling route() …

// Runtime messages may quote values built at run time (an event name or a socket from a
// $var): escaped like config errors, never raw control bytes in the log.
std::string printable(const std::string &msg) {
    return config::excerpt(msg, 4096);
}

std::string where(const Frame &f, const Location &loc) {
    return (f.route ? f.route->title : std::string("script")) + " at " + loc.str();
}

int run_route(const Program &p, const RouteCode &r, const evi_event_t *ev) {
    if (t_nesting >= Script::kMaxNesting) {
        log::write(log::Err, "script",
                   r.title + " not run: " + std::to_string(Script::kMaxNesting) +
                       " routes are already nested on this thread (sync event_routes raising "
                       "events whose sync event_routes raise again?)");
        return EVI_ERR;
    }
    if (t_frames.size() <= static_cast<size_t>(t_nesting))
        t_frames.push_back(std::make_unique<Frame>());
    Frame &f = *t_frames[static_cast<size_t>(t_nesting)];
    f.program = &p;
    f.route = &r;
    f.event = ev;
    f.vars.assign(p.nvars, Value{});
    f.avps.resize(p.navps);
    for (auto &a : f.avps)
        a.clear();
    f.rc = 1;
    f.ret = 1;
    f.route_depth = 0;

    struct Depth {
        Depth() { ++t_nesting; }
        ~Depth() { --t_nesting; }
    } depth;
    try {
        r.body.exec(f);
    } catch (const ExitRequest &) {
    } catch (const ScriptError &e) {
        log::write(log::Err, "script",
                   "runtime error in " + where(f, e.loc) + ": " + printable(e.message));
        return EVI_ERR;
    } catch (const std::exception &e) {
        log::write(log::Err, "script", "runtime error in " + r.title + ": " + e.what());
        return EVI_ERR;
    }
    return EVI_OK;
}

} // namespace

void report(const Frame &f, const Location &loc, const std::string &msg) {
    log::write(log::Err, "script", where(f, loc) + ": " + printable(msg));
}

int64_t RouteCallNode::call(Frame &f) const {
    if (f.route_depth >= kMaxRouteDepth)
        runtime_error(loc, "route(" + callee->name + ") nests deeper than " +
                               std::to_string(kMaxRouteDepth) + " calls (endless recursion?)");
    const RouteCode *caller = f.route;
    ++f.route_depth;
    f.route = callee;
    f.ret = 1;
    Flow fl;
    try {
        fl = callee->body.exec(f);
    } catch (...) {
        --f.route_depth;
        throw; // the error names the callee, where it happened
    }
    --f.route_depth;
    f.route = caller;
    if (fl == Flow::Exit) throw ExitRequest{};
    return fl == Flow::Return ? f.ret : 1;
}

// ---- compiling ------------------------------------------------------------------------------

namespace {

struct CompileError {
    std::string message;
};

[[noreturn]] void fail(const Location &loc, const std::string &msg) {
    throw CompileError{config::format_error(loc, msg)};
}

const char *const kFunctions = "xlog, raise_event, subscribe_event, fetch_event_params, route";

std::optional<int> xlog_level(std::string_view s) {
    static const std::pair<std::string_view, int> names[] = {
        {"L_ALERT", log::Alert}, {"L_CRIT", log::Crit},     {"L_ERR", log::Err},
        {"L_WARN", log::Warn},   {"L_NOTICE", log::Notice}, {"L_INFO", log::Info},
        {"L_DBG", log::Debug}};
    for (auto [n, l] : names)
        if (s == n) return l;
    return log::parse_level(s);
}

class Compiler {
  public:
    Compiler(const config::Config &cfg, App &app, Program &prog)
        : cfg_(cfg), app_(app), prog_(prog) {}

    void run() {
        // Every route first, so that route(name) may call a route defined further down.
        for (const auto &b : cfg_.routes) {
            auto r = std::make_unique<RouteCode>();
            r->kind = b->kind;
            r->name = b->name;
            r->title = b->title();
            r->loc = b->loc;
            r->interval = b->interval;
            r->sync = b->sync;
            switch (b->kind) {
            case RouteKind::Startup:
                prog_.startup = r.get();
                break;
            case RouteKind::Timer:
                prog_.timers.push_back(r.get());
                break;
            case RouteKind::Route:
                prog_.named.emplace(r->name, r.get());
                break;
            case RouteKind::Event:
                prog_.event_routes.emplace(r->name, r.get());
                break;
            }
            prog_.routes.push_back(std::move(r));
        }
        for (size_t i = 0; i < cfg_.routes.size(); ++i) {
            cur_ = prog_.routes[i].get();
            cur_->body = block(cfg_.routes[i]->body);
        }
        check_event_use();
        prog_.nvars = vars_.size();
        prog_.navps = avps_.size();
    }

    // event_route[E_X] blocks: the route transport must exist; publish E_X.
    void check_event_routes() {
        for (const auto &b : cfg_.routes) {
            if (b->kind != RouteKind::Event) continue;
            if (!app_.transports.find("route"))
                fail(b->loc, b->title() + " needs the event_route module: add "
                                          "loadmodule \"event_route.so\"");
            publish(b->name, b->name_loc);
        }
    }

  private:
    int publish(const std::string &name, const Location &loc) {
        if (auto problem = config::event_name_problem(name); !problem.empty()) fail(loc, problem);
        auto r = prog_.events->publish(name);
        if (!r) fail(loc, r.error().message);
        return *r;
    }

    size_t slot(std::unordered_map<std::string, size_t> &table, const std::string &name) {
        auto [it, inserted] = table.emplace(name, table.size());
        return it->second;
    }

    // ---- statements ---------------------------------------------------------------------

    Block block(const std::vector<config::StmtPtr> &stmts) {
        Block b;
        for (const auto &s : stmts)
            b.actions.push_back(statement(*s));
        return b;
    }

    template <class T> std::unique_ptr<T> action(const config::Stmt &s) {
        auto a = std::make_unique<T>();
        a->loc = s.loc;
        return a;
    }

    ActionPtr statement(const config::Stmt &s) {
        switch (s.kind) {
        case StmtKind::Call: {
            auto a = action<CallAction>(s);
            a->call = call(*s.expr);
            return a;
        }
        case StmtKind::Assign: {
            auto a = action<AssignAction>(s);
            a->target = target(s.target);
            a->replace = s.replace;
            a->value = expr(*s.expr);
            return a;
        }
        case StmtKind::If: {
            auto a = action<IfAction>(s);
            a->arms.push_back({expr(*s.expr), block(s.body)});
            for (const auto &arm : s.else_ifs)
                a->arms.push_back({expr(*arm.cond), block(arm.body)});
            a->else_block = block(s.else_body);
            return a;
        }
        case StmtKind::While: {
            auto a = action<WhileAction>(s);
            a->cond = expr(*s.expr);
            a->body = block(s.body);
            return a;
        }
        case StmtKind::Return: {
            auto a = action<ReturnAction>(s);
            if (s.expr) {
                if (s.expr->kind == ExprKind::Str && !parse_int(s.expr->str.value))
                    fail(s.expr->loc, "return takes a number, as in return(1) or return(-1)");
                a->value = expr(*s.expr);
            }
            return a;
        }
        case StmtKind::Exit:
            return action<ExitAction>(s);
        case StmtKind::Block: {
            auto a = action<BlockAction>(s);
            a->block = block(s.body);
            return a;
        }
        }
        fail(s.loc, "unknown statement");
    }

    Target target(const config::PvRef &pv) {
        Target t;
        switch (pv.type) {
        case PvType::Var:
            t.slot = slot(vars_, pv.name);
            return t;
        case PvType::Avp:
            if (pv.indexed)
                fail(pv.loc, pv.text + " can only be read: assign $avp(" +
                                 config::excerpt(pv.name) + ") (= pushes, := replaces)");
            t.avp = true;
            t.slot = slot(avps_, pv.name);
            return t;
        default:
            fail(pv.loc, pv.text + " is read-only: only $var(…) and $avp(…) can be assigned");
        }
    }

    // ---- expressions --------------------------------------------------------------------

    template <class T> std::unique_ptr<T> node(const Location &loc) {
        auto n = std::make_unique<T>();
        n->loc = loc;
        return n;
    }

    NodePtr pv(const config::PvRef &p) {
        switch (p.type) {
        case PvType::Var: {
            auto n = node<VarGet>(p.loc);
            n->slot = slot(vars_, p.name);
            return n;
        }
        case PvType::Avp: {
            if (p.indexed) {
                auto n = node<AvpAt>(p.loc);
                n->slot = slot(avps_, p.name);
                n->index = p.avp_index;
                return n;
            }
            auto n = node<AvpGet>(p.loc);
            n->slot = slot(avps_, p.name);
            return n;
        }
        case PvType::Param: {
            uses_event(p.loc, p.text);
            if (p.index > 0) {
                auto n = node<ParamByPos>(p.loc);
                n->index = static_cast<size_t>(p.index - 1);
                return n;
            }
            auto n = node<ParamByName>(p.loc);
            n->name = p.name;
            return n;
        }
        case PvType::Ts:
            return node<TsGet>(p.loc);
        case PvType::Tsm:
            return node<TsmGet>(p.loc);
        case PvType::Pid:
            return node<PidGet>(p.loc);
        case PvType::Rc:
            return node<RcGet>(p.loc);
        }
        fail(p.loc, "unknown pseudo-variable");
    }

    // $param and fetch_event_params need an event: fine in event_route and in route[]
    // blocks called only from event_routes (checked once every route is compiled).
    void uses_event(const Location &loc, const std::string &text) {
        if (cur_->kind == RouteKind::Startup || cur_->kind == RouteKind::Timer)
            fail(loc, text +
                          " is only available in event_route (and routes called from it), "
                          "not in " +
                          cur_->title);
        if (!cur_->uses_event) {
            cur_->uses_event = true;
            cur_->event_use_loc = loc;
            cur_->event_use_text = text;
        }
    }

    void check_event_use() {
        for (const auto &root : prog_.routes) {
            if (root->kind != RouteKind::Startup && root->kind != RouteKind::Timer) continue;
            std::set<const RouteCode *> seen;
            std::function<void(const RouteCode &)> visit = [&](const RouteCode &r) {
                for (const auto &[callee, loc] : r.callees) {
                    if (!seen.insert(callee).second) continue;
                    if (callee->uses_event)
                        fail(callee->event_use_loc, callee->event_use_text +
                                                        " is only available in event_route (and "
                                                        "routes called from it), but " +
                                                        callee->title + " is called from " +
                                                        root->title + " at " + loc.str());
                    visit(*callee);
                }
            };
            visit(*root);
        }
    }

    NodePtr constant(const Location &loc, Value v) {
        auto n = node<ConstNode>(loc);
        n->v = std::move(v);
        return n;
    }

    NodePtr expr(const config::Expr &e) {
        switch (e.kind) {
        case ExprKind::Int:
            return constant(e.loc, e.ival);
        case ExprKind::Str:
            return constant(e.loc, e.str.value);
        case ExprKind::Null:
            return constant(e.loc, Value{});
        case ExprKind::Pv:
            return pv(e.pv);
        case ExprKind::Call:
            return call(e);
        case ExprKind::Unary: {
            if (e.op == Op::Neg) {
                auto n = node<NegNode>(e.loc);
                n->x = expr(*e.lhs);
                return n;
            }
            auto n = node<NotNode>(e.loc);
            n->x = expr(*e.lhs);
            return n;
        }
        case ExprKind::Binary:
            return binary(e);
        }
        fail(e.loc, "unknown expression");
    }

    NodePtr binary(const config::Expr &e) {
        switch (e.op) {
        case Op::Add:
        case Op::Sub:
        case Op::Mul:
        case Op::Div:
        case Op::Mod: {
            auto n = node<ArithNode>(e.loc);
            n->op = e.op;
            n->l = expr(*e.lhs);
            n->r = expr(*e.rhs);
            return n;
        }
        case Op::And:
        case Op::Or: {
            auto n = node<LogicNode>(e.loc);
            n->is_and = e.op == Op::And;
            n->l = expr(*e.lhs);
            n->r = expr(*e.rhs);
            return n;
        }
        case Op::Match:
        case Op::NotMatch: {
            auto n = node<MatchNode>(e.loc);
            n->negate = e.op == Op::NotMatch;
            n->l = expr(*e.lhs);
            if (e.rhs->kind == ExprKind::Str) {
                try {
                    n->re.emplace(e.rhs->str.value, kRegexFlags);
                } catch (const std::regex_error &err) {
                    fail(e.rhs->loc, "bad regular expression \"" +
                                         config::excerpt(e.rhs->str.value) + "\": " + err.what());
                }
            } else {
                n->pattern = expr(*e.rhs);
            }
            return n;
        }
        default: {
            auto n = node<CmpNode>(e.loc);
            n->op = e.op;
            n->l = expr(*e.lhs);
            n->r = expr(*e.rhs);
            return n;
        }
        }
    }

    // A function argument: string literals are formats ("blocked $param(ip)").
    NodePtr arg(const config::Expr &e) {
        if (e.kind != ExprKind::Str) return expr(e);
        auto parts = config::split_format(e.str);
        if (!parts) throw CompileError{parts.error().message};
        bool dynamic = false;
        for (const auto &p : *parts)
            dynamic |= p.is_pv;
        if (!dynamic) return constant(e.loc, e.str.value);
        auto n = node<FormatNode>(e.loc);
        for (auto &p : *parts) {
            FormatNode::Part part;
            if (p.is_pv)
                part.pv = pv(p.pv);
            else
                part.text = std::move(p.text);
            n->parts.push_back(std::move(part));
        }
        return n;
    }

    void arg_count(const config::Expr &e, size_t min, size_t max, const char *signature) {
        size_t n = e.args.size();
        if (n < min || n > max) {
            std::string range = min == max ? std::to_string(min)
                                           : std::to_string(min) + " to " + std::to_string(max);
            fail(e.loc, config::excerpt(e.name) + " takes " + range + " argument" +
                            (max == 1 ? "" : "s") + " " + signature + ", got " + std::to_string(n));
        }
        for (size_t i = 0; i < n; ++i)
            if (!e.args[i] && !(e.name == "raise_event" && i == 1 && n == 3))
                fail(e.arg_locs[i],
                     "argument " + std::to_string(i + 1) + " of " + e.name + " is empty");
    }

    // The text of argument `a` when it is written literally; nullptr when it is made at run
    // time. A literal number or null is a config error, `must_be` saying what was expected.
    const std::string *literal_string(const config::Expr &a, const Node &compiled,
                                      const std::string &must_be) {
        auto *c = dynamic_cast<const ConstNode *>(&compiled);
        if (!c) return nullptr;
        if (!is_str(c->v)) fail(a.loc, must_be);
        return &std::get<std::string>(c->v);
    }

    EventName event_name(const config::Expr &a, const char *func) {
        EventName ev;
        ev.dynamic = arg(a);
        if (const auto *name = literal_string(
                a, *ev.dynamic, std::string("the event name of ") + func + " must be a string")) {
            ev.literal = *name;
            ev.id = publish(ev.literal, a.loc);
            ev.dynamic.reset();
        }
        return ev;
    }

    ssize_t avp_arg(const config::Expr *a, const std::string &func, int index, const char *role,
                    std::string &text) {
        if (!a) return -1;
        if (a->kind != ExprKind::Pv || a->pv.type != PvType::Avp || a->pv.indexed)
            fail(a->loc, "argument " + std::to_string(index) + " of " + func +
                             " must be an $avp(…) holding the " + role);
        text = a->pv.text;
        return static_cast<ssize_t>(slot(avps_, a->pv.name));
    }

    std::unique_ptr<CallNode> call(const config::Expr &e) {
        const auto &name = e.name;
        if (name == "xlog") {
            arg_count(e, 1, 2, "([level,] format)");
            auto n = node<XlogNode>(e.loc);
            if (e.args.size() == 2) {
                const auto &lv = *e.args[0];
                std::optional<int> level;
                if (lv.kind == ExprKind::Str)
                    level = xlog_level(lv.str.value);
                else if (lv.kind == ExprKind::Int && lv.ival >= log::Alert && lv.ival <= log::Debug)
                    level = static_cast<int>(lv.ival);
                if (!level)
                    fail(lv.loc, "the xlog level must be one of \"L_ALERT\", \"L_CRIT\", "
                                 "\"L_ERR\", \"L_WARN\", \"L_NOTICE\", \"L_INFO\", \"L_DBG\"");
                n->level = *level;
            }
            n->format = arg(*e.args.back());
            return n;
        }
        if (name == "raise_event") {
            arg_count(e, 1, 3, "(name [, attrs_avp] [, vals_avp])");
            auto n = node<RaiseEventNode>(e.loc);
            n->event = event_name(*e.args[0], "raise_event");
            if (e.args.size() == 2) {
                n->vals = avp_arg(e.args[1].get(), name, 2, "values", n->vals_text);
            } else if (e.args.size() == 3) {
                n->attrs = avp_arg(e.args[1].get(), name, 2, "attribute names", n->attrs_text);
                n->vals = avp_arg(e.args[2].get(), name, 3, "values", n->vals_text);
            }
            return n;
        }
        if (name == "subscribe_event") {
            arg_count(e, 2, 3, "(event, socket [, expire])");
            auto n = node<SubscribeEventNode>(e.loc);
            n->event = event_name(*e.args[0], "subscribe_event");
            n->socket = arg(*e.args[1]);
            check_socket(*e.args[1], *n->socket);
            if (e.args.size() == 3) {
                const auto &x = *e.args[2];
                if ((x.kind == ExprKind::Str && !parse_int(x.str.value)) ||
                    (x.kind == ExprKind::Int && x.ival < 0) || x.kind == ExprKind::Null)
                    fail(x.loc, "the expire of subscribe_event must be a number of seconds "
                                "(0 or more; 0 never expires)");
                n->expire = arg(x);
            }
            return n;
        }
        if (name == "fetch_event_params") {
            arg_count(e, 1, 1, "(\"[name=]pvar[;[name=]pvar…]\")");
            uses_event(e.loc, "fetch_event_params");
            return fetch_params(*e.args[0]);
        }
        if (name == "route") {
            arg_count(e, 1, 1, "(name)");
            const auto &a = *e.args[0];
            std::string target;
            if (a.kind == ExprKind::Str)
                target = a.str.value;
            else if (a.kind == ExprKind::Int)
                target = std::to_string(a.ival);
            else
                fail(a.loc, "route() takes the name of a route[…] block, as in route(name)");
            auto it = prog_.named.find(target);
            if (it == prog_.named.end()) {
                std::string known;
                for (const auto &[k, _] : prog_.named)
                    known += (known.empty() ? "" : ", ") + config::excerpt(k);
                fail(a.loc, "unknown route '" + config::excerpt(target) + "' (" +
                                (known.empty() ? std::string("no route[…] blocks are defined")
                                               : "defined: " + known) +
                                ")");
            }
            auto n = node<RouteCallNode>(e.loc);
            n->callee = it->second;
            cur_->callees.emplace_back(it->second, e.loc);
            return n;
        }
        fail(e.loc, "unknown function '" + config::excerpt(name) + "' (known: " + kFunctions + ")");
    }

    // A socket written literally must name a loaded transport: "udp:…", "flatstore:…"; and
    // what the transport's parse() would refuse at run time is a config error now.
    void check_socket(const config::Expr &a, const Node &compiled) {
        const std::string *literal = literal_string(a, compiled,
                                                    "the socket of subscribe_event must be a "
                                                    "string such as \"udp:127.0.0.1:8888\"");
        if (!literal) return;
        const auto &text = *literal;
        auto colon = text.find(':');
        if (colon == std::string::npos || colon == 0)
            fail(a.loc, "bad socket \"" + config::excerpt(text) +
                            "\": expected proto:address, as in "
                            "\"udp:127.0.0.1:8888\"");
        if (!app_.transports.find(std::string_view(text).substr(0, colon))) {
            std::string known;
            for (const auto &p : app_.transports.protos())
                known += (known.empty() ? "" : ", ") + p;
            fail(a.loc, "no loaded module provides the transport '" +
                            config::excerpt(text.substr(0, colon)) + "' of \"" +
                            config::excerpt(text) +
                            "\" (loaded: " + (known.empty() ? std::string("none") : known) + ")");
        }
        if (!parse_is_harmless(text)) return;
        // Opened and freed at once (the socket is not kept): only the transport's verdict counts.
        if (auto opened = app_.transports.open(text, false); !opened)
            fail(a.loc, config::excerpt(opened.error().message, 400));
    }

    // Whether a config check may run the transport's parse() on a literal socket: only for
    // the transports shipped with evid whose parse has no side effect. Not: flatstore (parse
    // opens, and creates, the file), route (resolved once the script is compiled), a virtual
    // set with such a member, nor other modules' transports (their parse may open or connect).
    static bool parse_is_harmless(std::string_view socket) {
        static const std::set<std::string_view> harmless = {"udp", "unix", "tcp", "xmlrpc",
                                                            "rabbitmq"};
        const auto colon = socket.find(':');
        const auto proto = socket.substr(0, colon);
        if (proto != "virtual") return harmless.count(proto) > 0;
        // virtual:POLICY member member …
        std::string_view rest = socket.substr(colon + 1);
        bool first = true;
        while (!rest.empty()) {
            const auto start = rest.find_first_not_of(" \t");
            if (start == std::string_view::npos) break;
            rest.remove_prefix(start);
            const auto end = std::min(rest.find_first_of(" \t"), rest.size());
            const auto member = rest.substr(0, end);
            rest.remove_prefix(end);
            if (first) { // the policy
                first = false;
                continue;
            }
            const auto mc = member.find(':');
            if (mc == std::string_view::npos || !harmless.count(member.substr(0, mc))) return false;
        }
        return true;
    }

    // "ip=$avp(ip);$var(second)": parsed once here.
    std::unique_ptr<CallNode> fetch_params(const config::Expr &a) {
        if (a.kind != ExprKind::Str)
            fail(a.loc, "fetch_event_params takes a quoted list such as \"ip=$avp(ip);$var(x)\"");
        const auto &s = a.str;
        auto n = node<FetchParamsNode>(a.loc);
        size_t i = 0, position = 0;
        const std::string &v = s.value;
        while (i <= v.size()) {
            size_t end = v.find(';', i);
            if (end == std::string::npos) end = v.size();
            size_t b = i, e2 = end;
            while (b < e2 && std::isspace(static_cast<unsigned char>(v[b])))
                ++b;
            while (e2 > b && std::isspace(static_cast<unsigned char>(v[e2 - 1])))
                --e2;
            if (b == e2)
                fail(s.at(b), "empty item in the fetch_event_params list (expected "
                              "[name=]$avp(…) or $var(…))");
            FetchParamsNode::Item item;
            size_t dollar = v.find('$', b);
            size_t eq = v.find('=', b);
            if (eq != std::string::npos && eq < e2 &&
                (dollar == std::string::npos || eq < dollar)) {
                item.name = v.substr(b, eq - b);
                while (!item.name.empty() &&
                       std::isspace(static_cast<unsigned char>(item.name.back())))
                    item.name.pop_back();
                if (item.name.empty()) fail(s.at(b), "missing parameter name before '='");
                dollar = eq + 1;
                while (dollar < e2 && std::isspace(static_cast<unsigned char>(v[dollar])))
                    ++dollar;
            }
            if (dollar == std::string::npos || dollar >= e2 || v[dollar] != '$')
                fail(s.at(b), "expected $avp(…) or $var(…) in the fetch_event_params item \"" +
                                  config::excerpt(v.substr(b, e2 - b)) + "\"");
            size_t p = dollar;
            auto ref = config::parse_pv(std::string_view(v).substr(0, e2), p, s.at(dollar));
            if (!ref) throw CompileError{ref.error().message};
            if (p != e2)
                fail(s.at(p), "unexpected text after " + ref->text + " in fetch_event_params");
            item.target = target(*ref);
            item.position = position++;
            n->items.push_back(std::move(item));
            i = end + 1;
        }
        return n;
    }

    const config::Config &cfg_;
    App &app_;
    Program &prog_;
    RouteCode *cur_ = nullptr;
    std::unordered_map<std::string, size_t> vars_, avps_;
};

} // namespace

// ---- Script ---------------------------------------------------------------------------------

Script::Script(App &app, std::unique_ptr<Program> program)
    : app_(app), program_(std::move(program)) {}

Script::~Script() = default;

Result<std::shared_ptr<Script>> Script::compile(const config::Config &cfg, App &app) {
    if (!app.events)
        return make_error(cfg.file + ":1:1: error: the event core must exist before the script "
                                     "is compiled");
    auto prog = std::make_unique<Program>();
    prog->events = app.events.get();
    prog->max_while_loops = app.globals.max_while_loops;
    try {
        Compiler c(cfg, app, *prog);
        c.run();
        c.check_event_routes();
    } catch (const CompileError &e) {
        return make_error(e.message);
    }
    std::shared_ptr<Script> script(new Script(app, std::move(prog)));
    // The route transport resolves "route:E_X" through the host table as it is subscribed.
    if (app.services) app.services->routes = script.get();
    for (const auto &r : script->program_->routes) {
        if (r->kind != RouteKind::Event) continue;
        auto s = app.events->subscribe(r->name, "route:" + r->name, std::chrono::seconds(0), false);
        if (!s) {
            if (app.services && app.services->routes == script.get())
                app.services->routes = nullptr;
            return make_error(config::format_error(r->loc, "cannot subscribe route:" + r->name +
                                                               ": " + s.error().message));
        }
    }
    return script;
}

void Script::start() {
    if (program_->startup) run_route(*program_, *program_->startup, nullptr);
    if (!app_.runtime) return;
    std::weak_ptr<Script> weak = weak_from_this();
    for (RouteCode *t : program_->timers) {
        app_.runtime->every(std::chrono::seconds(t->interval), [weak, t] {
            if (auto s = weak.lock()) run_route(*s->program_, *t, nullptr);
        });
    }
}

evi_route_t *Script::find_event_route(std::string_view name, bool &sync) {
    auto it = program_->event_routes.find(name);
    if (it == program_->event_routes.end()) return nullptr;
    sync = it->second->sync;
    return reinterpret_cast<evi_route_t *>(it->second);
}

int Script::run_event_route(evi_route_t *route, const evi_event_t &ev) {
    return run_route(*program_, *reinterpret_cast<const RouteCode *>(route), &ev);
}

} // namespace evi::script
