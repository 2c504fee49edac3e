#include "evi/event_core.hpp"
#include "evi/shared_snapshot.hpp"

#include "config/ast.hpp"

#include "log/log.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <time.h>
#include <unordered_map>

namespace evi {

namespace {

using Clock = std::chrono::steady_clock;

// Expiry has a resolution of seconds: the coarse clock is enough and costs a few ns per raise.
int64_t unix_now() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return ts.tv_sec;
}

bool valid_event_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxEventNameLength) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' ||
               c == '-';
    });
}

// Raises made while delivering (status events, nested routes) must not recurse forever.
thread_local int t_dispatch_depth = 0;
constexpr int kMaxDispatchDepth = 100;

} // namespace

// One subscription: an event, a socket, an expiry, counters, and (for blocking and async
// transports) a bounded queue drained by its own delivery worker.
class Subscriber : public std::enable_shared_from_this<Subscriber> {
  public:
    Subscriber(EventCore &core, EventEntry &entry, std::shared_ptr<Socket> socket,
               int64_t expire_at)
        : expire_at(expire_at), core_(core), entry_(entry), socket_(std::move(socket)) {}

    ~Subscriber() { stop_worker(); }

    Socket &socket() const { return *socket_; }
    const std::shared_ptr<Socket> &socket_ptr() const { return socket_; }
    EventEntry &entry() const { return entry_; }

    bool expired(int64_t now) const {
        const int64_t e = expire_at.load(std::memory_order_relaxed);
        return e != 0 && e <= now;
    }

    void start_worker() {
        if (socket_->inline_delivery()) return;
        // The worker keeps its subscriber alive until it is told to stop (stop_worker).
        worker_ = std::thread([self = shared_from_this()] { self->run(); });
    }

    // Queue an event for the worker; false (and counted) when the queue is full. The bound
    // counts every event not yet handed to the transport (queued, or taken by the worker and
    // still waiting in its batch). The worker is woken only when it sleeps.
    bool enqueue(const std::shared_ptr<const OwnedEvent> &ev) {
        bool wake;
        // Freed on return, out of the lock, on this raising thread. Made only when there is
        // something to free: an empty std::deque allocates.
        std::optional<Queue> delivered_events;
        {
            std::lock_guard lock(mutex_);
            if (!returned_.empty()) delivered_events.emplace().swap(returned_);
            const size_t taken = taken_.load(std::memory_order_relaxed);
            const size_t waiting = queue_.size() + (taken > 0 ? taken - 1 : 0);
            if (stopping_ || waiting >= core_.options().queue_size) {
                dropped.fetch_add(1, std::memory_order_relaxed);
                return false;
            }
            queue_.push_back(ev);
            queue_len_.store(queue_.size(), std::memory_order_relaxed);
            wake = sleeping_;
            sleeping_ = false;
        }
        if (wake) cv_.notify_one();
        return true;
    }

    // The queue was full a moment ago: the raiser need not copy the event for it (the drop is
    // counted by drop()). A racy read: at worst one event is dropped as the worker frees room.
    bool full() const {
        const size_t taken = taken_.load(std::memory_order_relaxed);
        return queue_len_.load(std::memory_order_relaxed) + (taken > 0 ? taken - 1 : 0) >=
               core_.options().queue_size;
    }
    void drop() { dropped.fetch_add(1, std::memory_order_relaxed); }

    // Stop the worker; what it has not handed to the transport stays in the queue (pending()).
    void stop_worker() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            stop_now_.store(true, std::memory_order_relaxed);
        }
        cv_.notify_all();
        if (!worker_.joinable()) return;
        if (worker_.get_id() == std::this_thread::get_id())
            worker_.detach(); // the last owner let go on the worker itself: it returns next
        else
            worker_.join();
    }

    // Wait until the queue is empty and nothing is in flight, or until the deadline.
    bool wait_idle(Clock::time_point deadline) {
        std::unique_lock lock(mutex_);
        return idle_cv_.wait_until(lock, deadline, [&] {
            return queue_.empty() && taken_.load(std::memory_order_relaxed) == 0;
        });
    }

    // Events not delivered (after stop_worker(): those that never will be).
    size_t pending() {
        std::lock_guard lock(mutex_);
        return queue_.size();
    }

    // Events queued or being delivered by the worker right now.
    size_t depth() {
        std::lock_guard lock(mutex_);
        return queue_.size() + taken_.load(std::memory_order_relaxed);
    }

    std::atomic<int64_t> expire_at;
    std::atomic<uint64_t> delivered{0}, failed{0}, retried{0}, dropped{0};
    std::atomic<bool> up{true};
    std::atomic<uint64_t> in_flight{0}; // async deliveries awaiting report

  private:
    using Queue = std::deque<std::shared_ptr<const OwnedEvent>>;
    void run();
    void deliver(const OwnedEvent &ev);
    bool sleep_backoff(int attempt);
    void watch_queue();

    EventCore &core_;
    EventEntry &entry_;
    std::shared_ptr<Socket> socket_;
    std::mutex mutex_;
    std::condition_variable cv_, idle_cv_;
    Queue queue_; // under mutex_
    // Events the worker has delivered, handed back so that enqueue() frees them on a raising
    // thread: the memory goes back to the thread (and malloc arena) that allocated it, instead
    // of the worker and the raiser taking one arena's lock in turn for every event. At most
    // queue_size events (the queue's own bound); beyond that the worker frees them itself.
    Queue returned_;        // under mutex_
    bool stopping_ = false; // under mutex_
    bool sleeping_ = false; // under mutex_: the worker waits for work
    std::atomic<bool> stop_now_{false};
    std::atomic<size_t> queue_len_{0}; // queue_.size(), for full() without the lock
    // Taken from the queue by the worker and not finished yet, the current one included;
    // written by the worker only.
    std::atomic<size_t> taken_{0};
    std::thread worker_;
    // How long the worker watches an empty queue before it sleeps (watch_queue()); the worker's.
    Clock::duration watch_for_ = kMaxWatch;
    static constexpr Clock::duration kMaxWatch = std::chrono::microseconds(20);
    static constexpr Clock::duration kMinWatch = std::chrono::microseconds(1);
};

using SubscriberList = std::vector<std::shared_ptr<Subscriber>>;

struct EventEntry {
    std::string name;
    int id = 0;
    std::atomic<uint64_t> raised{0};
    // Copy-on-write: raisers load a snapshot (a pointer copy, no mutex); writers replace it
    // whole.
    SharedSnapshot<const SubscriberList> subscribers{std::make_shared<const SubscriberList>()};
    // The size of the latest snapshot: most events have no subscriber, and a raise learns that
    // from one plain load, without the snapshot's lock bit and reference count.
    std::atomic<size_t> nsubscribers{0};

    // Writers, under subscribe_mutex: the snapshot first, so that a raiser that sees the new
    // count also finds the new list.
    void replace_subscribers(std::shared_ptr<const SubscriberList> next) {
        const size_t n = next->size();
        subscribers.store(std::move(next));
        nsubscribers.store(n, std::memory_order_release);
    }
};

struct EventCore::State {
    static constexpr size_t kMaxEvents = 1 << 20;
    mutable std::shared_mutex names_mutex;
    std::unordered_map<std::string, int> by_name;
    // id → entry without a lock: chunks of 1024 slots made as events are published, so that
    // an evid with a few events does not hold (and zero) a table for a million.
    static constexpr size_t kChunk = 1024;
    using Chunk = std::array<std::atomic<EventEntry *>, kChunk>;
    std::array<std::atomic<Chunk *>, kMaxEvents / kChunk> chunks{};
    std::vector<std::unique_ptr<Chunk>> owned_chunks; // under names_mutex

    EventEntry *at(int id) const {
        return (*chunks[id / kChunk].load(std::memory_order_acquire))[id % kChunk].load(
            std::memory_order_acquire);
    }
    void set(int id, EventEntry *e) { // under names_mutex
        auto &slot = chunks[id / kChunk];
        if (!slot.load(std::memory_order_relaxed)) {
            owned_chunks.push_back(std::make_unique<Chunk>());
            slot.store(owned_chunks.back().get(), std::memory_order_release);
        }
        (*slot.load(std::memory_order_relaxed))[id % kChunk].store(e, std::memory_order_release);
    }
    std::atomic<int> count{0};
    std::vector<std::unique_ptr<EventEntry>> owned; // under names_mutex

    std::mutex subscribe_mutex; // serialises changes of subscriber lists

    // Async deliveries awaiting host->report.
    struct Pending {
        std::shared_ptr<Subscriber> subscriber;    // queued delivery, or
        std::shared_ptr<std::promise<int>> waiter; // deliver_now()
        Clock::time_point started;
    };
    std::mutex pending_mutex;
    std::unordered_map<uint64_t, Pending> pending;
    std::atomic<uint64_t> next_token{1};

    std::atomic<bool> stopped{false};

    // Subscribers removed while their worker may be busy in a blocking delivery: stopped on a
    // thread of their own, joined before the core goes away (their sockets must be freed while
    // their module is still loaded).
    struct Retiring {
        std::thread thread;
        std::shared_ptr<std::atomic<bool>> done;
    };
    std::mutex retired_mutex;
    std::vector<Retiring> retired;

    void retire(std::shared_ptr<Subscriber> s) {
        if (s->socket().inline_delivery()) {
            s->stop_worker();
            return;
        }
        auto done = std::make_shared<std::atomic<bool>>(false);
        std::thread t([s = std::move(s), done]() mutable {
            s->stop_worker();
            s.reset();
            done->store(true);
        });
        std::lock_guard lock(retired_mutex);
        retired.push_back({std::move(t), std::move(done)});
    }

    // Join retired workers; all of them, or only those already finished.
    void join_retired(bool all) {
        std::vector<Retiring> joinable;
        {
            std::lock_guard lock(retired_mutex);
            for (auto it = retired.begin(); it != retired.end();) {
                if (all || it->done->load()) {
                    joinable.push_back(std::move(*it));
                    it = retired.erase(it);
                } else {
                    ++it;
                }
            }
        }
        for (auto &r : joinable)
            r.thread.join();
    }
};

// ---- Subscriber worker ----------------------------------------------------------------------

bool Subscriber::sleep_backoff(int attempt) {
    const int base = std::max(1, core_.options().retry_backoff_ms);
    const auto wait = std::chrono::milliseconds(std::min(2000, base << std::min(attempt, 10)));
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, wait, [&] { return stopping_; });
    return !stopping_;
}

// Before it sleeps on an empty queue, the worker watches it for a few microseconds, out of the
// lock: a raiser that keeps raising then finds the worker awake and wakes nobody, where a
// sleeping worker costs it a futex call per event (and the worker one more to sleep again).
// The watch is halved each time it ends empty-handed (down to kMinWatch: an idle worker costs
// about a microsecond per event) and doubled each time it catches an event (up to kMaxWatch).
// On one CPU the raiser cannot run while the worker watches: no watch there.
void Subscriber::watch_queue() {
    static const bool one_cpu = std::thread::hardware_concurrency() <= 1;
    if (one_cpu) return;
    const auto until = Clock::now() + watch_for_;
    for (int i = 1;; ++i) {
        if (queue_len_.load(std::memory_order_relaxed) != 0 ||
            stop_now_.load(std::memory_order_relaxed)) {
            watch_for_ = std::min(kMaxWatch, watch_for_ * 2);
            return;
        }
        cpu_pause();
        if (i % 16 == 0 && Clock::now() >= until) break;
    }
    watch_for_ = std::max(kMinWatch, watch_for_ / 2);
}

// The worker takes the whole queue at once and delivers it in order, so that a busy queue
// costs one lock and no wake-up per event.
void Subscriber::run() {
    Queue batch, done;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            if (!done.empty() && returned_.size() + done.size() <= core_.options().queue_size) {
                if (returned_.empty())
                    returned_.swap(done);
                else
                    returned_.insert(returned_.end(), std::make_move_iterator(done.begin()),
                                     std::make_move_iterator(done.end()));
            }
            if (!batch.empty()) { // stopped in the middle: give back what was not delivered
                queue_.insert(queue_.begin(), std::make_move_iterator(batch.begin()),
                              std::make_move_iterator(batch.end()));
                queue_len_.store(queue_.size(), std::memory_order_relaxed);
            }
            batch.clear();
            taken_.store(0, std::memory_order_relaxed);
            if (queue_.empty()) idle_cv_.notify_all();
            if (!stopping_ && queue_.empty()) {
                lock.unlock();
                watch_queue();
                lock.lock();
            }
            while (!stopping_ && queue_.empty()) {
                sleeping_ = true;
                cv_.wait(lock);
            }
            sleeping_ = false;
            if (stopping_) return;
            batch.swap(queue_);
            queue_len_.store(0, std::memory_order_relaxed);
            taken_.store(batch.size(), std::memory_order_relaxed);
        }
        done.clear(); // what could not be handed back
        while (!batch.empty() && !stop_now_.load(std::memory_order_relaxed)) {
            deliver(*batch.front());
            done.push_back(std::move(batch.front()));
            batch.pop_front();
            taken_.store(batch.size(), std::memory_order_relaxed);
        }
    }
}

void Subscriber::deliver(const OwnedEvent &ev) {
    const auto &view = ev.view();
    const bool timed = core_.options().event_threshold_us > 0 || socket_->async();
    const auto started = timed ? Clock::now() : Clock::time_point{};
    int status = EVI_ERR;
    for (int attempt = 0;; ++attempt) {
        if (socket_->async()) {
            const uint64_t token = core_.state_->next_token.fetch_add(1);
            {
                std::lock_guard lock(core_.state_->pending_mutex);
                core_.state_->pending[token] = {shared_from_this(), nullptr, started};
            }
            in_flight.fetch_add(1, std::memory_order_relaxed);
            status = socket_->transport().ops->raise(socket_->handle(), &view, token);
            if (status == EVI_PENDING) return; // the outcome comes through report()
            {
                std::lock_guard lock(core_.state_->pending_mutex);
                core_.state_->pending.erase(token);
            }
            in_flight.fetch_sub(1, std::memory_order_relaxed);
            if (status == EVI_AGAIN) {
                if (!sleep_backoff(std::min(attempt, 4))) break;
                continue;
            }
            break;
        }
        status = socket_->transport().ops->raise(socket_->handle(), &view, 0);
        if (status == EVI_OK || attempt >= core_.options().delivery_retries) break;
        retried.fetch_add(1, std::memory_order_relaxed);
        if (!sleep_backoff(attempt)) break;
    }
    const auto micros =
        timed
            ? std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count()
            : 0;
    core_.outcome(*this, status == EVI_OK ? EVI_OK : EVI_ERR, micros);
}

// ---- EventCore ------------------------------------------------------------------------------

EventCore::EventCore(const TransportRegistry &transports, CoreOptions options)
    : transports_(transports), options_(options), state_(std::make_unique<State>()) {}

EventCore::~EventCore() {
    shutdown(std::chrono::milliseconds(0));
    state_->join_retired(true);
}

Result<int> EventCore::publish(std::string_view name) {
    if (!valid_event_name(name))
        return make_error(config::event_name_problem(name)); // quotes the name safely
    std::unique_lock lock(state_->names_mutex);
    auto it = state_->by_name.find(std::string(name));
    if (it != state_->by_name.end()) return it->second;
    const int id = state_->count.load();
    if (static_cast<size_t>(id) >= State::kMaxEvents)
        return make_error("too many events published (at most " +
                          std::to_string(State::kMaxEvents) + ")");
    auto e = std::make_unique<EventEntry>();
    e->name = std::string(name);
    e->id = id;
    state_->set(id, e.get());
    state_->by_name.emplace(e->name, id);
    state_->owned.push_back(std::move(e));
    state_->count.store(id + 1, std::memory_order_release);
    return id;
}

std::optional<int> EventCore::find(std::string_view name) const {
    std::shared_lock lock(state_->names_mutex);
    auto it = state_->by_name.find(std::string(name));
    if (it == state_->by_name.end()) return std::nullopt;
    return it->second;
}

EventEntry *EventCore::entry(int id) const {
    if (id < 0 || id >= state_->count.load(std::memory_order_acquire)) return nullptr;
    return state_->at(id);
}

EventEntry *EventCore::entry(std::string_view name) const {
    auto id = find(name);
    return id ? entry(*id) : nullptr;
}

Result<size_t> EventCore::raise(std::string_view name, const evi_param_t *params, size_t n) {
    EventEntry *e = entry(name);
    if (!e) return make_error("event '" + config::excerpt(name) + "' is not published");
    return raise(e->id, params, n);
}

Result<size_t> EventCore::raise(std::string_view name, const EventParams &params) {
    auto c = to_c_params(params);
    return raise(name, c.data(), c.size());
}

Result<size_t> EventCore::raise(int id, const EventParams &params) {
    auto c = to_c_params(params);
    return raise(id, c.data(), c.size());
}

bool EventCore::probe(int id) const {
    EventEntry *e = entry(id);
    if (!e || e->nsubscribers.load(std::memory_order_acquire) == 0) return false;
    const int64_t now = unix_now();
    const auto subs = e->subscribers.load();
    return std::any_of(subs->begin(), subs->end(),
                       [now](const auto &s) { return !s->expired(now); });
}

Result<size_t> EventCore::raise(int id, const evi_param_t *params, size_t n) {
    EventEntry *e = entry(id);
    if (!e) return make_error("no event with id " + std::to_string(id));
    if (state_->stopped.load(std::memory_order_acquire))
        return make_error("event '" + e->name + "' not raised: shutting down");
    if (t_dispatch_depth >= kMaxDispatchDepth)
        return make_error("event '" + e->name +
                          "' not raised: events raised while delivering "
                          "events nest deeper than " +
                          std::to_string(kMaxDispatchDepth));
    e->raised.fetch_add(1, std::memory_order_relaxed);
    if (e->nsubscribers.load(std::memory_order_acquire) == 0) return size_t{0};
    auto subs = e->subscribers.load();
    if (subs->empty()) return size_t{0};

    const int64_t now = unix_now();
    bool want_json = false, want_copy = false;
    size_t live = 0;
    for (const auto &s : *subs) {
        if (s->expired(now)) continue;
        ++live;
        // A queued subscriber whose queue is full gets no copy: the event is dropped for it.
        if (s->socket().inline_delivery() || !s->full()) {
            want_json |= s->socket().wants_json();
            want_copy |= !s->socket().inline_delivery();
        }
    }
    if (live == 0) return size_t{0};

    ++t_dispatch_depth;
    std::string json;
    if (want_json) json = encode_json_notification(e->name, params, n);
    std::shared_ptr<const OwnedEvent> owned;
    if (want_copy) owned = std::make_shared<const OwnedEvent>(e->name, params, n, json);
    evi_event_t view{{e->name.data(), e->name.size()}, params, n, {json.data(), json.size()}};

    const bool timed = options_.event_threshold_us > 0;
    for (const auto &s : *subs) {
        if (s->expired(now)) continue;
        Socket &sock = s->socket();
        if (!sock.inline_delivery()) {
            if (owned)
                s->enqueue(owned);
            else
                s->drop();
            continue;
        }
        const auto t0 = timed ? Clock::now() : Clock::time_point{};
        const int rc = sock.transport().ops->raise(sock.handle(), &view, 0);
        const int64_t micros =
            timed ? std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()
                  : 0;
        outcome(*s, rc == EVI_OK ? EVI_OK : EVI_ERR, micros);
    }
    --t_dispatch_depth;
    return live;
}

void EventCore::outcome(Subscriber &s, int status, int64_t micros) {
    if (status == EVI_OK) {
        s.delivered.fetch_add(1, std::memory_order_relaxed);
        if (!s.up.load(std::memory_order_relaxed) && !s.up.exchange(true) && on_subscriber_status)
            on_subscriber_status(s.entry().name, s.socket().text(), true, "delivery succeeded");
    } else {
        s.failed.fetch_add(1, std::memory_order_relaxed);
        if (s.up.load(std::memory_order_relaxed) && s.up.exchange(false) && on_subscriber_status)
            on_subscriber_status(s.entry().name, s.socket().text(), false, "delivery failed");
    }
    if (options_.event_threshold_us > 0 && micros > options_.event_threshold_us && on_threshold)
        on_threshold("delivery", micros, "event " + s.entry().name + " to " + s.socket().text());
}

void EventCore::report(uint64_t token, int status, std::string_view module) {
    State::Pending p;
    {
        std::lock_guard lock(state_->pending_mutex);
        auto it = state_->pending.find(token);
        if (it == state_->pending.end()) {
            // After shutdown the tokens are forgotten: modules failing what they still held
            // (already counted as undelivered) are expected, not worth a line each.
            if (!state_->stopped.load())
                LOG_WARN("module %.*s reported an outcome for unknown delivery token %llu",
                         static_cast<int>(module.empty() ? 9 : module.size()),
                         module.empty() ? "(unnamed)" : module.data(),
                         static_cast<unsigned long long>(token));
            return;
        }
        p = std::move(it->second);
        state_->pending.erase(it);
    }
    const int rc = status == EVI_OK ? EVI_OK : EVI_ERR;
    if (p.waiter) {
        p.waiter->set_value(rc);
        return;
    }
    if (p.subscriber) {
        p.subscriber->in_flight.fetch_sub(1, std::memory_order_relaxed);
        const auto micros =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - p.started).count();
        outcome(*p.subscriber, rc, micros);
    }
}

int EventCore::deliver_now(Socket &socket, const evi_event_t &ev) {
    std::string json;
    evi_event_t view = ev;
    if (socket.wants_json() && view.json.len == 0) {
        json = encode_json_notification(std::string_view(ev.name.s, ev.name.len), ev.params,
                                        ev.nparams);
        view.json = {json.data(), json.size()};
    }
    const auto *ops = socket.transport().ops;
    if (!socket.async()) return ops->raise(socket.handle(), &view, 0) == EVI_OK ? EVI_OK : EVI_ERR;

    // Async: wait for the report (or retry while the transport says "again").
    for (int attempt = 0; attempt < 50; ++attempt) {
        const uint64_t token = state_->next_token.fetch_add(1);
        auto waiter = std::make_shared<std::promise<int>>();
        auto fut = waiter->get_future();
        {
            std::lock_guard lock(state_->pending_mutex);
            state_->pending[token] = {nullptr, waiter, Clock::now()};
        }
        const int rc = ops->raise(socket.handle(), &view, token);
        if (rc == EVI_PENDING) {
            if (fut.wait_for(std::chrono::seconds(60)) == std::future_status::ready)
                return fut.get();
            return EVI_ERR; // the late report finds its waiter and is ignored
        }
        {
            std::lock_guard lock(state_->pending_mutex);
            state_->pending.erase(token);
        }
        if (rc != EVI_AGAIN) return rc == EVI_OK ? EVI_OK : EVI_ERR;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return EVI_ERR;
}

Result<SubscribeOutcome> EventCore::subscribe(std::string_view event, std::string_view socket,
                                              std::chrono::seconds expire, bool from_mi) {
    if (!entry(event)) return make_error("event '" + config::excerpt(event) + "' is not published");
    auto sock = transports_.open(socket, from_mi);
    if (!sock) return sock.error();
    return subscribe(event, std::move(*sock), expire);
}

Result<SubscribeOutcome> EventCore::subscribe(std::string_view event,
                                              std::shared_ptr<Socket> socket,
                                              std::chrono::seconds expire) {
    EventEntry *e = entry(event);
    if (!e) return make_error("event '" + config::excerpt(event) + "' is not published");
    if (state_->stopped.load()) return make_error("not subscribed: shutting down");
    const int64_t expire_at = expire.count() > 0 ? unix_now() + expire.count() : 0;

    std::lock_guard lock(state_->subscribe_mutex);
    auto current = e->subscribers.load();
    for (const auto &s : *current) {
        if (s->socket().matches(*socket)) {
            s->expire_at.store(expire_at);
            return SubscribeOutcome::Refreshed;
        }
    }
    auto sub = std::make_shared<Subscriber>(*this, *e, std::move(socket), expire_at);
    sub->start_worker();
    auto next = std::make_shared<SubscriberList>(*current);
    next->push_back(std::move(sub));
    e->replace_subscribers(std::move(next));
    return SubscribeOutcome::Added;
}

Result<void> EventCore::unsubscribe(std::string_view event, std::string_view socket, bool from_mi) {
    EventEntry *e = entry(event);
    if (!e) return make_error("event '" + config::excerpt(event) + "' is not published");
    auto probe = transports_.open(socket, from_mi);
    std::shared_ptr<Subscriber> removed;
    {
        std::lock_guard lock(state_->subscribe_mutex);
        auto current = e->subscribers.load();
        auto next = std::make_shared<SubscriberList>();
        for (const auto &s : *current) {
            const bool same = probe ? s->socket().matches(**probe) : s->socket().text() == socket;
            if (same && !removed)
                removed = s;
            else
                next->push_back(s);
        }
        if (!removed)
            return make_error("no subscriber '" + config::excerpt(socket, 256) + "' for event '" +
                              config::excerpt(event) + "'");
        e->replace_subscribers(std::move(next));
    }
    // Stop the worker off this thread: a blocking delivery in progress may take a while.
    state_->retire(std::move(removed));
    return {};
}

std::vector<EventInfo> EventCore::events() const {
    std::vector<EventInfo> out;
    const int n = state_->count.load(std::memory_order_acquire);
    out.reserve(n);
    for (int i = 0; i < n; ++i) {
        EventEntry *e = state_->at(i);
        out.push_back({e->name, e->id, e->raised.load(), e->subscribers.load()->size()});
    }
    return out;
}

std::vector<SubscriberInfo> EventCore::subscribers(std::optional<std::string_view> event,
                                                   std::optional<std::string_view> socket) const {
    std::vector<SubscriberInfo> out;
    const int64_t now = unix_now();
    const int n = state_->count.load(std::memory_order_acquire);
    for (int i = 0; i < n; ++i) {
        EventEntry *e = state_->at(i);
        if (event && e->name != *event) continue;
        // Held for the whole loop: `for (s : *e->subscribers.load())` would let the snapshot go
        // at once (a range-for keeps only the vector reference alive, not the shared_ptr), and
        // a subscribe, unsubscribe or expiry meanwhile would free the vector being read.
        const auto subs = e->subscribers.load();
        for (const auto &s : *subs) {
            if (socket && s->socket().text() != *socket) continue;
            if (s->expired(now)) continue;
            SubscriberInfo info;
            info.event = e->name;
            info.socket = s->socket().text();
            info.expire_at = s->expire_at.load();
            info.ttl = info.expire_at ? std::max<int64_t>(0, info.expire_at - now) : 0;
            info.delivered = s->delivered.load();
            info.failed = s->failed.load();
            info.retried = s->retried.load();
            info.dropped = s->dropped.load();
            info.queued = s->depth() + s->in_flight.load();
            info.up = s->up.load();
            out.push_back(std::move(info));
        }
    }
    return out;
}

void EventCore::reap_expired() {
    const int64_t now = unix_now();
    std::vector<std::shared_ptr<Subscriber>> gone;
    {
        std::lock_guard lock(state_->subscribe_mutex);
        const int n = state_->count.load(std::memory_order_acquire);
        for (int i = 0; i < n; ++i) {
            EventEntry *e = state_->at(i);
            auto current = e->subscribers.load();
            if (std::none_of(current->begin(), current->end(),
                             [&](const auto &s) { return s->expired(now); }))
                continue;
            auto next = std::make_shared<SubscriberList>();
            for (const auto &s : *current)
                (s->expired(now) ? gone : *next).push_back(s);
            e->replace_subscribers(std::move(next));
        }
    }
    for (auto &s : gone) {
        LOG_DBG("subscriber %s of %s expired", s->socket().text().c_str(), s->entry().name.c_str());
        state_->retire(std::move(s));
    }
    state_->join_retired(false);
}

uint64_t EventCore::shutdown(std::chrono::milliseconds grace) {
    return shutdown_until(Clock::now() + grace);
}

uint64_t EventCore::shutdown_until(Clock::time_point deadline) {
    if (state_->stopped.exchange(true)) return 0;
    std::vector<std::shared_ptr<Subscriber>> all;
    {
        std::lock_guard lock(state_->subscribe_mutex);
        const int n = state_->count.load(std::memory_order_acquire);
        for (int i = 0; i < n; ++i) {
            EventEntry *e = state_->at(i);
            auto subs = e->subscribers.load();
            all.insert(all.end(), subs->begin(), subs->end());
        }
    }
    for (auto &s : all)
        s->wait_idle(deadline);
    // Async deliveries still in flight get what is left of the grace period.
    while (Clock::now() < deadline) {
        {
            std::lock_guard lock(state_->pending_mutex);
            if (state_->pending.empty()) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    uint64_t lost = 0;
    for (auto &s : all) {
        s->stop_worker(); // after it returns, what it did not deliver is in its queue
        lost += s->pending() + s->in_flight.load();
    }
    state_->join_retired(true);
    {
        std::lock_guard lock(state_->pending_mutex);
        state_->pending.clear();
    }
    return lost;
}

} // namespace evi
