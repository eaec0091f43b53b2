/* metrics.h -- the (name, value) lists GET_METRICS answers with, on the
 * master and on the agent, and libprocess' system/ metrics both carry. */
#ifndef METRICS_H
#define METRICS_H
#include <stddef.h>
#include "buf.h"

struct metric { char name[96]; double value; };
struct mlist { struct metric *v; size_t n, cap; };

void metrics_put(struct mlist *l, const char *name, double value);
/* system/cpus_total, system/load_*, system/mem_*_bytes. */
void metrics_put_system(struct mlist *l);
/* Sort by name and hand the array over (the caller frees *out). */
size_t metrics_finish(struct mlist *l, struct metric **out);
/* A GET_METRICS Response (type `type`, the metrics in field 5): the same
 * shape in master.proto and agent.proto. */
void metrics_encode_response(struct buf *pb, int type, const struct metric *v, size_t n);

#endif
