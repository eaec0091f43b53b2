/* allocator.c -- the master's allocator: which framework gets which agent's
 * resources, and when (upstream src/master/allocator/mesos/hierarchical.cpp
 * and its DRF sorters, rewritten for one thread and no actors).
 *
 * A cycle runs every --allocation_interval and soon after anything that
 * frees resources or adds a consumer (sched_trigger). It works in two
 * stages, as upstream does:
 *
 *   1. roles below their quota guarantees get unreserved resources first,
 *      up to what the guarantee still lacks (plus what their limits and the
 *      headroom allow);
 *   2. every role, in weighted DRF order over the role tree ("a/b" counts
 *      towards "a"), and within a role its frameworks in DRF order, gets
 *      each agent's remaining resources, shrunk to the role's quota limits,
 *      while unreserved resources other roles' guarantees still need
 *      (the required headroom) are held back.
 *
 * Offers carry one role each (allocation_info.role). Suppressed roles,
 * decline filters, disconnected frameworks and deactivated or draining
 * agents get nothing. After the offers, agents in maintenance windows
 * produce inverse offers to the frameworks using them.
 *
 * Cost: the allocator caches per agent its decoded total and its tasks'
 * usage (recomputed only when the agent's info or task list changed), so a
 * cycle over a busy cluster is O(agents + tasks) cheap vector arithmetic;
 * resource lists are only built for agents with something to offer. Role
 * and framework order is recomputed only after an allocation changed it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "allocator.h"
#include "log.h"
#include "master.h"
#include "maintenance.h"
#include "pbw.h"
#include "resources.h"
#include "util.h"

#define TIMER_SAMPLES 1000

/* How many times a role got an offer: upstream's DRF sorter breaks ties
 * between equal shares by this count, so equal roles take turns. */
struct rcount { char role[256]; uint64_t n; };

struct allocator {
    struct rcount *counts;
    size_t ncounts;
    char names[ALLOC_DIMS][64];
    int ndims;
    int warned;
    uint64_t runs;
    double last_ms;
    double samples[TIMER_SAMPLES];
    size_t nsamples, pos;
};

/* What the allocator knows of one agent; rebuilt when the agent changes. */
struct ause {
    char fw[256];
    char role[256];              /* "" = the framework's first role */
    struct avec v, reserved;
};
struct ares {
    char role[256];
    struct avec v;
};
struct alloc_agent {
    uint64_t info_sig, tasks_sig;
    int valid;
    struct resources total;      /* AgentInfo.resources */
    struct avec totalv, unres_totalv;
    struct ares *resv;           /* reservations in the total, by role */
    size_t nresv;
    struct resources used;       /* its tasks' resources, without allocation info */
    struct avec usedv, used_unres;
    struct ause *use;            /* per (framework, role) */
    size_t nuse;
    struct offer *offers;
};

static struct allocator *st(struct master *m)
{
    if (!m->alloc) {
        m->alloc = xcalloc(1, sizeof *m->alloc);
        static const char *const first[] = { "cpus", "mem", "disk", "gpus" };
        for (int i = 0; i < 4; i++) snprintf(m->alloc->names[i], 64, "%s", first[i]);
        m->alloc->ndims = 4;
    }
    return m->alloc;
}

int alloc_dim(struct master *m, const char *name)
{
    struct allocator *s = st(m);
    for (int i = 0; i < s->ndims; i++)
        if (strcmp(s->names[i], name) == 0) return i;
    if (s->ndims == ALLOC_DIMS || strlen(name) >= 64) {
        if (!s->warned++) LOG_WARN("Allocator: more than %d scalar resource names; '%s' is not shared or limited", ALLOC_DIMS, name);
        return -1;
    }
    snprintf(s->names[s->ndims], 64, "%s", name);
    return s->ndims++;
}

const char *alloc_dim_name(struct master *m, int i)
{
    struct allocator *s = st(m);
    return i >= 0 && i < s->ndims ? s->names[i] : "";
}

/* ==== Vectors =========================================================== */

static void vadd(struct avec *a, const struct avec *b)
{
    for (int i = 0; i < ALLOC_DIMS; i++) a->v[i] += b->v[i];
}

static void vsub(struct avec *a, const struct avec *b)
{
    for (int i = 0; i < ALLOC_DIMS; i++) a->v[i] -= b->v[i];
}

static void vclamp(struct avec *a)
{
    for (int i = 0; i < ALLOC_DIMS; i++)
        if (a->v[i] < 0) a->v[i] = 0;
}

static int vempty(const struct avec *a)
{
    for (int i = 0; i < ALLOC_DIMS; i++)
        if (a->v[i] > 0) return 0;
    return 1;
}

/* The scalar quantities of rs into v (and the reserved part into r). */
static void vec_of(struct master *m, const struct resources *rs, struct avec *v, struct avec *reserved)
{
    for (size_t i = 0; i < rs->len; i++) {
        const struct resource *r = &rs->v[i];
        if (r->type != RESOURCE_SCALAR) continue;
        int d = alloc_dim(m, r->name);
        if (d < 0) continue;
        v->v[d] += r->scalar;
        if (reserved && r->nreservations) reserved->v[d] += r->scalar;
    }
}

/* Upstream's default --min_allocatable_resources (cpus:0.01|mem:32). */
static int allocatable_vec(const struct avec *v)
{
    return v->v[0] >= 10 || v->v[1] >= 32000;
}

static int allocatable(const struct resources *r)
{
    return resources_scalar(r, "cpus") >= 10 || resources_scalar(r, "mem") >= 32000;
}

static double share(const struct avec *use, const struct avec *total)
{
    double s = 0;
    for (int i = 0; i < ALLOC_DIMS; i++)
        if (total->v[i] > 0 && use->v[i] > 0) s = fmax(s, (double)use->v[i] / (double)total->v[i]);
    return s;
}

/* ==== Agents ============================================================ */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 1099511628211ULL;
    return h;
}

static void agent_cache_clear(struct alloc_agent *c)
{
    resources_free(&c->total);
    resources_free(&c->used);
    free(c->resv);
    free(c->use);
    c->resv = NULL;
    c->use = NULL;
    c->nresv = c->nuse = 0;
}

static struct alloc_agent *cache(struct agent *a)
{
    if (!a->alloc) a->alloc = xcalloc(1, sizeof *a->alloc);
    return a->alloc;
}

/* The role a task's resources are allocated to ("" if none says). */
static void task_role(const struct resources *r, char *out, size_t n)
{
    out[0] = 0;
    for (size_t i = 0; i < r->len; i++)
        if (r->v[i].has_allocation && r->v[i].allocation_role) {
            snprintf(out, n, "%s", r->v[i].allocation_role);
            return;
        }
}

/* Bring the agent's cache up to date with its info and tasks. */
static void refresh(struct master *m, struct agent *a)
{
    struct alloc_agent *c = cache(a);
    uint64_t isig = fnv(1469598103934665603ULL, a->info.data, a->info.len);
    unsigned gen = agents_total_gen(a);
    isig = fnv(isig, &gen, sizeof gen);
    uint64_t tsig = 1469598103934665603ULL;
    for (struct mtask *t = a->tasks; t; t = t->next) {
        tsig = fnv(tsig, &t, sizeof t);
        tsig = fnv(tsig, &t->base.len, sizeof t->base.len);
        tsig = fnv(tsig, t->task_id, strlen(t->task_id));
    }
    if (c->valid && c->info_sig == isig && c->tasks_sig == tsig) return;
    struct offer *keep = c->offers;
    agent_cache_clear(c);
    memset(c, 0, sizeof *c);
    c->offers = keep;
    c->valid = 1;
    c->info_sig = isig;
    c->tasks_sig = tsig;
    agents_total(a, &c->total);
    vec_of(m, &c->total, &c->totalv, NULL);
    for (size_t i = 0; i < c->total.len; i++) {
        const struct resource *r = &c->total.v[i];
        if (r->type != RESOURCE_SCALAR) continue;
        int d = alloc_dim(m, r->name);
        if (d < 0) continue;
        if (!r->nreservations) { c->unres_totalv.v[d] += r->scalar; continue; }
        const char *role = r->reservations[r->nreservations - 1].role;
        size_t k = 0;
        while (k < c->nresv && strcmp(c->resv[k].role, role ? role : "") != 0) k++;
        if (k == c->nresv) {
            c->resv = xrealloc(c->resv, (c->nresv + 1) * sizeof *c->resv);
            memset(&c->resv[k], 0, sizeof c->resv[k]);
            snprintf(c->resv[k].role, sizeof c->resv[k].role, "%s", role ? role : "");
            c->nresv++;
        }
        c->resv[k].v.v[d] += r->scalar;
    }
    for (struct mtask *t = a->tasks; t; t = t->next) {
        struct resources r = {0};
        agents_task_resources(t, &r);
        char role[256];
        task_role(&r, role, sizeof role);
        struct avec v = {0}, rv = {0};
        vec_of(m, &r, &v, &rv);
        size_t k = 0;
        while (k < c->nuse && !(strcmp(c->use[k].fw, t->framework_id) == 0 && strcmp(c->use[k].role, role) == 0)) k++;
        if (k == c->nuse) {
            c->use = xrealloc(c->use, (c->nuse + 1) * sizeof *c->use);
            memset(&c->use[k], 0, sizeof c->use[k]);
            snprintf(c->use[k].fw, sizeof c->use[k].fw, "%s", t->framework_id);
            snprintf(c->use[k].role, sizeof c->use[k].role, "%s", role);
            c->nuse++;
        }
        vadd(&c->use[k].v, &v);
        vadd(&c->use[k].reserved, &rv);
        vadd(&c->usedv, &v);
        struct avec unres = v;
        vsub(&unres, &rv);
        vadd(&c->used_unres, &unres);
        resources_unallocate(&r);
        resources_add(&c->used, &r);
        resources_free(&r);
    }
}

void alloc_agent_removed(struct master *m, struct agent *a)
{
    (void)m;
    if (!a->alloc) return;
    agent_cache_clear(a->alloc);
    free(a->alloc);
    a->alloc = NULL;
}

struct offer *alloc_agent_offers(struct master *m, struct agent *a)
{
    (void)m;
    return a->alloc ? a->alloc->offers : NULL;
}

/* Does the framework hold (use or have offered) anything on the agent? */
static int holds(struct agent *a, struct framework *f)
{
    struct alloc_agent *c = a->alloc;
    if (!c) return 0;
    for (size_t i = 0; i < c->nuse; i++)
        if (strcmp(c->use[i].fw, f->id) == 0) return 1;
    for (struct offer *o = c->offers; o; o = o->anext)
        if (o->f == f) return 1;
    return 0;
}

/* What the agent can still offer: total - used - offered, unallocated. */
static void available(struct alloc_agent *c, struct resources *out)
{
    resources_copy(out, &c->total);
    resources_subtract(out, &c->used);
    for (struct offer *o = c->offers; o; o = o->anext) {
        struct resources r = {0};
        resources_copy(&r, &o->res);
        resources_unallocate(&r);
        resources_subtract(out, &r);
        resources_free(&r);
    }
}

/* ==== Offers ============================================================ */

void alloc_offer_unlink(struct master *m, struct offer *o)
{
    if (!o->pprev) return;
    *o->pprev = o->next;
    if (o->next) o->next->pprev = o->pprev;
    o->pprev = NULL;
    m->noffers--;
    if (o->a->alloc)
        for (struct offer **pp = &o->a->alloc->offers; *pp; pp = &(*pp)->anext)
            if (*pp == o) { *pp = o->anext; break; }
}

static struct offer *make_offer(struct master *m, struct framework *f, const char *role, struct agent *a,
                                struct resources *res)
{
    struct offer *o = xcalloc(1, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s-O%llu", m->id, (unsigned long long)m->next_offer++);
    o->f = f;
    o->a = a;
    o->made_ms = loop_clock_ms();
    snprintf(o->role, sizeof o->role, "%s", role);
    resources_copy(&o->res, res);
    resources_allocate(&o->res, role);
    vec_of(m, &o->res, &o->vec, &o->reserved);
    o->next = m->offers;
    if (m->offers) m->offers->pprev = &o->next;
    m->offers = o;
    o->pprev = &m->offers;
    m->noffers++;
    struct alloc_agent *c = cache(a);
    o->anext = c->offers;
    c->offers = o;
    sched_send_offer(m, o);
    return o;
}

/* ==== Filters =========================================================== */

static int declined(struct framework *f, const char *agent_id, const char *role, int inverse, uint64_t now)
{
    for (struct decline **pp = &f->declines; *pp;) {
        struct decline *d = *pp;
        if (d->until_ms <= now) { *pp = d->next; free(d); continue; }
        if (d->inverse == inverse && strcmp(d->agent_id, agent_id) == 0 && (inverse || strcmp(d->role, role) == 0))
            return 1;
        pp = &d->next;
    }
    return 0;
}

static void add_filter(struct framework *f, const char *agent_id, const char *role, int inverse, double secs)
{
    if (!(secs > 0)) return;
    if (secs > 365 * 24 * 3600.0) secs = 365 * 24 * 3600.0;
    struct decline *d = xcalloc(1, sizeof *d);
    snprintf(d->agent_id, sizeof d->agent_id, "%s", agent_id);
    snprintf(d->role, sizeof d->role, "%s", role ? role : "");
    d->inverse = inverse;
    d->until_ms = loop_clock_ms() + (uint64_t)(secs * 1000);
    d->next = f->declines;
    f->declines = d;
}

void alloc_decline(struct framework *f, const char *agent_id, const char *role, double secs)
{
    add_filter(f, agent_id, role, 0, secs);
}

void alloc_decline_inverse(struct framework *f, const char *agent_id, double secs)
{
    add_filter(f, agent_id, NULL, 1, secs);
}

void alloc_revive(struct framework *f, const char *const *roles, size_t n)
{
    for (struct decline **pp = &f->declines; *pp;) {
        struct decline *d = *pp;
        int hit = !d->inverse && !roles;
        for (size_t i = 0; roles && i < n && !hit; i++) hit = !d->inverse && strcmp(d->role, roles[i]) == 0;
        if (hit) { *pp = d->next; free(d); continue; }
        pp = &d->next;
    }
    for (size_t i = 0; i < f->nroles; i++) {
        int hit = !roles;
        for (size_t k = 0; roles && k < n && !hit; k++) hit = strcmp(f->roles[i].name, roles[k]) == 0;
        if (hit) f->roles[i].suppressed = 0;
    }
}

void alloc_clear_inverse_filters(struct master *m, const char *agent_id)
{
    for (struct framework *f = m->frameworks; f; f = f->next)
        for (struct decline **pp = &f->declines; *pp;) {
            struct decline *d = *pp;
            if (d->inverse && strcmp(d->agent_id, agent_id) == 0) { *pp = d->next; free(d); continue; }
            pp = &d->next;
        }
}

void alloc_framework_removed(struct framework *f)
{
    while (f->declines) {
        struct decline *d = f->declines;
        f->declines = d->next;
        free(d);
    }
}

/* ==== The role tree ===================================================== */

struct fwref { struct framework *f; struct fw_role *fr; double share; };

struct rnode {
    char name[256];
    int parent;                  /* index, -1 at the top */
    int depth;
    double weight;
    struct avec alloc, offered;  /* subtree: tasks, offers */
    struct avec own;             /* this role alone: tasks and offers */
    struct avec reserved, resv_alloc;   /* subtree reservations; the used or offered part */
    const struct quota *q;
    struct avec guar, lim, consumed;
    uint32_t lim_mask;           /* dims with a limit */
    struct fwref *fws;           /* subscribed frameworks */
    size_t nfws;
    int live;                    /* some active framework in the subtree */
    uint64_t *count;             /* offers made to the subtree, ever (ties) */
    int fw_dirty;
};

struct rtab {
    struct rnode *v;
    size_t n, cap;
    int *hash;                   /* open addressing, -1 empty */
    size_t hcap;
    struct avec total;
};

static uint64_t hstr(const char *s)
{
    return fnv(1469598103934665603ULL, s, strlen(s));
}

static void rt_rehash(struct rtab *t)
{
    free(t->hash);
    t->hcap = t->hcap ? t->hcap * 2 : 64;
    t->hash = xcalloc(t->hcap, sizeof *t->hash);
    for (size_t i = 0; i < t->hcap; i++) t->hash[i] = -1;
    for (size_t i = 0; i < t->n; i++) {
        size_t h = hstr(t->v[i].name) & (t->hcap - 1);
        while (t->hash[h] >= 0) h = (h + 1) & (t->hcap - 1);
        t->hash[h] = (int)i;
    }
}

static int rt_find(struct rtab *t, const char *name)
{
    if (!t->hcap) return -1;
    for (size_t h = hstr(name) & (t->hcap - 1); t->hash[h] >= 0; h = (h + 1) & (t->hcap - 1))
        if (strcmp(t->v[t->hash[h]].name, name) == 0) return t->hash[h];
    return -1;
}

/* The node of a role, created with its ancestors when new. */
static int rt_get(struct master *m, struct rtab *t, const char *name)
{
    int i = rt_find(t, name);
    if (i >= 0) return i;
    int parent = -1;
    const char *slash = strrchr(name, '/');
    if (slash && slash != name) {
        char up[256];
        snprintf(up, sizeof up, "%.*s", (int)(slash - name), name);
        parent = rt_get(m, t, up);
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 32;
        t->v = xrealloc(t->v, t->cap * sizeof *t->v);
    }
    struct rnode *r = &t->v[t->n];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->parent = parent;
    r->depth = parent >= 0 ? t->v[parent].depth + 1 : 0;
    r->weight = master_role_weight(m, name);
    struct allocator *s = st(m);
    size_t ci = 0;
    while (ci < s->ncounts && strcmp(s->counts[ci].role, name) != 0) ci++;
    if (ci == s->ncounts) {
        s->counts = xrealloc(s->counts, (s->ncounts + 1) * sizeof *s->counts);
        memset(&s->counts[ci], 0, sizeof s->counts[ci]);
        snprintf(s->counts[ci].role, sizeof s->counts[ci].role, "%s", name);
        s->ncounts++;
        for (size_t i = 0; i < t->n; i++) {          /* the array moved */
            size_t k = 0;
            while (strcmp(s->counts[k].role, t->v[i].name) != 0) k++;
            t->v[i].count = &s->counts[k].n;
        }
    }
    r->count = &s->counts[ci].n;
    t->n++;
    if (t->n * 2 > t->hcap) rt_rehash(t);
    else {
        size_t h = hstr(name) & (t->hcap - 1);
        while (t->hash[h] >= 0) h = (h + 1) & (t->hcap - 1);
        t->hash[h] = (int)(t->n - 1);
    }
    return (int)(t->n - 1);
}

static void rt_free(struct rtab *t)
{
    for (size_t i = 0; i < t->n; i++) free(t->v[i].fws);
    free(t->v);
    free(t->hash);
    memset(t, 0, sizeof *t);
}

/* Frameworks by id, for the cycle. */
struct fwmap { struct framework **v; size_t cap; };

static void fwmap_build(struct master *m, struct fwmap *fm)
{
    fm->cap = 64;
    while (fm->cap < m->nframeworks * 2 + 2) fm->cap *= 2;
    fm->v = xcalloc(fm->cap, sizeof *fm->v);
    for (struct framework *f = m->frameworks; f; f = f->next) {
        size_t h = hstr(f->id) & (fm->cap - 1);
        while (fm->v[h]) h = (h + 1) & (fm->cap - 1);
        fm->v[h] = f;
    }
}

static struct framework *fwmap_get(struct fwmap *fm, const char *id)
{
    for (size_t h = hstr(id) & (fm->cap - 1); fm->v[h]; h = (h + 1) & (fm->cap - 1))
        if (strcmp(fm->v[h]->id, id) == 0) return fm->v[h];
    return NULL;
}

static void add_up(struct rtab *t, int i, const struct avec *v, size_t off)
{
    for (; i >= 0; i = t->v[i].parent) vadd((struct avec *)((char *)&t->v[i] + off), v);
}

static int quota_dims(struct master *m, const struct quota_entry *e, size_t n, struct avec *out)
{
    uint32_t mask = 0;
    for (size_t i = 0; i < n; i++) {
        int d = alloc_dim(m, e[i].name);
        if (d < 0) continue;
        out->v[d] = e[i].value;
        mask |= 1u << d;
    }
    return (int)mask;
}

/* Build the role tree: every known role with its subtree's allocations,
 * reservations, quota and frameworks. Agents' caches must be fresh. */
static void rt_build(struct master *m, struct rtab *t, int with_weights)
{
    struct fwmap fm;
    fwmap_build(m, &fm);
    for (struct framework *f = m->frameworks; f; f = f->next)
        for (size_t i = 0; i < f->nroles; i++) {
            memset(&f->roles[i].alloc, 0, sizeof f->roles[i].alloc);
            int k = rt_get(m, t, f->roles[i].name);     /* may move t->v: index first */
            struct rnode *r = &t->v[k];
            r->fws = xrealloc(r->fws, (r->nfws + 1) * sizeof *r->fws);
            r->fws[r->nfws++] = (struct fwref){ f, &f->roles[i], 0 };
        }
    for (struct agent *a = m->agents; a; a = a->next) {
        struct alloc_agent *c = a->alloc;
        if (!c) continue;
        vadd(&t->total, &c->totalv);
        for (size_t i = 0; i < c->nresv; i++)
            if (c->resv[i].role[0]) add_up(t, rt_get(m, t, c->resv[i].role), &c->resv[i].v, offsetof(struct rnode, reserved));
        for (size_t i = 0; i < c->nuse; i++) {
            struct ause *u = &c->use[i];
            struct framework *f = fwmap_get(&fm, u->fw);
            const char *role = u->role[0] ? u->role : f ? f->role : "*";
            int k = rt_get(m, t, role);
            add_up(t, k, &u->v, offsetof(struct rnode, alloc));
            add_up(t, k, &u->reserved, offsetof(struct rnode, resv_alloc));
            vadd(&t->v[k].own, &u->v);
            struct fw_role *fr = f ? sched_framework_role(f, role) : NULL;
            if (fr) vadd(&fr->alloc, &u->v);
        }
    }
    for (struct offer *o = m->offers; o; o = o->next) {
        int k = rt_get(m, t, o->role);
        add_up(t, k, &o->vec, offsetof(struct rnode, offered));
        add_up(t, k, &o->reserved, offsetof(struct rnode, resv_alloc));
        vadd(&t->v[k].own, &o->vec);
        struct fw_role *fr = sched_framework_role(o->f, o->role);
        if (fr) vadd(&fr->alloc, &o->vec);
    }
    for (const struct quota *q = m->quotas; q; q = q->next) {
        int k = rt_get(m, t, q->role);
        struct rnode *r = &t->v[k];
        r->q = q;
        quota_dims(m, q->guarantees, q->nguarantees, &r->guar);
        r->lim_mask = (uint32_t)quota_dims(m, q->limits, q->nlimits, &r->lim);
    }
    if (with_weights)
        for (size_t i = 0; i < m->nweights; i++) rt_get(m, t, m->weights[i].role);
    /* Quota consumption: allocated and offered, plus reservations neither. */
    for (size_t i = 0; i < t->n; i++) {
        struct rnode *r = &t->v[i];
        if (!r->q) continue;
        struct avec unres = r->reserved;
        vsub(&unres, &r->resv_alloc);
        vclamp(&unres);
        r->consumed = r->alloc;
        vadd(&r->consumed, &r->offered);
        vadd(&r->consumed, &unres);
    }
    free(fm.v);
}

/* ==== Ordering (weighted DRF over the tree) ============================= */

struct cand { double share; uint64_t count; const char *name; int idx; int self; };

static int cmp_cand(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->share != y->share) return x->share < y->share ? -1 : 1;
    if (x->count != y->count) return x->count < y->count ? -1 : 1;
    if (x->self != y->self) return x->self ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_fw(const void *a, const void *b)
{
    const struct fwref *x = a, *y = b;
    if (x->share != y->share) return x->share < y->share ? -1 : 1;
    if (x->fr->count != y->fr->count) return x->fr->count < y->fr->count ? -1 : 1;
    return strcmp(x->f->id, y->f->id);
}

static int fw_active(const struct fwref *w)
{
    return w->f->stream && !w->fr->suppressed;
}

struct order { int *v; size_t n, cap; int **kids; size_t *nkids; int *roots; size_t nroots; };

static void order_children(struct rtab *t, struct order *o)
{
    o->kids = xcalloc(t->n, sizeof *o->kids);
    o->nkids = xcalloc(t->n, sizeof *o->nkids);
    o->roots = xcalloc(t->n ? t->n : 1, sizeof *o->roots);
    for (size_t i = 0; i < t->n; i++) {
        int p = t->v[i].parent;
        if (p < 0) { o->roots[o->nroots++] = (int)i; continue; }
        o->kids[p] = xrealloc(o->kids[p], (o->nkids[p] + 1) * sizeof **o->kids);
        o->kids[p][o->nkids[p]++] = (int)i;
    }
    /* live: an active framework somewhere in the subtree */
    for (size_t i = 0; i < t->n; i++) t->v[i].live = 0;
    for (size_t i = 0; i < t->n; i++) {
        int any = 0;
        for (size_t k = 0; k < t->v[i].nfws && !any; k++) any = fw_active(&t->v[i].fws[k]);
        if (any)
            for (int j = (int)i; j >= 0 && !t->v[j].live; j = t->v[j].parent) t->v[j].live = 1;
    }
}

static void order_visit(struct rtab *t, struct order *o, const int *idx, size_t n, int self)
{
    struct cand *c = xcalloc(n + 1, sizeof *c);
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        struct rnode *r = &t->v[idx[i]];
        if (!r->live) continue;
        struct avec use = r->alloc;
        vadd(&use, &r->offered);
        c[nc++] = (struct cand){ share(&use, &t->total) / r->weight, *r->count, r->name, idx[i], 0 };
    }
    if (self >= 0) {
        struct rnode *r = &t->v[self];
        int any = 0;
        for (size_t k = 0; k < r->nfws && !any; k++) any = fw_active(&r->fws[k]);
        if (any) c[nc++] = (struct cand){ share(&r->own, &t->total) / r->weight, *r->count, r->name, self, 1 };
    }
    qsort(c, nc, sizeof *c, cmp_cand);
    for (size_t i = 0; i < nc; i++) {
        if (c[i].self) {
            if (o->n == o->cap) { o->cap = o->cap ? o->cap * 2 : 16; o->v = xrealloc(o->v, o->cap * sizeof *o->v); }
            o->v[o->n++] = c[i].idx;
        } else {
            order_visit(t, o, o->kids[c[i].idx], o->nkids[c[i].idx], c[i].idx);
        }
    }
    free(c);
}

static void order_sort(struct rtab *t, struct order *o)
{
    o->n = 0;
    order_visit(t, o, o->roots, o->nroots, -1);
}

static void sort_frameworks(struct rtab *t, struct rnode *r)
{
    for (size_t k = 0; k < r->nfws; k++) r->fws[k].share = share(&r->fws[k].fr->alloc, &t->total);
    qsort(r->fws, r->nfws, sizeof *r->fws, cmp_fw);
    r->fw_dirty = 0;
}

static void order_free(struct rtab *t, struct order *o)
{
    for (size_t i = 0; i < t->n; i++) free(o->kids[i]);
    free(o->kids);
    free(o->nkids);
    free(o->roots);
    free(o->v);
}

/* ==== Allocation ======================================================== */

/* Keep of the unreserved non-revocable scalars of `src` at most `room`
 * (for the dims in mask; other dims are kept whole when keep_unmasked,
 * dropped otherwise), into dst; room shrinks by what was kept. */
static void shrink(struct master *m, const struct resources *src, struct avec *room, uint32_t mask, int keep_unmasked,
                   struct resources *dst)
{
    for (size_t i = 0; i < src->len; i++) {
        const struct resource *r = &src->v[i];
        int d = alloc_dim(m, r->name);
        if (d < 0 || !(mask & (1u << d))) {
            if (keep_unmasked) resources_add_one(dst, r);
            continue;
        }
        int64_t take = r->scalar < room->v[d] ? r->scalar : room->v[d];
        if (take <= 0) continue;
        struct resource c = *r;
        c.scalar = take;
        resources_add_one(dst, &c);
        room->v[d] -= take;
    }
}

static int is_plain_scalar(const struct resource *r)
{
    return r->type == RESOURCE_SCALAR && !r->nreservations && !r->revocable;
}

static void split(const struct resources *avail, struct resources *scalars, struct resources *rest)
{
    for (size_t i = 0; i < avail->len; i++)
        resources_add_one(is_plain_scalar(&avail->v[i]) ? scalars : rest, &avail->v[i]);
}

static uint32_t mask_of(const struct avec *v)
{
    uint32_t mask = 0;
    for (int i = 0; i < ALLOC_DIMS; i++)
        if (v->v[i] > 0) mask |= 1u << i;
    return mask;
}

struct cycle {
    struct master *m;
    struct rtab t;
    struct order o;
    int dirty;
    struct avec required, headroom;   /* quota headroom: needed, available */
    uint64_t now;
};

/* An offer was made to (node k, framework w): shares and quota move. */
static void account(struct cycle *cy, int k, struct fwref *w, const struct offer *o, const struct avec *quota_inc)
{
    struct rtab *t = &cy->t;
    add_up(t, k, &o->vec, offsetof(struct rnode, offered));
    vadd(&t->v[k].own, &o->vec);
    vadd(&w->fr->alloc, &o->vec);
    w->fr->count++;
    for (int i = k; i >= 0; i = t->v[i].parent) {
        if (t->v[i].q) vadd(&t->v[i].consumed, quota_inc);
        (*t->v[i].count)++;
    }
    vsub(&cy->headroom, quota_inc);
    t->v[k].fw_dirty = 1;
    cy->dirty = 1;
}

static int eligible(struct cycle *cy, struct fwref *w, struct agent *a, const char *role)
{
    return fw_active(w) && !declined(w->f, a->id, role, 0, cy->now);
}

/* Stage 1 for one agent: roles below their guarantees. */
static void stage_guarantees(struct cycle *cy, struct agent *a, struct resources *avail)
{
    struct master *m = cy->m;
    struct rtab *t = &cy->t;
    for (size_t oi = 0; oi < cy->o.n; oi++) {
        int k = cy->o.v[oi];
        struct rnode *r = &t->v[k];
        if (!r->q || !r->q->nguarantees) continue;
        if (!allocatable(avail)) break;
        struct avec unsat = r->guar;
        vsub(&unsat, &r->consumed);
        vclamp(&unsat);
        if (vempty(&unsat)) continue;
        if (r->fw_dirty) sort_frameworks(t, r);
        for (size_t fi = 0; fi < r->nfws && !vempty(&unsat); fi++) {
            struct fwref *w = &r->fws[fi];
            if (!eligible(cy, w, a, r->name)) continue;
            struct resources mine = {0}, scal = {0}, rest = {0}, guar_off = {0}, extra = {0}, to = {0}, tmp = {0};
            resources_filter(&mine, avail, RESOURCES_ALLOCATABLE_TO, r->name);
            split(&mine, &scal, &rest);
            struct avec room = unsat;
            shrink(m, &scal, &room, mask_of(&unsat), 0, &guar_off);
            if (guar_off.len) {
                struct avec gv = {0};
                vec_of(m, &guar_off, &gv, NULL);
                resources_copy(&tmp, &scal);
                resources_subtract(&tmp, &guar_off);
                if (r->lim_mask) {
                    struct avec lroom = r->lim;
                    vsub(&lroom, &r->consumed);
                    vsub(&lroom, &gv);
                    vclamp(&lroom);
                    struct resources s2 = {0};
                    shrink(m, &tmp, &lroom, r->lim_mask, 1, &s2);
                    resources_free(&tmp);
                    tmp = s2;
                }
                if (!vempty(&cy->required)) {
                    struct avec hroom = cy->headroom;
                    vsub(&hroom, &cy->required);
                    vclamp(&hroom);
                    shrink(m, &tmp, &hroom, ~0u, 0, &extra);
                } else {
                    resources_add(&extra, &tmp);
                }
                resources_add(&to, &guar_off);
                resources_add(&to, &rest);
                resources_add(&to, &extra);
                if (allocatable(&to)) {
                    struct avec inc = gv;
                    vec_of(m, &extra, &inc, NULL);
                    struct offer *o = make_offer(m, w->f, r->name, a, &to);
                    resources_subtract(avail, &to);
                    vsub(&unsat, &inc);
                    vclamp(&unsat);
                    vsub(&cy->required, &gv);
                    vclamp(&cy->required);
                    account(cy, k, w, o, &inc);
                }
            }
            resources_free(&mine); resources_free(&scal); resources_free(&rest); resources_free(&guar_off);
            resources_free(&extra); resources_free(&to); resources_free(&tmp);
        }
    }
}

/* Stage 2 for one agent: every role in DRF order, within limits and
 * without eating into the headroom other roles' guarantees need. */
static void stage_fair(struct cycle *cy, struct agent *a, struct resources *avail)
{
    struct master *m = cy->m;
    struct rtab *t = &cy->t;
    for (size_t oi = 0; oi < cy->o.n; oi++) {
        if (!allocatable(avail)) break;
        int k = cy->o.v[oi];
        struct rnode *r = &t->v[k];
        if (r->fw_dirty) sort_frameworks(t, r);
        for (size_t fi = 0; fi < r->nfws; fi++) {
            struct fwref *w = &r->fws[fi];
            if (!eligible(cy, w, a, r->name)) continue;
            struct resources mine = {0}, scal = {0}, rest = {0}, extra = {0}, to = {0};
            resources_filter(&mine, avail, RESOURCES_ALLOCATABLE_TO, r->name);
            if (allocatable(&mine)) {
                split(&mine, &scal, &rest);
                if (r->lim_mask) {
                    struct avec lroom = r->lim;
                    vsub(&lroom, &r->consumed);
                    vclamp(&lroom);
                    struct resources s2 = {0};
                    shrink(m, &scal, &lroom, r->lim_mask, 1, &s2);
                    resources_free(&scal);
                    scal = s2;
                }
                if (!vempty(&cy->required)) {
                    struct avec hroom = cy->headroom;
                    vsub(&hroom, &cy->required);
                    vclamp(&hroom);
                    shrink(m, &scal, &hroom, ~0u, 0, &extra);
                } else {
                    resources_add(&extra, &scal);
                }
                resources_add(&to, &rest);
                resources_add(&to, &extra);
                if (allocatable(&to)) {
                    struct avec inc = {0};
                    vec_of(m, &extra, &inc, NULL);
                    struct offer *o = make_offer(m, w->f, r->name, a, &to);
                    resources_subtract(avail, &to);
                    if (!r->q) memset(&inc, 0, sizeof inc);   /* only quota roles consume headroom... */
                    account(cy, k, w, o, &inc);
                    if (!r->q) {                              /* ...but every role uses it up */
                        struct avec used = {0};
                        vec_of(m, &extra, &used, NULL);
                        vsub(&cy->headroom, &used);
                    }
                }
            }
            resources_free(&mine); resources_free(&scal); resources_free(&rest); resources_free(&extra);
            resources_free(&to);
        }
    }
}

static void inverse_offers(struct master *m, uint64_t now)
{
    for (struct agent *a = m->agents; a; a = a->next) {
        if (!maint_agent_machine(m, a)) continue;
        for (struct framework *f = m->frameworks; f; f = f->next) {
            if (!f->stream || !holds(a, f)) continue;
            if (maint_inverse_outstanding(m, f, a) || declined(f, a->id, NULL, 1, now)) continue;
            maint_send_inverse_offer(m, f, a);
        }
    }
}

static void timer_sample(struct allocator *s, double ms)
{
    s->runs++;
    s->last_ms = ms;
    s->samples[s->pos] = ms;
    s->pos = (s->pos + 1) % TIMER_SAMPLES;
    if (s->nsamples < TIMER_SAMPLES) s->nsamples++;
}

static void allocate(struct master *m)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* --offer_timeout: offers outstanding that long are rescinded. */
    struct flag *ot = flags_find(m->flags, m->nflags, "offer_timeout");
    if (ot && ot->present && ot->i > 0) {
        uint64_t limit = (uint64_t)ot->i / 1000000, now_ms = loop_clock_ms();
        for (struct offer *o = m->offers, *next; o; o = next) {
            next = o->next;
            if (now_ms - o->made_ms >= limit) sched_remove_offer(m, o, 1);
        }
        maint_inverse_timeout(m, limit, now_ms);
    }
    /* No framework is connected: nothing to offer, so skip the walk over
     * every agent and task that would otherwise follow every registration. */
    int connected = 0;
    for (struct framework *f = m->frameworks; f && !connected; f = f->next) connected = f->stream != NULL;
    if (!connected) return;
    struct cycle cy = { .m = m, .now = loop_clock_ms() };
    for (struct agent *a = m->agents; a; a = a->next) refresh(m, a);
    rt_build(m, &cy.t, 0);
    order_children(&cy.t, &cy.o);
    order_sort(&cy.t, &cy.o);
    for (size_t i = 0; i < cy.t.n; i++) cy.t.v[i].fw_dirty = 1;

    /* Headroom: what top-level guarantees still need, and the unreserved
     * resources no one holds. */
    int quota_stage = 0;
    for (size_t i = 0; i < cy.t.n; i++) {
        struct rnode *r = &cy.t.v[i];
        if (!r->q || r->parent >= 0) continue;
        struct avec need = r->guar;
        vsub(&need, &r->consumed);
        vclamp(&need);
        vadd(&cy.required, &need);
        quota_stage |= !vempty(&need) && r->nfws;
    }
    for (struct agent *a = m->agents; a; a = a->next) {
        struct alloc_agent *c = a->alloc;
        struct avec free_ = c->unres_totalv;
        vsub(&free_, &c->used_unres);
        for (struct offer *o = c->offers; o; o = o->anext) {
            struct avec u = o->vec;
            vsub(&u, &o->reserved);
            vsub(&free_, &u);
        }
        vclamp(&free_);
        vadd(&cy.headroom, &free_);
    }

    for (int stage = quota_stage ? 1 : 2; stage <= 2; stage++)
        for (struct agent *a = m->agents; a; a = a->next) {
            if (a->deactivated || !cy.o.n) continue;
            struct alloc_agent *c = a->alloc;
            struct avec left = c->totalv;
            vsub(&left, &c->usedv);
            for (struct offer *o = c->offers; o; o = o->anext) vsub(&left, &o->vec);
            if (!allocatable_vec(&left)) continue;
            if (cy.dirty) {
                order_sort(&cy.t, &cy.o);
                cy.dirty = 0;
            }
            struct resources avail = {0};
            available(c, &avail);
            if (allocatable(&avail)) {
                if (stage == 1) stage_guarantees(&cy, a, &avail);
                else stage_fair(&cy, a, &avail);
            }
            resources_free(&avail);
        }
    order_free(&cy.t, &cy.o);
    rt_free(&cy.t);
    inverse_offers(m, cy.now);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    timer_sample(st(m), (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
}

void alloc_run(struct master *m) { allocate(m); }

double alloc_last_run_ms(struct master *m) { return st(m)->last_ms; }

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

/* ==== Roles for the operator API ======================================== */

static int cmp_role_info(const void *a, const void *b)
{
    return strcmp(((const struct role_info *)a)->name, ((const struct role_info *)b)->name);
}

void alloc_roles(struct master *m, struct role_snapshot *out)
{
    memset(out, 0, sizeof *out);
    struct rtab t = {0};
    for (struct agent *a = m->agents; a; a = a->next) refresh(m, a);
    rt_build(m, &t, 1);
    out->total = t.total;
    out->v = xcalloc(t.n ? t.n : 1, sizeof *out->v);
    for (size_t i = 0; i < t.n; i++) {
        struct rnode *r = &t.v[i];
        struct role_info *ri = &out->v[out->n++];
        ri->name = xstrdup(r->name);
        ri->weight = r->weight;
        ri->allocated = r->alloc;
        ri->offered = r->offered;
        ri->reserved = r->reserved;
        ri->unallocated_reserved = r->reserved;
        vsub(&ri->unallocated_reserved, &r->resv_alloc);
        vclamp(&ri->unallocated_reserved);
        ri->frameworks = xcalloc(r->nfws ? r->nfws : 1, sizeof *ri->frameworks);
        for (size_t k = 0; k < r->nfws; k++) ri->frameworks[ri->nframeworks++] = r->fws[k].f;
    }
    qsort(out->v, out->n, sizeof *out->v, cmp_role_info);
    rt_free(&t);
}

struct role_info *alloc_role_find(struct role_snapshot *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0) return &s->v[i];
    return NULL;
}

void alloc_roles_free(struct role_snapshot *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].name);
        free(s->v[i].frameworks);
    }
    free(s->v);
    memset(s, 0, sizeof *s);
}

void alloc_consumed(const struct role_info *r, struct avec *out)
{
    *out = r->allocated;
    vadd(out, &r->offered);
    vadd(out, &r->unallocated_reserved);
}

/* ==== Metrics =========================================================== */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void alloc_metrics(struct master *m, void (*put)(void *arg, const char *name, double v), void *arg)
{
    struct allocator *s = st(m);
    char name[512];
    put(arg, "allocator/mesos/allocation_runs", (double)s->runs);
    put(arg, "allocator/mesos/allocation_run_ms", s->last_ms);
    if (s->nsamples) {
        double *v = xcalloc(s->nsamples, sizeof *v);
        memcpy(v, s->samples, s->nsamples * sizeof *v);
        qsort(v, s->nsamples, sizeof *v, cmp_double);
        static const struct { const char *n; double p; } pct[] = {
            { "p50", 0.5 }, { "p90", 0.9 }, { "p95", 0.95 }, { "p99", 0.99 }, { "p999", 0.999 }, { "p9999", 0.9999 },
        };
        put(arg, "allocator/mesos/allocation_run_ms/count", (double)s->nsamples);
        put(arg, "allocator/mesos/allocation_run_ms/min", v[0]);
        put(arg, "allocator/mesos/allocation_run_ms/max", v[s->nsamples - 1]);
        for (size_t i = 0; i < sizeof pct / sizeof *pct; i++) {
            /* libprocess' percentile: linear interpolation between ranks. */
            double pos = pct[i].p * (double)(s->nsamples - 1);
            size_t lo = (size_t)pos;
            double frac = pos - (double)lo;
            double val = lo + 1 < s->nsamples ? v[lo] + (v[lo + 1] - v[lo]) * frac : v[lo];
            snprintf(name, sizeof name, "allocator/mesos/allocation_run_ms/%s", pct[i].n);
            put(arg, name, val);
        }
        free(v);
    }
    struct role_snapshot rs;
    alloc_roles(m, &rs);
    struct avec all = {0};
    for (size_t i = 0; i < rs.n; i++)
        if (!strchr(rs.v[i].name, '/')) {
            vadd(&all, &rs.v[i].allocated);
            vadd(&all, &rs.v[i].offered);
        }
    for (int d = 0; d < s->ndims; d++) {
        snprintf(name, sizeof name, "allocator/mesos/resources/%s/total", s->names[d]);
        put(arg, name, resources_double(rs.total.v[d]));
        snprintf(name, sizeof name, "allocator/mesos/resources/%s/offered_or_allocated", s->names[d]);
        put(arg, name, resources_double(all.v[d]));
    }
    for (size_t i = 0; i < rs.n; i++) {
        struct role_info *r = &rs.v[i];
        if (r->nframeworks) {
            struct avec use = r->allocated;
            vadd(&use, &r->offered);
            snprintf(name, sizeof name, "allocator/mesos/roles/%s/shares/dominant", r->name);
            put(arg, name, share(&use, &rs.total));
        }
    }
    for (const struct quota *q = m->quotas; q; q = q->next) {
        struct role_info *r = alloc_role_find(&rs, q->role);
        struct avec use = {0};
        if (r) alloc_consumed(r, &use);
        for (size_t i = 0; i < q->nguarantees; i++) {
            snprintf(name, sizeof name, "allocator/mesos/quota/roles/%s/resources/%s/guarantee", q->role, q->guarantees[i].name);
            put(arg, name, resources_double(q->guarantees[i].value));
        }
        for (size_t i = 0; i < q->nlimits; i++) {
            snprintf(name, sizeof name, "allocator/mesos/quota/roles/%s/resources/%s/limit", q->role, q->limits[i].name);
            put(arg, name, resources_double(q->limits[i].value));
        }
        for (int d = 0; d < s->ndims; d++)
            if (use.v[d] > 0) {
                snprintf(name, sizeof name, "allocator/mesos/quota/roles/%s/resources/%s/offered_or_allocated", q->role,
                         s->names[d]);
                put(arg, name, resources_double(use.v[d]));
            }
    }
    alloc_roles_free(&rs);
}

/* ==== Set-up ============================================================ */

void alloc_init(struct master *m)
{
    st(m);
    loop_timer_init(&m->allocation, allocation_cb);
    loop_timer_start(m->loop, &m->allocation, 100);
}

void alloc_free(struct master *m)
{
    loop_timer_stop(m->loop, &m->allocation);
    if (m->alloc) free(m->alloc->counts);
    free(m->alloc);
    m->alloc = NULL;
}
