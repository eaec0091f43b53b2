/* allocator.c -- the master's allocator: which framework gets which agent's
 * resources, and when.
 *
 * A cycle runs every --allocation_interval and soon after anything that
 * frees resources or adds a consumer (sched_trigger). For each agent it
 * offers what is neither used by tasks nor offered already: to the role
 * with the lowest dominant share divided by its weight, and within it to
 * the framework with the lowest dominant share (upstream's two levels of
 * DRF sorters, src/master/allocator/mesos/hierarchical.cpp), skipping
 * suppressed frameworks and those with a decline filter for the agent. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allocator.h"
#include "log.h"
#include "master.h"
#include "resources.h"
#include "util.h"

/* What an agent can still offer: total - used by tasks - offered. */
static void available(struct master *m, struct agent *a, struct resources *out)
{
    struct buf err = { .max = 4096 };
    struct resources used = {0}, offered = {0};
    resources_decode_field(a->info.data, a->info.len, 3, out, &err);
    agents_used(a, &used);
    sched_offered(m, a, &offered);
    /* Used and offered resources carry an allocation role; take them off
     * the agent's total as plain resources. */
    resources_unallocate(&used);
    resources_unallocate(&offered);
    resources_subtract(out, &used);
    resources_subtract(out, &offered);
    resources_free(&used);
    resources_free(&offered);
    buf_free(&err);
}

/* ==== Weighted DRF ====================================================== */

static const char *const KINDS[4] = { "cpus", "mem", "disk", "gpus" };

/* Add the scalar quantities of rs to use[4] (thousandths). */
static void add_use(double use[4], const struct resources *rs)
{
    for (int i = 0; i < 4; i++) use[i] += (double)resources_scalar(rs, KINDS[i]);
}

/* Each framework's usage (its tasks and outstanding offers), once a cycle. */
static void compute_usage(struct master *m)
{
    for (struct framework *f = m->frameworks; f; f = f->next) memset(f->use, 0, sizeof f->use);
    for (struct agent *a = m->agents; a; a = a->next)
        for (struct mtask *t = a->tasks; t; t = t->next) {
            struct framework *f = sched_find(m, t->framework_id);
            if (!f) continue;
            struct resources r = {0};
            agents_task_resources(t, &r);
            add_use(f->use, &r);
            resources_free(&r);
        }
    for (struct offer *o = m->offers; o; o = o->next) add_use(o->f->use, &o->res);
}

static double share(const double use[4], const double total[4])
{
    double s = 0;
    for (int i = 0; i < 4; i++)
        if (total[i] > 0) s = fmax(s, use[i] / total[i]);
    return s;
}

/* The role's share of the cluster divided by its weight (weighted DRF). */
static double role_share(struct master *m, const char *role, const double total[4])
{
    double use[4] = {0};
    for (struct framework *f = m->frameworks; f; f = f->next)
        if (strcmp(f->role, role) == 0)
            for (int i = 0; i < 4; i++) use[i] += f->use[i];
    return share(use, total) / master_role_weight(m, role);
}

static int declined(struct framework *f, struct agent *a, uint64_t now)
{
    for (struct decline **pp = &f->declines; *pp;) {
        struct decline *d = *pp;
        if (d->until_ms <= now) { *pp = d->next; free(d); continue; }
        if (strcmp(d->agent_id, a->id) == 0) return 1;
        pp = &d->next;
    }
    return 0;
}

void alloc_decline(struct framework *f, const char *agent_id, double secs)
{
    if (secs <= 0) return;
    if (secs > 365 * 24 * 3600.0) secs = 365 * 24 * 3600.0;
    struct decline *d = xcalloc(1, sizeof *d);
    snprintf(d->agent_id, sizeof d->agent_id, "%s", agent_id);
    d->until_ms = loop_clock_ms() + (uint64_t)(secs * 1000);
    d->next = f->declines;
    f->declines = d;
}

/* Resources worth offering: upstream's --min_allocatable_resources default
 * (cpus:0.01|mem:32), either one. */
static int allocatable(const struct resources *r)
{
    return resources_scalar(r, "cpus") >= 10 || resources_scalar(r, "mem") >= 32000;
}

static void make_offer(struct master *m, struct framework *f, struct agent *a, struct resources *res)
{
    struct offer *o = xcalloc(1, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s-O%llu", m->id, (unsigned long long)m->next_offer++);
    o->f = f;
    o->a = a;
    o->made_ms = loop_clock_ms();
    resources_copy(&o->res, res);
    resources_allocate(&o->res, f->role);
    o->next = m->offers;
    m->offers = o;
    m->noffers++;
    sched_send_offer(m, o);
}

static void allocate(struct master *m)
{
    /* --offer_timeout: offers outstanding that long are rescinded. */
    struct flag *ot = flags_find(m->flags, m->nflags, "offer_timeout");
    if (ot && ot->present && ot->i > 0) {
        uint64_t limit = (uint64_t)ot->i / 1000000, now_ms = loop_clock_ms();
        for (struct offer *o = m->offers, *next; o; o = next) {
            next = o->next;
            if (now_ms - o->made_ms >= limit) sched_remove_offer(m, o, 1);
        }
    }
    struct resources cluster = {0};
    struct buf err = { .max = 4096 };
    for (struct agent *a = m->agents; a; a = a->next) {
        buf_reset(&err);
        resources_decode_field(a->info.data, a->info.len, 3, &cluster, &err);
    }
    double total[4] = {0};
    add_use(total, &cluster);
    compute_usage(m);
    uint64_t now = loop_clock_ms();
    /* Each agent goes to the role with the lowest weighted dominant share,
     * and within it to the framework with the lowest share (upstream's two
     * levels of DRF sorters). Usage grows as offers are made. */
    for (struct agent *a = m->agents; a; a = a->next) {
        if (a->deactivated) continue;
        struct resources avail = {0};
        available(m, a, &avail);
        if (allocatable(&avail)) {
            struct framework *best = NULL;
            double best_role = 0, best_fw = 0;
            for (struct framework *f = m->frameworks; f; f = f->next) {
                if (!f->stream || f->suppressed || declined(f, a, now)) continue;
                double rs = role_share(m, f->role, total), fs = share(f->use, total);
                if (!best || rs < best_role || (rs == best_role && fs < best_fw)) {
                    best = f;
                    best_role = rs;
                    best_fw = fs;
                }
            }
            if (best) {
                make_offer(m, best, a, &avail);
                add_use(best->use, &avail);
            }
        }
        resources_free(&avail);
    }
    resources_free(&cluster);
    buf_free(&err);
}

void sched_rescind_all(struct master *m)
{
    while (m->offers) sched_remove_offer(m, m->offers, 1);
    sched_trigger(m);
}

/* Something changed (a framework came, offers went back): allocate soon,
 * not only on the next interval. */
void sched_trigger(struct master *m)
{
    uint64_t soon = 20;
    if (!loop_timer_active(&m->allocation) || m->allocation.when_ms > loop_clock_ms() + soon)
        loop_timer_start(m->loop, &m->allocation, soon);
}

static void allocation_cb(struct loop *l, struct loop_timer *t)
{
    struct master *m = container_of(t, struct master, allocation);
    allocate(m);
    struct flag *fl = flags_find(m->flags, m->nflags, "allocation_interval");
    loop_timer_start(l, t, fl && fl->i > 0 ? (uint64_t)fl->i / 1000000 : 1000);
}


/* ==== Filters =========================================================== */

void alloc_revive(struct framework *f)
{
    while (f->declines) {
        struct decline *d = f->declines;
        f->declines = d->next;
        free(d);
    }
}

/* ==== Set-up ============================================================ */

void alloc_init(struct master *m)
{
    loop_timer_init(&m->allocation, allocation_cb);
    loop_timer_start(m->loop, &m->allocation, 100);
}

void alloc_free(struct master *m)
{
    loop_timer_stop(m->loop, &m->allocation);
}
