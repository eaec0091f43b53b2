/* registry_bench.c -- how fast the master's registry is (src/registry.c).
 *
 *   1. Writes per second with group commit: C clients each keep one change
 *      in flight (apply, wait for the durable callback, apply the next), on
 *      a real loop against a real directory; printed with fsyncs per
 *      second and changes per fsync, for several C.
 *   2. Recovery time for 10,000 agents: registry_open on a log of 10,000
 *      admissions (every record replayed), and on the snapshot compacted
 *      from it.
 *
 * Usage: build/bench/registry_bench [DIR]   (DIR defaults to a new /tmp dir;
 * the numbers depend on the disk under it). `make bench-registry` runs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "loop.h"
#include "pbw.h"
#include "registry.h"
#include "util.h"

struct client { struct registry *r; int id; uint64_t seq; uint64_t *done; int stop; };

static void issue(struct client *c);

static void durable(void *arg, int status)
{
    struct client *c = arg;
    if (status < 0) { fprintf(stderr, "registry failed: %d\n", status); exit(1); }
    (*c->done)++;
    if (!c->stop) issue(c);
}

static void issue(struct client *c)
{
    struct buf v = {0};
    char role[32];
    snprintf(role, sizeof role, "role%d", c->id);
    size_t k = pbw_begin(&v, 1);
    pbw_put_double(&v, 1, (double)++c->seq);
    pbw_put_str(&v, 2, role);
    pbw_end(&v, k);
    if (registry_apply(c->r, REGISTRY_UPDATE_WEIGHTS, NULL, v.data, v.len, durable, c) < 0) exit(1);
    buf_free(&v);
}

static void rm_registry(const char *dir)
{
    static const char *const files[] = { "snapshot", "log", "lock", "snapshot.tmp", "log.tmp" };
    char p[1200];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

static void writes(const char *dir, int nclients, double secs)
{
    char err[1024];
    struct loop *l = loop_new();
    struct registry_config cfg = { .dir = dir, .loop = l };
    rm_registry(dir);
    struct registry *r = registry_open(&cfg, err, sizeof err);
    if (!r) { fprintf(stderr, "%s\n", err); exit(1); }
    uint64_t done = 0, fs0 = registry_stats(r)->fsyncs;
    struct client *cs = calloc((size_t)nclients, sizeof *cs);
    for (int i = 0; i < nclients; i++) {
        cs[i] = (struct client){ r, i, 0, &done, 0 };
        issue(&cs[i]);
    }
    uint64_t t0 = loop_clock_ms(), end = t0 + (uint64_t)(secs * 1000);
    while (loop_clock_ms() < end) loop_run_once(l, 10);
    for (int i = 0; i < nclients; i++) cs[i].stop = 1;
    double el = (double)(loop_clock_ms() - t0) / 1000;
    const struct registry_stats *st = registry_stats(r);
    uint64_t fsyncs = st->fsyncs - fs0;
    printf("  %4d clients: %9.0f writes/s  %7.0f fsyncs/s  %6.1f writes per fsync  (%llu compactions)\n",
           nclients, (double)done / el, (double)fsyncs / el, fsyncs ? (double)done / (double)fsyncs : 0,
           (unsigned long long)st->compactions);
    registry_close(r);
    loop_free(l);
    free(cs);
}

static void recovery(const char *dir, int nagents)
{
    char err[1024];
    rm_registry(dir);
    struct registry_config cfg = { .dir = dir, .compact_bytes = (size_t)1 << 40 };   /* keep it all in the log */
    struct registry *r = registry_open(&cfg, err, sizeof err);
    if (!r) { fprintf(stderr, "%s\n", err); exit(1); }
    struct buf v = {0};
    for (int i = 0; i < nagents; i++) {
        char id[96], host[64];
        snprintf(id, sizeof id, "3f2b6a1e-5c1d-4e8a-9b7f-0c2d4e6f8a10-S%d", i);
        snprintf(host, sizeof host, "agent-%05d.rack%02d.example.net", i, i % 40);
        buf_reset(&v);                       /* a SlaveInfo as agents send it */
        pbw_put_str(&v, 1, host);
        static const char *const res[] = { "cpus", "mem", "disk" };
        for (int k = 0; k < 3; k++) {
            size_t m = pbw_begin(&v, 3);
            pbw_put_str(&v, 1, res[k]);
            pbw_put_uint(&v, 2, 0);
            size_t s = pbw_begin(&v, 3);
            pbw_put_double(&v, 1, k == 0 ? 16 : 65536);
            pbw_end(&v, s);
            pbw_end(&v, m);
        }
        size_t a = pbw_begin(&v, 5);
        pbw_put_str(&v, 1, "rack");
        pbw_put_uint(&v, 2, 1);
        size_t t = pbw_begin(&v, 5);
        pbw_put_str(&v, 1, "r1");
        pbw_end(&v, t);
        pbw_end(&v, a);
        pbw_put_id(&v, 6, id);
        pbw_put_uint(&v, 8, 5051);
        if (registry_apply(r, REGISTRY_ADMIT_AGENT, id, v.data, v.len, NULL, NULL) < 0) exit(1);
        if (i % 100 == 99) registry_flush(r);            /* batches as registrations arrive */
    }
    registry_flush(r);
    registry_close(r);
    buf_free(&v);
    for (int pass = 0; pass < 2; pass++) {
        uint64_t t0 = loop_clock_ms();
        cfg.compact_bytes = 0;
        r = registry_open(&cfg, err, sizeof err);
        double ms = (double)(loop_clock_ms() - t0);
        if (!r) { fprintf(stderr, "%s\n", err); exit(1); }
        const struct registry_stats *st = registry_stats(r);
        printf("  recovery of %zu agents from %s: %.0f ms (%llu bytes%s)\n", registry_count(r, REGISTRY_AGENTS),
               pass ? "a snapshot" : "the log (every record replayed)", ms,
               (unsigned long long)(st->snapshot_bytes + st->log_bytes), pass ? "" : ", records checked and applied");
        if (!pass) registry_compact(r);
        registry_close(r);
    }
}

int main(int argc, char **argv)
{
    char dir[512];
    char tmpl[] = "/tmp/mesos_api-bench-registry-XXXXXX";
    const char *base = argc > 1 ? argv[1] : mkdtemp(tmpl);
    if (!base) { perror("mkdtemp"); return 1; }
    snprintf(dir, sizeof dir, "%s/registry", base);
    log_min_severity = LOG_WARNING;
    printf("registry writes with group commit (UPDATE_WEIGHTS records, fdatasync under %s):\n", base);
    static const int cs[] = { 1, 16, 256 };
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) writes(dir, cs[i], 2.0);
    printf("registry recovery:\n");
    recovery(dir, 10000);
    rm_registry(dir);
    if (argc < 2) rmdir(base);
    return 0;
}
