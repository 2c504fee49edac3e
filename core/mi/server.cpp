// The MI's HTTP server. The only Boost.Beast translation unit of the core.
#include "mi/server.hpp"

#include "app.hpp"
#include "log/log.hpp"
#include "mi/jsonrpc.hpp"
#include "mi/observe.hpp"
#include "runtime.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <future>
#include <list>
#include <mutex>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace evi::mi {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using local = asio::local::stream_protocol;

constexpr size_t kHeaderLimit = 16 * 1024;

Result<ListenAddress> parse_listen_address(std::string_view text) {
    const std::string quoted = "mi_listen \"" + std::string(text) + "\": ";
    ListenAddress a;
    if (text.rfind("unix:", 0) == 0) {
        a.unix_socket = true;
        a.loopback = true;
        a.path = std::string(text.substr(5));
        if (a.path.empty() || a.path.front() != '/')
            return make_error(quoted + "expected an absolute path after unix:");
        if (a.path.size() >= sizeof(sockaddr_un{}.sun_path))
            return make_error(quoted + "the socket path is longer than " +
                              std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes");
        return a;
    }
    std::string_view host, port;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return make_error(quoted + "expected [IPv6]:port");
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos || text.find(':') != colon)
            return make_error(
                quoted + "expected IPv4:port, [IPv6]:port or unix:/path (e.g. 127.0.0.1:8888)");
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p == 0 ||
        p > 65535)
        return make_error(quoted + "expected a port between 1 and 65535");
    a.port = static_cast<uint16_t>(p);
    a.host = host == "localhost" ? std::string("127.0.0.1") : std::string(host);
    boost::system::error_code aec;
    auto addr = asio::ip::make_address(a.host, aec);
    if (aec) return make_error(quoted + "\"" + std::string(host) + "\" is not an IP address");
    a.loopback = addr.is_loopback() ||
                 (addr.is_v6() && addr.to_v6().is_v4_mapped() &&
                  asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6()).is_loopback());
    return a;
}

namespace {

std::vector<std::string> listen_entries(const Globals &g) {
    return g.mi_listen.empty() ? std::vector<std::string>{"127.0.0.1:8888"} : g.mi_listen;
}

// Constant-time comparison: the token check must not leak how many bytes matched.
bool same_secret(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
    return diff == 0;
}

} // namespace

Result<void> check_listen(const Globals &g) {
    for (const auto &entry : listen_entries(g)) {
        auto a = parse_listen_address(entry);
        if (!a) return a.error();
        if (!a->loopback && g.mi_auth_token.empty())
            return make_error("mi_listen \"" + entry +
                              "\": refusing to serve the management interface on a "
                              "non-loopback address without mi_auth_token");
    }
    return {};
}

// ----------------------------------------------------------------------------------------

class SessionBase {
  public:
    virtual ~SessionBase() = default;
    virtual void close() = 0; // from any thread
};

// Connections are served by I/O threads of the MI's own, each running an io_context of its own:
// a connection stays on the thread it was given, so its handlers never run at once (no strand)
// and a request is read, answered and written without waking another thread. The listeners stay
// on the runtime's io_context, so that a command that takes long (a name to resolve, a long
// sync event_route) never holds up accepting; new connections then go to the other threads.
struct IoThread {
    // Before `io`: connections destroyed with the io_context still count themselves out.
    std::atomic<int> connections{0};
    std::atomic<int64_t> busy_since{0}; // steady_clock ns when its running command began; 0: none
    asio::io_context io{1};
    asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
    std::thread thread;

    static int64_t now_ns() {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
    }
    // Running one command for longer than 100 ms.
    bool stuck(int64_t now) const {
        const int64_t since = busy_since.load(std::memory_order_relaxed);
        return since != 0 && now - since > 100'000'000;
    }
};

struct Server::State : std::enable_shared_from_this<Server::State> {
    explicit State(App &a) : app(a) {}
    App &app;
    std::vector<std::unique_ptr<IoThread>> io_threads;
    std::atomic<size_t> next_io{0};
    std::mutex mutex;
    // Each acceptor has a strand of the runtime's io_context of its own, as its executor: its
    // accept handler, the re-arm, the retry timer and stop()'s close all run on that strand,
    // since the runtime's io_context is run by `workers` threads and an acceptor is not
    // thread-safe. An accepted socket belongs to an MI I/O thread from the start.
    std::vector<std::unique_ptr<tcp::acceptor>> tcp_acceptors;
    std::vector<std::unique_ptr<local::acceptor>> unix_acceptors;
    std::vector<std::string> unix_paths;
    std::list<std::weak_ptr<SessionBase>> sessions;
    std::atomic<int64_t> connections{0};
    std::atomic<bool> stopped{false};
    // Fault injection for tests (EVI_TEST_ACCEPT_PAUSE_US): the accept handler pauses this long
    // before re-arming, so that a close racing with the re-arm shows without luck.
    std::chrono::microseconds accept_pause{0};

    // For a new connection: a thread not in a command before one that is, one in a command for
    // less than 100 ms before one stuck in it; then the fewest connections; ties go to
    // `prefer`, else round.
    IoThread &pick_io(IoThread *prefer = nullptr) {
        const int64_t now = IoThread::now_ns();
        auto rank = [now](const IoThread *t) {
            int state = 0;
            if (t->stuck(now))
                state = 2;
            else if (t->busy_since.load(std::memory_order_relaxed) != 0)
                state = 1;
            return std::pair(state, t->connections.load(std::memory_order_relaxed));
        };
        const size_t n = io_threads.size(), first = next_io.fetch_add(1) % n;
        IoThread *best = prefer;
        for (size_t k = 0; k < n; ++k) {
            IoThread *t = io_threads[(first + k) % n].get();
            if (!best || rank(t) < rank(best)) best = t;
        }
        return *best;
    }

    // False once stop() has begun: the connection is then not served (stop() sets `stopped`
    // before it takes the list, so a connection is either closed by stop() or refused here).
    bool track(const std::shared_ptr<SessionBase> &s) {
        std::lock_guard lock(mutex);
        if (stopped) return false;
        sessions.remove_if([](const auto &w) { return w.expired(); });
        sessions.push_back(s);
        return true;
    }
};

namespace {

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

Response make_response(const Request &req, http::status status, std::string content_type,
                       std::string body) {
    Response res{status, req.version()};
    res.set(http::field::server, "evid");
    if (!content_type.empty()) res.set(http::field::content_type, content_type);
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

// A response's bytes in one buffer, written with one send: Beast's serializer walks a chain
// of buffer views per write, which costs more than the reply itself.
std::string wire_text(const Response &res) {
    std::string out;
    out.reserve(160 + res.body().size());
    out += res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    out += std::to_string(res.result_int());
    out += ' ';
    out += res.reason();
    out += "\r\n";
    for (const auto &field : res) {
        out += field.name_string();
        out += ": ";
        out += field.value();
        out += "\r\n";
    }
    out += "\r\n";
    out += res.body();
    return out;
}

std::string path_of(std::string_view target) {
    auto q = target.find('?');
    return std::string(target.substr(0, q));
}

// Everything a request turns into: the response and what to run once it is written.
struct Answer {
    Response response;
    std::vector<std::function<void()>> after;
};

Answer answer(App &app, const Request &req) {
    Answer a;
    const std::string &token = app.globals.mi_auth_token;
    if (!token.empty()) {
        auto it = req.find(http::field::authorization);
        std::string_view given;
        if (it != req.end()) given = std::string_view(it->value().data(), it->value().size());
        const std::string expected = "Bearer " + token;
        if (!same_secret(given, expected)) {
            a.response = make_response(req, http::status::unauthorized, "application/json",
                                       error_reply(-32000, "Unauthorized", nullptr,
                                                   json("send Authorization: Bearer <token>")));
            a.response.set(http::field::www_authenticate, "Bearer");
            return a;
        }
    }
    const std::string path = path_of(req.target());
    const bool get = req.method() == http::verb::get;
    if (path == "/mi" || path == "/mi/") {
        if (req.method() != http::verb::post) {
            a.response = make_response(req, http::status::method_not_allowed, "text/plain",
                                       "POST a JSON-RPC 2.0 request to /mi\n");
            a.response.set(http::field::allow, "POST");
            return a;
        }
        std::string body = handle_body(app.commands, req.body());
        a.after = take_after_reply();
        if (body.empty())
            a.response = make_response(req, http::status::no_content, "", "");
        else
            a.response = make_response(req, http::status::ok, "application/json", std::move(body));
        return a;
    }
    if (get && path == "/metrics") {
        a.response = make_response(req, http::status::ok,
                                   "text/plain; version=0.0.4; charset=utf-8", render_metrics(app));
        return a;
    }
    if (get && path == "/health") {
        const bool draining = app.draining.load();
        a.response =
            make_response(req, draining ? http::status::service_unavailable : http::status::ok,
                          "text/plain", draining ? "draining\n" : "OK\n");
        return a;
    }
    if (get && path == "/") {
        a.response = make_response(req, http::status::ok, "text/html; charset=utf-8",
                                   render_status_page(app));
        return a;
    }
    a.response = make_response(req, http::status::not_found, "text/plain",
                               "not found: try POST /mi, GET /metrics, GET /health or GET /\n");
    return a;
}

template <class Protocol>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Protocol>> {
  public:
    using Stream =
        beast::basic_stream<Protocol, asio::any_io_executor, beast::unlimited_rate_policy>;

    Session(typename Protocol::socket socket, std::shared_ptr<Server::State> state, IoThread &home)
        : stream_(std::move(socket)), state_(std::move(state)), home_(home) {
        state_->connections.fetch_add(1);
        home_.connections.fetch_add(1);
    }
    ~Session() override {
        home_.connections.fetch_sub(1);
        state_->connections.fetch_sub(1);
    }

    // Reads the first request on the connection's own I/O thread.
    void start() {
        asio::post(stream_.get_executor(),
                   [self = this->shared_from_this()] { self->read_header(); });
    }

    void close() override {
        asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
            beast::error_code ec;
            self->stream_.socket().shutdown(Protocol::socket::shutdown_both, ec);
            self->stream_.close();
        });
    }

  private:
    std::chrono::milliseconds timeout() const {
        return std::chrono::milliseconds(state_->app.globals.mi_timeout_ms);
    }

    void read_header() {
        if (state_->stopped) return finish();
        parser_.emplace();
        parser_->header_limit(kHeaderLimit);
        parser_->body_limit(static_cast<uint64_t>(state_->app.globals.mi_max_body));
        stream_.expires_after(timeout());
        http::async_read_header(stream_, buffer_, *parser_,
                                [self = this->shared_from_this()](beast::error_code ec, size_t) {
                                    self->on_header(ec);
                                });
    }

    void on_header(beast::error_code ec) {
        if (ec) return on_error(ec);
        const auto &req = parser_->get();
        if (auto len = parser_->content_length();
            len && *len > static_cast<uint64_t>(state_->app.globals.mi_max_body))
            return too_large();
        auto expect = req.find(http::field::expect);
        if (expect != req.end() && beast::iequals(expect->value(), "100-continue")) {
            auto cont = std::make_shared<Response>(http::status::continue_, req.version());
            http::async_write(
                stream_, *cont,
                [self = this->shared_from_this(), cont](beast::error_code ec, size_t) {
                    if (ec) return self->finish();
                    self->read_body();
                });
            return;
        }
        read_body();
    }

    void read_body() {
        // The body usually came in the same segment as the header: parse what the buffer holds
        // first, and read only when more is needed. A read that finds its data in the buffer
        // still completes through a posted handler (one more scheduler round trip, at times a
        // futex wake of the other I/O thread, per request).
        beast::error_code ec;
        while (!parser_->is_done() && buffer_.size() > 0) {
            const size_t n = parser_->put(buffer_.data(), ec);
            buffer_.consume(n);
            if (ec == http::error::need_more) break;
            if (ec) return on_error(ec);
            if (n == 0) break;
        }
        if (parser_->is_done()) return on_request();
        stream_.expires_after(timeout());
        http::async_read(stream_, buffer_, *parser_,
                         [self = this->shared_from_this()](beast::error_code ec, size_t) {
                             if (ec) return self->on_error(ec);
                             self->on_request();
                         });
    }

    void on_error(beast::error_code ec) {
        if (ec == http::error::body_limit) return too_large();
        if (ec == http::error::header_limit)
            return reply_and_close(http::status::request_header_fields_too_large,
                                   "request headers too large\n");
        if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
            ec != http::error::end_of_stream && ec != http::error::partial_message)
            return reply_and_close(http::status::bad_request, "malformed HTTP request\n");
        finish(); // closed by the peer, timed out, or stopped
    }

    void too_large() {
        Response res{http::status::ok, 11};
        res.set(http::field::server, "evid");
        res.set(http::field::content_type, "application/json");
        res.keep_alive(false);
        res.body() = error_reply(-32600, "Invalid Request", nullptr,
                                 json("request body larger than " +
                                      std::to_string(state_->app.globals.mi_max_body) + " bytes"));
        res.prepare_payload();
        write(res, {}, After::Linger);
    }

    void reply_and_close(http::status status, std::string text) {
        Response res{status, 11};
        res.set(http::field::server, "evid");
        res.set(http::field::content_type, "text/plain");
        res.keep_alive(false);
        res.body() = std::move(text);
        res.prepare_payload();
        write(res, {}, After::Linger);
    }

    void on_request() {
        Request req = parser_->release();
        Answer a;
        home_.busy_since.store(IoThread::now_ns(), std::memory_order_relaxed);
        try {
            a = answer(state_->app, req);
        } catch (const std::exception &e) {
            LOG_ERR("MI request failed: %s", e.what());
            a.response = make_response(req, http::status::ok, "application/json",
                                       error_reply(-32603, "Internal error"));
        }
        home_.busy_since.store(0, std::memory_order_relaxed);
        write(a.response, std::move(a.after), a.response.keep_alive() ? After::Read : After::Close);
    }

    // After a reply: read the next request, close, or (when the request was not read to its
    // end) close lingering, so the client reads the reply instead of a reset.
    enum class After { Read, Close, Linger };

    void write(const Response &res, std::vector<std::function<void()>> after, After then) {
        auto text = std::make_shared<const std::string>(wire_text(res));
        stream_.expires_after(timeout());
        asio::async_write(stream_, asio::buffer(*text),
                          [self = this->shared_from_this(), text, after = std::move(after),
                           then](beast::error_code ec, size_t) {
                              for (const auto &fn : after)
                                  fn();
                              if (ec || then == After::Close) return self->finish();
                              if (then == After::Linger) return self->linger();
                              self->read_header();
                          });
    }

    void finish() {
        beast::error_code ec;
        stream_.socket().shutdown(Protocol::socket::shutdown_send, ec);
        stream_.close();
    }

    // Discard what the client still sends: at most kMaxDiscard bytes, for at most
    // kLingerTotal, and only while the client keeps sending (a second of silence ends it).
    void linger() {
        beast::error_code ec;
        stream_.socket().shutdown(Protocol::socket::shutdown_send, ec);
        linger_end_ = std::chrono::steady_clock::now() + kLingerTotal;
        discard();
    }

    void discard() {
        stream_.expires_at(std::min(linger_end_, std::chrono::steady_clock::now() + kLingerIdle));
        stream_.async_read_some(asio::buffer(discard_),
                                [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                                    self->discarded_ += n;
                                    if (ec || self->discarded_ > kMaxDiscard)
                                        return self->stream_.close();
                                    self->discard();
                                });
    }

    static constexpr size_t kMaxDiscard = 4 << 20;
    static constexpr auto kLingerIdle = std::chrono::seconds(1);
    static constexpr auto kLingerTotal = std::chrono::seconds(5);
    std::chrono::steady_clock::time_point linger_end_;
    std::array<char, 16384> discard_{};
    size_t discarded_ = 0;
    Stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::shared_ptr<Server::State> state_;
    IoThread &home_; // the I/O thread this connection runs on
};

// Beyond mi_max_connections: a short 503 and close.
template <class Socket> void refuse(Socket socket) {
    static const std::string kBusy = "HTTP/1.1 503 Service Unavailable\r\nServer: evid\r\n"
                                     "Content-Type: text/plain\r\nContent-Length: 29\r\n"
                                     "Connection: close\r\n\r\ntoo many connections to evid\n";
    auto s = std::make_shared<Socket>(std::move(socket));
    asio::async_write(*s, asio::buffer(kBusy), [s](beast::error_code, size_t) {
        beast::error_code ec;
        s->shutdown(Socket::shutdown_send, ec);
        s->close(ec);
    });
}

// Moves an accepted connection's descriptor over to the I/O thread `to`. False, and the socket
// left where it was, when it cannot be released.
template <class Protocol> bool move_to(typename Protocol::socket &socket, IoThread &to) {
    beast::error_code ec;
    const auto protocol = socket.local_endpoint(ec).protocol();
    if (ec) return false;
    const auto fd = socket.release(ec);
    if (ec) return false;
    typename Protocol::socket moved(to.io.get_executor());
    moved.assign(protocol, fd, ec);
    if (ec) ::close(fd); // the connection is lost; the session ends at its first read
    socket = std::move(moved);
    return true;
}

template <class Acceptor, class Protocol>
void accept_loop(Acceptor &acceptor, std::shared_ptr<Server::State> state) {
    // Runs on the acceptor's strand (its handler too: the acceptor's executor). The thread is
    // picked when the accept is armed, and again when it completes: a thread that
    // got stuck in a command, or busier, meanwhile gets the connection moved away from it.
    IoThread &armed = state->pick_io();
    acceptor.async_accept(
        armed.io.get_executor(),
        [&acceptor, state, &armed](beast::error_code ec, typename Protocol::socket socket) {
            if (state->stopped || !acceptor.is_open()) return;
            if (!ec) {
                if (state->connections.load() >= state->app.globals.mi_max_connections) {
                    refuse(std::move(socket));
                } else {
                    IoThread *home = &state->pick_io(&armed);
                    if (home != &armed && !move_to<Protocol>(socket, *home)) home = &armed;
                    auto s = std::make_shared<Session<Protocol>>(std::move(socket), state, *home);
                    if (!state->track(s)) return;
                    s->start();
                }
            } else if (ec == asio::error::operation_aborted) {
                return;
            } else {
                // Out of descriptors or similar: retry a little later rather than spin.
                LOG_WARN("management interface: accept failed: %s", ec.message().c_str());
                auto timer = std::make_shared<asio::steady_timer>(acceptor.get_executor());
                timer->expires_after(std::chrono::milliseconds(100));
                timer->async_wait([&acceptor, state, timer](beast::error_code) {
                    if (!state->stopped && acceptor.is_open())
                        accept_loop<Acceptor, Protocol>(acceptor, state);
                });
                return;
            }
            if (state->accept_pause.count() > 0) std::this_thread::sleep_for(state->accept_pause);
            accept_loop<Acceptor, Protocol>(acceptor, state);
        });
}

std::string why(const beast::error_code &ec) {
    return ec.message();
}

} // namespace

Server::Server(App &app) : state_(std::make_shared<State>(app)) {}

Server::~Server() {
    // The io_contexts go with the state, once nothing holds it: an accept still pending on the
    // runtime's io_context (destroyed after this) holds it, and its socket needs its MI
    // io_context alive until then. stop() left them without work, so nothing in them holds the
    // state in turn.
    stop();
}

Result<void> Server::start() {
    App &app = state_->app;
    if (!app.runtime) return make_error("management interface: the runtime is not created yet");
    if (auto r = check_listen(app.globals); !r) return r;
    if (const char *pause = std::getenv("EVI_TEST_ACCEPT_PAUSE_US"))
        state_->accept_pause = std::chrono::microseconds(std::strtoll(pause, nullptr, 10));
    for (int i = 0; i < app.runtime->workers(); ++i)
        state_->io_threads.push_back(std::make_unique<IoThread>());
    auto &io = app.runtime->io();
    for (const auto &entry : listen_entries(app.globals)) {
        auto a = *parse_listen_address(entry);
        const std::string where = "mi_listen \"" + entry + "\": ";
        beast::error_code ec;
        if (a.unix_socket) {
            struct stat st {};
            if (::lstat(a.path.c_str(), &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                    return make_error(where + a.path + " exists and is not a socket");
                local::socket probe(io);
                beast::error_code pec;
                probe.connect(local::endpoint(a.path), pec);
                if (!pec) return make_error(where + "another process is listening on " + a.path);
                ::unlink(a.path.c_str()); // left over from an earlier run
            }
            auto acc = std::make_unique<local::acceptor>(asio::make_strand(io));
            acc->open(local(), ec);
            if (!ec) acc->bind(local::endpoint(a.path), ec);
            if (ec) return make_error(where + "cannot bind: " + why(ec));
            // Only the owner may talk to it; nothing can connect before listen().
            if (::chmod(a.path.c_str(), 0600) != 0)
                return make_error(where + "cannot chmod 0600: " + std::strerror(errno));
            acc->listen(asio::socket_base::max_listen_connections, ec);
            if (ec) return make_error(where + "cannot listen: " + why(ec));
            state_->unix_paths.push_back(a.path);
            accept_loop<local::acceptor, local>(*acc, state_);
            state_->unix_acceptors.push_back(std::move(acc));
        } else {
            tcp::endpoint ep(asio::ip::make_address(a.host), a.port);
            auto acc = std::make_unique<tcp::acceptor>(asio::make_strand(io));
            acc->open(ep.protocol(), ec);
            if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
            if (!ec && ep.address().is_v6()) acc->set_option(asio::ip::v6_only(true), ec);
            if (!ec) acc->bind(ep, ec);
            if (ec) return make_error(where + "cannot bind: " + why(ec));
            acc->listen(asio::socket_base::max_listen_connections, ec);
            if (ec) return make_error(where + "cannot listen: " + why(ec));
            accept_loop<tcp::acceptor, tcp>(*acc, state_);
            state_->tcp_acceptors.push_back(std::move(acc));
        }
        LOG_NOTICE("management interface listening on %s", entry.c_str());
    }
    for (auto &t : state_->io_threads) {
        t->thread = std::thread([io = &t->io] { io->run(); });
        pthread_setname_np(t->thread.native_handle(), "evi-mi");
    }
    return {};
}

void Server::stop() {
    if (state_->stopped.exchange(true)) return;
    auto state = state_;
    // Each acceptor is closed on its own strand, where its accept handler runs and re-arms: a
    // close from any other thread races with that re-arm. When the runtime no longer runs,
    // nothing else touches the acceptors and they are closed here. Should its threads stay busy
    // past the bound, the acceptors are left open: `stopped` keeps them from accepting, and
    // they close with the state, after the runtime has joined its threads.
    if (state->app.runtime && !state->app.runtime->io().stopped()) {
        std::vector<std::future<void>> closed;
        auto close_on_strand = [&closed](auto &acceptor) {
            auto done = std::make_shared<std::promise<void>>();
            closed.push_back(done->get_future());
            asio::post(acceptor->get_executor(), [a = acceptor.get(), done] {
                beast::error_code ec;
                a->close(ec);
                done->set_value();
            });
        };
        for (auto &a : state->tcp_acceptors)
            close_on_strand(a);
        for (auto &a : state->unix_acceptors)
            close_on_strand(a);
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        for (auto &f : closed)
            if (f.wait_until(until) != std::future_status::ready) {
                LOG_WARN("management interface: the runtime's threads stayed busy; its "
                         "listeners close when they are free");
                break;
            }
    } else {
        beast::error_code ec;
        for (auto &a : state->tcp_acceptors)
            a->close(ec);
        for (auto &a : state->unix_acceptors)
            a->close(ec);
    }
    std::list<std::weak_ptr<SessionBase>> sessions;
    {
        std::lock_guard lock(state->mutex);
        sessions.swap(state->sessions);
    }
    for (auto &w : sessions)
        if (auto s = w.lock()) s->close();
    sessions.clear();
    // The I/O threads run the closes posted above, then stop once nothing is left to do. A
    // connection whose command is still running is waited for.
    for (auto &t : state->io_threads)
        t->work.reset();
    for (auto &t : state->io_threads)
        if (t->thread.joinable()) t->thread.join();
    for (const auto &p : state->unix_paths)
        ::unlink(p.c_str());
}

} // namespace evi::mi
