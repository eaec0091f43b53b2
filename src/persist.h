/* persist.h -- operator writes that answer once the registry has them
 * (persist.c). */
#ifndef PERSIST_H
#define PERSIST_H
#include <stddef.h>

struct api_ctx;
struct master;
struct registry_op;

/* Runs once the record is durable: change the in-memory state from data.
 * c is NULL when the client went away. Return 0 to have 200 sent, or 1 when
 * it answered c itself. */
typedef int (*persist_apply_fn)(struct master *m, void *data, struct api_ctx *c);

/* Queue ops as one record (all or nothing); apply(m, data, c) runs once it
 * is durable, then data is freed (free()). On refusal (< 0 returned) the
 * client has been answered (503 failed registry, 409 refused) and data freed. */
int persist_call(struct api_ctx *c, const struct registry_op *ops, size_t n, persist_apply_fn apply, void *data);

/* Recovery hooks (master_registry_recover): quota, maintenance, drains. */
void quota_recover(struct master *m);
void maint_recover(struct master *m);
void agent_admin_recover(struct master *m);

#endif
