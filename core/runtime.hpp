// The process runtime: one boost::asio::io_context run by `workers` threads, and periodic
// timers on it. The MI server and timers live on it; event delivery workers do not.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace evi {

class Runtime {
  public:
    explicit Runtime(int workers);
    ~Runtime();
    Runtime(const Runtime &) = delete;
    Runtime &operator=(const Runtime &) = delete;

    boost::asio::io_context &io() { return io_; }
    int workers() const { return workers_; }

    // Call fn every `interval` (first call after one interval) on a worker thread, until
    // stop(). A call never overlaps the previous call of the same timer.
    void every(std::chrono::milliseconds interval, std::function<void()> fn);
    // Run fn once on a worker thread.
    void post(std::function<void()> fn);

    void start();
    void stop(); // cancels timers, joins threads

  private:
    struct Timer;
    boost::asio::io_context io_;
    int workers_;
    std::mutex timers_mutex_;
    std::vector<std::shared_ptr<Timer>> timers_;
    std::vector<std::thread> threads_;
    bool started_ = false;
};

} // namespace evi
