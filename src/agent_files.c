/* agent_files.c -- LIST_FILES and READ_FILE: the agent's "files"
 * namespace, as upstream's src/files/files.cpp serves it.
 *
 * Upstream attaches real directories under virtual paths; a request is
 * resolved by the longest attached prefix, the rest is appended, and the
 * canonical result must stay inside the attached directory. The agent
 * attaches, for each executor run:
 *   WORK_DIR/slaves/<agent>/frameworks/<fw>/executors/<ex>/runs/<container>
 *   WORK_DIR/slaves/<agent>/frameworks/<fw>/executors/<ex>/runs/latest
 *   /frameworks/<fw>/executors/<ex>/runs/latest
 * and its log file as /slave/log when it logs to a file. Here these
 * attachments are computed from the request instead of kept in a table:
 * the runs on disk are the attached ones (they stay until removed, as
 * upstream's stay until garbage collection), and "latest" is the running
 * executor's run, else the newest run on disk. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "agent.h"
#include "files.h"
#include "log.h"
#include "pbw.h"

enum { RESOLVED = 0, NOT_FOUND = -1, INVALID = -2 };

/* ==== Resolving a virtual path ========================================== */

struct latest { const char *fw, *ex; char dir[2048]; };

static int find_live(void *arg, const struct exec_view *v)
{
    struct latest *l = arg;
    if (strcmp(v->framework_id, l->fw) || strcmp(v->executor_id, l->ex)) return 0;
    snprintf(l->dir, sizeof l->dir, "%s", v->sandbox);
    return 1;
}

static int ok_component(const char *s, size_t n)
{
    return n > 0 && !(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.');
}

/* The next path component of *p (leading slashes skipped): its start and
 * length; *p moves past it. */
static size_t component(const char **p, const char **start)
{
    while (**p == '/') (*p)++;
    *start = *p;
    while (**p && **p != '/') (*p)++;
    return (size_t)(*p - *start);
}

static int is(const char *s, size_t n, const char *w) { return n == strlen(w) && memcmp(s, w, n) == 0; }

/* The run directory for "latest": the live executor's, else the newest
 * run on disk. */
static int latest_run(struct agent_proc *a, const char *fw, const char *ex, char *out, size_t n)
{
    struct latest l = { .fw = fw, .ex = ex };
    agent_exec_foreach(a, find_live, &l);
    if (l.dir[0]) { snprintf(out, n, "%s", l.dir); return 0; }
    char runs[2048];
    snprintf(runs, sizeof runs, "%s/slaves/%s/frameworks/%s/executors/%s/runs", a->work_dir, a->id, fw, ex);
    DIR *d = opendir(runs);
    if (!d) return -1;
    struct dirent *de;
    double best = -1;
    while ((de = readdir(d))) {
        if (!ok_component(de->d_name, strlen(de->d_name)) || strcmp(de->d_name, "latest") == 0) continue;
        char p[2400];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", runs, de->d_name);
        if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode)) continue;
        double t = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
        size_t pl = strlen(p);
        if (t > best && pl < n) { best = t; memcpy(out, p, pl + 1); }
    }
    closedir(d);
    return best < 0 ? -1 : 0;
}

/* Map vpath to an attached directory (or file) and the rest of the path.
 * Returns 0 with *root and *rest set, or NOT_FOUND. */
static int attached(struct agent_proc *a, const char *vpath, char *root, size_t rn, const char **rest)
{
    const char *p = vpath, *s;
    size_t n;
    const char *lf = log_file_path();
    if (lf && strncmp(vpath, "/slave/log", 10) == 0 && (vpath[10] == 0 || vpath[10] == '/')) {
        const char *q = vpath + 10;
        while (*q == '/') q++;
        if (*q) return NOT_FOUND;                  /* a file has nothing below it */
        snprintf(root, rn, "%s", lf);
        *rest = "";
        return RESOLVED;
    }
    if (!a->id[0]) return NOT_FOUND;
    char fw[256], ex[256], run[256];
    /* The work directory's real form, /slaves/<agent>/ ... */
    size_t wl = strlen(a->work_dir);
    while (wl > 1 && a->work_dir[wl - 1] == '/') wl--;
    int real = 0;
    if (strncmp(vpath, a->work_dir, wl) == 0 && vpath[wl] == '/') {
        p = vpath + wl;
        n = component(&p, &s);
        if (!is(s, n, "slaves")) return NOT_FOUND;
        n = component(&p, &s);
        if (!is(s, n, a->id)) return NOT_FOUND;
        real = 1;
    }
    n = component(&p, &s);
    if (!is(s, n, "frameworks")) return NOT_FOUND;
    n = component(&p, &s);
    if (!ok_component(s, n) || n >= sizeof fw) return NOT_FOUND;
    snprintf(fw, sizeof fw, "%.*s", (int)n, s);
    n = component(&p, &s);
    if (!is(s, n, "executors")) return NOT_FOUND;
    n = component(&p, &s);
    if (!ok_component(s, n) || n >= sizeof ex) return NOT_FOUND;
    snprintf(ex, sizeof ex, "%.*s", (int)n, s);
    n = component(&p, &s);
    if (!is(s, n, "runs")) return NOT_FOUND;
    n = component(&p, &s);
    if (!ok_component(s, n) || n >= sizeof run) return NOT_FOUND;
    snprintf(run, sizeof run, "%.*s", (int)n, s);
    if (strcmp(run, "latest") == 0) {
        if (latest_run(a, fw, ex, root, rn) < 0) return NOT_FOUND;
    } else {
        if (!real) return NOT_FOUND;               /* the virtual form exists only as "latest" */
        snprintf(root, rn, "%.*s/slaves/%s/frameworks/%s/executors/%s/runs/%s", (int)wl, a->work_dir, a->id, fw, ex, run);
    }
    while (*p == '/') p++;
    *rest = p;
    return RESOLVED;
}

/* Upstream's FilesProcess::resolve: the attached path, plus the rest when
 * the attached path is a directory, canonicalized, and inside it. */
static int resolve(struct agent_proc *a, const char *vpath, char *out, size_t on, struct buf *msg)
{
    char root[2048], rroot[PATH_MAX];
    const char *rest;
    if (attached(a, vpath, root, sizeof root, &rest) < 0) return NOT_FOUND;
    if (!realpath(root, rroot)) return NOT_FOUND;  /* attachments are real paths */
    struct stat st;
    if (stat(rroot, &st) < 0) return NOT_FOUND;
    if (!S_ISDIR(st.st_mode)) {
        if (*rest) return NOT_FOUND;
        snprintf(out, on, "%s", rroot);
        return RESOLVED;
    }
    char joined[PATH_MAX + 2048], canon[PATH_MAX];
    snprintf(joined, sizeof joined, "%s/%s", rroot, rest);
    if (!realpath(joined, canon)) {
        if (errno == ENOENT || errno == ENOTDIR) return NOT_FOUND;
        buf_printf(msg, "Failed to determine canonical path of '%s': %s", joined, strerror(errno));
        return INVALID;
    }
    /* No way out of the attached directory: not with "..", not through a
     * symbolic link. (Upstream compares string prefixes; a sibling whose
     * name extends the root's is refused here too.) */
    size_t rl = strlen(rroot);
    if (strncmp(canon, rroot, rl) != 0 || (canon[rl] != 0 && canon[rl] != '/' && rl > 1)) {
        buf_printf(msg, "'%s' is inaccessible", joined);
        return INVALID;
    }
    snprintf(out, on, "%s", canon);
    return RESOLVED;
}

/* ==== Answers =========================================================== */

static void not_found(struct api_ctx *c)
{
    /* FilesError NOT_FOUND carries no message: an empty 404. */
    server_respond(c->r, 404, NULL, "text/plain; charset=utf-8", "", 0);
    api_done(c);
}

/* The path of a ListFiles/ReadFile request (field 1 of the sub-message). */
static int req_path(struct api_ctx *c, char *out, size_t n)
{
    struct pbw_field f;
    if (pbw_find(c->sub, c->sub_len, 1, &f) != 1 || f.wt != PBW_LEN || f.n >= n || memchr(f.p, 0, f.n)) return -1;
    memcpy(out, f.p, f.n);
    out[f.n] = 0;
    return 0;
}

/* A user or group name from /etc/passwd or /etc/group (a static binary
 * has no NSS), else the number, as upstream's createFileInfo. */
static void id_name(const char *file, unsigned id, char *out, size_t n)
{
    snprintf(out, n, "%u", id);
    FILE *f = fopen(file, "r");
    if (!f) return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) continue;
        char *end;
        unsigned long v = strtoul(c2 + 1, &end, 10);
        if (end == c2 + 1 || *end != ':' || v != id) continue;
        snprintf(out, n, "%.*s", (int)(c1 - line), line);
        break;
    }
    fclose(f);
}

static void put_file_info(struct buf *pb, const char *vpath, const char *name, const struct stat *st)
{
    char user[256], group[256];
    id_name("/etc/passwd", st->st_uid, user, sizeof user);
    id_name("/etc/group", st->st_gid, group, sizeof group);
    size_t k = pbw_begin(pb, 1);
    size_t vl = strlen(vpath);
    while (vl > 1 && vpath[vl - 1] == '/') vl--;
    struct buf path = {0};
    buf_printf(&path, "%.*s/%s", (int)vl, vpath, name);
    pbw_put_bytes(pb, 1, path.data, path.len);
    buf_free(&path);
    pbw_put_int32(pb, 2, (int32_t)st->st_nlink);
    pbw_put_uint(pb, 3, (uint64_t)st->st_size);
    size_t t = pbw_begin(pb, 4);
    pbw_put_uint(pb, 1, (uint64_t)((int64_t)st->st_mtime * 1000000000LL));
    pbw_end(pb, t);
    pbw_put_uint(pb, 5, st->st_mode);
    pbw_put_str(pb, 6, user);
    pbw_put_str(pb, 7, group);
    pbw_end(pb, k);
}

static int cmp_name(const void *x, const void *y) { return strcmp(*(char * const *)x, *(char * const *)y); }

/* The call's path, logged, and where it is on disk: 0, or -1 once
 * answered (404 for what is not there, 400 for what may not be read). */
static int call_path(struct api_ctx *c, const char *call, char vpath[4096], char real[PATH_MAX])
{
    struct buf msg = { .max = 8192 };
    if (req_path(c, vpath, 4096) < 0) { not_found(c); return -1; }
    LOG("Processing %s call for path '%s'", call, vpath);
    int rc = resolve(c->state, vpath, real, PATH_MAX, &msg);
    if (rc == NOT_FOUND) not_found(c);
    else if (rc == INVALID) api_error(c, 400, "%.*s.\n", (int)msg.len, msg.data);
    buf_free(&msg);
    return rc == NOT_FOUND || rc == INVALID ? -1 : 0;
}

void agent_op_list_files(struct api_ctx *c)
{
    char vpath[4096], real[PATH_MAX];
    if (call_path(c, "LIST_FILES", vpath, real) < 0) return;
    /* The listing, sorted by name; a file lists as nothing (os::ls fails). */
    char **names = NULL;
    size_t nn = 0, cap = 0;
    DIR *d = opendir(real);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
            if (nn == cap) names = xrealloc(names, (cap = cap ? cap * 2 : 32) * sizeof *names);
            names[nn++] = xstrdup(de->d_name);
        }
        closedir(d);
    }
    if (nn) qsort(names, nn, sizeof *names, cmp_name);
    struct buf pb = {0};
    pbw_put_uint(&pb, 1, 6);                     /* LIST_FILES */
    size_t k = pbw_begin(&pb, 7);
    for (size_t i = 0; i < nn; i++) {
        char full[PATH_MAX + 512];
        struct stat st;
        snprintf(full, sizeof full, "%s/%s", real, names[i]);
        if (stat(full, &st) == 0) put_file_info(&pb, vpath, names[i], &st);
        free(names[i]);
    }
    free(names);
    pbw_end(&pb, k);
    api_respond(c, &pb);
}

void agent_op_read_file(struct api_ctx *c)
{
    char vpath[4096], real[PATH_MAX];
    if (call_path(c, "READ_FILE", vpath, real) < 0) return;
    files_read_answer(c, real);
}
