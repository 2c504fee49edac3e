/*
 * stream_wire.h — the bytes of event_stream: socket address "HOST:PORT[/METHOD]", the
 * JSON-RPC payload (OpenSIPS's event_stream layout), and the scanner that cuts replies out of
 * the TCP byte stream (JSON values back to back, as OpenSIPS reads them). Pure functions.
 */
#ifndef EVI_STREAM_WIRE_H
#define EVI_STREAM_WIRE_H

#include "evi_plugin.h"
#include "tcp_client.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace stream {

/** An address "HOST:PORT[/METHOD]" (after "tcp:"). */
struct Address {
    evinet::HostPort dest;
    std::string method; /**< empty: the event's name is the method */
};

bool parse_address(std::string_view text, Address &out, std::string &err);
std::string print_address(const Address &a);
bool same_address(const Address &a, const Address &b);

/** Appends s as a JSON string (with quotes): " and \ escaped, \b \f \n \r \t, the other
 *  control characters as \u00XX (lowercase hex); / and UTF-8 bytes as they are. */
void append_json_string(std::string &out, std::string_view s);

/**
 * The JSON-RPC message for an event, compact:
 *   {["id":ID,]"jsonrpc":"2.0","method":METHOD[,"params":…]}
 * `id` 0 means a notification (no id member). params is an array when the first event param
 * is unnamed, an object otherwise, in the event's order; absent when the event has no params
 * and no event_param. A non-empty `event_param` adds the event name first: as
 * "event_param":"E_NAME" in an object, as the first element of an array.
 */
std::string build_payload(std::string_view method, const evi_event_t &ev, int64_t id,
                          std::string_view event_param);

/** What the client needs of one reply. */
struct Reply {
    bool has_id = false;
    int64_t id = 0;
    bool is_error = false;  /**< an "error" member that is not null */
    std::string error_text; /**< the error member's JSON text (shortened), for the log */
};

enum class Scan { Complete, Incomplete, Invalid };

/**
 * Scans one JSON value at the start of buf (after whitespace). Complete: `consumed` is the
 * number of bytes it took (with the whitespace before it) and `r` describes it when it is an
 * object. Incomplete: more bytes are needed (`consumed` counts the leading whitespace only).
 * Invalid: the stream is not JSON.
 */
Scan scan_reply(std::string_view buf, std::size_t &consumed, Reply &r);

} // namespace stream

#endif
