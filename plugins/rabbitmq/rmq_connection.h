// One AMQP connection to one broker endpoint (host, port, vhost, user, password, tls), with
// its own thread, shared by every socket that addresses that endpoint.
//
// Raisers only take a mutex to append to a bounded queue; the thread connects lazily,
// publishes with the mandatory flag, reads publisher confirms (pipelined), reconnects with
// capped backoff and re-publishes what was not confirmed, and reports every outcome once.
#pragma once

#include <amqp.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "rmq_address.h"
#include "rmq_confirms.h"

namespace evi::rmq {

struct Settings {
    int heartbeat_s = 0;
    int connect_timeout_ms = 500;
    int timeout_ms = 5000;
    bool publisher_confirms = true;
    size_t queue_size = 10000;
    int max_event_age_s = 0;
    std::string tls_ca_file, tls_cert_file, tls_key_file;
    bool tls_verify = true;
};

enum class Counter { Published, Confirmed, Failed, Expired, Returned, Reconnects };

/** What the connection needs from the host; all callable from the connection thread. */
struct Hooks {
    std::function<void(uint64_t token, int status)> report;
    std::function<void(int level, const std::string &msg)> log;
    std::function<void(Counter, int64_t)> count;
};

/** Results of submit(), the plugin ABI's numbers. */
enum SubmitStatus { kPending = 1, kAgain = -2, kError = -1 };

class Connection {
  public:
    Connection(Address endpoint, Settings settings, Hooks hooks);
    ~Connection();
    Connection(const Connection &) = delete;
    Connection &operator=(const Connection &) = delete;

    /** From any raiser thread; never blocks on I/O. Copies body. */
    int submit(uint64_t token, std::string_view body, std::shared_ptr<const Address> dest);

    /** Stop accepting; the thread flushes until `deadline`, fails what is left, closes. */
    void request_stop(Clock::time_point deadline);
    /** Waits for the thread (after request_stop). */
    void join();

    const Address &endpoint() const { return endpoint_; }

    /** Sockets that use this connection (parse adds, free removes): without any, an idle
     *  connection is closed. */
    void attach() { ++sockets_; }
    void detach() { --sockets_; }

  private:
    struct Lost {
        std::string why;
        bool channel_error;
    };

    void run();
    void step();
    void drain_incoming(std::unique_lock<std::mutex> &lock);
    void wait_disconnected(std::unique_lock<std::mutex> &lock);
    bool connect(); // true when connected
    void close_gracefully();
    void destroy_connection();
    void drop(const Lost &lost);
    void publish_backlog();
    bool can_publish() const;
    bool exchange_usable(const std::string &exchange, std::string &why);
    void poll_frames(int first_wait_ms);
    void handle_frame(const amqp_frame_t &f);
    void read_last_words();
    void finish_return();
    void complete(std::vector<Completed> done);
    void fail(Outgoing &item, const char *reason);
    void fail_all(const char *reason);
    void expire_old();
    void log(int level, const std::string &msg) const { hooks_.log(level, msg); }
    void check_reply(amqp_rpc_reply_t r, const char *what);

    const Address endpoint_;
    const Settings settings_;
    const Hooks hooks_;
    const std::string name_; // endpoint_text(), for logs

    // Shared with raisers, under mu_.
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Outgoing> incoming_;
    size_t held_ = 0; // accepted and not yet reported
    bool stopping_ = false;
    bool refused_ = false; // the broker refused our login: fail fast until it accepts
    Clock::time_point stop_deadline_{};
    bool finished_ = false; // the thread reported everything and closed
    std::thread thread_;

    // The socket of the live connection, for join() to cut a send stuck on a full buffer.
    std::mutex fd_mu_;
    int sockfd_ = -1;

    std::atomic<int> sockets_{0};

    // The connection thread's own state.
    amqp_connection_state_t conn_ = nullptr;
    bool connected_ = false;
    bool blocked_ = false;         // connection.blocked (broker resource alarm)
    std::deque<Outgoing> backlog_; // accepted, not yet published (or to publish again)
    ConfirmWindow window_;
    uint64_t next_tag_ = 1;
    size_t probe_ = 0;      // events to publish one at a time (suspects of a channel error)
    bool ch2_open_ = false; // channel 2: passive exchange checks, whose failure closes it
    std::set<std::string> exchanges_ok_;
    std::map<std::string, Clock::time_point> exchanges_missing_;
    std::map<std::string, std::string> exchange_errors_;
    struct Returning {
        bool active = false;
        std::string exchange, key, text, body;
        uint64_t body_size = 0;
        bool have_header = false;
    } returning_;
    Clock::time_point next_attempt_{};
    Clock::time_point last_activity_{};
    std::chrono::milliseconds backoff_{0};
    std::string last_error_; // logged once until it changes
    int failed_attempts_ = 0;
    bool accepted_before_ = false; // a login succeeded once on this connection's broker
    std::optional<Clock::time_point> refusing_since_; // the first refusal since the last login
    bool stop_attempted_ = false;
    std::set<std::string> logged_failures_;
};

// Frees rabbitmq-c's process-wide OpenSSL state (its BIO method), which the first TLS socket
// creates, or it leaks each time evid unloads the module. Only when a TLS socket was made:
// freeing state that was never created fails an assertion in librabbitmq 0.11 (Debian 12) and
// aborts evid at shutdown. Call when no connection is left.
void release_tls_library();

} // namespace evi::rmq
