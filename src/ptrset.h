/* ptrset.h -- a set of pointers found by a hash of what they point to.
 *
 * Open addressing with linear probing, kept at most half full; deleting
 * moves the entries that probed past the hole back, so no tombstones. The
 * caller gives the hash of an item (and of a key, with a match function,
 * to look one up): the set itself knows nothing of the items. Used for the
 * master's indexes by id (task history, unreachable and gone agents). */
#ifndef PTRSET_H
#define PTRSET_H
#include <stddef.h>
#include <stdint.h>

struct ptrset { void **slot; size_t cap, count; };

typedef size_t (*ptrset_hash_fn)(const void *item);

void ptrset_put(struct ptrset *s, void *item, ptrset_hash_fn hash);
void ptrset_del(struct ptrset *s, const void *item, ptrset_hash_fn hash);
/* The first item of hash `h` that match(item, key) accepts, or NULL. */
void *ptrset_find(const struct ptrset *s, size_t h, int (*match)(const void *item, const void *key),
                  const void *key);
void ptrset_free(struct ptrset *s);

/* FNV-1a over bytes, folded; `h` chains several pieces (start with 0). */
size_t ptrset_hash_bytes(size_t h, const void *p, size_t n);

#endif
