/* agent.h -- a Mesos agent: it registers with a master over the libprocess
 * wire and keeps that registration alive. Like the master, it owns its HTTP
 * server and runs on the caller's loop, so `mesos_api local` can run a
 * master and several agents in one process. */
#ifndef AGENT_H
#define AGENT_H
#include <stddef.h>
#include <stdint.h>
#include "api.h"
#include "buf.h"
#include "flags.h"
#include "loop.h"
#include "server.h"
#include "wire.h"

enum agent_state { AGENT_DISCONNECTED, AGENT_REGISTERING, AGENT_REGISTERED };

struct aexec;
struct exec_index;
struct agent_res;
struct containers;
struct resources;
struct agent_history;
struct agent_proc;

/* Called once the agent has shut down on the master's ShutdownMessage and
 * its executors are gone (agent_shutdown.c): the owner stops it with
 * agent_stop (from the callback is fine) and the process exits 0, as
 * upstream's agent does. */
typedef void (*agent_exit_fn)(struct agent_proc *a, void *arg);

struct agent_proc {
    struct loop *loop;
    struct agent_proc *sibling;  /* mesos_api local: the next agent of this process, a ring */
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
    struct exec_index *exec_index; /* agent_exec.c: executors and tasks by id */
    struct agent_res *res;       /* checkpointed resources, operations (agent_ops.c) */
    struct loop_timer reaper;    /* collects exited executors */
    uint64_t executor_heartbeat_ms;  /* HEARTBEAT events to executors */
    uint64_t task_counters[16];  /* terminal transitions by TaskState (metrics) */
    uint64_t executors_terminated, valid_status_updates, container_launch_errors,
             recovery_errors, valid_framework_messages,
             invalid_framework_messages;     /* counters of GET_METRICS */
    struct agent_history *history;   /* completed tasks, executors, frameworks */
    uint64_t max_completed_executors;    /* --max_completed_executors_per_framework */

    /* ShutdownMessage (agent_shutdown.c) */
    int shutting_down;
    struct loop_timer shutdown_exit; /* runs on_exit */
    uint64_t shutdown_grace_ms;      /* --executor_shutdown_grace_period */
    agent_exit_fn on_exit;
    void *on_exit_arg;

    /* the operator API (agent_api.c, agent_files.c, containers.c) */
    struct api api;
    struct loop_timer log_revert;
    unsigned log_revert_to;
    uint64_t http_heartbeat_ms;  /* --http_heartbeat_interval: ProcessIO heartbeats */
    int switch_user;             /* --switch_user */
    struct containers *containers;
};

/* What the operator API sees of an executor (agent_exec.c). */
enum exec_state { EXEC_REGISTERING, EXEC_RUNNING, EXEC_TERMINATING, EXEC_TERMINATED };
struct exec_view {
    const char *framework_id, *executor_id, *container_id, *sandbox;
    int pid;                     /* 0 when not running */
    int state;                   /* enum exec_state, as upstream's Executor::State */
    const uint8_t *executor_info; size_t executor_info_len;
    const uint8_t *framework_info; size_t framework_info_len;
};
/* Visit every executor; fn returns 1 to stop. */
typedef int (*exec_visit_fn)(void *arg, const struct exec_view *v);
void agent_exec_foreach(struct agent_proc *a, exec_visit_fn fn, void *arg);
/* Append Response.GetTasks fields (queued, launched, terminated tasks). */
void agent_exec_encode_get_tasks(struct agent_proc *a, struct buf *pb);
/* Add active tasks to counts[TaskState]; their resources (and their
 * executors') to *used when not NULL. */
void agent_exec_task_stats(struct agent_proc *a, uint64_t counts[16], struct resources *used);

/* agent_api.c: the operator API's handlers (call table in mesos_api.c). */
void agent_api_init(struct agent_proc *a, const struct call *calls, size_t ncalls);
void agent_api_free(struct agent_proc *a);
void agent_op_get_health(struct api_ctx *c);
void agent_op_get_flags(struct api_ctx *c);
void agent_op_get_version(struct api_ctx *c);
void agent_op_get_metrics(struct api_ctx *c);
void agent_op_get_logging_level(struct api_ctx *c);
void agent_op_set_logging_level(struct api_ctx *c);
void agent_op_get_state(struct api_ctx *c);
void agent_op_get_containers(struct api_ctx *c);
void agent_op_get_frameworks(struct api_ctx *c);
void agent_op_get_executors(struct api_ctx *c);
void agent_op_get_operations(struct api_ctx *c);
void agent_op_get_tasks(struct api_ctx *c);
void agent_op_get_agent(struct api_ctx *c);
void agent_op_get_resource_providers(struct api_ctx *c);
void agent_op_add_resource_provider_config(struct api_ctx *c);
void agent_op_update_resource_provider_config(struct api_ctx *c);
void agent_op_remove_resource_provider_config(struct api_ctx *c);
void agent_op_mark_resource_provider_gone(struct api_ctx *c);
void agent_op_prune_images(struct api_ctx *c);
/* agent_files.c */
void agent_op_list_files(struct api_ctx *c);
void agent_op_read_file(struct api_ctx *c);
/* containers.c: standalone and nested containers, sessions, attach. */
void agent_op_launch_container(struct api_ctx *c);       /* also LAUNCH_NESTED_CONTAINER */
void agent_op_wait_container(struct api_ctx *c);         /* also WAIT_NESTED_CONTAINER */
void agent_op_kill_container(struct api_ctx *c);         /* also KILL_NESTED_CONTAINER */
void agent_op_remove_container(struct api_ctx *c);       /* also REMOVE_NESTED_CONTAINER */
void agent_op_launch_nested_container_session(struct api_ctx *c);
void agent_op_attach_container_input(struct api_ctx *c);
void agent_op_attach_container_output(struct api_ctx *c);
void containers_init(struct agent_proc *a);
void containers_free(struct agent_proc *a);
/* After a restart: adopt the checkpointed containers. */
void containers_recover(struct agent_proc *a);
/* Destroy nested containers whose executor is gone (the reaper's tick). */
void containers_tick(struct agent_proc *a);
/* A child the agent reaped that is not an executor. */
int containers_reaped(struct agent_proc *a, int pid, int status);   /* 1: one of a's containers */
/* mesos_api local: agents share one process, so one may reap another's
 * child; each passes on what is not its own (agent_exec.c). */
void agent_siblings(struct agent_proc **agents, size_t n);
/* Append Response.GetContainers.Container entries of the containers the
 * operator API launched (nested ones when show_nested, standalone roots
 * when show_standalone). */
void containers_encode(struct agent_proc *a, int show_nested, int show_standalone, struct buf *pb);
/* Signal every process of session `sid` (only those working under
 * `within` when not NULL); returns how many. */
int containers_kill_session(int sid, int sig, const char *within);
/* The same for several sessions in one pass over /proc (sids is sorted). */
int containers_kill_sessions(int *sids, size_t n, int sig);
/* ResourceStatistics of the processes in session `sid`, as field `tag`. */
void containers_encode_stats(int sid, uint32_t tag, struct buf *pb);
/* The sandbox of a container the operator API launched (nested), for the
 * files namespace; NULL if none. */
const char *containers_sandbox(struct agent_proc *a, const char *dotted_id);

/* An executor's process ended (status is its wait(2) status when known):
 * WAIT_CONTAINER calls on its container are answered (containers.c). */
void containers_executor_exited(struct agent_proc *a, const char *container_id, int status, int known);

/* agent_history.c: what upstream's agent keeps of finished work, in
 * memory and bounded as upstream bounds it: per executor run the last 200
 * completed tasks (MAX_COMPLETED_TASKS_PER_EXECUTOR), per framework the
 * last --max_completed_executors_per_framework completed executors, and
 * the last 50 completed frameworks (MAX_COMPLETED_FRAMEWORKS). */
void agent_history_init(struct agent_proc *a);
void agent_history_free(struct agent_proc *a);
/* A task whose terminal update was acknowledged (`task`: its v1 Task). */
void agent_history_task(struct agent_proc *a, const struct exec_view *v, const uint8_t *task, size_t n);
/* An executor finished for good, already out of the live list; its
 * framework completes with it when it has no other executor. */
void agent_history_executor(struct agent_proc *a, const struct exec_view *v);
/* Append Response.GetTasks.completed_tasks, GetExecutors.completed_executors,
 * GetFrameworks.completed_frameworks. */
void agent_history_encode_tasks(struct agent_proc *a, struct buf *pb);
void agent_history_encode_executors(struct agent_proc *a, struct buf *pb);
void agent_history_encode_frameworks(struct agent_proc *a, struct buf *pb);

/* agent_shutdown.c: ShutdownMessage from the master. As upstream's agent:
 * every executor is shut down (SHUTDOWN, then SIGKILL after its grace
 * period), their pending status updates are dropped, and once they are
 * gone the agent exits (on_exit). */
void agent_shutdown_message(struct agent_proc *a, const struct upid *from, const uint8_t *p, size_t n);
void agent_shutdown_tick(struct agent_proc *a);          /* the reaper's tick */
void agent_on_exit(struct agent_proc *a, agent_exit_fn fn, void *arg);
void agent_shutdown_free(struct agent_proc *a);

/* agent_exec.c: executors, tasks and status updates. */
int agent_exec_message(struct agent_proc *a, const char *name, const uint8_t *p, size_t n);  /* 1 if handled */
void agent_exec_resend(struct agent_proc *a);
void agent_exec_reap(struct agent_proc *a);
void agent_exec_free_all(struct agent_proc *a);
void agent_executor_api(struct request *r, void *arg);   /* POST /api/v1/executor */
void agent_exec_recover(struct agent_proc *a);           /* after a restart */
void agent_exec_encode_reregister(struct agent_proc *a, struct buf *msg);
/* Shut every executor down (SHUTDOWN event, SIGTERM before it subscribed;
 * SIGKILL after its grace period) and drop pending status updates; none
 * are made from here on. */
void agent_exec_shutdown_all(struct agent_proc *a);
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
/* Append Response.GetOperations.operations (tag 1) for the agent's GET_OPERATIONS. */
void agent_ops_encode_operations(struct agent_proc *a, struct buf *pb);
/* Persistent volumes in a task's resources (TaskInfo bytes) appear in the
 * sandbox at their container path (a symbolic link). */
void agent_ops_link_volumes(struct agent_proc *a, const char *sandbox, const uint8_t *task, size_t n);
/* agent.c: crash-safe whole-file write (temp file, fsync, rename, dir fsync). */
int agent_write_atomic(const char *dir, const char *name, const char *data, size_t n);
int agent_fsync_dir(const char *dir);   /* 0 or -errno */
/* agent.c: mkdir -p; 0 or -errno. */
int agent_mkdirs(const char *path);

/* Start an agent with parsed flags. Returns NULL with a message in err (512
 * bytes). `index` distinguishes agents of `mesos_api local` (0 for one). */
struct agent_proc *agent_start(struct loop *l, struct flag *flags, size_t nflags,
                               const struct call *calls, size_t ncalls, char *err);
void agent_stop(struct agent_proc *a);

/* The default --resources when none is given: cpus from the CPU count, mem
 * as upstream (total minus 1 GiB, or half when that is less than 1 GiB),
 * disk from the work_dir's file system likewise, ports 31000-32000. */
void agent_default_resources(const char *work_dir, char *out, size_t n);

#endif
