/* test_http.c -- unit tests for the request-head parser, the framing rules
 * and the chunked decoder (src/http.c).
 *
 * Every input is copied to end exactly at a PROT_NONE page (picohttpparser's
 * test.c does this), so a parser that reads one byte too far faults even
 * without ASan. Heads are fed whole and at every prefix, with and without
 * prev_len; chunked bodies whole, byte by byte and split at every offset,
 * and every way of feeding must give the same result. Table cases carry
 * __LINE__, so a failure names the case rather than the helper. */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "http.h"
#include "test.h"

/* Like CHECK, but also names the table case and the way it was fed. */
#define EXPECT(c) do { if (!(c)) { printf("FAIL %s:%d: %s (case at line %d, %s)\n", \
    __FILE__, __LINE__, #c, line, mode); return 1; } } while (0)

/* ==== Guard page ==== */

static char *guard;        /* the one read-write page between two PROT_NONE ones */
static size_t page;

static void guard_init(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || mprotect(m, page, PROT_NONE) != 0 ||
        mprotect(m + 2 * page, page, PROT_NONE) != 0) {
        perror("guard page");
        exit(2);
    }
    guard = m + page;
}

/* Copies s[0..n) so that it ends at the guard page; n <= page. */
static char *at_guard(const char *s, size_t n)
{
    char *p = guard + page - n;
    memmove(p, s, n);
    return p;
}

static int parse(const char *s, size_t n, size_t prev_len, struct http_req *r)
{
    return http_parse_request(at_guard(s, n), n, prev_len, r);
}

static int parse_str(const char *s, struct http_req *r) { return parse(s, strlen(s), 0, r); }

/* ==== Request head ==== */

static int test_simple_get(void)
{
    struct http_req r;
    const char *s = "GET /master/state HTTP/1.1\r\nHost: example.com\r\n\r\n";
    CHECK_EQ(parse_str(s, &r), strlen(s));
    CHECK_MEM(r.method, r.method_len, "GET");
    CHECK_MEM(r.target, r.target_len, "/master/state");
    CHECK_MEM(r.path, r.path_len, "/master/state");
    CHECK_EQ(r.query_len, 0);
    CHECK(r.query != NULL);
    CHECK_EQ(r.minor_version, 1);
    CHECK_EQ(r.num_headers, 1);
    CHECK_MEM(r.headers[0].name, r.headers[0].name_len, "Host");
    CHECK_MEM(r.headers[0].value, r.headers[0].value_len, "example.com");
    return 0;
}

static int test_post_headers(void)
{
    struct http_req r;
    const char *s = "POST /api/v1 HTTP/1.1\r\n"
                    "Host: m:5050\r\n"
                    "Content-Type: application/json\r\n"
                    "Content-Length: 2\r\n"
                    "X-Spaces: \t a  b \t \r\n"
                    "X-Empty:\r\n"
                    "X-Blank:   \r\n"
                    "X-Raw: caf\xc3\xa9\r\n"
                    "!#$%&'*+-.^_`|~09azAZ: token\r\n"
                    "\r\n{}";
    CHECK_EQ(parse_str(s, &r), strlen(s) - 2);
    CHECK_MEM(r.method, r.method_len, "POST");
    CHECK_EQ(r.num_headers, 8);
    CHECK_MEM(r.headers[1].value, r.headers[1].value_len, "application/json");
    CHECK_MEM(r.headers[3].value, r.headers[3].value_len, "a  b");
    CHECK_EQ(r.headers[4].value_len, 0);
    CHECK_EQ(r.headers[5].value_len, 0);
    CHECK_MEM(r.headers[6].value, r.headers[6].value_len, "caf\xc3\xa9");
    CHECK_MEM(r.headers[7].name, r.headers[7].name_len, "!#$%&'*+-.^_`|~09azAZ");
    return 0;
}

static int test_find_header(void)
{
    struct http_req r;
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\ncontent-TYPE: x\r\nAccept: y\r\nACCEPT: z\r\n\r\n";
    CHECK(parse_str(s, &r) > 0);
    CHECK_EQ(http_find_header(&r, "Content-Type", 0), 1);
    CHECK_EQ(http_find_header(&r, "host", 0), 0);
    CHECK_EQ(http_find_header(&r, "accept", 0), 2);
    CHECK_EQ(http_find_header(&r, "accept", 3), 3);
    CHECK_EQ(http_find_header(&r, "accept", 4), -1);
    CHECK_EQ(http_find_header(&r, "accep", 0), -1);
    CHECK_EQ(http_find_header(&r, "accepts", 0), -1);
    CHECK_EQ(http_find_header(&r, "Content-Length", 0), -1);
    CHECK(http_eq_nocase("Keep-ALIVE", 10, "keep-alive"));
    CHECK(!http_eq_nocase("Keep-ALIVE", 9, "keep-alive"));
    CHECK(!http_eq_nocase("Keep-ALIVE", 10, "keep-aliv"));
    CHECK(http_eq_nocase("", 0, ""));
    CHECK(!http_eq_nocase("@", 1, "`"));     /* 0x40 and 0x60 differ by the case bit */
    CHECK(!http_eq_nocase("[", 1, "{"));
    return 0;
}

static int test_query_split(void)
{
    static const struct { int line; const char *target, *path, *query; } t[] = {
        { __LINE__, "/a/b?x=1&y=2", "/a/b", "x=1&y=2" },
        { __LINE__, "/a?", "/a", "" },
        { __LINE__, "/a?b?c", "/a", "b?c" },
        { __LINE__, "/a#frag", "/a", "" },
        { __LINE__, "/a?q#f", "/a", "q" },
        { __LINE__, "?q", "", "q" },
        { __LINE__, "*", "*", "" },
        { __LINE__, "http://h:1/p?q", "http://h:1/p", "q" },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char s[256];
        struct http_req r;
        int line = t[i].line;
        const char *mode = "whole";
        snprintf(s, sizeof s, "GET %s HTTP/1.1\r\n\r\n", t[i].target);
        EXPECT(parse_str(s, &r) == (int)strlen(s));
        EXPECT(r.target_len == strlen(t[i].target) && !memcmp(r.target, t[i].target, r.target_len));
        EXPECT(r.path_len == strlen(t[i].path) && !memcmp(r.path, t[i].path, r.path_len));
        EXPECT(r.query_len == strlen(t[i].query) && !memcmp(r.query, t[i].query, r.query_len));
        EXPECT(r.query >= r.target && r.query + r.query_len <= r.target + r.target_len);
    }
    return 0;
}

static int test_lf_only(void)
{
    struct http_req r;
    const char *s = "GET / HTTP/1.0\nA: b\nC:d \n\n";
    CHECK_EQ(parse_str(s, &r), strlen(s));
    CHECK_EQ(r.minor_version, 0);
    CHECK_EQ(r.num_headers, 2);
    CHECK_MEM(r.headers[1].value, r.headers[1].value_len, "d");
    s = "GET / HTTP/1.1\r\nA: b\nC: d\r\n\n";    /* mixed */
    CHECK_EQ(parse_str(s, &r), strlen(s));
    s = "GET / HTTP/1.1\n\r\n";
    CHECK_EQ(parse_str(s, &r), strlen(s));
    return 0;
}

static int test_leading_empty_lines(void)
{
    struct http_req r;
    const char *s = "\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    char *p = at_guard(s, strlen(s));
    CHECK_EQ(http_parse_request(p, strlen(s), 0, &r), strlen(s));
    CHECK(r.method == p + 4);
    s = "\n\r\nGET / HTTP/1.1\n\n";
    CHECK_EQ(parse_str(s, &r), strlen(s));
    CHECK_EQ(parse_str("\r", &r), HTTP_INCOMPLETE);
    CHECK_EQ(parse_str("\r\n\r\n", &r), HTTP_INCOMPLETE);
    CHECK_EQ(parse_str("\rX", &r), HTTP_BAD);
    CHECK_EQ(parse_str("", &r), HTTP_INCOMPLETE);
    return 0;
}

/* Malformed heads, whole and at every prefix: each prefix is INCOMPLETE or
 * the same error, and once an error shows it stays. */
/* sizeof, not strlen: some cases hold a NUL. */
#define B(s, want) { __LINE__, s, sizeof s - 1, want }
static const struct { int line; const char *s; size_t n; int want; } bad_heads[] = {
    /* request line */
    B(" GET / HTTP/1.1\r\n\r\n", HTTP_BAD),
    B("GET  / HTTP/1.1\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/1.1 \r\n\r\n", HTTP_BAD),
    B("GET /  HTTP/1.1\r\n\r\n", HTTP_BAD),
    B("G(T / HTTP/1.1\r\n\r\n", HTTP_BAD),
    B("GET\t/ HTTP/1.1\r\n\r\n", HTTP_BAD),
    B("G\xc3\x89T / HTTP/1.1\r\n\r\n", HTTP_BAD),
    B("GET /a b HTTP/1.1\r\n\r\n", HTTP_BAD),
    B("GET /a\tb HTTP/1.1\r\n\r\n", HTTP_BAD),
    B("GET /a\x01 HTTP/1.1\r\n\r\n", HTTP_BAD),
    B("GET /a\x7f HTTP/1.1\r\n\r\n", HTTP_BAD),
    B("GET /\r\n\r\n", HTTP_BAD),                    /* HTTP/0.9 */
    B("GET / HTTP/1.2\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/2.0\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/0.9\r\n\r\n", HTTP_BAD),
    B("GET / http/1.1\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/1.10\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/1\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/1.1\r\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/1.1\rX: y\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/1.1\x00\r\n\r\n", HTTP_BAD),
    /* field lines */
    B("GET / HTTP/1.1\r\nHost : x\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/1.1\r\nHo st: x\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/1.1\r\n: x\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/1.1\r\nHost x\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/1.1\r\nHost\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/1.1\r\nA(b: x\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/1.1\r\n\xc3\xa9: x\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/1.1\r\n Host: x\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", HTTP_BAD),     /* obs-fold */
    B("GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/1.1\nA: b\n c\n\n", HTTP_BAD),
    B("GET / HTTP/1.1\r\nA: b\x01" "c\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/1.1\r\nA: b\x1b[0m\r\n\r\n", HTTP_BAD),
    B("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", HTTP_BAD),        /* bare CR */
    B("GET / HTTP/1.1\r\nA: b\r\n\rX", HTTP_BAD),
    B("GET / HTTP/1.1\r\nA: b\r\n\r\r\n", HTTP_BAD),
    /* found before the head is complete */
    B("GET / HTTP/2", HTTP_BAD),
    B("GET / HTTP/1.1\r\nHost : x", HTTP_BAD),
    B("GET / HTTP/1.1\r\nA: \x00", HTTP_BAD),
};

static int test_bad_heads(void)
{
    for (size_t i = 0; i < sizeof bad_heads / sizeof bad_heads[0]; i++) {
        int line = bad_heads[i].line;
        const char *s = bad_heads[i].s, *mode = "whole";
        size_t n = bad_heads[i].n;
        struct http_req r;
        EXPECT(parse(s, n, 0, &r) == bad_heads[i].want);
        mode = "prefix";
        int seen = 0;
        for (size_t k = 0; k < n; k++) {
            int rc = parse(s, k, 0, &r);
            EXPECT(rc == HTTP_INCOMPLETE || rc == bad_heads[i].want);
            EXPECT(!seen || rc == bad_heads[i].want);
            seen = rc != HTTP_INCOMPLETE;
        }
    }
    return 0;
}

/* Exactly HTTP_MAX_HEADERS fields fit; the next one is 431 even before the
 * head is complete. */
static int test_too_many_headers(void)
{
    char s[2048];
    size_t n = 0;
    struct http_req r;
    n += (size_t)sprintf(s + n, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < HTTP_MAX_HEADERS; i++) n += (size_t)sprintf(s + n, "h%d: %d\r\n", i, i);
    CHECK_EQ(parse(s, n, 0, &r), HTTP_INCOMPLETE);
    CHECK_EQ(r.num_headers, HTTP_MAX_HEADERS);
    memcpy(s + n, "\r\n", 2);
    CHECK_EQ(parse(s, n + 2, 0, &r), n + 2);
    CHECK_EQ(r.num_headers, HTTP_MAX_HEADERS);
    CHECK_MEM(r.headers[63].name, r.headers[63].name_len, "h63");
    CHECK_EQ(parse(s, n + 1, 0, &r), HTTP_INCOMPLETE);
    memcpy(s + n, "x", 1);
    CHECK_EQ(parse(s, n + 1, 0, &r), HTTP_TOO_MANY_HEADERS);
    n += (size_t)sprintf(s + n, "x: y\r\n\r\n");
    CHECK_EQ(parse(s, n, 0, &r), HTTP_TOO_MANY_HEADERS);
    return 0;
}

static const struct { int line; const char *s; } good_heads[] = {
    { __LINE__, "GET /master/state HTTP/1.1\r\nHost: example.com\r\n\r\n" },
    { __LINE__, "POST /api/v1/scheduler HTTP/1.1\r\nHost: m\r\nContent-Type: application/json\r\n"
                "Accept: application/json\r\nContent-Length: 10\r\n\r\n" },
    { __LINE__, "GET / HTTP/1.0\n\n" },
    { __LINE__, "\r\n\n\r\nGET /a?b=c HTTP/1.1\nX: \t y \t\r\nZ:\n\r\n" },
    { __LINE__, "OPTIONS * HTTP/1.1\r\nA: b\r\nA: c\r\n\n" },
};

/* Every prefix is INCOMPLETE, with prev_len 0, with the previous prefix's
 * length, and with a stale one from further back; the whole head parses the
 * same every way. Fields complete before the cut are already filled. */
static int test_per_byte(void)
{
    for (size_t i = 0; i < sizeof good_heads / sizeof good_heads[0]; i++) {
        const char *s = good_heads[i].s, *mode = "prefix";
        int line = good_heads[i].line;
        size_t n = strlen(s);
        struct http_req r, whole;
        EXPECT(parse(s, n, 0, &whole) == (int)n);
        size_t nh = whole.num_headers;
        for (size_t k = 0; k < n; k++) {
            EXPECT(parse(s, k, 0, &r) == HTTP_INCOMPLETE);
            EXPECT(r.num_headers <= nh);
            if (k > 0) EXPECT(parse(s, k, k - 1, &r) == HTTP_INCOMPLETE);
            if (k > 0) EXPECT(parse(s, k, k / 2 + 1, &r) == HTTP_INCOMPLETE);
            EXPECT(parse(s, k, k, &r) == HTTP_INCOMPLETE);
        }
        mode = "full";
        for (size_t prev = 0; prev < n; prev++) {
            EXPECT(parse(s, n, prev, &r) == (int)n);
            EXPECT(r.num_headers == nh && r.minor_version == whole.minor_version);
            EXPECT(r.method_len == whole.method_len && r.target_len == whole.target_len);
            for (size_t h = 0; h < nh; h++)
                EXPECT(r.headers[h].name_len == whole.headers[h].name_len &&
                       r.headers[h].value_len == whole.headers[h].value_len);
        }
        EXPECT(parse(s, n, n + 1, &r) == (int)n);     /* a bogus prev_len is ignored */
    }
    /* Fields complete before the cut are filled on INCOMPLETE. */
    struct http_req r;
    const char *s = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3";
    CHECK_EQ(parse_str(s, &r), HTTP_INCOMPLETE);
    CHECK_EQ(r.num_headers, 2);
    CHECK_MEM(r.headers[1].value, r.headers[1].value_len, "2");
    return 0;
}

static int test_pipelined(void)
{
    struct http_req r;
    const char *a = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    const char *b = "GET /b HTTP/1.1\r\n\r\n";
    char s[256];
    snprintf(s, sizeof s, "%s%s", a, b);
    char *p = at_guard(s, strlen(s));
    int n = http_parse_request(p, strlen(s), 0, &r);
    CHECK_EQ(n, strlen(a));
    CHECK_MEM(r.path, r.path_len, "/a");
    CHECK_EQ(http_parse_request(p + n, strlen(s) - (size_t)n, 0, &r), strlen(b));
    CHECK_MEM(r.path, r.path_len, "/b");
    /* A body does not count; neither does a second head that is half there. */
    snprintf(s, sizeof s, "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n");
    CHECK_EQ(parse_str(s, &r), strlen(s) - strlen("abcGET / HTTP/1.1\r\n"));
    return 0;
}

/* ==== Framing ==== */

enum { F_CHUNKED = 1, F_LENGTH = 2, F_KEEP = 4, F_CONTINUE = 8, F_OTHER = 16 };

static const struct {
    int line, minor;
    const char *fields;
    int rc, flags;
    uint64_t length;
} framing_cases[] = {
    { __LINE__, 1, "", 0, F_KEEP, 0 },
    { __LINE__, 0, "", 0, 0, 0 },
    { __LINE__, 0, "Connection: keep-alive\r\n", 0, F_KEEP, 0 },
    { __LINE__, 0, "Connection: Keep-Alive\r\n", 0, F_KEEP, 0 },
    { __LINE__, 0, "Connection: keep-alive, close\r\n", 0, 0, 0 },
    { __LINE__, 0, "Connection: keep-alive\r\nConnection: close\r\n", 0, 0, 0 },
    { __LINE__, 1, "Connection: close\r\n", 0, 0, 0 },
    { __LINE__, 1, "Connection: CLOSE\r\n", 0, 0, 0 },
    { __LINE__, 1, "Connection: upgrade,close\r\n", 0, 0, 0 },
    { __LINE__, 1, "Connection: , close ,\r\n", 0, 0, 0 },
    { __LINE__, 1, "Connection: keep-alive\r\n", 0, F_KEEP, 0 },
    { __LINE__, 1, "Connection: closed\r\n", 0, F_KEEP, 0 },
    { __LINE__, 1, "Connection: \r\n", 0, F_KEEP, 0 },
    { __LINE__, 1, "Connection: clo se\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Connection: \"close\"\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Content-Length: 5\r\n", 0, F_LENGTH | F_KEEP, 5 },
    { __LINE__, 1, "content-length: 0\r\n", 0, F_LENGTH | F_KEEP, 0 },
    { __LINE__, 1, "Content-Length: 007\r\n", 0, F_LENGTH | F_KEEP, 7 },
    { __LINE__, 1, "Content-Length: 18446744073709551615\r\n", 0, F_LENGTH | F_KEEP, UINT64_MAX },
    { __LINE__, 1, "Content-Length: 18446744073709551616\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Content-Length: 99999999999999999999999\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Content-Length: +5\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Content-Length: -1\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Content-Length: 5 5\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Content-Length: 0x5\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Content-Length: 5a\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Content-Length: \r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Content-Length: 5, 5\r\n", 0, F_LENGTH | F_KEEP, 5 },
    { __LINE__, 1, "Content-Length: 5,5 ,\t5\r\n", 0, F_LENGTH | F_KEEP, 5 },
    { __LINE__, 1, "Content-Length: 5, 6\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Content-Length: 5,\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Content-Length: ,5\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Content-Length: 5\r\nContent-Length: 5\r\n", 0, F_LENGTH | F_KEEP, 5 },
    { __LINE__, 1, "Content-Length: 5\r\nContent-Length: 05\r\n", 0, F_LENGTH | F_KEEP, 5 },
    { __LINE__, 1, "Content-Length: 5\r\nContent-Length: 6\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Transfer-Encoding: chunked\r\n", 0, F_CHUNKED | F_KEEP, 0 },
    { __LINE__, 1, "transfer-encoding: CHUNKED\r\n", 0, F_CHUNKED | F_KEEP, 0 },
    { __LINE__, 1, "Transfer-Encoding: gzip, chunked\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Transfer-Encoding: chunked, chunked\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Transfer-Encoding: identity\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Transfer-Encoding: chunked;q=1\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Transfer-Encoding: \r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 0, "Transfer-Encoding: chunked\r\n", 0, F_CHUNKED, 0 },
    { __LINE__, 0, "Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n", 0, F_CHUNKED, 0 },
    { __LINE__, 0, "Transfer-Encoding: gzip\r\n", HTTP_BAD, 0, 0 },
    { __LINE__, 1, "Expect: 100-continue\r\n", 0, F_KEEP | F_CONTINUE, 0 },
    { __LINE__, 1, "Expect: 100-Continue\r\n", 0, F_KEEP | F_CONTINUE, 0 },
    { __LINE__, 1, "Expect: foo\r\n", 0, F_KEEP | F_OTHER, 0 },
    { __LINE__, 1, "Expect: 100-continue, foo\r\n", 0, F_KEEP | F_OTHER, 0 },
    { __LINE__, 1, "Expect: \r\n", 0, F_KEEP | F_OTHER, 0 },
    { __LINE__, 1, "Expect: 100-continue\r\nExpect: bar\r\n", 0, F_KEEP | F_CONTINUE | F_OTHER, 0 },
};

static int test_framing(void)
{
    for (size_t i = 0; i < sizeof framing_cases / sizeof framing_cases[0]; i++) {
        int line = framing_cases[i].line, flags = framing_cases[i].flags;
        const char *mode = "framing";
        char s[512];
        struct http_req r;
        struct http_framing f;
        snprintf(s, sizeof s, "PUT / HTTP/1.%d\r\n%s\r\n", framing_cases[i].minor, framing_cases[i].fields);
        EXPECT(parse_str(s, &r) == (int)strlen(s));
        EXPECT(http_framing(&r, &f) == framing_cases[i].rc);
        if (framing_cases[i].rc != 0) continue;
        EXPECT(f.chunked == !!(flags & F_CHUNKED));
        EXPECT(f.has_length == !!(flags & F_LENGTH));
        EXPECT(f.content_length == framing_cases[i].length);
        EXPECT(f.keep_alive == !!(flags & F_KEEP));
        EXPECT(f.expect_continue == !!(flags & F_CONTINUE));
        EXPECT(f.expect_other == !!(flags & F_OTHER));
    }
    return 0;
}

/* ==== Chunked decoder ==== */

#define BIG 20000
struct dec { ssize_t rc; size_t out_len, rest_len; char out[BIG], rest[BIG]; };

/* Feeds in[0..n) to one decoder as a server would: a first piece of `first`
 * bytes (0 is allowed), then pieces of `step`, each at the guard page.
 * Decoded bytes are appended to out; once done, what the decoder left over
 * plus what was never fed is the rest. Returns 1 if the decoder broke its
 * own contract (output longer than input, or leftovers out of place). */
static int feed(const char *in, size_t n, size_t first, size_t step, struct dec *r)
{
    struct http_chunked d;
    size_t off = 0;
    int at_start = 1;
    memset(&d, 0, sizeof d);
    r->rc = HTTP_INCOMPLETE;
    r->out_len = r->rest_len = 0;
    while (off < n || at_start) {
        size_t k = at_start ? first : step;
        if (k > n - off) k = n - off;
        at_start = 0;
        char *p = at_guard(in + off, k);
        size_t len = k;
        ssize_t rc = http_decode_chunked(&d, p, &len);
        if (len > k || (rc >= 0 && len + (size_t)rc > k)) return 1;
        if (rc >= 0 && memcmp(p + len, in + off + k - (size_t)rc, (size_t)rc) != 0) return 1;
        memcpy(r->out + r->out_len, p, len);
        r->out_len += len;
        off += k;
        if (rc == HTTP_BAD) { r->rc = rc; return 0; }
        if (rc >= 0) {
            memcpy(r->rest, p + len, (size_t)rc);
            memcpy(r->rest + rc, in + off, n - off);
            r->rest_len = (size_t)rc + n - off;
            r->rc = (ssize_t)r->rest_len;
            return 0;
        }
        if (rc != HTTP_INCOMPLETE) return 1;
    }
    return 0;
}

enum { DONE, MORE, BAD };

/* Checks one chunked input fed whole, byte by byte, and split in two at
 * every offset (at fewer offsets when it is longer than a page). For DONE the
 * body and the rest must match; for MORE the body so far; BAD is BAD. */
static int check_chunked(int line, const char *in, size_t n, int want, const char *body, size_t body_len, const char *rest)
{
    static struct dec r;
    const char *mode = "whole";
    size_t rest_len = rest ? strlen(rest) : 0;
#define CHECK_DEC() do { \
        EXPECT(r.rc == (want == DONE ? (ssize_t)rest_len : want == MORE ? HTTP_INCOMPLETE : HTTP_BAD)); \
        if (want != BAD) EXPECT(r.out_len == body_len && memcmp(r.out, body, body_len) == 0); \
        if (want == DONE) EXPECT(memcmp(r.rest, rest, rest_len) == 0); \
    } while (0)
    if (n <= page) {
        EXPECT(feed(in, n, n, n, &r) == 0);
        CHECK_DEC();
    }
    mode = "per byte";
    EXPECT(feed(in, n, 0, 1, &r) == 0);
    CHECK_DEC();
    mode = "split";
    size_t stride = n <= page ? 1 : 997;
    for (size_t k = 0; k <= n; k += stride) {
        size_t first = k < page ? k : page;
        EXPECT(feed(in, n, first, n - first <= page ? n - first : page, &r) == 0);
        CHECK_DEC();
    }
#undef CHECK_DEC
    return 0;
}

static const struct { int line; const char *in; int want; const char *body, *rest; } chunked_cases[] = {
    { __LINE__, "5\r\nhello\r\n0\r\n\r\n", DONE, "hello", "" },
    { __LINE__, "0\r\n\r\n", DONE, "", "" },
    { __LINE__, "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", DONE, "hello world", "" },
    { __LINE__, "A\r\n0123456789\r\na\r\nabcdefghij\r\n1F\r\n0123456789abcdef0123456789abcde\r\n0\r\n\r\n",
      DONE, "0123456789abcdefghij0123456789abcdef0123456789abcde", "" },
    { __LINE__, "5\nhello\n0\n\n", DONE, "hello", "" },
    { __LINE__, "5\r\nhello\n3\nabc\r\n0\n\r\n", DONE, "helloabc", "" },
    { __LINE__, "0005\r\nhello\r\n000\r\n\r\n", DONE, "hello", "" },
    { __LINE__, "3\r\n\r\n\n\r\n0\r\n\r\n", DONE, "\r\n\n", "" },
    /* extensions */
    { __LINE__, "5;a=b\r\nhello\r\n0;last\r\n\r\n", DONE, "hello", "" },
    { __LINE__, "5 ; a = b ;c\r\nhello\r\n0\t;x\r\n\r\n", DONE, "hello", "" },
    { __LINE__, "5;a=\"x;y\\\"z\\\\\"\r\nhello\r\n0\r\n\r\n", DONE, "hello", "" },
    { __LINE__, "5;a=\"\r\n\"\r\nhello\r\n0\r\n\r\n", BAD, "", NULL },
    { __LINE__, "5;a=\"x\\\r\nhello\r\n0\r\n\r\n", BAD, "", NULL },
    { __LINE__, "5;a\x01\r\nhello\r\n0\r\n\r\n", BAD, "", NULL },
    { __LINE__, "5;a\rb\nhello\r\n0\r\n\r\n", BAD, "", NULL },
    /* trailers */
    { __LINE__, "5\r\nhello\r\n0\r\nX-Sum: 1\r\nY:2\r\n\r\n", DONE, "hello", "" },
    { __LINE__, "0\r\nX:\r\n\r\n", DONE, "", "" },
    { __LINE__, "0\nX: a\tb\nY: c\n\n", DONE, "", "" },
    { __LINE__, "0\r\n Folded: x\r\n\r\n", BAD, "", NULL },
    { __LINE__, "0\r\nX: a\r\n b\r\n\r\n", BAD, "", NULL },
    { __LINE__, "0\r\nNo colon\r\n\r\n", BAD, "", NULL },
    { __LINE__, "0\r\n: x\r\n\r\n", BAD, "", NULL },
    { __LINE__, "0\r\nX : y\r\n\r\n", BAD, "", NULL },
    { __LINE__, "0\r\nX: a\x7f\r\n\r\n", BAD, "", NULL },
    { __LINE__, "0\r\nX: y\rZ\r\n\r\n", BAD, "", NULL },
    { __LINE__, "0\r\n\rX", BAD, "", NULL },
    /* what follows belongs to the next request */
    { __LINE__, "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", DONE, "hello", "GET / HTTP/1.1\r\n\r\n" },
    { __LINE__, "0\r\nT: 1\r\n\r\n0\r\n\r\n", DONE, "", "0\r\n\r\n" },
    { __LINE__, "0\n\n\n", DONE, "", "\n" },
    /* not finished */
    { __LINE__, "5\r\nhel", MORE, "hel", NULL },
    { __LINE__, "5\r\nhello\r\n0\r\n", MORE, "hello", NULL },
    { __LINE__, "5\r\nhello\r\n0\r\nX: y\r\n", MORE, "hello", NULL },
    { __LINE__, "10000000000\r\n", MORE, "", NULL },               /* exactly 2^40 */
    { __LINE__, "", MORE, "", NULL },
    /* bad sizes */
    { __LINE__, "x\r\n", BAD, "", NULL },
    { __LINE__, "\r\n", BAD, "", NULL },
    { __LINE__, " 5\r\nhello\r\n0\r\n\r\n", BAD, "", NULL },
    { __LINE__, "5 \r\nhello\r\n0\r\n\r\n", BAD, "", NULL },
    { __LINE__, "0x5\r\nhello\r\n0\r\n\r\n", BAD, "", NULL },
    { __LINE__, "+5\r\nhello\r\n0\r\n\r\n", BAD, "", NULL },
    { __LINE__, "-5\r\nhello\r\n0\r\n\r\n", BAD, "", NULL },
    { __LINE__, "5g\r\nhello\r\n0\r\n\r\n", BAD, "", NULL },
    { __LINE__, "5\rhello\r\n0\r\n\r\n", BAD, "", NULL },
    { __LINE__, "10000000001\r\n", BAD, "", NULL },                /* 2^40 + 1 */
    { __LINE__, "FFFFFFFFFFFFFFFFFFFFFFFF\r\n", BAD, "", NULL },
    /* the data must end exactly where its size says */
    { __LINE__, "5\r\nhelloX\r\n0\r\n\r\n", BAD, "hello", NULL },
    { __LINE__, "5\r\nhello0\r\n\r\n", BAD, "hello", NULL },
    { __LINE__, "5\r\nhello\rX", BAD, "hello", NULL },
    { __LINE__, "5\r\nhello\r\r\n0\r\n\r\n", BAD, "hello", NULL },
    { __LINE__, "5\r\nhel\r\n0\r\n\r\n", BAD, "hel\r\n", NULL },
    { __LINE__, "5\r\nhell\r\n0\r\n\r\n", DONE, "hell\r", "" },      /* then a bare LF */
};

static int test_chunked_table(void)
{
    for (size_t i = 0; i < sizeof chunked_cases / sizeof chunked_cases[0]; i++) {
        const char *body = chunked_cases[i].body;
        if (check_chunked(chunked_cases[i].line, chunked_cases[i].in, strlen(chunked_cases[i].in),
                          chunked_cases[i].want, body, strlen(body), chunked_cases[i].rest))
            return 1;
    }
    return 0;
}

/* A body with every byte value, in chunks of several sizes. */
static int test_chunked_binary(void)
{
    static char in[BIG], body[BIG];
    size_t n = 0, m = 0;
    for (size_t size = 1; size <= 300; size += 37) {
        n += (size_t)snprintf(in + n, sizeof in - n, "%zx\r\n", size);
        for (size_t j = 0; j < size; j++) in[n++] = body[m++] = (char)(j * 7 + size);
        in[n++] = '\r';
        in[n++] = '\n';
    }
    n += (size_t)snprintf(in + n, sizeof in - n, "0\r\n\r\nnext");
    return check_chunked(__LINE__, in, n, DONE, body, m, "next");
}

/* The trailer section (fields and the final empty line) may take exactly
 * HTTP_MAX_TRAILER bytes; the chunk-size line exactly HTTP_MAX_CHUNK_LINE. */
static int test_chunked_limits(void)
{
    static char in[BIG];
    size_t n, k = HTTP_MAX_TRAILER - 7;     /* "X: " + value + CRLF + CRLF */
    n = (size_t)sprintf(in, "0\r\nX: ");
    memset(in + n, 'a', k);
    n += k;
    n += (size_t)sprintf(in + n, "\r\n\r\n");
    if (check_chunked(__LINE__, in, n, DONE, "", 0, "")) return 1;
    n = (size_t)sprintf(in, "0\r\nX: ");
    memset(in + n, 'a', k + 1);
    n += k + 1;
    n += (size_t)sprintf(in + n, "\r\n\r\n");
    if (check_chunked(__LINE__, in, n, BAD, "", 0, NULL)) return 1;
    /* Many small trailer fields count together. */
    n = (size_t)sprintf(in, "0\r\n");
    while (n < HTTP_MAX_TRAILER + 100) n += (size_t)sprintf(in + n, "X: y\r\n");
    n += (size_t)sprintf(in + n, "\r\n");
    if (check_chunked(__LINE__, in, n, BAD, "", 0, NULL)) return 1;

    k = HTTP_MAX_CHUNK_LINE - 4;             /* "5;" + extension + CRLF */
    n = (size_t)sprintf(in, "5;");
    memset(in + n, 'e', k);
    n += k;
    n += (size_t)sprintf(in + n, "\r\nhello\r\n0\r\n\r\n");
    if (check_chunked(__LINE__, in, n, DONE, "hello", 5, "")) return 1;
    n = (size_t)sprintf(in, "5;");
    memset(in + n, 'e', k + 1);
    n += k + 1;
    n += (size_t)sprintf(in + n, "\r\nhello\r\n0\r\n\r\n");
    if (check_chunked(__LINE__, in, n, BAD, "", 0, NULL)) return 1;
    /* Leading zeros are part of the line too. */
    memset(in, '0', HTTP_MAX_CHUNK_LINE);
    n = HTTP_MAX_CHUNK_LINE;
    n += (size_t)sprintf(in + n, "5\r\nhello\r\n0\r\n\r\n");
    if (check_chunked(__LINE__, in, n, BAD, "", 0, NULL)) return 1;
    /* Each size line has its own budget. */
    n = 0;
    for (int i = 0; i < 3; i++) {
        n += (size_t)sprintf(in + n, "1;");
        memset(in + n, 'e', HTTP_MAX_CHUNK_LINE - 5);
        n += HTTP_MAX_CHUNK_LINE - 5;
        n += (size_t)sprintf(in + n, "\r\nx\r\n");
    }
    n += (size_t)sprintf(in + n, "0\r\n\r\n");
    return check_chunked(__LINE__, in, n, DONE, "xxx", 3, "");
}

/* In place: the decoded body and the leftover share the input buffer, and
 * a finished decoder hands any later input straight back. */
static int test_chunked_in_place(void)
{
    char buf[] = "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: v\r\n\r\nNEXT";
    size_t len = sizeof buf - 1;
    struct http_chunked d;
    memset(&d, 0, sizeof d);
    CHECK_EQ(http_decode_chunked(&d, buf, &len), 4);
    CHECK_MEM(buf, len, "abcde");
    CHECK_MEM(buf + len, 4, "NEXT");
    char more[] = "xyz";
    len = 3;
    CHECK_EQ(http_decode_chunked(&d, more, &len), 3);
    CHECK_EQ(len, 0);
    CHECK_MEM(more, 3, "xyz");
    len = 0;
    CHECK_EQ(http_decode_chunked(&d, more, &len), 0);
    /* left reports what is still owed of the current chunk. */
    memset(&d, 0, sizeof d);
    char part[] = "a\r\n0123";
    len = sizeof part - 1;
    CHECK_EQ(http_decode_chunked(&d, part, &len), HTTP_INCOMPLETE);
    CHECK_MEM(part, len, "0123");
    CHECK_EQ(d.left, 6);
    return 0;
}

/* A whole request, head then chunked body, then the next request. */
static int test_head_then_chunked(void)
{
    char s[] = "POST /api/v1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
               "4\r\n{\"a\"\r\n2\r\n:1\r\n1\r\n}\r\n0\r\n\r\n"
               "GET /health HTTP/1.1\r\n\r\n";
    struct http_req r;
    struct http_framing f;
    struct http_chunked d;
    int n = http_parse_request(s, sizeof s - 1, 0, &r);
    CHECK(n > 0);
    CHECK_EQ(http_framing(&r, &f), 0);
    CHECK(f.chunked && f.keep_alive);
    memset(&d, 0, sizeof d);
    size_t len = sizeof s - 1 - (size_t)n;
    ssize_t left = http_decode_chunked(&d, s + n, &len);
    CHECK_MEM(s + n, len, "{\"a\":1}");
    CHECK_EQ(left, strlen("GET /health HTTP/1.1\r\n\r\n"));
    CHECK_EQ(http_parse_request(s + n + len, (size_t)left, 0, &r), left);
    CHECK_MEM(r.path, r.path_len, "/health");
    return 0;
}

int main(void)
{
    guard_init();
    RUN(test_simple_get);
    RUN(test_post_headers);
    RUN(test_find_header);
    RUN(test_query_split);
    RUN(test_lf_only);
    RUN(test_leading_empty_lines);
    RUN(test_bad_heads);
    RUN(test_too_many_headers);
    RUN(test_per_byte);
    RUN(test_pipelined);
    RUN(test_framing);
    RUN(test_chunked_table);
    RUN(test_chunked_binary);
    RUN(test_chunked_limits);
    RUN(test_chunked_in_place);
    RUN(test_head_then_chunked);
    return REPORT();
}
