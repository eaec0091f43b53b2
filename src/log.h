/* log.h -- glog-style one-line logging to stderr (and optionally a file).
 *
 *   I1129 00:24:42.123456 12345 master.c:88] Master started on 127.0.0.1:5050
 *
 * Severities INFO < WARNING < ERROR; --logging_level hides the lower ones.
 * The verbose level (GET/SET_LOGGING_LEVEL, glog's --v) gates LOG_V(n). */
#ifndef LOG_H
#define LOG_H
#include <stdint.h>

enum { LOG_INFO = 0, LOG_WARNING = 1, LOG_ERROR = 2 };

extern int log_min_severity;
extern unsigned log_verbose;

void log_write(int sev, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Also write every line to this file (append). Returns 0 or -errno. */
int log_open_file(const char *path);
const char *log_file_path(void);
int log_parse_severity(const char *s);   /* "INFO"/"WARNING"/"ERROR", or -1 */
const char *log_severity_name(int sev);

#define LOG_INFO_(...) log_write(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define LOG(...)       do { if (log_min_severity <= LOG_INFO) log_write(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__); } while (0)
#define LOG_WARN(...)  do { if (log_min_severity <= LOG_WARNING) log_write(LOG_WARNING, __FILE__, __LINE__, __VA_ARGS__); } while (0)
#define LOG_ERR(...)   log_write(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_V(n, ...)  do { if (log_verbose >= (unsigned)(n) && log_min_severity <= LOG_INFO) log_write(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__); } while (0)

#endif
