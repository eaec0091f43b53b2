/* test_loop.c -- unit tests of the bounded buffers (buf.c), the event loop
 * (loop.c) and the socket helpers (net.c).
 *
 * Nothing here can hang: every wait is a loop_run_once with a timeout inside
 * a loop with an iteration cap, and every loop_run has a watchdog timer that
 * stops it. Handles deleted from callbacks live in malloc'd memory that the
 * callbacks free, so under ASan or valgrind a loop that touches a handle
 * after its callback, or dispatches a deleted one, is caught. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "test.h"
#include "buf.h"
#include "loop.h"
#include "net.h"

/* ==== buf =============================================================== */

static int test_buf_growth(void)
{
    struct buf b = {0};
    size_t caps[16];
    int ncaps = 0;
    for (int i = 0; i < 1000; i++) {
        CHECK_EQ(buf_putc(&b, (char)('a' + i % 26)), 0);
        if (ncaps == 0 || caps[ncaps - 1] != b.cap) caps[ncaps++] = b.cap;
    }
    CHECK_EQ(b.len, 1000);
    CHECK_EQ(ncaps, 5);                        /* 64, 128, 256, 512, 1024 */
    CHECK_EQ(caps[0], 64);
    for (int i = 1; i < ncaps; i++) CHECK_EQ(caps[i], 2 * caps[i - 1]);
    for (int i = 0; i < 1000; i++) CHECK_EQ(b.data[i], 'a' + i % 26);
    CHECK_EQ(buf_append(&b, "", 0), 0);
    CHECK_EQ(b.len, 1000);
    CHECK_EQ(buf_reserve(&b, 5000), 0);        /* one reserve, several doublings */
    CHECK_EQ(b.cap, 8192);
    CHECK_EQ(b.len, 1000);
    buf_free(&b);
    CHECK(b.data == NULL);
    CHECK_EQ(b.len, 0);
    CHECK_EQ(b.cap, 0);
    return 0;
}

static int test_buf_max(void)
{
    struct buf b = { .max = 100 };
    CHECK_EQ(buf_reserve(&b, 101), -1);
    CHECK(b.data == NULL);                     /* refused before allocating */
    CHECK_EQ(buf_reserve(&b, 100), 0);
    CHECK_EQ(b.cap, 100);                      /* doubling stops at the ceiling */
    char x[60];
    memset(x, 'x', sizeof x);
    CHECK_EQ(buf_append(&b, x, 60), 0);
    CHECK_EQ(buf_append(&b, x, 41), -1);       /* nothing appended then */
    CHECK_EQ(b.len, 60);
    CHECK_EQ(buf_append(&b, x, 40), 0);
    CHECK_EQ(b.len, 100);
    CHECK_EQ(buf_putc(&b, 'y'), -1);
    CHECK_EQ(buf_puts(&b, "y"), -1);
    CHECK_EQ(buf_puts(&b, ""), 0);
    CHECK_EQ(b.len, 100);
    CHECK(b.cap <= 100);
    CHECK_EQ(buf_reserve(&b, SIZE_MAX), -1);
    CHECK_EQ(buf_reserve(&b, SIZE_MAX - 50), -1);
    buf_free(&b);
    CHECK_EQ(b.max, 100);                      /* the ceiling survives buf_free */
    CHECK_EQ(buf_append(&b, x, 60), 0);
    CHECK_EQ(buf_append(&b, x, 60), -1);
    buf_free(&b);

    /* len + extra must not wrap even when max allows everything */
    struct buf w = { .max = SIZE_MAX, .len = 10 };
    CHECK_EQ(buf_reserve(&w, SIZE_MAX - 5), -1);
    CHECK(w.data == NULL);
    /* max 0 is BUF_DEFAULT_MAX */
    struct buf d = {0};
    CHECK_EQ(buf_reserve(&d, BUF_DEFAULT_MAX + 1), -1);
    CHECK(d.data == NULL);
    CHECK_EQ(buf_reserve(&d, 10), 0);
    buf_free(&d);
    return 0;
}

static int test_buf_printf(void)
{
    struct buf b = {0};
    CHECK_EQ(buf_printf(&b, "%d-%s", 42, "x"), 0);
    CHECK_EQ(buf_printf(&b, "%05.1f", 3.14159), 0);
    CHECK_EQ(buf_printf(&b, "%s", ""), 0);
    CHECK_MEM(b.data, b.len, "42-x003.1");
    /* longer than the spare room: the second pass formats after growing */
    char big[1000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK_EQ(buf_printf(&b, "<%s>", big), 0);
    CHECK_EQ(b.len, 9 + 1001);
    CHECK_EQ(b.data[9], '<');
    CHECK_EQ(b.data[10 + 998], 'z');
    CHECK_EQ(b.data[b.len - 1], '>');
    /* room already there: formatted in place, no reallocation */
    CHECK_EQ(buf_reserve(&b, 100), 0);
    const char *before = b.data;
    CHECK_EQ(buf_printf(&b, "[%u]", 7u), 0);
    CHECK(b.data == before);
    CHECK_MEM(b.data + b.len - 3, 3, "[7]");
    buf_free(&b);

    /* exactly up to the ceiling is fine (vsnprintf's NUL is not counted) */
    struct buf m = { .max = 10 };
    CHECK_EQ(buf_printf(&m, "%s", "0123456789"), 0);
    CHECK_MEM(m.data, m.len, "0123456789");
    CHECK_EQ(buf_printf(&m, "x"), -1);
    CHECK_EQ(m.len, 10);
    buf_free(&m);
    CHECK_EQ(buf_printf(&m, "12345"), 0);
    CHECK_EQ(buf_printf(&m, "%s", "abcdef"), -1);   /* past max: nothing appended */
    CHECK_MEM(m.data, m.len, "12345");
    CHECK_EQ(buf_printf(&m, "%s", "abcde"), 0);
    CHECK_MEM(m.data, m.len, "12345abcde");
    buf_free(&m);
    return 0;
}

static int test_buf_consume(void)
{
    struct buf b = {0};
    CHECK_EQ(buf_puts(&b, "hello world"), 0);
    buf_consume(&b, 0);
    CHECK_MEM(b.data, b.len, "hello world");
    buf_consume(&b, 6);
    CHECK_MEM(b.data, b.len, "world");
    CHECK_EQ(buf_puts(&b, "!"), 0);
    CHECK_MEM(b.data, b.len, "world!");
    buf_consume(&b, 100);                      /* more than there is: empty */
    CHECK_EQ(b.len, 0);
    CHECK_EQ(buf_puts(&b, "abc"), 0);
    size_t cap = b.cap;
    buf_reset(&b);
    CHECK_EQ(b.len, 0);
    CHECK_EQ(b.cap, cap);                      /* reset keeps the memory */
    CHECK(b.data != NULL);
    buf_free(&b);
    return 0;
}

static int test_xalloc(void)
{
    char *s = xstrdup("mesos");
    CHECK_STR(s, "mesos");
    s = xrealloc(s, 4096);
    CHECK_STR(s, "mesos");
    free(s);
    int *z = xcalloc(100, sizeof *z);
    for (int i = 0; i < 100; i++) CHECK_EQ(z[i], 0);
    free(z);
    void *p = xmalloc(0);                      /* never NULL */
    CHECK(p != NULL);
    free(p);
    return 0;
}

/* ==== loop: descriptors ================================================= */

struct watch {
    struct loop_fd lf;
    int id;
    int hits, last_ev;
    int del[4], ndel;          /* ids to delete (and free) from the callback */
    int del_self, add_new;
    int mute, readd;           /* 1 + id of a watch to silence / to delete and re-add */
};

#define NW 16
static struct watch *ws[NW + 1];   /* by id; NULL once freed */
static int whits[NW + 1];
static int wsock[NW + 1][2];
static int nested_rc;

static void on_watch(struct loop *l, struct loop_fd *f, int ev)
{
    struct watch *w = container_of(f, struct watch, lf);
    w->hits++;
    w->last_ev = ev;
    whits[w->id]++;
    nested_rc = loop_run_once(l, 0);
    for (int k = 0; k < w->ndel; k++) {
        struct watch *v = ws[w->del[k]];
        loop_del(l, &v->lf);
        ws[v->id] = NULL;
        free(v);
    }
    w->ndel = 0;
    if (w->mute) {
        loop_set(l, &ws[w->mute - 1]->lf, 0);
        w->mute = 0;
    }
    if (w->readd) {
        struct watch *v = ws[w->readd - 1];
        loop_del(l, &v->lf);
        loop_add(l, &v->lf, v->lf.fd, LOOP_READ, on_watch);
        w->readd = 0;
    }
    if (w->add_new) {
        struct watch *n = xcalloc(1, sizeof *n);
        n->id = NW;
        ws[NW] = n;
        loop_add(l, &n->lf, wsock[NW][0], LOOP_READ, on_watch);
        w->add_new = 0;
    }
    if (w->del_self) {
        loop_del(l, f);
        ws[w->id] = NULL;
        free(w);
    }
}

static int test_loop_readwrite(void)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct loop *l = loop_new();
    struct watch w = {0};
    CHECK_EQ(loop_add(l, &w.lf, -1, LOOP_READ, on_watch), -EBADF);
    CHECK_EQ(loop_run_once(l, 10), 0);         /* nothing registered, times out */

    CHECK_EQ(loop_add(l, &w.lf, sv[0], LOOP_WRITE, on_watch), 0);
    CHECK_EQ(loop_run_once(l, 100), 1);
    CHECK_EQ(w.last_ev, LOOP_WRITE);
    CHECK_EQ(nested_rc, -EBUSY);               /* not re-entrant */
    loop_set(l, &w.lf, LOOP_READ);
    CHECK_EQ(loop_run_once(l, 10), 0);         /* writable, but nobody asks */
    CHECK_EQ(w.hits, 1);

    CHECK_EQ(write(sv[1], "abc", 3), 3);
    CHECK_EQ(loop_run_once(l, 100), 1);
    CHECK_EQ(w.last_ev, LOOP_READ);
    char tmp[8];
    CHECK_EQ(net_read(sv[0], tmp, sizeof tmp), 3);
    CHECK_EQ(loop_run_once(l, 10), 0);         /* drained */
    loop_set(l, &w.lf, LOOP_READ | LOOP_WRITE);
    CHECK_EQ(write(sv[1], "d", 1), 1);
    CHECK_EQ(loop_run_once(l, 100), 1);
    CHECK_EQ(w.last_ev, LOOP_READ | LOOP_WRITE);
    CHECK_EQ(net_read(sv[0], tmp, sizeof tmp), 1);

    /* the iteration's clock is cached between two fresh readings */
    uint64_t t0 = loop_clock_ms();
    loop_set(l, &w.lf, LOOP_READ);
    CHECK_EQ(loop_run_once(l, 0), 0);
    CHECK(loop_now_ms(l) >= t0 && loop_now_ms(l) <= loop_clock_ms());

    /* a hang-up is reported whatever the interest, with READ and ERROR */
    loop_set(l, &w.lf, 0);
    close(sv[1]);
    CHECK_EQ(loop_run_once(l, 100), 1);
    CHECK(w.last_ev & LOOP_ERROR);
    CHECK(w.last_ev & LOOP_READ);
    CHECK_EQ(net_read(sv[0], tmp, sizeof tmp), 0);
    loop_del(l, &w.lf);
    loop_del(l, &w.lf);                        /* twice: a no-op */
    CHECK_EQ(loop_run_once(l, 10), 0);
    close(sv[0]);
    loop_free(l);
    return 0;
}

/* Sixteen ready descriptors, dispatched in slot order. Watch 0 deletes and
 * frees 3, 7 and 15 (the last slot, which a naive swap-remove would move
 * into a hole) and adds a new, already readable one; watch 5 deletes 4
 * (already dispatched) and 6 (not yet), then deletes and frees itself. */
static int test_loop_delete_in_callbacks(void)
{
    struct loop *l = loop_new();
    memset(whits, 0, sizeof whits);
    for (int i = 0; i <= NW; i++) {
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, wsock[i]), 0);
        CHECK_EQ(write(wsock[i][1], "r", 1), 1);   /* readable, never drained */
        ws[i] = NULL;
    }
    for (int i = 0; i < NW; i++) {
        ws[i] = xcalloc(1, sizeof *ws[i]);
        ws[i]->id = i;
        CHECK_EQ(loop_add(l, &ws[i]->lf, wsock[i][0], LOOP_READ, on_watch), 0);
    }
    ws[0]->del[0] = 3; ws[0]->del[1] = 7; ws[0]->del[2] = 15; ws[0]->ndel = 3;
    ws[0]->add_new = 1;
    ws[5]->del[0] = 4; ws[5]->del[1] = 6; ws[5]->ndel = 2;
    ws[5]->del_self = 1;

    CHECK_EQ(loop_run_once(l, 100), NW - 4);    /* 3, 6, 7, 15 never run */
    for (int i = 0; i < NW; i++)
        CHECK_EQ(whits[i], i == 3 || i == 6 || i == 7 || i == 15 ? 0 : 1);
    CHECK_EQ(whits[NW], 0);                      /* added this round: polled next */
    CHECK(ws[5] == NULL && ws[4] == NULL && ws[NW] != NULL);

    /* next round: the survivors (0 1 2 8..14) and the new one, once each */
    CHECK_EQ(loop_run_once(l, 100), 11);
    for (int i = 0; i <= NW; i++) {
        int want = (i <= 2 || (i >= 8 && i <= 14)) ? 2 : (i == 4 || i == 5 || i == NW) ? 1 : 0;
        CHECK_EQ(whits[i], want);
    }
    for (int i = 0; i <= NW; i++)
        if (ws[i]) { loop_del(l, &ws[i]->lf); free(ws[i]); ws[i] = NULL; }
    CHECK_EQ(loop_run_once(l, 10), 0);
    for (int i = 0; i <= NW; i++) { close(wsock[i][0]); close(wsock[i][1]); }
    loop_free(l);
    return 0;
}

/* Interest changed, or a handle deleted and added again, by an earlier
 * callback of the same round: the stale readiness is not delivered. */
static int test_loop_set_in_callbacks(void)
{
    struct loop *l = loop_new();
    memset(whits, 0, sizeof whits);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, wsock[i]), 0);
        CHECK_EQ(write(wsock[i][1], "r", 1), 1);
        ws[i] = xcalloc(1, sizeof *ws[i]);
        ws[i]->id = i;
        CHECK_EQ(loop_add(l, &ws[i]->lf, wsock[i][0], LOOP_READ, on_watch), 0);
    }
    ws[0]->mute = 1 + 1;
    ws[0]->readd = 1 + 2;
    CHECK_EQ(loop_run_once(l, 100), 1);
    CHECK(whits[0] == 1 && whits[1] == 0 && whits[2] == 0);
    CHECK_EQ(loop_run_once(l, 100), 2);          /* 1 stays muted; 2 is back */
    CHECK(whits[0] == 2 && whits[1] == 0 && whits[2] == 1);
    for (int i = 0; i < 3; i++) {
        loop_del(l, &ws[i]->lf);
        free(ws[i]);
        ws[i] = NULL;
        close(wsock[i][0]);
        close(wsock[i][1]);
    }
    loop_free(l);
    return 0;
}

/* Thousands of descriptors: readiness reaches exactly the ready ones, and
 * deleting half of them in scattered order keeps every slot consistent. */
static int many_hits[4000];
struct many { struct loop_fd lf; int id; };
static void on_many(struct loop *l, struct loop_fd *f, int ev)
{
    (void)l; (void)ev;
    many_hits[container_of(f, struct many, lf)->id]++;
}

static int test_loop_many_fds(void)
{
    struct rlimit rl;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < 4200 && rl.rlim_max != rl.rlim_cur) {
        rl.rlim_cur = rl.rlim_max < 4200 ? rl.rlim_max : 4200;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    int n = rl.rlim_cur >= 4200 ? 2000 : (int)(rl.rlim_cur - 100) / 2;
    if (n < 2000) printf("note: RLIMIT_NOFILE %d: %d pipes instead of 2000\n", (int)rl.rlim_cur, n);
    CHECK(n >= 100);
    static int p[2000][2];
    static struct many m[2000];
    struct loop *l = loop_new();
    int ready = 0;
    memset(many_hits, 0, sizeof many_hits);
    for (int i = 0; i < n; i++) {
        CHECK_EQ(pipe2(p[i], O_NONBLOCK | O_CLOEXEC), 0);
        m[i].id = i;
        CHECK_EQ(loop_add(l, &m[i].lf, p[i][0], LOOP_READ, on_many), 0);
        if (i % 3 == 0) { CHECK_EQ(write(p[i][1], "x", 1), 1); ready++; }
    }
    CHECK_EQ(loop_run_once(l, 100), ready);
    for (int i = 0; i < n; i++) CHECK_EQ(many_hits[i], i % 3 == 0);
    /* delete the odd ones in a scattered order (7919 is prime, n is not a multiple) */
    int deleted = 0, still = 0;
    for (int k = 0; k < n; k++) {
        int i = (int)(((long)k * 7919) % n);
        if (i % 2) { loop_del(l, &m[i].lf); deleted++; }
    }
    for (int i = 0; i < n; i++) if (i % 2 == 0 && i % 3 == 0) still++;
    CHECK(deleted > 0);
    CHECK_EQ(loop_run_once(l, 100), still);
    for (int i = 0; i < n; i++) CHECK_EQ(many_hits[i], i % 3 == 0 ? (i % 2 ? 1 : 2) : 0);
    for (int i = 0; i < n; i++) loop_del(l, &m[i].lf);
    CHECK_EQ(loop_run_once(l, 0), 0);
    for (int i = 0; i < n; i++) { close(p[i][0]); close(p[i][1]); }
    loop_free(l);
    return 0;
}

/* ==== loop: timers ====================================================== */

struct tmr { struct loop_timer t; int id; int rearm_ms; int count; struct loop_timer *stop_other; };
static int order[3000], norder;

static void on_timer(struct loop *l, struct loop_timer *t)
{
    struct tmr *x = container_of(t, struct tmr, t);
    order[norder++] = x->id;
    x->count++;
    if (x->stop_other) loop_timer_stop(l, x->stop_other);
    if (x->rearm_ms >= 0) {
        loop_timer_start(l, t, (uint64_t)x->rearm_ms);
        x->rearm_ms = -1;
    }
}

static struct tmr *tmr_init(struct tmr *x, int id)
{
    memset(x, 0, sizeof *x);
    x->id = id;
    x->rearm_ms = -1;
    loop_timer_init(&x->t, on_timer);
    return x;
}

static void run_until(struct loop *l, int want, int max_iter)
{
    for (int i = 0; i < max_iter && norder < want; i++) loop_run_once(l, 20);
}

static int test_timer_order(void)
{
    struct loop *l = loop_new();
    struct tmr a, b, c, d, e;
    norder = 0;
    uint64_t t0 = loop_clock_ms();
    loop_timer_start(l, &tmr_init(&a, 'A')->t, 30);
    loop_timer_start(l, &tmr_init(&b, 'B')->t, 10);
    loop_timer_start(l, &tmr_init(&c, 'C')->t, 20);
    loop_timer_start(l, &tmr_init(&d, 'D')->t, 0);
    loop_timer_start(l, &tmr_init(&e, 'E')->t, 10);
    CHECK(loop_timer_active(&a.t));
    run_until(l, 5, 100);
    CHECK_EQ(norder, 5);
    char got[6] = {0};
    for (int i = 0; i < 5; i++) got[i] = (char)order[i];
    CHECK_STR(got, "DBECA");                    /* by deadline; B before E: armed first */
    CHECK(loop_clock_ms() - t0 >= 30);
    CHECK(!loop_timer_active(&a.t));
    CHECK_EQ(loop_run_once(l, 10), 0);          /* nothing left */
    loop_free(l);
    return 0;
}

static int test_timer_stop_restart(void)
{
    struct loop *l = loop_new();
    struct tmr t1, t2, t3, t4;
    norder = 0;
    tmr_init(&t1, 1);
    tmr_init(&t2, 2);
    tmr_init(&t3, 3);
    tmr_init(&t4, 4);
    loop_timer_stop(l, &t1.t);                  /* never armed: no-op */
    loop_timer_start(l, &t1.t, 5);
    loop_timer_start(l, &t2.t, 5);              /* due with or after t1, which stops it */
    t1.stop_other = &t2.t;
    t1.rearm_ms = 5;                            /* t1 re-arms itself once */
    loop_timer_start(l, &t4.t, 10);
    loop_timer_stop(l, &t4.t);
    loop_timer_stop(l, &t4.t);                  /* twice: no-op */
    CHECK(!loop_timer_active(&t4.t));
    loop_timer_start(l, &t3.t, 1000);
    loop_timer_start(l, &t3.t, 1);              /* restart moves it earlier */
    CHECK(loop_timer_active(&t3.t));
    run_until(l, 3, 100);
    for (int i = 0; i < 10; i++) loop_run_once(l, 5);   /* give t2 and t4 every chance */
    CHECK_EQ(norder, 3);
    CHECK_EQ(order[0], 3);
    CHECK_EQ(order[1], 1);
    CHECK_EQ(order[2], 1);
    CHECK_EQ(t2.count, 0);
    CHECK_EQ(t4.count, 0);
    /* a far timer restarted near fires; the far deadline is gone */
    loop_timer_start(l, &t4.t, 100000);
    loop_timer_start(l, &t4.t, 2);
    run_until(l, 4, 100);
    CHECK_EQ(t4.count, 1);
    CHECK(!loop_timer_active(&t4.t));
    loop_free(l);
    return 0;
}

/* A callback re-arming its own timer for 0 ms runs once per iteration, and a
 * timer callback may free the timer's memory. */
static int rearm_count;
static void on_rearm(struct loop *l, struct loop_timer *t)
{
    rearm_count++;
    loop_timer_start(l, t, 0);
}
static void on_free_self(struct loop *l, struct loop_timer *t)
{
    (void)l;
    rearm_count += 100;
    free(container_of(t, struct tmr, t));
}

static int test_timer_rearm_zero(void)
{
    struct loop *l = loop_new();
    struct loop_timer t;
    loop_timer_init(&t, on_rearm);
    loop_timer_start(l, &t, 0);
    rearm_count = 0;
    CHECK_EQ(loop_run_once(l, 0), 1);
    CHECK_EQ(rearm_count, 1);
    CHECK_EQ(loop_run_once(l, 0), 1);
    CHECK_EQ(rearm_count, 2);
    CHECK(loop_timer_active(&t));
    loop_timer_stop(l, &t);
    struct tmr *x = xcalloc(1, sizeof *x);
    loop_timer_init(&x->t, on_free_self);
    loop_timer_start(l, &x->t, 0);
    CHECK_EQ(loop_run_once(l, 100), 1);
    CHECK_EQ(rearm_count, 102);
    loop_free(l);
    return 0;
}

/* 2000 timers over 0..19 ms, armed in shuffled order, some stopped: the rest
 * fire once each, by deadline, equal deadlines in arming order. */
static int test_timers_2000(void)
{
    struct loop *l = loop_new();
    static struct tmr ts[2000];
    norder = 0;
    for (int i = 0; i < 2000; i++)
        loop_timer_start(l, &tmr_init(&ts[i], i)->t, (uint64_t)((i * 7919) % 2000) / 100);
    for (int i = 0; i < 2000; i += 100) loop_timer_stop(l, &ts[i].t);
    run_until(l, 1980, 200);
    CHECK_EQ(norder, 1980);
    for (int i = 0; i < 2000; i++) CHECK_EQ(ts[i].count, i % 100 ? 1 : 0);
    for (int k = 1; k < norder; k++) {
        const struct tmr *a = &ts[order[k - 1]], *b = &ts[order[k]];
        CHECK(a->t.when_ms < b->t.when_ms || (a->t.when_ms == b->t.when_ms && a->id < b->id));
    }
    loop_free(l);
    return 0;
}

/* ==== loop: waiting and stopping ======================================== */

static int test_loop_wait(void)
{
    struct loop *l = loop_new();
    struct tmr t;
    uint64_t t0 = loop_clock_ms();
    CHECK_EQ(loop_run_once(l, 30), 0);
    uint64_t dt = loop_clock_ms() - t0;
    CHECK(dt >= 25 && dt < 1000);
    /* an infinite wait ends at the next timer */
    norder = 0;
    loop_timer_start(l, &tmr_init(&t, 1)->t, 20);
    t0 = loop_clock_ms();
    int n = 0;
    for (int i = 0; i < 10 && n == 0; i++) n = loop_run_once(l, -1);
    dt = loop_clock_ms() - t0;
    CHECK_EQ(n, 1);
    CHECK(dt >= 15 && dt < 1000);
    /* and max_wait_ms caps the wait for a far timer */
    loop_timer_start(l, &t.t, 1000000);
    t0 = loop_clock_ms();
    CHECK_EQ(loop_run_once(l, 10), 0);
    CHECK(loop_clock_ms() - t0 < 500);
    loop_timer_stop(l, &t.t);
    loop_free(l);
    return 0;
}

static struct loop *stop_loop;
static int watchdog_fired;
static void on_watchdog(struct loop *l, struct loop_timer *t)
{
    (void)t;
    watchdog_fired = 1;
    loop_stop(l);
}
static void on_stop(struct loop *l, struct loop_timer *t) { (void)t; loop_stop(l); }
static void on_alarm(int sig) { (void)sig; loop_stop(stop_loop); }
static volatile sig_atomic_t alarms;
static void on_alarm_count(int sig) { (void)sig; alarms++; }

static int test_loop_stop(void)
{
    struct loop *l = loop_new();
    struct loop_timer dog, t;
    loop_timer_init(&dog, on_watchdog);
    loop_timer_init(&t, on_stop);
    watchdog_fired = 0;

    /* loop_stop wakes a sleeping poll at once (the self-pipe) */
    loop_stop(l);
    uint64_t t0 = loop_clock_ms();
    CHECK_EQ(loop_run_once(l, 2000), 0);
    CHECK(loop_clock_ms() - t0 < 1000);
    /* a stop requested before loop_run is honoured */
    loop_stop(l);
    loop_timer_start(l, &dog, 2000);
    loop_run(l);
    CHECK(!watchdog_fired);
    /* a timer stops it; then it can run again */
    loop_timer_start(l, &t, 5);
    loop_run(l);
    CHECK(!watchdog_fired);
    loop_timer_start(l, &t, 5);
    loop_run(l);
    CHECK(!watchdog_fired);
    CHECK(!loop_timer_active(&t));

    /* from a signal handler, while poll sleeps with no timer due soon */
    stop_loop = l;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    CHECK_EQ(sigaction(SIGALRM, &sa, &old), 0);
    struct itimerval it = { .it_value = { .tv_sec = 0, .tv_usec = 20000 } };
    CHECK_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
    t0 = loop_clock_ms();
    loop_run(l);
    CHECK(!watchdog_fired);
    CHECK(loop_clock_ms() - t0 < 1500);
    /* a signal that does not stop the loop: EINTR is not an error */
    sa.sa_handler = on_alarm_count;
    CHECK_EQ(sigaction(SIGALRM, &sa, NULL), 0);
    CHECK_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
    int rc = 0;
    for (int i = 0; i < 50 && !alarms; i++) rc |= loop_run_once(l, 100);
    CHECK_EQ(alarms, 1);
    CHECK_EQ(rc, 0);
    sigaction(SIGALRM, &old, NULL);
    loop_timer_stop(l, &dog);
    loop_free(l);
    return 0;
}

/* ==== net =============================================================== */

struct xch {
    struct loop_fd lis, srv, cli;
    int sfd, again, connected, srv_eof;
    char peer[80];
    char srv_got[16], cli_got[16];
    size_t srv_n, cli_n;
};

static void on_srv(struct loop *l, struct loop_fd *f, int ev)
{
    (void)ev;
    struct xch *x = container_of(f, struct xch, srv);
    long n = net_read(f->fd, x->srv_got + x->srv_n, sizeof x->srv_got - x->srv_n);
    if (n > 0) {
        x->srv_n += (size_t)n;
        if (x->srv_n == 4) net_write(f->fd, "pong", 4);
    } else if (n == 0) {
        x->srv_eof = 1;
        loop_del(l, f);
    }
}

static void on_listen(struct loop *l, struct loop_fd *f, int ev)
{
    (void)ev;
    struct xch *x = container_of(f, struct xch, lis);
    int fd = net_accept(f->fd, x->peer, sizeof x->peer);
    if (fd < 0) return;
    x->sfd = fd;
    x->again = net_accept(f->fd, NULL, 0);     /* only one was pending */
    loop_add(l, &x->srv, fd, LOOP_READ, on_srv);
}

static void on_cli(struct loop *l, struct loop_fd *f, int ev)
{
    struct xch *x = container_of(f, struct xch, cli);
    if (!x->connected && (ev & (LOOP_WRITE | LOOP_ERROR))) {
        if (net_connect_result(f->fd) < 0) { loop_del(l, f); return; }
        x->connected = 1;
        net_write(f->fd, "ping", 4);
        loop_set(l, f, LOOP_READ);
        return;
    }
    long n = net_read(f->fd, x->cli_got + x->cli_n, sizeof x->cli_got - x->cli_n);
    if (n > 0) x->cli_n += (size_t)n;
}

static int fd_flags_ok(int fd)
{
    return (fcntl(fd, F_GETFL) & O_NONBLOCK) && (fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

static int sockopt(int fd, int level, int opt)
{
    int v = 0;
    socklen_t len = sizeof v;
    return getsockopt(fd, level, opt, &v, &len) == 0 ? v : -1;
}

/* Listen on `ip`, connect to `host` and exchange ping/pong through the loop. */
static int exchange(const char *ip, const char *host, const char *peer_prefix)
{
    char err[NET_ERR_LEN] = "";
    struct loop *l = loop_new();
    struct xch x;
    memset(&x, 0, sizeof x);
    x.sfd = -1;
    int lfd = net_listen(ip, 0, 16, err);
    if (lfd < 0) printf("net_listen(%s): %s\n", ip, err);
    CHECK(lfd >= 0);
    CHECK(fd_flags_ok(lfd));
    CHECK(sockopt(lfd, SOL_SOCKET, SO_REUSEADDR) > 0);
    int port = net_local_port(lfd);
    CHECK(port > 0);
    CHECK_EQ(net_accept(lfd, NULL, 0), -EAGAIN);
    CHECK_EQ(loop_add(l, &x.lis, lfd, LOOP_READ, on_listen), 0);

    int cfd = net_connect(host, port, err);
    if (cfd < 0) printf("net_connect(%s): %s\n", host, err);
    CHECK(cfd >= 0);
    CHECK(fd_flags_ok(cfd));
    CHECK_EQ(loop_add(l, &x.cli, cfd, LOOP_WRITE, on_cli), 0);
    for (int i = 0; i < 200 && x.cli_n < 4; i++) loop_run_once(l, 20);
    CHECK(x.connected);
    CHECK(x.sfd >= 0);
    CHECK_EQ(x.again, -EAGAIN);
    CHECK(fd_flags_ok(x.sfd));
    CHECK_EQ(sockopt(x.sfd, IPPROTO_TCP, TCP_NODELAY), 1);
    CHECK_MEM(x.srv_got, x.srv_n, "ping");
    CHECK_MEM(x.cli_got, x.cli_n, "pong");
    char want[80];
    snprintf(want, sizeof want, "%s:%d", peer_prefix, net_local_port(cfd));
    CHECK_STR(x.peer, want);

    /* the client goes away: the server reads EOF through the loop */
    loop_del(l, &x.cli);
    close(cfd);
    for (int i = 0; i < 100 && !x.srv_eof; i++) loop_run_once(l, 20);
    CHECK(x.srv_eof);
    loop_del(l, &x.lis);
    close(x.sfd);
    close(lfd);
    loop_free(l);
    return 0;
}

static int test_net_ipv4(void) { return exchange("127.0.0.1", "127.0.0.1", "127.0.0.1"); }
static int test_net_ipv6(void) { return exchange("::1", "[::1]", "[::1]"); }
static int test_net_hostname(void) { return exchange("localhost", "localhost", "127.0.0.1"); }

static int ipv6_available(void)
{
    char err[NET_ERR_LEN];
    int fd = net_listen("::1", 0, 1, err);
    if (fd < 0) {
        printf("note: IPv6 loopback unavailable (%s): IPv6 test not run, not counted\n", err);
        return 0;
    }
    close(fd);
    return 1;
}

struct refused { struct loop_fd lf; int rc, ev, done; };
static void on_refused(struct loop *l, struct loop_fd *f, int ev)
{
    struct refused *r = container_of(f, struct refused, lf);
    r->ev = ev;
    r->rc = net_connect_result(f->fd);
    r->done = 1;
    loop_del(l, f);
}

static int test_net_refused(void)
{
    char err[NET_ERR_LEN] = "";
    int lfd = net_listen("127.0.0.1", 0, 1, err);
    CHECK(lfd >= 0);
    int port = net_local_port(lfd);
    close(lfd);                                /* nobody listens there now */
    int fd = net_connect("127.0.0.1", port, err);
    if (fd < 0) {                              /* refused at once: also fine */
        CHECK_EQ(fd, -ECONNREFUSED);
        CHECK(strstr(err, "refused") != NULL);
        return 0;
    }
    struct loop *l = loop_new();
    struct refused r = {0};
    CHECK_EQ(loop_add(l, &r.lf, fd, LOOP_WRITE, on_refused), 0);
    for (int i = 0; i < 100 && !r.done; i++) loop_run_once(l, 20);
    CHECK(r.done);
    CHECK(r.ev & (LOOP_WRITE | LOOP_ERROR));
    CHECK_EQ(r.rc, -ECONNREFUSED);
    close(fd);
    loop_free(l);
    return 0;
}

static int test_net_errors(void)
{
    char err[NET_ERR_LEN];
    /* malformed literals fail fast, without a DNS query */
    uint64_t t0 = loop_clock_ms();
    err[0] = 0;
    CHECK(net_listen("256.1.1.1", 0, 1, err) < 0);
    CHECK(err[0] != 0);
    err[0] = 0;
    CHECK(net_connect("::zz", 80, err) < 0);
    CHECK(err[0] != 0);
    CHECK(net_connect("[::1", 80, err) < 0);
    CHECK(loop_clock_ms() - t0 < 1000);
    CHECK_EQ(net_listen("127.0.0.1", 70000, 1, err), -EINVAL);
    CHECK(net_listen("256.1.1.1", 0, 1, NULL) < 0);          /* err may be NULL */

    /* a port in use: SO_REUSEADDR does not let two sockets listen on it */
    int a = net_listen("127.0.0.1", 0, 1, err);
    CHECK(a >= 0);
    err[0] = 0;
    CHECK_EQ(net_listen("127.0.0.1", net_local_port(a), 1, err), -EADDRINUSE);
    CHECK(strstr(err, "bind") != NULL);
    close(a);

    /* NULL means every IPv4 address */
    int any = net_listen(NULL, 0, 1, err);
    CHECK(any >= 0);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    CHECK_EQ(getsockname(any, (struct sockaddr *)&ss, &len), 0);
    CHECK_EQ(ss.ss_family, AF_INET);
    CHECK_EQ(((struct sockaddr_in *)&ss)->sin_addr.s_addr, htonl(INADDR_ANY));
    close(any);

    /* read/write: EAGAIN, EPIPE without SIGPIPE (not ignored here), EBADF */
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CHECK_EQ(net_set_nonblock(sv[0]), 0);
    CHECK(fcntl(sv[0], F_GETFL) & O_NONBLOCK);
    char c;
    CHECK_EQ(net_read(sv[0], &c, 1), -EAGAIN);
    close(sv[1]);
    CHECK_EQ(net_write(sv[0], "x", 1), -EPIPE);
    close(sv[0]);
    CHECK_EQ(net_read(sv[0], &c, 1), -EBADF);
    CHECK_EQ(net_set_nonblock(sv[0]), -EBADF);
    CHECK_EQ(net_connect_result(sv[0]), -EBADF);
    CHECK_EQ(net_local_port(sv[0]), -EBADF);
    return 0;
}

int main(void)
{
    RUN(test_buf_growth);
    RUN(test_buf_max);
    RUN(test_buf_printf);
    RUN(test_buf_consume);
    RUN(test_xalloc);
    RUN(test_loop_readwrite);
    RUN(test_loop_delete_in_callbacks);
    RUN(test_loop_set_in_callbacks);
    RUN(test_loop_many_fds);
    RUN(test_timer_order);
    RUN(test_timer_stop_restart);
    RUN(test_timer_rearm_zero);
    RUN(test_timers_2000);
    RUN(test_loop_wait);
    RUN(test_loop_stop);
    RUN(test_net_ipv4);
    if (ipv6_available()) RUN(test_net_ipv6);
    RUN(test_net_hostname);
    RUN(test_net_refused);
    RUN(test_net_errors);
    return REPORT();
}
