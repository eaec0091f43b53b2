/* server.h -- the HTTP/1.1 server: connections, requests, responses, streams.
 *
 * One connection serves one request at a time: the next pipelined request is
 * parsed only after the current one has its response queued, so responses
 * always leave in request order. A handler answers at once, later (keep the
 * struct request *), or turns the connection into a never-ending chunked
 * stream. Every buffer is bounded and every wait has a timeout. */
#ifndef SERVER_H
#define SERVER_H
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "http.h"
#include "loop.h"

struct server;
struct request;

typedef void (*route_fn)(struct request *r, void *arg);
typedef void (*close_fn)(struct request *r, void *arg);
/* Streaming request bodies (see server_route_stream). */
typedef int (*wants_stream_fn)(struct request *r, void *arg);
typedef void (*body_fn)(struct request *r, void *arg, const char *p, size_t n);

struct server_config {
    const char *ip;                 /* listen address; NULL = any */
    int port;                       /* 0 = pick a free port */
    const char *process_id;         /* "master" or "slave(1)": paths may carry it */
    size_t max_head_bytes;          /* 431 past it */
    size_t max_uri_bytes;           /* 414 past it */
    size_t max_body_bytes;          /* 413 past it (after gzip decoding too) */
    uint64_t idle_timeout_ms;       /* keep-alive connection with no request */
    uint64_t request_timeout_ms;    /* first byte of a request to its end */
    size_t max_stream_buffer;       /* a stream's unsent bytes; the reader is cut off past it */
    int max_connections;            /* accept stops (503 + close) past it */
};

struct server_stats {
    uint64_t connections_accepted, connections_active, requests, responses;
    uint64_t bytes_in, bytes_out, streams_active, streams_dropped;
    uint64_t errors_4xx, errors_5xx;
};

/* Create, bind and listen. Returns NULL with a message in err (NET_ERR_LEN). */
struct server *server_new(struct loop *l, const struct server_config *cfg, char *err);
void server_free(struct server *s);
int server_port(const struct server *s);
const struct server_stats *server_stats(const struct server *s);
struct loop *server_loop(const struct server *s);

/* Route requests whose path (after the optional "/<process_id>" prefix) is
 * `prefix` or starts with `prefix` + "/" (or with `prefix` itself when it
 * ends in '/' or '.'). The longest match wins. */
void server_route(struct server *s, const char *prefix, route_fn fn, void *arg);

/* The same, for a route that may take its request body as a stream: once
 * a request's head has arrived, wants(r, arg) is asked (only r->head and
 * r->path are set). If it returns 1, fn runs at once with an empty body,
 * and the body's bytes (chunked coding removed; gzip is refused with 415)
 * then go to r->on_body as they arrive, with n == 0 once at the end. The
 * handler answers when it likes: an answer before the end of the body
 * closes the connection after it. There is no request timeout and no total
 * body limit for such a body; the input buffer bounds what is held. */
void server_route_stream(struct server *s, const char *prefix, route_fn fn, void *arg,
                         wants_stream_fn wants);
/* Stop (1) or resume (0) handing body bytes to r->on_body: back-pressure.
 * While paused the socket is read until the input buffer is full. */
void server_body_pause(struct request *r, int paused);

/* ---- inside a handler (and until the response is complete) ---- */
struct request {
    const struct http_req *head;    /* valid until the response is queued; for a
                                       stream, only until server_stream_begin */
    const char *path; size_t path_len;   /* without the process-id prefix */
    const char *body; size_t body_len;   /* decoded (chunked, gzip) */
    int keep_alive;
    void *user;                     /* for the handler's own use */
    close_fn on_close; void *on_close_arg;   /* called if the peer goes away first */
    body_fn on_body; void *on_body_arg;      /* streaming request body (server_route_stream) */
    /* private */
    struct conn *_conn;
    int _done, _stream;
};

/* Header lookup on the current request. Joins nothing: returns the first. */
const char *request_header(const struct request *r, const char *name, size_t *len);
/* Does an Accept-style header accept `type`? Mesos' rules (OPERATOR_API 1.5):
 * absent header accepts everything; exact match beats wildcards; q=0 refuses. */
int request_accepts(const struct request *r, const char *header, const char *type);

/* Queue a complete response. content_type NULL means none; extra_headers
 * (may be NULL) is preformatted "Name: value\r\n" lines. The body is copied
 * (server_respond) or taken over (server_respond_buf). After this call the
 * struct request must not be used. */
void server_respond(struct request *r, int status, const char *extra_headers,
                    const char *content_type, const void *body, size_t n);
void server_respond_buf(struct request *r, int status, const char *extra_headers,
                        const char *content_type, struct buf *body);
/* The body is body->data[room..len) and the `room` bytes before it are
 * free: the head can go there, and the buffer out as it is, uncopied.
 * SERVER_HEAD_ROOM is enough for the server's own heads. Takes the buf. */
#define SERVER_HEAD_ROOM 512
void server_respond_room(struct request *r, int status, const char *extra_headers,
                         const char *content_type, struct buf *body, size_t room);
/* The same for a body in two parts: body->data[room..len) then
 * part2->data[off2..len), sent one after the other without joining them
 * (joined when the answer is gzip'd). Takes both bufs. */
void server_respond_room2(struct request *r, int status, const char *extra_headers,
                          const char *content_type, struct buf *body, size_t room,
                          struct buf *part2, size_t off2);
/* An error: text/plain; charset=utf-8, the message or "<code> <Reason>." */
void server_error(struct request *r, int status, const char *msg);
const char *http_reason(int status);

/* Turn the request into a chunked stream (200 OK). The request stays valid
 * until server_stream_end() or the on_close callback. */
void server_stream_begin(struct request *r, const char *extra_headers, const char *content_type);
/* Send one chunk holding `n` bytes (a RecordIO record is passed whole, so it
 * travels in one chunk). Returns 0, or -1 when the reader is too slow: the
 * connection is then closed (on_close runs) and r is gone. */
int server_stream_write(struct request *r, const void *p, size_t n);
/* Send "<n>\n<p>" as one RecordIO record in one chunk. */
int server_stream_record(struct request *r, const void *p, size_t n);
void server_stream_end(struct request *r);

/* Time as the Date header writes it. */
const char *server_date(struct server *s);

#endif
