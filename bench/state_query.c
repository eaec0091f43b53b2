/* state_query.c -- GET_STATE under a large simulated cluster, the way
 * Mesos' MasterStateQuery_BENCHMARK_Test measures itself.
 *
 *   state_query [options] AGENTS FRAMEWORKS TASKS COMPLETED_FRAMEWORKS COMPLETED_TASKS
 *
 * Simulated agents re-register with a master over the real libprocess wire:
 * each sends a ReregisterSlaveMessage carrying FRAMEWORKS FrameworkInfos
 * with TASKS running tasks each, and COMPLETED_FRAMEWORKS archived
 * frameworks with COMPLETED_TASKS finished tasks each (every task with
 * cpus:0.1;mem:5 and ten labels, as upstream's test builds them). All
 * simulated agents share one listening socket and one connection to the
 * master (libprocess also multiplexes its processes over one socket per
 * peer); they answer pings, so they stay registered while we measure.
 * Then GET_STATE is timed end to end in JSON, JSON+gzip and protobuf, and
 * the master's RSS is read from /proc.
 *
 * With --clients=1,2,4 it instead runs Mesos 1.7's parallel benchmark:
 * that many clients at once, each polling GET_STATE --polls times.
 *
 * Output: "key value" lines, easy to read and to grep. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common.h"
#include "net.h"
#include "pbw.h"
#include "sim.h"

/* ==== GET_STATE ========================================================= */

static const char CALL_JSON[] = "{\"type\":\"GET_STATE\"}";
static const uint8_t CALL_PB[] = { 0x08, 0x09 };                /* type: GET_STATE */

struct fmt { const char *name, *ctype, *accept; int gzip; };
static const struct fmt FMTS[] = {
    { "json", "application/json", "application/json", 0 },
    { "json_gzip", "application/json", "application/json", 1 },
    { "protobuf", "application/x-protobuf", "application/x-protobuf", 0 },
};

/* One GET_STATE on c: seconds, or < 0 on failure; bytes received into *bytes. */
static double get_state(struct httpc *c, const struct fmt *f, struct httpc_resp *r)
{
    int pb = strcmp(f->name, "protobuf") == 0;
    double t0 = bench_now();
    int rc = httpc_post(c, "/api/v1", f->ctype, f->accept, f->gzip, pb ? (const void *)CALL_PB : CALL_JSON,
                        pb ? sizeof CALL_PB : strlen(CALL_JSON), r, 600000);
    double t = bench_now() - t0;
    if (rc < 0 || r->status != 200) return -1;
    return t;
}

static size_t count_field(const void *p, size_t n, uint32_t tag)
{
    struct pbw_reader r;
    struct pbw_field f;
    size_t k = 0;
    pbw_reader_init(&r, p, n);
    while (pbw_next(&r, &f) == 1) k += f.tag == tag;
    return k;
}

/* Counts in a protobuf GET_STATE answer, to check what the master kept. */
static void print_state_counts(const struct buf *b)
{
    struct pbw_field gs, sub;
    if (pbw_find(b->data, b->len, 9, &gs) != 1) { printf("state_counts         unreadable\n"); return; }
    size_t tasks = 0, completed = 0, unreachable = 0, fws = 0, cfws = 0, agents = 0, execs = 0;
    if (pbw_find(gs.p, gs.n, 1, &sub) == 1) {
        tasks = count_field(sub.p, sub.n, 2);
        completed = count_field(sub.p, sub.n, 3);
        unreachable = count_field(sub.p, sub.n, 5);
    }
    if (pbw_find(gs.p, gs.n, 2, &sub) == 1) execs = count_field(sub.p, sub.n, 1);
    if (pbw_find(gs.p, gs.n, 3, &sub) == 1) {
        fws = count_field(sub.p, sub.n, 1);
        cfws = count_field(sub.p, sub.n, 2);
    }
    if (pbw_find(gs.p, gs.n, 4, &sub) == 1) agents = count_field(sub.p, sub.n, 1);
    printf("state_tasks          %zu\nstate_completed_tasks %zu\nstate_unreachable    %zu\n"
           "state_frameworks     %zu\nstate_completed_fws  %zu\nstate_agents         %zu\nstate_executors      %zu\n",
           tasks, completed, unreachable, fws, cfws, agents, execs);
}

static void measure_formats(struct sim *s, int requests)
{
    struct httpc c;
    if (httpc_connect(&c, s->mhost, s->mport) < 0) bench_die("connect for GET_STATE");
    struct httpc_resp r = {0};
    r.body.max = (size_t)2 << 30;
    for (size_t i = 0; i < sizeof FMTS / sizeof *FMTS; i++) {
        double *t = calloc((size_t)requests, sizeof *t);
        size_t bytes = 0;
        for (int k = 0; k < requests; k++) {
            t[k] = get_state(&c, &FMTS[i], &r);
            if (t[k] < 0) bench_die("GET_STATE (%s) failed: status %d", FMTS[i].name, r.status);
            bytes = r.body.len;
            if (FMTS[i].gzip && !r.gzip) bench_die("GET_STATE with Accept-Encoding: gzip came back uncompressed");
        }
        stats_sort(t, (size_t)requests);
        const char *n = FMTS[i].name;
        char key[4][48];
        snprintf(key[0], sizeof key[0], "%s_min_ms", n);
        snprintf(key[1], sizeof key[1], "%s_median_ms", n);
        snprintf(key[2], sizeof key[2], "%s_max_ms", n);
        snprintf(key[3], sizeof key[3], "%s_bytes", n);
        printf("%-20s %.1f\n%-20s %.1f\n%-20s %.1f\n%-20s %zu\n", key[0], t[0] * 1e3, key[1],
               stats_pct(t, (size_t)requests, 50) * 1e3, key[2], t[requests - 1] * 1e3, key[3], bytes);
        if (strcmp(FMTS[i].name, "protobuf") == 0) print_state_counts(&r.body);
        free(t);
        fflush(stdout);
    }
    buf_free(&r.body);
    httpc_close(&c);
}

/* ==== Parallel clients (Mesos 1.7) ====================================== */

struct client { struct sim *s; int polls; double *t; int failed; };

static void *client_run(void *arg)
{
    struct client *cl = arg;
    struct httpc c;
    struct httpc_resp r = {0};
    if (httpc_connect(&c, cl->s->mhost, cl->s->mport) < 0) { cl->failed = 1; return NULL; }
    for (int i = 0; i < cl->polls; i++)
        if ((cl->t[i] = get_state(&c, &FMTS[0], &r)) < 0) { cl->failed = 1; break; }
    buf_free(&r.body);
    httpc_close(&c);
    return NULL;
}

static void measure_parallel(struct sim *s, const char *list, int polls)
{
    for (const char *p = list; *p;) {
        int n = atoi(p);
        if (n < 1 || n > 1024) bench_die("bad --clients value");
        struct client *cl = calloc((size_t)n, sizeof *cl);
        pthread_t *th = calloc((size_t)n, sizeof *th);
        double *all = calloc((size_t)n * (size_t)polls, sizeof *all);
        double t0 = bench_now();
        for (int i = 0; i < n; i++) {
            cl[i] = (struct client){ s, polls, all + (size_t)i * (size_t)polls, 0 };
            pthread_create(&th[i], NULL, client_run, &cl[i]);
        }
        for (int i = 0; i < n; i++) {
            pthread_join(th[i], NULL);
            if (cl[i].failed) bench_die("a GET_STATE client failed");
        }
        double wall = bench_now() - t0;
        size_t m = (size_t)n * (size_t)polls;
        stats_sort(all, m);
        printf("parallel_%d_mean_ms %.1f\nparallel_%d_p99_ms %.1f\nparallel_%d_rps %.1f\n",
               n, stats_mean(all, m) * 1e3, n, stats_pct(all, m, 99) * 1e3, n, (double)m / wall);
        fflush(stdout);
        free(cl);
        free(th);
        free(all);
        p = strchr(p, ',');
        if (!p) break;
        p++;
    }
}

/* ==== The allocator's cycle (frameworks + GET_METRICS) ================== */

/* The master's GET_METRICS answer (JSON, NUL-terminated) into body. 0 or -1. */
static int get_metrics(struct sim *s, struct buf *body)
{
    struct httpc c;
    struct httpc_resp r = {0};
    const char *call = "{\"type\":\"GET_METRICS\",\"get_metrics\":{}}";
    int rc = -1;
    if (httpc_connect(&c, s->mhost, s->mport) == 0) {
        if (httpc_post(&c, "/api/v1", "application/json", "application/json", 0, call, strlen(call), &r, 30000) == 0 &&
            r.status == 200 && buf_putc(&r.body, 0) == 0) {
            *body = r.body;
            memset(&r.body, 0, sizeof r.body);
            rc = 0;
        }
        httpc_close(&c);
    }
    buf_free(&r.body);
    return rc;
}

/* Subscribe n frameworks over the v1 scheduler API and keep their streams
 * open (offers are read and left alone), let the allocator run for `secs`,
 * then print every allocator/mesos/allocation_run_ms* metric. */
static void measure_allocator(struct sim *s, int n, int secs)
{
    struct httpc *fw = calloc((size_t)n, sizeof *fw);
    struct httpc_resp r = {0};
    for (int i = 0; i < n; i++) {
        char body[160];
        int len = snprintf(body, sizeof body, "{\"type\":\"SUBSCRIBE\",\"subscribe\":{\"framework_info\":"
                           "{\"user\":\"root\",\"name\":\"bench-%d\"}}}", i);
        if (httpc_connect(&fw[i], s->mhost, s->mport) < 0 ||
            httpc_send(&fw[i], "POST", "/api/v1/scheduler", "Content-Type: application/json\r\n", body, (size_t)len) < 0 ||
            httpc_recv(&fw[i], &r, 1, 30000) < 0 || r.status != 200)
            bench_die("framework %d could not subscribe (%d)", i, r.status);
    }
    struct buf sink = {0};
    for (double end = bench_now() + secs; bench_now() < end;)
        for (int i = 0; i < n; i++) {             /* drain the streams so none is cut off */
            buf_reset(&sink);
            if (httpc_stream_read(&fw[i], &sink, 1) < 0) bench_die("framework %d stream ended", i);
        }
    if (get_metrics(s, &r.body) < 0) bench_die("GET_METRICS failed");
    int found = 0;
    for (const char *p = r.body.data; (p = strstr(p, "\"allocator/mesos/allocation_run_ms")); p++) {
        const char *q = strchr(p + 1, '"'), *v = strstr(p, "\"value\":");
        if (!q || !v) break;
        printf("%.*s %.3f\n", (int)(q - p - 1), p + 1, atof(v + 8));
        found = 1;
    }
    if (!found) printf("allocation_run_ms pending (the master has no allocator/mesos/allocation_run_ms metric)\n");
    printf("frameworks           %d\n", n);
    for (int i = 0; i < n; i++) httpc_close(&fw[i]);
    free(fw);
    buf_free(&r.body);
    buf_free(&sink);
}

/* ==== Partition: the cluster goes unreachable and comes back =========== */

static double metric_of(struct sim *s, const char *name)
{
    struct buf body = {0};
    double v = -1;
    if (get_metrics(s, &body) == 0) {
        char key[128];
        snprintf(key, sizeof key, "\"name\":\"%s\"", name);
        const char *p = strstr(body.data, key), *q = p ? strstr(p, "\"value\":") : NULL;
        if (q) v = atof(q + 8);
    }
    buf_free(&body);
    return v;
}

/* The simulated agents' connection goes away; once the master has marked
 * every agent unreachable (it was started with short ping timeouts), they
 * re-register from a new address with the same ids and tasks, as after a
 * network partition. Timed: from the first message to the last answer. */
static void measure_partition(struct sim *s, pid_t mpid, int timeout)
{
    sim_stop(s);
    double deadline = bench_now() + timeout, t0 = bench_now(), u = 0;
    while ((u = metric_of(s, "master/slaves_unreachable")) < (double)s->agents) {
        if (bench_now() > deadline) bench_die("only %.0f of %zu agents unreachable in %d s", u, s->agents, timeout);
        usleep(200000);
    }
    printf("partition_unreachable_s %.2f\n", bench_now() - t0);
    atomic_store(&s->stop, 0);
    atomic_store(&s->nregistered, 0);
    s->next = s->resent = s->last_done = s->nconns = 0;
    s->task_seq = 0;
    memset(&s->out, 0, sizeof s->out);
    s->out_off = 0;
    double cpu0 = mpid ? proc_cpu_secs(mpid) : 0;
    sim_start(s);
    while (atomic_load(&s->nregistered) < s->agents) {
        if (bench_now() > deadline)
            bench_die("only %zu of %zu agents re-registered in %d s", atomic_load(&s->nregistered), s->agents, timeout);
        usleep(2000);
    }
    printf("partition_reregister_s %.2f\n", s->t_done - s->t_start);
    if (mpid) printf("partition_master_cpu_s %.2f\n", proc_cpu_secs(mpid) - cpu0);
    printf("partition_unreachable_after %.0f\n", metric_of(s, "master/slaves_unreachable"));
}

/* ==== main ============================================================== */

static void usage(void)
{
    fprintf(stderr,
        "usage: state_query [options] AGENTS FRAMEWORKS TASKS COMPLETED_FRAMEWORKS COMPLETED_TASKS\n"
        "  e.g. state_query 10000 5 2 5 2   (upstream's 10000x5x2x5x2)\n"
        "  --master=IP:PORT   use a running master (default: start $MESOS_API or ./mesos_api master)\n"
        "  --master-pid=PID   that master's pid, for its RSS\n"
        "  --requests=N       GET_STATE requests per encoding (default 5)\n"
        "  --clients=1,2,4    instead: parallel clients polling GET_STATE (JSON)\n"
        "  --polls=N          requests per parallel client (default 50)\n"
        "  --frameworks=N     instead: subscribe N frameworks, run the allocator for --seconds,\n"
        "                     print allocator/mesos/allocation_run_ms from GET_METRICS\n"
        "  --seconds=N        (default 5)\n"
        "  --partition        instead: the agents go unreachable and re-register; timed\n"
        "  --timeout=SECS     for the whole cluster to register (default 900)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct sim s = {0};
    const char *master = NULL, *clients = NULL;
    long mpid = 0;
    int requests = 5, polls = 50, timeout = 900, frameworks = 0, seconds = 5, partition = 0;
    size_t nums[5];
    int nn = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--master=", 9) == 0) master = a + 9;
        else if (strncmp(a, "--master-pid=", 13) == 0) mpid = atol(a + 13);
        else if (strncmp(a, "--requests=", 11) == 0) requests = atoi(a + 11);
        else if (strncmp(a, "--clients=", 10) == 0) clients = a + 10;
        else if (strncmp(a, "--polls=", 8) == 0) polls = atoi(a + 8);
        else if (strncmp(a, "--timeout=", 10) == 0) timeout = atoi(a + 10);
        else if (strncmp(a, "--frameworks=", 13) == 0) frameworks = atoi(a + 13);
        else if (strncmp(a, "--seconds=", 10) == 0) seconds = atoi(a + 10);
        else if (strcmp(a, "--partition") == 0) partition = 1;
        else if (a[0] >= '0' && a[0] <= '9' && nn < 5) nums[nn++] = (size_t)strtoull(a, NULL, 10);
        else usage();
    }
    if (nn != 5 || nums[0] == 0 || requests < 1 || polls < 1) usage();
    s.agents = nums[0]; s.fw = nums[1]; s.tasks = nums[2]; s.cfw = nums[3]; s.ctasks = nums[4];

    char logfile[256] = "", dir[] = "/tmp/mesos_api-bench-XXXXXX";
    pid_t own = 0;
    static char host[64] = "127.0.0.1";
    if (master) {
        const char *colon = strrchr(master, ':');
        if (!colon) usage();
        snprintf(host, sizeof host, "%.*s", (int)(colon - master), master);
        s.mport = atoi(colon + 1);
    } else {
        if (!mkdtemp(dir)) bench_die("mkdtemp");
        snprintf(logfile, sizeof logfile, "%s/master.log", dir);
        char wd[300];
        snprintf(wd, sizeof wd, "--work_dir=%s", dir);
        const char *bin = bench_binary();
        /* --partition: agents that stop answering are marked unreachable
         * after two missed pings of a second. */
        char *args[] = { (char *)bin, "master", "--ip=127.0.0.1", "--port=0", wd,
                         partition ? "--agent_ping_timeout=1secs" : NULL, "--max_agent_ping_timeouts=2", NULL };
        own = bench_spawn(bin, args, logfile, &s.mport);
        mpid = own;
    }
    s.mhost = host;

    printf("config               %zux%zux%zux%zux%zu\n", s.agents, s.fw, s.tasks, s.cfw, s.ctasks);
    printf("running_tasks        %zu\ncompleted_tasks_sent %zu\n", s.agents * s.fw * s.tasks, s.agents * s.cfw * s.ctasks);
    long rss0 = mpid ? proc_rss_kb((pid_t)mpid) : -1;
    double cpu0 = mpid ? proc_cpu_secs((pid_t)mpid) : 0;
    printf("master_idle_rss_kb   %ld\n", rss0);
    fflush(stdout);

    sim_start(&s);
    double deadline = bench_now() + timeout, last = bench_now();
    while (atomic_load(&s.nregistered) < s.agents) {
        if (bench_now() > deadline)
            bench_die("only %zu of %zu agents registered in %d s", atomic_load(&s.nregistered), s.agents, timeout);
        if (bench_now() - last > 10) {
            fprintf(stderr, "state_query: %zu of %zu agents registered\n", atomic_load(&s.nregistered), s.agents);
            last = bench_now();
        }
        usleep(2000);
    }
    printf("register_s           %.2f\nregister_resent      %zu\n", s.t_done - s.t_start, s.resent);
    if (mpid) {
        printf("register_master_cpu_s %.2f\n", proc_cpu_secs((pid_t)mpid) - cpu0);
        printf("master_rss_kb        %ld\n", proc_rss_kb((pid_t)mpid));
    }
    fflush(stdout);

    if (partition) measure_partition(&s, (pid_t)mpid, timeout);
    else if (frameworks > 0) measure_allocator(&s, frameworks, seconds);
    else if (clients) measure_parallel(&s, clients, polls);
    else measure_formats(&s, requests);
    if (mpid) {
        printf("master_rss_after_kb  %ld\nmaster_peak_rss_kb   %ld\n", proc_rss_kb((pid_t)mpid),
               proc_hwm_kb((pid_t)mpid));
    }
    printf("pongs                %lu\n", (unsigned long)atomic_load(&s.pongs));
    sim_stop(&s);
    if (own) {
        bench_stop(own);
        bench_rmtree(dir);                  /* the master's log stays with BENCH_KEEP=1 */
    }
    return 0;
}
