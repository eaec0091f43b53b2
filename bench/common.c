/* common.c -- helpers shared by the bench tools (see common.h). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ==== HTTP client ======================================================= */

int httpc_connect(struct httpc *c, const char *host, int port)
{
    memset(c, 0, sizeof *c);
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    c->in.max = (size_t)2 << 30;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) return -EINVAL;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return -errno;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(c->fd);
        c->fd = -1;
        return -e;
    }
    return 0;
}

void httpc_close(struct httpc *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    buf_free(&c->in);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int httpc_send(struct httpc *c, const char *method, const char *path, const char *headers,
               const void *body, size_t n)
{
    struct buf b = {0};
    buf_printf(&b, "%s %s HTTP/1.1\r\nHost: %s:%d\r\n%sContent-Length: %zu\r\n\r\n", method, path,
               c->host, c->port, headers ? headers : "", n);
    buf_append(&b, body, n);
    int rc = write_all(c->fd, b.data, b.len);
    buf_free(&b);
    return rc;
}

/* Read more bytes into c->in, waiting until `deadline`. 1, 0 timeout, -1 EOF/error. */
static int fill(struct httpc *c, double deadline)
{
    for (;;) {
        double left = deadline - bench_now();
        if (left <= 0) return 0;
        struct pollfd p = { .fd = c->fd, .events = POLLIN };
        int k = poll(&p, 1, (int)(left * 1000) + 1);
        if (k < 0 && errno == EINTR) continue;
        if (k == 0) return 0;
        if (k < 0) return -1;
        if (buf_reserve(&c->in, 256 << 10) < 0) return -1;
        ssize_t n = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return -1;
        c->in.len += (size_t)n;
        return 1;
    }
}

static int header_is(const char *line, size_t n, const char *name, const char **val, size_t *vn)
{
    size_t k = strlen(name);
    if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0) return 0;
    const char *v = line + k + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
    *val = v;
    *vn = (size_t)(end - v);
    return 1;
}

/* Decode chunked bytes at the front of c->in into out. 1 done, 0 more, -1 bad. */
static int dechunk(struct httpc *c, struct buf *out)
{
    size_t n = c->in.len;
    ssize_t rc = http_decode_chunked(&c->ck, c->in.data, &n);
    if (rc == HTTP_BAD) return -1;
    buf_append(out, c->in.data, n);
    if (rc == HTTP_INCOMPLETE) { c->in.len = 0; return 0; }
    memmove(c->in.data, c->in.data + n, (size_t)rc);
    c->in.len = (size_t)rc;
    return 1;
}

int httpc_recv(struct httpc *c, struct httpc_resp *r, int stream, int timeout_ms)
{
    double deadline = bench_now() + timeout_ms / 1000.0;
    buf_reset(&r->body);
    r->status = r->gzip = r->chunked = 0;
    r->stream_id[0] = 0;
    char *end;
    while (!(end = c->in.len ? memmem(c->in.data, c->in.len, "\r\n\r\n", 4) : NULL))
        if (fill(c, deadline) <= 0) return -1;
    size_t head = (size_t)(end - c->in.data) + 4;
    if (c->in.len < 12 || memcmp(c->in.data, "HTTP/1.", 7) != 0) return -1;
    r->status = atoi(c->in.data + 9);
    long long clen = -1;
    for (char *line = memchr(c->in.data, '\n', head) + 1; line < c->in.data + head - 2;) {
        char *nl = memchr(line, '\n', (size_t)(c->in.data + head - line));
        size_t n = (size_t)(nl - line) - (nl > line && nl[-1] == '\r');
        const char *v;
        size_t vn;
        if (header_is(line, n, "Content-Length", &v, &vn)) clen = atoll(v);
        else if (header_is(line, n, "Transfer-Encoding", &v, &vn)) r->chunked = vn == 7 && !strncasecmp(v, "chunked", 7);
        else if (header_is(line, n, "Content-Encoding", &v, &vn)) r->gzip = vn == 4 && !strncasecmp(v, "gzip", 4);
        else if (header_is(line, n, "Mesos-Stream-Id", &v, &vn))
            snprintf(r->stream_id, sizeof r->stream_id, "%.*s", (int)vn, v);
        line = nl + 1;
    }
    buf_consume(&c->in, head);
    if (r->chunked) {
        memset(&c->ck, 0, sizeof c->ck);
        if (stream) return 0;
        for (;;) {
            int d = dechunk(c, &r->body);
            if (d < 0) return -1;
            if (d > 0) return 0;
            if (fill(c, deadline) <= 0) return -1;
        }
    }
    if (clen < 0) clen = 0;
    while (c->in.len < (size_t)clen)
        if (fill(c, deadline) <= 0) return -1;
    buf_append(&r->body, c->in.data, (size_t)clen);
    buf_consume(&c->in, (size_t)clen);
    return 0;
}

int httpc_post(struct httpc *c, const char *path, const char *ctype, const char *accept, int gzip,
               const void *body, size_t n, struct httpc_resp *r, int timeout_ms)
{
    char h[512];
    snprintf(h, sizeof h, "Content-Type: %s\r\n%s%s%s%s", ctype, accept ? "Accept: " : "", accept ? accept : "",
             accept ? "\r\n" : "", gzip ? "Accept-Encoding: gzip\r\n" : "");
    if (httpc_send(c, "POST", path, h, body, n) < 0) return -1;
    return httpc_recv(c, r, 0, timeout_ms);
}

long httpc_stream_read(struct httpc *c, struct buf *out, int timeout_ms)
{
    double deadline = bench_now() + timeout_ms / 1000.0;
    size_t before = out->len;
    for (;;) {
        if (c->in.len) {
            int d = dechunk(c, out);
            if (d != 0) return -1;                   /* stream ended or bad framing */
        }
        if (out->len > before) return (long)(out->len - before);
        int f = fill(c, deadline);
        if (f == 0) return 0;
        if (f < 0) return -1;
    }
}

int recordio_take(struct buf *b, size_t *off, const char **rec, size_t *len)
{
    const char *p = b->data + *off, *end = b->data + b->len;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) return 0;
    size_t n = 0;
    for (const char *q = p; q < nl; q++) n = n * 10 + (size_t)(*q - '0');
    if ((size_t)(end - nl - 1) < n) return 0;
    *rec = nl + 1;
    *len = n;
    *off = (size_t)(nl + 1 - b->data) + n;
    return 1;
}

/* ==== Processes ========================================================= */

const char *bench_binary(void)
{
    const char *e = getenv("MESOS_API");
    if (e && *e) return e;
    if (access("./mesos_api", X_OK) == 0) return "./mesos_api";
    if (access("../mesos_api", X_OK) == 0) return "../mesos_api";
    bench_die("cannot find the mesos_api binary (set MESOS_API)");
}

/* Processes we started, killed at exit (also when bench_die exits early). */
static pid_t spawned[128];
static size_t nspawned;

static void kill_spawned(void)
{
    for (size_t i = 0; i < nspawned; i++)
        if (spawned[i] > 0) { kill(spawned[i], SIGKILL); waitpid(spawned[i], NULL, 0); }
}

pid_t bench_spawn(const char *bin, char *const argv[], const char *logfile, int *port)
{
    int fd = open(logfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) bench_die("cannot write %s: %s", logfile, strerror(errno));
    pid_t pid = fork();
    if (pid < 0) bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(fd, 2);
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) { dup2(nul, 0); dup2(nul, 1); }
        execv(bin, argv);
        _exit(127);
    }
    close(fd);
    if (nspawned == 0) atexit(kill_spawned);
    if (nspawned < sizeof spawned / sizeof *spawned) spawned[nspawned++] = pid;
    double deadline = bench_now() + 20;
    while (bench_now() < deadline) {
        FILE *f = fopen(logfile, "r");
        char line[1024];
        while (f && fgets(line, sizeof line, f)) {
            char *s = strstr(line, "started on ");
            char *colon = s ? strchr(s + 11, ':') : NULL;
            if (colon) {
                *port = atoi(colon + 1);
                fclose(f);
                return pid;
            }
        }
        if (f) fclose(f);
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) bench_die("%s exited at start; see %s", bin, logfile);
        usleep(2000);
    }
    kill(pid, SIGKILL);
    bench_die("%s did not start within 20 s; see %s", bin, logfile);
}

void bench_rmtree(const char *dir)
{
    if (getenv("BENCH_KEEP") || strncmp(dir, "/tmp/", 5) != 0 || strchr(dir, '\'')) return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench: could not remove %s\n", dir);
}

void bench_stop(pid_t pid)
{
    if (pid <= 0) return;
    for (size_t i = 0; i < nspawned; i++)
        if (spawned[i] == pid) spawned[i] = 0;
    kill(pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) return;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* ==== /proc ============================================================= */

static long status_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long v = -1;
    size_t k = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, k) == 0 && line[k] == ':') { v = atol(line + k + 1); break; }
    fclose(f);
    return v;
}

long proc_rss_kb(pid_t pid) { return status_kb(pid, "VmRSS"); }
long proc_hwm_kb(pid_t pid) { return status_kb(pid, "VmHWM"); }

double proc_cpu_secs(pid_t pid)
{
    char path[64], line[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = 0;
    /* Fields after the ")" that closes comm: state is field 3, utime 14, stime 15. */
    char *p = strrchr(line, ')');
    if (!p) return -1;
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ==== Statistics ======================================================== */

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void stats_sort(double *v, size_t n) { qsort(v, n, sizeof *v, cmp_d); }

double stats_pct(const double *v, size_t n, double p)
{
    if (!n) return 0;
    size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return v[k - 1];
}

double stats_mean(const double *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    return n ? s / (double)n : 0;
}
