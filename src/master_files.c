/* master_files.c -- LIST_FILES and READ_FILE on the master: its "files"
 * namespace, as upstream's src/files/files.cpp serves it.
 *
 * The master attaches one path: its log file as /master/log, when it logs
 * to a file (--external_log_file, else --log_dir, where the log is
 * mesos-master.log; see setup_logging in mesos_api.c). A virtual path is
 * resolved as upstream's FilesProcess::resolve does: a trailing slash is
 * ignored, the longest attached prefix wins, and a file has nothing below
 * it. Unknown paths are 404 with an empty body (FilesError NOT_FOUND has no
 * message). READ_FILE's offset and length are upstream's: nothing past the
 * end, no length means to the end, length 0 asks for the size, at most 16
 * pages per read. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "files.h"
#include "log.h"
#include "master.h"
#include "pbw.h"

#define LOG_VPATH "/master/log"

/* The file attached as /master/log, or NULL. */
static const char *log_file(struct master *m, char *buf, size_t cap)
{
    struct flag *f = flags_find(m->flags, m->nflags, "external_log_file");
    if (f && f->present && f->str && f->str[0]) return f->str;
    f = flags_find(m->flags, m->nflags, "log_dir");
    if (f && f->present && f->str && f->str[0]) {
        snprintf(buf, cap, "%s/mesos-master.log", f->str);
        return buf;
    }
    return NULL;
}

/* Resolve a virtual path to a real one. Returns 0 with the real path, or
 * -1 when nothing is attached there. */
static int resolve(struct master *m, const char *vpath, size_t n, char *out, size_t cap)
{
    if (n >= 7 && memcmp(vpath, "file://", 7) == 0) { vpath += 7; n -= 7; }   /* path::from_uri */
    if (n > 1 && vpath[n - 1] == '/') n--;                                     /* one trailing slash */
    char lbuf[4200];
    const char *lf = log_file(m, lbuf, sizeof lbuf);
    size_t vl = strlen(LOG_VPATH);
    if (!lf || n != vl || memcmp(vpath, LOG_VPATH, vl) != 0) return -1;
    snprintf(out, cap, "%s", lf);
    return 0;
}

static void not_found(struct api_ctx *c)
{
    server_respond(c->r, 404, NULL, "text/plain; charset=utf-8", "", 0);
    api_done(c);
}

void op_list_files(struct api_ctx *c)
{
    struct pbw_field p;
    char real[4200];
    if (pbw_find(c->sub, c->sub_len, 1, &p) != 1 || p.wt != PBW_LEN ||
        resolve(c->state, (const char *)p.p, p.n, real, sizeof real) < 0) {
        not_found(c);
        return;
    }
    /* The only attachment is a file, and listing a file lists nothing
     * (upstream's os::ls fails on it, and the listing stays empty). */
    struct buf pb = {0};
    pbw_put_uint(&pb, 1, 6);                     /* Response.LIST_FILES */
    size_t k = pbw_begin(&pb, 7);
    pbw_end(&pb, k);
    api_respond(c, &pb);
}

void op_read_file(struct api_ctx *c)
{
    struct pbw_field p;
    char real[4200];
    if (pbw_find(c->sub, c->sub_len, 1, &p) != 1 || p.wt != PBW_LEN ||
        resolve(c->state, (const char *)p.p, p.n, real, sizeof real) < 0) {
        not_found(c);
        return;
    }
    files_read_answer(c, real);
}
