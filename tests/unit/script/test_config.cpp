// The config lexer and parser: tokens with their positions, directives, route blocks, and
// syntax errors reported as exactly "file:line:col: error: …".
#include "config/lexer.hpp"
#include "config/parser.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>

using namespace evi::config;

namespace {

std::vector<Token> lex(const std::string &text) {
    auto t = tokenize(text, "t.cfg");
    REQUIRE_MESSAGE(t.ok(), (t.ok() ? "" : t.error().message));
    return *t;
}

std::string lex_error(const std::string &text) {
    auto t = tokenize(text, "t.cfg");
    return t.ok() ? "no error" : t.error().message;
}

Config parse(const std::string &text) {
    auto c = parse_text(text, "t.cfg");
    REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
    return std::move(*c);
}

std::string parse_error(const std::string &text) {
    auto c = parse_text(text, "t.cfg");
    return c.ok() ? "no error" : c.error().message;
}

std::string at(const Location &l) {
    return std::to_string(l.line) + ":" + std::to_string(l.col);
}

} // namespace

// ---- lexer ------------------------------------------------------------------------------------

TEST_CASE("tokens carry 1-based line and column, comments are skipped") {
    auto t = lex("# comment\n  x = /* a\nb */ 42 ;\n$var(i)");
    REQUIRE(t.size() == 6);
    CHECK(t[0].kind == Tok::Ident);
    CHECK(t[0].text == "x");
    CHECK(at(t[0].loc) == "2:3");
    CHECK(t[1].is("="));
    CHECK(t[2].kind == Tok::Int);
    CHECK(t[2].ival == 42);
    CHECK(at(t[2].loc) == "3:6");
    CHECK(t[3].is(";"));
    CHECK(t[4].kind == Tok::Pv);
    CHECK(t[4].pv.type == PvType::Var);
    CHECK(t[4].pv.name == "i");
    CHECK(at(t[4].loc) == "4:1");
    CHECK(t[5].kind == Tok::End);
}

TEST_CASE("two-character operators are single tokens") {
    auto t = lex(":= == != <= >= =~ !~ && || < > ! = :");
    std::string joined;
    for (const auto &x : t)
        if (x.kind == Tok::Punct) joined += x.text + " ";
    CHECK(joined == ":= == != <= >= =~ !~ && || < > ! = : ");
}

TEST_CASE("double-quoted strings decode OpenSIPS escapes") {
    auto t = lex(R"("a\"b\\c\nd\re\tf\x41\xc3\xa9\x7")");
    CHECK(t[0].str.value == "a\"b\\c\nd\re\tfA\xc3\xa9\x07");
}

TEST_CASE("an unknown escape keeps its backslash, so regex escapes survive") {
    CHECK(lex(R"("^10\.0\d")")[0].str.value == R"(^10\.0\d)");
}

TEST_CASE("single-quoted strings take no escapes") {
    auto t = lex(R"('a\n$b')");
    CHECK(t[0].str.value == R"(a\n$b)");
    CHECK(t[0].str.raw);
}

TEST_CASE("numbers may be written in hex") {
    CHECK(lex("0x1F")[0].ival == 31);
}

TEST_CASE("pseudo-variables: $param by name and by 1-based position, $Ts, $pid, $rc") {
    auto t = lex("$param(ip) $param(2) $Ts $pid $rc $avp(pike-ip)");
    CHECK(t[0].pv.type == PvType::Param);
    CHECK(t[0].pv.name == "ip");
    CHECK(t[1].pv.index == 2);
    CHECK(t[2].pv.type == PvType::Ts);
    CHECK(t[3].pv.type == PvType::Pid);
    CHECK(t[4].pv.type == PvType::Rc);
    CHECK(t[5].pv.name == "pike-ip");
}

TEST_CASE("$(avp(name)[N]) indexes an AVP from the newest, or from the oldest when negative") {
    auto t = lex("$(avp(x)[2]) $(avp(y)[-1])");
    CHECK(t[0].pv.type == PvType::Avp);
    CHECK(t[0].pv.indexed);
    CHECK(t[0].pv.name == "x");
    CHECK(t[0].pv.avp_index == 2);
    CHECK(t[0].pv.text == "$(avp(x)[2])");
    CHECK(t[1].pv.avp_index == -1);
    CHECK(lex_error("$(var(x)[0])") ==
          "t.cfg:1:1: error: only $avp can be indexed: write $(avp(name)[N]) with N from 0 (the "
          "newest) or from -1 (the oldest); transformations are not supported");
    CHECK(lex_error("$(avp(x){s.len})") ==
          "t.cfg:1:1: error: write $(avp(name)[N]) with N from 0 (the newest) or from -1 (the "
          "oldest); transformations are not supported");
}

TEST_CASE("lexer errors name file:line:col") {
    CHECK(lex_error("x = \"abc") ==
          "t.cfg:1:5: error: unterminated string: missing the closing \"");
    CHECK(lex_error("a\n /* x") == "t.cfg:2:2: error: unterminated comment: '/*' without '*/'");
    CHECK(lex_error("  @") == "t.cfg:1:3: error: unexpected character '@'");
    CHECK(lex_error("a & b") == "t.cfg:1:3: error: unexpected '&' (did you mean '&&'?)");
    CHECK(lex_error("\"\\xZZ\"") ==
          "t.cfg:1:2: error: '\\x' needs one or two hex digits, as in \\xc3");
    CHECK(lex_error("99999999999999999999") ==
          "t.cfg:1:1: error: number 99999999999999999999 is too large (the limit is "
          "9223372036854775807)");
    CHECK(
        lex_error("12ab") ==
        "t.cfg:1:1: error: invalid number '12a…' (expected digits only, or quotes around a name)");
}

TEST_CASE("unknown or malformed pseudo-variables are errors where the $ is") {
    CHECK(lex_error("x\n  $foo") ==
          "t.cfg:2:3: error: unknown pseudo-variable $foo (known: $var(name), $avp(name), "
          "$param(name|N), $Ts, $Tsm, $pid, $rc)");
    CHECK(lex_error("$var") == "t.cfg:1:1: error: $var needs a name in parentheses: $var(name)");
    CHECK(lex_error("$avp(x") == "t.cfg:1:1: error: missing ')' after '$avp('");
    CHECK(lex_error("$param(0)") ==
          "t.cfg:1:1: error: $param positions start at 1: $param(1) is the first parameter");
    CHECK(lex_error("$Ts(1)") == "t.cfg:1:1: error: $Ts takes no parentheses");
}

// ---- top-level directives ---------------------------------------------------------------------

TEST_CASE("global parameters take numbers, strings, names and \"a\":\"b\" lists") {
    auto c = parse("log_level = -1\nmpath = \"/a\":\"/b\"\nlog_event_enabled = yes;\nx=\"s\"");
    REQUIRE(c.directives.size() == 4);
    auto &g0 = std::get<GlobalParam>(c.directives[0]);
    CHECK(g0.name == "log_level");
    CHECK(std::get<int64_t>(g0.values.at(0)) == -1);
    CHECK(at(g0.loc) == "1:1");
    auto &g1 = std::get<GlobalParam>(c.directives[1]);
    REQUIRE(g1.values.size() == 2);
    CHECK(std::get<std::string>(g1.values[1]) == "/b");
    CHECK(std::get<std::string>(std::get<GlobalParam>(c.directives[2]).values[0]) == "yes");
    CHECK(std::get<std::string>(std::get<GlobalParam>(c.directives[3]).values[0]) == "s");
}

TEST_CASE("loadmodule and modparam keep file order, values and locations") {
    auto c = parse("loadmodule \"event_datagram.so\"\n"
                   "modparam(\"event_.*\", \"retries\", -3)\n"
                   "modparam(\"event_datagram\", \"format\",\n    \"json\");");
    REQUIRE(c.directives.size() == 3);
    CHECK(std::get<LoadModule>(c.directives[0]).path == "event_datagram.so");
    auto &m1 = std::get<ModParam>(c.directives[1]);
    CHECK(m1.module == "event_.*");
    CHECK(m1.param == "retries");
    CHECK(std::get<int64_t>(m1.value) == -3);
    CHECK(at(m1.loc) == "2:1");
    auto &m2 = std::get<ModParam>(c.directives[2]);
    CHECK(std::get<std::string>(m2.value) == "json");
    CHECK(at(m2.value_loc) == "4:5");
}

TEST_CASE("route blocks: startup, timer with interval, named, event with sync/async") {
    auto c = parse("startup_route { }\ntimer_route[hb, 5] { }\nroute[check] { }\n"
                   "event_route[E_A] { }\nevent_route[E_B, sync] { }\nevent_route[E_C, async] {}");
    REQUIRE(c.routes.size() == 6);
    CHECK(c.routes[0]->kind == RouteKind::Startup);
    CHECK(c.routes[1]->kind == RouteKind::Timer);
    CHECK(c.routes[1]->name == "hb");
    CHECK(c.routes[1]->interval == 5);
    CHECK(c.routes[2]->title() == "route[check]");
    CHECK(c.routes[3]->title() == "event_route[E_A]");
    CHECK_FALSE(c.routes[3]->sync);
    CHECK(c.routes[4]->sync);
    CHECK_FALSE(c.routes[5]->sync);
    CHECK(at(c.routes[4]->loc) == "5:1");
    CHECK(at(c.routes[4]->name_loc) == "5:13");
}

TEST_CASE("statements parse into a tree with their locations") {
    auto c = parse("route[r] {\n  if ($var(a) == 1 && !$var(b)) { xlog(\"x\"); } else exit;\n"
                   "  while ($var(i) < 3) $var(i) = $var(i) + 1;\n  $avp(x) := NULL;\n"
                   "  return(-1);\n  raise_event(\"E\", , $avp(v));\n}");
    const auto &body = c.routes.at(0)->body;
    REQUIRE(body.size() == 5);
    CHECK(body[0]->kind == StmtKind::If);
    CHECK(body[0]->expr->op == Op::And);
    CHECK(body[0]->expr->rhs->op == Op::Not);
    CHECK(body[0]->body.at(0)->kind == StmtKind::Call);
    CHECK(body[0]->else_body.at(0)->kind == StmtKind::Exit);
    CHECK(body[1]->kind == StmtKind::While);
    CHECK(body[1]->body.at(0)->kind == StmtKind::Assign);
    CHECK(body[2]->replace);
    CHECK(body[2]->expr->kind == ExprKind::Null);
    CHECK(body[3]->kind == StmtKind::Return);
    CHECK(body[3]->expr->ival == -1);
    const auto &call = *body[4]->expr;
    CHECK(call.name == "raise_event");
    REQUIRE(call.args.size() == 3);
    CHECK(call.args[1] == nullptr);
    CHECK(at(body[4]->loc) == "6:3");
}

TEST_CASE("* binds tighter than +, and comparisons bind looser than arithmetic") {
    auto c = parse("route[r] { if (1 + 2 * 3 == 7) exit; }");
    const auto &e = *c.routes[0]->body[0]->expr;
    CHECK(e.op == Op::Eq);
    CHECK(e.lhs->op == Op::Add);
    CHECK(e.lhs->rhs->op == Op::Mul);
}

TEST_CASE("parse_file reads a file and names it in errors") {
    const std::string path = "/tmp/evi-test-parse-file.cfg";
    {
        std::ofstream f(path);
        f << "loadmodule \"x.so\"\nbogus\n";
    }
    CHECK(parse_error("") == "no error");
    auto c = parse_file(path);
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().message.rfind(path + ":2:1: error: unknown directive 'bogus'", 0) == 0);
    std::remove(path.c_str());
    CHECK(parse_file("/nonexistent/x.cfg").error().message ==
          "/nonexistent/x.cfg:1:1: error: cannot open the config file: No such file or "
          "directory");
    CHECK(parse_file("/tmp").error().message ==
          "/tmp:1:1: error: this is a directory, not a config file");
}

// ---- syntax errors ----------------------------------------------------------------------------

TEST_CASE("an unknown top-level directive is an error") {
    CHECK(parse_error("\n  frobnicate \"x\"") ==
          "t.cfg:2:3: error: unknown directive 'frobnicate' (expected `name = value`, loadmodule, "
          "modparam, startup_route, timer_route, route or event_route)");
    CHECK(parse_error("42") ==
          "t.cfg:1:1: error: unexpected number 42 at top level (expected `name = value`, "
          "loadmodule, modparam, startup_route, timer_route, route or event_route)");
    CHECK(parse_error("failure_route[1] {}") ==
          "t.cfg:1:1: error: failure_route is an OpenSIPS SIP route and has no meaning here (EVI "
          "has startup_route, timer_route, route and event_route)");
}

TEST_CASE("directive syntax errors say what was expected") {
    CHECK(parse_error("loadmodule event_route.so") ==
          "t.cfg:1:12: error: expected a quoted module file name after loadmodule, as in "
          "loadmodule \"event_datagram.so\", found 'event_route.so'");
    CHECK(parse_error("modparam(\"m\" \"p\", 1)") ==
          "t.cfg:1:14: error: expected ',' after the module name, found string \"p\"");
    CHECK(parse_error("modparam(\"m\", \"p\", x)") ==
          "t.cfg:1:20: error: expected a number or a quoted string as the modparam value, found "
          "'x'");
    CHECK(parse_error("workers =") ==
          "t.cfg:1:10: error: expected a number or a string after 'workers =', found end of file");
}

TEST_CASE("route header errors") {
    CHECK(parse_error("route { }") == "t.cfg:1:1: error: route needs a name: route[name] { … } "
                                      "(EVI has no main request route)");
    CHECK(parse_error("timer_route[t] { }") ==
          "t.cfg:1:14: error: expected ',' and an interval in seconds: timer_route[name, 60], "
          "found ']'");
    CHECK(parse_error("timer_route[t, 0] { }") ==
          "t.cfg:1:16: error: expected an interval in seconds (1 to 2147483647) in "
          "timer_route[name, SECONDS], found number 0");
    CHECK(parse_error("event_route[E_X, later] { }") ==
          "t.cfg:1:18: error: expected sync or async in event_route[E_X, …], found 'later'");
    CHECK(parse_error("startup_route exit;") ==
          "t.cfg:1:15: error: expected '{' to open the body of startup_route, found 'exit'");
}

TEST_CASE("a second event_route for the same event is an error naming the first") {
    CHECK(parse_error("event_route[E_X] { }\nevent_route[E_X, sync] { }") ==
          "t.cfg:2:13: error: event_route[E_X] is already defined at t.cfg:1:1 (only one "
          "event_route per event is allowed)");
    CHECK(parse_error("route[a] { }\nroute[a] { }") ==
          "t.cfg:2:7: error: route[a] is already defined at t.cfg:1:1 (a route name can be "
          "defined only once)");
    CHECK(parse_error("startup_route { }\nstartup_route { }") ==
          "t.cfg:2:1: error: startup_route is already defined at t.cfg:1:1 (a route name can be "
          "defined only once)");
}

TEST_CASE("statement syntax errors") {
    CHECK(parse_error("route[r] {\n  xlog(\"a\")\n}") ==
          "t.cfg:3:1: error: expected ';' after the call to xlog(…), found '}'");
    CHECK(parse_error("route[r] {\n  $var(a) = 1\n  exit;\n}") ==
          "t.cfg:3:3: error: expected ';' after the assignment, found 'exit'");
    CHECK(parse_error("route[r] { if ($var(a) = 1) exit; }") ==
          "t.cfg:1:24: error: '=' assigns; compare with '=='");
    CHECK(parse_error("route[r] { if $var(a) exit; }") ==
          "t.cfg:1:15: error: expected '(' after if, found '$var(a)'");
    CHECK(parse_error("route[r] { $var(a) + 1; }") ==
          "t.cfg:1:20: error: expected '=' or ':=' after $var(a), found '+'");
    CHECK(parse_error("route[r] { else exit; }") ==
          "t.cfg:1:12: error: 'else' without a matching 'if'");
    CHECK(parse_error("route[r] { foo; }") ==
          "t.cfg:1:12: error: unexpected name 'foo' (expected a function call such as foo(…), "
          "an assignment, if, while, return or exit)");
    CHECK(parse_error("route[r] {\n  exit;\n") ==
          "t.cfg:1:10: error: missing '}' to close the block opened here");
    CHECK(parse_error("route[r] { $var(a) = abc; }") ==
          "t.cfg:1:22: error: unexpected name 'abc' in an expression (quote strings: \"abc\"; "
          "call functions with parentheses)");
    CHECK(parse_error("route[r] { $var(a) = (1 + 2; }") ==
          "t.cfg:1:28: error: expected ')' to close '(', found ';'");
    CHECK(parse_error("route[r] { if (1 < 2 < 3) exit; }") ==
          "t.cfg:1:22: error: comparisons do not chain: add parentheses or use &&");
    CHECK(parse_error("route[r] { xlog(\"a\" \"b\"); }") ==
          "t.cfg:1:21: error: expected ',' or ')' in the arguments of xlog(…), found string \"b\"");
}

// ---- formats ----------------------------------------------------------------------------------

TEST_CASE("a format splits into text and pseudo-variables; a lone $ stays text") {
    auto t = lex(R"x("ip $param(ip) cost $5 n=$var(n)")x");
    auto parts = split_format(t[0].str);
    REQUIRE(parts.ok());
    REQUIRE(parts->size() == 4);
    CHECK((*parts)[0].text == "ip ");
    CHECK((*parts)[1].pv.text == "$param(ip)");
    CHECK((*parts)[2].text == " cost $5 n=");
    CHECK((*parts)[3].pv.name == "n");
}

TEST_CASE("an unknown pseudo-variable inside a format is reported where it is written") {
    auto t = lex("\n  \"a\\tb $nope(x)\"");
    auto parts = split_format(t[0].str);
    REQUIRE_FALSE(parts.ok());
    CHECK(parts.error().message.rfind("t.cfg:2:9: error: unknown pseudo-variable $nope", 0) == 0);
}

TEST_CASE("positions inside a literal survive escapes, line breaks and a long run") {
    std::string long_run(100000, 'a');
    auto t = lex("x(\"\\x41\\\"b\nc " + long_run + " $nope\")");
    const auto &s = t[2].str;
    REQUIRE(s.value.size() == 3 + 3 + long_run.size() + 6);
    CHECK(s.at(0).str() == "t.cfg:1:4");                   // \x41
    CHECK(s.at(1).str() == "t.cfg:1:8");                   // \"
    CHECK(s.at(2).str() == "t.cfg:1:10");                  // b
    CHECK(s.at(3).str() == "t.cfg:1:11");                  // the line break itself
    CHECK(s.at(4).str() == "t.cfg:2:1");                   // c
    CHECK(s.at(6 + 99999).str() == "t.cfg:2:100002");      // the last a
    CHECK(s.at(s.value.size()).str() == "t.cfg:2:100009"); // the closing quote
    CHECK(s.marks.size() <= 4);
    auto parts = split_format(s);
    REQUIRE_FALSE(parts.ok());
    CHECK(parts.error().message.rfind("t.cfg:2:100004: error: unknown pseudo-variable $nope", 0) ==
          0);
}

TEST_CASE("errors are reported in file order: a syntax error before a lexing error wins") {
    CHECK(parse_error("route[r] { exit }\nx = @") ==
          "t.cfg:1:17: error: expected ';' after exit, found '}'");
    CHECK(parse_error("x = 1\ny = @") == "t.cfg:2:5: error: unexpected character '@'");
}

TEST_CASE("an error at the end of the file points right after the last token") {
    CHECK(parse_error("loadmodule \"m.so\"\nmodparam(\"a\", \"b\"\n") ==
          "t.cfg:2:18: error: expected ',' after the parameter name, found end of file");
    CHECK(parse_error("x =\n\n") ==
          "t.cfg:1:4: error: expected a number or a string after 'x =', found end of file");
}

// ---- input limits -----------------------------------------------------------------------------

namespace {
std::string chain(const std::string &first, const std::string &op_term, size_t terms) {
    std::string s = "startup_route { $var(x) = " + first;
    for (size_t i = 1; i < terms; ++i)
        s += op_term;
    return s + "; }";
}
} // namespace

TEST_CASE("a 100,000-term chain of + is refused where it passes 256 operators") {
    // "startup_route { $var(x) = 1" is 27 columns; each " + 1" is 4, its '+' the 2nd.
    CHECK(parse_error(chain("1", " + 1", 100000)) ==
          "t.cfg:1:" + std::to_string(29 + 4 * 256) +
              ": error: this expression is deeper than 256 operators (a chain such as 1 + 1 + … "
              "or a && b && …, or nested calls): split it, e.g. into several $var(…) "
              "assignments");
}

TEST_CASE("a 100,000-term chain of && is refused with the same limit") {
    CHECK(parse_error(chain("$var(a)", " && $var(a)", 100000))
              .starts_with("t.cfg:1:" + std::to_string(35 + 11 * 256) +
                           ": error: this expression is deeper than 256 operators"));
}

TEST_CASE("a chain of 256 operators parses") {
    CHECK(parse_error(chain("1", " + 1", 257)) == "no error");
}

TEST_CASE("parentheses and calls count towards the expression limit") {
    // Each level is f((inner) + 1 … + 1): 13 operators and a call above the inner one.
    std::string ops;
    for (int k = 0; k < 13; ++k)
        ops += " + 1";
    std::string e = "1";
    for (int i = 0; i < 20; ++i)
        e = "f((" + e + ")" + ops + ")";
    CHECK(parse_error("startup_route { $var(x) = " + e + "; }")
              .find("error: this expression is deeper than 256 operators") != std::string::npos);
}

TEST_CASE("an excerpt escapes control bytes and invalid UTF-8, keeps valid UTF-8") {
    CHECK(excerpt(std::string("a\x1b[31mb\0c\x7f", 10)) == "a\\x1b[31mb\\x00c\\x7f");
    CHECK(excerpt("tab\there\r\n") == "tab\\there\\r\\n");
    CHECK(excerpt("caf\xc3\xa9 \xe2\x82\xac") == "caf\xc3\xa9 \xe2\x82\xac");
    CHECK(excerpt("\xff\xc3(\xed\xa0\x80") == "\\xff\\xc3(\\xed\\xa0\\x80"); // bad, surrogate
    CHECK(excerpt("\xc2\x9b"
                  "2J") == "\\xc2\\x9b2J");     // C1 CSI
    CHECK(excerpt("\xc0\xaf") == "\\xc0\\xaf"); // overlong '/'
}

TEST_CASE("an excerpt is cut at its limit, never inside a UTF-8 character") {
    CHECK(excerpt(std::string(100, 'a')) == std::string(64, 'a') + "... (100 bytes)");
    CHECK(excerpt("ab\xc3\xa9", 3) == "ab... (4 bytes)");
}

TEST_CASE("syntax errors quote the input with control bytes escaped") {
    CHECK(parse_error("\"\x1b]0;pwned\x07\"") ==
          "t.cfg:1:1: error: unexpected string \"\\x1b]0;pwned\\x07\" at top level (expected "
          "`name = value`, loadmodule, modparam, startup_route, timer_route, route or "
          "event_route)");
    CHECK(parse_error("startup_route { $var(a\x1b"
                      "b) = 1; }") ==
          "t.cfg:1:17: error: invalid name 'a\\x1bb' in $var(a\\x1bb) (no spaces, control "
          "characters, '(' or '$')");
    CHECK(parse_error("route[\"r\x1b\"] { exit; }\nroute[\"r\x1b\"] { exit; }") ==
          "t.cfg:2:7: error: route[r\\x1b] is already defined at t.cfg:1:1 (a route name can be "
          "defined only once)");
}
