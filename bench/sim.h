/* sim.h -- simulated agents on the libprocess wire, for the bench tools.
 *
 * sim_start() opens our listening socket and one connection to the master
 * and runs a thread that sends each agent's ReregisterSlaveMessage (agent i
 * is "slave(i)@127.0.0.1:<port>" with id and hostname "agent<i>"), counts
 * the SlaveReregisteredMessages that come back, and answers every
 * PingSlaveMessage. Framework ids are "framework<j>" on every agent; tasks
 * are numbered 1, 2, ... in the order they are built (agent by agent,
 * running frameworks first), and sim_task_id() gives task n's id. */
#ifndef BENCH_SIM_H
#define BENCH_SIM_H
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "http.h"

#define SEND_WINDOW (4u << 20)      /* registration bytes queued ahead of the socket */
#define MAX_IN_CONNS 64

/* private */
struct in_conn {
    int fd;
    struct buf in;
    int in_body;                     /* reading a body */
    int chunked;
    uint64_t left;                   /* Content-Length bytes still to skip */
    struct http_chunked ck;
    long agent;                      /* the message's addressee, slave(N) */
    char name[80];
};

struct sim {
    const char *mhost;
    int mport;
    size_t agents, fw, tasks, cfw, ctasks;
    int lfd, port;
    int out_fd;
    struct buf out;
    size_t out_off;
    size_t next;                     /* next agent to send */
    uint8_t *registered, *sent;
    size_t resent;                   /* registrations sent again (no answer in time) */
    size_t last_done;
    double t_progress;
    atomic_size_t nregistered;
    atomic_ulong pongs;
    atomic_int stop;
    double t_start, t_done;
    struct in_conn conns[MAX_IN_CONNS];
    size_t nconns;
    uint64_t task_seq;
    char user[64];
    pthread_t thread;
};

void sim_start(struct sim *s);      /* set mhost, mport and the sizes first */
void sim_stop(struct sim *s);
void sim_task_id(uint64_t n, char *id, size_t len);

#endif
