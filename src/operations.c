/* operations.c -- the master's resource operations: RESERVE, UNRESERVE,
 * CREATE, DESTROY, GROW_VOLUME and SHRINK_VOLUME, from the operator API
 * (RESERVE_RESOURCES ... SHRINK_VOLUME) and from a framework's ACCEPT, and
 * the status of each operation (UPDATE_OPERATION_STATUS events,
 * ACKNOWLEDGE_OPERATION_STATUS, RECONCILE_OPERATIONS, GET_OPERATIONS).
 *
 * The master applies an operation to its view of the agent's total at once
 * (upstream calls these operations speculative) and then tells the agent,
 * choosing the path by the agent's capabilities as upstream's
 * Master::_apply does: an agent with RESOURCE_PROVIDER (ours advertises it,
 * with AGENT_OPERATION_FEEDBACK and RESIZE_VOLUME) gets an
 * ApplyOperationMessage, checkpoints, and answers with an
 * UpdateOperationStatusMessage (OPERATION_FINISHED) that it re-sends until
 * acknowledged; an agent without it gets a CheckpointResourcesMessage with
 * all its checkpointed resources, and the operation has no status. The
 * agent's total is its SlaveInfo resources with the checkpointed ones it
 * reports when it (re)registers applied (applyCheckpointedResources), so
 * reservations and volumes survive restarts of either side. Texts and
 * status codes follow src/master/http.cpp, master.cpp and validation.cpp. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "allocator.h"
#include "master.h"
#include "pbw.h"
#include "resource_ops.h"
#include "resources.h"
#include "util.h"

/* SlaveInfo.Capability.Type numbers. */
enum { CAP_MULTI_ROLE = 1, CAP_HIERARCHICAL_ROLE = 2, CAP_RESERVATION_REFINEMENT = 3,
       CAP_RESOURCE_PROVIDER = 4, CAP_RESIZE_VOLUME = 5, CAP_AGENT_OPERATION_FEEDBACK = 6 };
/* OperationState numbers. */
enum { OPERATION_PENDING = 1, OPERATION_FINISHED = 2, OPERATION_FAILED = 3, OPERATION_ERROR = 4,
       OPERATION_DROPPED = 5, OPERATION_UNREACHABLE = 6, OPERATION_GONE_BY_OPERATOR = 7,
       OPERATION_RECOVERING = 8, OPERATION_UNKNOWN = 9 };
#define EV_UPDATE_OPERATION_STATUS 11

/* One operation on an agent, kept until its terminal status is
 * acknowledged (by the framework, or by the master itself for operations
 * without an id). */
struct mop {
    struct mop *next;
    unsigned char uuid[16];
    char framework_id[160];      /* "" for the operator API */
    char op_id[256];             /* Offer.Operation.id; "" when none */
    struct buf info;             /* Offer.Operation */
    struct buf latest;           /* OperationStatus: latest_status */
    struct buf statuses;         /* OperationStatus records, each with its key (tag 5) */
    int state;                   /* latest state */
    int last_state;              /* state of the last of `statuses` */
};

struct agent_ops {
    struct resources total;      /* unallocated */
    unsigned gen;                /* bumped whenever total changes */
    unsigned char version[16];   /* resource_version_uuid */
    int has_version;
    unsigned caps;               /* 1 << SlaveInfo.Capability.Type */
    struct mop *ops;
};

static int terminal(int s)
{
    return s == OPERATION_FINISHED || s == OPERATION_FAILED || s == OPERATION_ERROR ||
           s == OPERATION_DROPPED || s == OPERATION_GONE_BY_OPERATOR;
}

static struct agent_ops *state(struct agent *a)
{
    if (!a->ops) a->ops = xcalloc(1, sizeof *a->ops);
    return a->ops;
}

static int has_cap(const struct agent *a, int cap)
{
    return a->ops && (a->ops->caps & (1u << cap));
}

/* ==== Agents' totals ==================================================== */

void agents_total(const struct agent *a, void *out)
{
    if (a->ops) {
        resources_add(out, &a->ops->total);
        return;
    }
    struct buf err = { .max = 4096 };
    resources_decode_field(a->info.data, a->info.len, 3, out, &err);
    buf_free(&err);
}

unsigned agents_total_gen(const struct agent *a)
{
    return a->ops ? a->ops->gen : 0;
}

void ops_agent_registered(struct master *m, struct agent *a, const uint8_t *msg, size_t n, int re)
{
    (void)m;
    struct agent_ops *s = state(a);
    struct pbw_reader r;
    struct pbw_field f, t;
    s->caps = 0;
    pbw_reader_init(&r, a->capabilities.data, a->capabilities.len);
    while (pbw_next(&r, &f) == 1)
        if (f.wt == PBW_LEN && pbw_find(f.p, f.n, 1, &t) == 1 && t.v < 32) s->caps |= 1u << t.v;
    struct pbw_field v, u;
    s->has_version = pbw_find(msg, n, re ? 10 : 5, &v) == 1 && pbw_find(v.p, v.n, 1, &u) == 1 && u.n == 16;
    if (s->has_version) memcpy(s->version, u.p, 16);
    /* The total: SlaveInfo resources with the checkpointed ones applied. */
    struct resources base = {0}, ckpt = {0}, total = {0};
    struct buf err = { .max = 4096 };
    resources_decode_field(a->info.data, a->info.len, 3, &base, &err);
    buf_reset(&err);
    if (resources_decode_field(msg, n, re ? 7 : 3, &ckpt, &err) < 0 ||
        rop_apply_checkpointed(&base, &ckpt, &total, &err) < 0) {
        LOG_WARN("Agent %s reported checkpointed resources that do not fit: %.*s", a->id, (int)err.len, err.data);
        resources_free(&total);
        resources_copy(&total, &base);
    }
    resources_free(&s->total);
    s->total = total;
    s->gen++;
    resources_free(&base);
    resources_free(&ckpt);
    buf_free(&err);
}

static void mop_free(struct mop *o)
{
    buf_free(&o->info);
    buf_free(&o->latest);
    buf_free(&o->statuses);
    free(o);
}

void ops_agent_removed(struct master *m, struct agent *a)
{
    (void)m;
    if (!a->ops) return;
    while (a->ops->ops) {
        struct mop *o = a->ops->ops;
        a->ops->ops = o->next;
        mop_free(o);
    }
    resources_free(&a->ops->total);
    free(a->ops);
    a->ops = NULL;
}

/* ==== Offer format ===================================================== */

/* FrameworkInfo.capabilities (10) {type 1}. */
static int fw_capability(const struct framework *f, int cap)
{
    struct pbw_reader r;
    struct pbw_field x, t;
    pbw_reader_init(&r, f->info.data, f->info.len);
    while (pbw_next(&r, &x) == 1)
        if (x.tag == 10 && x.wt == PBW_LEN && pbw_find(x.p, x.n, 1, &t) == 1 && (int)t.v == cap) return 1;
    return 0;
}

int ops_offer_format(const struct framework *f)
{
    return fw_capability(f, 7) ? RESOURCES_STORED : RESOURCES_PRE_REFINEMENT;   /* RESERVATION_REFINEMENT */
}

/* ==== Operations ======================================================== */

static struct mop *find_uuid(struct agent *a, const uint8_t *uuid)
{
    for (struct mop *o = a->ops ? a->ops->ops : NULL; o; o = o->next)
        if (memcmp(o->uuid, uuid, 16) == 0) return o;
    return NULL;
}

static struct mop *find_framework_op(struct master *m, const char *fw, const char *id, struct agent **ao)
{
    for (struct agent *a = m->agents; a; a = a->next)
        for (struct mop *o = a->ops ? a->ops->ops : NULL; o; o = o->next)
            if (o->op_id[0] && strcmp(o->op_id, id) == 0 && strcmp(o->framework_id, fw) == 0) {
                if (ao) *ao = a;
                return o;
            }
    return NULL;
}

static void remove_op(struct agent *a, struct mop *o)
{
    for (struct mop **pp = &a->ops->ops; *pp; pp = &(*pp)->next)
        if (*pp == o) {
            *pp = o->next;
            mop_free(o);
            return;
        }
}

/* OperationStatus bytes: operation_id 1, state 2, message 3, uuid 5, agent_id 6. */
static void put_status(struct buf *b, const char *op_id, int state, const char *message,
                       const char *agent_id)
{
    if (op_id && op_id[0]) pbw_put_id(b, 1, op_id);
    pbw_put_uint(b, 2, (uint64_t)state);
    if (message) pbw_put_str(b, 3, message);
    if (agent_id && agent_id[0]) pbw_put_id(b, 6, agent_id);
}

/* An UPDATE_OPERATION_STATUS event with this OperationStatus. */
static void send_status(struct framework *f, const uint8_t *status, size_t n)
{
    if (!f || !f->stream) return;
    struct buf ev = {0};
    pbw_put_uint(&ev, 1, EV_UPDATE_OPERATION_STATUS);
    size_t k = pbw_begin(&ev, 11);
    pbw_put_bytes(&ev, 1, status, n);
    pbw_end(&ev, k);
    sched_send_event(f, &ev);
    buf_free(&ev);
}

/* The same without its uuid (reconciliation answers are not acknowledged). */
static void send_status_no_uuid(struct framework *f, const uint8_t *status, size_t n)
{
    struct buf st = {0};
    pbw_copy_except(&st, status, n, 5);
    send_status(f, (const uint8_t *)st.data, st.len);
    buf_free(&st);
}

/* upstream Master::drop for an operation: OPERATION_ERROR to a framework
 * that asked for feedback (no agent id: it may not be known). */
static void drop(struct framework *f, const struct rop *op, const char *msg)
{
    LOG_WARN("Dropping %s operation from framework %s: %s", rop_type_name(op->type), f->id, msg);
    if (!op->id[0]) return;
    struct buf st = {0};
    put_status(&st, op->id, OPERATION_ERROR, msg, NULL);
    send_status(f, (const uint8_t *)st.data, st.len);
    buf_free(&st);
}

/* "<id> at <pid> (<hostname>)", as upstream prints a Slave. */
static void agent_text(const struct agent *a, char *out, size_t cap)
{
    char pid[512];
    upid_format(&a->pid, pid, sizeof pid);
    struct pbw_field hn;
    if (pbw_find(a->info.data, a->info.len, 1, &hn) != 1) hn.n = 0, hn.p = (const uint8_t *)"";
    snprintf(out, cap, "%s at %s (%.*s)", a->id, pid, (int)hn.n, (const char *)hn.p);
}

/* upstream Master::_apply: the master's total changes now; the agent is told. */
static void apply_to_agent(struct master *m, struct agent *a, const char *framework_id, const struct rop *op)
{
    struct agent_ops *s = state(a);
    struct rop plain = {0};
    struct buf err = { .max = 4096 }, info = {0};
    rop_encode(op, &info);
    if (rop_decode(info.data, info.len, &plain, &err) == 0) {
        rop_unallocate(&plain);                       /* the total is unallocated */
        s->gen++;
        if (rop_apply(&s->total, &plain, &err) < 0)
            LOG_ERR("Operation does not apply to the total of agent %s: %.*s", a->id, (int)err.len, err.data);
    }
    rop_free(&plain);
    if (has_cap(a, CAP_RESOURCE_PROVIDER)) {
        struct mop *o = xcalloc(1, sizeof *o);
        uuid_bytes(o->uuid);
        snprintf(o->framework_id, sizeof o->framework_id, "%s", framework_id ? framework_id : "");
        snprintf(o->op_id, sizeof o->op_id, "%s", op->id);
        buf_append(&o->info, info.data, info.len);
        put_status(&o->latest, op->id, OPERATION_PENDING, NULL, a->id);
        o->state = o->last_state = OPERATION_PENDING;
        struct mop **tail = &s->ops;
        while (*tail) tail = &(*tail)->next;
        *tail = o;
        /* ApplyOperationMessage {framework_id 1, operation_info 2,
         * operation_uuid 3, resource_version_uuid 4 {uuid 2}}. */
        struct buf msg = {0};
        if (framework_id) pbw_put_id(&msg, 1, framework_id);
        pbw_put_bytes(&msg, 2, info.data, info.len);
        size_t k = pbw_begin(&msg, 3);
        pbw_put_bytes(&msg, 1, o->uuid, 16);
        pbw_end(&msg, k);
        k = pbw_begin(&msg, 4);
        size_t u = pbw_begin(&msg, 2);
        pbw_put_bytes(&msg, 1, s->version, s->has_version ? 16 : 0);
        pbw_end(&msg, u);
        pbw_end(&msg, k);
        LOG("Sending %s operation '%s' to agent %s", rop_type_name(op->type), op->id, a->id);
        wire_send(m->wire, &a->pid, "mesos.internal.ApplyOperationMessage", msg.data, msg.len);
        buf_free(&msg);
    } else {
        struct resources ck = {0};
        struct buf msg = {0};
        rop_checkpointed(&s->total, &ck);
        resources_encode(&ck, 1, RESOURCES_STORED, &msg);
        LOG("Sending the checkpointed resources of agent %s after %s", a->id, rop_type_name(op->type));
        wire_send(m->wire, &a->pid, "mesos.internal.CheckpointResourcesMessage", msg.data, msg.len);
        resources_free(&ck);
        buf_free(&msg);
    }
    buf_free(&info);
    buf_free(&err);
    sched_trigger(m);
}

/* The agent's checkpointed resources (for CREATE and DESTROY validation). */
static void checkpointed(struct agent *a, struct resources *out)
{
    struct resources total = {0};
    agents_total(a, &total);
    rop_checkpointed(&total, out);
    resources_free(&total);
}

/* The framework's roles (protobuf::framework::getRoles): `roles` with
 * MULTI_ROLE, else its one `role` (default "*"). */
static size_t fw_roles(const struct framework *f, char roles[][256], size_t max)
{
    struct pbw_field x;
    if (!fw_capability(f, 6)) {
        if (pbw_find(f->info.data, f->info.len, 6, &x) == 1 && x.wt == PBW_LEN)
            snprintf(roles[0], 256, "%.*s", (int)x.n, (const char *)x.p);
        else snprintf(roles[0], 256, "*");
        return 1;
    }
    size_t n = 0;
    struct pbw_reader r;
    pbw_reader_init(&r, f->info.data, f->info.len);
    while (pbw_next(&r, &x) == 1 && n < max)
        if (x.tag == 12 && x.wt == PBW_LEN) snprintf(roles[n++], 256, "%.*s", (int)x.n, (const char *)x.p);
    return n;
}

static void fill_ctx(struct rop_ctx *ctx, struct agent *a)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->hierarchical_role = has_cap(a, CAP_HIERARCHICAL_ROLE);
    ctx->reservation_refinement = has_cap(a, CAP_RESERVATION_REFINEMENT);
    ctx->resize_volume = has_cap(a, CAP_RESIZE_VOLUME);
}

/* ==== ACCEPT ============================================================ */

void ops_accept(struct master *m, struct framework *f, struct agent *a, const char *invalid,
                const uint8_t *p, size_t n, void *pool_)
{
    struct resources *pool = pool_;
    struct rop op;
    struct buf err = { .max = 65536 }, msg = { .max = 65536 };
    char where[1024];
    if (rop_decode(p, n, &op, &err) < 0) {
        /* Keep the id for the answer. */
        pbw_get_id(p, n, 12, op.id, sizeof op.id);
        struct pbw_field t;
        op.type = pbw_find(p, n, 1, &t) == 1 ? (int)t.v : 0;
        if (invalid) buf_printf(&msg, "Operation attempted with invalid offers: %s", invalid);
        else buf_printf(&msg, "Operation attempted with invalid resources: %.*s", (int)err.len, err.data);
        drop(f, &op, msg.data);
        goto out;
    }
    if (invalid || !a) {
        buf_printf(&msg, "Operation attempted with invalid offers: %s", invalid ? invalid : "No agent");
        drop(f, &op, msg.data);
        goto out;
    }
    if (op.type == ROP_RESERVE && op.source.len) {
        drop(f, &op, "Operation attempted with invalid resources: Reservation updates are not yet "
                     "implemented for the scheduler API.");
        goto out;
    }
    if (op.type != ROP_RESERVE && op.type != ROP_UNRESERVE && op.type != ROP_CREATE && op.type != ROP_DESTROY &&
        op.type != ROP_GROW_VOLUME && op.type != ROP_SHRINK_VOLUME) {
        LOG_WARN("Ignoring %s operation from framework %s", rop_type_name(op.type), f->id);
        goto out;
    }
    if (op.id[0]) {
        if (!has_cap(a, CAP_RESOURCE_PROVIDER)) {
            buf_printf(&msg, "Operation requested feedback, but agent %s does not have the required "
                       "RESOURCE_PROVIDER capability", a->id);
            drop(f, &op, msg.data);
            goto out;
        }
        if (!has_cap(a, CAP_AGENT_OPERATION_FEEDBACK)) {
            buf_printf(&msg, "Operation on agent default resources requested feedback, but agent %s does not "
                       "have the required AGENT_OPERATION_FEEDBACK and RESOURCE_PROVIDER capabilities", a->id);
            drop(f, &op, msg.data);
            goto out;
        }
    }
    rop_allocate(&op, f->role);                       /* the offer's allocation info */
    agent_text(a, where, sizeof where);

    /* validation::operation::validate, with "; on agent ..." after it. */
    char roles[16][256];
    const char *rp[16];
    struct rop_ctx ctx;
    fill_ctx(&ctx, a);
    ctx.framework = true;
    ctx.nroles = fw_roles(f, roles, 16);
    for (size_t i = 0; i < ctx.nroles; i++) rp[i] = roles[i];
    ctx.roles = rp;
    ctx.framework_id = f->id;
    ctx.shared_resources = fw_capability(f, 4);
    struct pbw_field pr;
    char principal[256];
    if (pbw_find(f->info.data, f->info.len, 8, &pr) == 1 && pr.wt == PBW_LEN) {
        snprintf(principal, sizeof principal, "%.*s", (int)pr.n, (const char *)pr.p);
        ctx.principal = principal;
    }
    struct resources ck = {0}, used = {0};
    checkpointed(a, &ck);
    agents_used(a, &used);
    ctx.checkpointed = &ck;
    ctx.used = &used;
    int bad = rop_validate(&op, &ctx, &err) < 0;
    resources_free(&ck);
    resources_free(&used);
    if (bad) {
        buf_printf(&msg, "%.*s; on agent %s", (int)err.len, err.data, where);
        drop(f, &op, msg.data);
        goto out;
    }
    if (op.type == ROP_DESTROY) {
        /* Offers that hold a volume being destroyed are rescinded. */
        for (struct offer *o = m->offers, *next; o; o = next) {
            next = o->next;
            if (o->a != a) continue;
            for (size_t i = 0; i < op.res.len; i++) {
                struct resources v = {0}, offered = {0};
                resources_add_one(&v, &op.res.v[i]);
                resources_copy(&offered, &o->res);
                resources_unallocate(&offered);
                resources_unallocate(&v);
                int holds = resources_contains(&offered, &v);
                resources_free(&v);
                resources_free(&offered);
                if (holds) { sched_rescind_offer(m, o, 0); break; }
            }
        }
    }
    struct rconv *cv;
    size_t ncv;
    buf_reset(&err);
    if (rop_conversions(&op, &cv, &ncv, &err) < 0) {
        drop(f, &op, err.data ? err.data : "");
        goto out;
    }
    if (op.type == ROP_GROW_VOLUME || op.type == ROP_SHRINK_VOLUME) {
        /* What a resize makes is not offered on: it leaves the pool. */
        if (!resources_contains(pool, &cv[0].consumed)) {
            buf_printf(&msg, "Invalid %s operation: ", rop_type_name(op.type));
            resources_format(pool, &msg);
            buf_puts(&msg, " does not contain ");
            resources_format(&cv[0].consumed, &msg);
            drop(f, &op, msg.data);
            rconv_free(cv, ncv);
            goto out;
        }
        resources_subtract(pool, &cv[0].consumed);
    } else if (rconv_apply(pool, cv, ncv, &err) < 0) {
        drop(f, &op, err.data);
        rconv_free(cv, ncv);
        goto out;
    }
    rconv_free(cv, ncv);
    LOG("Applying %s operation from framework %s to agent %s", rop_type_name(op.type), f->id, a->id);
    apply_to_agent(m, a, f->id, &op);
out:
    rop_free(&op);
    buf_free(&err);
    buf_free(&msg);
}

/* ==== Operator calls ==================================================== */

/* The Offer.Operation an operator call stands for: type, and the call's
 * fields moved to their places in the operation's sub-message. */
static void build_operation(int type, const uint8_t *sub, size_t n, struct buf *out)
{
    pbw_put_uint(out, 1, (uint64_t)type);
    struct pbw_reader r;
    struct pbw_field f;
    size_t k;
    pbw_reader_init(&r, sub, n);
    switch (type) {
    case ROP_RESERVE:                       /* ReserveResources {resources 2, source 3} */
        k = pbw_begin(out, 3);
        while (pbw_next(&r, &f) == 1)
            if ((f.tag == 2 || f.tag == 3) && f.wt == PBW_LEN) pbw_put_bytes(out, f.tag == 2 ? 1 : 2, f.p, f.n);
        pbw_end(out, k);
        break;
    case ROP_UNRESERVE: case ROP_CREATE: case ROP_DESTROY:   /* {resources|volumes 2} */
        k = pbw_begin(out, type == ROP_UNRESERVE ? 4 : type == ROP_CREATE ? 5 : 6);
        while (pbw_next(&r, &f) == 1)
            if (f.tag == 2 && f.wt == PBW_LEN) pbw_put_bytes(out, 1, f.p, f.n);
        pbw_end(out, k);
        break;
    case ROP_GROW_VOLUME: case ROP_SHRINK_VOLUME:            /* {volume 2, addition|subtract 3} */
        k = pbw_begin(out, type == ROP_GROW_VOLUME ? 13 : 14);
        while (pbw_next(&r, &f) == 1)
            if ((f.tag == 2 || f.tag == 3) && f.wt == PBW_LEN) pbw_put_bytes(out, f.tag - 1, f.p, f.n);
        pbw_end(out, k);
        break;
    }
}

/* upstream Master::Http::_operation: rescind offers on the agent until the
 * operation's resources are free, then apply it (409 when it does not fit). */
static void operate(struct api_ctx *c, struct agent *a, const struct rop *op)
{
    struct master *m = c->state;
    struct resources required = {0}, recovered = {0};
    struct buf err = { .max = 65536 };
    if (rop_consumed(op, &required, &err) < 0) {
        api_error(c, 400, "Invalid %s operation: %.*s", rop_type_name(op->type), (int)err.len, err.data);
        goto out;
    }
    for (struct offer *o = m->offers, *next; o; o = next) {
        next = o->next;
        if (o->a != a) continue;
        struct resources got = {0}, left = {0};
        resources_copy(&got, &o->res);
        resources_unallocate(&got);
        resources_copy(&left, &required);
        resources_subtract(&left, &got);
        int helps = !resources_equal(&left, &required);
        if (helps) {
            resources_add(&recovered, &got);
            resources_free(&required);
            required = left;
            memset(&left, 0, sizeof left);
            /* A 5 s filter (upstream's default Filters), so the resources
             * are not offered straight back to the same framework. */
            sched_rescind_offer(m, o, 5);
        }
        resources_free(&left);
        resources_free(&got);
        if (helps) {
            struct resources test = {0};
            struct buf e2 = { .max = 65536 };
            resources_copy(&test, &recovered);
            int done = rop_apply(&test, op, &e2) == 0;
            resources_free(&test);
            buf_free(&e2);
            if (done) break;
        }
    }
    /* The allocator's check: the agent's available resources (total less
     * what tasks use and offers hold) must hold what the operation consumes. */
    struct resources avail = {0}, used = {0}, offered = {0};
    agents_total(a, &avail);
    agents_used(a, &used);
    sched_offered(m, a, &offered);
    resources_unallocate(&used);
    resources_unallocate(&offered);
    resources_subtract(&avail, &used);
    resources_subtract(&avail, &offered);
    buf_reset(&err);
    int fits = rop_apply(&avail, op, &err) == 0;
    resources_free(&avail);
    resources_free(&used);
    resources_free(&offered);
    if (!fits) {
        api_error(c, 409, "%.*s", (int)err.len, err.data);
        goto out;
    }
    api_empty(c, 202);
    LOG("Applying %s operation from the operator API to agent %s", rop_type_name(op->type), a->id);
    apply_to_agent(m, a, NULL, op);
out:
    resources_free(&required);
    resources_free(&recovered);
    buf_free(&err);
}

static void operator_call(struct api_ctx *c, int type)
{
    struct master *m = c->state;
    struct buf err = { .max = 65536 }, info = {0};
    struct rop op = {0};
    /* Call-level validation of RESERVE/UNRESERVE_RESOURCES: their resources. */
    if (type == ROP_RESERVE || type == ROP_UNRESERVE) {
        struct resources tmp = {0};
        int rc = resources_decode_field(c->sub, c->sub_len, 2, &tmp, &err);
        resources_free(&tmp);
        if (rc < 0) {
            api_error(c, 400, "Failed to validate master::Call: %.*s", (int)err.len, err.data);
            goto out;
        }
    }
    /* GROW_VOLUME and SHRINK_VOLUME need the (optional) agent_id. */
    char aid[96];
    if (pbw_get_id(c->sub, c->sub_len, 1, aid, sizeof aid) < 0) {
        if (type == ROP_GROW_VOLUME || type == ROP_SHRINK_VOLUME)
            api_error(c, 400, "Failed to validate master::Call: Expecting 'agent_id' to be present; only agent "
                              "default resources are supported right now");
        else api_error(c, 400, "No agent found with specified ID");
        goto out;
    }
    struct agent *a = agents_find(m, aid, strlen(aid));
    if (!a) {
        api_error(c, 400, "No agent found with specified ID");
        goto out;
    }
    build_operation(type, c->sub, c->sub_len, &info);
    if (rop_decode(info.data, info.len, &op, &err) < 0) {
        api_error(c, 400, "%.*s", (int)err.len, err.data);
        goto out;
    }
    struct rop_ctx ctx;
    struct resources ck = {0}, used = {0};
    fill_ctx(&ctx, a);
    checkpointed(a, &ck);
    agents_used(a, &used);
    ctx.checkpointed = &ck;
    ctx.used = &used;
    int bad = rop_validate(&op, &ctx, &err) < 0;
    resources_free(&ck);
    resources_free(&used);
    if (bad) {
        char where[1024];
        agent_text(a, where, sizeof where);
        if (type == ROP_UNRESERVE || type == ROP_DESTROY)
            api_error(c, 400, "Invalid %s operation: %.*s", rop_type_name(type), (int)err.len, err.data);
        else
            api_error(c, 400, "Invalid %s operation on agent %s: %.*s", rop_type_name(type), where,
                      (int)err.len, err.data);
        goto out;
    }
    operate(c, a, &op);
out:
    rop_free(&op);
    buf_free(&err);
    buf_free(&info);
}

void op_reserve_resources(struct api_ctx *c) { operator_call(c, ROP_RESERVE); }
void op_unreserve_resources(struct api_ctx *c) { operator_call(c, ROP_UNRESERVE); }
void op_create_volumes(struct api_ctx *c) { operator_call(c, ROP_CREATE); }
void op_destroy_volumes(struct api_ctx *c) { operator_call(c, ROP_DESTROY); }
void op_grow_volume(struct api_ctx *c) { operator_call(c, ROP_GROW_VOLUME); }
void op_shrink_volume(struct api_ctx *c) { operator_call(c, ROP_SHRINK_VOLUME); }

/* ==== GET_OPERATIONS ==================================================== */

static void encode_op(struct buf *pb, uint32_t tag, const struct agent *a, const struct mop *o)
{
    size_t k = pbw_begin(pb, tag);
    if (o->framework_id[0]) pbw_put_id(pb, 1, o->framework_id);
    pbw_put_id(pb, 2, a->id);
    pbw_put_bytes(pb, 3, o->info.data, o->info.len);
    pbw_put_bytes(pb, 4, o->latest.data, o->latest.len);
    buf_append(pb, o->statuses.data, o->statuses.len);
    size_t u = pbw_begin(pb, 6);
    pbw_put_bytes(pb, 1, o->uuid, 16);
    pbw_end(pb, u);
    pbw_end(pb, k);
}

void op_get_operations(struct api_ctx *c)
{
    struct master *m = c->state;
    struct buf pb = {0};
    pbw_put_uint(&pb, 1, 19);                       /* Response.GET_OPERATIONS */
    size_t k = pbw_begin(&pb, 20);
    for (struct agent *a = m->agents; a; a = a->next)
        for (struct mop *o = a->ops ? a->ops->ops : NULL; o; o = o->next) encode_op(&pb, 1, a, o);
    pbw_end(&pb, k);
    api_respond(c, &pb);
}

/* ==== Status updates from agents ======================================== */

/* The status as the framework sees it: its operation id filled in. */
static void with_op_id(const struct mop *o, const uint8_t *st, size_t n, struct buf *out)
{
    if (!o->op_id[0]) { buf_append(out, st, n); return; }
    pbw_copy_except(out, st, n, 1);
    struct buf tmp = {0};
    pbw_put_id(&tmp, 1, o->op_id);
    buf_append(&tmp, out->data, out->len);
    buf_reset(out);
    buf_append(out, tmp.data, tmp.len);
    buf_free(&tmp);
}

static int status_state(const uint8_t *st, size_t n)
{
    struct pbw_field s;
    return pbw_find(st, n, 2, &s) == 1 ? (int)s.v : OPERATION_UNKNOWN;
}

/* Has the operation recorded a status with this uuid? */
static int has_status_uuid(const struct mop *o, const uint8_t *uuid, size_t n)
{
    struct pbw_reader r;
    struct pbw_field f, u, v;
    pbw_reader_init(&r, o->statuses.data, o->statuses.len);
    while (pbw_next(&r, &f) == 1)
        if (pbw_find(f.p, f.n, 5, &u) == 1 && pbw_find(u.p, u.n, 1, &v) == 1 && v.n == n && !memcmp(v.p, uuid, n))
            return 1;
    return 0;
}

static void send_ack(struct master *m, struct agent *a, const struct mop *o, const uint8_t *status_uuid)
{
    struct buf msg = {0};
    size_t k = pbw_begin(&msg, 1);
    pbw_put_bytes(&msg, 1, status_uuid, 16);
    pbw_end(&msg, k);
    k = pbw_begin(&msg, 2);
    pbw_put_bytes(&msg, 1, o->uuid, 16);
    pbw_end(&msg, k);
    wire_send(m->wire, &a->pid, "mesos.internal.AcknowledgeOperationStatusMessage", msg.data, msg.len);
    buf_free(&msg);
}

/* upstream MIN_WAIT_BEFORE_ORPHAN_OPERATION_ADOPTION. */
#define ORPHAN_WAIT_SECS 600.0

static int completed_framework(struct master *m, const char *id)
{
    for (struct framework *f = m->completed_frameworks; f; f = f->next)
        if (strcmp(f->id, id) == 0) return 1;
    return 0;
}

/* When the agent last (re)registered. */
static double agent_since(const struct agent *a)
{
    return a->reregistered_time > 0 ? a->reregistered_time : a->registered_time;
}

/* UpdateOperationStatusMessage {framework_id 1, slave_id 2, status 3,
 * latest_status 4, operation_uuid 5}: upstream updateOperationStatus. */
static void on_update(struct master *m, const uint8_t *p, size_t n)
{
    char fw[160] = "", aid[96] = "";
    pbw_get_id(p, n, 1, fw, sizeof fw);
    pbw_get_id(p, n, 2, aid, sizeof aid);
    struct pbw_field st, lt, ou, ouv;
    if (pbw_find(p, n, 3, &st) != 1 || st.wt != PBW_LEN) return;
    int has_uuid = pbw_find(p, n, 5, &ou) == 1 && pbw_find(ou.p, ou.n, 1, &ouv) == 1 && ouv.n == 16;
    if (!has_uuid) {
        /* An answer to a reconciliation the master forwarded: to the framework. */
        if (fw[0]) send_status(sched_find(m, fw), st.p, st.n);
        return;
    }
    struct agent *a = agents_find(m, aid, strlen(aid));
    if (!a) {
        LOG_WARN("Ignoring an operation status update from agent %s: it is not registered", aid);
        return;
    }
    struct mop *o = find_uuid(a, ouv.p);
    if (!o) {
        if (fw[0]) send_status(sched_find(m, fw), st.p, st.n);
        return;
    }
    struct buf status = {0};
    with_op_id(o, st.p, st.n, &status);
    const uint8_t *sp = (const uint8_t *)status.data;
    size_t sn = status.len;
    /* latest_status when given, else status; not past a terminal state. */
    int latest_given = pbw_find(p, n, 4, &lt) == 1 && lt.wt == PBW_LEN;
    if (!terminal(o->state)) {
        buf_reset(&o->latest);
        if (latest_given) with_op_id(o, lt.p, lt.n, &o->latest);
        else buf_append(&o->latest, sp, sn);
        o->state = status_state((const uint8_t *)o->latest.data, o->latest.len);
    }
    struct pbw_field su, suv;
    int status_has_uuid = pbw_find(sp, sn, 5, &su) == 1 && pbw_find(su.p, su.n, 1, &suv) == 1 && suv.n == 16;
    if (!status_has_uuid || !has_status_uuid(o, suv.p, 16)) {
        pbw_put_bytes(&o->statuses, 5, sp, sn);
        o->last_state = status_state(sp, sn);
    }
    int last_terminal = terminal(o->last_state);
    struct framework *f = o->framework_id[0] ? sched_find(m, o->framework_id) : NULL;
    if (o->op_id[0] && f) {
        LOG("Forwarding the status of operation '%s' to framework %s", o->op_id, f->id);
        send_status(f, sp, sn);
        if (last_terminal && !status_has_uuid) remove_op(a, o);
    } else if (o->op_id[0] && o->framework_id[0] && !completed_framework(m, o->framework_id) &&
               now_secs() - agent_since(a) < ORPHAN_WAIT_SECS) {
        /* An orphan: its framework is not known (yet, after a master
         * failover). Its update waits for the framework to come back, the
         * agent re-sending it, as upstream's master waits before adopting. */
        LOG("Operation '%s' of framework %s is an orphan: its status waits for the framework", o->op_id,
            o->framework_id);
    } else {
        /* No framework will acknowledge: the master does. */
        if (status_has_uuid) send_ack(m, a, o, suv.p);
        if (last_terminal) remove_op(a, o);
    }
    buf_free(&status);
}

/* UpdateSlaveMessage {slave_id 1, operations 6 {operations 1}}: the agent's
 * operations after it (re)registered. Ones the master lacks are learned;
 * ones it has and the agent lacks are reconciled with the agent, which
 * answers OPERATION_DROPPED for them. */
static void on_update_slave(struct master *m, const uint8_t *p, size_t n)
{
    char aid[96];
    struct pbw_field ops;
    if (pbw_get_id(p, n, 1, aid, sizeof aid) < 0) return;
    struct agent *a = agents_find(m, aid, strlen(aid));
    if (!a || pbw_find(p, n, 6, &ops) != 1 || ops.wt != PBW_LEN) return;
    struct agent_ops *s = state(a);
    unsigned char seen[256][16];
    size_t nseen = 0;
    struct pbw_reader r;
    struct pbw_field f;
    pbw_reader_init(&r, ops.p, ops.n);
    while (pbw_next(&r, &f) == 1) {
        struct pbw_field u, uv, info, lt;
        if (f.tag != 1 || f.wt != PBW_LEN || pbw_find(f.p, f.n, 6, &u) != 1 || pbw_find(u.p, u.n, 1, &uv) != 1 ||
            uv.n != 16 || pbw_find(f.p, f.n, 3, &info) != 1 || pbw_find(f.p, f.n, 4, &lt) != 1)
            continue;
        if (nseen < 256) memcpy(seen[nseen++], uv.p, 16);
        struct mop *o = find_uuid(a, uv.p);
        if (o) continue;
        o = xcalloc(1, sizeof *o);
        memcpy(o->uuid, uv.p, 16);
        pbw_get_id(f.p, f.n, 1, o->framework_id, sizeof o->framework_id);
        pbw_get_id(info.p, info.n, 12, o->op_id, sizeof o->op_id);
        buf_append(&o->info, info.p, info.n);
        buf_append(&o->latest, lt.p, lt.n);
        o->state = o->last_state = status_state(lt.p, lt.n);
        struct pbw_reader sr;
        struct pbw_field sf;
        pbw_reader_init(&sr, f.p, f.n);
        while (pbw_next(&sr, &sf) == 1)
            if (sf.tag == 5 && sf.wt == PBW_LEN) {
                pbw_put_bytes(&o->statuses, 5, sf.p, sf.n);
                o->last_state = status_state(sf.p, sf.n);
            }
        o->next = s->ops;
        s->ops = o;
        LOG("Learned operation '%s' on agent %s from the agent", o->op_id, a->id);
    }
    struct buf rec = {0};
    for (struct mop *o = s->ops; o; o = o->next) {
        int found = 0;
        for (size_t i = 0; i < nseen && !found; i++) found = !memcmp(seen[i], o->uuid, 16);
        if (found || terminal(o->state)) continue;
        size_t k = pbw_begin(&rec, 1);
        size_t u = pbw_begin(&rec, 1);
        pbw_put_bytes(&rec, 1, o->uuid, 16);
        pbw_end(&rec, u);
        pbw_end(&rec, k);
    }
    if (rec.len) wire_send(m->wire, &a->pid, "mesos.internal.ReconcileOperationsMessage", rec.data, rec.len);
    buf_free(&rec);
}

int ops_on_message(struct master *m, const struct upid *from, const char *name, const uint8_t *p, size_t n)
{
    (void)from;
    if (strcmp(name, "mesos.internal.UpdateOperationStatusMessage") == 0) on_update(m, p, n);
    else if (strcmp(name, "mesos.internal.UpdateSlaveMessage") == 0) on_update_slave(m, p, n);
    else return 0;
    return 1;
}

/* ==== ACKNOWLEDGE_OPERATION_STATUS and RECONCILE_OPERATIONS ============= */

/* Call.acknowledge_operation_status (17) {agent_id 1, resource_provider_id 2,
 * uuid 3, operation_id 4}; validated already. */
void ops_acknowledge(struct master *m, struct framework *f, const uint8_t *call, size_t n)
{
    struct pbw_field x, u;
    char aid[96] = "", opid[256] = "";
    if (pbw_find(call, n, 17, &x) != 1 || pbw_find(x.p, x.n, 3, &u) != 1 || u.n != 16) return;
    pbw_get_id(x.p, x.n, 1, aid, sizeof aid);
    pbw_get_id(x.p, x.n, 4, opid, sizeof opid);
    struct agent *a = agents_find(m, aid, strlen(aid));
    const char *why = NULL;
    struct pbw_field rp;
    int has_rp = pbw_find(x.p, x.n, 2, &rp) == 1;
    if (!a) why = "agent is not registered";
    else if (has_rp && !has_cap(a, CAP_RESOURCE_PROVIDER)) why = "the agent does not have the RESOURCE_PROVIDER capability";
    else if (!has_rp && !has_cap(a, CAP_AGENT_OPERATION_FEEDBACK))
        why = "the agent does not support operation feedback on agent default resources";
    struct agent *oa = NULL;
    struct mop *o = why ? NULL : find_framework_op(m, f->id, opid, &oa);
    if (!why && (!o || oa != a)) why = "the operation is unknown";
    if (why) {
        LOG_WARN("Cannot send the acknowledgement of operation '%s' of framework %s to agent %s because %s",
                 opid, f->id, aid, why);
        return;
    }
    /* The acknowledged status must be one the operation had. */
    struct pbw_reader r;
    struct pbw_field s, su, suv;
    int found = 0, was_terminal = 0;
    pbw_reader_init(&r, o->statuses.data, o->statuses.len);
    while (!found && pbw_next(&r, &s) == 1)
        if (pbw_find(s.p, s.n, 5, &su) == 1 && pbw_find(su.p, su.n, 1, &suv) == 1 && suv.n == 16 &&
            !memcmp(suv.p, u.p, 16)) {
            found = 1;
            was_terminal = terminal(status_state(s.p, s.n));
        }
    if (!found) {
        LOG_WARN("Ignoring the acknowledgement of operation '%s' of framework %s: the status is unknown", opid, f->id);
        return;
    }
    LOG("Processing ACKNOWLEDGE_OPERATION_STATUS for operation '%s' of framework %s on agent %s", opid, f->id, aid);
    unsigned char status_uuid[16];
    memcpy(status_uuid, u.p, 16);
    send_ack(m, a, o, status_uuid);
    if (was_terminal) remove_op(a, o);
}

/* The status reconciliation reports for a known operation: the last one
 * sent to the framework (or the latest while there is none), no uuid. */
static void send_known(struct framework *f, const struct mop *o)
{
    const uint8_t *p = (const uint8_t *)o->latest.data;
    size_t n = o->latest.len;
    struct pbw_reader r;
    struct pbw_field s;
    pbw_reader_init(&r, o->statuses.data, o->statuses.len);
    while (pbw_next(&r, &s) == 1) { p = s.p; n = s.n; }
    send_status_no_uuid(f, p, n);
}

/* Call.reconcile_operations (18) {operations 1 {operation_id 1, agent_id 2,
 * resource_provider_id 3}}: upstream reconcileOperations. */
void ops_reconcile(struct master *m, struct framework *f, const uint8_t *call, size_t n)
{
    struct pbw_field x, e;
    int explicit = 0;
    if (pbw_find(call, n, 18, &x) == 1) {
        struct pbw_reader r;
        pbw_reader_init(&r, x.p, x.n);
        while (pbw_next(&r, &e) == 1) {
            if (e.tag != 1 || e.wt != PBW_LEN) continue;
            explicit = 1;
            char opid[256] = "", aid[96] = "";
            pbw_get_id(e.p, e.n, 1, opid, sizeof opid);
            int has_agent = pbw_get_id(e.p, e.n, 2, aid, sizeof aid) == 0;
            struct mop *o = find_framework_op(m, f->id, opid, NULL);
            if (o) { send_known(f, o); continue; }
            int state;
            const char *msg;
            int unreachable = has_agent && master_id_find(&m->unreachable_ids, aid, strlen(aid)) != NULL;
            if (has_agent && agents_find(m, aid, strlen(aid))) {
                state = OPERATION_UNKNOWN;
                msg = "Reconciliation: Operation is unknown";
            } else if (unreachable) {
                state = OPERATION_UNREACHABLE;
                msg = "Reconciliation: Agent is unreachable";
            } else if (has_agent) {
                state = OPERATION_UNKNOWN;
                msg = "Reconciliation: Both operation and agent are unknown";
            } else {
                state = OPERATION_UNKNOWN;
                msg = "Reconciliation: Operation is unknown and no 'agent_id' was provided";
            }
            struct buf st = {0};
            put_status(&st, opid, state, msg, has_agent ? aid : NULL);
            struct pbw_field rp;
            if (pbw_find(e.p, e.n, 3, &rp) == 1 && rp.wt == PBW_LEN) pbw_put_bytes(&st, 7, rp.p, rp.n);
            send_status(f, (const uint8_t *)st.data, st.len);
            buf_free(&st);
        }
    }
    if (explicit) return;
    for (struct agent *a = m->agents; a; a = a->next)
        for (struct mop *o = a->ops ? a->ops->ops : NULL; o; o = o->next)
            if (o->op_id[0] && strcmp(o->framework_id, f->id) == 0) send_known(f, o);
}
