#include "config/parser.hpp"

#include "config/lexer.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace evi::config {

namespace {

// Thrown inside the parser only, caught in parse_text: a syntax error with its location.
struct SyntaxError {
    std::string message;
};

// OpenSIPS route types that have no meaning without SIP: say so instead of "unknown".
bool is_sip_route(std::string_view name) {
    return name == "failure_route" || name == "onreply_route" || name == "branch_route" ||
           name == "error_route" || name == "local_route" || name == "request_route";
}

class Parser {
  public:
    Parser(std::vector<Token> tokens, Config &cfg) : toks_(std::move(tokens)), cfg_(cfg) {}

    void run() {
        while (peek().kind != Tok::End)
            directive();
    }

  private:
    // Blocks and expressions nest by recursion: a limit keeps a hostile or broken config from
    // overflowing the stack (the compiler and interpreter recurse the same way).
    static constexpr int kMaxNesting = 100;
    int depth_ = 0;
    struct Nest {
        Parser &p;
        Nest(Parser &parser, const Location &loc) : p(parser) {
            if (++p.depth_ > kMaxNesting) {
                --p.depth_;
                p.fail(loc, "blocks or expressions nest deeper than " +
                                std::to_string(kMaxNesting) + " levels");
            }
        }
        ~Nest() { --p.depth_; }
    };

    // Reaching a lexing error (only ever the last token) reports it: errors come in file order.
    const Token &peek(size_t ahead = 0) const {
        size_t i = std::min(pos_ + ahead, toks_.size() - 1);
        if (toks_[i].kind == Tok::Error) throw SyntaxError{toks_[i].text};
        return toks_[i];
    }
    const Token &next() {
        const Token &t = toks_[pos_];
        if (pos_ + 1 < toks_.size()) ++pos_;
        return t;
    }
    [[noreturn]] void fail(const Location &loc, std::string_view msg) const {
        throw SyntaxError{format_error(loc, msg)};
    }
    // At the end of the file, the error is where the missing text should have been: right
    // after the last token, not on the line after it.
    [[noreturn]] void expected(std::string_view what) const {
        Location at = peek().loc;
        if (peek().kind == Tok::End && pos_ > 0 && toks_[pos_ - 1].kind != Tok::End) {
            const Token &last = toks_[pos_ - 1];
            at = last.loc;
            if (last.text.find('\n') == std::string::npos)
                at.col += static_cast<int>(last.text.size());
        }
        fail(at, "expected " + std::string(what) + ", found " + peek().describe());
    }
    const Token &expect(std::string_view punct, std::string_view context) {
        if (!peek().is(punct)) expected("'" + std::string(punct) + "' " + std::string(context));
        return next();
    }
    bool accept(std::string_view punct) {
        if (peek().is(punct)) {
            next();
            return true;
        }
        return false;
    }

    // ---- top level ------------------------------------------------------------------------

    void directive() {
        const Token &t = peek();
        if (t.is(";")) { // a stray ';' between directives is harmless
            next();
            return;
        }
        if (t.kind != Tok::Ident)
            fail(t.loc, "unexpected " + t.describe() +
                            " at top level (expected `name = value`, loadmodule, modparam, "
                            "startup_route, timer_route, route or event_route)");
        if (peek(1).is("=")) {
            global();
        } else if (t.text == "loadmodule") {
            loadmodule();
        } else if (t.text == "modparam") {
            modparam();
        } else if (t.text == "startup_route") {
            route(RouteKind::Startup);
        } else if (t.text == "timer_route") {
            route(RouteKind::Timer);
        } else if (t.text == "route") {
            route(RouteKind::Route);
        } else if (t.text == "event_route") {
            route(RouteKind::Event);
        } else if (is_sip_route(t.text)) {
            fail(t.loc, t.text + " is an OpenSIPS SIP route and has no meaning here (EVI has "
                                 "startup_route, timer_route, route and event_route)");
        } else {
            fail(t.loc, "unknown directive '" + excerpt(t.text) +
                            "' (expected `name = value`, loadmodule, modparam, startup_route, "
                            "timer_route, route or event_route)");
        }
    }

    Literal literal_value(std::string_view context) {
        const Token &t = peek();
        if (t.kind == Tok::Int) {
            next();
            return t.ival;
        }
        if (t.is("-") && peek(1).kind == Tok::Int) {
            next();
            return -next().ival;
        }
        if (t.kind == Tok::Str) {
            next();
            return t.str.value;
        }
        if (t.kind == Tok::Ident) { // yes, no, info, …
            next();
            return t.text;
        }
        expected("a number or a string " + std::string(context));
    }

    void global() {
        GlobalParam g;
        g.loc = peek().loc;
        g.name = next().text;
        next(); // '='
        g.values.push_back(literal_value("after '" + excerpt(g.name) + " ='"));
        while (accept(":"))
            g.values.push_back(literal_value("after ':'"));
        accept(";");
        cfg_.directives.emplace_back(std::move(g));
    }

    void loadmodule() {
        LoadModule m;
        m.loc = next().loc;
        if (peek().kind != Tok::Str)
            expected("a quoted module file name after loadmodule, as in loadmodule "
                     "\"event_datagram.so\"");
        m.path = next().str.value;
        if (m.path.empty())
            fail(m.loc, "loadmodule needs a module file name, as in \"event_datagram.so\"");
        accept(";");
        cfg_.directives.emplace_back(std::move(m));
    }

    void modparam() {
        ModParam m;
        m.loc = next().loc;
        expect("(", "after modparam");
        if (peek().kind != Tok::Str)
            expected("a quoted module name as the first modparam argument");
        m.module = next().str.value;
        expect(",", "after the module name");
        if (peek().kind != Tok::Str)
            expected("a quoted parameter name as the second modparam argument");
        m.param = next().str.value;
        expect(",", "after the parameter name");
        m.value_loc = peek().loc;
        const Token &v = peek();
        if (v.kind == Tok::Int) {
            m.value = next().ival;
        } else if (v.is("-") && peek(1).kind == Tok::Int) {
            next();
            m.value = -next().ival;
        } else if (v.kind == Tok::Str) {
            m.value = next().str.value;
        } else {
            expected("a number or a quoted string as the modparam value");
        }
        expect(")", "to close modparam(…)");
        accept(";");
        cfg_.directives.emplace_back(std::move(m));
    }

    std::string route_name(std::string_view what) {
        const Token &t = peek();
        if (t.kind == Tok::Ident || t.kind == Tok::Int) {
            next();
            return t.text;
        }
        if (t.kind == Tok::Str && !t.str.value.empty()) {
            next();
            return t.str.value;
        }
        expected(what);
    }

    void route(RouteKind kind) {
        auto block = std::make_shared<RouteBlock>();
        block->kind = kind;
        block->loc = next().loc;
        const std::string keyword = toks_[pos_ - 1].text;
        if (kind != RouteKind::Startup) {
            if (!peek().is("[")) {
                if (kind == RouteKind::Route)
                    fail(block->loc, "route needs a name: route[name] { … } (EVI has no main "
                                     "request route)");
                expected("'[' after " + keyword);
            }
            next();
            block->name_loc = peek().loc;
            block->name = route_name(kind == RouteKind::Event ? "an event name, as in "
                                                                "event_route[E_PIKE_BLOCKED]"
                                                              : "a route name");
            if (kind == RouteKind::Timer) {
                expect(",", "and an interval in seconds: timer_route[name, 60]");
                const Token &iv = peek();
                if (iv.kind != Tok::Int || iv.ival < 1 || iv.ival > INT32_MAX)
                    expected("an interval in seconds (1 to 2147483647) in timer_route[name, "
                             "SECONDS]");
                block->interval = next().ival;
            } else if (kind == RouteKind::Event && accept(",")) {
                const Token &m = peek();
                if (m.is_ident("sync"))
                    block->sync = true;
                else if (!m.is_ident("async"))
                    expected("sync or async in event_route[" + excerpt(block->name) + ", …]");
                next();
            }
            expect("]", "after the " + keyword + " name");
        }
        check_duplicate(*block);
        if (!peek().is("{")) expected("'{' to open the body of " + block->title());
        block->body = block_body();
        cfg_.routes.push_back(std::move(block));
    }

    void check_duplicate(const RouteBlock &b) {
        for (const auto &r : cfg_.routes) {
            if (r->kind != b.kind || r->name != b.name) continue;
            std::string what = b.kind == RouteKind::Event
                                   ? "only one event_route per event is allowed"
                                   : "a route name can be defined only once";
            fail(b.kind == RouteKind::Startup ? b.loc : b.name_loc,
                 b.title() + " is already defined at " + r->loc.str() + " (" + what + ")");
        }
    }

    // ---- statements -----------------------------------------------------------------------

    std::vector<StmtPtr> block_body() {
        Location open = next().loc; // '{'
        std::vector<StmtPtr> body;
        while (!peek().is("}")) {
            if (peek().kind == Tok::End) fail(open, "missing '}' to close the block opened here");
            if (auto s = statement()) body.push_back(std::move(s));
        }
        next();
        return body;
    }

    // A block or one statement (if/while bodies).
    std::vector<StmtPtr> body_or_statement() {
        if (peek().is("{")) return block_body();
        std::vector<StmtPtr> body;
        if (auto s = statement()) body.push_back(std::move(s));
        return body;
    }

    void end_statement(std::string_view what) {
        if (!peek().is(";")) expected("';' after " + std::string(what));
        next();
    }

    StmtPtr statement() {
        const Token &t = peek();
        Nest nest(*this, t.loc);
        if (t.is(";")) {
            next();
            return nullptr;
        }
        auto s = std::make_unique<Stmt>();
        s->loc = t.loc;
        if (t.is("{")) {
            s->kind = StmtKind::Block;
            s->body = block_body();
            return s;
        }
        if (t.kind == Tok::Pv) {
            s->kind = StmtKind::Assign;
            s->target = next().pv;
            if (peek().is(":="))
                s->replace = true;
            else if (!peek().is("="))
                expected("'=' or ':=' after " + s->target.text);
            next();
            s->expr = expression();
            end_statement("the assignment");
            return s;
        }
        if (t.kind != Tok::Ident)
            fail(t.loc, "expected a statement (a function call, an assignment, if, while, "
                        "return or exit), found " +
                            t.describe());
        if (t.text == "if") {
            next();
            s->kind = StmtKind::If;
            s->expr = condition("if");
            s->body = body_or_statement();
            while (peek().is_ident("else")) {
                next();
                if (peek().is_ident("if")) { // one more arm of this chain, not a nested if
                    Stmt::ElseIf arm;
                    arm.loc = next().loc;
                    arm.cond = condition("if");
                    arm.body = body_or_statement();
                    s->else_ifs.push_back(std::move(arm));
                    continue;
                }
                s->else_body = body_or_statement();
                break;
            }
            return s;
        }
        if (t.text == "while") {
            next();
            s->kind = StmtKind::While;
            s->expr = condition("while");
            s->body = body_or_statement();
            return s;
        }
        if (t.text == "return") {
            next();
            s->kind = StmtKind::Return;
            if (accept("(")) {
                if (!peek().is(")")) s->expr = expression();
                expect(")", "to close return(…)");
            }
            end_statement("return");
            return s;
        }
        if (t.text == "exit") {
            next();
            s->kind = StmtKind::Exit;
            if (accept("(")) expect(")", "after 'exit(' (exit takes no value)");
            end_statement("exit");
            return s;
        }
        if (t.text == "else") fail(t.loc, "'else' without a matching 'if'");
        if (!peek(1).is("("))
            fail(t.loc, "unexpected name '" + excerpt(t.text) +
                            "' (expected a function call such as " + excerpt(t.text) +
                            "(…), an assignment, if, while, return or exit)");
        s->kind = StmtKind::Call;
        s->expr = call();
        end_statement("the call to " + excerpt(s->expr->name) + "(…)");
        return s;
    }

    ExprPtr condition(std::string_view keyword) {
        expect("(", "after " + std::string(keyword));
        auto e = expression();
        expect(")", "to close the " + std::string(keyword) + " condition");
        return e;
    }

    // ---- expressions ----------------------------------------------------------------------

    ExprPtr make(ExprKind kind, const Location &loc) {
        auto e = std::make_unique<Expr>();
        e->kind = kind;
        e->loc = loc;
        return e;
    }
    ExprPtr binary(Op op, const Location &loc, ExprPtr l, ExprPtr r) {
        auto e = make(ExprKind::Binary, loc);
        e->op = op;
        e->lhs = std::move(l);
        e->rhs = std::move(r);
        return measured(std::move(e));
    }

    // A chain such as 1 + 1 + … or a && b && … is parsed by a loop but builds a tree as deep
    // as it is long, and the compiler, the interpreter and the tree's destructor recurse over
    // it: its height is bounded, whatever the nesting of parentheses.
    static constexpr int kMaxExprHeight = 256;
    ExprPtr measured(ExprPtr e) {
        int below = 0;
        if (e->lhs) below = std::max(below, e->lhs->height);
        if (e->rhs) below = std::max(below, e->rhs->height);
        for (const auto &a : e->args)
            if (a) below = std::max(below, a->height);
        e->height = below + 1;
        if (e->height > kMaxExprHeight)
            fail(e->loc, "this expression is deeper than " + std::to_string(kMaxExprHeight) +
                             " operators (a chain such as 1 + 1 + … or a && b && …, or nested "
                             "calls): split it, e.g. into several $var(…) assignments");
        return e;
    }

    ExprPtr expression() { return or_expr(); }

    ExprPtr or_expr() {
        auto l = and_expr();
        while (peek().is("||")) {
            Location loc = next().loc;
            l = binary(Op::Or, loc, std::move(l), and_expr());
        }
        return l;
    }

    ExprPtr and_expr() {
        auto l = not_expr();
        while (peek().is("&&")) {
            Location loc = next().loc;
            l = binary(Op::And, loc, std::move(l), not_expr());
        }
        return l;
    }

    // As in OpenSIPS, '!' applies to a whole comparison: !$var(a) == 1 is !($var(a) == 1).
    ExprPtr not_expr() {
        Nest nest(*this, peek().loc);
        if (peek().is("!")) {
            auto e = make(ExprKind::Unary, next().loc);
            e->op = Op::Not;
            e->lhs = not_expr();
            return measured(std::move(e));
        }
        return comparison();
    }

    ExprPtr comparison() {
        auto l = additive();
        static const std::map<std::string, Op, std::less<>> ops = {
            {"==", Op::Eq}, {"!=", Op::Ne}, {"<", Op::Lt},     {">", Op::Gt},
            {"<=", Op::Le}, {">=", Op::Ge}, {"=~", Op::Match}, {"!~", Op::NotMatch}};
        if (peek().kind == Tok::Punct) {
            auto it = ops.find(peek().text);
            if (it != ops.end()) {
                Location loc = next().loc;
                l = binary(it->second, loc, std::move(l), additive());
                if (peek().kind == Tok::Punct && ops.count(peek().text))
                    fail(peek().loc, "comparisons do not chain: add parentheses or use &&");
            }
        }
        if (peek().is("=")) fail(peek().loc, "'=' assigns; compare with '=='");
        return l;
    }

    ExprPtr additive() {
        auto l = multiplicative();
        while (peek().is("+") || peek().is("-")) {
            Op op = peek().text == "+" ? Op::Add : Op::Sub;
            Location loc = next().loc;
            l = binary(op, loc, std::move(l), multiplicative());
        }
        return l;
    }

    ExprPtr multiplicative() {
        auto l = unary();
        while (peek().is("*") || peek().is("/") || peek().is("%")) {
            Op op = peek().text == "*" ? Op::Mul : peek().text == "/" ? Op::Div : Op::Mod;
            Location loc = next().loc;
            l = binary(op, loc, std::move(l), unary());
        }
        return l;
    }

    ExprPtr unary() {
        Nest nest(*this, peek().loc);
        if (peek().is("-")) {
            Location loc = next().loc;
            if (peek().kind == Tok::Int) { // a negative literal
                auto e = make(ExprKind::Int, loc);
                e->ival = -next().ival;
                return e;
            }
            auto e = make(ExprKind::Unary, loc);
            e->op = Op::Neg;
            e->lhs = unary();
            return measured(std::move(e));
        }
        if (peek().is("!")) {
            auto e = make(ExprKind::Unary, next().loc);
            e->op = Op::Not;
            e->lhs = unary();
            return measured(std::move(e));
        }
        return primary();
    }

    ExprPtr primary() {
        const Token &t = peek();
        switch (t.kind) {
        case Tok::Int: {
            auto e = make(ExprKind::Int, t.loc);
            e->ival = next().ival;
            return e;
        }
        case Tok::Str: {
            auto e = make(ExprKind::Str, t.loc);
            e->str = next().str;
            return e;
        }
        case Tok::Pv: {
            auto e = make(ExprKind::Pv, t.loc);
            e->pv = next().pv;
            return e;
        }
        case Tok::Ident:
            if (t.text == "NULL" || t.text == "null") {
                return make(ExprKind::Null, next().loc);
            }
            if (peek(1).is("(")) return call();
            fail(t.loc, "unexpected name '" + excerpt(t.text) +
                            "' in an expression (quote strings: \"" + excerpt(t.text) +
                            "\"; call functions with parentheses)");
        case Tok::Punct:
            if (t.is("(")) {
                next();
                auto e = expression();
                expect(")", "to close '('");
                return e;
            }
            break;
        case Tok::End:
        case Tok::Error:
            break;
        }
        expected("a value (number, \"string\", $var(…), $avp(…), $param(…), NULL, a function "
                 "call or '(')");
    }

    ExprPtr call() {
        const Token &name = next();
        auto e = make(ExprKind::Call, name.loc);
        e->name = name.text;
        expect("(", "after " + excerpt(name.text));
        if (accept(")")) return e;
        for (;;) {
            const Token &a = peek();
            e->arg_locs.push_back(a.loc);
            if (a.is(",") || a.is(")")) {
                e->args.push_back(nullptr); // an empty argument: f(a, , b)
            } else if (e->name == "route" && a.kind == Tok::Ident && (peek(1).is(")"))) {
                auto s = make(ExprKind::Str, a.loc); // route(name): a bare route name
                s->str.value = next().text;
                s->str.raw = true;
                e->args.push_back(std::move(s));
            } else {
                e->args.push_back(expression());
            }
            if (accept(",")) continue;
            if (accept(")")) break;
            expected("',' or ')' in the arguments of " + excerpt(e->name) + "(…)");
        }
        return measured(std::move(e));
    }

    std::vector<Token> toks_;
    size_t pos_ = 0;
    Config &cfg_;
};

} // namespace

Result<Config> parse_text(std::string_view text, const std::string &file_name) {
    Config cfg;
    cfg.file = file_name;
    try {
        Parser(tokenize_until_error(text, file_name), cfg).run();
    } catch (const SyntaxError &e) {
        return make_error(e.message);
    }
    return cfg;
}

Result<Config> parse_file(const std::string &path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        return make_error(path + ":1:1: error: this is a directory, not a config file");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return make_error(path +
                          ":1:1: error: cannot open the config file: " + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_text(ss.str(), path);
}

Result<std::vector<FormatPart>> split_format(const StrLiteral &s) {
    std::vector<FormatPart> parts;
    auto literal = [&]() -> std::string & {
        if (parts.empty() || parts.back().is_pv) parts.push_back(FormatPart{});
        return parts.back().text;
    };
    const std::string &v = s.value;
    for (size_t i = 0; i < v.size();) {
        bool pv_start = !s.raw && v[i] == '$' && i + 1 < v.size() &&
                        (std::isalpha(static_cast<unsigned char>(v[i + 1])) || v[i + 1] == '(');
        if (!pv_start) {
            literal().push_back(v[i++]);
            continue;
        }
        Location at = s.at(i);
        auto pv = parse_pv(v, i, at);
        if (!pv) return pv.error();
        FormatPart part;
        part.is_pv = true;
        part.pv = std::move(*pv);
        parts.push_back(std::move(part));
    }
    return parts;
}

} // namespace evi::config
