/* test_wire.c -- the libprocess message wire: UPID parsing, and two
 * processes in one loop exchanging messages over real loopback sockets. */
#include <stdlib.h>
#include "test.h"
#include "log.h"
#include "server.h"
#include "wire.h"

static int test_upid(void)
{
    struct upid u;
    const char *s = "slave(1)@10.0.0.7:5051";
    CHECK_EQ(upid_parse(s, strlen(s), &u), 0);
    CHECK_STR(u.id, "slave(1)");
    CHECK_STR(u.host, "10.0.0.7");
    CHECK_EQ(u.port, 5051);
    s = "scheduler-4c1b@[::1]:41234";
    CHECK_EQ(upid_parse(s, strlen(s), &u), 0);
    CHECK_STR(u.host, "::1");
    CHECK_EQ(u.port, 41234);
    char out[300];
    upid_format(&u, out, sizeof out);
    CHECK_STR(out, "scheduler-4c1b@[::1]:41234");
    static const char *const bad[] = { "master", "@1.2.3.4:5", "m@1.2.3.4", "m@1.2.3.4:", "m@1.2.3.4:99999",
                                       "m@:5050", "m@[::1:5050", "m@1.2.3.4:5x" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_EQ(upid_parse(bad[i], strlen(bad[i]), &u), -1);
    return 0;
}

struct inbox { int n; char from[300]; char name[128]; char body[64]; size_t len; };

static void deliver(void *arg, const struct upid *from, const char *name, const void *body, size_t n)
{
    struct inbox *ib = arg;
    ib->n++;
    upid_format(from, ib->from, sizeof ib->from);
    snprintf(ib->name, sizeof ib->name, "%s", name);
    ib->len = n < sizeof ib->body ? n : sizeof ib->body;
    memcpy(ib->body, body, ib->len);
}

static struct server *serve(struct loop *l, const char *id)
{
    struct server_config cfg = { .ip = "127.0.0.1", .port = 0, .process_id = id,
                                 .max_head_bytes = 65536, .max_uri_bytes = 8192, .max_body_bytes = 1 << 20,
                                 .idle_timeout_ms = 10000, .request_timeout_ms = 10000,
                                 .max_stream_buffer = 1 << 20, .max_connections = 100 };
    char err[256];
    return server_new(l, &cfg, err);
}

static int test_exchange(void)
{
    struct loop *l = loop_new();
    struct server *sa = serve(l, "master"), *sb = serve(l, "slave(1)");
    CHECK(sa && sb);
    struct upid ua = { "master", "127.0.0.1", server_port(sa) }, ub = { "slave(1)", "127.0.0.1", server_port(sb) };
    struct inbox ia = {0}, ib = {0};
    struct wire *wa = wire_new(l, sa, &ua, deliver, &ia), *wb = wire_new(l, sb, &ub, deliver, &ib);
    CHECK_EQ(wire_send(wa, &ub, "mesos.internal.PingSlaveMessage", "\x08\x01", 2), 0);
    for (int i = 0; i < 100 && ib.n < 1; i++) loop_run_once(l, 20);
    CHECK_EQ(ib.n, 1);
    CHECK_STR(ib.name, "mesos.internal.PingSlaveMessage");
    char want[300];
    upid_format(&ua, want, sizeof want);
    CHECK_STR(ib.from, want);
    CHECK_MEM(ib.body, ib.len, "\x08\x01");
    /* the reply travels on b's own connection; an empty body is allowed */
    CHECK_EQ(wire_send(wb, &ua, "mesos.internal.PongSlaveMessage", "", 0), 0);
    /* several messages queue on one connection, in order */
    for (int k = 0; k < 20; k++) wire_send(wa, &ub, "mesos.internal.PingSlaveMessage", "\x08\x00", 2);
    for (int i = 0; i < 200 && (ia.n < 1 || ib.n < 21); i++) loop_run_once(l, 20);
    CHECK_EQ(ia.n, 1);
    CHECK_STR(ia.name, "mesos.internal.PongSlaveMessage");
    CHECK_EQ(ia.len, 0);
    CHECK_EQ(ib.n, 21);
    CHECK_EQ(wire_stats(wa)->connects, 1);
    CHECK_EQ(wire_stats(wa)->sent, 21);
    CHECK_EQ(wire_stats(wb)->received, 21);
    wire_free(wa);
    wire_free(wb);
    server_free(sa);
    server_free(sb);
    loop_free(l);
    return 0;
}

static int test_unreachable_peer(void)
{
    struct loop *l = loop_new();
    struct server *sa = serve(l, "master"), *dead = serve(l, "x");
    struct upid ua = { "master", "127.0.0.1", server_port(sa) };
    struct upid ud = { "slave(1)", "127.0.0.1", server_port(dead) };
    server_free(dead);                         /* nobody listens there now */
    struct inbox ia = {0};
    struct wire *wa = wire_new(l, sa, &ua, deliver, &ia);
    int rc = wire_send(wa, &ud, "mesos.internal.PingSlaveMessage", "", 0);
    for (int i = 0; i < 50 && wire_stats(wa)->dropped == 0; i++) loop_run_once(l, 20);
    CHECK(rc == -1 || wire_stats(wa)->dropped == 1);
    CHECK_EQ(wire_stats(wa)->dropped, 1);
    CHECK_EQ(ia.n, 0);
    wire_free(wa);
    server_free(sa);
    loop_free(l);
    return 0;
}

int main(void)
{
    log_min_severity = LOG_ERROR;
    RUN(test_upid);
    RUN(test_exchange);
    RUN(test_unreachable_peer);
    return REPORT();
}
