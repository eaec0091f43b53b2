/* master_registry.c -- the master's side of the registry: which one
 * (--registry, --work_dir), recovery at start-up, the agents that do not
 * come back within --agent_reregister_timeout, and the small API the
 * handlers write through.
 *
 * As upstream (src/master/main.cpp, Master::_recover): --registry is
 * replicated_log (the default; here a local crash-safe log under
 * <work_dir>/registry, see registry.h) or in_memory. Upstream refuses
 * replicated_log without --work_dir; mesos_api keeps the registry in memory
 * then and says so, so a bare `mesos_api master` still starts. The master
 * counts as recovered once the registry is loaded, which happens before it
 * listens: upstream's 503 "Master has not finished recovery" cannot be seen. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "master.h"
#include "pbw.h"
#include "persist.h"
#include "registry.h"
#include "util.h"

static const char *flag_s(struct master *m, const char *name)
{
    struct flag *f = flags_find(m->flags, m->nflags, name);
    return f && f->present ? f->str : NULL;
}

static int64_t flag_n(struct master *m, const char *name)
{
    struct flag *f = flags_find(m->flags, m->nflags, name);
    return f && f->present ? f->i : 0;
}

/* ==== Failure ============================================================ */

/* A registry that cannot write can no longer promise anything: the master
 * stops (main exits 1), as Mesos' master aborts when its registrar fails. */
void master_registry_failed(struct master *m, int status)
{
    if (m->failed) return;
    m->failed = 1;
    LOG_ERR("Registry failed: %s; the master exits rather than acknowledge changes it cannot keep",
            strerror(-status));
    loop_stop(m->loop);
}

int master_registry_apply_txn(struct master *m, const struct registry_op *ops, size_t n, registry_cb cb, void *arg)
{
    int rc = registry_apply_txn(m->registry, ops, n, cb, arg);
    if (rc < 0 && registry_failed(m->registry)) master_registry_failed(m, rc);
    else if (rc < 0) LOG_WARN("Registry refused operation %d (%s): %s", ops[0].kind, ops[0].key ? ops[0].key : "",
                              strerror(-rc));
    return rc;
}

int master_registry_apply(struct master *m, int kind, const char *key, const void *val, size_t len,
                          registry_cb cb, void *arg)
{
    struct registry_op op = { kind, key, val, len };
    return master_registry_apply_txn(m, &op, 1, cb, arg);
}

/* ==== Recovered, unreachable and gone agents ============================= */

struct ragent *master_recovered_find(struct master *m, const char *id, size_t n)
{
    for (struct ragent *r = m->recovered; r; r = r->next)
        if (strlen(r->id) == n && memcmp(r->id, id, n) == 0) return r;
    return NULL;
}

void master_recovered_remove(struct master *m, struct ragent *r)
{
    for (struct ragent **pp = &m->recovered; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            m->nrecovered--;
            buf_free(&r->info);
            free(r);
            return;
        }
}

/* ==== Unreachable and gone agents, listed and by id ==================== */

static size_t entry_hash(const void *u)
{
    const char *id = ((const struct unreachable *)u)->id;
    return ptrset_hash_bytes(0, id, strlen(id));
}

struct id_key { const char *id; size_t n; };

static int entry_is(const void *u, const void *key)
{
    const struct id_key *k = key;
    const char *id = ((const struct unreachable *)u)->id;
    return strlen(id) == k->n && memcmp(id, k->id, k->n) == 0;
}

struct unreachable *master_id_find(const struct ptrset *x, const char *id, size_t n)
{
    struct id_key k = { id, n };
    return ptrset_find(x, ptrset_hash_bytes(0, id, n), entry_is, &k);
}

/* Put an entry on a list (newest first) and in its set. */
static void id_list_push(struct unreachable **list, struct ptrset *set, size_t *n,
                         const char *id, double time)
{
    struct unreachable *u = xcalloc(1, sizeof *u);
    snprintf(u->id, sizeof u->id, "%s", id);
    u->time = time;
    u->next = *list;
    if (*list) (*list)->prev = u;
    *list = u;
    ptrset_put(set, u, entry_hash);
    (*n)++;
}

static void id_list_remove(struct unreachable **list, struct ptrset *set, size_t *n, struct unreachable *u)
{
    if (u->prev) u->prev->next = u->next;
    else *list = u->next;
    if (u->next) u->next->prev = u->prev;
    ptrset_del(set, u, entry_hash);
    (*n)--;
    free(u);
}

static void id_list_free(struct unreachable **list, struct ptrset *set, size_t *n)
{
    while (*list) id_list_remove(list, set, n, *list);
    ptrset_free(set);
}

int master_is_gone(struct master *m, const char *id, size_t n) { return master_id_find(&m->gone_ids, id, n) != NULL; }

void master_unreachable_add(struct master *m, const char *id, double time)
{
    if (master_id_find(&m->unreachable_ids, id, strlen(id))) return;
    id_list_push(&m->unreachable, &m->unreachable_ids, &m->nunreachable, id, time);
}

/* An agent marked gone (call from the REGISTRY_MARK_GONE callback): it
 * leaves the unreachable and recovered lists, and is refused from now on. */
void master_gone_add(struct master *m, const char *id, double time)
{
    size_t n = strlen(id);
    if (master_id_find(&m->gone_ids, id, n)) return;
    master_unreachable_remove(m, id, n);
    struct ragent *r = master_recovered_find(m, id, n);
    if (r) master_recovered_remove(m, r);
    id_list_push(&m->gone, &m->gone_ids, &m->ngone, id, time);
}

void master_unreachable_remove(struct master *m, const char *id, size_t n)
{
    struct unreachable *u = master_id_find(&m->unreachable_ids, id, n);
    if (u) id_list_remove(&m->unreachable, &m->unreachable_ids, &m->nunreachable, u);
}

void master_unreachable_free(struct master *m)
{
    id_list_free(&m->unreachable, &m->unreachable_ids, &m->nunreachable);
}

void master_encode_recovered(struct master *m, struct buf *pb, uint32_t tag)
{
    for (struct ragent *r = m->recovered; r; r = r->next) pbw_put_bytes(pb, tag, r->info.data, r->info.len);
}

/* TimeInfo bytes for the registry. */
void master_time_info(struct buf *b, double secs)
{
    pbw_put_uint(b, 1, (uint64_t)(int64_t)(secs * 1e9));
}

/* ==== --agent_reregister_timeout ========================================= */

struct mark { struct master *m; char id[96]; double time; };

static void recovered_marked(void *arg, int status)
{
    struct mark *k = arg;
    struct master *m = k->m;
    if (status < 0) master_registry_failed(m, status);
    else {
        struct ragent *r = master_recovered_find(m, k->id, strlen(k->id));
        if (r) master_recovered_remove(m, r);
        master_unreachable_add(m, k->id, k->time);
        m->recovery_removals++;
        LOG_WARN("Agent %s did not re-register within --agent_reregister_timeout after master failover: "
                 "marked unreachable", k->id);
    }
    free(k);
}

static void reregister_timeout_cb(struct loop *l, struct loop_timer *t)
{
    (void)l;
    struct master *m = container_of(t, struct master, reregister_timeout);
    if (!m->recovered) return;
    /* --recovery_agent_removal_limit: more than that share missing means
     * something is wrong with the cluster, not with the agents. */
    const char *lim = flag_s(m, "recovery_agent_removal_limit");
    double limit = lim ? strtod(lim, NULL) / 100.0 : 1.0;
    double share = m->nrecovered_at_start ? (double)m->nrecovered / (double)m->nrecovered_at_start : 0;
    if (share > limit) {
        LOG_ERR("Post-recovery agent removal limit exceeded! After --agent_reregister_timeout there were %zu "
                "(%g%%) agents recovered from the registry that did not reregister. The configured removal limit "
                "is %g%%. Please investigate or increase this limit to proceed further",
                m->nrecovered, share * 100, limit * 100);
        m->failed = 1;
        loop_stop(m->loop);
        return;
    }
    double now = now_secs();
    struct buf ti = {0};
    master_time_info(&ti, now);
    for (struct ragent *r = m->recovered; r; r = r->next) {
        if (r->marking) continue;
        struct mark *k = xcalloc(1, sizeof *k);
        k->m = m;
        snprintf(k->id, sizeof k->id, "%s", r->id);
        k->time = now;
        if (master_registry_apply(m, REGISTRY_MARK_UNREACHABLE, r->id, ti.data, ti.len, recovered_marked, k) < 0)
            free(k);
        else r->marking = 1;
    }
    buf_free(&ti);
}

/* ==== Open and recover =================================================== */

int master_registry_open(struct master *m, char *err)
{
    const char *kind = flag_s(m, "registry");
    const char *wd = flag_s(m, "work_dir");
    char dir[4200];
    struct registry_config cfg = { .loop = m->loop, .compact_bytes = (size_t)flag_n(m, "registry_max_log_size") };
    if (kind && strcmp(kind, "in_memory") != 0 && strcmp(kind, "replicated_log") != 0) {
        snprintf(err, 256, "'%.100s' is not a supported option for registry persistence", kind);
        return -1;
    }
    if (kind && strcmp(kind, "replicated_log") == 0) {
        if (wd) {
            snprintf(dir, sizeof dir, "%s/registry", wd);
            cfg.dir = dir;
        } else {
            LOG_WARN("No --work_dir: the registry is kept in memory and is lost when the master stops "
                     "(upstream requires --work_dir with --registry=replicated_log)");
        }
    }
    char e[1024];
    m->registry = registry_open(&cfg, e, sizeof e);
    if (!m->registry) {
        if (strlen(e) < 256) snprintf(err, 256, "%.255s", e);
        else {                                  /* err holds 256 bytes: log the whole text here */
            LOG_ERR("%s", e);
            snprintf(err, 256, "Failed to recover the registry in %.150s", dir);
        }
        return -1;
    }
    loop_timer_init(&m->reregister_timeout, reregister_timeout_cb);
    return 0;
}

/* Put the recovered state in place. --weights are used only when the
 * registry has none, and are then stored (Master::_recover). */
void master_registry_recover(struct master *m)
{
    struct registry *r = m->registry;
    const struct registry_stats *st = registry_stats(r);
    size_t nw = registry_count(r, REGISTRY_WEIGHTS);
    if (nw) {
        if (m->nweights)
            LOG_WARN("Ignoring --weights flag '%s' and recovering the weights from registry", flag_s(m, "weights"));
        free(m->weights);
        m->weights = xcalloc(nw, sizeof *m->weights);
        m->nweights = 0;
        for (const struct registry_entry *e = registry_first(r, REGISTRY_WEIGHTS); e; e = registry_next(e)) {
            snprintf(m->weights[m->nweights].role, sizeof m->weights[m->nweights].role, "%s", e->key);
            m->weights[m->nweights++].weight = e->weight;
        }
    } else if (m->nweights) {
        struct buf v = {0};
        for (size_t i = 0; i < m->nweights; i++) {
            size_t k = pbw_begin(&v, 1);
            pbw_put_double(&v, 1, m->weights[i].weight);
            pbw_put_str(&v, 2, m->weights[i].role);
            pbw_end(&v, k);
        }
        master_registry_apply(m, REGISTRY_UPDATE_WEIGHTS, NULL, v.data, v.len, NULL, NULL);
        buf_free(&v);
    }
    quota_recover(m);
    maint_recover(m);
    agent_admin_recover(m);
    size_t nagents = 0;
    for (const struct registry_entry *e = registry_first(r, REGISTRY_AGENTS); e; e = registry_next(e)) {
        if (e->state == REGISTRY_ADMITTED) {
            struct ragent *a = xcalloc(1, sizeof *a);
            snprintf(a->id, sizeof a->id, "%s", e->key);
            buf_append(&a->info, e->val.data, e->val.len);
            a->next = m->recovered;
            m->recovered = a;
            m->nrecovered++;
            nagents++;
        } else {
            double t = (double)e->time_ns / 1e9;
            if (e->state == REGISTRY_GONE) id_list_push(&m->gone, &m->gone_ids, &m->ngone, e->key, t);
            else id_list_push(&m->unreachable, &m->unreachable_ids, &m->nunreachable, e->key, t);
        }
    }
    m->nrecovered_at_start = m->nrecovered;
    if (m->nrecovered) loop_timer_start(m->loop, &m->reregister_timeout,
                                        (uint64_t)flag_n(m, "agent_reregister_timeout") / 1000000);
    char to[32];
    format_duration(flag_n(m, "agent_reregister_timeout"), to, sizeof to);
    LOG("Recovered %zu agents from the registry (%llu bytes, %zu unreachable, %zu gone, %llu log records"
        "%s) in %.0f ms; allowing %s for agents to reregister", nagents,
        (unsigned long long)(st->snapshot_bytes + st->log_bytes), m->nunreachable, m->ngone,
        (unsigned long long)st->records_recovered, st->truncated_bytes ? ", torn tail truncated" : "",
        st->load_ms, to);
}

void master_registry_close(struct master *m)
{
    if (!m->registry) return;
    registry_close(m->registry);            /* runs the callbacks of what is pending */
    m->registry = NULL;
    loop_timer_stop(m->loop, &m->reregister_timeout);
    while (m->recovered) master_recovered_remove(m, m->recovered);
    id_list_free(&m->gone, &m->gone_ids, &m->ngone);
}
