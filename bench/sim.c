/* sim.c -- simulated agents for the bench tools (see sim.h).
 *
 * Every simulated agent re-registers over the real libprocess wire with a
 * ReregisterSlaveMessage carrying its frameworks and tasks, built as
 * upstream's master benchmarks build them (each task with cpus:0.1;mem:5
 * and ten labels). All of them share one listening socket and one
 * connection to the master (libprocess also multiplexes its processes over
 * one socket per peer), and they answer pings so they stay registered. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common.h"
#include "net.h"
#include "pbw.h"
#include "sim.h"

/* ==== Messages ========================================================== */

void sim_task_id(uint64_t n, char *id, size_t len)
{
    snprintf(id, len, "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)(n * 2654435761u), (unsigned)(n & 0xffff),
             (unsigned)((n >> 4) & 0xfff), (unsigned)((n >> 8) & 0xfff), (unsigned long long)n);
}

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
    sim_task_id(++s->task_seq, id, sizeof id);
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

/* Queue registrations while the window has room. Once all are sent, an
 * agent that has not heard back after RETRY_SECS without progress sends
 * again, as a real agent retries (a reply can be lost with a connection). */
#define RETRY_SECS 10
static void fill_window(struct sim *s)
{
    struct buf body = {0};
    size_t done = atomic_load(&s->nregistered);
    double now = bench_now();
    if (done != s->last_done) { s->last_done = done; s->t_progress = now; }
    if (s->next == s->agents && done < s->agents && now - s->t_progress > RETRY_SECS && s->out.len == s->out_off) {
        s->next = 0;                                 /* a new round over the silent ones */
        s->t_progress = now;
    }
    while (s->next < s->agents && s->out.len - s->out_off < SEND_WINDOW) {
        if (s->registered[s->next]) { s->next++; continue; }
        if (s->sent[s->next]) s->resent++;
        s->sent[s->next] = 1;
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

void sim_start(struct sim *s)
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
    s->sent = calloc(s->agents, 1);
    const char *u = getenv("USER");
    snprintf(s->user, sizeof s->user, "%s", u && *u ? u : "root");
    if (pthread_create(&s->thread, NULL, sim_run, s) != 0) bench_die("pthread_create");
}

void sim_stop(struct sim *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    close(s->out_fd);
    close(s->lfd);
    for (size_t i = 0; i < s->nconns; i++) { close(s->conns[i].fd); buf_free(&s->conns[i].in); }
    buf_free(&s->out);
    free(s->registered);
    free(s->sent);
}

