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
#include "wire.h"

/* A task as the master knows it from its agent: the v1 Task bytes without
 * state and statuses, which are kept apart and appended when encoding. */
struct mtask {
    struct mtask *next;
    char framework_id[256], task_id[256];
    struct buf base;             /* Task fields except state (6) and statuses (8) */
    struct buf statuses;         /* repeated TaskStatus, each with its key (tag 8) */
    unsigned nstatuses;
    int state;
};

/* A (non-command) executor the master knows on an agent. */
struct mexec {
    struct mexec *next;
    char framework_id[256], executor_id[256];
    struct buf info;             /* ExecutorInfo bytes */
};

/* An agent the master knows (agents.c). Its SlaveInfo is kept as the
 * protobuf bytes the agent sent, with the id the master assigned; the v0
 * SlaveInfo and v1 AgentInfo share field numbers, so the bytes serve both. */
struct agent {
    struct master *m;
    struct agent *next;
    char id[96];
    struct buf info;             /* SlaveInfo / AgentInfo bytes, id included */
    struct buf capabilities;     /* concatenated Capability messages, each with its key (tag 10) */
    struct upid pid;
    char version[32];
    double registered_time, reregistered_time;   /* epoch seconds; 0 = never */
    int deactivated;
    unsigned pings_missed;
    struct loop_timer ping;
    struct mtask *tasks;
    struct mexec *executors;
    struct agent *pid_next, *id_next;   /* chains of the master's agent indexes (agents.c) */
};

/* A framework subscribed through the v1 scheduler API (scheduler.c). */
struct decline;
struct offer;
struct framework {
    struct master *m;
    struct framework *next;
    char id[160];
    struct buf info;             /* FrameworkInfo bytes, id included */
    char role[256];              /* the role offers go to */
    char stream_id[40];
    struct request *stream;      /* NULL while disconnected */
    int json;                    /* the stream's encoding */
    int suppressed;
    int partition_aware, multi_role;
    double failover_timeout;     /* seconds */
    double registered_time, reregistered_time, unregistered_time;   /* 0 = never */
    double use[4];               /* cpus, mem, disk, gpus in use or offered (thousandths), per cycle */
    struct loop_timer heartbeat, failover;
    struct decline *declines;    /* refuse filters per agent */
};

/* An agent the master gave up on (ping timeouts), with when. */
struct unreachable {
    struct unreachable *next;
    char id[96];
    double time;
};

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

    /* the master<->agent wire and the agents (agents.c) */
    struct wire *wire;
    struct agent *agents;
    size_t nagents;
    struct agent **pid_index, **id_index;   /* hash tables by UPID and by id (agents.c) */
    uint64_t next_agent;         /* suffix of the next agent id, "-S<n>" */
    struct unreachable *unreachable;
    size_t nunreachable;
    uint64_t agent_registrations, agent_reregistrations, agent_removals;
    struct mtask *completed_tasks, *unreachable_tasks;   /* bounded lists */
    size_t ncompleted, nunreachable_tasks;
    uint64_t task_counters[16];                          /* terminal transitions by TaskState */

    /* frameworks and offers (scheduler.c) */
    struct api sched_api;
    struct framework *frameworks;
    size_t nframeworks;
    uint64_t next_framework, next_offer;
    struct offer *offers;
    size_t noffers;
    struct loop_timer allocation;
    struct framework *completed_frameworks;             /* removed; bounded */
    size_t ncompleted_frameworks;

    /* role weights: from --weights, changed by UPDATE_WEIGHTS */
    struct weight { char role[256]; double weight; } *weights;
    size_t nweights;
};

/* Start a master on `l` with the parsed flags. Returns NULL with a message
 * in err (256 bytes) when it cannot listen. */
struct master *master_start(struct loop *l, struct flag *flags, size_t nflags,
                            const struct call *calls, size_t ncalls, char *err);
void master_stop(struct master *m);

/* Metrics as (name, value) pairs sorted by name. Caller frees *out. */
struct metric { char name[96]; double value; };
size_t master_metrics(struct master *m, struct metric **out);

/* agents.c: messages from agents arrive here; agents_free at shutdown. */
void agents_on_message(void *master, const struct upid *from, const char *name, const void *body, size_t n);
void agents_free(struct master *m);
/* Append an AgentInfo-shaped Response.GetAgents.Agent for each agent. */
void agents_encode_get_agents(struct master *m, struct buf *pb);
/* Append Response.GetTasks fields (tasks, unreachable_tasks, completed_tasks). */
void agents_encode_get_tasks(struct master *m, struct buf *pb);
/* A task launched by a framework, as the master records it before the
 * agent reports back (TASK_STAGING). */
struct mtask *agents_add_task(struct master *m, struct agent *a, const char *framework_id,
                              const uint8_t *task_info, size_t n);
struct agent *agents_find(struct master *m, const char *id, size_t n);
/* Add a task's resources, or all of an agent's active tasks', to out
 * (a struct resources *). */
void agents_task_resources(const struct mtask *t, void *out);
void agents_used(const struct agent *a, void *out);
/* Record an executor (ExecutorInfo bytes) of a framework on an agent; once. */
void agents_add_executor(struct agent *a, const char *framework_id, const uint8_t *info, size_t n);
/* Append Response.GetExecutors fields; and the whole GetState. */
void agents_encode_get_executors(struct master *m, struct buf *pb);
/* Number of active tasks in `state` (TaskState number). */
size_t agents_count_tasks(struct master *m, int state);

/* scheduler.c: the v1 scheduler API, frameworks, offers and the allocator. */
void sched_init(struct master *m);
void sched_free(struct master *m);
/* A status update from an agent, for the framework's stream. */
void sched_forward_update(struct master *m, const char *framework_id, const uint8_t *status, size_t n);
/* A task's agent is gone: TASK_UNREACHABLE (or TASK_LOST) to its framework. */
void sched_task_lost(struct master *m, const char *framework_id, const char *task_id, const char *agent_id);
/* An executor exited: FAILURE {agent_id, executor_id, status} to its framework. */
void sched_executor_exited(struct master *m, const char *framework_id, const char *agent_id,
                           const char *executor_id, int status);
/* The agent is gone: its offers are rescinded. */
void sched_agent_removed(struct master *m, struct agent *a);
/* Resources of the agent's offers, added to *out (struct resources *). */
void sched_offered(struct master *m, struct agent *a, void *out);
struct framework *sched_find(struct master *m, const char *id);
/* Rescind every outstanding offer (weights changed, ...). */
void sched_rescind_all(struct master *m);
/* A role's weight (1 unless set). */
double master_role_weight(struct master *m, const char *role);
/* Run the allocator soon (something changed). */
void sched_trigger(struct master *m);
/* Append Response.GetFrameworks fields (frameworks, completed_frameworks). */
void sched_encode_get_frameworks(struct master *m, struct buf *pb);

/* Operator call handlers (operator.c); the call table is in mesos_api.c. */
void op_get_agents(struct api_ctx *c);
void op_get_tasks(struct api_ctx *c);
void op_get_frameworks(struct api_ctx *c);
void op_get_weights(struct api_ctx *c);
void op_get_executors(struct api_ctx *c);
void op_get_state(struct api_ctx *c);
void op_update_weights(struct api_ctx *c);
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
