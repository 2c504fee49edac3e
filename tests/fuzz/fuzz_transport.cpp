// A transport plugin's own parse/print/match/free (the code an MI `event_subscribe` reaches
// with untrusted text), with the plugin's sources compiled in and its real host table from
// the core. One executable per plugin (each defines evi_module_descriptor). The input is one
// or two socket addresses separated by a NUL byte; the first is parsed as from the MI.
#include "app.hpp"
#include "fuzz_event.hpp"
#include "fuzz_stub.hpp"
#include "modules/host_api.hpp"
#include "runtime.hpp"

#include <cstring>

extern "C" const evi_module_t *evi_module_descriptor(void);

namespace {

struct Host {
    evi::App app;
    evi::ModuleContext ctx;
    evi_host_t table{};
    const evi_module_t *m = nullptr;

    Host() {
        fuzz::quiet_logs();
        app.runtime = std::make_unique<evi::Runtime>(1);
        m = evi_module_descriptor();
        // Stubs for the other protos (event_virtual opens its members through the host),
        // never for this plugin's own.
        for (const auto &t : fuzz::kStubs) {
            bool own = false;
            for (size_t i = 0; i < m->ntransports; ++i)
                own = own || std::strcmp(m->transports[i].proto, t.proto) == 0;
            if (!own) (void)app.transports.add(&t, "fuzz");
        }
        for (size_t i = 0; i < m->ntransports; ++i)
            (void)app.transports.add(&m->transports[i], m->name);
        app.events = std::make_unique<evi::EventCore>(app.transports);
        app.services = std::make_unique<evi::HostServices>(*app.events, app.transports,
                                                           *app.runtime, app.commands);
        ctx.name = m->name;
        ctx.services = app.services.get();
        evi::fill_host_table(table, &ctx);
        char err[256] = "";
        if (m->init(&table, err, sizeof err) != EVI_OK) fuzz::fail("module init failed", err);
    }
};

void *parse(const evi_transport_t &t, std::string_view addr, int from_mi) {
    void *sock = nullptr;
    unsigned flags = t.flags;
    char err[512];
    memset(err, 0x55, sizeof err); // a parse that fails must write a terminated sentence
    // The address exactly as long as it is, not terminated: ASan sees reads past it.
    std::unique_ptr<char[]> copy(new char[addr.size() ? addr.size() : 1]);
    memcpy(copy.get(), addr.data(), addr.size());
    int rc = t.parse({copy.get(), addr.size()}, from_mi, &sock, &flags, err, sizeof err);
    if (rc != EVI_OK) {
        if (strnlen(err, sizeof err) == sizeof err || err[0] == '\0')
            fuzz::fail("parse failed without a terminated reason");
        return nullptr;
    }
    if (!sock) fuzz::fail("parse succeeded without a socket");
    return sock;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static Host *host = new Host; // lives for the process: threads, module state
    const evi_module_t *m = host->m;
    if (size < 1) return 0;
    const evi_transport_t &t = m->transports[data[0] % m->ntransports];
    std::string_view rest(reinterpret_cast<const char *>(data) + 1, size - 1);
    size_t nul = rest.find('\0');
    std::string_view a = rest.substr(0, nul);
    void *sa = parse(t, a, 1);
    if (!sa) return 0;
    char buf[1024];
    int n = t.print(sa, buf, sizeof buf);
    if (n < 0) fuzz::fail("print failed");
    if (static_cast<size_t>(n) < sizeof buf && strlen(buf) != static_cast<size_t>(n))
        fuzz::fail("print's length is not what it wrote");
    std::string printed(buf, std::min<size_t>(n, sizeof buf - 1));
    if (t.match(sa, sa) != 1) fuzz::fail("a socket does not match itself", printed);
    if (nul != std::string_view::npos) {
        if (void *sb = parse(t, rest.substr(nul + 1), 0)) {
            (void)t.match(sa, sb);
            (void)t.match(sb, sa);
            t.free(sb);
        }
    }
    t.free(sa);
    return 0;
}
