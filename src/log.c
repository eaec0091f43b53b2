/* log.c -- glog-style logging (see log.h). Lines are formatted once into a
 * stack buffer and written with one write() per sink, so lines from the
 * master and an agent in one process never interleave mid-line. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "util.h"

int log_min_severity = LOG_INFO;
unsigned log_verbose = 0;
static int log_fd = -1;
static char log_path[4096];

static const char *base(const char *f)
{
    const char *s = strrchr(f, '/');
    return s ? s + 1 : f;
}

void log_write(int sev, const char *file, int line, const char *fmt, ...)
{
    if (sev < log_min_severity) return;
    char msg[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    utc_tm((long long)tv.tv_sec, &tm);     /* UTC: a static binary carries no time-zone code */
    int n = snprintf(msg, sizeof msg, "%c%02d%02d %02d:%02d:%02d.%06ld %5d %s:%d] ",
                     "IWE"[sev], tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (long)tv.tv_usec, (int)getpid(), base(file), line);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg + n, sizeof msg - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof msg - 2) len = sizeof msg - 2;
    msg[len++] = '\n';
    (void)!write(2, msg, len);
    if (log_fd >= 0) (void)!write(log_fd, msg, len);
}

int log_open_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    if (log_fd >= 0) close(log_fd);
    log_fd = fd;
    snprintf(log_path, sizeof log_path, "%s", path);
    return 0;
}

const char *log_file_path(void) { return log_fd >= 0 ? log_path : NULL; }

int log_parse_severity(const char *s)
{
    if (strcmp(s, "INFO") == 0) return LOG_INFO;
    if (strcmp(s, "WARNING") == 0) return LOG_WARNING;
    if (strcmp(s, "ERROR") == 0) return LOG_ERROR;
    return -1;
}

const char *log_severity_name(int sev)
{
    return sev == LOG_ERROR ? "ERROR" : sev == LOG_WARNING ? "WARNING" : "INFO";
}
