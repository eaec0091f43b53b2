/* recordio.c -- RecordIO records and the HTTP responses that carry them
 * (see recordio.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "recordio.h"

int recordio_feed(struct recordio *r, const void *p, size_t n)
{
    if (r->in.max == 0) r->in.max = RECORDIO_MAX + 32;
    if (r->drop) { buf_consume(&r->in, r->drop); r->drop = 0; }
    return buf_append(&r->in, p, n);
}

int recordio_next(struct recordio *r, const char **p, size_t *n)
{
    if (r->drop) { buf_consume(&r->in, r->drop); r->drop = 0; }   /* the record handed out last */
    size_t i = 0;
    uint64_t len = 0;
    for (; i < r->in.len && r->in.data[i] != '\n'; i++) {
        char c = r->in.data[i];
        if (c < '0' || c > '9' || i >= 20) return -1;
        len = len * 10 + (uint64_t)(c - '0');
        if (len > RECORDIO_MAX) return -1;
    }
    if (i == r->in.len) return 0;          /* no newline yet */
    if (i == 0) return -1;                 /* an empty length */
    if (r->in.len - i - 1 < len) return 0;
    *p = r->in.data + i + 1;
    *n = (size_t)len;
    r->drop = i + 1 + (size_t)len;
    return 1;
}

void recordio_free(struct recordio *r) { buf_free(&r->in); }

/* ==== HTTP responses ==================================================== */

static int parse_head(struct hresp *h, const char *p, size_t n)
{
    /* "HTTP/1.1 200 OK" */
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0) return -1;
    h->status = atoi(p + 9);
    if (h->status < 100 || h->status > 999) return -1;
    h->length = -1;
    const char *line = memchr(p, '\n', n);
    while (line && line + 1 < p + n) {
        line++;
        const char *end = memchr(line, '\n', (size_t)(p + n - line));
        if (!end) break;
        size_t ll = (size_t)(end - line);
        if (ll >= 18 && strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
            const char *v = line + 18;
            while (*v == ' ') v++;
            if (strncasecmp(v, "chunked", 7) == 0) h->chunked = 1;
        } else if (ll >= 15 && strncasecmp(line, "Content-Length:", 15) == 0) {
            h->length = strtoll(line + 15, NULL, 10);
        }
        line = end;
    }
    return 0;
}

int hresp_feed(struct hresp *h, const char *p, size_t n, struct buf *body)
{
    if (!h->status) {
        if (h->head_in.max == 0) h->head_in.max = 65536;
        if (buf_append(&h->head_in, p, n) < 0) return -1;
        char *e = memmem(h->head_in.data, h->head_in.len, "\r\n\r\n", 4);
        if (!e) return 0;
        size_t head_len = (size_t)(e - h->head_in.data) + 4;
        if (parse_head(h, h->head_in.data, head_len) < 0) return -1;
        /* 1xx answers (100 Continue) come before the real one. */
        if (h->status < 200) {
            h->status = 0;
            buf_consume(&h->head_in, head_len);
            struct buf rest = h->head_in;
            memset(&h->head_in, 0, sizeof h->head_in);
            int rc = hresp_feed(h, rest.data, rest.len, body);
            buf_free(&rest);
            return rc;
        }
        p = h->head_in.data + head_len;
        n = h->head_in.len - head_len;
        if (h->length == 0 && !h->chunked) h->done = 1;
        int rc = n ? hresp_feed(h, p, n, body) : 0;
        buf_free(&h->head_in);
        return rc;
    }
    if (h->done) return 0;
    if (h->chunked) {
        char *tmp = malloc(n ? n : 1);
        if (!tmp) return -1;
        memcpy(tmp, p, n);
        size_t len = n;
        ssize_t rc = http_decode_chunked(&h->ch, tmp, &len);
        int r = rc == HTTP_BAD ? -1 : buf_append(body, tmp, len);
        if (rc >= 0) h->done = 1;
        free(tmp);
        return r;
    }
    if (h->length >= 0) {
        size_t want = (size_t)h->length - body->len;
        if (n > want) n = want;
        if (buf_append(body, p, n) < 0) return -1;
        if (body->len == (size_t)h->length) h->done = 1;
        return 0;
    }
    return buf_append(body, p, n);
}

void hresp_free(struct hresp *h) { buf_free(&h->head_in); }
