/* operator.c -- the master: start-up, its v0 endpoints, and the handlers of
 * the v1 operator calls (one function per call, named after it:
 * GET_HEALTH is op_get_health). Handlers build the Response as protobuf
 * bytes; api.c turns them into JSON when the client asked for JSON. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>
#include "json.h"
#include "allocator.h"
#include "log.h"
#include "maintenance.h"
#include "master.h"
#include "metrics.h"
#include "mesos/v1/master/master.pb.h"
#include "net.h"
#include "pbdesc.h"
#include "pbjson.h"
#include "pbn.h"
#include "pbw.h"
#include "registry.h"
#include "resources.h"
#include "util.h"

static const char *flag_str(struct master *m, const char *name)
{
    struct flag *f = flags_find(m->flags, m->nflags, name);
    return f && f->present ? f->str : NULL;
}

static int64_t flag_int(struct master *m, const char *name)
{
    struct flag *f = flags_find(m->flags, m->nflags, name);
    return f && f->present ? f->i : 0;
}

/* ==== Responses ========================================================= */

static void respond_nanopb(struct api_ctx *c, const mesos_v1_master_Response *resp)
{
    struct buf pb = {0};
    if (!pbn_encode(&pb, mesos_v1_master_Response_fields, resp)) {
        buf_free(&pb);
        api_error(c, 500, "Failed to encode the response");
        return;
    }
    api_respond(c, &pb);
}

/* GET_HEALTH and GET_VERSION never change: encoded and transcoded once. */
static void respond_const(struct api_ctx *c, const mesos_v1_master_Response *resp)
{
    struct buf pb = {0};
    if (!pbn_encode(&pb, mesos_v1_master_Response_fields, resp)) {
        buf_free(&pb);
        api_error(c, 500, "Failed to encode the response");
        return;
    }
    api_respond_keep(c, &pb);
}

void op_get_health(struct api_ctx *c)
{
    if (api_respond_const(c)) return;
    mesos_v1_master_Response resp = mesos_v1_master_Response_init_zero;
    resp.has_type = true;
    resp.type = mesos_v1_master_Response_Type_GET_HEALTH;
    resp.has_get_health = true;
    resp.get_health.healthy = true;   /* a slow answer is itself the signal */
    respond_const(c, &resp);
}

static int cmp_flag(const void *a, const void *b)
{
    const struct flag *x = *(const struct flag * const *)a, *y = *(const struct flag * const *)b;
    return strcmp(x->used_name, y->used_name);
}

void op_get_flags(struct api_ctx *c)
{
    struct master *m = c->state;
    const struct flag **v = xcalloc(m->nflags, sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < m->nflags; i++)
        if (m->flags[i].present) v[n++] = &m->flags[i];
    qsort(v, n, sizeof *v, cmp_flag);

    struct buf pb = {0};
    pbw_put_uint(&pb, 1, mesos_v1_master_Response_Type_GET_FLAGS);
    size_t gf = pbw_begin(&pb, 3);
    for (size_t i = 0; i < n; i++) {
        char val[4096];
        flags_format(v[i], val, sizeof val);
        size_t fl = pbw_begin(&pb, 1);
        pbw_put_str(&pb, 1, v[i]->used_name);
        pbw_put_str(&pb, 2, val);
        pbw_end(&pb, fl);
    }
    pbw_end(&pb, gf);
    free(v);
    api_respond(c, &pb);
}

void op_get_version(struct api_ctx *c)
{
    if (api_respond_const(c)) return;
    mesos_v1_master_Response resp = mesos_v1_master_Response_init_zero;
    resp.has_type = true;
    resp.type = mesos_v1_master_Response_Type_GET_VERSION;
    resp.has_get_version = true;
    mesos_v1_VersionInfo *vi = &resp.get_version.version_info;
    vi->version = pbn_str(build_version);
    vi->build_date = pbn_str(build_date);
    vi->has_build_time = true;
    vi->build_time = build_time;
    vi->build_user = pbn_str(build_user);
    vi->git_sha = pbn_str(build_git_sha[0] ? build_git_sha : NULL);
    respond_const(c, &resp);
}

/* ==== Metrics =========================================================== */

static void put_cb(void *arg, const char *name, double value) { metrics_put(arg, name, value); }

size_t master_metrics(struct master *m, struct metric **out)
{
    struct mlist l = {0};
    metrics_put(&l, "master/uptime_secs", now_secs() - m->start_time);
    metrics_put(&l, "master/elected", 1);

    /* The cluster's state. Agents and frameworks join in later issues; the
     * gauges report what this master really holds. */
    static const char *const zero[] = {
        "master/slaves_disconnected", "master/frameworks_inactive",
        "master/dropped_messages",
        "master/cpus_revocable_total", "master/cpus_revocable_used", "master/cpus_revocable_percent",
        "master/mem_revocable_total", "master/mem_revocable_used", "master/mem_revocable_percent",
        "master/disk_revocable_total", "master/disk_revocable_used", "master/disk_revocable_percent",
        "master/gpus_revocable_total", "master/gpus_revocable_used", "master/gpus_revocable_percent",
        "master/event_queue_messages", "master/event_queue_dispatches",
        "allocator/event_queue_dispatches", "allocator/mesos/event_queue_dispatches",
    };
    for (size_t i = 0; i < sizeof zero / sizeof *zero; i++) metrics_put(&l, zero[i], 0);
    size_t active = 0;
    for (struct agent *a = m->agents; a; a = a->next) active += !a->deactivated;
    metrics_put(&l, "master/slaves_connected", (double)m->nagents);
    metrics_put(&l, "master/slaves_active", (double)active);
    metrics_put(&l, "master/slaves_inactive", (double)(m->nagents - active));
    metrics_put(&l, "master/slaves_unreachable", (double)m->nunreachable);
    metrics_put(&l, "master/slave_registrations", (double)m->agent_registrations);
    metrics_put(&l, "master/slave_reregistrations", (double)m->agent_reregistrations);
    metrics_put(&l, "master/slave_removals", (double)m->agent_removals);
    metrics_put(&l, "master/recovery_slave_removals", (double)m->recovery_removals);
    if (m->registry) {
        const struct registry_stats *rs = registry_stats(m->registry);
        metrics_put(&l, "registrar/queued_operations", (double)rs->pending);
        metrics_put(&l, "registrar/registry_size_bytes", (double)(rs->snapshot_bytes + rs->log_bytes));
        metrics_put(&l, "registrar/state_fetch_ms", rs->load_ms);
        metrics_put(&l, "registrar/state_store_ms", rs->last_store_ms);
    }
    metrics_put(&l, "master/operator_event_stream_subscribers", (double)events_subscribers(m));
    size_t connected = 0;
    for (struct framework *f = m->frameworks; f; f = f->next) connected += f->stream != NULL;
    metrics_put(&l, "master/frameworks_connected", (double)connected);
    metrics_put(&l, "master/frameworks_disconnected", (double)(m->nframeworks - connected));
    metrics_put(&l, "master/frameworks_active", (double)connected);
    metrics_put(&l, "master/outstanding_offers", (double)m->noffers);
    /* Task gauges from the master's view; counters of terminal transitions. */
    static const struct { const char *name; int state; } gauges[] = {
        { "master/tasks_staging", 6 }, { "master/tasks_starting", 0 }, { "master/tasks_running", 1 },
        { "master/tasks_killing", 8 }, { "master/tasks_unreachable", 10 },
    }, counters[] = {
        { "master/tasks_finished", 2 }, { "master/tasks_failed", 3 }, { "master/tasks_killed", 4 },
        { "master/tasks_lost", 5 }, { "master/tasks_error", 7 }, { "master/tasks_dropped", 9 },
        { "master/tasks_gone", 11 }, { "master/tasks_gone_by_operator", 12 },
    };
    for (size_t i = 0; i < sizeof gauges / sizeof *gauges; i++)
        metrics_put(&l, gauges[i].name, (double)agents_count_tasks(m, gauges[i].state));
    for (size_t i = 0; i < sizeof counters / sizeof *counters; i++)
        metrics_put(&l, counters[i].name, (double)m->task_counters[counters[i].state]);

    /* Resources: the agents' totals, and what their active tasks use. */
    struct resources total = {0}, used = {0};
    struct buf err = { .max = 4096 };
    for (struct agent *a = m->agents; a; a = a->next) {
        buf_reset(&err);
        if (resources_decode_field(a->info.data, a->info.len, 3, &total, &err) < 0) continue;
        agents_used(a, &used);
    }
    static const char *const kinds[] = { "cpus", "gpus", "mem", "disk" };
    for (size_t i = 0; i < 4; i++) {
        char name[64];
        double tot = (double)resources_scalar(&total, kinds[i]) / 1000, use = (double)resources_scalar(&used, kinds[i]) / 1000;
        snprintf(name, sizeof name, "master/%s_total", kinds[i]);
        metrics_put(&l, name, tot);
        snprintf(name, sizeof name, "master/%s_used", kinds[i]);
        metrics_put(&l, name, use);
        snprintf(name, sizeof name, "master/%s_percent", kinds[i]);
        metrics_put(&l, name, tot > 0 ? use / tot : 0);
    }
    resources_free(&total);
    resources_free(&used);
    buf_free(&err);
    alloc_metrics(m, put_cb, &l);
    /* An HTTP request being answered is the one asking for metrics. */
    metrics_put(&l, "master/event_queue_http_requests", 0);

    metrics_put_system(&l);                 /* libprocess' system metrics */
    return metrics_finish(&l, out);
}

void op_get_metrics(struct api_ctx *c)
{
    struct master *m = c->state;
    mesos_v1_master_Call_GetMetrics req = mesos_v1_master_Call_GetMetrics_init_zero;
    if (!pbn_decode(c->sub, c->sub_len, mesos_v1_master_Call_GetMetrics_fields, &req)) {
        api_error(c, 400, "Failed to parse body into Call protobuf");
        return;
    }
    /* Every metric here is read synchronously, so each is ready within any
     * timeout; a negative one is invalid as in upstream's Duration parsing. */
    if (req.has_timeout && req.timeout.nanoseconds < 0) {
        api_error(c, 400, "Failed to validate master::Call: Expecting 'get_metrics.timeout' to be non-negative");
        return;
    }
    struct metric *v;
    size_t n = master_metrics(m, &v);
    struct buf pb = {0};
    metrics_encode_response(&pb, mesos_v1_master_Response_Type_GET_METRICS, v, n);
    free(v);
    api_respond(c, &pb);
}

/* ==== Logging level ===================================================== */

void op_get_logging_level(struct api_ctx *c)
{
    mesos_v1_master_Response resp = mesos_v1_master_Response_init_zero;
    resp.has_type = true;
    resp.type = mesos_v1_master_Response_Type_GET_LOGGING_LEVEL;
    resp.has_get_logging_level = true;
    resp.get_logging_level.level = log_verbose;
    respond_nanopb(c, &resp);
}

static void log_revert_cb(struct loop *l, struct loop_timer *t)
{
    (void)l;
    struct master *m = container_of(t, struct master, log_revert);
    log_verbose = m->log_revert_to;
    LOG("Logging level reverted to %u", log_verbose);
}

void op_set_logging_level(struct api_ctx *c)
{
    struct master *m = c->state;
    mesos_v1_master_Call_SetLoggingLevel req = mesos_v1_master_Call_SetLoggingLevel_init_zero;
    if (!pbn_decode(c->sub, c->sub_len, mesos_v1_master_Call_SetLoggingLevel_fields, &req)) {
        api_error(c, 400, "Failed to parse body into Call protobuf");
        return;
    }
    /* As glog's helper in upstream: the level reverts to the one in force
     * before the first of overlapping calls, after the latest duration. */
    if (!loop_timer_active(&m->log_revert)) m->log_revert_to = log_verbose;
    log_verbose = req.level;
    int64_t ns = req.duration.nanoseconds;
    uint64_t ms = ns <= 0 ? 0 : (uint64_t)(ns / 1000000);
    loop_timer_start(m->loop, &m->log_revert, ms);
    LOG("Set logging level to %u for %lld ms", req.level, (long long)ms);
    api_empty(c, 200);
}

/* ==== GET_MASTER ======================================================== */

static void encode_master_info(struct master *m, struct buf *pb)
{
    mesos_v1_MasterInfo mi = mesos_v1_MasterInfo_init_zero;
    mi.id = pbn_str(m->id);
    mi.ip = m->ip_be;
    mi.port = (uint32_t)m->port;
    mi.pid = pbn_str(m->pid);
    mi.hostname = pbn_str(m->hostname);
    mi.version = pbn_str(build_version);
    mi.has_address = true;
    mi.address.hostname = pbn_str(m->hostname);
    mi.address.ip = pbn_str(m->ip);
    mi.address.port = m->port;
    pbn_encode(pb, mesos_v1_MasterInfo_fields, &mi);
    /* capabilities: AGENT_UPDATE, AGENT_DRAINING, QUOTA_V2, as upstream lists. */
    for (int t = 1; t <= 3; t++) {
        size_t k = pbw_begin(pb, 9);
        pbw_put_uint(pb, 1, (uint64_t)t);
        pbw_end(pb, k);
    }
}

void op_get_master(struct api_ctx *c)
{
    struct master *m = c->state;
    struct buf pb = {0};
    pbw_put_uint(&pb, 1, mesos_v1_master_Response_Type_GET_MASTER);
    size_t gm = pbw_begin(&pb, 16);
    size_t mi = pbw_begin(&pb, 1);
    encode_master_info(m, &pb);
    pbw_end(&pb, mi);
    pbw_put_double(&pb, 2, m->start_time);
    pbw_put_double(&pb, 3, m->elected_time);
    pbw_end(&pb, gm);
    api_respond(c, &pb);
}

/* ==== GET_AGENTS ======================================================== */

/* A Response holding one sub-message that `encode` fills. */
static void respond_with(struct api_ctx *c, int type, uint32_t tag, void (*encode)(struct master *, struct buf *))
{
    struct buf pb = {0};
    pbw_put_uint(&pb, 1, (uint64_t)type);
    size_t k = pbw_begin(&pb, tag);
    encode(c->state, &pb);
    pbw_end(&pb, k);
    api_respond(c, &pb);
}

void op_get_agents(struct api_ctx *c)
{
    respond_with(c, mesos_v1_master_Response_Type_GET_AGENTS, 10, agents_encode_get_agents);
}

void op_get_tasks(struct api_ctx *c)
{
    respond_with(c, mesos_v1_master_Response_Type_GET_TASKS, 13, agents_encode_get_tasks);
}

void op_get_frameworks(struct api_ctx *c)
{
    respond_with(c, mesos_v1_master_Response_Type_GET_FRAMEWORKS, 11, sched_encode_get_frameworks);
}

void op_get_executors(struct api_ctx *c)
{
    respond_with(c, mesos_v1_master_Response_Type_GET_EXECUTORS, 12, agents_encode_get_executors);
}

/* GetState is encoded after some spare room, tasks first: the tasks are
 * the bulk of a large answer, and their length is known only once they are
 * written. The headers in front of them are then written backwards into
 * the room, so no encoded byte is ever moved (pbw_begin/pbw_end would shift
 * each nested message whose length needs more than one byte). */
/* Room for the keys and lengths of up to 4 levels, and the HTTP head. */
enum { STATE_ROOM = 48 + SERVER_HEAD_ROOM };

/* Write key(tag, LEN) and the varint n so that they end at `end`; returns
 * where they start. */
static char *put_head_back(char *end, uint32_t tag, uint64_t n)
{
    uint8_t tmp[20];
    size_t k = 0;
    for (uint64_t v = (uint64_t)tag << 3 | PBW_LEN; ; v >>= 7) {
        tmp[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        if (v <= 0x7f) break;
    }
    for (uint64_t v = n; ; v >>= 7) {
        tmp[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        if (v <= 0x7f) break;
    }
    memcpy(end - k, tmp, k);
    return end - k;
}

/* pb gets STATE_ROOM spare bytes, then GetState's fields but for the tasks'
 * own header; returns where that header starts (inside the room). */
static size_t encode_state_after_room(struct master *m, struct buf *pb, int running)
{
    size_t base = pb->len;
    buf_reserve(pb, STATE_ROOM);
    memset(pb->data + pb->len, 0, STATE_ROOM);
    pb->len += STATE_ROOM;
    agents_encode_tasks(m, pb, running);
    size_t tasks = pb->len - base - STATE_ROOM;
    size_t k = pbw_begin(pb, 2);
    agents_encode_get_executors(m, pb);
    pbw_end(pb, k);
    k = pbw_begin(pb, 3);
    sched_encode_get_frameworks(m, pb);
    pbw_end(pb, k);
    k = pbw_begin(pb, 4);
    agents_encode_get_agents(m, pb);
    pbw_end(pb, k);
    char *start = put_head_back(pb->data + base + STATE_ROOM, 1, tasks);
    return (size_t)(start - pb->data);
}

/* One consistent snapshot: the loop runs nothing else while this encodes. */
void master_encode_state(struct master *m, struct buf *pb)
{
    struct buf tmp = {0};
    size_t off = encode_state_after_room(m, &tmp, 1);
    buf_append(pb, tmp.data + off, tmp.len - off);
    buf_free(&tmp);
}

/* The whole Response {type GET_STATE, get_state} into pb, after room
 * enough for the HTTP head; returns where it starts. */
static size_t encode_state_response(struct master *m, struct buf *pb, int running)
{
    size_t off = encode_state_after_room(m, pb, running);
    char *start = put_head_back(pb->data + off, 9, pb->len - off);         /* Response.get_state */
    _Static_assert(mesos_v1_master_Response_Type_GET_STATE < 0x80, "a one-byte varint");
    *--start = mesos_v1_master_Response_Type_GET_STATE;                    /* type (1), a varint */
    *--start = 1 << 3 | PBW_VARINT;
    return (size_t)(start - pb->data);
}

/* GET_STATE in JSON: the answer without the running tasks is transcoded
 * as any other, and the running tasks, the bulk of a large one, are
 * written into its "tasks" list straight from the master's tasks
 * (agents_running_tasks_json, on two threads when large), so 100,000 tasks
 * are not first encoded into a protobuf answer of tens of MB only to be
 * read back. Returns 0, or -1 to have the answer built the general way. */
static const char state_mark[] = "{\"type\":\"GET_STATE\",\"get_state\":{\"get_tasks\":{\"tasks\":[";

struct state_rest { struct master *m; struct buf json; };

/* Everything but the running tasks, transcoded; its head up to the tasks
 * list goes to out, the rest stays in r->json. */
static int state_rest(void *arg, struct buf *out)
{
    struct state_rest *r = arg;
    struct buf pb = {0};
    size_t start = encode_state_response(r->m, &pb, 0);
    int rc = pbjson_to_json(PBD_M_mesos_v1_master_Response, pb.data + start, pb.len - start, &r->json);
    buf_free(&pb);
    size_t n = sizeof state_mark - 1;
    if (rc < 0 || r->json.len < n + 1 || memcmp(r->json.data, state_mark, n) != 0 || r->json.data[n] != ']')
        return -1;
    return buf_append(out, r->json.data, n);
}

static int state_json(struct api_ctx *c)
{
    struct state_rest r = { .m = c->state };
    struct buf js = {0}, part2 = {0};
    size_t off2 = 0;
    buf_reserve(&js, SERVER_HEAD_ROOM);
    js.len = SERVER_HEAD_ROOM;
    int rc = agents_running_tasks_json(c->state, &js, &part2, &off2, state_rest, &r);
    size_t n = sizeof state_mark - 1;
    if (rc == 0) rc = buf_append(part2.data ? &part2 : &js, r.json.data + n, r.json.len - n);
    buf_free(&r.json);
    if (rc < 0) {
        buf_free(&js);
        buf_free(&part2);
        return -1;
    }
    api_respond_json_room2(c, &js, SERVER_HEAD_ROOM, &part2, off2);
    return 0;
}

void op_get_state(struct api_ctx *c)
{
    if (c->json && state_json(c) == 0) return;
    struct buf pb = {0};
    size_t start = encode_state_response(c->state, &pb, 1);
    api_respond_at(c, &pb, start);
}

/* ==== Weights =========================================================== */

double master_role_weight(struct master *m, const char *role)
{
    for (size_t i = 0; i < m->nweights; i++)
        if (strcmp(m->weights[i].role, role) == 0) return m->weights[i].weight;
    return 1;
}

static void set_weight(struct master *m, const char *role, double w)
{
    for (size_t i = 0; i < m->nweights; i++)
        if (strcmp(m->weights[i].role, role) == 0) { m->weights[i].weight = w; return; }
    m->weights = xrealloc(m->weights, (m->nweights + 1) * sizeof *m->weights);
    snprintf(m->weights[m->nweights].role, sizeof m->weights[m->nweights].role, "%s", role);
    m->weights[m->nweights++].weight = w;
}

static int cmp_weight(const void *a, const void *b)
{
    return strcmp(((const struct weight *)a)->role, ((const struct weight *)b)->role);
}

static void encode_weights(struct master *m, struct buf *pb)
{
    if (m->nweights) qsort(m->weights, m->nweights, sizeof *m->weights, cmp_weight);   /* qsort(NULL, 0) is UB */
    for (size_t i = 0; i < m->nweights; i++) {
        size_t k = pbw_begin(pb, 1);
        pbw_put_double(pb, 1, m->weights[i].weight);
        pbw_put_str(pb, 2, m->weights[i].role);
        pbw_end(pb, k);
    }
}

void op_get_weights(struct api_ctx *c)
{
    respond_with(c, mesos_v1_master_Response_Type_GET_WEIGHTS, 15, encode_weights);
}

/* The role against roles::validate and the --roles whitelist; 0 or -1 with
 * upstream's text in msg. */
static int check_role(struct master *m, const char *role, char *msg, size_t n)
{
    struct buf err = { .max = 1024 };
    int rc = 0;
    if (resources_validate_role(role, &err) < 0) {
        snprintf(msg, n, "Failed to validate update weights request JSON: Invalid role '%s': %.*s",
                 role, (int)err.len, err.data);
        rc = -1;
    } else {
        const char *wl = flag_str(m, "roles");
        if (wl) {
            int found = 0;
            size_t rl = strlen(role);
            for (const char *p = wl; *p && !found;) {
                const char *comma = strchr(p, ',');
                size_t len = comma ? (size_t)(comma - p) : strlen(p);
                found = len == rl && memcmp(p, role, rl) == 0;
                p += len + (comma != NULL);
            }
            if (!found) {
                snprintf(msg, n, "Failed to validate update weights request JSON: Unknown role '%s'", role);
                rc = -1;
            }
        }
    }
    buf_free(&err);
    return rc;
}

/* Parse "role=weight,..." (--weights). Returns 0, or -1 with a message. */
static int parse_weights(struct master *m, const char *text, char *msg, size_t n)
{
    char *copy = xstrdup(text), *save = NULL;
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        char *end = NULL;
        double w = eq ? strtod(eq + 1, &end) : 0;
        if (!eq || end == eq + 1 || *end) {
            snprintf(msg, n, "Invalid weight '%s': expecting role=weight", item);
            rc = -1;
            break;
        }
        *eq = 0;
        if (check_role(m, item, msg, n) < 0) { rc = -1; break; }
        if (!(w > 0)) {
            snprintf(msg, n, "Invalid weight '%g' for role '%s': Weights must be positive", w, item);
            rc = -1;
            break;
        }
        set_weight(m, item, w);
    }
    free(copy);
    return rc;
}

struct weights_update {
    struct api_ctx *c;           /* NULL once the client went away */
    struct master *m;
    struct weight *pending;
    size_t np;
};

static void weights_client_gone(struct request *r, void *arg)
{
    (void)r;
    struct weights_update *u = arg;
    api_done(u->c);
    u->c = NULL;
}

static void weights_stored(void *arg, int status)
{
    struct weights_update *u = arg;
    struct master *m = u->m;
    if (u->c) u->c->r->on_close = NULL;
    if (status < 0) {
        master_registry_failed(m, status);
        if (u->c) api_error(u->c, 503, "Failed to update the registry: %s", strerror(-status));
    } else {
        int affects = 0;
        for (size_t i = 0; i < u->np; i++) {
            set_weight(m, u->pending[i].role, u->pending[i].weight);
            for (struct framework *fw = m->frameworks; fw; fw = fw->next)
                affects |= sched_framework_role(fw, u->pending[i].role) != NULL;
        }
        /* Offers made under the old weights are taken back, as upstream does. */
        if (affects) sched_rescind_all(m);
        if (u->c) api_empty(u->c, 200);
    }
    free(u->pending);
    free(u);
}

void op_update_weights(struct api_ctx *c)
{
    struct master *m = c->state;
    struct pbw_reader r;
    struct pbw_field f, w, role;
    char msg[600];
    /* Validate every entry before changing anything. */
    struct weight *pending = NULL;
    size_t np = 0;
    pbw_reader_init(&r, c->sub, c->sub_len);
    while (pbw_next(&r, &f) == 1) {
        if (f.tag != 1 || f.wt != PBW_LEN) continue;
        char name[256] = "";
        if (pbw_find(f.p, f.n, 2, &role) == 1 && role.wt == PBW_LEN) {
            const char *p = (const char *)role.p, *e = p + role.n;
            while (p < e && (*p == ' ' || *p == '\t' || *p == '\n')) p++;
            while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n')) e--;
            snprintf(name, sizeof name, "%.*s", (int)(e - p), p);
        }
        double weight = 0;
        if (pbw_find(f.p, f.n, 1, &w) == 1 && w.wt == PBW_I64) memcpy(&weight, &w.v, 8);
        if (check_role(m, name, msg, sizeof msg) < 0) goto bad;
        if (!(weight > 0)) {
            snprintf(msg, sizeof msg, "Failed to validate update weights request JSON for role '%s': "
                     "Invalid weight '%g': Weights must be positive", name, weight);
            goto bad;
        }
        pending = xrealloc(pending, (np + 1) * sizeof *pending);
        snprintf(pending[np].role, sizeof pending[np].role, "%s", name);
        pending[np++].weight = weight;
    }
    /* Answer once the registry has the new weights (Master::WeightsHandler
     * applies UpdateWeights, then updates the allocator, then answers). */
    struct weights_update *u = xcalloc(1, sizeof *u);
    u->c = c;
    u->m = m;
    u->pending = pending;
    u->np = np;
    struct buf v = {0};
    for (size_t i = 0; i < np; i++) {
        size_t k = pbw_begin(&v, 1);
        pbw_put_double(&v, 1, pending[i].weight);
        pbw_put_str(&v, 2, pending[i].role);
        pbw_end(&v, k);
    }
    c->r->on_close = weights_client_gone;
    c->r->on_close_arg = u;
    int rc = master_registry_apply(m, REGISTRY_UPDATE_WEIGHTS, NULL, v.data, v.len, weights_stored, u);
    buf_free(&v);
    if (rc < 0) {
        c->r->on_close = NULL;
        free(pending);
        free(u);
        api_error(c, 503, "Failed to update the registry: %s", strerror(-rc));
    }
    return;
bad:
    free(pending);
    api_error(c, 400, "%s", msg);
}

/* ==== v0 endpoints tools still read ===================================== */

static void v0_health(struct request *r, void *arg)
{
    (void)arg;
    server_respond(r, 200, NULL, NULL, "", 0);
}

/* "?jsonp=cb" wraps the JSON in cb(...) as text/javascript, as libprocess does. */
static void respond_json_maybe_jsonp(struct request *r, struct buf *js)
{
    const char *q = r->head->query;
    size_t qn = r->head->query_len;
    for (size_t i = 0; i < qn;) {
        size_t j = i;
        while (j < qn && q[j] != '&') j++;
        if (j - i > 6 && memcmp(q + i, "jsonp=", 6) == 0) {
            struct buf w = {0};
            buf_append(&w, q + i + 6, j - i - 6);
            buf_putc(&w, '(');
            buf_append(&w, js->data, js->len);
            buf_puts(&w, ");");
            buf_free(js);
            server_respond_buf(r, 200, NULL, "text/javascript", &w);
            return;
        }
        i = j + 1;
    }
    server_respond_buf(r, 200, NULL, "application/json", js);
}

static void v0_metrics(struct request *r, void *arg)
{
    struct master *m = arg;
    struct metric *v;
    size_t n = master_metrics(m, &v);
    struct buf js = {0};
    buf_putc(&js, '{');
    for (size_t i = 0; i < n; i++) {
        if (i) buf_putc(&js, ',');
        json_write_string(&js, v[i].name, strlen(v[i].name));
        buf_putc(&js, ':');
        json_write_double(&js, v[i].value);
    }
    buf_putc(&js, '}');
    free(v);
    respond_json_maybe_jsonp(r, &js);
}

static void v0_version(struct request *r, void *arg)
{
    (void)arg;
    struct buf js = {0};
    buf_puts(&js, "{\"build_date\":");
    json_write_string(&js, build_date, strlen(build_date));
    buf_puts(&js, ",\"build_time\":");
    json_write_double(&js, build_time);
    buf_puts(&js, ",\"build_user\":");
    json_write_string(&js, build_user, strlen(build_user));
    if (build_git_sha[0]) {
        buf_puts(&js, ",\"git_sha\":");
        json_write_string(&js, build_git_sha, strlen(build_git_sha));
    }
    buf_puts(&js, ",\"version\":");
    json_write_string(&js, build_version, strlen(build_version));
    buf_putc(&js, '}');
    respond_json_maybe_jsonp(r, &js);
}

/* ==== Start-up ========================================================== */

/* The address to advertise when --ip is not given: the first non-loopback
 * IPv4 address of this host, else 127.0.0.1. */
static void pick_ip(char *out, size_t n)
{
    struct ifaddrs *ifa = NULL, *i;
    snprintf(out, n, "127.0.0.1");
    if (getifaddrs(&ifa) != 0) return;
    for (i = ifa; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
        struct sockaddr_in *sin = (struct sockaddr_in *)(void *)i->ifa_addr;
        if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127) continue;
        inet_ntop(AF_INET, &sin->sin_addr, out, (socklen_t)n);
        break;
    }
    freeifaddrs(ifa);
}

struct master *master_start(struct loop *l, struct flag *flags, size_t nflags,
                            const struct call *calls, size_t ncalls, char *err)
{
    struct master *m = xcalloc(1, sizeof *m);
    m->loop = l;
    m->flags = flags;
    m->nflags = nflags;
    /* The registry first: a damaged one stops the master before it listens. */
    if (master_registry_open(m, err) < 0) {
        free(m);
        return NULL;
    }
    const char *ip = flag_str(m, "ip");
    struct server_config cfg = {
        .ip = ip,
        .port = (int)flag_int(m, "port"),
        .process_id = "master",
        .max_head_bytes = 64 * 1024,
        .max_uri_bytes = 8 * 1024,
        .max_body_bytes = (size_t)flag_int(m, "max_request_body_size"),
        .idle_timeout_ms = (uint64_t)flag_int(m, "http_idle_timeout") / 1000000,
        .request_timeout_ms = (uint64_t)flag_int(m, "http_request_timeout") / 1000000,
        .max_stream_buffer = (size_t)flag_int(m, "max_stream_buffer_size"),
        .max_connections = (int)flag_int(m, "max_connections"),
    };
    char nerr[NET_ERR_LEN];
    m->http = server_new(l, &cfg, nerr);
    if (!m->http) {
        snprintf(err, 256, "Failed to listen on %.64s:%d: %.160s", ip ? ip : "0.0.0.0", cfg.port, nerr);
        master_registry_close(m);
        free(m);
        return NULL;
    }
    m->port = server_port(m->http);
    if (ip && strcmp(ip, "0.0.0.0") != 0) snprintf(m->ip, sizeof m->ip, "%s", ip);
    else pick_ip(m->ip, sizeof m->ip);
    struct in_addr a;
    m->ip_be = inet_pton(AF_INET, m->ip, &a) == 1 ? a.s_addr : 0;
    const char *hn = flag_str(m, "hostname");
    if (hn) snprintf(m->hostname, sizeof m->hostname, "%s", hn);
    else if (gethostname(m->hostname, sizeof m->hostname) != 0) snprintf(m->hostname, sizeof m->hostname, "%s", m->ip);
    snprintf(m->pid, sizeof m->pid, "master@%s:%d", m->ip, m->port);
    uuid_text(m->id);
    m->start_time = now_secs();
    m->elected_time = m->start_time;   /* a standalone master leads at once */
    loop_timer_init(&m->log_revert, log_revert_cb);

    m->api = (struct api){
        .what = "Call", .validate_what = "master::Call",
        .call_msg = PBD_M_mesos_v1_master_Call,
        .call_type_enum = PBD_E_mesos_v1_master_Call_Type,
        .response_msg = PBD_M_mesos_v1_master_Response,
        .event_msg = PBD_M_mesos_v1_master_Event,
        .calls = calls, .ncalls = ncalls, .state = m,
    };
    server_route(m->http, "/api/v1", api_handle, &m->api);
    server_route(m->http, "/health", v0_health, m);
    server_route(m->http, "/version", v0_version, m);
    /* The metrics process is "metrics", not "master", in libprocess. */
    server_route(m->http, "/metrics/snapshot", v0_metrics, m);

    const char *wflag = flag_str(m, "weights");
    if (wflag && parse_weights(m, wflag, err, 256) < 0) {
        master_registry_close(m);
        server_free(m->http);
        free(m->weights);
        free(m);
        return NULL;
    }
    struct upid self;
    snprintf(self.id, sizeof self.id, "master");
    snprintf(self.host, sizeof self.host, "%s", m->ip);
    self.port = m->port;
    m->wire = wire_new(l, m->http, &self, agents_on_message, m);
    sched_init(m);
    events_init(m);
    master_registry_recover(m);

    LOG("Master %s (%s) started on %s:%d", m->id, m->hostname, m->ip, m->port);
    LOG("Master ID: %s Hostname: %s", m->id, m->hostname);
    return m;
}

void master_stop(struct master *m)
{
    if (!m) return;
    loop_timer_stop(m->loop, &m->log_revert);
    master_registry_close(m);            /* pending writes finish, their callbacks run */
    events_free(m);
    sched_free(m);
    maint_free(m);
    agents_free(m);
    agent_admin_free(m);
    quota_free(m);
    free(m->weights);
    wire_free(m->wire);
    server_free(m->http);
    free(m);
}
