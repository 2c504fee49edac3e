// evi-bench-tool: the raw baselines, receivers and load clients of scripts/bench/run.
// Plain POSIX sockets (no Boost) so that it compiles in a second. Every subcommand prints one
// JSON object on stdout when it is done; receivers print {"ready":1} first.
//
//   write FILE N [BATCH [IDLE [PWRITE]]]  one write() per pre-formatted flatstore line (BATCH >
//                                 0: one write() per BATCH bytes of lines, the batched
//                                 baseline); IDLE 1 keeps a second, sleeping thread alive
//                                 meanwhile, as in any threaded daemon (the kernel then takes a
//                                 file reference, and for write() the file-position lock, per
//                                 call); PWRITE 1 calls pwrite() instead, as event_flatstore does
//   sendto HOST PORT N [MMSG]     one sendto() per pre-formatted JSON payload (MMSG > 0:
//                                 sendmmsg() of MMSG datagrams; MMSG < 0: send() on a socket
//                                 connected to the destination, as event_datagram's udp)
//   both FILE HOST PORT N         write() + sendto() per event (virtual PARALLEL baseline)
//   udpsink PORT EXPECT IDLE_MS [LAT]  count datagrams until EXPECT arrived or IDLE_MS without
//                                 one (LAT=1: payloads carry "t":<CLOCK_REALTIME ns>; report
//                                 latency percentiles)
//   http-load HOST PORT CONNS TOTAL keepalive|close PATH BODY [RATE]
//                                 POST BODY (may contain @SEQ@ and @TS@) TOTAL times over CONNS
//                                 connections; RATE > 0 paces the total to RATE calls/s
//   http-sink PORT [EXPECT IDLE_MS]  fast HTTP/1.1 keep-alive sink (answers a fixed XML-RPC
//                                 reply); counts requests until EXPECT, IDLE_MS without one, or
//                                 SIGTERM/SIGINT
#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <thread>
#include <time.h>
#include <unistd.h>
#include <vector>

namespace {

double now_mono() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}
double now_real() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}
int64_t now_real_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
double cpu_self() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

// The event of every scenario: E_BENCH with callid, from, seq (as the script raises it).
std::string flat_line(long i) {
    return "E_BENCH,bench-" + std::to_string(i) + ",sip:alice@example.com," + std::to_string(i) +
           "\n";
}
std::string json_payload(long i) {
    return R"({"jsonrpc":"2.0","method":"E_BENCH","params":{"callid":"bench-)" + std::to_string(i) +
           R"(","from":"sip:alice@example.com","seq":)" + std::to_string(i) + "}}";
}

void report_loop(long n, double wall, double cpu, long failed) {
    std::printf("{\"events\":%ld,\"wall_s\":%.6f,\"cpu_s\":%.6f,\"failed\":%ld}\n", n, wall, cpu,
                failed);
}

int cmd_write(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *path = argv[0];
    long n = std::atol(argv[1]);
    size_t batch = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 0;
    bool use_pwrite = argc > 4 && std::atoi(argv[4]) == 1;
    std::atomic<bool> idle_stop{false};
    std::thread idle;
    if (argc > 3 && std::atoi(argv[3]) == 1)
        idle = std::thread([&] {
            while (!idle_stop.load())
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
        });
    std::vector<std::string> lines;
    lines.reserve(n);
    for (long i = 0; i < n; ++i)
        lines.push_back(flat_line(i));
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return std::perror("open"), 1;
    long failed = 0;
    double c0 = cpu_self(), t0 = now_mono();
    if (batch == 0) {
        // O_APPEND: pwrite() appends whatever the offset (pwrite(2), BUGS).
        for (const auto &l : lines)
            if ((use_pwrite ? pwrite(fd, l.data(), l.size(), 0) : write(fd, l.data(), l.size())) !=
                ssize_t(l.size()))
                ++failed;
    } else {
        std::string buf;
        buf.reserve(batch);
        for (const auto &l : lines) {
            if (buf.size() + l.size() > batch) {
                if (write(fd, buf.data(), buf.size()) != ssize_t(buf.size())) ++failed;
                buf.clear();
            }
            buf += l;
        }
        if (!buf.empty() && write(fd, buf.data(), buf.size()) != ssize_t(buf.size())) ++failed;
    }
    double t1 = now_mono(), c1 = cpu_self();
    close(fd);
    if (idle.joinable()) {
        idle_stop = true;
        idle.join();
    }
    report_loop(n, t1 - t0, c1 - c0, failed);
    return 0;
}

sockaddr_in addr4(const char *host, int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    inet_pton(AF_INET, host, &a.sin_addr);
    return a;
}

// A datagram destination: PORT on HOST, or a Unix socket when PORT starts with '/'.
struct Dest {
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family = AF_INET;
    Dest(const char *host, const char *port) {
        if (port[0] == '/') {
            auto *u = reinterpret_cast<sockaddr_un *>(&ss);
            u->sun_family = AF_UNIX;
            std::snprintf(u->sun_path, sizeof u->sun_path, "%s", port);
            len = sizeof(sockaddr_un);
            family = AF_UNIX;
        } else {
            auto a = addr4(host, std::atoi(port));
            std::memcpy(&ss, &a, sizeof a);
            len = sizeof a;
        }
    }
    sockaddr *sa() { return reinterpret_cast<sockaddr *>(&ss); }
};

int cmd_sendto(int argc, char **argv) {
    if (argc < 3) return 2;
    Dest a(argv[0], argv[1]);
    long n = std::atol(argv[2]);
    int mmsg = argc > 3 ? std::atoi(argv[3]) : 0;
    std::vector<std::string> payloads;
    payloads.reserve(n);
    for (long i = 0; i < n; ++i)
        payloads.push_back(json_payload(i));
    int fd = socket(a.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    long failed = 0;
    if (mmsg < 0 && connect(fd, a.sa(), a.len) < 0) {
        std::fprintf(stderr, "connect: %s\n", std::strerror(errno));
        return 1;
    }
    double c0 = cpu_self(), t0 = now_mono();
    if (mmsg < 0) {
        for (const auto &p : payloads)
            if (send(fd, p.data(), p.size(), 0) < 0) ++failed;
    } else if (mmsg == 0) {
        for (const auto &p : payloads)
            while (sendto(fd, p.data(), p.size(), 0, a.sa(), a.len) < 0) {
                // A Unix receiver applies back-pressure (EAGAIN/ENOBUFS): wait, as a
                // non-dropping sender would; UDP never gets here on loopback.
                if (errno != EAGAIN && errno != ENOBUFS) {
                    ++failed;
                    break;
                }
                usleep(50);
            }
    } else {
        std::vector<mmsghdr> msgs(mmsg);
        std::vector<iovec> iov(mmsg);
        for (long i = 0; i < n; i += mmsg) {
            int k = int(std::min<long>(mmsg, n - i));
            for (int j = 0; j < k; ++j) {
                iov[j] = {payloads[i + j].data(), payloads[i + j].size()};
                msgs[j] = {};
                msgs[j].msg_hdr.msg_name = a.sa();
                msgs[j].msg_hdr.msg_namelen = a.len;
                msgs[j].msg_hdr.msg_iov = &iov[j];
                msgs[j].msg_hdr.msg_iovlen = 1;
            }
            int sent = sendmmsg(fd, msgs.data(), k, 0);
            if (sent < k) failed += k - std::max(sent, 0);
        }
    }
    double t1 = now_mono(), c1 = cpu_self();
    close(fd);
    report_loop(n, t1 - t0, c1 - c0, failed);
    return 0;
}

// write FILE + sendto per event: the baseline of virtual PARALLEL (udp + flatstore).
int cmd_both(int argc, char **argv) {
    if (argc < 4) return 2;
    const char *path = argv[0];
    auto a = addr4(argv[1], std::atoi(argv[2]));
    long n = std::atol(argv[3]);
    std::vector<std::string> lines, payloads;
    lines.reserve(n);
    payloads.reserve(n);
    for (long i = 0; i < n; ++i) {
        lines.push_back(flat_line(i));
        payloads.push_back(json_payload(i));
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0644);
    int sfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || sfd < 0) return std::perror("open"), 1;
    long failed = 0;
    double c0 = cpu_self(), t0 = now_mono();
    for (long i = 0; i < n; ++i) {
        if (write(fd, lines[i].data(), lines[i].size()) != ssize_t(lines[i].size())) ++failed;
        if (sendto(sfd, payloads[i].data(), payloads[i].size(), 0, reinterpret_cast<sockaddr *>(&a),
                   sizeof a) < 0)
            ++failed;
    }
    double t1 = now_mono(), c1 = cpu_self();
    close(fd);
    close(sfd);
    report_loop(n, t1 - t0, c1 - c0, failed);
    return 0;
}

volatile sig_atomic_t g_stop = 0;
void on_signal(int) {
    g_stop = 1;
}

// Latency: the payload carries "t":<ns> (MI raise_event param) — find it.
int64_t find_ts(const char *p, size_t len) {
    static const char key[] = "\"t\":";
    const char *end = p + len;
    for (const char *q = p; q + 4 < end; ++q) {
        if (std::memcmp(q, key, 4) == 0) {
            q += 4;
            if (q < end && *q == '"') ++q;
            int64_t v = 0;
            while (q < end && *q >= '0' && *q <= '9')
                v = v * 10 + (*q++ - '0');
            return v;
        }
    }
    return -1;
}

int cmd_udpsink(int argc, char **argv) {
    if (argc < 3) return 2;
    Dest a("127.0.0.1", argv[0]);
    long expect = std::atol(argv[1]);
    int idle_ms = std::atoi(argv[2]);
    bool lat = argc > 3 && std::atoi(argv[3]) != 0;
    int fd = socket(a.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int sz = 64 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    if (a.family == AF_UNIX) unlink(argv[0]);
    if (bind(fd, a.sa(), a.len) != 0) return std::perror("bind"), 1;
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    std::printf("{\"ready\":1}\n");
    std::fflush(stdout);
    constexpr int B = 64;
    static char bufs[B][2048];
    mmsghdr msgs[B];
    iovec iov[B];
    long received = 0;
    uint64_t bytes = 0;
    double first = 0, last = 0;
    std::vector<int64_t> lats;
    if (lat) lats.reserve(expect > 0 ? expect : 1 << 20);
    double last_seen = now_mono();
    while (!g_stop && (expect <= 0 || received < expect)) {
        pollfd pfd{fd, POLLIN, 0};
        int r = poll(&pfd, 1, 50);
        if (r <= 0) {
            if (received > 0 && (now_mono() - last_seen) * 1000 > idle_ms) break;
            if (received == 0 && (now_mono() - last_seen) * 1000 > idle_ms * 20) break;
            continue;
        }
        for (int j = 0; j < B; ++j) {
            iov[j] = {bufs[j], sizeof bufs[j]};
            msgs[j] = {};
            msgs[j].msg_hdr.msg_iov = &iov[j];
            msgs[j].msg_hdr.msg_iovlen = 1;
        }
        int k = recvmmsg(fd, msgs, B, MSG_DONTWAIT, nullptr);
        if (k <= 0) continue;
        double t = now_real();
        if (received == 0) first = t;
        last = t;
        last_seen = now_mono();
        received += k;
        for (int j = 0; j < k; ++j) {
            bytes += msgs[j].msg_len;
            if (lat) {
                int64_t ts = find_ts(bufs[j], msgs[j].msg_len);
                if (ts > 0) lats.push_back(now_real_ns() - ts);
            }
        }
    }
    std::printf("{\"received\":%ld,\"bytes\":%llu,\"first\":%.6f,\"last\":%.6f", received,
                static_cast<unsigned long long>(bytes), first, last);
    if (lat && !lats.empty()) {
        std::sort(lats.begin(), lats.end());
        auto pct = [&](double p) {
            size_t i = std::min(lats.size() - 1, size_t(p * double(lats.size())));
            return lats[i] / 1000.0;
        };
        std::printf(",\"lat_us\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}", pct(0.5),
                    pct(0.99), pct(0.999), lats.back() / 1000.0);
    }
    std::printf("}\n");
    return 0;
}

int connect_tcp(const sockaddr_in &a) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, reinterpret_cast<const sockaddr *>(&a), sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // A server that stops answering must fail the run, not hang it.
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

bool send_all(int fd, const char *p, size_t len) {
    while (len) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w <= 0) {
            if (w < 0 && errno == EINTR) continue;
            return false;
        }
        p += w;
        len -= size_t(w);
    }
    return true;
}

// Reads one HTTP response (Content-Length or chunked-free bodies only). Returns the status,
// 0 on connection error. `buf` keeps bytes that belong to the next response.
int read_response(int fd, std::string &buf, bool &server_closes) {
    for (;;) {
        auto hdr_end = buf.find("\r\n\r\n");
        if (hdr_end != std::string::npos) {
            int status = std::atoi(buf.c_str() + 9);
            size_t clen = 0;
            server_closes = false;
            std::string head = buf.substr(0, hdr_end);
            for (auto &c : head)
                c = char(std::tolower(static_cast<unsigned char>(c)));
            auto p = head.find("content-length:");
            if (p != std::string::npos) clen = std::strtoul(head.c_str() + p + 15, nullptr, 10);
            if (head.find("connection: close") != std::string::npos) server_closes = true;
            size_t total = hdr_end + 4 + clen;
            while (buf.size() < total) {
                char tmp[16384];
                ssize_t r = recv(fd, tmp, sizeof tmp, 0);
                if (r <= 0) return 0;
                buf.append(tmp, size_t(r));
            }
            buf.erase(0, total);
            return status;
        }
        char tmp[16384];
        ssize_t r = recv(fd, tmp, sizeof tmp, 0);
        if (r <= 0) return 0;
        buf.append(tmp, size_t(r));
    }
}

std::string replace_all(std::string s, const std::string &from, const std::string &to) {
    for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size())
        s.replace(p, from.size(), to);
    return s;
}

int cmd_http_load(int argc, char **argv) {
    if (argc < 7) return 2;
    auto a = addr4(argv[0], std::atoi(argv[1]));
    int conns = std::max(1, std::atoi(argv[2]));
    long total = std::atol(argv[3]);
    bool keepalive = std::strcmp(argv[4], "keepalive") == 0;
    std::string path = argv[5];
    std::string body_tpl = argv[6];
    double rate = argc > 7 ? std::atof(argv[7]) : 0;
    bool templated = body_tpl.find('@') != std::string::npos;
    std::atomic<long> next{0}, ok{0}, errors{0}, reconnects{0};
    std::atomic<bool> timed_out{false};
    double t0 = now_mono(), c0 = cpu_self();
    auto worker = [&] {
        int fd = -1;
        std::string buf;
        std::string req;
        for (;;) {
            long i = next.fetch_add(1);
            if (i >= total || timed_out) break;
            if (rate > 0) {
                double due = t0 + double(i) / rate;
                double d = due - now_mono();
                if (d > 0) usleep(useconds_t(d * 1e6));
            }
            std::string body = body_tpl;
            if (templated) {
                body = replace_all(body, "@SEQ@", std::to_string(i));
                body = replace_all(body, "@TS@", std::to_string(now_real_ns()));
            }
            req = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " +
                  "application/json\r\nContent-Length: " + std::to_string(body.size()) +
                  (keepalive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n") + body;
            for (int attempt = 0; attempt < 2; ++attempt) {
                if (fd < 0) {
                    fd = connect_tcp(a);
                    buf.clear();
                    if (fd < 0) {
                        usleep(1000);
                        continue;
                    }
                }
                bool closes = false;
                errno = 0;
                int st = send_all(fd, req.data(), req.size()) ? read_response(fd, buf, closes) : 0;
                if (st == 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                    timed_out = true; // no answer within 10 s: give up the whole run
                    break;
                }
                if (st == 0) { // stale keep-alive connection: retry once on a new one
                    close(fd);
                    fd = -1;
                    ++reconnects;
                    continue;
                }
                if (st == 200)
                    ++ok;
                else
                    ++errors;
                if (!keepalive || closes) {
                    close(fd);
                    fd = -1;
                }
                goto done;
            }
            ++errors;
        done:;
        }
        if (fd >= 0) close(fd);
    };
    std::vector<std::thread> threads;
    for (int c = 0; c < conns; ++c)
        threads.emplace_back(worker);
    for (auto &t : threads)
        t.join();
    double t1 = now_mono(), c1 = cpu_self();
    std::printf("{\"events\":%ld,\"ok\":%ld,\"errors\":%ld,\"reconnects\":%ld,\"wall_s\":%.6f,"
                "\"cpu_s\":%.6f,\"timed_out\":%d}\n",
                total, ok.load(), errors.load(), reconnects.load(), t1 - t0, c1 - c0,
                timed_out ? 1 : 0);
    if (timed_out) std::fprintf(stderr, "http-load: no response within 10 s\n");
    return timed_out ? 1 : 0;
}

// A fast HTTP/1.1 sink: one thread, poll(), keep-alive; answers each request with a fixed
// XML-RPC methodResponse. Counts requests.
int cmd_http_sink(int argc, char **argv) {
    if (argc < 1) return 2;
    int port = std::atoi(argv[0]);
    long expect = argc > 1 ? std::atol(argv[1]) : 0;
    int idle_ms = argc > 2 ? std::atoi(argv[2]) : 0;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto a = addr4("127.0.0.1", port);
    if (bind(lfd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || listen(lfd, 256) != 0)
        return std::perror("listen"), 1;
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    static const std::string body =
        "<?xml version=\"1.0\"?>\n<methodResponse><params><param><value><string>OK</string>"
        "</value></param></params></methodResponse>\n";
    const std::string reply = "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
    std::printf("{\"ready\":1}\n");
    std::fflush(stdout);
    struct Conn {
        int fd;
        std::string in;
    };
    std::vector<Conn> conns;
    long requests = 0;
    double first = 0, last = 0;
    double last_seen = now_mono();
    while (!g_stop && (expect <= 0 || requests < expect)) {
        if (idle_ms > 0 && (now_mono() - last_seen) * 1000 > (requests ? idle_ms : idle_ms * 20))
            break;
        std::vector<pollfd> pfds;
        pfds.push_back({lfd, POLLIN, 0});
        for (auto &c : conns)
            pfds.push_back({c.fd, POLLIN, 0});
        int r = poll(pfds.data(), pfds.size(), 100);
        if (r <= 0) continue;
        if (pfds[0].revents & POLLIN) {
            int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd >= 0) {
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                conns.push_back({fd, {}});
            }
        }
        for (size_t i = 1; i < pfds.size(); ++i) {
            if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            Conn &c = conns[i - 1];
            char tmp[65536];
            ssize_t n = recv(c.fd, tmp, sizeof tmp, 0);
            if (n <= 0) {
                close(c.fd);
                c.fd = -1;
                continue;
            }
            c.in.append(tmp, size_t(n));
            std::string out;
            for (;;) {
                auto he = c.in.find("\r\n\r\n");
                if (he == std::string::npos) break;
                std::string head = c.in.substr(0, he);
                for (auto &ch : head)
                    ch = char(std::tolower(static_cast<unsigned char>(ch)));
                size_t clen = 0;
                auto p = head.find("content-length:");
                if (p != std::string::npos) clen = std::strtoul(head.c_str() + p + 15, nullptr, 10);
                if (c.in.size() < he + 4 + clen) break;
                c.in.erase(0, he + 4 + clen);
                ++requests;
                last_seen = now_mono();
                double t = now_real();
                if (!first) first = t;
                last = t;
                out += reply;
            }
            if (!out.empty() && !send_all(c.fd, out.data(), out.size())) {
                close(c.fd);
                c.fd = -1;
            }
        }
        conns.erase(std::remove_if(conns.begin(), conns.end(), [](auto &c) { return c.fd < 0; }),
                    conns.end());
    }
    std::printf("{\"received\":%ld,\"first\":%.6f,\"last\":%.6f}\n", requests, first, last);
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: evi-bench-tool write|sendto|udpsink|http-load|http-sink …\n");
        return 2;
    }
    std::string cmd = argv[1];
    int rc = 2;
    if (cmd == "write")
        rc = cmd_write(argc - 2, argv + 2);
    else if (cmd == "sendto")
        rc = cmd_sendto(argc - 2, argv + 2);
    else if (cmd == "both")
        rc = cmd_both(argc - 2, argv + 2);
    else if (cmd == "udpsink")
        rc = cmd_udpsink(argc - 2, argv + 2);
    else if (cmd == "http-load")
        rc = cmd_http_load(argc - 2, argv + 2);
    else if (cmd == "http-sink")
        rc = cmd_http_sink(argc - 2, argv + 2);
    if (rc == 2) std::fprintf(stderr, "evi-bench-tool %s: bad arguments\n", cmd.c_str());
    std::fflush(stdout);
    return rc;
}
