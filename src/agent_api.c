/* agent_api.c -- the agent's v1 Operator API (POST /api/v1 on the agent,
 * mesos.v1.agent.Call / Response): its registration, call validation,
 * and the introspection handlers, one function per call (GET_STATE is
 * agent_op_get_state). Files are in agent_files.c, containers and sessions
 * in containers.c; the call table is in mesos_api.c.
 *
 * The transport (check order, recordio streams, Message-* headers) is
 * api.c's agent mode; validation here follows upstream's
 * src/slave/validation.cpp, texts included. Resource providers and image
 * pruning answer as an upstream agent does when those features are not
 * configured (src/slave/http.cpp, src/resource_provider/daemon.cpp). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "agent.h"
#include "log.h"
#include "master.h"
#include "metrics.h"
#include "pbdesc.h"
#include "pbjson.h"
#include "pbw.h"
#include "resources.h"
#include "util.h"

/* Call.Type and Response.Type numbers of agent.proto. */
enum {
    C_GET_METRICS = 4, C_SET_LOGGING_LEVEL = 6, C_LIST_FILES = 7, C_READ_FILE = 8,
    C_LAUNCH_NESTED_CONTAINER = 14, C_WAIT_NESTED_CONTAINER = 15, C_KILL_NESTED_CONTAINER = 16,
    C_LAUNCH_NESTED_CONTAINER_SESSION = 17, C_ATTACH_CONTAINER_INPUT = 18,
    C_ATTACH_CONTAINER_OUTPUT = 19, C_REMOVE_NESTED_CONTAINER = 21, C_LAUNCH_CONTAINER = 22,
    C_WAIT_CONTAINER = 23, C_KILL_CONTAINER = 24, C_REMOVE_CONTAINER = 25,
    C_ADD_RESOURCE_PROVIDER_CONFIG = 27, C_UPDATE_RESOURCE_PROVIDER_CONFIG = 28,
    C_REMOVE_RESOURCE_PROVIDER_CONFIG = 29, C_MARK_RESOURCE_PROVIDER_GONE = 32,
};
enum {
    R_GET_HEALTH = 1, R_GET_FLAGS = 2, R_GET_VERSION = 3, R_GET_METRICS = 4, R_GET_LOGGING_LEVEL = 5,
    R_GET_STATE = 8, R_GET_CONTAINERS = 9, R_GET_FRAMEWORKS = 10, R_GET_EXECUTORS = 11,
    R_GET_TASKS = 12, R_GET_AGENT = 14, R_GET_RESOURCE_PROVIDERS = 16, R_GET_OPERATIONS = 17,
};

/* ==== Validation (src/slave/validation.cpp) ============================= */

#define MAX_CONTAINER_ID_LENGTH 242

/* common::validation::validateID, then the ContainerID rules. */
static int validate_container_id(const uint8_t *p, size_t n, struct buf *err, int depth)
{
    struct pbw_field v, parent;
    char id[512];
    size_t len = 0;
    if (pbw_find(p, n, 1, &v) == 1 && v.wt == PBW_LEN) len = v.n;
    snprintf(id, sizeof id, "%.*s", (int)(len < 300 ? len : 300), len ? (const char *)v.p : "");
    if (len == 0) { buf_puts(err, "ID must not be empty"); return -1; }
    if (len > NAME_MAX) { buf_printf(err, "ID must not be greater than %d characters", NAME_MAX); return -1; }
    if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0) { buf_printf(err, "'%s' is disallowed", id); return -1; }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = v.p[i];
        if (ch < 0x20 || ch == 0x7f || ch == '/' || ch == '\\') {
            buf_printf(err, "'%s' contains invalid characters", id);
            return -1;
        }
    }
    if (len > MAX_CONTAINER_ID_LENGTH) {
        buf_printf(err, "'ContainerID.value' '%s' exceeds the maximum length (%d)", id, MAX_CONTAINER_ID_LENGTH);
        return -1;
    }
    if (memchr(v.p, '.', len) || memchr(v.p, ' ', len)) {
        buf_printf(err, "'ContainerID.value' '%s' contains invalid characters", id);
        return -1;
    }
    if (pbw_find(p, n, 2, &parent) == 1 && parent.wt == PBW_LEN) {
        if (depth > 32) { buf_puts(err, "'ContainerID.parent' is nested too deeply"); return -1; }
        struct buf sub = { .max = 2048 };
        int rc = validate_container_id(parent.p, parent.n, &sub, depth + 1);
        if (rc < 0) buf_printf(err, "'ContainerID.parent' is invalid: %.*s", (int)sub.len, sub.data);
        buf_free(&sub);
        if (rc < 0) return -1;
    }
    return 0;
}

/* The call's container_id (tag) checked, and its parent required when
 * `need_parent`. `what` is the call's field name. */
static int check_container(struct api_ctx *c, const char *what, uint32_t tag, int need_parent, struct buf *err)
{
    struct pbw_field id, parent;
    if (pbw_find(c->sub, c->sub_len, tag, &id) != 1 || id.wt != PBW_LEN) {
        buf_printf(err, "Expecting '%s.container_id' to be present", what);
        return -1;
    }
    struct buf sub = { .max = 2048 };
    if (validate_container_id(id.p, id.n, &sub, 0) < 0) {
        buf_printf(err, "'%s.container_id' is invalid: %.*s", what, (int)sub.len, sub.data);
        buf_free(&sub);
        return -1;
    }
    buf_free(&sub);
    if (need_parent && (pbw_find(id.p, id.n, 2, &parent) != 1 || parent.wt != PBW_LEN)) {
        buf_printf(err, "Expecting '%s.container_id.parent' to be present", what);
        return -1;
    }
    return 0;
}

static int agent_validate(struct api_ctx *c, struct buf *err)
{
    static const struct { int type; const char *field; } need[] = {
        { C_GET_METRICS, "get_metrics" }, { C_SET_LOGGING_LEVEL, "set_logging_level" },
        { C_LIST_FILES, "list_files" }, { C_READ_FILE, "read_file" },
        { C_LAUNCH_NESTED_CONTAINER, "launch_nested_container" },
        { C_WAIT_NESTED_CONTAINER, "wait_nested_container" },
        { C_KILL_NESTED_CONTAINER, "kill_nested_container" },
        { C_REMOVE_NESTED_CONTAINER, "remove_nested_container" },
        { C_LAUNCH_NESTED_CONTAINER_SESSION, "launch_nested_container_session" },
        { C_ATTACH_CONTAINER_INPUT, "attach_container_input" },
        { C_ATTACH_CONTAINER_OUTPUT, "attach_container_output" },
        { C_LAUNCH_CONTAINER, "launch_container" }, { C_WAIT_CONTAINER, "wait_container" },
        { C_KILL_CONTAINER, "kill_container" }, { C_REMOVE_CONTAINER, "remove_container" },
        { C_ADD_RESOURCE_PROVIDER_CONFIG, "add_resource_provider_config" },
        { C_UPDATE_RESOURCE_PROVIDER_CONFIG, "update_resource_provider_config" },
        { C_REMOVE_RESOURCE_PROVIDER_CONFIG, "remove_resource_provider_config" },
        { C_MARK_RESOURCE_PROVIDER_GONE, "mark_resource_provider_gone" },
    };
    const char *what = NULL;
    for (size_t i = 0; i < sizeof need / sizeof *need; i++)
        if (need[i].type == c->type) what = need[i].field;
    if (!what) return 0;                      /* nothing to check (GET_CONTAINERS, PRUNE_IMAGES, ...) */
    if (!c->sub) {
        buf_printf(err, "Expecting '%s' to be present", what);
        return -1;
    }
    struct pbw_field f, info;
    switch (c->type) {
    case C_LAUNCH_NESTED_CONTAINER:
    case C_WAIT_NESTED_CONTAINER:
    case C_KILL_NESTED_CONTAINER:
    case C_REMOVE_NESTED_CONTAINER:
    case C_LAUNCH_NESTED_CONTAINER_SESSION:
        return check_container(c, what, 1, 1, err);
    case C_ATTACH_CONTAINER_OUTPUT:
    case C_LAUNCH_CONTAINER:
    case C_WAIT_CONTAINER:
    case C_KILL_CONTAINER:
    case C_REMOVE_CONTAINER:
        return check_container(c, what, 1, 0, err);
    case C_ATTACH_CONTAINER_INPUT:
        if (pbw_find(c->sub, c->sub_len, 1, &f) != 1 || f.wt != PBW_VARINT) {
            buf_puts(err, "Expecting 'attach_container_input.type' to be present");
            return -1;
        }
        if (f.v == 0 || f.v > 2) {
            buf_puts(err, "'attach_container_input.type' is unknown");
            return -1;
        }
        if (f.v == 1) return check_container(c, what, 2, 0, err);   /* CONTAINER_ID */
        return 0;
    case C_ADD_RESOURCE_PROVIDER_CONFIG:
    case C_UPDATE_RESOURCE_PROVIDER_CONFIG:
        if (pbw_find(c->sub, c->sub_len, 1, &info) == 1 && info.wt == PBW_LEN &&
            pbw_find(info.p, info.n, 1, &f) == 1) {
            buf_printf(err, "Expecting '%s.info.id' to be unset", what);
            return -1;
        }
        return 0;
    default:
        return 0;
    }
}

/* ==== Registration ====================================================== */

static void log_revert_cb(struct loop *l, struct loop_timer *t)
{
    (void)l;
    struct agent_proc *a = container_of(t, struct agent_proc, log_revert);
    log_verbose = a->log_revert_to;
    LOG("Logging level reverted to %u", log_verbose);
}

void agent_api_init(struct agent_proc *a, const struct call *calls, size_t ncalls)
{
    a->api = (struct api){
        .what = "Call", .validate_what = "agent::Call",
        .call_msg = PBD_M_mesos_v1_agent_Call, .call_type_enum = PBD_E_mesos_v1_agent_Call_Type,
        .response_msg = PBD_M_mesos_v1_agent_Response, .event_msg = PBD_M_mesos_v1_agent_ProcessIO,
        .calls = calls, .ncalls = ncalls, .state = a, .agent = 1, .validate = agent_validate,
        .stream_out_types = { C_LAUNCH_NESTED_CONTAINER_SESSION, C_ATTACH_CONTAINER_OUTPUT },
        .stream_in_type = C_ATTACH_CONTAINER_INPUT,
    };
    loop_timer_init(&a->log_revert, log_revert_cb);
    containers_init(a);
    server_route_stream(a->http, "/api/v1", api_handle, &a->api, api_wants_stream);
}

void agent_api_free(struct agent_proc *a)
{
    loop_timer_stop(a->loop, &a->log_revert);
    containers_free(a);
}

/* ==== Introspection ===================================================== */

/* A Response of `type` whose sub-message `tag` is filled by `fill`. */
static void respond_with(struct api_ctx *c, int type, uint32_t tag, void (*fill)(struct agent_proc *, struct buf *))
{
    struct buf pb = {0};
    pbw_put_uint(&pb, 1, (uint64_t)type);
    size_t k = pbw_begin(&pb, tag);
    if (fill) fill(c->state, &pb);
    pbw_end(&pb, k);
    api_respond(c, &pb);
}

static void fill_health(struct agent_proc *a, struct buf *pb)
{
    (void)a;
    pbw_put_uint(pb, 1, 1);            /* a slow answer is itself the signal */
}

void agent_op_get_health(struct api_ctx *c) { respond_with(c, R_GET_HEALTH, 2, fill_health); }

static int cmp_flag(const void *x, const void *y)
{
    return strcmp((*(const struct flag * const *)x)->used_name, (*(const struct flag * const *)y)->used_name);
}

static void fill_flags(struct agent_proc *a, struct buf *pb)
{
    const struct flag **v = xcalloc(a->nflags + 1, sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < a->nflags; i++)
        if (a->flags[i].present) v[n++] = &a->flags[i];
    qsort(v, n, sizeof *v, cmp_flag);
    for (size_t i = 0; i < n; i++) {
        char val[4096];
        flags_format(v[i], val, sizeof val);
        size_t k = pbw_begin(pb, 1);
        pbw_put_str(pb, 1, v[i]->used_name);
        pbw_put_str(pb, 2, val);
        pbw_end(pb, k);
    }
    free(v);
}

void agent_op_get_flags(struct api_ctx *c) { respond_with(c, R_GET_FLAGS, 3, fill_flags); }

static void fill_version(struct agent_proc *a, struct buf *pb)
{
    (void)a;
    size_t k = pbw_begin(pb, 1);
    pbw_put_str(pb, 1, build_version);
    pbw_put_str(pb, 2, build_date);
    pbw_put_double(pb, 3, build_time);
    pbw_put_str(pb, 4, build_user);
    if (build_git_sha[0]) pbw_put_str(pb, 5, build_git_sha);
    pbw_end(pb, k);
}

void agent_op_get_version(struct api_ctx *c) { respond_with(c, R_GET_VERSION, 4, fill_version); }

/* ---- metrics: upstream's src/slave/metrics.cpp names ---- */

struct seen { char (*ids)[256]; size_t n, cap; };

static int seen_add(struct seen *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->ids[i], id) == 0) return 0;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->ids = xrealloc(s->ids, s->cap * sizeof *s->ids);
    }
    snprintf(s->ids[s->n++], sizeof *s->ids, "%s", id);
    return 1;
}

/* Executors by upstream's Executor::State; frameworks with an executor
 * (upstream's `frameworks`: a framework goes once it has none). */
struct exec_count { size_t states[4]; struct seen frameworks; };

static int count_exec(void *arg, const struct exec_view *v)
{
    struct exec_count *ec = arg;
    if (v->state >= 0 && v->state < 4) ec->states[v->state]++;
    seen_add(&ec->frameworks, v->framework_id);
    return 0;
}

static size_t agent_metrics(struct agent_proc *a, struct metric **out)
{
    struct mlist l = {0};
    metrics_put(&l, "slave/uptime_secs", now_secs() - a->start_time);
    metrics_put(&l, "slave/registered", a->state == AGENT_REGISTERED);
    metrics_put(&l, "slave/recovery_errors", (double)a->recovery_errors);
    uint64_t counts[16] = {0};
    struct resources used = {0}, total = {0};
    agent_exec_task_stats(a, counts, &used);
    struct exec_count ec;
    memset(&ec, 0, sizeof ec);
    agent_exec_foreach(a, count_exec, &ec);
    metrics_put(&l, "slave/frameworks_active", (double)ec.frameworks.n);
    free(ec.frameworks.ids);
    static const struct { const char *name; int state; } gauges[] = {
        { "slave/tasks_staging", 6 }, { "slave/tasks_starting", 0 }, { "slave/tasks_running", 1 },
        { "slave/tasks_killing", 8 },
    }, counters[] = {
        { "slave/tasks_finished", 2 }, { "slave/tasks_failed", 3 }, { "slave/tasks_killed", 4 },
        { "slave/tasks_lost", 5 }, { "slave/tasks_gone", 11 },
    };
    for (size_t i = 0; i < sizeof gauges / sizeof *gauges; i++) metrics_put(&l, gauges[i].name, (double)counts[gauges[i].state]);
    for (size_t i = 0; i < sizeof counters / sizeof *counters; i++)
        metrics_put(&l, counters[i].name, (double)a->task_counters[counters[i].state]);
    metrics_put(&l, "slave/executors_registering", (double)ec.states[EXEC_REGISTERING]);
    metrics_put(&l, "slave/executors_running", (double)ec.states[EXEC_RUNNING]);
    metrics_put(&l, "slave/executors_terminating", (double)ec.states[EXEC_TERMINATING]);
    metrics_put(&l, "slave/executors_terminated", (double)a->executors_terminated);
    metrics_put(&l, "slave/executors_preempted", 0);      /* no QoS controller, nothing is preempted */
    metrics_put(&l, "slave/valid_status_updates", (double)a->valid_status_updates);
    metrics_put(&l, "slave/invalid_status_updates", 0);
    metrics_put(&l, "slave/valid_framework_messages", (double)a->valid_framework_messages);
    metrics_put(&l, "slave/invalid_framework_messages", (double)a->invalid_framework_messages);
    metrics_put(&l, "slave/container_launch_errors", (double)a->container_launch_errors);
    struct buf err = { .max = 1024 };
    resources_decode_field(a->info.data, a->info.len, 3, &total, &err);
    buf_free(&err);
    static const char *const kinds[] = { "cpus", "gpus", "mem", "disk" };
    for (size_t i = 0; i < 4; i++) {
        char name[64];
        double tot = (double)resources_scalar(&total, kinds[i]) / 1000;
        double use = (double)resources_scalar(&used, kinds[i]) / 1000;
        snprintf(name, sizeof name, "slave/%s_total", kinds[i]);
        metrics_put(&l, name, tot);
        snprintf(name, sizeof name, "slave/%s_used", kinds[i]);
        metrics_put(&l, name, use);
        snprintf(name, sizeof name, "slave/%s_percent", kinds[i]);
        metrics_put(&l, name, tot > 0 ? use / tot : 0);
        snprintf(name, sizeof name, "slave/%s_revocable_total", kinds[i]);
        metrics_put(&l, name, 0);
        snprintf(name, sizeof name, "slave/%s_revocable_used", kinds[i]);
        metrics_put(&l, name, 0);
        snprintf(name, sizeof name, "slave/%s_revocable_percent", kinds[i]);
        metrics_put(&l, name, 0);
    }
    resources_free(&total);
    resources_free(&used);
    metrics_put_system(&l);
    return metrics_finish(&l, out);
}

void agent_op_get_metrics(struct api_ctx *c)
{
    struct pbw_field t, ns;
    /* A negative timeout is invalid, as in upstream's Duration parsing;
     * every metric here is ready at once, so any other timeout is met. */
    if (pbw_find(c->sub, c->sub_len, 1, &t) == 1 && t.wt == PBW_LEN &&
        pbw_find(t.p, t.n, 1, &ns) == 1 && (int64_t)ns.v < 0) {
        api_error(c, 400, "Failed to validate agent::Call: Expecting 'get_metrics.timeout' to be non-negative");
        return;
    }
    struct metric *v;
    size_t n = agent_metrics(c->state, &v);
    struct buf pb = {0};
    metrics_encode_response(&pb, R_GET_METRICS, v, n);
    free(v);
    api_respond(c, &pb);
}

static void fill_logging_level(struct agent_proc *a, struct buf *pb)
{
    (void)a;
    pbw_put_uint(pb, 1, log_verbose);
}

void agent_op_get_logging_level(struct api_ctx *c) { respond_with(c, R_GET_LOGGING_LEVEL, 6, fill_logging_level); }

void agent_op_set_logging_level(struct api_ctx *c)
{
    struct agent_proc *a = c->state;
    struct pbw_field lv, d, ns;
    uint64_t level = 0;
    int64_t nanos = 0;
    if (pbw_find(c->sub, c->sub_len, 1, &lv) == 1) level = lv.v;
    if (pbw_find(c->sub, c->sub_len, 2, &d) == 1 && d.wt == PBW_LEN && pbw_find(d.p, d.n, 1, &ns) == 1)
        nanos = (int64_t)ns.v;
    /* As upstream's glog helper: revert to the level in force before the
     * first of overlapping calls, after the latest duration. */
    if (!loop_timer_active(&a->log_revert)) a->log_revert_to = log_verbose;
    log_verbose = (unsigned)level;
    uint64_t ms = nanos <= 0 ? 0 : (uint64_t)(nanos / 1000000);
    loop_timer_start(a->loop, &a->log_revert, ms);
    LOG("Set logging level to %u for %llu ms", log_verbose, (unsigned long long)ms);
    api_empty(c, 200);
}

/* ---- state ---- */

struct fw_fill { struct buf *pb; struct seen seen; };

static int put_framework(void *arg, const struct exec_view *v)
{
    struct fw_fill *f = arg;
    if (!seen_add(&f->seen, v->framework_id)) return 0;
    size_t k = pbw_begin(f->pb, 1);
    pbw_put_bytes(f->pb, 1, v->framework_info, v->framework_info_len);
    pbw_end(f->pb, k);
    return 0;
}

static void fill_frameworks(struct agent_proc *a, struct buf *pb)
{
    struct fw_fill f = { .pb = pb };
    agent_exec_foreach(a, put_framework, &f);
    free(f.seen.ids);
    agent_history_encode_frameworks(a, pb);
}

static int put_executor(void *arg, const struct exec_view *v)
{
    struct buf *pb = arg;
    size_t k = pbw_begin(pb, 1);
    pbw_put_bytes(pb, 1, v->executor_info, v->executor_info_len);
    pbw_end(pb, k);
    return 0;
}

static void fill_executors(struct agent_proc *a, struct buf *pb)
{
    agent_exec_foreach(a, put_executor, pb);
    agent_history_encode_executors(a, pb);
}

static void fill_tasks(struct agent_proc *a, struct buf *pb)
{
    agent_exec_encode_get_tasks(a, pb);
    agent_history_encode_tasks(a, pb);
}

static void fill_state(struct agent_proc *a, struct buf *pb)
{
    size_t k = pbw_begin(pb, 1);
    fill_tasks(a, pb);
    pbw_end(pb, k);
    k = pbw_begin(pb, 2);
    fill_executors(a, pb);
    pbw_end(pb, k);
    k = pbw_begin(pb, 3);
    fill_frameworks(a, pb);
    pbw_end(pb, k);
}

void agent_op_get_state(struct api_ctx *c) { respond_with(c, R_GET_STATE, 9, fill_state); }
void agent_op_get_frameworks(struct api_ctx *c) { respond_with(c, R_GET_FRAMEWORKS, 11, fill_frameworks); }
void agent_op_get_executors(struct api_ctx *c) { respond_with(c, R_GET_EXECUTORS, 12, fill_executors); }
void agent_op_get_tasks(struct api_ctx *c) { respond_with(c, R_GET_TASKS, 13, fill_tasks); }
/* The operations the agent holds until their terminal status is
 * acknowledged (agent_ops.c); no resource providers. */
void agent_op_get_operations(struct api_ctx *c) { respond_with(c, R_GET_OPERATIONS, 18, agent_ops_encode_operations); }
void agent_op_get_resource_providers(struct api_ctx *c) { respond_with(c, R_GET_RESOURCE_PROVIDERS, 17, NULL); }

static void fill_agent(struct agent_proc *a, struct buf *pb)
{
    size_t k = pbw_begin(pb, 1);
    buf_append(pb, a->info.data, a->info.len);
    if (a->id[0]) pbw_put_id(pb, 6, a->id);
    pbw_end(pb, k);
}

void agent_op_get_agent(struct api_ctx *c) { respond_with(c, R_GET_AGENT, 15, fill_agent); }

/* ---- containers: executors here, the operator API's in containers.c ---- */

struct cont_fill { struct buf *pb; const char *ip; };

static int put_container(void *arg, const struct exec_view *v)
{
    struct cont_fill *f = arg;
    if (v->pid <= 0) return 0;                 /* terminated: no statistics */
    struct pbw_field name;
    size_t k = pbw_begin(f->pb, 1);
    pbw_put_id(f->pb, 1, v->framework_id);
    pbw_put_id(f->pb, 2, v->executor_id);
    if (pbw_find(v->executor_info, v->executor_info_len, 9, &name) == 1 && name.wt == PBW_LEN)
        pbw_put_bytes(f->pb, 3, name.p, name.n);
    pbw_put_id(f->pb, 4, v->container_id);
    size_t st = pbw_begin(f->pb, 5);
    pbw_put_id(f->pb, 4, v->container_id);
    pbw_put_uint(f->pb, 3, (uint64_t)v->pid);
    pbw_end(f->pb, st);
    containers_encode_stats(v->pid, 6, f->pb);
    pbw_end(f->pb, k);
    return 0;
}

static void fill_containers(struct agent_proc *a, struct buf *pb, int nested, int standalone)
{
    struct cont_fill f = { .pb = pb, .ip = a->ip };
    agent_exec_foreach(a, put_container, &f);
    containers_encode(a, nested, standalone, pb);
}

void agent_op_get_containers(struct api_ctx *c)
{
    struct pbw_field f;
    int nested = c->sub && pbw_find(c->sub, c->sub_len, 1, &f) == 1 && f.v;
    int standalone = c->sub && pbw_find(c->sub, c->sub_len, 2, &f) == 1 && f.v;
    struct buf pb = {0};
    pbw_put_uint(&pb, 1, R_GET_CONTAINERS);
    size_t k = pbw_begin(&pb, 10);
    fill_containers(c->state, &pb, nested, standalone);
    pbw_end(&pb, k);
    api_respond(c, &pb);
}

/* ==== Resource providers and images ===================================== */

/* Upstream runs LocalResourceProvider::validate first (400 on failure);
 * this build has no local resource provider types, as an upstream agent
 * built without them ("Unknown local resource provider type"). */
static void rp_config(struct api_ctx *c)
{
    struct pbw_field info, t, nm;
    char type[256] = "", name[256] = "";
    if (pbw_find(c->sub, c->sub_len, 1, &info) == 1 && info.wt == PBW_LEN) {
        if (pbw_find(info.p, info.n, 3, &t) == 1 && t.wt == PBW_LEN)
            snprintf(type, sizeof type, "%.*s", (int)(t.n < 255 ? t.n : 255), (const char *)t.p);
        if (pbw_find(info.p, info.n, 4, &nm) == 1 && nm.wt == PBW_LEN)
            snprintf(name, sizeof name, "%.*s", (int)(nm.n < 255 ? nm.n : 255), (const char *)nm.p);
    }
    api_error(c, 400, "Failed to validate resource provider config with type '%s' and name '%s': "
              "Unknown local resource provider type '%s'", type, name, type);
}

void agent_op_add_resource_provider_config(struct api_ctx *c) { rp_config(c); }
void agent_op_update_resource_provider_config(struct api_ctx *c) { rp_config(c); }

/* The local resource provider daemon without --resource_provider_config_dir. */
void agent_op_remove_resource_provider_config(struct api_ctx *c)
{
    api_error(c, 500, "Missing required flag --resource_provider_config_dir");
}

/* Before registration there is no resource provider manager; after it,
 * removing an unknown provider succeeds (it is idempotent). */
void agent_op_mark_resource_provider_gone(struct api_ctx *c)
{
    struct agent_proc *a = c->state;
    if (!a->id[0]) {
        struct pbw_field id, v;
        char rp[256] = "";
        if (pbw_find(c->sub, c->sub_len, 1, &id) == 1 && id.wt == PBW_LEN && pbw_find(id.p, id.n, 1, &v) == 1)
            snprintf(rp, sizeof rp, "%.*s", (int)(v.n < 255 ? v.n : 255), (const char *)v.p);
        api_error(c, 500, "Could not mark resource provider '%s' as gone: Agent has not registered yet", rp);
        return;
    }
    api_empty(c, 200);
}

/* No image stores (no --image_providers): nothing to prune. */
void agent_op_prune_images(struct api_ctx *c) { api_empty(c, 200); }
