/* pbw.h -- the protobuf wire format by hand: read fields out of bytes and
 * append fields to a struct buf.
 *
 * nanopb decodes into fixed structs; this is the other half we need: walking
 * bytes we keep (stored state objects, pass-through sub-messages) without a
 * struct, and building responses field by field. Nothing here allocates
 * except the output buffer. */
#ifndef PBW_H
#define PBW_H
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

enum { PBW_VARINT = 0, PBW_I64 = 1, PBW_LEN = 2, PBW_SGROUP = 3, PBW_EGROUP = 4, PBW_I32 = 5 };
#define PBW_MAX_DEPTH 100   /* nesting limit for groups and for recursive walkers */

struct pbw_field {
    uint32_t tag;
    uint8_t wt;            /* wire type */
    uint64_t v;            /* VARINT value; I64/I32 raw bits */
    const uint8_t *p;      /* LEN payload (or the whole group body) */
    size_t n;
    const uint8_t *start;  /* first byte of the field's key */
};

struct pbw_reader { const uint8_t *p, *end; };

static inline void pbw_reader_init(struct pbw_reader *r, const void *p, size_t n) {
    r->p = p; r->end = (const uint8_t *)p + n;
}
/* Read the next field. Returns 1, 0 at the end, -1 on malformed bytes
 * (truncated, tag 0, bad wire type, varint over 10 bytes, unbalanced group). */
int pbw_next(struct pbw_reader *r, struct pbw_field *f);
/* The same, with the common case inline for hot loops: a one-byte key of a
 * VARINT field with a one-byte value, or of a LEN field with a one-byte
 * length. Anything else goes to pbw_next. */
static inline int pbw_next_fast(struct pbw_reader *r, struct pbw_field *f) {
    const uint8_t *p = r->p;
    if (r->end - p >= 2 && p[0] < 0x80 && p[1] < 0x80 && p[0] >= 8) {
        if ((p[0] & 7) == 2 && (size_t)p[1] <= (size_t)(r->end - p - 2)) {
            f->start = p; f->tag = p[0] >> 3; f->wt = 2; f->v = 0;
            f->p = p + 2; f->n = p[1];
            r->p = p + 2 + p[1];
            return 1;
        }
        if ((p[0] & 7) == 0) {
            f->start = p; f->tag = p[0] >> 3; f->wt = 0; f->v = p[1];
            f->p = NULL; f->n = 0;
            r->p = p + 2;
            return 1;
        }
    }
    return pbw_next(r, f);
}
/* Returns bytes used (1..10) or -1. */
int pbw_varint(const uint8_t *p, const uint8_t *end, uint64_t *v);
/* Walk all fields of a message and check the framing, recursively not. */
int pbw_valid(const void *p, size_t n);
/* Find the last occurrence of `tag` (1) or none (0); -1 malformed. */
int pbw_find(const void *p, size_t n, uint32_t tag, struct pbw_field *f);

/* Append every field of message p[0..n) except those numbered `tag`
 * (e.g. to replace an id). Returns 0, or -1 on malformed bytes or max. */
int pbw_copy_except(struct buf *out, const void *p, size_t n, uint32_t tag);

/* ---- writer: each returns 0, or -1 when the buffer is at its max ---- */
int pbw_put_varint(struct buf *b, uint64_t v);
int pbw_put_key(struct buf *b, uint32_t tag, int wt);
int pbw_put_uint(struct buf *b, uint32_t tag, uint64_t v);      /* uint*, bool, enum, int64 */
int pbw_put_int32(struct buf *b, uint32_t tag, int32_t v);      /* sign-extended as protobuf */
int pbw_put_double(struct buf *b, uint32_t tag, double v);
int pbw_put_fixed64(struct buf *b, uint32_t tag, uint64_t v);
int pbw_put_fixed32(struct buf *b, uint32_t tag, uint32_t v);
int pbw_put_bytes(struct buf *b, uint32_t tag, const void *p, size_t n);
int pbw_put_str(struct buf *b, uint32_t tag, const char *s);
/* Nested message of unknown length: pbw_begin() writes the key and a one-byte
 * length placeholder and returns a mark; pbw_end() fixes the length, moving
 * the payload when the length needs more than one byte. */
size_t pbw_begin(struct buf *b, uint32_t tag);
int pbw_end(struct buf *b, size_t mark);

#endif
