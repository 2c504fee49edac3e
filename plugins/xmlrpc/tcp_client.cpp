#include "tcp_client.h"

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

namespace evinet {

namespace {

constexpr int kSliceMs = 100; // how soon a wait notices drain()

std::atomic<Clock::rep> give_up_ticks{Deadline::max().time_since_epoch().count()};

Deadline give_up_time() {
    return Deadline(Clock::duration(give_up_ticks.load(std::memory_order_relaxed)));
}

/** Whole milliseconds to the deadline, rounded up: a poll() of that long ends at or after it. */
int ms_left(Deadline deadline) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return 0;
    return left.count() > 3600000 ? 3600000 : static_cast<int>(left.count());
}

/** poll() one fd until the deadline or the give-up time; returns revents, 0 when either came,
 *  -1 on error. Waits in slices of kSliceMs, so that a give-up time set meanwhile counts. */
int wait_fd(int fd, short events, Deadline deadline) {
    for (;;) {
        int left = ms_left(std::min(deadline, give_up_time()));
        pollfd p{fd, events, 0};
        int rc = ::poll(&p, 1, std::min(left, kSliceMs));
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return rc;
        if (rc > 0) return p.revents;
        if (left <= kSliceMs) return 0;
    }
}

/** Why a wait ended without the event it waited for. */
std::string timed_out(const std::string &what) {
    return giving_up() ? what + ": given up, evid is shutting down" : what + " timed out";
}

std::string errno_text(const char *what, int e) {
    return std::string(what) + ": " + std::strerror(e);
}

} // namespace

void drain(int64_t deadline_ms) {
    const Deadline when{std::chrono::milliseconds(deadline_ms)};
    give_up_ticks.store(when.time_since_epoch().count(), std::memory_order_relaxed);
}

bool giving_up() {
    return Clock::now() >= give_up_time();
}

std::string HostPort::print() const {
    std::string s = bracketed ? "[" + host + "]" : host;
    return s + ":" + std::to_string(port);
}

bool HostPort::same(const HostPort &o) const {
    return port == o.port && host.size() == o.host.size() &&
           ::strncasecmp(host.data(), o.host.data(), host.size()) == 0;
}

std::size_t parse_host_port(std::string_view text, HostPort &out, std::string &err) {
    std::size_t pos = 0;
    out = HostPort{};
    if (!text.empty() && text[0] == '[') {
        std::size_t close = text.find(']');
        if (close == std::string_view::npos) {
            err = "missing ']' after the IPv6 address";
            return 0;
        }
        out.host = std::string(text.substr(1, close - 1));
        out.bracketed = true;
        in6_addr a6;
        if (out.host.empty() || ::inet_pton(AF_INET6, out.host.c_str(), &a6) != 1) {
            err = "'" + out.host + "' is not an IPv6 address";
            return 0;
        }
        pos = close + 1;
    } else {
        std::size_t colon = text.find(':');
        if (colon == std::string_view::npos) {
            err = "expected HOST:PORT";
            return 0;
        }
        out.host = std::string(text.substr(0, colon));
        if (out.host.empty()) {
            err = "the host is empty";
            return 0;
        }
        for (char c : out.host) {
            if (c == '/' || c == '[' || c == ']' || static_cast<unsigned char>(c) <= ' ') {
                err = "'" + out.host + "' is not a host name or address";
                return 0;
            }
        }
        pos = colon;
    }
    if (pos >= text.size() || text[pos] != ':') {
        err = "expected ':' and a port after the host";
        return 0;
    }
    ++pos;
    std::size_t start = pos;
    unsigned long port = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9' && pos - start < 6)
        port = port * 10 + static_cast<unsigned>(text[pos++] - '0');
    if (pos == start || port == 0 || port > 65535 ||
        (pos < text.size() && text[pos] >= '0' && text[pos] <= '9')) {
        err = "the port must be a number from 1 to 65535";
        return 0;
    }
    out.port = static_cast<unsigned>(port);
    return pos;
}

bool TcpConnection::connect(const HostPort &dest, Deadline deadline, std::string &err) {
    close();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo *res = nullptr;
    std::string port = std::to_string(dest.port);
    int rc = ::getaddrinfo(dest.host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0) {
        err = "cannot resolve " + dest.host + ": " + ::gai_strerror(rc);
        return false;
    }
    err = "no address for " + dest.host;
    for (addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                          ai->ai_protocol);
        if (fd < 0) {
            err = errno_text("socket", errno);
            continue;
        }
        int ok = 0;
        if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            ok = 1;
        } else if (errno == EINPROGRESS) {
            int ev = wait_fd(fd, POLLOUT, deadline);
            if (ev == 0) {
                err = timed_out("connect to " + dest.print());
            } else if (ev < 0) {
                err = errno_text("poll", errno);
            } else {
                int soerr = 0;
                socklen_t len = sizeof soerr;
                ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
                if (soerr == 0)
                    ok = 1;
                else
                    err = "connect to " + dest.print() + ": " + std::strerror(soerr);
            }
        } else {
            err = "connect to " + dest.print() + ": " + std::strerror(errno);
        }
        if (ok) {
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            fd_ = fd;
            break;
        }
        ::close(fd);
        if (Clock::now() >= deadline) break;
    }
    ::freeaddrinfo(res);
    if (fd_ < 0) return false;
    err.clear();
    return true;
}

bool TcpConnection::send_all(std::string_view data, Deadline deadline, std::string &err) {
    if (fd_ < 0) {
        err = "not connected";
        return false;
    }
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int ev = wait_fd(fd_, POLLOUT, deadline);
            if (ev == 0) {
                err = timed_out("send");
                return false;
            }
            if (ev < 0) {
                err = errno_text("poll", errno);
                return false;
            }
            continue;
        }
        err = errno_text("send", errno);
        return false;
    }
    return true;
}

long TcpConnection::recv_some(std::string &buf, Deadline deadline, std::string &err) {
    if (fd_ < 0) {
        err = "not connected";
        return -1;
    }
    char tmp[16384];
    for (;;) {
        ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
        if (n > 0) {
            buf.append(tmp, static_cast<std::size_t>(n));
            return n;
        }
        if (n == 0) return 0;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            err = errno_text("recv", errno);
            return -1;
        }
        int ev = wait_fd(fd_, POLLIN, deadline);
        if (ev == 0) {
            err = giving_up() ? "no response: given up, evid is shutting down"
                              : "no response before the timeout";
            return -2;
        }
        if (ev < 0) {
            err = errno_text("poll", errno);
            return -1;
        }
    }
}

bool TcpConnection::read_pending(std::string &buf) {
    if (fd_ < 0) return false;
    char tmp[16384];
    for (;;) {
        ssize_t n = ::recv(fd_, tmp, sizeof tmp, MSG_DONTWAIT);
        if (n > 0) {
            buf.append(tmp, static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) return false;
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK;
    }
}

void TcpConnection::close() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

} // namespace evinet
