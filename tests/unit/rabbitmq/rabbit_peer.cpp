// rabbit-peer: the tests' side of a RabbitMQ broker (declare, bind, consume), built on
// rabbitmq-c because Python's stdlib has no AMQP client.
//
//   rabbit-peer [--host H] --port P [--user U] [--password W] [--vhost V] OP [OP...]
//     queue NAME durable|transient     declare a queue
//     exchange NAME TYPE               declare a (durable) exchange
//     bind QUEUE EXCHANGE KEY          bind a queue
//     delete QUEUE                     delete a queue
//     count QUEUE                      print the number of ready messages
//     consume QUEUE N IDLE_MS          take up to N messages (auto-ack); stop after IDLE_MS
//                                      without one; one line per message:
//                                      delivery_mode TAB content_type TAB exchange TAB
//                                      routing_key TAB body
// Exit status 0 when every operation succeeded; errors on stderr.
#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const std::string &msg) {
    std::fprintf(stderr, "rabbit-peer: %s\n", msg.c_str());
    std::exit(1);
}

std::string str(amqp_bytes_t b) {
    return std::string(static_cast<const char *>(b.bytes), b.len);
}

void check(amqp_connection_state_t c, const std::string &what) {
    amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) return;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
        die(what + ": " + amqp_error_string2(r.library_error));
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) {
        if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            auto *m = static_cast<amqp_channel_close_t *>(r.reply.decoded);
            die(what + ": " + std::to_string(m->reply_code) + " " + str(m->reply_text));
        }
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            auto *m = static_cast<amqp_connection_close_t *>(r.reply.decoded);
            die(what + ": " + std::to_string(m->reply_code) + " " + str(m->reply_text));
        }
    }
    die(what + ": failed");
}

std::string clean(std::string s) {
    for (char &c : s)
        if (c == '\t' || c == '\n') c = ' ';
    return s;
}

} // namespace

int main(int argc, char **argv) {
    std::string host = "127.0.0.1", user = "guest", password = "guest", vhost = "/";
    int port = 0;
    int i = 1;
    for (; i + 1 < argc && std::strncmp(argv[i], "--", 2) == 0; i += 2) {
        std::string o = argv[i];
        if (o == "--host")
            host = argv[i + 1];
        else if (o == "--port")
            port = std::atoi(argv[i + 1]);
        else if (o == "--user")
            user = argv[i + 1];
        else if (o == "--password")
            password = argv[i + 1];
        else if (o == "--vhost")
            vhost = argv[i + 1];
        else
            die("unknown option " + o);
    }
    if (port <= 0 || i >= argc) die("usage: rabbit-peer [--host H] --port P [...] OP [OP...]");

    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(c);
    timeval tv{5, 0};
    int rc = amqp_socket_open_noblock(s, host.c_str(), port, &tv);
    if (rc != AMQP_STATUS_OK) die("connect: " + std::string(amqp_error_string2(rc)));
    amqp_rpc_reply_t r = amqp_login(c, vhost.c_str(), 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
                                    user.c_str(), password.c_str());
    if (r.reply_type != AMQP_RESPONSE_NORMAL) die("login failed");
    amqp_channel_open(c, 1);
    check(c, "channel.open");

    std::vector<std::string> args(argv + i, argv + argc);
    auto need = [&](size_t k, size_t n) {
        if (k + n >= args.size() + 1) die("missing arguments for " + args[k]);
    };
    for (size_t k = 0; k < args.size();) {
        const std::string &op = args[k];
        if (op == "queue") {
            need(k, 3);
            bool durable = args[k + 2] == "durable";
            amqp_queue_declare(c, 1, amqp_cstring_bytes(args[k + 1].c_str()), 0, durable, 0, 0,
                               amqp_empty_table);
            check(c, "queue.declare " + args[k + 1]);
            k += 3;
        } else if (op == "exchange") {
            need(k, 3);
            amqp_exchange_declare(c, 1, amqp_cstring_bytes(args[k + 1].c_str()),
                                  amqp_cstring_bytes(args[k + 2].c_str()), 0, 1, 0, 0,
                                  amqp_empty_table);
            check(c, "exchange.declare " + args[k + 1]);
            k += 3;
        } else if (op == "bind") {
            need(k, 4);
            amqp_queue_bind(c, 1, amqp_cstring_bytes(args[k + 1].c_str()),
                            amqp_cstring_bytes(args[k + 2].c_str()),
                            amqp_cstring_bytes(args[k + 3].c_str()), amqp_empty_table);
            check(c, "queue.bind");
            k += 4;
        } else if (op == "delete") {
            need(k, 2);
            amqp_queue_delete(c, 1, amqp_cstring_bytes(args[k + 1].c_str()), 0, 0);
            check(c, "queue.delete " + args[k + 1]);
            k += 2;
        } else if (op == "count") {
            need(k, 2);
            auto *ok = amqp_queue_declare(c, 1, amqp_cstring_bytes(args[k + 1].c_str()), 1, 0, 0, 0,
                                          amqp_empty_table);
            check(c, "queue.declare passive " + args[k + 1]);
            std::printf("%u\n", ok->message_count);
            k += 2;
        } else if (op == "consume") {
            need(k, 4);
            long want = std::atol(args[k + 2].c_str());
            long idle_ms = std::atol(args[k + 3].c_str());
            amqp_basic_qos(c, 1, 0, 2000, 0);
            check(c, "basic.qos");
            amqp_basic_consume(c, 1, amqp_cstring_bytes(args[k + 1].c_str()), amqp_empty_bytes, 0,
                               1, 0, amqp_empty_table);
            check(c, "basic.consume " + args[k + 1]);
            for (long got = 0; got < want;) {
                amqp_envelope_t env;
                amqp_maybe_release_buffers(c);
                timeval t{idle_ms / 1000, (idle_ms % 1000) * 1000};
                r = amqp_consume_message(c, &env, &t, 0);
                if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
                    r.library_error == AMQP_STATUS_TIMEOUT)
                    break;
                if (r.reply_type != AMQP_RESPONSE_NORMAL) die("consume failed");
                const amqp_basic_properties_t &p = env.message.properties;
                int dm = (p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) ? p.delivery_mode : 0;
                std::string ct =
                    (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) ? str(p.content_type) : "";
                std::printf("%d\t%s\t%s\t%s\t%s\n", dm, clean(ct).c_str(),
                            clean(str(env.exchange)).c_str(), clean(str(env.routing_key)).c_str(),
                            clean(str(env.message.body)).c_str());
                amqp_destroy_envelope(&env);
                ++got;
            }
            std::fflush(stdout);
            k += 4;
        } else {
            die("unknown operation " + op);
        }
    }
    amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
    return 0;
}
