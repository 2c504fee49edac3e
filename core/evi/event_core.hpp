// The event core: event registry (name → id), subscribers, expiry, dispatch and counters.
// Delivery semantics live here, the same for every transport (DESIGN.md).
#pragma once

#include "evi/event.hpp"
#include "evi/transport.hpp"
#include "result.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evi {

class Subscriber;
struct EventEntry;

struct EventInfo {
    std::string name;
    int id = 0;
    uint64_t raised = 0;
    size_t subscribers = 0;
};

struct SubscriberInfo {
    std::string event;
    std::string socket;
    int64_t expire_at = 0; // unix seconds; 0 = never expires
    int64_t ttl = 0;       // seconds left; meaningless when expire_at == 0
    uint64_t delivered = 0, failed = 0, retried = 0, dropped = 0;
    uint64_t queued = 0;
    bool up = true;
};

struct CoreOptions {
    size_t queue_size = 10000;      // per non-inline subscriber
    int delivery_retries = 3;       // extra attempts for a failed blocking delivery
    int retry_backoff_ms = 100;     // first backoff, doubled each attempt (capped at 2 s)
    int64_t event_threshold_us = 0; // > 0: a slower delivery raises E_CORE_THRESHOLD
};

enum class SubscribeOutcome { Added, Refreshed, Removed };

class EventCore {
  public:
    explicit EventCore(const TransportRegistry &transports, CoreOptions options = {});
    ~EventCore();
    EventCore(const EventCore &) = delete;
    EventCore &operator=(const EventCore &) = delete;

    // Register an event name (idempotent). Names are 1..64 characters of [A-Za-z0-9_.:-].
    Result<int> publish(std::string_view name);
    std::optional<int> find(std::string_view name) const;

    // Dispatch to every live subscriber; never blocks on a peer. Returns how many subscribers
    // it was dispatched to. Error when the event is not published or the core has stopped.
    Result<size_t> raise(std::string_view name, const evi_param_t *params, size_t n);
    Result<size_t> raise(int id, const evi_param_t *params, size_t n);
    Result<size_t> raise(std::string_view name, const EventParams &params);
    Result<size_t> raise(int id, const EventParams &params);
    // True when the event has a subscriber that has not expired (OpenSIPS's evi_probe_event).
    bool probe(int id) const;

    // expire: seconds from now; 0 = never expires. A socket that matches an existing
    // subscriber of the event refreshes it. expire == 0 from the MI means "unsubscribe":
    // callers decide that and call unsubscribe().
    Result<SubscribeOutcome> subscribe(std::string_view event, std::string_view socket,
                                       std::chrono::seconds expire, bool from_mi);
    // Subscribe with an already opened socket.
    Result<SubscribeOutcome> subscribe(std::string_view event, std::shared_ptr<Socket> socket,
                                       std::chrono::seconds expire);
    Result<void> unsubscribe(std::string_view event, std::string_view socket, bool from_mi);

    std::vector<EventInfo> events() const;
    // Filtered by event name and/or printed socket when given.
    std::vector<SubscriberInfo> subscribers(std::optional<std::string_view> event = {},
                                            std::optional<std::string_view> socket = {}) const;

    // Remove expired subscribers (the runtime calls this every second).
    void reap_expired();

    // Deliver an event through one socket now and wait for its real outcome (EVI_OK or
    // EVI_ERR); used by event_virtual through the host table.
    int deliver_now(Socket &socket, const evi_event_t &ev);
    // Async transports report outcomes here; `module` names the reporter in warnings.
    void report(uint64_t token, int status, std::string_view module = {});

    // Stop accepting raises, drain queues until `deadline` (steady_clock, the clock of the
    // modules' drain() deadline), then stop workers. Returns the number of queued events that
    // could not be delivered.
    uint64_t shutdown_until(std::chrono::steady_clock::time_point deadline);
    // The same, with a deadline `grace` from now.
    uint64_t shutdown(std::chrono::milliseconds grace);

    // Observers for core events; set once at start-up.
    // status: a subscriber went "down" or "up"; reason says why.
    std::function<void(const std::string &event, const std::string &socket, bool up,
                       const std::string &reason)>
        on_subscriber_status;
    // A delivery took longer than event_threshold_us.
    std::function<void(const std::string &source, int64_t micros, const std::string &extra)>
        on_threshold;

    const CoreOptions &options() const { return options_; }

  private:
    friend class Subscriber;
    EventEntry *entry(int id) const;
    EventEntry *entry(std::string_view name) const;
    void dispatch(EventEntry &e, const evi_param_t *params, size_t n);
    void outcome(Subscriber &s, int status, int64_t micros);

    struct State;
    const TransportRegistry &transports_;
    CoreOptions options_;
    std::unique_ptr<State> state_;
};

} // namespace evi
