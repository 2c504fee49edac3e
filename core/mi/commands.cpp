// The core's MI commands, with OpenSIPS 3's names, params, reply keys and error codes.
#include "app.hpp"
#include "config/ast.hpp"
#include "log/log.hpp"
#include "mi/jsonrpc.hpp"
#include "mi/mi_version.h"
#include "mi/observe.hpp"
#include "mi/server.hpp"

#include <climits>
#include <cmath>
#include <ctime>
#include <map>
#include <mutex>

namespace evi::mi {

namespace {

constexpr int64_t kDefaultExpire = 3600;

Failure not_found(std::string message) {
    return Failure{404, std::move(message), std::nullopt};
}

// A name that no event can have (over 64 characters, a character outside [A-Za-z0-9_.:-]):
// 400 with what was wrong and what is expected, not "not registered".
std::optional<Failure> bad_event_name(std::string_view event) {
    auto problem = config::event_name_problem(event);
    if (problem.empty()) return std::nullopt;
    return bad_parameter_value(std::move(problem));
}

// The expire value each MI subscription was made with (OpenSIPS prints it as "expire"; the
// event core keeps only the deadline). Keyed by event and socket text.
class ExpireBook {
  public:
    void set(const std::string &event, const std::string &socket, int64_t expire,
             const EventCore &core) {
        std::lock_guard lock(mutex_);
        book_[key(event, socket)] = expire;
        if (book_.size() <= kPruneAbove) return;
        // Forget subscriptions that expired meanwhile.
        std::map<std::string, int64_t> live;
        for (const auto &s : core.subscribers())
            if (auto it = book_.find(key(s.event, s.socket)); it != book_.end()) live.insert(*it);
        live[key(event, socket)] = expire;
        book_.swap(live);
    }
    void erase(const std::string &event, const std::string &socket) {
        std::lock_guard lock(mutex_);
        book_.erase(key(event, socket));
    }
    std::optional<int64_t> get(const std::string &event, const std::string &socket) const {
        std::lock_guard lock(mutex_);
        auto it = book_.find(key(event, socket));
        if (it == book_.end()) return std::nullopt;
        return it->second;
    }

  private:
    static constexpr size_t kPruneAbove = 4096;
    static std::string key(const std::string &e, const std::string &s) { return e + '\n' + s; }
    mutable std::mutex mutex_;
    std::map<std::string, int64_t> book_;
};

json subscriber_json(const SubscriberInfo &s, const ExpireBook &book) {
    json j = json::object();
    j["socket"] = s.socket;
    if (s.expire_at == 0) {
        j["expire"] = "never";
    } else {
        j["expire"] = book.get(s.event, s.socket).value_or(s.ttl);
        j["ttl"] = s.ttl < 0 ? 0 : s.ttl;
    }
    j["state"] = s.up ? "up" : "down";
    j["delivered"] = s.delivered;
    j["failed"] = s.failed;
    j["retried"] = s.retried;
    j["dropped"] = s.dropped;
    j["queued"] = s.queued;
    return j;
}

json event_json(const std::string &name, int id) {
    json j = json::object();
    j["name"] = name;
    j["id"] = id;
    return j;
}

// A JSON number with a fraction or an exponent, truncated as OpenSIPS does; beyond the int64
// range it saturates (casting it would be undefined behaviour).
int64_t truncate_to_int(double d) {
    constexpr double kLimit = 9223372036854775808.0; // 2^63
    if (std::isnan(d)) return 0;
    if (d >= kLimit) return INT64_MAX;
    if (d <= -kLimit) return INT64_MIN;
    return static_cast<int64_t>(d);
}

// An event param from a JSON value: integers stay integers (floats are truncated, as
// OpenSIPS does), strings stay strings, anything else becomes its compact JSON text.
EventParam event_param(std::string name, const json &v) {
    EventParam p;
    p.name = std::move(name);
    if (v.is_number_integer())
        p.value = v.get<int64_t>();
    else if (v.is_number_unsigned())
        p.value = static_cast<int64_t>(v.get<uint64_t>());
    else if (v.is_number_float())
        p.value = truncate_to_int(v.get<double>());
    else if (v.is_string())
        p.value = v.get<std::string>();
    else
        p.value = dump(v);
    return p;
}

// raise_event's params: absent, an array, an object, or a string holding a JSON object.
std::variant<EventParams, Failure> raise_params(const Params &params) {
    EventParams out;
    auto it = params.find("params");
    if (it == params.end() || it->is_null()) return out;
    json parsed;
    const json *value = &*it;
    if (value->is_string()) {
        parsed = json::parse(it->get_ref<const std::string &>(), nullptr, false);
        if (parsed.is_discarded() || !(parsed.is_object() || parsed.is_array()))
            return Failure{400, "Bad Params", json("params is not a JSON object")};
        value = &parsed;
    }
    out.reserve(value->size());
    if (value->is_array()) {
        for (const auto &v : *value)
            out.push_back(event_param({}, v));
    } else if (value->is_object()) {
        for (const auto &[k, v] : value->items())
            out.push_back(event_param(k, v));
    } else {
        return Failure{400, "Bad Params", json("params must be an array or an object")};
    }
    return out;
}

std::string ctime_text(std::time_t t) {
    char buf[64];
    std::tm tm{};
    localtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
    return buf;
}

json param_sets_json(const Command &c) {
    json sets = json::array();
    for (const auto &set : c.param_sets)
        sets.push_back(set);
    if (sets.empty()) sets.push_back(json::array());
    return sets;
}

bool stat_matches(const std::string &want, const std::string &name) {
    if (want == "all") return true;
    if (!want.empty() && want.back() == ':') return name.rfind(want, 0) == 0;
    if (want.find(':') != std::string::npos) return name == want;
    auto colon = name.find(':');
    return name.compare(colon + 1, std::string::npos, want) == 0;
}

void add(App &app, Command c) {
    const std::string name = c.name;
    if (!app.commands.add(std::move(c)))
        LOG_ERR("MI command %s is already registered", name.c_str());
}

} // namespace

void register_core_commands(App &app) {
    auto book = std::make_shared<ExpireBook>();

    add(app, {"events_list",
              {"evi:list"},
              "List the published events.",
              {{}},
              [&app](const Params &) -> Outcome {
                  json events = json::array();
                  for (const auto &e : app.events->events())
                      events.push_back(event_json(e.name, e.id));
                  json r = json::object();
                  r["Events"] = std::move(events);
                  return r;
              }});

    add(app, {"event_subscribe",
              {"evi:subscribe"},
              "Subscribe a socket to an event for expire seconds (default 3600; 0 unsubscribes).",
              {{"event", "socket"}, {"event", "socket", "expire"}},
              [&app, book](const Params &p) -> Outcome {
                  std::string event, socket;
                  int64_t expire = kDefaultExpire;
                  if (get_string(p, "event", event) != Got::Ok || event.empty())
                      return invalid_params();
                  if (get_string(p, "socket", socket) != Got::Ok || socket.empty())
                      return invalid_params();
                  if (get_int(p, "expire", expire) == Got::Bad) return invalid_params();
                  if (expire < 0) return invalid_params("Negative expire value");
                  if (expire > INT32_MAX) return invalid_params("Expire value too large");
                  if (auto bad = bad_event_name(event)) return *bad;
                  if (!app.events->find(event)) return bad_parameter_value("Event not registered");
                  if (expire == 0) {
                      auto r = app.events->unsubscribe(event, socket, true);
                      if (!r) return bad_parameter_value(r.error().message);
                      book->erase(event, socket);
                      return json("OK");
                  }
                  auto r = app.events->subscribe(event, socket, std::chrono::seconds(expire), true);
                  if (!r) return bad_parameter_value(r.error().message);
                  book->set(event, socket, expire, *app.events);
                  return json("OK");
              }});

    add(app, {"subscribers_list",
              {"evi:subscribers"},
              "List subscribers: all, those of one event, or one event's subscriber on a socket.",
              {{}, {"event"}, {"event", "socket"}},
              [&app, book](const Params &p) -> Outcome {
                  std::string event, socket;
                  const Got ge = get_string(p, "event", event);
                  const Got gs = get_string(p, "socket", socket);
                  if (ge == Got::Bad || gs == Got::Bad) return invalid_params();
                  json r = json::object();
                  if (ge == Got::Missing) {
                      json events = json::array();
                      const auto subs = app.events->subscribers();
                      for (const auto &e : app.events->events()) {
                          json list = json::array();
                          for (const auto &s : subs)
                              if (s.event == e.name) list.push_back(subscriber_json(s, *book));
                          if (list.empty()) continue;
                          json ej = event_json(e.name, e.id);
                          ej["Subscribers"] = std::move(list);
                          events.push_back(std::move(ej));
                      }
                      r["Events"] = std::move(events);
                      return r;
                  }
                  if (auto bad = bad_event_name(event)) return *bad;
                  auto id = app.events->find(event);
                  if (!id) return not_found("Event not published");
                  json ej = event_json(event, *id);
                  if (gs == Got::Missing) {
                      json list = json::array();
                      for (const auto &s : app.events->subscribers(event))
                          list.push_back(subscriber_json(s, *book));
                      ej["Subscribers"] = std::move(list);
                  } else {
                      auto subs = app.events->subscribers(event, socket);
                      if (subs.empty()) {
                          // The socket as its transport prints it ("udp:127.0.0.1:09" → …:9).
                          if (auto opened = app.transports.open(socket, true); opened)
                              subs = app.events->subscribers(event, (*opened)->text());
                      }
                      if (subs.empty()) return not_found("Subscriber does not exist");
                      ej["Subscriber"] = subscriber_json(subs.front(), *book);
                  }
                  r["Event"] = std::move(ej);
                  return r;
              }});

    add(app, {"raise_event",
              {"evi:raise"},
              "Raise an event with optional params (a JSON array, a JSON object, or a string "
              "holding a JSON object).",
              {{"event"}, {"event", "params"}},
              [&app](const Params &p) -> Outcome {
                  std::string event;
                  if (get_string(p, "event", event) != Got::Ok || event.empty())
                      return invalid_params();
                  if (auto bad = bad_event_name(event)) return *bad;
                  const auto id = app.events->find(event);
                  if (!id) return not_found("Event not registered");
                  if (!app.events->probe(*id))
                      return Failure{480, "Temporarily Unavailable", std::nullopt};
                  auto params = raise_params(p);
                  if (auto *f = std::get_if<Failure>(&params)) return *f;
                  auto r = app.events->raise(*id, std::get<EventParams>(params));
                  if (!r) return Failure{500, "Cannot Raise Event", json(r.error().message)};
                  return json("OK");
              }});

    add(app, {"which",
              {},
              "List every command, or the parameter sets of one command.",
              {{}, {"command"}},
              [&app](const Params &p) -> Outcome {
                  std::string name;
                  const Got g = get_string(p, "command", name);
                  if (g == Got::Bad) return invalid_params();
                  if (g == Got::Missing) {
                      json all = json::array();
                      for (const auto &n : app.commands.names())
                          all.push_back(n);
                      return all;
                  }
                  if (!name.empty() && name.back() == ':') {
                      json matched = json::array();
                      for (const auto &n : app.commands.names())
                          if (n.rfind(name, 0) == 0) matched.push_back(n);
                      if (matched.empty()) return not_found("unknown MI command");
                      return matched;
                  }
                  const Command *c = app.commands.find(name);
                  if (!c) return not_found("unknown MI command");
                  return param_sets_json(*c);
              }});

    add(app, {"help",
              {},
              "Describe a command: what it does, who exports it, its parameters.",
              {{}, {"command"}},
              [&app](const Params &p) -> Outcome {
                  std::string name;
                  const Got g = get_string(p, "command", name);
                  if (g == Got::Bad) return invalid_params();
                  json r = json::object();
                  if (g == Got::Missing) {
                      json list = json::array();
                      for (const Command *c : app.commands.all()) {
                          json cj = json::object();
                          cj["name"] = c->name;
                          cj["help"] = c->help;
                          list.push_back(std::move(cj));
                      }
                      r["Commands"] = std::move(list);
                      return r;
                  }
                  const Command *c = app.commands.find(name);
                  if (!c) return not_found("unknown MI command");
                  r["Help"] = c->help;
                  r["Exported by"] = c->module.empty() ? std::string("core") : c->module;
                  r["Aliases"] = c->aliases;
                  r["Parameters"] = param_sets_json(*c);
                  return r;
              }});

    add(app, {"version",
              {},
              "The server's version and plugin ABI.",
              {{}},
              [](const Params &) -> Outcome {
                  json r = json::object();
                  r["Server"] = std::string("evid (") + EVI_MI_VERSION + ")";
                  r["ABI"] = std::to_string(EVI_ABI_MAJOR) + "." + std::to_string(EVI_ABI_MINOR);
                  return r;
              }});

    add(app, {"uptime",
              {},
              "Current time, start time and seconds since start.",
              {{}},
              [&app](const Params &) -> Outcome {
                  const int64_t up = uptime_seconds(app);
                  const std::time_t now = std::time(nullptr);
                  json r = json::object();
                  r["Now"] = ctime_text(now);
                  r["Up since"] = ctime_text(now - up);
                  r["Up time"] = std::to_string(up) + " [sec]";
                  return r;
              }});

    add(app, {"modules_list",
              {},
              "Loaded modules: name, version, ABI, path, transports.",
              {{}},
              [&app](const Params &) -> Outcome {
                  json list = json::array();
                  for (const auto &m : app.modules.modules()) {
                      const evi_module_t &d = m->descriptor();
                      json mj = json::object();
                      mj["name"] = m->name();
                      mj["version"] = d.version ? d.version : "";
                      mj["abi"] = std::to_string(d.abi_major) + "." + std::to_string(d.abi_minor);
                      mj["path"] = m->path();
                      mj["description"] = d.description ? d.description : "";
                      json protos = json::array();
                      for (size_t i = 0; i < d.ntransports; ++i)
                          if (d.transports[i].proto) protos.push_back(d.transports[i].proto);
                      mj["transports"] = std::move(protos);
                      list.push_back(std::move(mj));
                  }
                  json r = json::object();
                  r["Modules"] = std::move(list);
                  return r;
              }});

    add(app, {"module_params",
              {},
              "Every module parameter: type, range, default, current value.",
              {{}, {"module"}},
              [&app](const Params &p) -> Outcome {
                  std::string only;
                  const Got g = get_string(p, "module", only);
                  if (g == Got::Bad) return invalid_params();
                  if (g == Got::Ok && !app.modules.find(only))
                      return not_found("Module not loaded");
                  json list = json::array();
                  for (const auto &m : app.modules.modules()) {
                      if (g == Got::Ok && m->name() != only) continue;
                      const evi_module_t &d = m->descriptor();
                      json params = json::array();
                      for (size_t i = 0; i < d.nparams; ++i) {
                          const evi_param_def_t &def = d.params[i];
                          json pj = json::object();
                          pj["name"] = def.name ? def.name : "";
                          pj["type"] = param_type_name(def.type);
                          if ((def.type == EVI_PARAM_INT || def.type == EVI_PARAM_SIZE) &&
                              def.min <= def.max) {
                              pj["min"] = def.min;
                              pj["max"] = def.max;
                          }
                          if (def.type == EVI_PARAM_ENUM && def.enum_values) {
                              json values = json::array();
                              for (auto v = def.enum_values; *v; ++v)
                                  values.push_back(*v);
                              pj["values"] = std::move(values);
                          }
                          pj["default"] = def.default_value ? def.default_value : "";
                          if (def.get) {
                              char buf[512];
                              int n = def.get(buf, sizeof buf);
                              if (n >= 0)
                                  pj["current"] = std::string(
                                      buf, std::min(static_cast<size_t>(n), sizeof buf - 1));
                          }
                          pj["help"] = def.help ? def.help : "";
                          params.push_back(std::move(pj));
                      }
                      json mj = json::object();
                      mj["name"] = m->name();
                      mj["Params"] = std::move(params);
                      list.push_back(std::move(mj));
                  }
                  json r = json::object();
                  r["Modules"] = std::move(list);
                  return r;
              }});

    add(app, {"get_statistics",
              {},
              "Statistics as \"group:name\": all, a group (\"evi:\") or names; groups core, evi, "
              "events, modules.",
              {{}, {"statistics"}},
              [&app](const Params &p) -> Outcome {
                  std::vector<std::string> wanted;
                  if (auto it = p.find("statistics"); it != p.end()) {
                      if (it->is_string())
                          wanted.push_back(it->get<std::string>());
                      else if (it->is_array()) {
                          for (const auto &v : *it) {
                              if (!v.is_string()) return invalid_params();
                              wanted.push_back(v.get<std::string>());
                          }
                      } else {
                          return invalid_params();
                      }
                  } else {
                      wanted.push_back("all");
                  }
                  json r = json::object();
                  for (const auto &[name, value] : statistics(app))
                      for (const auto &w : wanted)
                          if (stat_matches(w, name)) {
                              r[name] = value;
                              break;
                          }
                  if (r.empty()) return not_found("Statistics Not Found");
                  return r;
              }});

    add(app, {"log_level",
              {},
              "Get the log level, or set it (-3..4 or a name such as info).",
              {{}, {"level"}},
              [](const Params &p) -> Outcome {
                  std::string text;
                  const Got g = get_string(p, "level", text);
                  if (g == Got::Bad) return invalid_params();
                  if (g == Got::Ok) {
                      auto level = log::parse_level(text);
                      if (!level)
                          return invalid_params("Bad log level, expected -3..4 or alert, crit, "
                                                "error, warn, notice, info, debug");
                      log::set_level(*level);
                  }
                  json r = json::object();
                  r["Log level"] = log::level();
                  return r;
              }});

    add(app, {"shutdown",
              {"kill"},
              "Stop evid: drain the queues, then exit.",
              {{}},
              [&app](const Params &) -> Outcome {
                  after_reply([&app] {
                      if (app.request_shutdown) app.request_shutdown();
                  });
                  return json("OK");
              }});
}

} // namespace evi::mi
