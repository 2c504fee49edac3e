#include "rmq_connection.h"

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#ifdef EVI_RMQ_HAVE_OPENSSL
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "evi_plugin.h"

namespace evi::rmq {

namespace {

using namespace std::chrono_literals;

constexpr size_t kMaxInFlight = 4096; // published and unconfirmed, per connection
constexpr auto kBackoffMin = 100ms;
constexpr auto kBackoffMax = 2000ms;
constexpr auto kRefusedBackoff = 5000ms; // a broker that refused our login is asked less often
// A broker that accepted our login before and refuses it now is most likely booting: RabbitMQ
// can answer 403 "access to vhost '/' refused" for a moment after a restart. Its refusals count
// only once they have lasted this long; meanwhile events wait, as for a broker that is down.
constexpr auto kRefusalGrace = 10s;
constexpr auto kMissingExchangeRecheck = 1000ms;
constexpr int kMaxChannelFailures = 2; // an event whose publish alone closed the channel twice
constexpr auto kIdleClose = 10s;       // an unused connection is closed after this long

std::atomic<bool> tls_library_used{false}; // a TLS socket was made: see release_tls_library

amqp_bytes_t bytes(const std::string &s) {
    return amqp_bytes_t{s.size(), const_cast<char *>(s.data())};
}
std::string str(amqp_bytes_t b) {
    return std::string(static_cast<const char *>(b.bytes), b.len);
}

timeval to_timeval(std::chrono::milliseconds ms) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
    return tv;
}

// The broker's reason, from a connection.close or channel.close it sent.
std::string close_reason(const amqp_method_t &m) {
    if (m.id == AMQP_CONNECTION_CLOSE_METHOD) {
        auto *c = static_cast<amqp_connection_close_t *>(m.decoded);
        return std::to_string(c->reply_code) + " " + str(c->reply_text);
    }
    if (m.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto *c = static_cast<amqp_channel_close_t *>(m.decoded);
        return std::to_string(c->reply_code) + " " + str(c->reply_text);
    }
    return "unexpected method " + std::to_string(m.id);
}

std::string reply_text(const amqp_rpc_reply_t &r) {
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return "ok";
    case AMQP_RESPONSE_NONE:
        return "no reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        return amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        return close_reason(r.reply);
    }
    return "unknown reply";
}

// A login the broker will refuse again until someone changes its configuration or ours (bad
// credentials, no permission, no such vhost), as opposed to a broker still booting or shutting
// down (e.g. "vhost / is not running"), which is retried without failing events.
bool login_refused(const amqp_rpc_reply_t &r) {
    if (r.reply.id != AMQP_CONNECTION_CLOSE_METHOD) return false;
    auto *c = static_cast<amqp_connection_close_t *>(r.reply.decoded);
    if (c->reply_code == AMQP_ACCESS_REFUSED) return true;
    return c->reply_code == AMQP_NOT_ALLOWED &&
           str(c->reply_text).find("not found") != std::string::npos;
}

bool is_ip_literal(const std::string &host) {
    unsigned char buf[sizeof(in6_addr)];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
           inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool verify_ip_with_openssl([[maybe_unused]] amqp_socket_t *sock,
                            [[maybe_unused]] const std::string &ip) {
#ifdef EVI_RMQ_HAVE_OPENSSL
    auto *ctx = static_cast<SSL_CTX *>(amqp_ssl_socket_get_context(sock));
    return ctx && X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(ctx), ip.c_str()) == 1;
#else
    return false;
#endif
}

} // namespace

Connection::Connection(Address endpoint, Settings settings, Hooks hooks)
    : endpoint_(std::move(endpoint)), settings_(std::move(settings)), hooks_(std::move(hooks)),
      name_(endpoint_.endpoint_text()) {}

Connection::~Connection() {
    {
        std::lock_guard<std::mutex> g(mu_);
        if (!stopping_) {
            stopping_ = true;
            stop_deadline_ = Clock::now();
        }
    }
    cv_.notify_all();
    join();
}

int Connection::submit(uint64_t token, std::string_view body, std::shared_ptr<const Address> dest) {
    Outgoing item{token, std::string(body), std::move(dest), Clock::now(), 0};
    {
        std::lock_guard<std::mutex> g(mu_);
        if (stopping_ || refused_) return kError;
        if (held_ >= settings_.queue_size) return kAgain;
        // Started first: if it cannot be, the event was not taken (the caller gets an error).
        if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
        incoming_.push_back(std::move(item));
        ++held_;
    }
    cv_.notify_one();
    return kPending;
}

void Connection::request_stop(Clock::time_point deadline) {
    {
        std::lock_guard<std::mutex> g(mu_);
        if (stopping_) return;
        stopping_ = true;
        stop_deadline_ = deadline;
    }
    cv_.notify_all();
}

void Connection::join() {
    if (!thread_.joinable()) return;
    bool finished;
    {
        std::unique_lock<std::mutex> lock(mu_);
        finished = cv_.wait_until(lock, stop_deadline_ + 2s, [&] { return finished_; });
    }
    if (!finished) {
        // Stuck writing to a broker that stopped reading (rabbitmq-c sends without a
        // deadline): cut the socket so that the thread sees an error and ends.
        std::lock_guard<std::mutex> g(fd_mu_);
        if (sockfd_ >= 0) {
            log(EVI_L_WARN, "broker " + name_ + " does not read: closing the connection");
            ::shutdown(sockfd_, SHUT_RDWR);
        }
    }
    thread_.join();
}

// ---------------------------------------------------------------------------------------------
// The thread

void Connection::run() {
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(mu_);
            drain_incoming(lock);
            if (stopping_) {
                bool empty = backlog_.empty() && window_.empty();
                bool late = Clock::now() >= stop_deadline_;
                // Down and one more attempt failed: nothing will be delivered in time.
                bool hopeless = !connected_ && stop_attempted_;
                if (empty || late || hopeless) break;
            }
        }
        try {
            step();
        } catch (const Lost &lost) {
            drop(lost);
        } catch (const std::exception &e) {
            drop(Lost{std::string("internal error: ") + e.what(), false});
        } catch (...) {
            drop(Lost{"internal error", false});
        }
    }
    fail_all("shutdown before the broker confirmed");
    try {
        close_gracefully();
    } catch (...) {
    }
    {
        std::lock_guard<std::mutex> g(mu_);
        finished_ = true;
    }
    cv_.notify_all();
}

void Connection::drain_incoming(std::unique_lock<std::mutex> &) {
    while (!incoming_.empty()) {
        backlog_.push_back(std::move(incoming_.front()));
        incoming_.pop_front();
    }
}

void Connection::step() {
    expire_old();
    if (!connected_) {
        bool refused;
        bool stopping;
        {
            std::lock_guard<std::mutex> g(mu_);
            refused = refused_;
            stopping = stopping_;
        }
        // A refused login is retried only while some subscription still uses the broker.
        bool want = !backlog_.empty() || (refused && sockets_.load() > 0);
        if (want && Clock::now() >= next_attempt_) {
            if (stopping) stop_attempted_ = true;
            if (connect()) return;
        }
        std::unique_lock<std::mutex> lock(mu_);
        wait_disconnected(lock);
        return;
    }
    publish_backlog();
    if (!backlog_.empty() && can_publish()) {
        poll_frames(0); // more to publish: only take what already arrived
    } else if (!window_.empty()) {
        poll_frames(5); // confirms outstanding
    } else {
        {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait_for(lock, 200ms, [&] { return !incoming_.empty() || stopping_; });
        }
        poll_frames(0); // heartbeats, connection.close, blocked
        if (sockets_.load() == 0 && backlog_.empty() && window_.empty() &&
            Clock::now() - last_activity_ > kIdleClose) {
            // Every subscriber of this broker is gone: do not hold a connection for nobody.
            log(EVI_L_INFO,
                "closing the idle connection to broker " + name_ + " (no subscription uses it)");
            close_gracefully();
            return;
        }
    }
    if (settings_.publisher_confirms && !window_.empty() && !blocked_ && settings_.timeout_ms > 0 &&
        Clock::now() - window_.oldest_published() > std::chrono::milliseconds(settings_.timeout_ms))
        throw Lost{"no confirm from the broker within " + std::to_string(settings_.timeout_ms) +
                       " ms",
                   false};
}

void Connection::wait_disconnected(std::unique_lock<std::mutex> &lock) {
    auto now = Clock::now();
    auto wake = now + 1000ms;
    if (!backlog_.empty() || (refused_ && sockets_.load() > 0))
        wake = std::min(wake, next_attempt_);
    if (settings_.max_event_age_s > 0 && !backlog_.empty()) wake = std::min(wake, now + 100ms);
    if (stopping_) wake = std::min(wake, stop_deadline_);
    if (wake <= now) return;
    cv_.wait_until(lock, wake, [&] { return !incoming_.empty() || stopping_; });
}

void Connection::expire_old() {
    if (settings_.max_event_age_s <= 0) return;
    auto limit = Clock::now() - std::chrono::seconds(settings_.max_event_age_s);
    size_t n = 0;
    while (!backlog_.empty() && backlog_.front().raised < limit) {
        Outgoing item = std::move(backlog_.front());
        backlog_.pop_front();
        hooks_.count(Counter::Expired, 1);
        fail(item, nullptr);
        ++n;
    }
    if (n)
        log(EVI_L_WARN, "dropped " + std::to_string(n) + " event(s) older than max_event_age " +
                            std::to_string(settings_.max_event_age_s) + " s for " + name_);
}

void Connection::check_reply(amqp_rpc_reply_t r, const char *what) {
    if (r.reply_type == AMQP_RESPONSE_NORMAL) return;
    throw Lost{std::string(what) + ": " + reply_text(r), false};
}

bool Connection::connect() {
    auto attempt_failed = [&](const std::string &why, bool refused) {
        destroy_connection();
        ++failed_attempts_;
        if (refused && accepted_before_) {
            const auto now = Clock::now();
            if (!refusing_since_) refusing_since_ = now;
            refused = now - *refusing_since_ >= kRefusalGrace;
        }
        if (refused) {
            backoff_ = kRefusedBackoff;
        } else {
            backoff_ = std::clamp(backoff_ * 2, std::chrono::milliseconds(kBackoffMin),
                                  std::chrono::milliseconds(kBackoffMax));
        }
        next_attempt_ = Clock::now() + backoff_;
        // Logged again when a refusal waited out as a booting broker's turns definitive.
        if (const std::string seen = (refused ? "refused: " : "") + why; seen != last_error_) {
            last_error_ = seen;
            log(refused ? EVI_L_ERR : EVI_L_WARN,
                (refused ? "broker " + name_ + " refused the connection: " + why +
                               "; events for it fail until it accepts (retrying every " +
                               std::to_string(kRefusedBackoff.count() / 1000) + " s)"
                         : "cannot connect to broker " + name_ + ": " + why + "; " +
                               std::to_string(backlog_.size()) +
                               " event(s) wait, retrying with backoff up to " +
                               std::to_string(kBackoffMax.count()) + " ms"));
        } else {
            log(EVI_L_DBG, "connect to " + name_ + " failed again: " + why);
        }
        if (refused) {
            {
                std::lock_guard<std::mutex> g(mu_);
                refused_ = true;
            }
            fail_all(nullptr);
        }
        return false;
    };

    conn_ = amqp_new_connection();
    if (!conn_) return attempt_failed("out of memory", false);
    amqp_socket_t *sock = nullptr;
    if (endpoint_.tls) {
        sock = amqp_ssl_socket_new(conn_);
        if (!sock) return attempt_failed("cannot create a TLS socket", false);
        tls_library_used = true;
        if (!settings_.tls_ca_file.empty() &&
            amqp_ssl_socket_set_cacert(sock, settings_.tls_ca_file.c_str()) != AMQP_STATUS_OK)
            return attempt_failed("cannot load tls_ca_file " + settings_.tls_ca_file, true);
        if (!settings_.tls_cert_file.empty() &&
            amqp_ssl_socket_set_key(sock, settings_.tls_cert_file.c_str(),
                                    settings_.tls_key_file.c_str()) != AMQP_STATUS_OK)
            return attempt_failed("cannot load tls_cert_file " + settings_.tls_cert_file +
                                      " / tls_key_file " + settings_.tls_key_file,
                                  true);
        amqp_ssl_socket_set_verify_peer(sock, settings_.tls_verify ? 1 : 0);
        amqp_ssl_socket_set_verify_hostname(sock, settings_.tls_verify ? 1 : 0);
        if (settings_.tls_verify && is_ip_literal(endpoint_.host)) {
            // rabbitmq-c matches only DNS names and the CN; OpenSSL checks an address against
            // the certificate's IP SANs while it verifies the chain.
            if (!verify_ip_with_openssl(sock, endpoint_.host))
                return attempt_failed("cannot verify a certificate for an IP address with this "
                                      "build: write the broker's name, or set tls_verify 0",
                                      true);
            amqp_ssl_socket_set_verify_hostname(sock, 0);
        }
    } else {
        sock = amqp_tcp_socket_new(conn_);
        if (!sock) return attempt_failed("cannot create a socket", false);
    }
    timeval ctv = to_timeval(std::chrono::milliseconds(settings_.connect_timeout_ms));
    errno = 0;
    int rc = amqp_socket_open_noblock(sock, endpoint_.host.c_str(), endpoint_.port, &ctv);
    if (rc != AMQP_STATUS_OK) {
        int saved_errno = errno;
        bool verify = rc == AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED ||
                      rc == AMQP_STATUS_SSL_PEER_VERIFY_FAILED;
        std::string why = amqp_error_string2(rc);
        // rabbitmq-c leaves errno at EINPROGRESS from its non-blocking connect: useless.
        if (rc == AMQP_STATUS_SOCKET_ERROR && saved_errno && saved_errno != EINPROGRESS)
            why += std::string(" (") + std::strerror(saved_errno) + ")";
        else if (rc == AMQP_STATUS_SOCKET_ERROR)
            why = "TCP connection failed (refused or unreachable)";
        if (rc == AMQP_STATUS_TIMEOUT)
            why += " (connect_timeout " + std::to_string(settings_.connect_timeout_ms) + " ms)";
        return attempt_failed(why, verify);
    }
    if (settings_.timeout_ms > 0) {
        timeval t = to_timeval(std::chrono::milliseconds(settings_.timeout_ms));
        amqp_set_handshake_timeout(conn_, &t);
        amqp_set_rpc_timeout(conn_, &t);
    }

    // Ask for connection.blocked notifications: a broker under a resource alarm stops reading,
    // and confirms then wait without the connection being broken.
    amqp_table_entry_t caps[2];
    caps[0].key = amqp_cstring_bytes("connection.blocked");
    caps[0].value.kind = AMQP_FIELD_KIND_BOOLEAN;
    caps[0].value.value.boolean = 1;
    caps[1].key = amqp_cstring_bytes("authentication_failure_close");
    caps[1].value.kind = AMQP_FIELD_KIND_BOOLEAN;
    caps[1].value.value.boolean = 1;
    amqp_table_entry_t props[2];
    props[0].key = amqp_cstring_bytes("capabilities");
    props[0].value.kind = AMQP_FIELD_KIND_TABLE;
    props[0].value.value.table = amqp_table_t{2, caps};
    props[1].key = amqp_cstring_bytes("connection_name");
    props[1].value.kind = AMQP_FIELD_KIND_UTF8;
    props[1].value.value.bytes = amqp_cstring_bytes("evid event_rabbitmq");
    amqp_table_t client_props{2, props};

    amqp_rpc_reply_t r = amqp_login_with_properties(
        conn_, endpoint_.vhost.c_str(), 0, 131072, settings_.heartbeat_s, &client_props,
        AMQP_SASL_METHOD_PLAIN, endpoint_.user.c_str(), endpoint_.password.c_str());
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION)
        return attempt_failed("login as '" + endpoint_.user + "' on vhost '" + endpoint_.vhost +
                                  "': " + reply_text(r),
                              login_refused(r));
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
        return attempt_failed("login: " + reply_text(r), false);

    amqp_channel_open(conn_, 1);
    r = amqp_get_rpc_reply(conn_);
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
        return attempt_failed("channel.open: " + reply_text(r),
                              r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION);
    if (settings_.publisher_confirms) {
        amqp_confirm_select(conn_, 1);
        r = amqp_get_rpc_reply(conn_);
        if (r.reply_type != AMQP_RESPONSE_NORMAL)
            return attempt_failed("confirm.select: " + reply_text(r), false);
    }

    {
        std::lock_guard<std::mutex> g(fd_mu_);
        sockfd_ = amqp_get_sockfd(conn_);
    }
    connected_ = true;
    blocked_ = false;
    last_activity_ = Clock::now();
    next_tag_ = 1;
    ch2_open_ = false;
    exchanges_ok_.clear();
    exchanges_missing_.clear();
    returning_ = Returning{};
    bool was_refused;
    {
        std::lock_guard<std::mutex> g(mu_);
        was_refused = refused_;
        refused_ = false;
    }
    if (!last_error_.empty() || was_refused) {
        log(EVI_L_NOTICE,
            (failed_attempts_ ? "connected to broker " + name_ + " after " +
                                    std::to_string(failed_attempts_) + " failed attempt(s)"
                              : "reconnected to broker " + name_) +
                "; " + std::to_string(backlog_.size()) + " event(s) to publish");
        hooks_.count(Counter::Reconnects, 1);
    } else {
        log(EVI_L_INFO, "connected to broker " + name_);
    }
    last_error_.clear();
    failed_attempts_ = 0;
    backoff_ = 0ms;
    accepted_before_ = true;
    refusing_since_.reset();
    return true;
}

void Connection::close_gracefully() {
    if (!conn_) return;
    if (connected_) {
        amqp_channel_close(conn_, 1, AMQP_REPLY_SUCCESS);
        amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
    }
    destroy_connection();
    connected_ = false;
}

void Connection::destroy_connection() {
    if (!conn_) return;
    {
        std::lock_guard<std::mutex> g(fd_mu_);
        sockfd_ = -1;
    }
    amqp_destroy_connection(conn_);
    conn_ = nullptr;
}

void Connection::drop(const Lost &lost) {
    destroy_connection();
    bool was_connected = connected_;
    connected_ = false;
    blocked_ = false;
    ch2_open_ = false;
    returning_ = Returning{};
    // Unconfirmed events go back in front of the backlog, in order: at-least-once.
    std::deque<Outgoing> again = window_.take_all();
    size_t n_again = again.size();
    if (lost.channel_error && again.size() == 1 && probe_ > 0 &&
        ++again.front().channel_failures >= kMaxChannelFailures) {
        // Published alone, and the broker closed the channel for it again: it is the cause
        // (e.g. larger than the broker's max_message_size), not the connection.
        log(EVI_L_ERR,
            "broker " + name_ + " closes the channel for one event (" + lost.why + "): it fails");
        fail(again.front(), nullptr);
        again.clear();
        --probe_;
    }
    n_again = again.size();
    for (auto it = again.rbegin(); it != again.rend(); ++it)
        backlog_.push_front(std::move(*it));
    // After a channel error the broker did not say which event caused it: publish the
    // suspects one at a time until each is confirmed, so that the culprit shows itself.
    if (lost.channel_error && n_again) probe_ = std::max(probe_, n_again);
    std::string msg =
        (was_connected ? "connection to broker " + name_ + " lost: " : "broker " + name_ + ": ") +
        lost.why;
    bool stopping;
    {
        std::lock_guard<std::mutex> g(mu_);
        stopping = stopping_;
    }
    if (n_again && !stopping)
        msg += "; " + std::to_string(n_again) + " unconfirmed event(s) will be published again";
    log(EVI_L_WARN, msg);
    last_error_ = lost.why;
    // The first reconnect is immediate; failures back off from there.
    backoff_ = 0ms;
    next_attempt_ = Clock::now();
}

// ---------------------------------------------------------------------------------------------
// Publishing

bool Connection::exchange_usable(const std::string &exchange, std::string &why) {
    if (exchange.empty() || exchanges_ok_.count(exchange)) return true;
    auto now = Clock::now();
    auto missing = exchanges_missing_.find(exchange);
    if (missing != exchanges_missing_.end() && now - missing->second < kMissingExchangeRecheck) {
        why = exchange_errors_[exchange];
        return false;
    }
    if (!ch2_open_) {
        amqp_channel_open(conn_, 2);
        check_reply(amqp_get_rpc_reply(conn_), "channel.open (exchange checks)");
        ch2_open_ = true;
    }
    // Passive declare: only checks that the exchange exists. A missing one closes channel 2,
    // not the publishing channel.
    amqp_exchange_declare(conn_, 2, bytes(exchange), amqp_empty_bytes, 1, 0, 0, 0,
                          amqp_empty_table);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(conn_);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        exchanges_ok_.insert(exchange);
        exchanges_missing_.erase(exchange);
        return true;
    }
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_ok_t ok{};
        amqp_send_method(conn_, 2, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
        ch2_open_ = false;
        why = "exchange '" + exchange + "': " + close_reason(r.reply);
        exchanges_missing_[exchange] = now;
        exchange_errors_[exchange] = why;
        return false;
    }
    check_reply(r, "exchange check");
    return false;
}

namespace {
// Holds back partial TCP segments while a burst of messages is written, so that a backlog
// leaves in full segments (fewer packets for evid and for the broker); undone at scope exit,
// which sends what is left.
class Cork {
  public:
    Cork(int fd, bool on) : fd_(on ? fd : -1) { set(1); }
    ~Cork() { set(0); }
    Cork(const Cork &) = delete;
    Cork &operator=(const Cork &) = delete;

  private:
    void set(int v) {
        if (fd_ >= 0) setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &v, sizeof v);
    }
    int fd_;
};
} // namespace

void Connection::publish_backlog() {
    Cork cork(sockfd_, backlog_.size() > 1);
    while (!backlog_.empty() && can_publish()) {
        Outgoing &item = backlog_.front();
        const Address &d = *item.dest;
        std::string why;
        if (!exchange_usable(d.exchange, why)) {
            Outgoing failed = std::move(item);
            backlog_.pop_front();
            if (logged_failures_.insert(why).second)
                log(EVI_L_ERR, "cannot publish to " + name_ + ": " + why +
                                   " (further failures of this kind are logged at debug level)");
            else
                log(EVI_L_DBG, "cannot publish to " + name_ + ": " + why);
            fail(failed, nullptr);
            continue;
        }
        amqp_basic_properties_t props{};
        props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG;
        props.content_type = amqp_cstring_bytes("application/json");
        if (d.persistent) {
            props._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
            props.delivery_mode = 2;
        }
        int rc = amqp_basic_publish(conn_, 1, bytes(d.exchange), bytes(d.routing_key), 1, 0, &props,
                                    bytes(item.body));
        if (rc != AMQP_STATUS_OK) {
            read_last_words();
            throw Lost{std::string("publish: ") + amqp_error_string2(rc), false};
        }
        hooks_.count(Counter::Published, 1);
        last_activity_ = Clock::now();
        Outgoing sent = std::move(item);
        backlog_.pop_front();
        if (settings_.publisher_confirms) {
            window_.add(next_tag_++, std::move(sent));
        } else {
            std::vector<Completed> done;
            done.push_back(Completed{std::move(sent), Outcome::Confirmed});
            complete(std::move(done));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

void Connection::poll_frames(int first_wait_ms) {
    timeval tv = to_timeval(std::chrono::milliseconds(first_wait_ms));
    for (;;) {
        amqp_frame_t f;
        int rc = amqp_simple_wait_frame_noblock(conn_, &f, &tv);
        if (rc == AMQP_STATUS_TIMEOUT) break;
        if (rc != AMQP_STATUS_OK) throw Lost{amqp_error_string2(rc), false};
        handle_frame(f);
        tv = timeval{};
    }
    if (!amqp_frames_enqueued(conn_) && !amqp_data_in_buffer(conn_))
        amqp_maybe_release_buffers(conn_);
}

// A write failed: the broker may have closed the connection (a shutdown sends "320
// CONNECTION_FORCED" first) while we were sending. What it sent before is still in the receive
// buffer: settle the confirms found there, and throw the broker's own reason when a
// connection.close is among them. Returns when there is nothing (more) to read.
void Connection::read_last_words() {
    timeval none{};
    amqp_frame_t f;
    while (amqp_simple_wait_frame_noblock(conn_, &f, &none) == AMQP_STATUS_OK)
        handle_frame(f);
}

void Connection::handle_frame(const amqp_frame_t &f) {
    if (f.frame_type == AMQP_FRAME_METHOD) {
        const amqp_method_t &m = f.payload.method;
        switch (m.id) {
        case AMQP_BASIC_ACK_METHOD: {
            auto *a = static_cast<amqp_basic_ack_t *>(m.decoded);
            complete(window_.settle(a->delivery_tag, a->multiple, false));
            return;
        }
        case AMQP_BASIC_NACK_METHOD: {
            auto *n = static_cast<amqp_basic_nack_t *>(m.decoded);
            complete(window_.settle(n->delivery_tag, n->multiple, true));
            return;
        }
        case AMQP_BASIC_RETURN_METHOD: {
            auto *r = static_cast<amqp_basic_return_t *>(m.decoded);
            returning_ = Returning{};
            returning_.active = true;
            returning_.exchange = str(r->exchange);
            returning_.key = str(r->routing_key);
            returning_.text = std::to_string(r->reply_code) + " " + str(r->reply_text);
            return;
        }
        case AMQP_CHANNEL_CLOSE_METHOD: {
            amqp_channel_close_ok_t ok{};
            amqp_send_method(conn_, f.channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
            if (f.channel == 2) {
                ch2_open_ = false;
                return;
            }
            throw Lost{"the broker closed the channel: " + close_reason(m), true};
        }
        case AMQP_CONNECTION_CLOSE_METHOD: {
            amqp_connection_close_ok_t ok{};
            amqp_send_method(conn_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
            throw Lost{"the broker closed the connection: " + close_reason(m), false};
        }
        case AMQP_CONNECTION_BLOCKED_METHOD: {
            auto *b = static_cast<amqp_connection_blocked_t *>(m.decoded);
            blocked_ = true;
            log(EVI_L_WARN,
                "broker " + name_ + " blocks publishing: " + str(b->reason) + "; events wait");
            return;
        }
        case AMQP_CONNECTION_UNBLOCKED_METHOD:
            blocked_ = false;
            log(EVI_L_NOTICE, "broker " + name_ + " accepts publishing again");
            return;
        default:
            return;
        }
    }
    if (f.channel != 1 || !returning_.active) return;
    if (f.frame_type == AMQP_FRAME_HEADER) {
        returning_.have_header = true;
        returning_.body_size = f.payload.properties.body_size;
        if (returning_.body_size == 0) finish_return();
    } else if (f.frame_type == AMQP_FRAME_BODY) {
        returning_.body += str(f.payload.body_fragment);
        if (returning_.body.size() >= returning_.body_size) finish_return();
    }
}

void Connection::finish_return() {
    hooks_.count(Counter::Returned, 1);
    std::string what = "unroutable (" + returning_.text + ") to exchange '" + returning_.exchange +
                       "' with routing key '" + returning_.key + "'";
    if (logged_failures_.insert(what).second)
        log(EVI_L_ERR, "broker " + name_ + " returned an event: " + what +
                           " (further returns like it are logged at debug level)");
    else
        log(EVI_L_DBG, "broker " + name_ + " returned an event: " + what);
    if (settings_.publisher_confirms)
        window_.mark_returned(returning_.exchange, returning_.key, returning_.body);
    returning_ = Returning{};
}

// ---------------------------------------------------------------------------------------------
// Outcomes

bool Connection::can_publish() const {
    return probe_ > 0 ? window_.empty() : window_.size() < kMaxInFlight;
}

void Connection::complete(std::vector<Completed> done) {
    for (auto &c : done) {
        if (probe_ > 0) --probe_;
        if (c.outcome == Outcome::Confirmed) {
            hooks_.count(Counter::Confirmed, 1);
            {
                std::lock_guard<std::mutex> g(mu_);
                --held_;
            }
            hooks_.report(c.item.token, EVI_OK);
        } else {
            fail(c.item, c.outcome == Outcome::Nacked ? "nacked by the broker" : nullptr);
        }
    }
}

void Connection::fail(Outgoing &item, const char *reason) {
    if (reason) log(EVI_L_DBG, std::string("event failed on ") + name_ + ": " + reason);
    hooks_.count(Counter::Failed, 1);
    {
        std::lock_guard<std::mutex> g(mu_);
        --held_;
    }
    hooks_.report(item.token, EVI_ERR);
}

void Connection::fail_all(const char *reason) {
    std::deque<Outgoing> all = window_.take_all();
    for (auto &i : backlog_)
        all.push_back(std::move(i));
    backlog_.clear();
    {
        std::unique_lock<std::mutex> lock(mu_);
        drain_incoming(lock);
    }
    for (auto &i : backlog_)
        all.push_back(std::move(i));
    backlog_.clear();
    if (!all.empty() && reason)
        log(EVI_L_WARN,
            std::to_string(all.size()) + " event(s) for " + name_ + " failed: " + reason);
    for (auto &i : all)
        fail(i, nullptr);
}

void release_tls_library() {
    if (tls_library_used.exchange(false)) amqp_uninitialize_ssl_library();
}

} // namespace evi::rmq
