/* test.h -- a tiny unit-test runner shared by every test/test_*.c.
 * A test is `static int name(void)` returning 0 on success; CHECK returns
 * 1 on the first failed condition and prints where. main() ends with
 * REPORT(), which prints the "N passed, N failed" line CI reads. */
#ifndef TEST_H
#define TEST_H
#include <stdio.h>
#include <string.h>
#include <inttypes.h>

static int test_passed, test_failed;

#define CHECK(c) do { if (!(c)) { \
    printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); return 1; } } while (0)
#define CHECK_EQ(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
    if (a_ != b_) { printf("FAIL %s:%d: %s == %s (%lld != %lld)\n", \
        __FILE__, __LINE__, #a, #b, a_, b_); return 1; } } while (0)
#define CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b); \
    if (strcmp(a_, b_) != 0) { printf("FAIL %s:%d: %s == %s (\"%s\" != \"%s\")\n", \
        __FILE__, __LINE__, #a, #b, a_, b_); return 1; } } while (0)
/* Compare a counted byte span with a C string. */
#define CHECK_MEM(p, n, s) do { const char *s_ = (s); size_t n_ = (n); \
    if (n_ != strlen(s_) || memcmp((p), s_, n_) != 0) { \
        printf("FAIL %s:%d: %s == \"%s\" (got \"%.*s\")\n", __FILE__, __LINE__, #p, s_, \
               (int)n_, (const char *)(p)); return 1; } } while (0)
#define RUN(fn) do { if (fn()) { test_failed++; printf("  in %s\n", #fn); } else test_passed++; fflush(stdout); } while (0)
#define REPORT() (printf("%d passed, %d failed\n", test_passed, test_failed), fflush(stdout), test_failed != 0)

#endif
