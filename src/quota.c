/* quota.c -- roles and quota in the operator API: GET_ROLES, GET_QUOTA,
 * UPDATE_QUOTA and the deprecated SET_QUOTA / REMOVE_QUOTA, with upstream's
 * validation, status codes and texts (src/master/quota_handler.cpp,
 * quota.cpp, readonly_handler.cpp).
 *
 * A quota is guarantees and limits by resource name in fixed point; the
 * allocator reads m->quotas each cycle. quota_set is the only writer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allocator.h"
#include "log.h"
#include "master.h"
#include "mesos/v1/master/master.pb.h"
#include "pbw.h"
#include "persist.h"
#include "registry.h"
#include "resources.h"
#include "util.h"

#define QUOTA_MAX_NAMES 64

/* ==== Quantities ======================================================== */

struct qlist { struct quota_entry v[QUOTA_MAX_NAMES]; size_t n; };

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct quota_entry *)a)->name, ((const struct quota_entry *)b)->name);
}

static struct quota_entry *qfind(struct quota_entry *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0) return &v[i];
    return NULL;
}

static void qadd(struct qlist *l, const char *name, int64_t v)
{
    struct quota_entry *e = qfind(l->v, l->n, name);
    if (e) { e->value += v; return; }
    if (l->n == QUOTA_MAX_NAMES) return;
    snprintf(l->v[l->n].name, sizeof l->v[l->n].name, "%s", name);
    l->v[l->n++].value = v;
}

/* stringify(ResourceQuantities / ResourceLimits): "cpus:1; mem:2", "{}". */
static void qformat(const struct quota_entry *v, size_t n, struct buf *out)
{
    struct quota_entry s[QUOTA_MAX_NAMES];
    size_t k = 0;
    for (size_t i = 0; i < n && k < QUOTA_MAX_NAMES; i++) s[k++] = v[i];
    qsort(s, k, sizeof *s, cmp_entry);
    if (!k) buf_puts(out, "{}");
    for (size_t i = 0; i < k; i++) buf_printf(out, "%s%s:%.15g", i ? "; " : "", s[i].name, resources_double(s[i].value));
}

static void from_avec(struct master *m, const struct avec *v, struct qlist *out)
{
    for (int d = 0; d < ALLOC_DIMS; d++)
        if (v->v[d] > 0 && alloc_dim_name(m, d)[0]) qadd(out, alloc_dim_name(m, d), v->v[d]);
}

/* ==== State ============================================================= */

static struct quota *find_quota(struct master *m, const char *role)
{
    for (struct quota *q = m->quotas; q; q = q->next)
        if (strcmp(q->role, role) == 0) return q;
    return NULL;
}

/* Set a role's quota; with neither guarantees nor limits, the role goes
 * back to the default (no quota). */
void quota_set(struct master *m, const char *role, const struct quota_entry *g, size_t ng,
               const struct quota_entry *l, size_t nl)
{
    struct quota **pp = &m->quotas;
    while (*pp && strcmp((*pp)->role, role) != 0) pp = &(*pp)->next;
    struct quota *q = *pp;
    if (q) {
        *pp = q->next;
        free(q->guarantees);
        free(q->limits);
        free(q);
    }
    if (!ng && !nl) {
        LOG("Quota of role '%s' removed", role);
        return;
    }
    q = xcalloc(1, sizeof *q);
    snprintf(q->role, sizeof q->role, "%s", role);
    q->guarantees = xcalloc(ng ? ng : 1, sizeof *q->guarantees);
    q->limits = xcalloc(nl ? nl : 1, sizeof *q->limits);
    memcpy(q->guarantees, g, ng * sizeof *g);
    memcpy(q->limits, l, nl * sizeof *l);
    q->nguarantees = ng;
    q->nlimits = nl;
    qsort(q->guarantees, ng, sizeof *q->guarantees, cmp_entry);
    qsort(q->limits, nl, sizeof *q->limits, cmp_entry);
    /* Sorted by role, so GET_QUOTA lists them in a stable order. */
    pp = &m->quotas;
    while (*pp && strcmp((*pp)->role, role) < 0) pp = &(*pp)->next;
    q->next = *pp;
    *pp = q;
    LOG("Quota of role '%s' set", role);
}

void quota_free(struct master *m)
{
    while (m->quotas) {
        struct quota *q = m->quotas;
        m->quotas = q->next;
        free(q->guarantees);
        free(q->limits);
        free(q);
    }
}

/* ==== GET_QUOTA ========================================================= */

static void put_scalar_map(struct buf *pb, uint32_t tag, const struct quota_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t k = pbw_begin(pb, tag);
        pbw_put_str(pb, 1, v[i].name);
        size_t s = pbw_begin(pb, 2);
        pbw_put_double(pb, 1, resources_double(v[i].value));
        pbw_end(pb, s);
        pbw_end(pb, k);
    }
}

void op_get_quota(struct api_ctx *c)
{
    struct master *m = c->state;
    struct buf pb = {0};
    pbw_put_uint(&pb, 1, mesos_v1_master_Response_Type_GET_QUOTA);
    size_t k = pbw_begin(&pb, 19);
    size_t st = pbw_begin(&pb, 1);
    for (struct quota *q = m->quotas; q; q = q->next) {
        size_t i = pbw_begin(&pb, 1);                    /* the legacy QuotaInfo */
        pbw_put_str(&pb, 1, q->role);
        for (size_t g = 0; g < q->nguarantees; g++) {
            size_t r = pbw_begin(&pb, 3);
            pbw_put_str(&pb, 1, q->guarantees[g].name);
            pbw_put_uint(&pb, 2, 0);                     /* SCALAR */
            size_t s = pbw_begin(&pb, 3);
            pbw_put_double(&pb, 1, resources_double(q->guarantees[g].value));
            pbw_end(&pb, s);
            pbw_end(&pb, r);
        }
        pbw_end(&pb, i);
    }
    for (struct quota *q = m->quotas; q; q = q->next) {
        size_t i = pbw_begin(&pb, 2);                    /* QuotaConfig */
        pbw_put_str(&pb, 1, q->role);
        put_scalar_map(&pb, 2, q->guarantees, q->nguarantees);
        put_scalar_map(&pb, 3, q->limits, q->nlimits);
        pbw_end(&pb, i);
    }
    pbw_end(&pb, st);
    pbw_end(&pb, k);
    api_respond(c, &pb);
}

/* ==== Validation ======================================================== */

static int whitelisted(struct master *m, const char *role)
{
    struct flag *f = flags_find(m->flags, m->nflags, "roles");
    if (!f || !f->present || !f->str) return 1;
    size_t rl = strlen(role);
    for (const char *p = f->str; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == rl && memcmp(p, role, rl) == 0) return 1;
        p += len + (comma != NULL);
    }
    return 0;
}

/* A QuotaConfig map (field tag: guarantees 2, limits 3) into a list;
 * the raw doubles too, for validation. */
struct raw { char name[64]; double v; };
static size_t read_map(const uint8_t *p, size_t n, uint32_t tag, struct raw *out, size_t cap)
{
    struct pbw_reader r;
    struct pbw_field x, k, v, d;
    size_t cnt = 0;
    pbw_reader_init(&r, p, n);
    while (pbw_next(&r, &x) == 1) {
        if (x.tag != tag || x.wt != PBW_LEN || cnt == cap) continue;
        struct raw e = {0};
        if (pbw_find(x.p, x.n, 1, &k) == 1) snprintf(e.name, sizeof e.name, "%.*s", (int)k.n, (const char *)k.p);
        if (pbw_find(x.p, x.n, 2, &v) == 1 && pbw_find(v.p, v.n, 1, &d) == 1 && d.wt == PBW_I64) memcpy(&e.v, &d.v, 8);
        /* A map keeps the last value of a repeated key. */
        size_t i = 0;
        while (i < cnt && strcmp(out[i].name, e.name) != 0) i++;
        out[i] = e;
        if (i == cnt) cnt++;
    }
    return cnt;
}

/* stringify(Value::Scalar): the fixed-point value, 15 significant digits. */
static void scalar_text(double v, char *out, size_t n)
{
    if (!isfinite(v)) snprintf(out, n, "%g", v);
    else snprintf(out, n, "%.15g", resources_double(resources_fixed(v)));
}

/* stringify(Map<string, Value::Scalar>): "{ cpus: 1, mem: 2 }". */
static void map_text(const struct raw *v, size_t n, struct buf *out)
{
    buf_puts(out, "{ ");
    for (size_t i = 0; i < n; i++) {
        char s[64];
        scalar_text(v[i].v, s, sizeof s);
        buf_printf(out, "%s%s: %s", i ? ", " : "", v[i].name, s);
    }
    buf_puts(out, " }");
}

/* upstream quota::validate(QuotaConfig): 0, or -1 with the message. */
static int validate_config(const char *role, const struct raw *g, size_t ng, const struct raw *l, size_t nl,
                           struct buf *err)
{
    struct buf why = { .max = 1024 };
    if (resources_validate_role(role, &why) < 0) {
        buf_printf(err, "Invalid 'QuotaConfig.role': %.*s", (int)why.len, why.data);
        buf_free(&why);
        return -1;
    }
    buf_free(&why);
    const int64_t exabyte_mb = 1024LL * 1024 * 1024 * 1024, other = 1000LL * 1000 * 1000 * 1000;
    for (int pass = 0; pass < 2; pass++) {
        const struct raw *v = pass ? l : g;
        size_t n = pass ? nl : ng;
        for (size_t i = 0; i < n; i++) {
            int big = strcmp(v[i].name, "mem") == 0 || strcmp(v[i].name, "disk") == 0;
            if (v[i].v > (double)(big ? exabyte_mb : other)) {
                char s[64];
                scalar_text(v[i].v, s, sizeof s);
                buf_printf(err, "Invalid 'QuotaConfig.%s': {'%s': %s} is invalid: values greater than %s (%lld) are "
                           "not supported", pass ? "limits" : "guarantees", v[i].name, s,
                           big ? "1 exabyte" : "1 trillion", (long long)(big ? exabyte_mb : other));
                return -1;
            }
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        const struct raw *v = pass ? l : g;
        size_t n = pass ? nl : ng;
        for (size_t i = 0; i < n; i++) {
            const char *bad = isinf(v[i].v) ? "Infinite values not supported"
                            : isnan(v[i].v) ? "NaN not supported"
                            : fpclassify(v[i].v) == FP_SUBNORMAL ? "Subnormal values not supported"
                            : v[i].v < 0 ? "Negative values not supported" : NULL;
            if (bad) {
                char s[64];
                scalar_text(v[i].v, s, sizeof s);
                buf_printf(err, "Invalid %s configuration {'%s': %s}: %s", pass ? "limit" : "guarantee", v[i].name, s, bad);
                return -1;
            }
        }
    }
    /* Guarantees within limits (an absent limit is none). */
    for (size_t i = 0; i < ng; i++)
        for (size_t k = 0; k < nl; k++)
            if (strcmp(g[i].name, l[k].name) == 0 && resources_fixed(g[i].v) > resources_fixed(l[k].v)) {
                buf_puts(err, "'QuotaConfig.guarantees' ");
                map_text(g, ng, err);
                buf_puts(err, " is not contained within the 'QuotaConfig.limits' ");
                map_text(l, nl, err);
                return -1;
            }
    return 0;
}

/* The cluster's capacity: every registered agent's non-revocable scalars. */
static void capacity(struct master *m, struct qlist *out)
{
    struct buf err = { .max = 4096 };
    for (struct agent *a = m->agents; a; a = a->next) {
        struct resources rs = {0};
        buf_reset(&err);
        resources_decode_field(a->info.data, a->info.len, 3, &rs, &err);
        for (size_t i = 0; i < rs.len; i++)
            if (rs.v[i].type == RESOURCE_SCALAR && !rs.v[i].revocable) qadd(out, rs.v[i].name, rs.v[i].scalar);
        resources_free(&rs);
    }
    buf_free(&err);
}

/* Top-level guarantees of the quotas as they would be (nested roles carry
 * no quota, so the tree's total is the sum over roles). */
static void total_guarantees(struct master *m, const char *const *roles, const struct qlist *g, size_t n,
                             struct qlist *out)
{
    for (struct quota *q = m->quotas; q; q = q->next) {
        int replaced = 0;
        for (size_t i = 0; i < n && !replaced; i++) replaced = strcmp(roles[i], q->role) == 0;
        if (replaced || strchr(q->role, '/')) continue;
        for (size_t i = 0; i < q->nguarantees; i++) qadd(out, q->guarantees[i].name, q->guarantees[i].value);
    }
    for (size_t i = 0; i < n; i++)
        if (!strchr(roles[i], '/'))
            for (size_t k = 0; k < g[i].n; k++) qadd(out, g[i].v[k].name, g[i].v[k].value);
}

static int contains(const struct qlist *big, const struct qlist *small)
{
    for (size_t i = 0; i < small->n; i++) {
        if (small->v[i].value <= 0) continue;
        struct quota_entry *e = qfind((struct quota_entry *)big->v, big->n, small->v[i].name);
        if (!e || e->value < small->v[i].value) return 0;
    }
    return 1;
}

/* ==== Persistence ====================================================== */

/* QuotaConfig {role 1, map guarantees 2, map limits 3} of a role's quota,
 * as field tag of out (the registry's UPDATE_QUOTA value). */
static void put_config(struct buf *out, uint32_t tag, const char *role, const struct quota_entry *g, size_t ng,
                       const struct quota_entry *l, size_t nl)
{
    size_t k = pbw_begin(out, tag);
    pbw_put_str(out, 1, role);
    put_scalar_map(out, 2, g, ng);
    put_scalar_map(out, 3, l, nl);
    pbw_end(out, k);
}

/* One QuotaConfig into the state (recovery, and once a change is durable). */
static void apply_config(struct master *m, const uint8_t *p, size_t n)
{
    struct raw rg[QUOTA_MAX_NAMES], rl[QUOTA_MAX_NAMES];
    struct quota_entry g[QUOTA_MAX_NAMES], l[QUOTA_MAX_NAMES];
    struct pbw_field f;
    char role[256] = "";
    if (pbw_find(p, n, 1, &f) == 1 && f.wt == PBW_LEN) snprintf(role, sizeof role, "%.*s", (int)f.n, (const char *)f.p);
    if (!role[0]) return;
    size_t ng = read_map(p, n, 2, rg, QUOTA_MAX_NAMES), nl = read_map(p, n, 3, rl, QUOTA_MAX_NAMES);
    for (size_t i = 0; i < ng; i++) {
        memcpy(g[i].name, rg[i].name, sizeof g[i].name);
        g[i].value = resources_fixed(rg[i].v);
    }
    for (size_t i = 0; i < nl; i++) {
        memcpy(l[i].name, rl[i].name, sizeof l[i].name);
        l[i].value = resources_fixed(rl[i].v);
    }
    quota_set(m, role, g, ng, l, nl);
}

/* What a durable quota change applies: the UPDATE_QUOTA value (configs as
 * field 1; a config with a role only removes its quota). */
struct quota_change { int rescind; size_t len; uint8_t v[]; };

static struct quota_change *change_of(const struct buf *v, int rescind)
{
    struct quota_change *q = xcalloc(1, sizeof *q + v->len + 1);
    q->rescind = rescind;
    q->len = v->len;
    if (v->len) memcpy(q->v, v->data, v->len);
    return q;
}

static int quota_stored(struct master *m, void *data, struct api_ctx *c)
{
    (void)c;
    struct quota_change *q = data;
    struct pbw_reader r;
    struct pbw_field f;
    pbw_reader_init(&r, q->v, q->len);
    int any = 0;
    while (pbw_next(&r, &f) == 1)
        if (f.tag == 1 && f.wt == PBW_LEN) {
            apply_config(m, f.p, f.n);
            any = 1;
        }
    /* Outstanding offers are taken back, so the new guarantees and limits
     * apply to what is offered next (upstream rescinds best effort). */
    if (q->rescind && any) sched_rescind_all(m);
    else sched_trigger(m);
    return 0;
}

void quota_recover(struct master *m)
{
    size_t n = 0;
    for (const struct registry_entry *e = registry_first(m->registry, REGISTRY_QUOTAS); e; e = registry_next(e)) {
        apply_config(m, (const uint8_t *)e->val.data, e->val.len);
        n++;
    }
    if (n) LOG("Recovered the quota of %zu roles from the registry", n);
}

/* ==== UPDATE_QUOTA ====================================================== */

#define MAX_CONFIGS 256

void op_update_quota(struct api_ctx *c)
{
    struct master *m = c->state;
    struct pbw_field x, fo, rl;
    int force = pbw_find(c->sub, c->sub_len, 1, &fo) == 1 && fo.v;
    char (*roles)[256] = xcalloc(MAX_CONFIGS, sizeof *roles);
    const char **rp = xcalloc(MAX_CONFIGS, sizeof *rp);
    struct qlist *g = xcalloc(MAX_CONFIGS, sizeof *g), *l = xcalloc(MAX_CONFIGS, sizeof *l);
    struct raw raw_g[QUOTA_MAX_NAMES], raw_l[QUOTA_MAX_NAMES];
    struct buf err = {0};
    size_t n = 0;
    struct pbw_reader r;
    pbw_reader_init(&r, c->sub, c->sub_len);
    while (pbw_next(&r, &x) == 1) {
        if (x.tag != 2 || x.wt != PBW_LEN) continue;
        if (n == MAX_CONFIGS) { buf_printf(&err, "Too many quota configs (at most %d)", MAX_CONFIGS); goto bad; }
        if (pbw_find(x.p, x.n, 1, &rl) == 1) snprintf(roles[n], 256, "%.*s", (int)rl.n, (const char *)rl.p);
        rp[n] = roles[n];
        if (!whitelisted(m, roles[n])) {
            buf_printf(&err, "Invalid QuotaConfig: '%s' is not on the roles whitelist", roles[n]);
            goto bad;
        }
        if (strchr(roles[n], '/')) {
            buf_printf(&err, "Updating quota on nested role '%s' is not supported yet", roles[n]);
            goto bad;
        }
        size_t ng = read_map(x.p, x.n, 2, raw_g, QUOTA_MAX_NAMES), nl = read_map(x.p, x.n, 3, raw_l, QUOTA_MAX_NAMES);
        buf_puts(&err, "Invalid QuotaConfig: ");
        if (validate_config(roles[n], raw_g, ng, raw_l, nl, &err) < 0) goto bad;
        buf_reset(&err);
        for (size_t i = 0; i < ng; i++) qadd(&g[n], raw_g[i].name, resources_fixed(raw_g[i].v));
        for (size_t i = 0; i < nl; i++) qadd(&l[n], raw_l[i].name, resources_fixed(raw_l[i].v));
        /* ResourceQuantities keep no zero entries; ResourceLimits do. */
        for (size_t i = 0; i < g[n].n;)
            if (g[n].v[i].value == 0) g[n].v[i] = g[n].v[--g[n].n];
            else i++;
        n++;
    }
    /* Limits below what a role already consumes need force. */
    if (!force) {
        struct role_snapshot rs;
        alloc_roles(m, &rs);
        for (size_t i = 0; i < n; i++) {
            struct role_info *ri = alloc_role_find(&rs, roles[i]);
            if (!ri) continue;
            struct avec use = ri->allocated;
            for (int d = 0; d < ALLOC_DIMS; d++) use.v[d] += ri->unallocated_reserved.v[d];
            struct qlist consumed = {0};
            from_avec(m, &use, &consumed);
            int over = 0;
            for (size_t k = 0; k < consumed.n; k++) {
                struct quota_entry *e = qfind(l[i].v, l[i].n, consumed.v[k].name);
                over |= e && e->value < consumed.v[k].value;
            }
            if (over) {
                buf_printf(&err, "Invalid QuotaConfig: Role '%s' is already consuming '", roles[i]);
                qformat(consumed.v, consumed.n, &err);
                buf_puts(&err, "'; this is more than the requested limits '");
                qformat(l[i].v, l[i].n, &err);
                buf_puts(&err, "' (use 'force' flag to bypass this check)");
                alloc_roles_free(&rs);
                goto bad;
            }
        }
        alloc_roles_free(&rs);
        struct qlist total = {0}, cap = {0};
        total_guarantees(m, rp, g, n, &total);
        capacity(m, &cap);
        if (!contains(&cap, &total)) {
            buf_puts(&err, "Invalid QuotaConfig: total quota guarantees '");
            qformat(total.v, total.n, &err);
            buf_puts(&err, "' exceed cluster capacity '");
            qformat(cap.v, cap.n, &err);
            buf_puts(&err, "' (use 'force' flag to bypass this check)");
            goto bad;
        }
    }
    /* Stored first; applied and answered once durable. Quota v2 is then
     * a minimum capability of the master, as upstream. */
    {
        struct buf v = {0};
        for (size_t i = 0; i < n; i++) put_config(&v, 1, roles[i], g[i].v, g[i].n, l[i].v, l[i].n);
        struct registry_op ops[2] = { { REGISTRY_UPDATE_QUOTA, NULL, v.data, v.len },
                                      { REGISTRY_ADD_MIN_CAPABILITY, "QUOTA_V2", NULL, 0 } };
        persist_call(c, ops, n ? 2 : 1, quota_stored, change_of(&v, 1));
        buf_free(&v);
    }
    goto done;
bad:
    api_error(c, 400, "%.*s", (int)err.len, err.data);
done:
    buf_free(&err);
    free(roles);
    free(rp);
    free(g);
    free(l);
}

/* ==== SET_QUOTA and REMOVE_QUOTA (deprecated) =========================== */

void op_set_quota(struct api_ctx *c)
{
    struct master *m = c->state;
    struct pbw_field qr, x, f;
    struct buf err = {0};
    char role[256] = "";
    int force = 0, has_role = 0;
    struct qlist g = {0};
    const uint8_t *p = (const uint8_t *)"";
    size_t n = 0;
    if (pbw_find(c->sub, c->sub_len, 1, &qr) == 1) { p = qr.p; n = qr.n; }
    if (pbw_find(p, n, 1, &f) == 1) force = f.v != 0;
    if (pbw_find(p, n, 2, &f) == 1 && f.wt == PBW_LEN) {
        has_role = 1;
        snprintf(role, sizeof role, "%.*s", (int)f.n, (const char *)f.p);
    }
    /* Each guarantee must be a valid resource... */
    struct resources rs = {0};
    struct buf why = { .max = 4096 };
    if (resources_decode_field(p, n, 3, &rs, &why) < 0) {
        buf_printf(&err, "Failed to validate set quota request: QuotaInfo with invalid resource: %.*s", (int)why.len,
                   why.data);
        goto bad;
    }
    /* ...and the request a valid QuotaInfo. */
    buf_puts(&err, "Failed to validate set quota request: ");
    if (!has_role) { buf_puts(&err, "QuotaInfo must specify a role"); goto bad; }
    buf_reset(&why);
    if (resources_validate_role(role, &why) < 0) {
        buf_printf(&err, "QuotaInfo with invalid role: %.*s", (int)why.len, why.data);
        goto bad;
    }
    struct pbw_reader r;
    pbw_reader_init(&r, p, n);
    int count = 0;
    while (pbw_next(&r, &x) == 1) {
        if (x.tag != 3 || x.wt != PBW_LEN) continue;
        count++;
        struct resources one = {0};
        buf_reset(&why);
        resources_decode(x.p, x.n, &one, &why);
        const struct resource *rr = one.len ? &one.v[0] : NULL;
        char name[64] = "";
        struct pbw_field nm;
        if (pbw_find(x.p, x.n, 1, &nm) == 1) snprintf(name, sizeof name, "%.*s", (int)nm.n, (const char *)nm.p);
        const char *bad = NULL;
        if (rr && rr->nreservations) bad = "QuotaInfo must not contain any ReservationInfo";
        else if (rr && rr->has_disk) bad = "QuotaInfo must not contain DiskInfo";
        else if (rr && rr->revocable) bad = "QuotaInfo must not contain RevocableInfo";
        else if (rr && rr->type != RESOURCE_SCALAR) bad = "QuotaInfo must not include non-scalar resources";
        else if (qfind(g.v, g.n, name)) {
            buf_printf(&err, "QuotaInfo contains duplicate resource name '%s'", name);
            resources_free(&one);
            goto bad;
        }
        if (bad) {
            buf_puts(&err, bad);
            resources_free(&one);
            goto bad;
        }
        int64_t v = rr ? rr->scalar : 0;
        if (g.n < QUOTA_MAX_NAMES) {
            snprintf(g.v[g.n].name, sizeof g.v[g.n].name, "%s", name);
            g.v[g.n++].value = v;
        }
        resources_free(&one);
    }
    if (!count) { buf_puts(&err, "QuotaInfo with empty 'guarantee'"); goto bad; }
    if (!whitelisted(m, role)) { buf_printf(&err, "Unknown role '%s'", role); goto bad; }
    if (find_quota(m, role)) { buf_printf(&err, "Cannot set quota for role '%s' which already has quota", role); goto bad; }
    buf_reset(&err);
    if (strchr(role, '/')) { buf_printf(&err, "Setting quota on nested role '%s' is not supported yet", role); goto bad; }
    if (!force) {
        const char *rp[1] = { role };
        struct qlist total = {0}, cap = {0};
        total_guarantees(m, rp, &g, 1, &total);
        capacity(m, &cap);
        if (!contains(&cap, &total)) {
            buf_puts(&err, "Quota guarantees overcommit the cluster (use 'force' to bypass this check): "
                           "Total quota guarantees '");
            qformat(total.v, total.n, &err);
            buf_puts(&err, "' exceed cluster capacity '");
            qformat(cap.v, cap.n, &err);
            buf_puts(&err, "'");
            api_error(c, 409, "%.*s", (int)err.len, err.data);
            goto done;
        }
    }
    /* The legacy request's guarantee is also its limit. */
    {
        struct buf v = {0};
        put_config(&v, 1, role, g.v, g.n, g.v, g.n);
        struct registry_op op = { REGISTRY_UPDATE_QUOTA, NULL, v.data, v.len };
        persist_call(c, &op, 1, quota_stored, change_of(&v, 1));
        buf_free(&v);
    }
    goto done;
bad:
    api_error(c, 400, "%.*s", (int)err.len, err.data);
done:
    resources_free(&rs);
    buf_free(&why);
    buf_free(&err);
}

void op_remove_quota(struct api_ctx *c)
{
    struct master *m = c->state;
    struct pbw_field f;
    char role[256] = "";
    if (pbw_find(c->sub, c->sub_len, 1, &f) == 1) snprintf(role, sizeof role, "%.*s", (int)f.n, (const char *)f.p);
    if (!find_quota(m, role)) {
        api_error(c, 400, "Failed to remove quota: Role '%s' has no quota set", role);
        return;
    }
    struct buf v = {0};
    put_config(&v, 1, role, NULL, 0, NULL, 0);
    struct registry_op op = { REGISTRY_REMOVE_QUOTA, role, NULL, 0 };
    persist_call(c, &op, 1, quota_stored, change_of(&v, 0));
    buf_free(&v);
}

/* ==== GET_ROLES ========================================================= */

/* With a --roles whitelist, upstream lists exactly the whitelisted roles
 * and their ancestors. */
static int listed(struct master *m, const char *role)
{
    struct flag *f = flags_find(m->flags, m->nflags, "roles");
    if (!f || !f->present || !f->str) return 1;
    size_t rl = strlen(role);
    for (const char *p = f->str; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == rl && memcmp(p, role, rl) == 0) return 1;
        if (len > rl && memcmp(p, role, rl) == 0 && p[rl] == '/') return 1;
        p += len + (comma != NULL);
    }
    return 0;
}

void op_get_roles(struct api_ctx *c)
{
    struct master *m = c->state;
    struct role_snapshot rs;
    alloc_roles(m, &rs);
    struct buf pb = {0};
    pbw_put_uint(&pb, 1, mesos_v1_master_Response_Type_GET_ROLES);
    size_t k = pbw_begin(&pb, 14);
    for (size_t i = 0; i < rs.n; i++) {
        struct role_info *r = &rs.v[i];
        if (!listed(m, r->name)) continue;
        size_t e = pbw_begin(&pb, 1);
        pbw_put_str(&pb, 1, r->name);
        pbw_put_double(&pb, 2, r->weight);
        for (size_t f = 0; f < r->nframeworks; f++) pbw_put_id(&pb, 3, r->frameworks[f]->id);
        /* Allocated plus offered, cpus/mem/disk/gpus only, by name. */
        static const char *const names[] = { "cpus", "disk", "gpus", "mem" };
        for (size_t d = 0; d < 4; d++) {
            int dim = alloc_dim(m, names[d]);
            int64_t v = r->allocated.v[dim] + r->offered.v[dim];
            if (v <= 0) continue;
            size_t q = pbw_begin(&pb, 4);
            pbw_put_str(&pb, 1, names[d]);
            pbw_put_uint(&pb, 2, 0);                     /* SCALAR */
            size_t s = pbw_begin(&pb, 3);
            pbw_put_double(&pb, 1, resources_double(v));
            pbw_end(&pb, s);
            pbw_end(&pb, q);
        }
        pbw_end(&pb, e);
    }
    pbw_end(&pb, k);
    alloc_roles_free(&rs);
    api_respond(c, &pb);
}
