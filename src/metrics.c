/* metrics.c -- metric lists for GET_METRICS (see metrics.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>
#include "metrics.h"
#include "pbw.h"
#include "util.h"

void metrics_put(struct mlist *l, const char *name, double value)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 128;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    snprintf(l->v[l->n].name, sizeof l->v[l->n].name, "%s", name);
    l->v[l->n].value = value;
    l->n++;
}

void metrics_put_system(struct mlist *l)
{
    metrics_put(l, "system/cpus_total", (double)sysconf(_SC_NPROCESSORS_ONLN));
    double load[3];
    if (getloadavg(load, 3) == 3) {
        metrics_put(l, "system/load_1min", load[0]);
        metrics_put(l, "system/load_5min", load[1]);
        metrics_put(l, "system/load_15min", load[2]);
    }
    struct sysinfo si;
    if (sysinfo(&si) == 0) {
        metrics_put(l, "system/mem_total_bytes", (double)si.totalram * si.mem_unit);
        metrics_put(l, "system/mem_free_bytes", (double)si.freeram * si.mem_unit);
    }
}

static int cmp_metric(const void *a, const void *b)
{
    return strcmp(((const struct metric *)a)->name, ((const struct metric *)b)->name);
}

size_t metrics_finish(struct mlist *l, struct metric **out)
{
    if (l->n) qsort(l->v, l->n, sizeof *l->v, cmp_metric);
    *out = l->v;
    return l->n;
}

void metrics_encode_response(struct buf *pb, int type, const struct metric *v, size_t n)
{
    pbw_put_uint(pb, 1, (uint64_t)type);
    size_t gm = pbw_begin(pb, 5);
    for (size_t i = 0; i < n; i++) {
        size_t e = pbw_begin(pb, 1);
        pbw_put_str(pb, 1, v[i].name);
        pbw_put_double(pb, 2, v[i].value);
        pbw_end(pb, e);
    }
    pbw_end(pb, gm);
}
