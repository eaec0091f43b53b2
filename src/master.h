/* master.h -- the master: its identity, configuration and cluster state.
 *
 * The master owns its HTTP server and runs on the caller's loop. Everything
 * below takes a struct master * (no globals), so a test can run two masters
 * in one process. */
#ifndef MASTER_H
#define MASTER_H
#include <stddef.h>
#include <stdint.h>
#include "api.h"
#include "flags.h"
#include "loop.h"
#include "server.h"

struct master {
    struct loop *loop;
    struct server *http;
    struct api api;
    struct flag *flags;          /* the parsed flag table (owned by main) */
    size_t nflags;

    char id[40];                 /* a UUID, new at every start */
    char hostname[256];
    char ip[64];                 /* advertised IPv4 address, dotted */
    uint32_t ip_be;              /* the same, in network byte order */
    int port;
    char pid[128];               /* "master@ip:port" */
    double start_time;           /* epoch seconds */
    double elected_time;

    /* SET_LOGGING_LEVEL reverts after its duration. */
    struct loop_timer log_revert;
    unsigned log_revert_to;

    /* counters published by GET_METRICS */
    uint64_t http_api_calls;
};

/* Start a master on `l` with the parsed flags. Returns NULL with a message
 * in err (256 bytes) when it cannot listen. */
struct master *master_start(struct loop *l, struct flag *flags, size_t nflags,
                            const struct call *calls, size_t ncalls, char *err);
void master_stop(struct master *m);

/* Metrics as (name, value) pairs sorted by name. Caller frees *out. */
struct metric { char name[96]; double value; };
size_t master_metrics(struct master *m, struct metric **out);

/* Operator call handlers (operator.c); the call table is in mesos_api.c. */
void op_get_health(struct api_ctx *c);
void op_get_flags(struct api_ctx *c);
void op_get_version(struct api_ctx *c);
void op_get_metrics(struct api_ctx *c);
void op_get_logging_level(struct api_ctx *c);
void op_set_logging_level(struct api_ctx *c);
void op_get_master(struct api_ctx *c);

/* Build facts (version.c). */
extern const char *build_version, *build_date, *build_user, *build_git_sha;
extern double build_time;

#endif
