/* util.c -- shared helpers (see util.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "pbw.h"
#include "util.h"

double now_secs(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Days since 1970-01-01 -> year, month, day in the proleptic Gregorian
 * calendar, counting in 400-year eras of 146097 days whose years start
 * on March 1st (so the leap day is the last day of a year). */
void utc_tm(long long secs, struct tm *tm)
{
    long long days = secs / 86400, rem = secs % 86400;
    if (rem < 0) { rem += 86400; days--; }
    memset(tm, 0, sizeof *tm);
    tm->tm_hour = (int)(rem / 3600);
    tm->tm_min = (int)(rem / 60 % 60);
    tm->tm_sec = (int)(rem % 60);
    tm->tm_wday = (int)(((days + 4) % 7 + 7) % 7);          /* 1970-01-01 was a Thursday */
    long long z = days + 719468;                            /* since 0000-03-01 */
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;                       /* [0, 146096] */
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100); /* [0, 365], from March 1st */
    long long mp = (5 * doy + 2) / 153;                     /* March = 0 */
    int mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    int mon = (int)(mp < 10 ? mp + 2 : mp - 10);            /* January = 0 */
    long long year = yoe + era * 400 + (mon < 2);
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    static const short before[12] = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 };
    tm->tm_year = (int)(year - 1900);
    tm->tm_mon = mon;
    tm->tm_mday = mday;
    tm->tm_yday = before[mon] + mday - 1 + (leap && mon > 1);
}

void uuid_bytes(unsigned char u[16])
{
    if (getrandom(u, 16, 0) != 16) {
        /* getrandom cannot fail for 16 bytes once the pool is ready; be safe anyway. */
        uint64_t t = (uint64_t)(now_secs() * 1e6) ^ (uint64_t)getpid();
        for (int i = 0; i < 16; i++) u[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)rand();
    }
    u[6] = (u[6] & 0x0f) | 0x40;   /* version 4 */
    u[8] = (u[8] & 0x3f) | 0x80;   /* RFC 4122 variant */
}

void uuid_text(char out[37])
{
    unsigned char b[16];
    uuid_bytes(b);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

int pbw_put_id(struct buf *b, uint32_t tag, const char *value)
{
    size_t k = pbw_begin(b, tag);
    if (pbw_put_str(b, 1, value) < 0) return -1;
    return pbw_end(b, k);
}

int pbw_get_id(const void *msg, size_t n, uint32_t tag, char *out, size_t cap)
{
    struct pbw_field f, v;
    if (pbw_find(msg, n, tag, &f) != 1 || f.wt != PBW_LEN || pbw_find(f.p, f.n, 1, &v) != 1 || v.wt != PBW_LEN)
        return -1;
    snprintf(out, cap, "%.*s", (int)v.n, (const char *)v.p);
    return 0;
}

int pbw_put_time(struct buf *b, uint32_t tag, double secs)
{
    size_t k = pbw_begin(b, tag);
    if (pbw_put_uint(b, 1, (uint64_t)(int64_t)llround(secs * 1e9)) < 0) return -1;
    return pbw_end(b, k);
}

/* ==== Users ============================================================= */

int user_lookup(const char *user, uid_t *uid, gid_t *gid)
{
    FILE *f = fopen("/etc/passwd", "r");
    if (!f) return -1;
    char line[1024];
    int rc = -1;
    size_t ul = strlen(user);
    while (rc < 0 && fgets(line, sizeof line, f)) {
        if (strncmp(line, user, ul) != 0 || line[ul] != ':') continue;
        char *p = strchr(line + ul + 1, ':');          /* after the password field */
        if (!p) break;
        char *end;
        unsigned long u = strtoul(p + 1, &end, 10);
        if (*end != ':') break;
        unsigned long g = strtoul(end + 1, &end, 10);
        if (*end != ':') break;
        *uid = (uid_t)u;
        *gid = (gid_t)g;
        rc = 0;
    }
    fclose(f);
    return rc;
}
