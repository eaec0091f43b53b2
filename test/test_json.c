/* test_json.c -- unit tests for src/json.c.
 *
 * Table cases carry __LINE__ so a failure names the case. Parser inputs are
 * copied to end exactly at a PROT_NONE page (picohttpparser's trick), so a
 * read one byte past the input faults even without ASan. The expected double
 * strings were produced by rapidjson 1.1.0's Writer with kWriteNanAndInfFlag,
 * which is how Mesos prints them. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "json.h"
#include "test.h"

#define S(lit) lit, sizeof(lit) - 1     /* a literal with its length; may hold NULs */

/* ==== Guard page ==== */

static char *guard;
static size_t page;

/* Returns a copy of s whose last byte is the last readable byte before a
 * PROT_NONE page. Inputs longer than a page are returned as they are. */
static const char *at_guard(const char *s, size_t n) {
    if (!guard) {
        page = (size_t)sysconf(_SC_PAGESIZE);
        guard = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (guard == MAP_FAILED) { perror("mmap"); exit(2); }
        mprotect(guard, page, PROT_NONE);
        mprotect(guard + 2 * page, page, PROT_NONE);
    }
    if (n > page) return s;
    char *p = guard + 2 * page - n;
    memcpy(p, s, n);
    return p;
}

static struct json_tok toks[512];

static int parse(const char *s, size_t n, struct json_err *err) {
    return json_parse(at_guard(s, n), n, toks, sizeof toks / sizeof toks[0], err);
}

/* ==== Reader: accepted and rejected documents ==== */

static int test_valid(void) {
    static const struct { int line; const char *s; size_t n; int ntok; } cases[] = {
        { __LINE__, S("0"), 1 },
        { __LINE__, S("-0"), 1 },
        { __LINE__, S("-0.0e+0"), 1 },
        { __LINE__, S("1E5"), 1 },
        { __LINE__, S("1e-5"), 1 },
        { __LINE__, S("123.456e789"), 1 },        /* the grammar has no range */
        { __LINE__, S("-9223372036854775809"), 1 },
        { __LINE__, S("\"\""), 1 },
        { __LINE__, S("true"), 1 },
        { __LINE__, S("false"), 1 },
        { __LINE__, S("null"), 1 },
        { __LINE__, S(" [ ] "), 1 },
        { __LINE__, S("{}"), 1 },
        { __LINE__, S("[[]]"), 2 },
        { __LINE__, S("{\"a\":1}"), 3 },
        { __LINE__, S("{\"\":\"\"}"), 3 },
        { __LINE__, S("[1,\"a\",true,false,null,{},[]]"), 8 },
        { __LINE__, S("{\"a\":{\"b\":{\"c\":[]}}}"), 7 },
        { __LINE__, S("[0,-1,2.5e3,0.5,1E+2]"), 6 },
        { __LINE__, S(" \t\r\n1\n"), 1 },
        { __LINE__, S("{ \"a\" : [ 1 , 2 ] , \"b\" : { } }"), 7 },
        { __LINE__, S("\"\\u0000\""), 1 },
        { __LINE__, S("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), 1 },
        { __LINE__, S("\"\\uD83D\\uDE00\""), 1 },
        { __LINE__, S("\"\\udbff\\udfff\""), 1 },
        { __LINE__, S("\"\\uFFFF\\uabcd\""), 1 },
        { __LINE__, S("\"\x7f/\""), 1 },
        /* UTF-8 at every length boundary, and around the surrogate gap */
        { __LINE__, S("\"\xC2\x80\""), 1 },              /* U+0080 */
        { __LINE__, S("\"\xDF\xBF\""), 1 },              /* U+07FF */
        { __LINE__, S("\"\xE0\xA0\x80\""), 1 },          /* U+0800 */
        { __LINE__, S("\"\xED\x9F\xBF\""), 1 },          /* U+D7FF */
        { __LINE__, S("\"\xEE\x80\x80\""), 1 },          /* U+E000 */
        { __LINE__, S("\"\xEF\xBF\xBF\""), 1 },          /* U+FFFF */
        { __LINE__, S("\"\xF0\x90\x80\x80\""), 1 },      /* U+10000 */
        { __LINE__, S("\"\xF4\x8F\xBF\xBF\""), 1 },      /* U+10FFFF */
        { __LINE__, S("\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\""), 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct json_err err;
        int r = parse(cases[i].s, cases[i].n, &err);
        if (r != cases[i].ntok) printf("case at line %d: %s\n", cases[i].line, err.msg);
        CHECK_EQ(r, cases[i].ntok);
        /* Count mode agrees. */
        CHECK_EQ(json_parse(cases[i].s, cases[i].n, NULL, 0, NULL), cases[i].ntok);
    }
    return 0;
}

static int test_invalid(void) {
    static const struct { int line; const char *s; size_t n; int code; } cases[] = {
        { __LINE__, S(""), JSON_ERR_SYNTAX },
        { __LINE__, S(" \n"), JSON_ERR_SYNTAX },
        { __LINE__, S("["), JSON_ERR_SYNTAX },
        { __LINE__, S("]"), JSON_ERR_SYNTAX },
        { __LINE__, S("{"), JSON_ERR_SYNTAX },
        { __LINE__, S("}"), JSON_ERR_SYNTAX },
        { __LINE__, S("[1,]"), JSON_ERR_SYNTAX },
        { __LINE__, S("[,1]"), JSON_ERR_SYNTAX },
        { __LINE__, S("[1 2]"), JSON_ERR_SYNTAX },
        { __LINE__, S("[1,,2]"), JSON_ERR_SYNTAX },
        { __LINE__, S("{\"a\":1,}"), JSON_ERR_SYNTAX },
        { __LINE__, S("{\"a\"}"), JSON_ERR_SYNTAX },
        { __LINE__, S("{\"a\" 1}"), JSON_ERR_SYNTAX },
        { __LINE__, S("{\"a\":}"), JSON_ERR_SYNTAX },
        { __LINE__, S("{\"a\"::1}"), JSON_ERR_SYNTAX },
        { __LINE__, S("{1:2}"), JSON_ERR_SYNTAX },
        { __LINE__, S("{a:1}"), JSON_ERR_SYNTAX },
        { __LINE__, S("{,}"), JSON_ERR_SYNTAX },
        { __LINE__, S("['a']"), JSON_ERR_SYNTAX },
        { __LINE__, S("[}"), JSON_ERR_SYNTAX },
        { __LINE__, S("{]"), JSON_ERR_SYNTAX },
        { __LINE__, S("{\"a\":1]"), JSON_ERR_SYNTAX },
        { __LINE__, S("[1}"), JSON_ERR_SYNTAX },
        /* numbers */
        { __LINE__, S("01"), JSON_ERR_SYNTAX },
        { __LINE__, S("-01"), JSON_ERR_SYNTAX },
        { __LINE__, S("[00]"), JSON_ERR_SYNTAX },
        { __LINE__, S("+1"), JSON_ERR_SYNTAX },
        { __LINE__, S(".5"), JSON_ERR_SYNTAX },
        { __LINE__, S("1."), JSON_ERR_SYNTAX },
        { __LINE__, S("1.e5"), JSON_ERR_SYNTAX },
        { __LINE__, S("[1.]"), JSON_ERR_SYNTAX },
        { __LINE__, S("1e"), JSON_ERR_SYNTAX },
        { __LINE__, S("1e+"), JSON_ERR_SYNTAX },
        { __LINE__, S("1E-"), JSON_ERR_SYNTAX },
        { __LINE__, S("-"), JSON_ERR_SYNTAX },
        { __LINE__, S("--1"), JSON_ERR_SYNTAX },
        { __LINE__, S("- 1"), JSON_ERR_SYNTAX },
        { __LINE__, S("-a"), JSON_ERR_SYNTAX },
        { __LINE__, S("0x10"), JSON_ERR_TRAILING },
        { __LINE__, S("[0x10]"), JSON_ERR_SYNTAX },
        { __LINE__, S("NaN"), JSON_ERR_SYNTAX },
        { __LINE__, S("Infinity"), JSON_ERR_SYNTAX },
        { __LINE__, S("-Infinity"), JSON_ERR_SYNTAX },
        { __LINE__, S("[NaN]"), JSON_ERR_SYNTAX },
        { __LINE__, S("1.5.3"), JSON_ERR_TRAILING },
        /* literals */
        { __LINE__, S("tru"), JSON_ERR_SYNTAX },
        { __LINE__, S("nul"), JSON_ERR_SYNTAX },
        { __LINE__, S("True"), JSON_ERR_SYNTAX },
        { __LINE__, S("nulL"), JSON_ERR_SYNTAX },
        { __LINE__, S("[fals]"), JSON_ERR_SYNTAX },
        { __LINE__, S("undefined"), JSON_ERR_SYNTAX },
        /* trailing content and whitespace RFC 8259 does not have */
        { __LINE__, S("1 2"), JSON_ERR_TRAILING },
        { __LINE__, S("{} {}"), JSON_ERR_TRAILING },
        { __LINE__, S("[]]"), JSON_ERR_TRAILING },
        { __LINE__, S("nullx"), JSON_ERR_TRAILING },
        { __LINE__, S("\"a\"\"b\""), JSON_ERR_TRAILING },
        { __LINE__, S("{},"), JSON_ERR_TRAILING },
        { __LINE__, S("1\v"), JSON_ERR_TRAILING },
        { __LINE__, S("1\0"), JSON_ERR_TRAILING },
        { __LINE__, S("\f1"), JSON_ERR_SYNTAX },
        { __LINE__, S("\xC2\xA0" "1"), JSON_ERR_SYNTAX },     /* U+00A0 is not JSON whitespace */
        { __LINE__, S("\xEF\xBB\xBF{}"), JSON_ERR_SYNTAX },   /* nor is a byte order mark */
        /* strings and escapes */
        { __LINE__, S("\"abc"), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\"), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\x\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\U0041\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\ \""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\0\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\'\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\\xC3\xA9\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\u12\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\u12G4\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\u-123\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\u"), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\uD800\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\uDBFF\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\uDC00\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\uDFFF\\uD800\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\uD800\\u0041\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\uD800\\uD800\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\uD800\\n\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\uD800x\\uDC00\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\uD800\\uDC0\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\\uD800\\"), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\x01\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\x1F\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\n\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\t\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\0\""), JSON_ERR_SYNTAX },
        { __LINE__, S("'a'"), JSON_ERR_SYNTAX },
        /* UTF-8 */
        { __LINE__, S("\"\x80\""), JSON_ERR_SYNTAX },               /* lone continuation */
        { __LINE__, S("\"\xBF\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\xC0\x80\""), JSON_ERR_SYNTAX },           /* overlong NUL */
        { __LINE__, S("\"\xC1\xBF\""), JSON_ERR_SYNTAX },           /* overlong U+007F */
        { __LINE__, S("\"\xE0\x9F\xBF\""), JSON_ERR_SYNTAX },       /* overlong U+07FF */
        { __LINE__, S("\"\xE0\x80\xAF\""), JSON_ERR_SYNTAX },       /* overlong '/' */
        { __LINE__, S("\"\xF0\x8F\xBF\xBF\""), JSON_ERR_SYNTAX },   /* overlong U+FFFF */
        { __LINE__, S("\"\xED\xA0\x80\""), JSON_ERR_SYNTAX },       /* U+D800 encoded */
        { __LINE__, S("\"\xED\xBF\xBF\""), JSON_ERR_SYNTAX },       /* U+DFFF encoded */
        { __LINE__, S("\"\xED\xA0\xBD\xED\xB8\x80\""), JSON_ERR_SYNTAX }, /* CESU-8 pair */
        { __LINE__, S("\"\xF4\x90\x80\x80\""), JSON_ERR_SYNTAX },   /* U+110000 */
        { __LINE__, S("\"\xF5\x80\x80\x80\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\xF8\x88\x80\x80\x80\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\xFE\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\xFF\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\xC2\""), JSON_ERR_SYNTAX },               /* truncated */
        { __LINE__, S("\"\xC2"), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\xE2\x82\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\xE2\x82"), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\xF0\x9F\x98\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\xC2\x41\""), JSON_ERR_SYNTAX },           /* bad continuation */
        { __LINE__, S("\"\xE2\x28\xA1\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\xE2\x82\x28\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\xF0\x90\x28\xBC\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\"\xF0\x90\x80\xC0\""), JSON_ERR_SYNTAX },
        { __LINE__, S("\xC3\xA9"), JSON_ERR_SYNTAX },                /* outside a string */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct json_err err;
        int r = parse(cases[i].s, cases[i].n, &err);
        if (r != cases[i].code) printf("case at line %d: got %d (%s)\n", cases[i].line, r, err.msg);
        CHECK_EQ(r, cases[i].code);
        CHECK(err.msg[0] != '\0');
        CHECK(err.offset <= cases[i].n);
        CHECK_EQ(json_parse(cases[i].s, cases[i].n, NULL, 0, NULL), cases[i].code);
    }
    return 0;
}

static int test_error_messages(void) {
    static const struct { int line; const char *s; size_t n; size_t off; const char *msg; } cases[] = {
        { __LINE__, S("[1,x]"), 3, "unexpected character 'x' at offset 3" },
        { __LINE__, S("["), 1, "unexpected end of input at offset 1" },
        { __LINE__, S("\"abc"), 4, "unterminated string starting at offset 0" },
        { __LINE__, S("[\"\\u00"), 6, "unterminated string starting at offset 1" },
        { __LINE__, S("\"\xC0\x80\""), 1, "invalid UTF-8 at offset 1" },
        { __LINE__, S("\"ab\ncd\""), 3, "control character 0x0A in string at offset 3" },
        { __LINE__, S("\"\\q\""), 1, "invalid escape '\\q' at offset 1" },
        { __LINE__, S("\"\\uZZZZ\""), 1, "invalid \\u escape at offset 1" },
        { __LINE__, S("\"\\ud800\""), 1, "lone surrogate \\uD800 at offset 1" },
        { __LINE__, S("[1.]"), 1, "invalid number at offset 1" },
        { __LINE__, S("007"), 0, "invalid number (leading zero) at offset 0" },
        { __LINE__, S("{} x"), 3, "trailing characters at offset 3" },
        { __LINE__, S("[\x01]"), 1, "unexpected byte 0x01 at offset 1" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct json_err err;
        CHECK(parse(cases[i].s, cases[i].n, &err) < 0);
        if (err.offset != cases[i].off || strcmp(err.msg, cases[i].msg) != 0)
            printf("case at line %d\n", cases[i].line);
        CHECK_EQ(err.offset, cases[i].off);
        CHECK_STR(err.msg, cases[i].msg);
    }
    /* err may be NULL */
    CHECK_EQ(json_parse("[", 1, toks, 4, NULL), JSON_ERR_SYNTAX);
    return 0;
}

/* ==== Reader: structure ==== */

#define CHECK_TOK(i, ty, text, sz, nx) do { \
    CHECK_EQ(toks[i].type, ty); CHECK_MEM(s + toks[i].start, toks[i].end - toks[i].start, text); \
    CHECK_EQ(toks[i].size, sz); CHECK_EQ(toks[i].next, nx); } while (0)

static int test_layout(void) {
    const char doc[] = " {\"a\":[1,2,{\"b\":null}],\"c\":\"x\\n\",\"d\":{}} ";
    const char *s = at_guard(doc, sizeof doc - 1);
    CHECK_EQ(json_parse(s, sizeof doc - 1, toks, 512, NULL), 12);
    CHECK_TOK(0, JSON_OBJECT, "{\"a\":[1,2,{\"b\":null}],\"c\":\"x\\n\",\"d\":{}}", 3, 12);
    CHECK_TOK(1, JSON_STRING, "a", 0, 2);
    CHECK_TOK(2, JSON_ARRAY, "[1,2,{\"b\":null}]", 3, 8);
    CHECK_TOK(3, JSON_NUMBER, "1", 0, 4);
    CHECK_TOK(4, JSON_NUMBER, "2", 0, 5);
    CHECK_TOK(5, JSON_OBJECT, "{\"b\":null}", 1, 8);
    CHECK_TOK(6, JSON_STRING, "b", 0, 7);
    CHECK_TOK(7, JSON_NULL, "null", 0, 8);
    CHECK_TOK(8, JSON_STRING, "c", 0, 9);
    CHECK_TOK(9, JSON_STRING, "x\\n", 0, 10);
    CHECK_TOK(10, JSON_STRING, "d", 0, 11);
    CHECK_TOK(11, JSON_OBJECT, "{}", 0, 12);

    const char doc2[] = "[true,false,-1.5e3,\"\"]";
    s = at_guard(doc2, sizeof doc2 - 1);
    CHECK_EQ(json_parse(s, sizeof doc2 - 1, toks, 512, NULL), 5);
    CHECK_TOK(0, JSON_ARRAY, doc2, 4, 5);
    CHECK_TOK(1, JSON_TRUE, "true", 0, 2);
    CHECK_TOK(2, JSON_FALSE, "false", 0, 3);
    CHECK_TOK(3, JSON_NUMBER, "-1.5e3", 0, 4);
    CHECK_TOK(4, JSON_STRING, "", 0, 5);
    return 0;
}

/* jsmn's test_partial: every proper prefix of a document fails (nothing in
 * them is a complete value), and so does every prefix one byte at a time. */
static int test_prefixes(void) {
    static const char *docs[] = {
        "{\"a\":[1,-2.5e+3,true,false,null],\"b\":{\"c\":\"d\\u00e9\\uD83D\\uDE00\\n\"}}",
        "[\"\xF0\x9F\x98\x80\xC3\xA9\",{},[],[[0]],{\"\":0.5}]",
        " { \"type\" : \"GET_STATE\" , \"x\" : [ 1 , 2 ] } ",
    };
    for (size_t d = 0; d < sizeof docs / sizeof docs[0]; d++) {
        size_t n = strlen(docs[d]), end = n;
        CHECK(json_parse(at_guard(docs[d], n), n, toks, 512, NULL) > 0);
        while (docs[d][end - 1] == ' ') end--;          /* trailing blanks end a complete value */
        for (size_t k = 0; k < end; k++) {
            int r = json_parse(at_guard(docs[d], k), k, toks, 512, NULL);
            if (r != JSON_ERR_SYNTAX) printf("doc %zu prefix %zu: %d\n", d, k, r);
            CHECK_EQ(r, JSON_ERR_SYNTAX);
            CHECK_EQ(json_parse(at_guard(docs[d], k), k, NULL, 0, NULL), JSON_ERR_SYNTAX);
        }
    }
    return 0;
}

static int test_depth(void) {
    char doc[2 * (JSON_MAX_DEPTH + 1) + 1];
    static struct json_tok big[JSON_MAX_DEPTH + 2];
    for (int depth = JSON_MAX_DEPTH - 1; depth <= JSON_MAX_DEPTH + 1; depth++) {
        int n = 0;
        for (int i = 0; i < depth; i++) doc[n++] = '[';
        for (int i = 0; i < depth; i++) doc[n++] = ']';
        int want = depth <= JSON_MAX_DEPTH ? depth : JSON_ERR_DEPTH;
        CHECK_EQ(json_parse(at_guard(doc, (size_t)n), (size_t)n, big, JSON_MAX_DEPTH + 2, NULL), want);
        CHECK_EQ(json_parse(doc, (size_t)n, NULL, 0, NULL), want);
    }
    /* Only open containers count: 200 deep, then siblings, then 200 again. */
    char wide[4 * JSON_MAX_DEPTH + 8];
    int n = 0;
    wide[n++] = '[';
    for (int i = 1; i < JSON_MAX_DEPTH; i++) wide[n++] = '[';
    for (int i = 1; i < JSON_MAX_DEPTH; i++) wide[n++] = ']';
    wide[n++] = ',';
    for (int i = 1; i < JSON_MAX_DEPTH; i++) wide[n++] = '[';
    for (int i = 1; i < JSON_MAX_DEPTH; i++) wide[n++] = ']';
    wide[n++] = ']';
    CHECK_EQ(json_parse(wide, (size_t)n, NULL, 0, NULL), 2 * (JSON_MAX_DEPTH - 1) + 1);
    /* Objects nest too: {"a":{"a":...1...}} */
    struct buf b = { 0 };
    for (int i = 0; i < JSON_MAX_DEPTH + 1; i++) CHECK_EQ(buf_puts(&b, "{\"a\":"), 0);
    CHECK_EQ(buf_puts(&b, "1"), 0);
    for (int i = 0; i < JSON_MAX_DEPTH + 1; i++) CHECK_EQ(buf_putc(&b, '}'), 0);
    struct json_err err;
    CHECK_EQ(json_parse(b.data, b.len, NULL, 0, &err), JSON_ERR_DEPTH);
    CHECK_STR(err.msg, "nesting deeper than 200 at offset 1000");
    CHECK_EQ(json_parse(b.data + 5, b.len - 6, NULL, 0, NULL), 2 * JSON_MAX_DEPTH + 1);
    buf_free(&b);
    return 0;
}

static int test_count_and_nomem(void) {
    const char doc[] = "{\"a\":[1,2,3],\"b\":\"c\"}";
    size_t n = sizeof doc - 1;
    struct json_err err;
    CHECK_EQ(json_parse(doc, n, NULL, 0, NULL), 8);
    CHECK_EQ(json_parse(doc, n, toks, 8, NULL), 8);
    for (size_t cap = 0; cap < 8; cap++) {
        CHECK_EQ(json_parse(at_guard(doc, n), n, toks, cap, &err), JSON_ERR_NOMEM);
        CHECK(strstr(err.msg, "tokens") != NULL);
    }
    /* A syntax error found before the array fills is still a syntax error. */
    CHECK_EQ(json_parse("[x,1,2]", 7, toks, 1, NULL), JSON_ERR_SYNTAX);
#if SIZE_MAX > UINT32_MAX
    /* The length check comes before any byte is read. */
    CHECK_EQ(json_parse("1", (size_t)UINT32_MAX + 1, toks, 1, &err), JSON_ERR_SYNTAX);
    CHECK(strstr(err.msg, "longer") != NULL);
#endif
    return 0;
}

/* ==== Token helpers ==== */

static int test_tok_string(void) {
    static const struct { int line; const char *json; size_t n; const char *want; size_t want_n; } cases[] = {
        { __LINE__, S("\"plain\""), S("plain") },
        { __LINE__, S("\"\""), S("") },
        { __LINE__, S("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), S("\"\\/\b\f\n\r\t") },
        { __LINE__, S("\"a\\u0000b\""), S("a\0b") },
        { __LINE__, S("\"\\u0041\\u00e9\\u00E9\""), S("A\xC3\xA9\xC3\xA9") },
        { __LINE__, S("\"\\u07FF\\u0800\\uFFFF\""), S("\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF") },
        { __LINE__, S("\"\\uD83D\\uDE00\""), S("\xF0\x9F\x98\x80") },
        { __LINE__, S("\"\\ud800\\udc00\\uDBFF\\uDFFF\""), S("\xF0\x90\x80\x80\xF4\x8F\xBF\xBF") },
        { __LINE__, S("\"x\xC3\xA9\\ny\""), S("x\xC3\xA9\ny") },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf b = { 0 };
        const char *s = at_guard(cases[i].json, cases[i].n);
        CHECK_EQ(buf_reserve(&b, 1), 0);                  /* data != NULL for memcmp */
        if (json_parse(s, cases[i].n, toks, 4, NULL) != 1) printf("case at line %d\n", cases[i].line);
        CHECK_EQ(json_parse(s, cases[i].n, toks, 4, NULL), 1);
        CHECK_EQ(json_tok_string(s, &toks[0], &b), 0);
        if (b.len != cases[i].want_n || memcmp(b.data, cases[i].want, b.len) != 0)
            printf("case at line %d\n", cases[i].line);
        CHECK_EQ(b.len, cases[i].want_n);
        CHECK(memcmp(b.data, cases[i].want, b.len) == 0);
        /* json_tok_string appends; json_tok_eq agrees where the text has no NUL. */
        CHECK_EQ(json_tok_string(s, &toks[0], &b), 0);
        CHECK_EQ(b.len, 2 * cases[i].want_n);
        if (!memchr(cases[i].want, 0, cases[i].want_n)) CHECK(json_tok_eq(s, &toks[0], cases[i].want));
        buf_free(&b);
    }
    /* A buffer at its max leaves nothing behind. */
    struct buf small = { .max = 3 };
    CHECK_EQ(json_parse("\"ab\\ncd\"", 8, toks, 4, NULL), 1);
    CHECK_EQ(json_tok_string("\"ab\\ncd\"", &toks[0], &small), -1);
    CHECK_EQ(small.len, 0);
    buf_free(&small);
    return 0;
}

static int test_tok_eq(void) {
    const char *s = "[\"abc\",\"a\\u0062c\",\"ab\",\"\",1,\"\\u00e9\"]";
    CHECK_EQ(json_parse(s, strlen(s), toks, 16, NULL), 7);
    CHECK(json_tok_eq(s, &toks[1], "abc"));
    CHECK(!json_tok_eq(s, &toks[1], "ab"));
    CHECK(!json_tok_eq(s, &toks[1], "abcd"));
    CHECK(json_tok_eq(s, &toks[2], "abc"));
    CHECK(!json_tok_eq(s, &toks[2], "abd"));
    CHECK(!json_tok_eq(s, &toks[2], "abcd"));
    CHECK(!json_tok_eq(s, &toks[2], "ab"));
    CHECK(json_tok_eq(s, &toks[3], "ab"));
    CHECK(json_tok_eq(s, &toks[4], ""));
    CHECK(!json_tok_eq(s, &toks[4], "a"));
    CHECK(!json_tok_eq(s, &toks[5], "1"));            /* not a string */
    CHECK(json_tok_eq(s, &toks[6], "\xC3\xA9"));
    CHECK(!json_tok_eq(s, &toks[6], "\xC3"));
    return 0;
}

static int test_obj_get(void) {
    const char *s = "{\"a\":1,\"b\":{\"a\":2},\"c\":[1,{\"a\":3}],\"a\":4,\"\\u0064\":5,\"e\":{}}";
    int n = json_parse(s, strlen(s), toks, 64, NULL);
    CHECK(n > 0);
    int v = json_obj_get(s, toks, 0, "a");                 /* last duplicate wins */
    CHECK(v > 0);
    CHECK_MEM(s + toks[v].start, toks[v].end - toks[v].start, "4");
    int b = json_obj_get(s, toks, 0, "b");
    CHECK_EQ(toks[b].type, JSON_OBJECT);
    v = json_obj_get(s, toks, b, "a");
    CHECK_MEM(s + toks[v].start, toks[v].end - toks[v].start, "2");
    v = json_obj_get(s, toks, 0, "d");                     /* escaped key */
    CHECK_MEM(s + toks[v].start, toks[v].end - toks[v].start, "5");
    int e = json_obj_get(s, toks, 0, "e");
    CHECK_EQ(toks[e].type, JSON_OBJECT);
    CHECK_EQ(json_obj_get(s, toks, e, "a"), -1);           /* empty object */
    CHECK_EQ(json_obj_get(s, toks, 0, "x"), -1);
    CHECK_EQ(json_obj_get(s, toks, 0, "A"), -1);           /* case-sensitive */
    CHECK_EQ(json_obj_get(s, toks, json_obj_get(s, toks, 0, "c"), "a"), -1);  /* an array */
    CHECK_EQ(json_obj_get(s, toks, -1, "a"), -1);
    return 0;
}

static int test_span_int(void) {
    static const struct { int line; const char *s; int ok; int64_t v; } i64[] = {
        { __LINE__, "0", 0, 0 },
        { __LINE__, "-0", 0, 0 },
        { __LINE__, "42", 0, 42 },
        { __LINE__, "-42", 0, -42 },
        { __LINE__, "9223372036854775807", 0, INT64_MAX },
        { __LINE__, "-9223372036854775808", 0, INT64_MIN },
        { __LINE__, "9223372036854775808", -1, 0 },
        { __LINE__, "-9223372036854775809", -1, 0 },
        { __LINE__, "18446744073709551616", -1, 0 },
        { __LINE__, "99999999999999999999999", -1, 0 },
        { __LINE__, "1.0", -1, 0 },
        { __LINE__, "1e3", -1, 0 },
        { __LINE__, "01", -1, 0 },
        { __LINE__, "-", -1, 0 },
        { __LINE__, "", -1, 0 },
        { __LINE__, "+1", -1, 0 },
        { __LINE__, " 1", -1, 0 },
        { __LINE__, "1 ", -1, 0 },
        { __LINE__, "0x1", -1, 0 },
    };
    for (size_t i = 0; i < sizeof i64 / sizeof i64[0]; i++) {
        int64_t v = 7;
        int r = json_span_int64(i64[i].s, strlen(i64[i].s), &v);
        if (r != i64[i].ok || (r == 0 && v != i64[i].v)) printf("case at line %d\n", i64[i].line);
        CHECK_EQ(r, i64[i].ok);
        if (r == 0) CHECK(v == i64[i].v);
    }
    static const struct { int line; const char *s; int ok; uint64_t v; } u64[] = {
        { __LINE__, "0", 0, 0 },
        { __LINE__, "-0", 0, 0 },
        { __LINE__, "18446744073709551615", 0, UINT64_MAX },
        { __LINE__, "9223372036854775808", 0, (uint64_t)INT64_MAX + 1 },
        { __LINE__, "18446744073709551616", -1, 0 },
        { __LINE__, "-1", -1, 0 },
        { __LINE__, "1.5", -1, 0 },
        { __LINE__, "00", -1, 0 },
    };
    for (size_t i = 0; i < sizeof u64 / sizeof u64[0]; i++) {
        uint64_t v = 7;
        int r = json_span_uint64(u64[i].s, strlen(u64[i].s), &v);
        if (r != u64[i].ok || (r == 0 && v != u64[i].v)) printf("case at line %d\n", u64[i].line);
        CHECK_EQ(r, u64[i].ok);
        if (r == 0) CHECK(v == u64[i].v);
    }
    /* The span is bounded by n, not by a NUL. */
    int64_t v;
    CHECK_EQ(json_span_int64("123456", 3, &v), 0);
    CHECK_EQ(v, 123);
    return 0;
}

static int test_span_double(void) {
    static const struct { int line; const char *s; int ok; double v; } cases[] = {
        { __LINE__, "0", 0, 0.0 },
        { __LINE__, "-0.0", 0, -0.0 },
        { __LINE__, "0.1", 0, 0.1 },
        { __LINE__, "1e3", 0, 1000.0 },
        { __LINE__, "1E+3", 0, 1000.0 },
        { __LINE__, "2.5e-3", 0, 0.0025 },
        { __LINE__, "9223372036854775808", 0, 9223372036854775808.0 },
        { __LINE__, "-9223372036854775809", 0, -9223372036854775808.0 },
        { __LINE__, "1.7976931348623157e308", 0, DBL_MAX },
        { __LINE__, "5e-324", 0, 5e-324 },
        { __LINE__, "1e-400", 0, 0.0 },
        { __LINE__, "1e400", 0, HUGE_VAL },
        { __LINE__, "-1e400", 0, -HUGE_VAL },
        /* longer than the stack copy */
        { __LINE__, "0.1000000000000000000000000000000000000000000000000000000000000000000000000000001", 0, 0.1 },
        { __LINE__, "1.", -1, 0 },
        { __LINE__, ".5", -1, 0 },
        { __LINE__, "+1", -1, 0 },
        { __LINE__, "01", -1, 0 },
        { __LINE__, "0x10", -1, 0 },
        { __LINE__, "inf", -1, 0 },
        { __LINE__, "NaN", -1, 0 },
        { __LINE__, "Infinity", -1, 0 },
        { __LINE__, "1e", -1, 0 },
        { __LINE__, "1,5", -1, 0 },
        { __LINE__, "", -1, 0 },
        { __LINE__, " 1", -1, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v = 7;
        int r = json_span_double(cases[i].s, strlen(cases[i].s), &v);
        if (r != cases[i].ok || (r == 0 && memcmp(&v, &cases[i].v, sizeof v) != 0))
            printf("case at line %d: %.17g\n", cases[i].line, v);
        CHECK_EQ(r, cases[i].ok);
        if (r == 0) CHECK(memcmp(&v, &cases[i].v, sizeof v) == 0);   /* bit-exact: -0.0 too */
    }
    double v;
    CHECK_EQ(json_span_double("1.5xyz", 3, &v), 0);
    CHECK(v == 1.5);
    return 0;
}

/* ==== Writer ==== */

static int test_write_string(void) {
    static const struct { int line; const char *in; size_t n; const char *want; } cases[] = {
        { __LINE__, S(""), "\"\"" },
        { __LINE__, S("hello"), "\"hello\"" },
        { __LINE__, S("a\"b\\c"), "\"a\\\"b\\\\c\"" },
        { __LINE__, S("/path/x"), "\"/path/x\"" },
        { __LINE__, S("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"" },
        { __LINE__, S("\x01\x1f\x0b\x7f"), "\"\\u0001\\u001F\\u000B\x7f\"" },
        { __LINE__, S("a\0b"), "\"a\\u0000b\"" },
        { __LINE__, S("caf\xC3\xA9 \xF0\x9F\x98\x80"), "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"" },
        { __LINE__, S("\xFF\xC0"), "\"\xFF\xC0\"" },             /* bytes go out as given */
        { __LINE__, S("\x1e\x1a\x10"), "\"\\u001E\\u001A\\u0010\"" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf b = { 0 };
        CHECK_EQ(json_write_string(&b, cases[i].in, cases[i].n), 0);
        if (b.len != strlen(cases[i].want) || memcmp(b.data, cases[i].want, b.len) != 0)
            printf("case at line %d\n", cases[i].line);
        CHECK_MEM(b.data, b.len, cases[i].want);
        buf_free(&b);
    }
    /* Round trip through the reader for every single byte below 0x80. */
    for (int c = 0; c < 0x80; c++) {
        struct buf b = { 0 }, back = { 0 };
        char in[3] = { 'x', (char)c, 'y' };
        CHECK_EQ(json_write_string(&b, in, 3), 0);
        CHECK_EQ(json_parse(b.data, b.len, toks, 2, NULL), 1);
        CHECK_EQ(json_tok_string(b.data, &toks[0], &back), 0);
        CHECK_EQ(back.len, 3);
        CHECK(memcmp(back.data, in, 3) == 0);
        buf_free(&b);
        buf_free(&back);
    }
    /* At the buffer's max: -1, nothing appended. */
    struct buf b = { .max = 8 };
    CHECK_EQ(buf_puts(&b, "ab"), 0);
    CHECK_EQ(json_write_string(&b, "\n\n\n", 3), -1);
    CHECK_EQ(b.len, 2);
    CHECK_EQ(json_write_string(&b, "abcd", 4), 0);
    CHECK_MEM(b.data, b.len, "ab\"abcd\"");
    buf_free(&b);
    return 0;
}

static int test_write_int(void) {
    static const struct { int line; int64_t v; const char *want; } i64[] = {
        { __LINE__, 0, "0" }, { __LINE__, 7, "7" }, { __LINE__, -7, "-7" },
        { __LINE__, 1470820172046531840, "1470820172046531840" },
        { __LINE__, INT64_MAX, "9223372036854775807" },
        { __LINE__, INT64_MIN, "-9223372036854775808" },
    };
    for (size_t i = 0; i < sizeof i64 / sizeof i64[0]; i++) {
        struct buf b = { 0 };
        CHECK_EQ(json_write_int64(&b, i64[i].v), 0);
        CHECK_MEM(b.data, b.len, i64[i].want);
        buf_free(&b);
    }
    struct buf b = { 0 };
    CHECK_EQ(json_write_uint64(&b, UINT64_MAX), 0);
    CHECK_EQ(json_write_uint64(&b, 0), 0);
    CHECK_MEM(b.data, b.len, "184467440737095516150");
    buf_free(&b);
    struct buf small = { .max = 3 };
    CHECK_EQ(json_write_int64(&small, -1234), -1);
    CHECK_EQ(small.len, 0);
    CHECK_EQ(json_write_int64(&small, -12), 0);
    CHECK_MEM(small.data, small.len, "-12");
    buf_free(&small);
    return 0;
}

static int test_write_double(void) {
    static const struct { int line; double v; const char *want; } cases[] = {
        { __LINE__, 0.0, "0.0" },
        { __LINE__, -0.0, "-0.0" },
        { __LINE__, 1.0, "1.0" },
        { __LINE__, 15.0, "15.0" },
        { __LINE__, -3.0, "-3.0" },
        { __LINE__, 100.0, "100.0" },
        { __LINE__, 1466810317.0, "1466810317.0" },
        { __LINE__, 0.5, "0.5" },
        { __LINE__, 2.5, "2.5" },
        { __LINE__, 0.1, "0.1" },
        { __LINE__, 0.3, "0.3" },
        { __LINE__, 4.35, "4.35" },
        { __LINE__, 0.05, "0.05" },
        { __LINE__, 0.0001, "0.0001" },
        { __LINE__, 99999.9999, "99999.9999" },
        { __LINE__, 999999999.0, "999999999.0" },
        { __LINE__, 1234567.891, "1234567.891" },
        { __LINE__, 123.456, "123.456" },
        { __LINE__, 16.787968, "16.787968" },
        { __LINE__, 1466810317.123456, "1466810317.123456" },
        { __LINE__, 0.000001, "0.000001" },
        { __LINE__, 0.00001, "0.00001" },
        { __LINE__, 1.234e-5, "0.00001234" },
        { __LINE__, -0.000123, "-0.000123" },
        { __LINE__, 1e-7, "1e-7" },
        { __LINE__, 1.5e-7, "1.5e-7" },
        { __LINE__, 1e16, "10000000000000000.0" },
        { __LINE__, 1e20, "100000000000000000000.0" },
        { __LINE__, 123456789012345680000.0, "123456789012345680000.0" },
        { __LINE__, 1e21, "1e21" },
        { __LINE__, 1.5e21, "1.5e21" },
        { __LINE__, 1e22, "1e22" },
        { __LINE__, 1e300, "1e300" },
        { __LINE__, -1.5e-300, "-1.5e-300" },
        { __LINE__, 9007199254740993.0, "9007199254740992.0" },
        { __LINE__, 5e-324, "5e-324" },
        { __LINE__, 2.2250738585072014e-308, "2.2250738585072014e-308" },
        { __LINE__, DBL_MAX, "1.7976931348623157e308" },
        { __LINE__, DBL_MAX / 3, "5.992310449541053e307" },
        /* Floats arrive widened. */
        { __LINE__, (double)0.1f, "0.10000000149011612" },
        { __LINE__, (double)FLT_MAX, "3.4028234663852887e38" },
        { __LINE__, (double)1e-45f, "1.401298464324817e-45" },
        /* Grisu2 as rapidjson runs it is not always shortest or closest;
         * Mesos prints these, so we must too. */
        { __LINE__, 1e23, "9.999999999999999e22" },
        { __LINE__, 768115.298014, "768115.2980140001" },
        { __LINE__, 32.117759704589844, "32.117759704589847" },
        { __LINE__, 0.30000000000000004, "0.30000000000000007" },
        { __LINE__, NAN, "NaN" },
        { __LINE__, INFINITY, "Infinity" },
        { __LINE__, -INFINITY, "-Infinity" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf b = { 0 };
        CHECK_EQ(json_write_double(&b, cases[i].v), 0);
        if (b.len != strlen(cases[i].want) || memcmp(b.data, cases[i].want, b.len) != 0)
            printf("case at line %d: got %.*s\n", cases[i].line, (int)b.len, b.data);
        CHECK_MEM(b.data, b.len, cases[i].want);
        buf_free(&b);
    }
    /* Every finite output reads back as the same double, through our reader. */
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;            /* xorshift64 */
        double v;
        memcpy(&v, &x, sizeof v);
        if (isnan(v) || isinf(v)) continue;
        struct buf b = { 0 };
        double back;
        CHECK_EQ(json_write_double(&b, v), 0);
        CHECK_EQ(json_parse(b.data, b.len, toks, 1, NULL), 1);
        CHECK_EQ(json_span_double(b.data, b.len, &back), 0);
        if (memcmp(&back, &v, sizeof v) != 0) printf("%.17g -> %.*s\n", v, (int)b.len, b.data);
        CHECK(memcmp(&back, &v, sizeof v) == 0);
        buf_free(&b);
    }
    return 0;
}

/* ==== Base64 ==== */

static int test_base64(void) {
    static const struct { const char *raw, *enc; } vec[] = {   /* RFC 4648 section 10 */
        { "", "\"\"" }, { "f", "\"Zg==\"" }, { "fo", "\"Zm8=\"" }, { "foo", "\"Zm9v\"" },
        { "foob", "\"Zm9vYg==\"" }, { "fooba", "\"Zm9vYmE=\"" }, { "foobar", "\"Zm9vYmFy\"" },
    };
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        struct buf b = { 0 }, d = { 0 };
        char bad = 'x';
        CHECK_EQ(buf_reserve(&d, 1), 0);                  /* data != NULL for memcmp */
        CHECK_EQ(json_write_base64(&b, (const unsigned char *)vec[i].raw, strlen(vec[i].raw)), 0);
        CHECK_MEM(b.data, b.len, vec[i].enc);
        CHECK_EQ(base64_decode(b.data + 1, b.len - 2, &d, &bad), 0);
        CHECK_MEM(d.data, d.len, vec[i].raw);
        buf_free(&b);
        buf_free(&d);
    }
    /* All byte values, every length up to 70, both alphabets' edge characters. */
    unsigned char raw[70];
    for (size_t i = 0; i < sizeof raw; i++) raw[i] = (unsigned char)(i * 37 + 251);
    for (size_t n = 0; n <= sizeof raw; n++) {
        struct buf b = { 0 }, d = { 0 };
        CHECK_EQ(json_write_base64(&b, raw, n), 0);
        CHECK_EQ(b.len, 2 + (n + 2) / 3 * 4);
        CHECK_EQ(base64_decode(b.data + 1, b.len - 2, &d, NULL), 0);
        CHECK_EQ(d.len, n);
        CHECK(n == 0 || memcmp(d.data, raw, n) == 0);
        buf_free(&b);
        buf_free(&d);
    }
    struct buf b = { 0 };
    unsigned char ff[3] = { 0xFB, 0xFF, 0xBF };
    CHECK_EQ(json_write_base64(&b, ff, 3), 0);
    CHECK_MEM(b.data, b.len, "\"+/+/\"");
    buf_free(&b);

    /* Lenient decoding as stout's base64::decode. */
    static const struct { int line; const char *in; int ok; const char *out; char bad; } dec[] = {
        { __LINE__, "Zm9vYg", 0, "foob", 0 },            /* padding optional */
        { __LINE__, "Zm9vYg=", 0, "foob", 0 },
        { __LINE__, "Zm9vYmE", 0, "fooba", 0 },
        { __LINE__, "Zm9v\nYmFy\r\n", 0, "foobar", 0 },  /* whitespace ignored */
        { __LINE__, " Z m 9 v \t", 0, "foo", 0 },
        { __LINE__, "Zg==garbage!", 0, "f", 0 },         /* the first '=' ends it */
        { __LINE__, "Zm=9v", 0, "f", 0 },
        { __LINE__, "=Zm9v", 0, "", 0 },
        { __LINE__, "Z", 0, "", 0 },                     /* a lone sextet yields nothing */
        { __LINE__, "Zm9vY", 0, "foo", 0 },
        { __LINE__, "Zh", 0, "f", 0 },                   /* leftover bits ignored */
        { __LINE__, "", 0, "", 0 },
        { __LINE__, "Zm9v-w", -1, "", '-' },             /* URL-safe alphabet rejected */
        { __LINE__, "Zm9v_w", -1, "", '_' },
        { __LINE__, "Zm9v.", -1, "", '.' },
        { __LINE__, "Zm\xC3\xA9", -1, "", (char)0xC3 },
    };
    for (size_t i = 0; i < sizeof dec / sizeof dec[0]; i++) {
        struct buf d = { 0 };
        char bad = 0;
        CHECK_EQ(buf_puts(&d, "<"), 0);                   /* decoding appends */
        int r = base64_decode(dec[i].in, strlen(dec[i].in), &d, &bad);
        if (r != dec[i].ok) printf("case at line %d\n", dec[i].line);
        CHECK_EQ(r, dec[i].ok);
        if (r == 0) {
            CHECK_EQ(d.len, 1 + strlen(dec[i].out));
            CHECK(memcmp(d.data + 1, dec[i].out, d.len - 1) == 0);
        } else {
            CHECK_EQ(bad, dec[i].bad);
            CHECK_EQ(d.len, 1);                           /* left as it was */
        }
        buf_free(&d);
    }
    /* An embedded NUL is an invalid character, not the end. */
    char bad = 'x';
    struct buf d = { 0 };
    CHECK_EQ(base64_decode("Zm\0v", 4, &d, &bad), -1);
    CHECK_EQ(bad, 0);
    buf_free(&d);
    /* Output past the max, both ways. */
    struct buf small = { .max = 2 };
    CHECK_EQ(json_write_base64(&small, ff, 3), -1);
    CHECK_EQ(small.len, 0);
    CHECK_EQ(base64_decode("Zm9vYmFy", 8, &small, &bad), -1);
    CHECK_EQ(small.len, 0);
    buf_free(&small);
    return 0;
}

int main(void) {
    RUN(test_valid);
    RUN(test_invalid);
    RUN(test_error_messages);
    RUN(test_layout);
    RUN(test_prefixes);
    RUN(test_depth);
    RUN(test_count_and_nomem);
    RUN(test_tok_string);
    RUN(test_tok_eq);
    RUN(test_obj_get);
    RUN(test_span_int);
    RUN(test_span_double);
    RUN(test_write_string);
    RUN(test_write_int);
    RUN(test_write_double);
    RUN(test_base64);
    return REPORT();
}
