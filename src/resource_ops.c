/* resource_ops.c -- offer operations on resources (see resource_ops.h).
 *
 * One idea: an operation is a list of conversions, each taking `consumed`
 * out of a set of resources and putting `converted` in, as upstream's
 * ResourceConversion does. The master applies them to an offer's remaining
 * resources and to the agent's total; the agent applies the same
 * conversions to its own total, so both arrive at the same result. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pbw.h"
#include "resource_ops.h"
#include "util.h"

/* Offer.Operation: type 1, id 12 {value 1}, reserve 3 {resources 1, source 2},
 * unreserve 4 {resources 1}, create 5 {volumes 1}, destroy 6 {volumes 1},
 * grow_volume 13 {volume 1, addition 2}, shrink_volume 14 {volume 1,
 * subtract 2 {value 1}}. */

const char *rop_type_name(int type)
{
    switch (type) {
    case ROP_LAUNCH: return "LAUNCH";
    case ROP_LAUNCH_GROUP: return "LAUNCH_GROUP";
    case ROP_RESERVE: return "RESERVE";
    case ROP_UNRESERVE: return "UNRESERVE";
    case ROP_CREATE: return "CREATE";
    case ROP_DESTROY: return "DESTROY";
    case ROP_GROW_VOLUME: return "GROW_VOLUME";
    case ROP_SHRINK_VOLUME: return "SHRINK_VOLUME";
    case ROP_CREATE_DISK: return "CREATE_DISK";
    case ROP_DESTROY_DISK: return "DESTROY_DISK";
    default: return "UNKNOWN";
    }
}

/* ==== Predicates on one resource ======================================== */

static struct pbw_field field_or_empty(const void *p, size_t n, uint32_t tag, bool *set)
{
    struct pbw_field f;
    *set = p && pbw_find(p, n, tag, &f) == 1 && f.wt == PBW_LEN;
    if (!*set) { f.p = (const uint8_t *)""; f.n = 0; }
    return f;
}

bool rop_is_persistent_volume(const struct resource *r)
{
    bool set;
    if (!r->has_disk) return false;
    field_or_empty(r->disk, r->disk_len, 1, &set);
    return set;
}

bool rop_is_dynamically_reserved(const struct resource *r)
{
    return r->nreservations > 0 && r->reservations[r->nreservations - 1].type == RESERVATION_DYNAMIC;
}

const char *rop_reservation_role(const struct resource *r)
{
    if (!r->nreservations) return "*";
    const char *role = r->reservations[r->nreservations - 1].role;
    return role ? role : "";
}

void rop_persistence_id(const struct resource *r, char *out, size_t cap)
{
    bool set;
    out[0] = 0;
    if (!r->has_disk) return;
    struct pbw_field p = field_or_empty(r->disk, r->disk_len, 1, &set);
    if (!set) return;
    struct pbw_field id = field_or_empty(p.p, p.n, 1, &set);
    snprintf(out, cap, "%.*s", (int)id.n, (const char *)id.p);
}

void rop_container_path(const struct resource *r, char *out, size_t cap)
{
    bool set;
    out[0] = 0;
    if (!r->has_disk) return;
    struct pbw_field v = field_or_empty(r->disk, r->disk_len, 2, &set);
    if (!set) return;
    struct pbw_field c = field_or_empty(v.p, v.n, 1, &set);
    snprintf(out, cap, "%.*s", (int)c.n, (const char *)c.p);
}

static bool has_disk_field(const struct resource *r, uint32_t tag)
{
    bool set;
    if (!r->has_disk) return false;
    field_or_empty(r->disk, r->disk_len, tag, &set);
    return set;
}

void rop_strip_volume(struct resource *r)
{
    if (r->has_disk) {
        if (has_disk_field(r, 3)) {              /* a source: keep it, drop persistence and volume */
            struct buf b = {0};
            struct pbw_reader rd;
            struct pbw_field f;
            pbw_reader_init(&rd, r->disk, r->disk_len);
            while (pbw_next(&rd, &f) == 1)
                if (f.tag != 1 && f.tag != 2) buf_append(&b, f.start, (size_t)(rd.p - f.start));
            free(r->disk);
            r->disk = (uint8_t *)b.data;
            r->disk_len = b.len;
            if (!r->disk) { r->disk = xmalloc(1); r->disk_len = 0; }
        } else {
            free(r->disk);
            r->disk = NULL;
            r->disk_len = 0;
            r->has_disk = false;
        }
    }
    r->shared = false;
    r->shared_count = 0;
}

/* A one-resource list holding a copy of r. */
static void one(struct resources *out, const struct resource *r)
{
    memset(out, 0, sizeof *out);
    resources_add_one(out, r);
}

/* ==== Decoding ========================================================== */

void rop_free(struct rop *op)
{
    resources_free(&op->res);
    resources_free(&op->source);
    for (size_t i = 0; i < op->neach; i++) resources_free(&op->each[i]);
    free(op->each);
    memset(op, 0, sizeof *op);
}

/* Decode every field `tag` of msg: all validated first (upstream's texts),
 * then each one on its own into op->each, and their sum into `sum`. */
static int decode_list(struct rop *op, const uint8_t *msg, size_t n, uint32_t tag, struct resources *sum,
                       bool keep_each, struct buf *err)
{
    if (resources_decode_field(msg, n, tag, sum, err) < 0) return -1;
    if (!keep_each) return 0;
    struct pbw_reader rd;
    struct pbw_field f;
    pbw_reader_init(&rd, msg, n);
    while (pbw_next(&rd, &f) == 1) {
        if (f.tag != tag || f.wt != PBW_LEN) continue;
        struct resources r = {0};
        resources_decode(f.p, f.n, &r, NULL);
        if (!r.len) { resources_free(&r); continue; }   /* empty ones vanish, as in a Resources */
        op->each = xrealloc(op->each, (op->neach + 1) * sizeof *op->each);
        op->each[op->neach++] = r;
    }
    return 0;
}

/* One required Resource field `tag` of msg into out; errors are the bare
 * Resources::validate(Resource) text, as upstream validates these singly. */
static int decode_one(const uint8_t *msg, size_t n, uint32_t tag, struct resources *out, struct buf *err)
{
    struct pbw_field f;
    if (pbw_find(msg, n, tag, &f) != 1 || f.wt != PBW_LEN) return 0;
    return resources_decode(f.p, f.n, out, err);
}

int rop_decode(const void *p, size_t n, struct rop *op, struct buf *err)
{
    memset(op, 0, sizeof *op);
    struct pbw_field t, sub, v;
    op->type = pbw_find(p, n, 1, &t) == 1 && t.wt == PBW_VARINT ? (int)t.v : ROP_UNKNOWN;
    pbw_get_id(p, n, 12, op->id, sizeof op->id);
    static const struct { int type; uint32_t tag; const char *msg; } subs[] = {
        { ROP_RESERVE, 3, "A RESERVE offer operation must have the Offer.Operation.reserve field set." },
        { ROP_UNRESERVE, 4, "An UNRESERVE offer operation must have the Offer.Operation.unreserve field set." },
        { ROP_CREATE, 5, "A CREATE offer operation must have the Offer.Operation.create field set." },
        { ROP_DESTROY, 6, "A DESTROY offer operation must have the Offer.Operation.destroy field set." },
        { ROP_GROW_VOLUME, 13, "A GROW_VOLUME operation must have the Offer.Operation.grow_volume field set" },
        { ROP_SHRINK_VOLUME, 14, "A SHRINK_VOLUME offer operation must have the Offer.Operation.shrink_volume field set" },
    };
    for (size_t i = 0; i < sizeof subs / sizeof *subs; i++) {
        if (subs[i].type != op->type) continue;
        if (pbw_find(p, n, subs[i].tag, &sub) != 1 || sub.wt != PBW_LEN) {
            buf_puts(err, subs[i].msg);
            return -1;
        }
        int rc = 0;
        switch (op->type) {
        case ROP_RESERVE:
            rc = decode_list(op, sub.p, sub.n, 1, &op->res, true, err);
            if (rc == 0) {
                struct rop tmp = {0};
                rc = decode_list(&tmp, sub.p, sub.n, 2, &op->source, false, err);
            }
            break;
        case ROP_UNRESERVE: case ROP_CREATE: case ROP_DESTROY:
            rc = decode_list(op, sub.p, sub.n, 1, &op->res, true, err);
            break;
        case ROP_GROW_VOLUME:
            rc = decode_one(sub.p, sub.n, 1, &op->res, err);
            if (rc == 0) rc = decode_one(sub.p, sub.n, 2, &op->source, err);
            break;
        case ROP_SHRINK_VOLUME:
            rc = decode_one(sub.p, sub.n, 1, &op->res, err);
            if (rc == 0 && pbw_find(sub.p, sub.n, 2, &v) == 1 && v.wt == PBW_LEN) {
                struct pbw_field d;
                double x = 0;
                if (pbw_find(v.p, v.n, 1, &d) == 1 && d.wt == PBW_I64) memcpy(&x, &d.v, 8);
                op->subtract = resources_fixed(x);
            }
            break;
        }
        if (rc < 0) { rop_free(op); return -1; }
    }
    return 0;
}

static void put_resources(struct buf *out, uint32_t tag, const struct resources *rs)
{
    resources_encode(rs, tag, RESOURCES_STORED, out);
}

/* For reserve/unreserve/create/destroy, the resources as given (each). */
static void put_each(struct buf *out, uint32_t tag, const struct rop *op)
{
    if (!op->neach) { put_resources(out, tag, &op->res); return; }
    for (size_t i = 0; i < op->neach; i++) put_resources(out, tag, &op->each[i]);
}

void rop_encode(const struct rop *op, struct buf *out)
{
    pbw_put_uint(out, 1, (uint64_t)op->type);
    size_t k;
    switch (op->type) {
    case ROP_RESERVE:
        k = pbw_begin(out, 3);
        put_each(out, 1, op);
        put_resources(out, 2, &op->source);
        pbw_end(out, k);
        break;
    case ROP_UNRESERVE: case ROP_CREATE: case ROP_DESTROY:
        k = pbw_begin(out, op->type == ROP_UNRESERVE ? 4 : op->type == ROP_CREATE ? 5 : 6);
        put_each(out, 1, op);
        pbw_end(out, k);
        break;
    case ROP_GROW_VOLUME:
        k = pbw_begin(out, 13);
        put_resources(out, 1, &op->res);
        put_resources(out, 2, &op->source);
        pbw_end(out, k);
        break;
    case ROP_SHRINK_VOLUME: {
        k = pbw_begin(out, 14);
        put_resources(out, 1, &op->res);
        size_t s = pbw_begin(out, 2);
        pbw_put_double(out, 1, resources_double(op->subtract));
        pbw_end(out, s);
        pbw_end(out, k);
        break;
    }
    }
    if (op->id[0]) pbw_put_id(out, 12, op->id);
}

static void allocate_unset(struct resources *rs, const char *role)
{
    for (size_t i = 0; i < rs->len; i++) {
        if (rs->v[i].has_allocation) continue;
        rs->v[i].has_allocation = true;
        rs->v[i].allocation_role = xstrdup(role);
    }
}

void rop_allocate(struct rop *op, const char *role)
{
    allocate_unset(&op->res, role);
    allocate_unset(&op->source, role);
    for (size_t i = 0; i < op->neach; i++) allocate_unset(&op->each[i], role);
}

void rop_unallocate(struct rop *op)
{
    resources_unallocate(&op->res);
    resources_unallocate(&op->source);
    for (size_t i = 0; i < op->neach; i++) resources_unallocate(&op->each[i]);
}

/* ==== Conversions ======================================================= */

void rconv_free(struct rconv *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        resources_free(&c[i].consumed);
        resources_free(&c[i].converted);
    }
    free(c);
}

static struct rconv *push_conv(struct rconv **v, size_t *n)
{
    *v = xrealloc(*v, (*n + 1) * sizeof **v);
    struct rconv *c = &(*v)[(*n)++];
    memset(c, 0, sizeof *c);
    return c;
}

static bool has_provider(const struct resources *rs)
{
    for (size_t i = 0; i < rs->len; i++)
        if (rs->v[i].has_provider_id) return true;
    return false;
}

int rop_conversions(const struct rop *op, struct rconv **out, size_t *n, struct buf *err)
{
    *out = NULL;
    *n = 0;
    struct rconv *c;
    switch (op->type) {
    case ROP_UNKNOWN:
        buf_puts(err, "Unknown operation");
        return -1;
    case ROP_RESERVE:
        c = push_conv(out, n);
        if (op->source.len) resources_copy(&c->consumed, &op->source);
        else {
            resources_copy(&c->consumed, &op->res);
            resources_pop_reservation(&c->consumed);
        }
        resources_copy(&c->converted, &op->res);
        return 0;
    case ROP_UNRESERVE:
        for (size_t i = 0; i < op->neach; i++) {
            c = push_conv(out, n);
            resources_copy(&c->consumed, &op->each[i]);
            resources_copy(&c->converted, &op->each[i]);
            resources_pop_reservation(&c->converted);
        }
        return 0;
    case ROP_CREATE: case ROP_DESTROY:
        for (size_t i = 0; i < op->neach; i++)
            for (size_t j = 0; j < op->each[i].len; j++) {
                struct resources vol, stripped;
                one(&vol, &op->each[i].v[j]);
                one(&stripped, &op->each[i].v[j]);
                if (stripped.len) rop_strip_volume(&stripped.v[0]);
                c = push_conv(out, n);
                c->consumed = op->type == ROP_CREATE ? stripped : vol;
                c->converted = op->type == ROP_CREATE ? vol : stripped;
                c->check_destroyed = op->type == ROP_DESTROY;
            }
        return 0;
    case ROP_GROW_VOLUME: {
        if (has_provider(&op->res)) {
            buf_puts(err, "Operation not supported for resource provider");
            return -1;
        }
        c = push_conv(out, n);
        resources_copy(&c->consumed, &op->res);
        resources_add(&c->consumed, &op->source);
        resources_copy(&c->converted, &op->res);
        if (c->converted.len && op->source.len)
            c->converted.v[0].scalar += op->source.v[0].scalar;
        return 0;
    }
    case ROP_SHRINK_VOLUME: {
        if (has_provider(&op->res)) {
            buf_puts(err, "Operation not supported for resource provider");
            return -1;
        }
        c = push_conv(out, n);
        resources_copy(&c->consumed, &op->res);
        if (op->res.len) {
            struct resources shrunk, freed;
            one(&shrunk, &op->res.v[0]);
            one(&freed, &op->res.v[0]);
            if (shrunk.len) shrunk.v[0].scalar -= op->subtract;
            if (freed.len) { freed.v[0].scalar = op->subtract; rop_strip_volume(&freed.v[0]); }
            c->converted = shrunk;
            resources_add(&c->converted, &freed);
            resources_free(&freed);
        }
        return 0;
    }
    default:
        buf_puts(err, "Operation not supported");
        return -1;
    }
}

int rop_consumed(const struct rop *op, struct resources *out, struct buf *err)
{
    if (op->type == ROP_LAUNCH || op->type == ROP_LAUNCH_GROUP || op->type == ROP_UNKNOWN) {
        buf_puts(err, "Unsupported operation");
        return -1;
    }
    struct rconv *c;
    size_t n;
    if (rop_conversions(op, &c, &n, err) < 0) return -1;
    for (size_t i = 0; i < n; i++) resources_add(out, &c[i].consumed);
    rconv_free(c, n);
    return 0;
}

int rconv_apply(struct resources *rs, const struct rconv *c, size_t n, struct buf *err)
{
    struct resources r = {0};
    resources_copy(&r, rs);
    for (size_t i = 0; i < n; i++) {
        if (!resources_contains(&r, &c[i].consumed)) {
            resources_format(&r, err);
            buf_puts(err, " does not contain ");
            resources_format(&c[i].consumed, err);
            resources_free(&r);
            return -1;
        }
        resources_subtract(&r, &c[i].consumed);
        resources_add(&r, &c[i].converted);
        if (c[i].check_destroyed && c[i].consumed.len && resources_contains(&r, &c[i].consumed)) {
            buf_puts(err, "Persistent volume ");
            resources_format_one(&c[i].consumed.v[0], err);
            buf_puts(err, " cannot be removed due to additional shared copies");
            resources_free(&r);
            return -1;
        }
    }
    resources_free(rs);
    *rs = r;
    return 0;
}

int rop_apply(struct resources *rs, const struct rop *op, struct buf *err)
{
    struct rconv *c;
    size_t n;
    if (rop_conversions(op, &c, &n, err) < 0) return -1;
    int rc = rconv_apply(rs, c, n, err);
    rconv_free(c, n);
    return rc;
}

/* ==== Checkpointed resources ============================================ */

void rop_checkpointed(const struct resources *total, struct resources *out)
{
    for (size_t i = 0; i < total->len; i++) {
        const struct resource *r = &total->v[i];
        if (!r->has_provider_id && (rop_is_dynamically_reserved(r) || rop_is_persistent_volume(r)))
            resources_add_one(out, r);
    }
}

int rop_apply_checkpointed(const struct resources *base, const struct resources *ckpt,
                           struct resources *out, struct buf *err)
{
    struct resources total = {0};
    resources_copy(&total, base);
    for (size_t i = 0; i < ckpt->len; i++) {
        const struct resource *r = &ckpt->v[i];
        if (!(!r->has_provider_id && (rop_is_dynamically_reserved(r) || rop_is_persistent_volume(r)))) {
            buf_puts(err, "Unexpected checkpointed resources ");
            resources_format_one(r, err);
            resources_free(&total);
            return -1;
        }
        /* Only unreserved and statically reserved resources exist on the
         * command line: take away the dynamic reservations (keeping a
         * static first one) and the volume to find what it was made from. */
        struct resources s;
        one(&s, r);
        if (!s.len) continue;
        struct resource *x = &s.v[0];
        if (rop_is_dynamically_reserved(x)) {
            size_t keep = x->reservations[0].type == RESERVATION_STATIC ? 1 : 0;
            while (x->nreservations > keep) resources_pop_reservation(&s), x = &s.v[0];
        }
        if (rop_is_persistent_volume(x)) rop_strip_volume(x);
        x->shared = false;
        x->shared_count = 0;
        if (!resources_contains(&total, &s)) {
            buf_puts(err, "Incompatible agent resources: ");
            resources_format(&total, err);
            buf_puts(err, " does not contain ");
            resources_format(&s, err);
            resources_free(&s);
            resources_free(&total);
            return -1;
        }
        resources_subtract(&total, &s);
        resources_add_one(&total, r);
        resources_free(&s);
    }
    resources_add(out, &total);
    resources_free(&total);
    return 0;
}

/* ==== Validation (validation::operation) ================================ */

/* common::validation::validateID. */
static int validate_id(const char *id, struct buf *err)
{
    if (!id[0]) { buf_puts(err, "ID must not be empty"); return -1; }
    if (strlen(id) > 255) { buf_puts(err, "ID must not be greater than 255 characters"); return -1; }
    if (!strcmp(id, ".") || !strcmp(id, "..")) { buf_printf(err, "'%s' is disallowed", id); return -1; }
    for (const char *c = id; *c; c++)
        if (iscntrl((unsigned char)*c) || *c == '/' || *c == '\\') {
            buf_printf(err, "'%s' contains invalid characters", id);
            return -1;
        }
    return 0;
}

/* resource::validate beyond Resources::validate (which decoding did):
 * gpus, DiskInfo and dynamic reservations. */
static int validate_resources(const struct resources *rs, struct buf *err)
{
    int64_t gpus = resources_scalar(rs, "gpus");
    if (gpus % 1000 != 0) {
        buf_puts(err, "Invalid 'gpus' resource: The 'gpus' resource must be an unsigned integer");
        return -1;
    }
    for (size_t i = 0; i < rs->len; i++) {
        const struct resource *r = &rs->v[i];
        if (!r->has_disk) continue;
        if (has_disk_field(r, 1)) {
            const char *why = NULL;
            char pid[300];
            struct buf e = {0};
            bool host_path = false, set;
            struct pbw_field v = field_or_empty(r->disk, r->disk_len, 2, &set);
            if (set) field_or_empty(v.p, v.n, 2, &host_path);
            rop_persistence_id(r, pid, sizeof pid);
            if (r->revocable) why = "Persistent volumes cannot be created from revocable resources";
            else if (!r->nreservations) why = "Persistent volumes cannot be created from unreserved resources";
            else if (!has_disk_field(r, 2)) why = "Expecting 'volume' to be set for persistent volume";
            else if (host_path) why = "Expecting 'host_path' to be unset for persistent volume";
            else if (validate_id(pid, &e) < 0) {
                buf_puts(err, "Invalid DiskInfo: Invalid persistence ID for persistent volume: ");
                buf_append(err, e.data, e.len);
                buf_free(&e);
                return -1;
            }
            if (why) { buf_printf(err, "Invalid DiskInfo: %s", why); return -1; }
        } else if (has_disk_field(r, 2)) {
            buf_puts(err, "Invalid DiskInfo: Non-persistent volume not supported");
            return -1;
        } else if (!has_disk_field(r, 3)) {
            buf_puts(err, "Invalid DiskInfo: DiskInfo is set but empty");
            return -1;
        }
    }
    for (size_t i = 0; i < rs->len; i++)
        if (rop_is_dynamically_reserved(&rs->v[i]) && rs->v[i].revocable) {
            buf_puts(err, "Invalid ReservationInfo: Dynamically reserved resource ");
            resources_format_one(&rs->v[i], err);
            buf_puts(err, " cannot be created from revocable resources");
            return -1;
        }
    return 0;
}

/* validateSingleResourceProvider. */
static int single_provider(const struct resources *rs, struct buf *err)
{
    int with = 0, without = 0;
    for (size_t i = 0; i < rs->len; i++) {
        if (rs->v[i].has_provider_id) with++;
        else without++;
    }
    if (with && without) {
        buf_puts(err, "Some resources have a resource provider and some do not");
        return -1;
    }
    for (size_t i = 1; i < rs->len && with; i++)
        if (rs->v[i].provider_id_len != rs->v[0].provider_id_len ||
            (rs->v[0].provider_id_len &&
             memcmp(rs->v[i].provider_id, rs->v[0].provider_id, rs->v[0].provider_id_len) != 0)) {
            buf_puts(err, "The resources have multiple resource providers");
            return -1;
        }
    return 0;
}

/* validatePersistentVolume. */
static int persistent_volumes(const struct resources *rs, struct buf *err)
{
    for (size_t i = 0; i < rs->len; i++) {
        const struct resource *r = &rs->v[i];
        if (!r->has_disk) {
            buf_puts(err, "Resource ");
            resources_format_one(r, err);
            buf_puts(err, " does not have DiskInfo");
            return -1;
        }
        if (!has_disk_field(r, 1)) { buf_puts(err, "'persistence' is not set in DiskInfo"); return -1; }
        if (!has_disk_field(r, 2)) { buf_puts(err, "Expecting 'volume' to be set for persistent volume"); return -1; }
        bool set;
        struct pbw_field v = field_or_empty(r->disk, r->disk_len, 2, &set);
        struct pbw_field mode;
        if (pbw_find(v.p, v.n, 3, &mode) == 1 && mode.v == 2) {   /* Volume.RO */
            buf_puts(err, "Read-only persistent volume not supported");
            return -1;
        }
    }
    return 0;
}

/* validateAllocatedToSingleRole. */
static int single_allocation_role(const struct resources *rs, struct buf *err)
{
    const char *role = NULL;
    for (size_t i = 0; i < rs->len; i++) {
        const struct resource *r = &rs->v[i];
        if (!r->has_allocation || !r->allocation_role) {
            buf_puts(err, "The resources are not allocated to a role");
            return -1;
        }
        if (!role) role = r->allocation_role;
        else if (strcmp(role, r->allocation_role) != 0) {
            buf_printf(err, "The resources have multiple allocation roles ('%s' and '%s') but only one "
                       "allocation role is allowed", r->allocation_role, role);
            return -1;
        }
    }
    return 0;
}

static bool has_role(const struct rop_ctx *ctx, const char *role)
{
    for (size_t i = 0; i < ctx->nroles; i++)
        if (strcmp(ctx->roles[i], role) == 0) return true;
    return false;
}

static void format_roles(const struct rop_ctx *ctx, struct buf *err)
{
    buf_puts(err, "{ ");
    for (size_t i = 0; i < ctx->nroles; i++) buf_printf(err, "%s%s", i ? ", " : "", ctx->roles[i]);
    buf_puts(err, " }");
}

static bool refined(const struct resource *r)
{
    return r->nreservations > 1;
}

static int validate_reserve(const struct rop *op, const struct rop_ctx *ctx, struct buf *err)
{
    size_t mark = err->len;
    if (validate_resources(&op->source, err) < 0) {
        /* "Invalid source: ..." */
        struct buf m = {0};
        buf_append(&m, err->data + mark, err->len - mark);
        err->len = mark;
        buf_puts(err, "Invalid source: ");
        buf_append(err, m.data, m.len);
        buf_free(&m);
        return -1;
    }
    if (op->source.len) {
        struct resources a = {0}, b = {0};
        resources_to_unreserved(&a, &op->source);
        resources_to_unreserved(&b, &op->res);
        bool same = resources_equal(&a, &b);
        if (!same) {
            buf_puts(err, "Source and target resources should refer to identical resource quantities: ");
            resources_format(&a, err);
            buf_puts(err, " vs. ");
            resources_format(&b, err);
        }
        resources_free(&a);
        resources_free(&b);
        if (!same) return -1;
    }
    for (size_t i = 0; i < op->res.len; i++) {
        const struct resource *r = &op->res.v[i];
        const char *role = rop_reservation_role(r);
        if (!rop_is_dynamically_reserved(r)) {
            buf_puts(err, "Resource ");
            resources_format_one(r, err);
            buf_puts(err, " is not dynamically reserved");
            return -1;
        }
        if (!ctx->hierarchical_role && strchr(role, '/')) {
            buf_puts(err, "Resource ");
            resources_format_one(r, err);
            buf_printf(err, " with reservation for hierarchical role '%s' cannot be reserved on an agent "
                       "without HIERARCHICAL_ROLE capability", role);
            return -1;
        }
        if (!ctx->reservation_refinement && refined(r)) {
            buf_puts(err, "Resource ");
            resources_format_one(r, err);
            buf_puts(err, " with reservation refinement cannot be reserved on an agent without "
                     "RESERVATION_REFINEMENT capability");
            return -1;
        }
        if (ctx->principal) {
            const char *p = r->reservations[r->nreservations - 1].principal;
            if (!p) {
                buf_printf(err, "A reserve operation was attempted by principal '%s', but there is a reserved "
                           "resource in the request with no principal set", ctx->principal);
                return -1;
            }
            if (strcmp(p, ctx->principal) != 0) {
                buf_printf(err, "A reserve operation was attempted by authenticated principal '%s', which does "
                           "not match a reserved resource in the request with principal '%s'", ctx->principal, p);
                return -1;
            }
        }
        if (ctx->framework) {
            if (!r->has_allocation || !r->allocation_role) {
                buf_puts(err, "A reserve operation was attempted on unallocated resource ");
                resources_format_one(r, err);
                buf_puts(err, ", but frameworks can only perform reservations on allocated resources");
                return -1;
            }
            if (strcmp(r->allocation_role, role) != 0) {
                buf_printf(err, "A reserve operation was attempted for a resource with role '%s', but the "
                           "resource was allocated to role '%s'", role, r->allocation_role);
                return -1;
            }
            if (!has_role(ctx, r->allocation_role)) {
                buf_printf(err, "A reserve operation was attempted for a resource allocated to role '%s', "
                           "but the framework only has roles '", r->allocation_role);
                format_roles(ctx, err);
                buf_puts(err, "'");
                return -1;
            }
        } else if (r->has_allocation) {
            buf_puts(err, "A reserve operation was attempted with an allocated resource, but the operator API "
                     "only allows reservations to be made to unallocated resources");
            return -1;
        }
    }
    if (ctx->framework && single_allocation_role(&op->res, err) < 0) return -1;
    return 0;
}

static int validate_unreserve(const struct rop *op, struct buf *err)
{
    for (size_t i = 0; i < op->res.len; i++) {
        const struct resource *r = &op->res.v[i];
        if (!rop_is_dynamically_reserved(r)) {
            buf_puts(err, "Resource ");
            resources_format_one(r, err);
            buf_puts(err, " is not dynamically reserved");
            return -1;
        }
        if (rop_is_persistent_volume(r)) {
            buf_puts(err, "A dynamically reserved persistent volume ");
            resources_format_one(r, err);
            buf_puts(err, " cannot be unreserved directly. Please destroy the persistent volume first then "
                     "unreserve the resource");
            return -1;
        }
    }
    return 0;
}

/* validateUniquePersistenceID over rs: unique per role. */
static int unique_ids(const struct resources *a, const struct resources *b, struct buf *err)
{
    const struct resources *lists[2] = { a, b };
    for (int la = 0; la < 2; la++)
        for (size_t i = 0; lists[la] && i < lists[la]->len; i++) {
            const struct resource *x = &lists[la]->v[i];
            if (!rop_is_persistent_volume(x)) continue;
            char xi[300];
            rop_persistence_id(x, xi, sizeof xi);
            for (int lb = la; lb < 2; lb++)
                for (size_t j = lb == la ? i + 1 : 0; lists[lb] && j < lists[lb]->len; j++) {
                    const struct resource *y = &lists[lb]->v[j];
                    if (!rop_is_persistent_volume(y)) continue;
                    char yi[300];
                    rop_persistence_id(y, yi, sizeof yi);
                    if (strcmp(xi, yi) == 0 && strcmp(rop_reservation_role(x), rop_reservation_role(y)) == 0) {
                        buf_printf(err, "Persistence ID '%s' is not unique", xi);
                        return -1;
                    }
                }
        }
    return 0;
}

static int validate_create(const struct rop *op, const struct rop_ctx *ctx, struct buf *err)
{
    size_t mark = err->len;
    if (persistent_volumes(&op->res, err) < 0) {
        struct buf m = {0};
        buf_append(&m, err->data + mark, err->len - mark);
        err->len = mark;
        buf_puts(err, "Not a persistent volume: ");
        buf_append(err, m.data, m.len);
        buf_free(&m);
        return -1;
    }
    /* Each volume as given (the list merges nothing: volumes never merge). */
    if (unique_ids(ctx->checkpointed, &op->res, err) < 0) return -1;
    for (size_t i = 0; i < op->res.len; i++) {
        const struct resource *v = &op->res.v[i];
        const char *role = rop_reservation_role(v);
        if (ctx->framework && v->shared && !ctx->shared_resources) {
            buf_puts(err, "Create volume operation for '");
            resources_format_one(v, err);
            buf_printf(err, "' has been attempted by framework '%s' with no SHARED_RESOURCES capability",
                       ctx->framework_id ? ctx->framework_id : "");
            return -1;
        }
        if (!ctx->hierarchical_role && strchr(role, '/')) {
            buf_puts(err, "Volume ");
            resources_format_one(v, err);
            buf_printf(err, " with reservation for hierarchical role '%s' cannot be created on an agent "
                       "without HIERARCHICAL_ROLE capability", role);
            return -1;
        }
        if (!ctx->reservation_refinement && refined(v)) {
            buf_puts(err, "Volume ");
            resources_format_one(v, err);
            buf_puts(err, " with reservation refinement cannot be created on an agent without "
                     "RESERVATION_REFINEMENT capability");
            return -1;
        }
        if (ctx->principal) {
            bool set;
            struct pbw_field ps = field_or_empty(v->disk, v->disk_len, 1, &set);
            struct pbw_field pr = field_or_empty(ps.p, ps.n, 2, &set);
            if (!set) {
                buf_printf(err, "Create volume operation attempted by principal '%s', but there is a volume "
                           "in the operation with no principal set in 'disk.persistence'", ctx->principal);
                return -1;
            }
            if (pr.n != strlen(ctx->principal) || memcmp(pr.p, ctx->principal, pr.n) != 0) {
                buf_printf(err, "Create volume operation attempted by authenticated principal '%s', which "
                           "does not match a volume in the operation with principal '%.*s' set in "
                           "'disk.persistence'", ctx->principal, (int)pr.n, (const char *)pr.p);
                return -1;
            }
        }
    }
    if (ctx->framework) {
        size_t m2 = err->len;
        if (single_allocation_role(&op->res, err) < 0) {
            struct buf m = {0};
            buf_append(&m, err->data + m2, err->len - m2);
            err->len = m2;
            buf_puts(err, "Invalid volume resources: ");
            buf_append(err, m.data, m.len);
            buf_free(&m);
            return -1;
        }
    }
    return 0;
}

static int validate_destroy(const struct rop *op, const struct rop_ctx *ctx, struct buf *err)
{
    struct resources vols = {0};
    resources_copy(&vols, &op->res);
    resources_unallocate(&vols);
    int rc = -1;
    if (validate_resources(&vols, err) < 0 || single_provider(&vols, err) < 0) goto out;
    size_t mark = err->len;
    if (persistent_volumes(&vols, err) < 0) {
        struct buf m = {0};
        buf_append(&m, err->data + mark, err->len - mark);
        err->len = mark;
        buf_puts(err, "Not a persistent volume: ");
        buf_append(err, m.data, m.len);
        buf_free(&m);
        goto out;
    }
    for (size_t i = 0; i < vols.len; i++) {
        if (vols.v[i].has_provider_id) continue;
        struct resources v;
        one(&v, &vols.v[i]);
        bool found = ctx->checkpointed && resources_contains(ctx->checkpointed, &v);
        bool used = false;
        if (ctx->used) {
            struct resources u = {0};
            resources_copy(&u, ctx->used);
            resources_unallocate(&u);
            used = resources_contains(&u, &v);
            resources_free(&u);
        }
        resources_free(&v);
        if (!found) { buf_puts(err, "Persistent volumes not found"); goto out; }
        if (used) { buf_puts(err, "Persistent volumes in use"); goto out; }
    }
    rc = 0;
out:
    resources_free(&vols);
    return rc;
}

static int validate_grow(const struct rop *op, const struct rop_ctx *ctx, struct buf *err)
{
    const struct resource *v = op->res.len ? &op->res.v[0] : NULL;
    const struct resource *a = op->source.len ? &op->source.v[0] : NULL;
    if (!a || a->type != RESOURCE_SCALAR || a->scalar <= 0) {
        buf_puts(err, "The size of 'GrowVolume.addition' field must be greater than zero");
        return -1;
    }
    if (!v) { buf_puts(err, "Invalid persistent volume in the 'GrowVolume.volume' field: empty"); return -1; }
    if (v->has_provider_id) { buf_puts(err, "Growing a volume from a resource provider is not supported"); return -1; }
    size_t mark = err->len;
    if (persistent_volumes(&op->res, err) < 0) {
        struct buf m = {0};
        buf_append(&m, err->data + mark, err->len - mark);
        err->len = mark;
        buf_puts(err, "Invalid persistent volume in the 'GrowVolume.volume' field: ");
        buf_append(err, m.data, m.len);
        buf_free(&m);
        return -1;
    }
    if (v->shared) { buf_puts(err, "Growing a shared persistent volume is not supported"); return -1; }
    struct resources s;
    one(&s, v);
    rop_strip_volume(&s.v[0]);
    resources_add(&s, &op->source);
    bool compatible = s.len == 1;
    resources_free(&s);
    if (!compatible) {
        buf_puts(err, "Incompatible resources in the 'GrowVolume.volume' and 'GrowVolume.addition' fields");
        return -1;
    }
    if (!ctx->resize_volume) {
        buf_puts(err, "Volume ");
        resources_format_one(v, err);
        buf_puts(err, " cannot be grown on an agent without RESIZE_VOLUME capability");
        return -1;
    }
    return 0;
}

static int validate_shrink(const struct rop *op, const struct rop_ctx *ctx, struct buf *err)
{
    const struct resource *v = op->res.len ? &op->res.v[0] : NULL;
    if (op->subtract <= 0) { buf_puts(err, "Value of 'ShrinkVolume.subtract' must be greater than zero"); return -1; }
    if (!v || v->type != RESOURCE_SCALAR || v->scalar <= op->subtract) {
        buf_puts(err, "Value of 'ShrinkVolume.subtract' must be smaller than the size of 'ShrinkVolume.volume'");
        return -1;
    }
    if (v->has_provider_id) { buf_puts(err, "Shrinking a volume from a resource provider is not supported"); return -1; }
    bool set;
    struct pbw_field src = field_or_empty(v->disk, v->disk_len, 3, &set);
    struct pbw_field ty;
    if (set && pbw_find(src.p, src.n, 1, &ty) == 1 && ty.v == 2) {   /* Source.MOUNT */
        buf_puts(err, "Shrinking a volume on a MOUNT disk is not supported");
        return -1;
    }
    size_t mark = err->len;
    if (persistent_volumes(&op->res, err) < 0) {
        struct buf m = {0};
        buf_append(&m, err->data + mark, err->len - mark);
        err->len = mark;
        buf_puts(err, "Invalid persistent volume in the 'ShrinkVolume.volume' field: ");
        buf_append(err, m.data, m.len);
        buf_free(&m);
        return -1;
    }
    if (v->shared) { buf_puts(err, "Shrinking a shared persistent volume is not supported"); return -1; }
    if (!ctx->resize_volume) {
        buf_puts(err, "Volume ");
        resources_format_one(v, err);
        buf_puts(err, " cannot be shrunk on an agent without RESIZE_VOLUME capability");
        return -1;
    }
    return 0;
}

/* Upstream prefixes "Invalid resources: " to what resource::validate says
 * about reserve/unreserve/create resources. */
static int prefixed(int rc, struct buf *err, size_t mark, const char *prefix)
{
    if (rc == 0 || !prefix) return rc;
    struct buf m = {0};
    buf_append(&m, err->data + mark, err->len - mark);
    err->len = mark;
    buf_puts(err, prefix);
    buf_append(err, m.data, m.len);
    buf_free(&m);
    return rc;
}

int rop_validate(const struct rop *op, const struct rop_ctx *ctx, struct buf *err)
{
    size_t mark = err->len;
    switch (op->type) {
    case ROP_RESERVE: {
        /* resource::validate failures and the provider check read "Invalid resources: ...". */
        struct buf e = {0};
        if (validate_resources(&op->res, &e) < 0 || single_provider(&op->res, &e) < 0) {
            buf_puts(err, "Invalid resources: ");
            buf_append(err, e.data, e.len);
            buf_free(&e);
            return -1;
        }
        buf_free(&e);
        return validate_reserve(op, ctx, err);
    }
    case ROP_UNRESERVE: {
        struct buf e = {0};
        int bad = validate_resources(&op->res, &e) < 0 || single_provider(&op->res, &e) < 0;
        if (bad) {
            buf_puts(err, "Invalid resources: ");
            buf_append(err, e.data, e.len);
        }
        buf_free(&e);
        return bad ? -1 : validate_unreserve(op, err);
    }
    case ROP_CREATE: {
        struct buf e = {0};
        int bad = validate_resources(&op->res, &e) < 0 || single_provider(&op->res, &e) < 0;
        if (bad) {
            buf_puts(err, "Invalid resources: ");
            buf_append(err, e.data, e.len);
        }
        buf_free(&e);
        return bad ? -1 : validate_create(op, ctx, err);
    }
    case ROP_DESTROY: {
        int rc = validate_destroy(op, ctx, err);
        /* resource::validate and provider failures get "Invalid resources: "; the rest stand alone. */
        if (rc < 0 && err->len > mark) {
            const char *m = err->data + mark;
            size_t n = err->len - mark;
            bool plain = (n >= 25 && !memcmp(m, "Not a persistent volume: ", 25)) ||
                         (n >= 27 && !memcmp(m, "Persistent volumes not found", 27)) ||
                         (n >= 25 && !memcmp(m, "Persistent volumes in use", 25));
            return prefixed(rc, err, mark, plain ? NULL : "Invalid resources: ");
        }
        return rc;
    }
    case ROP_GROW_VOLUME: return validate_grow(op, ctx, err);
    case ROP_SHRINK_VOLUME: return validate_shrink(op, ctx, err);
    default: return 0;
    }
}
