/* fuzz_http.c -- fuzz target for the request-head parser and the chunked
 * decoder.
 *
 * The input is parsed as a request head, and prefixes of it must agree with
 * the whole: a prefix that is not INCOMPLETE decided the answer already,
 * and prev_len never changes an answer, only how soon INCOMPLETE comes. A
 * head that parses is checked for pointers inside it and run through
 * http_framing; when that says chunked, the rest of the input is decoded as
 * the body. The whole input is also decoded as a chunked body on its own.
 * Each chunked decode is done whole, byte by byte and split at two offsets,
 * every piece in its own exact-size allocation so ASan sees overreads, and
 * all of them must give the same body, verdict and leftover bytes.
 *
 * Two entry points (nanopb's tests/fuzztest): libFuzzer calls
 * LLVMFuzzerTestOneInput; built with -DFUZZ_MAIN, main() replays the files
 * named on the command line, or stdin, so gcc and CI can run the corpus:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc src/http.c test/fuzz/fuzz_http.c
 *   gcc -DFUZZ_MAIN -fsanitize=address,undefined -Isrc src/http.c test/fuzz/fuzz_http.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http.h"

static void check(int ok, const char *what)
{
    if (!ok) { fprintf(stderr, "fuzz_http: %s\n", what); abort(); }
}

/* ==== Request head ==== */

static int inside(const char *p, size_t n, const char *base, size_t len)
{
    return p >= base && p + n <= base + len;
}

static void check_head(const char *s, size_t n, int r, const struct http_req *q)
{
    check(r <= (int)n, "head longer than input");
    check(q->num_headers <= HTTP_MAX_HEADERS, "num_headers over the limit");
    check(q->minor_version == 0 || q->minor_version == 1, "bad minor version");
    check(inside(q->method, q->method_len, s, (size_t)r) && q->method_len > 0, "method out of bounds");
    check(inside(q->target, q->target_len, s, (size_t)r) && q->target_len > 0, "target out of bounds");
    check(q->path == q->target && q->path_len <= q->target_len, "path is not a prefix of target");
    check(inside(q->query, q->query_len, q->target, q->target_len), "query out of target");
    for (size_t i = 0; i < q->num_headers; i++) {
        const struct http_header *h = &q->headers[i];
        check(inside(h->name, h->name_len, s, (size_t)r) && h->name_len > 0, "name out of bounds");
        check(inside(h->value, h->value_len, s, (size_t)r), "value out of bounds");
        check(h->value_len == 0 || (h->value[0] != ' ' && h->value[h->value_len - 1] != '\t' &&
                                    h->value[h->value_len - 1] != ' ' && h->value[0] != '\t'),
              "value not trimmed");
        check(memchr(h->value, '\n', h->value_len) == NULL, "LF in a value");
    }
}

/* ==== Chunked body ==== */

struct dec { ssize_t rc; size_t out_len, rest_len; char *out, *rest; };

/* Decodes s[0..n) in pieces: `first` bytes, then `step` at a time. Each
 * piece is copied to a buffer of exactly its size. */
static void feed(const char *s, size_t n, size_t first, size_t step, struct dec *r)
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
        char *p = malloc(k ? k : 1);
        check(p != NULL, "malloc");
        memcpy(p, s + off, k);
        size_t len = k;
        ssize_t rc = http_decode_chunked(&d, p, &len);
        check(len <= k, "decoded more than the input");
        check(rc == HTTP_BAD || rc == HTTP_INCOMPLETE || (rc >= 0 && len + (size_t)rc <= k),
              "bad return");
        memcpy(r->out + r->out_len, p, len);
        r->out_len += len;
        off += k;
        if (rc >= 0) {
            check(memcmp(p + len, s + off - (size_t)rc, (size_t)rc) == 0, "leftover not moved");
            memcpy(r->rest, p + len, (size_t)rc);
            memcpy(r->rest + rc, s + off, n - off);
            r->rest_len = (size_t)rc + n - off;
        }
        free(p);
        if (rc != HTTP_INCOMPLETE) { r->rc = rc < 0 ? rc : (ssize_t)r->rest_len; return; }
    }
}

static void check_chunked(const char *s, size_t n, size_t cut)
{
    struct dec a, b;
    a.out = malloc(n + 1);
    a.rest = malloc(n + 1);
    b.out = malloc(n + 1);
    b.rest = malloc(n + 1);
    check(a.out && a.rest && b.out && b.rest, "malloc");
    feed(s, n, n, n, &a);
    if (a.rc >= 0)
        check((size_t)a.rc == a.rest_len && memcmp(a.rest, s + n - a.rest_len, a.rest_len) == 0,
              "leftover is not the end of the input");
    size_t firsts[3] = { 0, cut % (n + 1), n / 2 }, steps[3] = { 1, n, 3 };
    for (int i = 0; i < 3; i++) {
        feed(s, n, firsts[i], steps[i] ? steps[i] : 1, &b);
        check(a.rc == HTTP_BAD ? b.rc == HTTP_BAD : b.rc == (a.rc >= 0 ? (ssize_t)a.rest_len : a.rc),
              "verdict depends on how the input is split");
        if (a.rc == HTTP_BAD) continue;
        check(a.out_len == b.out_len && memcmp(a.out, b.out, a.out_len) == 0,
              "body depends on how the input is split");
        check(a.rest_len == b.rest_len && memcmp(a.rest, b.rest, a.rest_len) == 0,
              "leftover depends on how the input is split");
    }
    free(a.out);
    free(a.rest);
    free(b.out);
    free(b.rest);
}

/* ==== Entry point ==== */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct http_req q, q2;
    const char *s = (const char *)data;
    size_t cut = size ? data[0] * 131u + data[size - 1] : 0;
    int r = http_parse_request(s, size, 0, &q);

    check(r > 0 || r == HTTP_BAD || r == HTTP_INCOMPLETE || r == HTTP_TOO_MANY_HEADERS, "bad return");
    /* Prefixes: an answer other than INCOMPLETE is final. */
    size_t ks[3] = { size / 2, cut % (size + 1), r > 0 ? (size_t)r - 1 : size ? size - 1 : 0 };
    for (int i = 0; i < 3; i++) {
        size_t k = ks[i];
        int rk = http_parse_request(s, k, 0, &q2);
        check(rk == HTTP_INCOMPLETE || rk == r, "a prefix disagrees with the whole");
        if (r > 0) check((size_t)r > k ? rk == HTTP_INCOMPLETE : rk == r, "a prefix of a head");
        /* prev_len = k after an INCOMPLETE: same answer, or INCOMPLETE for an error. */
        if (rk == HTTP_INCOMPLETE && k > 0) {
            int rp = http_parse_request(s, size, k, &q2);
            check(r > 0 ? rp == r : rp == r || rp == HTTP_INCOMPLETE, "prev_len changed the answer");
        }
    }
    if (r > 0) {
        struct http_framing f;
        check_head(s, size, r, &q);
        check(http_parse_request(s, (size_t)r, 0, &q2) == r, "the head alone parses differently");
        if (http_framing(&q, &f) == 0) {
            check(!(f.chunked && f.has_length), "both chunked and a length");
            check(!f.keep_alive || q.minor_version == 1 || !f.chunked, "1.0 chunked kept alive");
            if (f.chunked) check_chunked(s + r, size - (size_t)r, cut);
        }
    }
    check_chunked(s, size, cut);
    return 0;
}

#include "fuzz_main.h"
