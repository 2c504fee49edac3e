// The config parser (core/config) and the script compiler (core/script): any bytes either
// compile or give one clean "fuzz.cfg:LINE:COL: error: …" message; nothing crashes or throws.
#include "app.hpp"
#include "config/parser.hpp"
#include "fuzz_event.hpp"
#include "fuzz_stub.hpp"
#include "runtime.hpp"
#include "script/script.hpp"

#include <chrono>
#include <regex>

namespace {

// Valid UTF-8 without control characters (C0, DEL, C1): what excerpt() lets through.
bool printable_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) return false;
            ++i;
            continue;
        }
        const size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (c < 0xc2 || c > 0xf4 || i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
        if (c == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0) return false; // C1
        i += n;
    }
    return true;
}

void check_error(const std::string &message) {
    // One line, whatever the input held: control bytes and invalid UTF-8 come out escaped.
    static const std::regex shape(R"(^fuzz\.cfg:[0-9]+:[0-9]+: error: .+$)");
    if (!std::regex_match(message, shape)) fuzz::fail("error message shape", message);
    if (!printable_utf8(message)) fuzz::fail("raw control byte or invalid UTF-8 in", message);
}

// Running startup_route is bounded by max_while_loops per loop and 100 route() calls deep,
// but nested loops multiply (50^k): only scripts with at most two loops and no route() call
// are run, so that a slow input is a real finding and not the language's own arithmetic.
bool runnable(std::string_view text) {
    auto count = [&](std::string_view word) {
        size_t n = 0;
        for (size_t p = text.find(word); p != std::string_view::npos; p = text.find(word, p + 1))
            ++n;
        return n;
    };
    return count("while") <= 2 && count("route(") == 0;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bool once = (fuzz::quiet_logs(), true);
    (void)once;
    std::string_view text(reinterpret_cast<const char *>(data), size);
    auto cfg = evi::config::parse_text(text, "fuzz.cfg");
    if (!cfg) {
        check_error(cfg.error().message);
        return 0;
    }
    evi::App app;
    app.globals.max_while_loops = 50;
    fuzz::add_stubs(app);
    app.events = std::make_unique<evi::EventCore>(app.transports);
    {
        auto s = evi::script::Script::compile(*cfg, app);
        if (!s) {
            check_error(s.error().message);
        } else if (runnable(text)) {
            // The interpreter too: startup_route runs here (no runtime: no timers).
            (*s)->start();
        }
    }
    app.events->shutdown(std::chrono::milliseconds(0));
    return 0;
}
