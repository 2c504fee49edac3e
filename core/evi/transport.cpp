#include "evi/transport.hpp"

#include <cstddef>
#include <vector>

namespace evi {

Socket::Socket(const Transport *transport, void *handle, unsigned flags, std::string text)
    : transport_(transport), handle_(handle), flags_(flags), text_(std::move(text)) {}

Socket::~Socket() {
    if (transport_->ops->free) transport_->ops->free(handle_);
}

bool Socket::matches(const Socket &other) const {
    if (transport_ != other.transport_) return false;
    if (transport_->ops->match) return transport_->ops->match(handle_, other.handle_) != 0;
    return text_ == other.text_;
}

std::string contradictory_flags(unsigned flags) {
    if ((flags & EVI_TF_BLOCKING) && (flags & EVI_TF_ASYNC))
        return "EVI_TF_BLOCKING and EVI_TF_ASYNC together: a transport is inline, blocking "
               "(the host calls raise() from a delivery worker) or asynchronous (raise() "
               "returns EVI_PENDING and the plugin reports later), never both";
    return "";
}

Result<void> TransportRegistry::add(const evi_transport_t *ops, std::string_view module) {
    if (!ops || !ops->proto || !*ops->proto || !ops->parse || !ops->raise)
        return make_error("module '" + std::string(module) +
                          "' exports a transport without proto, parse or raise");
    constexpr size_t kV1Size = offsetof(evi_transport_t, free) + sizeof(ops->free);
    if (ops->size < kV1Size)
        return make_error("module '" + std::string(module) + "': transport '" + ops->proto +
                          "' declares size " + std::to_string(ops->size) +
                          ", shorter than the ABI 1.0 evi_transport_t (" +
                          std::to_string(kV1Size) + " bytes): set size = sizeof(evi_transport_t)");
    if (auto why = contradictory_flags(ops->flags); !why.empty())
        return make_error("module '" + std::string(module) + "': transport '" + ops->proto +
                          "' flags: " + why);
    std::lock_guard lock(mutex_);
    auto it = transports_.find(ops->proto);
    if (it != transports_.end())
        return make_error("transport '" + std::string(ops->proto) + "' of module '" +
                          std::string(module) + "' is already provided by module '" +
                          it->second->module + "'");
    transports_.emplace(ops->proto,
                        std::make_unique<Transport>(Transport{ops, std::string(module)}));
    return {};
}

const Transport *TransportRegistry::find(std::string_view proto) const {
    std::lock_guard lock(mutex_);
    auto it = transports_.find(proto);
    return it == transports_.end() ? nullptr : it->second.get();
}

std::vector<std::string> TransportRegistry::protos() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto &[name, _] : transports_)
        out.push_back(name);
    return out;
}

Result<std::shared_ptr<Socket>> TransportRegistry::open(std::string_view text, bool from_mi) const {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0) {
        return make_error("bad socket '" + std::string(text) +
                          "': expected PROTO:ADDRESS, e.g. udp:127.0.0.1:8888");
    }
    const auto proto = text.substr(0, colon);
    const Transport *t = find(proto);
    if (!t) {
        std::string known;
        for (const auto &p : protos())
            known += (known.empty() ? "" : ", ") + p;
        return make_error("bad socket '" + std::string(text) +
                          "': no loaded module provides the '" + std::string(proto) +
                          "' transport (loaded transports: " + (known.empty() ? "none" : known) +
                          ")");
    }
    const auto address = text.substr(colon + 1);
    void *handle = nullptr;
    unsigned flags = t->ops->flags;
    char err[512] = "";
    const int rc = t->ops->parse({address.data(), address.size()}, from_mi ? 1 : 0, &handle, &flags,
                                 err, sizeof err);
    if (rc != EVI_OK || !handle) {
        return make_error(
            "bad socket '" + std::string(text) +
            "': " + (err[0] ? std::string(err) : std::string("refused by module ") + t->module));
    }
    if (auto why = contradictory_flags(flags); !why.empty()) {
        if (t->ops->free) t->ops->free(handle);
        return make_error("bad socket '" + std::string(text) + "': module " + t->module +
                          "'s parse() set " + why);
    }
    std::string printed;
    if (t->ops->print) {
        char buf[512];
        int n = t->ops->print(handle, buf, sizeof buf);
        if (n >= 0 && static_cast<size_t>(n) < sizeof buf) {
            printed.assign(buf, static_cast<size_t>(n));
        } else if (n >= 0) {
            std::vector<char> big(static_cast<size_t>(n) + 1);
            t->ops->print(handle, big.data(), big.size());
            printed.assign(big.data(), static_cast<size_t>(n));
        }
        printed = std::string(proto) + ":" + printed;
    } else {
        printed = std::string(text);
    }
    return std::make_shared<Socket>(t, handle, flags, std::move(printed));
}

} // namespace evi
