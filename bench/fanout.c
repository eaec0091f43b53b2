/* fanout.c -- operator event fan-out: how long a task status update takes
 * from entering the master to being read by every SUBSCRIBE client.
 *
 *   fanout [--subscribers=1,100,1000] [--events=200]
 *
 * Starts a master, re-registers one simulated agent with running tasks
 * (sim.c), opens the given number of operator SUBSCRIBE streams (JSON), and
 * then, one event at a time, sends a StatusUpdateMessage (TASK_FINISHED for
 * a task not updated before) from the simulated agent over the libprocess
 * wire and waits until every subscriber has read the TASK_UPDATED record
 * naming that task. The clock runs from just before the message is written
 * to the moment the last subscriber has it. Also: the master's CPU time per
 * event (utime + stime from /proc/<pid>/stat over all events).
 *
 * Exits with 3 and prints "fanout pending" when the master answers
 * SUBSCRIBE with 501 (the event stream is not built yet). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "common.h"
#include "pbw.h"
#include "sim.h"

#define CARRY 64          /* bytes kept between reads, so an id split across reads is found */

struct sub {
    struct httpc c;
    char carry[CARRY];
    size_t ncarry;
    int got;
};

static void put_id(struct buf *b, uint32_t tag, const char *v)
{
    size_t k = pbw_begin(b, tag);
    pbw_put_str(b, 1, v);
    pbw_end(b, k);
}

/* StatusUpdateMessage {update {framework_id, slave_id, status, timestamp, uuid}, pid}. */
static void status_update(struct buf *out, const char *task, const char *from, uint64_t seq)
{
    uint8_t uuid[16] = {0};
    memcpy(uuid, &seq, sizeof seq);
    uuid[15] = 0x42;
    double now = bench_now();
    struct buf b = {0};
    size_t u = pbw_begin(&b, 1);
    put_id(&b, 1, "framework0");
    put_id(&b, 3, "agent0");
    size_t st = pbw_begin(&b, 4);
    put_id(&b, 1, task);
    pbw_put_uint(&b, 2, 2);                   /* TASK_FINISHED */
    put_id(&b, 5, "agent0");
    pbw_put_double(&b, 6, now);
    pbw_put_uint(&b, 9, 2);                   /* SOURCE_EXECUTOR */
    pbw_put_bytes(&b, 11, uuid, sizeof uuid);
    pbw_end(&b, st);
    pbw_put_double(&b, 5, now);
    pbw_put_bytes(&b, 6, uuid, sizeof uuid);
    pbw_end(&b, u);
    pbw_put_str(&b, 2, from);
    buf_printf(out, "POST /master/mesos.internal.StatusUpdateMessage HTTP/1.1\r\nUser-Agent: libprocess/%s\r\n"
                    "Libprocess-From: %s\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", from, from, b.len);
    buf_append(out, b.data, b.len);
    buf_free(&b);
}

/* Read what is there on a subscriber; mark it when the task id shows up. */
static int sub_read(struct sub *s, const char *id)
{
    char tmp[CARRY + 65536];
    memcpy(tmp, s->carry, s->ncarry);
    ssize_t n = read(s->c.fd, tmp + s->ncarry, sizeof tmp - s->ncarry);
    if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (n == 0) return -1;
    size_t len = s->ncarry + (size_t)n;
    if (memmem(tmp, len, id, strlen(id))) s->got = 1;
    s->ncarry = len < CARRY ? len : CARRY;
    memmove(s->carry, tmp + len - s->ncarry, s->ncarry);
    return 0;
}

int main(int argc, char **argv)
{
    const char *list = "1,100,1000";
    int events = 200;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--subscribers=", 14) == 0) list = argv[i] + 14;
        else if (strncmp(argv[i], "--events=", 9) == 0) events = atoi(argv[i] + 9);
        else { fprintf(stderr, "usage: fanout [--subscribers=1,100,1000] [--events=200]\n"); return 2; }
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
    int nconf = 1;
    for (const char *p = list; *p; p++) nconf += *p == ',';

    char dir[] = "/tmp/mesos_api-fanout-XXXXXX", log[300], wd[300];
    if (!mkdtemp(dir)) bench_die("mkdtemp");
    snprintf(log, sizeof log, "%s/master.log", dir);
    snprintf(wd, sizeof wd, "--work_dir=%s", dir);
    const char *bin = bench_binary();
    char *args[] = { (char *)bin, "master", "--ip=127.0.0.1", "--port=0", wd,
                     "--max_operator_event_stream_subscribers=100000", NULL };
    int mport;
    pid_t mpid = bench_spawn(bin, args, log, &mport);

    /* Is there an event stream at all? */
    struct httpc probe;
    struct httpc_resp r = {0};
    const char *sub_call = "{\"type\":\"SUBSCRIBE\"}";
    if (httpc_connect(&probe, "127.0.0.1", mport) < 0) bench_die("connect");
    if (httpc_send(&probe, "POST", "/api/v1", "Content-Type: application/json\r\nAccept: application/json\r\n",
                   sub_call, strlen(sub_call)) < 0 || httpc_recv(&probe, &r, 1, 10000) < 0)
        bench_die("SUBSCRIBE probe failed");
    httpc_close(&probe);
    if (r.status == 501) {
        printf("fanout pending: SUBSCRIBE is not implemented by this master\n");
        bench_stop(mpid);
        bench_rmtree(dir);
        return 3;
    }
    if (r.status != 200) bench_die("SUBSCRIBE answered %d", r.status);

    struct sim sm = { .mhost = "127.0.0.1", .mport = mport, .agents = 1, .fw = 1,
                      .tasks = (size_t)events * (size_t)nconf };
    sim_start(&sm);
    double deadline = bench_now() + 30;
    while (atomic_load(&sm.nregistered) < 1)
        if (bench_now() > deadline) bench_die("the simulated agent did not register");
        else usleep(1000);
    char from[96];
    snprintf(from, sizeof from, "slave(0)@127.0.0.1:%d", sm.port);
    struct httpc send;
    if (httpc_connect(&send, "127.0.0.1", mport) < 0) bench_die("connect");

    uint64_t task = 0;
    for (const char *p = list; *p;) {
        int n = atoi(p);
        if (n < 1) bench_die("bad --subscribers");
        struct sub *subs = calloc((size_t)n, sizeof *subs);
        struct pollfd *pf = calloc((size_t)n, sizeof *pf);
        for (int i = 0; i < n; i++) {
            if (httpc_connect(&subs[i].c, "127.0.0.1", mport) < 0) bench_die("connect subscriber %d", i);
            if (httpc_send(&subs[i].c, "POST", "/api/v1", "Content-Type: application/json\r\nAccept: application/json\r\n",
                           sub_call, strlen(sub_call)) < 0 || httpc_recv(&subs[i].c, &r, 1, 30000) < 0 || r.status != 200)
                bench_die("SUBSCRIBE %d failed (%d)", i, r.status);
        }
        /* Wait for each stream's SUBSCRIBED and HEARTBEAT records. */
        for (int i = 0; i < n; i++) {
            struct buf got = {0};
            size_t off = 0;
            const char *rec;
            size_t rn;
            int records = 0;
            double d = bench_now() + 30;
            while (records < 2 && bench_now() < d) {
                if (httpc_stream_read(&subs[i].c, &got, 1000) < 0) bench_die("stream %d ended", i);
                while (recordio_take(&got, &off, &rec, &rn)) records++;
            }
            if (records < 2) bench_die("stream %d: no SUBSCRIBED and HEARTBEAT", i);
            subs[i].c.in.len = 0;   /* later bytes are read raw (sub_read) */
            buf_free(&got);
            pf[i] = (struct pollfd){ .fd = subs[i].c.fd, .events = POLLIN };
        }
        double *lat = calloc((size_t)events, sizeof *lat);
        double cpu0 = proc_cpu_secs(mpid);
        struct buf msg = {0};
        for (int e = 0; e < events; e++) {
            char id[48];
            sim_task_id(++task, id, sizeof id);
            for (int i = 0; i < n; i++) subs[i].got = 0;
            buf_reset(&msg);
            status_update(&msg, id, from, task);
            double t0 = bench_now();
            if (write(send.fd, msg.data, msg.len) != (ssize_t)msg.len) bench_die("write status update");
            int left = n;
            double d = t0 + 30;
            while (left > 0) {
                if (bench_now() > d) bench_die("event %d: %d of %d subscribers never saw it", e, left, n);
                if (poll(pf, (nfds_t)n, 1000) <= 0) continue;
                for (int i = 0; i < n; i++)
                    if (pf[i].revents && !subs[i].got) {
                        if (sub_read(&subs[i], id) < 0) bench_die("subscriber %d: stream ended", i);
                        if (subs[i].got) left--;
                    } else if (pf[i].revents) {
                        sub_read(&subs[i], "\x01");      /* drain (heartbeats) */
                    }
            }
            lat[e] = bench_now() - t0;
            if (httpc_recv(&send, &r, 0, 10000) < 0 || r.status != 202) bench_die("status update not accepted");
        }
        double cpu = proc_cpu_secs(mpid) - cpu0;
        stats_sort(lat, (size_t)events);
        printf("fanout_%d_p50_ms %.2f\nfanout_%d_p99_ms %.2f\nfanout_%d_cpu_us_per_event %.0f\n", n,
               stats_pct(lat, (size_t)events, 50) * 1e3, n, stats_pct(lat, (size_t)events, 99) * 1e3, n,
               cpu / events * 1e6);
        fflush(stdout);
        for (int i = 0; i < n; i++) httpc_close(&subs[i].c);
        free(subs);
        free(pf);
        free(lat);
        buf_free(&msg);
        p = strchr(p, ',');
        if (!p) break;
        p++;
    }
    httpc_close(&send);
    buf_free(&r.body);
    sim_stop(&sm);
    bench_stop(mpid);
    bench_rmtree(dir);
    return 0;
}
