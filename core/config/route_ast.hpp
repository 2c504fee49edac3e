// What a route block holds once parsed: statements and expressions with their locations.
// core/script compiles this tree once into closures; nothing here runs.
#pragma once

#include "config/ast.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace evi::config {

// $var(x) $avp(x) $param(x) $param(N) $Ts $Tsm $pid $rc
enum class PvType { Var, Avp, Param, Ts, Tsm, Pid, Rc };

struct PvRef {
    PvType type = PvType::Var;
    std::string name;     // Var, Avp, Param by name
    int index = 0;        // Param by position: 1-based; 0 when by name
    bool indexed = false; // $(avp(x)[N])
    int avp_index = 0;    // N: 0 the newest, -1 the oldest
    Location loc;
    std::string text; // as written, for messages: "$avp(x)"
};

enum class ExprKind { Int, Str, Null, Pv, Unary, Binary, Call };

enum class Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Match,
    NotMatch,
    And,
    Or,
    Not,
    Neg
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

// A decoded string literal that knows the source position of every decoded byte, so that a
// pseudo-variable inside it can be reported where it was written. Positions are kept as
// marks, one where the byte-per-column run breaks (an escape, a line break in the literal),
// not one per byte: a 10 MB literal costs a few marks, not 10 million Locations.
struct StrLiteral {
    struct Mark {
        size_t offset; // value[offset] is at line:col; the bytes after it follow one column each
        int line;
        int col;
    };
    std::string value;
    std::vector<Mark> marks; // ascending offsets
    Location end;            // the closing quote (its file is the literal's file)
    bool raw = false;        // 'single quoted': no escapes, no $-expansion

    // Appends one decoded byte that came from `at` (same file as the literal).
    void push(char c, const Location &at) {
        if (marks.empty() || marks.back().line != at.line ||
            marks.back().col + static_cast<int>(value.size() - marks.back().offset) != at.col)
            marks.push_back(Mark{value.size(), at.line, at.col});
        value.push_back(c);
    }
    // Where value[i] came from; the closing quote for i past the end.
    Location at(size_t i) const {
        if (i >= value.size() || marks.empty()) return end;
        auto it = std::upper_bound(marks.begin(), marks.end(), i,
                                   [](size_t v, const Mark &m) { return v < m.offset; });
        const Mark &m = *(it - 1);
        return Location{end.file, m.line, m.col + static_cast<int>(i - m.offset)};
    }
};

struct Expr {
    ExprKind kind = ExprKind::Null;
    Location loc;
    int64_t ival = 0;          // Int
    StrLiteral str;            // Str
    PvRef pv;                  // Pv
    Op op = Op::Add;           // Unary, Binary
    ExprPtr lhs, rhs;          // Unary: lhs only
    std::string name;          // Call: the function ("route" for route(name))
    std::vector<ExprPtr> args; // Call; an empty argument (f(a, , b)) is nullptr
    std::vector<Location> arg_locs;
    int height = 0; // operators and calls on the longest path down: bounded by the parser
};

enum class StmtKind { Call, Assign, If, While, Return, Exit, Block };

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;

struct Stmt {
    StmtKind kind = StmtKind::Block;
    Location loc;
    ExprPtr expr;         // Call: the call; Assign: the value; If/While: condition;
                          // Return: the value (nullptr: return)
    PvRef target;         // Assign
    bool replace = false; // Assign: ':='
    std::vector<StmtPtr> body, else_body;
    // If: the `else if (…) …` arms between body and else_body, kept flat so that a chain of
    // any length nests (and recurses) no deeper than one if.
    struct ElseIf {
        Location loc; // the `if` after `else`
        ExprPtr cond;
        std::vector<StmtPtr> body;
    };
    std::vector<ElseIf> else_ifs;
};

enum class RouteKind { Startup, Timer, Route, Event };

struct RouteBlock {
    RouteKind kind = RouteKind::Route;
    Location loc;     // the route keyword
    std::string name; // route / timer name, or the event name of an event_route
    Location name_loc;
    int64_t interval = 0; // timer_route seconds
    bool sync = false;    // event_route[E, sync]
    std::vector<StmtPtr> body;

    // "startup_route", "timer_route[hb]", "route[name]", "event_route[E_X]" (for messages: the
    // name is an excerpt())
    std::string title() const;
};

inline std::string RouteBlock::title() const {
    switch (kind) {
    case RouteKind::Startup:
        return "startup_route";
    case RouteKind::Timer:
        return "timer_route[" + excerpt(name) + "]";
    case RouteKind::Route:
        return "route[" + excerpt(name) + "]";
    case RouteKind::Event:
        return "event_route[" + excerpt(name) + "]";
    }
    return name;
}

} // namespace evi::config
