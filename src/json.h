/* json.h -- strict JSON (RFC 8259) tokenizer and streaming writer.
 *
 * Reader: jsmn's shape made strict. The caller owns the token array; tokens
 * hold offsets into the input, nothing is copied or allocated. Pass tok=NULL
 * to count tokens first. UTF-8 is validated (overlongs, surrogates, > U+10FFFF
 * rejected), depth is limited, numbers are checked against the RFC grammar.
 *
 * Writer: appends to a struct buf; no intermediate tree. */
#ifndef JSON_H
#define JSON_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "buf.h"

#define JSON_MAX_DEPTH 200      /* as Mesos (picojson) */

enum json_type { JSON_NONE = 0, JSON_OBJECT, JSON_ARRAY, JSON_STRING, JSON_NUMBER,
                 JSON_TRUE, JSON_FALSE, JSON_NULL };

struct json_tok {
    uint8_t type;         /* enum json_type */
    uint32_t start, end;  /* byte offsets; for strings excluding the quotes */
    uint32_t size;        /* OBJECT: number of members; ARRAY: elements */
    uint32_t next;        /* index of the token after this one's whole subtree */
};
/* Object members are laid out as key (STRING) token followed by the value's
 * subtree; json_tok.next lets the caller skip a value in O(1). */

#define JSON_ERR_NOMEM   (-1)  /* more tokens than ntok */
#define JSON_ERR_SYNTAX  (-2)
#define JSON_ERR_DEPTH   (-3)
#define JSON_ERR_TRAILING (-4) /* non-whitespace after the top-level value */

struct json_err {
    size_t offset;          /* byte offset where the error was detected */
    char msg[128];          /* human-readable text, e.g. "unexpected character 'x' at offset 3" */
};

/* Parse exactly one JSON value (any type) surrounded by optional whitespace.
 * Returns the number of tokens (>0) or a JSON_ERR_* code; err may be NULL.
 * Input longer than UINT32_MAX bytes is rejected with JSON_ERR_SYNTAX. */
int json_parse(const char *s, size_t len, struct json_tok *tok, size_t ntok, struct json_err *err);

/* Helpers on a parsed token (s is the same input). */
/* Unescape a STRING token into out (appends). Returns 0 or -1 (buf max). */
int json_tok_string(const char *s, const struct json_tok *t, struct buf *out);
/* Compare a STRING token with a NUL-terminated literal (after unescaping);
 * false for any other token type. */
bool json_tok_eq(const char *s, const struct json_tok *t, const char *lit);
/* NUMBER token (or any text span) as exact integers: returns 0 when the text is
 * an integer literal that fits, -1 otherwise (fraction, exponent, overflow). */
int json_span_int64(const char *p, size_t n, int64_t *out);
int json_span_uint64(const char *p, size_t n, uint64_t *out);
/* Text span as a double (strtod on a bounded copy). Returns 0, or -1 when the
 * text is not a complete JSON number. A magnitude beyond DBL_MAX gives
 * +-infinity (as strtod); the caller decides whether that is acceptable. */
int json_span_double(const char *p, size_t n, double *out);
/* Find member `key` of OBJECT token index `obj`; returns the value's token
 * index or -1. The last duplicate wins, as in Mesos. */
int json_obj_get(const char *s, const struct json_tok *tok, int obj, const char *key);

/* ---- Writer ---- (each returns 0, or -1 when the buffer hit its max; on -1
 * nothing of the value is left in the buffer) */
int json_write_string(struct buf *b, const char *s, size_t n);  /* quotes + escapes as Mesos */
/* One byte, inline while there is room: the writers call this once per
 * token, which for a large GET_STATE is millions of times. */
static inline int json_putc(struct buf *b, char c) {
    if (b->len + 1 < b->cap && (b->max == 0 || b->len < b->max)) { b->data[b->len++] = c; return 0; }
    return buf_putc(b, c);
}
int json_write_int64(struct buf *b, int64_t v);
int json_write_uint64(struct buf *b, uint64_t v);
/* Mesos/rapidjson double format: shortest round-trip, integral values keep
 * ".0", positional up to 1e21, exponent form (no '+') from 1e21 and below 1e-6,
 * NaN/Infinity/-Infinity as bare tokens. */
int json_write_double(struct buf *b, double v);
int json_write_base64(struct buf *b, const unsigned char *p, size_t n); /* quoted, standard alphabet, '=' padded */

/* Lenient base64 decoding as Mesos: standard alphabet, '=' optional and ends
 * input, whitespace ignored. Returns 0, or -1 with *bad set to the offending
 * character ('\0' when out hit its max); on -1 out is left as it was. */
int base64_decode(const char *s, size_t n, struct buf *out, char *bad);

#endif
