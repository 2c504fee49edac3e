// Global parameters of the config file (`log_level = 3`), one table for every area.
#pragma once

#include "config/ast.hpp"
#include "result.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace evi {

struct Globals {
    int log_level = 2; // NOTICE
    std::vector<std::string> mpath;
    bool module_permission_check = true;
    int workers = 0; // 0: number of cores
    // Event core
    int64_t queue_size = 10000;
    int delivery_retries = 3;
    int shutdown_timeout = 10; // seconds
    int64_t event_threshold_us = 0;
    bool log_event_enabled = false;
    int log_event_level_filter = -1; // ERROR
    int64_t mem_threshold_mb = 0;
    // Script
    int64_t max_while_loops = 10000;
    // Management interface
    std::vector<std::string> mi_listen; // empty: "127.0.0.1:8888"
    std::string mi_auth_token;
    int64_t mi_max_body = 1 << 20;
    int64_t mi_max_connections = 256;
    int64_t mi_timeout_ms = 10000;
};

// Apply one `name = value` line; the error says the expected type/range (the caller adds the
// file:line:col).
Result<void> apply_global(Globals &g, const config::GlobalParam &p);

} // namespace evi
