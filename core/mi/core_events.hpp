// The core's own events, published at start-up:
//   E_CORE_THRESHOLD        source, time (µs), extra — a delivery or route run was slower than
//                           event_threshold_us
//   E_CORE_LOG              time, level, module, message — every log line at or above
//                           log_event_level_filter, when log_event_enabled
//   E_EVI_SUBSCRIBER_STATUS event, socket, status ("down"/"up"), reason
//   E_CORE_MEM_THRESHOLD    used, threshold (bytes), pid — RSS went above mem_threshold_mb
#pragma once

#include "result.hpp"

namespace evi {

struct App;

// Publishes the events and wires them: app.events->on_subscriber_status / on_threshold,
// evi::log::set_sink for E_CORE_LOG when app.globals.log_event_enabled, a runtime timer for
// mem_threshold_mb. Called after modules init, before the script is compiled.
Result<void> setup_core_events(App &app);

// Undoes the wiring (the E_CORE_LOG log sink refers to `app`): call it at shutdown after
// app.events->shutdown() (no delivery runs any more) and before app.events is destroyed.
void teardown_core_events(App &app);

} // namespace evi
