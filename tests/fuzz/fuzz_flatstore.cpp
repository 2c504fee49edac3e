// event_flatstore's pure parts (plugins/flatstore/flat_line.c): the line writer against its
// bound, the directory list scanner, the allowed-directory check, rotated names, modes.
#include "flat_line.h"
#include "fuzz_event.hpp"

#include <cstring>
#include <memory>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FuzzedDataProvider in(data, size);
    switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: {
        // A format as modparams allow it: a non-empty delimiter without CR/LF.
        std::string delim = in.ConsumeRandomLengthString(8);
        if (delim.empty() || delim.find_first_of("\r\n") != std::string::npos) delim = ",";
        bool has_escape = in.ConsumeBool();
        std::string escape = in.ConsumeRandomLengthString(8);
        flat_format_t f{};
        f.delim = delim.c_str();
        f.delim_len = delim.size();
        f.escape = has_escape ? escape.c_str() : nullptr;
        f.escape_len = has_escape ? escape.size() : 0;
        f.suppress_name = in.ConsumeBool();
        flat_format_init(&f);
        fuzz::Event e(in);
        size_t bound = flat_line_bound(&f, &e.ev);
        // Exactly `bound` bytes on the heap: ASan catches a write past it.
        std::unique_ptr<char[]> buf(new char[bound ? bound : 1]);
        size_t n = flat_line_write(&f, &e.ev, buf.get());
        if (n > bound) fuzz::fail("flat_line_write wrote more than flat_line_bound");
        if (n == 0 || buf[n - 1] != '\n') fuzz::fail("a flatstore line must end with \\n");
        bool crlf_in_escape = has_escape && escape.find_first_of("\r\n") != std::string::npos;
        if (!crlf_in_escape && (memchr(buf.get(), '\n', n - 1) || memchr(buf.get(), '\r', n)))
            fuzz::fail("a flatstore line must be one line");
        break;
    }
    case 1: {
        std::string list = in.ConsumeRemainingBytesAsString();
        const char *p = list.c_str();
        const char *start = nullptr;
        size_t len = 0;
        for (int guard = 0; (p = flat_next_list_entry(p, &start, &len)); ++guard) {
            if (guard > (int)list.size() + 1) fuzz::fail("flat_next_list_entry does not advance");
            if (start < list.c_str() || start + len > list.c_str() + strlen(list.c_str()))
                fuzz::fail("flat_next_list_entry points outside the list");
        }
        break;
    }
    case 2: {
        std::string dir = in.ConsumeRandomLengthString(64);
        std::string allowed = in.ConsumeRemainingBytesAsString();
        (void)flat_dir_is_below(dir.c_str(), allowed.c_str());
        break;
    }
    default: {
        std::string base = in.ConsumeRandomLengthString(64);
        time_t t = in.ConsumeIntegralInRange<int64_t>(0, 253402300799); // up to year 9999
        unsigned seq = in.ConsumeIntegral<unsigned>();
        size_t len = in.ConsumeIntegralInRange<size_t>(0, 128);
        std::unique_ptr<char[]> buf(new char[len ? len : 1]);
        int n = flat_rotated_name(buf.get(), len, base.c_str(), t, seq);
        if (n < 0) fuzz::fail("flat_rotated_name failed");
        if (len && strnlen(buf.get(), len) == len) fuzz::fail("flat_rotated_name: no NUL");
        std::string mode = in.ConsumeRemainingBytesAsString();
        long m = flat_parse_mode(mode.c_str());
        if (m < -1 || m > 07777) fuzz::fail("flat_parse_mode out of range", std::to_string(m));
        break;
    }
    }
    return 0;
}
