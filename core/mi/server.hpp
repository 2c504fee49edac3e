// The management interface: JSON-RPC 2.0 over HTTP (POST /mi), GET /metrics, GET /health and
// a status page at GET /, served by Boost.Beast on I/O threads of its own (as many as the
// runtime's `workers`), each running an io_context of its own with the connections it was
// given: a request is read, run and answered on one thread, with no strand and no hand-over.
// The runtime's io_context keeps the timers and posted tasks.
#pragma once

#include "result.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace evi {
struct App;
struct Globals;
} // namespace evi

namespace evi::mi {

// events_list, event_subscribe, subscribers_list, raise_event, which, help, version, uptime,
// modules_list, module_params, get_statistics, log_level, shutdown (+ evi:* aliases).
void register_core_commands(App &app);

// One mi_listen entry: "127.0.0.1:8888", "[::1]:8888" or "unix:/path/mi.sock".
struct ListenAddress {
    bool unix_socket = false;
    std::string host; // an IP literal ("localhost" is taken as 127.0.0.1)
    uint16_t port = 0;
    std::string path;      // unix_socket
    bool loopback = false; // 127.0.0.0/8, ::1, or a unix socket
};
Result<ListenAddress> parse_listen_address(std::string_view text);

// The listen rules without binding (for `evid -c`): every mi_listen entry parses, and a
// non-loopback one needs mi_auth_token.
Result<void> check_listen(const Globals &globals);

class Server {
  public:
    explicit Server(App &app);
    ~Server();
    Server(const Server &) = delete;
    Server &operator=(const Server &) = delete;

    // Binds every app.globals.mi_listen entry (default "127.0.0.1:8888") and starts the I/O
    // threads; errors say which address failed and why. A non-loopback address is refused
    // unless mi_auth_token is set.
    Result<void> start();
    // Closes the listeners and every open connection, and joins the I/O threads (a command
    // still running is waited for). Idempotent.
    void stop();

    struct State; // internal, shared with the connections

  private:
    std::shared_ptr<State> state_;
};

} // namespace evi::mi
