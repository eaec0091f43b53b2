/* wire.c -- libprocess messages over HTTP (see wire.h).
 *
 * Outbound: one persistent connection per peer address, found through a
 * small hash table, with a bounded queue of already-framed requests. The
 * peer's 202 answers are read and discarded; a peer that closes or fails
 * loses what was queued for it (libprocess does the same: messages are not
 * retried by the transport). Inbound: a server route that answers 202 and
 * hands the message to the process. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "log.h"
#include "net.h"
#include "wire.h"

#define NBUCKETS 4096
#define CONNECT_TIMEOUT_MS 5000

struct peer {
    struct wire *w;
    struct peer *next;          /* hash chain */
    char key[300];              /* "host:port" */
    char host[256];
    int port;
    struct loop_fd lfd;         /* lfd.fd < 0 when not connected */
    struct loop_timer timer;    /* connect timeout */
    int connecting;
    struct buf out;
    size_t out_off;
    uint64_t queued;            /* messages in out */
};

struct wire {
    struct loop *loop;
    struct upid self;
    char self_str[512];
    wire_msg_fn fn;
    void *arg;
    struct peer *buckets[NBUCKETS];
    struct wire_stats stats;
};

/* ==== UPIDs ============================================================= */

int upid_parse(const char *s, size_t n, struct upid *u)
{
    const char *at = memchr(s, '@', n);
    if (!at || at == s) return -1;
    size_t idn = (size_t)(at - s);
    const char *h = at + 1, *end = s + n, *colon;
    size_t hn;
    if (h < end && *h == '[') {                 /* [IPv6]:port */
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (!rb || rb + 1 >= end || rb[1] != ':') return -1;
        hn = (size_t)(rb - h - 1);
        h++;
        colon = rb + 1;
    } else {
        colon = NULL;
        for (const char *p = end; p > h; p--)
            if (p[-1] == ':') { colon = p - 1; break; }
        if (!colon) return -1;
        hn = (size_t)(colon - h);
    }
    if (idn >= sizeof u->id || hn == 0 || hn >= sizeof u->host) return -1;
    int port = 0;
    const char *p = colon + 1;
    if (p >= end) return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') return -1;
        port = port * 10 + (*p - '0');
        if (port > 65535) return -1;
    }
    memcpy(u->id, s, idn);
    u->id[idn] = 0;
    memcpy(u->host, h, hn);
    u->host[hn] = 0;
    u->port = port;
    return 0;
}

void upid_format(const struct upid *u, char *out, size_t n)
{
    if (strchr(u->host, ':')) snprintf(out, n, "%s@[%s]:%d", u->id, u->host, u->port);
    else snprintf(out, n, "%s@%s:%d", u->id, u->host, u->port);
}

/* ==== Outbound ========================================================== */

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h % NBUCKETS;
}

static void peer_io(struct loop *l, struct loop_fd *f, int ev);

static void peer_reset(struct peer *p, const char *why)
{
    struct wire *w = p->w;
    if (p->lfd.fd >= 0) {
        loop_del(w->loop, &p->lfd);
        close(p->lfd.fd);
        p->lfd.fd = -1;
    }
    loop_timer_stop(w->loop, &p->timer);
    if (p->queued) {
        LOG_WARN("Dropped %llu message(s) to %s: %s", (unsigned long long)p->queued, p->key, why);
        w->stats.dropped += p->queued;
    }
    buf_reset(&p->out);
    p->out_off = 0;
    p->queued = 0;
    p->connecting = 0;
}

static void peer_timeout(struct loop *l, struct loop_timer *t)
{
    (void)l;
    struct peer *p = container_of(t, struct peer, timer);
    p->w->stats.connect_failures++;
    peer_reset(p, "connect timed out");
}

static void peer_flush(struct peer *p)
{
    while (p->out_off < p->out.len) {
        long n = net_write(p->lfd.fd, p->out.data + p->out_off, p->out.len - p->out_off);
        if (n == -EAGAIN) break;
        if (n < 0) { peer_reset(p, strerror((int)-n)); return; }
        p->out_off += (size_t)n;
    }
    if (p->out_off == p->out.len) {
        buf_reset(&p->out);
        p->out_off = 0;
        p->queued = 0;
    }
    loop_set(p->w->loop, &p->lfd, LOOP_READ | (p->out.len > p->out_off ? LOOP_WRITE : 0));
}

static void peer_io(struct loop *l, struct loop_fd *f, int ev)
{
    (void)l;
    struct peer *p = container_of(f, struct peer, lfd);
    if (p->connecting && (ev & (LOOP_WRITE | LOOP_ERROR))) {
        int rc = net_connect_result(f->fd);
        if (rc < 0) {
            p->w->stats.connect_failures++;
            peer_reset(p, strerror(-rc));
            return;
        }
        p->connecting = 0;
        loop_timer_stop(p->w->loop, &p->timer);
    }
    if (ev & LOOP_READ) {
        /* Answers (202 Accepted) carry nothing we need: read and drop. */
        char tmp[4096];
        for (;;) {
            long n = net_read(f->fd, tmp, sizeof tmp);
            if (n == -EAGAIN) break;
            if (n <= 0) { peer_reset(p, n == 0 ? "connection closed" : strerror((int)-n)); return; }
        }
    }
    if (!p->connecting) peer_flush(p);
}

static struct peer *peer_get(struct wire *w, const char *host, int port)
{
    char key[300];
    snprintf(key, sizeof key, "%s:%d", host, port);
    unsigned h = hash(key);
    for (struct peer *p = w->buckets[h]; p; p = p->next)
        if (strcmp(p->key, key) == 0) return p;
    struct peer *p = xcalloc(1, sizeof *p);
    p->w = w;
    snprintf(p->key, sizeof p->key, "%s", key);
    snprintf(p->host, sizeof p->host, "%s", host);
    p->port = port;
    p->lfd.fd = -1;
    p->out.max = WIRE_MAX_QUEUE;
    loop_timer_init(&p->timer, peer_timeout);
    p->next = w->buckets[h];
    w->buckets[h] = p;
    return p;
}

int wire_send(struct wire *w, const struct upid *to, const char *name, const void *body, size_t n)
{
    struct peer *p = peer_get(w, to->host, to->port);
    /* An idle connection whose peer has gone (a restarted agent) may not
     * have been noticed yet: its FIN can sit in the same poll round as the
     * message we answer. Peek before reusing it, so the message goes on a
     * fresh connection instead of into a dead one. */
    if (p->lfd.fd >= 0 && !p->connecting && p->out.len == 0) {
        char c;
        ssize_t k = recv(p->lfd.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            peer_reset(p, "connection closed");
    }
    if (p->lfd.fd < 0) {
        char err[NET_ERR_LEN];
        int fd = net_connect(to->host, to->port, err);
        if (fd < 0) {
            LOG_WARN("Cannot send %s to %s: %s", name, p->key, err);
            w->stats.connect_failures++;
            w->stats.dropped++;
            return -1;
        }
        w->stats.connects++;
        loop_add(w->loop, &p->lfd, fd, LOOP_READ | LOOP_WRITE, peer_io);
        p->connecting = 1;
        loop_timer_start(w->loop, &p->timer, CONNECT_TIMEOUT_MS);
    }
    size_t before = p->out.len;
    int rc = buf_printf(&p->out, "POST /%s/%s HTTP/1.1\r\nUser-Agent: libprocess/%s\r\n"
                                 "Libprocess-From: %s\r\nConnection: Keep-Alive\r\nHost: %s\r\n",
                        to->id, name, w->self_str, w->self_str, p->key);
    if (n) {
        /* libprocess frames the body as one chunk and the last chunk. */
        rc |= buf_printf(&p->out, "Transfer-Encoding: chunked\r\n\r\n%zx\r\n", n);
        rc |= buf_append(&p->out, body, n);
        rc |= buf_puts(&p->out, "\r\n0\r\n\r\n");
    } else {
        rc |= buf_puts(&p->out, "Content-Length: 0\r\n\r\n");
    }
    if (rc) {
        p->out.len = before;
        w->stats.dropped++;
        LOG_WARN("Dropped %s to %s: queue full", name, p->key);
        return -1;
    }
    p->queued++;
    w->stats.sent++;
    if (!p->connecting) peer_flush(p);
    return 0;
}

/* ==== Inbound =========================================================== */

static void on_message(struct request *r, void *arg)
{
    struct wire *w = arg;
    size_t n;
    const char *from = request_header(r, "Libprocess-From", &n);
    if (!from) {
        const char *ua = request_header(r, "User-Agent", &n);
        if (ua && n > 11 && memcmp(ua, "libprocess/", 11) == 0) { from = ua + 11; n -= 11; }
    }
    struct upid u;
    if (!from || upid_parse(from, n, &u) < 0 || r->head->method_len != 4 || memcmp(r->head->method, "POST", 4)) {
        server_error(r, from ? 400 : 404, NULL);
        return;
    }
    char name[256];
    size_t nl = r->path_len - 1;   /* path is "/mesos.internal.X" */
    if (nl >= sizeof name) { server_error(r, 400, NULL); return; }
    memcpy(name, r->path + 1, nl);
    name[nl] = 0;
    /* The body lives in the request: copy before answering frees it. */
    struct buf body = {0};
    buf_append(&body, r->body, r->body_len);
    server_respond(r, 202, NULL, NULL, "", 0);
    w->stats.received++;
    w->fn(w->arg, &u, name, body.data ? body.data : "", body.len);
    buf_free(&body);
}

struct wire *wire_new(struct loop *l, struct server *srv, const struct upid *self, wire_msg_fn fn, void *arg)
{
    struct wire *w = xcalloc(1, sizeof *w);
    w->loop = l;
    w->self = *self;
    upid_format(self, w->self_str, sizeof w->self_str);
    w->fn = fn;
    w->arg = arg;
    server_route(srv, "/mesos.internal.", on_message, w);
    return w;
}

void wire_free(struct wire *w)
{
    if (!w) return;
    for (int i = 0; i < NBUCKETS; i++) {
        struct peer *p = w->buckets[i];
        while (p) {
            struct peer *next = p->next;
            p->queued = 0;
            peer_reset(p, "shutting down");
            buf_free(&p->out);
            free(p);
            p = next;
        }
    }
    free(w);
}

const struct upid *wire_self(const struct wire *w) { return &w->self; }
const struct wire_stats *wire_stats(const struct wire *w) { return &w->stats; }
