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
#include "ptrset.h"
#include "resources.h"
#include "server.h"
#include "wire.h"

/* A task as the master knows it from its agent: the v1 Task bytes without
 * state and statuses, which are kept apart and appended when encoding. */
struct mtask {
    struct mtask *next;
    struct mtask *prev;          /* on a history list only (agents.c) */
    const char *framework_id;    /* in ids[], after the task id */
    struct buf base;             /* Task fields except state (6) and statuses (8), exact size */
    struct buf statuses;         /* repeated TaskStatus, each with its key (tag 8) */
    unsigned nstatuses;
    int state;
    uint32_t at6, at8;           /* offsets in base where state and statuses belong */
    char task_id[];              /* NUL-terminated, then the framework id */
};

/* A (non-command) executor the master knows on an agent. */
struct mexec {
    struct mexec *next;
    char framework_id[256], executor_id[256];
    struct buf info;             /* ExecutorInfo bytes */
};

struct agent_ops;   /* operations.c */

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
    int deactivated;             /* no offers: DEACTIVATE_AGENT or DRAIN_AGENT (see m->drains) */
    struct alloc_agent *alloc;   /* the allocator's cache (allocator.c) */
    int removing;                /* a registry write removing it is pending */
    unsigned pings_missed;
    struct loop_timer ping;
    struct mtask *tasks;
    struct mexec *executors;
    struct agent *pid_next, *id_next;   /* chains of the master's agent indexes (agents.c) */
    struct agent *prev;          /* m->agents is doubly linked: removal without a walk */
    int listed;                  /* on m->agents */
    struct agent_ops *ops;       /* total resources and operations (operations.c) */
    uint64_t tasks_gen;          /* bumped whenever `tasks` gains or loses one (agents.c) */
    struct buf used_pb;          /* allocated_resources as encoded for GET_AGENTS, */
    uint64_t used_gen;           /* ... when tasks_gen was this (0: not yet) */
};

/* A framework subscribed through the v1 scheduler API (scheduler.c). */
struct decline;
struct offer;
struct fw_role;
struct allocator;
struct framework {
    struct master *m;
    struct framework *next;
    char id[160];
    struct buf info;             /* FrameworkInfo bytes, id included */
    char role[256];              /* the role offers go to */
    char stream_id[40];
    struct request *stream;      /* NULL while disconnected */
    int json;                    /* the stream's encoding */
    int partition_aware, multi_role;
    double failover_timeout;     /* seconds */
    double registered_time, reregistered_time, unregistered_time;   /* 0 = never */
    double use[4];               /* cpus, mem, disk, gpus in use or offered (thousandths), per cycle */
    struct loop_timer heartbeat, failover;
    struct decline *declines;    /* refuse filters per agent */
    struct fw_role *roles;       /* its roles (allocator.h), role[] is the first */
    size_t nroles;
};

/* An agent the master gave up on (ping timeouts), with when. */
struct unreachable {
    struct unreachable *next, *prev;
    char id[96];
    double time;
};


/* A role's quota (quota.c): guarantees and limits, by name, sorted, in
 * fixed point (thousandths). A limit that is absent is no limit. */
struct quota_entry { char name[64]; int64_t value; };
struct quota {
    struct quota *next;
    char role[256];
    struct quota_entry *guarantees, *limits;
    size_t nguarantees, nlimits;
};

/* A machine in the maintenance schedule (maintenance.c), as upstream's
 * MachineInfo: its id, its mode (DRAINING = 2 or DOWN = 3; UP machines are
 * not kept) and its Unavailability bytes. */
struct machine {
    struct machine *next;
    char hostname[256], ip[64];
    int has_hostname, has_ip;
    int mode;
    struct buf unavailability;
};

/* An inverse offer outstanding (maintenance.c), and a framework's last
 * answer for an agent (InverseOfferStatus: 2 ACCEPT, 3 DECLINE). */
struct inverse_offer {
    struct inverse_offer *next;
    char id[160];
    struct framework *f;
    struct agent *a;
    uint64_t made_ms;
};
struct io_status {
    struct io_status *next;
    char agent_id[96], framework_id[160];
    int status;
    double time;
};

/* An agent the operator deactivated or drains (agent_admin.c), by id, so
 * the state outlives a disconnection. DrainState: 0 none, 1 DRAINING,
 * 2 DRAINED; config is the DrainConfig bytes. */
struct agent_drain {
    struct agent_drain *next;
    char id[96];
    int deactivated;
    int state;
    struct buf config;
    double start_time;           /* estimated_drain_start_time, epoch seconds */
};

/* An agent recovered from the registry that has not re-registered yet
 * (master_registry.c). */
struct ragent {
    struct ragent *next;
    char id[96];
    struct buf info;             /* SlaveInfo bytes */
    int marking;                 /* being marked unreachable */
};
struct pending_reg;
struct registry;
struct registry_op;

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
    struct ptrset unreachable_ids, gone_ids;   /* the two lists, by id: 10,000 agents going and
                                                  coming back are not 10,000 walks of a list */
    uint64_t agent_registrations, agent_reregistrations, agent_removals;
    struct mtask *completed_tasks, *unreachable_tasks;   /* bounded lists, newest first */
    struct mtask *hist_tail[2];                          /* their oldest */
    struct ptrset hist_idx[2];                           /* the same, by (framework, task) id */
    size_t ncompleted, nunreachable_tasks;
    struct fwcount *fwcounts;                            /* tasks per framework on those lists */
    size_t nfwcounts;
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

    /* the allocator's private state (allocator.c) */
    struct allocator *alloc;
    /* quota (quota.c): changed only through quota_set */
    struct quota *quotas;
    /* maintenance (maintenance.c): changed only through maint_* setters */
    struct buf schedule;         /* the maintenance.Schedule bytes; empty = none */
    struct machine *machines;
    struct inverse_offer *inverse_offers;
    struct io_status *io_statuses;
    /* agents deactivated or draining (agent_admin.c) */
    struct agent_drain *drains;

    /* the registry and what it recovered (master_registry.c) */
    struct registry *registry;
    struct ragent *recovered;    /* admitted agents not re-registered since the start */
    size_t nrecovered, nrecovered_at_start;
    struct unreachable *gone;    /* agents marked gone: refused with ShutdownMessage */
    size_t ngone;
    struct pending_reg *pending_regs;   /* (re-)registrations waiting for the registry */
    struct loop_timer reregister_timeout;
    uint64_t recovery_removals;
    int failed;                  /* the registry failed (or the removal limit was hit): exit 1 */

    /* operator SUBSCRIBE streams (events.c) */
    struct events *events;
};

/* Start a master on `l` with the parsed flags. Returns NULL with a message
 * in err (256 bytes) when it cannot listen. */
struct master *master_start(struct loop *l, struct flag *flags, size_t nflags,
                            const struct call *calls, size_t ncalls, char *err);
void master_stop(struct master *m);

/* Metrics as (name, value) pairs sorted by name. Caller frees *out. */
struct metric;
size_t master_metrics(struct master *m, struct metric **out);

/* agents.c: messages from agents arrive here; agents_free at shutdown. */
void agents_on_message(void *master, const struct upid *from, const char *name, const void *body, size_t n);
void agents_free(struct master *m);
/* Append an AgentInfo-shaped Response.GetAgents.Agent for each agent. */
void agents_encode_get_agents(struct master *m, struct buf *pb);
/* Append Response.GetTasks fields (tasks, unreachable_tasks, completed_tasks). */
void agents_encode_get_tasks(struct master *m, struct buf *pb);
/* The same without the running tasks (running 0), and those as JSON list
 * elements (GET_STATE in JSON writes them straight, agents.c). */
void agents_encode_tasks(struct master *m, struct buf *pb, int running);
int agents_running_tasks_json(struct master *m, struct buf *out, struct buf *part2, size_t *off2,
                              int (*before)(void *, struct buf *), void *arg);
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
/* Append one agent as GET_AGENTS has it (a Response.GetAgents.Agent as field 1). */
void agents_encode_agent(struct master *m, struct agent *a, struct buf *pb);
/* The framework is removed: its tasks become TASK_KILLED and completed at
 * once (upstream's removeFramework), with their TASK_UPDATED events. */
void agents_framework_removed(struct master *m, const char *framework_id);
/* Append Response.GetExecutors fields; and the whole GetState. */
void agents_encode_get_executors(struct master *m, struct buf *pb);
/* Number of active tasks in `state` (TaskState number). */
size_t agents_count_tasks(struct master *m, int state);

/* Remove a registered agent (agents.c): AGENT_UNREACHABLE keeps it as
 * unreachable with its tasks TASK_UNREACHABLE; AGENT_REMOVED_BY_OPERATOR
 * (machine down) and AGENT_GONE (marked gone; no AGENT_REMOVED event)
 * complete its tasks as TASK_GONE_BY_OPERATOR
 * (TASK_LOST if not partition-aware) with `message`. */
enum { AGENT_UNREGISTERED = 0, AGENT_UNREACHABLE = 1, AGENT_REMOVED_BY_OPERATOR = 2, AGENT_GONE = 3 };
void agents_remove(struct master *m, struct agent *a, int how, const char *message);
/* ShutdownMessage to an agent's pid. */
void agents_shutdown(struct master *m, const struct upid *to, const char *message);

/* agent_admin.c: deactivation, draining, gone agents; operator TEARDOWN. */
void agent_set_deactivated(struct master *m, const char *id, int on);
void agent_set_drain(struct master *m, const char *id, int state, const uint8_t *config, size_t n);
void agent_mark_gone(struct master *m, const char *id);
void agent_admin_restore(struct master *m, struct agent *a);        /* on (re-)registration */
void agent_admin_check_drained(struct master *m, struct agent *a);  /* after a task ended */
void agent_admin_encode_drain(struct master *m, struct agent *a, struct buf *pb);   /* Agent.drain_info */
void agent_admin_free(struct master *m);

/* quota.c: a role's quota (no entries: back to the default). */
void quota_set(struct master *m, const char *role, const struct quota_entry *g, size_t ng,
               const struct quota_entry *l, size_t nl);
void quota_free(struct master *m);

/* scheduler.c: the v1 scheduler API, frameworks, offers and the allocator. */
void sched_init(struct master *m);
void sched_free(struct master *m);
/* A status update from an agent, for the framework's stream. */
void sched_forward_update(struct master *m, const char *framework_id, const uint8_t *status, size_t n);
/* A task's agent is gone: TASK_UNREACHABLE (or TASK_LOST) to its framework.
 * Returns the state sent (TASK_UNREACHABLE when the framework is unknown). */
int sched_task_lost(struct master *m, const char *framework_id, const char *task_id, const char *agent_id);
/* A task's agent was removed by the operator: the update to its framework. */
void sched_task_removed(struct master *m, const char *framework_id, const char *task_id, const char *agent_id,
                        int state, int reason, const char *message);
/* Remove a framework (scheduler or operator TEARDOWN). */
void sched_teardown(struct master *m, struct framework *f);
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

/* Send an Event (protobuf bytes) on the framework's stream, if it has one. */
void sched_send_event(struct framework *f, const struct buf *ev);
/* Rescind an offer (RESCIND to its framework), refusing its agent to the
 * framework for refuse_secs. */
void sched_rescind_offer(struct master *m, struct offer *o, double refuse_secs);

/* operations.c: resource operations (RESERVE, UNRESERVE, CREATE, DESTROY,
 * GROW_VOLUME, SHRINK_VOLUME) from the operator API and from ACCEPT, their
 * status, and each agent's total resources. */
/* The agent's total resources (its static ones with its checkpointed
 * reservations and volumes applied), added to out (struct resources *). */
void agents_total(const struct agent *a, void *out);
/* Changes whenever agents_total's answer may change (the allocator's cache). */
unsigned agents_total_gen(const struct agent *a);
/* (Re)registration: the message's checkpointed resources, resource
 * version and capabilities (RegisterSlaveMessage, or Reregister when re). */
void ops_agent_registered(struct master *m, struct agent *a, const uint8_t *msg, size_t n, int re);
void ops_agent_removed(struct master *m, struct agent *a);
/* Messages from agents about operations: 1 if handled. */
int ops_on_message(struct master *m, const struct upid *from, const char *name, const uint8_t *p, size_t n);
/* A non-LAUNCH offer operation of an ACCEPT: validated against the offers'
 * remaining resources `pool` (struct resources *), which it converts, and
 * applied. `invalid` is why the offers are invalid, or NULL. */
void ops_accept(struct master *m, struct framework *f, struct agent *a, const char *invalid,
                const uint8_t *op, size_t n, void *pool);
/* The resource format of the framework's offers (RESOURCES_STORED, or the
 * pre-refinement one for frameworks without RESERVATION_REFINEMENT). */
int ops_offer_format(const struct framework *f);
/* ACKNOWLEDGE_OPERATION_STATUS and RECONCILE_OPERATIONS (after 202). */
void ops_acknowledge(struct master *m, struct framework *f, const uint8_t *call, size_t n);
void ops_reconcile(struct master *m, struct framework *f, const uint8_t *call, size_t n);

/* sched_calls.c: MESSAGE, SHUTDOWN, REQUEST, ACKNOWLEDGE_OPERATION_STATUS
 * and RECONCILE_OPERATIONS. Validation first (0, or -1 once it answered
 * the error: 400, or 406 for RECONCILE_OPERATIONS' Accept), then the call
 * itself once the framework is known. */
int sched_calls_validate(struct api_ctx *c, const uint8_t *call, size_t n);
int sched_calls_handles(int type);
void sched_calls_handle(struct api_ctx *c, struct framework *f, const uint8_t *call, size_t n);
/* ExecutorToFrameworkMessage from an agent: 1 if handled. */
int sched_calls_on_message(struct master *m, const struct upid *from, const char *name, const uint8_t *p, size_t n);

/* master_files.c: the master's files (/master/log). */
void op_list_files(struct api_ctx *c);
void op_read_file(struct api_ctx *c);

/* Operator calls of operations.c. */
void op_get_operations(struct api_ctx *c);
void op_reserve_resources(struct api_ctx *c);
void op_unreserve_resources(struct api_ctx *c);
void op_create_volumes(struct api_ctx *c);
void op_destroy_volumes(struct api_ctx *c);
void op_grow_volume(struct api_ctx *c);
void op_shrink_volume(struct api_ctx *c);

/* master_registry.c: the registry under --work_dir, recovery, and the
 * write path of every handler that changes durable state: call
 * master_registry_apply (registry.h kinds) and answer the client from the
 * callback, which runs once the change is durable (status 0) or the
 * registry failed (status < 0: call master_registry_failed and answer 503
 * or nothing). A refusal (< 0 returned) is logged; nothing was changed. */
int master_registry_open(struct master *m, char *err);      /* before listening; -1 with err (256) */
void master_registry_recover(struct master *m);             /* weights, agents, the re-register timer */
void master_registry_close(struct master *m);
int master_registry_apply(struct master *m, int kind, const char *key, const void *val, size_t len,
                          void (*cb)(void *arg, int status), void *arg);
int master_registry_apply_txn(struct master *m, const struct registry_op *ops, size_t n,
                              void (*cb)(void *arg, int status), void *arg);
void master_registry_failed(struct master *m, int status);
struct ragent *master_recovered_find(struct master *m, const char *id, size_t n);
void master_recovered_remove(struct master *m, struct ragent *r);
int master_is_gone(struct master *m, const char *id, size_t n);
void master_unreachable_add(struct master *m, const char *id, double time);
void master_unreachable_remove(struct master *m, const char *id, size_t n);
void master_unreachable_free(struct master *m);
struct unreachable *master_id_find(const struct ptrset *x, const char *id, size_t n);
void master_gone_add(struct master *m, const char *id, double time);   /* after MARK_GONE is durable */
void master_encode_recovered(struct master *m, struct buf *pb, uint32_t tag);
void master_time_info(struct buf *b, double secs);          /* TimeInfo bytes */

/* events.c: the operator event stream (SUBSCRIBE). One function per event,
 * called where the state changes; each does nothing while nobody listens. */
void events_init(struct master *m);
void events_free(struct master *m);
size_t events_subscribers(struct master *m);
void op_subscribe(struct api_ctx *c);
void events_task_added(struct master *m, const struct mtask *t);
/* Call before the status is added to t's statuses: it is compared with the
 * last one held. status: TaskStatus bytes; state: the task's state after it. */
void events_task_updated(struct master *m, const struct mtask *t, const uint8_t *status, size_t n, int state);
/* The TaskStatus the master writes itself (SOURCE_MASTER, no uuid), appended
 * to st; reason -1 and message NULL leave them out, unreachable_time 0 too. */
void events_master_status(struct buf *st, const struct mtask *t, const char *agent_id, int state, int reason,
                          const char *message, double unreachable_time);
void events_agent_added(struct master *m, struct agent *a);
void events_agent_removed(struct master *m, const char *agent_id);
void events_framework_added(struct master *m, const struct framework *f);
void events_framework_updated(struct master *m, const struct framework *f);
void events_framework_removed(struct master *m, const struct framework *f);

/* The whole Response.GetState (operator.c): one consistent snapshot. */
void master_encode_state(struct master *m, struct buf *pb);

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
/* quota.c */
void op_get_roles(struct api_ctx *c);
void op_get_quota(struct api_ctx *c);
void op_update_quota(struct api_ctx *c);
void op_set_quota(struct api_ctx *c);
void op_remove_quota(struct api_ctx *c);
/* agent_ops.c */
void op_drain_agent(struct api_ctx *c);
void op_deactivate_agent(struct api_ctx *c);
void op_reactivate_agent(struct api_ctx *c);
void op_mark_agent_gone(struct api_ctx *c);
void op_teardown(struct api_ctx *c);

/* Build facts (version.c). */
extern const char *build_version, *build_date, *build_user, *build_git_sha;
extern double build_time;

#endif
