/* recordio.h -- RecordIO framing, "<decimal length>\n<bytes>", as Mesos
 * streams events (stout/recordio.hpp), and a reader for the HTTP response
 * that carries it (status line, headers, chunked body).
 *
 * Both decoders are resumable: feed bytes as they arrive. Records are
 * bounded by RECORDIO_MAX so a peer cannot make us buffer without limit. */
#ifndef RECORDIO_H
#define RECORDIO_H
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "http.h"

#define RECORDIO_MAX (64u << 20)

struct recordio {
    struct buf in;          /* undecoded bytes */
    size_t drop;            /* bytes of the record handed out last */
};

/* Append bytes. Then call recordio_next until it returns 0.
 * Returns 1 with *p and *n set to the next record (valid until the next call
 * of either function),
 * 0 when more bytes are needed, -1 on bad framing (non-digit length, a
 * length over RECORDIO_MAX). */
int recordio_feed(struct recordio *r, const void *p, size_t n);
int recordio_next(struct recordio *r, const char **p, size_t *n);
void recordio_free(struct recordio *r);

/* An HTTP/1.1 response being read: head, then body (chunked or by length,
 * or up to the end of the connection). */
struct hresp {
    int status;             /* 0 until the head is parsed */
    int chunked;
    int64_t length;         /* Content-Length, -1 if none */
    struct buf head_in;     /* bytes until the head is complete */
    struct http_chunked ch;
    int done;               /* whole body seen */
};
/* Feed raw bytes; decoded body bytes are appended to body. Returns 0, or
 * -1 on a malformed response. */
int hresp_feed(struct hresp *h, const char *p, size_t n, struct buf *body);
void hresp_free(struct hresp *h);

#endif
