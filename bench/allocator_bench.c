/* allocator_bench.c -- the allocator's cycle time at 1,000 and 10,000
 * simulated agents and 100 frameworks, each in its own role (a fifth of
 * them under quota), as `make bench-allocator` runs it.
 *
 * The allocator (src/allocator.c) is linked alone: the scheduler API, the
 * agents and maintenance are replaced by the small stand-ins below, so
 * what is timed is the allocation itself. Three cycles per size:
 *   cold    every agent free: one offer per agent;
 *   steady  every agent offered or used: nothing to do (the common case);
 *   churn   a tenth of the offers came back: those agents are offered again.
 * Usage: build/bench/allocator_bench [agents...] (default 1000 10000). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allocator.h"
#include "log.h"
#include "master.h"
#include "maintenance.h"
#include "pbw.h"
#include "resources.h"
#include "util.h"

#define FRAMEWORKS 100

/* ==== Stand-ins for scheduler.c, agents.c, operator.c, maintenance.c ==== */

static size_t offers_sent;

void sched_send_offer(struct master *m, struct offer *o) { (void)m; (void)o; offers_sent++; }

void sched_remove_offer(struct master *m, struct offer *o, int rescind)
{
    (void)rescind;
    alloc_offer_unlink(m, o);
    resources_free(&o->res);
    free(o);
}

struct fw_role *sched_framework_role(struct framework *f, const char *role)
{
    for (size_t i = 0; i < f->nroles; i++)
        if (strcmp(f->roles[i].name, role) == 0) return &f->roles[i];
    return NULL;
}

double master_role_weight(struct master *m, const char *role) { (void)m; (void)role; return 1; }

void agents_task_resources(const struct mtask *t, void *out)
{
    struct buf err = { .max = 4096 };
    resources_decode_field(t->base.data, t->base.len, 7, out, &err);
    buf_free(&err);
}

/* The agent's total: its SlaveInfo resources (no reservations made here). */
void agents_total(const struct agent *a, void *out)
{
    struct buf err = { .max = 4096 };
    resources_decode_field(a->info.data, a->info.len, 3, out, &err);
    buf_free(&err);
}

unsigned agents_total_gen(const struct agent *a) { (void)a; return 0; }

struct machine *maint_agent_machine(struct master *m, struct agent *a) { (void)m; (void)a; return NULL; }
int maint_inverse_outstanding(struct master *m, struct framework *f, struct agent *a) { (void)m; (void)f; (void)a; return 0; }
void maint_send_inverse_offer(struct master *m, struct framework *f, struct agent *a) { (void)m; (void)f; (void)a; }
void maint_inverse_timeout(struct master *m, uint64_t l, uint64_t n) { (void)m; (void)l; (void)n; }

/* ==== The simulated cluster ============================================= */

static void add_agent(struct master *m, size_t i)
{
    struct agent *a = xcalloc(1, sizeof *a);
    a->m = m;
    snprintf(a->id, sizeof a->id, "bench-S%zu", i);
    struct resources rs = {0};
    struct buf err = {0};
    const char *text = "cpus:8;mem:16384;disk:100000;ports:[31000-32000]";
    resources_parse(text, strlen(text), NULL, &rs, &err);
    pbw_put_str(&a->info, 1, "host");
    resources_encode(&rs, 3, RESOURCES_STORED, &a->info);
    pbw_put_id(&a->info, 6, a->id);
    resources_free(&rs);
    buf_free(&err);
    /* Half the agents run two tasks of one framework each. */
    for (int k = 0; i % 2 == 0 && k < 2; k++) {
        struct mtask *t = xcalloc(1, sizeof *t + 64);   /* ids after the struct, as agents.c keeps them */
        int tn = snprintf(t->task_id, 32, "task-%zu-%d", i, k);
        char *fw = t->task_id + tn + 1;
        snprintf(fw, 32, "fw-%zu", (i + (size_t)k) % FRAMEWORKS);
        t->framework_id = fw;
        t->state = 1;
        struct resources tr = {0};
        const char *tt = "cpus:1;mem:1024";
        resources_parse(tt, strlen(tt), NULL, &tr, &err);
        resources_encode(&tr, 7, RESOURCES_STORED, &t->base);
        resources_free(&tr);
        buf_free(&err);
        t->next = a->tasks;
        a->tasks = t;
    }
    a->next = m->agents;
    m->agents = a;
    m->nagents++;
}

static void add_frameworks(struct master *m, struct quota_entry *g)
{
    for (size_t i = 0; i < FRAMEWORKS; i++) {
        struct framework *f = xcalloc(1, sizeof *f);
        f->m = m;
        snprintf(f->id, sizeof f->id, "fw-%zu", i);
        f->stream = (struct request *)1;             /* "connected": events go to the stand-in */
        f->roles = xcalloc(1, sizeof *f->roles);
        f->nroles = 1;
        snprintf(f->roles[0].name, sizeof f->roles[0].name, "role%zu", i);
        snprintf(f->role, sizeof f->role, "role%zu", i);
        f->next = m->frameworks;
        m->frameworks = f;
        m->nframeworks++;
        if (i % 5 == 0) {
            struct quota *q = xcalloc(1, sizeof *q);
            snprintf(q->role, sizeof q->role, "role%zu", i);
            q->guarantees = xcalloc(1, sizeof *q->guarantees);
            q->guarantees[0] = *g;
            q->nguarantees = 1;
            q->limits = xcalloc(1, sizeof *q->limits);
            q->next = m->quotas;
            m->quotas = q;
        }
    }
}

static void teardown(struct master *m)
{
    while (m->offers) sched_remove_offer(m, m->offers, 0);
    while (m->agents) {
        struct agent *a = m->agents;
        m->agents = a->next;
        alloc_agent_removed(m, a);
        while (a->tasks) {
            struct mtask *t = a->tasks;
            a->tasks = t->next;
            buf_free(&t->base);
            free(t);
        }
        buf_free(&a->info);
        free(a);
    }
    while (m->frameworks) {
        struct framework *f = m->frameworks;
        m->frameworks = f->next;
        alloc_framework_removed(f);
        free(f->roles);
        free(f);
    }
    while (m->quotas) {
        struct quota *q = m->quotas;
        m->quotas = q->next;
        free(q->guarantees);
        free(q->limits);
        free(q);
    }
    alloc_free(m);
}

static void run(size_t agents)
{
    struct master m = {0};
    m.loop = loop_new();
    snprintf(m.id, sizeof m.id, "bench");
    alloc_init(&m);
    for (size_t i = 0; i < agents; i++) add_agent(&m, i);
    struct quota_entry g = { "cpus", 8000 };   /* 8 cpus guaranteed to every fifth role */
    add_frameworks(&m, &g);
    offers_sent = 0;
    alloc_run(&m);
    double cold = alloc_last_run_ms(&m);
    size_t cold_offers = offers_sent;
    alloc_run(&m);
    double steady = alloc_last_run_ms(&m);
    size_t back = 0;
    for (struct offer *o = m.offers, *next; o; o = next) {
        next = o->next;
        if (back++ % 10 == 0) sched_remove_offer(&m, o, 0);
    }
    offers_sent = 0;
    alloc_run(&m);
    double churn = alloc_last_run_ms(&m);
    printf("allocator: %6zu agents, %d frameworks: cold %8.1f ms (%zu offers), steady %7.1f ms, "
           "churn %7.1f ms (%zu offers)\n", agents, FRAMEWORKS, cold, cold_offers, steady, churn, offers_sent);
    teardown(&m);
    loop_free(m.loop);
}

int main(int argc, char **argv)
{
    log_min_severity = LOG_WARNING;              /* quiet: warnings and errors only */
    if (argc > 1)
        for (int i = 1; i < argc; i++) run((size_t)strtoul(argv[i], NULL, 10));
    else {
        run(1000);
        run(10000);
    }
    return 0;
}
