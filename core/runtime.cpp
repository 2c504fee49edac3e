#include "runtime.hpp"

#include "log/log.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <exception>

namespace evi {

// Each timer has a strand of its own as its executor: its handler re-arms it on one runtime
// thread while stop() cancels it, posted to the same strand, never on another at once.
struct Runtime::Timer {
    boost::asio::steady_timer timer;
    std::chrono::milliseconds interval;
    std::function<void()> fn;
    bool stopped = false; // on the strand only
    Timer(boost::asio::io_context &io, std::chrono::milliseconds i, std::function<void()> f)
        : timer(boost::asio::make_strand(io)), interval(i), fn(std::move(f)) {}
};

Runtime::Runtime(int workers)
    : workers_(workers > 0 ? workers : std::max(1u, std::thread::hardware_concurrency())) {}

Runtime::~Runtime() {
    stop();
}

void Runtime::every(std::chrono::milliseconds interval, std::function<void()> fn) {
    auto t = std::make_shared<Timer>(io_, interval, std::move(fn));
    {
        std::lock_guard lock(timers_mutex_); // a module may add one from any thread
        timers_.push_back(t);
    }
    struct Arm {
        static void go(std::shared_ptr<Timer> t) {
            t->timer.expires_after(t->interval);
            t->timer.async_wait([t](const boost::system::error_code &ec) {
                if (ec || t->stopped) return;
                try {
                    t->fn();
                } catch (const std::exception &e) {
                    LOG_ERR("timer task failed: %s", e.what());
                }
                go(t);
            });
        }
    };
    Arm::go(t);
}

void Runtime::post(std::function<void()> fn) {
    boost::asio::post(io_, [fn = std::move(fn)] {
        try {
            fn();
        } catch (const std::exception &e) {
            LOG_ERR("task failed: %s", e.what());
        }
    });
}

void Runtime::start() {
    if (started_) return;
    started_ = true;
    for (int i = 0; i < workers_; ++i)
        threads_.emplace_back([this] {
            auto guard = boost::asio::make_work_guard(io_);
            io_.run();
        });
}

void Runtime::stop() {
    std::vector<std::shared_ptr<Timer>> timers;
    {
        std::lock_guard lock(timers_mutex_);
        timers.swap(timers_);
    }
    for (auto &t : timers) {
        boost::asio::post(t->timer.get_executor(), [t] {
            t->stopped = true;
            t->timer.cancel();
        });
    }
    io_.stop();
    for (auto &th : threads_)
        if (th.joinable()) th.join();
    threads_.clear();
}

} // namespace evi
