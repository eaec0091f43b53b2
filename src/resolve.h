/* resolve.h -- host names to socket addresses without glibc's NSS.
 *
 * getaddrinfo in a static binary loads NSS modules at run time, which a
 * FROM-scratch image does not have (and which cost ~100 KB of binary). This
 * resolver asks, in order: numeric literals, the hosts file, then DNS (A and
 * AAAA over UDP to the resolv.conf nameservers, with its search list, ndots,
 * timeout and attempts). "localhost" resolves to the loopback addresses even
 * without a hosts file (RFC 6761). Lookups block, bounded by the timeouts;
 * callers resolve rarely (once per listen, once per peer connection).
 *
 * Addresses come back as sockaddr_in / sockaddr_in6 with `port` set. */
#ifndef RESOLVE_H
#define RESOLVE_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RESOLVE_MAX       8     /* addresses kept per lookup */
#define RESOLVE_MAX_NS    3     /* nameservers (as glibc's MAXNS) */
#define RESOLVE_MAX_SEARCH 6    /* search domains */
#define RESOLVE_NAME_MAX  254   /* a dotted name without the final dot, plus NUL */

/* What a lookup consults; resolve_conf_load fills it from files. Tests set
 * nameservers on other ports directly. */
struct resolve_conf {
    const char *hosts_path;                     /* NULL: no hosts file */
    struct sockaddr_storage ns[RESOLVE_MAX_NS];
    int nns;
    char search[RESOLVE_MAX_SEARCH][RESOLVE_NAME_MAX];
    int nsearch;
    int ndots, timeout_ms, attempts;
};

/* Defaults (127.0.0.1:53, ndots 1, 5 s, 2 attempts, as glibc), then the
 * resolv.conf text / file: nameserver, search, domain, options ndots:
 * timeout: attempts:. A missing file leaves the defaults. */
void resolve_conf_parse(struct resolve_conf *c, const char *text, size_t len);
void resolve_conf_load(struct resolve_conf *c, const char *resolv_path, const char *hosts_path);

/* name -> up to max addresses. Returns how many (> 0), or -EINVAL for a
 * malformed literal or a name nobody knows, -ETIMEDOUT / -EAGAIN when the
 * nameservers did not answer or failed; `err` (errlen bytes, may be NULL)
 * gets a sentence. resolve_host uses /etc/resolv.conf and /etc/hosts. */
int resolve_with(const struct resolve_conf *c, const char *name, int port,
                 struct sockaddr_storage *out, int max, char *err, size_t errlen);
int resolve_host(const char *name, int port, struct sockaddr_storage *out, int max,
                 char *err, size_t errlen);

/* ==== The pieces (exposed for tests and the fuzz target) ============== */

/* A numeric IPv4 ("1.2.3.4") or IPv6 ("::1", "fe80::1%eth0") literal.
 * 1 parsed, 0 not a literal (a name), -EINVAL looks numeric but is malformed. */
int resolve_numeric(const char *s, int port, struct sockaddr_storage *out);
/* Addresses for `name` (case-insensitive) in hosts-file text; how many. */
int resolve_hosts(const char *text, size_t len, const char *name, int port,
                  struct sockaddr_storage *out, int max);
/* A DNS query (recursion desired, one question, class IN) for name and
 * qtype (1 = A, 28 = AAAA). Returns its length or -EINVAL (bad name). */
int resolve_dns_query(unsigned char *out, size_t cap, uint16_t id, const char *name, int qtype);
/* The addresses in an answer to that query: those of `name`'s records of
 * qtype, following CNAMEs. Returns how many (0: no records of that type),
 * -ENOENT (NXDOMAIN), -EAGAIN (the server failed or refused), -EBADMSG
 * (malformed, or not the answer to this id and question: ignore it). */
int resolve_dns_answer(const unsigned char *msg, size_t n, uint16_t id, const char *name, int qtype,
                       int port, struct sockaddr_storage *out, int max);

#endif
