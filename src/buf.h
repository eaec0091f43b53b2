/* buf.h -- bounded growable byte buffers.
 *
 * Every buffer has a ceiling (`max`, 0 = BUF_DEFAULT_MAX): buf_reserve() fails
 * with -1 instead of growing past it, so no peer can make us allocate without
 * bound. Out of memory aborts in one place (xmalloc). */
#ifndef BUF_H
#define BUF_H
#include <stddef.h>
#include <stdint.h>

#define BUF_DEFAULT_MAX ((size_t)1 << 30)

struct buf {
    char *data;
    size_t len;   /* bytes in use */
    size_t cap;   /* bytes allocated */
    size_t max;   /* ceiling for len; 0 means BUF_DEFAULT_MAX */
};

void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
void *xcalloc(size_t n, size_t sz);
char *xstrdup(const char *s);

/* Ensure room for `extra` more bytes. Returns 0, or -1 past b->max. */
int buf_reserve_slow(struct buf *b, size_t extra);
/* Inline while the room is already there (encoders call this per token);
 * cap never exceeds the ceiling by more than the one byte buf_printf's NUL
 * may take, so room below cap is room below max. */
static inline int buf_reserve(struct buf *b, size_t extra) {
    if (b->cap > b->len && extra < b->cap - b->len && (b->max == 0 || extra <= b->max - b->len) &&
        b->len <= (b->max ? b->max : BUF_DEFAULT_MAX))
        return 0;
    return buf_reserve_slow(b, extra);
}
/* Append; return 0 or -1 past max (nothing appended then). */
int buf_append(struct buf *b, const void *p, size_t n);
/* memcpy for the short copies of encoders (names, ids): two overlapping
 * fixed-size moves instead of a call, for n up to 16. */
static inline void buf_copy_short(char *d, const char *s, size_t n) {
    if (n >= 8 && n <= 16) {
        uint64_t a, z;
        __builtin_memcpy(&a, s, 8); __builtin_memcpy(&z, s + n - 8, 8);
        __builtin_memcpy(d, &a, 8); __builtin_memcpy(d + n - 8, &z, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, z;
        __builtin_memcpy(&a, s, 4); __builtin_memcpy(&z, s + n - 4, 4);
        __builtin_memcpy(d, &a, 4); __builtin_memcpy(d + n - 4, &z, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++) d[i] = s[i];
    } else {
        __builtin_memcpy(d, s, n);
    }
}
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes (memmove). */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);            /* len = 0, keeps memory */
void buf_free(struct buf *b);             /* frees memory, zeroes struct, keeps max */

#endif
