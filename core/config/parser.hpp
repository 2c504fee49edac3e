// The config parser: OpenSIPS syntax → one Config (directives in file order + route blocks).
#pragma once

#include "config/ast.hpp"
#include "config/route_ast.hpp"
#include "result.hpp"

#include <string>
#include <string_view>

namespace evi::config {

// Error.message is "file:line:col: error: what was wrong (and what was expected)".
Result<Config> parse_file(const std::string &path);
Result<Config> parse_text(std::string_view text, const std::string &file_name);

// A string literal used as a format ("blocked $param(ip)"): literal text and pseudo-variables.
struct FormatPart {
    std::string text; // literal text when !is_pv
    bool is_pv = false;
    PvRef pv;
};
// Split a string literal into parts; an unknown $name inside it is an error at its position.
// A '$' not followed by a name stays literal text.
Result<std::vector<FormatPart>> split_format(const StrLiteral &s);

} // namespace evi::config
