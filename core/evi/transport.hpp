// Transports known to the core (from loaded modules), and sockets opened through them.
#pragma once

#include "evi_plugin.h"
#include "result.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace evi {

struct Transport {
    const evi_transport_t *ops = nullptr;
    std::string module; // owning module's name, for messages
};

// A socket opened by a transport's parse(); freed by its transport when the last owner lets go.
class Socket {
  public:
    Socket(const Transport *transport, void *handle, unsigned flags, std::string text);
    ~Socket();
    Socket(const Socket &) = delete;
    Socket &operator=(const Socket &) = delete;

    const Transport &transport() const { return *transport_; }
    void *handle() const { return handle_; }
    unsigned flags() const { return flags_; }
    bool blocking() const { return flags_ & EVI_TF_BLOCKING; }
    bool async() const { return flags_ & EVI_TF_ASYNC; }
    bool inline_delivery() const { return !(flags_ & (EVI_TF_BLOCKING | EVI_TF_ASYNC)); }
    bool wants_json() const { return flags_ & EVI_TF_JSON; }
    // As the user wrote it, through the transport's print(): "udp:127.0.0.1:8888".
    const std::string &text() const { return text_; }
    bool matches(const Socket &other) const;

  private:
    const Transport *transport_;
    void *handle_;
    unsigned flags_;
    std::string text_;
};

// Why a transport's flags cannot be honoured ("" when they can).
std::string contradictory_flags(unsigned flags);

class TransportRegistry {
  public:
    // Refuses a proto that another module already registered.
    Result<void> add(const evi_transport_t *ops, std::string_view module);
    const Transport *find(std::string_view proto) const;
    std::vector<std::string> protos() const;

    // Parse "proto:address" into a socket; errors say what was wrong and what was expected.
    Result<std::shared_ptr<Socket>> open(std::string_view socket, bool from_mi) const;

  private:
    mutable std::mutex mutex_;
    std::map<std::string, std::unique_ptr<Transport>, std::less<>> transports_;
};

} // namespace evi
