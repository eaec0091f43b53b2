/* agents.c -- the master's side of the master<->agent wire: registration,
 * re-registration, liveness, and the agents' part of the state calls.
 *
 * The handshake is upstream's (LIBPROCESS_WIRE.md): RegisterSlaveMessage
 * gets SlaveRegisteredMessage with a new id "<master id>-S<n>";
 * ReregisterSlaveMessage keeps the agent's id. Every --agent_ping_timeout
 * the master sends PingSlaveMessage; an agent that misses
 * --max_agent_ping_timeouts pongs in a row is removed and remembered as
 * unreachable, as src/master/master.cpp does. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include "log.h"
#include "maintenance.h"
#include "master.h"
#include "pbdesc.h"
#include "pbjson.h"
#include "pbw.h"
#include "ptrset.h"
#include "registry.h"
#include "resources.h"
#include "util.h"

static int64_t flag_i(struct master *m, const char *name)
{
    struct flag *f = flags_find(m->flags, m->nflags, name);
    return f && f->present ? f->i : 0;
}

static uint64_t ping_interval_ms(struct master *m)
{
    return (uint64_t)flag_i(m, "agent_ping_timeout") / 1000000;
}

static double total_ping_timeout_secs(struct master *m)
{
    return (double)flag_i(m, "agent_ping_timeout") / 1e9 * (double)flag_i(m, "max_agent_ping_timeouts");
}

/* ==== Indexes ============================================================ */

/* Agents by UPID and by id: every message from an agent (pongs included, one
 * per agent per ping interval) looks its sender up, so a list scan would make
 * a large cluster quadratic. Fixed-size tables of chains. */
#define INDEX_BUCKETS 65536u

static unsigned hash_str(unsigned h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static unsigned pid_hash(const struct upid *u)
{
    unsigned h = hash_str(2166136261u, u->id, strlen(u->id));
    h = hash_str(h, u->host, strlen(u->host));
    return (h ^ (unsigned)u->port) * 16777619u % INDEX_BUCKETS;
}

static unsigned id_hash(const char *id, size_t n) { return hash_str(2166136261u, id, n) % INDEX_BUCKETS; }

static void index_add(struct master *m, struct agent *a)
{
    if (!m->pid_index) {
        m->pid_index = xcalloc(INDEX_BUCKETS, sizeof *m->pid_index);
        m->id_index = xcalloc(INDEX_BUCKETS, sizeof *m->id_index);
    }
    unsigned h = pid_hash(&a->pid);
    a->pid_next = m->pid_index[h];
    m->pid_index[h] = a;
    h = id_hash(a->id, strlen(a->id));
    a->id_next = m->id_index[h];
    m->id_index[h] = a;
}

static void index_del_pid(struct master *m, struct agent *a)
{
    for (struct agent **pp = &m->pid_index[pid_hash(&a->pid)]; *pp; pp = &(*pp)->pid_next)
        if (*pp == a) { *pp = a->pid_next; return; }
}

static void index_del(struct master *m, struct agent *a)
{
    if (!m->pid_index) return;
    index_del_pid(m, a);
    for (struct agent **pp = &m->id_index[id_hash(a->id, strlen(a->id))]; *pp; pp = &(*pp)->id_next)
        if (*pp == a) { *pp = a->id_next; return; }
}

/* The agent's UPID changed (re-registration from a new address). */
static void set_pid(struct master *m, struct agent *a, const struct upid *pid)
{
    index_del_pid(m, a);
    a->pid = *pid;
    unsigned h = pid_hash(&a->pid);
    a->pid_next = m->pid_index[h];
    m->pid_index[h] = a;
}

static struct agent *by_pid(struct master *m, const struct upid *pid)
{
    if (!m->pid_index) return NULL;
    for (struct agent *a = m->pid_index[pid_hash(pid)]; a; a = a->pid_next)
        if (a->pid.port == pid->port && strcmp(a->pid.host, pid->host) == 0 && strcmp(a->pid.id, pid->id) == 0)
            return a;
    return NULL;
}

static struct agent *by_id(struct master *m, const char *id, size_t n)
{
    if (!m->id_index) return NULL;
    for (struct agent *a = m->id_index[id_hash(id, n)]; a; a = a->id_next)
        if (strlen(a->id) == n && memcmp(a->id, id, n) == 0) return a;
    return NULL;
}

/* The string value of a SlaveID-shaped field `tag` of msg, or NULL. */
static const char *id_field(const uint8_t *p, size_t n, uint32_t tag, size_t *len)
{
    struct pbw_field f, v;
    if (pbw_find(p, n, tag, &f) != 1 || f.wt != PBW_LEN) return NULL;
    if (pbw_find(f.p, f.n, 1, &v) != 1 || v.wt != PBW_LEN) return NULL;
    *len = v.n;
    return (const char *)v.p;
}

/* SlaveInfo bytes without its id field, then with ours appended. */
static void set_info(struct agent *a, const uint8_t *p, size_t n)
{
    buf_reset(&a->info);
    pbw_copy_except(&a->info, p, n, 6);
    pbw_put_id(&a->info, 6, a->id);
}

/* Keep the capabilities (repeated field `tag` of the message) as Agent.capabilities (tag 10). */
static void set_capabilities(struct agent *a, const uint8_t *p, size_t n, uint32_t tag)
{
    struct pbw_reader r;
    struct pbw_field f;
    buf_reset(&a->capabilities);
    pbw_reader_init(&r, p, n);
    while (pbw_next(&r, &f) == 1)
        if (f.tag == tag && f.wt == PBW_LEN) pbw_put_bytes(&a->capabilities, 10, f.p, f.n);
}

static void send_to(struct master *m, struct agent *a, const char *name, struct buf *b)
{
    wire_send(m->wire, &a->pid, name, b->data, b->len);
    buf_free(b);
}

static void put_connection(struct master *m, struct buf *b, uint32_t tag)
{
    size_t k = pbw_begin(b, tag);
    pbw_put_double(b, 1, total_ping_timeout_secs(m));
    pbw_end(b, k);
}

/* ==== Tasks ============================================================= */

#define MAX_STATUSES 32

static int terminal_state(int s)
{
    return s == 2 || s == 3 || s == 4 || s == 5 || s == 7 || s == 9 || s == 11 || s == 12;
}

/* A task object with its two ids stored after it (one allocation). */
static struct mtask *mtask_new(const char *fw, const char *tid)
{
    size_t tn = strlen(tid) + 1, fn = strlen(fw) + 1;
    struct mtask *t = xcalloc(1, sizeof *t + tn + fn);
    memcpy(t->task_id, tid, tn);
    memcpy(t->task_id + tn, fw, fn);
    t->framework_id = t->task_id + tn;
    return t;
}

/* The base bytes are complete: shrink them to their size and note where
 * state (6) and statuses (8) go among them, so that encode_task writes the
 * Task in field order without looking. */
static void mtask_seal(struct mtask *t)
{
    const uint8_t *p = (const uint8_t *)t->base.data;
    size_t n = t->base.len, at6 = n, at8 = n;
    struct pbw_reader r;
    struct pbw_field f;
    pbw_reader_init(&r, p, n);
    while (pbw_next(&r, &f) == 1) {
        size_t off = (size_t)(f.start - p);
        if (f.tag > 6 && at6 == n) at6 = off;
        if (f.tag > 8) { at8 = off; break; }
    }
    t->at6 = (uint32_t)at6;
    t->at8 = (uint32_t)(at8 < at6 ? at6 : at8);
    if (n && n < t->base.cap) {
        t->base.data = xrealloc(t->base.data, n);
        t->base.cap = n;
    }
}

static void mtask_free(struct mtask *t)
{
    buf_free(&t->base);
    buf_free(&t->statuses);
    free(t);
}

/* Keep at most `max` tasks on a list, dropping the oldest (at the tail). */
/* ==== Bounded task history ============================================== */

/* Completed and unreachable tasks are kept newest first, at most
 * --max_completed_tasks_per_framework / --max_unreachable_tasks_per_framework
 * of each framework, as upstream bounds them (the oldest of the framework
 * goes); and, since frameworks come and go, at most that many times
 * (--max_completed_frameworks + the frameworks there are) in all. */
enum { HIST_COMPLETED = 0, HIST_UNREACHABLE = 1 };
struct fwcount { char id[256]; size_t n[2]; };

static size_t hist_limit(struct master *m, int which)
{
    struct flag *f = flags_find(m->flags, m->nflags, which == HIST_COMPLETED ? "max_completed_tasks_per_framework"
                                                                              : "max_unreachable_tasks_per_framework");
    return f && f->present && f->i >= 0 ? (size_t)f->i : 1000;
}

static size_t *hist_count(struct master *m, const char *fw, int which)
{
    size_t spare = m->nfwcounts;
    for (size_t i = 0; i < m->nfwcounts; i++) {
        if (strcmp(m->fwcounts[i].id, fw) == 0) return &m->fwcounts[i].n[which];
        if (spare == m->nfwcounts && !m->fwcounts[i].n[0] && !m->fwcounts[i].n[1]) spare = i;
    }
    if (spare == m->nfwcounts) {
        m->fwcounts = xrealloc(m->fwcounts, (m->nfwcounts + 1) * sizeof *m->fwcounts);
        m->nfwcounts++;
    }
    struct fwcount *c = &m->fwcounts[spare];
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", fw);
    return &c->n[which];
}

static struct mtask **hist_list(struct master *m, int which, size_t **n)
{
    *n = which == HIST_COMPLETED ? &m->ncompleted : &m->nunreachable_tasks;
    return which == HIST_COMPLETED ? &m->completed_tasks : &m->unreachable_tasks;
}

/* ---- The history's index by (framework id, task id) ----
 * Open addressing with linear probing, at most half full; deletion shifts
 * the following entries back. A re-registering agent's tasks and status
 * updates of finished tasks are found here, not by walking lists of tens
 * of thousands of tasks for each of them. */
static size_t ids_hash(const char *fw, const char *tid)
{
    return ptrset_hash_bytes(ptrset_hash_bytes(0, fw, strlen(fw)), tid, strlen(tid));
}

static size_t task_hash(const void *t)
{
    return ids_hash(((const struct mtask *)t)->framework_id, ((const struct mtask *)t)->task_id);
}

struct ids { const char *fw, *tid; };

static int task_is(const void *t, const void *key)
{
    const struct ids *k = key;
    return strcmp(((const struct mtask *)t)->task_id, k->tid) == 0 &&
           strcmp(((const struct mtask *)t)->framework_id, k->fw) == 0;
}

static struct mtask *hidx_find(const struct ptrset *x, const char *fw, const char *tid)
{
    struct ids k = { fw, tid };
    return ptrset_find(x, ids_hash(fw, tid), task_is, &k);
}

/* Unlink a task from a history list (the caller frees or moves it). */
static struct mtask *hist_remove(struct master *m, int which, struct mtask *t)
{
    size_t *n;
    struct mtask **list = hist_list(m, which, &n);
    if (t->prev) t->prev->next = t->next;
    else *list = t->next;
    if (t->next) t->next->prev = t->prev;
    else m->hist_tail[which] = t->prev;
    t->next = t->prev = NULL;
    (*n)--;
    ptrset_del(&m->hist_idx[which], t, task_hash);
    size_t *c = hist_count(m, t->framework_id, which);
    if (*c) (*c)--;
    return t;
}

static void hist_push(struct master *m, int which, struct mtask *t)
{
    size_t *n, max = hist_limit(m, which);
    struct mtask **list = hist_list(m, which, &n);
    t->prev = NULL;
    t->next = *list;
    if (*list) (*list)->prev = t;
    else m->hist_tail[which] = t;
    *list = t;
    (*n)++;
    ptrset_put(&m->hist_idx[which], t, task_hash);
    size_t *c = hist_count(m, t->framework_id, which);
    if (++*c > max) {                    /* the framework's oldest goes */
        struct mtask *oldest = m->hist_tail[which];
        while (oldest && strcmp(oldest->framework_id, t->framework_id) != 0) oldest = oldest->prev;
        if (oldest) mtask_free(hist_remove(m, which, oldest));
    }
    int fws = 50;
    struct flag *fl = flags_find(m->flags, m->nflags, "max_completed_frameworks");
    if (fl && fl->present && fl->i >= 0) fws = (int)fl->i;
    if (*n > max * ((size_t)fws + m->nframeworks + 1))     /* the oldest of all goes */
        mtask_free(hist_remove(m, which, m->hist_tail[which]));
}

/* Does the task already hold a status with this uuid? */
static int has_status(const struct mtask *t, const uint8_t *uuid, size_t n)
{
    if (!uuid) return 0;
    struct pbw_reader r;
    struct pbw_field f, u;
    pbw_reader_init(&r, t->statuses.data, t->statuses.len);
    while (pbw_next(&r, &f) == 1)
        if (pbw_find(f.p, f.n, 11, &u) == 1 && u.n == n && memcmp(u.p, uuid, n) == 0) return 1;
    return 0;
}

static struct mtask *find_completed(struct master *m, const char *fw, const char *tid)
{
    return hidx_find(&m->hist_idx[HIST_COMPLETED], fw, tid);
}

/* A Task (v0 from ReregisterSlave, same numbers as v1): split off state and statuses. */
static struct mtask *mtask_from_task(const uint8_t *p, size_t n)
{
    char fw[256] = "", tid[256] = "";
    pbw_get_id(p, n, 3, fw, sizeof fw);
    pbw_get_id(p, n, 2, tid, sizeof tid);
    struct mtask *t = mtask_new(fw, tid);
    struct pbw_reader r;
    struct pbw_field f;
    pbw_reader_init(&r, p, n);
    while (pbw_next(&r, &f) == 1) {
        if (f.tag == 6) t->state = (int)f.v;
        else if (f.tag == 8 && f.wt == PBW_LEN && t->nstatuses < MAX_STATUSES) {
            pbw_put_bytes(&t->statuses, 8, f.p, f.n);
            t->nstatuses++;
        } else buf_append(&t->base, f.start, (size_t)(r.p - f.start));
    }
    mtask_seal(t);
    return t;
}

static void count_terminal(struct master *m, int state)
{
    if (state >= 0 && state < 16) m->task_counters[state]++;
}

/* A status the master generates: kept on the task (bounded), after its
 * TASK_UPDATED event, as upstream's updateTask does. */
static void master_status(struct master *m, struct mtask *t, const char *agent_id, int state, int reason,
                          const char *message, double unreachable_time)
{
    struct buf st = {0};
    events_master_status(&st, t, agent_id, state, reason, message, unreachable_time);
    if (!terminal_state(t->state)) t->state = state;
    events_task_updated(m, t, (const uint8_t *)st.data, st.len, t->state);
    if (t->nstatuses < MAX_STATUSES) {
        pbw_put_bytes(&t->statuses, 8, st.data, st.len);
        t->nstatuses++;
    }
    buf_free(&st);
}

/* The agent is gone: its active tasks become unreachable, or, when the
 * operator removed it (`message` set), TASK_GONE_BY_OPERATOR (TASK_LOST for
 * frameworks that are not partition-aware) and completed, as upstream's
 * __removeSlave does. */
static void tasks_unreachable(struct master *m, struct agent *a, const char *message)
{
    double now = now_secs();
    while (a->tasks) {
        struct mtask *t = a->tasks;
        a->tasks = t->next;
        a->tasks_gen++;
        if (terminal_state(t->state)) { hist_push(m, HIST_COMPLETED, t); continue; }
        if (message) {                                   /* removed by the operator */
            struct framework *f = sched_find(m, t->framework_id);
            int state = f && !f->partition_aware ? 5 : 12;          /* TASK_LOST : TASK_GONE_BY_OPERATOR */
            int reason = state == 5 ? 11 : 31;       /* REASON_AGENT_REMOVED(_BY_OPERATOR) */
            count_terminal(m, state);
            sched_task_removed(m, t->framework_id, t->task_id, a->id, state, reason, message);
            master_status(m, t, a->id, state, reason, message, 0);
            hist_push(m, HIST_COMPLETED, t);
            continue;
        }
        int state = sched_task_lost(m, t->framework_id, t->task_id, a->id);
        master_status(m, t, a->id, state, 11, "Agent is unreachable", now);   /* REASON_AGENT_REMOVED */
        hist_push(m, HIST_UNREACHABLE, t);
    }
}

/* Is the task on the list? */
static int on_list(const struct mtask *list, const struct mtask *t)
{
    for (; list; list = list->next)
        if (strcmp(list->task_id, t->task_id) == 0 && strcmp(list->framework_id, t->framework_id) == 0) return 1;
    return 0;
}

static void replace_tasks(struct master *m, struct agent *a, const uint8_t *p, size_t n, uint32_t tag)
{
    struct mtask *old = a->tasks;                        /* freed below: the events compare against it */
    a->tasks = NULL;
    a->tasks_gen++;
    struct pbw_reader r;
    struct pbw_field f;
    pbw_reader_init(&r, p, n);
    while (pbw_next(&r, &f) == 1) {
        if (f.tag != tag || f.wt != PBW_LEN) continue;
        struct mtask *t = mtask_from_task(f.p, f.n);
        /* A task that comes back from an unreachable agent leaves that list. */
        struct mtask *u = hidx_find(&m->hist_idx[HIST_UNREACHABLE], t->framework_id, t->task_id);
        if (u) mtask_free(hist_remove(m, HIST_UNREACHABLE, u));
        if (terminal_state(t->state)) {
            if (find_completed(m, t->framework_id, t->task_id)) mtask_free(t);
            else {
                count_terminal(m, t->state);
                if (!on_list(old, t)) events_task_added(m, t);
                hist_push(m, HIST_COMPLETED, t);
            }
            continue;
        }
        if (!on_list(old, t)) events_task_added(m, t);
        t->next = a->tasks;
        a->tasks = t;
        a->tasks_gen++;
    }
    while (old) {
        struct mtask *t = old;
        old = t->next;
        mtask_free(t);
    }
}

/* StatusUpdateMessage {update = 1 {framework_id 1, executor_id 2, slave_id 3, status 4}}. */
static void on_status_update(struct master *m, struct agent *a, const uint8_t *p, size_t n)
{
    struct pbw_field u, st, sv;
    if (pbw_find(p, n, 1, &u) != 1 || u.wt != PBW_LEN || pbw_find(u.p, u.n, 4, &st) != 1 || st.wt != PBW_LEN)
        return;
    char fw[256], tid[256];
    if (pbw_get_id(u.p, u.n, 1, fw, sizeof fw) < 0 || pbw_get_id(st.p, st.n, 1, tid, sizeof tid) < 0) return;
    int state = pbw_find(st.p, st.n, 2, &sv) == 1 ? (int)sv.v : 13;
    struct mtask *t = a->tasks;
    while (t && !(strcmp(t->task_id, tid) == 0 && strcmp(t->framework_id, fw) == 0)) t = t->next;
    struct pbw_field uu;
    const uint8_t *uuid = pbw_find(st.p, st.n, 11, &uu) == 1 && uu.wt == PBW_LEN ? uu.p : NULL;
    size_t uuid_n = uuid ? uu.n : 0;
    if (!t) {
        struct mtask *done = find_completed(m, fw, tid);
        if (done) {
            /* Finished already: keep a status we have not seen (the agent may
             * have reported the final state when it re-registered). */
            if (!has_status(done, uuid, uuid_n) && done->nstatuses < MAX_STATUSES) {
                pbw_put_bytes(&done->statuses, 8, st.p, st.n);
                done->nstatuses++;
            }
            sched_forward_update(m, fw, st.p, st.n);     /* until the framework acknowledges */
            return;
        }
    } else if (has_status(t, uuid, uuid_n)) {
        sched_forward_update(m, fw, st.p, st.n);         /* a re-sent update: the framework may need it */
        return;
    }
    int learned = 0;
    if (!t) {
        /* A task the master did not launch (or forgot in a failover): learn it. */
        t = mtask_new(fw, tid);
        pbw_put_str(&t->base, 1, tid);                   /* name: unknown, the id */
        size_t k = pbw_begin(&t->base, 2); pbw_put_str(&t->base, 1, tid); pbw_end(&t->base, k);
        k = pbw_begin(&t->base, 3); pbw_put_str(&t->base, 1, fw); pbw_end(&t->base, k);
        struct pbw_field ex;
        if (pbw_find(u.p, u.n, 2, &ex) == 1 && ex.wt == PBW_LEN) pbw_put_bytes(&t->base, 4, ex.p, ex.n);
        k = pbw_begin(&t->base, 5); pbw_put_str(&t->base, 1, a->id); pbw_end(&t->base, k);
        mtask_seal(t);
        t->next = a->tasks;
        a->tasks = t;
        a->tasks_gen++;
        learned = 1;
    }
    int was_terminal = terminal_state(t->state);
    t->state = state;
    if (!learned) events_task_updated(m, t, st.p, st.n, state);
    if (t->nstatuses < MAX_STATUSES) {
        pbw_put_bytes(&t->statuses, 8, st.p, st.n);
        t->nstatuses++;
    }
    if (learned) events_task_added(m, t);               /* as it now stands */
    if (terminal_state(state) && !was_terminal) {
        count_terminal(m, state);
        struct mtask **pp = &a->tasks;
        while (*pp != t) pp = &(*pp)->next;
        *pp = t->next;
        a->tasks_gen++;
        hist_push(m, HIST_COMPLETED, t);
        sched_forward_update(m, fw, st.p, st.n);
        agent_admin_check_drained(m, a);                  /* may remove the agent (mark_gone) */
        return;
    }
    LOG_V(1, "Status update %d for task %s of framework %s on agent %s", state, tid, fw, a->id);
    sched_forward_update(m, fw, st.p, st.n);
}

struct agent *agents_find(struct master *m, const char *id, size_t n) { return by_id(m, id, n); }

/* Task (v1) from TaskInfo: name 1, task_id 2, framework_id 3, executor_id 4,
 * agent_id 5, resources 7 (TaskInfo: name 1, task_id 2, agent_id 3,
 * resources 4, executor 5). */
struct mtask *agents_add_task(struct master *m, struct agent *a, const char *fw, const uint8_t *p, size_t n)
{
    char tid[256] = "";
    pbw_get_id(p, n, 2, tid, sizeof tid);
    struct mtask *t = mtask_new(fw, tid);
    struct pbw_field f, ex, exid;
    if (pbw_find(p, n, 1, &f) == 1 && f.wt == PBW_LEN) pbw_put_bytes(&t->base, 1, f.p, f.n);
    if (pbw_find(p, n, 2, &f) == 1 && f.wt == PBW_LEN) pbw_put_bytes(&t->base, 2, f.p, f.n);
    size_t k = pbw_begin(&t->base, 3);
    pbw_put_str(&t->base, 1, fw);
    pbw_end(&t->base, k);
    if (pbw_find(p, n, 5, &ex) == 1 && pbw_find(ex.p, ex.n, 1, &exid) == 1) pbw_put_bytes(&t->base, 4, exid.p, exid.n);
    k = pbw_begin(&t->base, 5);
    pbw_put_str(&t->base, 1, a->id);
    pbw_end(&t->base, k);
    struct pbw_reader r;
    pbw_reader_init(&r, p, n);
    while (pbw_next(&r, &f) == 1)
        if (f.tag == 4 && f.wt == PBW_LEN) pbw_put_bytes(&t->base, 7, f.p, f.n);
    mtask_seal(t);
    t->state = 6;                                        /* TASK_STAGING */
    t->next = a->tasks;
    a->tasks = t;
    a->tasks_gen++;
    events_task_added(m, t);
    return t;
}

void agents_task_resources(const struct mtask *t, void *out)
{
    struct buf err = { .max = 4096 };
    resources_decode_field(t->base.data, t->base.len, 7, out, &err);   /* Task.resources */
    buf_free(&err);
}

void agents_used(const struct agent *a, void *out)
{
    for (const struct mtask *t = a->tasks; t; t = t->next) agents_task_resources(t, out);
}

void agents_add_executor(struct agent *a, const char *fw, const uint8_t *info, size_t n)
{
    char ex[256];
    if (pbw_get_id(info, n, 1, ex, sizeof ex) < 0) return;
    for (struct mexec *e = a->executors; e; e = e->next)
        if (strcmp(e->executor_id, ex) == 0 && strcmp(e->framework_id, fw) == 0) return;
    struct mexec *e = xcalloc(1, sizeof *e);
    snprintf(e->framework_id, sizeof e->framework_id, "%s", fw);
    snprintf(e->executor_id, sizeof e->executor_id, "%s", ex);
    buf_append(&e->info, info, n);
    e->next = a->executors;
    a->executors = e;
}

static void free_executors(struct agent *a)
{
    while (a->executors) {
        struct mexec *e = a->executors;
        a->executors = e->next;
        buf_free(&e->info);
        free(e);
    }
}

void agents_encode_get_executors(struct master *m, struct buf *pb)
{
    for (struct agent *a = m->agents; a; a = a->next)
        for (struct mexec *e = a->executors; e; e = e->next) {
            size_t k = pbw_begin(pb, 1);
            pbw_put_bytes(pb, 1, e->info.data, e->info.len);
            pbw_put_id(pb, 2, a->id);
            pbw_end(pb, k);
        }
}

/* ExitedExecutorMessage {slave_id 1, framework_id 2, executor_id 3, status 4}. */
static void on_exited_executor(struct master *m, struct agent *a, const uint8_t *p, size_t n)
{
    char fw[256], ex[256];
    if (pbw_get_id(p, n, 2, fw, sizeof fw) < 0 || pbw_get_id(p, n, 3, ex, sizeof ex) < 0) return;
    for (struct mexec **pp = &a->executors; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->executor_id, ex) == 0 && strcmp((*pp)->framework_id, fw) == 0) {
            struct mexec *e = *pp;
            *pp = e->next;
            buf_free(&e->info);
            free(e);
            break;
        }
    struct pbw_field st;
    int status = pbw_find(p, n, 4, &st) == 1 ? (int)(int32_t)st.v : 0;
    sched_executor_exited(m, fw, a->id, ex, status);
}

/* The length is known before the bytes: write it first, so nothing moves
 * (pbw_begin/pbw_end would shift every task over 127 bytes). */
/* The Task's bytes, as field `tag` (with its key and length) or bare
 * (tag 0). */
static void encode_task(struct buf *pb, uint32_t tag, const struct mtask *t)
{
    uint8_t state[11] = { 6 << 3 | PBW_VARINT };          /* Task.state, a varint */
    size_t sn = 1;
    for (uint64_t v = (uint64_t)(int64_t)t->state; ; v >>= 7) {
        state[sn++] = (uint8_t)(v & 0x7f) | (v > 0x7f ? 0x80 : 0);
        if (v <= 0x7f) break;
    }
    /* state (6) and statuses (8) go where they belong among the kept
     * fields (mtask_seal), so the Task comes out in field order (as
     * upstream's) and the JSON transcoder takes its one-pass path. */
    const uint8_t *p = (const uint8_t *)t->base.data;
    size_t n = t->base.len, at6 = t->at6, at8 = t->at8;
    if (tag) {
        pbw_put_key(pb, tag, PBW_LEN);
        pbw_put_varint(pb, n + sn + t->statuses.len);
    }
    buf_append(pb, p, at6);
    buf_append(pb, state, sn);
    buf_append(pb, p + at6, at8 - at6);
    buf_append(pb, t->statuses.data, t->statuses.len);
    buf_append(pb, p + at8, n - at8);
}

/* The running tasks of agents [from, to) as JSON list elements, each Task
 * put together in a small scratch buffer and transcoded at once (no pass
 * through memory of the whole answer's protobuf). Returns 0 or -1. */
static int tasks_json(struct agent *from, struct agent *to, struct buf *out, int *first)
{
    struct buf one = {0};
    int rc = 0;
    for (struct agent *a = from; a != to && rc == 0; a = a->next)
        for (const struct mtask *t = a->tasks; t && rc == 0; t = t->next) {
            buf_reset(&one);
            encode_task(&one, 0, t);
            if (!*first && buf_putc(out, ',') < 0) { rc = -1; break; }
            *first = 0;
            rc = pbjson_task_to_json(one.data, one.len, out, 3);   /* Response.get_state.get_tasks.tasks */
        }
    buf_free(&one);
    return rc;
}

struct tasks_half { struct agent *from, *to; struct buf out; int first, rc; };

static void *tasks_half_main(void *arg)
{
    struct tasks_half *h = arg;
    h->rc = tasks_json(h->from, h->to, &h->out, &h->first);
    return NULL;
}

/* GetTasks.tasks as JSON list elements (without the brackets), in the
 * order agents_encode_get_tasks writes them, after what `before` writes
 * into out. A large list is split: a helper thread writes the tasks of the
 * agents past the first ~40 % of the task bytes while this thread runs
 * `before` (the rest of the answer) and then the first part; the helper's
 * part goes to *part2 (from *off2 on) when part2 is given, else it is
 * appended to out, once both are done. Meanwhile the master's state is
 * only read (`before` may only keep per-agent caches). Returns 0 or -1. */
int agents_running_tasks_json(struct master *m, struct buf *out, struct buf *part2, size_t *off2,
                              int (*before)(void *, struct buf *), void *arg)
{
    size_t total = 0, part = 0;
    for (struct agent *a = m->agents; a; a = a->next)
        for (const struct mtask *t = a->tasks; t; t = t->next) total += t->base.len + t->statuses.len + 16;
    struct agent *mid = NULL;
    if (total >= ((size_t)4 << 20))
        for (struct agent *a = m->agents; a && !mid; a = a->next) {
            for (const struct mtask *t = a->tasks; t; t = t->next) part += t->base.len + t->statuses.len + 16;
            if (part * 10 >= total * 4) mid = a->next;
        }
    struct tasks_half h = { .from = mid, .to = NULL, .first = 0 };
    pthread_t th;
    int threaded = 0;
    if (mid) {
        buf_reserve(&h.out, PBJSON_SIZE_GUESS(total - part));
        threaded = pthread_create(&th, NULL, tasks_half_main, &h) == 0;
    }
    int rc = before(arg, out), first = 1;
    if (rc == 0) {
        buf_reserve(out, PBJSON_SIZE_GUESS(mid && part2 ? part : total));   /* the helper's part too, unless handed over */
        rc = tasks_json(m->agents, mid, out, &first);
    }
    if (threaded) pthread_join(th, NULL);
    else if (mid) tasks_half_main(&h);
    if (rc == 0 && h.rc == 0 && h.out.len) {
        /* the helper's part starts with its separating comma, unless
         * nothing came before it */
        size_t skip = first ? 1 : 0;
        if (part2) {                          /* handed over, not copied */
            *part2 = h.out;
            *off2 = skip;
            memset(&h.out, 0, sizeof h.out);
        } else {
            rc = buf_append(out, h.out.data + skip, h.out.len - skip);
        }
    }
    if (h.rc < 0) rc = -1;
    buf_free(&h.out);
    return rc;
}

void agents_encode_get_tasks(struct master *m, struct buf *pb) { agents_encode_tasks(m, pb, 1); }

void agents_encode_tasks(struct master *m, struct buf *pb, int running)
{
    for (struct agent *a = m->agents; running && a; a = a->next)
        for (struct mtask *t = a->tasks; t; t = t->next) encode_task(pb, 2, t);
    /* In field order (completed_tasks 3 before unreachable_tasks 5), so the
     * JSON transcoder's one-pass path applies. */
    for (struct mtask *t = m->completed_tasks; t; t = t->next) encode_task(pb, 3, t);
    for (struct mtask *t = m->unreachable_tasks; t; t = t->next) encode_task(pb, 5, t);
}

size_t agents_count_tasks(struct master *m, int state)
{
    size_t n = 0;
    for (struct agent *a = m->agents; a; a = a->next)
        for (struct mtask *t = a->tasks; t; t = t->next) n += t->state == state;
    if (state == 10) n += m->nunreachable_tasks;
    return n;
}

static void remove_agent(struct master *m, struct agent *a, int how, double time, const char *message)
{
    if (!a->listed) return;
    if (a->prev) a->prev->next = a->next;
    else m->agents = a->next;
    if (a->next) a->next->prev = a->prev;
    a->listed = 0;
    index_del(m, a);
    m->nagents--;
    m->agent_removals++;
    sched_agent_removed(m, a);
    tasks_unreachable(m, a, how == AGENT_UNREACHABLE || how == AGENT_UNREGISTERED ? NULL : message);
    if (how == AGENT_UNREGISTERED || how == AGENT_REMOVED_BY_OPERATOR) events_agent_removed(m, a->id);
    free_executors(a);
    ops_agent_removed(m, a);
    if (how == AGENT_UNREACHABLE) master_unreachable_add(m, a->id, time);
    loop_timer_stop(m->loop, &a->ping);
    buf_free(&a->info);
    buf_free(&a->capabilities);
    buf_free(&a->used_pb);
    free(a);
}

/* ShutdownMessage {message 1}: the agent kills everything and exits. */
void agents_shutdown(struct master *m, const struct upid *to, const char *message)
{
    struct buf b = {0};
    pbw_put_str(&b, 1, message);
    wire_send(m->wire, to, "mesos.internal.ShutdownMessage", b.data, b.len);
    buf_free(&b);
}

/* ==== Removal through the registry ====================================== */

/* The agent leaves once its removal is durable (Master::markUnreachable,
 * Master::removeSlave, Master::markGone); meanwhile it is neither pinged
 * nor re-admitted. */
struct removal { struct master *m; char id[96]; double time; int how; char message[256]; };

static void removed_cb(void *arg, int status)
{
    struct removal *k = arg;
    struct agent *a = by_id(k->m, k->id, strlen(k->id));
    if (status < 0) master_registry_failed(k->m, status);
    else {
        if (k->how == AGENT_GONE) master_gone_add(k->m, k->id, k->time);
        if (a) remove_agent(k->m, a, k->how, k->time, k->message);
    }
    free(k);
}

static void start_removal(struct master *m, struct agent *a, int how, const char *message)
{
    struct removal *k = xcalloc(1, sizeof *k);
    k->m = m;
    snprintf(k->id, sizeof k->id, "%s", a->id);
    snprintf(k->message, sizeof k->message, "%s", message ? message : "");
    k->time = now_secs();
    k->how = how;
    a->removing = 1;
    loop_timer_stop(m->loop, &a->ping);
    struct buf ti = {0};
    master_time_info(&ti, k->time);
    int rc = how == AGENT_UNREACHABLE ? master_registry_apply(m, REGISTRY_MARK_UNREACHABLE, a->id, ti.data, ti.len, removed_cb, k)
           : how == AGENT_GONE ? master_registry_apply(m, REGISTRY_MARK_GONE, a->id, ti.data, ti.len, removed_cb, k)
           : master_registry_apply(m, REGISTRY_REMOVE_AGENT, a->id, NULL, 0, removed_cb, k);
    buf_free(&ti);
    if (rc < 0) {                        /* not in the registry: nothing to keep */
        if (!m->failed) {
            if (how == AGENT_GONE) master_gone_add(m, k->id, k->time);
            remove_agent(m, a, how, k->time, k->message);
        }
        free(k);
    }
}

void agents_remove(struct master *m, struct agent *a, int how, const char *message)
{
    if (!a->removing) start_removal(m, a, how, message);
}

static void ping_cb(struct loop *l, struct loop_timer *t)
{
    struct agent *a = container_of(t, struct agent, ping);
    struct master *m = a->m;
    if (a->removing) return;
    if (a->pings_missed >= (unsigned)flag_i(m, "max_agent_ping_timeouts")) {
        LOG_WARN("Agent %s at %s:%d missed %u pings: marking it unreachable", a->id, a->pid.host,
                 a->pid.port, a->pings_missed);
        start_removal(m, a, AGENT_UNREACHABLE, NULL);
        return;
    }
    struct buf b = {0};
    pbw_put_uint(&b, 1, 1);              /* connected = true */
    a->pings_missed++;
    send_to(m, a, "mesos.internal.PingSlaveMessage", &b);
    loop_timer_start(l, &a->ping, ping_interval_ms(m));
}

static struct agent *admit(struct master *m, const struct upid *from, const char *id)
{
    struct agent *a = xcalloc(1, sizeof *a);
    a->m = m;
    a->pid = *from;
    if (id) snprintf(a->id, sizeof a->id, "%s", id);
    else snprintf(a->id, sizeof a->id, "%s-S%llu", m->id, (unsigned long long)m->next_agent++);
    a->registered_time = now_secs();
    loop_timer_init(&a->ping, ping_cb);
    loop_timer_start(m->loop, &a->ping, ping_interval_ms(m));
    a->next = m->agents;
    if (m->agents) m->agents->prev = a;
    m->agents = a;
    a->listed = 1;
    m->nagents++;
    index_add(m, a);
    return a;
}

/* The registration once the registry holds what it needs: admit or update
 * the agent and answer it. `newid` is the id a new agent was given. */
static void complete_register(struct master *m, const struct upid *from, const uint8_t *p, size_t n, int re,
                              const char *newid)
{
    struct pbw_field info, ver;
    if (pbw_find(p, n, re ? 2 : 1, &info) != 1 || info.wt != PBW_LEN) return;
    size_t idn = 0;
    const char *id = re ? id_field(info.p, info.n, 6, &idn) : NULL;
    if (id && master_is_gone(m, id, idn)) {              /* marked gone while the registry wrote */
        LOG_WARN("Refusing re-registration of agent at %s:%d because it is already marked gone", from->host, from->port);
        agents_shutdown(m, from, "Agent has been marked gone");
        return;
    }
    struct agent *a = by_pid(m, from);
    if (!a && id) a = by_id(m, id, idn);
    int known = a != NULL;
    if (!a) {
        char idbuf[96] = "";
        if (id) snprintf(idbuf, sizeof idbuf, "%.*s", (int)(idn < 95 ? idn : 95), id);
        a = admit(m, from, id ? idbuf : newid);
    }
    if (id) {                                            /* back: no longer recovered or unreachable */
        struct ragent *r = master_recovered_find(m, id, idn);
        if (r) master_recovered_remove(m, r);
        master_unreachable_remove(m, id, idn);
    }
    set_pid(m, a, from);
    a->pings_missed = 0;
    set_info(a, info.p, info.n);
    set_capabilities(a, p, n, re ? 9 : 4);
    ops_agent_registered(m, a, p, n, re);          /* total resources, capabilities */
    if (pbw_find(p, n, re ? 6 : 2, &ver) == 1 && ver.wt == PBW_LEN)
        snprintf(a->version, sizeof a->version, "%.*s", (int)(ver.n < 31 ? ver.n : 31), (const char *)ver.p);
    if (re) {
        a->reregistered_time = now_secs();
        m->agent_reregistrations++;
        replace_tasks(m, a, p, n, 3);
        /* executor_infos (4): each names its framework (ExecutorInfo.framework_id 8). */
        free_executors(a);
        struct pbw_reader er;
        struct pbw_field ef;
        pbw_reader_init(&er, p, n);
        while (pbw_next(&er, &ef) == 1) {
            char efw[256];
            if (ef.tag == 4 && ef.wt == PBW_LEN && pbw_get_id(ef.p, ef.n, 8, efw, sizeof efw) == 0)
                agents_add_executor(a, efw, ef.p, ef.n);
        }
    } else if (!known) {
        m->agent_registrations++;
    }
    /* An agent re-sends its registration until answered: a known one just
     * gets the answer again. */
    struct buf b = {0};
    size_t k = pbw_begin(&b, 1);
    pbw_put_str(&b, 1, a->id);
    pbw_end(&b, k);
    put_connection(m, &b, re ? 3 : 2);
    agent_admin_restore(m, a);
    if (!known) events_agent_added(m, a);
    sched_trigger(m);
    LOG("%s agent %s at %s:%d", re ? "Re-registered" : known ? "Registration retry from" : "Registered",
        a->id, from->host, from->port);
    send_to(m, a, re ? "mesos.internal.SlaveReregisteredMessage" : "mesos.internal.SlaveRegisteredMessage", &b);
}

/* A (re-)registration waiting for its registry write. */
struct pending_reg {
    struct pending_reg *next;
    struct master *m;
    struct upid from;
    char id[96];
    int re;
    struct buf msg;
};

static struct pending_reg *pending_find(struct master *m, const struct upid *from, const char *id, size_t idn)
{
    for (struct pending_reg *r = m->pending_regs; r; r = r->next) {
        if (id ? r->re && strlen(r->id) == idn && memcmp(r->id, id, idn) == 0
               : !r->re && r->from.port == from->port && strcmp(r->from.host, from->host) == 0 &&
                 strcmp(r->from.id, from->id) == 0) return r;
    }
    return NULL;
}

static void registered_cb(void *arg, int status)
{
    struct pending_reg *pr = arg;
    struct master *m = pr->m;
    for (struct pending_reg **pp = &m->pending_regs; *pp; pp = &(*pp)->next)
        if (*pp == pr) { *pp = pr->next; break; }
    if (status < 0) master_registry_failed(m, status);
    else complete_register(m, &pr->from, (const uint8_t *)pr->msg.data, pr->msg.len, pr->re, pr->id);
    buf_free(&pr->msg);
    free(pr);
}

/* SlaveInfo bytes with `id` in place of whatever id they carry. */
static void info_with_id(struct buf *out, const uint8_t *p, size_t n, const char *id)
{
    pbw_copy_except(out, p, n, 6);
    pbw_put_id(out, 6, id);
}

/* Which registry write a (re-)registration needs, as upstream decides it
 * (Master::_registerSlave, Master::_reregisterSlave): a new agent is
 * admitted; a registered or recovered one is updated when its SlaveInfo
 * changed; any other (unreachable, or unknown to this registry) is marked
 * reachable. The answer waits for the write. */
static void on_register(struct master *m, const struct upid *from, const uint8_t *p, size_t n, int re)
{
    struct pbw_field info;
    if (pbw_find(p, n, re ? 2 : 1, &info) != 1 || info.wt != PBW_LEN) {
        LOG_WARN("Ignoring a malformed %sregistration from %s:%d", re ? "re" : "", from->host, from->port);
        return;
    }
    size_t idn = 0;
    const char *id = re ? id_field(info.p, info.n, 6, &idn) : NULL;
    if (re && (!id || idn >= 96)) {
        LOG_WARN("Dropping re-registration of agent at %s:%d because it sent an invalid re-registration",
                 from->host, from->port);
        return;
    }
    if (id && master_is_gone(m, id, idn)) {
        LOG_WARN("Refusing re-registration of agent at %s:%d because it is already marked gone", from->host, from->port);
        agents_shutdown(m, from, "Agent has been marked gone");
        return;
    }
    struct pbw_field hn;
    if (pbw_find(info.p, info.n, 1, &hn) == 1 && hn.wt == PBW_LEN &&
        maint_machine_is_down(m, (const char *)hn.p, hn.n, from->host)) {
        LOG_WARN("Refusing %sregistration of agent at %s:%d because the machine it is running on is `DOWN`",
                 re ? "re" : "", from->host, from->port);
        agents_shutdown(m, from, "Machine is `DOWN`");
        return;
    }
    if (pending_find(m, from, id, idn)) {
        LOG("Ignoring %sregister agent message from %s:%d as %sregistration is already in progress",
            re ? "re" : "", from->host, from->port, re ? "re-" : "");
        return;
    }
    struct agent *a = by_pid(m, from);
    if (!a && id) a = by_id(m, id, idn);
    if (a && a->removing) {
        LOG("Ignoring %sregister agent message from agent %s as its removal is in progress", re ? "re" : "", a->id);
        return;
    }
    struct pending_reg *pr = xcalloc(1, sizeof *pr);
    struct buf slave = {0};
    int kind = 0;
    if (!re) {
        if (!a) {
            kind = REGISTRY_ADMIT_AGENT;
            snprintf(pr->id, sizeof pr->id, "%s-S%llu", m->id, (unsigned long long)m->next_agent++);
            info_with_id(&slave, info.p, info.n, pr->id);
        }
    } else {
        snprintf(pr->id, sizeof pr->id, "%.*s", (int)idn, id);
        info_with_id(&slave, info.p, info.n, pr->id);
        struct ragent *r = a ? NULL : master_recovered_find(m, id, idn);
        const struct buf *known = a ? &a->info : r ? &r->info : NULL;
        if (!known) kind = REGISTRY_MARK_REACHABLE;
        else if (known->len != slave.len || memcmp(known->data, slave.data, slave.len) != 0) kind = REGISTRY_UPDATE_AGENT;
    }
    if (!kind) {
        complete_register(m, from, p, n, re, NULL);
        buf_free(&slave);
        free(pr);
        return;
    }
    pr->m = m;
    pr->from = *from;
    pr->re = re;
    buf_append(&pr->msg, p, n);
    if (master_registry_apply(m, kind, pr->id, slave.data, slave.len, registered_cb, pr) < 0) {
        buf_free(&pr->msg);
        free(pr);
    } else {
        pr->next = m->pending_regs;
        m->pending_regs = pr;
    }
    buf_free(&slave);
}

void agents_on_message(void *arg, const struct upid *from, const char *name, const void *body, size_t n)
{
    struct master *m = arg;
    const uint8_t *p = body;
    if (strcmp(name, "mesos.internal.RegisterSlaveMessage") == 0) {
        on_register(m, from, p, n, 0);
    } else if (strcmp(name, "mesos.internal.ReregisterSlaveMessage") == 0) {
        on_register(m, from, p, n, 1);
    } else if (strcmp(name, "mesos.internal.PongSlaveMessage") == 0) {
        struct agent *a = by_pid(m, from);
        if (a) a->pings_missed = 0;
    } else if (strcmp(name, "mesos.internal.StatusUpdateMessage") == 0) {
        struct agent *a = by_pid(m, from);
        if (a) on_status_update(m, a, p, n);
        else LOG_WARN("Status update from unknown agent %s:%d dropped", from->host, from->port);
    } else if (strcmp(name, "mesos.internal.ExitedExecutorMessage") == 0) {
        struct agent *a = by_pid(m, from);
        if (a) on_exited_executor(m, a, p, n);
    } else if (strcmp(name, "mesos.internal.UnregisterSlaveMessage") == 0) {
        size_t idn;
        const char *id = id_field(p, n, 1, &idn);
        struct agent *a = id ? by_id(m, id, idn) : NULL;
        if (a && by_pid(m, from) == a && !a->removing) {
            LOG("Agent %s unregistered", a->id);
            start_removal(m, a, AGENT_UNREGISTERED, NULL);
        }
    } else if (ops_on_message(m, from, name, p, n) || sched_calls_on_message(m, from, name, p, n)) {
        /* operations.c, sched_calls.c */
    } else {
        LOG_V(1, "Dropping unhandled message %s from %s:%d", name, from->host, from->port);
    }
}

void agents_free(struct master *m)
{
    while (m->agents) remove_agent(m, m->agents, AGENT_UNREGISTERED, 0, NULL);
    free(m->pid_index);
    free(m->id_index);
    m->pid_index = m->id_index = NULL;
    struct mtask **lists[] = { &m->completed_tasks, &m->unreachable_tasks };
    for (int i = 0; i < 2; i++) {
        while (*lists[i]) {
            struct mtask *t = *lists[i];
            *lists[i] = t->next;
            mtask_free(t);
        }
        m->hist_tail[i] = NULL;
        ptrset_free(&m->hist_idx[i]);
    }
    free(m->fwcounts);
    m->fwcounts = NULL;
    m->nfwcounts = 0;
    master_unreachable_free(m);
}

/* ==== GET_AGENTS ======================================================== */

/* allocated_resources (8): what the agent's tasks use. Task resources never
 * change, so the encoding is kept until the list of tasks changes (every
 * change bumps tasks_gen), and a GET_STATE of a steady cluster neither
 * decodes every task's resources again nor walks the tasks for them. */
static void put_allocated(struct agent *a, struct buf *pb)
{
    if (a->tasks_gen == 0) a->tasks_gen = 1;             /* used_gen 0 means "not computed" */
    if (a->used_gen != a->tasks_gen) {
        struct resources used = {0};
        agents_used(a, &used);
        buf_reset(&a->used_pb);
        resources_encode(&used, 8, RESOURCES_ENDPOINT, &a->used_pb);
        resources_free(&used);
        a->used_gen = a->tasks_gen;
    }
    buf_append(pb, a->used_pb.data, a->used_pb.len);
}

static void encode_agents(struct master *m, struct agent *only, struct buf *pb)
{
    for (struct agent *a = m->agents; a; a = a->next) {
        if (only && a != only) continue;
        size_t k = pbw_begin(pb, 1);
        pbw_put_bytes(pb, 1, a->info.data, a->info.len);         /* agent_info */
        pbw_put_uint(pb, 2, !a->deactivated);                     /* active */
        pbw_put_uint(pb, 12, (uint64_t)a->deactivated);           /* declared next */
        pbw_put_str(pb, 3, a->version[0] ? a->version : "1.12.0");
        char pid[512];
        upid_format(&a->pid, pid, sizeof pid);
        pbw_put_str(pb, 4, pid);
        pbw_put_time(pb, 5, a->registered_time);
        if (a->reregistered_time > 0) pbw_put_time(pb, 6, a->reregistered_time);
        /* total: with its reservations and volumes; allocated: what its
         * tasks use; offered: what its offers hold. */
        struct resources total = {0}, offered = {0};
        agents_total(a, &total);
        resources_encode(&total, 7, RESOURCES_ENDPOINT, pb);
        resources_free(&total);
        put_allocated(a, pb);
        sched_offered(m, a, &offered);
        resources_encode(&offered, 9, RESOURCES_ENDPOINT, pb);
        resources_free(&offered);
        buf_append(pb, a->capabilities.data, a->capabilities.len);
        agent_admin_encode_drain(m, a, pb);
        pbw_end(pb, k);
    }
    master_encode_recovered(m, pb, 2);                            /* recovered_agents */
}

void agents_encode_get_agents(struct master *m, struct buf *pb) { encode_agents(m, NULL, pb); }
void agents_encode_agent(struct master *m, struct agent *a, struct buf *pb) { encode_agents(m, a, pb); }

/* ==== Framework removal ================================================= */

/* Upstream marks the tasks TASK_KILLED (REASON_FRAMEWORK_REMOVED) without
 * waiting for the agents, and completes its unreachable tasks the same way. */
void agents_framework_removed(struct master *m, const char *fw)
{
    char msg[256];
    snprintf(msg, sizeof msg, "Framework %.200s removed", fw);
    for (struct agent *a = m->agents; a; a = a->next)
        for (struct mtask **pp = &a->tasks; *pp;) {
            struct mtask *t = *pp;
            if (strcmp(t->framework_id, fw) != 0) { pp = &t->next; continue; }
            *pp = t->next;
            a->tasks_gen++;
            master_status(m, t, a->id, 4, 3, msg, 0);   /* TASK_KILLED, REASON_FRAMEWORK_REMOVED */
            count_terminal(m, 4);
            hist_push(m, HIST_COMPLETED, t);
        }
    for (struct mtask *t = m->unreachable_tasks, *next; t; t = next) {
        next = t->next;
        if (strcmp(t->framework_id, fw) != 0) continue;
        hist_remove(m, HIST_UNREACHABLE, t);
        char aid[96] = "";
        pbw_get_id(t->base.data, t->base.len, 5, aid, sizeof aid);
        master_status(m, t, aid, 4, 3, msg, 0);
        hist_push(m, HIST_COMPLETED, t);
    }
}
