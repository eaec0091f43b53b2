/* test_ptrset.c -- the pointer set behind the master's indexes by id:
 * random puts and deletes against a plain array as the model, with a hash
 * that collides a lot, so that deleting from the middle of probe runs (and
 * runs that wrap around the end of the table) is exercised. */
#include <stdlib.h>
#include "buf.h"
#include "ptrset.h"
#include "test.h"

struct item { int key; int live; };

static size_t bad_hash(const void *p) { return (size_t)((const struct item *)p)->key % 7; }  /* many collisions */
static int is_key(const void *p, const void *k) { return ((const struct item *)p)->key == *(const int *)k; }

static int test_against_a_model(void)
{
    enum { N = 3000 };
    static struct item items[N];
    struct ptrset s = {0};
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < N; i++) items[i].key = i;
    for (int round = 0; round < 60000; round++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        struct item *it = &items[x % N];
        if (it->live) { ptrset_del(&s, it, bad_hash); it->live = 0; }
        else { ptrset_put(&s, it, bad_hash); it->live = 1; }
        if (round % 997 == 0) {                               /* every item findable iff live */
            size_t live = 0;
            for (int i = 0; i < N; i++) {
                live += items[i].live;
                void *f = ptrset_find(&s, (size_t)i % 7, is_key, &items[i].key);
                CHECK(f == (items[i].live ? &items[i] : NULL));
            }
            CHECK_EQ(s.count, live);
            CHECK(s.count * 2 <= s.cap);
        }
    }
    for (int i = 0; i < N; i++)
        if (items[i].live) ptrset_del(&s, &items[i], bad_hash);
    CHECK_EQ(s.count, 0);
    for (size_t i = 0; i < s.cap; i++) CHECK(s.slot[i] == NULL);
    ptrset_del(&s, &items[0], bad_hash);                        /* not there: nothing happens */
    ptrset_free(&s);
    CHECK(ptrset_find(&s, 0, is_key, &items[0].key) == NULL);  /* an empty set */
    return 0;
}

static int test_hash_pieces(void)
{
    /* "ab" + "c" and "a" + "bc" are different keys. */
    size_t h1 = ptrset_hash_bytes(ptrset_hash_bytes(0, "ab", 2), "c", 1);
    size_t h2 = ptrset_hash_bytes(ptrset_hash_bytes(0, "a", 1), "bc", 2);
    CHECK(h1 != h2);
    CHECK(ptrset_hash_bytes(0, "x", 1) == ptrset_hash_bytes(0, "x", 1));
    return 0;
}

int main(void)
{
    RUN(test_against_a_model);
    RUN(test_hash_pieces);
    return REPORT();
}
