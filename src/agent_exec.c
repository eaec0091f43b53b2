/* agent_exec.c -- the agent's executors, tasks and status updates.
 *
 * RunTaskMessage from the master creates the sandbox
 *   WORK_DIR/slaves/<agent>/frameworks/<fw>/executors/<ex>/runs/<container>/
 * and starts the executor in it: for a task with a CommandInfo, the command
 * executor (`mesos_api executor`, this same binary), else the task's own
 * ExecutorInfo command. The executor subscribes to POST /api/v1/executor,
 * gets LAUNCH, and sends UPDATE calls. Each update is acknowledged to the
 * executor at once (ACKNOWLEDGED) and forwarded to the master as a
 * StatusUpdateMessage, re-sent with a doubling interval until the master
 * relays the framework's StatusUpdateAcknowledgementMessage; per task they
 * go out strictly in order, as upstream's status update manager does. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>
#include "agent.h"
#include "api.h"
#include "log.h"
#include "pbdesc.h"
#include "pbjson.h"
#include "pbw.h"
#include "resources.h"
#include "spawnproc.h"
#include "util.h"
#include <zlib.h>

#define RETRY_MIN_MS (10 * 1000)          /* upstream STATUS_UPDATE_RETRY_INTERVAL_MIN */
#define RETRY_MAX_MS (10 * 60 * 1000)
#define REGISTRATION_TIMEOUT_MS (60 * 1000) /* --executor_registration_timeout default */

enum { TASK_STARTING = 0, TASK_RUNNING = 1, TASK_FINISHED = 2, TASK_FAILED = 3, TASK_KILLED = 4,
       TASK_LOST = 5, TASK_STAGING = 6, TASK_ERROR = 7, TASK_KILLING = 8, TASK_DROPPED = 9,
       TASK_GONE = 11 };

static int terminal(int s)
{
    return s == TASK_FINISHED || s == TASK_FAILED || s == TASK_KILLED || s == TASK_LOST ||
           s == TASK_ERROR || s == TASK_DROPPED || s == TASK_GONE;
}

struct supdate {                 /* one StatusUpdate waiting for its ack */
    struct supdate *next;
    struct buf bytes;            /* StatusUpdate */
    unsigned char uuid[16];
    int state;
};

struct hnode {                   /* in a chained hash table (struct htab) */
    struct hnode *next;
    uint64_t h;
};

struct atask {
    struct atask *next;
    struct hnode hn;             /* in exec_index's tasks, by (framework id, task id) */
    struct aexec *ex;
    char id[256];
    struct buf info;             /* TaskInfo bytes */
    int state;
    int launched;                /* sent to the executor */
    int group;                   /* tasks of one RunTaskGroup share a number; 0 = alone */
    struct supdate *updates;     /* head is in flight to the master */
    struct loop_timer retry;
    uint64_t retry_ms;
    struct buf last_status;      /* the latest TaskStatus (as forwarded), for GET_TASKS */
};

struct aexec {
    struct aexec *next;
    struct hnode hn;             /* in exec_index's executors, by (framework id, executor id) */
    struct agent_proc *a;
    char framework_id[256], executor_id[256], container_id[40];
    char sandbox[2048];
    struct buf framework_info;   /* FrameworkInfo bytes */
    struct buf executor_info;    /* ExecutorInfo bytes */
    int command_executor;
    int default_executor;        /* runs task groups (ExecutorInfo type DEFAULT) */
    int groups;                  /* task groups received */
    pid_t pid;
    struct request *stream;      /* the executor's SUBSCRIBE stream, or NULL */
    int stream_json;
    struct atask *tasks;
    struct loop_timer reg_timeout;
    struct loop_timer shutdown_timer;   /* SIGKILL if SHUTDOWN is not obeyed */
    int adopted;                 /* recovered after an agent restart: not our child */
    struct loop_timer heartbeat; /* HEARTBEAT events while subscribed */
    int subscribed;              /* has subscribed once (metrics: registering/running) */
    int terminating;             /* was told to shut down */
};

/* ==== Index by id ======================================================= */

/* Executors and tasks by (framework id, id) in chained hash tables: with
 * hundreds of executors in flight, walking the list for every update and
 * acknowledgement was a visible part of the agent's time. */

struct htab {
    struct hnode **b;
    size_t nb, n;
};

struct exec_index {
    struct htab execs, tasks;
};

static uint64_t hash_ids(const char *fw, const char *id)   /* FNV-1a over "fw\0id" */
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = fw; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *p = id; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

static void ht_add(struct htab *t, struct hnode *x, uint64_t h)
{
    if (t->n >= t->nb) {                                /* grow: load factor <= 1 */
        size_t nb = t->nb ? t->nb * 2 : 64;
        struct hnode **b = xcalloc(nb, sizeof *b);
        for (size_t i = 0; i < t->nb; i++)
            for (struct hnode *y = t->b[i], *next; y; y = next) {
                next = y->next;
                y->next = b[y->h % nb];
                b[y->h % nb] = y;
            }
        free(t->b);
        t->b = b;
        t->nb = nb;
    }
    x->h = h;
    x->next = t->b[h % t->nb];
    t->b[h % t->nb] = x;
    t->n++;
}

static void ht_del(struct htab *t, struct hnode *x)   /* a no-op when x is not in t */
{
    if (!t->nb) return;
    for (struct hnode **pp = &t->b[x->h % t->nb]; *pp; pp = &(*pp)->next)
        if (*pp == x) {
            *pp = x->next;
            t->n--;
            return;
        }
}

static struct exec_index *index_of(struct agent_proc *a)
{
    if (!a->exec_index) a->exec_index = xcalloc(1, sizeof *a->exec_index);
    return a->exec_index;
}

static void index_exec(struct aexec *e)
{
    ht_add(&index_of(e->a)->execs, &e->hn, hash_ids(e->framework_id, e->executor_id));
}

static void index_task(struct atask *t)
{
    ht_add(&index_of(t->ex->a)->tasks, &t->hn, hash_ids(t->ex->framework_id, t->id));
}

static struct aexec *find_exec(struct agent_proc *a, const char *fw, const char *ex)
{
    struct htab *t = &index_of(a)->execs;
    if (!t->nb) return NULL;
    uint64_t h = hash_ids(fw, ex);
    for (struct hnode *x = t->b[h % t->nb]; x; x = x->next) {
        struct aexec *e = container_of(x, struct aexec, hn);
        if (x->h == h && strcmp(e->executor_id, ex) == 0 && strcmp(e->framework_id, fw) == 0) return e;
    }
    return NULL;
}

static struct atask *find_task(struct agent_proc *a, const char *fw, const char *task, struct aexec **exo)
{
    struct htab *tb = &index_of(a)->tasks;
    if (!tb->nb) return NULL;
    uint64_t h = hash_ids(fw, task);
    for (struct hnode *x = tb->b[h % tb->nb]; x; x = x->next) {
        struct atask *t = container_of(x, struct atask, hn);
        if (x->h == h && strcmp(t->id, task) == 0 && strcmp(t->ex->framework_id, fw) == 0) {
            if (exo) *exo = t->ex;
            return t;
        }
    }
    return NULL;
}

/* ==== Checkpoints ======================================================= */

/* One file per executor under WORK_DIR/meta/executors/, rewritten whole on
 * every change (temporary file, fsync, rename, fsync of the directory), so
 * a crash leaves either the old or the new state, never a torn one. The
 * record is protobuf-shaped, written with pbw:
 *   1 framework id, 2 executor id, 3 container id, 4 sandbox, 5 pid,
 *   6 FrameworkInfo, 7 ExecutorInfo, 8 command executor (bool),
 *   9 task { 1 TaskInfo, 2 state, 3 StatusUpdate not yet acknowledged (repeated),
 *            4 group }, 10 default executor (bool), 11 task groups so far,
 *   15 CRC32 (fixed32) of every byte before it: the last field. Recovery
 *   checks it and ignores a damaged file (with a warning); a file without
 *   it (written before it existed) is read as before. */

static void ckpt_path(struct aexec *e, char *dir, size_t dn, char *file, size_t fn)
{
    snprintf(dir, dn, "%s/meta/executors", e->a->work_dir);
    snprintf(file, fn, "%s__%s", e->framework_id, e->executor_id);
    for (char *c = file; *c; c++)
        if (*c == '/') *c = '_';
}

static void checkpoint(struct aexec *e)
{
    struct buf b = {0};
    pbw_put_str(&b, 1, e->framework_id);
    pbw_put_str(&b, 2, e->executor_id);
    pbw_put_str(&b, 3, e->container_id);
    pbw_put_str(&b, 4, e->sandbox);
    pbw_put_uint(&b, 5, (uint64_t)(e->pid > 0 ? e->pid : 0));
    pbw_put_bytes(&b, 6, e->framework_info.data, e->framework_info.len);
    pbw_put_bytes(&b, 7, e->executor_info.data, e->executor_info.len);
    pbw_put_uint(&b, 8, (uint64_t)e->command_executor);
    pbw_put_uint(&b, 10, (uint64_t)e->default_executor);
    pbw_put_uint(&b, 11, (uint64_t)e->groups);
    for (struct atask *t = e->tasks; t; t = t->next) {
        size_t k = pbw_begin(&b, 9);
        pbw_put_bytes(&b, 1, t->info.data, t->info.len);
        pbw_put_uint(&b, 2, (uint64_t)t->state);
        pbw_put_uint(&b, 4, (uint64_t)t->group);
        for (struct supdate *u = t->updates; u; u = u->next) pbw_put_bytes(&b, 3, u->bytes.data, u->bytes.len);
        pbw_end(&b, k);
    }
    pbw_put_fixed32(&b, 15, (uint32_t)crc32(0, (const Bytef *)b.data, (uInt)b.len));
    char dir[2100], file[600];
    ckpt_path(e, dir, sizeof dir, file, sizeof file);
    /* The directory is there but for the first checkpoint: no mkdir walk. */
    int rc = agent_write_atomic(dir, file, b.data, b.len);
    if (rc == -ENOENT) {
        rc = agent_mkdirs(dir);
        if (rc == 0) rc = agent_write_atomic(dir, file, b.data, b.len);
    }
    if (rc < 0) LOG_ERR("Failed to checkpoint executor %s: %s", e->executor_id, strerror(-rc));
    buf_free(&b);
}

static void checkpoint_remove(struct aexec *e)
{
    char dir[2100], file[600], path[2800];
    ckpt_path(e, dir, sizeof dir, file, sizeof file);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (unlink(path) == 0) agent_fsync_dir(dir);   /* else it may come back after a crash */
}

/* ==== Status update manager ============================================= */

static void send_head(struct atask *t)
{
    struct agent_proc *a = t->ex->a;
    if (!t->updates || a->state != AGENT_REGISTERED) return;
    struct buf m = {0};
    pbw_put_bytes(&m, 1, t->updates->bytes.data, t->updates->bytes.len);
    char pid[400];
    upid_format(wire_self(a->wire), pid, sizeof pid);
    pbw_put_str(&m, 2, pid);
    wire_send(a->wire, &a->master, "mesos.internal.StatusUpdateMessage", m.data, m.len);
    buf_free(&m);
}

static void retry_cb(struct loop *l, struct loop_timer *timer)
{
    struct atask *t = container_of(timer, struct atask, retry);
    if (!t->updates) return;
    send_head(t);
    if (t->retry_ms < RETRY_MAX_MS) t->retry_ms *= 2;
    loop_timer_start(l, timer, t->retry_ms);
}

static void task_free(struct atask *t)
{
    if (t->ex->a->exec_index) ht_del(&t->ex->a->exec_index->tasks, &t->hn);
    loop_timer_stop(t->ex->a->loop, &t->retry);
    while (t->updates) {
        struct supdate *u = t->updates;
        t->updates = u->next;
        buf_free(&u->bytes);
        free(u);
    }
    buf_free(&t->info);
    buf_free(&t->last_status);
    free(t);
}

/* Queue a TaskStatus (bytes, from the executor or made here) for the master. */
static void enqueue(struct atask *t, const uint8_t *status, size_t n)
{
    struct aexec *e = t->ex;
    struct agent_proc *a = e->a;
    if (a->shutting_down) return;  /* upstream drops updates of terminating frameworks */
    a->valid_status_updates++;
    struct supdate *u = xcalloc(1, sizeof *u);
    struct pbw_field f;
    if (pbw_find(status, n, 11, &f) == 1 && f.wt == PBW_LEN && f.n == 16) memcpy(u->uuid, f.p, 16);
    else uuid_bytes(u->uuid);
    u->state = pbw_find(status, n, 2, &f) == 1 ? (int)f.v : TASK_LOST;
    /* The status as the agent forwards it: with agent_id, executor_id,
     * timestamp and uuid set (later fields win in protobuf). */
    struct buf st = {0};
    buf_append(&st, status, n);
    pbw_put_id(&st, 5, a->id);
    pbw_put_id(&st, 7, e->executor_id);
    if (pbw_find(status, n, 6, &f) != 1) pbw_put_double(&st, 6, now_secs());
    if (pbw_find(status, n, 11, &f) != 1) pbw_put_bytes(&st, 11, u->uuid, 16);
    pbw_put_id(&u->bytes, 1, e->framework_id);
    pbw_put_id(&u->bytes, 2, e->executor_id);
    pbw_put_id(&u->bytes, 3, a->id);
    pbw_put_bytes(&u->bytes, 4, st.data, st.len);
    pbw_put_double(&u->bytes, 5, now_secs());
    pbw_put_bytes(&u->bytes, 6, u->uuid, 16);
    buf_free(&st);
    int was_terminal = terminal(t->state);
    t->state = u->state;
    buf_reset(&t->last_status);
    pbw_find(u->bytes.data, u->bytes.len, 4, &f);
    buf_append(&t->last_status, f.p, f.n);
    if (terminal(u->state) && !was_terminal && u->state < 16) a->task_counters[u->state]++;
    struct supdate **pp = &t->updates;
    while (*pp) pp = &(*pp)->next;
    *pp = u;
    checkpoint(e);                 /* the update is durable before anyone hears of it */
    if (t->updates == u) {
        t->retry_ms = RETRY_MIN_MS;
        send_head(t);
        loop_timer_start(a->loop, &t->retry, t->retry_ms);
    }
}

/* An update the agent makes itself (SOURCE_AGENT). */
static void agent_update(struct atask *t, int state, int reason, const char *message)
{
    struct buf st = {0};
    pbw_put_id(&st, 1, t->id);
    pbw_put_uint(&st, 2, (uint64_t)state);
    if (message) pbw_put_str(&st, 4, message);
    pbw_put_uint(&st, 9, 1);                        /* SOURCE_AGENT */
    if (reason >= 0) pbw_put_uint(&st, 10, (uint64_t)reason);
    enqueue(t, (const uint8_t *)st.data, st.len);
    buf_free(&st);
}

static void exec_free(struct aexec *e);
static void shutdown_timeout_cb(struct loop *l, struct loop_timer *t);
static void heartbeat_cb(struct loop *l, struct loop_timer *t);
static void view_of(struct aexec *e, struct exec_view *v);
static void record_completed(struct aexec *e, struct atask *t);
static void gone_for_good(struct aexec *e);
static void encode_task(struct agent_proc *a, struct aexec *e, struct atask *t, int state, struct buf *m);
static void shutdown_executor(struct aexec *e);

/* StatusUpdateAcknowledgementMessage {slave_id, framework_id, task_id, uuid}. */
static void on_ack(struct agent_proc *a, const uint8_t *p, size_t n)
{
    char fw[256], task[256];
    struct pbw_field u;
    if (pbw_get_id(p, n, 2, fw, sizeof fw) < 0 || pbw_get_id(p, n, 3, task, sizeof task) < 0 ||
        pbw_find(p, n, 4, &u) != 1 || u.n != 16)
        return;
    struct aexec *e;
    struct atask *t = find_task(a, fw, task, &e);
    if (!t || !t->updates || memcmp(t->updates->uuid, u.p, 16) != 0) {
        LOG_V(1, "Ignoring an acknowledgement for task %s that matches no pending update", task);
        return;
    }
    struct supdate *head = t->updates;
    t->updates = head->next;
    int was_terminal = terminal(head->state);
    buf_free(&head->bytes);
    free(head);
    if (t->updates) {
        t->retry_ms = RETRY_MIN_MS;
        send_head(t);
        loop_timer_start(a->loop, &t->retry, t->retry_ms);
        checkpoint(e);
    } else {
        loop_timer_stop(a->loop, &t->retry);
        if (!was_terminal) checkpoint(e);
        else {
            /* The task is done and its last update is known to the framework:
             * it moves to the executor's completed tasks. One checkpoint
             * (or the file's removal) records both. */
            record_completed(e, t);
            struct atask **pp = &e->tasks;
            while (*pp != t) pp = &(*pp)->next;
            *pp = t->next;
            task_free(t);
            if (!e->tasks && e->pid <= 0) exec_free(e);
            else checkpoint(e);
        }
    }
}

/* ==== Executors ========================================================= */

static void exec_free(struct aexec *e)
{
    struct agent_proc *a = e->a;
    int done = !e->tasks && e->pid <= 0;
    if (done) checkpoint_remove(e);                        /* finished for good */
    struct aexec **pp = &a->executors;
    while (*pp && *pp != e) pp = &(*pp)->next;
    if (*pp) *pp = e->next;
    if (a->exec_index) ht_del(&a->exec_index->execs, &e->hn);
    if (done) {                                            /* a completed executor */
        struct exec_view v;
        view_of(e, &v);
        agent_history_executor(a, &v);
    }
    if (e->stream) {
        e->stream->on_close = NULL;
        server_stream_end(e->stream);
    }
    loop_timer_stop(a->loop, &e->reg_timeout);
    loop_timer_stop(a->loop, &e->shutdown_timer);
    loop_timer_stop(a->loop, &e->heartbeat);
    while (e->tasks) {
        struct atask *t = e->tasks;
        e->tasks = t->next;
        task_free(t);
    }
    buf_free(&e->framework_info);
    buf_free(&e->executor_info);
    free(e);
}

static int send_event(struct aexec *e, struct buf *ev)
{
    if (!e->stream) return -1;
    int rc;
    if (e->stream_json) {
        struct buf js = {0};
        rc = pbjson_to_json(PBD_M_mesos_v1_executor_Event, ev->data, ev->len, &js);
        if (rc == 0) rc = server_stream_record(e->stream, js.data, js.len);
        buf_free(&js);
    } else {
        rc = server_stream_record(e->stream, ev->data, ev->len);
    }
    if (rc < 0) e->stream = NULL;      /* the server dropped it */
    return rc;
}

static void launch_pending(struct aexec *e)
{
    /* Task groups go out whole, as one LAUNCH_GROUP each. */
    for (int g = 1; g <= e->groups && e->stream; g++) {
        struct buf ev = {0};
        pbw_put_uint(&ev, 1, 8);                      /* LAUNCH_GROUP */
        size_t k = pbw_begin(&ev, 8);
        size_t tg = pbw_begin(&ev, 1);
        int any = 0;
        for (struct atask *t = e->tasks; t; t = t->next)
            if (t->group == g && !t->launched && !terminal(t->state)) {
                pbw_put_bytes(&ev, 1, t->info.data, t->info.len);
                any = 1;
            }
        pbw_end(&ev, tg);
        pbw_end(&ev, k);
        if (any && send_event(e, &ev) == 0)
            for (struct atask *t = e->tasks; t; t = t->next)
                if (t->group == g) t->launched = 1;
        buf_free(&ev);
    }
    for (struct atask *t = e->tasks; t && e->stream; t = t->next) {
        if (t->launched || t->group || terminal(t->state)) continue;
        struct buf ev = {0};
        pbw_put_uint(&ev, 1, 2);                      /* LAUNCH */
        size_t k = pbw_begin(&ev, 4);
        pbw_put_bytes(&ev, 1, t->info.data, t->info.len);
        pbw_end(&ev, k);
        if (send_event(e, &ev) == 0) t->launched = 1;
        buf_free(&ev);
    }
}

static void reg_timeout_cb(struct loop *l, struct loop_timer *timer)
{
    (void)l;
    struct aexec *e = container_of(timer, struct aexec, reg_timeout);
    if (e->stream) return;
    LOG_WARN("Executor %s of framework %s did not subscribe in time", e->executor_id, e->framework_id);
    for (struct atask *t = e->tasks; t; t = t->next)
        if (!terminal(t->state)) agent_update(t, TASK_FAILED, 23, "Executor did not register in time");
    if (e->pid > 0) kill(-e->pid, SIGKILL);
}

static void self_exe(char *out, size_t n)
{
    ssize_t k = readlink("/proc/self/exe", out, n - 1);
    if (k < 0) k = 0;
    out[k] = 0;
}

static void on_sigchld(struct loop *l, void *arg);

/* Start the executor process in its sandbox. */
static int spawn(struct aexec *e)
{
    struct agent_proc *a = e->a;
    char exe[1024], cmd[8192] = "";
    self_exe(exe, sizeof exe);
    struct pbw_field c, v;
    if (!e->command_executor && pbw_find(e->executor_info.data, e->executor_info.len, 7, &c) == 1 &&
        pbw_find(c.p, c.n, 3, &v) == 1 && v.wt == PBW_LEN)
        snprintf(cmd, sizeof cmd, "%.*s", (int)v.n, (const char *)v.p);
    char out[2100], err[2100];
    snprintf(out, sizeof out, "%s/stdout", e->sandbox);
    snprintf(err, sizeof err, "%s/stderr", e->sandbox);
    /* Its own session: the executor outlives an agent restart. Started
     * with posix_spawn (no copy of the agent's memory, spawnproc.h). */
    char ep[400];
    snprintf(ep, sizeof ep, "%s:%d", a->ip, a->port);
    struct { const char *name, *value; } vars[] = {
        { "MESOS_AGENT_ENDPOINT", ep }, { "MESOS_FRAMEWORK_ID", e->framework_id },
        { "MESOS_EXECUTOR_ID", e->executor_id }, { "MESOS_SANDBOX", e->sandbox },
        { "MESOS_DIRECTORY", e->sandbox }, { "MESOS_AGENT_ID", a->id }, { "MESOS_SLAVE_ID", a->id },
        { "MESOS_CONTAINER_ID", e->container_id }, { "MESOS_CHECKPOINT", "1" },
        /* --switch_user=false: tasks run as the agent's user. */
        { "MESOS_API_SWITCH_USER", a->switch_user ? "true" : "false" },
    };
    enum { NV = sizeof vars / sizeof *vars };
    char *env[NV + 1];
    for (size_t i = 0; i < NV; i++) {
        size_t l = strlen(vars[i].name) + strlen(vars[i].value) + 2;
        env[i] = xmalloc(l);
        snprintf(env[i], l, "%s=%s", vars[i].name, vars[i].value);
    }
    env[NV] = NULL;
    struct spawn_opts so = { .cwd = e->sandbox, .in = "/dev/null", .out = out, .err = err,
                             .new_session = 1, .env = env };
    pid_t pid;
    if (e->command_executor || e->default_executor) {
        char *argv[] = { exe, "executor", NULL };
        pid = spawn_process(exe, argv, &so);
    } else {
        char *argv[] = { "sh", "-c", cmd, NULL };
        pid = spawn_process("/bin/sh", argv, &so);
    }
    for (size_t i = 0; i < NV; i++) free(env[i]);
    if (pid < 0) return (int)pid;
    /* Reap on SIGCHLD (-EBUSY: registered already, by us or another agent
     * of `mesos_api local`; the 100 ms reaper covers those). */
    loop_sigchld(a->loop, on_sigchld, a);
    e->pid = pid;
    LOG("Started executor %s of framework %s (pid %d) in %s", e->executor_id, e->framework_id, (int)pid, e->sandbox);
    return 0;
}

/* A new executor record with its sandbox path (not yet started). */
static struct aexec *new_exec(struct agent_proc *a, const char *fw, const char *ex,
                              const uint8_t *fi, size_t fin)
{
    struct aexec *e = xcalloc(1, sizeof *e);
    e->a = a;
    snprintf(e->framework_id, sizeof e->framework_id, "%s", fw);
    snprintf(e->executor_id, sizeof e->executor_id, "%s", ex);
    uuid_text(e->container_id);
    buf_append(&e->framework_info, fi, fin);
    snprintf(e->sandbox, sizeof e->sandbox, "%s/slaves/%s/frameworks/%s/executors/%s/runs/%s",
             a->work_dir, a->id, fw, ex, e->container_id);
    loop_timer_init(&e->reg_timeout, reg_timeout_cb);
    loop_timer_init(&e->shutdown_timer, shutdown_timeout_cb);
    loop_timer_init(&e->heartbeat, heartbeat_cb);
    e->next = a->executors;
    a->executors = e;
    index_exec(e);
    return e;
}

static struct atask *new_task(struct aexec *e, const char *id, const uint8_t *info, size_t n, int group)
{
    struct atask *t = xcalloc(1, sizeof *t);
    t->ex = e;
    snprintf(t->id, sizeof t->id, "%s", id);
    buf_append(&t->info, info, n);
    t->state = TASK_STAGING;
    t->group = group;
    loop_timer_init(&t->retry, retry_cb);
    t->next = e->tasks;
    e->tasks = t;
    index_task(t);
    return t;
}

/* mkdir -p from the deep end: the sandbox's parents mostly exist, so this
 * costs a few mkdir calls instead of one per component of the path. */
static int mkdirs_up(const char *path, int depth)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return 0;
    if (errno != ENOENT || depth > 64) return -errno;
    char parent[4096];
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path || (size_t)(slash - path) >= sizeof parent) return -ENOENT;
    memcpy(parent, path, (size_t)(slash - path));
    parent[slash - path] = 0;
    int rc = mkdirs_up(parent, depth + 1);
    if (rc < 0) return rc;
    return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -errno;
}

/* Start a fresh executor; on failure its tasks fail. Returns 0 or -1. */
static int start_exec(struct aexec *e)
{
    int rc = mkdirs_up(e->sandbox, 0);
    if (rc == 0) rc = spawn(e);
    if (rc < 0) {
        e->a->container_launch_errors++;
        char msg[256];
        snprintf(msg, sizeof msg, "Failed to launch the executor: %s", strerror(-rc));
        for (struct atask *t = e->tasks; t; t = t->next) agent_update(t, TASK_FAILED, 0, msg);
        return -1;
    }
    loop_timer_start(e->a->loop, &e->reg_timeout, REGISTRATION_TIMEOUT_MS);
    checkpoint(e);
    return 0;
}

/* Make the command executor's ExecutorInfo for a task with a CommandInfo:
 * executor id = task id, as upstream's agent does. */
static void command_executor_info(struct buf *out, const char *task_id, const char *fw)
{
    pbw_put_id(out, 1, task_id);
    pbw_put_id(out, 8, fw);
    size_t c = pbw_begin(out, 7);
    pbw_put_str(out, 3, "mesos_api executor");
    pbw_end(out, c);
    char name[400];
    snprintf(name, sizeof name, "Command Executor (Task: %s) (Command: mesos_api executor)", task_id);
    pbw_put_str(out, 9, name);
}

/* RunTaskMessage {framework = 2, pid = 3, task = 4}. */
static void on_run_task(struct agent_proc *a, const uint8_t *p, size_t n)
{
    struct pbw_field fi, ti;
    if (pbw_find(p, n, 2, &fi) != 1 || pbw_find(p, n, 4, &ti) != 1 || ti.wt != PBW_LEN) {
        LOG_WARN("Ignoring a malformed RunTaskMessage");
        return;
    }
    char fw[256] = "", task[256] = "", ex[256] = "";
    if (pbw_get_id(fi.p, fi.n, 3, fw, sizeof fw) < 0) pbw_get_id(p, n, 1, fw, sizeof fw);
    pbw_get_id(ti.p, ti.n, 2, task, sizeof task);
    if (!fw[0] || !task[0]) { LOG_WARN("RunTaskMessage without framework or task id"); return; }
    struct pbw_field exi, cmd;
    int has_exec = pbw_find(ti.p, ti.n, 5, &exi) == 1 && exi.wt == PBW_LEN;
    int has_cmd = pbw_find(ti.p, ti.n, 7, &cmd) == 1;
    if (has_exec) pbw_get_id(exi.p, exi.n, 1, ex, sizeof ex);
    else snprintf(ex, sizeof ex, "%s", task);
    if (find_task(a, fw, task, NULL)) {
        LOG_WARN("Task %s of framework %s is already known: ignoring the duplicate launch", task, fw);
        return;
    }
    struct aexec *e = find_exec(a, fw, ex);
    int fresh = e == NULL;
    if (!e) {
        e = new_exec(a, fw, ex, fi.p, fi.n);
        e->command_executor = !has_exec;
        if (has_exec) buf_append(&e->executor_info, exi.p, exi.n);
        else command_executor_info(&e->executor_info, task, fw);
    }
    struct atask *t = new_task(e, task, ti.p, ti.n, 0);
    agent_ops_link_volumes(a, e->sandbox, ti.p, ti.n);   /* persistent volumes into the sandbox */
    LOG("Launching task %s of framework %s with executor %s", task, fw, ex);
    if (!has_exec && !has_cmd) {
        agent_update(t, TASK_ERROR, -1, "Task has neither an executor nor a command");
        return;
    }
    if (fresh) start_exec(e);
    else {
        checkpoint(e);
        launch_pending(e);
    }
}

/* RunTaskGroupMessage {framework = 1, executor = 2, task_group = 3 {tasks = 1}}.
 * The group runs under the default executor, which here is this binary's
 * executor mode with LAUNCH_GROUP. */
static void on_run_task_group(struct agent_proc *a, const uint8_t *p, size_t n)
{
    struct pbw_field fi, exi, tg, f;
    char fw[256] = "", ex[256] = "";
    if (pbw_find(p, n, 1, &fi) != 1 || pbw_find(p, n, 2, &exi) != 1 || pbw_find(p, n, 3, &tg) != 1 ||
        pbw_get_id(fi.p, fi.n, 3, fw, sizeof fw) < 0 || pbw_get_id(exi.p, exi.n, 1, ex, sizeof ex) < 0) {
        LOG_WARN("Ignoring a malformed RunTaskGroupMessage");
        return;
    }
    struct aexec *e = find_exec(a, fw, ex);
    int fresh = e == NULL;
    if (!e) {
        e = new_exec(a, fw, ex, fi.p, fi.n);
        e->default_executor = 1;
        buf_append(&e->executor_info, exi.p, exi.n);
    }
    int group = ++e->groups, count = 0;
    struct pbw_reader r;
    pbw_reader_init(&r, tg.p, tg.n);
    while (pbw_next(&r, &f) == 1) {
        char tid[256];
        if (f.tag != 1 || f.wt != PBW_LEN || pbw_get_id(f.p, f.n, 2, tid, sizeof tid) < 0) continue;
        if (find_task(a, fw, tid, NULL)) { LOG_WARN("Task %s is already known: not launched again", tid); continue; }
        new_task(e, tid, f.p, f.n, group);
        agent_ops_link_volumes(a, e->sandbox, f.p, f.n);
        count++;
    }
    LOG("Launching a group of %d task(s) of framework %s with executor %s", count, fw, ex);
    if (fresh) start_exec(e);
    else { checkpoint(e); launch_pending(e); }
}

/* KillTaskMessage {framework_id = 1, task_id = 2, kill_policy = 3}. */
static void on_kill_task(struct agent_proc *a, const uint8_t *p, size_t n)
{
    char fw[256], task[256];
    if (pbw_get_id(p, n, 1, fw, sizeof fw) < 0 || pbw_get_id(p, n, 2, task, sizeof task) < 0) return;
    struct aexec *e;
    struct atask *t = find_task(a, fw, task, &e);
    if (!t) {
        LOG_WARN("Cannot kill unknown task %s of framework %s", task, fw);
        return;
    }
    if (terminal(t->state)) return;
    if (!t->launched || !e->stream) {
        /* Not yet with its executor: it dies here. */
        agent_update(t, TASK_KILLED, 30, "Killed before delivery to the executor");
        return;
    }
    struct buf ev = {0};
    pbw_put_uint(&ev, 1, 3);                          /* KILL */
    size_t k = pbw_begin(&ev, 5);
    pbw_put_id(&ev, 1, task);
    struct pbw_field kp;
    if (pbw_find(p, n, 3, &kp) == 1) pbw_put_bytes(&ev, 2, kp.p, kp.n);
    pbw_end(&ev, k);
    send_event(e, &ev);
    buf_free(&ev);
}

static void on_shutdown_framework(struct agent_proc *a, const uint8_t *p, size_t n)
{
    char fw[256];
    if (pbw_get_id(p, n, 1, fw, sizeof fw) < 0) return;
    for (struct aexec *e = a->executors; e; e = e->next) {
        if (strcmp(e->framework_id, fw) != 0) continue;
        LOG("Shutting down executor %s of framework %s", e->executor_id, fw);
        struct buf ev = {0};
        pbw_put_uint(&ev, 1, 7);                      /* SHUTDOWN */
        if (send_event(e, &ev) < 0 && e->pid > 0) kill(-e->pid, SIGTERM);
        buf_free(&ev);
        if (e->pid > 0) e->terminating = 1;
    }
}

/* DrainSlaveMessage {config 1 {max_grace_period 1 {nanoseconds 1}, mark_gone 2}}:
 * every task is killed, its grace period capped at max_grace_period
 * (upstream Slave::drain). The master marks the agent DRAINED once the
 * last terminal update arrived. */
static void on_drain(struct agent_proc *a, const uint8_t *p, size_t n)
{
    struct pbw_field cfg, g;
    int has_grace = pbw_find(p, n, 1, &cfg) == 1 && pbw_find(cfg.p, cfg.n, 1, &g) == 1;
    LOG("Draining: killing every task%s", has_grace ? " within the maximum grace period" : "");
    for (struct aexec *e = a->executors; e; e = e->next)
        for (struct atask *t = e->tasks; t; t = t->next) {
            if (terminal(t->state)) continue;
            struct buf msg = {0};                     /* a KillTaskMessage of our own */
            pbw_put_id(&msg, 1, e->framework_id);
            pbw_put_id(&msg, 2, t->id);
            if (has_grace) {
                size_t k = pbw_begin(&msg, 3);        /* KillPolicy {grace_period 1} */
                pbw_put_bytes(&msg, 1, g.p, g.n);
                pbw_end(&msg, k);
            }
            on_kill_task(a, (const uint8_t *)msg.data, msg.len);
            buf_free(&msg);
        }
}

/* FrameworkToExecutorMessage {slave_id 1, framework_id 2, executor_id 3,
 * data 4}: a MESSAGE event {message 6 {data 1}} to a subscribed executor;
 * dropped otherwise, as upstream drops it for an executor not running. */
static void on_framework_message(struct agent_proc *a, const uint8_t *p, size_t n)
{
    char fw[256], ex[256];
    struct pbw_field d;
    if (pbw_get_id(p, n, 2, fw, sizeof fw) < 0 || pbw_get_id(p, n, 3, ex, sizeof ex) < 0) return;
    struct aexec *e = find_exec(a, fw, ex);
    if (!e || !e->stream) {
        LOG_WARN("Dropping message for executor %s of framework %s because the executor is %s", ex, fw,
                 e ? "not running" : "unknown");
        a->invalid_framework_messages++;
        return;
    }
    struct buf ev = {0};
    pbw_put_uint(&ev, 1, 5);                          /* MESSAGE */
    size_t k = pbw_begin(&ev, 6);
    if (pbw_find(p, n, 4, &d) == 1 && d.wt == PBW_LEN) pbw_put_bytes(&ev, 1, d.p, d.n);
    else pbw_put_bytes(&ev, 1, "", 0);
    pbw_end(&ev, k);
    if (send_event(e, &ev) == 0) a->valid_framework_messages++;
    else a->invalid_framework_messages++;
    buf_free(&ev);
}

/* ExecutorInfo.shutdown_grace_period (14) {nanoseconds 1}, else
 * --executor_shutdown_grace_period (default 5 s), as upstream. */
static uint64_t grace_ms(const struct aexec *e)
{
    struct pbw_field g, ns;
    if (pbw_find(e->executor_info.data, e->executor_info.len, 14, &g) == 1 && pbw_find(g.p, g.n, 1, &ns) == 1 &&
        (int64_t)ns.v >= 0)
        return ns.v / 1000000;
    return e->a->shutdown_grace_ms;
}

static void shutdown_timeout_cb(struct loop *l, struct loop_timer *t)
{
    (void)l;
    struct aexec *e = container_of(t, struct aexec, shutdown_timer);
    if (e->pid > 0) {
        LOG("Killing executor %s of framework %s: it did not exit after SHUTDOWN", e->executor_id, e->framework_id);
        kill(-e->pid, SIGKILL);
    }
}

/* SHUTDOWN to the executor (SIGTERM without a stream), SIGKILL after its
 * grace period. */
static void shutdown_executor(struct aexec *e)
{
    if (loop_timer_active(&e->shutdown_timer)) return;   /* terminating already */
    LOG("Shutting down executor %s of framework %s", e->executor_id, e->framework_id);
    e->terminating = 1;
    struct buf ev = {0};
    pbw_put_uint(&ev, 1, 7);                          /* SHUTDOWN */
    if (send_event(e, &ev) < 0) kill(-e->pid, SIGTERM);
    buf_free(&ev);
    loop_timer_start(e->a->loop, &e->shutdown_timer, grace_ms(e));
}

/* ShutdownExecutorMessage {executor_id 1, framework_id 2}. */
static void on_shutdown_executor(struct agent_proc *a, const uint8_t *p, size_t n)
{
    char fw[256], ex[256];
    if (pbw_get_id(p, n, 2, fw, sizeof fw) < 0 || pbw_get_id(p, n, 1, ex, sizeof ex) < 0) return;
    struct aexec *e = find_exec(a, fw, ex);
    if (!e || e->pid <= 0) {
        LOG_WARN("Ignoring shutdown of unknown executor '%s' of framework %s", ex, fw);
        return;
    }
    shutdown_executor(e);
}

int agent_exec_message(struct agent_proc *a, const char *name, const uint8_t *p, size_t n)
{
    if (strcmp(name, "mesos.internal.FrameworkToExecutorMessage") == 0) { on_framework_message(a, p, n); return 1; }
    if (strcmp(name, "mesos.internal.ShutdownExecutorMessage") == 0) { on_shutdown_executor(a, p, n); return 1; }
    if (strcmp(name, "mesos.internal.RunTaskMessage") == 0) on_run_task(a, p, n);
    else if (strcmp(name, "mesos.internal.RunTaskGroupMessage") == 0) on_run_task_group(a, p, n);
    else if (strcmp(name, "mesos.internal.KillTaskMessage") == 0) on_kill_task(a, p, n);
    else if (strcmp(name, "mesos.internal.StatusUpdateAcknowledgementMessage") == 0) on_ack(a, p, n);
    else if (strcmp(name, "mesos.internal.ShutdownFrameworkMessage") == 0) on_shutdown_framework(a, p, n);
    else if (strcmp(name, "mesos.internal.DrainSlaveMessage") == 0) on_drain(a, p, n);
    else return 0;
    return 1;
}

/* Re-send every pending update (after re-registering with a master). */
void agent_exec_resend(struct agent_proc *a)
{
    for (struct aexec *e = a->executors; e; e = e->next)
        for (struct atask *t = e->tasks; t; t = t->next)
            if (t->updates) {
                send_head(t);
                t->retry_ms = RETRY_MIN_MS;
                loop_timer_start(a->loop, &t->retry, t->retry_ms);
            }
}

static void executor_gone(struct aexec *e, const char *how, int status);

static void exited(struct aexec *e, int status)
{
    char how[64];
    snprintf(how, sizeof how, "%s %d", WIFEXITED(status) ? "status" : "signal",
             WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    executor_gone(e, how, status);
}

void agent_siblings(struct agent_proc **agents, size_t n)
{
    for (size_t i = 0; i < n; i++) agents[i]->sibling = n > 1 ? agents[(i + 1) % n] : NULL;
}

/* Reap exited executors; their unfinished tasks fail. Executors recovered
 * after a restart are not our children: they are checked with kill(pid, 0).
 * What the exited executors left in their sessions is killed in one pass
 * over /proc for all of them (containers_kill_sessions). */
void agent_exec_reap(struct agent_proc *a)
{
    enum { BATCH = 256 };
    for (;;) {
        struct { pid_t pid; int status; } got[BATCH];
        int sids[BATCH];
        size_t n = 0, ns = 0;
        while (n < BATCH) {
            int status;
            pid_t pid = waitpid(-1, &status, WNOHANG);
            if (pid <= 0) break;
            got[n].pid = pid;
            got[n++].status = status;
        }
        if (!n) break;
        for (size_t i = 0; i < n; i++)
            for (struct aexec *e = a->executors; e; e = e->next)
                if (e->pid == got[i].pid) { sids[ns++] = got[i].pid; break; }
        /* As upstream destroys the container of an executor that exited:
         * what it left running in its session goes with it. */
        if (ns) containers_kill_sessions(sids, ns, SIGKILL);
        for (size_t i = 0; i < n; i++) {
            struct aexec *e = a->executors;
            for (; e; e = e->next) {
                if (e->pid != got[i].pid) continue;
                e->pid = -e->pid;                  /* its session is dealt with */
                exited(e, got[i].status);
                break;
            }
            if (e || containers_reaped(a, got[i].pid, got[i].status)) continue;   /* or the operator API's */
            /* Not ours: an agent beside this one in `mesos_api local`. */
            for (struct agent_proc *b = a->sibling; b && b != a; b = b->sibling) {
                for (e = b->executors; e && e->pid != got[i].pid; e = e->next) {}
                if (e) { exited(e, got[i].status); break; }
                if (containers_reaped(b, got[i].pid, got[i].status)) break;
            }
        }
        if (n < BATCH) break;
    }
    for (struct aexec *e = a->executors, *next; e; e = next) {
        next = e->next;
        if (e->adopted && e->pid > 0 && kill(e->pid, 0) < 0 && errno == ESRCH) executor_gone(e, "gone", 0);
    }
}

/* SIGCHLD: reap at once rather than at the next tick of the agent's reaper. */
static void on_sigchld(struct loop *l, void *arg)
{
    (void)l;
    struct agent_proc *a = arg;
    agent_exec_reap(a);
    containers_tick(a);
    agent_shutdown_tick(a);
}

static void executor_gone(struct aexec *e, const char *how, int status)
{
    struct agent_proc *a = e->a;
    /* As upstream destroys the container of an executor that exited: what
     * it left running in its session goes with it (a negative pid: the
     * reaper did that already for a batch of sessions). */
    if (e->pid > 0) containers_kill_session(e->pid, SIGKILL, e->adopted ? e->sandbox : NULL);
    e->pid = 0;
    a->executors_terminated++;
    LOG("Executor %s of framework %s exited (%s)", e->executor_id, e->framework_id, how);
    containers_executor_exited(a, e->container_id, status, !e->adopted);
    /* ExitedExecutorMessage {slave_id 1, framework_id 2, executor_id 3, status 4}. */
    if (a->state == AGENT_REGISTERED) {
        struct buf m = {0};
        pbw_put_id(&m, 1, a->id);
        pbw_put_id(&m, 2, e->framework_id);
        pbw_put_id(&m, 3, e->executor_id);
        pbw_put_int32(&m, 4, status);
        wire_send(a->wire, &a->master, "mesos.internal.ExitedExecutorMessage", m.data, m.len);
        buf_free(&m);
    }
    if (a->shutting_down) {
        /* The agent is going away: no updates for the tasks (upstream's
         * frameworks are terminating), and the executor is done. */
        gone_for_good(e);
        return;
    }
    int left = 0;
    for (struct atask *t = e->tasks; t; t = t->next)
        if (!terminal(t->state)) {
            agent_update(t, TASK_FAILED, 1, "Executor terminated");   /* REASON_EXECUTOR_TERMINATED */
            left++;
        }
    if (e->stream) {
        e->stream->on_close = NULL;
        server_stream_end(e->stream);
        e->stream = NULL;
    }
    loop_timer_stop(a->loop, &e->heartbeat);
    int pending = 0;
    for (struct atask *t = e->tasks; t; t = t->next) pending += t->updates != NULL;
    if (!pending && !left && !e->tasks) {
        exec_free(e);                  /* removes its checkpoint */
        return;
    }
    checkpoint(e);
    if (!pending && !left) exec_free(e);
}

/* ==== POST /api/v1/executor ============================================= */

/* Upstream's ResponseHeartbeater: a HEARTBEAT event every interval,
 * the first one interval after SUBSCRIBE. */
static void heartbeat_cb(struct loop *l, struct loop_timer *t)
{
    struct aexec *e = container_of(t, struct aexec, heartbeat);
    if (!e->stream) return;
    struct buf ev = {0};
    pbw_put_uint(&ev, 1, 9);                          /* HEARTBEAT */
    int rc = send_event(e, &ev);
    buf_free(&ev);
    if (rc == 0) loop_timer_start(l, t, e->a->executor_heartbeat_ms);
}

/* An executor's TaskStatus as the agent forwards it: with the container
 * status upstream's agent adds (the executor's container, or the nested
 * one the executor named; the executor's pid; the agent's IP when the
 * status carries no network). */
static void with_container_status(struct aexec *e, const uint8_t *st, size_t n, struct buf *out)
{
    struct pbw_field cs, f;
    int has_cs = pbw_find(st, n, 13, &cs) == 1 && cs.wt == PBW_LEN;
    int has_cid = has_cs && pbw_find(cs.p, cs.n, 4, &f) == 1;
    int has_net = has_cs && pbw_find(cs.p, cs.n, 1, &f) == 1;
    buf_append(out, st, n);
    size_t k = pbw_begin(out, 13);
    if (!has_cid) {
        pbw_put_id(out, 4, e->container_id);
        if (e->pid > 0) pbw_put_uint(out, 3, (uint64_t)e->pid);
    }
    if (!has_net) {
        size_t ni = pbw_begin(out, 1);
        size_t ip = pbw_begin(out, 5);
        pbw_put_str(out, 2, e->a->ip);
        pbw_end(out, ip);
        pbw_end(out, ni);
    }
    pbw_end(out, k);
}

static void stream_closed(struct request *r, void *arg)
{
    (void)r;
    struct aexec *e = arg;
    e->stream = NULL;
    loop_timer_stop(e->a->loop, &e->heartbeat);
    LOG("Executor %s of framework %s disconnected", e->executor_id, e->framework_id);
}

void agent_executor_api(struct request *r, void *arg)
{
    struct agent_proc *a = arg;
    if (r->head->method_len != 4 || memcmp(r->head->method, "POST", 4) != 0) {
        server_respond(r, 405, "Allow: POST\r\n", "text/plain; charset=utf-8", "405 Method Not Allowed.", 23);
        return;
    }
    size_t ctl;
    const char *ct = request_header(r, "Content-Type", &ctl);
    int json = ct && ctl == 16 && memcmp(ct, "application/json", 16) == 0;
    int proto = ct && ctl == 22 && memcmp(ct, "application/x-protobuf", 22) == 0;
    if (!ct) { server_error(r, 400, "Expecting 'Content-Type' to be present"); return; }
    if (!json && !proto) {
        server_error(r, 415, "Expecting 'Content-Type' of application/json or application/x-protobuf");
        return;
    }
    struct buf call = {0}, err = { .max = 4096 };
    const uint8_t *p;
    size_t n;
    if (json) {
        int rc = pbjson_from_json(PBD_M_mesos_v1_executor_Call, r->body, r->body_len, &call, &err);
        if (rc) {
            char msg[600];
            snprintf(msg, sizeof msg, "Failed to %s: %.*s", rc == PBJSON_ESYNTAX ? "parse body into JSON"
                     : "convert JSON into Call protobuf", (int)err.len, err.data);
            server_error(r, 400, msg);
            goto out;
        }
        p = (const uint8_t *)call.data;
        n = call.len;
    } else {
        if (pbjson_check(PBD_M_mesos_v1_executor_Call, r->body, r->body_len, &err) < 0) {
            server_error(r, 400, "Failed to parse body into Call protobuf");
            goto out;
        }
        p = (const uint8_t *)r->body;
        n = r->body_len;
    }
    char fw[256], ex[256];
    struct pbw_field type, sub;
    if (pbw_get_id(p, n, 1, ex, sizeof ex) < 0 || pbw_get_id(p, n, 2, fw, sizeof fw) < 0 ||
        pbw_find(p, n, 3, &type) != 1) {
        server_error(r, 400, "Failed to validate executor::Call: Expecting 'type' to be present");
        goto out;
    }
    struct aexec *e = find_exec(a, fw, ex);
    if (!e) {
        server_error(r, 400, "Executor not found");
        goto out;
    }
    switch ((int)type.v) {
    case 1: {                                          /* SUBSCRIBE */
        int accept_json = request_accepts(r, "Accept", "application/json");
        if (!accept_json && !request_accepts(r, "Accept", "application/x-protobuf")) {
            server_error(r, 406, "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'");
            goto out;
        }
        if (e->stream) {
            e->stream->on_close = NULL;
            server_stream_end(e->stream);
        }
        /* Updates the executor still holds unacknowledged: take the ones we lack. */
        if (pbw_find(p, n, 4, &sub) == 1) {
            struct pbw_reader rd;
            struct pbw_field u, st;
            pbw_reader_init(&rd, sub.p, sub.n);
            while (pbw_next(&rd, &u) == 1) {
                if (u.tag != 2 || u.wt != PBW_LEN || pbw_find(u.p, u.n, 1, &st) != 1) continue;
                char tid[256];
                if (pbw_get_id(st.p, st.n, 1, tid, sizeof tid) < 0) continue;
                struct atask *t = find_task(a, fw, tid, NULL);
                struct pbw_field su;
                int have = 0;
                if (t && pbw_find(st.p, st.n, 11, &su) == 1 && su.n == 16)
                    for (struct supdate *x = t->updates; x; x = x->next) have |= !memcmp(x->uuid, su.p, 16);
                if (t && !have && !terminal(t->state)) enqueue(t, st.p, st.n);
            }
        }
        e->stream = r;
        e->stream_json = accept_json;
        r->on_close = stream_closed;
        r->on_close_arg = e;
        loop_timer_stop(a->loop, &e->reg_timeout);
        e->subscribed = 1;
        loop_timer_init(&e->heartbeat, heartbeat_cb);
        loop_timer_start(a->loop, &e->heartbeat, a->executor_heartbeat_ms);
        server_stream_begin(r, NULL, accept_json ? "application/json" : "application/x-protobuf");
        struct buf ev = {0};
        pbw_put_uint(&ev, 1, 1);                       /* SUBSCRIBED */
        size_t k = pbw_begin(&ev, 2);
        pbw_put_bytes(&ev, 1, e->executor_info.data, e->executor_info.len);
        pbw_put_bytes(&ev, 2, e->framework_info.data, e->framework_info.len);
        size_t ai = pbw_begin(&ev, 3);
        buf_append(&ev, a->info.data, a->info.len);
        pbw_put_id(&ev, 6, a->id);
        pbw_end(&ev, ai);
        pbw_put_id(&ev, 4, e->container_id);
        pbw_end(&ev, k);
        send_event(e, &ev);
        buf_free(&ev);
        LOG("Executor %s of framework %s subscribed", ex, fw);
        launch_pending(e);
        break;
    }
    case 2: {                                          /* UPDATE */
        struct pbw_field up, st, u;
        char tid[256];
        if (pbw_find(p, n, 5, &up) != 1 || pbw_find(up.p, up.n, 1, &st) != 1 ||
            pbw_get_id(st.p, st.n, 1, tid, sizeof tid) < 0) {
            server_error(r, 400, "Failed to validate executor::Call: Expecting 'update' to be present");
            goto out;
        }
        if (pbw_find(st.p, st.n, 11, &u) != 1 || u.n != 16) {
            server_error(r, 400, "Failed to validate executor::Call: 'uuid' must be set in status update");
            goto out;
        }
        struct pbw_field sv;
        if (pbw_find(st.p, st.n, 2, &sv) == 1 && sv.v == TASK_STAGING) {
            server_error(r, 400, "Failed to validate executor::Call: 'TASK_STAGING' is not allowed");
            goto out;
        }
        struct atask *t = find_task(a, fw, tid, NULL);
        unsigned char uu[16];
        memcpy(uu, u.p, 16);
        if (t) {
            struct buf full = {0};
            with_container_status(e, st.p, st.n, &full);
            enqueue(t, (const uint8_t *)full.data, full.len);
            buf_free(&full);
        }
        server_respond(r, 202, NULL, NULL, "", 0);
        /* The update is with the status update manager: tell the executor. */
        struct buf ev = {0};
        pbw_put_uint(&ev, 1, 4);                       /* ACKNOWLEDGED */
        size_t k = pbw_begin(&ev, 3);
        pbw_put_id(&ev, 1, tid);
        pbw_put_bytes(&ev, 2, uu, 16);
        pbw_end(&ev, k);
        send_event(e, &ev);
        buf_free(&ev);
        break;
    }
    case 3: {                                          /* MESSAGE {data 2} */
        struct pbw_field msg, data;
        if (pbw_find(p, n, 6, &msg) != 1 || msg.wt != PBW_LEN) {
            server_error(r, 400, "Failed to validate executor::Call: Expecting 'message' to be present");
            goto out;
        }
        server_respond(r, 202, NULL, NULL, "", 0);
        /* ExecutorToFrameworkMessage {slave_id 1, framework_id 2, executor_id 3,
         * data 4}, through the master (our frameworks speak HTTP). */
        if (a->state != AGENT_REGISTERED) {
            LOG_WARN("Dropping framework message from executor '%s' to framework %s because the agent is not "
                     "registered", ex, fw);
            a->invalid_framework_messages++;
            break;
        }
        struct buf m = {0};
        pbw_put_id(&m, 1, a->id);
        pbw_put_id(&m, 2, fw);
        pbw_put_id(&m, 3, ex);
        if (pbw_find(msg.p, msg.n, 2, &data) == 1 && data.wt == PBW_LEN) pbw_put_bytes(&m, 4, data.p, data.n);
        else pbw_put_bytes(&m, 4, "", 0);
        wire_send(a->wire, &a->master, "mesos.internal.ExecutorToFrameworkMessage", m.data, m.len);
        buf_free(&m);
        a->valid_framework_messages++;
        break;
    }
    case 4:                                            /* HEARTBEAT */
        server_respond(r, 202, NULL, NULL, "", 0);
        break;
    default:
        server_error(r, 400, "Failed to validate executor::Call: Expecting 'type' to be present");
    }
out:
    buf_free(&call);
    buf_free(&err);
}

/* ==== Recovery and re-registration ====================================== */

void agent_exec_recover(struct agent_proc *a)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/meta/executors", a->work_dir);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[1500];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (strstr(de->d_name, ".tmp")) {        /* a write cut short: the old file stands */
            unlink(path);
            continue;
        }
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        struct buf b = { .max = 64u << 20 };
        char tmp[65536];
        size_t k;
        while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) buf_append(&b, tmp, k);
        fclose(f);
        struct aexec *e = xcalloc(1, sizeof *e);
        e->a = a;
        loop_timer_init(&e->reg_timeout, reg_timeout_cb);
        loop_timer_init(&e->shutdown_timer, shutdown_timeout_cb);
        loop_timer_init(&e->heartbeat, heartbeat_cb);
        struct pbw_reader r;
        struct pbw_field fl;
        int ok = pbw_valid(b.data, b.len) == 0;
        /* The CRC field, when the last field is one, covers all before it. */
        if (ok) {
            struct pbw_field last = {0};
            pbw_reader_init(&r, b.data, b.len);
            while (pbw_next(&r, &fl) == 1) last = fl;
            if (last.tag == 15 && last.wt == PBW_I32)
                ok = (uint32_t)last.v == (uint32_t)crc32(0, (const Bytef *)b.data, (uInt)(last.start - (const uint8_t *)b.data));
        }
        pbw_reader_init(&r, b.data, b.len);
        while (ok && pbw_next(&r, &fl) == 1) {
            switch (fl.tag) {
            case 1: snprintf(e->framework_id, sizeof e->framework_id, "%.*s", (int)fl.n, (const char *)fl.p); break;
            case 2: snprintf(e->executor_id, sizeof e->executor_id, "%.*s", (int)fl.n, (const char *)fl.p); break;
            case 3: snprintf(e->container_id, sizeof e->container_id, "%.*s", (int)fl.n, (const char *)fl.p); break;
            case 4: snprintf(e->sandbox, sizeof e->sandbox, "%.*s", (int)fl.n, (const char *)fl.p); break;
            case 5: e->pid = (pid_t)fl.v; break;
            case 6: buf_append(&e->framework_info, fl.p, fl.n); break;
            case 7: buf_append(&e->executor_info, fl.p, fl.n); break;
            case 8: e->command_executor = fl.v != 0; break;
            case 10: e->default_executor = fl.v != 0; break;
            case 11: e->groups = (int)fl.v; break;
            case 9: {
                struct atask *t = xcalloc(1, sizeof *t);
                struct pbw_reader tr;
                struct pbw_field tf;
                t->ex = e;
                loop_timer_init(&t->retry, retry_cb);
                pbw_reader_init(&tr, fl.p, fl.n);
                struct supdate **tail = &t->updates;
                while (pbw_next(&tr, &tf) == 1) {
                    if (tf.tag == 1) buf_append(&t->info, tf.p, tf.n);
                    else if (tf.tag == 2) t->state = (int)tf.v;
                    else if (tf.tag == 4) t->group = (int)tf.v;
                    else if (tf.tag == 3) {
                        struct supdate *u = xcalloc(1, sizeof *u);
                        struct pbw_field uu, st, sv;
                        buf_append(&u->bytes, tf.p, tf.n);
                        if (pbw_find(tf.p, tf.n, 6, &uu) == 1 && uu.n == 16) memcpy(u->uuid, uu.p, 16);
                        u->state = pbw_find(tf.p, tf.n, 4, &st) == 1 && pbw_find(st.p, st.n, 2, &sv) == 1 ? (int)sv.v : 0;
                        *tail = u;
                        tail = &u->next;
                    }
                }
                pbw_get_id((const uint8_t *)t->info.data, t->info.len, 2, t->id, sizeof t->id);
                t->launched = 1;
                t->next = e->tasks;
                e->tasks = t;
                break;
            }
            }
        }
        buf_free(&b);
        if (!ok || !e->framework_id[0] || !e->executor_id[0]) {
            LOG_WARN("Ignoring a corrupt executor checkpoint %s", path);
            a->recovery_errors++;
            while (e->tasks) { struct atask *t = e->tasks; e->tasks = t->next; task_free(t); }
            buf_free(&e->framework_info);
            buf_free(&e->executor_info);
            free(e);
            continue;
        }
        e->adopted = 1;
        e->subscribed = 1;                   /* it had subscribed to the agent before */
        e->next = a->executors;
        a->executors = e;
        index_exec(e);
        for (struct atask *t = e->tasks; t; t = t->next) index_task(t);
        int alive = e->pid > 0 && kill(e->pid, 0) == 0;
        LOG("Recovered executor %s of framework %s (pid %d, %s)", e->executor_id, e->framework_id,
            (int)e->pid, alive ? "running" : "gone");
        if (!alive) executor_gone(e, "gone while the agent was down", 0);
        else loop_timer_start(a->loop, &e->reg_timeout, REGISTRATION_TIMEOUT_MS);
    }
    closedir(d);
}

/* ReregisterSlaveMessage: tasks = 3, executor_infos = 4, frameworks = 8. */
void agent_exec_encode_reregister(struct agent_proc *a, struct buf *m)
{
    for (struct aexec *e = a->executors; e; e = e->next) {
        for (struct atask *t = e->tasks; t; t = t->next) {
            const uint8_t *ti = (const uint8_t *)t->info.data;
            size_t tn = t->info.len;
            struct pbw_field f;
            size_t k = pbw_begin(m, 3);
            if (pbw_find(ti, tn, 1, &f) == 1) pbw_put_bytes(m, 1, f.p, f.n);
            else pbw_put_str(m, 1, t->id);
            pbw_put_id(m, 2, t->id);
            pbw_put_id(m, 3, e->framework_id);
            pbw_put_id(m, 4, e->executor_id);
            pbw_put_id(m, 5, a->id);
            pbw_put_uint(m, 6, (uint64_t)t->state);
            struct pbw_reader r;
            pbw_reader_init(&r, ti, tn);
            while (pbw_next(&r, &f) == 1)
                if (f.tag == 4 && f.wt == PBW_LEN) pbw_put_bytes(m, 7, f.p, f.n);   /* resources */
            /* statuses: those not yet acknowledged, oldest first; and the
             * state and uuid of the one in flight, as upstream reports them. */
            for (struct supdate *u = t->updates; u; u = u->next) {
                struct pbw_field st;
                if (pbw_find(u->bytes.data, u->bytes.len, 4, &st) == 1) pbw_put_bytes(m, 8, st.p, st.n);
            }
            if (t->updates) {
                pbw_put_uint(m, 9, (uint64_t)t->updates->state);
                pbw_put_bytes(m, 10, t->updates->uuid, 16);
            }
            pbw_end(m, k);
        }
        if (!e->command_executor) pbw_put_bytes(m, 4, e->executor_info.data, e->executor_info.len);
        pbw_put_bytes(m, 8, e->framework_info.data, e->framework_info.len);
    }
}

void agent_exec_free_all(struct agent_proc *a)
{
    loop_sigchld_stop(a->loop, a);
    /* Out of the ring of agents of this process; if it reaped for them
     * on SIGCHLD, the next one does now. */
    if (a->sibling) {
        struct agent_proc *p = a->sibling;
        while (p->sibling != a) p = p->sibling;
        p->sibling = a->sibling == p ? NULL : a->sibling;
        if (loop_sigchld(a->loop, on_sigchld, p) < 0) {}   /* -EBUSY: someone already does */
        a->sibling = NULL;
    }
    while (a->executors) exec_free(a->executors);
    if (a->exec_index) {
        free(a->exec_index->execs.b);
        free(a->exec_index->tasks.b);
        free(a->exec_index);
        a->exec_index = NULL;
    }
}

/* ==== Views for the operator API (agent_api.c) ========================== */

static void view_of(struct aexec *e, struct exec_view *v)
{
    *v = (struct exec_view){
        .framework_id = e->framework_id, .executor_id = e->executor_id,
        .container_id = e->container_id, .sandbox = e->sandbox, .pid = e->pid > 0 ? e->pid : 0,
        .state = e->pid <= 0 ? EXEC_TERMINATED : e->terminating ? EXEC_TERMINATING
                 : e->subscribed ? EXEC_RUNNING : EXEC_REGISTERING,
        .executor_info = (const uint8_t *)e->executor_info.data, .executor_info_len = e->executor_info.len,
        .framework_info = (const uint8_t *)e->framework_info.data, .framework_info_len = e->framework_info.len,
    };
}

void agent_exec_foreach(struct agent_proc *a, exec_visit_fn fn, void *arg)
{
    for (struct aexec *e = a->executors, *next; e; e = next) {
        next = e->next;
        struct exec_view v;
        view_of(e, &v);
        if (fn(arg, &v)) return;
    }
}

/* A completed task's v1 Task to the history (agent_history.c). */
static void record_completed(struct aexec *e, struct atask *t)
{
    struct buf task = {0};
    struct exec_view v;
    encode_task(e->a, e, t, t->state, &task);
    view_of(e, &v);
    agent_history_task(e->a, &v, (const uint8_t *)task.data, task.len);
    buf_free(&task);
}

/* ==== Shutdown of the whole agent (ShutdownMessage, agent_shutdown.c) ==== */

/* An executor that exited while the agent shuts down: its tasks and
 * records go at once. */
static void gone_for_good(struct aexec *e)
{
    while (e->tasks) {
        struct atask *t = e->tasks;
        e->tasks = t->next;
        task_free(t);
    }
    exec_free(e);
}

void agent_exec_shutdown_all(struct agent_proc *a)
{
    for (struct aexec *e = a->executors, *next; e; e = next) {
        next = e->next;
        for (struct atask *t = e->tasks; t; t = t->next) {      /* no more re-sends */
            loop_timer_stop(a->loop, &t->retry);
            while (t->updates) {
                struct supdate *u = t->updates;
                t->updates = u->next;
                buf_free(&u->bytes);
                free(u);
            }
        }
        if (e->pid <= 0) { gone_for_good(e); continue; }
        shutdown_executor(e);
        checkpoint(e);
    }
}

/* A v1 Task from what the agent holds (protobuf::createTask's fields). */
static void encode_task(struct agent_proc *a, struct aexec *e, struct atask *t, int state, struct buf *m)
{
    const uint8_t *ti = (const uint8_t *)t->info.data;
    size_t tn = t->info.len;
    struct pbw_field f, ex, cmd, u;
    if (pbw_find(ti, tn, 1, &f) == 1) pbw_put_bytes(m, 1, f.p, f.n);
    else pbw_put_str(m, 1, t->id);
    pbw_put_id(m, 2, t->id);
    pbw_put_id(m, 3, e->framework_id);
    if (pbw_find(ti, tn, 5, &ex) == 1 && ex.wt == PBW_LEN && pbw_find(ex.p, ex.n, 1, &f) == 1)
        pbw_put_bytes(m, 4, f.p, f.n);
    pbw_put_id(m, 5, a->id);
    pbw_put_uint(m, 6, (uint64_t)state);
    struct pbw_reader r;
    pbw_reader_init(&r, ti, tn);
    while (pbw_next(&r, &f) == 1)
        if (f.tag == 4 && f.wt == PBW_LEN) pbw_put_bytes(m, 7, f.p, f.n);
    if (t->last_status.len) pbw_put_bytes(m, 8, t->last_status.data, t->last_status.len);
    if (t->updates) {
        pbw_put_uint(m, 9, (uint64_t)t->updates->state);
        pbw_put_bytes(m, 10, t->updates->uuid, 16);
    }
    static const struct { uint32_t from, to; } copy[] = { { 10, 11 }, { 11, 12 }, { 9, 13 }, { 8, 15 }, { 12, 16 } };
    for (size_t i = 0; i < sizeof copy / sizeof *copy; i++)
        if (pbw_find(ti, tn, copy[i].from, &f) == 1 && f.wt == PBW_LEN) pbw_put_bytes(m, copy[i].to, f.p, f.n);
    if (pbw_find(ti, tn, 7, &cmd) == 1 && cmd.wt == PBW_LEN && pbw_find(cmd.p, cmd.n, 5, &u) == 1 && u.wt == PBW_LEN)
        pbw_put_bytes(m, 14, u.p, u.n);
}

/* Response.GetTasks: queued_tasks 2 (not yet with the executor),
 * launched_tasks 3, terminated_tasks 4 (terminal, updates not all
 * acknowledged). Acknowledged terminal tasks are in the history
 * (completed_tasks 5, agent_history.c). */
void agent_exec_encode_get_tasks(struct agent_proc *a, struct buf *pb)
{
    for (struct aexec *e = a->executors; e; e = e->next)
        for (struct atask *t = e->tasks; t; t = t->next) {
            uint32_t tag = terminal(t->state) ? 4 : t->launched ? 3 : 2;
            size_t k = pbw_begin(pb, tag);
            encode_task(a, e, t, tag == 2 ? TASK_STAGING : t->state, pb);
            pbw_end(pb, k);
        }
}

void agent_exec_task_stats(struct agent_proc *a, uint64_t counts[16], struct resources *used)
{
    struct buf err = { .max = 1024 };
    for (struct aexec *e = a->executors; e; e = e->next) {
        int active = 0;
        for (struct atask *t = e->tasks; t; t = t->next) {
            if (t->state >= 0 && t->state < 16 && !terminal(t->state)) counts[t->state]++;
            if (terminal(t->state)) continue;
            active = 1;
            buf_reset(&err);
            if (used) resources_decode_field(t->info.data, t->info.len, 4, used, &err);
        }
        if (active && used && !e->command_executor) {
            buf_reset(&err);
            resources_decode_field(e->executor_info.data, e->executor_info.len, 5, used, &err);
        }
    }
    buf_free(&err);
}
