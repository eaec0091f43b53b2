/* pbn.c -- nanopb glue (see pbn.h). */
#include <string.h>
#include "pbn.h"
#include "pbw.h"

static bool enc_str(pb_ostream_t *os, const pb_field_t *f, void * const *arg)
{
    const char *s = *arg;
    return pb_encode_tag_for_field(os, f) && pb_encode_string(os, (const pb_byte_t *)s, strlen(s));
}

pb_callback_t pbn_str(const char *s)
{
    pb_callback_t cb;
    memset(&cb, 0, sizeof cb);
    if (s) {
        cb.funcs.encode = enc_str;
        cb.arg = (void *)(uintptr_t)s;
    }
    return cb;
}

/* The input stream of pbn_decode reads from memory, so its state is the
 * current position: the span is taken from there without copying. */
static bool dec_capture(pb_istream_t *is, const pb_field_t *f, void **arg)
{
    (void)f;
    struct pbn_span *s = *arg;
    s->p = is->state;
    s->n = is->bytes_left;
    s->set = true;
    return pb_read(is, NULL, is->bytes_left);
}

pb_callback_t pbn_capture(struct pbn_span *span)
{
    pb_callback_t cb;
    memset(&cb, 0, sizeof cb);
    cb.funcs.decode = dec_capture;
    cb.arg = span;
    return cb;
}

static bool buf_write(pb_ostream_t *os, const pb_byte_t *p, size_t n)
{
    return buf_append(os->state, p, n) == 0;
}

bool pbn_encode(struct buf *out, const pb_msgdesc_t *fields, const void *msg)
{
    pb_ostream_t os = { buf_write, out, SIZE_MAX, 0, NULL };
    return pb_encode(&os, fields, msg);
}

bool pbn_encode_field(struct buf *out, uint32_t tag, const pb_msgdesc_t *fields, const void *msg)
{
    size_t mark = pbw_begin(out, tag);
    return mark != SIZE_MAX && pbn_encode(out, fields, msg) && pbw_end(out, mark) == 0;
}

bool pbn_decode(const void *p, size_t n, const pb_msgdesc_t *fields, void *msg)
{
    pb_istream_t is = pb_istream_from_buffer(p, n);
    return pb_decode_noinit(&is, fields, msg);
}
