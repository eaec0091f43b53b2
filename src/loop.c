/* loop.c -- a single-threaded event loop: poll() over a dense array of
 * descriptors, and a binary min-heap of timers.
 *
 * Adding and removing a descriptor is O(1): each struct loop_fd knows its
 * slot in the pollfd array, and removal moves the last entry into the hole.
 * Timers are O(log n). Callbacks may add or remove anything, including the
 * handle being dispatched and the struct that contains it: dispatch works
 * from a snapshot of the ready slots and re-checks, before each callback,
 * that the slot still holds the same descriptor it held when poll returned
 * (a generation number per slot makes reuse of a slot visible). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "buf.h"
#include "loop.h"

struct loop {
    struct pollfd *pfd;
    struct loop_fd **fds;      /* fds[i] owns pfd[i] */
    uint64_t *gen;             /* bumped whenever slot i changes owner */
    size_t n, cap;
    struct loop_timer **heap;
    size_t nt, tcap;
    uint64_t now;
    uint64_t next_gen;
    volatile int stop;
    /* dispatch snapshot */
    struct { size_t slot; uint64_t gen; short revents; } *ready;
    size_t rcap;
};

uint64_t loop_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t loop_now_ms(struct loop *l) { return l->now; }

struct loop *loop_new(void)
{
    struct loop *l = xcalloc(1, sizeof *l);
    l->now = loop_clock_ms();
    return l;
}

void loop_free(struct loop *l)
{
    if (!l) return;
    free(l->pfd);
    free(l->fds);
    free(l->gen);
    free(l->heap);
    free(l->ready);
    free(l);
}

/* ==== Descriptors ====================================================== */

static short to_poll(int ev)
{
    return (short)((ev & LOOP_READ ? POLLIN : 0) | (ev & LOOP_WRITE ? POLLOUT : 0));
}

int loop_add(struct loop *l, struct loop_fd *f, int fd, int events, loop_fd_cb cb)
{
    if (fd < 0) return -EBADF;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->pfd = xrealloc(l->pfd, l->cap * sizeof *l->pfd);
        l->fds = xrealloc(l->fds, l->cap * sizeof *l->fds);
        l->gen = xrealloc(l->gen, l->cap * sizeof *l->gen);
    }
    f->fd = fd;
    f->events = events;
    f->cb = cb;
    f->_slot = l->n;
    l->pfd[l->n].fd = fd;
    l->pfd[l->n].events = to_poll(events);
    l->pfd[l->n].revents = 0;
    l->fds[l->n] = f;
    l->gen[l->n] = ++l->next_gen;
    l->n++;
    return 0;
}

void loop_set(struct loop *l, struct loop_fd *f, int events)
{
    if (f->_slot >= l->n || l->fds[f->_slot] != f) return;
    f->events = events;
    l->pfd[f->_slot].events = to_poll(events);
}

void loop_del(struct loop *l, struct loop_fd *f)
{
    size_t i = f->_slot;
    if (i >= l->n || l->fds[i] != f) return;
    size_t last = --l->n;
    if (i != last) {
        l->pfd[i] = l->pfd[last];
        l->fds[i] = l->fds[last];
        l->fds[i]->_slot = i;
        l->gen[i] = ++l->next_gen;   /* a new owner: a pending snapshot entry must not fire */
    }
    /* The moved descriptor keeps its readiness through the snapshot's own
     * record of it: its old slot index now names nothing, so it may miss
     * this round; poll reports it again next round (level-triggered). */
    f->_slot = SIZE_MAX;
}

/* ==== Timers =========================================================== */

static void heap_swap(struct loop *l, size_t a, size_t b)
{
    struct loop_timer *t = l->heap[a];
    l->heap[a] = l->heap[b];
    l->heap[b] = t;
    l->heap[a]->_idx = a;
    l->heap[b]->_idx = b;
}

static void heap_up(struct loop *l, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (l->heap[p]->when_ms <= l->heap[i]->when_ms) break;
        heap_swap(l, p, i);
        i = p;
    }
}

static void heap_down(struct loop *l, size_t i)
{
    for (;;) {
        size_t a = 2 * i + 1, b = a + 1, m = i;
        if (a < l->nt && l->heap[a]->when_ms < l->heap[m]->when_ms) m = a;
        if (b < l->nt && l->heap[b]->when_ms < l->heap[m]->when_ms) m = b;
        if (m == i) return;
        heap_swap(l, i, m);
        i = m;
    }
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
    if (i == SIZE_MAX || i >= l->nt || l->heap[i] != t) return;
    size_t last = --l->nt;
    if (i != last) {
        l->heap[i] = l->heap[last];
        l->heap[i]->_idx = i;
        heap_down(l, i);
        heap_up(l, i);
    }
    t->_idx = SIZE_MAX;
}

void loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t ms)
{
    loop_timer_stop(l, t);
    if (l->nt == l->tcap) {
        l->tcap = l->tcap ? l->tcap * 2 : 64;
        l->heap = xrealloc(l->heap, l->tcap * sizeof *l->heap);
    }
    t->when_ms = loop_clock_ms() + ms;
    t->_idx = l->nt;
    l->heap[l->nt++] = t;
    heap_up(l, t->_idx);
}

/* ==== Running ========================================================== */

int loop_run_once(struct loop *l, int max_wait_ms)
{
    l->now = loop_clock_ms();
    int wait = max_wait_ms;
    if (l->nt) {
        uint64_t when = l->heap[0]->when_ms;
        uint64_t d = when > l->now ? when - l->now : 0;
        if (wait < 0 || d < (uint64_t)wait) wait = d > 1000000000 ? 1000000000 : (int)d;
    }
    int rc = poll(l->pfd, (nfds_t)l->n, wait);
    if (rc < 0 && errno != EINTR) return -errno;
    l->now = loop_clock_ms();
    int handled = 0;

    if (rc > 0) {
        if (l->rcap < l->n) {
            l->rcap = l->n;
            l->ready = xrealloc(l->ready, l->rcap * sizeof *l->ready);
        }
        size_t nr = 0;
        for (size_t i = 0; i < l->n; i++)
            if (l->pfd[i].revents) {
                l->ready[nr].slot = i;
                l->ready[nr].gen = l->gen[i];
                l->ready[nr].revents = l->pfd[i].revents;
                nr++;
            }
        for (size_t k = 0; k < nr; k++) {
            size_t i = l->ready[k].slot;
            if (i >= l->n || l->gen[i] != l->ready[k].gen) continue;   /* removed or replaced */
            struct loop_fd *f = l->fds[i];
            short re = l->ready[k].revents;
            int ev = 0;
            if (re & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) ev |= LOOP_READ;
            if (re & (POLLOUT | POLLERR)) ev |= LOOP_WRITE;
            if (re & (POLLERR | POLLHUP | POLLNVAL)) ev |= LOOP_ERROR;
            ev &= f->events | LOOP_ERROR | ((re & (POLLHUP | POLLERR | POLLNVAL)) ? LOOP_READ : 0);
            if (!ev) continue;
            f->cb(l, f, ev);
            handled++;
        }
    }

    /* Due timers, earliest first. A timer re-armed from its own callback
     * lands at now + ms > now only if ms > 0; a 0 ms re-arm waits for the
     * next iteration because we stop at the first timer armed after start. */
    uint64_t now = l->now;
    size_t budget = l->nt;
    while (l->nt && l->heap[0]->when_ms <= now && budget--) {
        struct loop_timer *t = l->heap[0];
        loop_timer_stop(l, t);
        t->cb(l, t);
        handled++;
    }
    return handled;
}

void loop_run(struct loop *l)
{
    l->stop = 0;
    while (!l->stop) {
        int rc = loop_run_once(l, -1);
        if (rc < 0) break;
    }
}

void loop_stop(struct loop *l) { l->stop = 1; }
