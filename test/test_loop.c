/* test_loop.c -- unit tests of the bounded buffers, the event loop and the
 * socket helpers. Every wait is bounded: loops run with timeouts and
 * iteration caps, so a broken loop fails instead of hanging. */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include "test.h"
#include "buf.h"
#include "loop.h"
#include "net.h"

static int test_buf_growth_and_max(void)
{
    struct buf b = { .max = 100 };
    for (int i = 0; i < 100; i++) CHECK_EQ(buf_putc(&b, (char)('a' + i % 26)), 0);
    CHECK_EQ(b.len, 100);
    CHECK_EQ(buf_putc(&b, 'x'), -1);          /* past max: refused, nothing appended */
    CHECK_EQ(b.len, 100);
    CHECK_EQ(buf_reserve(&b, SIZE_MAX), -1);  /* overflow-safe */
    buf_consume(&b, 90);
    CHECK_EQ(b.len, 10);
    CHECK_EQ(b.data[0], 'a' + 90 % 26);
    CHECK_EQ(buf_printf(&b, "%d-%s", 42, "x"), 0);
    CHECK_MEM(b.data + 10, b.len - 10, "42-x");
    buf_free(&b);
    CHECK_EQ(b.max, 100);
    CHECK(b.data == NULL);
    /* a long printf goes through the two-pass path */
    struct buf c = {0};
    char big[1000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK_EQ(buf_printf(&c, "<%s>", big), 0);
    CHECK_EQ(c.len, 1001);
    CHECK_EQ(c.data[1000], '>');
    buf_free(&c);
    return 0;
}

/* ---- loop ---- */

struct pair { struct loop_fd a; int hits; struct loop_fd *victim; int remove_self; struct loop *l; };

static void on_read(struct loop *l, struct loop_fd *f, int ev)
{
    struct pair *p = container_of(f, struct pair, a);
    (void)ev;
    p->hits++;
    char tmp[64];
    (void)!read(f->fd, tmp, sizeof tmp);
    if (p->victim) { loop_del(l, p->victim); p->victim = NULL; }
    if (p->remove_self) loop_del(l, f);
}

static int test_loop_fds(void)
{
    struct loop *l = loop_new();
    int s1[2], s2[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s1), 0);
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s2), 0);
    struct pair p1 = {0}, p2 = {0};
    CHECK_EQ(loop_add(l, &p1.a, s1[0], LOOP_READ, on_read), 0);
    CHECK_EQ(loop_add(l, &p2.a, s2[0], LOOP_READ, on_read), 0);
    /* nothing ready: returns after the timeout with no events */
    CHECK_EQ(loop_run_once(l, 10), 0);
    /* both ready; whichever runs first removes the other, which then must
     * not be dispatched in the same iteration */
    p1.victim = &p2.a;
    p2.victim = &p1.a;
    CHECK_EQ(write(s1[1], "x", 1), 1);
    CHECK_EQ(write(s2[1], "y", 1), 1);
    CHECK_EQ(loop_run_once(l, 100), 1);
    CHECK_EQ(p1.hits + p2.hits, 1);
    /* removing itself from its own callback */
    struct pair *alive = p1.hits ? &p1 : &p2;
    int wfd = alive == &p1 ? s1[1] : s2[1];
    alive->victim = NULL;
    alive->remove_self = 1;
    CHECK_EQ(write(wfd, "z", 1), 1);
    CHECK_EQ(loop_run_once(l, 100), 1);
    CHECK_EQ(write(wfd, "z", 1), 1);
    CHECK_EQ(loop_run_once(l, 10), 0);         /* removed: no more callbacks */
    close(s1[0]); close(s1[1]); close(s2[0]); close(s2[1]);
    loop_free(l);
    return 0;
}

static int order[3000], norder;
struct tm_ { struct loop_timer t; int id; };
static void on_timer(struct loop *l, struct loop_timer *t)
{
    (void)l;
    order[norder++] = container_of(t, struct tm_, t)->id;
}

static int test_timers(void)
{
    struct loop *l = loop_new();
    static struct tm_ ts[2000];
    norder = 0;
    for (int i = 0; i < 2000; i++) {
        ts[i].id = i;
        loop_timer_init(&ts[i].t, on_timer);
        loop_timer_start(l, &ts[i].t, (uint64_t)(((i * 7919) % 2000) / 100));   /* 0..19 ms, shuffled */
    }
    loop_timer_stop(l, &ts[5].t);
    CHECK(!loop_timer_active(&ts[5].t));
    for (int k = 0; k < 200 && norder < 1999; k++) loop_run_once(l, 50);
    CHECK_EQ(norder, 1999);
    for (int i = 1; i < norder; i++)
        CHECK(ts[order[i - 1]].t.when_ms <= ts[order[i]].t.when_ms);
    /* restart moves a timer */
    norder = 0;
    loop_timer_start(l, &ts[0].t, 1000);
    loop_timer_start(l, &ts[1].t, 5);
    loop_timer_start(l, &ts[0].t, 1);
    for (int k = 0; k < 50 && norder < 2; k++) loop_run_once(l, 20);
    CHECK_EQ(norder, 2);
    CHECK_EQ(order[0], 0);
    CHECK_EQ(order[1], 1);
    loop_free(l);
    return 0;
}

static int rearm_count;
static void rearm(struct loop *l, struct loop_timer *t)
{
    rearm_count++;
    loop_timer_start(l, t, 0);
}

static int test_timer_rearm_zero(void)
{
    struct loop *l = loop_new();
    struct loop_timer t;
    loop_timer_init(&t, rearm);
    loop_timer_start(l, &t, 0);
    rearm_count = 0;
    loop_run_once(l, 0);
    CHECK(rearm_count >= 1 && rearm_count <= 2);   /* bounded, not an endless loop */
    loop_timer_stop(l, &t);
    loop_free(l);
    return 0;
}

/* ---- net ---- */

struct echo { struct loop_fd f; char got[16]; size_t n; };
static void on_data(struct loop *l, struct loop_fd *f, int ev)
{
    (void)l; (void)ev;
    struct echo *e = container_of(f, struct echo, f);
    long n = net_read(f->fd, e->got + e->n, sizeof e->got - e->n);
    if (n > 0) e->n += (size_t)n;
}

static int exchange(const char *ip)
{
    char err[NET_ERR_LEN];
    int lfd = net_listen(ip, 0, 16, err);
    CHECK(lfd >= 0);
    int port = net_local_port(lfd);
    CHECK(port > 0);
    int cfd = net_connect(ip, port, err);
    CHECK(cfd >= 0);
    int sfd = -EAGAIN;
    for (int i = 0; i < 100 && sfd == -EAGAIN; i++) {
        sfd = net_accept(lfd, NULL, 0);
        if (sfd == -EAGAIN) usleep(1000);
    }
    CHECK(sfd >= 0);
    CHECK_EQ(net_connect_result(cfd), 0);
    struct loop *l = loop_new();
    struct echo e = {0};
    CHECK_EQ(loop_add(l, &e.f, sfd, LOOP_READ, on_data), 0);
    CHECK_EQ(net_write(cfd, "hello", 5), 5);
    for (int i = 0; i < 50 && e.n < 5; i++) loop_run_once(l, 20);
    CHECK_MEM(e.got, e.n, "hello");
    /* nothing more to read: EAGAIN, not 0 */
    CHECK_EQ(net_read(sfd, e.got, 1), -EAGAIN);
    close(cfd);
    char c;
    long r = -EAGAIN;
    for (int i = 0; i < 100 && r == -EAGAIN; i++) { r = net_read(sfd, &c, 1); if (r == -EAGAIN) usleep(1000); }
    CHECK_EQ(r, 0);                            /* EOF */
    loop_free(l);
    close(sfd);
    close(lfd);
    return 0;
}

static int test_net_ipv4(void) { return exchange("127.0.0.1"); }

static int test_net_ipv6(void)
{
    char err[NET_ERR_LEN];
    int fd = net_listen("::1", 0, 1, err);
    if (fd < 0) {
        /* No IPv6 loopback here: nothing to check, and it does not count. */
        printf("note: ::1 unavailable (%s); IPv6 exchange skipped\n", err);
        test_passed--;
        return 0;
    }
    close(fd);
    return exchange("::1");
}

static int test_net_refused(void)
{
    char err[NET_ERR_LEN];
    int lfd = net_listen("127.0.0.1", 0, 1, err);
    int port = net_local_port(lfd);
    close(lfd);                                /* nobody listens there now */
    int fd = net_connect("127.0.0.1", port, err);
    if (fd < 0) { CHECK_EQ(fd, -ECONNREFUSED); return 0; }
    struct loop *l = loop_new();
    struct loop_fd f;
    int rc = 0;
    for (int i = 0; i < 50 && (rc = net_connect_result(fd)) == 0; i++) usleep(2000);
    CHECK_EQ(rc, -ECONNREFUSED);
    (void)f;
    close(fd);
    loop_free(l);
    CHECK(net_listen("256.1.1.1", 0, 1, err) < 0);
    return 0;
}

int main(void)
{
    RUN(test_buf_growth_and_max);
    RUN(test_loop_fds);
    RUN(test_timers);
    RUN(test_timer_rearm_zero);
    RUN(test_net_ipv4);
    RUN(test_net_ipv6);
    RUN(test_net_refused);
    return REPORT();
}
