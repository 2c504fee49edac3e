// event_flatstore's pure parts: the line format and escaping, allowed directories, rotated
// names, permission strings.
#include "flat_line.h"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

namespace {

evi_param_t str_param(const char *name, const std::string &v) {
    evi_param_t p{};
    p.name = {name, std::char_traits<char>::length(name)};
    p.type = EVI_VAL_STR;
    p.s = {v.data(), v.size()};
    return p;
}

evi_param_t int_param(const char *name, int64_t v) {
    evi_param_t p{};
    p.name = {name, std::char_traits<char>::length(name)};
    p.type = EVI_VAL_INT;
    p.i = v;
    return p;
}

flat_format_t format(const char *delim = ",", const char *escape = nullptr, int suppress = 0) {
    flat_format_t f{};
    f.delim = delim;
    f.delim_len = std::char_traits<char>::length(delim);
    f.escape = escape;
    f.escape_len = escape ? std::char_traits<char>::length(escape) : 0;
    f.suppress_name = suppress;
    flat_format_init(&f);
    return f;
}

std::string line(const flat_format_t &f, const char *name, const std::vector<evi_param_t> &ps) {
    evi_event_t ev{};
    ev.name = {name, std::char_traits<char>::length(name)};
    ev.params = ps.data();
    ev.nparams = ps.size();
    std::string buf(flat_line_bound(&f, &ev), '\0');
    size_t n = flat_line_write(&f, &ev, buf.data());
    REQUIRE(n <= buf.size());
    buf.resize(n);
    return buf;
}

std::vector<std::string> entries(const char *list) {
    std::vector<std::string> out;
    const char *p = list, *s;
    size_t n;
    while ((p = flat_next_list_entry(p, &s, &n)))
        out.emplace_back(s, n);
    return out;
}

// The escaping rules of a value, one byte at a time: what the word-at-a-time copy must equal.
std::string escaped(const std::string &v, const std::string &delim, const char *escape) {
    std::string out;
    for (size_t i = 0; i < v.size();) {
        if (v.compare(i, delim.size(), delim) == 0) {
            out += escape ? escape : " ";
            i += delim.size();
        } else {
            out += v[i] == '\n' || v[i] == '\r' ? ' ' : v[i];
            ++i;
        }
    }
    return out;
}

} // namespace

TEST_CASE("a line is the event's name then each value after the delimiter, without names") {
    CHECK(line(format(), "E_FLAT", {str_param("s", "hello"), int_param("n", 42)}) ==
          "E_FLAT,hello,42\n");
}

TEST_CASE("an empty string still gets its delimiter") {
    CHECK(line(format(), "E_X", {str_param("a", ""), str_param("b", "x")}) == "E_X,,x\n");
    CHECK(line(format(), "E_X", {str_param("a", "")}) == "E_X,\n");
}

TEST_CASE("an event without params is its name alone") {
    CHECK(line(format(), "E_X", {}) == "E_X\n");
}

TEST_CASE("with suppress_event_name the line starts with the first value") {
    CHECK(line(format(",", nullptr, 1), "E_X", {str_param("s", "hello"), int_param("n", 42)}) ==
          "hello,42\n");
}

TEST_CASE("with suppress_event_name an event without params is an empty line") {
    CHECK(line(format(",", nullptr, 1), "E_X", {}) == "\n");
}

TEST_CASE("ints are written signed") {
    CHECK(line(format(), "E_X", {int_param("n", -42), int_param("m", INT64_MIN)}) ==
          "E_X,-42,-9223372036854775808\n");
}

TEST_CASE("a delimiter inside a value becomes escape_delimiter") {
    CHECK(line(format(",", "|"), "E_X", {str_param("v", "a,b,,c")}) == "E_X,a|b||c\n");
}

TEST_CASE("without escape_delimiter a delimiter inside a value becomes a space") {
    CHECK(line(format(), "E_X", {str_param("v", "a,b")}) == "E_X,a b\n");
}

TEST_CASE("newlines and carriage returns inside a value become spaces") {
    CHECK(line(format(), "E_X", {str_param("v", "a\nb\r\nc")}) == "E_X,a b  c\n");
}

TEST_CASE("a multi-character delimiter is replaced whole; a partial match is kept") {
    CHECK(line(format("::", "__"), "E_X", {str_param("v", "a:b::c:")}) == "E_X::a:b__c:\n");
}

TEST_CASE("an escape_delimiter longer than the delimiter fits in the bound") {
    std::string v(300, ',');
    std::string l = line(format(",", "<comma>"), "E_X", {str_param("v", v)});
    CHECK(l.size() == 4 + 300 * 7 + 1);
}

TEST_CASE("values of every length and offset are escaped as one byte at a time would") {
    // flat_line_write copies 8 bytes at a time while no byte needs a look: special bytes at
    // every position of a word, values from 0 to 40 bytes, unaligned starts, each delimiter.
    // "ab" is made of plain letters, so it is frequent; with no escape or an empty one, a
    // delimiter is written shorter than it was, and the words after it are no longer 1:1.
    std::mt19937 rng(7);
    const std::string alphabet = "abcdefgh,:;|\n\r";
    for (const char *delim : {",", "::", ";|;", "ab", ";|"}) {
        for (const char *escape : {(const char *)nullptr, "", "_", "<comma>"}) {
            const flat_format_t f = format(delim, escape);
            for (int round = 0; round < 600; ++round) {
                std::string store(48, 'z');
                size_t off = rng() % 8, len = rng() % 41;
                const int specials = rng() % 4; // 0: none, else about 1 in 2^(5-specials)
                for (size_t i = 0; i < len; ++i)
                    store[off + i] = specials && rng() % (1u << (5 - specials)) == 0
                                         ? alphabet[8 + rng() % 6]
                                         : alphabet[rng() % 8];
                std::string v = store.substr(off, len);
                const std::vector<evi_param_t> ps{str_param("v", v), int_param("n", round)};
                // The value is read in place, from an unaligned start inside a larger buffer.
                std::vector<evi_param_t> in_place = ps;
                in_place[0].s = {store.data() + off, len};
                std::string want = std::string("E_X") + delim + escaped(v, delim, escape) + delim +
                                   std::to_string(round) + "\n";
                INFO("delim ", delim, " escape ", escape ? escape : "(none)", " value ", v);
                REQUIRE(line(f, "E_X", in_place) == want);
            }
        }
    }
}

TEST_CASE("escaping changes the written copy only, never the event") {
    std::string v = "a,b\nc";
    std::vector<evi_param_t> ps{str_param("v", v)};
    line(format(), "E_X", ps);
    CHECK(std::string(ps[0].s.s, ps[0].s.len) == "a,b\nc");
}

TEST_CASE("a directory is below itself and its parents, not below a sibling prefix") {
    CHECK(flat_dir_is_below("/var/log/evi", "/var/log/evi") == 1);
    CHECK(flat_dir_is_below("/var/log/evi/sub", "/var/log/evi") == 1);
    CHECK(flat_dir_is_below("/var/log/evil", "/var/log/evi") == 0);
    CHECK(flat_dir_is_below("/var", "/var/log") == 0);
}

TEST_CASE("the root directory allows every directory") {
    CHECK(flat_dir_is_below("/etc", "/") == 1);
    CHECK(flat_dir_is_below("/", "/") == 1);
}

TEST_CASE("allowed_dirs is a comma-separated list; blanks and trailing slashes are dropped") {
    CHECK(entries(" /a/ , /b/c,,/d ") == std::vector<std::string>{"/a", "/b/c", "/d"});
    CHECK(entries("/") == std::vector<std::string>{"/"});
    CHECK(entries(" , ").empty());
}

TEST_CASE("a rotated file is named <base>.YYYYMMDD-HHMMSS in UTC") {
    char buf[64];
    CHECK(flat_rotated_name(buf, sizeof buf, "events.log", 0, 0) == 26);
    CHECK(std::string(buf) == "events.log.19700101-000000");
    flat_rotated_name(buf, sizeof buf, "f", 1795092300, 0);
    CHECK(std::string(buf) == "f.20261119-124500");
}

TEST_CASE("a rotated name already taken gets a sequence number") {
    char buf[64];
    flat_rotated_name(buf, sizeof buf, "f", 0, 3);
    CHECK(std::string(buf) == "f.19700101-000000.3");
}

TEST_CASE("file_permissions is three or four octal digits") {
    CHECK(flat_parse_mode("644") == 0644);
    CHECK(flat_parse_mode("0640") == 0640);
    CHECK(flat_parse_mode("600") == 0600);
    CHECK(flat_parse_mode("64") == -1);
    CHECK(flat_parse_mode("648") == -1);
    CHECK(flat_parse_mode("rw-") == -1);
    CHECK(flat_parse_mode("07777") == -1);
}
