/* resolve.c -- numeric literals, hosts file, DNS over UDP (contract in
 * resolve.h). Everything read from a file or the network is bounded: files
 * up to 64 KB, names up to 253 characters, compression pointers only
 * backwards (so a name cannot loop), CNAME chains up to 8 links. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include "resolve.h"

#define FILE_MAX   65536
#define CHAIN_MAX  9            /* the name and up to 8 CNAME targets */
#define T_A        1
#define T_CNAME    5
#define T_AAAA     28

static int lower(int ch) { return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch; }

static int name_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (lower((unsigned char)*a) != lower((unsigned char)*b)) return 0;
    return *a == *b;
}

/* ==== Numeric literals ================================================== */

static void set_v4(struct sockaddr_storage *ss, const void *addr, int port)
{
    struct sockaddr_in *s = (struct sockaddr_in *)ss;
    memset(ss, 0, sizeof *ss);
    s->sin_family = AF_INET;
    s->sin_port = htons((uint16_t)port);
    memcpy(&s->sin_addr, addr, 4);
}

static void set_v6(struct sockaddr_storage *ss, const void *addr, int port, uint32_t scope)
{
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons((uint16_t)port);
    s->sin6_scope_id = scope;
    memcpy(&s->sin6_addr, addr, 16);
}

int resolve_numeric(const char *s, int port, struct sockaddr_storage *out)
{
    unsigned char a[16];
    if (strchr(s, ':')) {
        char tmp[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
        size_t n = strlen(s);
        if (n >= sizeof tmp) return -EINVAL;
        memcpy(tmp, s, n + 1);
        uint32_t scope = 0;
        char *pct = strchr(tmp, '%');
        if (pct) {
            *pct++ = 0;
            char *end;
            unsigned long v = strtoul(pct, &end, 10);
            if (*pct && !*end && v <= UINT32_MAX) scope = (uint32_t)v;
            else if (!*pct || !(scope = if_nametoindex(pct))) return -EINVAL;
        }
        if (inet_pton(AF_INET6, tmp, a) != 1) return -EINVAL;
        set_v6(out, a, port, scope);
        return 1;
    }
    if (!*s || strspn(s, "0123456789.") != strlen(s)) return 0;
    if (inet_pton(AF_INET, s, a) != 1) return -EINVAL;
    set_v4(out, a, port);
    return 1;
}

/* ==== Files ============================================================= */

/* The whole file, up to FILE_MAX bytes, NUL-terminated; NULL if absent. */
static char *slurp(const char *path, size_t *len)
{
    if (!path) return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    char *p = malloc(FILE_MAX + 1);
    size_t n = 0;
    while (p && n < FILE_MAX) {
        ssize_t r = read(fd, p + n, FILE_MAX - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (p) p[n] = 0;
    *len = n;
    return p;
}

/* Split text into lines and lines into whitespace-separated words, with
 * '#' (and ';' in resolv.conf) starting a comment. Calls fn with the
 * words of each non-empty line; a nonzero return stops. */
#define LINE_WORDS 16
typedef int (*line_fn)(char **w, int nw, void *arg);
static void each_line(const char *text, size_t len, const char *comment, line_fn fn, void *arg)
{
    char line[512];
    size_t i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && text[e] != '\n') e++;
        size_t n = e - i < sizeof line - 1 ? e - i : sizeof line - 1;
        memcpy(line, text + i, n);
        line[n] = 0;
        i = e + 1;
        line[strcspn(line, comment)] = 0;
        char *w[LINE_WORDS], *save = NULL;
        int nw = 0;
        for (char *t = strtok_r(line, " \t\r\f\v", &save); t && nw < LINE_WORDS;
             t = strtok_r(NULL, " \t\r\f\v", &save))
            w[nw++] = t;
        if (nw && fn(w, nw, arg)) return;
    }
}

struct hosts_walk { const char *name; int port, max, n; struct sockaddr_storage *out; };

static int hosts_line(char **w, int nw, void *arg)
{
    struct hosts_walk *h = arg;
    for (int i = 1; i < nw; i++) {
        if (!name_eq(w[i], h->name)) continue;
        struct sockaddr_storage ss;
        if (resolve_numeric(w[0], h->port, &ss) == 1) h->out[h->n++] = ss;
        break;
    }
    return h->n >= h->max;
}

int resolve_hosts(const char *text, size_t len, const char *name, int port,
                  struct sockaddr_storage *out, int max)
{
    struct hosts_walk h = { name, port, max, 0, out };
    if (max > 0) each_line(text, len, "#", hosts_line, &h);
    return h.n;
}

static int conf_line(char **w, int nw, void *arg)
{
    struct resolve_conf *c = arg;
    if (strcmp(w[0], "nameserver") == 0 && nw > 1 && c->nns < RESOLVE_MAX_NS) {
        if (resolve_numeric(w[1], 53, &c->ns[c->nns]) == 1) c->nns++;
    } else if ((strcmp(w[0], "search") == 0 || strcmp(w[0], "domain") == 0) && nw > 1) {
        c->nsearch = 0;                       /* the last search/domain line wins */
        for (int i = 1; i < nw && c->nsearch < RESOLVE_MAX_SEARCH; i++) {
            size_t n = strlen(w[i]);
            while (n && w[i][n - 1] == '.') n--;
            if (n == 0 || n >= RESOLVE_NAME_MAX) continue;
            memcpy(c->search[c->nsearch], w[i], n);
            c->search[c->nsearch++][n] = 0;
        }
    } else if (strcmp(w[0], "options") == 0) {
        for (int i = 1; i < nw; i++) {
            const char *v = strchr(w[i], ':');
            int x = v ? atoi(v + 1) : 0;
            if (strncmp(w[i], "ndots:", 6) == 0) c->ndots = x < 0 ? 0 : x > 15 ? 15 : x;
            else if (strncmp(w[i], "timeout:", 8) == 0) c->timeout_ms = (x < 1 ? 1 : x > 30 ? 30 : x) * 1000;
            else if (strncmp(w[i], "attempts:", 9) == 0) c->attempts = x < 1 ? 1 : x > 5 ? 5 : x;
        }
    }
    return 0;
}

static void conf_defaults(struct resolve_conf *c)
{
    memset(c, 0, sizeof *c);
    c->ndots = 1;
    c->timeout_ms = 5000;
    c->attempts = 2;
}

void resolve_conf_parse(struct resolve_conf *c, const char *text, size_t len)
{
    const char *hosts = c->hosts_path;
    conf_defaults(c);
    c->hosts_path = hosts;
    each_line(text, len, "#;", conf_line, c);
    if (c->nns == 0) {
        static const unsigned char lo[4] = { 127, 0, 0, 1 };
        set_v4(&c->ns[0], lo, 53);
        c->nns = 1;
    }
}

void resolve_conf_load(struct resolve_conf *c, const char *resolv_path, const char *hosts_path)
{
    size_t len = 0;
    char *text = slurp(resolv_path, &len);
    c->hosts_path = hosts_path;
    resolve_conf_parse(c, text ? text : "", text ? len : 0);
    free(text);
}

/* ==== DNS messages ====================================================== */

int resolve_dns_query(unsigned char *out, size_t cap, uint16_t id, const char *name, int qtype)
{
    size_t n = strlen(name);
    if (n == 0 || n >= RESOLVE_NAME_MAX || cap < 12 + n + 2 + 4) return -EINVAL;
    unsigned char *p = out;
    static const unsigned char head[10] = { 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };  /* RD; 1 question */
    *p++ = (unsigned char)(id >> 8);
    *p++ = (unsigned char)id;
    memcpy(p, head, sizeof head);
    p += sizeof head;
    for (const char *s = name; *s;) {
        size_t l = strcspn(s, ".");
        if (l == 0 || l > 63) return -EINVAL;
        *p++ = (unsigned char)l;
        memcpy(p, s, l);
        p += l;
        s += l;
        if (*s == '.' && !*++s) return -EINVAL;     /* a final dot is the caller's to strip */
    }
    *p++ = 0;
    *p++ = 0; *p++ = (unsigned char)qtype;
    *p++ = 0; *p++ = 1;                              /* class IN */
    return (int)(p - out);
}

/* The name at *off, lower-cased and dotted, into out (RESOLVE_NAME_MAX).
 * *off moves past it (past the first pointer if compressed). 0, or -1. */
static int read_name(const unsigned char *m, size_t n, size_t *off, char *out)
{
    size_t at = *off, len = 0, end = 0;
    int jumped = 0;
    for (;;) {
        if (at >= n) return -1;
        unsigned l = m[at];
        if (l == 0) { at++; break; }
        if ((l & 0xc0) == 0xc0) {
            if (at + 1 >= n) return -1;
            size_t to = (size_t)(l & 0x3f) << 8 | m[at + 1];
            if (to >= at) return -1;                 /* only backwards: no loops */
            if (!jumped) end = at + 2;
            jumped = 1;
            at = to;
            continue;
        }
        if (l > 63 || at + 1 + l > n) return -1;
        if (len + l + 1 >= RESOLVE_NAME_MAX) return -1;
        if (len) out[len++] = '.';
        for (unsigned i = 0; i < l; i++) out[len++] = (char)lower(m[at + 1 + i]);
        at += 1 + l;
    }
    out[len] = 0;
    *off = jumped ? end : at;
    return 0;
}

static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* Calls fn on each answer record; stops early when it returns nonzero.
 * -1 when the answer section is malformed before its end. */
typedef int (*rr_fn)(const char *owner, int type, const unsigned char *m, size_t n,
                     size_t rdata, size_t rdlen, void *arg);
static int each_answer(const unsigned char *m, size_t n, size_t off, int count, rr_fn fn, void *arg)
{
    char owner[RESOLVE_NAME_MAX];
    for (int i = 0; i < count; i++) {
        if (read_name(m, n, &off, owner) < 0 || off + 10 > n) return -1;
        int type = get16(m + off), cls = get16(m + off + 2);
        size_t rdlen = get16(m + off + 8);
        off += 10;
        if (off + rdlen > n) return -1;
        if (cls == 1 && fn(owner, type, m, n, off, rdlen, arg)) return 0;
        off += rdlen;
    }
    return 0;
}

struct chain { char names[CHAIN_MAX][RESOLVE_NAME_MAX]; int n, grew; };

static int in_chain(const struct chain *c, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->names[i], name) == 0) return 1;
    return 0;
}

static int follow_cname(const char *owner, int type, const unsigned char *m, size_t n,
                        size_t rdata, size_t rdlen, void *arg)
{
    struct chain *c = arg;
    char target[RESOLVE_NAME_MAX];
    size_t off = rdata;
    if (type != T_CNAME || !in_chain(c, owner) || c->n >= CHAIN_MAX) return 0;
    if (read_name(m, n, &off, target) < 0 || off != rdata + rdlen || in_chain(c, target)) return 0;
    strcpy(c->names[c->n++], target);
    c->grew = 1;
    return 0;
}

struct collect { const struct chain *chain; int qtype, port, max, n; struct sockaddr_storage *out; };

static int take_address(const char *owner, int type, const unsigned char *m, size_t n,
                        size_t rdata, size_t rdlen, void *arg)
{
    struct collect *k = arg;
    (void)n;
    if (type != k->qtype || !in_chain(k->chain, owner)) return 0;
    if (type == T_A && rdlen == 4) set_v4(&k->out[k->n++], m + rdata, k->port);
    else if (type == T_AAAA && rdlen == 16) set_v6(&k->out[k->n++], m + rdata, k->port, 0);
    return k->n >= k->max;
}

int resolve_dns_answer(const unsigned char *m, size_t n, uint16_t id, const char *name, int qtype,
                       int port, struct sockaddr_storage *out, int max)
{
    if (n < 12 || get16(m) != id || !(m[2] & 0x80) || (m[2] & 0x78) != 0) return -EBADMSG;
    int rcode = m[3] & 0x0f, qd = get16(m + 4), an = get16(m + 6);
    if (qd != 1) return -EBADMSG;
    struct chain *ch = calloc(1, sizeof *ch);       /* 2.3 KB: off the stack */
    if (!ch) return -ENOMEM;
    size_t off = 12;
    int rc = -EBADMSG;
    if (read_name(m, n, &off, ch->names[0]) < 0 || off + 4 > n || !name_eq(ch->names[0], name) ||
        get16(m + off) != qtype || get16(m + off + 2) != 1)
        goto out;
    off += 4;
    ch->n = 1;
    if (rcode == 3) { rc = -ENOENT; goto out; }
    if (rcode != 0) { rc = -EAGAIN; goto out; }
    /* The chain of names first (CNAME records may come in any order), then
     * the addresses of any name on it. A truncated message (TC) keeps what
     * arrived whole. */
    do {
        ch->grew = 0;
        if (each_answer(m, n, off, an, follow_cname, ch) < 0 && !(m[2] & 0x02)) goto out;
    } while (ch->grew);
    struct collect k = { ch, qtype, port, max, 0, out };
    if (max > 0 && each_answer(m, n, off, an, take_address, &k) < 0 && !(m[2] & 0x02) && k.n == 0)
        goto out;
    rc = k.n;
out:
    free(ch);
    return rc;
}

/* ==== Asking the nameservers ============================================ */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A and AAAA for `name` from one server, both asked at once. Returns the
 * number of addresses (A first), -ENOENT (no such name), -EAGAIN (failed
 * or refused), -ETIMEDOUT, or another -errno from the socket. */
static int ask(const struct sockaddr_storage *ns, int timeout_ms, const char *name, int port,
               struct sockaddr_storage *out, int max)
{
    static const int types[2] = { T_A, T_AAAA };
    unsigned char q[2][300], r[1500];
    uint16_t ids[2];
    int qlen[2], got[2] = { -1, -1 };     /* per type: -1 waiting, else count or -errno */
    struct sockaddr_storage found[2][RESOLVE_MAX];
    if (getrandom(ids, sizeof ids, 0) != sizeof ids) ids[0] = (uint16_t)now_ms(), ids[1] = ids[0] ^ 0x5a5a;
    for (int t = 0; t < 2; t++)
        if ((qlen[t] = resolve_dns_query(q[t], sizeof q[t], ids[t], name, types[t])) < 0) return qlen[t];
    int fd = socket(ns->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    socklen_t alen = ns->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    int rc = 0;
    if (connect(fd, (const struct sockaddr *)ns, alen) < 0) rc = -errno;
    for (int t = 0; t < 2 && rc == 0; t++)
        if (send(fd, q[t], (size_t)qlen[t], MSG_NOSIGNAL) < 0) rc = -errno;
    int64_t deadline = now_ms() + timeout_ms;
    while (rc == 0 && (got[0] == -1 || got[1] == -1)) {
        int64_t left = deadline - now_ms();
        if (left <= 0) break;
        struct pollfd p = { fd, POLLIN, 0 };
        int pr = poll(&p, 1, (int)left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) break;
        ssize_t n = recv(fd, r, sizeof r, 0);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            rc = -errno;                                /* e.g. ECONNREFUSED: nobody on port 53 */
            break;
        }
        for (int t = 0; t < 2; t++) {
            if (got[t] != -1) continue;
            int k = resolve_dns_answer(r, (size_t)n, ids[t], name, types[t], port, found[t], RESOLVE_MAX);
            if (k != -EBADMSG) got[t] = k;
        }
    }
    close(fd);
    if (rc < 0) return rc;
    int total = 0;
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < got[t] && total < max; i++) out[total++] = found[t][i];
    if (total) return total;                            /* even if the other type timed out */
    if (got[0] == -1 || got[1] == -1) return got[0] == -EAGAIN || got[1] == -EAGAIN ? -EAGAIN : -ETIMEDOUT;
    if (got[0] == -ENOENT || got[1] == -ENOENT) return -ENOENT;
    if (got[0] == -EAGAIN || got[1] == -EAGAIN) return -EAGAIN;
    return -ENOENT;                                     /* the name exists without addresses */
}

/* One name against every server, attempts times over: the first server
 * that knows (addresses or "no such name") settles it. */
static int ask_all(const struct resolve_conf *c, const char *name, int port,
                   struct sockaddr_storage *out, int max)
{
    int last = -ETIMEDOUT;
    for (int a = 0; a < c->attempts; a++)
        for (int i = 0; i < c->nns; i++) {
            int k = ask(&c->ns[i], c->timeout_ms, name, port, out, max);
            if (k > 0 || k == -ENOENT) return k;
            last = k;
        }
    return last;
}

/* ==== Lookups ============================================================ */

static int is_localhost(const char *name)
{
    size_t n = strlen(name);
    return name_eq(name, "localhost") || (n > 10 && name_eq(name + n - 10, ".localhost"));
}

int resolve_with(const struct resolve_conf *c, const char *name, int port,
                 struct sockaddr_storage *out, int max, char *err, size_t errlen)
{
    char tmp[RESOLVE_NAME_MAX], cand[RESOLVE_NAME_MAX * 2];
    int k = resolve_numeric(name, port, out);
    if (k == 1 || max <= 0) return max > 0 ? 1 : -EINVAL;
    const char *why = "Name or service not known";
    int rc = -EINVAL;
    size_t n = strlen(name);
    if (k < 0 || n == 0 || n >= sizeof tmp) goto fail;
    memcpy(tmp, name, n + 1);
    int absolute = tmp[n - 1] == '.';
    if (absolute) tmp[--n] = 0;
    if (n == 0) goto fail;

    size_t len = 0;
    char *hosts = slurp(c->hosts_path, &len);
    k = hosts ? resolve_hosts(hosts, len, tmp, port, out, max) : 0;
    free(hosts);
    if (k > 0) return k;
    if (is_localhost(tmp)) {
        static const unsigned char v4[4] = { 127, 0, 0, 1 }, v6[16] = { [15] = 1 };
        set_v4(&out[0], v4, port);
        if (max > 1) set_v6(&out[1], v6, port, 0);
        return max > 1 ? 2 : 1;
    }

    /* The name as given and with each search domain: the bare name first
     * when it has at least ndots dots (or ends in one), last otherwise. */
    int dots = 0;
    for (const char *p = tmp; *p; p++) dots += *p == '.';
    int nsearch = absolute ? 0 : c->nsearch, first = absolute || dots >= c->ndots;
    for (int i = -1; i <= nsearch; i++) {
        if (i == -1 && !first) continue;
        if (i == nsearch && first) break;
        if (i >= 0 && i < nsearch) snprintf(cand, sizeof cand, "%s.%s", tmp, c->search[i]);
        else snprintf(cand, sizeof cand, "%s", tmp);
        if (strlen(cand) >= RESOLVE_NAME_MAX) continue;
        k = ask_all(c, cand, port, out, max);
        if (k > 0) return k;
        if (k != -ENOENT) {                 /* the servers are not answering: stop here */
            rc = k == -ETIMEDOUT ? -ETIMEDOUT : -EAGAIN;
            why = "Temporary failure in name resolution";
            break;
        }
    }
fail:
    if (err && errlen) snprintf(err, errlen, "cannot resolve '%.100s': %s", name, why);
    return rc;
}

int resolve_host(const char *name, int port, struct sockaddr_storage *out, int max,
                 char *err, size_t errlen)
{
    struct resolve_conf c;
    /* A literal needs neither file. */
    int k = resolve_numeric(name, port, out);
    if (k == 1 && max > 0) return 1;
    resolve_conf_load(&c, "/etc/resolv.conf", "/etc/hosts");
    return resolve_with(&c, name, port, out, max, err, errlen);
}
