/* ptrset.c -- a set of pointers found by a hash (contract in ptrset.h). */
#include <stdlib.h>
#include "buf.h"
#include "ptrset.h"

size_t ptrset_hash_bytes(size_t h, const void *p, size_t n)
{
    uint64_t x = h ? (uint64_t)h : 1469598103934665603ULL;
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) x = (x ^ b[i]) * 1099511628211ULL;
    x = (x ^ 0xff) * 1099511628211ULL;                 /* ends a piece: "ab"+"c" is not "a"+"bc" */
    return (size_t)(x ^ x >> 29) | 1;
}

void ptrset_put(struct ptrset *s, void *item, ptrset_hash_fn hash)
{
    if ((s->count + 1) * 2 > s->cap) {
        struct ptrset t = { .cap = s->cap ? s->cap * 2 : 64 };
        t.slot = xcalloc(t.cap, sizeof *t.slot);
        for (size_t i = 0; i < s->cap; i++)
            if (s->slot[i]) ptrset_put(&t, s->slot[i], hash);
        free(s->slot);
        *s = t;
    }
    size_t mask = s->cap - 1, i = hash(item) & mask;
    while (s->slot[i]) i = (i + 1) & mask;
    s->slot[i] = item;
    s->count++;
}

void *ptrset_find(const struct ptrset *s, size_t h, int (*match)(const void *item, const void *key),
                  const void *key)
{
    if (!s->cap) return NULL;
    size_t mask = s->cap - 1;
    for (size_t i = h & mask; s->slot[i]; i = (i + 1) & mask)
        if (match(s->slot[i], key)) return s->slot[i];
    return NULL;
}

void ptrset_del(struct ptrset *s, const void *item, ptrset_hash_fn hash)
{
    if (!s->cap) return;
    size_t mask = s->cap - 1, i = hash(item) & mask;
    while (s->slot[i] && s->slot[i] != item) i = (i + 1) & mask;
    if (!s->slot[i]) return;
    s->slot[i] = NULL;
    s->count--;
    /* Entries after the hole that probed past it move back into it. */
    for (size_t j = (i + 1) & mask; s->slot[j]; j = (j + 1) & mask) {
        size_t home = hash(s->slot[j]) & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            s->slot[i] = s->slot[j];
            s->slot[j] = NULL;
            i = j;
        }
    }
}

void ptrset_free(struct ptrset *s)
{
    free(s->slot);
    s->slot = NULL;
    s->cap = s->count = 0;
}
