/* http.h -- incremental HTTP/1.1 request parser (RFC 9112).
 *
 * Stateless for the request head: call http_parse_request() again from the
 * start of the buffer whenever more bytes arrive. It never allocates; all
 * pointers in struct http_req point into the caller's buffer and live as
 * long as that buffer is not moved. The chunked body decoder is stateful
 * and resumable (zero-fill struct http_chunked before the first call). */
#ifndef HTTP_H
#define HTTP_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_MAX_HEADERS 64
#define HTTP_BAD        (-1)   /* malformed: answer 400 and close */
#define HTTP_INCOMPLETE (-2)   /* need more bytes */
#define HTTP_TOO_MANY_HEADERS (-3) /* more than HTTP_MAX_HEADERS: answer 431 */

struct http_header {
    const char *name; size_t name_len;
    const char *value; size_t value_len;   /* leading/trailing OWS trimmed */
};

struct http_req {
    const char *method; size_t method_len;
    const char *target; size_t target_len;  /* request-target as sent, incl. query */
    const char *path; size_t path_len;      /* target up to '?' or '#' */
    const char *query; size_t query_len;    /* after '?', without it; 0 if none
                                               (never NULL once parsed) */
    int minor_version;                      /* HTTP/1.<minor>; 0 or 1 */
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t num_headers;
};

/* Parse a request head (request line + headers + blank line) from buf[0..len).
 * prev_len is the length at the previous call that returned HTTP_INCOMPLETE
 * (0 the first time); it lets the parser skip the rescan for the blank line.
 * Returns the head's length in bytes (> 0) on success, HTTP_INCOMPLETE,
 * HTTP_BAD, or HTTP_TOO_MANY_HEADERS. Leading empty lines (CRLF) before the
 * request line are skipped as RFC 9112 2.2 allows. Accepts LF-only line ends.
 * Rejects: control characters, spaces in the target, invalid token chars in
 * method or header names, obs-fold (continuation lines), versions other than
 * HTTP/1.0 and HTTP/1.1 (HTTP_BAD). */
int http_parse_request(const char *buf, size_t len, size_t prev_len, struct http_req *req);

/* Case-insensitive header lookup. Returns the index of the first header named
 * `name` at or after `from`, or -1. */
int http_find_header(const struct http_req *req, const char *name, size_t from);
/* Case-insensitive comparison of a counted string with a C string. */
int http_eq_nocase(const char *a, size_t a_len, const char *b);

/* Interpretation of the framing headers, done once per request.
 * Returns 0, or HTTP_BAD for conflicting / invalid framing (both
 * Content-Length and Transfer-Encoding, several different Content-Length
 * values, a Transfer-Encoding other than "chunked", non-digit lengths). */
struct http_framing {
    int chunked;             /* Transfer-Encoding: chunked */
    int has_length;          /* Content-Length present */
    uint64_t content_length;
    int keep_alive;          /* after this request: 1.1 default yes unless
                                "Connection: close"; 1.0 only with "keep-alive" */
    int expect_continue;     /* Expect: 100-continue */
    int expect_other;        /* any other Expect value (answer 417) */
};
int http_framing(const struct http_req *req, struct http_framing *f);

/* Resumable decoder for a chunked body. Zero-fill before the first call. */
struct http_chunked {
    uint64_t left;            /* bytes left in the current chunk */
    unsigned char _state;     /* private */
    unsigned char _digits;    /* private */
    unsigned short _count;    /* private: bytes of the current size line or trailer */
};

/* Decode chunked data in place: buf[0..*len) on input; on return buf[0..*len)
 * holds the decoded payload bytes found in this call (the caller appends them
 * to the body and discards the input). Returns:
 *   >= 0  done: the body is complete; the value is the number of undecoded
 *         bytes left over at the end of the input (they belong to the next,
 *         pipelined request and have been moved to buf[*len .. *len + ret) ),
 *   HTTP_INCOMPLETE  need more input (all input consumed),
 *   HTTP_BAD  malformed framing.
 * Chunk extensions are skipped; trailer fields are skipped up to a limit of
 * HTTP_MAX_TRAILER bytes (HTTP_BAD past it). A chunk size over 2^40 is BAD,
 * and so is a chunk-size line (size, extensions, line end) over
 * HTTP_MAX_CHUNK_LINE bytes. Called again once done, it decodes nothing and
 * returns all of its input as left over. */
#define HTTP_MAX_TRAILER 8192
#define HTTP_MAX_CHUNK_LINE 4096
ssize_t http_decode_chunked(struct http_chunked *d, char *buf, size_t *len);

#endif
