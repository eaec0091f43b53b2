/* launch.c -- task launch rate through the v1 scheduler HTTP API.
 *
 *   launch [--tasks=10000] [--agents=10] [--window=500] [--master=IP:PORT]
 *
 * A framework written against POST /api/v1/scheduler (protobuf) launches
 * --tasks tiny command tasks (`true`, cpus:0.01;mem:1) on a master with
 * --agents agent processes (started here unless --master is given). It keeps
 * at most --window tasks in flight (each is an executor process on this
 * machine), accepts every offer with as many tasks as fit, acknowledges
 * every status update, and revives when it wants offers sooner than the
 * next allocation cycle. Reported: tasks per second from the first ACCEPT
 * to the last TASK_FINISHED, and each task's ACCEPT -> TASK_FINISHED
 * latency. Calls are pipelined on one connection, events read from the
 * SUBSCRIBE stream on another. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common.h"
#include "net.h"
#include "pbw.h"

enum { T_FINISHED = 2, T_FAILED = 3, T_KILLED = 4, T_LOST = 5, T_ERROR = 7, T_DROPPED = 9, T_GONE = 11 };

struct sched {
    struct httpc stream, calls;
    char fw_id[128], stream_id[64];
    struct buf batch;            /* calls not yet written */
    size_t batched;              /* how many */
    long tasks, window, launched, finished, failed, inflight;
    long per_offer;            /* at most this many tasks per offer (--spread: window / agents) */
    double *t_launch, *latency, t_first, t_last, t_revive;
    double task_cpus, task_mem;
    int offers_seen;
};

/* ==== Calls ============================================================= */

static void put_id(struct buf *b, uint32_t tag, const char *v, size_t n)
{
    size_t k = pbw_begin(b, tag);
    pbw_put_bytes(b, 1, v, n);
    pbw_end(b, k);
}

static void put_scalar(struct buf *b, uint32_t tag, const char *name, double v)
{
    size_t k = pbw_begin(b, tag);
    pbw_put_str(b, 1, name);
    pbw_put_uint(b, 2, 0);
    size_t s = pbw_begin(b, 3);
    pbw_put_double(b, 1, v);
    pbw_end(b, s);
    pbw_end(b, k);
}

/* Queue one call (protobuf) on the pipelined calls connection. */
static void queue_call(struct sched *s, const struct buf *call)
{
    buf_printf(&s->batch, "POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                          "Accept: application/x-protobuf\r\nMesos-Stream-Id: %s\r\nContent-Length: %zu\r\n\r\n",
               s->stream_id, call->len);
    buf_append(&s->batch, call->data, call->len);
    s->batched++;
}

/* Write the queued calls at once, then read their answers (202 each). */
static void flush_calls(struct sched *s)
{
    if (!s->batched) return;
    const char *p = s->batch.data;
    size_t n = s->batch.len;
    while (n) {
        ssize_t k = write(s->calls.fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) bench_die("write to the master: %s", strerror(errno));
        p += k;
        n -= (size_t)k;
    }
    struct httpc_resp r = {0};
    for (size_t i = 0; i < s->batched; i++) {
        if (httpc_recv(&s->calls, &r, 0, 30000) < 0) bench_die("no answer to a scheduler call");
        if (r.status != 202) bench_die("scheduler call answered %d: %.*s", r.status, (int)r.body.len, r.body.data);
    }
    buf_free(&r.body);
    buf_reset(&s->batch);
    s->batched = 0;
}

static struct buf call_head(struct sched *s, int type)
{
    struct buf b = {0};
    put_id(&b, 1, s->fw_id, strlen(s->fw_id));
    pbw_put_uint(&b, 2, (uint64_t)type);
    return b;
}

/* ==== Events ============================================================ */

static double scalar_of(const uint8_t *offer, size_t n, const char *name)
{
    struct pbw_reader r;
    struct pbw_field f, nm, sc, v;
    double total = 0;
    pbw_reader_init(&r, offer, n);
    while (pbw_next(&r, &f) == 1) {
        if (f.tag != 5 || f.wt != PBW_LEN) continue;                 /* Offer.resources */
        if (pbw_find(f.p, f.n, 1, &nm) != 1 || nm.n != strlen(name) || memcmp(nm.p, name, nm.n)) continue;
        if (pbw_find(f.p, f.n, 3, &sc) == 1 && pbw_find(sc.p, sc.n, 1, &v) == 1) {
            double d;
            memcpy(&d, &v.v, 8);
            total += d;
        }
    }
    return total;
}

static void on_offer(struct sched *s, const uint8_t *p, size_t n)
{
    struct pbw_field id, agent, aval;
    if (pbw_find(p, n, 1, &id) != 1 || pbw_find(p, n, 3, &agent) != 1 || pbw_find(agent.p, agent.n, 1, &aval) != 1)
        bench_die("malformed offer");
    s->offers_seen++;
    long fit_c = (long)(scalar_of(p, n, "cpus") / s->task_cpus + 1e-9);
    long fit_m = (long)(scalar_of(p, n, "mem") / s->task_mem + 1e-9);
    long k = fit_c < fit_m ? fit_c : fit_m;
    if (k > s->tasks - s->launched) k = s->tasks - s->launched;
    if (k > s->window - s->inflight) k = s->window - s->inflight;
    if (s->per_offer && k > s->per_offer) k = s->per_offer;
    if (k < 0) k = 0;
    struct buf b = call_head(s, k ? 3 : 4);
    size_t body = pbw_begin(&b, k ? 4 : 5);
    pbw_put_bytes(&b, 1, id.p, id.n);                                /* offer_ids */
    if (k) {
        size_t op = pbw_begin(&b, 2);
        pbw_put_uint(&b, 1, 1);                                      /* LAUNCH */
        size_t l = pbw_begin(&b, 2);
        double now = bench_now();
        if (!s->launched) s->t_first = now;
        for (long i = 0; i < k; i++) {
            char tid[32];
            long t = s->launched++;
            s->t_launch[t] = now;
            snprintf(tid, sizeof tid, "t%ld", t);
            size_t ti = pbw_begin(&b, 1);
            pbw_put_str(&b, 1, tid);
            put_id(&b, 2, tid, strlen(tid));
            put_id(&b, 3, (const char *)aval.p, aval.n);
            put_scalar(&b, 4, "cpus", s->task_cpus);
            put_scalar(&b, 4, "mem", s->task_mem);
            size_t cmd = pbw_begin(&b, 7);
            pbw_put_str(&b, 3, "true");
            pbw_end(&b, cmd);
            pbw_end(&b, ti);
        }
        pbw_end(&b, l);
        pbw_end(&b, op);
        s->inflight += k;
    }
    size_t fl = pbw_begin(&b, k ? 3 : 2);                            /* filters: offer again at once */
    pbw_put_double(&b, 1, 0);
    pbw_end(&b, fl);
    pbw_end(&b, body);
    queue_call(s, &b);
    buf_free(&b);
}

static void on_update(struct sched *s, const uint8_t *st, size_t n)
{
    struct pbw_field tid, tv, state, agent, uuid;
    if (pbw_find(st, n, 1, &tid) != 1 || pbw_find(tid.p, tid.n, 1, &tv) != 1 || pbw_find(st, n, 2, &state) != 1)
        return;
    if (pbw_find(st, n, 11, &uuid) == 1 && pbw_find(st, n, 5, &agent) == 1) {
        struct buf b = call_head(s, 8);
        size_t k = pbw_begin(&b, 8);
        pbw_put_bytes(&b, 1, agent.p, agent.n);
        pbw_put_bytes(&b, 2, tid.p, tid.n);
        pbw_put_bytes(&b, 3, uuid.p, uuid.n);
        pbw_end(&b, k);
        queue_call(s, &b);
        buf_free(&b);
    }
    int st_v = (int)state.v;
    int terminal = st_v == T_FINISHED || st_v == T_FAILED || st_v == T_KILLED || st_v == T_LOST ||
                   st_v == T_ERROR || st_v == T_DROPPED || st_v == T_GONE;
    if (!terminal || tv.n < 2 || tv.p[0] != 't') return;
    long t = strtol((const char *)tv.p + 1, NULL, 10);
    if (t < 0 || t >= s->launched || s->latency[t] != 0) return;
    double now = bench_now();
    s->latency[t] = now - s->t_launch[t];
    s->inflight--;
    if (st_v == T_FINISHED) s->finished++;
    else {
        if (s->failed < 5) {
            struct pbw_field msg;
            int has = pbw_find(st, n, 4, &msg) == 1;
            fprintf(stderr, "launch: task t%ld ended in state %d: %.*s\n", t, st_v, has ? (int)msg.n : 0,
                    has ? (const char *)msg.p : "");
        }
        s->failed++;
    }
    s->t_last = now;
}

static void on_event(struct sched *s, const uint8_t *p, size_t n)
{
    struct pbw_field type, sub, f;
    if (pbw_find(p, n, 1, &type) != 1) return;
    switch (type.v) {
    case 1:                                                          /* SUBSCRIBED */
        if (pbw_find(p, n, 2, &sub) == 1 && pbw_find(sub.p, sub.n, 1, &f) == 1 && pbw_find(f.p, f.n, 1, &f) == 1)
            snprintf(s->fw_id, sizeof s->fw_id, "%.*s", (int)f.n, (const char *)f.p);
        break;
    case 2:                                                          /* OFFERS */
        if (pbw_find(p, n, 3, &sub) == 1) {
            struct pbw_reader r;
            pbw_reader_init(&r, sub.p, sub.n);
            while (pbw_next(&r, &f) == 1)
                if (f.tag == 1 && f.wt == PBW_LEN) on_offer(s, f.p, f.n);
        }
        break;
    case 4:                                                          /* UPDATE */
        if (pbw_find(p, n, 5, &sub) == 1 && pbw_find(sub.p, sub.n, 1, &f) == 1) on_update(s, f.p, f.n);
        break;
    case 7:                                                          /* ERROR */
        if (pbw_find(p, n, 8, &sub) == 1 && pbw_find(sub.p, sub.n, 1, &f) == 1)
            bench_die("ERROR event: %.*s", (int)f.n, (const char *)f.p);
        bench_die("ERROR event");
    }
}

/* ==== Set-up ============================================================ */

static int free_port(void)
{
    char err[NET_ERR_LEN];
    int fd = net_listen("127.0.0.1", 0, 1, err);
    if (fd < 0) bench_die("listen: %s", err);
    int p = net_local_port(fd);
    close(fd);
    return p;
}

int main(int argc, char **argv)
{
    struct sched s = { .tasks = 10000, .window = 500, .task_cpus = 0.01, .task_mem = 1 };
    long agents = 10;
    const char *master = NULL;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--tasks=", 8) == 0) s.tasks = atol(argv[i] + 8);
        else if (strncmp(argv[i], "--agents=", 9) == 0) agents = atol(argv[i] + 9);
        else if (strncmp(argv[i], "--window=", 9) == 0) s.window = atol(argv[i] + 9);
        else if (strncmp(argv[i], "--master=", 9) == 0) master = argv[i] + 9;
        else if (strcmp(argv[i], "--spread") == 0) s.per_offer = -1;
        else {
            fprintf(stderr, "usage: launch [--tasks=10000] [--agents=10] [--window=500] [--spread] [--master=IP:PORT]\n");
            return 2;
        }
    }
    if (s.tasks < 1 || s.window < 1 || agents < 1 || agents > 100) bench_die("bad arguments");
    if (s.per_offer < 0) s.per_offer = (s.window + agents - 1) / agents;
    s.t_launch = calloc((size_t)s.tasks, sizeof *s.t_launch);
    s.latency = calloc((size_t)s.tasks, sizeof *s.latency);

    char dir[64];
    /* Sandboxes and checkpoints on tmpfs when there is one: the figure is the
     * software's, not the disk's fsync latency (BENCH_DIR overrides). */
    snprintf(dir, sizeof dir, "%s/mesos_api-launch-XXXXXX", getenv("BENCH_DIR") ? getenv("BENCH_DIR")
             : access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    pid_t pids[101] = {0};
    int mport = 0;
    char host[64] = "127.0.0.1";
    if (!mkdtemp(dir)) bench_die("mkdtemp");
    if (master) {
        const char *c = strrchr(master, ':');
        if (!c) bench_die("--master=IP:PORT");
        snprintf(host, sizeof host, "%.*s", (int)(c - master), master);
        mport = atoi(c + 1);
    } else {
        const char *bin = bench_binary();
        char log[300], wd[300], mflag[64], pflag[32];
        snprintf(log, sizeof log, "%s/master.log", dir);
        snprintf(wd, sizeof wd, "--work_dir=%s/master", dir);
        char *margs[] = { (char *)bin, "master", "--ip=127.0.0.1", "--port=0", wd, NULL };
        pids[0] = bench_spawn(bin, margs, log, &mport);
        snprintf(mflag, sizeof mflag, "--master=127.0.0.1:%d", mport);
        for (long i = 1; i <= agents; i++) {
            int port;
            snprintf(log, sizeof log, "%s/agent%ld.log", dir, i);
            snprintf(wd, sizeof wd, "--work_dir=%s/agent%ld", dir, i);
            snprintf(pflag, sizeof pflag, "--port=%d", free_port());
            char *aargs[] = { (char *)bin, "agent", "--ip=127.0.0.1", pflag, mflag, wd,
                              "--resources=cpus:100;mem:100000;disk:1000", NULL };
            pids[i] = bench_spawn(bin, aargs, log, &port);
        }
    }

    /* Subscribe; the stream's events drive everything. */
    if (httpc_connect(&s.stream, host, mport) < 0 || httpc_connect(&s.calls, host, mport) < 0)
        bench_die("connect to the master");
    struct buf sub = {0};
    pbw_put_uint(&sub, 2, 1);                                        /* SUBSCRIBE */
    size_t k = pbw_begin(&sub, 3);
    size_t fi = pbw_begin(&sub, 1);
    pbw_put_str(&sub, 1, "root");
    pbw_put_str(&sub, 2, "bench-launch");
    pbw_end(&sub, fi);
    pbw_end(&sub, k);
    struct httpc_resp r = {0};
    if (httpc_send(&s.stream, "POST", "/api/v1/scheduler",
                   "Content-Type: application/x-protobuf\r\nAccept: application/x-protobuf\r\n", sub.data, sub.len) < 0 ||
        httpc_recv(&s.stream, &r, 1, 10000) < 0 || r.status != 200)
        bench_die("SUBSCRIBE failed (status %d)", r.status);
    snprintf(s.stream_id, sizeof s.stream_id, "%s", r.stream_id);
    buf_free(&sub);

    /* Wait until every agent is in the offers before starting the clock:
     * the first offers are the start. */
    struct buf ev = {0};
    size_t off = 0;
    double deadline = bench_now() + 600, stall = bench_now();
    long last_done = -1;
    while (s.finished + s.failed < s.tasks) {
        if (bench_now() > deadline) bench_die("launch did not finish in 600 s");
        long got = httpc_stream_read(&s.stream, &ev, 100);
        if (got < 0) bench_die("the SUBSCRIBE stream ended");
        const char *rec;
        size_t rn;
        while (recordio_take(&ev, &off, &rec, &rn)) on_event(&s, (const uint8_t *)rec, rn);
        if (off > (1u << 20)) { buf_consume(&ev, off); off = 0; }
        /* Want offers sooner than the next allocation cycle: REVIVE, at most every 10 ms. */
        if (s.fw_id[0] && s.launched < s.tasks && s.inflight < s.window / 2 && bench_now() - s.t_revive > 0.01) {
            struct buf b = call_head(&s, 5);
            queue_call(&s, &b);
            buf_free(&b);
            s.t_revive = bench_now();
        }
        flush_calls(&s);
        if (s.finished + s.failed != last_done) { last_done = s.finished + s.failed; stall = bench_now(); }
        else if (bench_now() - stall > 60) bench_die("no task ended for 60 s (%ld launched, %ld done)", s.launched, last_done);
    }
    struct buf b = call_head(&s, 2);                                 /* TEARDOWN */
    queue_call(&s, &b);
    buf_free(&b);
    flush_calls(&s);

    double span = s.t_last - s.t_first;
    stats_sort(s.latency, (size_t)s.tasks);
    printf("tasks                %ld\nagents               %ld\nwindow               %ld\n", s.tasks, agents, s.window);
    printf("finished             %ld\nfailed               %ld\n", s.finished, s.failed);
    printf("launch_span_s        %.2f\nlaunches_per_s       %.0f\n", span, (double)s.finished / span);
    printf("task_latency_p50_ms  %.1f\ntask_latency_p99_ms  %.1f\n", stats_pct(s.latency, (size_t)s.tasks, 50) * 1e3,
           stats_pct(s.latency, (size_t)s.tasks, 99) * 1e3);
    printf("offers               %d\n", s.offers_seen);
    httpc_close(&s.stream);
    httpc_close(&s.calls);
    for (int i = 100; i >= 0; i--) if (pids[i]) bench_stop(pids[i]);
    if (!getenv("BENCH_KEEP") && !master) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "launch: could not remove %s\n", dir);
    }
    return s.failed ? 1 : 0;
}
