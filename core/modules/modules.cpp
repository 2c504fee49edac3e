#include "modules/modules.hpp"

#include "evi/event_core.hpp"
#include "evi/transport.hpp"
#include "log/log.hpp"
#include "mi/command.hpp"
#include "modules/host_api.hpp"

#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <dlfcn.h>
#include <filesystem>
#include <regex>
#include <sys/stat.h>
#include <unistd.h>

namespace evi {

namespace fs = std::filesystem;

struct Module::Library {
    boost::dll::shared_library lib;
};

struct Module::HostTable {
    ModuleContext context;
    evi_host_t table;
};

Module::~Module() = default;

const evi_host_t *Module::host() const {
    return host_ ? &host_->table : nullptr;
}

ModuleSet::ModuleSet() = default;

ModuleSet::~ModuleSet() {
    stop_all();
    destroy_all();
}

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto &c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string version_text(uint32_t major, uint32_t minor) {
    return std::to_string(major) + "." + std::to_string(minor);
}

// What the dynamic linker says about a file it could not load.
std::string dl_reason(const std::string &path) {
    void *h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h) {
        dlclose(h);
        return "unknown reason";
    }
    const char *e = dlerror();
    return e ? e : "unknown reason";
}

std::vector<std::string> candidates(std::string_view name, const std::vector<std::string> &mpath) {
    std::vector<std::string> out;
    const std::string n(name);
    if (!n.empty() && n.front() == '/') {
        out.push_back(n);
        return out;
    }
    if (n.find('/') != std::string::npos)
        out.push_back(n); // relative to the working directory, as written
    std::string stem = fs::path(n).filename().string();
    if (stem.size() > 3 && stem.compare(stem.size() - 3, 3, ".so") == 0)
        stem.resize(stem.size() - 3);
    for (const auto &dir : mpath) {
        out.push_back((fs::path(dir) / n).string());
        out.push_back((fs::path(dir) / stem / n).string());
    }
    return out;
}

Result<int64_t> parse_int_text(std::string_view s) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return make_error("not an integer");
    return v;
}

// Why a module file may not be trusted, or "" when it may.
std::string unsafe_reason(const std::string &path) {
    struct stat st {};
    const auto dir = fs::path(path).parent_path().string();
    for (const auto &p : {path, dir}) {
        if (::stat(p.c_str(), &st) != 0) return "cannot stat " + p + ": " + std::strerror(errno);
        if (st.st_mode & (S_IWGRP | S_IWOTH))
            return p + " is writable by " +
                   std::string((st.st_mode & S_IWOTH) ? "every user" : "its group") +
                   ": anyone who can write it can run code inside evid (chmod go-w " + p + ")";
        if (::geteuid() == 0 && st.st_uid != 0)
            return p + " is owned by uid " + std::to_string(st.st_uid) +
                   " while evid runs as root (chown root " + p + ")";
    }
    return "";
}

std::string range_text(const evi_param_def_t &def) {
    if (def.min > def.max) return "";
    return " from " + std::to_string(def.min) + " to " + std::to_string(def.max);
}

} // namespace

const char *param_type_name(int type) {
    switch (type) {
    case EVI_PARAM_INT:
        return "integer";
    case EVI_PARAM_STR:
        return "string";
    case EVI_PARAM_BOOL:
        return "boolean";
    case EVI_PARAM_SIZE:
        return "size";
    case EVI_PARAM_ENUM:
        return "enum";
    default:
        return "unknown";
    }
}

Result<evi_param_value_t> check_param_value(const evi_param_def_t &def,
                                            const config::Literal &value, std::string &storage) {
    const int64_t *ival = std::get_if<int64_t>(&value);
    const std::string *sval = std::get_if<std::string>(&value);
    storage = ival ? std::to_string(*ival) : *sval;
    evi_param_value_t out{0, {storage.c_str(), storage.size()}};

    auto in_range = [&](int64_t v) -> Result<evi_param_value_t> {
        if (def.min <= def.max && (v < def.min || v > def.max))
            return make_error("expected " + std::string(param_type_name(def.type)) +
                              range_text(def) + ", got " + config::excerpt(storage));
        out.i = v;
        return out;
    };

    switch (def.type) {
    case EVI_PARAM_INT: {
        if (ival) return in_range(*ival);
        auto v = parse_int_text(*sval);
        if (!v)
            return make_error("expected an integer" + range_text(def) + ", got string \"" +
                              config::excerpt(*sval) + "\"");
        return in_range(*v);
    }
    case EVI_PARAM_STR:
        if (ival)
            return make_error("expected a string, got integer " + storage +
                              " (write it in quotes)");
        return out;
    case EVI_PARAM_BOOL: {
        if (ival && (*ival == 0 || *ival == 1)) {
            out.i = *ival;
            return out;
        }
        if (sval) {
            const auto t = lower(*sval);
            if (t == "1" || t == "yes" || t == "on" || t == "true") {
                out.i = 1;
                return out;
            }
            if (t == "0" || t == "no" || t == "off" || t == "false") {
                out.i = 0;
                return out;
            }
        }
        return make_error("expected a boolean (0/1, yes/no, on/off, true/false), got " +
                          config::excerpt(storage));
    }
    case EVI_PARAM_SIZE: {
        if (ival) return in_range(*ival);
        std::string t = lower(*sval);
        int64_t mult = 1;
        if (!t.empty() && (t.back() == 'b')) t.pop_back();
        if (!t.empty()) {
            switch (t.back()) {
            case 'k':
                mult = 1024;
                break;
            case 'm':
                mult = 1024 * 1024;
                break;
            case 'g':
                mult = 1024LL * 1024 * 1024;
                break;
            default:
                break;
            }
            if (mult != 1) t.pop_back();
        }
        auto v = parse_int_text(t);
        if (!v || *v < 0 || *v > INT64_MAX / mult)
            return make_error("expected a size (bytes, with an optional k, m or g suffix)" +
                              range_text(def) + ", got \"" + config::excerpt(*sval) + "\"");
        return in_range(*v * mult);
    }
    case EVI_PARAM_ENUM: {
        std::string choices;
        for (auto p = def.enum_values; p && *p; ++p) {
            if (sval && lower(*p) == lower(*sval)) {
                out.i = p - def.enum_values;
                return out;
            }
            choices += (choices.empty() ? "" : ", ") + std::string(*p);
        }
        return make_error("expected one of: " + choices + "; got " + config::excerpt(storage));
    }
    default:
        return make_error("the module declares an unknown parameter type " +
                          std::to_string(def.type));
    }
}

Result<Module *> ModuleSet::load(std::string_view name, const std::vector<std::string> &mpath) {
    const auto places = candidates(name, mpath);
    std::string path;
    for (const auto &p : places) {
        std::error_code ec;
        if (fs::is_regular_file(p, ec)) {
            path = fs::canonical(p, ec).string();
            if (ec) path = p;
            break;
        }
    }
    if (path.empty()) {
        std::string searched;
        for (const auto &p : places)
            searched += "\n    " + config::excerpt(p, 256);
        return make_error("module '" + config::excerpt(name) + "' not found; searched:" +
                          (searched.empty() ? std::string(" (no mpath set)") : searched));
    }
    for (const auto &m : modules_)
        if (m->path_ == path)
            return make_error("module '" + m->name_ + "' is already loaded (from " + path + ")");
    if (check_permissions_) {
        if (auto why = unsafe_reason(path); !why.empty())
            return make_error("refusing to load " + path + ": " + why +
                              "; for development trees only, set module_permission_check = no");
    }

    auto lib = std::make_unique<Module::Library>();
    try {
        lib->lib.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    } catch (const std::exception &) {
        return make_error("cannot load module " + path + ": " + dl_reason(path));
    }
    if (!lib->lib.has(EVI_MODULE_SYMBOL))
        return make_error(path + " is not an EVI module: it does not export " EVI_MODULE_SYMBOL
                                 "()");
    const evi_module_t *desc = nullptr;
    try {
        desc = lib->lib.get<const evi_module_t *()>(EVI_MODULE_SYMBOL)();
    } catch (const std::exception &e) {
        return make_error(path + ": cannot read its descriptor: " + e.what());
    }
    if (!desc) return make_error(path + ": " EVI_MODULE_SYMBOL "() returned NULL");
    if (desc->abi_major != EVI_ABI_MAJOR || desc->abi_minor > EVI_ABI_MINOR) {
        return make_error(path + " was built for EVI plugin ABI " +
                          version_text(desc->abi_major, desc->abi_minor) +
                          ", this evid speaks ABI " + version_text(EVI_ABI_MAJOR, EVI_ABI_MINOR) +
                          " (the major must be equal and the minor not newer): rebuild the "
                          "module against this evid's evi_plugin.h");
    }
    if (desc->size < offsetof(evi_module_t, destroy) + sizeof desc->destroy || !desc->name ||
        !*desc->name)
        return make_error(path + ": malformed module descriptor (size " +
                          std::to_string(desc->size) + ", name missing or too short)");
    for (const auto &m : modules_)
        if (lower(m->name_) == lower(desc->name))
            return make_error("module '" + std::string(desc->name) + "' is already loaded (from " +
                              m->path_ + "; now also " + path + ")");

    auto m = std::unique_ptr<Module>(new Module());
    m->lib_ = std::move(lib);
    m->desc_ = desc;
    m->name_ = desc->name;
    m->path_ = path;
    modules_.push_back(std::move(m));
    LOG_INFO("loaded module %s %s from %s", desc->name, desc->version ? desc->version : "",
             path.c_str());
    return modules_.back().get();
}

Module *ModuleSet::find(std::string_view name) const {
    for (const auto &m : modules_)
        if (lower(m->name_) == lower(name)) return m.get();
    return nullptr;
}

Result<void> ModuleSet::set_param(std::string_view module, std::string_view param,
                                  const config::Literal &value) {
    std::regex re;
    try {
        re = std::regex(std::string(module), std::regex::ECMAScript | std::regex::icase);
    } catch (const std::regex_error &e) {
        return make_error("modparam: bad module name pattern '" + config::excerpt(module) +
                          "': " + e.what());
    }
    int matched = 0;
    for (const auto &m : modules_) {
        if (!std::regex_match(m->name_, re)) continue;
        ++matched;
        const auto &d = *m->desc_;
        const evi_param_def_t *def = nullptr;
        for (size_t i = 0; i < d.nparams; ++i)
            if (d.params[i].name && param == d.params[i].name) def = &d.params[i];
        if (!def) {
            std::string known;
            for (size_t i = 0; i < d.nparams; ++i)
                known += (known.empty() ? "" : ", ") + std::string(d.params[i].name);
            return make_error("modparam: module '" + m->name_ + "' has no parameter '" +
                              config::excerpt(param) +
                              "' (its parameters: " + (known.empty() ? "none" : known) + ")");
        }
        std::string storage;
        auto v = check_param_value(*def, value, storage);
        if (!v)
            return make_error("modparam: " + m->name_ + " parameter '" + config::excerpt(param) +
                              "': " + v.error().message);
        if (def->set) {
            char err[512] = "";
            if (def->set(&*v, err, sizeof err) != EVI_OK)
                return make_error("modparam: " + m->name_ + " parameter '" +
                                  config::excerpt(param) + "' refused the value " +
                                  config::excerpt(storage) + ": " +
                                  (err[0] ? err : "no reason given"));
        }
    }
    if (matched == 0) {
        std::string loaded;
        for (const auto &m : modules_)
            loaded += (loaded.empty() ? "" : ", ") + m->name_;
        return make_error("modparam: no loaded module matches '" + config::excerpt(module) +
                          "' (loaded: " + (loaded.empty() ? "none" : loaded) +
                          "); modparam must come after the module's loadmodule");
    }
    return {};
}

namespace {

// Wraps a module's C MI command as a registry command.
mi::Command wrap_command(const evi_mi_cmd_t &c, const std::string &module) {
    mi::Command cmd;
    cmd.name = c.name;
    if (c.alias) cmd.aliases.push_back(c.alias);
    cmd.help = c.help ? c.help : "";
    cmd.module = module;
    for (auto p = c.param_sets; p && *p; ++p) {
        std::vector<std::string> set;
        std::string s = *p;
        size_t start = 0;
        while (!s.empty() && start <= s.size()) {
            auto semi = s.find(';', start);
            set.push_back(
                s.substr(start, semi == std::string::npos ? std::string::npos : semi - start));
            if (semi == std::string::npos) break;
            start = semi + 1;
        }
        cmd.param_sets.push_back(std::move(set));
    }
    auto handler = c.handler;
    cmd.handler = [handler, module](const mi::Params &params) -> mi::Outcome {
        std::vector<std::string> strings;
        std::vector<evi_param_t> cparams;
        if (params.is_object()) {
            strings.reserve(2 * params.size());
            for (auto it = params.begin(); it != params.end(); ++it) {
                evi_param_t p{};
                strings.push_back(it.key());
                const auto &v = it.value();
                if (v.is_number_integer()) {
                    p.type = EVI_VAL_INT;
                    p.i = v.get<int64_t>();
                    strings.emplace_back();
                } else {
                    p.type = EVI_VAL_STR;
                    strings.push_back(v.is_string() ? v.get<std::string>() : v.dump());
                }
                cparams.push_back(p);
            }
            for (size_t i = 0; i < cparams.size(); ++i) {
                cparams[i].name = {strings[2 * i].data(), strings[2 * i].size()};
                cparams[i].s = {strings[2 * i + 1].data(), strings[2 * i + 1].size()};
            }
        }
        struct Reply {
            bool called = false;
            int code = 0;
            std::string text;
        } reply;
        evi_mi_request_t req{cparams.data(), cparams.size(),
                             [](void *ctx, int code, evi_str_t json) {
                                 auto *r = static_cast<Reply *>(ctx);
                                 if (r->called) return;
                                 r->called = true;
                                 r->code = code;
                                 r->text.assign(json.s ? json.s : "", json.len);
                             },
                             &reply};
        handler(&req);
        if (!reply.called)
            return mi::Failure{500, "module " + module + " did not reply", std::nullopt};
        if (reply.code != 0) return mi::Failure{reply.code, reply.text, std::nullopt};
        auto parsed = mi::json::parse(reply.text, nullptr, false);
        if (parsed.is_discarded()) {
            LOG_ERR("module %s: MI command's reply is not valid JSON (answered 500): %s",
                    module.c_str(), config::excerpt(reply.text, 200).c_str());
            return mi::Failure{500, "module " + module + " replied with invalid JSON",
                               std::nullopt};
        }
        return parsed;
    };
    return cmd;
}

} // namespace

Result<void> ModuleSet::init_all(HostServices &services) {
    for (auto &m : modules_) {
        if (m->initialized_) continue;
        m->host_ = std::make_unique<Module::HostTable>();
        m->host_->context = {m->name_, &services};
        fill_host_table(m->host_->table, &m->host_->context);
        const auto &d = *m->desc_;
        if (d.init) {
            char err[512] = "";
            int rc = EVI_ERR;
            try {
                rc = d.init(&m->host_->table, err, sizeof err);
            } catch (...) {
                std::snprintf(err, sizeof err, "init threw an exception");
            }
            if (rc != EVI_OK)
                return make_error("module " + m->name_ +
                                  " failed to initialise: " + (err[0] ? err : "no reason given"));
        }
        m->initialized_ = true;
        for (size_t i = 0; i < d.ntransports; ++i) {
            auto r = services.transports.add(&d.transports[i], m->name_);
            if (!r) return r;
        }
        for (size_t i = 0; i < d.nmi_cmds; ++i) {
            const auto &c = d.mi_cmds[i];
            if (!c.name || !c.handler)
                return make_error("module " + m->name_ +
                                  " exports an MI command without a "
                                  "name or handler");
            if (!services.commands.add(wrap_command(c, m->name_)))
                return make_error("module " + m->name_ + ": MI command '" + c.name +
                                  "' is already defined");
        }
    }
    return {};
}

Result<void> ModuleSet::start_all() {
    for (auto &m : modules_) {
        if (m->started_ || !m->initialized_) continue;
        if (m->desc_->start) {
            char err[512] = "";
            if (m->desc_->start(err, sizeof err) != EVI_OK)
                return make_error("module " + m->name_ +
                                  " failed to start: " + (err[0] ? err : "no reason given"));
        }
        m->started_ = true;
    }
    return {};
}

// A hook the module's descriptor has: nullptr when unset, or when it lies past the `size` of a
// descriptor built for an older minor ABI (never read there).
#define OPTIONAL_HOOK(desc, hook)                                                                  \
    ((desc)->size >= offsetof(evi_module_t, hook) + sizeof((desc)->hook) ? (desc)->hook : nullptr)

void ModuleSet::drain_all(int64_t deadline_ms) {
    for (auto &m : modules_)
        if (auto drain = OPTIONAL_HOOK(m->desc_, drain); m->started_ && drain) drain(deadline_ms);
}

void ModuleSet::stop_all() {
    for (auto it = modules_.rbegin(); it != modules_.rend(); ++it) {
        auto &m = *it;
        if (m->started_ && m->desc_->stop) m->desc_->stop();
        m->started_ = false;
    }
}

void ModuleSet::reopen_all() {
    for (auto &m : modules_)
        if (auto reopen = OPTIONAL_HOOK(m->desc_, reopen); m->initialized_ && reopen) reopen();
}

void ModuleSet::destroy_all() {
    for (auto it = modules_.rbegin(); it != modules_.rend(); ++it) {
        auto &m = *it;
        if (m->initialized_ && m->desc_->destroy) m->desc_->destroy();
        m->initialized_ = false;
    }
    // Unload in reverse order too.
    while (!modules_.empty())
        modules_.pop_back();
}

} // namespace evi
