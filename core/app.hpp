// Everything one running evid owns, in one place, handed to the MI and the script.
#pragma once

#include "evi/event_core.hpp"
#include "evi/transport.hpp"
#include "globals.hpp"
#include "mi/command.hpp"
#include "modules/host_api.hpp"
#include "modules/modules.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace evi {

class Runtime;
namespace script {
class Script;
}

struct App {
    std::string config_path;
    Globals globals;
    std::unique_ptr<Runtime> runtime;
    TransportRegistry transports;
    std::unique_ptr<EventCore> events;
    ModuleSet modules;
    mi::CommandRegistry commands;
    std::unique_ptr<HostServices> services;
    std::shared_ptr<script::Script> script;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::atomic<bool> draining{false};
    std::function<void()> request_shutdown; // safe from any thread
};

} // namespace evi
