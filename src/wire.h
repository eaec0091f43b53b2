/* wire.h -- the libprocess message wire between Mesos processes.
 *
 * One message is one HTTP POST to /<to-id>/<fully.qualified.MessageName>
 * with a protobuf body, sent with User-Agent: libprocess/<from> and
 * Libprocess-From: <from>; the receiver answers 202 at once, and replies
 * travel as separate messages on a connection the replier opens and keeps
 * (LIBPROCESS_WIRE.md). Messages are fire-and-forget: reliability is the
 * protocol's job (retries, acknowledgements, pings). */
#ifndef WIRE_H
#define WIRE_H
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "loop.h"
#include "server.h"

/* A process address "id@host:port". */
struct upid {
    char id[128];
    char host[256];
    int port;
};
/* Parse "id@host:port" (host may be an [IPv6] literal). Returns 0 or -1. */
int upid_parse(const char *s, size_t n, struct upid *out);
void upid_format(const struct upid *u, char *out, size_t n);

struct wire;
/* A received message: name is "mesos.internal.X"; body is protobuf. */
typedef void (*wire_msg_fn)(void *arg, const struct upid *from, const char *name,
                            const void *body, size_t n);

/* Messages to this process arrive through `srv` (route prefix
 * "/mesos.internal."; the server strips the "/<id>" prefix). `self` is our
 * own UPID, put in Libprocess-From. */
struct wire *wire_new(struct loop *l, struct server *srv, const struct upid *self,
                      wire_msg_fn fn, void *arg);
void wire_free(struct wire *w);
const struct upid *wire_self(const struct wire *w);

/* Queue a message to `to`. A connection per peer is opened on demand and
 * kept; if it fails, queued messages to that peer are dropped (logged) and
 * the next send reconnects. The per-peer queue is bounded (WIRE_MAX_QUEUE):
 * past it the message is dropped. Returns 0, or -1 if dropped at once. */
#define WIRE_MAX_QUEUE (64u << 20)
int wire_send(struct wire *w, const struct upid *to, const char *name, const void *body, size_t n);

/* Counters for metrics and tests. */
struct wire_stats { uint64_t sent, received, dropped, connects, connect_failures; };
const struct wire_stats *wire_stats(const struct wire *w);

#endif
