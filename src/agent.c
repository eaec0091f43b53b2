/* agent.c -- the agent process: registration with the master and liveness.
 *
 * Registration follows upstream's slave.cpp: RegisterSlaveMessage (or
 * ReregisterSlaveMessage once the agent has an id) is re-sent with a
 * randomised, doubling backoff until the master answers. The agent id is
 * checkpointed under --work_dir (written to a temporary file, fsync'd,
 * renamed) so a restarted agent re-registers with the same id. The master
 * pings; an agent that hears no ping within the master's total ping
 * timeout treats the master as lost and registers again. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <unistd.h>
#include "agent.h"
#include "log.h"
#include "pbw.h"
#include "resources.h"
#include "util.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000

static const char *flag_s(struct agent_proc *a, const char *name)
{
    struct flag *f = flags_find(a->flags, a->nflags, name);
    return f && f->present ? f->str : NULL;
}

/* ==== Checkpoint of the agent id ======================================== */

int agent_mkdirs(const char *path)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s", path) >= sizeof tmp) return -ENAMETOOLONG;
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -errno;
            *p = '/';
        }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -errno;
    return 0;
}

/* fsync a directory, so a rename or unlink in it is durable. */
int agent_fsync_dir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return -errno;
    int rc = fsync(dfd) < 0 ? -errno : 0;
    close(dfd);
    return rc;
}

/* Write data to path crash-safely: temp file, fsync, rename, fsync dir (the
 * same rules as the master's registry). A short write is continued, not
 * taken for success; on failure the temporary file is removed. */
int agent_write_atomic(const char *dir, const char *name, const char *data, size_t n)
{
    char path[1200], tmp[1220];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0;) {
        ssize_t k = write(fd, data + off, n - off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) rc = k < 0 ? -errno : -EIO;
        else off += (size_t)k;
    }
    if (rc == 0 && fsync(fd) < 0) rc = -errno;
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0) rc = -errno;
    if (rc < 0) { unlink(tmp); return rc; }
    return agent_fsync_dir(dir);
}

static void meta_dir(struct agent_proc *a, char *out, size_t n)
{
    snprintf(out, n, "%s/meta", a->work_dir);
}

static void load_id(struct agent_proc *a)
{
    char dir[1100], path[1200];
    meta_dir(a, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/agent_id", dir);
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (fgets(a->id, sizeof a->id, f)) a->id[strcspn(a->id, "\n")] = 0;
    fclose(f);
    /* The file is replaced whole (rename), so it is never torn; anything
     * but a printable id is damage: register as a new agent instead. */
    for (const char *c = a->id; *c; c++)
        if (*c < 0x21 || *c > 0x7e) {
            LOG_WARN("Ignoring a damaged agent id checkpoint %s", path);
            a->id[0] = 0;
            break;
        }
    if (a->id[0]) LOG("Recovered agent id %s from %s", a->id, path);
}

static void save_id(struct agent_proc *a)
{
    char dir[1100];
    meta_dir(a, dir, sizeof dir);
    int rc = agent_mkdirs(dir);
    if (rc == 0) rc = agent_write_atomic(dir, "agent_id", a->id, strlen(a->id));
    if (rc < 0) LOG_ERR("Failed to checkpoint the agent id under %s: %s", dir, strerror(-rc));
}

/* ==== Registration ====================================================== */

static void send_registration(struct agent_proc *a)
{
    struct buf b = {0};
    int re = a->id[0] != 0;
    size_t k = pbw_begin(&b, re ? 2 : 1);         /* slave */
    buf_append(&b, a->info.data, a->info.len);
    if (re) {
        size_t s = pbw_begin(&b, 6);
        pbw_put_str(&b, 1, a->id);
        pbw_end(&b, s);
    }
    pbw_end(&b, k);
    if (re) agent_exec_encode_reregister(a, &b);    /* tasks, executors, frameworks */
    agent_ops_encode_registration(a, &b, re);       /* checkpointed resources, resource version */
    pbw_put_str(&b, re ? 6 : 2, "1.12.0");          /* version */
    /* agent_capabilities: MULTI_ROLE, HIERARCHICAL_ROLE, RESERVATION_REFINEMENT,
     * RESOURCE_PROVIDER, RESIZE_VOLUME, AGENT_OPERATION_FEEDBACK, AGENT_DRAINING,
     * as the agent supports them (SlaveInfo.Capability.Type). RESOURCE_PROVIDER
     * with AGENT_OPERATION_FEEDBACK makes the master send operations as
     * ApplyOperationMessage (agent_ops.c). */
    static const int caps[] = { 1, 2, 3, 4, 5, 6, 7 };
    for (size_t i = 0; i < sizeof caps / sizeof *caps; i++) {
        size_t c = pbw_begin(&b, re ? 9 : 4);
        pbw_put_uint(&b, 1, (uint64_t)caps[i]);
        pbw_end(&b, c);
    }
    wire_send(a->wire, &a->master, re ? "mesos.internal.ReregisterSlaveMessage"
                                      : "mesos.internal.RegisterSlaveMessage", b.data, b.len);
    buf_free(&b);
    a->registrations++;
}

static void retry_cb(struct loop *l, struct loop_timer *t)
{
    struct agent_proc *a = container_of(t, struct agent_proc, retry);
    if (a->state == AGENT_REGISTERED) return;
    a->state = AGENT_REGISTERING;
    send_registration(a);
    /* Upstream picks a random delay in [0, backoff] and doubles the backoff. */
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, 0) != sizeof r) r = (uint32_t)(now_secs() * 1000);
    uint64_t delay = BACKOFF_MIN_MS / 2 + r % (a->backoff_ms + 1);
    if (a->backoff_ms < BACKOFF_MAX_MS) a->backoff_ms *= 2;
    loop_timer_start(l, t, delay);
}

static void start_registering(struct agent_proc *a, uint64_t delay_ms)
{
    a->state = AGENT_REGISTERING;
    a->backoff_ms = BACKOFF_MIN_MS;
    loop_timer_start(a->loop, &a->retry, delay_ms);
}

static void ping_watch_cb(struct loop *l, struct loop_timer *t)
{
    (void)l;
    struct agent_proc *a = container_of(t, struct agent_proc, ping_watch);
    LOG_WARN("No pings from the master for %.0f s: registering again", a->ping_timeout_secs);
    start_registering(a, 0);
}

static void arm_ping_watch(struct agent_proc *a)
{
    double secs = a->ping_timeout_secs > 0 ? a->ping_timeout_secs : 75;
    loop_timer_start(a->loop, &a->ping_watch, (uint64_t)(secs * 1000));
}

static void on_registered(struct agent_proc *a, const uint8_t *p, size_t n, int re)
{
    struct pbw_field f, v, c, t;
    if (pbw_find(p, n, 1, &f) != 1 || f.wt != PBW_LEN || pbw_find(f.p, f.n, 1, &v) != 1 || v.wt != PBW_LEN) {
        LOG_WARN("Ignoring a malformed registration answer");
        return;
    }
    char id[96];
    snprintf(id, sizeof id, "%.*s", (int)(v.n < 95 ? v.n : 95), (const char *)v.p);
    if (a->id[0] && strcmp(a->id, id) != 0 && re) {
        LOG_ERR("The master re-registered us as %s, but we are %s", id, a->id);
        return;
    }
    if (strcmp(a->id, id) != 0) {
        snprintf(a->id, sizeof a->id, "%s", id);
        save_id(a);
    }
    if (pbw_find(p, n, re ? 3 : 2, &c) == 1 && c.wt == PBW_LEN && pbw_find(c.p, c.n, 1, &t) == 1 && t.wt == PBW_I64) {
        double d;
        memcpy(&d, &t.v, 8);
        a->ping_timeout_secs = d;
    }
    if (a->state != AGENT_REGISTERED)
        LOG("%s with master %s:%d as agent %s", re ? "Re-registered" : "Registered", a->master.host, a->master.port, a->id);
    a->state = AGENT_REGISTERED;
    loop_timer_stop(a->loop, &a->retry);
    arm_ping_watch(a);
    agent_exec_resend(a);     /* updates the new master has not seen */
    agent_ops_registered(a);  /* operations and their unacknowledged updates */
}

static void on_message(void *arg, const struct upid *from, const char *name, const void *body, size_t n)
{
    struct agent_proc *a = arg;
    const uint8_t *p = body;
    if (strcmp(name, "mesos.internal.SlaveRegisteredMessage") == 0) {
        on_registered(a, p, n, 0);
    } else if (strcmp(name, "mesos.internal.SlaveReregisteredMessage") == 0) {
        on_registered(a, p, n, 1);
    } else if (strcmp(name, "mesos.internal.PingSlaveMessage") == 0) {
        a->pings++;
        wire_send(a->wire, from, "mesos.internal.PongSlaveMessage", "", 0);
        if (a->state == AGENT_REGISTERED) arm_ping_watch(a);
        else {
            /* A ping saying we are not connected, or before our answer
             * arrived: keep registering. */
        }
    } else if (!agent_exec_message(a, name, p, n) && !agent_ops_message(a, name, p, n)) {
        LOG_V(1, "Dropping unhandled message %s", name);
    }
}

static void reaper_cb(struct loop *l, struct loop_timer *t)
{
    struct agent_proc *a = container_of(t, struct agent_proc, reaper);
    agent_exec_reap(a);
    containers_tick(a);
    loop_timer_start(l, t, 100);
}

/* ==== Start-up ========================================================== */

void agent_default_resources(const char *work_dir, char *out, size_t n)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    struct sysinfo si;
    uint64_t mem_mb = 1024;
    if (sysinfo(&si) == 0) {
        uint64_t total = (uint64_t)si.totalram * si.mem_unit / (1024 * 1024);
        mem_mb = total >= 2048 ? total - 1024 : total / 2;
    }
    uint64_t disk_mb = 10240;
    struct statvfs sv;
    if (work_dir && statvfs(work_dir, &sv) == 0) {
        uint64_t total = (uint64_t)sv.f_blocks * sv.f_frsize / (1024 * 1024);
        disk_mb = total >= 10240 ? total - 5120 : total / 2;
    }
    snprintf(out, n, "cpus:%ld;mem:%llu;disk:%llu;ports:[31000-32000]", cpus < 1 ? 1 : cpus,
             (unsigned long long)mem_mb, (unsigned long long)disk_mb);
}

static void v0_health(struct request *r, void *arg)
{
    (void)arg;
    server_respond(r, 200, NULL, NULL, "", 0);
}

static uint64_t flag_ms(struct agent_proc *a, const char *name, uint64_t dflt)
{
    struct flag *f = flags_find(a->flags, a->nflags, name);
    return f && f->present && f->i > 0 ? (uint64_t)(f->i / 1000000) : dflt;
}

struct agent_proc *agent_start(struct loop *l, struct flag *flags, size_t nflags,
                               const struct call *calls, size_t ncalls, char *err)
{
    struct agent_proc *a = xcalloc(1, sizeof *a);
    a->loop = l;
    a->flags = flags;
    a->nflags = nflags;
    a->start_time = now_secs();
    const char *master = flag_s(a, "master");
    if (!master) { snprintf(err, 512, "Missing required flag --master"); goto fail; }
    if (strncmp(master, "zk://", 5) == 0 || strncmp(master, "file://", 7) == 0) {
        snprintf(err, 512, "--master=%s: only HOST:PORT is supported (no ZooKeeper)", master);
        goto fail;
    }
    char mbuf[400];
    snprintf(mbuf, sizeof mbuf, "%s%s", strchr(master, '@') ? "" : "master@", master);
    if (upid_parse(mbuf, strlen(mbuf), &a->master) < 0) {
        snprintf(err, 512, "Failed to parse --master=%s: expecting HOST:PORT", master);
        goto fail;
    }
    const char *wd = flag_s(a, "work_dir");
    if (!wd) { snprintf(err, 512, "Missing required flag --work_dir"); goto fail; }
    snprintf(a->work_dir, sizeof a->work_dir, "%s", wd);
    if (agent_mkdirs(a->work_dir) < 0) { snprintf(err, 512, "Failed to create --work_dir=%s", wd); goto fail; }

    const char *ip = flag_s(a, "ip");
    struct flag *pf = flags_find(flags, nflags, "port");
    struct server_config cfg = {
        .ip = ip, .port = (int)pf->i, .process_id = "slave(1)",
        .max_head_bytes = 64 * 1024, .max_uri_bytes = 8 * 1024, .max_body_bytes = 64u << 20,
        .idle_timeout_ms = 3600 * 1000, .request_timeout_ms = 60 * 1000,
        .max_stream_buffer = 16u << 20, .max_connections = 10000,
    };
    char nerr[256];
    a->http = server_new(l, &cfg, nerr);
    if (!a->http) { snprintf(err, 512, "Failed to listen on port %d: %.200s", cfg.port, nerr); goto fail; }
    a->port = server_port(a->http);
    snprintf(a->ip, sizeof a->ip, "%s", ip && strcmp(ip, "0.0.0.0") ? ip : "127.0.0.1");
    const char *hn = flag_s(a, "hostname");
    if (hn) snprintf(a->hostname, sizeof a->hostname, "%s", hn);
    else if (gethostname(a->hostname, sizeof a->hostname) != 0) snprintf(a->hostname, sizeof a->hostname, "%s", a->ip);

    /* SlaveInfo: hostname, port, resources, attributes (the id is added
     * when known). */
    char dflt[256];
    const char *rtext = flag_s(a, "resources");
    if (!rtext) {
        agent_default_resources(a->work_dir, dflt, sizeof dflt);
        rtext = dflt;
    }
    pbw_put_str(&a->info, 1, a->hostname);
    struct resources total = {0};
    struct buf perr = { .max = 1024 };
    int prc = resources_parse(rtext, strlen(rtext), NULL, &total, &perr);
    if (prc == 0) resources_encode(&total, 3, RESOURCES_STORED, &a->info);
    if (prc == 0 && agent_ops_init(a, &total, err, 512) < 0) {
        resources_free(&total);
        buf_free(&perr);
        goto fail;
    }
    resources_free(&total);
    const char *attrs = flag_s(a, "attributes"), *what = "resources";
    if (prc == 0 && attrs) {
        what = "attributes";
        prc = resources_parse_attributes(attrs, strlen(attrs), 5, &a->info, &perr);
    }
    if (prc < 0) {
        snprintf(err, 512, "Failed to parse --%s: %.*s", what, (int)perr.len, perr.data);
        buf_free(&perr);
        goto fail;
    }
    buf_free(&perr);
    pbw_put_uint(&a->info, 8, (uint64_t)a->port);

    struct upid self;
    snprintf(self.id, sizeof self.id, "slave(1)");
    snprintf(self.host, sizeof self.host, "%s", a->ip);
    self.port = a->port;
    a->wire = wire_new(l, a->http, &self, on_message, a);
    server_route(a->http, "/health", v0_health, a);
    server_route(a->http, "/api/v1/executor", agent_executor_api, a);
    /* upstream's DEFAULT_EXECUTOR_HEARTBEAT_INTERVAL is 30 minutes */
    a->executor_heartbeat_ms = flag_ms(a, "executor_heartbeat_interval", 30 * 60 * 1000);
    a->http_heartbeat_ms = flag_ms(a, "http_heartbeat_interval", 30 * 1000);
    struct flag *su = flags_find(flags, nflags, "switch_user");
    a->switch_user = !su || !su->present || su->i != 0;
    agent_api_init(a, calls, ncalls);
    loop_timer_init(&a->reaper, reaper_cb);
    loop_timer_start(l, &a->reaper, 100);
    loop_timer_init(&a->retry, retry_cb);
    loop_timer_init(&a->ping_watch, ping_watch_cb);
    load_id(a);
    if (a->id[0]) agent_exec_recover(a);
    containers_recover(a);
    LOG("Agent started on %s:%d (resources %s); master is %s:%d", a->ip, a->port, rtext,
        a->master.host, a->master.port);
    start_registering(a, 0);
    return a;
fail:
    agent_ops_free(a);
    if (a->http) server_free(a->http);
    buf_free(&a->info);
    free(a);
    return NULL;
}

void agent_stop(struct agent_proc *a)
{
    if (!a) return;
    loop_timer_stop(a->loop, &a->retry);
    loop_timer_stop(a->loop, &a->ping_watch);
    loop_timer_stop(a->loop, &a->reaper);
    agent_exec_free_all(a);    /* executors keep running, as upstream's do */
    agent_ops_free(a);
    agent_api_free(a);
    wire_free(a->wire);
    server_free(a->http);
    buf_free(&a->info);
    free(a);
}
