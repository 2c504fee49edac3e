// The TCP client shared by event_xmlrpc and event_stream, against loopback listeners.
#include "tcp_client.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace {

/** A loopback listener on an ephemeral port. */
struct Listener {
    int fd = -1;
    unsigned port = 0;
    Listener() {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd, 4) == 0);
        socklen_t len = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
        port = ntohs(a.sin_port);
    }
    ~Listener() { ::close(fd); }
    int accept() { return ::accept(fd, nullptr, nullptr); }
};

evinet::HostPort loopback(unsigned port) {
    evinet::HostPort hp;
    hp.host = "127.0.0.1";
    hp.port = port;
    return hp;
}

} // namespace

TEST_CASE("bytes sent arrive at the peer and its answer is read") {
    Listener l;
    evinet::TcpConnection c;
    std::string err;
    REQUIRE(c.connect(loopback(l.port), evinet::deadline_in(1000), err));
    int peer = l.accept();
    REQUIRE(peer >= 0);
    REQUIRE(c.send_all("ping", evinet::deadline_in(1000), err));
    char buf[8] = {};
    CHECK(::recv(peer, buf, sizeof buf, 0) == 4);
    CHECK(std::string(buf, 4) == "ping");
    CHECK(::send(peer, "pong", 4, 0) == 4);
    std::string in;
    CHECK(c.recv_some(in, evinet::deadline_in(1000), err) == 4);
    CHECK(in == "pong");
    ::close(peer);
}

TEST_CASE("a refused connection fails with the reason") {
    unsigned port;
    {
        Listener l;
        port = l.port;
    } // closed: nothing listens there now
    evinet::TcpConnection c;
    std::string err;
    CHECK_FALSE(c.connect(loopback(port), evinet::deadline_in(1000), err));
    CHECK(err.find("Connection refused") != std::string::npos);
    CHECK_FALSE(c.is_open());
}

TEST_CASE("waiting for an answer stops at the deadline") {
    Listener l;
    evinet::TcpConnection c;
    std::string err;
    REQUIRE(c.connect(loopback(l.port), evinet::deadline_in(1000), err));
    std::string in;
    auto t0 = evinet::Clock::now();
    CHECK(c.recv_some(in, evinet::deadline_in(100), err) == -2);
    auto waited = evinet::Clock::now() - t0;
    CHECK(waited >= std::chrono::milliseconds(90));
    CHECK(waited < std::chrono::milliseconds(1000));
    CHECK(err == "no response before the timeout");
}

TEST_CASE("an idle connection the peer closed is seen as unusable") {
    Listener l;
    evinet::TcpConnection c;
    std::string err;
    REQUIRE(c.connect(loopback(l.port), evinet::deadline_in(1000), err));
    int peer = l.accept();
    std::string stray;
    CHECK(c.read_pending(stray));
    CHECK(stray.empty());
    ::close(peer);
    ::usleep(50000);
    CHECK_FALSE(c.read_pending(stray));
}

TEST_CASE("a peer closing the connection reads as zero bytes") {
    Listener l;
    evinet::TcpConnection c;
    std::string err;
    REQUIRE(c.connect(loopback(l.port), evinet::deadline_in(1000), err));
    ::close(l.accept());
    std::string in;
    CHECK(c.recv_some(in, evinet::deadline_in(1000), err) == 0);
}
