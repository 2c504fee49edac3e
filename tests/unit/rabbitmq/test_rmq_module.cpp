// event_rabbitmq through its C ABI, as the host sees it (no broker needed: nothing connects
// before the first event).
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "evi_plugin.h"

namespace {
const evi_transport_t &transport() {
    const evi_module_t *m = evi_module_descriptor();
    REQUIRE(m->ntransports == 1);
    return m->transports[0];
}
evi_str_t str(const char *s) {
    return evi_str_t{s, std::strlen(s)};
}
void *parse_ok(const char *address) {
    void *sock = nullptr;
    unsigned flags = transport().flags;
    char err[256] = "";
    INFO(address << ": " << err);
    REQUIRE(transport().parse(str(address), 0, &sock, &flags, err, sizeof err) == EVI_OK);
    return sock;
}
std::string print(void *sock) {
    char buf[256];
    int n = transport().print(sock, buf, sizeof buf);
    CHECK(n == static_cast<int>(std::strlen(buf)));
    return buf;
}
} // namespace

TEST_CASE("the descriptor speaks ABI 1 and exports one asynchronous JSON transport 'rabbitmq'") {
    const evi_module_t *m = evi_module_descriptor();
    CHECK(m->abi_major == EVI_ABI_MAJOR);
    CHECK(m->size == sizeof(evi_module_t));
    CHECK(std::string(m->name) == "event_rabbitmq");
    CHECK(std::string(transport().proto) == "rabbitmq");
    CHECK(transport().flags == (EVI_TF_ASYNC | EVI_TF_JSON));
}

TEST_CASE("the parameters are those of the issue, with their defaults") {
    const evi_module_t *m = evi_module_descriptor();
    std::string names;
    for (size_t i = 0; i < m->nparams; ++i)
        names += std::string(m->params[i].name) + "=" + m->params[i].default_value + " ";
    CHECK(names == "heartbeat=0 connect_timeout=500 timeout=5000 publisher_confirms=1 "
                   "queue_size=10000 max_event_age=0 tls_ca_file= tls_cert_file= tls_key_file= "
                   "tls_verify=1 ");
}

TEST_CASE("parse refuses a malformed socket with a sentence in err") {
    void *sock = nullptr;
    unsigned flags = 0;
    char err[256] = "";
    CHECK(transport().parse(str("127.0.0.1:99999/q"), 0, &sock, &flags, err, sizeof err) ==
          EVI_ERR);
    CHECK(std::string(err) == "bad port '99999' (expected 1-65535)");
    CHECK(sock == nullptr);
}

TEST_CASE("print through the ABI hides the password and reports the full length") {
    void *sock = parse_ok("bob:s3cret@10.0.0.1:5673/exchange=ex?key");
    CHECK(print(sock) == "bob@10.0.0.1:5673/exchange=ex?key");
    char small[8];
    int n = transport().print(sock, small, sizeof small);
    CHECK(n == static_cast<int>(std::strlen("bob@10.0.0.1:5673/exchange=ex?key")));
    CHECK(std::string(small) == "bob@10.");
    transport().free(sock);
}

TEST_CASE("match through the ABI compares destinations") {
    void *a = parse_ok("10.0.0.1/q");
    void *b = parse_ok("guest:other@10.0.0.1:5672/persistent?q");
    void *c = parse_ok("10.0.0.1/q2");
    CHECK(transport().match(a, b) == 1);
    CHECK(transport().match(a, c) == 0);
    transport().free(a);
    transport().free(b);
    transport().free(c);
}
