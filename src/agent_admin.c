/* agent_admin.c -- the operator's write calls on agents and frameworks:
 * DRAIN_AGENT, DEACTIVATE_AGENT, REACTIVATE_AGENT, MARK_AGENT_GONE and
 * TEARDOWN, with upstream's checks, status codes and texts
 * (src/master/http.cpp, master.cpp).
 *
 * Deactivation and draining are kept by agent id on m->drains, so they
 * survive a disconnection and apply again when the agent re-registers; gone
 * agents are kept on m->gone and refused for good. Every change goes through
 * one agent_set_* / agent_mark_gone function, where the registry hooks in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allocator.h"
#include "log.h"
#include "maintenance.h"
#include "master.h"
#include "registry.h"
#include "pbw.h"
#include "persist.h"
#include "util.h"

enum { DRAIN_NONE = 0, DRAINING = 1, DRAINED = 2 };

static struct agent_drain *find_drain(struct master *m, const char *id, int create)
{
    for (struct agent_drain *d = m->drains; d; d = d->next)
        if (strcmp(d->id, id) == 0) return d;
    if (!create) return NULL;
    struct agent_drain *d = xcalloc(1, sizeof *d);
    snprintf(d->id, sizeof d->id, "%s", id);
    d->next = m->drains;
    m->drains = d;
    return d;
}

static void forget_drain(struct master *m, const char *id)
{
    for (struct agent_drain **pp = &m->drains; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->id, id) == 0) {
            struct agent_drain *d = *pp;
            *pp = d->next;
            buf_free(&d->config);
            free(d);
            return;
        }
}

/* Offers of the agent go back (it gets none while deactivated). */
static void rescind_agent(struct master *m, struct agent *a)
{
    while (alloc_agent_offers(m, a)) sched_remove_offer(m, alloc_agent_offers(m, a), 1);
}

/* ==== State changes ===================================================== */

void agent_set_deactivated(struct master *m, const char *id, int on)
{
    struct agent *a = agents_find(m, id, strlen(id));
    if (on) {
        find_drain(m, id, 1)->deactivated = 1;
        if (a) {
            a->deactivated = 1;
            rescind_agent(m, a);
        }
    } else {
        forget_drain(m, id);
        if (a) a->deactivated = 0;
        sched_trigger(m);
    }
}

/* DRAINING with the DrainConfig bytes, or DRAINED (config kept). */
void agent_set_drain(struct master *m, const char *id, int state, const uint8_t *config, size_t n)
{
    struct agent_drain *d = find_drain(m, id, 1);
    d->state = state;
    d->deactivated = 1;
    if (config) {
        buf_reset(&d->config);
        buf_append(&d->config, config, n);
    }
    struct agent *a = agents_find(m, id, strlen(id));
    if (a) {
        a->deactivated = 1;
        rescind_agent(m, a);
    }
}

/* The agent is gone for good: told to shut down and removed, its tasks
 * TASK_GONE_BY_OPERATOR (TASK_LOST for frameworks that are not
 * partition-aware); an unreachable one is forgotten. */
static void gone_written(void *arg, int status)
{
    if (status < 0) master_registry_failed(arg, status);
}

void agent_mark_gone(struct master *m, const char *id)
{
    if (master_is_gone(m, id, strlen(id))) return;
    forget_drain(m, id);
    LOG("Agent %s marked gone", id);
    struct agent *a = agents_find(m, id, strlen(id));
    if (a) {                             /* gone once the registry has it */
        agents_shutdown(m, &a->pid, "Agent has been marked gone");
        agents_remove(m, a, AGENT_GONE, "Agent has been marked gone");
        return;
    }
    double now = now_secs();             /* unreachable or recovered */
    struct buf ti = {0};
    master_time_info(&ti, now);
    master_registry_apply(m, REGISTRY_MARK_GONE, id, ti.data, ti.len, gone_written, m);
    buf_free(&ti);
    master_gone_add(m, id, now);         /* forgets it as unreachable or recovered too */
}

/* ==== Hooks from agents.c =============================================== */

void agent_admin_restore(struct master *m, struct agent *a)
{
    struct agent_drain *d = find_drain(m, a->id, 0);
    a->deactivated = d && d->deactivated;
    if (d && d->state == DRAINING) {
        /* Still draining: the agent is told again (it may have restarted). */
        struct buf msg = {0};
        pbw_put_bytes(&msg, 1, d->config.data, d->config.len);
        wire_send(m->wire, &a->pid, "mesos.internal.DrainSlaveMessage", msg.data, msg.len);
        buf_free(&msg);
    }
}

void agent_admin_check_drained(struct master *m, struct agent *a)
{
    struct agent_drain *d = find_drain(m, a->id, 0);
    if (!d || d->state != DRAINING || a->tasks) return;
    struct pbw_field g;
    if (pbw_find(d->config.data, d->config.len, 2, &g) == 1 && g.v) {
        LOG("Marking agent %s in the DRAINED state as gone", a->id);
        char id[96];
        snprintf(id, sizeof id, "%s", a->id);
        agent_mark_gone(m, id);
        return;
    }
    LOG("Agent %s is DRAINED", a->id);
    struct buf di = {0};
    pbw_put_uint(&di, 1, DRAINED);
    pbw_put_bytes(&di, 2, d->config.data, d->config.len);
    master_registry_apply(m, REGISTRY_SET_DRAIN, a->id, di.data, di.len, gone_written, m);
    buf_free(&di);
    agent_set_drain(m, a->id, DRAINED, NULL, 0);
}

void agent_admin_encode_drain(struct master *m, struct agent *a, struct buf *pb)
{
    struct agent_drain *d = find_drain(m, a->id, 0);
    if (!d || d->state == DRAIN_NONE) return;
    size_t k = pbw_begin(pb, 13);
    pbw_put_uint(pb, 1, (uint64_t)d->state);
    pbw_put_bytes(pb, 2, d->config.data, d->config.len);
    pbw_end(pb, k);
    if (d->state == DRAINING) pbw_put_time(pb, 14, (double)(int64_t)d->start_time);
}

void agent_admin_free(struct master *m)
{
    while (m->drains) forget_drain(m, m->drains->id);
}

/* ==== Recovery ========================================================= */

/* Drain and deactivation state of the agents in the registry. */
void agent_admin_recover(struct master *m)
{
    size_t n = 0;
    for (const struct registry_entry *e = registry_first(m->registry, REGISTRY_AGENTS); e; e = registry_next(e)) {
        if (e->state == REGISTRY_GONE || (!e->deactivated && !e->drain.len)) continue;
        struct agent_drain *d = find_drain(m, e->key, 1);
        d->deactivated = e->deactivated;
        struct pbw_field st, cf;
        if (e->drain.len && pbw_find(e->drain.data, e->drain.len, 1, &st) == 1) {
            d->state = (int)st.v;
            d->deactivated = 1;
            if (pbw_find(e->drain.data, e->drain.len, 2, &cf) == 1 && cf.wt == PBW_LEN)
                buf_append(&d->config, cf.p, cf.n);
            d->start_time = now_secs();
        }
        n++;
    }
    if (n) LOG("Recovered the drain or deactivation state of %zu agents from the registry", n);
}

/* ==== Calls ============================================================= */

/* The agent id of a call's sub-message ({agent_id = 1 {value}}). */
static int sub_agent(struct api_ctx *c, char *id, size_t n)
{
    if (pbw_get_id(c->sub, c->sub_len, 1, id, n) < 0) id[0] = 0;
    return 0;
}

/* Registered, recovered or unreachable (we have no recovered agents). */
static int known(struct master *m, const char *id)
{
    return agents_find(m, id, strlen(id)) || master_id_find(&m->unreachable_ids, id, strlen(id)) ||
           master_recovered_find(m, id, strlen(id));
}

static int capable_of_draining(struct agent *a)
{
    struct pbw_reader r;
    struct pbw_field f, t;
    pbw_reader_init(&r, a->capabilities.data, a->capabilities.len);
    while (pbw_next(&r, &f) == 1)
        if (f.tag == 10 && f.wt == PBW_LEN && pbw_find(f.p, f.n, 1, &t) == 1 && t.v == 7) return 1;   /* AGENT_DRAINING */
    return 0;
}

struct drain_change { char id[96]; size_t len; uint8_t cfg[]; };

static int drain_stored(struct master *m, void *data, struct api_ctx *c)
{
    (void)c;
    struct drain_change *dc = data;
    agent_set_drain(m, dc->id, DRAINING, dc->cfg, dc->len);
    find_drain(m, dc->id, 1)->start_time = now_secs();
    struct agent *a = agents_find(m, dc->id, strlen(dc->id));
    if (a) {
        LOG("Transitioning agent %s to the DRAINING state", dc->id);
        struct buf msg = {0};
        pbw_put_bytes(&msg, 1, dc->cfg, dc->len);
        wire_send(m->wire, &a->pid, "mesos.internal.DrainSlaveMessage", msg.data, msg.len);
        buf_free(&msg);
        agent_admin_check_drained(m, a);
    }
    return 0;
}

void op_drain_agent(struct api_ctx *c)
{
    struct master *m = c->state;
    char id[96];
    sub_agent(c, id, sizeof id);
    struct agent *a = agents_find(m, id, strlen(id));
    if (a) {
        char mc[600];
        if (maint_agent_scheduled(m, a, mc, sizeof mc)) {
            api_error(c, 400, "Agent %s is part of a maintenance schedule under Machine %s", id, mc);
            return;
        }
        if (!capable_of_draining(a)) {
            api_error(c, 400, "Agent %s is not capable of draining", id);
            return;
        }
    }
    if (!known(m, id)) {
        api_error(c, 400, "Unknown agent");
        return;
    }
    /* DrainConfig {max_grace_period 1 (DurationInfo), mark_gone 2}; the call
     * carries a google.protobuf.Duration {seconds 1, nanos 2}. */
    struct pbw_field g, s, ns, mg;
    struct buf cfg = {0};
    if (pbw_find(c->sub, c->sub_len, 2, &g) == 1 && g.wt == PBW_LEN) {
        int64_t secs = pbw_find(g.p, g.n, 1, &s) == 1 ? (int64_t)s.v : 0;
        int64_t nanos = pbw_find(g.p, g.n, 2, &ns) == 1 ? (int64_t)(int32_t)ns.v : 0;
        size_t k = pbw_begin(&cfg, 1);
        pbw_put_uint(&cfg, 1, (uint64_t)(secs * 1000000000 + nanos));
        pbw_end(&cfg, k);
    }
    int gone = pbw_find(c->sub, c->sub_len, 3, &mg) == 1 && mg.v;
    pbw_put_uint(&cfg, 2, (uint64_t)gone);
    /* DrainInfo {state 1, config 2}, the agent deactivated, and draining a
     * minimum capability of the master: one record, then applied. */
    struct buf di = {0};
    pbw_put_uint(&di, 1, DRAINING);
    pbw_put_bytes(&di, 2, cfg.data, cfg.len);
    struct drain_change *dc = xcalloc(1, sizeof *dc + cfg.len + 1);
    snprintf(dc->id, sizeof dc->id, "%s", id);
    dc->len = cfg.len;
    memcpy(dc->cfg, cfg.data, cfg.len);
    struct registry_op ops[3] = { { REGISTRY_SET_DRAIN, id, di.data, di.len },
                                  { REGISTRY_DEACTIVATE_AGENT, id, NULL, 0 },
                                  { REGISTRY_ADD_MIN_CAPABILITY, "AGENT_DRAINING", NULL, 0 } };
    persist_call(c, ops, 3, drain_stored, dc);
    buf_free(&di);
    buf_free(&cfg);
}

static int deactivate_stored(struct master *m, void *data, struct api_ctx *c)
{
    (void)c;
    agent_set_deactivated(m, data, 1);
    return 0;
}

static int reactivate_stored(struct master *m, void *data, struct api_ctx *c)
{
    const char *id = data;
    agent_set_deactivated(m, id, 0);
    if (!agents_find(m, id, strlen(id))) {
        if (c) api_error(c, 409, "Agent removed while processing the call");
        return 1;
    }
    return 0;
}

void op_deactivate_agent(struct api_ctx *c)
{
    struct master *m = c->state;
    char id[96];
    sub_agent(c, id, sizeof id);
    if (!known(m, id)) {
        api_error(c, 400, "Unknown agent");
        return;
    }
    persist_call(c, &(struct registry_op){ REGISTRY_DEACTIVATE_AGENT, id, NULL, 0 }, 1, deactivate_stored,
                 xstrdup(id));
}

void op_reactivate_agent(struct api_ctx *c)
{
    struct master *m = c->state;
    char id[96];
    sub_agent(c, id, sizeof id);
    struct agent_drain *d = find_drain(m, id, 0);
    if (!d || !d->deactivated) {
        api_error(c, 400, "Agent is not deactivated");
        return;
    }
    if (d->state == DRAINING) {
        api_error(c, 400, "Agent is still in the DRAINING state");
        return;
    }
    struct registry_op ops[2] = { { REGISTRY_REACTIVATE_AGENT, id, NULL, 0 }, { REGISTRY_SET_DRAIN, id, "", 0 } };
    persist_call(c, ops, 2, reactivate_stored, xstrdup(id));
}

void op_mark_agent_gone(struct api_ctx *c)
{
    struct master *m = c->state;
    char id[96];
    sub_agent(c, id, sizeof id);
    if (master_is_gone(m, id, strlen(id))) {
        api_empty(c, 200);
        return;
    }
    if (!known(m, id)) {
        api_error(c, 404, "Agent '%s' not found", id);
        return;
    }
    agent_mark_gone(m, id);
    api_empty(c, 200);
}

void op_teardown(struct api_ctx *c)
{
    struct master *m = c->state;
    char id[160];
    if (pbw_get_id(c->sub, c->sub_len, 1, id, sizeof id) < 0) id[0] = 0;
    struct framework *f = sched_find(m, id);
    if (!f) {
        api_error(c, 400, "No framework found with specified ID");
        return;
    }
    LOG("Processing TEARDOWN call for framework %s", id);
    api_empty(c, 200);
    sched_teardown(m, f);
}
