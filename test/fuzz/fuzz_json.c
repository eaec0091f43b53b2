/* fuzz_json.c -- fuzz target for the JSON reader and the string writer.
 *
 * Parses the input; when that succeeds, walks every token: strings are
 * unescaped, compared, re-serialized and parsed back to the same bytes;
 * numbers go through every span converter and the double writer, whose
 * output must read back as the same double; objects are searched by key.
 * Count mode must agree with the real parse.
 *
 * Two entry points (nanopb's tests/fuzztest): libFuzzer calls
 * LLVMFuzzerTestOneInput; built with -DFUZZ_MAIN, main() replays the files
 * named on the command line, or stdin, so gcc and CI can run the corpus:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc src/json.c src/buf.c test/fuzz/fuzz_json.c
 *   gcc -DFUZZ_MAIN -fsanitize=address,undefined -Isrc src/json.c src/buf.c test/fuzz/fuzz_json.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"

#define MAX_TOK 4096

static void check(int ok, const char *what) {
    if (!ok) { fprintf(stderr, "fuzz_json: %s\n", what); abort(); }
}

static void walk_string(const char *s, const struct json_tok *t, int obj, const struct json_tok *tok) {
    struct buf text = { 0 }, out = { 0 }, back = { 0 };
    struct json_tok t2[2];
    check(json_tok_string(s, t, &text) == 0, "json_tok_string failed");
    /* The decoded text, unless it holds a NUL, is what json_tok_eq matches. */
    if (text.len && !memchr(text.data, 0, text.len)) {
        check(buf_putc(&text, '\0') == 0, "buf_putc");
        text.len--;
        check(json_tok_eq(s, t, text.data), "json_tok_eq disagrees with json_tok_string");
        if (obj >= 0) check(json_obj_get(s, tok, obj, text.data) > obj, "json_obj_get misses a key");
    }
    /* Writer output parses back to the same bytes. */
    check(json_write_string(&out, text.data ? text.data : "", text.len) == 0, "json_write_string");
    check(json_parse(out.data, out.len, t2, 2, NULL) == 1, "written string does not parse");
    check(json_tok_string(out.data, &t2[0], &back) == 0, "json_tok_string on written");
    check(back.len == text.len && (text.len == 0 || memcmp(back.data, text.data, text.len) == 0),
          "string round trip differs");
    buf_free(&text);
    buf_free(&out);
    buf_free(&back);
}

static void walk_number(const char *s, const struct json_tok *t) {
    const char *p = s + t->start;
    size_t n = t->end - t->start;
    int64_t i;
    uint64_t u;
    double d, back;
    struct buf out = { 0 };
    check(json_span_double(p, n, &d) == 0, "json_span_double rejects a NUMBER token");
    if (json_span_int64(p, n, &i) == 0) check((double)i == d, "int64 and double disagree");
    if (json_span_uint64(p, n, &u) == 0) check((double)u == d, "uint64 and double disagree");
    check(json_write_double(&out, d) == 0, "json_write_double");
    if (d - d == 0) {                   /* finite: the text must read back exactly */
        check(json_span_double(out.data, out.len, &back) == 0, "written double is not a number");
        check(memcmp(&back, &d, sizeof d) == 0, "double round trip differs");
    }
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static struct json_tok tok[MAX_TOK];
    const char *s = (const char *)data;
    struct json_err err;
    int n = json_parse(s, size, tok, MAX_TOK, &err);
    int counted = json_parse(s, size, NULL, 0, NULL);
    if (n < 0) {
        check(err.msg[0] != '\0' && err.offset <= size, "error without message or offset");
        check(n == JSON_ERR_NOMEM ? counted > MAX_TOK : counted == n, "count mode disagrees");
        return 0;
    }
    check(counted == n, "count mode disagrees");
    /* key_of[i]: the object whose key token i is, or -1. */
    static int key_of[MAX_TOK];
    for (int i = 0; i < n; i++) key_of[i] = -1;
    for (int i = 0; i < n; i++) {
        const struct json_tok *t = &tok[i];
        check(t->start <= t->end && t->end <= size, "token out of bounds");
        check(t->next > (uint32_t)i && t->next <= (uint32_t)n, "bad next");
        switch (t->type) {
        case JSON_OBJECT: {
            uint32_t k = (uint32_t)i + 1;
            for (uint32_t m = 0; m < t->size; m++) {
                check(tok[k].type == JSON_STRING, "object key is not a string");
                key_of[k] = i;
                k = tok[k + 1].next;
            }
            check(k == t->next, "object members do not end at next");
            break;
        }
        case JSON_ARRAY: {
            uint32_t k = (uint32_t)i + 1;
            for (uint32_t m = 0; m < t->size; m++) k = tok[k].next;
            check(k == t->next, "array elements do not end at next");
            break;
        }
        case JSON_STRING: walk_string(s, t, key_of[i], tok); break;
        case JSON_NUMBER: walk_number(s, t); break;
        case JSON_TRUE: case JSON_FALSE: case JSON_NULL: break;
        default: check(0, "bad token type");
        }
    }
    /* Base64 decoding never fails on its own alphabet's output. */
    struct buf enc = { 0 }, dec = { 0 };
    char bad;
    check(json_write_base64(&enc, data, size) == 0, "json_write_base64");
    check(base64_decode(enc.data + 1, enc.len - 2, &dec, &bad) == 0, "base64_decode");
    check(dec.len == size && (size == 0 || memcmp(dec.data, data, size) == 0), "base64 round trip");
    buf_free(&enc);
    buf_free(&dec);
    return 0;
}

#include "fuzz_main.h"
