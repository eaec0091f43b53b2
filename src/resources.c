/* resources.c -- Mesos resources (see resources.h).
 *
 * The one idea: every value is kept in the form upstream's arithmetic
 * produces (fixed-point scalars, coalesced ranges, duplicate-free sets) and
 * every identity field that arithmetic compares is decoded, while fields we
 * never compute with (disk info, provider id, unknown fields) stay protobuf
 * bytes and are written back as they came.
 *
 * The behaviour is upstream's, read from src/common/values.cpp (value
 * syntax, fixed point, range coalescing and subtraction), resources.cpp
 * (validate, addable/subtractable, +=, -=, contains, operator<<),
 * resources_utils.cpp (format conversion), attributes.cpp and roles.cpp.
 * Where upstream is quadratic on input (duplicate items, overlapping ranges)
 * we sort instead, so a large request cannot stall the master. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "pbjson.h"
#include "pbw.h"
#include "resources.h"

/* Append a message to err (if any) and return -1. */
__attribute__((format(printf, 2, 3)))
static int fail(struct buf *err, const char *fmt, ...)
{
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(err, (size_t)n + 1) < 0) return -1;
    va_start(ap, fmt);
    vsnprintf(err->data + err->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    err->len += (size_t)n;
    return -1;
}

/* ==== Small helpers ===================================================== */

static char *dupmem(const void *p, size_t n)
{
    char *s = xmalloc(n + 1);
    if (n) memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static void *dupbytes(const void *p, size_t n)
{
    return n ? memcpy(xmalloc(n), p, n) : NULL;
}

/* Protobuf strings may hold NUL bytes; ours are C strings, so such a string
 * is refused rather than silently cut. */
static char *dupstr_pb(const uint8_t *p, size_t n)
{
    return memchr(p, 0, n) ? NULL : dupmem(p, n);
}

static bool streq_opt(const char *a, const char *b)
{
    return a && b ? strcmp(a, b) == 0 : a == b;
}

static const char *or_empty(const char *s) { return s ? s : ""; }

static bool is_delim(char c, const char *delims)
{
    return memchr(delims, c, strlen(delims)) != NULL;
}

/* strings::tokenize: the next run of non-delimiter bytes at or after *pos. */
static bool next_token(const char *s, size_t n, size_t *pos, const char *delims,
                       size_t *start, size_t *len)
{
    size_t i = *pos;
    while (i < n && is_delim(s[i], delims)) i++;
    if (i == n) { *pos = n; return false; }
    size_t j = i;
    while (j < n && !is_delim(s[j], delims)) j++;
    *start = i; *len = j - i; *pos = j;
    return true;
}

/* strings::trim with stout's WHITESPACE. */
static void trim(const char **p, size_t *n)
{
    while (*n && strchr(" \t\n\r", (*p)[0]) && (*p)[0]) { (*p)++; (*n)--; }
    while (*n && strchr(" \t\n\r", (*p)[*n - 1]) && (*p)[*n - 1]) (*n)--;
}

/* roles::isStrictSubroleOf(left, right): left is right + "/" + more. */
static bool is_strict_subrole(const char *left, const char *right)
{
    size_t l = strlen(left), r = strlen(right);
    return l > r && left[r] == '/' && memcmp(left, right, r) == 0;
}

/* ==== Fixed point (values.cpp) ========================================== */

int64_t resources_fixed(double v)
{
    double x = v * 1000;
    /* llround() outside int64 is undefined in C; x86 yields LLONG_MIN, and
     * upstream's validation then rejects the value as "<= 0". */
    if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0)) return INT64_MIN;
    return (int64_t)llround(x);
}

double resources_double(int64_t f)
{
    /* As convertToFloating: only the remainder in [0,999] is divided. */
    return (double)(f / 1000) + (double)(f % 1000) / 1000.0;
}

/* Upstream wraps on overflow; we saturate, which only differs beyond 9e15. */
static int64_t fixed_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t fixed_sub(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r)) return b < 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* ==== Ranges (values.cpp) =============================================== */

static int cmp_range(const void *a, const void *b)
{
    const struct resource_range *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* internal::coalesce: sort by (begin, end), then merge overlapping and
 * adjacent ranges in one pass, in place. Returns the new count. Inverted
 * ranges pass through the way upstream's loop treats them (validation
 * rejects them later); an end of UINT64_MAX cannot overflow here. */
static size_t coalesce(struct resource_range *r, size_t n)
{
    if (n == 0) return 0;
    qsort(r, n, sizeof *r, cmp_range);
    size_t count = 0;
    struct resource_range cur = r[0];
    for (size_t i = 1; i < n; i++) {
        if (r[i].begin == cur.begin && r[i].end == cur.end) continue;
        if (r[i].begin == cur.begin && r[i].end > cur.end) {
            cur.end = r[i].end;
        } else if (r[i].begin > cur.begin) {
            if (cur.end == UINT64_MAX || r[i].begin <= cur.end + 1) {
                if (r[i].end > cur.end) cur.end = r[i].end;
            } else {
                r[count++] = cur;
                cur = r[i];
            }
        }
    }
    r[count++] = cur;
    return count;
}

/* a + b into a (both coalesced). */
static void ranges_add(struct resource *a, const struct resource *b)
{
    if (b->nranges == 0) return;
    a->ranges = xrealloc(a->ranges, (a->nranges + b->nranges) * sizeof *a->ranges);
    memcpy(a->ranges + a->nranges, b->ranges, b->nranges * sizeof *b->ranges);
    a->nranges = coalesce(a->ranges, a->nranges + b->nranges);
}

/* internal::subtract on two sorted, disjoint lists: walk both, keeping the
 * parts of each left range that no right range covers. */
static void ranges_subtract(struct resource *a, const struct resource *b)
{
    if (a->nranges == 0 || b->nranges == 0) return;
    struct resource_range *out = xmalloc((a->nranges + b->nranges) * sizeof *out);
    size_t n = 0, i = 0, j = 0;
    struct resource_range l = a->ranges[0];
    while (i < a->nranges && j < b->nranges) {
        const struct resource_range *r = &b->ranges[j];
        if (l.end < r->begin) {                 /* l entirely before r */
            out[n++] = l;
            if (++i < a->nranges) l = a->ranges[i];
            continue;
        }
        if (l.begin > r->end) { j++; continue; }  /* r entirely before l */
        if (l.begin < r->begin) out[n++] = (struct resource_range){ l.begin, r->begin - 1 };
        if (l.end <= r->end) {                  /* the rest of l is covered */
            if (++i < a->nranges) l = a->ranges[i];
        } else {                                /* l continues past r */
            l.begin = r->end + 1;
            j++;
        }
    }
    if (i < a->nranges) {
        out[n++] = l;
        for (i++; i < a->nranges; i++) out[n++] = a->ranges[i];
    }
    free(a->ranges);
    a->ranges = out;
    a->nranges = n;
}

/* b ⊆ a, both sorted and disjoint. */
static bool ranges_contain(const struct resource *a, const struct resource *b)
{
    size_t i = 0;
    for (size_t j = 0; j < b->nranges; j++) {
        while (i < a->nranges && a->ranges[i].end < b->ranges[j].begin) i++;
        if (i == a->nranges || a->ranges[i].begin > b->ranges[j].begin ||
            a->ranges[i].end < b->ranges[j].end)
            return false;
    }
    return true;
}

static bool ranges_equal(const struct resource *a, const struct resource *b)
{
    return a->nranges == b->nranges &&
           (a->nranges == 0 || memcmp(a->ranges, b->ranges, a->nranges * sizeof *a->ranges) == 0);
}

/* ==== Sets (values.cpp) =================================================
 * Items keep their first-seen order, as upstream's repeated field does;
 * membership tests go through a sorted index so big sets stay O(n log n). */

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **sorted_index(char **items, size_t n)
{
    char **ix = xmalloc((n ? n : 1) * sizeof *ix);
    if (n) memcpy(ix, items, n * sizeof *ix);
    qsort(ix, n, sizeof *ix, cmp_strp);
    return ix;
}

static bool in_index(char **ix, size_t n, const char *s)
{
    return n && bsearch(&s, ix, n, sizeof *ix, cmp_strp) != NULL;
}

/* a += b: append the items of b that a lacks. */
static void set_add(struct resource *a, const struct resource *b)
{
    if (b->nitems == 0) return;
    char **ix = sorted_index(a->items, a->nitems);
    size_t nix = a->nitems;
    a->items = xrealloc(a->items, (a->nitems + b->nitems) * sizeof *a->items);
    for (size_t i = 0; i < b->nitems; i++)
        if (!in_index(ix, nix, b->items[i])) a->items[a->nitems++] = xstrdup(b->items[i]);
    free(ix);
}

/* a -= b, keeping the order of what is left. */
static void set_subtract(struct resource *a, const struct resource *b)
{
    if (b->nitems == 0) return;
    char **ix = sorted_index(b->items, b->nitems);
    size_t n = 0;
    for (size_t i = 0; i < a->nitems; i++) {
        if (in_index(ix, b->nitems, a->items[i])) free(a->items[i]);
        else a->items[n++] = a->items[i];
    }
    a->nitems = n;
    free(ix);
}

/* b ⊆ a. */
static bool set_contains(const struct resource *a, const struct resource *b)
{
    if (b->nitems > a->nitems) return false;
    char **ix = sorted_index(a->items, a->nitems);
    bool ok = true;
    for (size_t i = 0; ok && i < b->nitems; i++) ok = in_index(ix, a->nitems, b->items[i]);
    free(ix);
    return ok;
}

/* Upstream compares sets position by position (a bug: {a,b} != {b,a}); we
 * compare them as sets. */
static bool set_equal(const struct resource *a, const struct resource *b)
{
    return a->nitems == b->nitems && set_contains(a, b);
}

/* ==== Text values (values.cpp internal::values::parse) ================== */

struct value {
    int type;
    double scalar;
    struct resource_range *ranges;
    size_t nranges;
    char **items;
    size_t nitems;
    char *text;
};

static void value_free(struct value *v)
{
    free(v->ranges);
    for (size_t i = 0; i < v->nitems; i++) free(v->items[i]);
    free(v->items);
    free(v->text);
    memset(v, 0, sizeof *v);
}

static bool brackets_match(const char *s, char open, char close)
{
    long depth = 0;
    for (; *s; s++) {
        if (*s == open) depth++;
        else if (*s == close) depth--;
        if (depth < 0) return false;
    }
    return depth == 0;
}

/* numify<uint64_t> (boost::lexical_cast, then stout's hex fallback):
 * decimal with an optional '+', or 0x-prefixed hex. */
static int numify_u64(const char *s, uint64_t *out)
{
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) { base = 16; s += 2; }
    else if (s[0] == '+') s++;
    if (!*s) return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        int d;
        if (*s >= '0' && *s <= '9') d = *s - '0';
        else if (base == 16 && *s >= 'a' && *s <= 'f') d = *s - 'a' + 10;
        else if (base == 16 && *s >= 'A' && *s <= 'F') d = *s - 'A' + 10;
        else return -1;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) return -1;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = v;
    return 0;
}

/* numify<double>: a decimal number with optional sign and exponent, or
 * inf/infinity/nan in any case. No hex (stout refuses hex floats). Returns
 * -1 when the text is not a number, including out-of-range magnitudes. */
static int numify_double(const char *s, double *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (!strcasecmp(p, "inf") || !strcasecmp(p, "infinity") || !strcasecmp(p, "nan")) {
        *out = strtod(s, NULL);
        return 0;
    }
    size_t digits = 0;
    while (*p >= '0' && *p <= '9') { p++; digits++; }
    if (*p == '.') for (p++; *p >= '0' && *p <= '9'; p++) digits++;
    if (digits == 0) return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!(*p >= '0' && *p <= '9')) return -1;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p) return -1;
    errno = 0;
    double v = strtod(s, NULL);
    if (errno == ERANGE && fpclassify(v) != FP_SUBNORMAL) return -1;
    *out = v;
    return 0;
}

/* Parse one value as upstream: spaces removed; [..] ranges (coalesced),
 * {..} a set, a non-negative finite number a scalar, anything else TEXT. */
static int value_parse(const char *s, size_t n, struct value *v, struct buf *err)
{
    memset(v, 0, sizeof *v);
    char *t = xmalloc(n + 1);
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ') t[len++] = s[i];
    t[len] = '\0';
    int rc = -1;
    if (len == 0) { fail(err, "Expecting non-empty string"); goto out; }
    if (!brackets_match(t, '{', '}') || !brackets_match(t, '[', ']') || !brackets_match(t, '(', ')')) {
        fail(err, "Mismatched brackets");
        goto out;
    }
    char *sq = strchr(t, '['), *cu = strchr(t, '{');
    if (sq == t) {
        size_t ntok = 0, pos = 0, st, ln;
        while (next_token(t, len, &pos, "[]-,\n", &st, &ln)) ntok++;
        if (ntok % 2) { fail(err, "Expecting one or more \"ranges\""); goto out; }
        if (ntok / 2 > RESOURCES_MAX_VALUES) {
            fail(err, "Too many ranges (more than %d)", RESOURCES_MAX_VALUES);
            goto out;
        }
        v->type = RESOURCE_RANGES;
        v->ranges = xmalloc((ntok / 2 + 1) * sizeof *v->ranges);
        pos = 0;
        for (size_t i = 0; i < ntok / 2; i++) {
            size_t s1, l1, s2, l2;
            next_token(t, len, &pos, "[]-,\n", &s1, &l1);
            next_token(t, len, &pos, "[]-,\n", &s2, &l2);
            char *b = dupmem(t + s1, l1), *e = dupmem(t + s2, l2);
            uint64_t bv = 0, ev = 0;
            int bad = numify_u64(b, &bv) < 0 || numify_u64(e, &ev) < 0;
            if (bad) fail(err, "Expecting non-negative integers in '%s'", b);
            free(b);
            free(e);
            if (bad) goto out;
            v->ranges[v->nranges++] = (struct resource_range){ bv, ev };
        }
        v->nranges = coalesce(v->ranges, v->nranges);
        rc = 0;
    } else if (sq) {
        fail(err, "Unexpected '[' found");
    } else if (cu == t) {
        size_t ntok = 0, pos = 0, st, ln;
        while (next_token(t, len, &pos, "{},\n", &st, &ln)) ntok++;
        if (ntok > RESOURCES_MAX_VALUES) {
            fail(err, "Too many set items (more than %d)", RESOURCES_MAX_VALUES);
            goto out;
        }
        v->type = RESOURCE_SET;
        v->items = xmalloc((ntok + 1) * sizeof *v->items);
        pos = 0;
        while (next_token(t, len, &pos, "{},\n", &st, &ln)) v->items[v->nitems++] = dupmem(t + st, ln);
        rc = 0;
    } else if (cu) {
        fail(err, "Unexpected '{' found");
    } else {
        double d;
        bool number = numify_double(t, &d) == 0;
        if (number) {
            switch (fpclassify(d)) {
            case FP_INFINITE: case FP_NAN: number = false; break;
            case FP_SUBNORMAL: fail(err, "Subnormal values not supported"); goto out;
            case FP_NORMAL: if (d < 0) number = false; break;
            default: break;
            }
        }
        if (number) { v->type = RESOURCE_SCALAR; v->scalar = d; }
        else { v->type = RESOURCE_TEXT; v->text = t; t = NULL; }
        rc = 0;
    }
out:
    free(t);
    if (rc) value_free(v);
    return rc;
}

/* ==== Roles (roles.cpp) ================================================= */

int resources_validate_role(const char *role, struct buf *err)
{
    if (strcmp(role, "*") == 0) return 0;
    size_t n = strlen(role);
    if (n && role[0] == '/') return fail(err, "Role '%s' cannot start with a slash", role);
    if (n && role[n - 1] == '/') return fail(err, "Role '%s' cannot end with a slash", role);
    if (strstr(role, "//")) return fail(err, "Role '%s' cannot contain two adjacent slashes", role);
    size_t pos = 0, st, ln, count = 0;
    while (next_token(role, n, &pos, "/", &st, &ln)) {
        const char *c = role + st;
        count++;
        if (ln == 1 && c[0] == '.')
            return fail(err, "Role '%s' cannot include '.' as a component", role);
        if (ln == 2 && c[0] == '.' && c[1] == '.')
            return fail(err, "Role '%s' cannot include '..' as a component", role);
        if (ln == 1 && c[0] == '*')
            return fail(err, "Role '%s' cannot include '*' as a component", role);
        if (c[0] == '-')
            return fail(err, "Role component '%.*s' is invalid because it starts with a dash", (int)ln, c);
        for (size_t i = 0; i < ln; i++)
            if (memchr("\x09\x0a\x0b\x0c\x0d\x20\x7f", c[i], 7))
                return fail(err, "Role component '%.*s' is invalid because it contains backspace or whitespace",
                            (int)ln, c);
    }
    if (count == 0) return fail(err, "Role names cannot be the empty string");
    return 0;
}

/* ==== Resource memory =================================================== */

static void reservation_clear(struct resource_reservation *r)
{
    free(r->role);
    free(r->principal);
    free(r->labels);
    memset(r, 0, sizeof *r);
}

static void reservation_copy(struct resource_reservation *d, const struct resource_reservation *s)
{
    d->type = s->type;
    d->role = s->role ? xstrdup(s->role) : NULL;
    d->principal = s->principal ? xstrdup(s->principal) : NULL;
    d->labels = dupbytes(s->labels, s->labels_len);
    d->labels_len = s->labels_len;
    d->has_labels = s->has_labels;
}

static void resource_clear(struct resource *r)
{
    free(r->name);
    free(r->ranges);
    for (size_t i = 0; i < r->nitems; i++) free(r->items[i]);
    free(r->items);
    for (size_t i = 0; i < r->nreservations; i++) reservation_clear(&r->reservations[i]);
    free(r->reservations);
    free(r->allocation_role);
    free(r->disk);
    free(r->provider_id);
    free(r->extra);
    memset(r, 0, sizeof *r);
}

static void resource_copy(struct resource *d, const struct resource *s)
{
    *d = *s;
    d->name = s->name ? xstrdup(s->name) : NULL;
    d->ranges = s->nranges ? dupbytes(s->ranges, s->nranges * sizeof *s->ranges) : NULL;
    d->items = s->nitems ? xmalloc(s->nitems * sizeof *d->items) : NULL;
    for (size_t i = 0; i < s->nitems; i++) d->items[i] = xstrdup(s->items[i]);
    d->reservations = s->nreservations ? xmalloc(s->nreservations * sizeof *d->reservations) : NULL;
    for (size_t i = 0; i < s->nreservations; i++) reservation_copy(&d->reservations[i], &s->reservations[i]);
    d->allocation_role = s->allocation_role ? xstrdup(s->allocation_role) : NULL;
    d->disk = dupbytes(s->disk, s->disk_len);
    d->provider_id = dupbytes(s->provider_id, s->provider_id_len);
    d->extra = dupbytes(s->extra, s->extra_len);
}

/* Append, taking ownership of r's contents (r is zeroed). */
static void list_push(struct resources *rs, struct resource *r)
{
    if (rs->len == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 8;
        rs->v = xrealloc(rs->v, rs->cap * sizeof *rs->v);
    }
    rs->v[rs->len++] = *r;
    memset(r, 0, sizeof *r);
}

void resources_free(struct resources *rs)
{
    for (size_t i = 0; i < rs->len; i++) resource_clear(&rs->v[i]);
    free(rs->v);
    memset(rs, 0, sizeof *rs);
}

void resources_copy(struct resources *dst, const struct resources *src)
{
    if (dst == src) return;
    resources_free(dst);
    for (size_t i = 0; i < src->len; i++) {
        struct resource r;
        resource_copy(&r, &src->v[i]);
        list_push(dst, &r);
    }
}

/* ==== Sub-message helpers: labels, disk, provider ======================= */

struct span { const uint8_t *p; size_t n; bool set; };

/* pbw_reader_init over bytes that may be absent (NULL, 0): NULL + 0 is
 * undefined in C, so an empty array stands in. */
static void reader(struct pbw_reader *r, const uint8_t *p, size_t n)
{
    static const uint8_t none[1];
    pbw_reader_init(r, p ? p : none, p ? n : 0);
}

static struct span find_span(const uint8_t *p, size_t n, uint32_t tag)
{
    struct pbw_field f;
    struct span s = { (const uint8_t *)"", 0, false };
    if (p && pbw_find(p, n, tag, &f) == 1 && f.wt == PBW_LEN) { s.p = f.p; s.n = f.n; s.set = true; }
    return s;
}

static uint64_t find_varint(const uint8_t *p, size_t n, uint32_t tag, bool *set)
{
    struct pbw_field f;
    *set = p && pbw_find(p, n, tag, &f) == 1 && f.wt == PBW_VARINT;
    return *set ? f.v : 0;
}

static bool span_eq(struct span a, struct span b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* Label == compares key and value (an unset value reads as ""). */
static bool label_eq(struct span a, struct span b)
{
    return span_eq(find_span(a.p, a.n, 1), find_span(b.p, b.n, 1)) &&
           span_eq(find_span(a.p, a.n, 2), find_span(b.p, b.n, 2));
}

static size_t count_labels(const uint8_t *p, size_t n)
{
    struct pbw_reader r;
    struct pbw_field f;
    size_t k = 0;
    reader(&r, p, n);
    while (pbw_next(&r, &f) == 1)
        if (f.tag == 1 && f.wt == PBW_LEN) k++;
    return k;
}

/* Labels ==: same count, and every label of a is somewhere in b. */
static bool labels_eq(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    if (count_labels(a, an) != count_labels(b, bn)) return false;
    struct pbw_reader ra, rb;
    struct pbw_field fa, fb;
    reader(&ra, a, an);
    while (pbw_next(&ra, &fa) == 1) {
        if (fa.tag != 1 || fa.wt != PBW_LEN) continue;
        bool found = false;
        reader(&rb, b, bn);
        while (!found && pbw_next(&rb, &fb) == 1)
            found = fb.tag == 1 && fb.wt == PBW_LEN &&
                    label_eq((struct span){ fa.p, fa.n, true }, (struct span){ fb.p, fb.n, true });
        if (!found) return false;
    }
    return true;
}

/* The parts of a DiskInfo that identity, validation and printing use. */
struct disk {
    struct span source, persistence, volume, persistence_id;
    int source_type;              /* Source.Type; 0 (UNKNOWN) when unset */
    struct span path, mount, source_id, profile, vendor;
};

static void disk_info(const struct resource *r, struct disk *d)
{
    memset(d, 0, sizeof *d);
    d->source = find_span(r->disk, r->disk_len, 3);
    d->persistence = find_span(r->disk, r->disk_len, 1);
    d->volume = find_span(r->disk, r->disk_len, 2);
    d->persistence_id = find_span(d->persistence.p, d->persistence.n, 1);
    bool set;
    uint64_t t = find_varint(d->source.p, d->source.n, 1, &set);
    d->source_type = t <= 4 ? (int)t : 0;      /* unknown numbers read as unset */
    d->path = find_span(d->source.p, d->source.n, 2);
    d->mount = find_span(d->source.p, d->source.n, 3);
    d->source_id = find_span(d->source.p, d->source.n, 4);
    d->profile = find_span(d->source.p, d->source.n, 6);
    d->vendor = find_span(d->source.p, d->source.n, 7);
}

enum { SOURCE_UNKNOWN, SOURCE_PATH, SOURCE_MOUNT, SOURCE_BLOCK, SOURCE_RAW };
static const char *const source_names[] = { "UNKNOWN", "PATH", "MOUNT", "BLOCK", "RAW" };

static bool is_persistent_volume(const struct resource *r)
{
    return r->has_disk && find_span(r->disk, r->disk_len, 1).set;
}

/* DiskInfo ==: the same source and persistence id; `volume` is ignored (it
 * says how a task mounts the disk, not what the disk is). Sources compare
 * as bytes, which two encoders of the same source agree on in practice. */
static bool disk_eq(const struct resource *a, const struct resource *b)
{
    struct disk x, y;
    disk_info(a, &x);
    disk_info(b, &y);
    return x.source.set == y.source.set && span_eq(x.source, y.source) &&
           x.persistence.set == y.persistence.set &&
           (!x.persistence.set || span_eq(x.persistence_id, y.persistence_id));
}

/* ResourceProviderID == compares `value`. */
static bool provider_eq(const struct resource *a, const struct resource *b)
{
    if (a->has_provider_id != b->has_provider_id) return false;
    return !a->has_provider_id ||
           span_eq(find_span(a->provider_id, a->provider_id_len, 1),
                   find_span(b->provider_id, b->provider_id_len, 1));
}

/* ==== Identity and values (resources.cpp) =============================== */

static bool reservation_eq(const struct resource_reservation *a, const struct resource_reservation *b)
{
    return a->type == b->type && strcmp(or_empty(a->role), or_empty(b->role)) == 0 &&
           streq_opt(a->principal, b->principal) && a->has_labels == b->has_labels &&
           (!a->has_labels || labels_eq(a->labels, a->labels_len, b->labels, b->labels_len));
}

static bool reservations_eq(const struct resource *a, const struct resource *b)
{
    if (a->nreservations != b->nreservations) return false;
    for (size_t i = 0; i < a->nreservations; i++)
        if (!reservation_eq(&a->reservations[i], &b->reservations[i])) return false;
    return true;
}

static bool allocation_eq(const struct resource *a, const struct resource *b)
{
    return a->has_allocation == b->has_allocation &&
           (!a->has_allocation || streq_opt(a->allocation_role, b->allocation_role));
}

/* compareResourceMetadata. */
static bool metadata_eq(const struct resource *a, const struct resource *b)
{
    return strcmp(a->name, b->name) == 0 && a->type == b->type && allocation_eq(a, b) &&
           reservations_eq(a, b) && a->has_disk == b->has_disk && (!a->has_disk || disk_eq(a, b)) &&
           a->revocable == b->revocable && provider_eq(a, b) && a->shared == b->shared;
}

static bool values_eq(const struct resource *a, const struct resource *b)
{
    switch (a->type) {
    case RESOURCE_SCALAR: return a->scalar == b->scalar;
    case RESOURCE_RANGES: return ranges_equal(a, b);
    case RESOURCE_SET: return set_equal(a, b);
    default: return false;
    }
}

static bool resource_eq(const struct resource *a, const struct resource *b)
{
    return metadata_eq(a, b) && values_eq(a, b);
}

/* The checks shared by addable and subtractable, minus the disk rules. */
static bool same_identity(const struct resource *a, const struct resource *b)
{
    return strcmp(a->name, b->name) == 0 && a->type == b->type && allocation_eq(a, b) &&
           reservations_eq(a, b) && a->has_disk == b->has_disk && (!a->has_disk || disk_eq(a, b));
}

/* Two resources merge into one when everything but the amount matches.
 * Exclusive disks (MOUNT, BLOCK, RAW with an id) and persistent volumes never
 * merge; shared resources merge only when equal (their count grows). */
static bool addable(const struct resource *a, const struct resource *b)
{
    if (a->shared != b->shared) return false;
    if (a->shared) return resource_eq(a, b);
    if (!same_identity(a, b)) return false;
    if (a->has_disk) {
        struct disk d;
        disk_info(a, &d);
        if (d.source.set) {
            if (d.source_type == SOURCE_MOUNT || d.source_type == SOURCE_BLOCK) return false;
            if (d.source_type == SOURCE_RAW && d.source_id.set) return false;
            if (d.source_type == SOURCE_UNKNOWN) return false;
        }
        if (d.persistence.set) return false;
    }
    return a->revocable == b->revocable && provider_eq(a, b);
}

/* Subtraction is allowed where addition is, and also for an exclusive disk
 * or persistent volume taken away whole. */
static bool subtractable(const struct resource *a, const struct resource *b)
{
    if (a->shared != b->shared) return false;
    if (a->shared) return resource_eq(a, b);
    if (!same_identity(a, b)) return false;
    if (a->has_disk) {
        struct disk d;
        disk_info(a, &d);
        if (d.source.set) {
            if ((d.source_type == SOURCE_MOUNT || d.source_type == SOURCE_BLOCK) && !resource_eq(a, b))
                return false;
            if (d.source_type == SOURCE_RAW && d.source_id.set && !resource_eq(a, b)) return false;
            if (d.source_type == SOURCE_UNKNOWN) return false;
        }
        if (d.persistence.set && !resource_eq(a, b)) return false;
    }
    return a->revocable == b->revocable && provider_eq(a, b);
}

static bool resource_empty(const struct resource *r)
{
    if (r->shared && r->shared_count == 0) return true;
    switch (r->type) {
    case RESOURCE_SCALAR: return r->scalar == 0;
    case RESOURCE_RANGES: return r->nranges == 0;
    case RESOURCE_SET: return r->nitems == 0;
    default: return false;
    }
}

/* Resource_::contains: a holds at least b. */
static bool resource_contains(const struct resource *a, const struct resource *b)
{
    if (a->shared != b->shared) return false;
    if (a->shared) return a->shared_count >= b->shared_count && resource_eq(a, b);
    if (!subtractable(a, b)) return false;
    switch (a->type) {
    case RESOURCE_SCALAR: return b->scalar <= a->scalar;
    case RESOURCE_RANGES: return ranges_contain(a, b);
    case RESOURCE_SET: return set_contains(a, b);
    default: return false;
    }
}

static void value_add(struct resource *a, const struct resource *b)
{
    if (a->shared) { a->shared_count += b->shared_count; return; }
    switch (a->type) {
    case RESOURCE_SCALAR: a->scalar = fixed_add(a->scalar, b->scalar); break;
    case RESOURCE_RANGES: ranges_add(a, b); break;
    case RESOURCE_SET: set_add(a, b); break;
    }
}

static void value_subtract(struct resource *a, const struct resource *b)
{
    if (a->shared) { a->shared_count -= b->shared_count; return; }
    switch (a->type) {
    case RESOURCE_SCALAR: a->scalar = fixed_sub(a->scalar, b->scalar); break;
    case RESOURCE_RANGES: ranges_subtract(a, b); break;
    case RESOURCE_SET: set_subtract(a, b); break;
    }
}

/* ==== Arithmetic on lists =============================================== */

void resources_add_one(struct resources *a, const struct resource *r)
{
    if (resource_empty(r)) return;
    for (size_t i = 0; i < a->len; i++)
        if (addable(&a->v[i], r)) { value_add(&a->v[i], r); return; }
    struct resource c;
    resource_copy(&c, r);
    list_push(a, &c);
}

/* Add, taking ownership of r (zeroed either way). */
static void add_owned(struct resources *a, struct resource *r)
{
    if (resource_empty(r)) { resource_clear(r); return; }
    for (size_t i = 0; i < a->len; i++)
        if (addable(&a->v[i], r)) { value_add(&a->v[i], r); resource_clear(r); return; }
    list_push(a, r);
}

void resources_add(struct resources *a, const struct resources *b)
{
    if (a == b) {
        struct resources c = {0};
        resources_copy(&c, b);
        resources_add(a, &c);
        resources_free(&c);
        return;
    }
    for (size_t i = 0; i < b->len; i++) resources_add_one(a, &b->v[i]);
}

/* Take r away from the first resource it is subtractable from; one that
 * becomes empty or negative is removed by moving the last one into its
 * place, as upstream does (so order changes exactly as there). */
void resources_subtract_one(struct resources *a, const struct resource *r)
{
    if (resource_empty(r)) return;
    for (size_t i = 0; i < a->len; i++) {
        struct resource *x = &a->v[i];
        if (!subtractable(x, r)) continue;
        value_subtract(x, r);
        bool negative = (x->shared && x->shared_count < 0) || (x->type == RESOURCE_SCALAR && x->scalar < 0);
        if (negative || resource_empty(x)) {
            resource_clear(x);
            a->v[i] = a->v[--a->len];
        }
        return;
    }
}

void resources_subtract(struct resources *a, const struct resources *b)
{
    if (a == b) { resources_free(a); return; }
    for (size_t i = 0; i < b->len; i++) resources_subtract_one(a, &b->v[i]);
}

/* Every resource of b must fit inside one resource of a. Persistent volumes
 * are used up as they match, so the same volume cannot be counted twice. */
bool resources_contains(const struct resources *a, const struct resources *b)
{
    struct resources rem = {0};
    const struct resources *cur = a;
    bool ok = true;
    for (size_t i = 0; ok && i < b->len; i++) {
        const struct resource *r = &b->v[i];
        ok = false;
        for (size_t j = 0; !ok && j < cur->len; j++) ok = resource_contains(&cur->v[j], r);
        if (ok && is_persistent_volume(r)) {
            if (cur == a) { resources_copy(&rem, a); cur = &rem; }
            resources_subtract_one(&rem, r);
        }
    }
    resources_free(&rem);
    return ok;
}

bool resources_equal(const struct resources *a, const struct resources *b)
{
    return resources_contains(a, b) && resources_contains(b, a);
}

/* ==== Selection and transformation ====================================== */

static const char *reservation_role(const struct resource *r)
{
    return or_empty(r->reservations[r->nreservations - 1].role);
}

static bool matches(const struct resource *r, enum resources_filter what, const char *arg)
{
    bool reserved = r->nreservations > 0;
    switch (what) {
    case RESOURCES_UNRESERVED: return !reserved;
    case RESOURCES_RESERVED: return reserved && (!arg || strcmp(arg, reservation_role(r)) == 0);
    case RESOURCES_ALLOCATABLE_TO:
        return !reserved || strcmp(arg, reservation_role(r)) == 0 || is_strict_subrole(arg, reservation_role(r));
    case RESOURCES_RESERVED_TO_SUBTREE:
        return reserved && (strcmp(reservation_role(r), arg) == 0 || is_strict_subrole(reservation_role(r), arg));
    case RESOURCES_ALLOCATED_TO_SUBTREE: {
        const char *a = or_empty(r->allocation_role);
        return strcmp(a, arg) == 0 || is_strict_subrole(a, arg);
    }
    case RESOURCES_REVOCABLE: return r->revocable;
    case RESOURCES_NON_REVOCABLE: return !r->revocable;
    case RESOURCES_SHARED: return r->shared;
    case RESOURCES_NON_SHARED: return !r->shared;
    case RESOURCES_PERSISTENT_VOLUMES: return is_persistent_volume(r);
    case RESOURCES_NAMED: return strcmp(r->name, arg) == 0;
    }
    return false;
}

void resources_filter(struct resources *dst, const struct resources *src,
                      enum resources_filter what, const char *arg)
{
    for (size_t i = 0; i < src->len; i++) {
        if (!matches(&src->v[i], what, arg)) continue;
        struct resource c;
        resource_copy(&c, &src->v[i]);
        list_push(dst, &c);
    }
}

void resources_allocate(struct resources *rs, const char *role)
{
    for (size_t i = 0; i < rs->len; i++) {
        free(rs->v[i].allocation_role);
        rs->v[i].has_allocation = true;
        rs->v[i].allocation_role = xstrdup(role);
    }
}

void resources_unallocate(struct resources *rs)
{
    for (size_t i = 0; i < rs->len; i++) {
        free(rs->v[i].allocation_role);
        rs->v[i].allocation_role = NULL;
        rs->v[i].has_allocation = false;
    }
}

static void drop_reservations(struct resource *r, size_t keep)
{
    while (r->nreservations > keep) reservation_clear(&r->reservations[--r->nreservations]);
    if (r->nreservations == 0) { free(r->reservations); r->reservations = NULL; }
}

void resources_to_unreserved(struct resources *dst, const struct resources *src)
{
    for (size_t i = 0; i < src->len; i++) {
        struct resource c;
        resource_copy(&c, &src->v[i]);
        drop_reservations(&c, 0);
        add_owned(dst, &c);
    }
}

static int validate_stack(const struct resource *r, struct buf *err);

int resources_push_reservation(struct resources *rs, const struct resource_reservation *rsv,
                               struct buf *err)
{
    struct resources out = {0};
    for (size_t i = 0; i < rs->len; i++) {
        struct resource c;
        resource_copy(&c, &rs->v[i]);
        c.reservations = xrealloc(c.reservations, (c.nreservations + 1) * sizeof *c.reservations);
        reservation_copy(&c.reservations[c.nreservations++], rsv);
        if (validate_stack(&c, err) < 0) {
            resource_clear(&c);
            resources_free(&out);
            return -1;
        }
        add_owned(&out, &c);
    }
    resources_free(rs);
    *rs = out;
    return 0;
}

void resources_pop_reservation(struct resources *rs)
{
    struct resources out = {0};
    for (size_t i = 0; i < rs->len; i++) {
        if (rs->v[i].nreservations) drop_reservations(&rs->v[i], rs->v[i].nreservations - 1);
        add_owned(&out, &rs->v[i]);
    }
    free(rs->v);
    *rs = out;
}

void resources_quantities(struct resources *dst, const struct resources *src)
{
    for (size_t i = 0; i < src->len; i++) {
        if (src->v[i].type != RESOURCE_SCALAR) continue;
        struct resource q = { .name = xstrdup(src->v[i].name), .type = RESOURCE_SCALAR,
                              .scalar = src->v[i].scalar };
        add_owned(dst, &q);
    }
}

int64_t resources_scalar(const struct resources *rs, const char *name)
{
    int64_t sum = 0;
    for (size_t i = 0; i < rs->len; i++)
        if (rs->v[i].type == RESOURCE_SCALAR && strcmp(rs->v[i].name, name) == 0)
            sum = fixed_add(sum, rs->v[i].scalar);
    return sum;
}

/* ==== Text output (operator<<) ========================================== */

static int put_span(struct buf *b, struct span s) { return buf_append(b, s.p, s.n); }

/* Labels print as `{k: v, k2}`. */
static int format_labels(struct buf *b, const uint8_t *p, size_t n)
{
    struct pbw_reader r;
    struct pbw_field f;
    int rc = buf_putc(b, '{'), first = 1;
    reader(&r, p, n);
    while (rc == 0 && pbw_next(&r, &f) == 1) {
        if (f.tag != 1 || f.wt != PBW_LEN) continue;
        struct span k = find_span(f.p, f.n, 1), v = find_span(f.p, f.n, 2);
        if (!first) rc |= buf_puts(b, ", ");
        first = 0;
        rc |= put_span(b, k);
        if (v.set) rc |= buf_puts(b, ": ") | put_span(b, v);
    }
    return rc | buf_putc(b, '}') ? -1 : 0;
}

static int format_disk(struct buf *b, const struct resource *r)
{
    struct disk d;
    disk_info(r, &d);
    int rc = 0;
    if (d.source.set) {
        rc |= buf_puts(b, source_names[d.source_type]);
        if (d.source_type != SOURCE_UNKNOWN && (d.source_id.set || d.profile.set)) {
            rc |= buf_putc(b, '(') | put_span(b, d.vendor) | buf_putc(b, ',') | put_span(b, d.source_id) |
                  buf_putc(b, ',') | put_span(b, d.profile) | buf_putc(b, ')');
        } else if (d.source_type == SOURCE_MOUNT || d.source_type == SOURCE_PATH) {
            struct span holder = d.source_type == SOURCE_MOUNT ? d.mount : d.path;
            struct span root = find_span(holder.p, holder.n, 1);
            if (root.set) rc |= buf_putc(b, ':') | put_span(b, root);
        }
    }
    if (d.persistence.set) {
        if (d.source.set) rc |= buf_putc(b, ',');
        rc |= put_span(b, d.persistence_id);
    }
    if (d.volume.set) {
        struct span cpath = find_span(d.volume.p, d.volume.n, 1), hpath = find_span(d.volume.p, d.volume.n, 2);
        bool has_mode;
        uint64_t mode = find_varint(d.volume.p, d.volume.n, 3, &has_mode);
        rc |= buf_putc(b, ':');
        if (hpath.set) {
            rc |= put_span(b, hpath) | buf_putc(b, ':');
            rc |= put_span(b, cpath);
            if (has_mode && mode == 1) rc |= buf_puts(b, ":rw");
            else if (has_mode && mode == 2) rc |= buf_puts(b, ":ro");
        } else {
            rc |= put_span(b, cpath);
        }
    }
    return rc ? -1 : 0;
}

static const char *reservation_type_name(int t)
{
    return t == RESERVATION_STATIC ? "STATIC" : t == RESERVATION_DYNAMIC ? "DYNAMIC" : "UNKNOWN";
}

int resources_format_one(const struct resource *r, struct buf *b)
{
    int rc = buf_puts(b, or_empty(r->name));
    if (r->has_allocation) rc |= buf_printf(b, "(allocated: %s)", or_empty(r->allocation_role));
    if (r->nreservations) {
        rc |= buf_puts(b, "(reservations: [");
        for (size_t i = 0; i < r->nreservations; i++) {
            const struct resource_reservation *v = &r->reservations[i];
            rc |= buf_printf(b, "%s(%s,%s", i ? "," : "", reservation_type_name(v->type), or_empty(v->role));
            if (v->principal) rc |= buf_printf(b, ",%s", v->principal);
            if (v->has_labels) rc |= buf_putc(b, ',') | format_labels(b, v->labels, v->labels_len);
            rc |= buf_putc(b, ')');
        }
        rc |= buf_puts(b, "])");
    }
    if (r->has_disk) rc |= buf_putc(b, '[') | format_disk(b, r) | buf_putc(b, ']');
    if (r->revocable) rc |= buf_puts(b, "{REV}");
    if (r->shared) rc |= buf_puts(b, "<SHARED>");
    rc |= buf_putc(b, ':');
    switch (r->type) {
    case RESOURCE_SCALAR:
        /* iostream with precision(digits10 = 15) and the default float field. */
        rc |= buf_printf(b, "%.15g", resources_double(r->scalar));
        break;
    case RESOURCE_RANGES:
        rc |= buf_putc(b, '[');
        for (size_t i = 0; i < r->nranges; i++)
            rc |= buf_printf(b, "%s%llu-%llu", i ? ", " : "", (unsigned long long)r->ranges[i].begin,
                             (unsigned long long)r->ranges[i].end);
        rc |= buf_putc(b, ']');
        break;
    case RESOURCE_SET:
        rc |= buf_putc(b, '{');
        for (size_t i = 0; i < r->nitems; i++) rc |= buf_printf(b, "%s%s", i ? ", " : "", r->items[i]);
        rc |= buf_putc(b, '}');
        break;
    }
    if (r->shared) rc |= buf_printf(b, "<%lld>", (long long)r->shared_count);
    return rc ? -1 : 0;
}

int resources_format(const struct resources *rs, struct buf *b)
{
    if (rs->len == 0) return buf_puts(b, "{}");
    int rc = 0;
    for (size_t i = 0; i < rs->len; i++) {
        if (i) rc |= buf_puts(b, "; ");
        rc |= resources_format_one(&rs->v[i], b);
    }
    return rc ? -1 : 0;
}

/* ==== Protobuf output =================================================== */

/* Resource.ReservationInfo: principal = 1, labels = 2, role = 3, type = 4. */
static int put_reservation(struct buf *b, uint32_t tag, const struct resource_reservation *v, bool legacy)
{
    size_t m = pbw_begin(b, tag);
    int rc = 0;
    if (v->principal) rc |= pbw_put_str(b, 1, v->principal);
    if (v->has_labels) rc |= pbw_put_bytes(b, 2, v->labels, v->labels_len);
    if (!legacy) {
        if (v->role) rc |= pbw_put_str(b, 3, v->role);
        if (v->type >= 0) rc |= pbw_put_uint(b, 4, (uint64_t)v->type);
    }
    return rc | pbw_end(b, m) ? -1 : 0;
}

/* Fields go out in tag order, as protobuf writes them, then unknown ones. */
int resources_encode_one(const struct resource *r, int format, struct buf *b)
{
    int rc = pbw_put_str(b, 1, r->name) | pbw_put_uint(b, 2, (uint64_t)r->type);
    size_t m;
    switch (r->type) {
    case RESOURCE_SCALAR:
        m = pbw_begin(b, 3);
        rc |= pbw_put_double(b, 1, resources_double(r->scalar)) | pbw_end(b, m);
        break;
    case RESOURCE_RANGES:
        m = pbw_begin(b, 4);
        for (size_t i = 0; i < r->nranges; i++) {
            size_t k = pbw_begin(b, 1);
            rc |= pbw_put_uint(b, 1, r->ranges[i].begin) | pbw_put_uint(b, 2, r->ranges[i].end) | pbw_end(b, k);
        }
        rc |= pbw_end(b, m);
        break;
    case RESOURCE_SET:
        m = pbw_begin(b, 5);
        for (size_t i = 0; i < r->nitems; i++) rc |= pbw_put_str(b, 1, r->items[i]);
        rc |= pbw_end(b, m);
        break;
    }
    bool endpoint = format == RESOURCES_ENDPOINT || format == RESOURCES_PRE_REFINEMENT;
    bool legacy_only = format == RESOURCES_PRE_REFINEMENT && r->nreservations <= 1;
    if (endpoint && r->nreservations <= 1)
        rc |= pbw_put_str(b, 6, r->nreservations ? or_empty(r->reservations[0].role) : "*");
    if (r->has_disk) rc |= pbw_put_bytes(b, 7, r->disk, r->disk_len);
    if (endpoint && r->nreservations == 1 && r->reservations[0].type == RESERVATION_DYNAMIC)
        rc |= put_reservation(b, 8, &r->reservations[0], true);
    if (r->revocable) rc |= pbw_put_bytes(b, 9, "", 0);
    if (r->shared) rc |= pbw_put_bytes(b, 10, "", 0);
    if (r->has_allocation) {
        m = pbw_begin(b, 11);
        if (r->allocation_role) rc |= pbw_put_str(b, 1, r->allocation_role);
        rc |= pbw_end(b, m);
    }
    if (r->has_provider_id) rc |= pbw_put_bytes(b, 12, r->provider_id, r->provider_id_len);
    for (size_t i = 0; i < r->nreservations && !legacy_only; i++)
        rc |= put_reservation(b, 13, &r->reservations[i], false);
    rc |= buf_append(b, r->extra, r->extra_len);
    return rc ? -1 : 0;
}

int resources_encode(const struct resources *rs, uint32_t tag, int format, struct buf *b)
{
    for (size_t i = 0; i < rs->len; i++) {
        size_t m = pbw_begin(b, tag);
        if (resources_encode_one(&rs->v[i], format, b) < 0 || pbw_end(b, m) < 0) return -1;
    }
    return 0;
}

/* ==== Protobuf input ==================================================== */

/* A Resource as it arrived: the legacy pre-refinement fields and which
 * fields were present, which validation needs and the struct does not keep.
 * Reservations here use type -1 and role NULL for "unset". */
struct raw {
    struct resource r;
    bool has_type, has_scalar, has_ranges, has_set;
    double value;                        /* Value.Scalar.value as given */
    char *role;                          /* Resource.role (6); NULL = unset */
    bool has_reservation;                /* Resource.reservation (8) */
    struct resource_reservation legacy;
};

static void raw_clear(struct raw *w)
{
    resource_clear(&w->r);
    free(w->role);
    reservation_clear(&w->legacy);
    memset(w, 0, sizeof *w);
    w->legacy.type = -1;
}

static void append_bytes(uint8_t **p, size_t *n, const uint8_t *src, size_t len)
{
    if (len == 0) return;
    *p = xrealloc(*p, *n + len);
    memcpy(*p + *n, src, len);
    *n += len;
}

static int set_str(char **dst, const uint8_t *p, size_t n)
{
    char *s = dupstr_pb(p, n);
    if (!s) return -1;
    free(*dst);
    *dst = s;
    return 0;
}

/* ReservationInfo; repeated occurrences of a message merge, so fields are
 * overwritten and labels concatenate. */
static int decode_reservation(const uint8_t *p, size_t n, struct resource_reservation *v)
{
    struct pbw_reader rd;
    struct pbw_field f;
    int k;
    reader(&rd, p, n);
    while ((k = pbw_next(&rd, &f)) == 1) {
        if (f.tag == 1 && f.wt == PBW_LEN) { if (set_str(&v->principal, f.p, f.n)) return -1; }
        else if (f.tag == 2 && f.wt == PBW_LEN) { append_bytes(&v->labels, &v->labels_len, f.p, f.n); v->has_labels = true; }
        else if (f.tag == 3 && f.wt == PBW_LEN) { if (set_str(&v->role, f.p, f.n)) return -1; }
        else if (f.tag == 4 && f.wt == PBW_VARINT) { if (f.v <= 2) v->type = (int)f.v; }
    }
    return k;
}

/* Room for element n of an array that doubles at each power of two. */
static void *grow(void *p, size_t n, size_t size)
{
    if (n >= 4 && (n & (n - 1)) != 0) return p;
    return xrealloc(p, (n < 4 ? 4 : n * 2) * size);
}

static int decode_value(const uint8_t *p, size_t n, struct raw *w, uint32_t tag)
{
    struct pbw_reader rd;
    struct pbw_field f;
    int k;
    reader(&rd, p, n);
    while ((k = pbw_next(&rd, &f)) == 1) {
        if (f.tag != 1) continue;
        if (tag == 3 && f.wt == PBW_I64) {
            memcpy(&w->value, &f.v, sizeof w->value);
        } else if (tag == 4 && f.wt == PBW_LEN) {
            if (w->r.nranges == RESOURCES_MAX_VALUES) return -2;
            bool sb, se;
            struct resource_range x = { find_varint(f.p, f.n, 1, &sb), find_varint(f.p, f.n, 2, &se) };
            w->r.ranges = grow(w->r.ranges, w->r.nranges, sizeof x);
            w->r.ranges[w->r.nranges++] = x;
        } else if (tag == 5 && f.wt == PBW_LEN) {
            if (w->r.nitems == RESOURCES_MAX_VALUES) return -2;
            char *s = dupstr_pb(f.p, f.n);
            if (!s) return -1;
            w->r.items = grow(w->r.items, w->r.nitems, sizeof s);
            w->r.items[w->r.nitems++] = s;
        }
    }
    return k;
}

/* Fill w from Resource bytes. Fields we do not model, and known fields with
 * a wire type that does not fit, are kept verbatim in r.extra. */
static int decode_raw(const uint8_t *p, size_t n, struct raw *w, struct buf *err)
{
    struct pbw_reader rd;
    struct pbw_field f;
    int k;
    reader(&rd, p, n);
    while ((k = pbw_next(&rd, &f)) == 1) {
        struct resource *r = &w->r;
        int rc = 0;
        bool len = f.wt == PBW_LEN;
        if (f.tag == 1 && len) rc = set_str(&r->name, f.p, f.n);
        else if (f.tag == 2 && f.wt == PBW_VARINT) { if (f.v <= 3) { r->type = (int)f.v; w->has_type = true; } }
        else if (f.tag == 3 && len) { w->has_scalar = true; rc = decode_value(f.p, f.n, w, 3); }
        else if (f.tag == 4 && len) { w->has_ranges = true; rc = decode_value(f.p, f.n, w, 4); }
        else if (f.tag == 5 && len) { w->has_set = true; rc = decode_value(f.p, f.n, w, 5); }
        else if (f.tag == 6 && len) rc = set_str(&w->role, f.p, f.n);
        else if (f.tag == 7 && len) { r->has_disk = true; append_bytes(&r->disk, &r->disk_len, f.p, f.n); }
        else if (f.tag == 8 && len) { w->has_reservation = true; rc = decode_reservation(f.p, f.n, &w->legacy); }
        else if (f.tag == 9 && len) r->revocable = true;
        else if (f.tag == 10 && len) r->shared = true;
        else if (f.tag == 11 && len) {
            r->has_allocation = true;
            struct span role = find_span(f.p, f.n, 1);
            if (role.set) rc = set_str(&r->allocation_role, role.p, role.n);
        } else if (f.tag == 12 && len) {
            r->has_provider_id = true;
            append_bytes(&r->provider_id, &r->provider_id_len, f.p, f.n);
        } else if (f.tag == 13 && len) {
            r->reservations = xrealloc(r->reservations, (r->nreservations + 1) * sizeof *r->reservations);
            struct resource_reservation *v = &r->reservations[r->nreservations++];
            memset(v, 0, sizeof *v);
            v->type = -1;
            rc = decode_reservation(f.p, f.n, v);
        } else {
            append_bytes(&r->extra, &r->extra_len, f.start, (size_t)(rd.p - f.start));
        }
        if (rc == -2) return fail(err, "Too many values in resource (more than %d)", RESOURCES_MAX_VALUES);
        if (rc < 0) return fail(err, "Malformed Resource protobuf");
    }
    if (k < 0) return fail(err, "Malformed Resource protobuf");
    if (!w->r.name) w->r.name = xstrdup("");
    w->r.scalar = resources_fixed(w->value);
    return 0;
}

/* A protobuf Labels value printed as upstream's stringify(labels). */
static void labels_text(struct buf *b, const struct resource_reservation *v)
{
    if (v->has_labels) format_labels(b, v->labels, v->labels_len);
    else buf_puts(b, "{}");
}

/* The reservation stack alone: each entry set, valid and not "*", and each
 * refinement DYNAMIC and a strict subrole of the one below it. */
static int validate_stack(const struct resource *r, struct buf *err)
{
    for (size_t i = 0; i < r->nreservations; i++) {
        const struct resource_reservation *v = &r->reservations[i];
        if (v->type < 0) return fail(err, "Invalid reservation: 'Resource.ReservationInfo.type' field must be set.");
        if (!v->role) return fail(err, "Invalid reservation: 'Resource.ReservationInfo.role' field must be set.");
        if (resources_validate_role(v->role, err) < 0) return -1;
        if (strcmp(v->role, "*") == 0) return fail(err, "Invalid reservation: role \"*\" cannot be reserved");
    }
    for (size_t i = 1; i < r->nreservations; i++) {
        const struct resource_reservation *v = &r->reservations[i];
        if (v->type == RESERVATION_STATIC)
            return fail(err, "Invalid refined reservation: A refined reservation cannot be STATIC");
        if (!is_strict_subrole(v->role, r->reservations[i - 1].role))
            return fail(err, "Invalid refined reservation: role '%s' is not a refinement of '%s'",
                        v->role, r->reservations[i - 1].role);
    }
    return 0;
}

/* Index of the first range that overlaps a later one, as upstream tests it
 * (range j starts inside range i, for i < j), or n. Upstream compares every
 * pair; a right-to-left sweep with a Fenwick tree counting the begins seen
 * so far gives the same answer in O(n log n). */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Number of keys[0..m) below v (upper = false) or at most v (upper = true). */
static size_t rank(const uint64_t *keys, size_t m, uint64_t v, bool upper)
{
    size_t lo = 0, hi = m;
    while (lo < hi) {
        size_t md = (lo + hi) / 2;
        if (keys[md] < v || (upper && keys[md] == v)) lo = md + 1;
        else hi = md;
    }
    return lo;
}

static size_t first_overlap(const struct resource_range *r, size_t n)
{
    if (n < 2) return n;
    uint64_t *keys = xmalloc(n * sizeof *keys);
    size_t m = 0, found = n;
    for (size_t i = 0; i < n; i++) keys[i] = r[i].begin;
    qsort(keys, n, sizeof *keys, cmp_u64);
    for (size_t i = 0; i < n; i++)
        if (m == 0 || keys[m - 1] != keys[i]) keys[m++] = keys[i];
    size_t *tree = xcalloc(m + 1, sizeof *tree);
    for (size_t i = n; i-- > 0;) {
        if (r[i].begin <= r[i].end) {       /* later begins within [begin, end]? */
            size_t c = 0;
            for (size_t x = rank(keys, m, r[i].end, true); x > 0; x -= x & -x) c += tree[x];
            for (size_t x = rank(keys, m, r[i].begin, false); x > 0; x -= x & -x) c -= tree[x];
            if (c) found = i;
        }
        for (size_t x = rank(keys, m, r[i].begin, false) + 1; x <= m; x += x & -x) tree[x]++;
    }
    free(tree);
    free(keys);
    return found;
}

/* Resources::validate(Resource), in upstream's order; the first error wins. */
static int validate_raw(const struct raw *w, struct buf *err)
{
    const struct resource *r = &w->r;
    if (r->name[0] == '\0') return fail(err, "Empty resource name");
    if (!w->has_type) return fail(err, "Invalid resource type");
    if (r->type == RESOURCE_SCALAR) {
        if (!w->has_scalar || w->has_ranges || w->has_set) return fail(err, "Invalid scalar resource");
        if (w->value != 0 && r->scalar <= 0) return fail(err, "Invalid scalar resource: value <= 0");
    } else if (r->type == RESOURCE_RANGES) {
        if (w->has_scalar || !w->has_ranges || w->has_set) return fail(err, "Invalid ranges resource");
        size_t ov = first_overlap(r->ranges, r->nranges);
        for (size_t i = 0; i < r->nranges; i++) {
            if (r->ranges[i].begin > r->ranges[i].end) return fail(err, "Invalid ranges resource: begin > end");
            if (i == ov) return fail(err, "Invalid ranges resource: overlapping ranges");
        }
    } else if (r->type == RESOURCE_SET) {
        if (w->has_scalar || w->has_ranges || !w->has_set) return fail(err, "Invalid set resource");
        char **ix = sorted_index(r->items, r->nitems);
        bool dup = false;
        for (size_t i = 1; !dup && i < r->nitems; i++) dup = strcmp(ix[i - 1], ix[i]) == 0;
        free(ix);
        if (dup) return fail(err, "Invalid set resource: duplicated elements");
    } else {
        return fail(err, "Unsupported resource type");
    }

    if (r->has_disk) {
        if (strcmp(r->name, "disk") != 0) return fail(err, "DiskInfo should not be set for %s resource", r->name);
        struct disk d;
        disk_info(r, &d);
        if (d.source.set) {
            if (d.source_type == SOURCE_UNKNOWN)
                return fail(err, "Unsupported 'DiskInfo.Source.Type' in 'UNKNOWN'");
            if (d.source_type == SOURCE_BLOCK || d.source_type == SOURCE_RAW) {
                if (d.mount.set) return fail(err, "Mount should not be set for %s disk source", source_names[d.source_type]);
                if (d.path.set) return fail(err, "Path should not be set for %s disk source", source_names[d.source_type]);
            }
        }
    }

    if (r->nreservations == 0) {
        /* The pre-refinement format: `role` and `reservation`. */
        if (resources_validate_role(w->role ? w->role : "*", err) < 0) return -1;
        if (w->has_reservation) {
            if (w->legacy.type >= 0)
                return fail(err, "'Resource.ReservationInfo.type' must not be set for the 'Resource.reservation' field");
            if (w->legacy.role)
                return fail(err, "'Resource.ReservationInfo.role' must not be set for the 'Resource.reservation' field");
            if (!w->role || strcmp(w->role, "*") == 0)
                return fail(err, "Invalid reservation: role \"*\" cannot be dynamically reserved");
        }
    } else {
        if (validate_stack(r, err) < 0) return -1;
        if (r->nreservations == 1) {
            const struct resource_reservation *v = &r->reservations[0];
            if (w->role && strcmp(w->role, v->role) != 0)
                return fail(err, "Invalid resource format: 'Resource.role' field with '%s' does not match "
                            "the role '%s' in 'Resource.reservations'", w->role, v->role);
            if (v->type == RESERVATION_STATIC) {
                if (w->has_reservation)
                    return fail(err, "Invalid resource format: 'Resource.reservation' must not be set if the "
                                "single reservation in 'Resource.reservations' is STATIC");
            } else if (v->type == RESERVATION_DYNAMIC) {
                if ((w->role != NULL) != w->has_reservation)
                    return fail(err, "Invalid resource format: 'Resource.role' and 'Resource.reservation' must "
                                "either be both set or both not set if the single reservation in "
                                "'Resource.reservations' is DYNAMIC");
                if (w->has_reservation && strcmp(or_empty(w->legacy.principal), or_empty(v->principal)) != 0)
                    return fail(err, "Invalid resource format: 'Resource.reservation.principal' field with '%s' "
                                "does not match the principal '%s' in 'Resource.reservations'",
                                or_empty(w->legacy.principal), or_empty(v->principal));
                if (w->has_reservation &&
                    !labels_eq(w->legacy.labels, w->legacy.labels_len, v->labels, v->labels_len)) {
                    if (err) {
                        buf_puts(err, "Invalid resource format: 'Resource.reservation.labels' field with '");
                        labels_text(err, &w->legacy);
                        buf_puts(err, "' does not match the labels '");
                        labels_text(err, v);
                        buf_puts(err, "' in 'Resource.reservations'");
                    }
                    return -1;
                }
            } else {
                return fail(err, "Unsupported 'Resource.ReservationInfo.Type'");
            }
        } else {
            if (w->role)
                return fail(err, "Invalid resource format: 'Resource.role' must not be set if there is more "
                            "than one reservation in 'Resource.reservations'");
            if (w->has_reservation)
                return fail(err, "Invalid resource format: 'Resource.reservation' must not be set if there is "
                            "more than one reservation in 'Resource.reservations'");
        }
    }

    if (r->shared) {
        if (strcmp(r->name, "disk") != 0) return fail(err, "Resource %s cannot be shared", r->name);
        if (!is_persistent_volume(r)) return fail(err, "Only persistent volumes can be shared");
    }
    return 0;
}

/* convertResourceFormat(POST_RESERVATION_REFINEMENT): `role` and
 * `reservation` become one reservation (DYNAMIC when `reservation` was
 * there), or nothing for "*". Afterwards w->r is the finished resource. */
static void upgrade(struct raw *w)
{
    struct resource *r = &w->r;
    if (r->nreservations == 0 && w->role && strcmp(w->role, "*") != 0) {
        r->reservations = xmalloc(sizeof *r->reservations);
        struct resource_reservation *v = &r->reservations[0];
        r->nreservations = 1;
        *v = w->legacy;                       /* principal and labels move over */
        memset(&w->legacy, 0, sizeof w->legacy);
        free(v->role);
        v->role = w->role;
        w->role = NULL;
        v->type = w->has_reservation ? RESERVATION_DYNAMIC : RESERVATION_STATIC;
    }
    free(w->role);
    w->role = NULL;
    reservation_clear(&w->legacy);
    w->has_reservation = false;
}

/* After validation: the stored form (coalesced ranges, one shared copy). */
static void finish(struct raw *w)
{
    w->r.nranges = coalesce(w->r.ranges, w->r.nranges);
    w->r.shared_count = w->r.shared ? 1 : 0;
}

/* Decode and validate (before upgrading, as the master does) into w. */
static int decode_checked(const void *p, size_t n, struct raw *w, struct buf *err)
{
    memset(w, 0, sizeof *w);
    w->legacy.type = -1;
    if (decode_raw(p, n, w, err) < 0 || validate_raw(w, err) < 0) return -1;
    upgrade(w);
    finish(w);
    return 0;
}

int resources_decode(const void *p, size_t n, struct resources *out, struct buf *err)
{
    struct raw w;
    int rc = decode_checked(p, n, &w, err);
    if (rc == 0) add_owned(out, &w.r);
    raw_clear(&w);
    return rc;
}

int resources_decode_field(const void *msg, size_t n, uint32_t tag, struct resources *out, struct buf *err)
{
    struct resources tmp = {0};
    struct pbw_reader rd;
    struct pbw_field f;
    int k;
    reader(&rd, msg, n);
    while ((k = pbw_next(&rd, &f)) == 1) {
        if (f.tag != tag || f.wt != PBW_LEN) continue;
        struct raw w;
        struct buf why = {0};
        if (decode_checked(f.p, f.n, &w, &why) < 0) {
            if (err) {
                buf_puts(err, "Resource '");
                resources_format_one(&w.r, err);
                buf_puts(err, "' is invalid: ");
                buf_append(err, why.data, why.len);
            }
            buf_free(&why);
            raw_clear(&w);
            resources_free(&tmp);
            return -1;
        }
        add_owned(&tmp, &w.r);
        raw_clear(&w);
    }
    if (k < 0) {
        resources_free(&tmp);
        return fail(err, "Malformed protobuf");
    }
    for (size_t i = 0; i < tmp.len; i++) add_owned(out, &tmp.v[i]);
    free(tmp.v);
    return 0;
}

/* ==== The --resources flag (Resources::parse) =========================== */

struct raws { struct raw *v; size_t len; };

static void raws_free(struct raws *ws)
{
    for (size_t i = 0; i < ws->len; i++) raw_clear(&ws->v[i]);
    free(ws->v);
}

static struct raw *raws_push(struct raws *ws)
{
    ws->v = xrealloc(ws->v, (ws->len + 1) * sizeof *ws->v);
    struct raw *w = &ws->v[ws->len++];
    memset(w, 0, sizeof *w);
    w->legacy.type = -1;
    return w;
}

/* Resources::fromSimpleString: `name[(role)]:value` separated by ';'. */
static int parse_simple(const char *s, size_t n, const char *default_role, struct raws *ws, struct buf *err)
{
    size_t pos = 0, ts, tl;
    while (next_token(s, n, &pos, ";", &ts, &tl)) {
        const char *tok = s + ts;
        size_t p2 = 0, st[3], ln[3], k = 0;
        while (k < 3 && next_token(tok, tl, &p2, ":", &st[k], &ln[k])) k++;
        if (k != 2)
            return fail(err, "Bad value for resources, missing or extra ':' in %.*s", (int)tl, tok);
        const char *key = tok + st[0], *val = tok + st[1];
        size_t keyn = ln[0], valn = ln[1];
        const char *open = memchr(key, '(', keyn);
        const char *name = key, *role = default_role;
        size_t namen = keyn, rolen = strlen(default_role);
        if (open) {
            const char *close = memchr(key, ')', keyn);
            if (!close || close < open)
                return fail(err, "Bad value for resources, mismatched parentheses in %.*s", (int)tl, tok);
            namen = (size_t)(open - key);
            role = open + 1;
            rolen = (size_t)(close - open - 1);
            trim(&role, &rolen);
        }
        trim(&name, &namen);

        struct value v;
        struct buf why = {0};
        if (value_parse(val, valn, &v, &why) < 0) {
            fail(err, "Failed to parse resource %.*s value %.*s error %.*s", (int)namen, name, (int)valn, val,
                 (int)why.len, why.data ? why.data : "");
            buf_free(&why);
            return -1;
        }
        if (v.type == RESOURCE_TEXT) {
            value_free(&v);
            return fail(err, "Bad type for resource %.*s value %.*s type TEXT", (int)namen, name, (int)valn, val);
        }
        struct raw *w = raws_push(ws);
        w->r.name = dupmem(name, namen);
        w->r.type = v.type;
        w->has_type = true;
        if (v.type == RESOURCE_SCALAR) { w->has_scalar = true; w->value = v.scalar; w->r.scalar = resources_fixed(v.scalar); }
        if (v.type == RESOURCE_RANGES) { w->has_ranges = true; w->r.ranges = v.ranges; w->r.nranges = v.nranges; v.ranges = NULL; }
        if (v.type == RESOURCE_SET) { w->has_set = true; w->r.items = v.items; w->r.nitems = v.nitems; v.items = NULL; v.nitems = 0; }
        value_free(&v);
        if (!(rolen == 1 && role[0] == '*')) {
            w->r.reservations = xcalloc(1, sizeof *w->r.reservations);
            w->r.nreservations = 1;
            w->r.reservations[0].type = RESERVATION_STATIC;
            w->r.reservations[0].role = dupmem(role, rolen);
        }
    }
    return 0;
}

/* Resources::fromJSON: each element through protobuf::parse<Resource>,
 * then the default role and the format upgrade. */
static int parse_json(const char *s, const struct json_tok *t, int ntok, const char *default_role,
                      struct raws *ws, struct buf *err)
{
    struct buf pb = {0}, why = {0};
    size_t *ends = xmalloc(((size_t)t[0].size + 1) * sizeof *ends);
    int rc = 0;
    size_t count = 0;
    /* Convert every element first, as upstream does before any validation. */
    for (int i = 1; i < ntok && count < t[0].size; i = (int)t[i].next) {
        if (t[i].type != JSON_OBJECT) {
            rc = fail(err, "Some JSON resources were not formatted properly: Expecting a JSON object");
            goto out;
        }
        if (pbjson_from_json(PBD_M_mesos_v1_Resource, s + t[i].start, t[i].end - t[i].start, &pb, &why) != 0) {
            rc = fail(err, "Some JSON resources were not formatted properly: %.*s", (int)why.len,
                      why.data ? why.data : "");
            goto out;
        }
        ends[count++] = pb.len;
    }
    for (size_t i = 0, start = 0; i < count; start = ends[i++]) {
        struct raw *w = raws_push(ws);
        if (decode_raw((const uint8_t *)pb.data + start, ends[i] - start, w, err) < 0) { rc = -1; goto out; }
        if (w->r.nreservations == 0 && !w->role) w->role = xstrdup(default_role);
        if (w->r.nreservations == 0 && strcmp(w->role, "*") == 0 && w->has_reservation) {
            /* Upstream aborts on this (a CHECK in the upgrade); we refuse it. */
            rc = fail(err, "Invalid reservation: role \"*\" cannot be dynamically reserved");
            goto out;
        }
        upgrade(w);
    }
out:
    free(ends);
    buf_free(&pb);
    buf_free(&why);
    return rc;
}

/* validateCommandLineResources, on the merged result. */
static int validate_command_line(const struct resources *rs, struct buf *err)
{
    for (size_t i = 0; i < rs->len; i++) {
        const struct resource *r = &rs->v[i];
        if (is_persistent_volume(r)) return fail(err, "Persistent volumes cannot be specified at the command line");
        if (r->revocable)
            return fail(err, "Revocable resources cannot be specified at the command line; do not include a "
                        "'revocable' key in the resources JSON");
        if (r->nreservations && r->reservations[r->nreservations - 1].type == RESERVATION_DYNAMIC)
            return fail(err, "Dynamic reservations cannot be specified at the command line; do not include a "
                        "reservation with DYNAMIC type in the resources JSON");
        for (size_t j = 0; j < i; j++)
            if (strcmp(rs->v[j].name, r->name) == 0 && rs->v[j].type != r->type)
                return fail(err, "Resources with the same name ('%s') but different types are not allowed", r->name);
    }
    return 0;
}

int resources_parse(const char *s, size_t n, const char *default_role, struct resources *out, struct buf *err)
{
    if (!default_role) default_role = "*";
    struct raws ws = {0};
    struct resources res = {0};
    int rc;
    /* JSON when the whole text is a JSON array, the simple syntax otherwise. */
    int ntok = json_parse(s, n, NULL, 0, NULL);
    struct json_tok *t = NULL;
    if (ntok > 0) {
        t = xmalloc((size_t)ntok * sizeof *t);
        if (json_parse(s, n, t, (size_t)ntok, NULL) != ntok || t[0].type != JSON_ARRAY) ntok = 0;
    }
    rc = ntok > 0 ? parse_json(s, t, ntok, default_role, &ws, err) : parse_simple(s, n, default_role, &ws, err);
    free(t);
    for (size_t i = 0; rc == 0 && i < ws.len; i++) {
        if ((rc = validate_raw(&ws.v[i], err)) == 0) {
            finish(&ws.v[i]);
            add_owned(&res, &ws.v[i].r);
        }
    }
    if (rc == 0) rc = validate_command_line(&res, err);
    if (rc == 0) {
        for (size_t i = 0; i < res.len; i++) add_owned(out, &res.v[i]);
        res.len = 0;
    }
    resources_free(&res);
    raws_free(&ws);
    return rc;
}

/* ==== The --attributes flag (Attributes::parse) ========================= */

int resources_parse_attributes(const char *s, size_t n, uint32_t tag, struct buf *out, struct buf *err)
{
    size_t start = out->len, pos = 0, ts, tl;
    while (next_token(s, n, &pos, ";\n", &ts, &tl)) {
        const char *tok = s + ts;
        const char *colon = memchr(tok, ':', tl);
        size_t namen = colon ? (size_t)(colon - tok) : tl;
        size_t valn = colon ? tl - namen - 1 : 0;
        if (!colon || namen == 0 || valn == 0) {
            fail(err, "Invalid attribute key:value pair '%.*s'", (int)tl, tok);
            goto fail;
        }
        struct value v;
        struct buf why = {0};
        if (value_parse(colon + 1, valn, &v, &why) < 0) {
            fail(err, "Failed to parse attribute %.*s text %.*s error %.*s", (int)namen, tok, (int)valn, colon + 1,
                 (int)why.len, why.data ? why.data : "");
            buf_free(&why);
            goto fail;
        }
        if (v.type == RESOURCE_SET) {
            value_free(&v);
            fail(err, "Bad type for attribute %.*s text %.*s type %d", (int)namen, tok, (int)valn, colon + 1,
                 RESOURCE_SET);
            goto fail;
        }
        /* Attribute: name = 1, type = 2, scalar = 3, ranges = 4, text = 5. */
        size_t m = pbw_begin(out, tag), k;
        int rc = pbw_put_bytes(out, 1, tok, namen) | pbw_put_uint(out, 2, (uint64_t)v.type);
        if (v.type == RESOURCE_SCALAR) {
            k = pbw_begin(out, 3);
            rc |= pbw_put_double(out, 1, v.scalar) | pbw_end(out, k);
        } else if (v.type == RESOURCE_RANGES) {
            k = pbw_begin(out, 4);
            for (size_t i = 0; i < v.nranges; i++) {
                size_t q = pbw_begin(out, 1);
                rc |= pbw_put_uint(out, 1, v.ranges[i].begin) | pbw_put_uint(out, 2, v.ranges[i].end) |
                      pbw_end(out, q);
            }
            rc |= pbw_end(out, k);
        } else {
            k = pbw_begin(out, 5);
            rc |= pbw_put_str(out, 1, v.text) | pbw_end(out, k);
        }
        rc |= pbw_end(out, m);
        value_free(&v);
        if (rc) { fail(err, "Attributes too large"); goto fail; }
    }
    return 0;
fail:
    out->len = start;
    return -1;
}
