// Events as the core stores them: a name and an ordered list of typed, optionally named params.
#pragma once

#include "evi_plugin.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace evi {

constexpr size_t kMaxEventNameLength = 64;

struct EventParam {
    std::string name; // empty: unnamed
    std::variant<int64_t, std::string> value;
};
using EventParams = std::vector<EventParam>;

// An event copied out of the raiser's hands, shared by every queued delivery of one raise.
// `view()` gives the C view handed to plugins; it points into this object's single buffer
// (params, then every string), so that a queued event costs two allocations in all.
class OwnedEvent {
  public:
    OwnedEvent(std::string_view name, const evi_param_t *params, size_t n, std::string_view json);
    const evi_event_t &view() const { return view_; }
    std::string_view name() const { return {view_.name.s, view_.name.len}; }

  private:
    std::unique_ptr<std::byte[]> buffer_;
    evi_event_t view_{};
};

// C views of core params (valid while `params` lives).
std::vector<evi_param_t> to_c_params(const EventParams &params);

// The OpenSIPS 3 JSON-RPC notification, compact: {"jsonrpc":"2.0","method":NAME,"params":…}.
// No "params" key without params; an object when the first param is named, else an array.
std::string encode_json_notification(std::string_view name, const evi_param_t *params, size_t n);
// Appends s as a JSON string (with quotes), escaping as OpenSIPS does.
void append_json_string(std::string &out, std::string_view s);

} // namespace evi
