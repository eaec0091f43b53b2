/* loop.h -- a tiny single-threaded event loop: epoll plus a timer heap.
 *
 * Handles are owned by the caller (embed struct loop_fd / struct loop_timer in
 * your own struct and use container_of). Callbacks may add or remove any fd or
 * timer, including the one being dispatched. */
#ifndef LOOP_H
#define LOOP_H
#include <stddef.h>
#include <stdint.h>

#define LOOP_READ  1
#define LOOP_WRITE 2

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct loop;
struct loop_fd;
struct loop_timer;
typedef void (*loop_fd_cb)(struct loop *l, struct loop_fd *f, int events /* LOOP_READ|LOOP_WRITE, or LOOP_ERROR bits */);
typedef void (*loop_timer_cb)(struct loop *l, struct loop_timer *t);
#define LOOP_ERROR 4   /* POLLERR/POLLHUP/POLLNVAL seen; also reported with READ */

struct loop_fd {
    int fd;
    int events;          /* current interest */
    loop_fd_cb cb;
    size_t _slot;        /* private: index in the loop's array, or SIZE_MAX */
};

struct loop_timer {
    uint64_t when_ms;    /* absolute, loop_now_ms() clock */
    loop_timer_cb cb;
    size_t _idx;         /* private: heap index, or SIZE_MAX when not armed */
};

struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Monotonic milliseconds; cached once per iteration (loop_now_ms) or read fresh. */
uint64_t loop_now_ms(struct loop *l);
uint64_t loop_clock_ms(void);

/* Register fd with interest `events`. Returns 0 or -errno. f must not be
 * registered already; one added from a callback is first polled next round.
 * fd must be something epoll takes (socket, pipe, tty, eventfd...): a
 * regular file fails with -EPERM. */
int loop_add(struct loop *l, struct loop_fd *f, int fd, int events, loop_fd_cb cb);
void loop_set(struct loop *l, struct loop_fd *f, int events);   /* change interest */
void loop_del(struct loop *l, struct loop_fd *f);               /* does not close fd */
/* loop_del from a callback: f's pending events of this round are dropped, and
 * f's memory may be freed at once. Deleting an f that is not registered
 * (zero-filled, or deleted already) is a no-op. */

/* Arm (or re-arm) a timer `ms` from now. */
void loop_timer_init(struct loop_timer *t, loop_timer_cb cb);
void loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t ms);
void loop_timer_stop(struct loop *l, struct loop_timer *t);
int loop_timer_active(const struct loop_timer *t);

/* Run one iteration: wait at most max_wait_ms (or until the next timer),
 * dispatch ready fds, then due timers. Returns number of events handled or -errno. */
int loop_run_once(struct loop *l, int max_wait_ms);
/* Run until loop_stop() is called (also if it was called before loop_run). */
void loop_run(struct loop *l);
/* Async-signal-safe: may be called from a signal handler; wakes the wait. */
void loop_stop(struct loop *l);

/* SIGCHLD as an event: a handler (SA_RESTART) wakes poll through a pipe and
 * cb runs from the loop, once per turn in which children changed state
 * (reap them all with waitpid(WNOHANG)). The handler is process-wide, so one
 * loop at a time: -EBUSY if one has it already; 0 or -errno. Stopped by
 * loop_free or loop_sigchld_stop (the default SIGCHLD action comes back). */
int loop_sigchld(struct loop *l, void (*cb)(struct loop *l, void *arg), void *arg);
void loop_sigchld_stop(struct loop *l, void *arg);   /* if registered with this arg */

#endif
