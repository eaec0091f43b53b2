/* net.h -- socket helpers: listen, accept, connect, all non-blocking.
 * Functions return a file descriptor (>= 0) or -errno. `err` (NET_ERR_LEN
 * bytes, may be NULL) receives a readable message on failure. */
#ifndef NET_H
#define NET_H
#include <stddef.h>
#include <sys/socket.h>

#define NET_ERR_LEN 256

/* Listen on ip:port (IPv4 dotted, IPv6 literal, or hostname; NULL/"0.0.0.0" = any).
 * IPv6 literals may be bracketed ("[::1]"); malformed numeric addresses fail
 * without a DNS lookup.
 * port 0 picks a free port; SO_REUSEADDR set; non-blocking; CLOEXEC. */
int net_listen(const char *ip, int port, int backlog, char *err);
/* Port a bound socket listens on. */
int net_local_port(int fd);
/* Accept one connection, non-blocking + CLOEXEC + TCP_NODELAY. Returns fd,
 * -EAGAIN when none pending, or -errno. `peer` (may be NULL) gets "ip:port". */
int net_accept(int lfd, char *peer, size_t peer_len);
/* Start a non-blocking connect to host:port. Returns fd (connection may still
 * be in progress: wait for writability and check net_connect_result). */
int net_connect(const char *host, int port, char *err);
int net_connect_result(int fd);   /* 0 or -errno from SO_ERROR */
int net_set_nonblock(int fd);
/* read/write with EINTR retry: bytes, 0 for EOF (read) , -EAGAIN, or -errno. */
long net_read(int fd, void *p, size_t n);
long net_write(int fd, const void *p, size_t n);

#endif
