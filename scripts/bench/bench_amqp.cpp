// evi-bench-amqp: the raw rabbitmq-c baseline of scripts/bench/run, and queue helpers.
//
//   publish PORT QUEUE N CONFIRMS   declare QUEUE, publish N JSON bodies to it through the
//                                   default exchange (mandatory, as event_rabbitmq does); with
//                                   CONFIRMS=1 in confirm mode with up to 4096 in flight
//   count PORT QUEUE                messages in QUEUE (passive declare)
//   purge PORT QUEUE                declare QUEUE (not durable) and empty it
// Prints one JSON object. Broker on 127.0.0.1, guest/guest, vhost "/".
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/resource.h>
#include <time.h>
#include <vector>

namespace {

double now_mono() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}
double cpu_self() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

[[noreturn]] void die(const char *what) {
    std::fprintf(stderr, "evi-bench-amqp: %s\n", what);
    std::exit(1);
}

void check(amqp_rpc_reply_t r, const char *what) {
    if (r.reply_type != AMQP_RESPONSE_NORMAL) die(what);
}

amqp_connection_state_t open_conn(int port) {
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(c);
    if (!s || amqp_socket_open(s, "127.0.0.1", port) != AMQP_STATUS_OK) die("connect failed");
    check(amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"), "login");
    amqp_channel_open(c, 1);
    check(amqp_get_rpc_reply(c), "channel.open");
    return c;
}

void close_conn(amqp_connection_state_t c) {
    amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
}

uint32_t declare(amqp_connection_state_t c, const char *queue, bool passive) {
    auto *ok =
        amqp_queue_declare(c, 1, amqp_cstring_bytes(queue), passive, 0, 0, 0, amqp_empty_table);
    check(amqp_get_rpc_reply(c), "queue.declare");
    return ok ? ok->message_count : 0;
}

std::string body(long i) {
    return R"({"jsonrpc":"2.0","method":"E_BENCH","params":{"callid":"bench-)" + std::to_string(i) +
           R"(","from":"sip:alice@example.com","seq":)" + std::to_string(i) + "}}";
}

// Reads frames until `outstanding` <= limit; returns acks seen (multiple acks counted fully).
void settle(amqp_connection_state_t c, uint64_t &next_tag, uint64_t &acked, long &nacked,
            uint64_t published, uint64_t limit) {
    while (published - acked - uint64_t(nacked) > limit) {
        amqp_frame_t f;
        if (amqp_simple_wait_frame(c, &f) != AMQP_STATUS_OK) die("wait_frame");
        if (f.frame_type != AMQP_FRAME_METHOD) continue;
        uint64_t tag = 0;
        bool multiple = false, nack = false;
        if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            auto *a = static_cast<amqp_basic_ack_t *>(f.payload.method.decoded);
            tag = a->delivery_tag;
            multiple = a->multiple;
        } else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            auto *a = static_cast<amqp_basic_nack_t *>(f.payload.method.decoded);
            tag = a->delivery_tag;
            multiple = a->multiple;
            nack = true;
        } else {
            continue; // basic.return's content frames etc.
        }
        uint64_t n = multiple ? tag - next_tag + 1 : 1;
        next_tag = multiple ? tag + 1 : std::max(next_tag, tag + 1);
        if (nack)
            nacked += long(n);
        else
            acked += n;
    }
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 4) die("usage: publish PORT QUEUE N CONFIRMS | count PORT QUEUE | purge PORT QUEUE");
    std::string cmd = argv[1];
    int port = std::atoi(argv[2]);
    const char *queue = argv[3];
    amqp_connection_state_t c = open_conn(port);
    if (cmd == "count") {
        std::printf("{\"messages\":%u}\n", declare(c, queue, true));
    } else if (cmd == "purge") {
        declare(c, queue, false);
        amqp_queue_purge(c, 1, amqp_cstring_bytes(queue));
        check(amqp_get_rpc_reply(c), "queue.purge");
        std::printf("{\"purged\":1}\n");
    } else if (cmd == "publish" && argc >= 6) {
        long n = std::atol(argv[4]);
        bool confirms = std::atoi(argv[5]) != 0;
        declare(c, queue, false);
        if (confirms) {
            amqp_confirm_select(c, 1);
            check(amqp_get_rpc_reply(c), "confirm.select");
        }
        std::vector<std::string> bodies;
        bodies.reserve(n);
        for (long i = 0; i < n; ++i)
            bodies.push_back(body(i));
        amqp_basic_properties_t props{};
        props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG;
        props.content_type = amqp_cstring_bytes("application/json");
        uint64_t next_tag = 1, acked = 0;
        long nacked = 0, failed = 0;
        timespec real0{};
        clock_gettime(CLOCK_REALTIME, &real0);
        double c0 = cpu_self(), t0 = now_mono();
        for (long i = 0; i < n; ++i) {
            amqp_bytes_t b{bodies[i].size(), bodies[i].data()};
            if (amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(queue), 1, 0, &props,
                                   b) != AMQP_STATUS_OK)
                ++failed;
            if (confirms) settle(c, next_tag, acked, nacked, uint64_t(i + 1), 4096);
        }
        if (confirms) settle(c, next_tag, acked, nacked, uint64_t(n), 0);
        double t1 = now_mono(), c1 = cpu_self();
        std::printf("{\"events\":%ld,\"wall_s\":%.6f,\"cpu_s\":%.6f,\"failed\":%ld,\"acked\":%llu,"
                    "\"nacked\":%ld,\"start_real\":%.6f}\n",
                    n, t1 - t0, c1 - c0, failed + nacked, static_cast<unsigned long long>(acked),
                    nacked, real0.tv_sec + real0.tv_nsec / 1e9);
    } else {
        die("bad arguments");
    }
    close_conn(c);
    return 0;
}
