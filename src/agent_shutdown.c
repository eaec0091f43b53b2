/* agent_shutdown.c -- the agent shuts down when its master says so.
 *
 * A master sends ShutdownMessage {message} to an agent it will not have:
 * one marked gone (MARK_AGENT_GONE, or re-registering after that), one on
 * a machine that is DOWN for maintenance, one re-registering from another
 * address. Upstream's agent (Slave::shutdown in src/slave/slave.cpp)
 * ignores the message unless it comes from its master, then shuts every
 * framework down: each executor gets SHUTDOWN, and is destroyed after its
 * shutdown_grace_period (ExecutorInfo's, else --executor_shutdown_grace_period)
 * if it has not exited; status updates of
 * the terminating frameworks are no longer sent. Once the last executor is
 * gone the agent process terminates and mesos-agent exits with status 0.
 *
 * Like upstream, the agent keeps its checkpointed id (upstream keeps
 * meta/slaves/latest): started again with the same --work_dir it comes
 * back as the same agent, and a master that marked it gone refuses it
 * again. Executors that were shut down are complete, so their checkpoints
 * are gone and nothing of them is recovered. Standalone containers of the
 * operator API are not framework work and are left running. */
#include <stdio.h>
#include <string.h>
#include "agent.h"
#include "log.h"
#include "pbw.h"

static int count_live(void *arg, const struct exec_view *v)
{
    (void)v;
    (*(size_t *)arg)++;
    return 0;
}

static size_t live_executors(struct agent_proc *a)
{
    size_t n = 0;
    agent_exec_foreach(a, count_live, &n);
    return n;
}

void agent_on_exit(struct agent_proc *a, agent_exit_fn fn, void *arg)
{
    a->on_exit = fn;
    a->on_exit_arg = arg;
}

static int same_upid(const struct upid *x, const struct upid *y)
{
    return x->port == y->port && strcmp(x->host, y->host) == 0 && strcmp(x->id, y->id) == 0;
}

void agent_shutdown_message(struct agent_proc *a, const struct upid *from, const uint8_t *p, size_t n)
{
    char master[400], who[400];
    upid_format(&a->master, master, sizeof master);
    upid_format(from, who, sizeof who);
    if (!same_upid(from, &a->master)) {
        LOG_WARN("Ignoring shutdown message from %s because it is not from the registered master: %s",
                 who, master);
        return;
    }
    if (a->shutting_down) return;
    struct pbw_field f;
    char why[512] = "";
    if (pbw_find(p, n, 1, &f) == 1 && f.wt == PBW_LEN)
        snprintf(why, sizeof why, "%.*s", (int)(f.n < 500 ? f.n : 500), (const char *)f.p);
    if (why[0]) LOG("Agent asked to shut down by %s because '%s'", who, why);
    else LOG("Agent asked to shut down by %s", who);
    a->shutting_down = 1;
    /* No more registration attempts, no more waiting for pings. */
    loop_timer_stop(a->loop, &a->retry);
    loop_timer_stop(a->loop, &a->ping_watch);
    a->state = AGENT_DISCONNECTED;
    agent_exec_shutdown_all(a);
    agent_shutdown_tick(a);
}

/* From a timer of its own, so that the owner may free the agent. */
static void exit_cb(struct loop *l, struct loop_timer *t)
{
    (void)l;
    struct agent_proc *a = container_of(t, struct agent_proc, shutdown_exit);
    LOG("Agent terminating");
    if (a->on_exit) a->on_exit(a, a->on_exit_arg);
}

/* Called by the reaper: once every executor is gone, the agent is done. */
void agent_shutdown_tick(struct agent_proc *a)
{
    if (a->shutting_down != 1 || live_executors(a)) return;
    a->shutting_down = 2;                /* reported once */
    loop_timer_init(&a->shutdown_exit, exit_cb);
    loop_timer_start(a->loop, &a->shutdown_exit, 0);
}

void agent_shutdown_free(struct agent_proc *a)
{
    loop_timer_stop(a->loop, &a->shutdown_exit);
}
