// Bookkeeping of publisher confirms: which published events wait for the broker's
// basic.ack / basic.nack, and which of them the broker returned as unroutable.
// Pure data, no I/O: the connection thread feeds it what it reads from the wire.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rmq_address.h"

namespace evi::rmq {

using Clock = std::chrono::steady_clock;

/** One event on its way to the broker. */
struct Outgoing {
    uint64_t token = 0; // the host's token, reported exactly once
    std::string body;
    std::shared_ptr<const Address> dest; // exchange, routing key, persistent
    Clock::time_point raised{};
    int channel_failures = 0; // times its channel was closed under it by the broker
};

enum class Outcome { Confirmed, Nacked, Returned };

struct Completed {
    Outgoing item;
    Outcome outcome;
};

/** Published events in delivery-tag order, waiting for their confirm. */
class ConfirmWindow {
  public:
    void add(uint64_t tag, Outgoing item, Clock::time_point now = Clock::now()) {
        entries_.push_back(Entry{tag, std::move(item), false, now});
    }

    /** basic.ack (nack = false) or basic.nack for `tag`, or for every tag <= `tag` when
     *  `multiple`. Returns the completed events in publish order. */
    std::vector<Completed> settle(uint64_t tag, bool multiple, bool nack) {
        std::vector<Completed> done;
        auto finish = [&](Entry &e) {
            Outcome o = nack         ? Outcome::Nacked
                        : e.returned ? Outcome::Returned
                                     : Outcome::Confirmed;
            done.push_back(Completed{std::move(e.item), o});
        };
        if (multiple) {
            while (!entries_.empty() && entries_.front().tag <= tag) {
                finish(entries_.front());
                entries_.pop_front();
            }
        } else {
            for (auto it = entries_.begin(); it != entries_.end() && it->tag <= tag; ++it) {
                if (it->tag == tag) {
                    finish(*it);
                    entries_.erase(it);
                    break;
                }
            }
        }
        return done;
    }

    /** basic.return: the broker could not route a mandatory message. The return carries no
     *  delivery tag (its ack follows), so the oldest unsettled event with the same exchange,
     *  routing key and body is marked. Returns false when none matches. */
    bool mark_returned(std::string_view exchange, std::string_view key, std::string_view body) {
        for (auto &e : entries_) {
            if (!e.returned && e.item.dest->exchange == exchange &&
                e.item.dest->routing_key == key && e.item.body == body) {
                e.returned = true;
                return true;
            }
        }
        return false;
    }

    /** The connection is gone: every unsettled event, in publish order, to publish again. */
    std::deque<Outgoing> take_all() {
        std::deque<Outgoing> r;
        for (auto &e : entries_)
            r.push_back(std::move(e.item));
        entries_.clear();
        return r;
    }

    size_t size() const { return entries_.size(); }
    bool empty() const { return entries_.empty(); }
    /** When the oldest unsettled event was published (only when !empty()). */
    Clock::time_point oldest_published() const { return entries_.front().published; }

  private:
    struct Entry {
        uint64_t tag;
        Outgoing item;
        bool returned;
        Clock::time_point published;
    };
    std::deque<Entry> entries_;
};

} // namespace evi::rmq
