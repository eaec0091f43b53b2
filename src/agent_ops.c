/* agent_ops.c -- the agent's side of resource operations: its checkpointed
 * resources (dynamic reservations and persistent volumes), the operations
 * the master applies (ApplyOperationMessage), their status updates, and
 * the persistent volumes' directories.
 *
 * The agent advertises RESOURCE_PROVIDER and AGENT_OPERATION_FEEDBACK, so
 * the master sends each operation as an ApplyOperationMessage, as upstream's
 * master does for such agents. Operations on the agent's own resources are
 * speculative: the agent applies the conversions to its total at once,
 * creates or deletes volume directories, checkpoints, and answers
 * OPERATION_FINISHED in an UpdateOperationStatusMessage that it re-sends
 * (10 s, doubling to 10 min) until the master relays an
 * AcknowledgeOperationStatusMessage, as upstream's operation status update
 * manager does (src/slave/slave.cpp applyOperation). CheckpointResources-
 * Message (the path for agents without RESOURCE_PROVIDER) is honoured too.
 *
 * Everything lives in one file, WORK_DIR/meta/resources_and_operations,
 * rewritten whole (temporary file, fsync, rename) on every change, so a
 * crash leaves the old or the new state. Its records, written with pbw:
 *   1 Resource (checkpointed, repeated),
 *   2 operation { 1 uuid, 2 framework id, 3 Offer.Operation,
 *                 4 latest OperationStatus, 5 OperationStatus (repeated),
 *                 6 UpdateOperationStatusMessage not yet acknowledged }.
 * The checkpointed resources go to the master in every (re)registration
 * (checkpointed_resources), so they survive restarts of either side. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "agent.h"
#include "log.h"
#include "pbw.h"
#include "resource_ops.h"
#include "resources.h"
#include "util.h"

#define RETRY_MIN_MS (10 * 1000)
#define RETRY_MAX_MS (10 * 60 * 1000)
#define CKPT_FILE "resources_and_operations"
enum { OPERATION_PENDING = 1, OPERATION_FINISHED = 2, OPERATION_FAILED = 3, OPERATION_ERROR = 4,
       OPERATION_DROPPED = 5, OPERATION_GONE_BY_OPERATOR = 7 };

struct aop {
    struct aop *next;
    struct agent_proc *a;
    unsigned char uuid[16];
    char framework_id[160];
    struct buf info;             /* Offer.Operation */
    struct buf latest;           /* OperationStatus */
    struct buf statuses;         /* OperationStatus records with key 5 */
    struct buf pending;          /* UpdateOperationStatusMessage awaiting its ack */
    unsigned char pending_uuid[16];
    struct loop_timer retry;
    uint64_t retry_ms;
};

struct agent_res {
    struct resources base;       /* --resources */
    struct resources total;      /* base with the checkpointed resources applied */
    unsigned char version[16];   /* resource_version_uuid, new at every start */
    struct aop *ops;
};

static int terminal(int s)
{
    return s == OPERATION_FINISHED || s == OPERATION_FAILED || s == OPERATION_ERROR ||
           s == OPERATION_DROPPED || s == OPERATION_GONE_BY_OPERATOR;
}

static int status_state(const struct buf *st)
{
    struct pbw_field s;
    return pbw_find(st->data, st->len, 2, &s) == 1 ? (int)s.v : 0;
}

/* ==== Persistent volumes ================================================ */

/* Where a volume lives (upstream paths::getPersistentVolumePath): ROOT disks
 * under WORK_DIR/volumes/roles/<role>/<id>, with '/' in hierarchical roles
 * written as ' '; PATH disks the same under their root (relative roots are
 * under the work dir); MOUNT disks are their root. Returns -1 for others. */
static int volume_path(struct agent_proc *a, const struct resource *r, char *out, size_t cap, int *is_mount)
{
    char id[300], role[300];
    rop_persistence_id(r, id, sizeof id);
    snprintf(role, sizeof role, "%s", rop_reservation_role(r));
    for (char *c = role; *c; c++)
        if (*c == '/') *c = ' ';
    *is_mount = 0;
    struct pbw_field src, ty, pth, root;
    const char *base = a->work_dir;
    char rootbuf[2048];
    if (pbw_find(r->disk, r->disk_len, 3, &src) == 1) {
        int t = pbw_find(src.p, src.n, 1, &ty) == 1 ? (int)ty.v : 0;
        uint32_t which = t == 1 ? 2 : t == 2 ? 3 : 0;            /* PATH: path 2, MOUNT: mount 3 */
        if (!which || pbw_find(src.p, src.n, which, &pth) != 1 || pbw_find(pth.p, pth.n, 1, &root) != 1) return -1;
        if (root.n && root.p[0] == '/') snprintf(rootbuf, sizeof rootbuf, "%.*s", (int)root.n, (const char *)root.p);
        else snprintf(rootbuf, sizeof rootbuf, "%s/%.*s", a->work_dir, (int)root.n, (const char *)root.p);
        if (t == 2) {
            snprintf(out, cap, "%s", rootbuf);
            *is_mount = 1;
            return 0;
        }
        base = rootbuf;
    }
    if (!id[0] || strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, "..")) return -1;
    snprintf(out, cap, "%s/volumes/roles/%s/%s", base, role, id);
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    if (remove(path) < 0 && errno != ENOENT) LOG_WARN("Failed to remove '%s': %s", path, strerror(errno));
    return 0;
}

/* upstream syncCheckpointedResources: create the directories of new
 * volumes, delete those of volumes that are gone (a MOUNT root stays). */
static void sync_volumes(struct agent_proc *a, const struct resources *old, const struct resources *now)
{
    struct resources ov = {0}, nv = {0};
    resources_filter(&ov, old, RESOURCES_PERSISTENT_VOLUMES, NULL);
    resources_filter(&nv, now, RESOURCES_PERSISTENT_VOLUMES, NULL);
    char path[4200], other[4200];
    int mount, m2;
    for (size_t i = 0; i < nv.len; i++) {
        if (volume_path(a, &nv.v[i], path, sizeof path, &mount) < 0) continue;
        int existed = 0;
        for (size_t j = 0; j < ov.len && !existed; j++)
            existed = volume_path(a, &ov.v[j], other, sizeof other, &m2) == 0 && !strcmp(path, other);
        if (existed) continue;
        int rc = agent_mkdirs(path);
        if (rc < 0) LOG_ERR("Failed to create the persistent volume at '%s': %s", path, strerror(-rc));
        else LOG("Created persistent volume at '%s'", path);
    }
    for (size_t i = 0; i < ov.len; i++) {
        if (volume_path(a, &ov.v[i], path, sizeof path, &mount) < 0) continue;
        int stays = 0;
        for (size_t j = 0; j < nv.len && !stays; j++)
            stays = volume_path(a, &nv.v[j], other, sizeof other, &m2) == 0 && !strcmp(path, other);
        if (stays) continue;
        LOG("Deleting persistent volume at '%s'", path);
        if (mount) {
            /* The mount point stays; what is inside goes. */
            char inner[4300];
            snprintf(inner, sizeof inner, "%s", path);
            nftw(inner, rm_one, 16, FTW_DEPTH | FTW_PHYS);
            mkdir(inner, 0755);
        } else {
            nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        }
    }
    resources_free(&ov);
    resources_free(&nv);
}

void agent_ops_link_volumes(struct agent_proc *a, const char *sandbox, const uint8_t *task, size_t n)
{
    struct resources rs = {0}, vols = {0};
    struct buf err = { .max = 4096 };
    resources_decode_field(task, n, 4, &rs, &err);     /* TaskInfo.resources */
    resources_filter(&vols, &rs, RESOURCES_PERSISTENT_VOLUMES, NULL);
    if (vols.len && agent_mkdirs(sandbox) < 0) LOG_WARN("Failed to create sandbox %s", sandbox);
    for (size_t i = 0; i < vols.len; i++) {
        char src[4200], cpath[1024], dst[8192];
        int mount;
        rop_container_path(&vols.v[i], cpath, sizeof cpath);
        if (!cpath[0] || cpath[0] == '/' || strstr(cpath, "..") || volume_path(a, &vols.v[i], src, sizeof src, &mount) < 0)
            continue;
        /* upstream's filesystem/posix isolator: a symbolic link in the sandbox. */
        snprintf(dst, sizeof dst, "%s/%s", sandbox, cpath);
        char parent[8192];
        snprintf(parent, sizeof parent, "%s", dst);
        char *slash = strrchr(parent, '/');
        if (slash) { *slash = 0; agent_mkdirs(parent); }
        if (symlink(src, dst) < 0 && errno != EEXIST)
            LOG_WARN("Failed to link volume '%s' into %s: %s", src, dst, strerror(errno));
        else LOG("Linked persistent volume '%s' as %s", src, dst);
    }
    resources_free(&rs);
    resources_free(&vols);
    buf_free(&err);
}

/* ==== Checkpoint ======================================================== */

static void checkpoint(struct agent_proc *a)
{
    struct agent_res *s = a->res;
    struct resources ck = {0};
    struct buf b = {0};
    rop_checkpointed(&s->total, &ck);
    resources_encode(&ck, 1, RESOURCES_STORED, &b);
    resources_free(&ck);
    for (struct aop *o = s->ops; o; o = o->next) {
        size_t k = pbw_begin(&b, 2);
        pbw_put_bytes(&b, 1, o->uuid, 16);
        if (o->framework_id[0]) pbw_put_str(&b, 2, o->framework_id);
        pbw_put_bytes(&b, 3, o->info.data, o->info.len);
        pbw_put_bytes(&b, 4, o->latest.data, o->latest.len);
        struct pbw_reader r;
        struct pbw_field f;
        pbw_reader_init(&r, o->statuses.data, o->statuses.len);
        while (pbw_next(&r, &f) == 1) pbw_put_bytes(&b, 5, f.p, f.n);
        if (o->pending.len) pbw_put_bytes(&b, 6, o->pending.data, o->pending.len);
        pbw_end(&b, k);
    }
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/meta", a->work_dir);
    int rc = agent_mkdirs(dir);
    if (rc == 0) rc = agent_write_atomic(dir, CKPT_FILE, b.data ? b.data : "", b.len);
    if (rc < 0) LOG_ERR("Failed to checkpoint the agent's resources under %s: %s", dir, strerror(-rc));
    buf_free(&b);
}

/* ==== Operation status updates ========================================== */

static void send_pending(struct aop *o)
{
    struct agent_proc *a = o->a;
    if (!o->pending.len || a->state != AGENT_REGISTERED) return;
    wire_send(a->wire, &a->master, "mesos.internal.UpdateOperationStatusMessage", o->pending.data, o->pending.len);
}

static void retry_cb(struct loop *l, struct loop_timer *t)
{
    struct aop *o = container_of(t, struct aop, retry);
    if (!o->pending.len) return;
    send_pending(o);
    if (o->retry_ms < RETRY_MAX_MS) o->retry_ms *= 2;
    loop_timer_start(l, t, o->retry_ms);
}

static void aop_free(struct aop *o)
{
    loop_timer_stop(o->a->loop, &o->retry);
    buf_free(&o->info);
    buf_free(&o->latest);
    buf_free(&o->statuses);
    buf_free(&o->pending);
    free(o);
}

static struct aop *aop_new(struct agent_proc *a)
{
    struct aop *o = xcalloc(1, sizeof *o);
    o->a = a;
    loop_timer_init(&o->retry, retry_cb);
    struct aop **tail = &a->res->ops;
    while (*tail) tail = &(*tail)->next;
    *tail = o;
    return o;
}

static void aop_remove(struct agent_proc *a, struct aop *o)
{
    for (struct aop **pp = &a->res->ops; *pp; pp = &(*pp)->next)
        if (*pp == o) { *pp = o->next; aop_free(o); return; }
}

static struct aop *find_op(struct agent_proc *a, const uint8_t *uuid)
{
    for (struct aop *o = a->res->ops; o; o = o->next)
        if (!memcmp(o->uuid, uuid, 16)) return o;
    return NULL;
}

/* A new status for the operation, sent reliably: OperationStatus
 * {operation_id 1, state 2, message 3, uuid 5, agent_id 6}. */
static void new_status(struct aop *o, int state, const char *message)
{
    struct agent_proc *a = o->a;
    char opid[256] = "";
    pbw_get_id(o->info.data, o->info.len, 12, opid, sizeof opid);
    uuid_bytes(o->pending_uuid);
    struct buf st = {0};
    if (opid[0]) pbw_put_id(&st, 1, opid);
    pbw_put_uint(&st, 2, (uint64_t)state);
    if (message) pbw_put_str(&st, 3, message);
    size_t k = pbw_begin(&st, 5);
    pbw_put_bytes(&st, 1, o->pending_uuid, 16);
    pbw_end(&st, k);
    pbw_put_id(&st, 6, a->id);
    if (!terminal(status_state(&o->latest))) {
        buf_reset(&o->latest);
        buf_append(&o->latest, st.data, st.len);
    }
    pbw_put_bytes(&o->statuses, 5, st.data, st.len);
    /* UpdateOperationStatusMessage {framework_id 1, slave_id 2, status 3,
     * latest_status 4, operation_uuid 5}. */
    buf_reset(&o->pending);
    if (o->framework_id[0]) pbw_put_id(&o->pending, 1, o->framework_id);
    pbw_put_id(&o->pending, 2, a->id);
    pbw_put_bytes(&o->pending, 3, st.data, st.len);
    pbw_put_bytes(&o->pending, 4, o->latest.data, o->latest.len);
    k = pbw_begin(&o->pending, 5);
    pbw_put_bytes(&o->pending, 1, o->uuid, 16);
    pbw_end(&o->pending, k);
    buf_free(&st);
}

/* ==== Messages from the master ========================================== */

/* Apply an operation (Offer.Operation bytes) to the total; 0 or -1. */
static int apply_info(struct agent_proc *a, const uint8_t *info, size_t n, struct buf *err)
{
    struct rop op;
    if (rop_decode(info, n, &op, err) < 0) return -1;
    rop_unallocate(&op);                              /* the total is unallocated */
    struct resources old = {0};
    resources_copy(&old, &a->res->total);
    int rc = rop_apply(&a->res->total, &op, err);
    if (rc == 0) sync_volumes(a, &old, &a->res->total);
    resources_free(&old);
    rop_free(&op);
    return rc;
}

/* ApplyOperationMessage {framework_id 1, operation_info 2, operation_uuid 3,
 * resource_version_uuid 4}. */
static void on_apply(struct agent_proc *a, const uint8_t *p, size_t n)
{
    struct pbw_field info, ou, ouv;
    if (pbw_find(p, n, 2, &info) != 1 || pbw_find(p, n, 3, &ou) != 1 || pbw_find(ou.p, ou.n, 1, &ouv) != 1 ||
        ouv.n != 16) {
        LOG_WARN("Ignoring a malformed ApplyOperationMessage");
        return;
    }
    if (find_op(a, ouv.p)) return;                    /* a duplicate */
    struct aop *o = aop_new(a);
    memcpy(o->uuid, ouv.p, 16);
    pbw_get_id(p, n, 1, o->framework_id, sizeof o->framework_id);
    buf_append(&o->info, info.p, info.n);
    char opid[256] = "";
    pbw_get_id(info.p, info.n, 12, opid, sizeof opid);
    if (opid[0]) pbw_put_id(&o->latest, 1, opid);
    pbw_put_uint(&o->latest, 2, OPERATION_PENDING);
    pbw_put_id(&o->latest, 6, a->id);
    struct buf err = { .max = 65536 };
    struct pbw_field t;
    int type = pbw_find(info.p, info.n, 1, &t) == 1 ? (int)t.v : 0;
    int rc = apply_info(a, info.p, info.n, &err);
    if (rc == 0) {
        LOG("Applied %s operation '%s' (framework %s)", rop_type_name(type), opid,
            o->framework_id[0] ? o->framework_id : "none: operator API");
        new_status(o, OPERATION_FINISHED, NULL);
    } else {
        /* Upstream's agent would exit here; failing the operation keeps the
         * agent serving and the master learns why. */
        LOG_ERR("Failed to apply %s operation '%s': %.*s", rop_type_name(type), opid, (int)err.len, err.data);
        new_status(o, OPERATION_FAILED, err.data ? err.data : "");
    }
    checkpoint(a);                                    /* durable before anyone hears of it */
    o->retry_ms = RETRY_MIN_MS;
    send_pending(o);
    loop_timer_start(a->loop, &o->retry, o->retry_ms);
    buf_free(&err);
}

/* AcknowledgeOperationStatusMessage {status_uuid 1, operation_uuid 2}. */
static void on_ack(struct agent_proc *a, const uint8_t *p, size_t n)
{
    struct pbw_field su, suv, ou, ouv;
    if (pbw_find(p, n, 1, &su) != 1 || pbw_find(su.p, su.n, 1, &suv) != 1 || suv.n != 16 ||
        pbw_find(p, n, 2, &ou) != 1 || pbw_find(ou.p, ou.n, 1, &ouv) != 1 || ouv.n != 16)
        return;
    struct aop *o = find_op(a, ouv.p);
    if (!o) {
        LOG_WARN("Dropping an operation status acknowledgement: the operation was not found");
        return;
    }
    if (!o->pending.len || memcmp(o->pending_uuid, suv.p, 16) != 0) return;
    buf_reset(&o->pending);
    loop_timer_stop(a->loop, &o->retry);
    if (terminal(status_state(&o->latest))) aop_remove(a, o);
    checkpoint(a);
}

/* ReconcileOperationsMessage {operations 1 {operation_uuid 1, operation_id 3},
 * framework_id 2}. From the master (no framework id): operations this
 * agent does not know were dropped. From a framework: the latest status of
 * the ones it knows. Both best effort, without a status uuid. */
static void on_reconcile(struct agent_proc *a, const uint8_t *p, size_t n)
{
    char fw[160] = "";
    pbw_get_id(p, n, 2, fw, sizeof fw);
    struct pbw_reader r;
    struct pbw_field f, u, uv;
    pbw_reader_init(&r, p, n);
    while (pbw_next(&r, &f) == 1) {
        if (f.tag != 1 || f.wt != PBW_LEN) continue;
        struct aop *o = NULL;
        int has_uuid = pbw_find(f.p, f.n, 1, &u) == 1 && pbw_find(u.p, u.n, 1, &uv) == 1 && uv.n == 16;
        if (has_uuid) o = find_op(a, uv.p);
        if (!o && fw[0]) {
            char want[256] = "";
            pbw_get_id(f.p, f.n, 3, want, sizeof want);
            for (struct aop *x = a->res->ops; x && want[0]; x = x->next) {
                char id[256] = "";
                pbw_get_id(x->info.data, x->info.len, 12, id, sizeof id);
                if (!strcmp(id, want) && !strcmp(x->framework_id, fw)) o = x;
            }
        }
        struct buf msg = {0}, st = {0};
        if (o) {
            if (!fw[0]) continue;                     /* the master's view agrees */
            pbw_copy_except(&st, o->latest.data, o->latest.len, 5);
            pbw_put_id(&msg, 1, fw);
        } else if (!fw[0] && has_uuid) {
            pbw_put_uint(&st, 2, OPERATION_DROPPED);
            pbw_put_id(&st, 6, a->id);
        } else continue;
        pbw_put_id(&msg, 2, a->id);
        pbw_put_bytes(&msg, 3, st.data, st.len);
        size_t k = pbw_begin(&msg, 5);
        pbw_put_bytes(&msg, 1, o ? o->uuid : uv.p, 16);
        pbw_end(&msg, k);
        wire_send(a->wire, &a->master, "mesos.internal.UpdateOperationStatusMessage", msg.data, msg.len);
        buf_free(&msg);
        buf_free(&st);
    }
}

/* CheckpointResourcesMessage {resources 1}: the whole set, from a master
 * that does not send operations. */
static void on_checkpoint_resources(struct agent_proc *a, const uint8_t *p, size_t n)
{
    struct resources ck = {0}, total = {0};
    struct buf err = { .max = 65536 };
    if (resources_decode_field(p, n, 1, &ck, &err) < 0 ||
        rop_apply_checkpointed(&a->res->base, &ck, &total, &err) < 0) {
        LOG_ERR("Ignoring checkpointed resources from the master: %.*s", (int)err.len, err.data);
    } else {
        sync_volumes(a, &a->res->total, &total);
        resources_free(&a->res->total);
        a->res->total = total;
        memset(&total, 0, sizeof total);
        checkpoint(a);
        LOG("Checkpointed resources from the master");
    }
    resources_free(&ck);
    resources_free(&total);
    buf_free(&err);
}

int agent_ops_message(struct agent_proc *a, const char *name, const uint8_t *p, size_t n)
{
    if (!a->res) return 0;
    if (strcmp(name, "mesos.internal.ApplyOperationMessage") == 0) on_apply(a, p, n);
    else if (strcmp(name, "mesos.internal.AcknowledgeOperationStatusMessage") == 0) on_ack(a, p, n);
    else if (strcmp(name, "mesos.internal.ReconcileOperationsMessage") == 0) on_reconcile(a, p, n);
    else if (strcmp(name, "mesos.internal.CheckpointResourcesMessage") == 0) on_checkpoint_resources(a, p, n);
    else return 0;
    return 1;
}

/* ==== Registration ====================================================== */

void agent_ops_encode_registration(struct agent_proc *a, struct buf *msg, int re)
{
    if (!a->res) return;
    struct resources ck = {0};
    rop_checkpointed(&a->res->total, &ck);
    resources_encode(&ck, re ? 7 : 3, RESOURCES_STORED, msg);   /* checkpointed_resources */
    resources_free(&ck);
    size_t k = pbw_begin(msg, re ? 10 : 5);                      /* resource_version_uuid */
    pbw_put_bytes(msg, 1, a->res->version, 16);
    pbw_end(msg, k);
}

/* An Operation {framework_id 1, agent_id 2, info 3, latest_status 4,
 * statuses 5, uuid 6} as field `tag`. */
static void put_operation(struct agent_proc *a, const struct aop *o, uint32_t tag, struct buf *m)
{
    size_t q = pbw_begin(m, tag);
    if (o->framework_id[0]) pbw_put_id(m, 1, o->framework_id);
    pbw_put_id(m, 2, a->id);
    pbw_put_bytes(m, 3, o->info.data, o->info.len);
    pbw_put_bytes(m, 4, o->latest.data, o->latest.len);
    struct pbw_reader r;
    struct pbw_field f;
    pbw_reader_init(&r, o->statuses.data, o->statuses.len);
    while (pbw_next(&r, &f) == 1) pbw_put_bytes(m, 5, f.p, f.n);
    size_t u = pbw_begin(m, 6);
    pbw_put_bytes(m, 1, o->uuid, 16);
    pbw_end(m, u);
    pbw_end(m, q);
}

void agent_ops_encode_operations(struct agent_proc *a, struct buf *pb)
{
    for (struct aop *o = a->res ? a->res->ops : NULL; o; o = o->next) put_operation(a, o, 1, pb);
}

/* After (re)registering: the agent's operations in an UpdateSlaveMessage
 * {slave_id 1, update_oversubscribed_resources 5, operations 6 {operations 1},
 * resource_version_uuid 7, resource_providers 8}, then the updates the
 * master has not acknowledged. */
void agent_ops_registered(struct agent_proc *a)
{
    if (!a->res) return;
    struct buf m = {0};
    pbw_put_id(&m, 1, a->id);
    pbw_put_uint(&m, 5, 0);
    size_t k = pbw_begin(&m, 6);
    for (struct aop *o = a->res->ops; o; o = o->next) put_operation(a, o, 1, &m);
    pbw_end(&m, k);
    k = pbw_begin(&m, 7);
    pbw_put_bytes(&m, 1, a->res->version, 16);
    pbw_end(&m, k);
    k = pbw_begin(&m, 8);
    pbw_end(&m, k);
    wire_send(a->wire, &a->master, "mesos.internal.UpdateSlaveMessage", m.data, m.len);
    buf_free(&m);
    for (struct aop *o = a->res->ops; o; o = o->next)
        if (o->pending.len) {
            o->retry_ms = RETRY_MIN_MS;
            send_pending(o);
            loop_timer_start(a->loop, &o->retry, o->retry_ms);
        }
}

/* ==== Start and stop ==================================================== */

int agent_ops_init(struct agent_proc *a, const void *base_, char *err, size_t cap)
{
    const struct resources *base = base_;
    struct agent_res *s = xcalloc(1, sizeof *s);
    a->res = s;
    uuid_bytes(s->version);
    resources_copy(&s->base, base);
    resources_copy(&s->total, base);
    char path[1200];
    snprintf(path, sizeof path, "%s/meta/%s", a->work_dir, CKPT_FILE);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;                                 /* nothing checkpointed yet */
    struct buf b = { .max = 256u << 20 };
    char tmp[65536];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) buf_append(&b, tmp, k);
    fclose(f);
    if (pbw_valid(b.data, b.len) < 0) {
        snprintf(err, cap, "The checkpoint %s is corrupt", path);
        buf_free(&b);
        return -1;
    }
    struct resources ck = {0}, total = {0};
    struct buf e = { .max = 65536 };
    int rc = 0;
    if (resources_decode_field(b.data, b.len, 1, &ck, &e) < 0 ||
        rop_apply_checkpointed(base, &ck, &total, &e) < 0) {
        snprintf(err, cap, "Checkpointed resources in %s are incompatible with the agent's resources: %.*s",
                 path, (int)e.len, e.data);
        rc = -1;
    } else {
        resources_free(&s->total);
        s->total = total;
        memset(&total, 0, sizeof total);
        struct pbw_reader r;
        struct pbw_field x, y;
        pbw_reader_init(&r, b.data, b.len);
        while (pbw_next(&r, &x) == 1) {
            if (x.tag != 2 || x.wt != PBW_LEN) continue;
            struct aop *o = aop_new(a);
            struct pbw_reader q;
            pbw_reader_init(&q, x.p, x.n);
            while (pbw_next(&q, &y) == 1) {
                if (y.wt != PBW_LEN) continue;
                if (y.tag == 1 && y.n == 16) memcpy(o->uuid, y.p, 16);
                else if (y.tag == 2) snprintf(o->framework_id, sizeof o->framework_id, "%.*s", (int)y.n, (const char *)y.p);
                else if (y.tag == 3) buf_append(&o->info, y.p, y.n);
                else if (y.tag == 4) buf_append(&o->latest, y.p, y.n);
                else if (y.tag == 5) pbw_put_bytes(&o->statuses, 5, y.p, y.n);
                else if (y.tag == 6) buf_append(&o->pending, y.p, y.n);
            }
            /* The status uuid awaiting an ack is the pending update's. */
            struct pbw_field st, su, suv;
            if (o->pending.len && pbw_find(o->pending.data, o->pending.len, 3, &st) == 1 &&
                pbw_find(st.p, st.n, 5, &su) == 1 && pbw_find(su.p, su.n, 1, &suv) == 1 && suv.n == 16)
                memcpy(o->pending_uuid, suv.p, 16);
        }
        size_t nops = 0;
        for (struct aop *o = s->ops; o; o = o->next) nops++;
        LOG("Recovered checkpointed resources and %zu operation(s) from %s", nops, path);
    }
    resources_free(&ck);
    resources_free(&total);
    buf_free(&e);
    buf_free(&b);
    return rc;
}

void agent_ops_free(struct agent_proc *a)
{
    struct agent_res *s = a->res;
    if (!s) return;
    while (s->ops) {
        struct aop *o = s->ops;
        s->ops = o->next;
        aop_free(o);
    }
    resources_free(&s->base);
    resources_free(&s->total);
    free(s);
    a->res = NULL;
}
