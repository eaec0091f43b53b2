/* files.c -- READ_FILE's answer for the master and the agent (files.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "files.h"
#include "pbw.h"

void files_read_answer(struct api_ctx *c, const char *real)
{
    struct pbw_field f;
    uint64_t offset = pbw_find(c->sub, c->sub_len, 2, &f) == 1 ? f.v : 0;
    int has_length = pbw_find(c->sub, c->sub_len, 3, &f) == 1;
    uint64_t length = has_length ? f.v : 0;
    struct stat st;
    if (stat(real, &st) == 0 && S_ISDIR(st.st_mode)) {
        api_error(c, 400, "Cannot read a directory.\n");
        return;
    }
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    off_t end = fd < 0 ? -1 : lseek(fd, 0, SEEK_END);
    if (end < 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        api_error(c, 500, "Failed to open file at '%s': %s.\n", real, strerror(e));
        return;
    }
    uint64_t size = (uint64_t)end;
    /* Upstream's semantics: nothing past the end; no length means to the
     * end; length 0 is a size query; at most 16 pages per read. */
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
