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

#define SEND_WINDOW (4u << 20)      /* registration bytes queued ahead of the socket */
#define MAX_IN_CONNS 64

struct in_conn {
    int fd;
    struct buf in;
    int in_body;                     /* reading a body */
    int chunked;
    uint64_t left;                   /* Content-Length bytes still to skip */
    struct http_chunked ck;
    long agent;                      /* the message's addressee, slave(N) */
    char name[80];
};

struct sim {
    const char *mhost;
    int mport;
    size_t agents, fw, tasks, cfw, ctasks;
    int lfd, port;
    int out_fd;
    struct buf out;
    size_t out_off;
    size_t next;                     /* next agent to send */
    uint8_t *registered;
    atomic_size_t nregistered;
    atomic_ulong pongs;
    atomic_int stop;
    double t_start, t_done;
    struct in_conn conns[MAX_IN_CONNS];
    size_t nconns;
    uint64_t task_seq;
    char user[64];
    pthread_t thread;
};

/* ==== Messages ========================================================== */

static void put_id(struct buf *b, uint32_t tag, const char *v)
{
    size_t k = pbw_begin(b, tag);
    pbw_put_str(b, 1, v);
    pbw_end(b, k);
}

static void put_scalar(struct buf *b, uint32_t tag, const char *name, double v)
{
    size_t k = pbw_begin(b, tag);
    pbw_put_str(b, 1, name);
    pbw_put_uint(b, 2, 0);                  /* SCALAR */
    size_t s = pbw_begin(b, 3);
    pbw_put_double(b, 1, v);
    pbw_end(b, s);
    pbw_end(b, k);
}

/* FrameworkInfo as upstream's DEFAULT_FRAMEWORK_INFO, with an id. */
static void put_framework_info(struct sim *s, struct buf *b, uint32_t tag, const char *fid)
{
    size_t k = pbw_begin(b, tag);
    pbw_put_str(b, 1, s->user);
    pbw_put_str(b, 2, "default");
    put_id(b, 3, fid);
    pbw_put_double(b, 4, 0);
    pbw_put_str(b, 8, "test-principal");
    size_t c = pbw_begin(b, 10);
    pbw_put_uint(b, 1, 6);                  /* MULTI_ROLE */
    pbw_end(b, c);
    c = pbw_begin(b, 10);
    pbw_put_uint(b, 1, 7);                  /* RESERVATION_REFINEMENT */
    pbw_end(b, c);
    pbw_put_str(b, 12, "*");
    pbw_end(b, k);
}

/* A Task as protobuf::createTask(createTaskInfo(...), state, framework) makes it. */
static void put_task(struct sim *s, struct buf *b, uint32_t tag, const char *agent, const char *fid, int state)
{
    char id[48];
    uint64_t n = ++s->task_seq;
    snprintf(id, sizeof id, "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)(n * 2654435761u), (unsigned)(n & 0xffff),
             (unsigned)((n >> 4) & 0xfff), (unsigned)((n >> 8) & 0xfff), (unsigned long long)n);
    size_t k = pbw_begin(b, tag);
    pbw_put_str(b, 1, id);                  /* name: the id, as createTask does */
    put_id(b, 2, id);
    put_id(b, 3, fid);
    put_id(b, 5, agent);
    pbw_put_uint(b, 6, (uint64_t)state);
    put_scalar(b, 7, "cpus", 0.1);
    put_scalar(b, 7, "mem", 5);
    size_t l = pbw_begin(b, 11);
    for (int i = 0; i < 10; i++) {
        char key[16], val[16];
        snprintf(key, sizeof key, "key%d", i);
        snprintf(val, sizeof val, "value%d", i);
        size_t e = pbw_begin(b, 1);
        pbw_put_str(b, 1, key);
        pbw_put_str(b, 2, val);
        pbw_end(b, e);
    }
    pbw_end(b, l);
    pbw_end(b, k);
}

static void build_reregister(struct sim *s, size_t i, struct buf *b)
{
    char agent[32], fid[32];
    snprintf(agent, sizeof agent, "agent%zu", i);
    size_t k = pbw_begin(b, 2);             /* slave: SlaveInfo */
    pbw_put_str(b, 1, agent);               /* hostname: the id, as upstream simulates */
    put_scalar(b, 3, "cpus", 20);
    put_scalar(b, 3, "mem", 10240);
    put_id(b, 6, agent);
    pbw_end(b, k);
    pbw_put_str(b, 6, "1.12.0");            /* version */
    size_t f = 0;
    for (; f < s->fw; f++) {
        snprintf(fid, sizeof fid, "framework%zu", f);
        put_framework_info(s, b, 8, fid);
        for (size_t t = 0; t < s->tasks; t++) put_task(s, b, 3, agent, fid, 1);     /* TASK_RUNNING */
    }
    for (; f < s->fw + s->cfw; f++) {
        snprintf(fid, sizeof fid, "framework%zu", f);
        size_t a = pbw_begin(b, 5);         /* completed_frameworks: Archive.Framework */
        put_framework_info(s, b, 1, fid);
        for (size_t t = 0; t < s->ctasks; t++) put_task(s, b, 3, agent, fid, 2);    /* TASK_FINISHED */
        pbw_end(b, a);
    }
}

/* One libprocess message from slave(i) to the master. */
static void queue_message(struct sim *s, long i, const char *name, const struct buf *body)
{
    char from[96];
    snprintf(from, sizeof from, "slave(%ld)@127.0.0.1:%d", i, s->port);
    buf_printf(&s->out, "POST /master/mesos.internal.%s HTTP/1.1\r\nUser-Agent: libprocess/%s\r\n"
                        "Libprocess-From: %s\r\nConnection: Keep-Alive\r\nHost: %s:%d\r\n"
                        "Content-Length: %zu\r\n\r\n", name, from, from, s->mhost, s->mport, body ? body->len : 0);
    if (body) buf_append(&s->out, body->data, body->len);
}

/* ==== The simulated agents' event loop =================================== */

static void on_message(struct sim *s, struct in_conn *c)
{
    if (c->agent < 0 || (size_t)c->agent >= s->agents) return;
    if (strcmp(c->name, "SlaveReregisteredMessage") == 0 || strcmp(c->name, "SlaveRegisteredMessage") == 0) {
        if (!s->registered[c->agent]) {
            s->registered[c->agent] = 1;
            if (atomic_load(&s->nregistered) + 1 == s->agents) s->t_done = bench_now();
            atomic_fetch_add(&s->nregistered, 1);     /* after t_done: main reads it then */
        }
    } else if (strcmp(c->name, "PingSlaveMessage") == 0) {
        queue_message(s, c->agent, "PongSlaveMessage", NULL);
        atomic_fetch_add(&s->pongs, 1);
    }
}

/* Parse messages POSTed to us: "/slave(N)/mesos.internal.Name". Real
 * libprocess sends no answer to a libprocess message, and neither do we. */
static int conn_read(struct sim *s, struct in_conn *c)
{
    if (buf_reserve(&c->in, 256 << 10) < 0) return -1;
    ssize_t n = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
    if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (n == 0) return -1;
    c->in.len += (size_t)n;
    for (;;) {
        if (!c->in_body) {
            struct http_req req;
            int h = http_parse_request(c->in.data, c->in.len, 0, &req);
            if (h == HTTP_INCOMPLETE) return 0;
            if (h < 0) return -1;
            struct http_framing fr;
            if (http_framing(&req, &fr) < 0) return -1;
            c->agent = -1;
            c->name[0] = 0;
            const char *p = req.path, *end = req.path + req.path_len;
            if (req.path_len > 8 && memcmp(p, "/slave(", 7) == 0) {
                c->agent = strtol(p + 7, NULL, 10);
                const char *dot = memmem(p, req.path_len, "/mesos.internal.", 16);
                if (dot) snprintf(c->name, sizeof c->name, "%.*s", (int)(end - dot - 16), dot + 16);
            }
            c->chunked = fr.chunked;
            c->left = fr.has_length ? fr.content_length : 0;
            memset(&c->ck, 0, sizeof c->ck);
            buf_consume(&c->in, (size_t)h);
            c->in_body = 1;
        }
        if (c->chunked) {
            size_t k = c->in.len;
            ssize_t rc = http_decode_chunked(&c->ck, c->in.data, &k);
            if (rc == HTTP_BAD) return -1;
            if (rc == HTTP_INCOMPLETE) { c->in.len = 0; return 0; }
            memmove(c->in.data, c->in.data + k, (size_t)rc);
            c->in.len = (size_t)rc;
        } else {
            size_t k = c->left < c->in.len ? (size_t)c->left : c->in.len;
            buf_consume(&c->in, k);
            c->left -= k;
            if (c->left) return 0;
        }
        c->in_body = 0;
        on_message(s, c);
    }
}

static void fill_window(struct sim *s)
{
    struct buf body = {0};
    while (s->next < s->agents && s->out.len - s->out_off < SEND_WINDOW) {
        buf_reset(&body);
        build_reregister(s, s->next, &body);
        queue_message(s, (long)s->next, "ReregisterSlaveMessage", &body);
        s->next++;
    }
    buf_free(&body);
}

static void *sim_run(void *arg)
{
    struct sim *s = arg;
    char drain[65536];
    s->t_start = bench_now();
    while (!atomic_load(&s->stop)) {
        fill_window(s);
        struct pollfd p[2 + MAX_IN_CONNS];
        p[0] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
        p[1] = (struct pollfd){ .fd = s->out_fd, .events = POLLIN | (s->out.len > s->out_off ? POLLOUT : 0) };
        for (size_t i = 0; i < s->nconns; i++) p[2 + i] = (struct pollfd){ .fd = s->conns[i].fd, .events = POLLIN };
        int k = poll(p, 2 + s->nconns, 100);
        if (k <= 0) continue;
        if (p[0].revents & POLLIN) {
            int fd;
            while ((fd = net_accept(s->lfd, NULL, 0)) >= 0) {
                if (s->nconns == MAX_IN_CONNS) { close(fd); continue; }
                struct in_conn *c = &s->conns[s->nconns++];
                memset(c, 0, sizeof *c);
                c->fd = fd;
                c->in.max = 64u << 20;
            }
        }
        if (p[1].revents & POLLIN) {           /* the master's 202s: read and drop */
            ssize_t n = read(s->out_fd, drain, sizeof drain);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                bench_die("the master closed the agents' connection");
        }
        if (p[1].revents & POLLOUT) {
            ssize_t n = write(s->out_fd, s->out.data + s->out_off, s->out.len - s->out_off);
            if (n > 0) s->out_off += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EINTR) bench_die("write to master: %s", strerror(errno));
            if (s->out_off == s->out.len) { buf_reset(&s->out); s->out_off = 0; }
            else if (s->out_off > (8u << 20)) { buf_consume(&s->out, s->out_off); s->out_off = 0; }
        }
        for (size_t i = 0; i < s->nconns; i++) {
            if (!(p[2 + i].revents & (POLLIN | POLLERR | POLLHUP))) continue;
            if (conn_read(s, &s->conns[i]) < 0) {
                close(s->conns[i].fd);
                buf_free(&s->conns[i].in);
                s->conns[i] = s->conns[--s->nconns];
                p[2 + i] = p[2 + s->nconns];   /* keep revents aligned with the moved conn */
                i--;
            }
        }
    }
    return NULL;
}

static void sim_start(struct sim *s)
{
    char err[NET_ERR_LEN];
    s->lfd = net_listen("127.0.0.1", 0, 128, err);
    if (s->lfd < 0) bench_die("listen: %s", err);
    s->port = net_local_port(s->lfd);
    struct httpc c;
    int rc = httpc_connect(&c, s->mhost, s->mport);
    if (rc < 0) bench_die("connect to the master %s:%d: %s", s->mhost, s->mport, strerror(-rc));
    s->out_fd = c.fd;
    net_set_nonblock(s->out_fd);
    int sz = 4 << 20;
    setsockopt(s->out_fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    s->out.max = 1u << 30;
    s->registered = calloc(s->agents, 1);
    const char *u = getenv("USER");
    snprintf(s->user, sizeof s->user, "%s", u && *u ? u : "root");
    if (pthread_create(&s->thread, NULL, sim_run, s) != 0) bench_die("pthread_create");
}

static void sim_stop(struct sim *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    close(s->out_fd);
    close(s->lfd);
    for (size_t i = 0; i < s->nconns; i++) { close(s->conns[i].fd); buf_free(&s->conns[i].in); }
    buf_free(&s->out);
    free(s->registered);
}

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
        "  --timeout=SECS     for the whole cluster to register (default 900)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct sim s = {0};
    const char *master = NULL, *clients = NULL;
    long mpid = 0;
    int requests = 5, polls = 50, timeout = 900;
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
        char *args[] = { (char *)bin, "master", "--ip=127.0.0.1", "--port=0", wd, NULL };
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
    printf("register_s           %.2f\n", s.t_done - s.t_start);
    if (mpid) {
        printf("register_master_cpu_s %.2f\n", proc_cpu_secs((pid_t)mpid) - cpu0);
        printf("master_rss_kb        %ld\n", proc_rss_kb((pid_t)mpid));
    }
    fflush(stdout);

    if (clients) measure_parallel(&s, clients, polls);
    else measure_formats(&s, requests);
    if (mpid) {
        printf("master_rss_after_kb  %ld\nmaster_peak_rss_kb   %ld\n", proc_rss_kb((pid_t)mpid),
               proc_hwm_kb((pid_t)mpid));
    }
    printf("pongs                %lu\n", (unsigned long)atomic_load(&s.pongs));
    sim_stop(&s);
    if (own) {
        bench_stop(own);
        if (!getenv("BENCH_KEEP")) {        /* the master's log stays with BENCH_KEEP=1 */
            unlink(logfile);
            rmdir(dir);
        }
    }
    return 0;
}
