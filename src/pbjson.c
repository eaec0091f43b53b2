/* pbjson.c -- protobuf <-> JSON by walking descriptor tables.
 *
 * To JSON: one pass over a message's bytes collects its fields (skipping
 * unknown ones and wire types that do not fit the declared type, as protobuf
 * would), then the fields are written in declaration order, as stout's
 * JSON::Protobuf does. Nested messages recurse on their byte spans, so a
 * stored object is transcoded straight from the bytes we keep.
 *
 * From JSON: the strict tokenizer in json.c, then protobuf::parse's rules
 * (OPERATOR_API.md 4.2): unknown keys ignored, null means absent, numbers may
 * come as strings, enums only by name, required fields checked at the end. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "pbjson.h"
#include "pbw.h"

#define MAX_DEPTH PBW_MAX_DEPTH

const char *pbd_enum_name(int e, int32_t number)
{
    const struct pbd_enum *en = &pbd_enums[e];
    size_t lo = 0, hi = en->nvalues;
    while (lo < hi) {           /* values are sorted by number */
        size_t mid = (lo + hi) / 2;
        if (en->values[mid].number < number) lo = mid + 1;
        else hi = mid;
    }
    return lo < en->nvalues && en->values[lo].number == number ? en->values[lo].name : NULL;
}

int pbd_enum_number(int e, const char *name, size_t len, int32_t *number)
{
    const struct pbd_enum *en = &pbd_enums[e];
    for (size_t i = 0; i < en->nvalues; i++)
        if (strlen(en->values[i].name) == len && memcmp(en->values[i].name, name, len) == 0) {
            *number = en->values[i].number;
            return 0;
        }
    return -1;
}

static const struct pbd_field *field_by_tag(const struct pbd_msg *m, uint32_t tag)
{
    size_t lo = 0, hi = m->nfields;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->fields[m->by_tag[mid]].tag < tag) lo = mid + 1;
        else hi = mid;
    }
    return lo < m->nfields && m->fields[m->by_tag[lo]].tag == tag ? &m->fields[m->by_tag[lo]] : NULL;
}

static int wire_type_of(int type)
{
    switch (type) {
    case PBD_DOUBLE: case PBD_FIXED64: case PBD_SFIXED64: return PBW_I64;
    case PBD_FLOAT: case PBD_FIXED32: case PBD_SFIXED32: return PBW_I32;
    case PBD_STRING: case PBD_BYTES: case PBD_MESSAGE: return PBW_LEN;
    case PBD_GROUP: return PBW_SGROUP;
    default: return PBW_VARINT;
    }
}

/* ==== Protobuf to JSON ================================================== */

struct entry { uint16_t fi; struct pbw_field f; };

/* Entries of all open messages share one stack-like array; `tmp` and
 * `count` are room for ordering one message's entries at a time. */
struct scratch { struct entry *e, *tmp; size_t len, cap, tmp_cap; size_t *count, count_cap; int worker; };

/* Order e[base..len) by declaration index, stably (a counting sort: a
 * huge repeated field must not cost entries x fields). Entries usually
 * come in declaration order already, and then nothing moves. */
static void order_entries(struct scratch *s, size_t base, size_t nfields)
{
    size_t n = s->len - base, i;
    for (i = base + 1; i < s->len && s->e[i - 1].fi <= s->e[i].fi; i++) {}
    if (i >= s->len) return;
    if (n > s->tmp_cap) {
        s->tmp_cap = n;
        s->tmp = xrealloc(s->tmp, n * sizeof *s->tmp);
    }
    if (nfields + 1 > s->count_cap) {
        s->count_cap = nfields + 1;
        s->count = xrealloc(s->count, s->count_cap * sizeof *s->count);
    }
    memset(s->count, 0, (nfields + 1) * sizeof *s->count);
    for (i = base; i < s->len; i++) s->count[s->e[i].fi + 1]++;
    for (size_t f = 1; f <= nfields; f++) s->count[f] += s->count[f - 1];
    for (i = base; i < s->len; i++) s->tmp[s->count[s->e[i].fi]++] = s->e[i];
    memcpy(s->e + base, s->tmp, n * sizeof *s->tmp);
}

/* "name": -- field names are proto identifiers and need no escaping. */
static int put_key(struct buf *out, const struct pbd_field *fd)
{
    const char *name = fd->name;
    size_t n = fd->namelen;
    if (buf_reserve(out, n + 3) < 0) return -1;
    char *d = out->data + out->len;
    d[0] = '"';
    buf_copy_short(d + 1, name, n);
    d[n + 1] = '"';
    d[n + 2] = ':';
    out->len += n + 3;
    return 0;
}

static int push(struct scratch *s, uint16_t fi, const struct pbw_field *f)
{
    if (s->len == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->e = xrealloc(s->e, s->cap * sizeof *s->e);
    }
    s->e[s->len].fi = fi;
    s->e[s->len].f = *f;
    s->len++;
    return 0;
}

static int msg_to_json(int mi, const uint8_t *p, size_t n, struct buf *out, struct scratch *s, int depth);
static int fast_to_json(int mi, const uint8_t *p, size_t n, struct buf *out, struct scratch *s, int depth);
static int task_to_json(const uint8_t *p, size_t n, struct buf *out, struct scratch *s, int depth);

static int64_t zigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* One scalar value (VARINT / I64 / I32 already decoded into v). */
static int scalar_to_json(const struct pbd_field *fd, uint64_t v, struct buf *out)
{
    switch (fd->type) {
    case PBD_INT64: case PBD_SFIXED64: return json_write_int64(out, (int64_t)v);
    case PBD_UINT64: case PBD_FIXED64: return json_write_uint64(out, v);
    case PBD_INT32: case PBD_SFIXED32: return json_write_int64(out, (int32_t)(uint32_t)v);
    case PBD_UINT32: case PBD_FIXED32: return json_write_uint64(out, (uint32_t)v);
    case PBD_SINT32: return json_write_int64(out, (int32_t)zigzag((uint32_t)v));
    case PBD_SINT64: return json_write_int64(out, zigzag(v));
    case PBD_BOOL: return buf_puts(out, v ? "true" : "false");
    case PBD_DOUBLE: { double d; memcpy(&d, &v, 8); return json_write_double(out, d); }
    case PBD_FLOAT: { uint32_t b = (uint32_t)v; float f; memcpy(&f, &b, 4); return json_write_double(out, (double)f); }
    case PBD_ENUM: {
        const char *name = pbd_enum_name(fd->ref, (int32_t)v);
        return json_write_string(out, name, strlen(name));  /* callers filter unknown values */
    }
    }
    return -1;
}

static int enum_known(const struct pbd_field *fd, uint64_t v)
{
    return pbd_enum_name(fd->ref, (int32_t)v) != NULL;
}

/* A packed run of scalars: emit each known element, comma-separated. */
static int packed_to_json(const struct pbd_field *fd, const struct pbw_field *f, struct buf *out, int *first)
{
    const uint8_t *p = f->p, *end = f->p + f->n;
    int wt = wire_type_of(fd->type);
    while (p < end) {
        uint64_t v = 0;
        if (wt == PBW_VARINT) {
            int k = pbw_varint(p, end, &v);
            if (k < 0) return -1;
            p += k;
        } else {
            size_t w = wt == PBW_I64 ? 8 : 4;
            if ((size_t)(end - p) < w) return -1;
            for (size_t i = w; i-- > 0;) v = v << 8 | p[i];
            p += w;
        }
        if (fd->type == PBD_ENUM && !enum_known(fd, v)) continue;
        if (!*first && json_putc(out, ',') < 0) return -1;
        *first = 0;
        if (scalar_to_json(fd, v, out) < 0) return -1;
    }
    return 0;
}

static int value_to_json(const struct pbd_field *fd, const struct pbw_field *f, struct buf *out,
                         struct scratch *s, int depth)
{
    switch (fd->type) {
    case PBD_STRING: return json_write_string(out, (const char *)f->p, f->n);
    case PBD_BYTES: return json_write_base64(out, f->p, f->n);
    case PBD_MESSAGE:
        if (fd->ref == PBD_M_mesos_v1_Task) return task_to_json(f->p, f->n, out, s, depth + 1);
        return fast_to_json(fd->ref, f->p, f->n, out, s, depth + 1);
    default: return scalar_to_json(fd, f->v, out);
    }
}

/* Map entries: {"key":value,...}. The key is written as text. */
static int map_entry_to_json(const struct pbd_field *fd, const struct pbw_field *f, struct buf *out,
                             struct scratch *s, int depth, int *first)
{
    const struct pbd_msg *em = &pbd_msgs[fd->ref];
    struct pbw_field kf = {0}, vf = {0}, x;
    int have_k = 0, have_v = 0, rc;
    struct pbw_reader r;
    pbw_reader_init(&r, f->p, f->n);
    while ((rc = pbw_next(&r, &x)) == 1) {
        if (x.tag == 1 && x.wt == wire_type_of(em->fields[0].type)) { kf = x; have_k = 1; }
        if (x.tag == 2 && x.wt == wire_type_of(em->fields[1].type)) { vf = x; have_v = 1; }
    }
    if (rc < 0) return -1;
    const struct pbd_field *kd = field_by_tag(em, 1), *vd = field_by_tag(em, 2);
    if (!kd || !vd) return -1;
    if (!*first && json_putc(out, ',') < 0) return -1;
    *first = 0;
    if (kd->type == PBD_STRING) {
        if (json_write_string(out, have_k ? (const char *)kf.p : "", have_k ? kf.n : 0) < 0) return -1;
    } else {
        struct buf k = { .max = 64 };
        int r2 = scalar_to_json(kd, have_k ? kf.v : 0, &k);
        r2 = r2 < 0 ? -1 : json_write_string(out, k.data, k.len);
        buf_free(&k);
        if (r2 < 0) return -1;
    }
    if (json_putc(out, ':') < 0) return -1;
    if (have_v) return value_to_json(vd, &vf, out, s, depth);
    /* An absent value is the type's zero value, as protobuf reads it. */
    switch (vd->type) {
    case PBD_MESSAGE: return buf_puts(out, "{}");
    case PBD_STRING: case PBD_BYTES: return buf_puts(out, "\"\"");
    case PBD_ENUM: return scalar_to_json(vd, (uint64_t)pbd_enums[vd->ref].values[0].number, out);
    default: return scalar_to_json(vd, 0, out);
    }
}

/* Write a [default = X] value as the JSON the field's type calls for. */
static int default_to_json(const struct pbd_field *fd, struct buf *out)
{
    const char *d = fd->dflt;
    switch (fd->type) {
    case PBD_STRING: return json_write_string(out, d, strlen(d));
    case PBD_BYTES: return json_write_base64(out, (const unsigned char *)d, strlen(d));
    case PBD_ENUM: return json_write_string(out, d, strlen(d));
    case PBD_BOOL: return buf_puts(out, strcmp(d, "true") == 0 ? "true" : "false");
    case PBD_DOUBLE: case PBD_FLOAT: {
        double v = strcmp(d, "inf") == 0 ? INFINITY : strcmp(d, "-inf") == 0 ? -INFINITY
                 : strcmp(d, "nan") == 0 ? NAN : strtod(d, NULL);
        if (fd->type == PBD_FLOAT) v = (double)(float)v;
        return json_write_double(out, v);
    }
    default: return buf_puts(out, d);   /* integers are written as declared */
    }
}

static int msg_to_json(int mi, const uint8_t *p, size_t n, struct buf *out, struct scratch *s, int depth)
{
    const struct pbd_msg *m = &pbd_msgs[mi];
    if (depth > MAX_DEPTH) return -1;
    size_t base = s->len;
    struct pbw_reader r;
    struct pbw_field f;
    int rc;

    /* Pass 1: collect the known fields whose wire type fits. */
    pbw_reader_init(&r, p, n);
    while ((rc = pbw_next(&r, &f)) == 1) {
        const struct pbd_field *fd = field_by_tag(m, f.tag);
        if (!fd) continue;
        int wt = wire_type_of(fd->type);
        int packed = fd->label == PBD_REPEATED && f.wt == PBW_LEN && wt != PBW_LEN && wt != PBW_SGROUP;
        if (f.wt != wt && !packed) continue;
        if (fd->type == PBD_GROUP) continue;   /* no groups in Mesos' protos */
        push(s, (uint16_t)(fd - m->fields), &f);
    }
    if (rc < 0) { s->len = base; return -1; }

    /* Pass 2: write in declaration order, walking the ordered entries. */
    order_entries(s, base, m->nfields);
    int first_key = 1;
    size_t next = base, end = s->len;
    rc = json_putc(out, '{');
    for (uint16_t fi = 0; rc == 0 && fi < m->nfields; fi++) {
        const struct pbd_field *fd = &m->fields[fi];
        size_t from = next, last = SIZE_MAX, count = 0;
        for (; next < end && s->e[next].fi == fi; next++) {
            /* Unknown enum numbers are dropped, as proto2 does. */
            if (fd->type == PBD_ENUM && s->e[next].f.wt == PBW_VARINT && !enum_known(fd, s->e[next].f.v))
                continue;
            last = next; count++;
        }
        if (count == 0) {
            int emit_default = fd->label == PBD_OPTIONAL && fd->dflt && !(fd->flags & PBD_DEPRECATED);
            int emit_empty = fd->label == PBD_REPEATED && (fd->flags & PBD_ALWAYS);
            if (!emit_default && !emit_empty) continue;
        }
        if (!first_key && json_putc(out, ',') < 0) { rc = -1; break; }
        first_key = 0;
        if (put_key(out, fd) < 0) { rc = -1; break; }
        if (count == 0 && fd->label != PBD_REPEATED) { rc = default_to_json(fd, out); continue; }
        if (fd->label != PBD_REPEATED) { rc = value_to_json(fd, &s->e[last].f, out, s, depth); continue; }

        int is_map = fd->flags & PBD_MAP, first = 1;
        rc = json_putc(out, is_map ? '{' : '[');
        for (size_t i = from; rc == 0 && i < next; i++) {
            struct pbw_field ef = s->e[i].f;   /* s->e may move while recursing */
            if (is_map) rc = map_entry_to_json(fd, &ef, out, s, depth, &first);
            else if (ef.wt == PBW_LEN && wire_type_of(fd->type) != PBW_LEN) rc = packed_to_json(fd, &ef, out, &first);
            else if (fd->type == PBD_ENUM && !enum_known(fd, ef.v)) continue;
            else {
                if (!first && json_putc(out, ',') < 0) { rc = -1; break; }
                first = 0;
                rc = value_to_json(fd, &ef, out, s, depth);
            }
        }
        if (rc == 0) rc = json_putc(out, is_map ? '}' : ']');
    }
    if (rc == 0) rc = json_putc(out, '}');
    s->len = base;
    return rc;
}

/* The usual case in one pass: fields arrive in declaration order (every
 * encoder here writes them so), each singular field once, each repeated
 * field's elements together. Keys are written as the fields come, and the
 * defaults and always-present empty lists of the fields skipped in between.
 * Anything else (an out-of-order or repeated singular field, an unknown enum
 * number) takes the output back to where this message began and hands it to
 * msg_to_json, which collects and orders first; nested messages decide for
 * themselves. Returns 0 or -1. */
static int fast_to_json(int mi, const uint8_t *p, size_t n, struct buf *out, struct scratch *s, int depth);

/* Fields (cur, to) were absent: write what msg_to_json writes for them. */
static int absent_fields(const struct pbd_msg *m, int cur, int to, struct buf *out, int *first_key)
{
    if (m->nabsent == 0) return 0;
    for (int fi = cur + 1; fi < to; fi++) {
        const struct pbd_field *fd = &m->fields[fi];
        int emit_default = fd->label == PBD_OPTIONAL && fd->dflt && !(fd->flags & PBD_DEPRECATED);
        int emit_empty = fd->label == PBD_REPEATED && (fd->flags & PBD_ALWAYS);
        if (!emit_default && !emit_empty) continue;
        if (!*first_key && json_putc(out, ',') < 0) return -1;
        *first_key = 0;
        if (put_key(out, fd) < 0) return -1;
        if (emit_default) { if (default_to_json(fd, out) < 0) return -1; }
        else if (buf_puts(out, fd->flags & PBD_MAP ? "{}" : "[]") < 0) return -1;
    }
    return 0;
}

#define FAST_SLOW 1   /* this message needs the general path */

/* ---- A large list on two cores ----
 * A list of messages of several MB (GET_STATE's tasks, GET_AGENTS' agents)
 * is written half by the calling thread and half by a helper thread into
 * its own buffer, appended after; each element's JSON depends only on its
 * bytes and the constant descriptor tables, so the halves are independent.
 * The caller waits for the helper: the loop is blocked as long as when one
 * thread wrote it all, only for about half as long. */
#define PAR_MIN ((size_t)4 << 20)   /* bytes of list worth a second thread */

struct half {
    const struct pbd_field *fd;
    const uint8_t *p, *end;        /* the elements (keys included) */
    uint32_t tag;
    int depth, rc;
    struct buf out;
};

/* Write the elements in [p, end) (fields `tag`, all of them), comma first
 * unless *first. */
static int list_elements(const struct pbd_field *fd, uint32_t tag, const uint8_t *p, const uint8_t *end,
                         struct buf *out, struct scratch *s, int depth, int *first)
{
    struct pbw_reader r;
    struct pbw_field f;
    pbw_reader_init(&r, p, (size_t)(end - p));
    int rc;
    while ((rc = pbw_next_fast(&r, &f)) == 1) {
        if (f.tag != tag || f.wt != PBW_LEN) return -1;
        if (!*first && json_putc(out, ',') < 0) return -1;
        *first = 0;
        if ((fd->ref == PBD_M_mesos_v1_Task ? task_to_json(f.p, f.n, out, s, depth + 1)
                                              : fast_to_json(fd->ref, f.p, f.n, out, s, depth + 1)) < 0)
            return -1;
    }
    return rc;
}

static void *half_main(void *arg)
{
    struct half *h = arg;
    struct scratch s = { .worker = 1 };
    int first = 1;
    h->rc = list_elements(h->fd, h->tag, h->p, h->end, &h->out, &s, h->depth, &first);
    free(s.e);
    free(s.tmp);
    free(s.count);
    return NULL;
}

/* The list starting with field f goes on while the same tag follows. When
 * it is large, write it on two threads and return where it ends (the
 * caller goes on from there); return NULL to have it written as usual. */
static const uint8_t *par_list(const struct pbd_field *fd, const struct pbw_field *f, const uint8_t *end,
                               struct buf *out, struct scratch *s, int depth, int *first)
{
    if (s->worker || (size_t)(end - f->start) < PAR_MIN || fd->type != PBD_MESSAGE || (fd->flags & PBD_MAP))
        return NULL;
    /* Find the list's end and a boundary between elements near its middle. */
    struct pbw_reader r;
    struct pbw_field x;
    const uint8_t *run_end = f->start, *mid = NULL;
    pbw_reader_init(&r, f->start, (size_t)(end - f->start));
    while (pbw_next(&r, &x) == 1 && x.tag == f->tag && x.wt == PBW_LEN) run_end = r.p;
    if ((size_t)(run_end - f->start) < PAR_MIN) return NULL;
    const uint8_t *half_way = f->start + (run_end - f->start) / 2;
    pbw_reader_init(&r, f->start, (size_t)(run_end - f->start));
    while (pbw_next(&r, &x) == 1) if (r.p >= half_way) { mid = r.p; break; }
    if (!mid || mid >= run_end) return NULL;

    struct half h = { .fd = fd, .p = mid, .end = run_end, .tag = f->tag, .depth = depth };
    buf_reserve(&h.out, PBJSON_SIZE_GUESS((size_t)(run_end - mid)));
    pthread_t th;
    int threaded = pthread_create(&th, NULL, half_main, &h) == 0;
    int rc = list_elements(fd, f->tag, f->start, mid, out, s, depth, first);
    if (threaded) pthread_join(th, NULL);
    else half_main(&h);
    if (rc == 0 && h.rc == 0 && h.out.len) {
        if (!*first) rc = json_putc(out, ',');
        if (rc == 0) rc = buf_append(out, h.out.data, h.out.len);
        *first = 0;
    }
    if (h.rc < 0) rc = -1;
    buf_free(&h.out);
    return rc < 0 ? (const uint8_t *)-1 : run_end;
}

static int fast_fields(const struct pbd_msg *m, const uint8_t *p, size_t n, struct buf *out,
                       struct scratch *s, int depth)
{
    struct pbw_reader r;
    struct pbw_field f;
    int rc, cur = -1, first_key = 1, first = 1, open = 0;   /* open: a list is being written */
    size_t hint = 0;

    if (json_putc(out, '{') < 0) return -1;
    pbw_reader_init(&r, p, n);
    while ((rc = pbw_next_fast(&r, &f)) == 1) {
        const struct pbd_field *fd;
        /* The next declared field is the likely one. */
        if (hint < m->nfields && m->fields[hint].tag == f.tag) fd = &m->fields[hint];
        else if ((size_t)cur < m->nfields && m->fields[cur].tag == f.tag) fd = &m->fields[cur];
        else if (!(fd = field_by_tag(m, f.tag))) continue;
        int wt = wire_type_of(fd->type);
        int packed = fd->label == PBD_REPEATED && f.wt == PBW_LEN && wt != PBW_LEN && wt != PBW_SGROUP;
        if ((f.wt != wt && !packed) || fd->type == PBD_GROUP) continue;
        if (fd->type == PBD_ENUM && f.wt == PBW_VARINT && !enum_known(fd, f.v)) return FAST_SLOW;
        int fi = (int)(fd - m->fields);
        hint = (size_t)fi + 1;
        if (fi < cur || (fi == cur && fd->label != PBD_REPEATED)) return FAST_SLOW;
        if (fi > cur) {
            if (open && json_putc(out, (m->fields[cur].flags & PBD_MAP) ? '}' : ']') < 0) return -1;
            open = 0;
            if (absent_fields(m, cur, fi, out, &first_key) < 0) return -1;
            cur = fi;
            if (!first_key && json_putc(out, ',') < 0) return -1;
            first_key = 0;
            if (put_key(out, fd) < 0) return -1;
            if (fd->label != PBD_REPEATED) {
                if (value_to_json(fd, &f, out, s, depth) < 0) return -1;
                continue;
            }
            if (json_putc(out, fd->flags & PBD_MAP ? '{' : '[') < 0) return -1;
            open = 1;
            first = 1;
            if (f.wt == PBW_LEN && !packed && depth < 4) {
                const uint8_t *next = par_list(fd, &f, p + n, out, s, depth, &first);
                if (next == (const uint8_t *)-1) return -1;
                if (next) { r.p = next; continue; }
            }
        }
        /* An element of the open list. */
        if (fd->flags & PBD_MAP) rc = map_entry_to_json(fd, &f, out, s, depth, &first);
        else if (packed) {
            size_t mark = out->len;
            int was_first = first;
            rc = packed_to_json(fd, &f, out, &first);
            /* packed_to_json skips unknown enum numbers; the general path
             * must then decide whether the list is empty. */
            if (rc == 0 && fd->type == PBD_ENUM && first && was_first) { out->len = mark; return FAST_SLOW; }
        } else {
            if (!first && json_putc(out, ',') < 0) return -1;
            first = 0;
            rc = value_to_json(fd, &f, out, s, depth);
        }
        if (rc < 0) return -1;
    }
    if (rc < 0) return -1;
    if (open && json_putc(out, (m->fields[cur].flags & PBD_MAP) ? '}' : ']') < 0) return -1;
    if (absent_fields(m, cur, m->nfields, out, &first_key) < 0) return -1;
    return json_putc(out, '}');
}

static int fast_to_json(int mi, const uint8_t *p, size_t n, struct buf *out, struct scratch *s, int depth)
{
    if (depth > MAX_DEPTH) return -1;
    size_t mark = out->len;
    int rc = fast_fields(&pbd_msgs[mi], p, n, out, s, depth);
    if (rc != FAST_SLOW) return rc;
    out->len = mark;
    return msg_to_json(mi, p, n, out, s, depth);
}

/* ---- Task, the bulk of a large GET_STATE ----
 * A Task with its usual fields (name to labels, tags 1-11, in order) is
 * written by hand: its ids are one-string messages, its labels key/value
 * pairs, and each of those fields costs a few dozen instructions instead
 * of a trip through the general machinery. The result is the same bytes
 * as fast_to_json's (test_pbjson compares the two on random tasks); any
 * other shape (later fields, an unknown enum number, a field again, a wire
 * type that does not fit) goes to fast_to_json whole. */
#define TASK_BAIL 1

/* {"value":"..."}: a message of one string field, given as exactly that
 * field; else the general way. */
static int one_string_msg(int mi, const uint8_t *p, size_t n, struct buf *out, struct scratch *s, int depth)
{
    const struct pbd_msg *m = &pbd_msgs[mi];
    if (m->nfields == 1 && m->fields[0].type == PBD_STRING && m->fields[0].label != PBD_REPEATED &&
        m->nabsent == 0 && n >= 2 && p[0] == (uint8_t)(m->fields[0].tag << 3 | PBW_LEN) &&
        m->fields[0].tag < 16 && p[1] < 0x80 && (size_t)p[1] + 2 == n) {
        if (json_putc(out, '{') < 0 || put_key(out, &m->fields[0]) < 0 ||
            json_write_string(out, (const char *)p + 2, p[1]) < 0)
            return -1;
        return json_putc(out, '}');
    }
    return fast_to_json(mi, p, n, out, s, depth);
}

/* Labels {labels: [Label {key, value}]}: each Label of just a key and a
 * value (or a key) is written by hand, others the general way. */
static int labels_json(const uint8_t *p, size_t n, struct buf *out, struct scratch *s, int depth)
{
    const struct pbd_msg *ls = &pbd_msgs[PBD_M_mesos_v1_Labels], *l = &pbd_msgs[PBD_M_mesos_v1_Label];
    if (n == 0 || ls->nfields != 1 || ls->nabsent || l->nfields != 2 || l->nabsent ||
        l->fields[0].tag != 1 || l->fields[1].tag != 2 || l->fields[0].type != PBD_STRING ||
        l->fields[1].type != PBD_STRING || ls->fields[0].tag != 1)
        return fast_to_json(PBD_M_mesos_v1_Labels, p, n, out, s, depth);
    size_t mark = out->len;
    struct pbw_reader r;
    struct pbw_field f;
    int rc, first = 1;
    if (json_putc(out, '{') < 0 || put_key(out, &ls->fields[0]) < 0 || json_putc(out, '[') < 0) return -1;
    pbw_reader_init(&r, p, n);
    while ((rc = pbw_next_fast(&r, &f)) == 1) {
        if (f.tag != 1 || f.wt != PBW_LEN) { out->len = mark; return fast_to_json(PBD_M_mesos_v1_Labels, p, n, out, s, depth); }
        if (!first && json_putc(out, ',') < 0) return -1;
        first = 0;
        struct pbw_reader lr;
        struct pbw_field k, v;
        pbw_reader_init(&lr, f.p, f.n);
        int kr = pbw_next_fast(&lr, &k), vr = kr == 1 ? pbw_next_fast(&lr, &v) : -1;
        int plain = kr == 1 && k.tag == 1 && k.wt == PBW_LEN &&
                    (vr == 0 || (vr == 1 && v.tag == 2 && v.wt == PBW_LEN && lr.p == lr.end));
        if (!plain) {
            if (fast_to_json(PBD_M_mesos_v1_Label, f.p, f.n, out, s, depth + 1) < 0) return -1;
            continue;
        }
        if (json_putc(out, '{') < 0 || put_key(out, &l->fields[0]) < 0 ||
            json_write_string(out, (const char *)k.p, k.n) < 0)
            return -1;
        if (vr == 1 && (json_putc(out, ',') < 0 || put_key(out, &l->fields[1]) < 0 ||
                        json_write_string(out, (const char *)v.p, v.n) < 0))
            return -1;
        if (json_putc(out, '}') < 0) return -1;
    }
    if (rc < 0) return -1;
    if (json_putc(out, ']') < 0) return -1;
    return json_putc(out, '}');
}

static int task_fields(const uint8_t *p, size_t n, struct buf *out, struct scratch *s, int depth)
{
    const struct pbd_msg *m = &pbd_msgs[PBD_M_mesos_v1_Task];
    struct pbw_reader r;
    struct pbw_field f;
    uint32_t prev = 0;
    int rc, open = 0, first = 1;
    if (m->nabsent || m->nfields < 11) return TASK_BAIL;
    if (json_putc(out, '{') < 0) return -1;
    pbw_reader_init(&r, p, n);
    while ((rc = pbw_next_fast(&r, &f)) == 1) {
        if (f.tag > 11 || f.tag < prev) return TASK_BAIL;
        const struct pbd_field *fd = &m->fields[f.tag - 1];
        int list = fd->label == PBD_REPEATED;
        if (fd->tag != f.tag || f.wt != wire_type_of(fd->type) || (f.tag == prev && !list)) return TASK_BAIL;
        if (f.tag != prev) {
            if (open && json_putc(out, ']') < 0) return -1;
            open = 0;
            if (prev && json_putc(out, ',') < 0) return -1;
            if (put_key(out, fd) < 0) return -1;
            if (list) {
                if (json_putc(out, '[') < 0) return -1;
                open = 1;
                first = 1;
            }
        }
        prev = f.tag;
        if (list && !first && json_putc(out, ',') < 0) return -1;
        first = 0;
        switch (fd->type) {
        case PBD_STRING: rc = json_write_string(out, (const char *)f.p, f.n); break;
        case PBD_ENUM: {
            const char *name = pbd_enum_name(fd->ref, (int32_t)f.v);
            if (!name) return TASK_BAIL;
            rc = json_write_string(out, name, strlen(name));
            break;
        }
        case PBD_MESSAGE:
            if (fd->ref == PBD_M_mesos_v1_Labels) rc = labels_json(f.p, f.n, out, s, depth + 1);
            else if (pbd_msgs[fd->ref].nfields == 1) rc = one_string_msg(fd->ref, f.p, f.n, out, s, depth + 1);
            else rc = fast_to_json(fd->ref, f.p, f.n, out, s, depth + 1);
            break;
        default: rc = value_to_json(fd, &f, out, s, depth); break;
        }
        if (rc < 0) return -1;
    }
    if (rc < 0) return -1;
    if (open && json_putc(out, ']') < 0) return -1;
    return json_putc(out, '}');
}

static int task_to_json(const uint8_t *p, size_t n, struct buf *out, struct scratch *s, int depth)
{
    if (depth > MAX_DEPTH) return -1;
    size_t mark = out->len;
    int rc = task_fields(p, n, out, s, depth);
    if (rc != TASK_BAIL) return rc;
    out->len = mark;
    return fast_to_json(PBD_M_mesos_v1_Task, p, n, out, s, depth);
}

int pbjson_task_to_json(const void *p, size_t n, struct buf *out, int depth)
{
    struct scratch s = {0};
    int rc = task_to_json(p, n, out, &s, depth);
    free(s.e);
    free(s.tmp);
    free(s.count);
    return rc;
}

int pbjson_to_json(int msg, const void *p, size_t n, struct buf *out)
{
    struct scratch s = {0};
    int rc = fast_to_json(msg, p, n, out, &s, 0);
    free(s.e);
    free(s.tmp);
    free(s.count);
    return rc;
}

/* ==== JSON to protobuf ================================================== */

struct conv {
    const char *s;
    const struct json_tok *t;
    struct buf *err;
};

static int fail(struct conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct conv *c, const char *fmt, ...)
{
    if (c->err->len == 0) {          /* the first (innermost) cause wins */
        char tmp[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(tmp, sizeof tmp, fmt, ap);
        va_end(ap);
        buf_puts(c->err, tmp);
    }
    return PBJSON_ECONVERT;
}

static const char *kind(int type)
{
    switch (type) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_NUMBER: return "number";
    case JSON_NULL: return "null";
    default: return "boolean";
    }
}

static int obj_to_pb(struct conv *c, int mi, int ti, struct buf *out, int depth);

/* The text of a NUMBER token, or of a STRING token holding a number (its
 * escapes decoded into tmp). Returns 0, or an error. */
static int number_text(struct conv *c, const struct pbd_field *fd, int ti, struct buf *tmp,
                       const char **p, size_t *n)
{
    const struct json_tok *t = &c->t[ti];
    if (t->type == JSON_NUMBER) { *p = c->s + t->start; *n = t->end - t->start; return 0; }
    if (t->type != JSON_STRING)
        return fail(c, "Not expecting a JSON %s for field '%s'", kind(t->type), fd->name);
    buf_reset(tmp);
    if (json_tok_string(c->s, t, tmp) < 0) return PBJSON_ELIMIT;
    *p = tmp->data ? tmp->data : ""; *n = tmp->len;
    return 0;
}

/* Clamp a double into an integer type without undefined behaviour. The C
 * cast Mesos does is undefined out of range; we saturate instead. */
static int64_t d2i64(double d)
{
    if (d != d) return 0;
    if (d >= 9223372036854775807.0) return INT64_MAX;
    if (d <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)d;
}
static uint64_t d2u64(double d)
{
    if (d != d || d <= 0) return d <= -1 ? (uint64_t)d2i64(d) : 0;
    if (d >= 18446744073709551615.0) return UINT64_MAX;
    return (uint64_t)d;
}

static int scalar_to_pb(struct conv *c, const struct pbd_field *fd, int ti, struct buf *out)
{
    const struct json_tok *t = &c->t[ti];
    uint32_t tag = fd->tag;

    if (fd->type == PBD_STRING || fd->type == PBD_BYTES) {
        if (t->type != JSON_STRING)
            return fail(c, "Not expecting a JSON %s for field '%s'", kind(t->type), fd->name);
        struct buf v = {0};
        int rc = json_tok_string(c->s, t, &v) < 0 ? PBJSON_ELIMIT : 0;
        if (rc == 0 && fd->type == PBD_BYTES) {
            struct buf raw = {0};
            char bad = 0;
            if (base64_decode(v.data ? v.data : "", v.len, &raw, &bad) < 0)
                rc = fail(c, "Failed to base64 decode bytes field '%s': Invalid character '%c'", fd->name, bad);
            else if (pbw_put_bytes(out, tag, raw.data, raw.len) < 0)
                rc = PBJSON_ELIMIT;
            buf_free(&raw);
        } else if (rc == 0 && pbw_put_bytes(out, tag, v.data, v.len) < 0) {
            rc = PBJSON_ELIMIT;
        }
        buf_free(&v);
        return rc;
    }
    if (fd->type == PBD_ENUM) {
        if (t->type != JSON_STRING)
            return fail(c, "Not expecting a JSON %s for field '%s'", kind(t->type), fd->name);
        struct buf v = {0};
        int32_t num;
        int rc = 0;
        if (json_tok_string(c->s, t, &v) < 0) rc = PBJSON_ELIMIT;
        else if (pbd_enum_number(fd->ref, v.data ? v.data : "", v.len, &num) < 0) {
            /* proto2: an unknown name on an optional or repeated field is dropped. */
            if (fd->label == PBD_REQUIRED)
                rc = fail(c, "Failed to find enum for '%.*s'", (int)v.len, v.data ? v.data : "");
        } else if (pbw_put_int32(out, tag, num) < 0) rc = PBJSON_ELIMIT;
        buf_free(&v);
        return rc;
    }
    if (fd->type == PBD_BOOL) {
        int b;
        if (t->type == JSON_TRUE || t->type == JSON_FALSE) b = t->type == JSON_TRUE;
        else if (t->type == JSON_STRING && json_tok_eq(c->s, t, "true")) b = 1;
        else if (t->type == JSON_STRING && json_tok_eq(c->s, t, "false")) b = 0;
        else return fail(c, "Not expecting a JSON %s for field '%s'", kind(t->type), fd->name);
        return pbw_put_uint(out, tag, (uint64_t)b) < 0 ? PBJSON_ELIMIT : 0;
    }

    /* Numbers: a JSON number, or a string holding one. */
    struct buf tmp = { .max = 4096 };
    const char *p = "";
    size_t n = 0;
    int rc = number_text(c, fd, ti, &tmp, &p, &n);
    if (rc) { buf_free(&tmp); return rc; }
    int64_t i64 = 0;
    uint64_t u64 = 0;
    double d = 0;
    int is_int = json_span_int64(p, n, &i64) == 0;
    int is_uint = !is_int && json_span_uint64(p, n, &u64) == 0;
    int is_dbl = json_span_double(p, n, &d) == 0;
    if ((fd->type == PBD_DOUBLE || fd->type == PBD_FLOAT) && t->type == JSON_STRING && !is_dbl) {
        if (n == 8 && memcmp(p, "Infinity", 8) == 0) { d = INFINITY; is_dbl = 1; }
        else if (n == 9 && memcmp(p, "-Infinity", 9) == 0) { d = -INFINITY; is_dbl = 1; }
    }
    if (!is_dbl) {
        rc = fail(c, "Failed to parse '%.*s' as a JSON number for field '%s': not a number",
                  (int)(n > 200 ? 200 : n), p, fd->name);
        buf_free(&tmp);
        return rc;
    }
    buf_free(&tmp);
    if (!is_int && !is_uint) { i64 = d2i64(d); u64 = d2u64(d); }
    else if (is_int) u64 = (uint64_t)i64;
    else i64 = (int64_t)u64;

    switch (fd->type) {
    case PBD_DOUBLE: rc = pbw_put_double(out, tag, is_int ? (double)i64 : is_uint ? (double)u64 : d); break;
    case PBD_FLOAT: {
        float f = (float)(is_int ? (double)i64 : is_uint ? (double)u64 : d);
        uint32_t b;
        memcpy(&b, &f, 4);
        rc = pbw_put_fixed32(out, tag, b);
        break;
    }
    case PBD_INT64: case PBD_UINT64: rc = pbw_put_uint(out, tag, u64); break;
    case PBD_INT32: rc = pbw_put_int32(out, tag, (int32_t)(uint32_t)u64); break;
    case PBD_UINT32: rc = pbw_put_uint(out, tag, (uint32_t)u64); break;
    case PBD_SINT32: { int32_t v = (int32_t)(uint32_t)u64;
        rc = pbw_put_uint(out, tag, (uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31))); break; }
    case PBD_SINT64: rc = pbw_put_uint(out, tag, ((uint64_t)i64 << 1) ^ (uint64_t)(i64 >> 63)); break;
    case PBD_FIXED64: case PBD_SFIXED64: rc = pbw_put_fixed64(out, tag, u64); break;
    case PBD_FIXED32: case PBD_SFIXED32: rc = pbw_put_fixed32(out, tag, (uint32_t)u64); break;
    default: return fail(c, "Unsupported type for field '%s'", fd->name);
    }
    return rc < 0 ? PBJSON_ELIMIT : 0;
}

/* One element of a field (the value of a singular field or one array item). */
static int element_to_pb(struct conv *c, const struct pbd_field *fd, int ti, struct buf *out, int depth)
{
    const struct json_tok *t = &c->t[ti];
    if (t->type == JSON_NULL) return 0;
    if (fd->type == PBD_MESSAGE) {
        if (t->type != JSON_OBJECT)
            return fail(c, "Not expecting a JSON %s for field '%s'", kind(t->type), fd->name);
        size_t mark = pbw_begin(out, fd->tag);
        if (mark == SIZE_MAX) return PBJSON_ELIMIT;
        int rc = obj_to_pb(c, fd->ref, ti, out, depth + 1);
        if (rc) return rc;
        return pbw_end(out, mark) < 0 ? PBJSON_ELIMIT : 0;
    }
    return scalar_to_pb(c, fd, ti, out);
}

/* A map field: each member of the JSON object becomes one entry message. */
static int map_to_pb(struct conv *c, const struct pbd_field *fd, int ti, struct buf *out, int depth)
{
    const struct json_tok *t = &c->t[ti];
    if (t->type != JSON_OBJECT)
        return fail(c, "Not expecting a JSON %s for field '%s'", kind(t->type), fd->name);
    const struct pbd_msg *em = &pbd_msgs[fd->ref];
    const struct pbd_field *kd = field_by_tag(em, 1), *vd = field_by_tag(em, 2);
    if (!kd || !vd) return fail(c, "Malformed map field '%s'", fd->name);
    int k = ti + 1;
    for (uint32_t i = 0; i < t->size; i++) {
        int v = k + 1;
        size_t mark = pbw_begin(out, fd->tag);
        if (mark == SIZE_MAX) return PBJSON_ELIMIT;
        int rc;
        if (kd->type == PBD_STRING) {
            struct buf key = {0};
            rc = json_tok_string(c->s, &c->t[k], &key) < 0 ? PBJSON_ELIMIT
               : pbw_put_bytes(out, 1, key.data, key.len) < 0 ? PBJSON_ELIMIT : 0;
            buf_free(&key);
        } else {
            rc = scalar_to_pb(c, kd, k, out);   /* the key text is converted like a string value */
        }
        if (rc == 0) rc = element_to_pb(c, vd, v, out, depth);
        if (rc) return rc;
        if (pbw_end(out, mark) < 0) return PBJSON_ELIMIT;
        k = (int)c->t[v].next;
    }
    return 0;
}

static int obj_to_pb(struct conv *c, int mi, int ti, struct buf *out, int depth)
{
    const struct pbd_msg *m = &pbd_msgs[mi];
    const struct json_tok *t = &c->t[ti];
    if (depth > MAX_DEPTH) return fail(c, "Nesting too deep");
    int k = ti + 1;
    for (uint32_t i = 0; i < t->size; i++) {
        int v = k + 1, next = (int)c->t[v].next;
        const struct json_tok *kt = &c->t[k];
        /* Duplicate keys: the last one wins, as picojson's map keeps it. */
        int later = 0;
        for (int k2 = next; k2 < (int)t->next && !later; k2 = (int)c->t[k2 + 1].next)
            if (c->t[k2].end - c->t[k2].start == kt->end - kt->start &&
                memcmp(c->s + c->t[k2].start, c->s + kt->start, kt->end - kt->start) == 0)
                later = 1;
        const struct pbd_field *fd = NULL;
        if (!later)
            for (uint16_t f = 0; f < m->nfields && !fd; f++)
                if (json_tok_eq(c->s, kt, m->fields[f].name)) fd = &m->fields[f];
        if (fd && c->t[v].type != JSON_NULL) {
            int rc;
            if (fd->flags & PBD_MAP) {
                rc = map_to_pb(c, fd, v, out, depth);
            } else if (c->t[v].type == JSON_ARRAY) {
                if (fd->label != PBD_REPEATED)
                    return fail(c, "Not expecting a JSON array for field '%s'", fd->name);
                rc = 0;
                for (int e = v + 1, j = 0; rc == 0 && j < (int)c->t[v].size; j++, e = (int)c->t[e].next)
                    rc = element_to_pb(c, fd, e, out, depth);
            } else {
                rc = element_to_pb(c, fd, v, out, depth);   /* a lone value is a one-element list */
            }
            if (rc) return rc;
        }
        k = next;
    }
    return 0;
}

/* ==== Required fields =================================================== */

/* Append the paths of missing required fields, protobuf's order: this
 * message's missing fields in declaration order, then set sub-messages in
 * tag order ("name[i]." for repeated ones). Returns -1 on malformed bytes. */
static int missing(int mi, const uint8_t *p, size_t n, const char *prefix, struct buf *out, int depth)
{
    const struct pbd_msg *m = &pbd_msgs[mi];
    if (depth > MAX_DEPTH) return -1;
    struct pbw_reader r;
    struct pbw_field f;
    int rc;
    for (uint16_t fi = 0; fi < m->nfields; fi++) {
        const struct pbd_field *fd = &m->fields[fi];
        if (fd->label != PBD_REQUIRED) continue;
        int found = 0;
        pbw_reader_init(&r, p, n);
        while ((rc = pbw_next(&r, &f)) == 1)
            if (f.tag == fd->tag && f.wt == wire_type_of(fd->type) &&
                !(fd->type == PBD_ENUM && !pbd_enum_name(fd->ref, (int32_t)f.v))) found = 1;
        if (rc < 0) return -1;
        if (!found) buf_printf(out, "%s%s%s", out->len ? ", " : "", prefix, fd->name);
    }
    for (uint16_t ti = 0; ti < m->nfields; ti++) {
        const struct pbd_field *fd = &m->fields[m->by_tag[ti]];
        if (fd->type != PBD_MESSAGE) continue;
        int idx = 0;
        pbw_reader_init(&r, p, n);
        while ((rc = pbw_next(&r, &f)) == 1) {
            if (f.tag != fd->tag || f.wt != PBW_LEN) continue;
            char sub[512];
            if (fd->label == PBD_REPEATED)
                snprintf(sub, sizeof sub, "%s%s[%d].", prefix, fd->name, idx++);
            else
                snprintf(sub, sizeof sub, "%s%s.", prefix, fd->name);
            if (missing(fd->ref, f.p, f.n, sub, out, depth + 1) < 0) return -1;
        }
        if (rc < 0) return -1;
    }
    return 0;
}

int pbjson_check(int msg, const void *p, size_t n, struct buf *err)
{
    size_t before = err->len;
    if (missing(msg, p, n, "", err, 0) < 0) {
        err->len = before;
        buf_puts(err, "malformed");
        return -1;
    }
    return err->len > before ? -1 : 0;
}

int pbjson_from_json(int msg, const char *s, size_t n, struct buf *out, struct buf *err)
{
    struct json_err je;
    int ntok = json_parse(s, n, NULL, 0, &je);
    if (ntok < 0) {
        buf_puts(err, je.msg);
        return PBJSON_ESYNTAX;
    }
    struct json_tok *t = xmalloc((size_t)ntok * sizeof *t);
    int rc = json_parse(s, n, t, (size_t)ntok, &je);
    if (rc < 0) {
        buf_puts(err, je.msg);
        free(t);
        return PBJSON_ESYNTAX;
    }
    struct conv c = { s, t, err };
    size_t start = out->len;
    if (t[0].type != JSON_OBJECT) rc = fail(&c, "Expecting a JSON object");
    else rc = obj_to_pb(&c, msg, 0, out, 0);
    free(t);
    if (rc) return rc;
    struct buf miss = { .max = 1 << 20 };
    if (missing(msg, (const uint8_t *)out->data + start, out->len - start, "", &miss, 0) < 0 || miss.len) {
        buf_puts(err, "Missing required fields: ");
        buf_append(err, miss.data, miss.len);
        buf_free(&miss);
        return PBJSON_ECONVERT;
    }
    buf_free(&miss);
    return 0;
}
