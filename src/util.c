/* util.c -- shared helpers (see util.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>
#include "pbw.h"
#include "util.h"

double now_secs(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
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
