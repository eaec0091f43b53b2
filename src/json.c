/* json.c -- strict JSON (RFC 8259) tokenizer and streaming writer.
 *
 * The reader is jsmn's idea made strict: one pass over the input fills a
 * caller-owned array of tokens that hold offsets, never copies. Nesting is
 * tracked in a fixed stack of JSON_MAX_DEPTH entries, so hostile input cannot
 * recurse us off the C stack. Every byte is checked: the RFC number grammar,
 * escapes, surrogate pairs and UTF-8 (Unicode 15, table 3-7).
 *
 * The writer appends to a struct buf and reproduces what Mesos sends, which
 * is what rapidjson 1.1.0's Writer produces: compact, strings escaped as it
 * escapes them, doubles through Grisu2 with rapidjson's own rounding quirks.
 * Each writer call either appends a whole value or leaves the buffer as it
 * was (b->len is rolled back on failure). */
#include "json.h"
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef JSON_NO_FAST_DOUBLE
#define JSON_NO_FAST_DOUBLE 0
#endif

/* ======================== Shared helpers ======================== */

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Four hex digits at p, or -1. The caller checks that 4 bytes exist. */
static long hex4(const char *p) {
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval((unsigned char)p[i]);
        if (h < 0) return -1;
        v = v << 4 | h;
    }
    return v;
}

static bool is_high_surrogate(long cp) { return cp >= 0xD800 && cp <= 0xDBFF; }
static bool is_low_surrogate(long cp)  { return cp >= 0xDC00 && cp <= 0xDFFF; }

/* Length of the well-formed UTF-8 sequence starting at s (n bytes left), or 0.
 * Unicode table 3-7: the second byte's range depends on the lead byte, which
 * is what rules out overlongs, UTF-16 surrogates and code points > U+10FFFF. */
static unsigned utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0], need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;              /* continuation byte, or overlong C0/C1 */
    if (c < 0xE0) need = 2;
    else if (c < 0xF0) { need = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c < 0xF5) { need = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 0;                       /* F5..FF never appear in UTF-8 */
    if (n < need || s[1] < lo || s[1] > hi) return 0;
    for (unsigned k = 2; k < need; k++)
        if ((s[k] & 0xC0) != 0x80) return 0;
    return need;
}

static size_t utf8_put(char *o, unsigned long cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F)); return 4;
}

/* Length of the JSON number (RFC 8259 section 6) at the start of s, or 0 when
 * none starts there or one is left unfinished ("-", "1.", "1e+"): those must
 * fail as numbers rather than parse as "1" followed by junk. */
static size_t number_len(const char *s, size_t n) {
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i < n && s[i] == '0') i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9') while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    else return 0;
    if (i < n && s[i] == '.') {
        if (++i >= n || s[i] < '0' || s[i] > '9') return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        if (++i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= n || s[i] < '0' || s[i] > '9') return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    }
    return i;
}

/* ======================== Reader ======================== */

struct parser {
    const char *s;
    uint32_t len, pos;
    struct json_tok *tok;       /* NULL: only count */
    size_t ntok;
    uint32_t n;                 /* tokens produced so far */
    struct json_err *err;
};

static int fail(struct parser *p, int code, uint32_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct parser *p, int code, uint32_t off, const char *fmt, ...) {
    if (p->err) {
        va_list ap;
        va_start(ap, fmt);
        p->err->offset = off;
        vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Names the byte at off: printable ASCII as itself, anything else in hex. */
static int unexpected(struct parser *p, uint32_t off) {
    if (off >= p->len) return fail(p, JSON_ERR_SYNTAX, off, "unexpected end of input at offset %u", off);
    unsigned char c = (unsigned char)p->s[off];
    if (c > 0x20 && c < 0x7F)
        return fail(p, JSON_ERR_SYNTAX, off, "unexpected character '%c' at offset %u", c, off);
    return fail(p, JSON_ERR_SYNTAX, off, "unexpected byte 0x%02X at offset %u", c, off);
}

static void skip_ws(struct parser *p) {
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

/* Appends a token spanning [start, end); in count mode only counts it. The
 * count must also fit the int that json_parse returns. */
static int new_tok(struct parser *p, enum json_type type, uint32_t start, uint32_t end) {
    if (p->n >= (uint32_t)INT_MAX) return fail(p, JSON_ERR_NOMEM, start, "more than %d tokens", INT_MAX);
    if (p->tok) {
        if (p->n >= p->ntok) return fail(p, JSON_ERR_NOMEM, start, "more than %zu tokens", p->ntok);
        struct json_tok *t = &p->tok[p->n];
        t->type = (uint8_t)type;
        t->start = start;
        t->end = end;
        t->size = 0;
        t->next = p->n + 1;
    }
    return (int)p->n++;
}

/* One escape at s[*i] == '\\': checks it and advances *i past it. A high
 * surrogate must be followed at once by an escaped low one (RFC 8259 8.2 allows
 * lone surrogates, but they cannot become UTF-8, so we reject them). */
static int scan_escape(struct parser *p, uint32_t *i, uint32_t open) {
    const char *s = p->s;
    uint32_t at = *i;
    if (p->len - at < 2) goto unterminated;
    switch (s[at + 1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        *i = at + 2;
        return 0;
    case 'u':
        break;
    default: {
        unsigned char c = (unsigned char)s[at + 1];
        if (c > 0x20 && c < 0x7F)
            return fail(p, JSON_ERR_SYNTAX, at, "invalid escape '\\%c' at offset %u", c, at);
        return fail(p, JSON_ERR_SYNTAX, at, "invalid escape '\\' + byte 0x%02X at offset %u", c, at);
    }
    }
    if (p->len - at < 6) goto unterminated;
    long cp = hex4(s + at + 2);
    if (cp < 0) return fail(p, JSON_ERR_SYNTAX, at, "invalid \\u escape at offset %u", at);
    if (is_low_surrogate(cp))
        return fail(p, JSON_ERR_SYNTAX, at, "lone surrogate \\u%04lX at offset %u", cp, at);
    if (is_high_surrogate(cp)) {
        uint32_t left = p->len - at - 6;
        if ((left >= 1 && s[at + 6] != '\\') || (left >= 2 && s[at + 7] != 'u'))
            return fail(p, JSON_ERR_SYNTAX, at, "lone surrogate \\u%04lX at offset %u", cp, at);
        if (left < 6) goto unterminated;
        long lo = hex4(s + at + 8);
        if (lo < 0) return fail(p, JSON_ERR_SYNTAX, at + 6, "invalid \\u escape at offset %u", at + 6);
        if (!is_low_surrogate(lo))
            return fail(p, JSON_ERR_SYNTAX, at, "lone surrogate \\u%04lX at offset %u", cp, at);
        *i = at + 12;
        return 0;
    }
    *i = at + 6;
    return 0;
unterminated:
    return fail(p, JSON_ERR_SYNTAX, p->len, "unterminated string starting at offset %u", open);
}

/* String at p->pos (the opening quote); the token excludes the quotes. */
static int scan_string(struct parser *p) {
    const unsigned char *s = (const unsigned char *)p->s;
    uint32_t open = p->pos, i = open + 1;
    int r;
    for (;;) {
        if (i >= p->len)
            return fail(p, JSON_ERR_SYNTAX, i, "unterminated string starting at offset %u", open);
        unsigned c = s[i];
        if (c == '"') break;
        if (c == '\\') {
            if ((r = scan_escape(p, &i, open)) < 0) return r;
        } else if (c < 0x20) {
            return fail(p, JSON_ERR_SYNTAX, i, "control character 0x%02X in string at offset %u", c, i);
        } else if (c < 0x80) {
            i++;
        } else {
            unsigned k = utf8_seq(s + i, p->len - i);
            if (k == 0) return fail(p, JSON_ERR_SYNTAX, i, "invalid UTF-8 at offset %u", i);
            i += k;
        }
    }
    if ((r = new_tok(p, JSON_STRING, open + 1, i)) < 0) return r;
    p->pos = i + 1;
    return r;
}

static int scan_literal(struct parser *p, const char *word, enum json_type type) {
    uint32_t start = p->pos;
    for (size_t k = 0; word[k]; k++, p->pos++)
        if (p->pos >= p->len || p->s[p->pos] != word[k]) return unexpected(p, p->pos);
    return new_tok(p, type, start, p->pos);
}

static int scan_scalar(struct parser *p) {
    char c = p->s[p->pos];
    if (c == '"') return scan_string(p);
    if (c == 't') return scan_literal(p, "true", JSON_TRUE);
    if (c == 'f') return scan_literal(p, "false", JSON_FALSE);
    if (c == 'n') return scan_literal(p, "null", JSON_NULL);
    if (c == '-' || (c >= '0' && c <= '9')) {
        uint32_t start = p->pos;
        size_t n = number_len(p->s + start, p->len - start);
        if (n == 0) return fail(p, JSON_ERR_SYNTAX, start, "invalid number at offset %u", start);
        p->pos += (uint32_t)n;
        /* Only a leading zero stops a number before a digit; say so rather
         * than report "01" at top level as trailing characters. */
        if (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
            return fail(p, JSON_ERR_SYNTAX, start, "invalid number (leading zero) at offset %u", start);
        return new_tok(p, JSON_NUMBER, start, p->pos);
    }
    return unexpected(p, p->pos);
}

/* Iterative: containers open on an explicit stack of token indices, and the
 * gotos below are the grammar's states (value, key, after a value, close). */
int json_parse(const char *s, size_t len, struct json_tok *tok, size_t ntok, struct json_err *err) {
    struct parser p = { s, 0, 0, tok, ntok, 0, err };
    int stack[JSON_MAX_DEPTH];      /* token index of each open container */
    char kind[JSON_MAX_DEPTH];      /* its opening bracket; tokens may not exist */
    int depth = 0, r;

    if (err) { err->offset = 0; err->msg[0] = '\0'; }
    if (len > UINT32_MAX) return fail(&p, JSON_ERR_SYNTAX, 0, "input longer than %u bytes", UINT32_MAX);
    p.len = (uint32_t)len;

value:
    skip_ws(&p);
    if (p.pos >= p.len) return unexpected(&p, p.pos);
    if (s[p.pos] == '{' || s[p.pos] == '[') {
        if (depth == JSON_MAX_DEPTH)
            return fail(&p, JSON_ERR_DEPTH, p.pos, "nesting deeper than %d at offset %u", JSON_MAX_DEPTH, p.pos);
        if ((r = new_tok(&p, s[p.pos] == '{' ? JSON_OBJECT : JSON_ARRAY, p.pos, p.pos)) < 0) return r;
        stack[depth] = r;
        kind[depth++] = s[p.pos++];
        skip_ws(&p);
        if (p.pos < p.len && s[p.pos] == (kind[depth - 1] == '{' ? '}' : ']')) goto close;
        if (kind[depth - 1] == '{') goto key;
        if (tok) tok[stack[depth - 1]].size++;
        goto value;
    }
    if ((r = scan_scalar(&p)) < 0) return r;

after:                                  /* a value has ended */
    if (depth == 0) goto done;
    skip_ws(&p);
    if (p.pos >= p.len) return unexpected(&p, p.pos);
    if (s[p.pos] == ',') {
        p.pos++;
        if (kind[depth - 1] == '{') goto key;
        if (tok) tok[stack[depth - 1]].size++;
        goto value;
    }
    if (s[p.pos] == (kind[depth - 1] == '{' ? '}' : ']')) goto close;
    return unexpected(&p, p.pos);

close:                                  /* s[p.pos] closes the innermost container */
    p.pos++;
    depth--;
    if (tok) { tok[stack[depth]].end = p.pos; tok[stack[depth]].next = p.n; }
    goto after;

key:                                    /* inside an object: "key" ':' then the value */
    skip_ws(&p);
    if (p.pos >= p.len || s[p.pos] != '"') return unexpected(&p, p.pos);
    if (tok) tok[stack[depth - 1]].size++;
    if ((r = scan_string(&p)) < 0) return r;
    skip_ws(&p);
    if (p.pos >= p.len || s[p.pos] != ':') return unexpected(&p, p.pos);
    p.pos++;
    goto value;

done:
    skip_ws(&p);
    if (p.pos != p.len)
        return fail(&p, JSON_ERR_TRAILING, p.pos, "trailing characters at offset %u", p.pos);
    return (int)p.n;
}

/* ======================== Token helpers ======================== */

/* Decodes one unit of string text at p (< end) into out[0..3]; returns the
 * position after it. Input is a token json_parse accepted, so escapes are
 * well formed; the bounds are still checked so a bad token cannot overread. */
static const char *decode_one(const char *p, const char *end, char *out, size_t *n) {
    if (*p != '\\' || end - p < 2) { out[0] = *p; *n = 1; return p + 1; }
    char c = p[1];
    switch (c) {
    case 'b': c = '\b'; break;
    case 'f': c = '\f'; break;
    case 'n': c = '\n'; break;
    case 'r': c = '\r'; break;
    case 't': c = '\t'; break;
    case 'u': {
        long cp = end - p >= 6 ? hex4(p + 2) : -1;
        if (cp < 0) { out[0] = '\\'; *n = 1; return p + 1; }
        p += 6;
        if (is_high_surrogate(cp) && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
            long lo = hex4(p + 2);
            if (is_low_surrogate(lo)) { cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00); p += 6; }
        }
        *n = utf8_put(out, (unsigned long)cp);
        return p;
    }
    default: break;                     /* '"', '\\', '/' stand for themselves */
    }
    out[0] = c;
    *n = 1;
    return p + 2;
}

int json_tok_string(const char *s, const struct json_tok *t, struct buf *out) {
    const char *p = s + t->start, *end = s + t->end, *run = p;
    size_t mark = out->len, n;
    char u[4];
    while (p < end) {
        if (*p != '\\') { p++; continue; }
        if (buf_append(out, run, (size_t)(p - run)) < 0) goto fail;
        p = decode_one(p, end, u, &n);
        if (buf_append(out, u, n) < 0) goto fail;
        run = p;
    }
    if (buf_append(out, run, (size_t)(p - run)) < 0) goto fail;
    return 0;
fail:
    out->len = mark;
    return -1;
}

bool json_tok_eq(const char *s, const struct json_tok *t, const char *lit) {
    const char *p = s + t->start, *end = s + t->end;
    size_t litlen = strlen(lit), n;
    char u[4];
    if (t->type != JSON_STRING) return false;
    if (!memchr(p, '\\', (size_t)(end - p)))
        return (size_t)(end - p) == litlen && memcmp(p, lit, litlen) == 0;
    while (p < end) {
        p = decode_one(p, end, u, &n);
        if (n > litlen || memcmp(u, lit, n) != 0) return false;
        lit += n;
        litlen -= n;
    }
    return litlen == 0;
}

/* Magnitude of an integer literal ("-"? digits, no leading zeros) in *mag.
 * Returns 0, or -1 when the text is something else or exceeds 2^64 - 1. */
static int span_integer(const char *p, size_t n, bool *neg, uint64_t *mag) {
    size_t i = 0;
    uint64_t v = 0;
    *neg = n > 0 && p[0] == '-';
    if (*neg) i++;
    if (i == n || number_len(p, n) != n) return -1;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;   /* a fraction or an exponent */
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *mag = v;
    return 0;
}

int json_span_int64(const char *p, size_t n, int64_t *out) {
    bool neg;
    uint64_t mag;
    if (span_integer(p, n, &neg, &mag) < 0) return -1;
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1) return -1;
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX) return -1;
        *out = (int64_t)mag;
    }
    return 0;
}

int json_span_uint64(const char *p, size_t n, uint64_t *out) {
    bool neg;
    uint64_t mag;
    if (span_integer(p, n, &neg, &mag) < 0 || (neg && mag != 0)) return -1;
    *out = mag;
    return 0;
}

/* strtod needs a NUL-terminated copy; short numbers stay on the stack. The
 * grammar check comes first, so strtod never sees hex, "inf" or a locale's
 * own spellings. Too large a magnitude gives +-HUGE_VAL (infinity), as strtod. */
int json_span_double(const char *p, size_t n, double *out) {
    char small[64], *copy = small;
    if (n == 0 || number_len(p, n) != n) return -1;
    if (n >= sizeof small) copy = xmalloc(n + 1);
    memcpy(copy, p, n);
    copy[n] = '\0';
    *out = strtod(copy, NULL);
    if (copy != small) free(copy);
    return 0;
}

int json_obj_get(const char *s, const struct json_tok *tok, int obj, const char *key) {
    int found = -1;
    if (obj < 0 || tok[obj].type != JSON_OBJECT) return -1;
    uint32_t i = (uint32_t)obj + 1;
    for (uint32_t m = 0; m < tok[obj].size; m++) {
        if (json_tok_eq(s, &tok[i], key)) found = (int)i + 1;   /* keep going: last wins */
        i = tok[i + 1].next;
    }
    return found;
}

/* ======================== Writer ======================== */

/* As rapidjson's Writer: '"', '\\' and C0 controls are escaped, with uppercase
 * hex; '/', DEL and non-ASCII bytes go out raw (no UTF-8 check, as Mesos). */
int json_write_string(struct buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    size_t mark = b->len, run = 0, i = 0;
    /* Most strings need no escape: reserve once and copy them whole. */
    if (n > SIZE_MAX - 2 || buf_reserve(b, n + 2) < 0) return -1;
    /* Eight bytes at a time while none is '"', '\\' or a control
     * character (the usual SWAR tests for a zero byte), then one by one. */
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (i + 8 <= n) {
        uint64_t x, q, e;
        memcpy(&x, s + i, 8);
        q = x ^ (ones * '"');
        e = x ^ (ones * '\\');
        if ((((q - ones) & ~q) | ((e - ones) & ~e) | ((x - ones * 0x20) & ~x)) & highs) break;
        i += 8;
    }
    static const uint8_t plain[256] = {                 /* 1: written as is */
        [0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,       /* 0x22 '"' */
        [0x30 ... 0x5b] = 1, [0x5c] = 0, [0x5d ... 0xff] = 1,         /* 0x5c '\\' */
    };
    while (i < n && plain[(unsigned char)s[i]]) i++;
    if (i == n) {
        char *d = b->data + b->len;
        d[0] = '"';
        buf_copy_short(d + 1, s, n);
        d[n + 1] = '"';
        b->len += n + 2;
        return 0;
    }
    if (buf_putc(b, '"') < 0) goto fail;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6] = { '\\', 0, '0', '0', 0, 0 };
        size_t elen = 2;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        switch (c) {
        case '"': case '\\': esc[1] = (char)c; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default: esc[1] = 'u'; esc[4] = hex[c >> 4]; esc[5] = hex[c & 15]; elen = 6; break;
        }
        if (buf_append(b, s + run, i - run) < 0 || buf_append(b, esc, elen) < 0) goto fail;
        run = i + 1;
    }
    if (buf_append(b, s + run, n - run) < 0 || buf_putc(b, '"') < 0) goto fail;
    return 0;
fail:
    b->len = mark;
    return -1;
}

int json_write_uint64(struct buf *b, uint64_t v) {
    char d[20];
    size_t i = sizeof d;
    do { d[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    return buf_append(b, d + i, sizeof d - i);
}

int json_write_int64(struct buf *b, int64_t v) {
    size_t mark = b->len;
    if (v >= 0) return json_write_uint64(b, (uint64_t)v);
    if (buf_putc(b, '-') < 0) return -1;
    if (json_write_uint64(b, 0 - (uint64_t)v) < 0) { b->len = mark; return -1; }
    return 0;
}

/* ---- Doubles: Grisu2 (Loitsch, PLDI 2010), as rapidjson 1.1.0 runs it ----
 *
 * Mesos prints doubles with rapidjson, and rapidjson's Grisu2 is neither always
 * the shortest nor the closest: it shrinks the rounding interval by one unit on
 * each side and stops weeding the last digit early. A printf/strtod search for
 * the shortest string differs from it in about 1 in 1,000 six-decimal values
 * and 1 in 7 widened floats, so byte-exact output needs the same algorithm:
 * the same 64-bit products rounded half up, the same cached power chosen, and
 * the same weeding, including skipping it after nine fraction digits. */

struct fp { uint64_t f; int e; };       /* f * 2^e */

/* Upper 64 bits of the 128-bit product, rounded half up. */
static struct fp fp_mul(struct fp a, struct fp b) {
    const uint64_t m32 = 0xFFFFFFFFu;
    uint64_t ah = a.f >> 32, al = a.f & m32, bh = b.f >> 32, bl = b.f & m32;
    uint64_t hh = ah * bh, hl = ah * bl, lh = al * bh, ll = al * bl;
    uint64_t mid = (ll >> 32) + (hl & m32) + (lh & m32) + ((uint64_t)1 << 31);
    return (struct fp){ hh + (hl >> 32) + (lh >> 32) + (mid >> 32), a.e + b.e + 64 };
}

static struct fp fp_normalize(struct fp x) {
    while (!(x.f >> 63)) { x.f <<= 1; x.e--; }
    return x;
}

/* 10^q for q = -348, -340, ..., 340 as 64-bit significands rounded to nearest,
 * with binary exponents. Generated with exact rational arithmetic. */
static const struct fp pow10_cache[87] = {
    { 0xfa8fd5a0081c0288, -1220 }, { 0xbaaee17fa23ebf76, -1193 }, { 0x8b16fb203055ac76, -1166 },
    { 0xcf42894a5dce35ea, -1140 }, { 0x9a6bb0aa55653b2d, -1113 }, { 0xe61acf033d1a45df, -1087 },
    { 0xab70fe17c79ac6ca, -1060 }, { 0xff77b1fcbebcdc4f, -1034 }, { 0xbe5691ef416bd60c, -1007 },
    { 0x8dd01fad907ffc3c,  -980 }, { 0xd3515c2831559a83,  -954 }, { 0x9d71ac8fada6c9b5,  -927 },
    { 0xea9c227723ee8bcb,  -901 }, { 0xaecc49914078536d,  -874 }, { 0x823c12795db6ce57,  -847 },
    { 0xc21094364dfb5637,  -821 }, { 0x9096ea6f3848984f,  -794 }, { 0xd77485cb25823ac7,  -768 },
    { 0xa086cfcd97bf97f4,  -741 }, { 0xef340a98172aace5,  -715 }, { 0xb23867fb2a35b28e,  -688 },
    { 0x84c8d4dfd2c63f3b,  -661 }, { 0xc5dd44271ad3cdba,  -635 }, { 0x936b9fcebb25c996,  -608 },
    { 0xdbac6c247d62a584,  -582 }, { 0xa3ab66580d5fdaf6,  -555 }, { 0xf3e2f893dec3f126,  -529 },
    { 0xb5b5ada8aaff80b8,  -502 }, { 0x87625f056c7c4a8b,  -475 }, { 0xc9bcff6034c13053,  -449 },
    { 0x964e858c91ba2655,  -422 }, { 0xdff9772470297ebd,  -396 }, { 0xa6dfbd9fb8e5b88f,  -369 },
    { 0xf8a95fcf88747d94,  -343 }, { 0xb94470938fa89bcf,  -316 }, { 0x8a08f0f8bf0f156b,  -289 },
    { 0xcdb02555653131b6,  -263 }, { 0x993fe2c6d07b7fac,  -236 }, { 0xe45c10c42a2b3b06,  -210 },
    { 0xaa242499697392d3,  -183 }, { 0xfd87b5f28300ca0e,  -157 }, { 0xbce5086492111aeb,  -130 },
    { 0x8cbccc096f5088cc,  -103 }, { 0xd1b71758e219652c,   -77 }, { 0x9c40000000000000,   -50 },
    { 0xe8d4a51000000000,   -24 }, { 0xad78ebc5ac620000,     3 }, { 0x813f3978f8940984,    30 },
    { 0xc097ce7bc90715b3,    56 }, { 0x8f7e32ce7bea5c70,    83 }, { 0xd5d238a4abe98068,   109 },
    { 0x9f4f2726179a2245,   136 }, { 0xed63a231d4c4fb27,   162 }, { 0xb0de65388cc8ada8,   189 },
    { 0x83c7088e1aab65db,   216 }, { 0xc45d1df942711d9a,   242 }, { 0x924d692ca61be758,   269 },
    { 0xda01ee641a708dea,   295 }, { 0xa26da3999aef774a,   322 }, { 0xf209787bb47d6b85,   348 },
    { 0xb454e4a179dd1877,   375 }, { 0x865b86925b9bc5c2,   402 }, { 0xc83553c5c8965d3d,   428 },
    { 0x952ab45cfa97a0b3,   455 }, { 0xde469fbd99a05fe3,   481 }, { 0xa59bc234db398c25,   508 },
    { 0xf6c69a72a3989f5c,   534 }, { 0xb7dcbf5354e9bece,   561 }, { 0x88fcf317f22241e2,   588 },
    { 0xcc20ce9bd35c78a5,   614 }, { 0x98165af37b2153df,   641 }, { 0xe2a0b5dc971f303a,   667 },
    { 0xa8d9d1535ce3b396,   694 }, { 0xfb9b7cd9a4a7443c,   720 }, { 0xbb764c4ca7a44410,   747 },
    { 0x8bab8eefb6409c1a,   774 }, { 0xd01fef10a657842c,   800 }, { 0x9b10a4e5e9913129,   827 },
    { 0xe7109bfba19c0c9d,   853 }, { 0xac2820d9623bf429,   880 }, { 0x80444b5e7aa7cf85,   907 },
    { 0xbf21e44003acdd2d,   933 }, { 0x8e679c2f5e44ff8f,   960 }, { 0xd433179d9c8cb841,   986 },
    { 0x9e19db92b4e31ba9,  1013 }, { 0xeb96bf6ebadf77d9,  1039 }, { 0xaf87023b9bf0ee6b,  1066 },
};

static const uint32_t pow10_u32[10] = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000
};

/* Moves the last digit down while that stays inside the interval and brings
 * the result closer to the true value (the paper's "round" for Grisu2). */
static void grisu_round(char *d, int len, uint64_t delta, uint64_t rest, uint64_t ten_kappa, uint64_t wp_w) {
    while (rest < wp_w && delta - rest >= ten_kappa &&
           (rest + ten_kappa < wp_w || wp_w - rest > rest + ten_kappa - wp_w)) {
        d[len - 1]--;
        rest += ten_kappa;
    }
}

/* Digits of positive finite v into d (at most 18); v = d * 10^*k. */
static int grisu2(double v, char *d, int *k) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int be = (int)(bits >> 52 & 0x7FF);
    struct fp w = { bits & (((uint64_t)1 << 52) - 1), be ? be - 1075 : -1074 };
    if (be) w.f |= (uint64_t)1 << 52;

    /* Boundaries halfway to the neighbours; the lower gap halves at a power of
     * two. (rapidjson tests only the significand, so the smallest normal number
     * gets the narrow lower gap too; we do the same.) */
    struct fp mp = fp_normalize((struct fp){ (w.f << 1) + 1, w.e - 1 });
    struct fp mm = w.f == (uint64_t)1 << 52 ? (struct fp){ (w.f << 2) - 1, w.e - 2 }
                                            : (struct fp){ (w.f << 1) - 1, w.e - 1 };
    mm.f <<= mm.e - mp.e;
    mm.e = mp.e;

    /* The smallest cached power that brings mp's exponent to at least -60, so
     * the integral part of the scaled value fits 32 bits. */
    int i = 0;
    while (mp.e + pow10_cache[i].e + 64 < -60) i++;
    *k = 348 - 8 * i;
    struct fp W = fp_mul(fp_normalize(w), pow10_cache[i]);
    struct fp Wp = fp_mul(mp, pow10_cache[i]);
    struct fp Wm = fp_mul(mm, pow10_cache[i]);
    Wp.f--;                             /* the conservative interval */
    Wm.f++;
    uint64_t delta = Wp.f - Wm.f, wp_w = Wp.f - W.f;

    /* Digits of Wp: integral part p1, then the fraction p2 in units of 2^-shift. */
    int shift = -Wp.e, len = 0, kappa = 1;
    uint64_t one = (uint64_t)1 << shift;
    uint32_t p1 = (uint32_t)(Wp.f >> shift);
    uint64_t p2 = Wp.f & (one - 1);
    while (kappa < 10 && p1 >= pow10_u32[kappa]) kappa++;
    while (kappa > 0) {
        uint32_t dig = p1 / pow10_u32[kappa - 1];
        p1 %= pow10_u32[kappa - 1];
        if (dig || len) d[len++] = (char)('0' + dig);
        kappa--;
        uint64_t rest = ((uint64_t)p1 << shift) + p2;
        if (rest <= delta) {
            *k += kappa;
            grisu_round(d, len, delta, rest, (uint64_t)pow10_u32[kappa] << shift, wp_w);
            return len;
        }
    }
    for (;;) {
        p2 *= 10;
        delta *= 10;
        unsigned dig = (unsigned)(p2 >> shift);
        if (dig || len) d[len++] = (char)('0' + dig);
        p2 &= one - 1;
        kappa--;
        if (p2 < delta) {
            *k += kappa;
            /* rapidjson scales wp_w by 10^-kappa only below nine fraction
             * digits and passes 0 (no weeding) beyond; the product may wrap. */
            grisu_round(d, len, delta, p2, one, -kappa < 9 ? wp_w * pow10_u32[-kappa] : 0);
            return len;
        }
    }
}

/* rapidjson's Prettify: digits d[0..len) times 10^k, laid out positionally
 * when the decimal exponent is in [-6, 21), else as d.ddde-7 / de21. */
int json_write_double(struct buf *b, double v) {
    char out[40], d[24];
    size_t n = 0;
    int k, len, kk;

    if (v != v) return buf_puts(b, "NaN");
    if (v == 0) return buf_puts(b, signbit(v) ? "-0.0" : "0.0");
    if (v < 0) { out[n++] = '-'; v = -v; }
    if (isinf(v)) { memcpy(out + n, "Infinity", 8); return buf_append(b, out, n + 8); }

    /* Integers and short decimals (cpus 0.1, mem 5.0): when v is exactly
     * the double nearest to n / 10^e for some e <= 4 and n below 10^9,
     * that decimal is v's shortest round-trip form (distinct decimals of
     * at most 15 digits are distinct doubles), so write it directly.
     * Grisu2 is not always shortest (see the tests); below 10^9 it was, for
     * 60 million such values compared one by one, so the output is the
     * same as Mesos' either way. */
    static const double p10[] = { 1, 10, 100, 1000, 10000 };
    for (int e = 0; e < 5 && v < 1e14 && !JSON_NO_FAST_DOUBLE; e++) {
        double sc = v * p10[e];
        if (sc >= 1e9 || sc != (double)(int64_t)sc || (double)(int64_t)sc / p10[e] != v) continue;
        char dig[24];
        int nd = 0;
        int64_t x = (int64_t)sc;
        while (e > 0 && x % 10 == 0) { x /= 10; e--; }   /* 4350e-3 is 435e-2: the same decimal */
        for (; x > 0 || nd <= e; x /= 10) dig[nd++] = (char)('0' + x % 10);
        while (nd > e) out[n++] = dig[--nd];            /* the integer part, at least "0" */
        out[n++] = '.';
        if (e == 0) out[n++] = '0';
        while (nd > 0) out[n++] = dig[--nd];
        return buf_append(b, out, n);
    }

    len = grisu2(v, d, &k);
    kk = len + k;                       /* 10^(kk-1) <= v < 10^kk */
    if (k >= 0 && kk <= 21) {           /* 15 -> "15.0", 1e20 -> 21 digits ".0" */
        memcpy(out + n, d, (size_t)len); n += (size_t)len;
        memset(out + n, '0', (size_t)k); n += (size_t)k;
        memcpy(out + n, ".0", 2); n += 2;
    } else if (kk > 0 && kk <= 21) {    /* 1234e-2 -> "12.34" */
        memcpy(out + n, d, (size_t)kk); n += (size_t)kk;
        out[n++] = '.';
        memcpy(out + n, d + kk, (size_t)(len - kk)); n += (size_t)(len - kk);
    } else if (kk > -6 && kk <= 0) {    /* 1234e-7 -> "0.0001234" */
        out[n++] = '0'; out[n++] = '.';
        memset(out + n, '0', (size_t)-kk); n += (size_t)-kk;
        memcpy(out + n, d, (size_t)len); n += (size_t)len;
    } else {                            /* "1e21", "1.5e-7" */
        out[n++] = d[0];
        if (len > 1) {
            out[n++] = '.';
            memcpy(out + n, d + 1, (size_t)(len - 1)); n += (size_t)(len - 1);
        }
        n += (size_t)snprintf(out + n, sizeof out - n, "e%d", kk - 1);
    }
    return buf_append(b, out, n);
}

/* ======================== Base64 ======================== */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int json_write_base64(struct buf *b, const unsigned char *p, size_t n) {
    size_t mark = b->len;
    char q[4];
    if (buf_putc(b, '"') < 0) goto fail;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        q[0] = b64_alphabet[v >> 18];
        q[1] = b64_alphabet[v >> 12 & 63];
        q[2] = i + 1 < n ? b64_alphabet[v >> 6 & 63] : '=';
        q[3] = i + 2 < n ? b64_alphabet[v & 63] : '=';
        if (buf_append(b, q, 4) < 0) goto fail;
    }
    if (buf_putc(b, '"') < 0) goto fail;
    return 0;
fail:
    b->len = mark;
    return -1;
}

/* stout's base64::decode: the first '=' ends the input, whitespace (C
 * isspace) is skipped, a final group of 2 or 3 characters yields 1 or 2 bytes
 * and a lone final character yields nothing. */
int base64_decode(const char *s, size_t n, struct buf *out, char *bad) {
    size_t mark = out->len;
    uint32_t acc = 0;
    int have = 0;
    for (size_t i = 0; i < n && s[i] != '='; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *at;
        if (c == ' ' || (c >= '\t' && c <= '\r')) continue;
        if (c == 0 || !(at = strchr(b64_alphabet, c))) {
            if (bad) *bad = (char)c;
            out->len = mark;
            return -1;
        }
        acc = acc << 6 | (uint32_t)(at - b64_alphabet);
        if (++have == 4) {
            char t[3] = { (char)(acc >> 16), (char)(acc >> 8), (char)acc };
            if (buf_append(out, t, 3) < 0) goto full;
            acc = 0;
            have = 0;
        }
    }
    if (have > 1) {
        acc <<= 6 * (4 - have);
        char t[2] = { (char)(acc >> 16), (char)(acc >> 8) };
        if (buf_append(out, t, (size_t)have - 1) < 0) goto full;
    }
    return 0;
full:
    if (bad) *bad = '\0';
    out->len = mark;
    return -1;
}
