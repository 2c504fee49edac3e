// A shared_ptr that threads load and replace at the same time: what
// std::atomic<std::shared_ptr<T>> promises. libstdc++ 12 (Debian 12's) gets that type subtly
// wrong: load() copies the pointer under its internal lock bit, then clears the bit with
// relaxed ordering, so a later store() is not ordered after that read. ThreadSanitizer reports it
// as a data race between load() and store() (google/sanitizers#1558), and by the C++ memory
// model it is one. This class does the same thing (a lock bit held for the pointer copy only:
// one atomic exchange, one refcount increment), with the release the library omits.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

namespace evi {

// One spin-wait step: tells the CPU that this thread is waiting on another (x86 PAUSE).
inline void cpu_pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

template <class T> class SharedSnapshot {
  public:
    explicit SharedSnapshot(std::shared_ptr<T> initial) : ptr_(std::move(initial)) {}
    SharedSnapshot(const SharedSnapshot &) = delete;
    SharedSnapshot &operator=(const SharedSnapshot &) = delete;

    std::shared_ptr<T> load() const {
        Locked guard(busy_);
        return ptr_;
    }

    // The previous value ends up in `next`, a parameter: it is released after the guard, out
    // of the lock, by the caller's thread.
    void store(std::shared_ptr<T> next) {
        Locked guard(busy_);
        ptr_.swap(next);
    }

  private:
    class Locked {
      public:
        explicit Locked(std::atomic<bool> &busy) : busy_(busy) {
            for (int spins = 0; busy_.exchange(true, std::memory_order_acquire);) {
                while (busy_.load(std::memory_order_relaxed)) {
                    // The holder copies one pointer; when it was preempted meanwhile, let it run.
                    if (++spins < 64)
                        cpu_pause();
                    else
                        std::this_thread::yield();
                }
            }
        }
        ~Locked() { busy_.store(false, std::memory_order_release); }
        Locked(const Locked &) = delete;
        Locked &operator=(const Locked &) = delete;

      private:
        std::atomic<bool> &busy_;
    };

    mutable std::atomic<bool> busy_{false};
    std::shared_ptr<T> ptr_;
};

} // namespace evi
