/*
 * tcp_client.h — a blocking TCP client with deadlines, for the blocking transports
 * (event_xmlrpc, event_stream). Plain POSIX sockets; every wait is bounded by a deadline.
 *
 * Used by one thread at a time (the caller serialises: one delivery worker per socket,
 * or a mutex per destination). Nothing here logs: errors come back as text.
 */
#ifndef EVI_TCP_CLIENT_H
#define EVI_TCP_CLIENT_H

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace evinet {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

inline Deadline deadline_in(unsigned ms) {
    return Clock::now() + std::chrono::milliseconds(ms);
}

/**
 * The module's drain() hook (evi_module_t.drain), for both modules that use this client: from
 * now on every wait of every connection also ends at the host's shutdown deadline
 * (CLOCK_MONOTONIC ms), so that a stalled peer cannot hold evid beyond shutdown_timeout. A wait
 * that began earlier notices within 100 ms. Nothing else sets it.
 */
void drain(int64_t deadline_ms);
/** The give-up time has come: a wait that ended now ended for shutdown, not for its timeout. */
bool giving_up();

/** A destination as written in a socket address. */
struct HostPort {
    std::string host;       /**< without brackets: "127.0.0.1", "::1", "example.com" */
    bool bracketed = false; /**< written as "[::1]" (an IPv6 literal) */
    unsigned port = 0;

    /** "host:port", or "[v6]:port" when written in brackets (also the HTTP Host header). */
    std::string print() const;
    /** Same destination: host compared case-insensitively, same port. */
    bool same(const HostPort &o) const;
};

/**
 * Parses "HOST:PORT" at the start of `text` (HOST may be "[v6 literal]"). The port ends at the
 * first character that is not a digit. Returns the number of characters consumed, or 0 and a
 * sentence in err.
 */
std::size_t parse_host_port(std::string_view text, HostPort &out, std::string &err);

/** One TCP connection. Closed on destruction. */
class TcpConnection {
  public:
    TcpConnection() = default;
    ~TcpConnection() { close(); }
    TcpConnection(const TcpConnection &) = delete;
    TcpConnection &operator=(const TcpConnection &) = delete;

    bool is_open() const { return fd_ >= 0; }

    /** Resolves the host (getaddrinfo) and connects to the first address that answers before
     *  the deadline. False with a sentence in err otherwise. */
    bool connect(const HostPort &dest, Deadline deadline, std::string &err);

    /** Writes all of data before the deadline. False (err) on error, timeout or a closed peer. */
    bool send_all(std::string_view data, Deadline deadline, std::string &err);

    /** Waits until data arrives or the deadline passes. Returns the number of bytes appended
     *  to buf (> 0), 0 when the peer closed the connection, -1 on error, -2 when the deadline
     *  passed (err says which). */
    long recv_some(std::string &buf, Deadline deadline, std::string &err);

    /** Without waiting: appends what the peer already sent to buf. Returns false when the
     *  peer has closed the connection or it failed (an idle keep-alive connection that is
     *  no longer usable). */
    bool read_pending(std::string &buf);

    void close();

  private:
    int fd_ = -1;
};

} // namespace evinet

#endif
