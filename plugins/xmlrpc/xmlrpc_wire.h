/*
 * xmlrpc_wire.h — the bytes of event_xmlrpc: socket address, XML-RPC body (OpenSIPS's layout,
 * XML-escaped), HTTP/1.1 request, HTTP response parsing and the XML-RPC outcome.
 * Pure functions, no I/O: the unit tests check them byte for byte.
 */
#ifndef EVI_XMLRPC_WIRE_H
#define EVI_XMLRPC_WIRE_H

#include "evi_plugin.h"
#include "tcp_client.h"

#include <cstddef>
#include <string>
#include <string_view>

namespace xmlrpc {

/** An address "HOST:PORT[/PATH]:METHOD" (after "xmlrpc:"). */
struct Address {
    evinet::HostPort dest;
    std::string path = "/RPC2"; /**< begins with '/' */
    bool path_written = false;  /**< the user wrote a path (print() shows it) */
    std::string method;
};

/** Parses an address; false with a sentence in err. */
bool parse_address(std::string_view text, Address &out, std::string &err);
/** The address as the user would write it (without "xmlrpc:"). */
std::string print_address(const Address &a);
/** Same destination, path and method. */
bool same_address(const Address &a, const Address &b);

/** Appends s with & < > escaped, CR kept as &#13;, and the other characters XML 1.0 cannot
 *  carry (control characters other than TAB and LF) replaced by U+FFFD. */
void append_xml_escaped(std::string &out, std::string_view s);

/** The methodCall body, one element per line as OpenSIPS writes it: the event name first,
 *  then each param with its <name> (or, with use_struct, as a one-member <struct>). */
std::string build_body(std::string_view method, const evi_event_t &ev, bool use_struct);

/** The HTTP/1.1 POST carrying body. */
std::string build_request(const Address &a, std::string_view body, bool keepalive);

/** A parsed HTTP response. */
struct HttpResponse {
    int status = 0;
    std::string reason;
    bool keep_alive = true; /**< the connection may carry the next request */
    std::string body;
    std::size_t consumed = 0; /**< bytes of the input the response took */
};

enum class HttpParse { NeedMore, Complete, Bad };

/**
 * Parses the response at the start of `in` (all bytes received so far; `eof` when the peer
 * closed). Interim 1xx responses are skipped; the body is read by Content-Length, chunked
 * encoding, or up to the close. Bad: err says why.
 */
HttpParse parse_http_response(std::string_view in, bool eof, HttpResponse &r, std::string &err);

/** Whether a complete response is a successful XML-RPC call: a 2xx status and a
 *  methodResponse without <fault>. Otherwise false and a sentence in why (with the fault's
 *  code and string when there is one). */
bool response_ok(const HttpResponse &r, std::string &why);

} // namespace xmlrpc

#endif
