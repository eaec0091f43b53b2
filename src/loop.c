/* loop.c -- a single-threaded event loop: epoll over a dense array of
 * descriptors, and a binary min-heap of timers (contract in loop.h).
 *
 * The one idea: slots do not move while callbacks run. Each struct loop_fd
 * knows its slot in the array, and epoll hands back the slot number (not a
 * pointer), so adding is an append and removing moves the last entry into
 * the hole (O(1), one EPOLL_CTL_MOD to tell epoll its new slot). But a move
 * during dispatch would make us skip, or run twice, whatever got moved, and
 * a removed handle may already be freed. So while dispatching, loop_del
 * only empties the slot (fds[i] = NULL) and remembers it; the holes are
 * filled once every ready slot has been visited. Dispatch reads fds[i]
 * afresh for each event and never touches a handle after its callback
 * returns. epoll is level-triggered here, as poll() was: an event not
 * consumed is reported again next round.
 *
 * Timers are ordered by (when_ms, arming sequence number): equal deadlines
 * fire first-armed first, and a timer armed while timers run sorts after
 * every timer that was due when they started, so "stop at the first one
 * armed too late" runs each due timer once and cannot spin on a callback
 * that re-arms itself for 0 ms.
 *
 * poll() was O(n) per call in the kernel (every descriptor's wait queue
 * set up and torn down each round); epoll_wait costs what is ready. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/epoll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "buf.h"
#include "loop.h"

struct tentry {
    uint64_t when;             /* copy of t->when_ms, kept here for cache locality */
    uint64_t seq;              /* arming order: breaks ties, fences the timer phase */
    struct loop_timer *t;
};

struct loop {
    int epfd;
    uint32_t *mask;            /* mask[i]: epoll events registered for fds[i] */
    struct epoll_event *evs;   /* epoll_wait's answer: room for every descriptor */
    size_t evcap;
    struct loop_fd **fds;      /* NULL = hole left during dispatch */
    size_t n, cap;
    size_t *holes;             /* slots emptied during dispatch, filled afterwards */
    size_t nholes, hcap;
    int dispatching;
    struct tentry *heap;
    size_t nt, tcap;
    uint64_t seq;
    uint64_t now;
    volatile sig_atomic_t stop;
    int wake_w;                /* self-pipe: loop_stop from a signal handler wakes epoll_wait */
    struct loop_fd wake;
    struct loop_fd chld;       /* read end of the SIGCHLD pipe (loop_sigchld), fd -1 when off */
    void (*chld_cb)(struct loop *l, void *arg);
    void *chld_arg;
};

/* The SIGCHLD pipe's write end: process-wide, as a signal handler takes no
 * argument. -1 when no loop watches SIGCHLD. */
static volatile sig_atomic_t sigchld_w = -1;

static void sigchld_off(struct loop *l);

uint64_t loop_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t loop_now_ms(struct loop *l) { return l->now; }

static void on_wake(struct loop *l, struct loop_fd *f, int ev)
{
    char tmp[64];
    (void)l; (void)ev;
    while (read(f->fd, tmp, sizeof tmp) > 0) {}
}

struct loop *loop_new(void)
{
    struct loop *l = xcalloc(1, sizeof *l);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);    /* -1: loop_add fails (EMFILE) */
    l->now = loop_clock_ms();
    l->wake_w = -1;
    l->wake._slot = SIZE_MAX;
    l->chld.fd = -1;
    l->chld._slot = SIZE_MAX;
    /* Without the pipe loop_stop still works, but a signal landing just
     * before epoll_wait() would only be noticed at the next event or timer. */
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0) {
        l->wake_w = p[1];
        loop_add(l, &l->wake, p[0], LOOP_READ, on_wake);
    }
    return l;
}

void loop_free(struct loop *l)
{
    if (!l) return;
    sigchld_off(l);
    if (l->wake_w >= 0) {
        close(l->wake.fd);
        close(l->wake_w);
    }
    if (l->epfd >= 0) close(l->epfd);
    free(l->mask);
    free(l->evs);
    free(l->fds);
    free(l->holes);
    free(l->heap);
    free(l);
}

/* ==== Descriptors ======================================================= */

static int registered(const struct loop *l, const struct loop_fd *f)
{
    return f->_slot < l->n && l->fds[f->_slot] == f;
}

static uint32_t epoll_mask(int events)
{
    return (events & LOOP_READ ? EPOLLIN : 0) | (events & LOOP_WRITE ? EPOLLOUT : 0);
}

/* Tell epoll about fds[i] at slot i (op ADD or MOD). */
static int ctl(struct loop *l, int op, size_t i)
{
    struct epoll_event e = { .events = l->mask[i], .data.u64 = i };
    return epoll_ctl(l->epfd, op, l->fds[i]->fd, &e) < 0 ? -errno : 0;
}

int loop_add(struct loop *l, struct loop_fd *f, int fd, int events, loop_fd_cb cb)
{
    if (fd < 0) return -EBADF;
    if (l->epfd < 0) return -EMFILE;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        l->mask = xrealloc(l->mask, cap * sizeof *l->mask);
        l->fds = xrealloc(l->fds, cap * sizeof *l->fds);
        l->cap = cap;
    }
    f->fd = fd;
    f->events = events;
    f->cb = cb;
    /* Appended past the slots being dispatched, and not among the events
     * epoll_wait already returned, so a handle added by a callback waits
     * for the next round. */
    l->mask[l->n] = epoll_mask(events);
    l->fds[l->n] = f;
    int rc = ctl(l, EPOLL_CTL_ADD, l->n);
    if (rc < 0) { f->_slot = SIZE_MAX; return rc; }   /* e.g. EPERM: a regular file */
    f->_slot = l->n++;
    return 0;
}

void loop_set(struct loop *l, struct loop_fd *f, int events)
{
    if (!registered(l, f)) return;
    f->events = events;
    uint32_t m = epoll_mask(events);
    if (m == l->mask[f->_slot]) return;         /* the common case: no system call */
    l->mask[f->_slot] = m;
    (void)ctl(l, EPOLL_CTL_MOD, f->_slot);
}

/* Swap-remove: the last entry moves into slot i, and epoll learns its new
 * slot number. */
static void remove_slot(struct loop *l, size_t i)
{
    size_t last = --l->n;
    if (i == last) return;
    l->mask[i] = l->mask[last];
    l->fds[i] = l->fds[last];
    l->fds[i]->_slot = i;
    (void)ctl(l, EPOLL_CTL_MOD, i);
}

void loop_del(struct loop *l, struct loop_fd *f)
{
    if (!registered(l, f)) return;
    size_t i = f->_slot;
    f->_slot = SIZE_MAX;
    /* Before the caller closes fd (loop.h): a descriptor closed while a
     * duplicate lives on (a child between fork and exec) would otherwise
     * stay in the epoll set. */
    struct epoll_event e = {0};
    (void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, f->fd, &e);
    if (!l->dispatching) {
        remove_slot(l, i);
        return;
    }
    /* An empty slot: dispatch skips NULL, so events of this round already
     * returned for it reach nobody. */
    l->fds[i] = NULL;
    l->mask[i] = 0;
    if (l->nholes == l->hcap) {
        l->hcap = l->hcap ? l->hcap * 2 : 16;
        l->holes = xrealloc(l->holes, l->hcap * sizeof *l->holes);
    }
    l->holes[l->nholes++] = i;
}

/* Fill the holes left by loop_del during dispatch, each in O(1): drop empty
 * slots at the end, then move the last live entry into the hole. */
static void fill_holes(struct loop *l)
{
    for (size_t k = 0; k < l->nholes; k++) {
        while (l->n && !l->fds[l->n - 1]) l->n--;
        if (l->holes[k] < l->n) remove_slot(l, l->holes[k]);
    }
    l->nholes = 0;
}

/* ==== Timers ============================================================ */

static int before(const struct tentry *a, const struct tentry *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void heap_set(struct loop *l, size_t i, struct tentry e)
{
    l->heap[i] = e;
    e.t->_idx = i;
}

static void heap_up(struct loop *l, size_t i)
{
    struct tentry e = l->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&e, &l->heap[p])) break;
        heap_set(l, i, l->heap[p]);
        i = p;
    }
    heap_set(l, i, e);
}

static void heap_down(struct loop *l, size_t i)
{
    struct tentry e = l->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->nt) break;
        if (c + 1 < l->nt && before(&l->heap[c + 1], &l->heap[c])) c++;
        if (!before(&l->heap[c], &e)) break;
        heap_set(l, i, l->heap[c]);
        i = c;
    }
    heap_set(l, i, e);
}

void loop_timer_init(struct loop_timer *t, loop_timer_cb cb)
{
    t->cb = cb;
    t->when_ms = 0;
    t->_idx = SIZE_MAX;
}

int loop_timer_active(const struct loop_timer *t) { return t->_idx != SIZE_MAX; }

void loop_timer_stop(struct loop *l, struct loop_timer *t)
{
    size_t i = t->_idx;
    if (i >= l->nt || l->heap[i].t != t) return;   /* not armed (in this loop) */
    t->_idx = SIZE_MAX;
    size_t last = --l->nt;
    if (i == last) return;
    heap_set(l, i, l->heap[last]);        /* the last entry fills the hole, then */
    if (i > 0 && before(&l->heap[i], &l->heap[(i - 1) / 2]))   /* moves whichever way */
        heap_up(l, i);
    else
        heap_down(l, i);
}

void loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t ms)
{
    loop_timer_stop(l, t);
    if (l->nt == l->tcap) {
        l->tcap = l->tcap ? l->tcap * 2 : 64;
        l->heap = xrealloc(l->heap, l->tcap * sizeof *l->heap);
    }
    /* From the fresh clock, not the cached one: a timer armed at the end of
     * a long callback still waits its full `ms`. Saturate, never wrap. */
    uint64_t now = loop_clock_ms();
    t->when_ms = ms > UINT64_MAX - now ? UINT64_MAX : now + ms;
    size_t i = l->nt++;
    heap_set(l, i, (struct tentry){ t->when_ms, ++l->seq, t });
    heap_up(l, i);
}

/* ==== Running =========================================================== */

static int dispatch_fds(struct loop *l, const struct epoll_event *evs, int nev)
{
    int handled = 0;
    l->dispatching = 1;
    for (int k = 0; k < nev; k++) {
        uint32_t re = evs[k].events;
        size_t i = (size_t)evs[k].data.u64;
        struct loop_fd *f = i < l->n ? l->fds[i] : NULL;
        if (!re || !f) continue;
        /* Errors and hang-ups are reported whatever the interest, with READ
         * (the read then returns the EOF or the error) and with WRITE for a
         * writer, so a failed connect reaches the callback that waits for it. */
        int err = re & (EPOLLERR | EPOLLHUP) ? LOOP_ERROR : 0;
        int ev = (re & EPOLLIN ? LOOP_READ : 0) | (re & EPOLLOUT ? LOOP_WRITE : 0);
        ev &= f->events;                  /* interest may have changed since the wait */
        if (err) ev |= LOOP_ERROR | LOOP_READ | (f->events & LOOP_WRITE);
        if (!ev) continue;
        f->cb(l, f, ev);                  /* f may be freed from here on */
        if (f != &l->wake) handled++;
    }
    l->dispatching = 0;
    fill_holes(l);
    return handled;
}

static int run_timers(struct loop *l)
{
    int handled = 0;
    uint64_t fence = l->seq;              /* timers armed from here on wait a round */
    while (l->nt && l->heap[0].when <= l->now && l->heap[0].seq <= fence) {
        struct loop_timer *t = l->heap[0].t;
        loop_timer_stop(l, t);
        t->cb(l, t);
        handled++;
    }
    return handled;
}

int loop_run_once(struct loop *l, int max_wait_ms)
{
    if (l->dispatching) return -EBUSY;    /* not re-entrant from a callback */
    if (l->epfd < 0) return -EMFILE;      /* epoll_create1 failed in loop_new */
    l->now = loop_clock_ms();
    int wait = max_wait_ms < 0 ? -1 : max_wait_ms;
    if (l->nt) {
        uint64_t when = l->heap[0].when;
        uint64_t d = when > l->now ? when - l->now : 0;
        if (wait < 0 || d < (uint64_t)wait) wait = d > INT_MAX ? INT_MAX : (int)d;
    }
    /* Room for every descriptor, so one round dispatches all that are
     * ready (grown here, never while dispatch walks the array). */
    if (l->evcap < l->n || !l->evs) {
        l->evcap = l->cap ? l->cap : 1;
        free(l->evs);
        l->evs = xmalloc(l->evcap * sizeof *l->evs);
    }
    int rc = epoll_wait(l->epfd, l->evs, (int)(l->evcap < INT_MAX ? l->evcap : INT_MAX), wait);
    if (rc < 0 && errno != EINTR) return -errno;
    l->now = loop_clock_ms();
    int handled = rc > 0 ? dispatch_fds(l, l->evs, rc) : 0;
    return handled + run_timers(l);
}

/* A stop requested before loop_run starts (a signal during start-up) is
 * honoured; the flag is cleared on the way out so the loop can run again. */
void loop_run(struct loop *l)
{
    while (!l->stop)
        if (loop_run_once(l, -1) < 0) break;
    l->stop = 0;
}

/* Async-signal-safe: a flag and a write(2). */
void loop_stop(struct loop *l)
{
    l->stop = 1;
    if (l->wake_w >= 0) {
        int e = errno;
        ssize_t r = write(l->wake_w, "", 1);   /* pipe full = a wake-up is pending anyway */
        (void)r;
        errno = e;
    }
}

/* ==== SIGCHLD =========================================================== */

static void on_sigchld(int sig)
{
    (void)sig;
    int e = errno;
    if (sigchld_w >= 0) {
        ssize_t r = write(sigchld_w, "", 1);   /* pipe full = a wake-up is pending anyway */
        (void)r;
    }
    errno = e;
}

static void on_chld(struct loop *l, struct loop_fd *f, int ev)
{
    char tmp[256];
    (void)ev;
    while (read(f->fd, tmp, sizeof tmp) > 0) {}
    if (l->chld_cb) l->chld_cb(l, l->chld_arg);
}

int loop_sigchld(struct loop *l, void (*cb)(struct loop *l, void *arg), void *arg)
{
    if (sigchld_w >= 0) return -EBUSY;
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) return -errno;
    l->chld_cb = cb;
    l->chld_arg = arg;
    loop_add(l, &l->chld, p[0], LOOP_READ, on_chld);
    sigchld_w = p[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigchld;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGCHLD, &sa, NULL) < 0) {
        int e = errno;
        sigchld_off(l);
        return -e;
    }
    return 0;
}

static void sigchld_off(struct loop *l)
{
    if (l->chld.fd < 0) return;
    signal(SIGCHLD, SIG_DFL);
    int w = sigchld_w;
    sigchld_w = -1;
    if (w >= 0) close(w);
    loop_del(l, &l->chld);
    close(l->chld.fd);
    l->chld.fd = -1;
    l->chld_cb = NULL;
}

void loop_sigchld_stop(struct loop *l, void *arg)
{
    if (l->chld.fd >= 0 && l->chld_arg == arg) sigchld_off(l);
}
