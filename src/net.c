/* net.c -- non-blocking TCP socket helpers (contract in net.h).
 *
 * Every descriptor is made non-blocking and close-on-exec in the system call
 * that creates it (SOCK_NONBLOCK | SOCK_CLOEXEC, accept4), never by a later
 * fcntl: an executor forked in between would otherwise inherit it. Failures
 * return -errno and, where a caller may want to log them, a sentence in err.
 *
 * Names go through resolve.c (no getaddrinfo: see resolve.h). Something
 * that looks numeric but is not a valid address ("256.1.1.1") fails at
 * once, instead of turning into a DNS query that may block the loop for
 * seconds. Real host names do block; callers resolve rarely (once per
 * listen, once per peer connection). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "net.h"
#include "resolve.h"

static int fail(char *err, int e, const char *what, const char *host, int port)
{
    if (err)
        snprintf(err, NET_ERR_LEN, "%s %.100s:%d: %s", what, host ? host : "*", port, strerror(e));
    return -e;
}

int net_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
    return 0;
}

/* ==== Resolving ========================================================= */

/* host:port -> addresses (resolve.c: literals, /etc/hosts, DNS). "[::1]" is
 * accepted as "::1". For listening, NULL, "" and "0.0.0.0" mean every IPv4
 * address. Returns how many, or -errno with err set. */
static int resolve(const char *host, int port, int passive, struct sockaddr_storage *out, char *err)
{
    char name[256];
    if (port < 0 || port > 65535) return fail(err, EINVAL, "bad port for", host, port);
    if (host && *host == '[') {
        size_t n = strlen(host);
        if (n < 3 || host[n - 1] != ']' || n - 2 >= sizeof name)
            return fail(err, EINVAL, "bad address", host, port);
        memcpy(name, host + 1, n - 2);
        name[n - 2] = 0;
        host = name;
    }
    if (passive && (!host || !*host || strcmp(host, "0.0.0.0") == 0)) {
        struct sockaddr_in *s = (struct sockaddr_in *)out;
        memset(out, 0, sizeof *out);
        s->sin_family = AF_INET;
        s->sin_port = htons((uint16_t)port);
        s->sin_addr.s_addr = htonl(INADDR_ANY);
        return 1;
    }
    if (!host || !*host) return fail(err, EINVAL, "no host to connect to", host, port);
    return resolve_host(host, port, out, RESOLVE_MAX, err, err ? NET_ERR_LEN : 0);
}

/* ==== Listening and accepting =========================================== */

/* The k-th address to try: IPv4 ones first, then the rest. Mesos speaks
 * IPv4 (a UPID is ip:port), and "localhost" often lists ::1 first, where
 * nothing of ours may be listening. */
static const struct sockaddr_storage *nth(const struct sockaddr_storage *a, int n, int k)
{
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++)
            if ((a[i].ss_family == AF_INET) == (pass == 0) && k-- == 0) return &a[i];
    return NULL;
}

static socklen_t addr_len(const struct sockaddr_storage *a)
{
    return a->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

int net_listen(const char *ip, int port, int backlog, char *err)
{
    struct sockaddr_storage addrs[RESOLVE_MAX];
    int na = resolve(ip, port, 1, addrs, err);
    if (na < 0) return na;
    /* A name may resolve to several addresses: listen on the first that
     * works, and report the last failure otherwise. */
    int e = EADDRNOTAVAIL;
    const char *what = "cannot listen on";
    const struct sockaddr_storage *ai;
    for (int k = 0; (ai = nth(addrs, na, k)); k++) {
        int fd = socket(ai->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) { e = errno; what = "cannot create socket for"; continue; }
        /* A restarted master must rebind while old connections sit in TIME_WAIT. */
        int one = 1;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
            bind(fd, (const struct sockaddr *)ai, addr_len(ai)) < 0) {
            e = errno; what = "cannot bind";
        } else if (listen(fd, backlog) < 0) {
            e = errno; what = "cannot listen on";
        } else {
            return fd;
        }
        close(fd);
    }
    return fail(err, e, what, ip, port);
}

int net_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return -errno;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -EAFNOSUPPORT;
}

/* "1.2.3.4:5" or "[::1]:5". A v4 peer on a dual-stack v6 socket arrives as
 * ::ffff:1.2.3.4 and is shown as plain IPv4, as everyone else would write it. */
static void format_peer(const struct sockaddr_storage *ss, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof ip);
        snprintf(out, n, "%s:%d", ip, ntohs(s->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {
            inet_ntop(AF_INET, &s->sin6_addr.s6_addr[12], ip, sizeof ip);
            snprintf(out, n, "%s:%d", ip, ntohs(s->sin6_port));
        } else {
            inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof ip);
            snprintf(out, n, "[%s]:%d", ip, ntohs(s->sin6_port));
        }
    } else {
        snprintf(out, n, "?");
    }
}

/* Small request/response messages: Nagle would hold each answer back for
 * the peer's delayed ACK (up to 40 ms on Linux). */
static void nodelay(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int net_accept(int lfd, char *peer, size_t peer_len)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd;
    do fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) nodelay(fd);
    if (peer && peer_len) format_peer(&ss, peer, peer_len);
    return fd;
}

/* ==== Connecting ======================================================== */

/* Only the first address that starts connecting is tried: the outcome
 * comes later (net_connect_result), when falling back would need state we
 * do not keep. Local refusals (no route, bad family) do fall through. */
int net_connect(const char *host, int port, char *err)
{
    struct sockaddr_storage addrs[RESOLVE_MAX];
    int na = resolve(host, port, 0, addrs, err);
    if (na < 0) return na;
    int e = EADDRNOTAVAIL;
    const struct sockaddr_storage *ai;
    for (int k = 0; (ai = nth(addrs, na, k)); k++) {
        int fd = socket(ai->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) { e = errno; continue; }
        nodelay(fd);
        int r;
        do r = connect(fd, (const struct sockaddr *)ai, addr_len(ai));
        while (r < 0 && errno == EINTR);
        if (r == 0 || errno == EINPROGRESS) return fd;
        e = errno;
        close(fd);
    }
    return fail(err, e, "cannot connect to", host, port);
}

int net_connect_result(int fd)
{
    int e = 0;
    socklen_t len = sizeof e;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0) return -errno;
    return -e;
}

/* ==== Reading and writing =============================================== */

long net_read(int fd, void *p, size_t n)
{
    ssize_t r;
    do r = read(fd, p, n);
    while (r < 0 && errno == EINTR);
    if (r < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return (long)r;
}

/* send(), not write(): MSG_NOSIGNAL turns a write to a reset connection
 * into EPIPE even if the caller forgot to ignore SIGPIPE. */
long net_write(int fd, const void *p, size_t n)
{
    ssize_t r;
    do r = send(fd, p, n, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return (long)r;
}
