// What evid shows about itself: process figures, Prometheus text for GET /metrics, the HTML
// status page for GET /, and the flat statistics of the `get_statistics` command.
#pragma once

#include "mi/command.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace evi {
struct App;
}

namespace evi::mi {

struct ProcessFigures {
    int64_t rss_bytes = 0;
    int64_t threads = 0;
};
ProcessFigures process_figures(); // from /proc/self

int64_t uptime_seconds(const App &app);

// "group:name" → value, in a stable order: core:, evi:, events:, modules:.
std::vector<std::pair<std::string, int64_t>> statistics(const App &app);

std::string render_metrics(const App &app);
std::string render_status_page(const App &app);

// Text helpers, exposed for tests.
std::string prometheus_label_value(std::string_view s); // escapes \ " and newline
std::string html_escape(std::string_view s);

} // namespace evi::mi
