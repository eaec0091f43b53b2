/* test_util.c -- unit tests of util.c's calendar arithmetic (utc_tm),
 * checked against the C library's gmtime_r across several centuries. */
#include <stdlib.h>
#include <time.h>
#include "test.h"
#include "util.h"

static int same(long long t)
{
    struct tm a, b;
    time_t tt = (time_t)t;
    if (!gmtime_r(&tt, &a)) return 1;
    utc_tm(t, &b);
    if (a.tm_year != b.tm_year || a.tm_mon != b.tm_mon || a.tm_mday != b.tm_mday ||
        a.tm_hour != b.tm_hour || a.tm_min != b.tm_min || a.tm_sec != b.tm_sec ||
        a.tm_wday != b.tm_wday || a.tm_yday != b.tm_yday) {
        printf("FAIL utc_tm(%lld): %d-%d-%d %d:%d:%d w%d y%d, gmtime %d-%d-%d %d:%d:%d w%d y%d\n", t,
               b.tm_year, b.tm_mon, b.tm_mday, b.tm_hour, b.tm_min, b.tm_sec, b.tm_wday, b.tm_yday,
               a.tm_year, a.tm_mon, a.tm_mday, a.tm_hour, a.tm_min, a.tm_sec, a.tm_wday, a.tm_yday);
        return 1;
    }
    return 0;
}

static int test_utc_fixed(void)
{
    struct tm tm;
    utc_tm(0, &tm);
    CHECK_EQ(tm.tm_year, 70); CHECK_EQ(tm.tm_mon, 0); CHECK_EQ(tm.tm_mday, 1);
    CHECK_EQ(tm.tm_wday, 4); CHECK_EQ(tm.tm_yday, 0); CHECK_EQ(tm.tm_hour, 0);
    utc_tm(951782400, &tm);                       /* 2000-02-29 00:00:00, a leap day of a 400-year */
    CHECK_EQ(tm.tm_year, 100); CHECK_EQ(tm.tm_mon, 1); CHECK_EQ(tm.tm_mday, 29);
    CHECK_EQ(tm.tm_wday, 2); CHECK_EQ(tm.tm_yday, 59);
    utc_tm(-1, &tm);                              /* 1969-12-31 23:59:59, a Wednesday */
    CHECK_EQ(tm.tm_year, 69); CHECK_EQ(tm.tm_mon, 11); CHECK_EQ(tm.tm_mday, 31);
    CHECK_EQ(tm.tm_hour, 23); CHECK_EQ(tm.tm_min, 59); CHECK_EQ(tm.tm_sec, 59);
    CHECK_EQ(tm.tm_wday, 3); CHECK_EQ(tm.tm_yday, 364);
    utc_tm(4107542399LL, &tm);                    /* 2100-02-28 23:59:59; 2100 is no leap year */
    CHECK_EQ(tm.tm_year, 200); CHECK_EQ(tm.tm_mon, 1); CHECK_EQ(tm.tm_mday, 28);
    utc_tm(4107542400LL, &tm);
    CHECK_EQ(tm.tm_mon, 2); CHECK_EQ(tm.tm_mday, 1); CHECK_EQ(tm.tm_yday, 59);
    return 0;
}

/* Every day's edges from 1900 to 2400, and random seconds in between. */
static int test_utc_vs_gmtime(void)
{
    for (long long t = -2208988800LL; t < 13569465600LL; t += 86400)
        CHECK(same(t) == 0 && same(t - 1) == 0 && same(t + 43200 + 1234) == 0);
    srand(7);
    for (int i = 0; i < 200000; i++) {
        long long t = ((long long)rand() << 16 ^ rand()) % 20000000000LL - 5000000000LL;
        CHECK(same(t) == 0);
    }
    return 0;
}

int main(void)
{
    RUN(test_utc_fixed);
    RUN(test_utc_vs_gmtime);
    return REPORT();
}
