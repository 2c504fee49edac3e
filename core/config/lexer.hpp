// The config lexer: turns the file text into tokens that carry their file:line:col.
#pragma once

#include "config/route_ast.hpp"
#include "result.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace evi::config {

enum class Tok {
    End,
    Ident, // loadmodule, if, xlog, E_PIKE_BLOCKED
    Int,   // 42, 0x1f
    Str,   // "text" or 'text'
    Pv,    // $var(x)
    Punct, // ( ) [ ] { } , ; : = := == != < > <= >= =~ !~ + - * / % && || !
    Error, // a lexing error: text is the whole "file:line:col: error: …" message
};

struct Token {
    Tok kind = Tok::End;
    Location loc;
    std::string text; // Ident: the name; Punct: the operator; others: as written
    int64_t ival = 0;
    StrLiteral str;
    PvRef pv;

    bool is(std::string_view punct) const { return kind == Tok::Punct && text == punct; }
    bool is_ident(std::string_view name) const { return kind == Tok::Ident && text == name; }
    // For messages: "'xlog'", "'{'", "string \"x\"", "end of file"
    std::string describe() const;
};

// Tokenize a whole file; the last token is Tok::End. Errors: "file:line:col: error: …".
Result<std::vector<Token>> tokenize(std::string_view text, const std::string &file_name);
// The same, but a lexing error becomes the last token (Tok::Error), so that a parser reports
// errors in file order.
std::vector<Token> tokenize_until_error(std::string_view text, const std::string &file_name);

// Parse a pseudo-variable starting at text[pos] == '$' (in code or inside a string) and
// advance pos past it. `at` is where the '$' was written.
Result<PvRef> parse_pv(std::string_view text, size_t &pos, const Location &at);

} // namespace evi::config
