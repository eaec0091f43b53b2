/* executor.c -- `mesos_api executor`: the command executor.
 *
 * As in Mesos, the command executor is its own process. The agent starts it
 * in the executor's sandbox with MESOS_AGENT_ENDPOINT, MESOS_FRAMEWORK_ID,
 * MESOS_EXECUTOR_ID and MESOS_SANDBOX in its environment. It subscribes to
 * the agent's v1 Executor API (POST /api/v1/executor), receives LAUNCH,
 * runs the task's CommandInfo in its own process group, and reports
 * TASK_STARTING, TASK_RUNNING and a terminal state through UPDATE calls. KILL
 * sends SIGTERM, then SIGKILL after the kill policy's grace period. Updates
 * not yet acknowledged are re-sent with SUBSCRIBE when the agent comes back
 * (agent restart), until MESOS_RECOVERY_TIMEOUT. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>
#include "buf.h"
#include "executor.h"
#include "flags.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "pbdesc.h"
#include "pbjson.h"
#include "pbw.h"
#include "recordio.h"
#include "spawnproc.h"
#include "util.h"

/* Event.Type / Call.Type / TaskState numbers of the v1 protos. */
enum { EV_SUBSCRIBED = 1, EV_LAUNCH = 2, EV_KILL = 3, EV_ACKNOWLEDGED = 4, EV_MESSAGE = 5,
       EV_ERROR = 6, EV_SHUTDOWN = 7, EV_LAUNCH_GROUP = 8, EV_HEARTBEAT = 9 };
enum { CALL_SUBSCRIBE = 1, CALL_UPDATE = 2 };
enum { TASK_STARTING = 0, TASK_RUNNING = 1, TASK_FINISHED = 2, TASK_FAILED = 3, TASK_KILLED = 4 };

struct update {
    struct update *next;
    unsigned char uuid[16];
    struct buf status;            /* TaskStatus */
    int terminal;
};

#define MAX_TASKS 64

/* One task: the command executor runs one; a task group runs several. */
struct etask {
    char id[256];
    struct buf info;              /* TaskInfo bytes */
    int group;                    /* 0: alone; else the LAUNCH_GROUP it came in */
    pid_t pid;                    /* 0 before start and after exit */
    int killing, done;            /* done: terminal update made */
    uint64_t grace_ms;
    struct loop_timer grace;
    struct exec *e;
    /* A task of a group runs as a nested container of ours, launched
     * through the agent's operator API, as upstream's default executor
     * runs them; its exit comes from a WAIT_CONTAINER call kept open. */
    int nested, nested_running;
    char cid[40];
    struct loop_fd wait_fd;       /* fd < 0 when no wait is open */
    struct hresp wresp;
    struct buf wbody;
    struct loop_timer rewait;
};

struct exec {
    struct loop *loop;
    char host[256];
    int port;
    char framework_id[256], executor_id[256], sandbox[1024];
    struct loop_fd stream;        /* the SUBSCRIBE connection; fd < 0 when down */
    struct hresp resp;
    struct buf body;              /* decoded chunked bytes */
    struct recordio rio;
    struct loop_timer reconnect, reap, give_up;
    int connected;
    struct etask *tasks[MAX_TASKS];
    size_t ntasks;
    int groups;                   /* LAUNCH_GROUPs seen */
    int single;                   /* a plain LAUNCH was taken: no more tasks */
    uint64_t recovery_ms;         /* how long to wait for a lost agent */
    int killing_state;            /* the framework has TASK_KILLING_STATE */
    char framework_user[256];     /* FrameworkInfo.user: tasks run as it by default */
    struct update *pending;       /* sent, not yet acknowledged */
    int sigchld;                  /* SIGCHLD reaps (loop_sigchld); else the 50 ms timer */
    int call_fd;                  /* kept-alive connection for UPDATE calls, or -1 */
};

static void call_head(struct exec *e, struct buf *b, int type)
{
    pbw_put_id(b, 1, e->executor_id);
    pbw_put_id(b, 2, e->framework_id);
    pbw_put_uint(b, 3, (uint64_t)type);
}

/* Write all of p to a blocking socket; a signal does not cut it short. 0 or -1. */
static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* A blocking connection to the agent, reads and writes bounded by 10 s:
 * the agent is local and answers at once. -1 when it cannot connect. */
static int connect_blocking(struct exec *e, char *err)
{
    int fd = net_connect(e->host, e->port, err);
    if (fd < 0) return -1;
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    struct timeval tv = { 10, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

/* Write a request whole on a descriptor of the loop (non-blocking): for
 * the write it blocks, at most 5 s (the connect may still be completing;
 * loopback completes it at once or soon). 0 or -1. */
static int write_request(int fd, const struct buf *req)
{
    struct timeval tv = { 5, 0 };
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int rc = write_all(fd, req->data, req->len);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    return rc;
}

/* One short request on its own connection; returns the HTTP status or -1. */
static int post_to(struct exec *e, const char *path, const struct buf *call)
{
    char err[NET_ERR_LEN];
    int fd = connect_blocking(e, err);
    if (fd < 0) return -1;
    struct buf req = {0};
    buf_printf(&req, "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/x-protobuf\r\n"
                     "Accept: application/x-protobuf\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
               path, e->host, e->port, call->len);
    buf_append(&req, call->data, call->len);
    int status = -1;
    if (write_all(fd, req.data, req.len) == 0) {
        struct hresp h = {0};
        struct buf body = { .max = 1 << 20 };
        char tmp[4096];
        ssize_t n;
        while (!h.status && ((n = read(fd, tmp, sizeof tmp)) > 0 || (n < 0 && errno == EINTR))) {
            if (n < 0) continue;                     /* SIGCHLD: sockets with timeouts are not restarted */
            if (hresp_feed(&h, tmp, (size_t)n, &body) < 0) break;
        }
        status = h.status ? h.status : -1;
        hresp_free(&h);
        buf_free(&body);
    }
    buf_free(&req);
    close(fd);
    return status;
}

/* An executor call on the kept-alive connection (one connection for all
 * of a task's updates instead of one each). A connection found closed
 * before any answer came is opened again once. Returns the HTTP status or -1. */
static int post_call(struct exec *e, const struct buf *call)
{
    struct buf req = {0};
    buf_printf(&req, "POST /api/v1/executor HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/x-protobuf\r\n"
                     "Accept: application/x-protobuf\r\nContent-Length: %zu\r\n\r\n",
               e->host, e->port, call->len);
    buf_append(&req, call->data, call->len);
    int status = -1;
    for (int attempt = 0; attempt < 2 && status < 0; attempt++) {
        int reused = e->call_fd >= 0;
        if (!reused) {
            char err[NET_ERR_LEN];
            int fd = connect_blocking(e, err);
            if (fd < 0) break;
            e->call_fd = fd;
        }
        struct hresp h = {0};
        struct buf body = { .max = 1 << 20 };
        size_t got = 0;
        if (write_all(e->call_fd, req.data, req.len) == 0) {
            char tmp[4096];
            ssize_t n;
            while (!h.done && ((n = read(e->call_fd, tmp, sizeof tmp)) > 0 || (n < 0 && errno == EINTR))) {
                if (n < 0) continue;                     /* SIGCHLD: sockets with timeouts are not restarted */
                got += (size_t)n;
                if (hresp_feed(&h, tmp, (size_t)n, &body) < 0) break;
            }
        }
        if (h.status && h.done) status = h.status;
        else {
            close(e->call_fd);                           /* closed, broken or half an answer */
            e->call_fd = -1;
            if (h.status) status = h.status;
            if (!reused || got) attempt = 2;             /* retry only a stale connection */
        }
        hresp_free(&h);
        buf_free(&body);
    }
    buf_free(&req);
    return status;
}

/* ==== Status updates ==================================================== */

static void send_update(struct exec *e, struct update *u)
{
    struct buf call = {0};
    call_head(e, &call, CALL_UPDATE);
    size_t k = pbw_begin(&call, 5);
    pbw_put_bytes(&call, 1, u->status.data, u->status.len);
    pbw_end(&call, k);
    int st = post_call(e, &call);
    if (st != 202) LOG_WARN("UPDATE answered %d; it is re-sent on reconnection", st);
    buf_free(&call);
}

static void update(struct exec *e, struct etask *t, int state, const char *message, int reason)
{
    struct update *u = xcalloc(1, sizeof *u);
    if (getrandom(u->uuid, sizeof u->uuid, 0) != sizeof u->uuid)
        for (int i = 0; i < 16; i++) u->uuid[i] = (unsigned char)rand();
    pbw_put_id(&u->status, 1, t->id);
    pbw_put_uint(&u->status, 2, (uint64_t)state);
    if (message) pbw_put_str(&u->status, 4, message);
    pbw_put_uint(&u->status, 9, 2);                 /* SOURCE_EXECUTOR */
    if (reason >= 0) pbw_put_uint(&u->status, 10, (uint64_t)reason);
    pbw_put_id(&u->status, 7, e->executor_id);
    pbw_put_double(&u->status, 6, now_secs());
    pbw_put_bytes(&u->status, 11, u->uuid, 16);
    if (t->nested) {                                /* container_status { container_id } */
        size_t cs = pbw_begin(&u->status, 13);
        size_t id = pbw_begin(&u->status, 4);
        pbw_put_str(&u->status, 1, t->cid);
        pbw_put_id(&u->status, 2, getenv("MESOS_CONTAINER_ID") ? getenv("MESOS_CONTAINER_ID") : "");
        pbw_end(&u->status, id);
        pbw_end(&u->status, cs);
    }
    u->terminal = state == TASK_FINISHED || state == TASK_FAILED || state == TASK_KILLED;
    if (u->terminal) t->done = 1;
    struct update **pp = &e->pending;
    while (*pp) pp = &(*pp)->next;
    *pp = u;
    LOG("Task %s: sending update %d%s%s", t->id, state, message ? ": " : "", message ? message : "");
    if (e->connected) send_update(e, u);
}

/* Every task has its terminal update and the agent has all of them. */
static int all_done(struct exec *e)
{
    if (e->ntasks == 0) return 0;
    for (size_t i = 0; i < e->ntasks; i++)
        if (!e->tasks[i]->done) return 0;
    return e->pending == NULL;
}

static void on_acknowledged(struct exec *e, const uint8_t *p, size_t n)
{
    struct pbw_field f;
    if (pbw_find(p, n, 2, &f) != 1 || f.wt != PBW_LEN || f.n != 16) return;
    for (struct update **pp = &e->pending; *pp; pp = &(*pp)->next)
        if (memcmp((*pp)->uuid, f.p, 16) == 0) {
            struct update *u = *pp;
            *pp = u->next;
            buf_free(&u->status);
            free(u);
            break;
        }
    if (all_done(e)) {
        LOG("Every task is done and acknowledged: executor exits");
        loop_stop(e->loop);
    }
}

/* ==== Tasks ============================================================= */

static struct etask *find(struct exec *e, const char *id, size_t n)
{
    for (size_t i = 0; i < e->ntasks; i++)
        if (strlen(e->tasks[i]->id) == n && memcmp(e->tasks[i]->id, id, n) == 0) return e->tasks[i];
    return NULL;
}

static int is_running(const struct etask *t) { return t->pid > 0 || t->nested_running; }

/* KILL_CONTAINER {container_id {value, parent}, signal}. */
static void kill_nested(struct exec *e, struct etask *t, int sig)
{
    struct buf call = {0};
    pbw_put_uint(&call, 1, 24);                     /* KILL_CONTAINER */
    size_t k = pbw_begin(&call, 15);
    size_t id = pbw_begin(&call, 1);
    pbw_put_str(&call, 1, t->cid);
    pbw_put_id(&call, 2, getenv("MESOS_CONTAINER_ID"));
    pbw_end(&call, id);
    pbw_put_int32(&call, 2, sig);
    pbw_end(&call, k);
    int st = post_to(e, "/api/v1", &call);
    if (st != 200) LOG_WARN("KILL_CONTAINER for task %s answered %d", t->id, st);
    buf_free(&call);
}

static void signal_task(struct exec *e, struct etask *t, int sig)
{
    if (t->nested) kill_nested(e, t, sig);
    else kill(-t->pid, sig);
}

static void kill_one(struct exec *e, struct etask *t)
{
    if (!is_running(t) || t->killing || t->done) return;
    t->killing = 1;
    /* TASK_KILLING only for frameworks that declared they understand it. */
    if (e->killing_state) update(e, t, 8, NULL, -1);   /* TASK_KILLING */
    signal_task(e, t, SIGTERM);
    loop_timer_start(e->loop, &t->grace, t->grace_ms);
}

static void exited(struct exec *e, struct etask *t, int status)
{
    char msg[128];
    int state, reason = -1;
    loop_timer_stop(e->loop, &t->grace);
    t->pid = 0;
    t->nested_running = 0;
    if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        snprintf(msg, sizeof msg, "Command exited with status %d", code);
        state = t->killing ? TASK_KILLED : code == 0 ? TASK_FINISHED : TASK_FAILED;
        if (state == TASK_FAILED) reason = 0;          /* REASON_COMMAND_EXECUTOR_FAILED */
    } else {
        snprintf(msg, sizeof msg, "Command terminated with signal %s", strsignal(WTERMSIG(status)));
        state = t->killing ? TASK_KILLED : TASK_FAILED;
        if (state == TASK_FAILED) reason = 0;
    }
    update(e, t, state, state == TASK_KILLED ? "Command terminated while being killed" : msg, reason);
    /* A task group lives and dies together, as upstream's default executor
     * has it: a member that did not finish takes the others down. */
    if (t->group && state != TASK_FINISHED)
        for (size_t i = 0; i < e->ntasks; i++)
            if (e->tasks[i]->group == t->group) kill_one(e, e->tasks[i]);
}

/* Reap our tasks that exited; 1 while any still runs. */
static int reap_tasks(struct exec *e)
{
    int running = 0;
    for (size_t i = 0; i < e->ntasks; i++) {
        struct etask *t = e->tasks[i];
        if (t->pid <= 0 || t->nested) continue;
        int status;
        pid_t r = waitpid(t->pid, &status, WNOHANG);
        if (r == 0) { running = 1; continue; }
        if (r < 0) {
            t->pid = 0;
            update(e, t, TASK_FAILED, "Failed to wait for the command", 0);
        } else {
            exited(e, t, status);
        }
        if (e->tasks[i]->pid > 0) running = 1;
    }
    for (size_t i = 0; i < e->ntasks; i++) running |= e->tasks[i]->pid > 0 && !e->tasks[i]->nested;
    return running;
}

static void reap_cb(struct loop *l, struct loop_timer *timer)
{
    struct exec *e = container_of(timer, struct exec, reap);
    if (reap_tasks(e)) loop_timer_start(l, timer, e->sigchld ? 1000 : 50);
}

static void on_sigchld(struct loop *l, void *arg)
{
    struct exec *e = arg;
    if (!reap_tasks(e)) loop_timer_stop(l, &e->reap);
}

/* The environment of the task: ours, plus CommandInfo.environment. */
static void apply_env(const uint8_t *cmd, size_t n)
{
    struct pbw_field env, var, f;
    if (pbw_find(cmd, n, 2, &env) != 1 || env.wt != PBW_LEN) return;
    struct pbw_reader r;
    pbw_reader_init(&r, env.p, env.n);
    while (pbw_next(&r, &var) == 1) {
        if (var.tag != 1 || var.wt != PBW_LEN) continue;
        char name[256] = "", value[4096] = "";
        if (pbw_find(var.p, var.n, 1, &f) == 1 && f.wt == PBW_LEN)
            snprintf(name, sizeof name, "%.*s", (int)f.n, (const char *)f.p);
        if (pbw_find(var.p, var.n, 2, &f) == 1 && f.wt == PBW_LEN)
            snprintf(value, sizeof value, "%.*s", (int)f.n, (const char *)f.p);
        if (name[0]) setenv(name, value, 1);
    }
}

static void grace_cb(struct loop *l, struct loop_timer *timer)
{
    (void)l;
    struct etask *t = container_of(timer, struct etask, grace);
    if (is_running(t)) {
        LOG("Grace period over: SIGKILL to task %s", t->id);
        signal_task(t->e, t, SIGKILL);
    }
}

/* In the task's child: become `user` (CommandInfo.user, else the
 * framework's), as the agent's --switch_user does by default. As root this
 * switches; as anyone else only the current user is allowed. */
static void switch_user(const char *user)
{
    if (!user || !user[0]) return;
    uid_t uid;
    gid_t gid;
    if (user_lookup(user, &uid, &gid) < 0) {
        fprintf(stderr, "Failed to switch to user '%s': no such user\n", user);
        _exit(127);
    }
    if (uid == getuid()) return;
    if (getuid() != 0 || setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
        fprintf(stderr, "Failed to switch to user '%s': %s\n", user, strerror(errno ? errno : EPERM));
        _exit(127);
    }
}

/* ==== Tasks of a group: nested containers ============================== */

static void wait_nested(struct exec *e, struct etask *t);

static void wait_close(struct etask *t)
{
    if (t->wait_fd.fd >= 0) {
        loop_del(t->e->loop, &t->wait_fd);
        close(t->wait_fd.fd);
        t->wait_fd.fd = -1;
    }
    hresp_free(&t->wresp);
    memset(&t->wresp, 0, sizeof t->wresp);
    buf_free(&t->wbody);
}

static void rewait_cb(struct loop *l, struct loop_timer *timer)
{
    (void)l;
    struct etask *t = container_of(timer, struct etask, rewait);
    if (t->nested_running) wait_nested(t->e, t);
}

/* The answer to WAIT_CONTAINER: Response {wait_container 16 {exit_status 1}}. */
static void wait_io(struct loop *l, struct loop_fd *f, int ev)
{
    (void)ev;
    struct etask *t = container_of(f, struct etask, wait_fd);
    char tmp[4096];
    for (;;) {
        long n = net_read(f->fd, tmp, sizeof tmp);
        if (n == -EAGAIN) return;
        if (n > 0 && hresp_feed(&t->wresp, tmp, (size_t)n, &t->wbody) == 0 && !t->wresp.done) continue;
        int status = t->wresp.done ? t->wresp.status : 0;
        struct pbw_field wc, es;
        int code = -1;
        if (status == 200 && pbw_find(t->wbody.data, t->wbody.len, 16, &wc) == 1 &&
            pbw_find(wc.p, wc.n, 1, &es) == 1)
            code = (int)(int32_t)es.v;
        wait_close(t);
        if (code >= 0) exited(t->e, t, code);
        else if (status == 200 && t->killing) exited(t->e, t, SIGKILL);   /* ended while the agent was away */
        else if (status == 200) {
            t->nested_running = 0;
            update(t->e, t, TASK_FAILED, "The task's container terminated with an unknown status", 0);
        } else if (status == 404) {
            t->nested_running = 0;
            update(t->e, t, TASK_FAILED, "The task's container is gone", 0);
        } else {
            loop_timer_start(l, &t->rewait, 1000);      /* the agent went away: ask again */
        }
        return;
    }
}

static void wait_nested(struct exec *e, struct etask *t)
{
    char err[NET_ERR_LEN];
    int fd = net_connect(e->host, e->port, err);
    if (fd < 0) { loop_timer_start(e->loop, &t->rewait, 1000); return; }
    struct buf call = {0}, req = {0};
    pbw_put_uint(&call, 1, 23);                     /* WAIT_CONTAINER */
    size_t k = pbw_begin(&call, 14);
    size_t id = pbw_begin(&call, 1);
    pbw_put_str(&call, 1, t->cid);
    pbw_put_id(&call, 2, getenv("MESOS_CONTAINER_ID"));
    pbw_end(&call, id);
    pbw_end(&call, k);
    buf_printf(&req, "POST /api/v1 HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/x-protobuf\r\n"
                     "Accept: application/x-protobuf\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
               e->host, e->port, call.len);
    buf_append(&req, call.data, call.len);
    int whole = write_request(fd, &req) == 0;
    buf_free(&call);
    buf_free(&req);
    if (!whole) { close(fd); loop_timer_start(e->loop, &t->rewait, 1000); return; }
    t->wbody.max = 1 << 20;
    loop_add(e->loop, &t->wait_fd, fd, LOOP_READ, wait_io);
}

/* LAUNCH_CONTAINER {container_id {uuid, parent: our container}, command,
 * resources}: the task runs in <our sandbox>/containers/<uuid>. */
static void start_nested(struct exec *e, struct etask *t, const uint8_t *cmd, size_t cn)
{
    struct pbw_field us, f;
    uuid_text(t->cid);
    t->nested = 1;
    struct buf call = {0};
    pbw_put_uint(&call, 1, 22);                     /* LAUNCH_CONTAINER */
    size_t k = pbw_begin(&call, 13);
    size_t id = pbw_begin(&call, 1);
    pbw_put_str(&call, 1, t->cid);
    pbw_put_id(&call, 2, getenv("MESOS_CONTAINER_ID"));
    pbw_end(&call, id);
    size_t c = pbw_begin(&call, 2);
    buf_append(&call, cmd, cn);
    /* the framework's user unless the command names one */
    const char *su = getenv("MESOS_API_SWITCH_USER");
    if (pbw_find(cmd, cn, 5, &us) != 1 && e->framework_user[0] && !(su && strcmp(su, "false") == 0))
        pbw_put_str(&call, 5, e->framework_user);
    pbw_end(&call, c);
    struct pbw_reader r;
    pbw_reader_init(&r, t->info.data, t->info.len);
    while (pbw_next(&r, &f) == 1)
        if (f.tag == 4 && f.wt == PBW_LEN) pbw_put_bytes(&call, 3, f.p, f.n);
    pbw_end(&call, k);
    int st = post_to(e, "/api/v1", &call);
    buf_free(&call);
    if (st != 200) {
        char msg[128];
        snprintf(msg, sizeof msg, "Failed to launch the task's container (the agent answered %d)", st);
        update(e, t, TASK_FAILED, msg, 0);
        return;
    }
    t->nested_running = 1;
    LOG("Started task %s in nested container %s", t->id, t->cid);
    update(e, t, TASK_RUNNING, NULL, -1);
    wait_nested(e, t);
}

/* ==== Starting a command ================================================ */

static void direct_free(char **argv)
{
    if (!argv) return;
    for (char **p = argv; *p; p++) free(*p);
    free(argv);
}

/* fork is needed only to change user (posix_spawn cannot). */
static int needs_fork(const char *user)
{
    if (!user || !user[0]) return 0;
    uid_t uid;
    gid_t gid;
    return user_lookup(user, &uid, &gid) < 0 || uid != getuid();
}

/* CommandInfo.environment as "NAME=value" strings (in *store). */
static char **task_env(const uint8_t *cmd, size_t n, struct buf *store)
{
    struct pbw_field env, var, f;
    size_t count = 0;
    if (pbw_find(cmd, n, 2, &env) == 1 && env.wt == PBW_LEN) {
        struct pbw_reader r;
        pbw_reader_init(&r, env.p, env.n);
        while (pbw_next(&r, &var) == 1) {
            if (var.tag != 1 || var.wt != PBW_LEN) continue;
            struct pbw_field nm = {0}, val = {0};
            if (pbw_find(var.p, var.n, 1, &nm) != 1 || nm.wt != PBW_LEN || !nm.n) continue;
            if (pbw_find(var.p, var.n, 2, &f) == 1 && f.wt == PBW_LEN) val = f;
            /* as apply_env's setenv: names up to 255, values up to 4095 bytes */
            buf_printf(store, "%.*s=%.*s", (int)(nm.n < 255 ? nm.n : 255), (const char *)nm.p,
                       (int)(val.n < 4095 ? val.n : 4095), val.p ? (const char *)val.p : "");
            buf_append(store, "", 1);
            count++;
        }
    }
    char **out = xcalloc(count + 2, sizeof *out);     /* room for one more (PWD) */
    size_t k = 0;
    for (size_t off = 0; k < count; k++) {
        out[k] = store->data + off;
        off += strlen(out[k]) + 1;
    }
    out[k] = NULL;
    return out;
}

/* A shell command the shell would only split into words and exec, as
 * `bash -c` execs a simple command itself: no quoting, expansion,
 * redirection, pipes, lists, globs, assignments, comments or keywords
 * (any of the characters below means the shell), its first word not one
 * of the shell's builtins (`true` and `false` alone excepted), and found
 * in the task's PATH (else the shell says "not found" as before). The
 * environment is the same but for PWD, which dash sets to the working
 * directory and the caller adds. Returns a NULL-terminated argv, or NULL:
 * run it with sh -c. */
static char **direct_argv(const char *value, char **env)
{
    static const char meta[] = "'\"`$\\;&|<>()*?[]~{}=#!%^\n\r";
    static const char *const builtins[] = {
        ".", ":", "alias", "bg", "break", "cd", "chdir", "command", "continue", "echo", "eval", "exec",
        "exit", "export", "fc", "fg", "getopts", "hash", "jobs", "kill", "local", "printf", "pwd",
        "read", "readonly", "return", "set", "shift", "test", "times", "trap", "type", "ulimit",
        "umask", "unalias", "unset", "wait", "case", "do", "done", "elif", "else", "esac", "fi",
        "for", "if", "in", "then", "until", "while", "function", "select", "time", NULL };
    if (strpbrk(value, meta) || strlen(value) > 4000) return NULL;
    char **argv = xcalloc(strlen(value) / 2 + 2, sizeof *argv);
    size_t argc = 0;
    for (const char *p = value; *p;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        const char *w = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        argv[argc] = xmalloc((size_t)(p - w) + 1);
        memcpy(argv[argc], w, (size_t)(p - w));
        argv[argc++][p - w] = 0;
    }
    int ok = argc > 0;
    for (size_t i = 0; ok && builtins[i]; i++) ok = strcmp(argv[0], builtins[i]) != 0;
    if (ok && (strcmp(argv[0], "true") == 0 || strcmp(argv[0], "false") == 0)) ok = argc == 1;
    char found[4096];
    if (ok && !strchr(argv[0], '/')) ok = spawn_which(argv[0], env, found, sizeof found) == 0;
    if (!ok) {
        direct_free(argv);
        return NULL;
    }
    return argv;
}

/* Start one task's command in its own process group. */
static void start(struct exec *e, struct etask *t)
{
    const uint8_t *task = (const uint8_t *)t->info.data;
    size_t n = t->info.len;
    struct pbw_field cmd, kp, gp, ns;
    if (pbw_find(task, n, 12, &kp) == 1 && pbw_find(kp.p, kp.n, 1, &gp) == 1 && pbw_find(gp.p, gp.n, 1, &ns) == 1)
        t->grace_ms = ns.v / 1000000;
    update(e, t, TASK_STARTING, NULL, -1);
    if (pbw_find(task, n, 7, &cmd) != 1 || cmd.wt != PBW_LEN) {
        update(e, t, TASK_FAILED, "Task has no command", 0);
        return;
    }
    if (t->group && getenv("MESOS_CONTAINER_ID")) {
        start_nested(e, t, cmd.p, cmd.n);
        return;
    }
    /* Build argv before forking: shell "sh -c value", else value + arguments. */
    struct pbw_field sh, val, us;
    int shell = !(pbw_find(cmd.p, cmd.n, 6, &sh) == 1 && sh.v == 0);
    char user[256];
    snprintf(user, sizeof user, "%s", e->framework_user);
    if (pbw_find(cmd.p, cmd.n, 5, &us) == 1 && us.wt == PBW_LEN)
        snprintf(user, sizeof user, "%.*s", (int)us.n, (const char *)us.p);
    const char *su = getenv("MESOS_API_SWITCH_USER");     /* the agent's --switch_user */
    if (su && strcmp(su, "false") == 0) user[0] = 0;
    char *value = NULL;
    if (pbw_find(cmd.p, cmd.n, 3, &val) == 1 && val.wt == PBW_LEN) {
        value = xmalloc(val.n + 1);
        memcpy(value, val.p, val.n);
        value[val.n] = 0;
    }
    size_t argc = 0, cap = 8;
    char **argv = xcalloc(cap, sizeof *argv);
    if (shell) {
        argv[argc++] = xstrdup("sh");
        argv[argc++] = xstrdup("-c");
        argv[argc++] = xstrdup(value ? value : "");
    } else {
        struct pbw_reader r;
        struct pbw_field a;
        pbw_reader_init(&r, cmd.p, cmd.n);
        while (pbw_next(&r, &a) == 1) {
            if (a.tag != 7 || a.wt != PBW_LEN) continue;
            if (argc + 2 >= cap) argv = xrealloc(argv, (cap *= 2) * sizeof *argv);
            argv[argc] = xmalloc(a.n + 1);
            memcpy(argv[argc], a.p, a.n);
            argv[argc++][a.n] = 0;
        }
        if (argc == 0) argv[argc++] = xstrdup(value ? value : "");
    }
    argv[argc] = NULL;
    pid_t pid;
    int exec_failed = 0;
    if (needs_fork(user)) {
        pid = fork();
        if (pid == 0) {
            setpgid(0, 0);                  /* its own group: kill reaches its children */
            signal(SIGPIPE, SIG_DFL);
            apply_env(cmd.p, cmd.n);
            if (e->sandbox[0] && chdir(e->sandbox) != 0) _exit(127);
            switch_user(user);
            if (shell) execv("/bin/sh", argv);
            else execvp(value ? value : argv[0], argv);
            fprintf(stderr, "Failed to execute '%s': %s\n", value ? value : argv[0], strerror(errno));
            _exit(127);
        }
    } else {
        /* No user to switch to: posix_spawn (no copy of our memory),
         * and a simple shell command without the shell (direct_argv). */
        struct buf envs = {0};
        char **env = task_env(cmd.p, cmd.n, &envs);
        char **direct = shell ? direct_argv(value ? value : "", env) : NULL;
        struct spawn_opts so = { .cwd = e->sandbox[0] ? e->sandbox : NULL, .new_group = 1, .env = env };
        if (direct) {
            /* as the shell would have it: PWD is the working directory */
            char cwd[1100];
            snprintf(cwd, sizeof cwd, "PWD=%s", e->sandbox[0] ? e->sandbox : "");
            size_t ne = 0;
            while (env[ne]) ne++;
            env = xrealloc(env, (ne + 2) * sizeof *env);
            if (e->sandbox[0] || getcwd(cwd + 4, sizeof cwd - 4)) env[ne++] = cwd;
            env[ne] = NULL;
            so.env = env;
            so.path_search = 1;
            pid = spawn_process(direct[0], direct, &so);
            if (pid == -ENOEXEC) direct_free(direct), direct = NULL;  /* a script without #!: the shell's job */
        }
        if (!direct) {
            so.path_search = !shell;
            pid = shell ? spawn_process("/bin/sh", argv, &so) : spawn_process(value ? value : argv[0], argv, &so);
            if (pid == -ENOEXEC && !shell) {
                /* execvp runs a file without #! with the shell: so do we. */
                char found[4096];
                const char *file = value ? value : argv[0];
                if (strchr(file, '/') || spawn_which(file, env, found, sizeof found) == 0) {
                    char **sh = xcalloc(argc + 2, sizeof *sh);
                    sh[0] = "sh";
                    sh[1] = strchr(file, '/') ? (char *)file : found;
                    for (size_t i = 1; i < argc; i++) sh[i + 1] = argv[i];
                    so.path_search = 0;
                    pid = spawn_process("/bin/sh", sh, &so);
                    free(sh);
                }
            }
        }
        if (pid < 0) {
            /* What the forked child would have said and done: 127. */
            fprintf(stderr, "Failed to execute '%s': %s\n", value ? value : argv[0], strerror((int)-pid));
            exec_failed = 1;
        }
        direct_free(direct);
        free(env);
        buf_free(&envs);
    }
    for (size_t i = 0; i < argc; i++) free(argv[i]);
    free(argv);
    free(value);
    if (exec_failed) {
        LOG("Task %s could not be started", t->id);
        update(e, t, TASK_RUNNING, NULL, -1);
        exited(e, t, 127 << 8);
        return;
    }
    if (pid < 0) {
        update(e, t, TASK_FAILED, "Failed to fork the command", 0);
        return;
    }
    setpgid(pid, pid);
    t->pid = pid;
    LOG("Started task %s as pid %d", t->id, (int)pid);
    update(e, t, TASK_RUNNING, NULL, -1);
    /* SIGCHLD reaps it (loop_sigchld); the timer is the fallback. */
    if (!loop_timer_active(&e->reap)) loop_timer_start(e->loop, &e->reap, e->sigchld ? 1000 : 50);
}

/* Take a task (TaskInfo bytes) into the executor; 0 or -1 when refused. */
static struct etask *add_task(struct exec *e, const uint8_t *task, size_t n, int group)
{
    struct pbw_field f, v;
    char id[256] = "";
    if (pbw_find(task, n, 2, &f) == 1 && pbw_find(f.p, f.n, 1, &v) == 1)
        snprintf(id, sizeof id, "%.*s", (int)v.n, (const char *)v.p);
    if (!id[0] || find(e, id, strlen(id)) || e->ntasks == MAX_TASKS) {
        LOG_WARN("Ignoring task '%s': %s", id, !id[0] ? "no id" : e->ntasks == MAX_TASKS ? "too many tasks" : "already launched");
        return NULL;
    }
    struct etask *t = xcalloc(1, sizeof *t);
    t->e = e;
    snprintf(t->id, sizeof t->id, "%s", id);
    buf_append(&t->info, task, n);
    t->group = group;
    t->grace_ms = 3000;                  /* the command executor's default */
    loop_timer_init(&t->grace, grace_cb);
    loop_timer_init(&t->rewait, rewait_cb);
    t->wait_fd.fd = -1;
    e->tasks[e->ntasks++] = t;
    return t;
}

static void launch(struct exec *e, const uint8_t *task, size_t n)
{
    if (e->single || e->ntasks) {
        LOG_WARN("Ignoring a second LAUNCH: the command executor runs one task");
        return;
    }
    e->single = 1;
    struct etask *t = add_task(e, task, n, 0);
    if (t) start(e, t);
}

/* LaunchGroup { task_group = 1 { tasks = 1 (repeated TaskInfo) } }. */
static void launch_group(struct exec *e, const uint8_t *p, size_t n)
{
    struct pbw_field g, f;
    if (e->single || pbw_find(p, n, 1, &g) != 1) return;
    int group = ++e->groups;
    struct etask *added[MAX_TASKS];
    size_t na = 0;
    struct pbw_reader r;
    pbw_reader_init(&r, g.p, g.n);
    while (pbw_next(&r, &f) == 1)
        if (f.tag == 1 && f.wt == PBW_LEN) {
            struct etask *t = add_task(e, f.p, f.n, group);
            if (t) added[na++] = t;
        }
    for (size_t i = 0; i < na; i++) start(e, added[i]);
}

static void kill_task(struct exec *e, const uint8_t *p, size_t n)
{
    struct pbw_field id, v, kp, gp, ns;
    if (pbw_find(p, n, 1, &id) != 1 || pbw_find(id.p, id.n, 1, &v) != 1) return;
    struct etask *t = find(e, (const char *)v.p, v.n);
    if (!t) return;
    if (pbw_find(p, n, 2, &kp) == 1 && pbw_find(kp.p, kp.n, 1, &gp) == 1 && pbw_find(gp.p, gp.n, 1, &ns) == 1)
        t->grace_ms = ns.v / 1000000;
    /* Killing one task of a group kills the group, as upstream. */
    if (t->group) {
        for (size_t i = 0; i < e->ntasks; i++)
            if (e->tasks[i]->group == t->group) {
                e->tasks[i]->grace_ms = t->grace_ms;
                kill_one(e, e->tasks[i]);
            }
    } else {
        kill_one(e, t);
    }
}

static void kill_all(struct exec *e)
{
    for (size_t i = 0; i < e->ntasks; i++) kill_one(e, e->tasks[i]);
}

/* ==== The event stream ================================================== */

static void subscribe(struct exec *e);

static void stream_down(struct exec *e, const char *why)
{
    if (e->stream.fd >= 0) {
        loop_del(e->loop, &e->stream);
        close(e->stream.fd);
        e->stream.fd = -1;
    }
    if (e->connected) LOG_WARN("Disconnected from the agent: %s", why);
    e->connected = 0;
    if (!loop_timer_active(&e->give_up)) loop_timer_start(e->loop, &e->give_up, e->recovery_ms);
    hresp_free(&e->resp);
    memset(&e->resp, 0, sizeof e->resp);
    buf_free(&e->body);
    recordio_free(&e->rio);
    memset(&e->rio, 0, sizeof e->rio);
    loop_timer_start(e->loop, &e->reconnect, 1000);
}

static void on_event(struct exec *e, const uint8_t *p, size_t n)
{
    struct pbw_field t, f;
    if (pbw_find(p, n, 1, &t) != 1) return;
    switch ((int)t.v) {
    case EV_SUBSCRIBED: {
        /* FrameworkInfo.capabilities (10) { type (1) }: TASK_KILLING_STATE is 2. */
        struct pbw_field sub, fi, cap, ct, fu;
        if (pbw_find(p, n, 2, &sub) == 1 && pbw_find(sub.p, sub.n, 2, &fi) == 1) {
            if (pbw_find(fi.p, fi.n, 1, &fu) == 1 && fu.wt == PBW_LEN)
                snprintf(e->framework_user, sizeof e->framework_user, "%.*s", (int)fu.n, (const char *)fu.p);
            struct pbw_reader r;
            pbw_reader_init(&r, fi.p, fi.n);
            while (pbw_next(&r, &cap) == 1)
                if (cap.tag == 10 && cap.wt == PBW_LEN && pbw_find(cap.p, cap.n, 1, &ct) == 1 && ct.v == 2)
                    e->killing_state = 1;
        }
        e->connected = 1;
        loop_timer_stop(e->loop, &e->give_up);
        LOG("Subscribed to the agent at %s:%d", e->host, e->port);
        /* Updates the agent may not have: send them again. */
        for (struct update *u = e->pending; u; u = u->next) send_update(e, u);
        break;
    }
    case EV_LAUNCH:
        if (pbw_find(p, n, 4, &f) == 1 && pbw_find(f.p, f.n, 1, &t) == 1) launch(e, t.p, t.n);
        break;
    case EV_LAUNCH_GROUP:
        if (pbw_find(p, n, 8, &f) == 1) launch_group(e, f.p, f.n);
        break;
    case EV_KILL:
        if (pbw_find(p, n, 5, &f) == 1) kill_task(e, f.p, f.n);
        break;
    case EV_ACKNOWLEDGED:
        if (pbw_find(p, n, 3, &f) == 1) on_acknowledged(e, f.p, f.n);
        break;
    case EV_SHUTDOWN:
        LOG("Shutdown requested by the agent");
        kill_all(e);
        int running = 0;
        for (size_t i = 0; i < e->ntasks; i++) running |= is_running(e->tasks[i]);
        if (!running) loop_stop(e->loop);
        break;
    case EV_ERROR:
        LOG_ERR("Error event from the agent");
        break;
    default:
        break;   /* HEARTBEAT, MESSAGE */
    }
}

static void stream_io(struct loop *l, struct loop_fd *f, int ev)
{
    (void)l; (void)ev;
    struct exec *e = container_of(f, struct exec, stream);
    char tmp[65536];
    for (;;) {
        long n = net_read(f->fd, tmp, sizeof tmp);
        if (n == -EAGAIN) break;
        if (n <= 0) { stream_down(e, "connection closed"); return; }
        if (hresp_feed(&e->resp, tmp, (size_t)n, &e->body) < 0) { stream_down(e, "malformed response"); return; }
        if (e->resp.status && e->resp.status != 200) {
            char why[64];
            snprintf(why, sizeof why, "SUBSCRIBE answered %d", e->resp.status);
            stream_down(e, why);
            return;
        }
        if (e->body.len) {
            recordio_feed(&e->rio, e->body.data, e->body.len);
            buf_reset(&e->body);
            const char *rec;
            size_t rn;
            int rc;
            while ((rc = recordio_next(&e->rio, &rec, &rn)) == 1) on_event(e, (const uint8_t *)rec, rn);
            if (rc < 0) { stream_down(e, "bad RecordIO"); return; }
        }
        if (e->stream.fd < 0) return;
    }
}

static void subscribe(struct exec *e)
{
    char err[NET_ERR_LEN];
    int fd = net_connect(e->host, e->port, err);
    if (fd < 0) { loop_timer_start(e->loop, &e->reconnect, 1000); return; }
    struct buf call = {0}, req = {0};
    call_head(e, &call, CALL_SUBSCRIBE);
    size_t k = pbw_begin(&call, 4);
    for (size_t i = 0; i < e->ntasks; i++)            /* tasks without their terminal update */
        if (!e->tasks[i]->done) pbw_put_bytes(&call, 1, e->tasks[i]->info.data, e->tasks[i]->info.len);
    for (struct update *u = e->pending; u; u = u->next) {
        size_t up = pbw_begin(&call, 2);
        pbw_put_bytes(&call, 1, u->status.data, u->status.len);
        pbw_end(&call, up);
    }
    pbw_end(&call, k);
    buf_printf(&req, "POST /api/v1/executor HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/x-protobuf\r\n"
                     "Accept: application/x-protobuf\r\nContent-Length: %zu\r\n\r\n", e->host, e->port, call.len);
    buf_append(&req, call.data, call.len);
    int whole = write_request(fd, &req) == 0;
    buf_free(&call);
    buf_free(&req);
    if (!whole) {
        close(fd);
        loop_timer_start(e->loop, &e->reconnect, 1000);
        return;
    }
    loop_add(e->loop, &e->stream, fd, LOOP_READ, stream_io);
}

static void reconnect_cb(struct loop *l, struct loop_timer *t)
{
    (void)l;
    subscribe(container_of(t, struct exec, reconnect));
}

static void give_up_cb(struct loop *l, struct loop_timer *t)
{
    struct exec *e = container_of(t, struct exec, give_up);
    LOG_ERR("The agent did not come back within the recovery timeout: killing the tasks and exiting");
    for (size_t i = 0; i < e->ntasks; i++)
        if (e->tasks[i]->pid > 0) kill(-e->tasks[i]->pid, SIGKILL);
    loop_stop(l);
}

int executor_main(int argc, char **argv)
{
    (void)argc; (void)argv;
    const char *ep = getenv("MESOS_AGENT_ENDPOINT"), *fw = getenv("MESOS_FRAMEWORK_ID"),
               *ex = getenv("MESOS_EXECUTOR_ID"), *sb = getenv("MESOS_SANDBOX");
    if (!ep || !fw || !ex) {
        fprintf(stderr, "mesos_api executor is started by an agent: MESOS_AGENT_ENDPOINT, "
                        "MESOS_FRAMEWORK_ID and MESOS_EXECUTOR_ID must be set\n");
        return 1;
    }
    static struct exec e;
    const char *colon = strrchr(ep, ':');
    if (!colon) { fprintf(stderr, "Bad MESOS_AGENT_ENDPOINT '%s'\n", ep); return 1; }
    snprintf(e.host, sizeof e.host, "%.*s", (int)(colon - ep), ep);
    e.port = atoi(colon + 1);
    snprintf(e.framework_id, sizeof e.framework_id, "%s", fw);
    snprintf(e.executor_id, sizeof e.executor_id, "%s", ex);
    if (sb) snprintf(e.sandbox, sizeof e.sandbox, "%s", sb);
    e.stream.fd = -1;
    int64_t recovery_ns = 15LL * 60 * 1000000000;
    const char *rt = getenv("MESOS_RECOVERY_TIMEOUT");
    if (rt) parse_duration(rt, &recovery_ns);
    e.loop = loop_new();
    loop_timer_init(&e.reconnect, reconnect_cb);
    loop_timer_init(&e.reap, reap_cb);
    loop_timer_init(&e.give_up, give_up_cb);
    e.recovery_ms = (uint64_t)(recovery_ns / 1000000);
    loop_timer_start(e.loop, &e.give_up, e.recovery_ms);
    signal(SIGPIPE, SIG_IGN);
    e.call_fd = -1;
    e.sigchld = loop_sigchld(e.loop, on_sigchld, &e) == 0;
    subscribe(&e);
    loop_run(e.loop);
    if (e.stream.fd >= 0) close(e.stream.fd);
    if (e.call_fd >= 0) close(e.call_fd);
    loop_free(e.loop);
    return 0;
}
