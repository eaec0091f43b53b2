/* pbw.c -- protobuf wire format reader and writer (see pbw.h). */
#include <string.h>
#include "pbw.h"

int pbw_varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (p + i >= end) return -1;
        uint8_t c = p[i];
        /* The tenth byte may only carry the top bit of a 64-bit value. */
        if (i == 9 && c > 1) return -1;
        x |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) { *v = x; return i + 1; }
    }
    return -1;
}

/* Most keys and lengths are one byte: read those without the loop. */
static inline int varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    if (p < end && *p < 0x80) { *v = *p; return 1; }
    return pbw_varint(p, end, v);
}

/* Skip a group body up to its matching end-group key. Groups are obsolete
 * and Mesos has none, but a valid message may carry one as an unknown field. */
static int skip_group(struct pbw_reader *r, uint32_t tag, int depth)
{
    if (depth > PBW_MAX_DEPTH) return -1;
    for (;;) {
        uint64_t key;
        int k = pbw_varint(r->p, r->end, &key);
        if (k < 0) return -1;
        if ((key & 7) == PBW_EGROUP) {
            r->p += k;
            return (key >> 3) == tag ? 0 : -1;
        }
        struct pbw_field f;
        struct pbw_reader sub = *r;
        int rc = pbw_next(&sub, &f);
        if (rc != 1) return -1;
        if (f.wt == PBW_SGROUP && skip_group(&sub, f.tag, depth + 1) < 0) return -1;
        r->p = sub.p;
    }
}

int pbw_next(struct pbw_reader *r, struct pbw_field *f)
{
    if (r->p >= r->end) return 0;
    uint64_t key, v;
    f->start = r->p;
    int k = varint(r->p, r->end, &key);
    if (k < 0 || (key >> 3) == 0 || (key >> 3) > 0x1fffffff) return -1;
    const uint8_t *p = r->p + k;
    f->tag = (uint32_t)(key >> 3);
    f->wt = key & 7;
    f->v = 0; f->p = NULL; f->n = 0;
    switch (f->wt) {
    case PBW_VARINT:
        if ((k = varint(p, r->end, &v)) < 0) return -1;
        f->v = v; p += k;
        break;
    case PBW_I64:
        if (r->end - p < 8) return -1;
        v = 0;
        for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
        f->v = v; p += 8;
        break;
    case PBW_I32:
        if (r->end - p < 4) return -1;
        f->v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        p += 4;
        break;
    case PBW_LEN:
        if ((k = varint(p, r->end, &v)) < 0) return -1;
        p += k;
        if (v > (uint64_t)(r->end - p)) return -1;
        f->p = p; f->n = (size_t)v; p += v;
        break;
    case PBW_SGROUP: {
        struct pbw_reader g = { p, r->end };
        if (skip_group(&g, f->tag, 0) < 0) return -1;
        f->p = p; f->n = (size_t)(g.p - p); p = g.p;
        break;
    }
    default:
        return -1;   /* a stray end-group or wire types 6 and 7 */
    }
    r->p = p;
    return 1;
}

int pbw_valid(const void *p, size_t n)
{
    struct pbw_reader r;
    struct pbw_field f;
    int rc;
    pbw_reader_init(&r, p, n);
    while ((rc = pbw_next(&r, &f)) == 1) {}
    return rc;
}

int pbw_find(const void *p, size_t n, uint32_t tag, struct pbw_field *out)
{
    struct pbw_reader r;
    struct pbw_field f;
    int rc, found = 0;
    pbw_reader_init(&r, p, n);
    while ((rc = pbw_next(&r, &f)) == 1)
        if (f.tag == tag) { *out = f; found = 1; }
    return rc < 0 ? -1 : found;
}

int pbw_copy_except(struct buf *out, const void *p, size_t n, uint32_t tag)
{
    struct pbw_reader r;
    struct pbw_field f;
    int rc;
    pbw_reader_init(&r, p, n);
    while ((rc = pbw_next(&r, &f)) == 1)
        if (f.tag != tag && buf_append(out, f.start, (size_t)(r.p - f.start)) < 0) return -1;
    return rc;
}

/* ==== Writer ============================================================ */

int pbw_put_varint(struct buf *b, uint64_t v)
{
    uint8_t tmp[10];
    int n = 0;
    do { tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)); v >>= 7; } while (v);
    return buf_append(b, tmp, (size_t)n);
}

int pbw_put_key(struct buf *b, uint32_t tag, int wt)
{
    return pbw_put_varint(b, (uint64_t)tag << 3 | (unsigned)wt);
}

int pbw_put_uint(struct buf *b, uint32_t tag, uint64_t v)
{
    return pbw_put_key(b, tag, PBW_VARINT) || pbw_put_varint(b, v) ? -1 : 0;
}

int pbw_put_int32(struct buf *b, uint32_t tag, int32_t v)
{
    return pbw_put_uint(b, tag, (uint64_t)(int64_t)v);
}

int pbw_put_fixed64(struct buf *b, uint32_t tag, uint64_t v)
{
    uint8_t t[8];
    for (int i = 0; i < 8; i++) t[i] = (uint8_t)(v >> (8 * i));
    return pbw_put_key(b, tag, PBW_I64) || buf_append(b, t, 8) ? -1 : 0;
}

int pbw_put_fixed32(struct buf *b, uint32_t tag, uint32_t v)
{
    uint8_t t[4];
    for (int i = 0; i < 4; i++) t[i] = (uint8_t)(v >> (8 * i));
    return pbw_put_key(b, tag, PBW_I32) || buf_append(b, t, 4) ? -1 : 0;
}

int pbw_put_double(struct buf *b, uint32_t tag, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    return pbw_put_fixed64(b, tag, bits);
}

int pbw_put_bytes(struct buf *b, uint32_t tag, const void *p, size_t n)
{
    return pbw_put_key(b, tag, PBW_LEN) || pbw_put_varint(b, n) || buf_append(b, p, n) ? -1 : 0;
}

int pbw_put_str(struct buf *b, uint32_t tag, const char *s)
{
    return pbw_put_bytes(b, tag, s, strlen(s));
}

size_t pbw_begin(struct buf *b, uint32_t tag)
{
    if (pbw_put_key(b, tag, PBW_LEN) < 0 || buf_putc(b, 0) < 0) return SIZE_MAX;
    return b->len;
}

int pbw_end(struct buf *b, size_t mark)
{
    if (mark == SIZE_MAX || mark > b->len) return -1;
    size_t n = b->len - mark;
    uint8_t tmp[10];
    int k = 0;
    uint64_t v = n;
    do { tmp[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)); v >>= 7; } while (v);
    if (k > 1) {
        if (buf_reserve(b, (size_t)k - 1) < 0) return -1;
        memmove(b->data + mark + k - 1, b->data + mark, n);
        b->len += (size_t)k - 1;
    }
    memcpy(b->data + mark - 1, tmp, (size_t)k);
    return 0;
}
