/* server.c -- HTTP/1.1 connections on the event loop (see server.h).
 *
 * A connection is a small state machine: HEAD (bytes arrive until the request
 * head parses), BODY (Content-Length or chunked bytes until complete),
 * HANDLER (the handler has the request; nothing more is parsed), STREAM (a
 * chunked response that never ends), then back to HEAD for the next
 * pipelined request. Output goes to one bounded buffer per connection that is
 * written as the socket allows; a connection with too much unsent output
 * stops parsing requests until it drains (back-pressure). Errors in framing
 * are answered (400/413/414/431) with Connection: close, flushed, and closed,
 * as RFC 9112 asks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>
#include "log.h"
#include "net.h"
#include "server.h"
#include "util.h"

#define READ_CHUNK   65536
#define OUT_HIGH     (1u << 20)   /* stop parsing requests above this much unsent output */
#define GZIP_MIN     1024         /* Mesos compresses bodies of at least 1 KiB */

enum { ST_HEAD, ST_BODY, ST_HANDLER, ST_STREAM, ST_CLOSING, ST_BODYSTREAM };

struct route { char *prefix; size_t len; route_fn fn; void *arg; wants_stream_fn wants; };

struct conn {
    struct server *srv;
    struct loop_fd lfd;
    struct loop_timer timer;
    struct buf in, out;
    size_t out_off;            /* bytes of out already written */
    struct buf out2;           /* a second part of a large answer, to go after out */
    size_t out2_off;           /* where its bytes start */
    size_t prev_len;           /* for http_parse_request */
    int state;
    int close_after;           /* close once out drains */
    int eof;                   /* peer sent FIN */
    int http10;
    size_t head_len;
    struct http_req head;
    const char *head_base;     /* in.data when head was parsed: its pointers are valid while it stays */
    struct http_framing framing;
    struct http_chunked chunked;
    struct buf body;
    size_t body_scan;          /* chunked: bytes of `in` after the head already decoded */
    uint64_t body_got;         /* ST_BODYSTREAM: body bytes handed out (Content-Length) */
    int body_paused;           /* ST_BODYSTREAM: the handler asked for a pause */
    int body_end_sent;         /* ST_BODYSTREAM: on_body saw the end */
    int in_feed;               /* feed_body is on the stack */
    int gzip_ok;               /* response may be gzip'd */
    int busy;                  /* nesting depth of our own frames using c */
    int dead;                  /* closed; freed when busy drops to 0 */
    int in_advance;            /* conn_advance is on the stack */
    int draining;              /* answered and half-closed: reading until EOF */
    struct request req;
    uint64_t req_deadline;     /* when the request in progress must be complete; 0 = none */
    struct conn *prev, *next;
    char peer[64];
};

struct server {
    struct loop *loop;
    struct server_config cfg;
    struct loop_fd lfd;
    int port;
    struct route *routes;
    size_t nroutes;
    struct conn *conns;        /* all open connections */
    struct server_stats stats;
    time_t date_at;
    char date[40];
    char pid_prefix[64];
    size_t pid_prefix_len;
};

static void conn_close(struct conn *c);
static void conn_advance(struct conn *c);
static void conn_flush(struct conn *c);
static void conn_free(struct conn *c);

/* A connection may be closed deep inside a call chain (a write fails while
 * a handler answers). Each entry point brackets its work with enter/leave;
 * conn_close only marks the connection dead while it is in use, and the
 * outermost leave frees it. */
static void enter(struct conn *c) { c->busy++; }
static int leave(struct conn *c)
{
    if (--c->busy == 0 && c->dead) { conn_free(c); return -1; }
    return c->dead ? -1 : 0;
}

const char *http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Request Entity Too Large";
    case 414: return "Request-URI Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

const char *server_date(struct server *s)
{
    time_t now = time(NULL);
    if (now != s->date_at) {
        static const char wday[] = "SunMonTueWedThuFriSat", mon[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
        struct tm tm;
        utc_tm((long long)now, &tm);
        snprintf(s->date, sizeof s->date, "%.3s, %02d %.3s %d %02d:%02d:%02d GMT", wday + 3 * tm.tm_wday,
                 tm.tm_mday, mon + 3 * tm.tm_mon, tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        s->date_at = now;
    }
    return s->date;
}

/* ==== Accept-style negotiation (libprocess Request::acceptsMediaType) ===== */

/* Find, in a comma list, the first element whose first token equals `cand`
 * (case-insensitive, blanks removed). Returns 1 accepted, 0 refused, -1 no
 * element matched. */
static int accept_lookup(const char *h, size_t n, const char *cand)
{
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && h[j] != ',') j++;
        /* element h[i..j): compact away blanks, split on ';' */
        char el[256];
        size_t m = 0;
        for (size_t k = i; k < j && m + 1 < sizeof el; k++)
            if (h[k] != ' ' && h[k] != '\t' && h[k] != '\n' && h[k] != '\r') el[m++] = h[k];
        el[m] = 0;
        char *semi = strchr(el, ';');
        size_t tok_len = semi ? (size_t)(semi - el) : m;
        if (tok_len == strlen(cand) && strncasecmp(el, cand, tok_len) == 0) {
            /* parameters: exactly one q=<v> decides; otherwise accepted */
            int nq = 0;
            double q = 1;
            for (char *p = semi; p; p = strchr(p + 1, ';')) {
                if (strncasecmp(p + 1, "q=", 2) == 0) {
                    nq++;
                    char *end;
                    q = strtod(p + 3, &end);
                    if (end == p + 3 || (*end && *end != ';')) q = 0;
                }
            }
            if (nq != 1) return 1;
            return q > 0;
        }
        i = j + 1;
    }
    return -1;
}

int request_accepts(const struct request *r, const char *header, const char *type)
{
    /* Several header lines count as one comma-joined list. */
    const struct http_req *h = r->head;
    int found = 0;
    char joined[2048];
    size_t jl = 0;
    for (size_t i = 0; i < h->num_headers; i++) {
        if (!http_eq_nocase(h->headers[i].name, h->headers[i].name_len, header)) continue;
        if (found && jl + 1 < sizeof joined) joined[jl++] = ',';
        found = 1;
        size_t n = h->headers[i].value_len;
        if (n > sizeof joined - 1 - jl) n = sizeof joined - 1 - jl;
        memcpy(joined + jl, h->headers[i].value, n);
        jl += n;
    }
    if (!found) return strcasecmp(header, "Accept-Encoding") != 0;   /* no Accept: anything */
    char cand[128];
    int rc = accept_lookup(joined, jl, type);
    if (rc >= 0) return rc;
    const char *slash = strchr(type, '/');
    if (slash) {
        snprintf(cand, sizeof cand, "%.*s/*", (int)(slash - type), type);
        if ((rc = accept_lookup(joined, jl, cand)) >= 0) return rc;
        rc = accept_lookup(joined, jl, "*/*");
    } else {
        rc = accept_lookup(joined, jl, "*");
    }
    return rc > 0;
}

const char *request_header(const struct request *r, const char *name, size_t *len)
{
    int i = http_find_header(r->head, name, 0);
    if (i < 0) return NULL;
    if (len) *len = r->head->headers[i].value_len;
    return r->head->headers[i].value;
}

/* ==== Output ============================================================= */

static void conn_timer_cb(struct loop *l, struct loop_timer *t);

/* One timer per connection. Idle: the keep-alive timeout. A request in
 * progress: a deadline fixed at its first byte, which a client trickling
 * bytes cannot push back (slowloris). */
static void arm_timer(struct conn *c)
{
    struct server *s = c->srv;
    if (c->state == ST_STREAM || c->state == ST_HANDLER || c->state == ST_BODYSTREAM) {
        loop_timer_stop(s->loop, &c->timer);
        return;
    }
    if (c->state == ST_CLOSING) { loop_timer_start(s->loop, &c->timer, 5000); return; }   /* flush a final answer */
    if (c->state == ST_HEAD && c->in.len == 0) {
        c->req_deadline = 0;
        loop_timer_start(s->loop, &c->timer, s->cfg.idle_timeout_ms);
        return;
    }
    uint64_t now = loop_clock_ms();
    if (c->req_deadline == 0) {
        c->req_deadline = now + s->cfg.request_timeout_ms;
        loop_timer_start(s->loop, &c->timer, s->cfg.request_timeout_ms);
    } else if (!loop_timer_active(&c->timer)) {
        loop_timer_start(s->loop, &c->timer, c->req_deadline > now ? c->req_deadline - now : 0);
    }
}

static void update_interest(struct conn *c)
{
    int ev = 0;
    if (c->out.len > c->out_off) ev |= LOOP_WRITE;
    /* Keep reading while streaming or waiting on a handler too, so a peer
     * that goes away is noticed; input is bounded by the head limit. */
    int room = c->state == ST_HANDLER || c->state == ST_BODYSTREAM ? c->in.len < c->in.cap : c->in.len < c->in.max;
    if (!c->eof && c->state != ST_CLOSING && room) ev |= LOOP_READ;
    loop_set(c->srv->loop, &c->lfd, ev);
}

/* The last answer is out: half-close and read off what the client still
 * sends until it closes too (or a second passes). Closing with unread input
 * would make the kernel send RST, which can destroy the answer in flight
 * (RFC 9112 9.6). */
static void start_drain(struct conn *c)
{
    if (c->draining) return;
    c->draining = 1;
    c->state = ST_CLOSING;
    shutdown(c->lfd.fd, SHUT_WR);
    buf_reset(&c->in);
    loop_timer_start(c->srv->loop, &c->timer, 1000);
    loop_set(c->srv->loop, &c->lfd, LOOP_READ);
}

static void conn_flush(struct conn *c)
{
    if (c->dead) return;
    for (;;) {
        while (c->out_off < c->out.len) {
            long n = net_write(c->lfd.fd, c->out.data + c->out_off, c->out.len - c->out_off);
            if (n == -EAGAIN) break;
            if (n < 0) { conn_close(c); return; }
            c->out_off += (size_t)n;
            c->srv->stats.bytes_out += (uint64_t)n;
        }
        if (c->out_off < c->out.len || !c->out2.data) break;
        /* out is sent: the answer's second part becomes out */
        size_t max = c->out.max;
        buf_free(&c->out);
        c->out = c->out2;
        c->out.max = max;
        c->out_off = c->out2_off;
        memset(&c->out2, 0, sizeof c->out2);
        c->out2_off = 0;
    }
    if (c->out_off == c->out.len) {
        if (c->out.cap > (1u << 20)) buf_free(&c->out);    /* a large answer's memory goes back */
        else buf_reset(&c->out);
        c->out_off = 0;
        if (c->close_after) { start_drain(c); return; }
    } else if (c->out_off > (1u << 16) && c->out_off * 2 > c->out.len &&
               (c->state == ST_STREAM || c->out.len - c->out_off < (1u << 20))) {
        /* Written bytes are dropped from the front while a stream keeps
         * appending; a large answer is not moved (it is freed when out). */
        buf_consume(&c->out, c->out_off);
        c->out_off = 0;
    }
    update_interest(c);
}

/* Decimal digits of v, right-aligned in the end of tmp; returns the first. */
static char *digits(char *end, unsigned long long v)
{
    do *--end = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    return end;
}

/* The head, by appends (no printf: this runs for every answer). */
static int head_to(struct conn *c, struct buf *out, int status, const char *extra, const char *ctype,
                   long long clen, const char *more)
{
    struct server *s = c->srv;
    char tmp[24], *p;
    const char *reason = http_reason(status), *date = server_date(s);
    int rc = buf_append(out, "HTTP/1.1 ", 9);
    p = digits(tmp + sizeof tmp, (unsigned)status);
    rc |= buf_append(out, p, (size_t)(tmp + sizeof tmp - p));
    rc |= buf_putc(out, ' ');
    rc |= buf_puts(out, reason);
    rc |= buf_append(out, "\r\nDate: ", 8);
    rc |= buf_puts(out, date);
    rc |= buf_append(out, "\r\n", 2);
    if (ctype) {
        rc |= buf_append(out, "Content-Type: ", 14);
        rc |= buf_puts(out, ctype);
        rc |= buf_append(out, "\r\n", 2);
    }
    if (extra) rc |= buf_puts(out, extra);
    if (more) rc |= buf_puts(out, more);
    if (clen >= 0) {
        rc |= buf_append(out, "Content-Length: ", 16);
        p = digits(tmp + sizeof tmp, (unsigned long long)clen);
        rc |= buf_append(out, p, (size_t)(tmp + sizeof tmp - p));
        rc |= buf_append(out, "\r\n", 2);
    }
    if (c->close_after) rc |= buf_puts(out, "Connection: close\r\n");
    rc |= buf_append(out, "\r\n", 2);
    return rc ? -1 : 0;
}

static int append_head(struct conn *c, int status, const char *extra, const char *ctype,
                       long long clen, const char *more)
{
    return head_to(c, &c->out, status, extra, ctype, clen, more);
}

/* gzip with zlib's gzip wrapper (windowBits 16 + 15). Returns 0 or -1. */
static int gzip_body(const void *p, size_t n, struct buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
    size_t bound = deflateBound(&z, (uLong)n) + 32;
    if (buf_reserve(out, bound) < 0) { deflateEnd(&z); return -1; }
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out->data + out->len;
    z.avail_out = (uInt)bound;
    int rc = deflate(&z, Z_FINISH);
    if (rc == Z_STREAM_END) out->len += z.total_out;
    deflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : -1;
}

static void finish_request(struct conn *c)
{
    c->srv->stats.responses++;
    buf_free(&c->body);
    memset(&c->req, 0, sizeof c->req);
    /* Drop the consumed request bytes; pipelined ones stay. */
    buf_consume(&c->in, c->head_len);
    c->head_len = 0;
    c->prev_len = 0;
    c->req_deadline = 0;        /* a pipelined request starts its own clock */
    loop_timer_stop(c->srv->loop, &c->timer);
    if (c->state != ST_CLOSING) c->state = ST_HEAD;
}

/* A body in `take` (the caller's buffer, `room` free bytes before the
 * body): when nothing else waits to go out, the head is written into the
 * room and the buffer becomes the output as it is, so a large answer is not
 * copied. Returns 1 when taken. */
static int take_body(struct conn *c, int status, const char *extra, const char *ctype, struct buf *take, size_t room,
                     struct buf *take2, size_t off2)
{
    size_t n2 = take2 ? take2->len - off2 : 0, n = take->len - room + n2, max = c->out.max;
    if (n < (1u << 16) || c->out.len != 0 || c->out2.data || (max && n > max)) return 0;   /* small ones: copied */
    struct buf h = { .max = 4096 };
    int ok = head_to(c, &h, status, extra, ctype, (long long)n, NULL) == 0 && h.len <= room;
    if (ok) {
        memcpy(take->data + room - h.len, h.data, h.len);
        buf_free(&c->out);
        c->out = *take;
        c->out.max = max;
        c->out_off = room - h.len;
        memset(take, 0, sizeof *take);
        if (n2) {
            c->out2 = *take2;
            c->out2_off = off2;
            memset(take2, 0, sizeof *take2);
        }
    }
    buf_free(&h);
    return ok;
}

static void respond(struct conn *c, int status, const char *extra, const char *ctype,
                    const void *body, size_t n, struct buf *take, size_t room, struct buf *take2, size_t off2)
{
    size_t n2 = take2 ? take2->len - off2 : 0;   /* a second part: never gzip'd (see server_respond_room2) */
    struct request *r = &c->req;
    if (!r->keep_alive) c->close_after = 1;
    if (status >= 500) c->srv->stats.errors_5xx++;
    else if (status >= 400) c->srv->stats.errors_4xx++;
    struct buf z = { .max = n + n / 1000 + 4096 };   /* room for deflateBound(n) */
    const char *enc = NULL;
    if (!n2 && c->gzip_ok && n >= GZIP_MIN && gzip_body(body, n, &z) == 0) {
        body = z.data; n = z.len;
        enc = "Content-Encoding: gzip\r\n";
    }
    if (!enc && take && take_body(c, status, extra, ctype, take, room, take2, off2)) {
        /* sent from the caller's buffers */
    } else if (append_head(c, status, extra, ctype, (long long)(n + n2), enc) < 0 || buf_append(&c->out, body, n) < 0 ||
               (n2 && buf_append(&c->out, take2->data + off2, n2) < 0)) {
        LOG_WARN("response of %zu bytes to %s dropped: output limit", n, c->peer);
        c->close_after = 1;
    }
    buf_free(&z);
    r->_done = 1;
    /* An answer before the end of a streamed body: the rest of the body
     * is never read as requests; close once the answer is out. */
    if (c->state == ST_BODYSTREAM && !c->body_end_sent) {
        c->close_after = 1;
        c->state = ST_CLOSING;
    }
    finish_request(c);
    conn_flush(c);
}

static void respond_entry(struct request *r, int status, const char *extra, const char *ctype,
                          const void *body, size_t n, struct buf *take, size_t room, struct buf *take2, size_t off2)
{
    struct conn *c = r->_conn;
    if (!c || r->_done || c->dead) return;
    enter(c);
    respond(c, status, extra, ctype, body, n, take, room, take2, off2);
    /* A deferred answer: go on with pipelined requests. Inside conn_advance
     * (a handler that answered at once) its own loop goes on instead. */
    if (!c->dead && !c->in_advance && c->state == ST_HEAD) conn_advance(c);
    leave(c);
}

void server_respond(struct request *r, int status, const char *extra, const char *ctype,
                    const void *body, size_t n)
{
    respond_entry(r, status, extra, ctype, body, n, NULL, 0, NULL, 0);
}

void server_respond_buf(struct request *r, int status, const char *extra, const char *ctype, struct buf *b)
{
    server_respond(r, status, extra, ctype, b->data, b->len);
    buf_free(b);
}

void server_respond_room(struct request *r, int status, const char *extra, const char *ctype,
                         struct buf *b, size_t room)
{
    respond_entry(r, status, extra, ctype, b->data + room, b->len - room, b, room, NULL, 0);
    buf_free(b);
}

void server_respond_room2(struct request *r, int status, const char *extra, const char *ctype,
                          struct buf *b, size_t room, struct buf *b2, size_t off2)
{
    struct conn *c = r->_conn;
    size_t n = b->len - room + b2->len - off2;
    if (b2->len == off2 || (c && c->gzip_ok && n >= GZIP_MIN)) {
        /* gzip (or nothing to add): one body, compressed whole */
        if (buf_append(b, b2->data + off2, b2->len - off2) < 0) {
            buf_free(b);
            buf_free(b2);
            server_error(r, 500, NULL);
            return;
        }
        buf_free(b2);
        server_respond_room(r, status, extra, ctype, b, room);
        return;
    }
    respond_entry(r, status, extra, ctype, b->data + room, b->len - room, b, room, b2, off2);
    buf_free(b);
    buf_free(b2);
}

void server_error(struct request *r, int status, const char *msg)
{
    char dflt[64];
    if (!msg) {
        snprintf(dflt, sizeof dflt, "%d %s.", status, http_reason(status));
        msg = dflt;
    }
    server_respond(r, status, NULL, "text/plain; charset=utf-8", msg, strlen(msg));
}

/* A framing error before any handler ran: answer and close. */
static void reject(struct conn *c, int status, const char *msg)
{
    char dflt[64];
    if (!msg) {
        snprintf(dflt, sizeof dflt, "%d %s.", status, http_reason(status));
        msg = dflt;
    }
    c->close_after = 1;
    c->srv->stats.errors_4xx += status < 500;
    c->srv->stats.errors_5xx += status >= 500;
    append_head(c, status, NULL, "text/plain; charset=utf-8", (long long)strlen(msg), NULL);
    buf_puts(&c->out, msg);
    c->state = ST_CLOSING;
    buf_reset(&c->in);
    arm_timer(c);
    conn_flush(c);
}

/* ==== Streams ============================================================ */

void server_stream_begin(struct request *r, const char *extra, const char *ctype)
{
    struct conn *c = r->_conn;
    r->_stream = 1;
    c->state = ST_STREAM;
    c->srv->stats.streams_active++;
    /* HTTP/1.0 has no chunked coding: the stream is close-delimited there. */
    append_head(c, 200, extra, ctype, -1, c->http10 ? NULL : "Transfer-Encoding: chunked\r\n");
    if (c->http10) c->close_after = 0;
    arm_timer(c);
    conn_flush(c);
}

static int stream_append(struct conn *c, const char *pre, size_t pre_n, const void *p, size_t n)
{
    size_t pending = c->out.len - c->out_off;
    if (pending + n + 32 > c->srv->cfg.max_stream_buffer) return -1;
    int rc = 0;
    if (!c->http10) rc |= buf_printf(&c->out, "%zx\r\n", pre_n + n);
    rc |= buf_append(&c->out, pre, pre_n);
    rc |= buf_append(&c->out, p, n);
    if (!c->http10) rc |= buf_puts(&c->out, "\r\n");
    return rc ? -1 : 0;
}

static void stream_drop(struct conn *c)
{
    LOG_WARN("dropping stream to %s: reader too slow", c->peer);
    c->srv->stats.streams_dropped++;
    c->req.on_close = NULL;   /* the owner learns from the -1 */
    conn_close(c);
}

static int stream_put(struct request *r, const char *pre, size_t pre_n, const void *p, size_t n)
{
    struct conn *c = r->_conn;
    if (c->dead) return -1;
    enter(c);
    if (stream_append(c, pre, pre_n, p, n) < 0) stream_drop(c);
    else conn_flush(c);
    return leave(c);
}

int server_stream_write(struct request *r, const void *p, size_t n)
{
    return stream_put(r, NULL, 0, p, n);
}

int server_stream_record(struct request *r, const void *p, size_t n)
{
    char len[24];
    int k = snprintf(len, sizeof len, "%zu\n", n);
    return stream_put(r, len, (size_t)k, p, n);
}

void server_stream_end(struct request *r)
{
    struct conn *c = r->_conn;
    if (c->dead) return;
    enter(c);
    c->srv->stats.streams_active--;
    if (!c->http10) buf_puts(&c->out, "0\r\n\r\n");
    c->close_after = c->close_after || !r->keep_alive || c->http10;
    r->_done = 1;
    r->_stream = 0;
    r->on_close = NULL;
    c->state = ST_HEAD;
    finish_request(c);
    conn_flush(c);
    if (!c->dead && !c->in_advance) conn_advance(c);
    leave(c);
}

/* ==== Requests =========================================================== */

static const struct route *find_route(struct server *s, const char *path, size_t n)
{
    const struct route *best = NULL;
    for (size_t i = 0; i < s->nroutes; i++) {
        const struct route *rt = &s->routes[i];
        if (n < rt->len || memcmp(path, rt->prefix, rt->len) != 0) continue;
        /* "/a" matches "/a" and "/a/..."; a prefix ending in '/' or '.'
         * ("/mesos.internal.") matches anything that continues it. */
        char last = rt->prefix[rt->len - 1];
        if (n > rt->len && path[rt->len] != '/' && last != '/' && last != '.') continue;
        if (!best || rt->len > best->len) best = rt;
    }
    return best;
}

/* Inflate a gzip'd request body, bounded by max. */
static int gunzip_body(struct buf *in, size_t max, struct buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 31) != Z_OK) return -1;
    z.next_in = (Bytef *)in->data;
    z.avail_in = (uInt)in->len;
    out->max = max;
    int rc;
    do {
        if (buf_reserve(out, 65536) < 0) { inflateEnd(&z); return -2; }
        z.next_out = (Bytef *)out->data + out->len;
        z.avail_out = (uInt)(out->cap - out->len);
        rc = inflate(&z, Z_NO_FLUSH);
        out->len = out->cap - z.avail_out;
        if (out->len > max) { inflateEnd(&z); return -2; }
    } while (rc == Z_OK);
    inflateEnd(&z);
    return rc == Z_STREAM_END && z.avail_in == 0 ? 0 : -1;
}

/* The route of the current request; sets r->path (libprocess delegation:
 * "/<process-id>/x" and "/x" are the same path). */
static const struct route *route_of(struct conn *c)
{
    struct server *s = c->srv;
    const char *p = c->head.path;
    size_t n = c->head.path_len;
    if (n >= s->pid_prefix_len && memcmp(p, s->pid_prefix, s->pid_prefix_len) == 0 &&
        (n == s->pid_prefix_len || p[s->pid_prefix_len] == '/')) {
        p += s->pid_prefix_len;
        n -= s->pid_prefix_len;
        if (n == 0) { p = "/"; n = 1; }
    }
    c->req.path = p;
    c->req.path_len = n;
    return find_route(s, p, n);
}

static void feed_body(struct conn *c);
static void dispatch_stream(struct conn *c, const struct route *rt);

static void dispatch(struct conn *c)
{
    struct server *s = c->srv;
    struct request *r = &c->req;
    s->stats.requests++;
    c->state = ST_HANDLER;
    arm_timer(c);
    /* Reading the body may have moved c->in: point the head into it again
     * (the bytes before head_len never change, only where they live).
     * From here until the answer, c->in is never reallocated (conn_io reads
     * only into spare room), so these pointers stay valid for the handler. */
    if (c->in.data != c->head_base) {
        if (http_parse_request(c->in.data, c->head_len, 0, &c->head) != (int)c->head_len) {
            reject(c, 400, NULL);
            return;
        }
        c->head_base = c->in.data;
    }

    size_t enc_len;
    const char *enc = request_header(r, "Content-Encoding", &enc_len);
    if (enc && c->body.len) {
        if (http_eq_nocase(enc, enc_len, "gzip")) {
            struct buf plain = {0};
            int rc = gunzip_body(&c->body, s->cfg.max_body_bytes, &plain);
            if (rc < 0) {
                buf_free(&plain);
                server_error(r, rc == -2 ? 413 : 400, rc == -2 ? NULL : "Failed to decode gzip request body");
                return;
            }
            buf_free(&c->body);
            c->body = plain;
        } else if (!http_eq_nocase(enc, enc_len, "identity")) {
            server_error(r, 415, "Unsupported 'Content-Encoding'");
            return;
        }
    }
    r->body = c->body.data ? c->body.data : "";
    r->body_len = c->body.len;
    c->gzip_ok = request_accepts(r, "Accept-Encoding", "gzip");

    const struct route *rt = route_of(c);
    if (!rt) { server_error(r, 404, NULL); return; }
    rt->fn(r, rt->arg);
}

/* ==== Streaming request bodies ========================================== */

/* Hand the body bytes that have arrived to r->on_body, as long as the
 * handler has not paused and has not answered. */
static void feed_body(struct conn *c)
{
    struct request *r = &c->req;
    if (c->in_feed) return;            /* resumed from inside on_body: the loop below goes on */
    c->in_feed = 1;
    enter(c);
    while (!c->dead && c->state == ST_BODYSTREAM && !c->body_paused && !c->body_end_sent) {
        char *tmp = NULL;
        size_t tn = 0;
        int end = 0;
        size_t avail = c->in.len - c->body_scan;
        char *p = c->in.data + c->body_scan;
        if (c->framing.chunked) {
            if (avail == 0) break;
            size_t n = avail;
            ssize_t rc = http_decode_chunked(&c->chunked, p, &n);
            if (rc == HTTP_BAD) {
                /* The handler hears of it as a peer gone away. */
                close_fn fn = r->on_close;
                r->on_close = NULL;
                r->_done = 1;
                if (fn) fn(r, r->on_close_arg);
                if (!c->dead) reject(c, 400, NULL);
                break;
            }
            if (n) { tmp = xmalloc(n); memcpy(tmp, p, n); tn = n; }
            if (rc == HTTP_INCOMPLETE) c->in.len = c->body_scan;
            else {
                memmove(p, p + n, (size_t)rc);
                c->in.len = c->body_scan + (size_t)rc;
                end = 1;
            }
        } else {
            uint64_t need = c->framing.has_length ? c->framing.content_length - c->body_got : 0;
            size_t take = avail < need ? avail : (size_t)need;
            if (take) {
                tmp = xmalloc(take);
                memcpy(tmp, p, take);
                tn = take;
                memmove(p, p + take, avail - take);
                c->in.len -= take;
                c->body_got += take;
            }
            end = c->body_got == (c->framing.has_length ? c->framing.content_length : 0);
            if (!take && !end) break;
        }
        if (tn && r->on_body) r->on_body(r, r->on_body_arg, tmp, tn);
        free(tmp);
        if (end && !c->dead && c->state == ST_BODYSTREAM && !r->_done) {
            c->body_end_sent = 1;
            if (r->on_body) r->on_body(r, r->on_body_arg, NULL, 0);
        }
    }
    c->in_feed = 0;
    if (!c->dead && c->state == ST_BODYSTREAM) update_interest(c);
    leave(c);
}

/* The handler takes the request now; the body follows through on_body. */
static void dispatch_stream(struct conn *c, const struct route *rt)
{
    struct server *s = c->srv;
    struct request *r = &c->req;
    size_t enc_len;
    const char *enc = request_header(r, "Content-Encoding", &enc_len);
    if (enc && !http_eq_nocase(enc, enc_len, "identity")) {
        c->state = ST_HANDLER;
        server_error(r, 415, "Unsupported 'Content-Encoding'");
        if (!c->dead) { c->close_after = 1; c->state = ST_CLOSING; conn_flush(c); }
        return;
    }
    s->stats.requests++;
    /* From here c->in never moves: the input buffer gets its full size now
     * and later reads only fill its spare room, so r->head stays valid. */
    buf_reserve(&c->in, c->in.max - c->in.len);
    if (http_parse_request(c->in.data, c->head_len, 0, &c->head) != (int)c->head_len) {
        reject(c, 400, NULL);
        return;
    }
    c->state = ST_BODYSTREAM;
    c->body_got = 0;
    c->body_paused = 0;
    c->body_end_sent = 0;
    c->body_scan = c->head_len;
    arm_timer(c);
    r->body = "";
    r->body_len = 0;
    c->gzip_ok = request_accepts(r, "Accept-Encoding", "gzip");
    rt->fn(r, rt->arg);
    if (!c->dead && c->state == ST_BODYSTREAM) feed_body(c);
}

void server_body_pause(struct request *r, int paused)
{
    struct conn *c = r->_conn;
    if (!c || c->dead || r->_done || c->state != ST_BODYSTREAM) return;
    c->body_paused = paused;
    if (!paused) feed_body(c);
    else update_interest(c);
}

static void start_request(struct conn *c)
{
    struct request *r = &c->req;
    memset(r, 0, sizeof *r);
    r->head = &c->head;
    r->_conn = c;
    r->keep_alive = c->framing.keep_alive;
    c->http10 = c->head.minor_version == 0;
}

/* Try to make progress on buffered input. */
static void conn_advance(struct conn *c)
{
    struct server *s = c->srv;
    if (c->dead || c->in_advance) return;
    c->in_advance = 1;
    enter(c);
    while (!c->dead && (c->state == ST_HEAD || c->state == ST_BODY)) {
        if (c->out.len - c->out_off + c->out2.len > OUT_HIGH) break;   /* back-pressure */
        if (c->state == ST_HEAD) {
            if (c->in.len == 0) break;
            int r = http_parse_request(c->in.data, c->in.len, c->prev_len, &c->head);
            if (r == HTTP_INCOMPLETE) {
                c->prev_len = c->in.len;
                /* A request line longer than the URI limit: 414; a head over its limit: 431. */
                if (c->in.len > s->cfg.max_uri_bytes && !memchr(c->in.data, '\n', c->in.len)) {
                    reject(c, 414, NULL);
                    goto out;
                }
                if (c->in.len >= s->cfg.max_head_bytes) { reject(c, 431, NULL); goto out; }
                break;
            }
            if (r == HTTP_TOO_MANY_HEADERS) { reject(c, 431, NULL); goto out; }
            if (r < 0) { reject(c, 400, NULL); goto out; }
            if ((size_t)r > s->cfg.max_head_bytes) { reject(c, 431, NULL); goto out; }
            if (c->head.target_len > s->cfg.max_uri_bytes) { reject(c, 414, NULL); goto out; }
            if (http_framing(&c->head, &c->framing) < 0) { reject(c, 400, NULL); goto out; }
            if (c->framing.expect_other) { reject(c, 417, NULL); goto out; }
            if (c->framing.has_length && c->framing.content_length > s->cfg.max_body_bytes) {
                reject(c, 413, NULL);
                goto out;
            }
            c->head_len = (size_t)r;
            c->head_base = c->in.data;
            start_request(c);
            memset(&c->chunked, 0, sizeof c->chunked);
            buf_free(&c->body);
            c->body.max = s->cfg.max_body_bytes;
            c->body_scan = c->head_len;
            c->state = ST_BODY;
            const struct route *srt = route_of(c);
            if (srt && srt->wants && srt->wants(&c->req, srt->arg)) {
                dispatch_stream(c, srt);
                if (c->dead || c->state == ST_CLOSING) goto out;
                continue;
            }
            int has_body = c->framing.chunked || (c->framing.has_length && c->framing.content_length > 0);
            if (c->framing.expect_continue && has_body && c->in.len == c->head_len && !c->http10)
                buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
            continue;
        }
        /* ST_BODY. Pointers in c->head point into c->in, so the head stays
         * in place; body bytes are copied out and consumed behind it. */
        if (c->framing.chunked) {
            size_t avail = c->in.len - c->body_scan;
            if (avail == 0) break;
            char *p = c->in.data + c->body_scan;
            size_t n = avail;
            ssize_t rc = http_decode_chunked(&c->chunked, p, &n);
            if (rc == HTTP_BAD) { reject(c, 400, NULL); goto out; }
            if (buf_append(&c->body, p, n) < 0) { reject(c, 413, NULL); goto out; }
            /* A chunk announced larger than what is left of the limit: 413 now,
             * without waiting for its bytes. */
            if (rc == HTTP_INCOMPLETE && c->chunked.left > s->cfg.max_body_bytes - c->body.len) {
                reject(c, 413, NULL);
                goto out;
            }
            if (rc == HTTP_INCOMPLETE) {
                /* All input consumed: drop it, keeping the head. */
                c->in.len = c->body_scan;
                break;
            }
            /* Done: rc leftover bytes now sit at p + n; move them behind the head. */
            memmove(p, p + n, (size_t)rc);
            c->in.len = c->body_scan + (size_t)rc;
        } else if (c->framing.has_length) {
            uint64_t need = c->framing.content_length - c->body.len;
            size_t avail = c->in.len - c->body_scan;
            size_t take = avail < need ? avail : (size_t)need;
            if (take && buf_append(&c->body, c->in.data + c->body_scan, take) < 0) { reject(c, 413, NULL); goto out; }
            memmove(c->in.data + c->body_scan, c->in.data + c->body_scan + take, avail - take);
            c->in.len -= take;
            if (c->body.len < c->framing.content_length) break;
        }
        dispatch(c);
        /* The handler may have answered (state HEAD again), deferred, streamed or closed. */
        if (c->dead || c->state == ST_CLOSING) goto out;
    }
    if (!c->dead && c->state != ST_CLOSING) {
        if (c->eof && c->state == ST_HEAD && c->out_off == c->out.len && !c->out2.data) { conn_close(c); goto out; }
        if (c->eof && c->state == ST_HEAD) c->close_after = 1;
        arm_timer(c);
        update_interest(c);
    }
out:
    c->in_advance = 0;
    leave(c);
}

static void conn_io(struct loop *l, struct loop_fd *f, int events)
{
    (void)l;
    struct conn *c = container_of(f, struct conn, lfd);
    struct server *s = c->srv;
    enter(c);
    if (c->draining) {
        char tmp[4096];
        long n;
        while ((n = net_read(f->fd, tmp, sizeof tmp)) > 0) {}
        if (n != -EAGAIN) conn_close(c);
        goto out;
    }
    if (events & LOOP_WRITE) {
        conn_flush(c);
        if (c->dead) goto out;
        /* Output drained below the mark: parse waiting pipelined requests. */
        if (c->state == ST_HEAD && c->in.len) conn_advance(c);
        if (c->dead) goto out;
    }
    if (events & (LOOP_READ | LOOP_ERROR)) {
        int got = 0;
        for (int i = 0; i < 4; i++) {   /* bounded reads per event: fairness */
            if (c->state == ST_HANDLER || c->state == ST_BODYSTREAM) {
                /* The request head lives in c->in: read only into spare room. */
                if (c->in.cap == c->in.len) break;
            } else if (c->state == ST_STREAM) {
                /* Past the handler nothing needs the head; input is discarded. */
                c->in.len = 0;
                if (buf_reserve(&c->in, 4096) < 0) break;
            } else if (buf_reserve(&c->in, READ_CHUNK) < 0) {
                /* Input is full of pipelined requests we have not answered
                 * yet (back-pressure): stop reading until they are. An
                 * over-long single head is caught in conn_advance (431). */
                break;
                break;
            }
            long n = net_read(f->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
            if (n == -EAGAIN) break;
            if (n <= 0) {
                c->eof = 1;
                /* A peer that leaves mid-request or mid-stream is gone for good. */
                if (n < 0 || c->state == ST_STREAM || c->state == ST_HANDLER || c->state == ST_BODY
                    || c->state == ST_BODYSTREAM
                    || c->state == ST_CLOSING || (c->state == ST_HEAD && c->in.len > 0)) {
                    conn_close(c);
                    goto out;
                }
                break;
            }
            c->in.len += (size_t)n;
            s->stats.bytes_in += (uint64_t)n;
            got = 1;
            if ((size_t)n < c->in.cap - c->in.len + (size_t)n) break;
        }
        if (c->state == ST_BODYSTREAM) {
            feed_body(c);
            goto out;
        }
        if (c->state == ST_STREAM || c->state == ST_HANDLER) {
            /* Bytes after a stream request are not requests we will serve. */
            if (c->state == ST_STREAM) c->in.len = 0;
            update_interest(c);
            goto out;
        }
        (void)got;
        conn_advance(c);
    }
out:
    leave(c);
}

static void conn_timer_cb(struct loop *l, struct loop_timer *t)
{
    (void)l;
    struct conn *c = container_of(t, struct conn, timer);
    enter(c);
    if ((c->state == ST_HEAD && c->in.len == 0) || c->state == ST_CLOSING) conn_close(c);   /* idle */
    else reject(c, 408, NULL);
    leave(c);
}

static void conn_close(struct conn *c)
{
    struct server *s = c->srv;
    if (c->dead) return;
    if (c->req.on_close && !c->req._done) {
        close_fn fn = c->req.on_close;
        c->req.on_close = NULL;
        fn(&c->req, c->req.on_close_arg);
    }
    if (c->state == ST_STREAM) s->stats.streams_active--;
    loop_del(s->loop, &c->lfd);
    loop_timer_stop(s->loop, &c->timer);
    close(c->lfd.fd);
    c->lfd.fd = -1;
    c->dead = 1;
    if (c->prev) c->prev->next = c->next; else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    s->stats.connections_active--;
    if (c->busy == 0) conn_free(c);
}

static void conn_free(struct conn *c)
{
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->out2);
    buf_free(&c->body);
    free(c);
}

static void accept_cb(struct loop *l, struct loop_fd *f, int events)
{
    (void)events;
    struct server *s = container_of(f, struct server, lfd);
    for (int i = 0; i < 64; i++) {
        char peer[64];
        int fd = net_accept(f->fd, peer, sizeof peer);
        if (fd == -EAGAIN) return;
        if (fd < 0) {
            /* EMFILE and friends: log, and try again on the next event. */
            LOG_WARN("accept failed: %s", strerror(-fd));
            return;
        }
        if (s->stats.connections_active >= (uint64_t)s->cfg.max_connections) {
            static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            (void)!write(fd, busy, sizeof busy - 1);
            close(fd);
            continue;
        }
        struct conn *c = xcalloc(1, sizeof *c);
        c->srv = s;
        c->in.max = s->cfg.max_head_bytes + READ_CHUNK;
        c->out.max = s->cfg.max_stream_buffer > (256u << 20) ? s->cfg.max_stream_buffer : (size_t)1 << 31;
        snprintf(c->peer, sizeof c->peer, "%s", peer);
        loop_timer_init(&c->timer, conn_timer_cb);
        if (loop_add(l, &c->lfd, fd, LOOP_READ, conn_io) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = s->conns;
        if (s->conns) s->conns->prev = c;
        s->conns = c;
        s->stats.connections_accepted++;
        s->stats.connections_active++;
        arm_timer(c);
    }
}

/* ==== Server ============================================================= */

struct server *server_new(struct loop *l, const struct server_config *cfg, char *err)
{
    int fd = net_listen(cfg->ip, cfg->port, 1024, err);
    if (fd < 0) return NULL;
    struct server *s = xcalloc(1, sizeof *s);
    s->loop = l;
    s->cfg = *cfg;
    s->port = net_local_port(fd);
    snprintf(s->pid_prefix, sizeof s->pid_prefix, "/%s", cfg->process_id ? cfg->process_id : "");
    s->pid_prefix_len = strlen(s->pid_prefix);
    if (loop_add(l, &s->lfd, fd, LOOP_READ, accept_cb) < 0) {
        close(fd);
        free(s);
        if (err) snprintf(err, NET_ERR_LEN, "cannot watch the listening socket");
        return NULL;
    }
    return s;
}

void server_free(struct server *s)
{
    if (!s) return;
    while (s->conns) {
        s->conns->req.on_close = NULL;
        conn_close(s->conns);
    }
    loop_del(s->loop, &s->lfd);
    close(s->lfd.fd);
    for (size_t i = 0; i < s->nroutes; i++) free(s->routes[i].prefix);
    free(s->routes);
    free(s);
}

int server_port(const struct server *s) { return s->port; }
const struct server_stats *server_stats(const struct server *s) { return &s->stats; }
struct loop *server_loop(const struct server *s) { return s->loop; }

void server_route_stream(struct server *s, const char *prefix, route_fn fn, void *arg, wants_stream_fn wants)
{
    s->routes = xrealloc(s->routes, (s->nroutes + 1) * sizeof *s->routes);
    s->routes[s->nroutes].prefix = xstrdup(prefix);
    s->routes[s->nroutes].len = strlen(prefix);
    s->routes[s->nroutes].fn = fn;
    s->routes[s->nroutes].arg = arg;
    s->routes[s->nroutes].wants = wants;
    s->nroutes++;
}

void server_route(struct server *s, const char *prefix, route_fn fn, void *arg)
{
    server_route_stream(s, prefix, fn, arg, NULL);
}
