/* agent.h -- a Mesos agent: it registers with a master over the libprocess
 * wire and keeps that registration alive. Like the master, it owns its HTTP
 * server and runs on the caller's loop, so `mesos_api local` can run a
 * master and several agents in one process. */
#ifndef AGENT_H
#define AGENT_H
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "flags.h"
#include "loop.h"
#include "server.h"
#include "wire.h"

enum agent_state { AGENT_DISCONNECTED, AGENT_REGISTERING, AGENT_REGISTERED };

struct aexec;
struct agent_res;

struct agent_proc {
    struct loop *loop;
    struct server *http;
    struct wire *wire;
    struct flag *flags;
    size_t nflags;
    struct upid master;          /* where to register */
    char hostname[256];
    char ip[64];
    int port;
    char work_dir[1024];
    char id[96];                 /* empty until the master assigns one */
    struct buf info;             /* SlaveInfo bytes without id */
    int state;                   /* enum agent_state */
    uint64_t backoff_ms;         /* registration retry backoff */
    struct loop_timer retry;     /* registration retries */
    struct loop_timer ping_watch;/* the master is lost without pings */
    double ping_timeout_secs;    /* from MasterSlaveConnection */
    double start_time;
    uint64_t registrations, pings;
    struct aexec *executors;     /* agent_exec.c */
    struct agent_res *res;       /* checkpointed resources, operations (agent_ops.c) */
    struct loop_timer reaper;    /* collects exited executors */
};

/* agent_exec.c: executors, tasks and status updates. */
int agent_exec_message(struct agent_proc *a, const char *name, const uint8_t *p, size_t n);  /* 1 if handled */
void agent_exec_resend(struct agent_proc *a);
void agent_exec_reap(struct agent_proc *a);
void agent_exec_free_all(struct agent_proc *a);
void agent_executor_api(struct request *r, void *arg);   /* POST /api/v1/executor */
void agent_exec_recover(struct agent_proc *a);           /* after a restart */
void agent_exec_encode_reregister(struct agent_proc *a, struct buf *msg);
/* agent_ops.c: checkpointed resources (reservations, persistent volumes),
 * operations from the master, volume directories. init recovers the
 * checkpoint (base: the --resources, a struct resources *); -1 with a
 * message when it does not fit them. */
int agent_ops_init(struct agent_proc *a, const void *base, char *err, size_t cap);
void agent_ops_free(struct agent_proc *a);
/* checkpointed_resources and resource_version_uuid of a (Re)RegisterSlaveMessage. */
void agent_ops_encode_registration(struct agent_proc *a, struct buf *msg, int re);
/* (Re)registered: UpdateSlaveMessage with the operations, pending updates again. */
void agent_ops_registered(struct agent_proc *a);
int agent_ops_message(struct agent_proc *a, const char *name, const uint8_t *p, size_t n);  /* 1 if handled */
/* Persistent volumes in a task's resources (TaskInfo bytes) appear in the
 * sandbox at their container path (a symbolic link). */
void agent_ops_link_volumes(struct agent_proc *a, const char *sandbox, const uint8_t *task, size_t n);
/* agent.c: crash-safe whole-file write (temp file, fsync, rename, dir fsync). */
int agent_write_atomic(const char *dir, const char *name, const char *data, size_t n);
/* agent.c: mkdir -p; 0 or -errno. */
int agent_mkdirs(const char *path);

/* Start an agent with parsed flags. Returns NULL with a message in err (512
 * bytes). `index` distinguishes agents of `mesos_api local` (0 for one). */
struct agent_proc *agent_start(struct loop *l, struct flag *flags, size_t nflags, char *err);
void agent_stop(struct agent_proc *a);

/* The default --resources when none is given: cpus from the CPU count, mem
 * as upstream (total minus 1 GiB, or half when that is less than 1 GiB),
 * disk from the work_dir's file system likewise, ports 31000-32000. */
void agent_default_resources(const char *work_dir, char *out, size_t n);

#endif
