// Loaded modules: Boost.DLL opens the .so, reads its one descriptor, checks the ABI version,
// applies typed modparams, and runs the lifecycle hooks in load order (stop in reverse).
#pragma once

#include "config/ast.hpp"
#include "evi_plugin.h"
#include "result.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace evi {

struct HostServices; // core/modules/host_api.hpp

class Module {
  public:
    ~Module();
    const evi_module_t &descriptor() const { return *desc_; }
    const std::string &name() const { return name_; }
    const std::string &path() const { return path_; }
    const evi_host_t *host() const;
    bool initialized() const { return initialized_; }

  private:
    friend class ModuleSet;
    Module() = default;
    struct Library;
    std::unique_ptr<Library> lib_;
    const evi_module_t *desc_ = nullptr;
    std::string name_;
    std::string path_;
    struct HostTable;
    std::unique_ptr<HostTable> host_;
    bool initialized_ = false;
    bool started_ = false;
};

class ModuleSet {
  public:
    ModuleSet();
    ~ModuleSet();

    // Where `loadmodule "x.so"` looks: absolute paths as they are; otherwise each mpath
    // entry as <dir>/<name> and <dir>/<name without .so>/<name>.
    Result<Module *> load(std::string_view name, const std::vector<std::string> &mpath);

    // modparam: `module` is an anchored, case-insensitive regex over loaded module names.
    // Applies to every match; an error when nothing matches or a value is refused.
    Result<void> set_param(std::string_view module, std::string_view param,
                           const config::Literal &value);

    // init() every module with its host table (in load order), then register transports and
    // MI commands through `services`.
    Result<void> init_all(HostServices &services);
    Result<void> start_all();
    void drain_all(int64_t deadline_ms); // shutdown begins: see evi_module_t.drain
    void stop_all();                     // reverse load order
    void reopen_all();                   // SIGHUP
    void destroy_all();                  // reverse load order; then the libraries are unloaded

    const std::vector<std::unique_ptr<Module>> &modules() const { return modules_; }
    Module *find(std::string_view name) const;

    // Refuse module files (and their directories) that users other than the owner may write,
    // or, when evid runs as root, that root does not own. On by default; off only for
    // development trees (global `module_permission_check = no`).
    void set_permission_check(bool on) { check_permissions_ = on; }

  private:
    std::vector<std::unique_ptr<Module>> modules_;
    bool check_permissions_ = true;
};

// Checks a modparam value against its typed definition and converts it; the error says the
// expected type and range. Exposed for tests and for `module_params`.
Result<evi_param_value_t> check_param_value(const evi_param_def_t &def,
                                            const config::Literal &value, std::string &storage);
const char *param_type_name(int type);

} // namespace evi
