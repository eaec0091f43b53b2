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
    struct pbw_field p, f;
    char real[4200];
    if (pbw_find(c->sub, c->sub_len, 1, &p) != 1 || p.wt != PBW_LEN ||
        resolve(c->state, (const char *)p.p, p.n, real, sizeof real) < 0) {
        not_found(c);
        return;
    }
    uint64_t offset = pbw_find(c->sub, c->sub_len, 2, &f) == 1 ? f.v : 0;
    int has_length = pbw_find(c->sub, c->sub_len, 3, &f) == 1;
    uint64_t length = has_length ? f.v : 0;
    struct stat st;
    if (stat(real, &st) == 0 && S_ISDIR(st.st_mode)) {
        api_error(c, 400, "Cannot read a directory.\n");
        return;
    }
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        LOG_WARN("Failed to open file at '%s': %s", real, strerror(e));
        api_error(c, 500, "Failed to open file at '%s': %s.\n", real, strerror(e));
        return;
    }
    off_t end = lseek(fd, 0, SEEK_END);
    if (end < 0) {
        int e = errno;
        close(fd);
        api_error(c, 500, "Failed to open file at '%s': %s.\n", real, strerror(e));
        return;
    }
    uint64_t size = (uint64_t)end;
    uint64_t want = offset >= size ? 0 : has_length ? length : size - offset;
    uint64_t cap = (uint64_t)sysconf(_SC_PAGESIZE) * 16;
    if (want > cap) want = cap;
    struct buf data = {0};
    if (want && buf_reserve(&data, (size_t)want) == 0) {
        ssize_t got;
        do got = pread(fd, data.data, (size_t)want, (off_t)offset);
        while (got < 0 && errno == EINTR);
        if (got < 0) {
            int e = errno;
            close(fd);
            buf_free(&data);
            api_error(c, 500, "Failed to read file at '%s': %s", real, strerror(e));
            return;
        }
        data.len = (size_t)got;
    }
    close(fd);
    struct buf pb = {0};
    pbw_put_uint(&pb, 1, 7);                     /* Response.READ_FILE */
    size_t k = pbw_begin(&pb, 8);
    pbw_put_uint(&pb, 1, size);
    pbw_put_bytes(&pb, 2, data.data ? data.data : "", data.len);
    pbw_end(&pb, k);
    buf_free(&data);
    api_respond(c, &pb);
}
