/* api.c -- the /api/v1 request pipeline (see api.h).
 *
 * The checks run in upstream's order (OPERATOR_API.md 1.2), because the
 * order decides which error a client sees when several things are wrong:
 * method, Content-Type presence, Content-Type value, body decoding, call
 * validation, Accept, then dispatch. Error texts are upstream's. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "log.h"
#include "pbjson.h"
#include "pbw.h"

#define CT_JSON     "application/json"
#define CT_PROTO    "application/x-protobuf"
#define CT_RECORDIO "application/recordio"
#define MAX_INPUT_RECORD (16u << 20)   /* one record of a streamed request body */

static void ctx_free(struct api_ctx *c)
{
    if (c->alive) *c->alive = 0;
    buf_free(&c->call_buf);
    recordio_free(&c->rio);
    free(c);
}

void api_done(struct api_ctx *c) { ctx_free(c); }

void api_error(struct api_ctx *c, int status, const char *fmt, ...)
{
    char msg[1024];
    const char *m = NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        m = msg;
    }
    server_error(c->r, status, m);
    ctx_free(c);
}

void api_empty(struct api_ctx *c, int status)
{
    server_respond(c->r, status, NULL, NULL, "", 0);
    ctx_free(c);
}

void api_respond(struct api_ctx *c, struct buf *pb) { api_respond_at(c, pb, 0); }

void api_respond_at(struct api_ctx *c, struct buf *pb, size_t off)
{
    if (c->json) {
        /* Room in front for the server to put the head (no copy of a
         * large answer); a size guess (JSON is about twice the protobuf
         * bytes) spares the doubling copies of a large one. */
        struct buf js = {0};
        size_t n = pb->len - off;
        buf_reserve(&js, SERVER_HEAD_ROOM + (n > (1u << 16) ? PBJSON_SIZE_GUESS(n) : 0));
        js.len = SERVER_HEAD_ROOM;
        if (pbjson_to_json(c->api->response_msg, pb->data + off, n, &js) < 0) {
            buf_free(&js);
            buf_free(pb);
            LOG_ERR("failed to encode a %s response as JSON", c->api->what);
            api_error(c, 500, NULL);
            return;
        }
        buf_free(pb);
        server_respond_room(c->r, 200, NULL, CT_JSON, &js, SERVER_HEAD_ROOM);
    } else if (off >= SERVER_HEAD_ROOM) {
        server_respond_room(c->r, 200, NULL, CT_PROTO, pb, off);
    } else {
        server_respond(c->r, 200, NULL, CT_PROTO, pb->data + off, pb->len - off);
        buf_free(pb);
    }
    ctx_free(c);
}

int api_respond_const(struct api_ctx *c)
{
    for (int i = 0; i < API_CONST_SLOTS; i++) {
        const struct api_const *k = &c->api->consts[i];
        if (k->type != c->type || k->type == 0) continue;
        if (c->json) server_respond(c->r, 200, NULL, CT_JSON, k->json, k->json_len);
        else server_respond(c->r, 200, NULL, CT_PROTO, k->pb, k->pb_len);
        ctx_free(c);
        return 1;
    }
    return 0;
}

void api_respond_keep(struct api_ctx *c, struct buf *pb)
{
    struct api_const *k = NULL;
    for (int i = 0; i < API_CONST_SLOTS && !k; i++)
        if (c->api->consts[i].type == 0) k = &c->api->consts[i];
    struct buf js = { .max = sizeof k->json };
    if (k && c->type != 0 && pb->len <= sizeof k->pb &&
        pbjson_to_json(c->api->response_msg, pb->data, pb->len, &js) == 0) {
        memcpy(k->pb, pb->data, pb->len);
        k->pb_len = (uint16_t)pb->len;
        memcpy(k->json, js.data, js.len);
        k->json_len = (uint16_t)js.len;
        k->type = c->type;
    }
    buf_free(&js);
    if (api_respond_const(c)) buf_free(pb);
    else api_respond(c, pb);
}

void api_respond_json_room2(struct api_ctx *c, struct buf *js, size_t room, struct buf *part2, size_t off2)
{
    server_respond_room2(c->r, 200, NULL, CT_JSON, js, room, part2, off2);
    ctx_free(c);
}

int api_stream_event(struct api *a, struct request *r, int json, const void *pb, size_t n)
{
    if (!json) return server_stream_record(r, pb, n);
    struct buf js = {0};
    int rc = pbjson_to_json(a->event_msg, pb, n, &js);
    if (rc == 0) rc = server_stream_record(r, js.data, js.len);
    buf_free(&js);
    return rc;
}

/* The call's sub-message field is named after its type: GET_METRICS ->
 * get_metrics. Returns its tag, or 0 when the call has none. */
static uint32_t sub_tag(const struct api *a, const char *type_name)
{
    char lower[64];
    size_t n = strlen(type_name);
    if (n >= sizeof lower) return 0;
    for (size_t i = 0; i <= n; i++) lower[i] = (char)tolower((unsigned char)type_name[i]);
    const struct pbd_msg *m = &pbd_msgs[a->call_msg];
    for (size_t i = 0; i < m->nfields; i++)
        if (m->fields[i].type == PBD_MESSAGE && strcmp(m->fields[i].name, lower) == 0) return m->fields[i].tag;
    return 0;
}

/* The handler and sub-message tag of a call type, looked up by name once
 * per type and kept in a->types (the table lookups are string compares). */
static struct api_type type_info(struct api *a, int32_t type, const char *type_name)
{
    struct api_type t = { 1, 0, 0 };
    if (type >= 0 && type < API_TYPES && a->types[type].known) return a->types[type];
    uint32_t tag = sub_tag(a, type_name);
    t.sub_tag = tag <= UINT16_MAX ? (uint16_t)tag : 0;
    for (size_t i = 0; i < a->ncalls && i < UINT8_MAX; i++)
        if (strcmp(a->calls[i].name, type_name) == 0) { t.call = (uint8_t)(i + 1); break; }
    if (type >= 0 && type < API_TYPES && tag <= UINT16_MAX && a->ncalls < UINT8_MAX) a->types[type] = t;
    return t;
}

/* Run the handler of c->type, or answer 501. */
static void call_handler(struct api_ctx *c, const struct api_type *t, const char *type_name)
{
    struct api *a = c->api;
    if (c->type == 0) { api_error(c, 501, NULL); return; }
    if (t->call) {
        LOG_V(1, "%s call from a client", type_name);
        a->calls[t->call - 1].fn(c);
        return;
    }
    for (size_t i = 0; i < a->ncalls; i++)       /* tables too big for the cache */
        if (strcmp(a->calls[i].name, type_name) == 0) {
            LOG_V(1, "%s call from a client", type_name);
            a->calls[i].fn(c);
            return;
        }
    api_error(c, 501, "%s is not implemented yet by mesos_api", type_name);
}

static void agent_handle(struct api_ctx *c);

void api_handle(struct request *r, void *arg)
{
    struct api *a = arg;
    struct api_ctx *c = xcalloc(1, sizeof *c);
    c->api = a;
    c->r = r;
    c->state = a->state;

    const struct http_req *h = r->head;
    if (h->method_len != 4 || memcmp(h->method, "POST", 4) != 0) {   /* methods are case-sensitive */
        char msg[256];
        snprintf(msg, sizeof msg, "405 Method Not Allowed. Expecting one of { 'POST' }, but received '%.*s'.",
                 (int)(h->method_len > 64 ? 64 : h->method_len), h->method);
        server_respond(r, 405, "Allow: POST\r\n", "text/plain; charset=utf-8", msg, strlen(msg));
        ctx_free(c);
        return;
    }
    if (a->agent) { agent_handle(c); return; }
    size_t ct_len;
    const char *ct = request_header(r, "Content-Type", &ct_len);
    if (!ct) { api_error(c, 400, "Expecting 'Content-Type' to be present"); return; }
    int in_json = ct_len == strlen(CT_JSON) && memcmp(ct, CT_JSON, ct_len) == 0;
    int in_proto = ct_len == strlen(CT_PROTO) && memcmp(ct, CT_PROTO, ct_len) == 0;
    if (!in_json && !in_proto) {
        api_error(c, 415, "Expecting 'Content-Type' of application/json or application/x-protobuf");
        return;
    }

    /* Decode into Call bytes. */
    if (in_json) {
        struct buf err = { .max = 4096 };
        int rc = pbjson_from_json(a->call_msg, r->body, r->body_len, &c->call_buf, &err);
        if (rc == PBJSON_ESYNTAX)
            api_error(c, 400, "Failed to parse body into JSON: %.*s", (int)err.len, err.data);
        else if (rc == PBJSON_ECONVERT)
            api_error(c, 400, "Failed to convert JSON into %s protobuf: %.*s", a->what, (int)err.len, err.data);
        else if (rc)
            api_error(c, 413, NULL);
        buf_free(&err);
        if (rc) return;
        c->call = (const uint8_t *)c->call_buf.data;
        c->call_len = c->call_buf.len;
    } else {
        struct buf err = { .max = 4096 };
        int rc = pbjson_check(a->call_msg, r->body, r->body_len, &err);
        buf_free(&err);
        if (rc < 0) { api_error(c, 400, "Failed to parse body into %s protobuf", a->what); return; }
        c->call = (const uint8_t *)r->body;
        c->call_len = r->body_len;
    }
    if (!c->call) c->call = (const uint8_t *)"";

    /* Validate: a known type, and its sub-message when the call has one. */
    struct pbw_field f;
    const char *type_name = NULL;
    /* Call.type is tag 1 in the operator Calls and 2 in the scheduler's. */
    if (!a->type_tag) {
        const struct pbd_msg *cm = &pbd_msgs[a->call_msg];
        a->type_tag = 1;
        for (size_t i = 0; i < cm->nfields; i++)
            if (strcmp(cm->fields[i].name, "type") == 0) a->type_tag = cm->fields[i].tag;
    }
    if (pbw_find(c->call, c->call_len, a->type_tag, &f) == 1 && f.wt == PBW_VARINT) {
        c->type = (int32_t)f.v;
        type_name = pbd_enum_name(a->call_type_enum, c->type);
    }
    if (!type_name) {
        api_error(c, 400, "Failed to validate %s: Expecting 'type' to be present", a->validate_what);
        return;
    }
    struct api_type t = type_info(a, c->type, type_name);
    uint32_t tag = a->no_sub_check ? 0 : t.sub_tag;
    if (tag) {
        if (pbw_find(c->call, c->call_len, tag, &f) != 1 || f.wt != PBW_LEN) {
            char lower[64];
            size_t i = 0;
            for (; type_name[i] && i < sizeof lower - 1; i++) lower[i] = (char)tolower((unsigned char)type_name[i]);
            lower[i] = 0;
            api_error(c, 400, "Failed to validate %s: Expecting '%s' to be present", a->validate_what, lower);
            return;
        }
        c->sub = f.p;
        c->sub_len = f.n;
    }

    /* Accept: JSON is asked about first, then protobuf. */
    if (a->lazy_accept) c->json = request_accepts(r, "Accept", CT_JSON);
    else if (request_accepts(r, "Accept", CT_JSON)) c->json = 1;
    else if (request_accepts(r, "Accept", CT_PROTO)) c->json = 0;
    else {
        api_error(c, 406, "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'");
        return;
    }

    call_handler(c, &t, type_name);
}

/* ==== The agent's /api/v1 =============================================== */

/* The agent reads its request as upstream's src/slave/http.cpp does:
 * media types first (Content-Type, Message-Content-Type, Accept,
 * Message-Accept), then the body, then validation, then the checks that
 * tie streaming to call types. A body of Content-Type application/recordio
 * is a stream of Call records; the first is the call. */

int api_wants_stream(struct request *r, void *arg)
{
    struct api *a = arg;
    size_t n;
    const char *ct = request_header(r, "Content-Type", &n);
    return a->agent && ct && n == strlen(CT_RECORDIO) && memcmp(ct, CT_RECORDIO, n) == 0;
}

static int header_eq(const char *v, size_t n, const char *s) { return v && n == strlen(s) && memcmp(v, s, n) == 0; }

/* Decode one Call (the body, or one record of a streamed body) into
 * protobuf bytes. p and n are replaced by the Call bytes (in out when
 * converted). Returns 0, -1 with upstream's message in msg, or -2 (413). */
static int agent_decode(struct api *a, int json, const char **p, size_t *n, struct buf *out, struct buf *msg)
{
    struct buf err = { .max = 4096 };
    int rc = 0;
    if (json) {
        rc = pbjson_from_json(a->call_msg, *p, *n, out, &err);
        if (rc == PBJSON_ESYNTAX) buf_printf(msg, "Failed to parse body into JSON: %.*s", (int)err.len, err.data);
        else if (rc == PBJSON_ECONVERT) buf_printf(msg, "%.*s", (int)err.len, err.data);
        rc = rc == 0 ? 0 : rc == PBJSON_ELIMIT ? -2 : -1;
        *p = out->data ? out->data : "";
        *n = out->len;
    } else if (pbjson_check(a->call_msg, *p, *n, &err) < 0) {
        buf_puts(msg, "Failed to parse body into a protobuf object");
        rc = -1;
    }
    buf_free(&err);
    return rc;
}

/* Validation, the streaming/call-type checks, then the handler. */
static void agent_dispatch(struct api_ctx *c)
{
    struct api *a = c->api;
    struct pbw_field f;
    const char *type_name = NULL;
    if (pbw_find(c->call, c->call_len, 1, &f) == 1 && f.wt == PBW_VARINT) {
        c->type = (int32_t)f.v;
        type_name = pbd_enum_name(a->call_type_enum, c->type);
    }
    if (!type_name) {
        api_error(c, 400, "Failed to validate %s: Expecting 'type' to be present", a->validate_what);
        return;
    }
    struct api_type t = type_info(a, c->type, type_name);
    uint32_t tag = t.sub_tag;
    if (tag && pbw_find(c->call, c->call_len, tag, &f) == 1 && f.wt == PBW_LEN) {
        c->sub = f.p;
        c->sub_len = f.n;
    }
    if (a->validate) {
        struct buf err = { .max = 4096 };
        int rc = a->validate(c, &err);
        if (rc < 0) api_error(c, 400, "Failed to validate %s: %.*s", a->validate_what, (int)err.len, err.data);
        buf_free(&err);
        if (rc < 0) return;
    }
    if (c->stream_in && c->type != a->stream_in_type) {
        api_error(c, 415, "Streaming 'Content-Type' %s is not supported for %s call", CT_RECORDIO, type_name);
        return;
    }
    if (!c->stream_in && c->type == a->stream_in_type) {
        api_error(c, 415, "Expecting 'Content-Type' to be %s for %s call", CT_RECORDIO, type_name);
        return;
    }
    if (c->stream_accept) {
        int ok = 0;
        for (size_t i = 0; i < sizeof a->stream_out_types / sizeof *a->stream_out_types; i++)
            ok |= a->stream_out_types[i] && a->stream_out_types[i] == c->type;
        if (!ok) {
            api_error(c, 406, "Streaming response is not supported for %s call", type_name);
            return;
        }
    }
    call_handler(c, &t, type_name);
}

static void input_closed(struct request *r, void *arg)
{
    (void)r;
    ctx_free(arg);           /* the peer left before the call was dispatched */
}

/* Bytes of a streamed body: RecordIO records of Calls. */
static void agent_body(struct request *r, void *arg, const char *p, size_t n)
{
    struct api_ctx *c = arg;
    int alive = 1;
    c->alive = &alive;
    if (n == 0) {                                     /* end of the body */
        if (!c->dispatched) api_error(c, 400, "Received EOF while reading request body");
        else if (c->on_input) c->on_input(c, NULL, 0, c->rio.in.len ? "Received a truncated record" : NULL);
        if (alive) c->alive = NULL;
        return;
    }
    if (recordio_feed(&c->rio, p, n) < 0) {
        if (!c->dispatched) api_error(c, 413, NULL);
        else if (c->on_input) c->on_input(c, NULL, 0, "Record too large");
        if (alive) c->alive = NULL;
        return;
    }
    const char *rec;
    size_t rn;
    int rc;
    while (alive && (rc = recordio_next(&c->rio, &rec, &rn)) == 1) {
        struct buf pb = { .max = MAX_INPUT_RECORD * 2 }, msg = { .max = 4096 };
        const char *cp = rec;
        size_t cn = rn;
        int drc = agent_decode(c->api, c->in_json, &cp, &cn, &pb, &msg);
        if (drc < 0) {
            if (!c->dispatched) {
                if (drc == -2) api_error(c, 413, NULL);
                else api_error(c, 400, "%.*s", (int)msg.len, msg.data);
            } else if (c->on_input) {
                buf_putc(&msg, 0);
                c->on_input(c, NULL, 0, drc == -2 ? "Record too large" : msg.data);
            }
            buf_free(&pb);
            buf_free(&msg);
            break;
        }
        buf_free(&msg);
        if (!c->dispatched) {
            c->dispatched = 1;
            if (!pb.data) buf_append(&pb, cp, cn);    /* protobuf: keep a copy */
            buf_free(&c->call_buf);
            c->call_buf = pb;
            c->call = (const uint8_t *)c->call_buf.data;
            c->call_len = c->call_buf.len;
            if (!c->call) c->call = (const uint8_t *)"";
            r->on_close = NULL;                       /* the handler's from here */
            agent_dispatch(c);
        } else {
            if (c->on_input) c->on_input(c, (const uint8_t *)cp, cn, NULL);
            buf_free(&pb);
        }
    }
    if (alive && rc < 0) {
        if (!c->dispatched) api_error(c, 400, "Failed to decode a record of the request body");
        else if (c->on_input) c->on_input(c, NULL, 0, "Failed to decode a record of the request body");
    }
    if (alive) c->alive = NULL;
}

static void agent_handle(struct api_ctx *c)
{
    struct request *r = c->r;
    size_t ctl, mctl;
    const char *ct = request_header(r, "Content-Type", &ctl);
    if (!ct) { api_error(c, 400, "Expecting 'Content-Type' to be present"); return; }
    int in_json = header_eq(ct, ctl, CT_JSON);
    c->stream_in = header_eq(ct, ctl, CT_RECORDIO);
    if (!in_json && !c->stream_in && !header_eq(ct, ctl, CT_PROTO)) {
        api_error(c, 415, "Expecting 'Content-Type' of %s or %s or %s", CT_JSON, CT_PROTO, CT_RECORDIO);
        return;
    }
    const char *mct = request_header(r, "Message-Content-Type", &mctl);
    if (c->stream_in) {
        if (!mct) { api_error(c, 400, "Expecting 'Message-Content-Type' to be set for streaming requests"); return; }
        c->in_json = header_eq(mct, mctl, CT_JSON);
        if (!c->in_json && !header_eq(mct, mctl, CT_PROTO)) {
            api_error(c, 415, "Expecting 'Message-Content-Type' of %s or %s", CT_JSON, CT_PROTO);
            return;
        }
    } else if (mct) {
        api_error(c, 415, "Expecting 'Message-Content-Type' to be not set for non-streaming requests");
        return;
    }
    if (request_accepts(r, "Accept", CT_JSON)) c->json = 1;
    else if (request_accepts(r, "Accept", CT_PROTO)) c->json = 0;
    else if (request_accepts(r, "Accept", CT_RECORDIO)) c->stream_accept = 1;
    else {
        api_error(c, 406, "Expecting 'Accept' to allow %s or %s or %s", CT_JSON, CT_PROTO, CT_RECORDIO);
        return;
    }
    if (c->stream_accept) {
        /* No Message-Accept accepts everything: JSON. */
        if (request_accepts(r, "Message-Accept", CT_JSON)) c->message_json = 1;
        else if (!request_accepts(r, "Message-Accept", CT_PROTO)) {
            api_error(c, 406, "Expecting 'Message-Accept' to allow %s or %s", CT_JSON, CT_PROTO);
            return;
        }
    } else if (request_header(r, "Message-Accept", NULL)) {
        api_error(c, 406, "Expecting 'Message-Accept' to be not set for non-streaming responses");
        return;
    }
    if (c->stream_in) {
        c->rio.in.max = MAX_INPUT_RECORD + 32;
        r->on_body = agent_body;
        r->on_body_arg = c;
        r->on_close = input_closed;
        r->on_close_arg = c;
        return;
    }
    const char *p = r->body;
    size_t n = r->body_len;
    struct buf msg = { .max = 4096 };
    int rc = agent_decode(c->api, in_json, &p, &n, &c->call_buf, &msg);
    if (rc == -2) api_error(c, 413, NULL);
    else if (rc < 0) api_error(c, 400, "%.*s", (int)msg.len, msg.data);
    buf_free(&msg);
    if (rc < 0) return;
    c->call = (const uint8_t *)p;
    c->call_len = n;
    agent_dispatch(c);
}

int api_records_json(const struct api_ctx *c)
{
    return c->stream_accept ? c->message_json : c->json;
}

void api_stream_begin(struct api_ctx *c)
{
    char extra[128] = "";
    const char *ct = c->json ? CT_JSON : CT_PROTO;
    if (c->stream_accept) {
        snprintf(extra, sizeof extra, "Message-Content-Type: %s\r\n", c->message_json ? CT_JSON : CT_PROTO);
        ct = CT_RECORDIO;
    }
    server_stream_begin(c->r, extra[0] ? extra : NULL, ct);
}
