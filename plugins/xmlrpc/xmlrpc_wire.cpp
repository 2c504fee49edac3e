#include "xmlrpc_wire.h"

#include <cctype>
#include <cstdint>
#include <strings.h>
#include <utility>

namespace xmlrpc {

namespace {

bool bad_token_char(char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= ' ' || u == 0x7f;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

/** Whether a comma-separated header value lists token (case-insensitive). */
bool header_has_token(std::string_view value, std::string_view token) {
    while (!value.empty()) {
        std::size_t comma = value.find(',');
        std::string_view item = trim(value.substr(0, comma));
        if (iequals(item, token)) return true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

/** Finds the end of a header block starting at pos: returns the index just after the blank
 *  line, or npos. Accepts CRLF and bare LF line ends. */
std::size_t header_block_end(std::string_view in, std::size_t pos) {
    std::size_t i = pos;
    while (i < in.size()) {
        std::size_t nl = in.find('\n', i);
        if (nl == std::string_view::npos) return std::string_view::npos;
        std::string_view line = in.substr(i, nl - i);
        if (line.empty() || line == "\r") return nl + 1;
        i = nl + 1;
    }
    return std::string_view::npos;
}

void append_int(std::string &out, int64_t v) {
    out += std::to_string(v);
}

} // namespace

bool parse_address(std::string_view text, Address &out, std::string &err) {
    out = Address{};
    std::size_t pos = evinet::parse_host_port(text, out.dest, err);
    if (pos == 0) {
        err += " (expected HOST:PORT[/PATH]:METHOD)";
        return false;
    }
    std::string_view rest = text.substr(pos);
    if (!rest.empty() && rest[0] == '/') {
        std::size_t colon = rest.rfind(':');
        if (colon == std::string_view::npos) {
            err = "missing ':METHOD' after the path (expected HOST:PORT[/PATH]:METHOD)";
            return false;
        }
        out.path = std::string(rest.substr(0, colon));
        out.path_written = true;
        for (char c : out.path) {
            if (bad_token_char(c)) {
                err = "the path may not contain spaces or control characters";
                return false;
            }
        }
        rest.remove_prefix(colon);
    }
    if (rest.empty() || rest[0] != ':') {
        err = "missing ':METHOD' (expected HOST:PORT[/PATH]:METHOD)";
        return false;
    }
    rest.remove_prefix(1);
    if (rest.empty()) {
        err = "the method is empty (expected HOST:PORT[/PATH]:METHOD)";
        return false;
    }
    for (char c : rest) {
        if (bad_token_char(c)) {
            err = "the method may not contain spaces or control characters";
            return false;
        }
    }
    out.method = std::string(rest);
    return true;
}

std::string print_address(const Address &a) {
    std::string s = a.dest.print();
    if (a.path_written) s += a.path;
    s += ':';
    s += a.method;
    return s;
}

bool same_address(const Address &a, const Address &b) {
    return a.dest.same(b.dest) && a.path == b.path && a.method == b.method;
}

void append_xml_escaped(std::string &out, std::string_view s) {
    for (char c : s) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '\r':
            out += "&#13;";
            break;
        case '\t':
        case '\n':
            out += c;
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20)
                out += "\xEF\xBF\xBD"; // U+FFFD: XML 1.0 has no way to carry it
            else
                out += c;
        }
    }
}

std::string build_body(std::string_view method, const evi_event_t &ev, bool use_struct) {
    std::string b;
    b.reserve(256 + ev.nparams * 96);
    b += "<?xml version=\"1.0\"?>\n<methodCall>\n<methodName>";
    append_xml_escaped(b, method);
    b += "</methodName>\n<params>\n<param>\n<value><string>";
    append_xml_escaped(b, std::string_view(ev.name.s ? ev.name.s : "", ev.name.len));
    b += "</string></value>\n</param>\n";
    for (std::size_t i = 0; i < ev.nparams; ++i) {
        const evi_param_t &p = ev.params[i];
        bool named = p.name.len > 0 && p.name.s;
        bool as_struct = named && use_struct;
        b += "<param>\n";
        if (as_struct) b += "<value><struct><member>\n";
        if (named) {
            b += "<name>";
            append_xml_escaped(b, std::string_view(p.name.s, p.name.len));
            b += "</name>\n";
        }
        b += "<value>";
        if (p.type == EVI_VAL_INT) {
            b += "<int>";
            append_int(b, p.i);
            b += "</int>";
        } else {
            b += "<string>";
            if (p.s.s) append_xml_escaped(b, std::string_view(p.s.s, p.s.len));
            b += "</string>";
        }
        b += "</value>\n";
        if (as_struct) b += "</member></struct></value>\n";
        b += "</param>\n";
    }
    b += "</params>\n</methodCall>";
    return b;
}

std::string build_request(const Address &a, std::string_view body, bool keepalive) {
    std::string r;
    r.reserve(body.size() + 200);
    r += "POST ";
    r += a.path;
    r += " HTTP/1.1\r\nHost: ";
    r += a.dest.print();
    r += "\r\nUser-Agent: EVI event_xmlrpc\r\nContent-Type: text/xml\r\nContent-Length: ";
    r += std::to_string(body.size());
    r += keepalive ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n";
    r += body;
    return r;
}

HttpParse parse_http_response(std::string_view in, bool eof, HttpResponse &r, std::string &err) {
    constexpr std::size_t max_headers = std::size_t{64} * 1024;
    constexpr std::size_t max_body = std::size_t{4} * 1024 * 1024;
    std::size_t pos = 0;
    for (;;) {
        r = HttpResponse{};
        std::size_t end = header_block_end(in, pos);
        if (end == std::string_view::npos) {
            if (in.size() - pos > max_headers) {
                err = "response headers too long";
                return HttpParse::Bad;
            }
            if (eof) {
                err = in.size() == pos ? "connection closed without a response"
                                       : "connection closed in the response headers";
                return HttpParse::Bad;
            }
            return HttpParse::NeedMore;
        }
        std::string_view head = in.substr(pos, end - pos);
        std::size_t nl = head.find('\n');
        std::string_view status_line = trim(head.substr(0, nl));
        // "HTTP/1.1 200 OK"
        if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/" ||
            status_line[8] != ' ' || !std::isdigit(static_cast<unsigned char>(status_line[9])) ||
            !std::isdigit(static_cast<unsigned char>(status_line[10])) ||
            !std::isdigit(static_cast<unsigned char>(status_line[11]))) {
            err = "not an HTTP response: '" + std::string(status_line.substr(0, 80)) + "'";
            return HttpParse::Bad;
        }
        r.status =
            (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
        r.reason = std::string(trim(status_line.substr(12)));
        bool http10 = status_line.substr(5, 3) == "1.0";
        r.keep_alive = !http10;
        bool chunked = false;
        bool have_length = false;
        std::size_t length = 0;
        std::string_view hs = head.substr(nl + 1);
        while (!hs.empty()) {
            std::size_t e = hs.find('\n');
            std::string_view line = trim(hs.substr(0, e));
            hs.remove_prefix(e == std::string_view::npos ? hs.size() : e + 1);
            if (line.empty()) continue;
            std::size_t colon = line.find(':');
            if (colon == std::string_view::npos) continue;
            std::string_view name = trim(line.substr(0, colon));
            std::string_view value = trim(line.substr(colon + 1));
            if (iequals(name, "Content-Length")) {
                if (value.empty() || value.size() > 12) {
                    err = "bad Content-Length";
                    return HttpParse::Bad;
                }
                length = 0;
                for (char c : value) {
                    if (c < '0' || c > '9') {
                        err = "bad Content-Length";
                        return HttpParse::Bad;
                    }
                    length = length * 10 + static_cast<std::size_t>(c - '0');
                }
                have_length = true;
            } else if (iequals(name, "Transfer-Encoding")) {
                chunked = header_has_token(value, "chunked");
            } else if (iequals(name, "Connection")) {
                if (header_has_token(value, "close"))
                    r.keep_alive = false;
                else if (header_has_token(value, "keep-alive"))
                    r.keep_alive = true;
            }
        }
        if (r.status >= 100 && r.status < 200) {
            pos = end; // interim response (100 Continue…): the real one follows
            continue;
        }
        if (r.status == 204 || r.status == 304) {
            r.consumed = end;
            return HttpParse::Complete;
        }
        if (chunked) {
            std::size_t p = end;
            for (;;) {
                std::size_t le = in.find('\n', p);
                if (le == std::string_view::npos)
                    return eof ? (err = "connection closed in a chunked body", HttpParse::Bad)
                               : HttpParse::NeedMore;
                std::string_view size_line = trim(in.substr(p, le - p));
                std::size_t semi = size_line.find(';');
                size_line = trim(size_line.substr(0, semi));
                std::size_t size = 0;
                if (size_line.empty() || size_line.size() > 8) {
                    err = "bad chunk size";
                    return HttpParse::Bad;
                }
                for (char c : size_line) {
                    int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                            : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
                            : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                                        : -1;
                    if (d < 0) {
                        err = "bad chunk size";
                        return HttpParse::Bad;
                    }
                    size = size * 16 + static_cast<std::size_t>(d);
                }
                p = le + 1;
                if (size == 0) {
                    std::size_t tend = header_block_end(in, p); // trailers, then a blank line
                    if (tend == std::string_view::npos)
                        return eof ? (err = "connection closed in a chunked body", HttpParse::Bad)
                                   : HttpParse::NeedMore;
                    r.consumed = tend;
                    return HttpParse::Complete;
                }
                if (r.body.size() + size > max_body) {
                    err = "response body too large";
                    return HttpParse::Bad;
                }
                if (in.size() < p + size + 1)
                    return eof ? (err = "connection closed in a chunked body", HttpParse::Bad)
                               : HttpParse::NeedMore;
                r.body.append(in.substr(p, size));
                p += size;
                if (in[p] == '\r') {
                    if (in.size() < p + 2)
                        return eof ? (err = "connection closed in a chunked body", HttpParse::Bad)
                                   : HttpParse::NeedMore;
                    ++p;
                }
                if (in[p] != '\n') {
                    err = "chunk not followed by a line end";
                    return HttpParse::Bad;
                }
                ++p;
            }
        }
        if (have_length) {
            if (length > max_body) {
                err = "response body too large";
                return HttpParse::Bad;
            }
            if (in.size() - end < length) {
                if (eof) {
                    err = "connection closed before the end of the response body";
                    return HttpParse::Bad;
                }
                return HttpParse::NeedMore;
            }
            r.body = std::string(in.substr(end, length));
            r.consumed = end + length;
            return HttpParse::Complete;
        }
        // Neither length nor chunks: the body ends when the server closes.
        r.keep_alive = false;
        if (in.size() - end > max_body) {
            err = "response body too large";
            return HttpParse::Bad;
        }
        if (!eof) return HttpParse::NeedMore;
        r.body = std::string(in.substr(end));
        r.consumed = in.size();
        return HttpParse::Complete;
    }
}

namespace {

/** The text of the <value> that follows `after` in s (tags such as <string> removed). */
std::string value_after(std::string_view s, std::string_view after) {
    std::size_t p = s.find(after);
    if (p == std::string_view::npos) return {};
    p = s.find("<value>", p);
    if (p == std::string_view::npos) return {};
    p += 7;
    std::size_t e = s.find("</value>", p);
    if (e == std::string_view::npos) return {};
    std::string_view v = trim(s.substr(p, e - p));
    if (!v.empty() && v.front() == '<') { // <string>x</string>, <int>4</int>…
        std::size_t gt = v.find('>');
        std::size_t lt = v.rfind('<');
        if (gt != std::string_view::npos && lt != std::string_view::npos && lt > gt)
            v = v.substr(gt + 1, lt - gt - 1);
        else if (v.back() == '>')
            v = {}; // <string/>
    }
    std::string text;
    for (std::size_t i = 0; i < v.size() && text.size() < 200; ++i) {
        if (v[i] == '&') {
            static const std::pair<std::string_view, char> entities[] = {
                {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}};
            bool done = false;
            for (const auto &[entity, c] : entities) {
                if (v.substr(i, entity.size()) == entity) {
                    text += c;
                    i += entity.size() - 1;
                    done = true;
                    break;
                }
            }
            if (done) continue;
        }
        text += v[i];
    }
    return text;
}

} // namespace

bool response_ok(const HttpResponse &r, std::string &why) {
    if (r.status < 200 || r.status > 299) {
        why = "HTTP " + std::to_string(r.status) + (r.reason.empty() ? "" : " " + r.reason);
        return false;
    }
    std::string_view body = r.body;
    if (body.find("<fault>") != std::string_view::npos) {
        why = "XML-RPC fault";
        std::string code = value_after(body, "<name>faultCode</name>");
        std::string text = value_after(body, "<name>faultString</name>");
        if (!code.empty()) why += " " + code;
        if (!text.empty()) why += ": " + text;
        return false;
    }
    if (body.find("<methodResponse") == std::string_view::npos) {
        why = "the reply is not an XML-RPC methodResponse";
        return false;
    }
    return true;
}

} // namespace xmlrpc
