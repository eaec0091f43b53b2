/* buf.c -- bounded growable byte buffers (contract in buf.h).
 *
 * Capacity doubles, so a run of appends costs amortised O(1) copies; the
 * ceiling `max` bounds len, and is checked before any allocation, so a peer
 * that sends too much gets -1 rather than our memory. Allocation failure is
 * not an error we can answer: it aborts in one place, here. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"

/* ==== Allocation ======================================================== */

static void oom(size_t n)
{
    fprintf(stderr, "mesos_api: out of memory allocating %zu bytes\n", n);
    abort();
}

/* malloc(0) may return NULL; asking for one byte keeps NULL meaning OOM. */
void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

void *xcalloc(size_t n, size_t sz)
{
    if (n == 0 || sz == 0) n = sz = 1;
    void *p = calloc(n, sz);                  /* calloc checks n * sz for overflow */
    if (!p) oom(n > SIZE_MAX / sz ? SIZE_MAX : n * sz);
    return p;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

/* ==== Buffers =========================================================== */

static size_t limit(const struct buf *b) { return b->max ? b->max : BUF_DEFAULT_MAX; }

/* Make cap >= need, doubling from 64. The caller has already checked the
 * ceiling; cap may end up one byte past max, for buf_printf's NUL. */
static void grow(struct buf *b, size_t need)
{
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    size_t lim = limit(b);
    if (cap > lim && need <= lim) cap = lim;  /* doubling must not overshoot the ceiling */
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

int buf_reserve_slow(struct buf *b, size_t extra)
{
    size_t max = limit(b);
    if (b->len > max || extra > max - b->len) return -1;   /* also rules out overflow */
    grow(b, b->len + extra);
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    if (n == 0) return 0;
    if (buf_reserve(b, n) < 0) return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int buf_puts(struct buf *b, const char *s) { return buf_append(b, s, strlen(s)); }

int buf_putc(struct buf *b, char c) { return buf_append(b, &c, 1); }

/* Two passes of vsnprintf: the first writes into the spare room we already
 * have (usually enough) and tells us the length; only if it did not fit do
 * we grow and format again. vsnprintf always wants room for a NUL, which is
 * not part of len, so the NUL may sit one byte past max. */
int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    size_t room = b->cap - b->len;
    va_start(ap, fmt);
    int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    size_t max = limit(b);
    if (b->len > max || (size_t)n > max - b->len) return -1;
    if ((size_t)n >= room) {
        grow(b, b->len + (size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
    return 0;
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) { b->len = 0; return; }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void buf_reset(struct buf *b) { b->len = 0; }

void buf_free(struct buf *b)
{
    size_t max = b->max;
    free(b->data);
    memset(b, 0, sizeof *b);
    b->max = max;
}
