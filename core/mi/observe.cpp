#include "mi/observe.hpp"

#include "app.hpp"
#include "mi/mi_version.h"

#include <fstream>
#include <sstream>
#include <unistd.h>

namespace evi::mi {

ProcessFigures process_figures() {
    ProcessFigures f;
    {
        std::ifstream statm("/proc/self/statm");
        int64_t size = 0, resident = 0;
        if (statm >> size >> resident)
            f.rss_bytes = resident * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
    }
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("Threads:", 0) == 0) {
            f.threads = std::stoll(line.substr(8));
            break;
        }
    return f;
}

int64_t uptime_seconds(const App &app) {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                            app.started)
        .count();
}

std::vector<std::pair<std::string, int64_t>> statistics(const App &app) {
    std::vector<std::pair<std::string, int64_t>> out;
    const auto proc = process_figures();
    const auto events = app.events ? app.events->events() : std::vector<EventInfo>{};
    const auto subs = app.events ? app.events->subscribers() : std::vector<SubscriberInfo>{};
    out.emplace_back("core:uptime", uptime_seconds(app));
    out.emplace_back("core:rss_bytes", proc.rss_bytes);
    out.emplace_back("core:threads", proc.threads);
    out.emplace_back("core:events", static_cast<int64_t>(events.size()));
    out.emplace_back("core:subscribers", static_cast<int64_t>(subs.size()));
    uint64_t raised = 0, delivered = 0, failed = 0, retried = 0, dropped = 0, queued = 0;
    for (const auto &e : events)
        raised += e.raised;
    for (const auto &s : subs) {
        delivered += s.delivered;
        failed += s.failed;
        retried += s.retried;
        dropped += s.dropped;
        queued += s.queued;
    }
    out.emplace_back("evi:raised", static_cast<int64_t>(raised));
    out.emplace_back("evi:delivered", static_cast<int64_t>(delivered));
    out.emplace_back("evi:failed", static_cast<int64_t>(failed));
    out.emplace_back("evi:retried", static_cast<int64_t>(retried));
    out.emplace_back("evi:dropped", static_cast<int64_t>(dropped));
    out.emplace_back("evi:queued", static_cast<int64_t>(queued));
    for (const auto &e : events)
        out.emplace_back("events:" + e.name, static_cast<int64_t>(e.raised));
    if (app.services)
        for (const auto &c : app.services->counters.snapshot())
            out.emplace_back("modules:" + c.name, c.value);
    return out;
}

std::string prometheus_label_value(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

namespace {

void family(std::string &out, const char *name, const char *type, const char *help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string &out, const std::string &name, const std::string &labels, int64_t value) {
    out.append(name);
    if (!labels.empty()) out.append("{").append(labels).append("}");
    out.append(" ").append(std::to_string(value)).append("\n");
}

std::string sub_labels(const SubscriberInfo &s) {
    return "event=\"" + prometheus_label_value(s.event) + "\",socket=\"" +
           prometheus_label_value(s.socket) + "\"";
}

// Module counter names come from plugins: keep [a-zA-Z0-9_:] only.
std::string metric_name(std::string_view s) {
    std::string out;
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == ':';
        out += ok ? c : '_';
    }
    if (out.empty() || (out[0] >= '0' && out[0] <= '9')) out.insert(0, "_");
    return out;
}

} // namespace

std::string render_metrics(const App &app) {
    std::string out;
    const auto proc = process_figures();
    const auto events = app.events ? app.events->events() : std::vector<EventInfo>{};
    const auto subs = app.events ? app.events->subscribers() : std::vector<SubscriberInfo>{};

    family(out, "evi_uptime_seconds", "gauge", "Seconds since evid started.");
    sample(out, "evi_uptime_seconds", "", uptime_seconds(app));
    family(out, "evi_process_resident_memory_bytes", "gauge", "Resident set size in bytes.");
    sample(out, "evi_process_resident_memory_bytes", "", proc.rss_bytes);
    family(out, "evi_process_threads", "gauge", "Threads of the evid process.");
    sample(out, "evi_process_threads", "", proc.threads);

    family(out, "evi_event_raised_total", "counter", "Events raised, per event.");
    for (const auto &e : events)
        sample(out, "evi_event_raised_total", "event=\"" + prometheus_label_value(e.name) + "\"",
               static_cast<int64_t>(e.raised));
    family(out, "evi_event_subscribers", "gauge", "Subscribers, per event.");
    for (const auto &e : events)
        sample(out, "evi_event_subscribers", "event=\"" + prometheus_label_value(e.name) + "\"",
               static_cast<int64_t>(e.subscribers));

    struct Field {
        const char *name, *type, *help;
        int64_t (*get)(const SubscriberInfo &);
    };
    static const Field fields[] = {
        {"evi_subscriber_delivered_total", "counter", "Events delivered to the subscriber.",
         [](const SubscriberInfo &s) { return static_cast<int64_t>(s.delivered); }},
        {"evi_subscriber_failed_total", "counter", "Deliveries that failed.",
         [](const SubscriberInfo &s) { return static_cast<int64_t>(s.failed); }},
        {"evi_subscriber_retried_total", "counter", "Delivery attempts that were retries.",
         [](const SubscriberInfo &s) { return static_cast<int64_t>(s.retried); }},
        {"evi_subscriber_dropped_total", "counter", "Events dropped because the queue was full.",
         [](const SubscriberInfo &s) { return static_cast<int64_t>(s.dropped); }},
        {"evi_subscriber_queue_depth", "gauge", "Events waiting in the subscriber's queue.",
         [](const SubscriberInfo &s) { return static_cast<int64_t>(s.queued); }},
        {"evi_subscriber_up", "gauge", "1 while the subscriber's transport is up, else 0.",
         [](const SubscriberInfo &s) { return static_cast<int64_t>(s.up ? 1 : 0); }},
    };
    for (const auto &f : fields) {
        family(out, f.name, f.type, f.help);
        for (const auto &s : subs)
            sample(out, f.name, sub_labels(s), f.get(s));
    }

    if (app.services)
        for (const auto &c : app.services->counters.snapshot()) {
            const std::string name = metric_name(c.name);
            const bool total = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
            const std::string help = c.help.empty() ? "Module counter." : c.help;
            out.append("# HELP ").append(name).append(" ");
            for (char ch : help)
                out += ch == '\n' ? ' ' : ch;
            out.append("\n# TYPE ").append(name).append(total ? " counter\n" : " gauge\n");
            sample(out, name, "", c.value);
        }
    return out;
}

std::string render_status_page(const App &app) {
    const auto events = app.events ? app.events->events() : std::vector<EventInfo>{};
    const auto subs = app.events ? app.events->subscribers() : std::vector<SubscriberInfo>{};
    const auto proc = process_figures();
    std::ostringstream h;
    h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<title>evid status</title><style>"
         "body{font-family:sans-serif;margin:2em;color:#222}"
         "table{border-collapse:collapse;margin-bottom:1.5em}"
         "th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left}"
         "th{background:#eee}td.n{text-align:right}.down{color:#b00}.up{color:#070}"
         "</style></head><body>\n";
    h << "<h1>evid " << EVI_MI_VERSION << "</h1>\n";
    h << "<p id=\"summary\">Up <span id=\"uptime\">" << uptime_seconds(app)
      << "</span> s &middot; RSS " << proc.rss_bytes / 1024 << " KiB &middot; " << proc.threads
      << " threads &middot; " << (app.draining ? "draining" : "running")
      << " &middot; <a href=\"/metrics\">metrics</a></p>\n";

    h << "<h2>Events</h2>\n<table id=\"events\"><tr><th>Name</th><th>Id</th><th>Raised</th>"
         "<th>Subscribers</th></tr>\n";
    for (const auto &e : events)
        h << "<tr><td>" << html_escape(e.name) << "</td><td class=\"n\">" << e.id
          << "</td><td class=\"n\">" << e.raised << "</td><td class=\"n\">" << e.subscribers
          << "</td></tr>\n";
    h << "</table>\n";

    h << "<h2>Subscribers</h2>\n<table id=\"subscribers\"><tr><th>Event</th><th>Socket</th>"
         "<th>State</th><th>Expires in</th><th>Delivered</th><th>Failed</th><th>Retried</th>"
         "<th>Dropped</th><th>Queued</th></tr>\n";
    for (const auto &s : subs) {
        h << "<tr><td>" << html_escape(s.event) << "</td><td>" << html_escape(s.socket)
          << "</td><td class=\"" << (s.up ? "up\">up" : "down\">down") << "</td><td>";
        if (s.expire_at == 0)
            h << "never";
        else
            h << s.ttl << " s";
        h << "</td><td class=\"n\">" << s.delivered << "</td><td class=\"n\">" << s.failed
          << "</td><td class=\"n\">" << s.retried << "</td><td class=\"n\">" << s.dropped
          << "</td><td class=\"n\">" << s.queued << "</td></tr>\n";
    }
    h << "</table>\n";

    h << "<h2>Commands</h2>\n<ul id=\"commands\">\n";
    for (const Command *c : app.commands.all()) {
        h << "<li><code>" << html_escape(c->name) << "</code>";
        for (const auto &a : c->aliases)
            h << " (<code>" << html_escape(a) << "</code>)";
        if (!c->help.empty()) h << ": " << html_escape(c->help);
        h << "</li>\n";
    }
    h << "</ul>\n</body></html>\n";
    return h.str();
}

} // namespace evi::mi
