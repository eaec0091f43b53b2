/* http.c -- incremental HTTP/1.1 request parser and chunked body decoder.
 *
 * The request head is parsed statelessly: the caller re-runs the parser from
 * the start of its buffer whenever bytes arrive, and it either finds the
 * whole head or says how it failed. Nothing is copied or allocated; struct
 * http_req points into the caller's buffer. The head is bounded by the
 * caller (431), so a rescan is cheap, and prev_len makes the common case of
 * "still no blank line" cheaper still. Bodies are unbounded in time, so the
 * chunked decoder is the opposite: a resumable byte-level state machine that
 * consumes all input it is given and decodes in place.
 *
 * We are strict where leniency lets two parsers disagree about where a
 * message ends (request smuggling): RFC 9112 is followed to the letter for
 * framing, line ends and field syntax, and everything else is rejected. */
#include <limits.h>
#include <string.h>
#include "http.h"

/* ==== Character classes ==== */

/* RFC 9110 5.6.2: tchar, the characters of methods and field names. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Controls other than HTAB, and DEL: never allowed in a field value
 * (RFC 9110 5.5 field-vchar is VCHAR / obs-text, plus SP and HTAB). */
static int is_bad_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int is_ows(unsigned char c) { return c == ' ' || c == '\t'; }

static int lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int http_eq_nocase(const char *a, size_t a_len, const char *b)
{
    size_t i;
    for (i = 0; i < a_len; i++)
        if (b[i] == '\0' || lower((unsigned char)a[i]) != lower((unsigned char)b[i])) return 0;
    return b[i] == '\0';
}

int http_find_header(const struct http_req *req, const char *name, size_t from)
{
    for (size_t i = from; i < req->num_headers; i++)
        if (http_eq_nocase(req->headers[i].name, req->headers[i].name_len, name)) return (int)i;
    return -1;
}

/* ==== Request head ==== */

/* The head ends with an empty line: its LF is preceded by LF or by LF CR.
 * When the previous call saw the first prev_len bytes and found no complete
 * head, that LF can only be among the new bytes. Checking for it first costs
 * a scan of the new bytes only, instead of a full parse per read, which is
 * what a client sending one byte at a time (slowloris) would otherwise buy.
 * The price: a malformed byte among the new ones goes unreported until a
 * blank line could have arrived (or the caller's 431 limit hits first), as
 * in picohttpparser; the answer is then the same BAD a full parse gives. */
static int head_may_end(const char *buf, size_t len, size_t prev_len)
{
    for (size_t i = prev_len; i < len; i++) {
        if (buf[i] != '\n') continue;
        if (buf[i - 1] == '\n' || (buf[i - 1] == '\r' && i >= 2 && buf[i - 2] == '\n')) return 1;
    }
    return 0;
}

/* A line end at p < end: CRLF or a bare LF (RFC 9112 2.2 lets us accept LF
 * alone). A CR not followed by LF is invalid. Returns the byte after it, or
 * NULL with *ret set. */
static const char *line_end(const char *p, const char *end, int *ret)
{
    if (*p == '\r') {
        if (++p == end) { *ret = HTTP_INCOMPLETE; return NULL; }
    }
    if (*p != '\n') { *ret = HTTP_BAD; return NULL; }
    return p + 1;
}

/* One field line (RFC 9112 5): a token, a colon with no whitespace before it
 * (5.1: a proxy might strip it, we must reject it), OWS, the value, OWS.
 * A line that starts with whitespace is obs-fold (5.2) or a continuation;
 * it fails here because the name would be empty. */
static const char *parse_field(const char *p, const char *end, struct http_header *h, int *ret)
{
    h->name = p;
    while (p < end && is_tchar((unsigned char)*p)) p++;
    if (p == end) { *ret = HTTP_INCOMPLETE; return NULL; }
    if (*p != ':' || p == h->name) { *ret = HTTP_BAD; return NULL; }
    h->name_len = (size_t)(p - h->name);
    for (p++; p < end && is_ows((unsigned char)*p); p++) {}
    h->value = p;
    const char *last = p;      /* one past the last byte that is not OWS */
    for (;; p++) {
        if (p == end) { *ret = HTTP_INCOMPLETE; return NULL; }
        unsigned char c = (unsigned char)*p;
        if (c == '\r' || c == '\n') break;
        if (is_bad_ctl(c)) { *ret = HTTP_BAD; return NULL; }
        if (!is_ows(c)) last = p + 1;
    }
    h->value_len = (size_t)(last - h->value);
    return line_end(p, end, ret);
}

int http_parse_request(const char *buf, size_t len, size_t prev_len, struct http_req *req)
{
    static const char version[] = "HTTP/1.";
    const char *p = buf, *end;
    int ret = HTTP_BAD;

    req->num_headers = 0;
    req->minor_version = -1;
    /* The return value is an int: a head that long is a caller's bug anyway. */
    if (len > INT_MAX) len = INT_MAX;
    end = buf + len;
    if (prev_len != 0 && prev_len <= len && !head_may_end(buf, len, prev_len))
        return HTTP_INCOMPLETE;

    /* RFC 9112 2.2: ignore empty lines before the request line. */
    while (p < end && (*p == '\r' || *p == '\n'))
        if (!(p = line_end(p, end, &ret))) return ret;

    /* RFC 9112 3: method SP request-target SP HTTP-version, one SP each. */
    req->method = p;
    while (p < end && is_tchar((unsigned char)*p)) p++;
    if (p == end) return HTTP_INCOMPLETE;
    if (*p != ' ' || p == req->method) return HTTP_BAD;
    req->method_len = (size_t)(p - req->method);

    /* The target's grammar (3.2) is the URI's; we only need it free of
     * whitespace and controls so that its end is unambiguous, and leave the
     * rest to routing. Raw bytes >= 0x80 pass, as in libprocess's http_parser
     * when built non-strict. */
    req->target = ++p;
    while (p < end && (unsigned char)*p > ' ' && *p != 0x7f) p++;
    if (p == end) return HTTP_INCOMPLETE;
    if (*p != ' ' || p == req->target) return HTTP_BAD;
    req->target_len = (size_t)(p - req->target);
    const char *q = req->target, *tend = p;
    while (q < tend && *q != '?' && *q != '#') q++;
    req->path = req->target;
    req->path_len = (size_t)(q - req->target);
    req->query = q;          /* never NULL: a zero-length span when absent */
    req->query_len = 0;
    if (q < tend && *q == '?') {
        req->query = ++q;
        while (q < tend && *q != '#') q++;
        req->query_len = (size_t)(q - req->query);
    }

    /* 2.3: HTTP-version is case-sensitive; we speak 1.0 and 1.1 only. */
    p++;
    for (const char *v = version; *v; v++, p++) {
        if (p == end) return HTTP_INCOMPLETE;
        if (*p != *v) return HTTP_BAD;
    }
    if (p == end) return HTTP_INCOMPLETE;
    if (*p != '0' && *p != '1') return HTTP_BAD;
    req->minor_version = *p++ - '0';
    if (p == end) return HTTP_INCOMPLETE;
    if (!(p = line_end(p, end, &ret))) return ret;

    /* Field lines up to the empty line. Complete fields are kept even when
     * the head is not, as in picohttpparser. */
    for (;;) {
        if (p == end) return HTTP_INCOMPLETE;
        if (*p == '\r' || *p == '\n') break;
        if (req->num_headers == HTTP_MAX_HEADERS) return HTTP_TOO_MANY_HEADERS;
        if (!(p = parse_field(p, end, &req->headers[req->num_headers], &ret))) return ret;
        req->num_headers++;
    }
    if (!(p = line_end(p, end, &ret))) return ret;
    return (int)(p - buf);
}

/* ==== Framing ==== */

/* Calls fn on each element of a comma-separated list (RFC 9110 5.6.1), with
 * OWS trimmed; empty elements are passed too, and the callee decides. */
static int each_element(const char *v, size_t n, int (*fn)(const char *, size_t, void *), void *arg)
{
    size_t i = 0;
    for (;;) {
        size_t a = i;
        while (i < n && v[i] != ',') i++;
        size_t b = i;
        while (a < b && is_ows((unsigned char)v[a])) a++;
        while (b > a && is_ows((unsigned char)v[b - 1])) b--;
        if (fn(v + a, b - a, arg) < 0) return HTTP_BAD;
        if (i++ == n) return 0;
    }
}

/* RFC 9112 6.3 item 5: a list of identical lengths may be taken as one;
 * anything else is unrecoverable framing. Digits only, no sign, no blanks. */
static int length_element(const char *s, size_t n, void *arg)
{
    struct http_framing *f = arg;
    uint64_t x = 0;
    if (n == 0) return HTTP_BAD;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return HTTP_BAD;
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10) return HTTP_BAD;
        x = x * 10 + d;
    }
    if (f->has_length && f->content_length != x) return HTTP_BAD;
    f->has_length = 1;
    f->content_length = x;
    return 0;
}

/* RFC 9112 9.6 and 9.3: Connection options are tokens; "close" ends the
 * connection after this exchange, "keep-alive" asks HTTP/1.0 to keep it. */
struct conn_opts { int close, keep_alive; };
static int connection_element(const char *s, size_t n, void *arg)
{
    struct conn_opts *o = arg;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i])) return HTTP_BAD;
    if (http_eq_nocase(s, n, "close")) o->close = 1;
    if (http_eq_nocase(s, n, "keep-alive")) o->keep_alive = 1;
    return 0;
}

int http_framing(const struct http_req *req, struct http_framing *f)
{
    struct conn_opts o = { 0, 0 };
    int te = 0;
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        if (http_eq_nocase(h->name, h->name_len, "content-length")) {
            if (each_element(h->value, h->value_len, length_element, f) < 0) return HTTP_BAD;
        } else if (http_eq_nocase(h->name, h->name_len, "transfer-encoding")) {
            /* The only coding we decode is chunked, and it must be the
             * only one: "chunked" twice, across fields, is a list too. */
            if (te++ || !http_eq_nocase(h->value, h->value_len, "chunked")) return HTTP_BAD;
            f->chunked = 1;
        } else if (http_eq_nocase(h->name, h->name_len, "connection")) {
            if (each_element(h->value, h->value_len, connection_element, &o) < 0) return HTTP_BAD;
        } else if (http_eq_nocase(h->name, h->name_len, "expect")) {
            /* RFC 9110 10.1.1: 100-continue is the only expectation defined. */
            if (http_eq_nocase(h->value, h->value_len, "100-continue")) f->expect_continue = 1;
            else f->expect_other = 1;
        }
    }
    /* RFC 9112 6.1: with both, a server MAY reject; a smuggling attack is
     * built on exactly this pair, so we do. */
    if (f->chunked && f->has_length) return HTTP_BAD;
    f->keep_alive = req->minor_version >= 1 ? !o.close : o.keep_alive && !o.close;
    /* RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding may have been
     * framed differently by whoever sent it; we decode it but then close. */
    if (f->chunked && req->minor_version == 0) f->keep_alive = 0;
    return 0;
}

/* ==== Chunked decoder ==== */

/* RFC 9112 7.1:
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk   = 1*("0") [ chunk-ext ] CRLF
 * One state per position in that grammar. The states of the size line come
 * first and the trailer's last, so the byte budgets below are range checks. */
enum {
    CH_SIZE,          /* hex digits */
    CH_SIZE_WS,       /* BWS after the size: only before ';' */
    CH_EXT,           /* chunk-ext, outside quotes */
    CH_EXT_QUOTE,     /* inside a quoted-string */
    CH_EXT_ESCAPE,    /* after a backslash in a quoted-string */
    CH_SIZE_LF,       /* after the size line's CR */
    CH_DATA,          /* chunk-data; left counts down */
    CH_DATA_CR,       /* the line end after chunk-data */
    CH_DATA_LF,
    CH_TRAILER,       /* start of a trailer line, or the final empty line */
    CH_TRAILER_NAME,
    CH_TRAILER_VALUE,
    CH_TRAILER_LF,    /* after a trailer line's CR */
    CH_END_LF,        /* after the final CR */
    CH_DONE
};

#define MAX_CHUNK_SIZE ((uint64_t)1 << 40)

/* The size line has ended: data follows, or trailers after the last chunk. */
static void size_line_done(struct http_chunked *d)
{
    d->_state = d->left ? CH_DATA : CH_TRAILER;
    d->_count = 0;
    d->_digits = 0;
}

ssize_t http_decode_chunked(struct http_chunked *d, char *buf, size_t *len)
{
    size_t i = 0, out = 0, n = *len;
    int v;

    while (i < n && d->_state != CH_DONE) {
        if (d->_state == CH_DATA) {
            /* Copy down over the framing already consumed; out <= i. */
            size_t k = n - i < d->left ? n - i : (size_t)d->left;
            memmove(buf + out, buf + i, k);
            out += k;
            i += k;
            d->left -= k;
            if (d->left == 0) d->_state = CH_DATA_CR;
            continue;
        }
        /* Framing bytes are budgeted: extensions and trailers are skipped,
         * and without a limit a client could send them forever. */
        if (d->_state < CH_DATA && ++d->_count > HTTP_MAX_CHUNK_LINE) goto bad;
        if (d->_state >= CH_TRAILER && ++d->_count > HTTP_MAX_TRAILER) goto bad;
        unsigned char c = (unsigned char)buf[i++];
        switch (d->_state) {
        case CH_SIZE:
            if ((v = hexval(c)) >= 0) {
                /* 2^40 is more than any body we accept, and keeps the
                 * shift below from overflowing. */
                d->left = d->left << 4 | (unsigned)v;
                if (d->left > MAX_CHUNK_SIZE) goto bad;
                if (d->_digits < UCHAR_MAX) d->_digits++;
                break;
            }
            if (d->_digits == 0) goto bad;
            if (c == '\r') d->_state = CH_SIZE_LF;
            else if (c == '\n') size_line_done(d);
            else if (c == ';') d->_state = CH_EXT;
            else if (is_ows(c)) d->_state = CH_SIZE_WS;
            else goto bad;
            break;
        case CH_SIZE_WS:
            /* 7.1.1: BWS only precedes ';', so "5 \r\n" is malformed. */
            if (c == ';') d->_state = CH_EXT;
            else if (!is_ows(c)) goto bad;
            break;
        case CH_EXT:
            /* We ignore extensions (7.1.1 allows it) and check only what
             * decides where the line ends: no controls, and quoted-strings
             * closed before it, since they cannot hold CR or LF. */
            if (c == '\r') d->_state = CH_SIZE_LF;
            else if (c == '\n') size_line_done(d);
            else if (c == '"') d->_state = CH_EXT_QUOTE;
            else if (is_bad_ctl(c)) goto bad;
            break;
        case CH_EXT_QUOTE:
            if (c == '"') d->_state = CH_EXT;
            else if (c == '\\') d->_state = CH_EXT_ESCAPE;
            else if (is_bad_ctl(c)) goto bad;
            break;
        case CH_EXT_ESCAPE:
            if (is_bad_ctl(c)) goto bad;
            d->_state = CH_EXT_QUOTE;
            break;
        case CH_SIZE_LF:
            if (c != '\n') goto bad;
            size_line_done(d);
            break;
        case CH_DATA_CR:
            /* Exactly a line end after the data: a longer chunk than its
             * size said is how a body hides a second request. */
            if (c == '\r') d->_state = CH_DATA_LF;
            else if (c == '\n') d->_state = CH_SIZE;
            else goto bad;
            break;
        case CH_DATA_LF:
            if (c != '\n') goto bad;
            d->_state = CH_SIZE;
            break;
        case CH_TRAILER:
            /* Trailer fields are skipped, but must look like fields: a
             * name, a colon, a value; obs-fold fails the name. */
            if (c == '\r') d->_state = CH_END_LF;
            else if (c == '\n') d->_state = CH_DONE;
            else if (is_tchar(c)) d->_state = CH_TRAILER_NAME;
            else goto bad;
            break;
        case CH_TRAILER_NAME:
            if (c == ':') d->_state = CH_TRAILER_VALUE;
            else if (!is_tchar(c)) goto bad;
            break;
        case CH_TRAILER_VALUE:
            if (c == '\r') d->_state = CH_TRAILER_LF;
            else if (c == '\n') d->_state = CH_TRAILER;
            else if (is_bad_ctl(c)) goto bad;
            break;
        case CH_TRAILER_LF:
            if (c != '\n') goto bad;
            d->_state = CH_TRAILER;
            break;
        case CH_END_LF:
            if (c != '\n') goto bad;
            d->_state = CH_DONE;
            break;
        default:
            goto bad;
        }
    }
    *len = out;
    if (d->_state != CH_DONE) return HTTP_INCOMPLETE;
    /* The rest belongs to the next request: move it to follow the body. */
    memmove(buf + out, buf + i, n - i);
    return (ssize_t)(n - i);
bad:
    *len = out;
    return HTTP_BAD;
}
