// event_xmlrpc's bytes: socket address, XML-RPC body, HTTP request and response handling.
#include "xmlrpc_wire.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

evi_str_t str(const char *s) {
    return evi_str_t{s, std::char_traits<char>::length(s)};
}

evi_param_t sparam(const char *name, const char *value) {
    evi_param_t p{};
    p.name = str(name);
    p.type = EVI_VAL_STR;
    p.s = str(value);
    return p;
}

evi_param_t iparam(const char *name, int64_t value) {
    evi_param_t p{};
    p.name = str(name);
    p.type = EVI_VAL_INT;
    p.i = value;
    return p;
}

evi_event_t event(const char *name, const std::vector<evi_param_t> &params) {
    evi_event_t ev{};
    ev.name = str(name);
    ev.params = params.data();
    ev.nparams = params.size();
    return ev;
}

xmlrpc::Address parsed(const char *text) {
    xmlrpc::Address a;
    std::string err;
    bool ok = xmlrpc::parse_address(text, a, err);
    INFO(err);
    REQUIRE(ok);
    return a;
}

std::string parse_error(const char *text) {
    xmlrpc::Address a;
    std::string err;
    CHECK_FALSE(xmlrpc::parse_address(text, a, err));
    return err;
}

} // namespace

TEST_CASE("an address without a path posts to /RPC2") {
    auto a = parsed("127.0.0.1:8080:notify");
    CHECK(a.dest.host == "127.0.0.1");
    CHECK(a.dest.port == 8080);
    CHECK(a.path == "/RPC2");
    CHECK(a.method == "notify");
    CHECK(xmlrpc::print_address(a) == "127.0.0.1:8080:notify");
}

TEST_CASE("an address may name the path before the method") {
    auto a = parsed("localhost:80/api/xmlrpc:events.push");
    CHECK(a.dest.host == "localhost");
    CHECK(a.dest.port == 80);
    CHECK(a.path == "/api/xmlrpc");
    CHECK(a.method == "events.push");
    CHECK(xmlrpc::print_address(a) == "localhost:80/api/xmlrpc:events.push");
}

TEST_CASE("an IPv6 address is written in brackets") {
    auto a = parsed("[::1]:9000:m");
    CHECK(a.dest.host == "::1");
    CHECK(a.dest.bracketed);
    CHECK(a.dest.port == 9000);
    CHECK(xmlrpc::print_address(a) == "[::1]:9000:m");
}

TEST_CASE("malformed addresses are refused with a reason") {
    CHECK(parse_error("127.0.0.1:8080").find("METHOD") != std::string::npos);
    CHECK(parse_error("127.0.0.1:8080:").find("method is empty") != std::string::npos);
    CHECK(parse_error("127.0.0.1:0:m").find("port") != std::string::npos);
    CHECK(parse_error("127.0.0.1:65536:m").find("port") != std::string::npos);
    CHECK(parse_error("127.0.0.1:x:m").find("port") != std::string::npos);
    CHECK(parse_error(":80:m").find("host") != std::string::npos);
    CHECK(parse_error("[::1:80:m").find("]") != std::string::npos);
    CHECK(parse_error("[nope]:80:m").find("IPv6") != std::string::npos);
    CHECK(parse_error("h:80/p").find("METHOD") != std::string::npos);
    CHECK(parse_error("h:80:a b").find("spaces") != std::string::npos);
}

TEST_CASE("addresses match on host, port, path and method") {
    CHECK(xmlrpc::same_address(parsed("LocalHost:80:m"), parsed("localhost:80:m")));
    CHECK(xmlrpc::same_address(parsed("h:80:m"), parsed("h:80/RPC2:m")));
    CHECK_FALSE(xmlrpc::same_address(parsed("h:80:m"), parsed("h:81:m")));
    CHECK_FALSE(xmlrpc::same_address(parsed("h:80:m"), parsed("h:80:n")));
    CHECK_FALSE(xmlrpc::same_address(parsed("h:80/a:m"), parsed("h:80/b:m")));
}

TEST_CASE("the body is OpenSIPS's: event name first, then a name and a value per param") {
    std::vector<evi_param_t> ps{sparam("s", "hello"), iparam("n", 42)};
    CHECK(xmlrpc::build_body("some_method", event("E_XR", ps), false) ==
          "<?xml version=\"1.0\"?>\n"
          "<methodCall>\n"
          "<methodName>some_method</methodName>\n"
          "<params>\n"
          "<param>\n"
          "<value><string>E_XR</string></value>\n"
          "</param>\n"
          "<param>\n"
          "<name>s</name>\n"
          "<value><string>hello</string></value>\n"
          "</param>\n"
          "<param>\n"
          "<name>n</name>\n"
          "<value><int>42</int></value>\n"
          "</param>\n"
          "</params>\n"
          "</methodCall>");
}

TEST_CASE("with use_struct_param each named param is a one-member struct") {
    std::vector<evi_param_t> ps{sparam("s", "hello")};
    CHECK(xmlrpc::build_body("m", event("E_XR", ps), true) ==
          "<?xml version=\"1.0\"?>\n"
          "<methodCall>\n"
          "<methodName>m</methodName>\n"
          "<params>\n"
          "<param>\n"
          "<value><string>E_XR</string></value>\n"
          "</param>\n"
          "<param>\n"
          "<value><struct><member>\n"
          "<name>s</name>\n"
          "<value><string>hello</string></value>\n"
          "</member></struct></value>\n"
          "</param>\n"
          "</params>\n"
          "</methodCall>");
}

TEST_CASE("an event without params sends only its name") {
    CHECK(xmlrpc::build_body("m", event("E_NONE", {}), false) ==
          "<?xml version=\"1.0\"?>\n<methodCall>\n<methodName>m</methodName>\n<params>\n"
          "<param>\n<value><string>E_NONE</string></value>\n</param>\n</params>\n</methodCall>");
}

TEST_CASE("an unnamed param is a bare value, also in struct mode") {
    evi_param_t p = iparam("", 7);
    p.name = evi_str_t{nullptr, 0};
    std::vector<evi_param_t> ps{p};
    std::string expected = "<param>\n<value><int>7</int></value>\n</param>\n</params>";
    CHECK(xmlrpc::build_body("m", event("E", ps), false).find(expected) != std::string::npos);
    CHECK(xmlrpc::build_body("m", event("E", ps), true).find(expected) != std::string::npos);
}

TEST_CASE("negative integers are printed signed") {
    std::vector<evi_param_t> ps{iparam("n", -5), iparam("big", -9007199254740993LL)};
    std::string b = xmlrpc::build_body("m", event("E", ps), false);
    CHECK(b.find("<value><int>-5</int></value>") != std::string::npos);
    CHECK(b.find("<value><int>-9007199254740993</int></value>") != std::string::npos);
}

TEST_CASE("ampersands and angle brackets are escaped in values, names and the method") {
    std::vector<evi_param_t> ps{sparam("a<b", "x & <y> z")};
    std::string b = xmlrpc::build_body("m&<>", event("E_<&>", ps), false);
    CHECK(b.find("<methodName>m&amp;&lt;&gt;</methodName>") != std::string::npos);
    CHECK(b.find("<value><string>E_&lt;&amp;&gt;</string></value>") != std::string::npos);
    CHECK(b.find("<name>a&lt;b</name>\n<value><string>x &amp; &lt;y&gt; z</string></value>") !=
          std::string::npos);
}

TEST_CASE("quotes, tabs, line feeds and UTF-8 pass unchanged; CR becomes a character reference") {
    std::string out;
    xmlrpc::append_xml_escaped(out, "\"q\" 'a'\t\n\xC3\xA9\r");
    CHECK(out == "\"q\" 'a'\t\n\xC3\xA9&#13;");
}

TEST_CASE("control characters XML cannot carry are replaced by U+FFFD") {
    std::string out;
    xmlrpc::append_xml_escaped(out, std::string_view("a\x01"
                                                     "b\0c",
                                                     5));
    CHECK(out == "a\xEF\xBF\xBD"
                 "b\xEF\xBF\xBD"
                 "c");
}

TEST_CASE("the request is an HTTP/1.1 POST with length and keep-alive") {
    auto a = parsed("127.0.0.1:8080/x:m");
    CHECK(xmlrpc::build_request(a, "BODY", true) == "POST /x HTTP/1.1\r\n"
                                                    "Host: 127.0.0.1:8080\r\n"
                                                    "User-Agent: EVI event_xmlrpc\r\n"
                                                    "Content-Type: text/xml\r\n"
                                                    "Content-Length: 4\r\n"
                                                    "Connection: keep-alive\r\n"
                                                    "\r\n"
                                                    "BODY");
}

TEST_CASE("without keepalive the request asks the server to close, and IPv6 hosts keep brackets") {
    auto a = parsed("[::1]:81:m");
    std::string r = xmlrpc::build_request(a, "", false);
    CHECK(r.find("POST /RPC2 HTTP/1.1\r\nHost: [::1]:81\r\n") == 0);
    CHECK(r.find("Content-Length: 0\r\nConnection: close\r\n\r\n") != std::string::npos);
}

TEST_CASE("a response with Content-Length is complete once its body arrived") {
    std::string in = "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 5\r\n\r\nab";
    xmlrpc::HttpResponse r;
    std::string err;
    CHECK(xmlrpc::parse_http_response(in, false, r, err) == xmlrpc::HttpParse::NeedMore);
    in += "cde";
    REQUIRE(xmlrpc::parse_http_response(in, false, r, err) == xmlrpc::HttpParse::Complete);
    CHECK(r.status == 200);
    CHECK(r.reason == "OK");
    CHECK(r.body == "abcde");
    CHECK(r.keep_alive);
    CHECK(r.consumed == in.size());
}

TEST_CASE("a chunked response is reassembled") {
    std::string in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabc\r\n";
    xmlrpc::HttpResponse r;
    std::string err;
    CHECK(xmlrpc::parse_http_response(in, false, r, err) == xmlrpc::HttpParse::NeedMore);
    in += "A;ext=1\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n";
    REQUIRE(xmlrpc::parse_http_response(in, false, r, err) == xmlrpc::HttpParse::Complete);
    CHECK(r.body == "abc0123456789");
    CHECK(r.consumed == in.size());
}

TEST_CASE("an HTTP/1.0 response or Connection: close ends the keep-alive") {
    xmlrpc::HttpResponse r;
    std::string err;
    REQUIRE(xmlrpc::parse_http_response("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false, r,
                                        err) == xmlrpc::HttpParse::Complete);
    CHECK_FALSE(r.keep_alive);
    REQUIRE(xmlrpc::parse_http_response(
                "HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n", false, r,
                err) == xmlrpc::HttpParse::Complete);
    CHECK_FALSE(r.keep_alive);
    REQUIRE(xmlrpc::parse_http_response(
                "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", false, r,
                err) == xmlrpc::HttpParse::Complete);
    CHECK(r.keep_alive);
}

TEST_CASE("a response without length ends when the server closes") {
    std::string in = "HTTP/1.1 200 OK\r\n\r\n<methodResponse/>";
    xmlrpc::HttpResponse r;
    std::string err;
    CHECK(xmlrpc::parse_http_response(in, false, r, err) == xmlrpc::HttpParse::NeedMore);
    REQUIRE(xmlrpc::parse_http_response(in, true, r, err) == xmlrpc::HttpParse::Complete);
    CHECK(r.body == "<methodResponse/>");
    CHECK_FALSE(r.keep_alive);
}

TEST_CASE("an interim 100 Continue is skipped") {
    xmlrpc::HttpResponse r;
    std::string err;
    REQUIRE(
        xmlrpc::parse_http_response(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno",
            false, r, err) == xmlrpc::HttpParse::Complete);
    CHECK(r.status == 404);
    CHECK(r.body == "no");
}

TEST_CASE("a connection closed early or garbage is a bad response") {
    xmlrpc::HttpResponse r;
    std::string err;
    CHECK(xmlrpc::parse_http_response("", true, r, err) == xmlrpc::HttpParse::Bad);
    CHECK(err == "connection closed without a response");
    CHECK(xmlrpc::parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", true, r,
                                      err) == xmlrpc::HttpParse::Bad);
    CHECK(xmlrpc::parse_http_response("SSH-2.0-OpenSSH\r\n\r\n", false, r, err) ==
          xmlrpc::HttpParse::Bad);
    CHECK(err.find("not an HTTP response") == 0);
}

TEST_CASE("a 2xx methodResponse without fault is a delivery") {
    xmlrpc::HttpResponse r;
    r.status = 200;
    r.body = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><int>1</int>"
             "</value>\n</param>\n</params>\n</methodResponse>\n";
    std::string why;
    CHECK(xmlrpc::response_ok(r, why));
}

TEST_CASE("an HTTP error status is a failed delivery") {
    xmlrpc::HttpResponse r;
    r.status = 500;
    r.reason = "Internal Server Error";
    std::string why;
    CHECK_FALSE(xmlrpc::response_ok(r, why));
    CHECK(why == "HTTP 500 Internal Server Error");
}

TEST_CASE("an XML-RPC fault is a failed delivery and its code and string are reported") {
    xmlrpc::HttpResponse r;
    r.status = 200;
    r.body = "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member>\n"
             "<name>faultCode</name>\n<value><int>4</int></value>\n</member>\n<member>\n"
             "<name>faultString</name>\n<value><string>Too many parameters.</string></value>\n"
             "</member>\n</struct></value>\n</fault>\n</methodResponse>\n";
    std::string why;
    CHECK_FALSE(xmlrpc::response_ok(r, why));
    CHECK(why == "XML-RPC fault 4: Too many parameters.");
}

TEST_CASE("a 200 reply that is not XML-RPC is a failed delivery") {
    xmlrpc::HttpResponse r;
    r.status = 200;
    r.body = "<html>hello</html>";
    std::string why;
    CHECK_FALSE(xmlrpc::response_ok(r, why));
}

TEST_CASE("a fault string's XML entities are decoded for the log") {
    xmlrpc::HttpResponse r;
    r.status = 200;
    r.body = "<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>7"
             "</int></value></member><member><name>faultString</name><value><string>a &lt;b&gt; "
             "&amp; c</string></value></member></struct></value></fault></methodResponse>";
    std::string why;
    CHECK_FALSE(xmlrpc::response_ok(r, why));
    CHECK(why == "XML-RPC fault 7: a <b> & c");
}
