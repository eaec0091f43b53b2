/* registry.c -- the master's durable registry (see registry.h for the
 * contract and the file format).
 *
 * One idea: the state is a pure function of (snapshot, log). Every change is
 * checked and applied to the in-memory state first, encoded as one record,
 * and the records of a loop iteration go to disk with one write and one
 * fdatasync before anyone is told. Replaying the same records on the same
 * snapshot gives the same state, so a record that fails to apply at
 * start-up is damage, not a case to skip. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "log.h"
#include "pbw.h"
#include "registry.h"
#include "util.h"

static const char MAGIC[8] = { 'M', 'A', 'P', 'I', 'R', 'E', 'G', '\n' };
enum { FILE_SNAPSHOT = 1, FILE_LOG = 2 };
#define V1_HEADER_LEN 24
#define V1_RECORD_HEAD 8

struct table {
    struct registry_entry **buckets;
    size_t nbuckets, n;
    struct registry_entry *head, *tail;
};

struct pending_cb { registry_cb cb; void *arg; };

struct registry {
    char *dir;
    int dirfd, lockfd, logfd;
    struct loop *loop;
    struct loop_timer timer;
    size_t compact_bytes;
    int (*fsync_hook)(int fd, void *arg);
    void *hook_arg;

    struct table tables[REGISTRY_NTABLES];
    struct buf schedule;
    int has_schedule;

    uint64_t generation;        /* of the snapshot (and of the log that follows it) */
    uint64_t batch;             /* last batch in the current log */
    struct buf pend;            /* payloads of queued records, back to back */
    size_t *pend_len, npend, pend_cap;
    struct pending_cb *cbs;
    size_t ncbs, cbs_cap;
    int failed;
    struct registry_stats st;
};

/* ==== Little helpers ===================================================== */

static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

static uint32_t crc(uint32_t c, const void *p, size_t n)
{
    const Bytef *b = p;
    while (n > 0) {                      /* zlib takes uInt lengths */
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = (uint32_t)crc32(c, b, k);
        b += k;
        n -= k;
    }
    return c;
}

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static double ms_since(uint64_t t0) { return (double)(loop_clock_ms() - t0); }

/* ==== Tables ============================================================= */

static uint32_t hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;                        /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static struct registry_entry *tget(const struct table *t, const char *key, size_t n)
{
    if (!t->nbuckets) return NULL;
    uint32_t h = hash(key, n);
    for (struct registry_entry *e = t->buckets[h & (t->nbuckets - 1)]; e; e = e->_hnext)
        if (e->_hash == h && strlen(e->key) == n && memcmp(e->key, key, n) == 0) return e;
    return NULL;
}

static void rehash(struct table *t)
{
    size_t nb = t->nbuckets ? t->nbuckets * 2 : 64;
    struct registry_entry **b = xcalloc(nb, sizeof *b);
    for (struct registry_entry *e = t->head; e; e = e->_next) {
        size_t i = e->_hash & (nb - 1);
        e->_hnext = b[i];
        b[i] = e;
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

/* The entry for key, created (zeroed, at the end of the order) if absent. */
static struct registry_entry *tput(struct table *t, const char *key, size_t n)
{
    struct registry_entry *e = tget(t, key, n);
    if (e) return e;
    if (t->n + 1 > t->nbuckets) rehash(t);
    e = xcalloc(1, sizeof *e);
    e->key = xmalloc(n + 1);
    memcpy(e->key, key, n);
    e->key[n] = 0;
    e->_hash = hash(key, n);
    size_t i = e->_hash & (t->nbuckets - 1);
    e->_hnext = t->buckets[i];
    t->buckets[i] = e;
    e->_prev = t->tail;
    if (t->tail) t->tail->_next = e; else t->head = e;
    t->tail = e;
    t->n++;
    return e;
}

static void tdel(struct table *t, struct registry_entry *e)
{
    struct registry_entry **pp = &t->buckets[e->_hash & (t->nbuckets - 1)];
    while (*pp != e) pp = &(*pp)->_hnext;
    *pp = e->_hnext;
    if (e->_prev) e->_prev->_next = e->_next; else t->head = e->_next;
    if (e->_next) e->_next->_prev = e->_prev; else t->tail = e->_prev;
    t->n--;
    buf_free(&e->val);
    buf_free(&e->drain);
    free(e->key);
    free(e);
}

static void tclear(struct table *t)
{
    while (t->head) tdel(t, t->head);
    free(t->buckets);
    memset(t, 0, sizeof *t);
}

static void state_clear(struct registry *r)
{
    for (int i = 0; i < REGISTRY_NTABLES; i++) tclear(&r->tables[i]);
    buf_free(&r->schedule);
    r->has_schedule = 0;
}

static void set_bytes(struct buf *b, const void *p, size_t n)
{
    buf_reset(b);
    buf_append(b, p, n);
}

/* ==== Operations on the state ============================================ */

/* TimeInfo {int64 nanoseconds = 1}. */
static int get_time(const uint8_t *p, size_t n, int64_t *ns)
{
    struct pbw_field f;
    if (pbw_valid(p, n) < 0 || pbw_find(p, n, 1, &f) != 1 || f.wt != PBW_VARINT) return -1;
    *ns = (int64_t)f.v;
    return 0;
}

/* The id (field 6, SlaveID {value = 1}) of a SlaveInfo; 0 or -1. */
static int slave_id(const uint8_t *p, size_t n, const char **id, size_t *len)
{
    struct pbw_field f, v;
    if (pbw_valid(p, n) < 0 || pbw_find(p, n, 6, &f) != 1 || f.wt != PBW_LEN) return -1;
    if (pbw_find(f.p, f.n, 1, &v) != 1 || v.wt != PBW_LEN || v.n == 0) return -1;
    *id = (const char *)v.p;
    *len = v.n;
    return 0;
}

int registry_machine_key(const void *machine_id, size_t n, char *out, size_t cap)
{
    struct pbw_field h, ip;
    int hh = pbw_find(machine_id, n, 1, &h) == 1 && h.wt == PBW_LEN;
    int hi = pbw_find(machine_id, n, 2, &ip) == 1 && ip.wt == PBW_LEN;
    if (!hh && !hi) return -1;
    snprintf(out, cap, "%.*s/%.*s", hh ? (int)h.n : 0, hh ? (const char *)h.p : "",
             hi ? (int)ip.n : 0, hi ? (const char *)ip.p : "");
    return 0;
}

static int machine_key_of_info(const uint8_t *p, size_t n, char *out, size_t cap)
{
    struct pbw_field id;
    if (pbw_valid(p, n) < 0 || pbw_find(p, n, 1, &id) != 1 || id.wt != PBW_LEN) return -1;
    return registry_machine_key(id.p, id.n, out, cap);
}

/* Each of the operations is all-or-nothing on its own: everything is
 * checked before anything changes. Returns 1 (changed), 0 (no change) or
 * -errno. */
static int apply_one(struct registry *r, int kind, const char *key, size_t kn, const uint8_t *val, size_t vn)
{
    struct table *agents = &r->tables[REGISTRY_AGENTS];
    struct registry_entry *e;
    int64_t ns;
    switch (kind) {
    case REGISTRY_ADMIT_AGENT: case REGISTRY_UPDATE_AGENT: case REGISTRY_MARK_REACHABLE: {
        const char *id;
        size_t idn;
        if (!kn || slave_id(val, vn, &id, &idn) < 0 || idn != kn || memcmp(id, key, kn) != 0) return -EINVAL;
        e = tget(agents, key, kn);
        if (kind == REGISTRY_ADMIT_AGENT) {
            if (e) return -EEXIST;
            e = tput(agents, key, kn);
        } else if (kind == REGISTRY_UPDATE_AGENT) {
            if (!e || e->state != REGISTRY_ADMITTED) return -ENOENT;
            if (e->val.len == vn && memcmp(e->val.data, val, vn) == 0) return 0;
        } else {
            if (e && e->state == REGISTRY_ADMITTED) return 0;
            if (e && e->state == REGISTRY_GONE) return -EPERM;
            if (!e) e = tput(agents, key, kn);       /* an unknown agent is let back, as upstream does */
        }
        e->state = REGISTRY_ADMITTED;
        e->time_ns = 0;
        set_bytes(&e->val, val, vn);
        return 1;
    }
    case REGISTRY_MARK_UNREACHABLE: case REGISTRY_MARK_GONE:
        if (!kn || get_time(val, vn, &ns) < 0) return -EINVAL;
        e = tget(agents, key, kn);
        if (kind == REGISTRY_MARK_UNREACHABLE) {
            if (!e || e->state != REGISTRY_ADMITTED) return -ENOENT;
            e->state = REGISTRY_UNREACHABLE;
        } else {
            if (e && e->state == REGISTRY_GONE) return -EEXIST;
            if (!e) return -ENOENT;
            e->state = REGISTRY_GONE;
            buf_free(&e->drain);                     /* a gone agent keeps only its id and time */
            e->deactivated = 0;
        }
        buf_free(&e->val);                           /* upstream keeps only the id of these */
        e->time_ns = ns;
        return 1;
    case REGISTRY_REMOVE_AGENT:
        e = tget(agents, key, kn);
        if (!e || e->state != REGISTRY_ADMITTED) return -ENOENT;
        tdel(agents, e);
        return 1;
    case REGISTRY_PRUNE_AGENT:
        e = tget(agents, key, kn);
        if (!e || e->state == REGISTRY_ADMITTED) return 0;
        tdel(agents, e);
        return 1;
    case REGISTRY_SET_DRAIN: case REGISTRY_DEACTIVATE_AGENT: case REGISTRY_REACTIVATE_AGENT:
        if (kind == REGISTRY_SET_DRAIN && pbw_valid(val, vn) < 0) return -EINVAL;
        e = tget(agents, key, kn);
        if (!e || e->state == REGISTRY_GONE) return -ENOENT;
        if (kind == REGISTRY_SET_DRAIN) set_bytes(&e->drain, val, vn);
        else e->deactivated = kind == REGISTRY_DEACTIVATE_AGENT;
        return 1;
    case REGISTRY_UPDATE_WEIGHTS: {
        struct pbw_reader rd;
        struct pbw_field f, w, role;
        if (pbw_valid(val, vn) < 0) return -EINVAL;
        for (int pass = 0; pass < 2; pass++) {       /* check all, then apply all */
            pbw_reader_init(&rd, val, vn);
            while (pbw_next(&rd, &f) == 1) {
                if (f.tag != 1) continue;
                if (f.wt != PBW_LEN || pbw_find(f.p, f.n, 2, &role) != 1 || role.wt != PBW_LEN || !role.n ||
                    pbw_find(f.p, f.n, 1, &w) != 1 || w.wt != PBW_I64) return -EINVAL;
                if (pass) {
                    double d;
                    memcpy(&d, &w.v, 8);
                    tput(&r->tables[REGISTRY_WEIGHTS], (const char *)role.p, role.n)->weight = d;
                }
            }
        }
        return 1;
    }
    case REGISTRY_UPDATE_QUOTA: {
        struct pbw_reader rd;
        struct pbw_field f, role, g;
        if (pbw_valid(val, vn) < 0) return -EINVAL;
        for (int pass = 0; pass < 2; pass++) {
            pbw_reader_init(&rd, val, vn);
            while (pbw_next(&rd, &f) == 1) {
                if (f.tag != 1) continue;
                if (f.wt != PBW_LEN || pbw_valid(f.p, f.n) < 0 || pbw_find(f.p, f.n, 1, &role) != 1 ||
                    role.wt != PBW_LEN || !role.n) return -EINVAL;
                if (!pass) continue;
                struct table *q = &r->tables[REGISTRY_QUOTAS];
                if (pbw_find(f.p, f.n, 2, &g) != 1 && pbw_find(f.p, f.n, 3, &g) != 1) {
                    e = tget(q, (const char *)role.p, role.n);   /* no guarantees, no limits: default quota */
                    if (e) tdel(q, e);
                } else {
                    set_bytes(&tput(q, (const char *)role.p, role.n)->val, f.p, f.n);
                }
            }
        }
        return 1;
    }
    case REGISTRY_REMOVE_QUOTA: case REGISTRY_REMOVE_MACHINE: case REGISTRY_REMOVE_MIN_CAPABILITY: {
        struct table *t = &r->tables[kind == REGISTRY_REMOVE_QUOTA ? REGISTRY_QUOTAS
                                     : kind == REGISTRY_REMOVE_MACHINE ? REGISTRY_MACHINES : REGISTRY_CAPABILITIES];
        if (!kn) return -EINVAL;
        e = tget(t, key, kn);
        if (!e) return 0;
        tdel(t, e);
        return 1;
    }
    case REGISTRY_UPDATE_SCHEDULE:
        if (pbw_valid(val, vn) < 0) return -EINVAL;
        set_bytes(&r->schedule, val, vn);
        r->has_schedule = 1;
        return 1;
    case REGISTRY_SET_MACHINE: {
        char mk[1024];
        if (machine_key_of_info(val, vn, mk, sizeof mk) < 0) return -EINVAL;
        set_bytes(&tput(&r->tables[REGISTRY_MACHINES], mk, strlen(mk))->val, val, vn);
        return 1;
    }
    case REGISTRY_ADD_MIN_CAPABILITY:
        if (!kn) return -EINVAL;
        if (tget(&r->tables[REGISTRY_CAPABILITIES], key, kn)) return 0;
        tput(&r->tables[REGISTRY_CAPABILITIES], key, kn);
        return 1;
    }
    return -EINVAL;
}

/* ==== Snapshot: mesos.internal.Registry ================================== */

static void put_agent_id(struct buf *b, uint32_t tag, const char *id)
{
    pbw_put_id(b, tag, id);
}

static void put_timeinfo(struct buf *b, uint32_t tag, int64_t ns)
{
    size_t k = pbw_begin(b, tag);
    pbw_put_uint(b, 1, (uint64_t)ns);
    pbw_end(b, k);
}

void registry_encode(const struct registry *r, struct buf *out)
{
    const struct table *agents = &r->tables[REGISTRY_AGENTS];
    /* slaves = 2 { repeated Slave slaves = 1 { info = 1, drain_info = 2, deactivated = 3 } } */
    size_t k = pbw_begin(out, 2);
    for (const struct registry_entry *e = agents->head; e; e = e->_next) {
        if (e->state != REGISTRY_ADMITTED) continue;
        size_t s = pbw_begin(out, 1);
        pbw_put_bytes(out, 1, e->val.data, e->val.len);
        if (e->drain.len) pbw_put_bytes(out, 2, e->drain.data, e->drain.len);
        if (e->deactivated) pbw_put_uint(out, 3, 1);
        pbw_end(out, s);
    }
    pbw_end(out, k);
    /* machines = 3 { repeated Machine machines = 1 { info = 1 } } */
    k = pbw_begin(out, 3);
    for (const struct registry_entry *e = r->tables[REGISTRY_MACHINES].head; e; e = e->_next) {
        size_t s = pbw_begin(out, 1);
        pbw_put_bytes(out, 1, e->val.data, e->val.len);
        pbw_end(out, s);
    }
    pbw_end(out, k);
    if (r->has_schedule) pbw_put_bytes(out, 4, r->schedule.data, r->schedule.len);
    /* weights = 6 { info = 1 WeightInfo { weight = 1, role = 2 } } */
    for (const struct registry_entry *e = r->tables[REGISTRY_WEIGHTS].head; e; e = e->_next) {
        size_t s = pbw_begin(out, 6), i = pbw_begin(out, 1);
        pbw_put_double(out, 1, e->weight);
        pbw_put_str(out, 2, e->key);
        pbw_end(out, i);
        pbw_end(out, s);
    }
    /* unreachable = 7 { repeated UnreachableSlave slaves = 1 { id 1, timestamp 2, drain_info 3, deactivated 4 } } */
    k = pbw_begin(out, 7);
    for (const struct registry_entry *e = agents->head; e; e = e->_next) {
        if (e->state != REGISTRY_UNREACHABLE) continue;
        size_t s = pbw_begin(out, 1);
        put_agent_id(out, 1, e->key);
        put_timeinfo(out, 2, e->time_ns);
        if (e->drain.len) pbw_put_bytes(out, 3, e->drain.data, e->drain.len);
        if (e->deactivated) pbw_put_uint(out, 4, 1);
        pbw_end(out, s);
    }
    pbw_end(out, k);
    /* gone = 8 { repeated GoneSlave slaves = 1 { id 1, timestamp 2 } } */
    k = pbw_begin(out, 8);
    for (const struct registry_entry *e = agents->head; e; e = e->_next) {
        if (e->state != REGISTRY_GONE) continue;
        size_t s = pbw_begin(out, 1);
        put_agent_id(out, 1, e->key);
        put_timeinfo(out, 2, e->time_ns);
        pbw_end(out, s);
    }
    pbw_end(out, k);
    /* minimum_capabilities = 10 { capability = 1 } */
    for (const struct registry_entry *e = r->tables[REGISTRY_CAPABILITIES].head; e; e = e->_next) {
        size_t s = pbw_begin(out, 10);
        pbw_put_str(out, 1, e->key);
        pbw_end(out, s);
    }
    /* quota_configs = 11 */
    for (const struct registry_entry *e = r->tables[REGISTRY_QUOTAS].head; e; e = e->_next)
        pbw_put_bytes(out, 11, e->val.data, e->val.len);
}

/* An unreachable or gone agent: id = 1 (SlaveID), timestamp = 2; then
 * drain_info = 3 and deactivated = 4 for unreachable ones. */
static int load_absent_agent(struct registry *r, const uint8_t *p, size_t n, int state)
{
    struct pbw_field id, v, ts, d;
    int64_t ns;
    if (pbw_valid(p, n) < 0 || pbw_find(p, n, 1, &id) != 1 || id.wt != PBW_LEN ||
        pbw_find(id.p, id.n, 1, &v) != 1 || v.wt != PBW_LEN || !v.n ||
        pbw_find(p, n, 2, &ts) != 1 || ts.wt != PBW_LEN || get_time(ts.p, ts.n, &ns) < 0) return -1;
    if (tget(&r->tables[REGISTRY_AGENTS], (const char *)v.p, v.n)) return -1;   /* listed twice */
    struct registry_entry *e = tput(&r->tables[REGISTRY_AGENTS], (const char *)v.p, v.n);
    e->state = state;
    e->time_ns = ns;
    if (state == REGISTRY_UNREACHABLE) {
        if (pbw_find(p, n, 3, &d) == 1 && d.wt == PBW_LEN) set_bytes(&e->drain, d.p, d.n);
        e->deactivated = pbw_find(p, n, 4, &d) == 1 && d.v != 0;
    }
    return 0;
}

/* Each element of the repeated field 1 of a wrapper message, to fn. */
static int each_in(struct registry *r, const uint8_t *p, size_t n, int state,
                   int (*fn)(struct registry *, const uint8_t *, size_t, int))
{
    struct pbw_reader rd;
    struct pbw_field f;
    int rc;
    pbw_reader_init(&rd, p, n);
    while ((rc = pbw_next(&rd, &f)) == 1)
        if (f.tag == 1 && (f.wt != PBW_LEN || fn(r, f.p, f.n, state) < 0)) return -1;
    return rc;
}

static int load_slave(struct registry *r, const uint8_t *p, size_t n, int state)
{
    (void)state;
    struct pbw_field info, d;
    const char *id;
    size_t idn;
    if (pbw_valid(p, n) < 0 || pbw_find(p, n, 1, &info) != 1 || info.wt != PBW_LEN ||
        slave_id(info.p, info.n, &id, &idn) < 0) return -1;
    if (tget(&r->tables[REGISTRY_AGENTS], id, idn)) return -1;
    struct registry_entry *e = tput(&r->tables[REGISTRY_AGENTS], id, idn);
    e->state = REGISTRY_ADMITTED;
    set_bytes(&e->val, info.p, info.n);
    if (pbw_find(p, n, 2, &d) == 1 && d.wt == PBW_LEN) set_bytes(&e->drain, d.p, d.n);
    e->deactivated = pbw_find(p, n, 3, &d) == 1 && d.v != 0;
    return 0;
}

static int load_machine(struct registry *r, const uint8_t *p, size_t n, int state)
{
    (void)state;
    struct pbw_field info;
    char mk[1024];
    if (pbw_valid(p, n) < 0 || pbw_find(p, n, 1, &info) != 1 || info.wt != PBW_LEN ||
        machine_key_of_info(info.p, info.n, mk, sizeof mk) < 0) return -1;
    set_bytes(&tput(&r->tables[REGISTRY_MACHINES], mk, strlen(mk))->val, info.p, info.n);
    return 0;
}

/* Registry bytes into the (empty) state. 0, or -1 with a message. */
static int load_registry(struct registry *r, const uint8_t *p, size_t n, char *err, size_t errlen)
{
    struct pbw_reader rd;
    struct pbw_field f, g;
    int rc;
    pbw_reader_init(&rd, p, n);
    while ((rc = pbw_next(&rd, &f)) == 1) {
        int bad = 0;
        switch (f.tag) {
        case 2: bad = f.wt != PBW_LEN || each_in(r, f.p, f.n, 0, load_slave) < 0; break;
        case 3: bad = f.wt != PBW_LEN || each_in(r, f.p, f.n, 0, load_machine) < 0; break;
        case 4:
            bad = f.wt != PBW_LEN || pbw_valid(f.p, f.n) < 0;
            if (!bad) { set_bytes(&r->schedule, f.p, f.n); r->has_schedule = 1; }
            break;
        case 6: {
            struct pbw_field w, role;
            bad = f.wt != PBW_LEN || pbw_find(f.p, f.n, 1, &g) != 1 || g.wt != PBW_LEN ||
                  pbw_find(g.p, g.n, 2, &role) != 1 || role.wt != PBW_LEN ||
                  pbw_find(g.p, g.n, 1, &w) != 1 || w.wt != PBW_I64;
            if (!bad) memcpy(&tput(&r->tables[REGISTRY_WEIGHTS], (const char *)role.p, role.n)->weight, &w.v, 8);
            break;
        }
        case 7: bad = f.wt != PBW_LEN || each_in(r, f.p, f.n, REGISTRY_UNREACHABLE, load_absent_agent) < 0; break;
        case 8: bad = f.wt != PBW_LEN || each_in(r, f.p, f.n, REGISTRY_GONE, load_absent_agent) < 0; break;
        case 10:
            bad = f.wt != PBW_LEN || pbw_find(f.p, f.n, 1, &g) != 1 || g.wt != PBW_LEN || !g.n;
            if (!bad) tput(&r->tables[REGISTRY_CAPABILITIES], (const char *)g.p, g.n);
            break;
        case 11:
            bad = f.wt != PBW_LEN || pbw_valid(f.p, f.n) < 0 || pbw_find(f.p, f.n, 1, &g) != 1 ||
                  g.wt != PBW_LEN || !g.n;
            if (!bad) set_bytes(&tput(&r->tables[REGISTRY_QUOTAS], (const char *)g.p, g.n)->val, f.p, f.n);
            break;
        default: break;        /* master (1), legacy quotas (5), resource providers (9): not kept */
        }
        if (bad) return fail(err, errlen, "malformed Registry field %u", f.tag);
    }
    return rc < 0 ? fail(err, errlen, "malformed Registry message") : 0;
}

/* ==== Log records: Operation ============================================= */

static void encode_op(struct buf *b, int kind, const char *key, const void *val, size_t len)
{
    pbw_put_uint(b, 1, (uint64_t)kind);
    if (key && *key) pbw_put_str(b, 2, key);
    if (len) pbw_put_bytes(b, 3, val, len);
}

/* Decode and apply one Operation (a TXN applies its ops in order). Returns
 * as apply_one. */
static int apply_record(struct registry *r, const uint8_t *p, size_t n, int depth)
{
    struct pbw_reader rd;
    struct pbw_field f, kf, key, val;
    if (pbw_valid(p, n) < 0 || pbw_find(p, n, 1, &kf) != 1 || kf.wt != PBW_VARINT) return -EINVAL;
    if (kf.v == REGISTRY_TXN) {
        if (depth) return -EINVAL;
        int changed = 0;
        pbw_reader_init(&rd, p, n);
        while (pbw_next(&rd, &f) == 1) {
            if (f.tag != 4) continue;
            if (f.wt != PBW_LEN) return -EINVAL;
            int rc = apply_record(r, f.p, f.n, 1);
            if (rc < 0) return rc;
            changed |= rc;
        }
        return changed;
    }
    int hk = pbw_find(p, n, 2, &key) == 1 && key.wt == PBW_LEN;
    int hv = pbw_find(p, n, 3, &val) == 1 && val.wt == PBW_LEN;
    if (kf.v > REGISTRY_TXN) return -EINVAL;
    return apply_one(r, (int)kf.v, hk ? (const char *)key.p : "", hk ? key.n : 0,
                     hv ? val.p : (const uint8_t *)"", hv ? val.n : 0);
}

/* ==== File format ======================================================== */

static void header(uint8_t h[REGISTRY_HEADER_LEN], int kind, uint64_t gen)
{
    memcpy(h, MAGIC, 8);
    put32(h + 8, REGISTRY_FORMAT_VERSION);
    put32(h + 12, (uint32_t)kind);
    put64(h + 16, gen);
    put32(h + 24, crc(0, h, 24));
}

static void frame(struct buf *out, const void *payload, size_t len, uint64_t batch, uint32_t idx, uint32_t count)
{
    uint8_t h[REGISTRY_RECORD_HEAD];
    put32(h, (uint32_t)len);
    put64(h + 8, batch);
    put32(h + 16, idx);
    put32(h + 20, count);
    uint32_t c = crc(0, h, 4);
    c = crc(c, h + 8, 16);
    put32(h + 4, crc(c, payload, len));
    buf_append(out, h, sizeof h);
    buf_append(out, payload, len);
}

struct fhead { uint32_t version, kind; uint64_t gen; size_t len; };

/* Returns 0, or -1 with a message. */
static int parse_header(const uint8_t *p, size_t n, struct fhead *h, char *err, size_t errlen)
{
    if (n < V1_HEADER_LEN || memcmp(p, MAGIC, 8) != 0)
        return fail(err, errlen, "not a mesos_api registry file (bad magic or shorter than its header)");
    h->version = get32(p + 8);
    if (h->version > REGISTRY_FORMAT_VERSION)
        return fail(err, errlen, "written by a newer mesos_api (format %u; this build reads formats %d to %d)",
                    h->version, REGISTRY_MIN_FORMAT_VERSION, REGISTRY_FORMAT_VERSION);
    if (h->version < REGISTRY_MIN_FORMAT_VERSION) return fail(err, errlen, "unknown format %u", h->version);
    if (h->version >= 2) {
        if (n < REGISTRY_HEADER_LEN) return fail(err, errlen, "header cut short");
        if (get32(p + 24) != crc(0, p, 24)) return fail(err, errlen, "header checksum mismatch");
        h->len = REGISTRY_HEADER_LEN;
    } else {
        h->len = V1_HEADER_LEN;
    }
    h->kind = get32(p + 12);
    h->gen = get64(p + 16);
    if (h->kind != FILE_SNAPSHOT && h->kind != FILE_LOG) return fail(err, errlen, "unknown file kind %u", h->kind);
    return 0;
}

struct rec { const uint8_t *payload; size_t len, total; uint64_t batch; uint32_t idx, count; };

/* A whole, valid record at p[0..n)? 1 yes, 0 no. Format 1 records carry no
 * batch: each counts as its own. */
static int parse_record(const uint8_t *p, size_t n, uint32_t version, size_t max, struct rec *out)
{
    size_t head = version >= 2 ? REGISTRY_RECORD_HEAD : V1_RECORD_HEAD;
    if (n < head) return 0;
    uint32_t len = get32(p);
    if (len > max || len > n - head) return 0;
    uint32_t c;
    if (version >= 2) {
        c = crc(0, p, 4);
        c = crc(c, p + 8, 16);
        c = crc(c, p + head, len);
    } else {
        c = crc(0, p + head, len);
    }
    if (c != get32(p + 4)) return 0;
    out->payload = p + head;
    out->len = len;
    out->total = head + len;
    out->batch = version >= 2 ? get64(p + 8) : 0;
    out->idx = version >= 2 ? get32(p + 16) : 0;
    out->count = version >= 2 ? get32(p + 20) : 1;
    return 1;
}

static int parse_snapshot(struct registry *r, const uint8_t *p, size_t n, struct fhead *h, char *err, size_t errlen)
{
    struct rec rc;
    if (parse_header(p, n, h, err, errlen) < 0) return -1;
    if (h->kind != FILE_SNAPSHOT) return fail(err, errlen, "not a snapshot (file kind %u)", h->kind);
    if (!parse_record(p + h->len, n - h->len, h->version, REGISTRY_MAX_SNAPSHOT, &rc))
        return fail(err, errlen, "its record is cut short or fails its checksum");
    if (h->len + rc.total != n) return fail(err, errlen, "%zu unexpected bytes after its record", n - h->len - rc.total);
    return load_registry(r, rc.payload, rc.len, err, errlen);
}

/* Replay the log's records. *good is set to the end of the last good record;
 * a torn tail leaves *good < n. Returns 0, or -1 with a message when the
 * damage is not a torn tail or a record does not apply. */
static int replay_log(struct registry *r, const uint8_t *p, size_t n, const struct fhead *h, size_t *good,
                      char *err, size_t errlen)
{
    size_t off = h->len;
    struct rec rc, last = {0};
    int have_last = 0;
    while (off < n) {
        if (!parse_record(p + off, n - off, h->version, REGISTRY_MAX_RECORD, &rc)) break;
        int a = apply_record(r, rc.payload, rc.len, 0);
        if (a < 0)
            return fail(err, errlen, "record at offset %zu does not apply to the state before it (%s)",
                        off, strerror(-a));
        r->st.records_recovered++;
        last = rc;
        have_last = 1;
        off += rc.total;
    }
    *good = off;
    r->batch = have_last ? last.batch : 0;
    if (off == n) return 0;
    /* A bad record at `off`. Its batch can only be the last good record's
     * (if that batch had more records) or the next one. Batch k+1 is written
     * only after batch k's fsync, so a valid record of any later batch
     * further on means an acknowledged record was damaged. */
    uint64_t expect = !have_last ? 1 : last.idx + 1 < last.count ? last.batch : last.batch + 1;
    for (size_t o = off + 1; o < n; o++) {
        if (!parse_record(p + o, n - o, h->version, REGISTRY_MAX_RECORD, &rc)) continue;
        if (h->version < 2 || rc.batch > expect)
            return fail(err, errlen, "damaged record at offset %zu is followed by a valid record at offset %zu "
                        "(batch %llu): this is not a torn write", off, o, (unsigned long long)rc.batch);
        o += rc.total - 1;                           /* part of the torn batch: skip it whole */
    }
    return 0;
}

int registry_parse_file(const void *data, size_t n, char *err, size_t errlen)
{
    struct registry r;
    memset(&r, 0, sizeof r);
    struct fhead h;
    int rc = -1;
    const uint8_t *p = data;
    if (parse_header(p, n, &h, err, errlen) < 0) goto out;
    if (h.kind == FILE_SNAPSHOT) rc = parse_snapshot(&r, p, n, &h, err, errlen);
    else {
        size_t good;
        rc = replay_log(&r, p, n, &h, &good, err, errlen);
        /* What a restart writes next: the state must encode and load back. */
        if (rc == 0) {
            struct buf b = {0};
            registry_encode(&r, &b);
            struct registry r2;
            memset(&r2, 0, sizeof r2);
            rc = load_registry(&r2, (const uint8_t *)b.data, b.len, err, errlen);
            state_clear(&r2);
            buf_free(&b);
        }
    }
out:
    state_clear(&r);
    return rc;
}

/* ==== Files ============================================================== */

static int do_fsync(struct registry *r, int fd, int data_only)
{
    r->st.fsyncs++;
    int rc;
    if (r->fsync_hook) rc = r->fsync_hook(fd, r->hook_arg);
    else do rc = data_only ? fdatasync(fd) : fsync(fd); while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -errno;
        if (k == 0) return -EIO;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Whole file into b (bounded by b->max). 0, -ENOENT, or -errno. */
static int read_file(int dirfd, const char *name, struct buf *b)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = 0;
    for (;;) {
        if (buf_reserve(b, 65536) < 0) { rc = -EFBIG; break; }
        ssize_t k = read(fd, b->data + b->len, b->cap - b->len);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) { rc = -errno; break; }
        if (k == 0) break;
        b->len += (size_t)k;
    }
    close(fd);
    return rc;
}

/* Write name.tmp, fsync, rename to name, fsync the directory. *renamed
 * tells whether the rename happened (after it the new file may be live). */
static int replace_file(struct registry *r, const char *name, const void *p, size_t n, int *renamed)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    *renamed = 0;
    int fd = openat(r->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    int rc = write_all(fd, p, n);
    if (rc == 0) rc = do_fsync(r, fd, 0);
    close(fd);
    if (rc == 0 && renameat(r->dirfd, tmp, r->dirfd, name) < 0) rc = -errno;
    if (rc < 0) { unlinkat(r->dirfd, tmp, 0); return rc; }
    *renamed = 1;
    return do_fsync(r, r->dirfd, 0);
}

/* A new empty log of generation gen replaces the current one. */
static int new_log(struct registry *r, uint64_t gen)
{
    uint8_t h[REGISTRY_HEADER_LEN];
    int renamed;
    header(h, FILE_LOG, gen);
    int rc = replace_file(r, "log", h, sizeof h, &renamed);
    if (rc < 0) return rc;
    int fd = openat(r->dirfd, "log", O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) return -errno;
    if (r->logfd >= 0) close(r->logfd);
    r->logfd = fd;
    r->batch = 0;
    r->st.log_bytes = sizeof h;
    return 0;
}

static int compact(struct registry *r)
{
    uint64_t t0 = loop_clock_ms();
    struct buf snap = {0}, payload = {0};
    uint8_t h[REGISTRY_HEADER_LEN];
    header(h, FILE_SNAPSHOT, r->generation + 1);
    buf_append(&snap, h, sizeof h);
    registry_encode(r, &payload);
    frame(&snap, payload.data, payload.len, 0, 0, 1);
    buf_free(&payload);
    int renamed;
    int rc = replace_file(r, "snapshot", snap.data, snap.len, &renamed);
    size_t snap_len = snap.len;
    buf_free(&snap);
    if (rc < 0 && !renamed) {
        /* Nothing changed on disk: keep appending to the current log. */
        LOG_WARN("Registry compaction failed (will retry later): %s", strerror(-rc));
        return rc;
    }
    /* The new snapshot may be live: from here the old log is stale, and
     * appending to it would write records a restart drops. */
    if (rc == 0) rc = new_log(r, r->generation + 1);
    if (rc < 0) {
        r->failed = rc;
        LOG_ERR("Registry compaction failed after the snapshot was replaced: %s", strerror(-rc));
        return rc;
    }
    r->generation++;
    r->st.snapshot_bytes = snap_len;
    r->st.compactions++;
    LOG_V(1, "Registry compacted into a %zu-byte snapshot (generation %llu) in %.0f ms", snap_len,
          (unsigned long long)r->generation, ms_since(t0));
    return 0;
}

/* ==== Open and recover =================================================== */

static int mkdirs(const char *path)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s", path) >= sizeof tmp) return -ENAMETOOLONG;
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -errno;
            *p = '/';
        }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -errno;
    return 0;
}

static void flush_timer_cb(struct loop *l, struct loop_timer *t)
{
    (void)l;
    registry_flush(container_of(t, struct registry, timer));
}

static int recover(struct registry *r, char *err, size_t errlen)
{
    char why[512];
    struct buf sb = { .max = REGISTRY_MAX_SNAPSHOT + 4096 }, lb = { .max = (size_t)2 << 30 };
    struct fhead sh = {0}, lh = {0};
    int rc = -1, have_snap = 0, have_log = 0, oldest = REGISTRY_FORMAT_VERSION;
    size_t good = 0;
    unlinkat(r->dirfd, "snapshot.tmp", 0);               /* a compaction cut short */
    unlinkat(r->dirfd, "log.tmp", 0);

    int e = read_file(r->dirfd, "snapshot", &sb);
    if (e < 0 && e != -ENOENT) { fail(err, errlen, "Failed to read %s/snapshot: %s", r->dir, strerror(-e)); goto out; }
    if (e == 0) {
        have_snap = 1;
        if (parse_snapshot(r, (const uint8_t *)sb.data, sb.len, &sh, why, sizeof why) < 0) {
            fail(err, errlen, "The registry snapshot %s/snapshot is corrupt: %s. Refusing to start rather than "
                 "serve a wrong registry: restore the file, or move %s away to start with an empty registry",
                 r->dir, why, r->dir);
            goto out;
        }
        r->generation = sh.gen;
        r->st.snapshot_bytes = sb.len;
        if ((int)sh.version < oldest) oldest = (int)sh.version;
    }
    e = read_file(r->dirfd, "log", &lb);
    if (e < 0 && e != -ENOENT) { fail(err, errlen, "Failed to read %s/log: %s", r->dir, strerror(-e)); goto out; }
    if (e == 0) {
        if (parse_header((const uint8_t *)lb.data, lb.len, &lh, why, sizeof why) < 0 || lh.kind != FILE_LOG) {
            fail(err, errlen, "The registry log %s/log is corrupt: %s. Refusing to start", r->dir,
                 lh.kind && lh.kind != FILE_LOG ? "not a log" : why);
            goto out;
        }
        if (lh.gen > r->generation || (!have_snap && lh.gen != 0)) {
            fail(err, errlen, "The registry log %s/log follows snapshot generation %llu but the snapshot is %s "
                 "%llu: the snapshot was lost or replaced. Refusing to start", r->dir,
                 (unsigned long long)lh.gen, have_snap ? "of generation" : "missing, generation",
                 (unsigned long long)r->generation);
            goto out;
        }
        if (lh.gen < r->generation) {
            LOG_WARN("Dropping the registry log of generation %llu: the snapshot (generation %llu) already "
                     "holds it (a compaction was cut short)", (unsigned long long)lh.gen,
                     (unsigned long long)r->generation);
        } else {
            have_log = 1;
            if ((int)lh.version < oldest) oldest = (int)lh.version;
            if (replay_log(r, (const uint8_t *)lb.data, lb.len, &lh, &good, why, sizeof why) < 0) {
                fail(err, errlen, "The registry log %s/log is corrupt: %s. Refusing to start", r->dir, why);
                goto out;
            }
        }
    }

    if (oldest < REGISTRY_FORMAT_VERSION) {
        LOG("Upgrading the registry in %s from format %d to %d", r->dir, oldest, REGISTRY_FORMAT_VERSION);
        r->st.upgraded_from = oldest;
        if ((e = compact(r)) < 0) { fail(err, errlen, "Failed to upgrade the registry: %s", strerror(-e)); goto out; }
    } else if (!have_log) {
        if ((e = new_log(r, r->generation)) < 0) {
            fail(err, errlen, "Failed to create %s/log: %s", r->dir, strerror(-e));
            goto out;
        }
    } else {
        if (good < lb.len) {
            LOG_WARN("Registry log %s/log ends in a torn write: truncating %zu bytes at offset %zu "
                     "(%llu records recovered before it)", r->dir, lb.len - good, good,
                     (unsigned long long)r->st.records_recovered);
            r->st.truncated_bytes = lb.len - good;
        }
        r->logfd = openat(r->dirfd, "log", O_WRONLY | O_APPEND | O_CLOEXEC);
        if (r->logfd < 0 || (good < lb.len && (ftruncate(r->logfd, (off_t)good) < 0 ||
                                               do_fsync(r, r->logfd, 0) < 0))) {
            fail(err, errlen, "Failed to open or truncate %s/log: %s", r->dir, strerror(errno));
            goto out;
        }
        r->st.log_bytes = good;
    }
    rc = 0;
out:
    buf_free(&sb);
    buf_free(&lb);
    return rc;
}

struct registry *registry_open(const struct registry_config *cfg, char *err, size_t errlen)
{
    struct registry *r = xcalloc(1, sizeof *r);
    r->dirfd = r->lockfd = r->logfd = -1;
    r->loop = cfg->loop;
    r->compact_bytes = cfg->compact_bytes ? cfg->compact_bytes : REGISTRY_DEFAULT_COMPACT_BYTES;
    r->fsync_hook = cfg->fsync_hook;
    r->hook_arg = cfg->hook_arg;
    r->pend.max = (size_t)1 << 31;
    loop_timer_init(&r->timer, flush_timer_cb);
    if (!cfg->dir) return r;
    uint64_t t0 = loop_clock_ms();
    r->dir = xstrdup(cfg->dir);
    int e = mkdirs(r->dir);
    if (e == 0 && (r->dirfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) e = -errno;
    if (e < 0) {
        fail(err, errlen, "Failed to create the registry directory %s: %s", r->dir, strerror(-e));
        goto bad;
    }
    r->lockfd = openat(r->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (r->lockfd < 0 || flock(r->lockfd, LOCK_EX | LOCK_NB) < 0) {
        fail(err, errlen, errno == EWOULDBLOCK ? "The registry in %s is in use by another process"
                                               : "Failed to lock the registry in %s: %s", r->dir, strerror(errno));
        goto bad;
    }
    if (recover(r, err, errlen) < 0) goto bad;
    r->st.load_ms = ms_since(t0);
    return r;
bad:
    registry_close(r);
    return NULL;
}

void registry_close(struct registry *r)
{
    if (!r) return;
    /* Callbacks may queue more; a few rounds, then the rest is cancelled. */
    for (int i = 0; i < 16 && r->ncbs; i++) registry_flush(r);
    if (r->ncbs && !r->failed) r->failed = -ECANCELED;
    if (r->ncbs) registry_flush(r);
    if (r->loop) loop_timer_stop(r->loop, &r->timer);
    state_clear(r);
    buf_free(&r->pend);
    free(r->pend_len);
    free(r->cbs);
    if (r->logfd >= 0) close(r->logfd);
    if (r->lockfd >= 0) close(r->lockfd);   /* releases the flock */
    if (r->dirfd >= 0) close(r->dirfd);
    free(r->dir);
    free(r);
}

/* ==== Writing ============================================================ */

static void queue(struct registry *r, const struct buf *payload, registry_cb cb, void *arg)
{
    if (payload) {
        if (r->npend == r->pend_cap) {
            r->pend_cap = r->pend_cap ? r->pend_cap * 2 : 64;
            r->pend_len = xrealloc(r->pend_len, r->pend_cap * sizeof *r->pend_len);
        }
        buf_append(&r->pend, payload->data, payload->len);
        r->pend_len[r->npend++] = payload->len;
    }
    if (r->ncbs == r->cbs_cap) {
        r->cbs_cap = r->cbs_cap ? r->cbs_cap * 2 : 64;
        r->cbs = xrealloc(r->cbs, r->cbs_cap * sizeof *r->cbs);
    }
    r->cbs[r->ncbs++] = (struct pending_cb){ cb, arg };
    r->st.pending = r->ncbs;
    if (r->loop && !loop_timer_active(&r->timer)) loop_timer_start(r->loop, &r->timer, 0);
}

int registry_apply_txn(struct registry *r, const struct registry_op *ops, size_t n, registry_cb cb, void *arg)
{
    if (r->failed) return r->failed;
    if (n == 0) return -EINVAL;
    struct buf rec = { .max = REGISTRY_MAX_RECORD };
    int changed = 0, rc = 0;
    if (n == 1) {
        const char *key = ops[0].key ? ops[0].key : "";
        rc = apply_one(r, ops[0].kind, key, strlen(key), ops[0].val ? ops[0].val : (const void *)"", ops[0].len);
        if (rc < 0) return rc;
        changed = rc;
        encode_op(&rec, ops[0].kind, key, ops[0].val, ops[0].len);
    } else {
        /* All or nothing: keep the state as bytes, put it back on a refusal. */
        struct buf saved = {0};
        registry_encode(r, &saved);
        pbw_put_uint(&rec, 1, REGISTRY_TXN);
        for (size_t i = 0; i < n && rc >= 0; i++) {
            const char *key = ops[i].key ? ops[i].key : "";
            if (ops[i].kind == REGISTRY_TXN) { rc = -EINVAL; break; }
            rc = apply_one(r, ops[i].kind, key, strlen(key), ops[i].val ? ops[i].val : (const void *)"", ops[i].len);
            if (rc > 0) changed = 1;
            size_t k = pbw_begin(&rec, 4);
            encode_op(&rec, ops[i].kind, key, ops[i].val, ops[i].len);
            if (pbw_end(&rec, k) < 0) rc = -E2BIG;
        }
        if (rc < 0) {
            state_clear(r);
            load_registry(r, (const uint8_t *)saved.data, saved.len, NULL, 0);
        }
        buf_free(&saved);
        if (rc < 0) { buf_free(&rec); return rc; }
    }
    if (rec.len >= REGISTRY_MAX_RECORD) { buf_free(&rec); return -E2BIG; }   /* not reached for sane values */
    queue(r, changed ? &rec : NULL, cb, arg);
    buf_free(&rec);
    return 0;
}

int registry_apply(struct registry *r, int kind, const char *key, const void *val, size_t len,
                   registry_cb cb, void *arg)
{
    struct registry_op op = { kind, key, val, len };
    return registry_apply_txn(r, &op, 1, cb, arg);
}

static int flush(struct registry *r, int force_compact)
{
    if (r->loop) loop_timer_stop(r->loop, &r->timer);
    if (!r->ncbs) return r->failed;
    /* Take the queue: callbacks may queue the next batch. */
    struct pending_cb *cbs = r->cbs;
    size_t ncbs = r->ncbs, npend = r->npend;
    struct buf pend = r->pend;
    size_t *lens = r->pend_len;
    r->cbs = NULL; r->ncbs = r->cbs_cap = 0;
    r->pend_len = NULL; r->npend = r->pend_cap = 0;
    r->pend = (struct buf){ .max = pend.max };
    r->st.pending = 0;

    int rc = r->failed;
    if (rc == 0 && npend && r->dir) {
        uint64_t t0 = loop_clock_ms();
        struct buf out = {0};
        uint64_t batch = r->batch + 1;
        size_t off = 0;
        for (size_t i = 0; i < npend; i++) {
            frame(&out, pend.data + off, lens[i], batch, (uint32_t)i, (uint32_t)npend);
            off += lens[i];
        }
        rc = write_all(r->logfd, out.data, out.len);
        if (rc == 0) rc = do_fsync(r, r->logfd, 1);
        if (rc == 0) {
            r->batch = batch;
            r->st.log_bytes += out.len;
            r->st.records_written += npend;
            r->st.last_store_ms = ms_since(t0);
        } else {
            r->failed = rc;
            LOG_ERR("Failed to write the registry log %s/log: %s; the registry is failed", r->dir, strerror(-rc));
        }
        buf_free(&out);
    } else if (rc == 0) {
        r->st.records_written += npend;
    }
    r->st.flushes++;
    buf_free(&pend);
    free(lens);
    /* Compact when the log has grown past the threshold and the snapshot
     * (so rewriting costs at most as much as was appended). Here, before
     * the callbacks, the state is exactly what is durable: a callback may
     * queue the next change, which must not go into the snapshot. */
    int crc = 0;
    if (rc == 0 && r->dir && (force_compact || (r->st.log_bytes >= r->compact_bytes &&
                                                r->st.log_bytes >= r->st.snapshot_bytes)))
        crc = compact(r);
    for (size_t i = 0; i < ncbs; i++)
        if (cbs[i].cb) cbs[i].cb(cbs[i].arg, rc);
    free(cbs);
    return rc < 0 ? rc : r->failed ? r->failed : force_compact ? crc : 0;
}

int registry_flush(struct registry *r) { return flush(r, 0); }

int registry_compact(struct registry *r)
{
    if (r->failed) return r->failed;
    if (!r->dir) return 0;
    return r->ncbs ? flush(r, 1) : compact(r);
}

int registry_failed(const struct registry *r) { return r->failed; }
const struct registry_stats *registry_stats(const struct registry *r) { return &r->st; }

/* ==== State ============================================================== */

const struct registry_entry *registry_get(const struct registry *r, int table, const char *key)
{
    return table >= 0 && table < REGISTRY_NTABLES ? tget(&r->tables[table], key, strlen(key)) : NULL;
}

const struct registry_entry *registry_first(const struct registry *r, int table)
{
    return table >= 0 && table < REGISTRY_NTABLES ? r->tables[table].head : NULL;
}

const struct registry_entry *registry_next(const struct registry_entry *e) { return e->_next; }

size_t registry_count(const struct registry *r, int table)
{
    return table >= 0 && table < REGISTRY_NTABLES ? r->tables[table].n : 0;
}

const struct buf *registry_schedule(const struct registry *r) { return r->has_schedule ? &r->schedule : NULL; }
