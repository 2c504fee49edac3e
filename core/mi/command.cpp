#include "mi/command.hpp"

namespace evi::mi {

bool CommandRegistry::add(Command command) {
    std::lock_guard lock(mutex_);
    if (by_name_.count(command.name))
        return false;
    for (const auto &a : command.aliases)
        if (by_name_.count(a))
            return false;
    auto owned = std::make_unique<Command>(std::move(command));
    by_name_[owned->name] = owned.get();
    for (const auto &a : owned->aliases)
        by_name_[a] = owned.get();
    commands_.push_back(std::move(owned));
    return true;
}

const Command *CommandRegistry::find(const std::string &name) const {
    std::lock_guard lock(mutex_);
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
}

std::vector<const Command *> CommandRegistry::all() const {
    std::lock_guard lock(mutex_);
    std::vector<const Command *> out;
    for (const auto &c : commands_)
        out.push_back(c.get());
    return out;
}

std::vector<std::string> CommandRegistry::names() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto &c : commands_) {
        out.push_back(c->name);
        for (const auto &a : c->aliases)
            out.push_back(a);
    }
    return out;
}

} // namespace evi::mi
