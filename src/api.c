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

#define CT_JSON  "application/json"
#define CT_PROTO "application/x-protobuf"

static void ctx_free(struct api_ctx *c)
{
    buf_free(&c->call_buf);
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

void api_respond(struct api_ctx *c, struct buf *pb)
{
    if (c->json) {
        struct buf js = {0};
        if (pbjson_to_json(c->api->response_msg, pb->data, pb->len, &js) < 0) {
            buf_free(&js);
            buf_free(pb);
            LOG_ERR("failed to encode a %s response as JSON", c->api->what);
            api_error(c, 500, NULL);
            return;
        }
        buf_free(pb);
        server_respond_buf(c->r, 200, NULL, CT_JSON, &js);
    } else {
        server_respond_buf(c->r, 200, NULL, CT_PROTO, pb);
    }
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
    uint32_t type_tag = 1;
    const struct pbd_msg *cm = &pbd_msgs[a->call_msg];
    for (size_t i = 0; i < cm->nfields; i++)
        if (strcmp(cm->fields[i].name, "type") == 0) type_tag = cm->fields[i].tag;
    if (pbw_find(c->call, c->call_len, type_tag, &f) == 1 && f.wt == PBW_VARINT) {
        c->type = (int32_t)f.v;
        type_name = pbd_enum_name(a->call_type_enum, c->type);
    }
    if (!type_name) {
        api_error(c, 400, "Failed to validate %s: Expecting 'type' to be present", a->validate_what);
        return;
    }
    uint32_t tag = a->no_sub_check ? 0 : sub_tag(a, type_name);
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

    if (c->type == 0) { api_error(c, 501, NULL); return; }
    for (size_t i = 0; i < a->ncalls; i++)
        if (strcmp(a->calls[i].name, type_name) == 0) {
            LOG_V(1, "%s call from a client", type_name);
            a->calls[i].fn(c);
            return;
        }
    api_error(c, 501, "%s is not implemented yet by mesos_api", type_name);
}
