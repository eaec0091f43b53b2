/* containers.c -- containers of the agent's operator API: LAUNCH, WAIT,
 * KILL and REMOVE_CONTAINER (and the deprecated *_NESTED_CONTAINER calls),
 * LAUNCH_NESTED_CONTAINER_SESSION and ATTACH_CONTAINER_INPUT/OUTPUT.
 *
 * A container is a plain process the agent starts in its own session
 * (so its own process group), with its own sandbox: WORK_DIR/containers/
 * <id> for a standalone one, <root sandbox>/containers/<id> (once per
 * level) for a nested one, whose root is an executor's container or a
 * standalone container. Its id is upstream's string form, the values
 * from the root down joined by '.' (which ids may not contain).
 *
 * A container with a TTYInfo or of the DEBUG class (a session) has what
 * upstream calls an I/O switchboard: its stdin, stdout and stderr are
 * pipes (or one pseudo-terminal) held here; output goes to the sandbox
 * files and, as RecordIO ProcessIO records, to every attached output
 * stream, with heartbeats every --http_heartbeat_interval; one input
 * stream at a time feeds its stdin. Output is read only once someone is
 * attached, so nothing is lost before the first reader (upstream's
 * wait_for_connection). Other containers write to the sandbox files.
 *
 * When the main process exits, the rest of its process group is killed
 * (upstream destroys the container) and waiters get the wait(2) status.
 * A session's container is destroyed when its stream closes or its output
 * ends, as upstream's is. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>
#include <termios.h>
#include <unistd.h>
#include "agent.h"
#include "log.h"
#include "pbdesc.h"
#include "pbjson.h"
#include "pbw.h"
#include "processio.h"
#include "util.h"

#define MAX_DEPTH 16
#define READ_CHUNK 65536
#define INPUT_HIGH (256u * 1024)      /* stdin bytes queued before the input stream is paused */
#define MAX_CONTAINERS 4096

enum { C_LAUNCH_NESTED = 14, C_WAIT_NESTED = 15, C_KILL_NESTED = 16, C_REMOVE_NESTED = 21,
       C_SESSION = 17, C_LAUNCH = 22 };

struct container;

struct output {                      /* an ATTACH_CONTAINER_OUTPUT stream or a session's */
    struct output *next;
    struct container *c;
    struct request *r;
    int json;
    int session;
    struct loop_timer heartbeat;
};

struct waiter {
    struct waiter *next;
    struct container *c;
    struct api_ctx *ctx;
    int deprecated;                  /* WAIT_NESTED_CONTAINER: the old response */
};

struct container {
    struct container *next;
    struct containers *cs;
    char id[MAX_DEPTH * 260];        /* "root.child" */
    struct buf cid;                  /* ContainerID protobuf bytes */
    int depth;                       /* 0: top level */
    int exec_root;                   /* the root is an executor's container */
    int debug;                       /* a session (DEBUG class) */
    char sandbox[4096];
    pid_t pid;                       /* 0 once reaped */
    int terminated, status;
    int io, tty;                     /* has a switchboard; with a pseudo-terminal */
    int in_fd;                       /* stdin pipe or a dup of the pty master; -1 when closed */
    struct loop_fd in_lfd;
    int in_watched;
    struct loop_fd out_lfd, err_lfd; /* fd -1 once at EOF */
    int reading;                     /* output is being read */
    int io_done;                     /* the switchboard is gone: output drained */
    int file_out, file_err;          /* sandbox stdout/stderr */
    int adopted;                     /* recovered after an agent restart: not our child */
    int status_known;                /* the wait status is known (an adopted one's may not be) */
    struct output *outputs;
    struct api_ctx *input;           /* the attached input stream */
    struct buf inbuf;                /* stdin bytes not yet written */
    int in_end;                      /* the input stream ended */
    int in_eof;                      /* close stdin once inbuf is written */
    struct waiter *waiters;
};

/* A WAIT_CONTAINER on an executor's container (upstream's containerizer
 * knows those as top-level containers; here they are agent_exec.c's). */
struct exec_waiter {
    struct exec_waiter *next;
    struct containers *cs;
    char cid[260];
    struct api_ctx *ctx;
    int deprecated;
};

struct containers {
    struct agent_proc *a;
    struct container *list;
    size_t n;
    struct exec_waiter *exec_waiters;
};

static void output_close(struct output *o, int end_stream);
static void maybe_free(struct container *c);
static void answer_status(struct api_ctx *ctx, int deprecated, int status, int known);

/* ==== Ids ================================================================= */

/* ContainerID bytes to the dotted form. Returns depth (0 top), or -1. */
static int dotted(const uint8_t *p, size_t n, char *out, size_t cap)
{
    const uint8_t *vals[MAX_DEPTH];
    size_t lens[MAX_DEPTH];
    int k = 0;
    while (p) {
        struct pbw_field v, parent;
        if (k == MAX_DEPTH || pbw_find(p, n, 1, &v) != 1 || v.wt != PBW_LEN) return -1;
        vals[k] = v.p;
        lens[k++] = v.n;
        if (pbw_find(p, n, 2, &parent) == 1 && parent.wt == PBW_LEN) { p = parent.p; n = parent.n; }
        else p = NULL;
    }
    size_t o = 0;
    for (int i = k - 1; i >= 0; i--) {
        if (o + lens[i] + 2 > cap) return -1;
        memcpy(out + o, vals[i], lens[i]);
        o += lens[i];
        if (i) out[o++] = '.';
    }
    out[o] = 0;
    return k - 1;
}

static struct container *find(struct containers *cs, const char *id)
{
    for (struct container *c = cs->list; c; c = c->next)
        if (strcmp(c->id, id) == 0) return c;
    return NULL;
}

/* ==== Checkpoints ========================================================= */

/* A container without a switchboard outlives an agent restart, as
 * upstream's do: its record is checkpointed under WORK_DIR/meta/containers/
 * <id> (1 ContainerID, 2 sandbox, 3 pid, 4 rooted at an executor,
 * 5 terminated, 6 wait status) and its init process (see spawn) writes
 * the command's wait status to <id>.status, which a restarted agent reads
 * when the process it adopted is gone. */

#define CKPT_PATH_MAX (sizeof ((struct agent_proc *)0)->work_dir + sizeof ((struct container *)0)->id + 32)

static void ckpt_path(const struct container *c, char *out, size_t n, const char *suffix)
{
    snprintf(out, n, "%s/meta/containers/%s%s", c->cs->a->work_dir, c->id, suffix);
}

static void ckpt_write(struct container *c)
{
    if (c->io) return;
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/meta/containers", c->cs->a->work_dir);
    struct buf b = {0};
    pbw_put_bytes(&b, 1, c->cid.data, c->cid.len);
    pbw_put_str(&b, 2, c->sandbox);
    pbw_put_uint(&b, 3, (uint64_t)(c->pid > 0 ? c->pid : 0));
    pbw_put_uint(&b, 4, (uint64_t)c->exec_root);
    pbw_put_uint(&b, 5, (uint64_t)c->terminated);
    if (c->status_known) pbw_put_int32(&b, 6, c->status);
    int rc = agent_mkdirs(dir);
    if (rc == 0) rc = agent_write_atomic(dir, c->id, b.data, b.len);
    if (rc < 0) LOG_ERR("Failed to checkpoint container %s: %s", c->id, strerror(-rc));
    buf_free(&b);
}

static void ckpt_remove(struct container *c)
{
    char path[CKPT_PATH_MAX];
    ckpt_path(c, path, sizeof path, "");
    unlink(path);
    ckpt_path(c, path, sizeof path, ".status");
    unlink(path);
}

struct exec_find { const char *cid; char sandbox[2048]; int pid; int found; };

static int match_exec(void *arg, const struct exec_view *v)
{
    struct exec_find *f = arg;
    if (strcmp(v->container_id, f->cid) != 0 || v->pid <= 0) return 0;
    snprintf(f->sandbox, sizeof f->sandbox, "%s", v->sandbox);
    f->pid = v->pid;
    f->found = 1;
    return 1;
}

/* The running executor whose container is `cid`, if any. */
static int find_exec(struct agent_proc *a, const char *cid, struct exec_find *f)
{
    memset(f, 0, sizeof *f);
    f->cid = cid;
    agent_exec_foreach(a, match_exec, f);
    return f->found;
}

/* The root value of a dotted id (its first component). */
static void root_of(const char *id, char *out, size_t n)
{
    size_t k = strcspn(id, ".");
    snprintf(out, n, "%.*s", (int)k, id);
}

/* ==== Statistics from /proc ============================================== */

void containers_encode_stats(int sid, uint32_t tag, struct buf *pb)
{
    double user = 0, sys = 0;
    uint64_t rss = 0, procs = 0, threads = 0;
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
        char path[300], line[1024];
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, line, sizeof line - 1);
        close(fd);
        if (n <= 0) continue;
        line[n] = 0;
        /* "pid (comm) state ppid pgrp session ...": comm may hold anything,
         * so fields are counted after its last ')'. */
        char *q = strrchr(line, ')');
        if (!q) continue;
        long long f[40] = {0};
        int i = 0;
        for (char *tok = strtok(q + 2, " "); tok && i < 40; tok = strtok(NULL, " ")) f[i++] = atoll(tok);
        /* f[0] state, f[1] ppid, f[2] pgrp, f[3] session, f[11] utime,
         * f[12] stime, f[17] num_threads, f[21] rss (fields 3.. of proc(5)) */
        if (i < 22 || f[3] != sid) continue;
        procs++;
        threads += (uint64_t)f[17];
        user += (double)f[11] / (double)tick;
        sys += (double)f[12] / (double)tick;
        rss += (uint64_t)f[21] * (uint64_t)page;
    }
    if (d) closedir(d);
    size_t k = pbw_begin(pb, tag);
    pbw_put_double(pb, 1, now_secs());
    pbw_put_double(pb, 2, user);
    pbw_put_double(pb, 3, sys);
    pbw_put_uint(pb, 5, rss);
    pbw_put_uint(pb, 30, procs);
    pbw_put_uint(pb, 31, threads);
    pbw_end(pb, k);
}

/* Signal every process of session `sid` (an executor's container: the
 * executor and what it started); with `within`, only those working under
 * that directory (a session id from a checkpoint may have been reused).
 * Returns how many were signalled. */
int containers_kill_session(int sid, int sig, const char *within)
{
    size_t wl = within ? strlen(within) : 0;
    int n = 0;
    if (sid <= 1) return 0;
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
        int pid = atoi(de->d_name);
        if (pid <= 1 || getsid(pid) != sid) continue;
        if (within) {
            char link[64], cwd[4096];
            snprintf(link, sizeof link, "/proc/%d/cwd", pid);
            ssize_t k = readlink(link, cwd, sizeof cwd - 1);
            if (k < (ssize_t)wl || strncmp(cwd, within, wl) != 0 || (k > (ssize_t)wl && cwd[wl] != '/')) continue;
        }
        if (kill(pid, sig) == 0) n++;
    }
    if (d) closedir(d);
    return n;
}

static int cmp_int(const void *x, const void *y)
{
    int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

int containers_kill_sessions(int *sids, size_t n, int sig)
{
    int k = 0;
    if (!n) return 0;
    qsort(sids, n, sizeof *sids, cmp_int);
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
        int pid = atoi(de->d_name);
        if (pid <= 1) continue;
        int sid = getsid(pid);
        if (sid > 1 && bsearch(&sid, sids, n, sizeof *sids, cmp_int) && kill(pid, sig) == 0) k++;
    }
    if (d) closedir(d);
    return k;
}

void containers_encode(struct agent_proc *a, int show_nested, int show_standalone, struct buf *pb)
{
    for (struct container *c = a->containers->list; c; c = c->next) {
        if (c->terminated) continue;
        if (c->depth > 0 && !show_nested) continue;
        if (c->depth == 0 && !show_standalone) continue;
        size_t k = pbw_begin(pb, 1);
        pbw_put_bytes(pb, 4, c->cid.data, c->cid.len);
        size_t st = pbw_begin(pb, 5);
        pbw_put_bytes(pb, 4, c->cid.data, c->cid.len);
        if (c->pid > 0) pbw_put_uint(pb, 3, (uint64_t)c->pid);
        pbw_end(pb, st);
        containers_encode_stats(c->pid, 6, pb);
        pbw_end(pb, k);
    }
}

const char *containers_sandbox(struct agent_proc *a, const char *id)
{
    struct container *c = find(a->containers, id);
    return c ? c->sandbox : NULL;
}

/* ==== Output ============================================================== */

/* One ProcessIO record to an output stream. Returns 0, or -1 when the
 * stream is gone (the server dropped a slow reader). */
static int send_record(struct output *o, const struct buf *pio)
{
    int rc;
    if (o->json) {
        struct buf js = {0};
        rc = pbjson_to_json(PBD_M_mesos_v1_agent_ProcessIO, pio->data, pio->len, &js);
        if (rc == 0) rc = server_stream_record(o->r, js.data, js.len);
        buf_free(&js);
    } else {
        rc = server_stream_record(o->r, pio->data, pio->len);
    }
    return rc;
}

static void broadcast(struct container *c, const struct buf *pio)
{
    for (struct output *o = c->outputs, *next; o; o = next) {
        next = o->next;
        if (send_record(o, pio) < 0) {
            o->r = NULL;                 /* the server closed it */
            output_close(o, 0);
        }
    }
}

static void heartbeat_cb(struct loop *l, struct loop_timer *t)
{
    struct output *o = container_of(t, struct output, heartbeat);
    struct agent_proc *a = o->c->cs->a;
    struct buf pio = {0};
    processio_encode_heartbeat(&pio, (int64_t)a->http_heartbeat_ms * 1000000);
    int rc = send_record(o, &pio);
    buf_free(&pio);
    if (rc < 0) {
        struct container *c = o->c;
        o->r = NULL;
        output_close(o, 0);
        maybe_free(c);
        return;
    }
    loop_timer_start(l, t, a->http_heartbeat_ms);
}

static void destroy(struct container *c)
{
    if (c->pid > 0 && !c->terminated) {
        LOG("Destroying container %s", c->id);
        kill(-c->pid, SIGKILL);
    }
}

/* An output stream is done: by its reader (closed), by the end of the
 * output (end_stream), or dropped by the server (o->r NULL). */
static void output_close(struct output *o, int end_stream)
{
    struct container *c = o->c;
    struct output **pp = &c->outputs;
    while (*pp && *pp != o) pp = &(*pp)->next;
    if (*pp) *pp = o->next;
    loop_timer_stop(c->cs->a->loop, &o->heartbeat);
    if (o->r) {
        o->r->on_close = NULL;
        if (end_stream) server_stream_end(o->r);
    }
    /* A session lives as long as its connection. */
    if (o->session) {
        LOG("Session connection of container %s closed", c->id);
        destroy(c);
    }
    free(o);
}

static void output_closed(struct request *r, void *arg)
{
    struct output *o = arg;
    struct container *c = o->c;
    (void)r;
    o->r = NULL;
    output_close(o, 0);
    maybe_free(c);
}

static void respond_input(struct container *c, int status, const char *msg);

/* Both output pipes at EOF: the switchboard would exit now. */
static void io_finished(struct container *c)
{
    if (c->io_done) return;
    c->io_done = 1;
    while (c->outputs) output_close(c->outputs, 1);
    if (c->input) respond_input(c, 200, NULL);
    maybe_free(c);
}

static void close_out(struct container *c, struct loop_fd *f)
{
    if (f->fd < 0) return;
    loop_del(c->cs->a->loop, f);
    close(f->fd);
    f->fd = -1;
    if (c->out_lfd.fd < 0 && c->err_lfd.fd < 0) io_finished(c);
}

static void read_output(struct container *c, struct loop_fd *f, int type)
{
    char tmp[READ_CHUNK];
    ssize_t n;
    do n = read(f->fd, tmp, sizeof tmp);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) { close_out(c, f); return; }         /* EOF, or EIO from a pty with no slave */
    int file = type == PIO_STDOUT ? c->file_out : c->file_err;
    if (file >= 0 && write(file, tmp, (size_t)n) < 0) { /* the sandbox copy is best effort */ }
    struct buf pio = {0};
    processio_encode_data(&pio, type, tmp, (size_t)n);
    broadcast(c, &pio);
    buf_free(&pio);
}

static void stdout_cb(struct loop *l, struct loop_fd *f, int ev)
{
    (void)l; (void)ev;
    read_output(container_of(f, struct container, out_lfd), f, PIO_STDOUT);
}

static void stderr_cb(struct loop *l, struct loop_fd *f, int ev)
{
    (void)l; (void)ev;
    read_output(container_of(f, struct container, err_lfd), f, PIO_STDERR);
}

static void start_reading(struct container *c)
{
    if (c->reading) return;
    c->reading = 1;
    struct loop *l = c->cs->a->loop;
    if (c->out_lfd.fd >= 0) loop_add(l, &c->out_lfd, c->out_lfd.fd, LOOP_READ, stdout_cb);
    if (c->err_lfd.fd >= 0) loop_add(l, &c->err_lfd, c->err_lfd.fd, LOOP_READ, stderr_cb);
}

static void add_output(struct container *c, struct api_ctx *ctx, int session)
{
    struct output *o = xcalloc(1, sizeof *o);
    o->c = c;
    o->r = ctx->r;
    o->json = api_records_json(ctx);
    o->session = session;
    loop_timer_init(&o->heartbeat, heartbeat_cb);
    o->next = c->outputs;
    c->outputs = o;
    o->r->on_close = output_closed;
    o->r->on_close_arg = o;
    api_stream_begin(ctx);
    api_done(ctx);
    loop_timer_start(c->cs->a->loop, &o->heartbeat, c->cs->a->http_heartbeat_ms);
    start_reading(c);
}

/* ==== Input =============================================================== */

static void input_closed(struct request *r, void *arg)
{
    (void)r;
    struct container *c = arg;
    if (!c->input) return;
    api_done(c->input);
    c->input = NULL;
    c->in_end = 0;
    maybe_free(c);
}

static void respond_input(struct container *c, int status, const char *msg)
{
    struct api_ctx *in = c->input;
    if (!in) return;
    c->input = NULL;
    c->in_end = 0;
    in->r->on_close = NULL;
    if (status == 200) api_empty(in, 200);
    else api_error(in, status, "%s", msg);
}

static void close_stdin(struct container *c)
{
    if (c->in_fd < 0) return;
    if (c->in_watched) { loop_del(c->cs->a->loop, &c->in_lfd); c->in_watched = 0; }
    close(c->in_fd);
    c->in_fd = -1;
}

static void in_cb(struct loop *l, struct loop_fd *f, int ev);

/* Write queued stdin bytes as far as the pipe takes them. */
static void flush_stdin(struct container *c)
{
    while (c->inbuf.len && c->in_fd >= 0) {
        ssize_t n = write(c->in_fd, c->inbuf.data, c->inbuf.len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n < 0) {
            char msg[256];
            snprintf(msg, sizeof msg, "Failed writing to stdin: %s", strerror(errno));
            buf_reset(&c->inbuf);
            close_stdin(c);
            respond_input(c, 500, msg);
            return;
        }
        buf_consume(&c->inbuf, (size_t)n);
    }
    struct loop *l = c->cs->a->loop;
    if (c->inbuf.len && c->in_fd >= 0) {
        if (!c->in_watched) { loop_add(l, &c->in_lfd, c->in_fd, LOOP_WRITE, in_cb); c->in_watched = 1; }
    } else if (c->in_watched) {
        loop_del(l, &c->in_lfd);
        c->in_watched = 0;
    }
    if (!c->inbuf.len) {
        if (c->in_eof) close_stdin(c);
        if (c->input && c->in_end) respond_input(c, 200, NULL);
    }
    if (c->input && c->inbuf.len < INPUT_HIGH) server_body_pause(c->input->r, 0);
}

static void in_cb(struct loop *l, struct loop_fd *f, int ev)
{
    (void)l; (void)ev;
    flush_stdin(container_of(f, struct container, in_lfd));
}

/* A record of the input stream after the first (or its end). */
static void on_input(struct api_ctx *ctx, const uint8_t *call, size_t n, const char *err)
{
    struct container *c = ctx->input_arg;
    if (err) { respond_input(c, 400, err); return; }
    if (!call) {                                     /* the end of the input stream */
        c->in_end = 1;
        if (!c->inbuf.len) respond_input(c, 200, NULL);
        return;
    }
    struct processio io;
    const char *bad = processio_input_record(call, n, &io);
    if (bad) { respond_input(c, 400, bad); return; }
    if (io.type == PIO_CONTROL) {
        if (io.control_type == PIO_TTY_INFO) {
            struct winsize ws = { .ws_row = (unsigned short)io.rows, .ws_col = (unsigned short)io.columns };
            if (c->in_fd < 0 || ioctl(c->in_fd, TIOCSWINSZ, &ws) < 0) {
                char msg[256];
                snprintf(msg, sizeof msg, "Unable to set the window size: %s", strerror(c->in_fd < 0 ? EBADF : errno));
                respond_input(c, 400, msg);
            }
        }
        return;                                      /* heartbeats: nothing to do */
    }
    /* DATA/STDIN. Empty data is EOF, except on a terminal (the client
     * sends ^D there). */
    if (io.nbytes == 0) {
        if (!c->tty) {
            c->in_eof = 1;
            flush_stdin(c);
        }
        return;
    }
    if (c->in_fd < 0) {
        respond_input(c, 500, "Failed writing to stdin: Bad file descriptor");
        return;
    }
    if (buf_append(&c->inbuf, io.bytes, io.nbytes) < 0) {
        respond_input(c, 500, "Failed writing to stdin: too much input queued");
        return;
    }
    if (c->inbuf.len >= INPUT_HIGH) server_body_pause(ctx->r, 1);
    flush_stdin(c);
}

/* ==== Life cycle ========================================================= */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static void container_free(struct container *c)
{
    struct containers *cs = c->cs;
    struct container **pp = &cs->list;
    while (*pp && *pp != c) pp = &(*pp)->next;
    if (*pp) { *pp = c->next; cs->n--; }
    struct loop *l = cs->a->loop;
    while (c->outputs) {
        struct output *o = c->outputs;
        c->outputs = o->next;
        loop_timer_stop(l, &o->heartbeat);
        if (o->r) { o->r->on_close = NULL; server_stream_end(o->r); }
        free(o);
    }
    if (c->input) { c->input->r->on_close = NULL; api_error(c->input, 500, "I/O switchboard has shutdown"); c->input = NULL; }
    while (c->waiters) {
        struct waiter *w = c->waiters;
        c->waiters = w->next;
        w->ctx->r->on_close = NULL;
        api_error(w->ctx, 503, "Agent is shutting down");
        free(w);
    }
    if (c->out_lfd.fd >= 0) { if (c->reading) loop_del(l, &c->out_lfd); close(c->out_lfd.fd); }
    if (c->err_lfd.fd >= 0) { if (c->reading) loop_del(l, &c->err_lfd); close(c->err_lfd.fd); }
    close_stdin(c);
    if (c->file_out >= 0) close(c->file_out);
    if (c->file_err >= 0) close(c->file_err);
    buf_free(&c->cid);
    buf_free(&c->inbuf);
    free(c);
}

/* Upstream forgets a top-level container once it is destroyed (WAIT then
 * answers 404); nested ones stay until REMOVE. */
static void maybe_free(struct container *c)
{
    if (c->depth == 0 && c->terminated && !c->waiters && !c->outputs && !c->input &&
        (!c->io || c->io_done)) {
        ckpt_remove(c);
        container_free(c);
    }
}

static void answer_wait(struct waiter *w)
{
    answer_status(w->ctx, w->deprecated, w->c->status, w->c->status_known);
}

static void terminate(struct container *c, int status, int known)
{
    struct agent_proc *a = c->cs->a;
    pid_t pid = c->pid;
    {
        c->terminated = 1;
        c->status = status;
        c->status_known = known;
        if (known)
            LOG("Container %s exited (%s %d)", c->id, WIFEXITED(status) ? "status" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        else
            LOG("Container %s is gone; its exit status is unknown", c->id);
        kill(-pid, SIGKILL);                 /* the rest of the container goes with it */
        ckpt_write(c);
        /* Its nested containers are destroyed with it. */
        size_t il = strlen(c->id);
        for (struct container *d = a->containers->list; d; d = d->next)
            if (d != c && strncmp(d->id, c->id, il) == 0 && d->id[il] == '.') destroy(d);
        while (c->waiters) {
            struct waiter *w = c->waiters;
            c->waiters = w->next;
            answer_wait(w);
            free(w);
        }
        maybe_free(c);
    }
}

int containers_reaped(struct agent_proc *a, int pid, int status)
{
    if (!a->containers) return 0;
    for (struct container *c = a->containers->list; c; c = c->next)
        if (c->pid == pid && !c->terminated && !c->adopted) {
            terminate(c, status, 1);
            return 1;
        }
    return 0;
}

void containers_init(struct agent_proc *a)
{
    a->containers = xcalloc(1, sizeof *a->containers);
    a->containers->a = a;
}

/* At agent shutdown: containers with a switchboard (sessions, terminals)
 * die with it, as upstream destroys them on recovery; the others run on
 * and are adopted by the next agent (containers_recover). */
void containers_free(struct agent_proc *a)
{
    if (!a->containers) return;
    while (a->containers->exec_waiters) {
        struct exec_waiter *w = a->containers->exec_waiters;
        a->containers->exec_waiters = w->next;
        w->ctx->r->on_close = NULL;
        api_error(w->ctx, 503, "Agent is shutting down");
        free(w);
    }
    while (a->containers->list) {
        struct container *c = a->containers->list;
        if (c->io) destroy(c);
        container_free(c);
    }
    free(a->containers);
    a->containers = NULL;
}

/* Nested containers whose executor is gone are destroyed (upstream
 * destroys them with the executor's container). Called periodically. */
void containers_tick(struct agent_proc *a)
{
    if (!a->containers) return;
    for (struct container *c = a->containers->list, *next; c; c = next) {
        next = c->next;
        if (!c->exec_root) continue;
        char root[260];
        struct exec_find f;
        root_of(c->id, root, sizeof root);
        if (find_exec(a, root, &f)) continue;
        if (!c->terminated) destroy(c);
        else if (!c->waiters && !c->outputs && !c->input && (!c->io || c->io_done)) {
            /* the root is gone and so is everything about this one */
            ckpt_remove(c);
            container_free(c);
        }
    }
    /* Adopted containers are not our children: look for them. */
    for (struct container *c = a->containers->list, *next; c; c = next) {
        next = c->next;
        if (!c->adopted || c->terminated || c->pid <= 0) continue;
        if (kill(c->pid, 0) == 0 || errno != ESRCH) continue;
        char path[CKPT_PATH_MAX], text[32] = "";
        ckpt_path(c, path, sizeof path, ".status");
        FILE *f = fopen(path, "r");
        int known = f && fgets(text, sizeof text, f) && text[0] >= '0' && text[0] <= '9';
        if (f) fclose(f);
        terminate(c, known ? atoi(text) : 0, known);
    }
}

/* After a restart: the checkpointed containers, adopted when their
 * process still runs. */
void containers_recover(struct agent_proc *a)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/meta/containers", a->work_dir);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t nl = strlen(de->d_name);
        if (de->d_name[0] == '.' || (nl > 7 && strcmp(de->d_name + nl - 7, ".status") == 0) ||
            (nl > 4 && strcmp(de->d_name + nl - 4, ".tmp") == 0))
            continue;
        char path[1500];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        struct buf b = { .max = 1 << 20 };
        char tmp[8192];
        size_t k;
        while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) buf_append(&b, tmp, k);
        fclose(f);
        struct pbw_field cid, sb, pid, er, term, st;
        struct container *c = xcalloc(1, sizeof *c);
        c->cs = a->containers;
        c->in_fd = -1;
        c->out_lfd.fd = c->err_lfd.fd = -1;
        c->file_out = c->file_err = -1;
        int depth = -1;
        if (pbw_valid(b.data, b.len) == 0 && pbw_find(b.data, b.len, 1, &cid) == 1 && cid.wt == PBW_LEN &&
            pbw_find(b.data, b.len, 2, &sb) == 1 && sb.wt == PBW_LEN && sb.n < sizeof c->sandbox)
            depth = dotted(cid.p, cid.n, c->id, sizeof c->id);
        if (depth < 0 || strcmp(c->id, de->d_name) != 0) {
            LOG_WARN("Ignoring a corrupt container checkpoint %s", path);
            buf_free(&b);
            free(c);
            continue;
        }
        buf_append(&c->cid, cid.p, cid.n);
        memcpy(c->sandbox, sb.p, sb.n);
        c->depth = depth;
        c->adopted = 1;
        if (pbw_find(b.data, b.len, 3, &pid) == 1) c->pid = (pid_t)pid.v;
        if (pbw_find(b.data, b.len, 4, &er) == 1) c->exec_root = er.v != 0;
        if (pbw_find(b.data, b.len, 5, &term) == 1) c->terminated = term.v != 0;
        if (pbw_find(b.data, b.len, 6, &st) == 1) { c->status = (int)(int32_t)st.v; c->status_known = 1; }
        buf_free(&b);
        c->next = a->containers->list;
        a->containers->list = c;
        a->containers->n++;
        LOG("Recovered container %s (pid %d, %s)", c->id, (int)c->pid,
            c->terminated ? "terminated" : kill(c->pid, 0) == 0 ? "running" : "gone");
    }
    closedir(d);
    containers_tick(a);
}

/* ==== Launch ============================================================== */

static int mkdirs(const char *path) { return agent_mkdirs(path); }

/* Copy a C string, cut to fit. */
static void scopy(char *dst, size_t n, const char *src)
{
    size_t l = strnlen(src, n - 1);
    memcpy(dst, src, l);
    dst[l] = 0;
}

/* Parse /proc/<pid>/environ into a NULL-terminated array (bounded). */
static char **read_environ(pid_t pid, size_t *count)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    struct buf b = { .max = 1 << 20 };
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char tmp[8192];
        ssize_t n;
        while ((n = read(fd, tmp, sizeof tmp)) > 0)
            if (buf_append(&b, tmp, (size_t)n) < 0) break;
        close(fd);
    }
    char **env = xcalloc(1, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < b.len;) {
        size_t l = strnlen(b.data + i, b.len - i);
        if (l && memchr(b.data + i, '=', l)) {
            env = xrealloc(env, (k + 2) * sizeof *env);
            env[k] = xmalloc(l + 1);
            memcpy(env[k], b.data + i, l);
            env[k++][l] = 0;
            env[k] = NULL;
        }
        i += l + 1;
    }
    buf_free(&b);
    *count = k;
    return env;
}

static void env_set(char ***env, size_t *n, const char *name, const char *value)
{
    size_t nl = strlen(name);
    char *kv = xmalloc(nl + strlen(value) + 2);
    sprintf(kv, "%s=%s", name, value);
    for (size_t i = 0; i < *n; i++)
        if (strncmp((*env)[i], name, nl) == 0 && (*env)[i][nl] == '=') {
            free((*env)[i]);
            (*env)[i] = kv;
            return;
        }
    *env = xrealloc(*env, (*n + 2) * sizeof **env);
    (*env)[(*n)++] = kv;
    (*env)[*n] = NULL;
}

static void free_strv(char **v)
{
    if (!v) return;
    for (size_t i = 0; v[i]; i++) free(v[i]);
    free(v);
}

static char *field_str(const uint8_t *p, size_t n, uint32_t tag)
{
    struct pbw_field f;
    if (pbw_find(p, n, tag, &f) != 1 || f.wt != PBW_LEN || memchr(f.p, 0, f.n)) return NULL;
    char *s = xmalloc(f.n + 1);
    memcpy(s, f.p, f.n);
    s[f.n] = 0;
    return s;
}

/* In a plain container's first process: fork the command and stay as its
 * init, which records the command's wait status for an agent that may
 * restart meanwhile, then ends the same way (exit code or signal), so the
 * agent that started it sees that status too. Signals to the container's
 * process group are for the command: init ignores them. Returns in the
 * command's process. */
static void container_init(const char *status_path)
{
    /* Not the agent's handler (loop_sigchld): it would wake the agent for a
     * child that is not the agent's. */
    signal(SIGCHLD, SIG_DFL);
    int sfd = open(status_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid_t cmd = fork();
    if (cmd == 0) {
        if (sfd >= 0) close(sfd);
        sigprocmask(SIG_SETMASK, &old, NULL);
        return;
    }
    if (cmd < 0) _exit(127);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD) signal(sig, SIG_IGN);
    sigprocmask(SIG_SETMASK, &old, NULL);
    int st;
    while (waitpid(cmd, &st, 0) < 0)
        if (errno != EINTR) _exit(127);
    if (sfd >= 0) {
        char text[32];
        int n = snprintf(text, sizeof text, "%d\n", st);
        if (write(sfd, text, (size_t)n) < 0) { /* the agent then reports it unknown */ }
        close(sfd);
    }
    if (WIFSIGNALED(st)) {
        signal(WTERMSIG(st), SIG_DFL);
        raise(WTERMSIG(st));
    }
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 127);
}

struct launch {
    char **argv, **env;
    char *exe;                 /* execvp target */
    int shell;
    char workdir[4096];
    char user[256];
    int tty;
    struct winsize ws;
    int has_ws;
    int io;
};

/* Fork the container's process. Returns 0 or -errno (nothing left open). */
static int spawn(struct container *c, struct launch *L, char *err, size_t errn)
{
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 }, master = -1;
    char slave[128] = "";
    uid_t uid = 0;
    gid_t gid = 0;
    int switch_to = 0;
    if (L->user[0]) {
        if (user_lookup(L->user, &uid, &gid) < 0) {
            snprintf(err, errn, "Failed to get user information for '%s'", L->user);
            return -EINVAL;
        }
        switch_to = uid != getuid();
        if (switch_to && getuid() != 0) {
            snprintf(err, errn, "Cannot run as user '%s': the agent is not root", L->user);
            return -EPERM;
        }
    }
    if (L->tty) {
        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, slave, sizeof slave) != 0) {
            snprintf(err, errn, "Failed to open a pseudo-terminal: %s", strerror(errno));
            if (master >= 0) close(master);
            return -EIO;
        }
        if (L->has_ws) ioctl(master, TIOCSWINSZ, &L->ws);
    } else if (L->io) {
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
            snprintf(err, errn, "Failed to create pipes: %s", strerror(errno));
            for (int i = 0; i < 2; i++) {
                if (in[i] >= 0) close(in[i]);
                if (out[i] >= 0) close(out[i]);
                if (errp[i] >= 0) close(errp[i]);
            }
            return -EIO;
        }
    }
    char fout[4200], ferr[4200], fstatus[CKPT_PATH_MAX];
    snprintf(fout, sizeof fout, "%s/stdout", c->sandbox);
    snprintf(ferr, sizeof ferr, "%s/stderr", c->sandbox);
    ckpt_path(c, fstatus, sizeof fstatus, ".status");
    if (!L->io) {
        char dir[1200];
        snprintf(dir, sizeof dir, "%s/meta/containers", c->cs->a->work_dir);
        agent_mkdirs(dir);
        unlink(fstatus);
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errn, "Failed to fork: %s", strerror(errno));
        if (master >= 0) close(master);
        for (int i = 0; i < 2; i++) {
            if (in[i] >= 0) close(in[i]);
            if (out[i] >= 0) close(out[i]);
            if (errp[i] >= 0) close(errp[i]);
        }
        return -EIO;
    }
    if (pid == 0) {
        setsid();                                    /* its own session and process group */
        signal(SIGPIPE, SIG_DFL);
        if (L->tty) {
            int s = open(slave, O_RDWR);
            if (s < 0) _exit(127);
            ioctl(s, TIOCSCTTY, 0);
            dup2(s, 0); dup2(s, 1); dup2(s, 2);
            if (s > 2) close(s);
        } else if (L->io) {
            dup2(in[0], 0); dup2(out[1], 1); dup2(errp[1], 2);
        } else {
            int fi = open("/dev/null", O_RDONLY);
            int fo = open(fout, O_WRONLY | O_CREAT | O_APPEND, 0644);
            int fe = open(ferr, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fi >= 0) dup2(fi, 0);
            if (fo >= 0) dup2(fo, 1);
            if (fe >= 0) dup2(fe, 2);
        }
        /* Nothing else of the agent's stays open in the container. */
        long maxfd = sysconf(_SC_OPEN_MAX);
        for (long fd = 3; fd < (maxfd > 0 && maxfd < 65536 ? maxfd : 65536); fd++) close((int)fd);
        if (chdir(L->workdir) != 0) {
            fprintf(stderr, "Failed to chdir into '%s': %s\n", L->workdir, strerror(errno));
            _exit(127);
        }
        if (switch_to && (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)) {
            fprintf(stderr, "Failed to switch to user '%s': %s\n", L->user, strerror(errno));
            _exit(127);
        }
        extern char **environ;
        environ = L->env;
        if (!L->io) container_init(fstatus);         /* returns in the command's process */
        if (L->shell) execv("/bin/sh", L->argv);
        else execvp(L->exe, L->argv);
        fprintf(stderr, "Failed to execute '%s': %s\n", L->exe, strerror(errno));
        _exit(127);
    }
    c->pid = pid;
    c->tty = L->tty;
    c->io = L->io;
    if (L->tty) {
        c->in_fd = dup(master);
        c->out_lfd.fd = master;
    } else if (L->io) {
        close(in[0]); close(out[1]); close(errp[1]);
        c->in_fd = in[1];
        c->out_lfd.fd = out[0];
        c->err_lfd.fd = errp[0];
    }
    if (c->in_fd >= 0) fcntl(c->in_fd, F_SETFL, fcntl(c->in_fd, F_GETFL) | O_NONBLOCK);
    if (c->out_lfd.fd >= 0) fcntl(c->out_lfd.fd, F_SETFL, fcntl(c->out_lfd.fd, F_GETFL) | O_NONBLOCK);
    if (c->err_lfd.fd >= 0) fcntl(c->err_lfd.fd, F_SETFL, fcntl(c->err_lfd.fd, F_GETFL) | O_NONBLOCK);
    if (L->io) {
        /* The switchboard's copy of the output for the sandbox files. */
        c->file_out = open(fout, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        c->file_err = L->tty ? -1 : open(ferr, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    }
    return 0;
}

/* The launch calls: LAUNCH_CONTAINER {container_id 1, command 2,
 * resources 3, container 4}; LAUNCH_NESTED_CONTAINER and the session
 * {container_id 1, command 2, container 3}. */
static void launch(struct api_ctx *ctx, int session)
{
    struct agent_proc *a = ctx->state;
    struct containers *cs = a->containers;
    struct pbw_field idf, cmd, ci, f;
    pbw_find(ctx->sub, ctx->sub_len, 1, &idf);                 /* validated */
    char id[sizeof ((struct container *)0)->id];
    int depth = dotted(idf.p, idf.n, id, sizeof id);
    if (depth < 0) { api_error(ctx, 400, "Container id nested too deeply"); return; }
    LOG("Processing %s call for container '%s'", session ? "LAUNCH_NESTED_CONTAINER_SESSION" :
        ctx->type == C_LAUNCH ? "LAUNCH_CONTAINER" : "LAUNCH_NESTED_CONTAINER", id);
    if (find(cs, id)) { api_empty(ctx, 202); return; }        /* ALREADY_LAUNCHED */
    int has_cmd = pbw_find(ctx->sub, ctx->sub_len, 2, &cmd) == 1 && cmd.wt == PBW_LEN;
    uint32_t ci_tag = ctx->type == C_LAUNCH ? 4 : 3;
    int has_ci = pbw_find(ctx->sub, ctx->sub_len, ci_tag, &ci) == 1 && ci.wt == PBW_LEN;
    struct launch L;
    memset(&L, 0, sizeof L);
    if (has_ci) {
        /* MESOS containers only, and no images: nothing here provisions them. */
        struct pbw_field t, m, img, tty, wsz, v;
        if ((pbw_find(ci.p, ci.n, 1, &t) == 1 && t.v != 2) ||
            (pbw_find(ci.p, ci.n, 5, &m) == 1 && m.wt == PBW_LEN && pbw_find(m.p, m.n, 1, &img) == 1)) {
            api_error(ctx, 400, "The provided ContainerInfo is not supported");
            return;
        }
        if (pbw_find(ci.p, ci.n, 10, &tty) == 1 && tty.wt == PBW_LEN) {
            L.tty = 1;
            if (pbw_find(tty.p, tty.n, 1, &wsz) == 1 && wsz.wt == PBW_LEN) {
                L.has_ws = 1;
                if (pbw_find(wsz.p, wsz.n, 1, &v) == 1) L.ws.ws_row = (unsigned short)v.v;
                if (pbw_find(wsz.p, wsz.n, 2, &v) == 1) L.ws.ws_col = (unsigned short)v.v;
            }
        }
    }
    if (cs->n >= MAX_CONTAINERS) { api_error(ctx, 503, "Too many containers"); return; }

    /* Where it lives: its parent's root sandbox, or its own. */
    char root[260], parent_dir[4096] = "", sandbox[4096];
    pid_t parent_pid = 0;
    int exec_root = 0;
    root_of(id, root, sizeof root);
    if (depth > 0) {
        char parent[sizeof id];
        snprintf(parent, sizeof parent, "%s", id);
        *strrchr(parent, '.') = 0;
        struct exec_find ef;
        struct container *pc = find(cs, parent);
        char root_sandbox[4096] = "";
        if (depth == 1 && find_exec(a, parent, &ef)) {
            exec_root = 1;
            snprintf(root_sandbox, sizeof root_sandbox, "%s", ef.sandbox);
            snprintf(parent_dir, sizeof parent_dir, "%s", ef.sandbox);
            parent_pid = ef.pid;
        } else if (pc && !pc->terminated) {
            exec_root = pc->exec_root;
            scopy(parent_dir, sizeof parent_dir, pc->sandbox);
            parent_pid = pc->pid;
            struct container *rc = find(cs, root);
            struct exec_find rf;
            if (rc) scopy(root_sandbox, sizeof root_sandbox, rc->sandbox);
            else if (find_exec(a, root, &rf)) scopy(root_sandbox, sizeof root_sandbox, rf.sandbox);
        } else {
            api_error(ctx, 400, "Parent container %s does not exist", parent);
            return;
        }
        /* <root sandbox>/containers/<child>/containers/<grandchild>... */
        struct buf sb = { .max = sizeof sandbox - 1 };
        buf_puts(&sb, root_sandbox);
        const char *p = id + strlen(root);
        while (*p == '.') {
            p++;
            size_t k = strcspn(p, ".");
            buf_printf(&sb, "/containers/%.*s", (int)k, p);
            p += k;
        }
        buf_putc(&sb, 0);
        scopy(sandbox, sizeof sandbox, sb.data ? sb.data : "");
        buf_free(&sb);
    } else {
        struct buf sb = { .max = sizeof sandbox - 1 };
        buf_printf(&sb, "%s/containers/%s", a->work_dir, id);
        buf_putc(&sb, 0);
        scopy(sandbox, sizeof sandbox, sb.data ? sb.data : "");
        buf_free(&sb);
    }
    int rc = mkdirs(sandbox);
    if (rc < 0) {
        if (depth == 0) api_error(ctx, 500, "Failed to create sandbox: %s", strerror(-rc));
        else api_error(ctx, 400, "Failed to create nested sandbox '%s': %s", sandbox, strerror(-rc));
        return;
    }

    /* The command: "sh -c value" (shell, the default), else value with
     * arguments; the environment: a DEBUG container inherits its parent's
     * (and its working directory), others get their own MESOS_SANDBOX. */
    struct pbw_field sh;
    L.shell = !(has_cmd && pbw_find(cmd.p, cmd.n, 6, &sh) == 1 && sh.v == 0);
    char *value = has_cmd ? field_str(cmd.p, cmd.n, 3) : NULL;
    size_t argc = 0;
    L.argv = xcalloc(4, sizeof *L.argv);
    if (L.shell) {
        L.argv[argc++] = xstrdup("sh");
        L.argv[argc++] = xstrdup("-c");
        L.argv[argc++] = xstrdup(value ? value : "");
    } else {
        struct pbw_reader r;
        pbw_reader_init(&r, cmd.p, cmd.n);
        while (pbw_next(&r, &f) == 1) {
            if (f.tag != 7 || f.wt != PBW_LEN || memchr(f.p, 0, f.n)) continue;
            L.argv = xrealloc(L.argv, (argc + 2) * sizeof *L.argv);
            L.argv[argc] = xmalloc(f.n + 1);
            memcpy(L.argv[argc], f.p, f.n);
            L.argv[argc++][f.n] = 0;
        }
        if (argc == 0) {
            L.argv = xrealloc(L.argv, 2 * sizeof *L.argv);
            L.argv[argc++] = xstrdup(value ? value : "");
        }
    }
    L.argv[argc] = NULL;
    L.exe = value ? value : xstrdup(L.argv[0]);
    size_t envn = 0;
    if (session && parent_pid > 0) {
        L.env = read_environ(parent_pid, &envn);
        snprintf(L.workdir, sizeof L.workdir, "%s", parent_dir);
    } else {
        L.env = xcalloc(1, sizeof *L.env);
        env_set(&L.env, &envn, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        env_set(&L.env, &envn, "MESOS_SANDBOX", sandbox);
        snprintf(L.workdir, sizeof L.workdir, "%s", sandbox);
    }
    struct pbw_field envf, var;
    if (has_cmd && pbw_find(cmd.p, cmd.n, 2, &envf) == 1 && envf.wt == PBW_LEN) {
        struct pbw_reader r;
        pbw_reader_init(&r, envf.p, envf.n);
        while (pbw_next(&r, &var) == 1) {
            if (var.tag != 1 || var.wt != PBW_LEN) continue;
            char *name = field_str(var.p, var.n, 1), *val = field_str(var.p, var.n, 2);
            if (name && name[0]) env_set(&L.env, &envn, name, val ? val : "");
            free(name);
            free(val);
        }
    }
    char *user = has_cmd ? field_str(cmd.p, cmd.n, 5) : NULL;
    if (user && a->switch_user) snprintf(L.user, sizeof L.user, "%s", user);
    free(user);
    L.io = L.tty || session;

    struct container *c = xcalloc(1, sizeof *c);
    c->cs = cs;
    snprintf(c->id, sizeof c->id, "%s", id);
    buf_append(&c->cid, idf.p, idf.n);
    c->depth = depth;
    c->exec_root = exec_root;
    c->debug = session;
    snprintf(c->sandbox, sizeof c->sandbox, "%s", sandbox);
    c->in_fd = -1;
    c->out_lfd.fd = c->err_lfd.fd = -1;
    c->file_out = c->file_err = -1;
    char err[512] = "";
    rc = spawn(c, &L, err, sizeof err);
    free_strv(L.argv);
    free_strv(L.env);
    free(L.exe);
    if (rc < 0) {
        buf_free(&c->cid);
        free(c);
        api_error(ctx, 400, "%s", err);
        return;
    }
    c->next = cs->list;
    cs->list = c;
    cs->n++;
    ckpt_write(c);
    LOG("Launched container %s (pid %d) in %s%s%s", c->id, (int)c->pid, c->sandbox,
        c->tty ? " with a terminal" : "", session ? " for a session" : "");
    if (session) add_output(c, ctx, 1);
    else api_empty(ctx, 200);
}

void agent_op_launch_container(struct api_ctx *c) { launch(c, 0); }
void agent_op_launch_nested_container_session(struct api_ctx *c) { launch(c, 1); }

/* ==== Wait, kill, remove ================================================= */

static int request_id(struct api_ctx *ctx, char *id, size_t n)
{
    struct pbw_field f;
    if (pbw_find(ctx->sub, ctx->sub_len, 1, &f) != 1 || f.wt != PBW_LEN) return -1;
    return dotted(f.p, f.n, id, n);
}

static void waiter_closed(struct request *r, void *arg)
{
    (void)r;
    struct waiter *w = arg;
    struct container *c = w->c;
    struct waiter **pp = &c->waiters;
    while (*pp && *pp != w) pp = &(*pp)->next;
    if (*pp) *pp = w->next;
    api_done(w->ctx);
    free(w);
    maybe_free(c);
}

/* ---- executors' containers ---- */

static void exec_waiter_unlink(struct exec_waiter *w)
{
    struct exec_waiter **pp = &w->cs->exec_waiters;
    while (*pp && *pp != w) pp = &(*pp)->next;
    if (*pp) *pp = w->next;
}

static void exec_waiter_closed(struct request *r, void *arg)
{
    (void)r;
    struct exec_waiter *w = arg;
    exec_waiter_unlink(w);
    api_done(w->ctx);
    free(w);
}

static void wait_executor(struct api_ctx *ctx, const char *cid)
{
    struct agent_proc *a = ctx->state;
    struct exec_waiter *w = xcalloc(1, sizeof *w);
    w->cs = a->containers;
    snprintf(w->cid, sizeof w->cid, "%.259s", cid);
    w->ctx = ctx;
    w->deprecated = ctx->type == C_WAIT_NESTED;
    w->next = a->containers->exec_waiters;
    a->containers->exec_waiters = w;
    ctx->r->on_close = exec_waiter_closed;
    ctx->r->on_close_arg = w;
}

static void answer_status(struct api_ctx *ctx, int deprecated, int status, int known)
{
    struct buf pb = {0};
    pbw_put_uint(&pb, 1, deprecated ? 13 : 15);        /* WAIT_NESTED_CONTAINER / WAIT_CONTAINER */
    size_t k = pbw_begin(&pb, deprecated ? 14 : 16);
    if (known) pbw_put_int32(&pb, 1, status);
    pbw_end(&pb, k);
    ctx->r->on_close = NULL;
    api_respond(ctx, &pb);
}

/* The executor's container terminated: its waiters get the termination
 * (the wait status when the agent reaped the executor itself; none when
 * it was adopted after a restart and its status is unknown). */
void containers_executor_exited(struct agent_proc *a, const char *cid, int status, int known)
{
    if (!a->containers) return;
    for (struct exec_waiter *w = a->containers->exec_waiters, *next; w; w = next) {
        next = w->next;
        if (strcmp(w->cid, cid) != 0) continue;
        exec_waiter_unlink(w);
        answer_status(w->ctx, w->deprecated, status, known);
        free(w);
    }
}

void agent_op_wait_container(struct api_ctx *ctx)
{
    struct agent_proc *a = ctx->state;
    char id[MAX_DEPTH * 260];
    if (request_id(ctx, id, sizeof id) < 0) { api_error(ctx, 400, "Container id nested too deeply"); return; }
    struct container *c = find(a->containers, id);
    struct exec_find ef;
    if (!c && !strchr(id, '.') && find_exec(a, id, &ef)) { wait_executor(ctx, id); return; }
    if (!c) { api_error(ctx, 404, "Container %s cannot be found", id); return; }
    struct waiter *w = xcalloc(1, sizeof *w);
    w->c = c;
    w->ctx = ctx;
    w->deprecated = ctx->type == C_WAIT_NESTED;
    if (c->terminated) {
        answer_wait(w);
        free(w);
        return;
    }
    w->next = c->waiters;
    c->waiters = w;
    ctx->r->on_close = waiter_closed;
    ctx->r->on_close_arg = w;
}

void agent_op_kill_container(struct api_ctx *ctx)
{
    struct agent_proc *a = ctx->state;
    char id[MAX_DEPTH * 260];
    if (request_id(ctx, id, sizeof id) < 0) { api_error(ctx, 400, "Container id nested too deeply"); return; }
    struct pbw_field s;
    int sig = SIGKILL;                                /* upstream's default */
    if (pbw_find(ctx->sub, ctx->sub_len, 2, &s) == 1) sig = (int)(int32_t)s.v;
    struct container *c = find(a->containers, id);
    struct exec_find ef;
    pid_t pid = 0;
    if (c && !c->terminated && c->pid > 0) pid = c->pid;
    else if (!c && !strchr(id, '.') && find_exec(a, id, &ef)) pid = ef.pid;   /* an executor's container */
    if (!pid) {
        api_error(ctx, 404, "Container '%s' cannot be found (or is already killed)", id);
        return;
    }
    LOG("Sending %s to container %s", strsignal(sig), id);
    if (kill(-pid, sig) < 0 && kill(pid, sig) < 0) {
        api_error(ctx, 500, "Unable to send signal to container: %s", strerror(errno));
        return;
    }
    api_empty(ctx, 200);
}

void agent_op_remove_container(struct api_ctx *ctx)
{
    struct agent_proc *a = ctx->state;
    char id[MAX_DEPTH * 260], root[260];
    if (request_id(ctx, id, sizeof id) < 0) { api_error(ctx, 400, "Container id nested too deeply"); return; }
    struct container *c = find(a->containers, id);
    struct exec_find ef;
    if (!strchr(id, '.')) {
        /* A top-level container. Upstream's containerizers remove nested
         * containers only: the Mesos containerizer aborts on a top-level
         * id (a CHECK), and the composing one, which looks the id up as
         * a root container, fails with "Root container <id> not found"
         * once the container is gone (a terminated top-level container is
         * forgotten at once). That failure is upstream's answer here; the
         * sandbox stays. A running one is refused as a nested one is. */
        if ((c && !c->terminated) || find_exec(a, id, &ef)) {
            api_error(ctx, 500, "Container has not terminated yet");
            return;
        }
        api_error(ctx, 500, "Root container %s not found", id);
        return;
    }
    if (c && !c->terminated) {
        api_error(ctx, 500, "Nested container has not terminated yet");
        return;
    }
    root_of(id, root, sizeof root);
    if (!c && !find(a->containers, root) && !find_exec(a, root, &ef)) {
        api_error(ctx, 500, "Unknown root container");
        return;
    }
    if (c) {
        char sandbox[4096];
        snprintf(sandbox, sizeof sandbox, "%s", c->sandbox);
        destroy(c);
        ckpt_remove(c);
        container_free(c);
        if (nftw(sandbox, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT) {
            api_error(ctx, 500, "Failed to remove the sandbox directory: %s", strerror(errno));
            return;
        }
    }
    api_empty(ctx, 200);
}

/* ==== Attach ============================================================== */

/* Upstream attaches only to containers under an executor (getExecutor),
 * and only to those with a switchboard. Returns the container or NULL
 * after answering. */
static struct container *attach_target(struct api_ctx *ctx, const uint8_t *idp, size_t idn)
{
    struct agent_proc *a = ctx->state;
    char id[MAX_DEPTH * 260], root[260];
    if (dotted(idp, idn, id, sizeof id) < 0) { api_error(ctx, 400, "Container id nested too deeply"); return NULL; }
    root_of(id, root, sizeof root);
    struct exec_find ef;
    if (!find_exec(a, root, &ef)) { api_error(ctx, 404, "Container %s cannot be found", id); return NULL; }
    struct container *c = find(a->containers, id);
    if (!strchr(id, '.')) { api_error(ctx, 500, "I/O switchboard server was disabled for this container"); return NULL; }
    if (!c) { api_error(ctx, 500, "Unknown container %s", id); return NULL; }
    if (!c->io) { api_error(ctx, 500, "I/O switchboard server was disabled for this container"); return NULL; }
    if (c->io_done) { api_error(ctx, 500, "I/O switchboard has shutdown"); return NULL; }
    return c;
}

void agent_op_attach_container_output(struct api_ctx *ctx)
{
    struct pbw_field f;
    pbw_find(ctx->sub, ctx->sub_len, 1, &f);
    struct container *c = attach_target(ctx, f.p, f.n);
    if (!c) return;
    LOG("Attaching an output stream to container %s", c->id);
    add_output(c, ctx, 0);
}

void agent_op_attach_container_input(struct api_ctx *ctx)
{
    struct pbw_field f;
    pbw_find(ctx->sub, ctx->sub_len, 2, &f);
    struct container *c = attach_target(ctx, f.p, f.n);
    if (!c) return;
    if (c->input) { api_error(ctx, 409, "Multiple input connections are not allowed"); return; }
    LOG("Attaching an input stream to container %s", c->id);
    c->input = ctx;
    c->in_end = 0;
    ctx->on_input = on_input;
    ctx->input_arg = c;
    ctx->r->on_close = input_closed;
    ctx->r->on_close_arg = c;
}
