/* common.h -- what the bench tools share: a blocking HTTP/1.1 client,
 * starting a mesos_api process and reading its port from its log, a
 * process's RSS and CPU time from /proc, and small statistics.
 *
 * These are measuring tools, not library code: they exit on setup errors
 * with a message (bench_die) rather than returning codes up a stack. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "buf.h"
#include "http.h"

void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
double bench_now(void);                      /* CLOCK_MONOTONIC seconds */

/* ---- blocking HTTP client (one keep-alive connection) ---- */
struct httpc {
    int fd;
    char host[64];
    int port;
    struct buf in;                           /* bytes read and not yet consumed */
    struct http_chunked ck;                  /* streaming: the chunked decoder */
};
struct httpc_resp {
    int status;
    int gzip;                                /* Content-Encoding: gzip */
    int chunked;                             /* a stream: read it with httpc_stream_read */
    struct buf body;                         /* as received (not inflated) */
    char stream_id[64];                      /* Mesos-Stream-Id, if any */
};
/* Connect (blocking, TCP_NODELAY). Returns 0 or -errno. */
int httpc_connect(struct httpc *c, const char *host, int port);
void httpc_close(struct httpc *c);
/* Send one request with the given extra header lines ("Name: v\r\n"...). */
int httpc_send(struct httpc *c, const char *method, const char *path, const char *headers,
               const void *body, size_t n);
/* Read one response. A chunked one is read whole unless `stream` is set:
 * then only the head is read and the caller reads the body with
 * httpc_stream_read. timeout_ms bounds the whole read. Returns 0 or -1. */
int httpc_recv(struct httpc *c, struct httpc_resp *r, int stream, int timeout_ms);
/* POST /api/v1-style call: Content-Type ctype, Accept accept (NULL: none),
 * gzip: send Accept-Encoding: gzip. */
int httpc_post(struct httpc *c, const char *path, const char *ctype, const char *accept, int gzip,
               const void *body, size_t n, struct httpc_resp *r, int timeout_ms);
/* A chunked stream: append decoded bytes to out, waiting at most
 * timeout_ms for some. Returns bytes appended (> 0), 0 on timeout, -1 on
 * end or error. */
long httpc_stream_read(struct httpc *c, struct buf *out, int timeout_ms);
/* Take one RecordIO record "<len>\n<bytes>" from the front of b into
 * rec (pointer into b, valid until b changes). Returns 1, 0 if incomplete. */
int recordio_take(struct buf *b, size_t *off, const char **rec, size_t *len);

/* ---- mesos_api processes ---- */
/* The mesos_api binary: $MESOS_API, else ./mesos_api, else ../mesos_api. */
const char *bench_binary(void);
/* Start `bin mode args...` with stderr to logfile; wait until the log says
 * "started on <ip>:<port>" and return the port. */
pid_t bench_spawn(const char *bin, char *const argv[], const char *logfile, int *port);
void bench_stop(pid_t pid);                  /* SIGTERM, wait, SIGKILL after 5 s */
/* rm -rf a directory of ours under /tmp, unless BENCH_KEEP is set. */
void bench_rmtree(const char *dir);

/* ---- /proc ---- */
long proc_rss_kb(pid_t pid);                 /* VmRSS, -1 if unknown */
long proc_hwm_kb(pid_t pid);                 /* VmHWM (peak RSS) */
double proc_cpu_secs(pid_t pid);             /* utime + stime */

/* ---- statistics over seconds ---- */
void stats_sort(double *v, size_t n);
double stats_pct(const double *sorted, size_t n, double p);   /* p in [0,100], nearest rank */
double stats_mean(const double *v, size_t n);

#endif
