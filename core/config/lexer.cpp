#include "config/lexer.hpp"

#include <array>
#include <cctype>

namespace evi::config {

namespace {

bool ident_start(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool ident_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Longest first, so that ":=" wins over ":" and "==" over "=".
constexpr std::array<std::string_view, 9> kTwoCharOps = {
    ":=", "==", "!=", "<=", ">=", "=~", "!~", "&&", "||"};
constexpr std::string_view kOneCharOps = "()[]{},;:=<>+-*/%!";

class Lexer {
  public:
    Lexer(std::string_view text, const std::string &file) : text_(text), file_(file) {}

    std::vector<Token> run() {
        std::vector<Token> out;
        auto error_token = [&](const Error &e) {
            Token t;
            t.kind = Tok::Error;
            t.loc = here();
            t.text = e.message;
            out.push_back(std::move(t));
            return out;
        };
        for (;;) {
            if (auto r = skip_space_and_comments(); !r) return error_token(r.error());
            Token t;
            t.loc = here();
            if (pos_ >= text_.size()) {
                t.kind = Tok::End;
                out.push_back(std::move(t));
                return out;
            }
            char c = text_[pos_];
            Result<void> r;
            if (ident_start(c))
                r = ident(t);
            else if (std::isdigit(static_cast<unsigned char>(c)))
                r = number(t);
            else if (c == '"' || c == '\'')
                r = string(t);
            else if (c == '$')
                r = pv(t);
            else
                r = punct(t);
            if (!r) return error_token(r.error());
            out.push_back(std::move(t));
        }
    }

  private:
    Location here() const { return Location{file_, line_, col_}; }

    void advance() {
        if (text_[pos_] == '\n') {
            ++line_;
            col_ = 1;
        } else {
            ++col_;
        }
        ++pos_;
    }

    Error error(const Location &loc, std::string_view msg) const {
        return make_error(format_error(loc, msg));
    }

    Result<void> skip_space_and_comments() {
        while (pos_ < text_.size()) {
            char c = text_[pos_];
            if (std::isspace(static_cast<unsigned char>(c))) {
                advance();
            } else if (c == '#') {
                while (pos_ < text_.size() && text_[pos_] != '\n')
                    advance();
            } else if (c == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '*') {
                Location start = here();
                advance();
                advance();
                for (;;) {
                    if (pos_ + 1 >= text_.size())
                        return error(start, "unterminated comment: '/*' without '*/'");
                    if (text_[pos_] == '*' && text_[pos_ + 1] == '/') {
                        advance();
                        advance();
                        break;
                    }
                    advance();
                }
            } else {
                break;
            }
        }
        return {};
    }

    Result<void> ident(Token &t) {
        size_t start = pos_;
        // A '.' between name characters belongs to the name (E_X.Y, event_route.so).
        while (pos_ < text_.size() &&
               (ident_char(text_[pos_]) ||
                (text_[pos_] == '.' && pos_ + 1 < text_.size() && ident_char(text_[pos_ + 1]))))
            advance();
        t.kind = Tok::Ident;
        t.text = std::string(text_.substr(start, pos_ - start));
        return {};
    }

    Result<void> number(Token &t) {
        size_t start = pos_;
        int base = 10;
        if (text_[pos_] == '0' && pos_ + 1 < text_.size() &&
            (text_[pos_ + 1] == 'x' || text_[pos_ + 1] == 'X')) {
            base = 16;
            advance();
            advance();
        }
        size_t digits = pos_;
        uint64_t v = 0;
        bool overflow = false;
        while (pos_ < text_.size()) {
            int d = base == 16
                        ? hex_value(text_[pos_])
                        : (std::isdigit(static_cast<unsigned char>(text_[pos_])) ? text_[pos_] - '0'
                                                                                 : -1);
            if (d < 0) break;
            if (v > (static_cast<uint64_t>(INT64_MAX) - static_cast<uint64_t>(d)) /
                        static_cast<uint64_t>(base))
                overflow = true;
            v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
            advance();
        }
        t.text = std::string(text_.substr(start, pos_ - start));
        if (pos_ == digits) return error(t.loc, "expected hex digits after '0x'");
        if (pos_ < text_.size() && ident_char(text_[pos_]))
            return error(t.loc, "invalid number '" + excerpt(t.text + text_[pos_]) +
                                    "…' (expected digits only, or quotes around a name)");
        if (overflow)
            return error(t.loc, "number " + excerpt(t.text) + " is too large (the limit is " +
                                    std::to_string(INT64_MAX) + ")");
        t.kind = Tok::Int;
        t.ival = static_cast<int64_t>(v);
        return {};
    }

    Result<void> string(Token &t) {
        const char quote = text_[pos_];
        t.kind = Tok::Str;
        t.str.raw = quote == '\'';
        size_t start = pos_;
        advance();
        for (;;) {
            if (pos_ >= text_.size())
                return error(t.loc,
                             std::string("unterminated string: missing the closing ") + quote);
            Location at = here();
            char c = text_[pos_];
            if (c == quote) {
                t.str.end = at;
                advance();
                break;
            }
            if (c != '\\' || t.str.raw) {
                t.str.push(c, at);
                advance();
                continue;
            }
            advance(); // the backslash
            if (pos_ >= text_.size())
                return error(t.loc,
                             std::string("unterminated string: missing the closing ") + quote);
            char e = text_[pos_];
            switch (e) {
            case 'n':
                t.str.push('\n', at);
                advance();
                break;
            case 'r':
                t.str.push('\r', at);
                advance();
                break;
            case 't':
                t.str.push('\t', at);
                advance();
                break;
            case '\\':
                t.str.push('\\', at);
                advance();
                break;
            case '"':
                t.str.push('"', at);
                advance();
                break;
            case '\'':
                t.str.push('\'', at);
                advance();
                break;
            case 'x': {
                advance();
                int v = 0, n = 0;
                while (n < 2 && pos_ < text_.size() && hex_value(text_[pos_]) >= 0) {
                    v = v * 16 + hex_value(text_[pos_]);
                    advance();
                    ++n;
                }
                if (n == 0) return error(at, "'\\x' needs one or two hex digits, as in \\xc3");
                t.str.push(static_cast<char>(v), at);
                break;
            }
            default:
                // As OpenSIPS: an unknown escape keeps its backslash ("\." stays a regex escape).
                t.str.push('\\', at);
                t.str.push(e, here());
                advance();
            }
        }
        t.text = std::string(text_.substr(start, pos_ - start));
        return {};
    }

    Result<void> pv(Token &t) {
        size_t p = pos_;
        auto r = parse_pv(text_, p, t.loc);
        if (!r) return r.error();
        while (pos_ < p)
            advance();
        t.kind = Tok::Pv;
        t.pv = std::move(*r);
        t.text = t.pv.text;
        return {};
    }

    Result<void> punct(Token &t) {
        std::string_view rest = text_.substr(pos_);
        for (auto op : kTwoCharOps) {
            if (rest.substr(0, 2) == op) {
                t.kind = Tok::Punct;
                t.text = std::string(op);
                advance();
                advance();
                return {};
            }
        }
        char c = text_[pos_];
        if (kOneCharOps.find(c) != std::string_view::npos) {
            t.kind = Tok::Punct;
            t.text = std::string(1, c);
            advance();
            return {};
        }
        if (c == '&' || c == '|')
            return error(t.loc,
                         std::string("unexpected '") + c + "' (did you mean '" + c + c + "'?)");
        std::string shown = std::isprint(static_cast<unsigned char>(c))
                                ? std::string("'") + c + "'"
                                : "byte 0x" + std::string(1, "0123456789abcdef"[(c >> 4) & 15]) +
                                      "0123456789abcdef"[c & 15];
        return error(t.loc, "unexpected character " + shown);
    }

    std::string_view text_;
    const std::string &file_;
    size_t pos_ = 0;
    int line_ = 1, col_ = 1;
};

} // namespace

std::string Token::describe() const {
    switch (kind) {
    case Tok::End:
        return "end of file";
    case Tok::Ident:
        return "'" + excerpt(text) + "'";
    case Tok::Int:
        return "number " + excerpt(text);
    case Tok::Str:
        return "string " + excerpt(text);
    case Tok::Pv:
        return "'" + text + "'"; // already an excerpt
    case Tok::Punct:
        return "'" + text + "'";
    case Tok::Error:
        return "an error";
    }
    return text;
}

std::vector<Token> tokenize_until_error(std::string_view text, const std::string &file_name) {
    return Lexer(text, file_name).run();
}

Result<std::vector<Token>> tokenize(std::string_view text, const std::string &file_name) {
    auto tokens = tokenize_until_error(text, file_name);
    if (tokens.back().kind == Tok::Error) return make_error(tokens.back().text);
    return tokens;
}

namespace {

// name or name(arg) starting at name_start; `dollar` is where the '$' is. Sets end past it.
Result<PvRef> parse_named_pv(std::string_view text, size_t dollar, size_t name_start, size_t &end,
                             const Location &at) {
    auto fail = [&](std::string_view msg) { return make_error(format_error(at, msg)); };
    const size_t pos = dollar;
    size_t p = name_start;
    while (p < text.size() && ident_char(text[p]))
        ++p;
    std::string name(text.substr(name_start, p - name_start));
    if (name.empty())
        return fail("expected a pseudo-variable name after '$' ($var, $avp, $param, $Ts, "
                    "$Tsm, $pid, $rc)");
    PvRef pv;
    pv.loc = at;
    bool has_arg = p < text.size() && text[p] == '(';
    std::string arg;
    if (has_arg) {
        size_t close = text.find(')', p + 1);
        size_t nl = text.find('\n', p + 1);
        if (close == std::string_view::npos || (nl != std::string_view::npos && nl < close))
            return fail("missing ')' after '$" + excerpt(name) + "('");
        arg = std::string(text.substr(p + 1, close - p - 1));
        p = close + 1;
    }
    pv.text = excerpt(text.substr(pos, p - pos));
    auto needs_arg = [&](std::string_view what) -> Result<void> {
        if (!has_arg || arg.empty())
            return fail("$" + excerpt(name) + " needs a name in parentheses: $" + excerpt(name) +
                        "(" + std::string(what) + ")");
        for (char c : arg)
            if (std::isspace(static_cast<unsigned char>(c)) ||
                std::iscntrl(static_cast<unsigned char>(c)) || c == '(' || c == '$')
                return fail("invalid name '" + excerpt(arg) + "' in " + pv.text +
                            " (no spaces, control characters, '(' or '$')");
        return {};
    };
    auto no_arg = [&]() -> Result<void> {
        if (has_arg) return fail("$" + excerpt(name) + " takes no parentheses");
        return {};
    };
    Result<void> ok;
    if (name == "var") {
        pv.type = PvType::Var;
        ok = needs_arg("name");
        pv.name = arg;
    } else if (name == "avp") {
        pv.type = PvType::Avp;
        ok = needs_arg("name");
        pv.name = arg;
    } else if (name == "param") {
        pv.type = PvType::Param;
        ok = needs_arg("name or 1-based position");
        if (ok && std::isdigit(static_cast<unsigned char>(arg[0]))) {
            int n = 0;
            for (char c : arg) {
                if (!std::isdigit(static_cast<unsigned char>(c)) || n > 100000)
                    return fail("invalid position '" + excerpt(arg) + "' in " + pv.text);
                n = n * 10 + (c - '0');
            }
            if (n < 1) return fail("$param positions start at 1: $param(1) is the first parameter");
            pv.index = n;
        } else {
            pv.name = arg;
        }
    } else if (name == "Ts") {
        pv.type = PvType::Ts;
        ok = no_arg();
    } else if (name == "Tsm") {
        pv.type = PvType::Tsm;
        ok = no_arg();
    } else if (name == "pid") {
        pv.type = PvType::Pid;
        ok = no_arg();
    } else if (name == "rc" || name == "retcode") {
        pv.type = PvType::Rc;
        ok = no_arg();
    } else {
        return fail("unknown pseudo-variable $" + excerpt(name) +
                    " (known: $var(name), $avp(name), $param(name|N), $Ts, $Tsm, $pid, $rc)");
    }
    if (!ok) return ok.error();
    end = p;
    return pv;
}

} // namespace

Result<PvRef> parse_pv(std::string_view text, size_t &pos, const Location &at) {
    auto fail = [&](std::string_view msg) { return make_error(format_error(at, msg)); };
    size_t p = pos + 1; // after '$'
    if (p >= text.size() || text[p] != '(') {
        auto pv = parse_named_pv(text, pos, p, p, at);
        if (pv) pos = p;
        return pv;
    }
    // $(avp(name)[N]): the Nth value from the newest (0), or from the oldest (-1)
    const char *form = "write $(avp(name)[N]) with N from 0 (the newest) or from -1 (the oldest); "
                       "transformations are not supported";
    auto pv = parse_named_pv(text, pos, p + 1, p, at);
    if (!pv) return pv;
    if (pv->type != PvType::Avp) return fail(std::string("only $avp can be indexed: ") + form);
    if (p >= text.size() || text[p] != '[') return fail(form);
    ++p;
    bool negative = p < text.size() && text[p] == '-';
    if (negative) ++p;
    int n = 0, digits = 0;
    while (p < text.size() && std::isdigit(static_cast<unsigned char>(text[p])) && n < 100000) {
        n = n * 10 + (text[p++] - '0');
        ++digits;
    }
    if (!digits || p + 1 >= text.size() || text[p] != ']' || text[p + 1] != ')') return fail(form);
    p += 2;
    pv->indexed = true;
    pv->avp_index = negative ? -n : n;
    pv->text = excerpt(text.substr(pos, p - pos));
    pos = p;
    return pv;
}

} // namespace evi::config
