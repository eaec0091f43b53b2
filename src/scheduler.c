/* scheduler.c -- the master's v1 Scheduler HTTP API (POST /api/v1/scheduler):
 * frameworks, their subscription streams, offers, and the allocator.
 *
 * A framework subscribes and keeps a RecordIO stream open (Mesos-Stream-Id
 * header); every other call is its own request carrying that stream id and
 * answers 202, its results arriving as events on the stream. The allocator
 * runs every --allocation_interval: for each agent it offers what is neither
 * used by tasks nor offered already, to the framework with the lowest
 * dominant share (DRF over cpus, mem, disk and gpus) that is not suppressed
 * and has no decline filter for that agent. Checks and texts follow
 * OPERATOR_API.md section 6. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include "log.h"
#include "master.h"
#include "pbdesc.h"
#include "pbjson.h"
#include "pbw.h"
#include "resources.h"
#include "util.h"

#define HEARTBEAT_MS 15000

enum { EV_SUBSCRIBED = 1, EV_OFFERS = 2, EV_RESCIND = 3, EV_UPDATE = 4, EV_ERROR = 7, EV_HEARTBEAT = 8 };
enum { C_SUBSCRIBE = 1, C_TEARDOWN = 2, C_ACCEPT = 3, C_DECLINE = 4, C_REVIVE = 5, C_KILL = 6, C_SHUTDOWN = 7,
       C_ACKNOWLEDGE = 8, C_RECONCILE = 9, C_MESSAGE = 10, C_REQUEST = 11, C_SUPPRESS = 12,
       C_ACCEPT_INVERSE = 13, C_DECLINE_INVERSE = 14, C_ACK_OPERATION = 15, C_RECONCILE_OPERATIONS = 16,
       C_UPDATE_FRAMEWORK = 17 };

struct decline {
    struct decline *next;
    char agent_id[96];
    uint64_t until_ms;
};

struct framework *sched_find(struct master *m, const char *id)
{
    for (struct framework *f = m->frameworks; f; f = f->next)
        if (strcmp(f->id, id) == 0) return f;
    return NULL;
}

/* ==== Events ============================================================ */

static void drop_stream(struct framework *f);

static void send_event(struct framework *f, struct buf *ev)
{
    if (!f->stream) return;
    if (api_stream_event(&f->m->sched_api, f->stream, f->json, ev->data, ev->len) < 0) {
        /* The server cut a reader that fell too far behind. */
        f->stream = NULL;
        drop_stream(f);
    }
}

void sched_send_event(struct framework *f, const struct buf *ev)
{
    send_event(f, (struct buf *)ev);
}

void sched_forward_update(struct master *m, const char *framework_id, const uint8_t *status, size_t n)
{
    struct framework *f = sched_find(m, framework_id);
    if (!f || !f->stream) return;
    struct buf ev = {0};
    pbw_put_uint(&ev, 1, EV_UPDATE);
    size_t k = pbw_begin(&ev, 5);
    pbw_put_bytes(&ev, 1, status, n);
    pbw_end(&ev, k);
    send_event(f, &ev);
    buf_free(&ev);
}

/* A master-generated update (SOURCE_MASTER, no uuid: not to be acknowledged). */
static void master_update(struct framework *f, const char *task_id, const char *agent_id, int state,
                          int reason, const char *message)
{
    struct buf st = {0};
    pbw_put_id(&st, 1, task_id);
    pbw_put_uint(&st, 2, (uint64_t)state);
    if (message) pbw_put_str(&st, 4, message);
    pbw_put_uint(&st, 9, 0);                            /* SOURCE_MASTER */
    if (reason >= 0) pbw_put_uint(&st, 10, (uint64_t)reason);
    if (agent_id && agent_id[0]) pbw_put_id(&st, 5, agent_id);
    pbw_put_double(&st, 6, now_secs());
    sched_forward_update(f->m, f->id, (const uint8_t *)st.data, st.len);
    buf_free(&st);
}

int sched_task_lost(struct master *m, const char *framework_id, const char *task_id, const char *agent_id)
{
    struct framework *f = sched_find(m, framework_id);
    if (!f) return 10;
    /* Partition-aware frameworks learn the truth; the others get TASK_LOST,
     * as upstream does. REASON_AGENT_REMOVED is 11. */
    int state = f->partition_aware ? 10 : 5;
    master_update(f, task_id, agent_id, state, 11, "Agent is unreachable");
    return state;
}

void sched_executor_exited(struct master *m, const char *framework_id, const char *agent_id,
                           const char *executor_id, int status)
{
    struct framework *f = sched_find(m, framework_id);
    if (!f) return;
    struct buf ev = {0};
    pbw_put_uint(&ev, 1, 6);                            /* FAILURE */
    size_t k = pbw_begin(&ev, 7);
    pbw_put_id(&ev, 1, agent_id);
    pbw_put_id(&ev, 2, executor_id);
    pbw_put_int32(&ev, 3, status);
    pbw_end(&ev, k);
    send_event(f, &ev);
    buf_free(&ev);
}

/* ==== Offers ============================================================ */

static void offer_free(struct offer *o)
{
    resources_free(&o->res);
    free(o);
}

/* Remove an offer; tell the framework with RESCIND when asked to. */
static void remove_offer(struct master *m, struct offer *o, int rescind)
{
    struct offer **pp = &m->offers;
    while (*pp && *pp != o) pp = &(*pp)->next;
    if (!*pp) return;
    *pp = o->next;
    m->noffers--;
    if (rescind) {
        struct buf ev = {0};
        pbw_put_uint(&ev, 1, EV_RESCIND);
        size_t k = pbw_begin(&ev, 4);
        pbw_put_id(&ev, 1, o->id);
        pbw_end(&ev, k);
        send_event(o->f, &ev);
        buf_free(&ev);
    }
    offer_free(o);
}

static void add_decline(struct framework *f, const char *agent_id, double secs);

void sched_rescind_offer(struct master *m, struct offer *o, double refuse_secs)
{
    add_decline(o->f, o->a->id, refuse_secs);
    remove_offer(m, o, 1);
}

static struct offer *find_offer(struct master *m, const char *id, size_t n)
{
    for (struct offer *o = m->offers; o; o = o->next)
        if (strlen(o->id) == n && memcmp(o->id, id, n) == 0) return o;
    return NULL;
}

void sched_agent_removed(struct master *m, struct agent *a)
{
    for (struct offer *o = m->offers, *next; o; o = next) {
        next = o->next;
        if (o->a == a) remove_offer(m, o, 1);
    }
}

void sched_offered(struct master *m, struct agent *a, void *out)
{
    for (struct offer *o = m->offers; o; o = o->next)
        if (o->a == a) resources_add(out, &o->res);
}

/* What an agent can still offer: total - used by tasks - offered. */
static void available(struct master *m, struct agent *a, struct resources *out)
{
    struct resources used = {0}, offered = {0};
    agents_total(a, out);
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

static void add_decline(struct framework *f, const char *agent_id, double secs)
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

static void encode_offer(struct offer *o, uint32_t tag, struct buf *out);

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

    struct buf ev = {0};
    pbw_put_uint(&ev, 1, EV_OFFERS);
    size_t k = pbw_begin(&ev, 3);
    encode_offer(o, 1, &ev);
    pbw_end(&ev, k);
    send_event(f, &ev);
    buf_free(&ev);
}

/* An Offer as field `tag` of `ev`, in the framework's resource format. */
static void encode_offer(struct offer *o, uint32_t tag, struct buf *out)
{
    struct framework *f = o->f;
    struct agent *a = o->a;
    size_t of = pbw_begin(out, tag);
    pbw_put_id(out, 1, o->id);
    pbw_put_id(out, 2, f->id);
    pbw_put_id(out, 3, a->id);
    struct pbw_field hn;
    if (pbw_find(a->info.data, a->info.len, 1, &hn) == 1) pbw_put_bytes(out, 4, hn.p, hn.n);
    struct resources enc = {0};
    resources_copy(&enc, &o->res);
    if (!f->multi_role) resources_unallocate(&enc);
    resources_encode(&enc, 5, ops_offer_format(f), out);
    resources_free(&enc);
    struct pbw_reader r;
    struct pbw_field at;
    pbw_reader_init(&r, a->info.data, a->info.len);
    while (pbw_next(&r, &at) == 1)
        if (at.tag == 5 && at.wt == PBW_LEN) pbw_put_bytes(out, 7, at.p, at.n);   /* attributes */
    size_t u = pbw_begin(out, 8);                         /* url */
    pbw_put_str(out, 1, "http");
    size_t ad = pbw_begin(out, 2);
    if (hn.n) pbw_put_bytes(out, 1, hn.p, hn.n);
    pbw_put_str(out, 2, a->pid.host);
    pbw_put_int32(out, 3, a->pid.port);
    pbw_end(out, ad);
    pbw_put_str(out, 3, "/slave(1)");
    pbw_end(out, u);
    if (f->multi_role) {
        size_t ai = pbw_begin(out, 10);
        pbw_put_str(out, 1, f->role);
        pbw_end(out, ai);
    }
    pbw_end(out, of);
}

static void allocate(struct master *m)
{
    /* --offer_timeout: offers outstanding that long are rescinded. */
    struct flag *ot = flags_find(m->flags, m->nflags, "offer_timeout");
    if (ot && ot->present && ot->i > 0) {
        uint64_t limit = (uint64_t)ot->i / 1000000, now_ms = loop_clock_ms();
        for (struct offer *o = m->offers, *next; o; o = next) {
            next = o->next;
            if (now_ms - o->made_ms >= limit) remove_offer(m, o, 1);
        }
    }
    /* No framework can take an offer: skip the work below, which walks
     * every agent and task and would otherwise follow every registration. */
    int wanted = 0;
    for (struct framework *f = m->frameworks; f && !wanted; f = f->next) wanted = f->stream && !f->suppressed;
    if (!wanted) return;
    struct resources cluster = {0};
    for (struct agent *a = m->agents; a; a = a->next) agents_total(a, &cluster);
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
                if (!f->stream || f->suppressed || declined(f, a, now) || !ops_role_can_use(&avail, f->role)) continue;
                double rs = role_share(m, f->role, total), fs = share(f->use, total);
                if (!best || rs < best_role || (rs == best_role && fs < best_fw)) {
                    best = f;
                    best_role = rs;
                    best_fw = fs;
                }
            }
            if (best) {
                ops_keep_offerable(&avail, best->role);   /* reserved resources go to their role only */
                make_offer(m, best, a, &avail);
                add_use(best->use, &avail);
            }
        }
        resources_free(&avail);
    }
    resources_free(&cluster);
}

void sched_rescind_all(struct master *m)
{
    while (m->offers) remove_offer(m, m->offers, 1);
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

/* ==== Frameworks ======================================================== */

static void heartbeat_cb(struct loop *l, struct loop_timer *t)
{
    struct framework *f = container_of(t, struct framework, heartbeat);
    struct buf ev = {0};
    pbw_put_uint(&ev, 1, EV_HEARTBEAT);
    send_event(f, &ev);
    buf_free(&ev);
    if (f->stream) loop_timer_start(l, t, HEARTBEAT_MS);
}

static void remove_framework(struct master *m, struct framework *f)
{
    LOG("Removing framework %s", f->id);
    for (struct offer *o = m->offers, *next; o; o = next) {
        next = o->next;
        if (o->f == f) remove_offer(m, o, 0);
    }
    /* Its tasks are killed on the agents. */
    struct buf msg = {0};
    pbw_put_id(&msg, 1, f->id);
    for (struct agent *a = m->agents; a; a = a->next) {
        int has = 0;
        for (struct mtask *t = a->tasks; t; t = t->next) has |= strcmp(t->framework_id, f->id) == 0;
        if (has) wire_send(m->wire, &a->pid, "mesos.internal.ShutdownFrameworkMessage", msg.data, msg.len);
    }
    buf_free(&msg);
    agents_framework_removed(m, f->id);
    if (f->stream) {
        f->stream->on_close = NULL;
        server_stream_end(f->stream);
        f->stream = NULL;
    }
    loop_timer_stop(m->loop, &f->heartbeat);
    loop_timer_stop(m->loop, &f->failover);
    struct framework **pp = &m->frameworks;
    while (*pp && *pp != f) pp = &(*pp)->next;
    if (*pp) *pp = f->next;
    m->nframeworks--;
    while (f->declines) {
        struct decline *d = f->declines;
        f->declines = d->next;
        free(d);
    }
    /* Remembered as completed (GET_FRAMEWORKS), the oldest forgotten past
     * --max_completed_frameworks. */
    f->unregistered_time = now_secs();
    events_framework_removed(m, f);
    f->next = m->completed_frameworks;
    m->completed_frameworks = f;
    struct flag *fl = flags_find(m->flags, m->nflags, "max_completed_frameworks");
    size_t max = fl && fl->i >= 0 ? (size_t)fl->i : 50;
    if (++m->ncompleted_frameworks > max) {
        struct framework **last = &m->completed_frameworks;
        while ((*last)->next) last = &(*last)->next;
        buf_free(&(*last)->info);
        free(*last);
        *last = NULL;
        m->ncompleted_frameworks--;
    }
}

static void failover_cb(struct loop *l, struct loop_timer *t)
{
    (void)l;
    struct framework *f = container_of(t, struct framework, failover);
    LOG("Framework %s did not come back within its failover timeout", f->id);
    remove_framework(f->m, f);
}

/* The framework lost its stream: it stays for its failover_timeout. */
static void drop_stream(struct framework *f)
{
    struct master *m = f->m;
    LOG("Framework %s disconnected", f->id);
    loop_timer_stop(m->loop, &f->heartbeat);
    for (struct offer *o = m->offers, *next; o; o = next) {
        next = o->next;
        if (o->f == f) remove_offer(m, o, 0);
    }
    loop_timer_start(m->loop, &f->failover, (uint64_t)(f->failover_timeout * 1000));
}

static void stream_closed(struct request *r, void *arg)
{
    (void)r;
    struct framework *f = arg;
    f->stream = NULL;
    drop_stream(f);
}

/* Read the parts of FrameworkInfo the master acts on. */
static void read_info(struct framework *f)
{
    const uint8_t *p = (const uint8_t *)f->info.data;
    size_t n = f->info.len;
    struct pbw_field x, ct;
    struct pbw_reader r;
    snprintf(f->role, sizeof f->role, "*");
    f->failover_timeout = 0;
    f->multi_role = f->partition_aware = 0;
    pbw_reader_init(&r, p, n);
    while (pbw_next(&r, &x) == 1) {
        if ((x.tag == 6 || x.tag == 12) && x.wt == PBW_LEN)            /* role, roles[0] */
            snprintf(f->role, sizeof f->role, "%.*s", (int)x.n, (const char *)x.p);
        else if (x.tag == 4 && x.wt == PBW_I64) memcpy(&f->failover_timeout, &x.v, 8);
        else if (x.tag == 10 && x.wt == PBW_LEN && pbw_find(x.p, x.n, 1, &ct) == 1) {
            if (ct.v == 6) f->multi_role = 1;                         /* MULTI_ROLE */
            if (ct.v == 5) f->partition_aware = 1;                    /* PARTITION_AWARE */
        }
    }
    if (!(f->failover_timeout >= 0) || f->failover_timeout > 1e9) f->failover_timeout = 0;
}

/* Take a FrameworkInfo: its own id field replaced by ours. */
static void set_info(struct framework *f, const uint8_t *p, size_t n)
{
    buf_reset(&f->info);
    pbw_copy_except(&f->info, p, n, 3);
    pbw_put_id(&f->info, 3, f->id);
    read_info(f);
}

static void subscribe(struct api_ctx *c, const uint8_t *p, size_t n)
{
    struct master *m = c->state;
    struct request *r = c->r;
    struct pbw_field sub, fi;
    if (request_header(r, "Mesos-Stream-Id", NULL)) {
        api_error(c, 400, "Subscribe calls should not include the 'Mesos-Stream-Id' header");
        return;
    }
    if (pbw_find(p, n, 3, &sub) != 1 || pbw_find(sub.p, sub.n, 1, &fi) != 1) {
        api_error(c, 400, "Failed to validate scheduler::Call: Expecting 'subscribe' to be present");
        return;
    }
    char call_fw[160] = "", info_fw[160] = "";
    pbw_get_id(p, n, 1, call_fw, sizeof call_fw);
    pbw_get_id(fi.p, fi.n, 3, info_fw, sizeof info_fw);
    if (call_fw[0] && strcmp(call_fw, info_fw) != 0) {
        api_error(c, 400, "Failed to validate scheduler::Call: 'framework_id' differs from 'subscribe.framework_info.id'");
        return;
    }
    int json = request_accepts(r, "Accept", "application/json");
    if (!json && !request_accepts(r, "Accept", "application/x-protobuf")) {
        api_error(c, 406, "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'");
        return;
    }
    struct framework *f = info_fw[0] ? sched_find(m, info_fw) : NULL;
    int removed = 0;
    for (struct framework *d = m->completed_frameworks; d && info_fw[0] && !f; d = d->next)
        removed |= strcmp(d->id, info_fw) == 0;
    if (removed) {
        /* The first event is ERROR, and the stream ends. */
        char hdr[80], sid[37];
        uuid_text(sid);
        snprintf(hdr, sizeof hdr, "Mesos-Stream-Id: %s\r\n", sid);
        server_stream_begin(r, hdr, json ? "application/json" : "application/x-protobuf");
        struct buf ev = {0};
        pbw_put_uint(&ev, 1, EV_ERROR);
        size_t k = pbw_begin(&ev, 8);
        pbw_put_str(&ev, 1, "Framework has been removed");
        pbw_end(&ev, k);
        if (api_stream_event(&m->sched_api, r, json, ev.data, ev.len) == 0) server_stream_end(r);
        buf_free(&ev);
        api_done(c);
        return;
    }
    if (f && f->stream) {
        /* Failover: the old connection learns why it ends. */
        struct buf ev = {0};
        pbw_put_uint(&ev, 1, EV_ERROR);
        size_t k = pbw_begin(&ev, 8);
        pbw_put_str(&ev, 1, "Framework failed over");
        pbw_end(&ev, k);
        send_event(f, &ev);
        buf_free(&ev);
        if (f->stream) {
            f->stream->on_close = NULL;
            server_stream_end(f->stream);
            f->stream = NULL;
        }
    }
    int added = !f;
    if (!f) {
        f = xcalloc(1, sizeof *f);
        f->m = m;
        if (info_fw[0]) snprintf(f->id, sizeof f->id, "%s", info_fw);   /* known to agents, not to us */
        else snprintf(f->id, sizeof f->id, "%s-%04llu", m->id, (unsigned long long)m->next_framework++);
        loop_timer_init(&f->heartbeat, heartbeat_cb);
        loop_timer_init(&f->failover, failover_cb);
        f->next = m->frameworks;
        m->frameworks = f;
        m->nframeworks++;
        f->registered_time = now_secs();
        LOG("Framework %s subscribed", f->id);
    } else {
        f->reregistered_time = now_secs();
        LOG("Framework %s re-subscribed", f->id);
    }
    set_info(f, fi.p, fi.n);
    loop_timer_stop(m->loop, &f->failover);
    uuid_text(f->stream_id);
    f->json = json;
    f->stream = r;
    r->on_close = stream_closed;
    r->on_close_arg = f;
    char hdr[80];
    snprintf(hdr, sizeof hdr, "Mesos-Stream-Id: %s\r\n", f->stream_id);
    server_stream_begin(r, hdr, json ? "application/json" : "application/x-protobuf");
    api_done(c);

    struct buf ev = {0};
    pbw_put_uint(&ev, 1, EV_SUBSCRIBED);
    size_t k = pbw_begin(&ev, 2);
    pbw_put_id(&ev, 1, f->id);
    pbw_put_double(&ev, 2, HEARTBEAT_MS / 1000.0);
    pbw_end(&ev, k);
    send_event(f, &ev);
    buf_reset(&ev);
    pbw_put_uint(&ev, 1, EV_HEARTBEAT);                   /* one at once, then every 15 s */
    send_event(f, &ev);
    buf_free(&ev);
    if (f->stream) loop_timer_start(m->loop, &f->heartbeat, HEARTBEAT_MS);
    /* FRAMEWORK_ADDED for a new one; FRAMEWORK_UPDATED for a known one, and
     * after the ADDED of one that brings an id we did not know. */
    if (added) events_framework_added(m, f);
    if (!added || info_fw[0]) events_framework_updated(m, f);
    sched_trigger(m);
}

/* ==== ACCEPT ============================================================ */

/* Launch one task (TaskInfo bytes) from the offered resources `pool`. */
static void launch_task(struct master *m, struct framework *f, struct agent *a, const uint8_t *ti, size_t n,
                        struct resources *pool)
{
    char tid[256] = "";
    pbw_get_id(ti, n, 2, tid, sizeof tid);
    struct resources need = {0};
    struct buf err = { .max = 4096 };
    struct pbw_field cmd, ex;
    int has_cmd = pbw_find(ti, n, 7, &cmd) == 1, has_ex = pbw_find(ti, n, 5, &ex) == 1;
    const char *why = NULL;
    char whybuf[600];
    if (!tid[0]) why = "Task has no id";
    else if (has_cmd == has_ex) why = "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present";
    else if (resources_decode_field(ti, n, 4, &need, &err) < 0) {
        snprintf(whybuf, sizeof whybuf, "Task uses invalid resources: %.*s", (int)err.len, err.data);
        why = whybuf;
    } else {
        for (struct agent *b = m->agents; b && !why; b = b->next)
            for (struct mtask *t = b->tasks; t; t = t->next)
                if (strcmp(t->task_id, tid) == 0 && strcmp(t->framework_id, f->id) == 0) {
                    why = "Task has duplicate ID";
                    break;
                }
        resources_allocate(&need, f->role);
        if (!why && !resources_contains(pool, &need)) why = "Task uses more resources than available in the offer";
    }
    if (why) {
        LOG_WARN("Dropping task %s of framework %s: %s", tid, f->id, why);
        /* TASK_ERROR with REASON_TASK_INVALID (14), as validation failures are. */
        master_update(f, tid, a->id, 7, 14, why);
    } else {
        resources_subtract(pool, &need);
        agents_add_task(m, a, f->id, ti, n);
        if (has_ex) agents_add_executor(a, f->id, ex.p, ex.n);
        /* RunTaskMessage {framework 2, pid 3, task 4}. The task must name
         * its agent; it does, as the offer's. */
        struct buf msg = {0};
        pbw_put_id(&msg, 1, f->id);
        pbw_put_bytes(&msg, 2, f->info.data, f->info.len);
        char pid[300];
        snprintf(pid, sizeof pid, "scheduler-%.160s@%.64s:%d", f->id, m->ip, m->port);
        pbw_put_str(&msg, 3, pid);
        pbw_put_bytes(&msg, 4, ti, n);
        wire_send(m->wire, &a->pid, "mesos.internal.RunTaskMessage", msg.data, msg.len);
        buf_free(&msg);
        LOG("Launching task %s of framework %s on agent %s", tid, f->id, a->id);
    }
    resources_free(&need);
    buf_free(&err);
}

static void accept_offers(struct api_ctx *c, struct framework *f, const uint8_t *p, size_t n)
{
    struct master *m = c->state;
    struct pbw_field acc, x;
    if (pbw_find(p, n, 4, &acc) != 1) {
        api_error(c, 400, "Failed to validate scheduler::Call: Expecting 'accept' to be present");
        return;
    }
    api_empty(c, 202);
    /* The offers: all must be valid, outstanding, this framework's, on one agent. */
    struct resources pool = {0};
    struct agent *agent = NULL;
    const char *invalid = NULL;
    struct pbw_reader r;
    pbw_reader_init(&r, acc.p, acc.n);
    int noffers = 0;
    while (pbw_next(&r, &x) == 1) {
        if (x.tag != 1 || x.wt != PBW_LEN) continue;
        struct pbw_field v;
        if (pbw_find(x.p, x.n, 1, &v) != 1) continue;
        struct offer *o = find_offer(m, (const char *)v.p, v.n);
        noffers++;
        if (!o || o->f != f) { invalid = "Offer is no longer valid"; continue; }
        if (agent && o->a != agent) invalid = "Aggregated offers must belong to one single agent";
        agent = o->a;
        resources_add(&pool, &o->res);
        remove_offer(m, o, 0);
    }
    if (!noffers) invalid = "No offers specified";
    double refuse = 5;
    struct pbw_field fl, rs;
    if (pbw_find(acc.p, acc.n, 3, &fl) == 1 && pbw_find(fl.p, fl.n, 1, &rs) == 1 && rs.wt == PBW_I64)
        memcpy(&refuse, &rs.v, 8);
    pbw_reader_init(&r, acc.p, acc.n);
    while (pbw_next(&r, &x) == 1) {
        if (x.tag != 2 || x.wt != PBW_LEN) continue;
        struct pbw_field type, op, t;
        int ty = pbw_find(x.p, x.n, 1, &type) == 1 ? (int)type.v : 0;
        if (ty != 1 && ty != 6) {                         /* RESERVE, CREATE, ... (operations.c) */
            ops_accept(m, f, agent, invalid, x.p, x.n, &pool);
            continue;
        }
        if (ty == 1 && pbw_find(x.p, x.n, 2, &op) == 1) {         /* LAUNCH {task_infos 1} */
            struct pbw_reader tr;
            pbw_reader_init(&tr, op.p, op.n);
            while (pbw_next(&tr, &t) == 1) {
                if (t.tag != 1 || t.wt != PBW_LEN) continue;
                char tid[256] = "";
                pbw_get_id(t.p, t.n, 2, tid, sizeof tid);
                if (invalid || !agent) {
                    /* REASON_INVALID_OFFERS (6): TASK_DROPPED, or TASK_LOST for
                     * frameworks that are not partition-aware. */
                    master_update(f, tid, NULL, f->partition_aware ? 9 : 5, 6, invalid ? invalid : "No agent");
                    continue;
                }
                struct pbw_field oid;
                if (pbw_find(x.p, x.n, 12, &oid) == 1) {       /* no operation feedback for LAUNCH */
                    master_update(f, tid, agent->id, 7, 14, "The `id` field cannot be set on LAUNCH operations");
                    continue;
                }
                launch_task(m, f, agent, t.p, t.n, &pool);
            }
        } else if (ty == 6 && pbw_find(x.p, x.n, 7, &op) == 1 && agent && !invalid) {   /* LAUNCH_GROUP */
            struct pbw_field exi, tg;
            if (pbw_find(op.p, op.n, 1, &exi) != 1 || pbw_find(op.p, op.n, 2, &tg) != 1) continue;
            struct buf msg = {0};
            pbw_put_bytes(&msg, 1, f->info.data, f->info.len);
            pbw_put_bytes(&msg, 2, exi.p, exi.n);
            pbw_put_bytes(&msg, 3, tg.p, tg.n);
            struct pbw_reader tr;
            pbw_reader_init(&tr, tg.p, tg.n);
            while (pbw_next(&tr, &t) == 1)
                if (t.tag == 1 && t.wt == PBW_LEN) {
                    struct resources need = {0};
                    struct buf err = { .max = 4096 };
                    resources_decode_field(t.p, t.n, 4, &need, &err);
                    resources_allocate(&need, f->role);
                    resources_subtract(&pool, &need);
                    agents_add_task(m, agent, f->id, t.p, t.n);
                    resources_free(&need);
                    buf_free(&err);
                }
            agents_add_executor(agent, f->id, exi.p, exi.n);
            wire_send(m->wire, &agent->pid, "mesos.internal.RunTaskGroupMessage", msg.data, msg.len);
            buf_free(&msg);
        }
    }
    /* What was not used goes back, refused to this framework for a while. */
    if (agent) add_decline(f, agent->id, refuse);
    resources_free(&pool);
}

/* ==== Other calls ======================================================= */

static void decline_offers(struct master *m, struct framework *f, const uint8_t *p, size_t n)
{
    struct pbw_field dec, x, v, fl, rs;
    if (pbw_find(p, n, 5, &dec) != 1) return;
    double refuse = 5;
    if (pbw_find(dec.p, dec.n, 2, &fl) == 1 && pbw_find(fl.p, fl.n, 1, &rs) == 1 && rs.wt == PBW_I64)
        memcpy(&refuse, &rs.v, 8);
    struct pbw_reader r;
    pbw_reader_init(&r, dec.p, dec.n);
    while (pbw_next(&r, &x) == 1) {
        if (x.tag != 1 || pbw_find(x.p, x.n, 1, &v) != 1) continue;
        struct offer *o = find_offer(m, (const char *)v.p, v.n);
        if (!o || o->f != f) continue;
        add_decline(f, o->a->id, refuse);
        remove_offer(m, o, 0);
    }
}

static struct mtask *find_task(struct master *m, const char *fw, const char *tid, struct agent **ao)
{
    for (struct agent *a = m->agents; a; a = a->next)
        for (struct mtask *t = a->tasks; t; t = t->next)
            if (strcmp(t->task_id, tid) == 0 && strcmp(t->framework_id, fw) == 0) {
                if (ao) *ao = a;
                return t;
            }
    return NULL;
}

/* Reconciliation: the master's view, SOURCE_MASTER, REASON_RECONCILIATION (9). */
static void reconcile(struct master *m, struct framework *f, const uint8_t *p, size_t n)
{
    struct pbw_field rec, x;
    int explicit = 0;
    if (pbw_find(p, n, 9, &rec) == 1) {
        struct pbw_reader r;
        pbw_reader_init(&r, rec.p, rec.n);
        while (pbw_next(&r, &x) == 1) {
            if (x.tag != 1 || x.wt != PBW_LEN) continue;
            explicit = 1;
            char tid[256], aid[96] = "";
            if (pbw_get_id(x.p, x.n, 1, tid, sizeof tid) < 0) continue;
            pbw_get_id(x.p, x.n, 2, aid, sizeof aid);
            struct agent *a = NULL;
            struct mtask *t = find_task(m, f->id, tid, &a);
            if (t) master_update(f, tid, a->id, t->state, 9, "Reconciliation: Latest task state");
            else {
                int known = aid[0] && agents_find(m, aid, strlen(aid));
                int state = f->partition_aware ? (known ? 11 : 13) : 5;   /* GONE / UNKNOWN / LOST */
                master_update(f, tid, aid, state, 9, known ? "Reconciliation: Task is unknown to the agent"
                                                           : "Reconciliation: Task is unknown");
            }
        }
    }
    if (!explicit)
        for (struct agent *a = m->agents; a; a = a->next)
            for (struct mtask *t = a->tasks; t; t = t->next)
                if (strcmp(t->framework_id, f->id) == 0)
                    master_update(f, t->task_id, a->id, t->state, 9, "Reconciliation: Latest task state");
}

static void sched_handle(struct api_ctx *c);

static const struct call sched_calls[] = {
    { "SUBSCRIBE", sched_handle, CALL_STREAM }, { "TEARDOWN", sched_handle, CALL_WRITE },
    { "ACCEPT", sched_handle, CALL_WRITE }, { "DECLINE", sched_handle, CALL_WRITE },
    { "ACCEPT_INVERSE_OFFERS", sched_handle, CALL_WRITE }, { "DECLINE_INVERSE_OFFERS", sched_handle, CALL_WRITE },
    { "REVIVE", sched_handle, CALL_WRITE }, { "KILL", sched_handle, CALL_WRITE },
    { "SHUTDOWN", sched_handle, CALL_WRITE }, { "ACKNOWLEDGE", sched_handle, CALL_WRITE },
    { "ACKNOWLEDGE_OPERATION_STATUS", sched_handle, CALL_WRITE }, { "RECONCILE", sched_handle, CALL_WRITE },
    { "RECONCILE_OPERATIONS", sched_handle, CALL_WRITE }, { "MESSAGE", sched_handle, CALL_WRITE },
    { "REQUEST", sched_handle, CALL_WRITE }, { "SUPPRESS", sched_handle, CALL_WRITE },
    { "UPDATE_FRAMEWORK", sched_handle, CALL_WRITE },
};

static void handle(struct api_ctx *c, const uint8_t *p, size_t n);

/* Every scheduler call comes here after api.c decoded and validated it.
 * Calls answer 202 before they act, and answering frees the context and
 * the Call bytes in it: the handler works on its own copy. */
static void sched_handle(struct api_ctx *c)
{
    struct buf call = {0};
    buf_append(&call, c->call, c->call_len);
    handle(c, (const uint8_t *)(call.data ? call.data : ""), call.len);
    buf_free(&call);
}

static void handle(struct api_ctx *c, const uint8_t *p, size_t n)
{
    struct master *m = c->state;
    if (c->type == C_SUBSCRIBE) { subscribe(c, p, n); return; }

    char fw[160];
    if (pbw_get_id(p, n, 1, fw, sizeof fw) < 0) {
        api_error(c, 400, "Failed to validate scheduler::Call: Expecting 'framework_id' to be present");
        return;
    }
    if (sched_calls_validate(c, p, n) < 0) return;
    struct framework *f = sched_find(m, fw);
    size_t sl;
    const char *sid = request_header(c->r, "Mesos-Stream-Id", &sl);
    if (!f) { api_error(c, 400, "Framework cannot be found"); return; }
    if (!f->stream) { api_error(c, 403, "Framework is not subscribed"); return; }
    if (!sid) { api_error(c, 400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header"); return; }
    if (sl != strlen(f->stream_id) || memcmp(sid, f->stream_id, sl) != 0) {
        api_error(c, 400, "The stream ID '%.*s' included in this request didn't match the stream ID currently "
                          "associated with framework ID %s", (int)(sl > 64 ? 64 : sl), sid, f->id);
        return;
    }
    struct pbw_field x, y;
    switch (c->type) {
    case C_TEARDOWN:
        api_empty(c, 202);
        remove_framework(m, f);
        return;
    case C_ACCEPT:
        accept_offers(c, f, p, n);
        return;
    case C_DECLINE:
        api_empty(c, 202);
        decline_offers(m, f, p, n);
        return;
    case C_REVIVE:
        f->suppressed = 0;
        while (f->declines) { struct decline *d = f->declines; f->declines = d->next; free(d); }
        api_empty(c, 202);
        sched_trigger(m);
        return;
    case C_SUPPRESS:
        f->suppressed = 1;
        api_empty(c, 202);
        return;
    case C_KILL: {
        char tid[256];
        if (pbw_find(p, n, 6, &x) != 1 || pbw_get_id(x.p, x.n, 1, tid, sizeof tid) < 0) {
            api_error(c, 400, "Failed to validate scheduler::Call: Expecting 'kill' to be present");
            return;
        }
        api_empty(c, 202);
        struct agent *a;
        struct mtask *t = find_task(m, f->id, tid, &a);
        if (!t) {
            /* Unknown to the master: answer as an explicit reconciliation. */
            struct buf rc = {0};
            size_t k = pbw_begin(&rc, 9);
            size_t tk = pbw_begin(&rc, 1);
            buf_append(&rc, x.p, x.n);
            pbw_end(&rc, tk);
            pbw_end(&rc, k);
            reconcile(m, f, (const uint8_t *)rc.data, rc.len);
            buf_free(&rc);
            return;
        }
        struct buf msg = {0};
        pbw_put_id(&msg, 1, f->id);
        pbw_put_id(&msg, 2, tid);
        if (pbw_find(x.p, x.n, 3, &y) == 1) pbw_put_bytes(&msg, 3, y.p, y.n);
        wire_send(m->wire, &a->pid, "mesos.internal.KillTaskMessage", msg.data, msg.len);
        buf_free(&msg);
        return;
    }
    case C_ACKNOWLEDGE: {
        char aid[96], tid[256];
        struct pbw_field u;
        if (pbw_find(p, n, 8, &x) != 1 || pbw_get_id(x.p, x.n, 1, aid, sizeof aid) < 0 ||
            pbw_get_id(x.p, x.n, 2, tid, sizeof tid) < 0 || pbw_find(x.p, x.n, 3, &u) != 1) {
            api_error(c, 400, "Failed to validate scheduler::Call: Expecting 'acknowledge' to be present");
            return;
        }
        if (u.n != 16) {
            api_error(c, 400, "Failed to validate scheduler::Call: Not a valid UUID");
            return;
        }
        api_empty(c, 202);
        struct agent *a = agents_find(m, aid, strlen(aid));
        if (!a) return;                                  /* dropped, as upstream */
        struct buf msg = {0};
        pbw_put_id(&msg, 1, aid);
        pbw_put_id(&msg, 2, f->id);
        pbw_put_id(&msg, 3, tid);
        pbw_put_bytes(&msg, 4, u.p, u.n);
        wire_send(m->wire, &a->pid, "mesos.internal.StatusUpdateAcknowledgementMessage", msg.data, msg.len);
        buf_free(&msg);
        return;
    }
    case C_RECONCILE:
        api_empty(c, 202);
        reconcile(m, f, p, n);
        return;
    case C_UPDATE_FRAMEWORK: {
        if (pbw_find(p, n, 19, &x) != 1 || pbw_find(x.p, x.n, 1, &y) != 1) {
            api_error(c, 400, "Failed to validate scheduler::Call: Expecting 'update_framework' to be present");
            return;
        }
        struct buf before = {0};
        buf_append(&before, f->info.data, f->info.len);
        set_info(f, y.p, y.n);
        int changed = before.len != f->info.len || (before.len && memcmp(before.data, f->info.data, before.len) != 0);
        buf_free(&before);
        api_empty(c, 200);
        if (changed) events_framework_updated(m, f);     /* upstream: only when the info changed */
        return;
    }
    default:
        /* MESSAGE, SHUTDOWN, REQUEST and the operation calls (sched_calls.c);
         * inverse offers are accepted and have no effect yet. */
        if (sched_calls_handles(c->type)) sched_calls_handle(c, f, p, n);
        else api_empty(c, 202);
        return;
    }
}

/* ==== GET_FRAMEWORKS ==================================================== */

static void encode_framework(struct master *m, struct framework *f, uint32_t tag, struct buf *pb)
{
    size_t k = pbw_begin(pb, tag);
    pbw_put_bytes(pb, 1, f->info.data, f->info.len);
    pbw_put_uint(pb, 2, f->stream != NULL);                  /* active */
    pbw_put_uint(pb, 3, f->stream != NULL);                  /* connected */
    pbw_put_uint(pb, 11, 0);                                 /* recovered */
    if (f->registered_time > 0) pbw_put_time(pb, 4, f->registered_time);
    if (f->reregistered_time > 0) pbw_put_time(pb, 5, f->reregistered_time);
    if (f->unregistered_time > 0) pbw_put_time(pb, 6, f->unregistered_time);
    struct resources used = {0}, offered = {0};
    for (struct offer *o = m->offers; o; o = o->next)
        if (o->f == f) {
            encode_offer(o, 7, pb);
            resources_add(&offered, &o->res);
        }
    for (struct agent *a = m->agents; a; a = a->next)
        for (struct mtask *t = a->tasks; t; t = t->next)
            if (strcmp(t->framework_id, f->id) == 0) agents_task_resources(t, &used);
    resources_encode(&used, 9, RESOURCES_ENDPOINT, pb);
    resources_encode(&offered, 10, RESOURCES_ENDPOINT, pb);
    resources_free(&used);
    resources_free(&offered);
    pbw_end(pb, k);
}

void sched_encode_get_frameworks(struct master *m, struct buf *pb)
{
    for (struct framework *f = m->frameworks; f; f = f->next) encode_framework(m, f, 1, pb);
    for (struct framework *f = m->completed_frameworks; f; f = f->next) encode_framework(m, f, 2, pb);
}

/* ==== Set-up ============================================================ */

void sched_init(struct master *m)
{
    m->sched_api = (struct api){
        .what = "Call", .validate_what = "scheduler::Call",
        .call_msg = PBD_M_mesos_v1_scheduler_Call,
        .call_type_enum = PBD_E_mesos_v1_scheduler_Call_Type,
        .response_msg = PBD_M_mesos_v1_scheduler_Response,
        .event_msg = PBD_M_mesos_v1_scheduler_Event,
        .calls = sched_calls, .ncalls = sizeof sched_calls / sizeof *sched_calls, .state = m,
        .lazy_accept = 1, .no_sub_check = 1,
    };
    server_route(m->http, "/api/v1/scheduler", api_handle, &m->sched_api);
    loop_timer_init(&m->allocation, allocation_cb);
    loop_timer_start(m->loop, &m->allocation, 100);
}

void sched_free(struct master *m)
{
    loop_timer_stop(m->loop, &m->allocation);
    while (m->completed_frameworks) {
        struct framework *f = m->completed_frameworks;
        m->completed_frameworks = f->next;
        buf_free(&f->info);
        free(f);
    }
    while (m->offers) remove_offer(m, m->offers, 0);
    while (m->frameworks) {
        struct framework *f = m->frameworks;
        if (f->stream) { f->stream->on_close = NULL; f->stream = NULL; }
        loop_timer_stop(m->loop, &f->heartbeat);
        loop_timer_stop(m->loop, &f->failover);
        m->frameworks = f->next;
        while (f->declines) { struct decline *d = f->declines; f->declines = d->next; free(d); }
        buf_free(&f->info);
        free(f);
    }
}
