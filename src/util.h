/* util.h -- small helpers several modules share: wall-clock time, UUIDs,
 * and the Mesos id and time shapes on the protobuf wire. */
#ifndef UTIL_H
#define UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "buf.h"

/* Seconds since the epoch, with microseconds. */
double now_secs(void);
/* Epoch seconds -> UTC calendar fields (tm_year since 1900, tm_mon 0-11,
 * tm_wday 0 = Sunday, tm_yday). gmtime_r without glibc's time-zone code,
 * which a static binary would carry for nothing (~90 KB with its sscanf). */
struct tm;
void utc_tm(long long secs, struct tm *tm);
/* A user's uid and gid from /etc/passwd, read here: a static binary has
 * no NSS. Returns 0, or -1 when the file or the user is missing. */
int user_lookup(const char *user, uid_t *uid, gid_t *gid);
/* 16 random bytes shaped as a version 4 UUID (RFC 4122). */
void uuid_bytes(unsigned char u[16]);
/* Its text form, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" (out: 37 bytes). */
void uuid_text(char out[37]);

/* An id message ({value = 1}, as FrameworkID, TaskID, AgentID...) as
 * field `tag`: append one, or read one into out (NUL-terminated, cut to
 * cap). get returns 0, or -1 when the field is absent or malformed. */
int pbw_put_id(struct buf *b, uint32_t tag, const char *value);
int pbw_get_id(const void *msg, size_t n, uint32_t tag, char *out, size_t cap);
/* A TimeInfo ({nanoseconds = 1}) from epoch seconds, as field `tag`. */
int pbw_put_time(struct buf *b, uint32_t tag, double secs);

#endif
