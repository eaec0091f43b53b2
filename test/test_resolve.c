/* test_resolve.c -- unit tests of the resolver (resolve.c): literals, the
 * hosts file, resolv.conf, DNS queries and crafted answers, and whole
 * lookups against a fake nameserver on 127.0.0.1 (a forked child that
 * answers from a script), including one that never answers (timeout). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "test.h"
#include "resolve.h"

static const char *ip_of(const struct sockaddr_storage *ss, char *buf, size_t n)
{
    if (ss->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, (socklen_t)n);
    else if (ss->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf, (socklen_t)n);
    else
        snprintf(buf, n, "?");
    return buf;
}

static int port_of(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)ss)->sin_port)
                                    : ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

#define CHECK_IP(ss, want) do { char b_[64]; CHECK_STR(ip_of((ss), b_, sizeof b_), (want)); } while (0)

/* ==== Literals, hosts, resolv.conf ====================================== */

static int test_numeric(void)
{
    struct sockaddr_storage a;
    CHECK_EQ(resolve_numeric("10.1.2.3", 5050, &a), 1);
    CHECK_EQ(a.ss_family, AF_INET);
    CHECK_IP(&a, "10.1.2.3");
    CHECK_EQ(port_of(&a), 5050);
    CHECK_EQ(resolve_numeric("::1", 80, &a), 1);
    CHECK_EQ(a.ss_family, AF_INET6);
    CHECK_IP(&a, "::1");
    CHECK_EQ(resolve_numeric("fe80::1%7", 80, &a), 1);
    CHECK_EQ(((struct sockaddr_in6 *)&a)->sin6_scope_id, 7);
    CHECK_EQ(resolve_numeric("fe80::1%lo", 80, &a), 1);
    CHECK(((struct sockaddr_in6 *)&a)->sin6_scope_id != 0);
    CHECK_EQ(resolve_numeric("fe80::1%", 80, &a), -EINVAL);
    CHECK_EQ(resolve_numeric("fe80::1%no-such-if0", 80, &a), -EINVAL);
    CHECK_EQ(resolve_numeric("256.1.1.1", 80, &a), -EINVAL);
    CHECK_EQ(resolve_numeric("1.2.3", 80, &a), -EINVAL);
    CHECK_EQ(resolve_numeric("::zz", 80, &a), -EINVAL);
    CHECK_EQ(resolve_numeric("master.example.com", 80, &a), 0);
    CHECK_EQ(resolve_numeric("1.2.3.com", 80, &a), 0);
    return 0;
}

static int test_hosts(void)
{
    const char *text =
        "# comment line 1.1.1.1 master\n"
        "127.0.0.1\tlocalhost\n"
        "::1 localhost ip6-localhost   # trailing comment\n"
        "\n"
        "   10.0.0.5   Master.Example.com master\r\n"
        "10.0.0.6 other master\n"
        "not-an-ip master\n"
        "fe80::9 v6only\n"
        "10.0.0.7";                                /* no newline, no names */
    struct sockaddr_storage a[RESOLVE_MAX];
    CHECK_EQ(resolve_hosts(text, strlen(text), "master", 5050, a, RESOLVE_MAX), 2);
    CHECK_IP(&a[0], "10.0.0.5");
    CHECK_IP(&a[1], "10.0.0.6");
    CHECK_EQ(port_of(&a[1]), 5050);
    CHECK_EQ(resolve_hosts(text, strlen(text), "MASTER.example.COM", 1, a, RESOLVE_MAX), 1);
    CHECK_IP(&a[0], "10.0.0.5");
    CHECK_EQ(resolve_hosts(text, strlen(text), "localhost", 1, a, RESOLVE_MAX), 2);
    CHECK_IP(&a[0], "127.0.0.1");
    CHECK_IP(&a[1], "::1");
    CHECK_EQ(resolve_hosts(text, strlen(text), "v6only", 1, a, RESOLVE_MAX), 1);
    CHECK_EQ(a[0].ss_family, AF_INET6);
    CHECK_EQ(resolve_hosts(text, strlen(text), "master", 1, a, 1), 1);      /* bounded by max */
    CHECK_EQ(resolve_hosts(text, strlen(text), "comment", 1, a, RESOLVE_MAX), 0);
    CHECK_EQ(resolve_hosts(text, strlen(text), "1.1.1.1", 1, a, RESOLVE_MAX), 0);
    CHECK_EQ(resolve_hosts(text, strlen(text), "mast", 1, a, RESOLVE_MAX), 0);
    CHECK_EQ(resolve_hosts(text, 20, "localhost", 1, a, RESOLVE_MAX), 0);   /* len is honoured */
    return 0;
}

static int test_conf(void)
{
    struct resolve_conf c = { .hosts_path = "/h" };
    const char *text =
        "; comment\n"
        "nameserver 10.0.0.2\n"
        "nameserver bogus\n"
        "nameserver fd00::53  # v6\n"
        "domain ignored.example\n"
        "search a.example b.example. \n"
        "options ndots:3 timeout:2 attempts:9 rotate\n"
        "nameserver 10.0.0.3\n"
        "nameserver 10.0.0.4\n";
    resolve_conf_parse(&c, text, strlen(text));
    CHECK_STR(c.hosts_path, "/h");
    CHECK_EQ(c.nns, 3);
    CHECK_IP(&c.ns[0], "10.0.0.2");
    CHECK_EQ(port_of(&c.ns[0]), 53);
    CHECK_IP(&c.ns[1], "fd00::53");
    CHECK_IP(&c.ns[2], "10.0.0.3");
    CHECK_EQ(c.nsearch, 2);
    CHECK_STR(c.search[0], "a.example");
    CHECK_STR(c.search[1], "b.example");
    CHECK_EQ(c.ndots, 3);
    CHECK_EQ(c.timeout_ms, 2000);
    CHECK_EQ(c.attempts, 5);                      /* capped */

    resolve_conf_parse(&c, "", 0);                /* defaults, as glibc's */
    CHECK_EQ(c.nns, 1);
    CHECK_IP(&c.ns[0], "127.0.0.1");
    CHECK_EQ(c.nsearch, 0);
    CHECK_EQ(c.ndots, 1);
    CHECK_EQ(c.timeout_ms, 5000);
    CHECK_EQ(c.attempts, 2);
    resolve_conf_load(&c, "/nonexistent/resolv.conf", NULL);
    CHECK_EQ(c.nns, 1);
    CHECK(c.hosts_path == NULL);
    return 0;
}

/* ==== DNS messages ======================================================= */

static int test_query(void)
{
    unsigned char q[300];
    int n = resolve_dns_query(q, sizeof q, 0xbeef, "ab.c", 28);
    static const unsigned char want[] = {
        0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
        2, 'a', 'b', 1, 'c', 0, 0, 28, 0, 1 };
    CHECK_EQ(n, sizeof want);
    CHECK(memcmp(q, want, sizeof want) == 0);
    CHECK_EQ(resolve_dns_query(q, sizeof q, 1, "", 1), -EINVAL);
    CHECK_EQ(resolve_dns_query(q, sizeof q, 1, "a..b", 1), -EINVAL);
    CHECK_EQ(resolve_dns_query(q, sizeof q, 1, ".a", 1), -EINVAL);
    CHECK_EQ(resolve_dns_query(q, sizeof q, 1, "a.", 1), -EINVAL);
    char label[70];
    memset(label, 'x', 64);
    label[64] = 0;
    CHECK_EQ(resolve_dns_query(q, sizeof q, 1, label, 1), -EINVAL);          /* label > 63 */
    label[63] = 0;
    CHECK_EQ(resolve_dns_query(q, sizeof q, 1, label, 1), 12 + 65 + 4);
    CHECK_EQ(resolve_dns_query(q, 20, 1, "ab.c", 1), -EINVAL);              /* no room */
    return 0;
}

/* A crafted answer: header, the question, then records. */
struct msg { unsigned char b[1024]; size_t n; };

static void put(struct msg *m, const void *p, size_t n) { memcpy(m->b + m->n, p, n); m->n += n; }
static void put16(struct msg *m, unsigned v) { unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v }; put(m, b, 2); }
static void put_name(struct msg *m, const char *dotted)
{
    while (*dotted) {
        size_t l = strcspn(dotted, ".");
        unsigned char c = (unsigned char)l;
        put(m, &c, 1);
        put(m, dotted, l);
        dotted += l + (dotted[l] == '.');
    }
    put(m, "", 1);
}
static void put_ptr(struct msg *m, unsigned off) { put16(m, 0xc000 | off); }

static void start(struct msg *m, unsigned id, unsigned flags, unsigned an, const char *qname, unsigned qtype)
{
    m->n = 0;
    put16(m, id);
    put16(m, flags);
    put16(m, 1);
    put16(m, an);
    put16(m, 0);
    put16(m, 0);
    put_name(m, qname);
    put16(m, qtype);
    put16(m, 1);
}

static void rr_head(struct msg *m, unsigned type, unsigned rdlen)
{
    put16(m, type);
    put16(m, 1);
    put16(m, 0); put16(m, 300);                  /* TTL */
    put16(m, rdlen);
}

static int test_answer(void)
{
    struct msg m;
    struct sockaddr_storage a[RESOLVE_MAX];
    static const unsigned char ip1[4] = { 192, 0, 2, 1 }, ip2[4] = { 192, 0, 2, 2 };

    /* www.example.com -> CNAME web.example.net (compressed) -> two A;
     * an A of an unrelated name and one with a bad length are ignored. */
    start(&m, 0x1234, 0x8180, 5, "www.Example.com", 1);
    put_ptr(&m, 12);                              /* www.example.com */
    rr_head(&m, 5, 17);                           /* CNAME, rdata uncompressed */
    size_t web = m.n;
    put_name(&m, "web.example.net");
    put_ptr(&m, (unsigned)web);                   /* web.example.net A 192.0.2.1 */
    rr_head(&m, 1, 4);
    put(&m, ip1, 4);
    put_name(&m, "evil.example.org");             /* not on the chain */
    rr_head(&m, 1, 4);
    put(&m, "\x0a\x0a\x0a\x0a", 4);
    put_ptr(&m, (unsigned)web);                   /* bad rdlength for an A */
    rr_head(&m, 1, 5);
    put(&m, "\1\2\3\4\5", 5);
    put_ptr(&m, (unsigned)web);
    rr_head(&m, 1, 4);
    put(&m, ip2, 4);
    CHECK_EQ(resolve_dns_answer(m.b, m.n, 0x1234, "www.example.com", 1, 5050, a, RESOLVE_MAX), 2);
    CHECK_IP(&a[0], "192.0.2.1");
    CHECK_IP(&a[1], "192.0.2.2");
    CHECK_EQ(port_of(&a[0]), 5050);
    CHECK_EQ(resolve_dns_answer(m.b, m.n, 0x1234, "www.example.com", 1, 1, a, 1), 1);   /* max */

    /* not ours: other id, other question, other type, a query, short */
    CHECK_EQ(resolve_dns_answer(m.b, m.n, 0x1235, "www.example.com", 1, 1, a, RESOLVE_MAX), -EBADMSG);
    CHECK_EQ(resolve_dns_answer(m.b, m.n, 0x1234, "ww.example.com", 1, 1, a, RESOLVE_MAX), -EBADMSG);
    CHECK_EQ(resolve_dns_answer(m.b, m.n, 0x1234, "www.example.com", 28, 1, a, RESOLVE_MAX), -EBADMSG);
    CHECK_EQ(resolve_dns_answer(m.b, 11, 0x1234, "www.example.com", 1, 1, a, RESOLVE_MAX), -EBADMSG);
    m.b[2] &= 0x7f;
    CHECK_EQ(resolve_dns_answer(m.b, m.n, 0x1234, "www.example.com", 1, 1, a, RESOLVE_MAX), -EBADMSG);
    m.b[2] |= 0x80;
    /* cut inside the last record: malformed without TC, the whole ones with TC */
    CHECK_EQ(resolve_dns_answer(m.b, m.n - 2, 0x1234, "www.example.com", 1, 1, a, RESOLVE_MAX), -EBADMSG);
    m.b[2] |= 0x02;
    CHECK_EQ(resolve_dns_answer(m.b, m.n - 2, 0x1234, "www.example.com", 1, 1, a, RESOLVE_MAX), 1);
    CHECK_IP(&a[0], "192.0.2.1");

    /* AAAA */
    start(&m, 7, 0x8180, 1, "v6.example", 28);
    put_ptr(&m, 12);
    rr_head(&m, 28, 16);
    put(&m, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    CHECK_EQ(resolve_dns_answer(m.b, m.n, 7, "v6.example", 28, 1, a, RESOLVE_MAX), 1);
    CHECK_IP(&a[0], "2001:db8::1");

    /* rcodes: NXDOMAIN, SERVFAIL, REFUSED; NOERROR without records */
    start(&m, 9, 0x8183, 0, "nope.example", 1);
    CHECK_EQ(resolve_dns_answer(m.b, m.n, 9, "nope.example", 1, 1, a, RESOLVE_MAX), -ENOENT);
    start(&m, 9, 0x8182, 0, "nope.example", 1);
    CHECK_EQ(resolve_dns_answer(m.b, m.n, 9, "nope.example", 1, 1, a, RESOLVE_MAX), -EAGAIN);
    start(&m, 9, 0x8185, 0, "nope.example", 1);
    CHECK_EQ(resolve_dns_answer(m.b, m.n, 9, "nope.example", 1, 1, a, RESOLVE_MAX), -EAGAIN);
    start(&m, 9, 0x8180, 0, "nope.example", 1);
    CHECK_EQ(resolve_dns_answer(m.b, m.n, 9, "nope.example", 1, 1, a, RESOLVE_MAX), 0);

    /* a compression pointer to itself, and one forward: no loop, malformed */
    start(&m, 3, 0x8180, 1, "x.example", 1);
    size_t here = m.n;
    put_ptr(&m, (unsigned)here);
    rr_head(&m, 1, 4);
    put(&m, ip1, 4);
    CHECK_EQ(resolve_dns_answer(m.b, m.n, 3, "x.example", 1, 1, a, RESOLVE_MAX), -EBADMSG);
    m.b[here + 1] = (unsigned char)(here + 2);
    CHECK_EQ(resolve_dns_answer(m.b, m.n, 3, "x.example", 1, 1, a, RESOLVE_MAX), -EBADMSG);

    /* a CNAME loop a -> b -> a with no address ends with none */
    start(&m, 4, 0x8180, 2, "a.example", 1);
    put_name(&m, "a.example");
    rr_head(&m, 5, 11);
    put_name(&m, "b.example");
    put_name(&m, "b.example");
    rr_head(&m, 5, 11);
    put_name(&m, "a.example");
    CHECK_EQ(resolve_dns_answer(m.b, m.n, 4, "a.example", 1, 1, a, RESOLVE_MAX), 0);
    return 0;
}

/* ==== Whole lookups against a fake nameserver ========================== */

/* The child answers each query it gets: "known.test" and "db.search.test"
 * with A 192.0.2.7 (and no AAAA), everything else NXDOMAIN;
 * with `silent` it never answers. It exits when the parent kills it. */
static pid_t fake_ns(int *port, int silent)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) return -1;
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    *port = ntohs(sa.sin_port);
    pid_t pid = fork();
    if (pid != 0) { close(fd); return pid; }
    alarm(60);                                    /* never outlive a broken test */
    for (;;) {
        unsigned char q[512], r[600];
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
        if (n < 17 || silent) continue;
        size_t qend = 12;
        while (qend < (size_t)n && q[qend]) qend += 1 + q[qend];
        qend += 5;
        if (qend > (size_t)n) continue;
        char name[256];
        size_t o = 12, k = 0;
        while (q[o] && k < 200) {
            if (k) name[k++] = '.';
            memcpy(name + k, q + o + 1, q[o]);
            k += q[o];
            o += 1 + q[o];
        }
        name[k] = 0;
        int qtype = q[qend - 3];
        int known = strcmp(name, "known.test") == 0 || strcmp(name, "db.search.test") == 0;
        memcpy(r, q, qend);
        r[2] = 0x81;
        r[3] = known ? 0x80 : 0x83;
        size_t rn = qend;
        if (known && qtype == 1) {
            r[7] = 1;
            static const unsigned char rr[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 0, 0, 4, 192, 0, 2, 7 };
            memcpy(r + rn, rr, sizeof rr);
            rn += sizeof rr;
        }
        sendto(fd, r, rn, 0, (struct sockaddr *)&from, fl);
    }
}

static void stop_child(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static int test_lookup(void)
{
    char hosts_path[] = "/tmp/test_resolve_hostsXXXXXX";
    int hfd = mkstemp(hosts_path);
    CHECK(hfd >= 0);
    const char *hosts = "10.9.8.7 fromhosts known.test\n";
    CHECK_EQ(write(hfd, hosts, strlen(hosts)), (long)strlen(hosts));
    close(hfd);

    int port = 0;
    pid_t pid = fake_ns(&port, 0);
    CHECK(pid > 0);
    char resolv[200];
    snprintf(resolv, sizeof resolv, "nameserver 127.0.0.1\nsearch nowhere.test search.test\noptions timeout:5\n");
    struct resolve_conf c = { .hosts_path = hosts_path };
    resolve_conf_parse(&c, resolv, strlen(resolv));
    ((struct sockaddr_in *)&c.ns[0])->sin_port = htons((uint16_t)port);

    struct sockaddr_storage a[RESOLVE_MAX];
    char err[256] = "";
    int rc = 0;
    /* the hosts file comes before DNS */
    if (resolve_with(&c, "fromhosts", 1, a, RESOLVE_MAX, err, sizeof err) != 1) rc = 1;
    else if (resolve_with(&c, "known.test", 1, a, RESOLVE_MAX, err, sizeof err) != 1) rc = 2;
    else {
        char b[64];
        if (strcmp(ip_of(&a[0], b, sizeof b), "10.9.8.7") != 0) rc = 3;
    }
    /* DNS: an absolute name, then a search-list name (bare "db" has 0 dots <
     * ndots 1: db.nowhere.test is NXDOMAIN, db.search.test answers) */
    c.hosts_path = "/nonexistent/hosts";
    if (!rc && resolve_with(&c, "known.test.", 99, a, RESOLVE_MAX, err, sizeof err) != 1) rc = 4;
    if (!rc) { char b[64]; if (strcmp(ip_of(&a[0], b, sizeof b), "192.0.2.7") || port_of(&a[0]) != 99) rc = 5; }
    if (!rc && resolve_with(&c, "db", 1, a, RESOLVE_MAX, err, sizeof err) != 1) rc = 6;
    /* unknown everywhere: -EINVAL, as getaddrinfo's "not known" was */
    if (!rc && resolve_with(&c, "missing.example", 1, a, RESOLVE_MAX, err, sizeof err) != -EINVAL) rc = 7;
    if (!rc && !strstr(err, "cannot resolve 'missing.example': Name or service not known")) rc = 8;
    /* localhost without a hosts file */
    if (!rc && resolve_with(&c, "localhost", 1, a, RESOLVE_MAX, err, sizeof err) != 2) rc = 9;
    if (!rc) { char b[64]; if (strcmp(ip_of(&a[0], b, sizeof b), "127.0.0.1")) rc = 10; }
    if (!rc && resolve_with(&c, "256.0.0.1", 1, a, RESOLVE_MAX, err, sizeof err) != -EINVAL) rc = 11;
    stop_child(pid);
    unlink(hosts_path);
    if (rc) printf("lookup step %d failed: %s\n", rc, err);
    CHECK_EQ(rc, 0);
    return 0;
}

static int test_lookup_timeout(void)
{
    int port = 0;
    pid_t pid = fake_ns(&port, 1);
    CHECK(pid > 0);
    struct resolve_conf c = { 0 };
    resolve_conf_parse(&c, "nameserver 127.0.0.1\n", 21);
    ((struct sockaddr_in *)&c.ns[0])->sin_port = htons((uint16_t)port);
    c.timeout_ms = 200;
    c.attempts = 2;
    struct sockaddr_storage a[RESOLVE_MAX];
    char err[256] = "";
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = resolve_with(&c, "silent.test", 1, a, RESOLVE_MAX, err, sizeof err);
    long ms = elapsed_ms(&t0);
    stop_child(pid);
    CHECK_EQ(rc, -ETIMEDOUT);
    CHECK(strstr(err, "Temporary failure in name resolution") != NULL);
    CHECK(ms >= 380);                             /* two attempts of 200 ms */
    CHECK(ms < 5000);

    /* nobody on the port at all: refused, at once */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = resolve_with(&c, "silent.test", 1, a, RESOLVE_MAX, err, sizeof err);
    CHECK_EQ(rc, -EAGAIN);
    CHECK(elapsed_ms(&t0) < 5000);
    return 0;
}

int main(void)
{
    RUN(test_numeric);
    RUN(test_hosts);
    RUN(test_conf);
    RUN(test_query);
    RUN(test_answer);
    RUN(test_lookup);
    RUN(test_lookup_timeout);
    return REPORT();
}
