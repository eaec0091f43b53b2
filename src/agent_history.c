/* agent_history.c -- the agent's completed tasks, executors and frameworks.
 *
 * Upstream's agent (src/slave/slave.cpp) moves a task whose terminal
 * update was acknowledged into its executor's completedTasks, an executor
 * that exited with every task completed into its framework's
 * completedExecutors, and a framework left without executors into
 * completedFrameworks; GET_TASKS, GET_EXECUTORS, GET_FRAMEWORKS and
 * GET_STATE report them. Each list is bounded, oldest out first: 200 tasks
 * per executor run (MAX_COMPLETED_TASKS_PER_EXECUTOR), 150 executors per
 * framework (--max_completed_executors_per_framework), 50 frameworks
 * (MAX_COMPLETED_FRAMEWORKS). A framework that gets an executor again is
 * active again and keeps its completed executors, as upstream's does.
 *
 * Records are kept per executor run (framework, executor, container id):
 * a live executor's record holds only its completed tasks; once the
 * executor completes, the record holds its ExecutorInfo too. Everything
 * is in memory, so it starts empty after an agent restart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent.h"
#include "pbw.h"
#include "util.h"

#define MAX_COMPLETED_TASKS_PER_EXECUTOR 200
#define MAX_COMPLETED_FRAMEWORKS 50

struct hexec {                       /* one executor run */
    struct hexec *next;
    char executor_id[256], container_id[40];
    struct buf info;                 /* ExecutorInfo, once completed */
    struct buf *tasks;               /* v1 Task bytes, oldest first */
    size_t ntasks;
    int completed;
};

struct hfw {
    struct hfw *next;
    char id[256];
    struct buf info;                 /* FrameworkInfo */
    struct hexec *execs;             /* in order of creation */
    int completed;
    uint64_t completed_seq;          /* eviction order of completed frameworks */
};

struct agent_history {
    struct hfw *fws;                 /* in order of creation */
    uint64_t seq;
};

void agent_history_init(struct agent_proc *a)
{
    a->history = xcalloc(1, sizeof *a->history);
}

static void hexec_free(struct hexec *x)
{
    for (size_t i = 0; i < x->ntasks; i++) buf_free(&x->tasks[i]);
    free(x->tasks);
    buf_free(&x->info);
    free(x);
}

static void hfw_free(struct hfw *f)
{
    while (f->execs) {
        struct hexec *x = f->execs;
        f->execs = x->next;
        hexec_free(x);
    }
    buf_free(&f->info);
    free(f);
}

void agent_history_free(struct agent_proc *a)
{
    if (!a->history) return;
    while (a->history->fws) {
        struct hfw *f = a->history->fws;
        a->history->fws = f->next;
        hfw_free(f);
    }
    free(a->history);
    a->history = NULL;
}

/* ==== Lookup ============================================================== */

struct live_find { const char *fw; int found; };

static int match_fw(void *arg, const struct exec_view *v)
{
    struct live_find *l = arg;
    if (strcmp(v->framework_id, l->fw) == 0) { l->found = 1; return 1; }
    return 0;
}

static int has_live_executor(struct agent_proc *a, const char *fw)
{
    struct live_find l = { .fw = fw };
    agent_exec_foreach(a, match_fw, &l);
    return l.found;
}

/* A completed framework that has an executor again is active again (it
 * came back with a new task); upstream moves it out of completedFrameworks. */
static void reactivate(struct agent_proc *a)
{
    for (struct hfw *f = a->history->fws; f; f = f->next)
        if (f->completed && has_live_executor(a, f->id)) f->completed = 0;
}

static struct hfw *get_fw(struct agent_proc *a, const struct exec_view *v)
{
    struct hfw **pp = &a->history->fws;
    for (; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->id, v->framework_id) == 0) {
            if (v->framework_info_len) {             /* the latest FrameworkInfo */
                buf_reset(&(*pp)->info);
                buf_append(&(*pp)->info, v->framework_info, v->framework_info_len);
            }
            return *pp;
        }
    struct hfw *f = xcalloc(1, sizeof *f);
    snprintf(f->id, sizeof f->id, "%s", v->framework_id);
    buf_append(&f->info, v->framework_info, v->framework_info_len);
    *pp = f;
    return f;
}

static struct hexec *get_exec(struct hfw *f, const struct exec_view *v)
{
    struct hexec **pp = &f->execs;
    for (; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->container_id, v->container_id) == 0 && strcmp((*pp)->executor_id, v->executor_id) == 0)
            return *pp;
    struct hexec *x = xcalloc(1, sizeof *x);
    snprintf(x->executor_id, sizeof x->executor_id, "%s", v->executor_id);
    snprintf(x->container_id, sizeof x->container_id, "%s", v->container_id);
    *pp = x;
    return x;
}

/* ==== Changes ============================================================ */

void agent_history_task(struct agent_proc *a, const struct exec_view *v, const uint8_t *task, size_t n)
{
    if (!a->history) return;
    struct hexec *x = get_exec(get_fw(a, v), v);
    if (x->ntasks == MAX_COMPLETED_TASKS_PER_EXECUTOR) {   /* the oldest goes */
        buf_free(&x->tasks[0]);
        memmove(x->tasks, x->tasks + 1, (x->ntasks - 1) * sizeof *x->tasks);
        x->ntasks--;
    } else {
        x->tasks = xrealloc(x->tasks, (x->ntasks + 1) * sizeof *x->tasks);
    }
    x->tasks[x->ntasks] = (struct buf){0};
    buf_append(&x->tasks[x->ntasks], task, n);
    x->ntasks++;
}

/* Drop the oldest completed executors of f beyond the limit (a limit of 0
 * keeps none, as a circular buffer of capacity 0). */
static void trim_execs(struct hfw *f, uint64_t max)
{
    size_t completed = 0;
    for (struct hexec *x = f->execs; x; x = x->next) completed += x->completed;
    for (struct hexec **pp = &f->execs; *pp && completed > max;) {
        struct hexec *x = *pp;
        if (!x->completed) { pp = &x->next; continue; }
        *pp = x->next;
        hexec_free(x);
        completed--;
    }
}

static void trim_frameworks(struct agent_history *h)
{
    for (;;) {
        size_t completed = 0;
        struct hfw **oldest = NULL;
        for (struct hfw **pp = &h->fws; *pp; pp = &(*pp)->next)
            if ((*pp)->completed) {
                completed++;
                if (!oldest || (*pp)->completed_seq < (*oldest)->completed_seq) oldest = pp;
            }
        if (completed <= MAX_COMPLETED_FRAMEWORKS) return;
        struct hfw *f = *oldest;
        *oldest = f->next;
        hfw_free(f);
    }
}

void agent_history_executor(struct agent_proc *a, const struct exec_view *v)
{
    if (!a->history) return;
    reactivate(a);
    struct hfw *f = get_fw(a, v);
    struct hexec *x = get_exec(f, v);
    x->completed = 1;
    buf_reset(&x->info);
    buf_append(&x->info, v->executor_info, v->executor_info_len);
    /* Moved to the end: completed executors are kept in completion order. */
    struct hexec **pp = &f->execs;
    while (*pp != x) pp = &(*pp)->next;
    *pp = x->next;
    x->next = NULL;
    while (*pp) pp = &(*pp)->next;
    *pp = x;
    trim_execs(f, a->max_completed_executors);
    if (!has_live_executor(a, v->framework_id) && !f->completed) {
        f->completed = 1;
        f->completed_seq = ++a->history->seq;
        trim_frameworks(a->history);
    }
}

/* ==== Encoding ============================================================ */

void agent_history_encode_tasks(struct agent_proc *a, struct buf *pb)
{
    if (!a->history) return;
    reactivate(a);
    for (struct hfw *f = a->history->fws; f; f = f->next)
        for (struct hexec *x = f->execs; x; x = x->next)
            for (size_t i = 0; i < x->ntasks; i++)
                pbw_put_bytes(pb, 5, x->tasks[i].data, x->tasks[i].len);
}

void agent_history_encode_executors(struct agent_proc *a, struct buf *pb)
{
    if (!a->history) return;
    for (struct hfw *f = a->history->fws; f; f = f->next)
        for (struct hexec *x = f->execs; x; x = x->next) {
            if (!x->completed) continue;
            size_t k = pbw_begin(pb, 2);
            pbw_put_bytes(pb, 1, x->info.data, x->info.len);
            pbw_end(pb, k);
        }
}

void agent_history_encode_frameworks(struct agent_proc *a, struct buf *pb)
{
    if (!a->history) return;
    reactivate(a);
    for (struct hfw *f = a->history->fws; f; f = f->next) {
        if (!f->completed) continue;
        size_t k = pbw_begin(pb, 2);
        pbw_put_bytes(pb, 1, f->info.data, f->info.len);
        pbw_end(pb, k);
    }
}
