/* mesos_api.c -- one static binary: a Mesos-compatible master (and, in
 * later parts, agent). main() reads the sub-command and flags; the table of
 * every operator call and its handler is here, so any call is one hop away:
 * look up its Mesos name below. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "loop.h"
#include "agent.h"
#include "executor.h"
#include "maintenance.h"
#include "master.h"

/* ==== The master's operator calls (mesos.v1.master.Call.Type) ============ */

static const struct call master_calls[] = {
    { "GET_HEALTH",        op_get_health,        CALL_READ },
    { "GET_FLAGS",         op_get_flags,         CALL_READ },
    { "GET_VERSION",       op_get_version,       CALL_READ },
    { "GET_METRICS",       op_get_metrics,       CALL_READ },
    { "GET_LOGGING_LEVEL", op_get_logging_level, CALL_READ },
    { "SET_LOGGING_LEVEL", op_set_logging_level, CALL_WRITE },
    { "GET_MASTER",        op_get_master,        CALL_READ },
    { "GET_AGENTS",        op_get_agents,        CALL_READ },
    { "GET_TASKS",         op_get_tasks,         CALL_READ },
    { "GET_FRAMEWORKS",    op_get_frameworks,    CALL_READ },
    { "GET_WEIGHTS",       op_get_weights,       CALL_READ },
    { "GET_EXECUTORS",     op_get_executors,     CALL_READ },
    { "GET_STATE",         op_get_state,         CALL_READ | CALL_LARGE },
    { "UPDATE_WEIGHTS",    op_update_weights,    CALL_WRITE },
    { "GET_ROLES",         op_get_roles,         CALL_READ },
    { "GET_QUOTA",         op_get_quota,         CALL_READ },
    { "UPDATE_QUOTA",      op_update_quota,      CALL_WRITE },
    { "SET_QUOTA",         op_set_quota,         CALL_WRITE },
    { "REMOVE_QUOTA",      op_remove_quota,      CALL_WRITE },
    { "GET_MAINTENANCE_SCHEDULE",    op_get_maintenance_schedule,    CALL_READ },
    { "UPDATE_MAINTENANCE_SCHEDULE", op_update_maintenance_schedule, CALL_WRITE },
    { "GET_MAINTENANCE_STATUS",      op_get_maintenance_status,      CALL_READ },
    { "START_MAINTENANCE",           op_start_maintenance,           CALL_WRITE },
    { "STOP_MAINTENANCE",            op_stop_maintenance,            CALL_WRITE },
    { "DRAIN_AGENT",       op_drain_agent,       CALL_WRITE },
    { "DEACTIVATE_AGENT",  op_deactivate_agent,  CALL_WRITE },
    { "REACTIVATE_AGENT",  op_reactivate_agent,  CALL_WRITE },
    { "MARK_AGENT_GONE",   op_mark_agent_gone,   CALL_WRITE },
    { "TEARDOWN",          op_teardown,          CALL_WRITE },
    { "GET_OPERATIONS",    op_get_operations,    CALL_READ },
    { "RESERVE_RESOURCES", op_reserve_resources, CALL_WRITE },
    { "UNRESERVE_RESOURCES", op_unreserve_resources, CALL_WRITE },
    { "CREATE_VOLUMES",    op_create_volumes,    CALL_WRITE },
    { "DESTROY_VOLUMES",   op_destroy_volumes,   CALL_WRITE },
    { "GROW_VOLUME",       op_grow_volume,       CALL_WRITE },
    { "SHRINK_VOLUME",     op_shrink_volume,     CALL_WRITE },
    { "LIST_FILES",        op_list_files,        CALL_READ },
    { "READ_FILE",         op_read_file,         CALL_READ },
    { "SUBSCRIBE",         op_subscribe,         CALL_STREAM },
};

/* ==== The agent's operator calls (mesos.v1.agent.Call.Type) ============= */

static const struct call agent_calls[] = {
    { "GET_HEALTH",                      agent_op_get_health,                      CALL_READ },
    { "GET_FLAGS",                       agent_op_get_flags,                       CALL_READ },
    { "GET_VERSION",                     agent_op_get_version,                     CALL_READ },
    { "GET_METRICS",                     agent_op_get_metrics,                     CALL_READ },
    { "GET_LOGGING_LEVEL",               agent_op_get_logging_level,               CALL_READ },
    { "SET_LOGGING_LEVEL",               agent_op_set_logging_level,               CALL_WRITE },
    { "LIST_FILES",                      agent_op_list_files,                      CALL_READ },
    { "READ_FILE",                       agent_op_read_file,                       CALL_READ },
    { "GET_STATE",                       agent_op_get_state,                       CALL_READ | CALL_LARGE },
    { "GET_CONTAINERS",                  agent_op_get_containers,                  CALL_READ },
    { "GET_FRAMEWORKS",                  agent_op_get_frameworks,                  CALL_READ },
    { "GET_EXECUTORS",                   agent_op_get_executors,                   CALL_READ },
    { "GET_OPERATIONS",                  agent_op_get_operations,                  CALL_READ },
    { "GET_TASKS",                       agent_op_get_tasks,                       CALL_READ },
    { "GET_AGENT",                       agent_op_get_agent,                       CALL_READ },
    { "GET_RESOURCE_PROVIDERS",          agent_op_get_resource_providers,          CALL_READ },
    { "LAUNCH_NESTED_CONTAINER",         agent_op_launch_container,                CALL_WRITE },
    { "WAIT_NESTED_CONTAINER",           agent_op_wait_container,                  CALL_READ },
    { "KILL_NESTED_CONTAINER",           agent_op_kill_container,                  CALL_WRITE },
    { "REMOVE_NESTED_CONTAINER",         agent_op_remove_container,                CALL_WRITE },
    { "LAUNCH_NESTED_CONTAINER_SESSION", agent_op_launch_nested_container_session, CALL_WRITE | CALL_STREAM },
    { "ATTACH_CONTAINER_INPUT",          agent_op_attach_container_input,          CALL_WRITE },
    { "ATTACH_CONTAINER_OUTPUT",         agent_op_attach_container_output,         CALL_READ | CALL_STREAM },
    { "LAUNCH_CONTAINER",                agent_op_launch_container,                CALL_WRITE },
    { "WAIT_CONTAINER",                  agent_op_wait_container,                  CALL_READ },
    { "KILL_CONTAINER",                  agent_op_kill_container,                  CALL_WRITE },
    { "REMOVE_CONTAINER",                agent_op_remove_container,                CALL_WRITE },
    { "ADD_RESOURCE_PROVIDER_CONFIG",    agent_op_add_resource_provider_config,    CALL_WRITE },
    { "UPDATE_RESOURCE_PROVIDER_CONFIG", agent_op_update_resource_provider_config, CALL_WRITE },
    { "REMOVE_RESOURCE_PROVIDER_CONFIG", agent_op_remove_resource_provider_config, CALL_WRITE },
    { "MARK_RESOURCE_PROVIDER_GONE",     agent_op_mark_resource_provider_gone,     CALL_WRITE },
    { "PRUNE_IMAGES",                    agent_op_prune_images,                    CALL_WRITE },
};

/* ==== The master's flags (upstream names and defaults) =================== */

#define S FLAG_STRING
#define B FLAG_BOOL
#define I FLAG_INT
#define D FLAG_DURATION
#define Z FLAG_BYTES
/* name, deprecated alias, type, default (NULL: unset), help */
#define F(n, a, t, d, h) { n, a, t, d, h, 0, 0, NULL, NULL, 0, 0 }
static struct flag master_flags[] = {
    F("acls", NULL, S, NULL, "ACLs (JSON); not enforced yet"),
    F("advertise_ip", NULL, S, NULL, "IP address advertised to reach this master"),
    F("advertise_port", NULL, S, NULL, "Port advertised to reach this master"),
    F("agent_ping_timeout", "slave_ping_timeout", D, "15secs", "Time an agent has to answer a ping"),
    F("agent_removal_rate_limit", "slave_removal_rate_limit", S, NULL, "Maximum rate of agent removals"),
    F("agent_reregister_timeout", "slave_reregister_timeout", D, "10mins", "Time agents have to re-register after failover"),
    F("allocation_interval", NULL, D, "1secs", "Time between allocation cycles"),
    F("allocator", NULL, S, "hierarchical", "Allocator to use"),
    F("authenticate_agents", "authenticate_slaves", B, "false", "Only authenticated agents may register"),
    F("authenticate_frameworks", "authenticate", B, "false", "Only authenticated frameworks may register"),
    F("authenticate_http_frameworks", NULL, B, "false", "Authenticate HTTP frameworks"),
    F("authenticate_http_readonly", NULL, B, "false", "Authenticate read-only HTTP endpoints"),
    F("authenticate_http_readwrite", "authenticate_http", B, "false", "Authenticate read-write HTTP endpoints"),
    F("authentication_v0_timeout", NULL, D, "15secs", "Timeout of v0 authentication"),
    F("authenticators", NULL, S, "crammd5", "Authenticator module"),
    F("authorizers", NULL, S, "local", "Authorizer module"),
    F("cluster", NULL, S, NULL, "Human-readable cluster name"),
    F("credentials", NULL, S, NULL, "Path or JSON of credentials"),
    F("domain", NULL, S, NULL, "Domain of this master (JSON)"),
    F("external_log_file", NULL, S, NULL, "Log file served as /master/log"),
    F("fair_sharing_excluded_resource_names", NULL, S, NULL, "Resources excluded from fair sharing"),
    F("filter_gpu_resources", NULL, B, "true", "Offer GPU agents only to GPU-capable frameworks"),
    F("firewall_rules", NULL, S, NULL, "Endpoint firewall rules (JSON)"),
    F("framework_sorter", NULL, S, "drf", "Sorter among frameworks of a role"),
    F("hooks", NULL, S, NULL, "Hook modules"),
    F("hostname", NULL, S, NULL, "Hostname to advertise"),
    F("hostname_lookup", NULL, B, "true", "Look up the hostname when not given"),
    F("http_authenticators", NULL, S, "basic", "HTTP authenticator"),
    F("http_framework_authenticators", NULL, S, NULL, "HTTP framework authenticator"),
    F("http_idle_timeout", NULL, D, "1hrs", "mesos_api: close keep-alive connections idle this long"),
    F("http_request_timeout", NULL, D, "1mins", "mesos_api: time a client has to send a whole request (else 408)"),
    F("initialize_driver_logging", NULL, B, "true", "Initialize driver logging"),
    F("ip", NULL, S, NULL, "IP address to listen on"),
    F("ip_discovery_command", NULL, S, NULL, "Command that prints the IP to use"),
    F("log_auto_initialize", NULL, B, "true", "Initialize the replicated log automatically"),
    F("log_dir", NULL, S, NULL, "Directory for the log file (mesos-master.log), served as /master/log"),
    F("logbufsecs", NULL, I, "0", "Seconds to buffer log lines"),
    F("logging_level", NULL, S, "INFO", "Lowest severity logged: INFO, WARNING or ERROR"),
    F("master_contender", NULL, S, NULL, "Contender module"),
    F("master_detector", NULL, S, NULL, "Detector module"),
    F("max_agent_ping_timeouts", "max_slave_ping_timeouts", I, "5", "Missed pings before an agent is unreachable"),
    F("max_completed_frameworks", NULL, I, "50", "Completed frameworks kept in memory"),
    F("max_completed_tasks_per_framework", NULL, I, "1000", "Completed tasks kept per framework"),
    F("max_connections", NULL, I, "10000", "mesos_api: concurrent HTTP connections (503 past it)"),
    F("max_operator_event_stream_subscribers", NULL, I, "1000", "Operator SUBSCRIBE streams at once"),
    F("max_request_body_size", NULL, Z, "64MB", "mesos_api: largest request body (413 past it)"),
    F("max_stream_buffer_size", NULL, Z, "16MB", "mesos_api: unsent bytes a stream may queue before it is cut"),
    F("max_unreachable_tasks_per_framework", NULL, I, "1000", "Unreachable tasks kept per framework"),
    F("memory_profiling", NULL, B, "false", "Memory profiling"),
    F("min_allocatable_resources", NULL, S, "cpus:0.01|mem:32", "Smallest resources offered"),
    F("modules", NULL, S, NULL, "Modules (JSON)"),
    F("modules_dir", NULL, S, NULL, "Module directory"),
    F("offer_constraints_re2_max_mem", NULL, Z, "4KB", "RE2 memory limit of offer constraints"),
    F("offer_constraints_re2_max_program_size", NULL, I, "100", "RE2 program size limit"),
    F("offer_timeout", NULL, D, NULL, "Time before an offer is rescinded"),
    F("operator_event_heartbeat_interval", NULL, D, NULL,
      "mesos_api: HEARTBEAT interval of operator SUBSCRIBE streams (upstream's fixed 15secs when unset)"),
    F("port", NULL, I, "5050", "Port to listen on"),
    F("publish_per_framework_metrics", NULL, B, "true", "Publish per-framework metrics"),
    F("quiet", NULL, B, "false", "Log nothing to stderr below ERROR"),
    F("quorum", NULL, S, NULL, "Replicated log quorum"),
    F("rate_limits", NULL, S, NULL, "Framework rate limits (JSON)"),
    F("recovery_agent_removal_limit", "recovery_slave_removal_limit", S, "100%", "Agents removable after failover"),
    F("registry", NULL, S, "replicated_log", "Registry persistence: replicated_log or in_memory"),
    F("registry_fetch_timeout", NULL, D, "1mins", "Registry fetch timeout"),
    F("registry_gc_interval", NULL, D, "15mins", "Registry garbage collection interval"),
    F("registry_max_agent_age", NULL, D, "2weeks", "Age after which removed agents are forgotten"),
    F("registry_max_agent_count", NULL, I, "102400", "Removed agents remembered"),
    F("registry_max_log_size", NULL, Z, "4MB", "mesos_api: compact the registry log into a snapshot past this size"),
    F("registry_store_timeout", NULL, D, "20secs", "Registry store timeout"),
    F("registry_strict", NULL, B, "false", "Strict registry (true is rejected)"),
    F("require_agent_domain", NULL, B, "false", "Agents must have a domain"),
    F("role_sorter", "user_sorter", S, "drf", "Sorter among roles"),
    F("roles", NULL, S, NULL, "Deprecated role whitelist"),
    F("root_submissions", NULL, B, "true", "Root may submit frameworks"),
    F("version", NULL, B, "false", "Print the version and exit"),
    F("webui_dir", NULL, S, "/usr/local/share/mesos/webui", "Web UI directory"),
    F("weights", NULL, S, NULL, "Role weights: role=weight,..."),
    F("whitelist", NULL, S, NULL, "Agent whitelist file"),
    F("work_dir", NULL, S, NULL, "Directory for the registry"),
    F("zk", NULL, S, NULL, "ZooKeeper URL (not supported: standalone only)"),
    F("zk_session_timeout", NULL, D, "10secs", "ZooKeeper session timeout"),
};

static const struct flag agent_flags[] = {
    F("attributes", NULL, S, NULL, "Attributes of this agent: rack:r1;zone:2"),
    F("executor_heartbeat_interval", NULL, D, "30mins", "mesos_api: time between HEARTBEAT events to executors (upstream's fixed value)"),
    F("executor_shutdown_grace_period", NULL, D, "5secs", "Time an executor has to exit after SHUTDOWN before it is killed"),
    F("external_log_file", NULL, S, NULL, "Log file served as /slave/log"),
    F("hostname", NULL, S, NULL, "Hostname to advertise"),
    F("http_heartbeat_interval", NULL, D, "30secs", "Heartbeats on LAUNCH_NESTED_CONTAINER_SESSION and ATTACH_CONTAINER_OUTPUT streams"),
    F("ip", NULL, S, NULL, "IP address to listen on"),
    F("log_dir", NULL, S, NULL, "Directory for the log file (mesos-agent.log)"),
    F("logging_level", NULL, S, "INFO", "Lowest severity logged: INFO, WARNING or ERROR"),
    F("master", NULL, S, NULL, "The master: HOST:PORT"),
    F("max_completed_executors_per_framework", NULL, I, "150", "Completed executors kept in memory per framework"),
    F("port", NULL, I, "5051", "Port to listen on"),
    F("quiet", NULL, B, "false", "Log nothing to stderr below ERROR"),
    F("resources", NULL, S, NULL, "Total resources: cpus:4;mem:4096;disk:10000;ports:[31000-32000] (detected when absent)"),
    F("switch_user", NULL, B, "true", "Run tasks as their user (else as the agent's user)"),
    F("version", NULL, B, "false", "Print the version and exit"),
    F("work_dir", NULL, S, NULL, "Directory for sandboxes and checkpoints (required)"),
};

static struct flag local_flags[] = {
    F("agents", "num_slaves", I, "1", "Number of agents to run"),
    F("ip", NULL, S, "127.0.0.1", "IP address of the master and the agents"),
    F("logging_level", NULL, S, "INFO", "Lowest severity logged: INFO, WARNING or ERROR"),
    F("port", NULL, I, "5050", "Port of the master; agents take the next ports"),
    F("quiet", NULL, B, "false", "Log nothing to stderr below ERROR"),
    F("work_dir", NULL, S, "/tmp/mesos_api-local", "Directory for the master's registry (master/) and the agents' work dirs (agents/N)"),
};
#undef S
#undef B
#undef I
#undef D
#undef Z
#undef F
#define NFLAGS(t) (sizeof t / sizeof *t)

/* ==== main =============================================================== */

static struct loop *main_loop;

static void on_signal(int sig)
{
    (void)sig;
    if (main_loop) loop_stop(main_loop);
}

static void usage(void)
{
    printf("Usage: mesos_api <command> [--flag=value ...]\n\n"
           "Commands:\n"
           "  master     run a Mesos master (v1 operator API on --port, default 5050)\n"
           "  agent      run a Mesos agent that registers with --master=HOST:PORT\n"
           "  local      run a master and --agents=N agents in one process (default 1)\n"
           "  --help     this text; 'mesos_api master --help' lists the master's flags\n"
           "  --version  print the version\n");
}

/* Logging flags shared by every command. Returns 0 or -1. */
static int setup_logging(struct flag *t, size_t n, const char *who)
{
    struct flag *f = flags_find(t, n, "logging_level");
    if (f && f->present) {
        int sev = log_parse_severity(f->str);
        if (sev < 0) {
            fprintf(stderr, "Failed to load flag 'logging_level': '%s' is not one of INFO, WARNING, ERROR\n", f->str);
            return -1;
        }
        log_min_severity = sev;
    }
    f = flags_find(t, n, "quiet");
    if (f && f->i && log_min_severity < LOG_ERROR) log_min_severity = LOG_ERROR;
    const char *file = NULL;
    char path[4096];
    f = flags_find(t, n, "external_log_file");
    if (f && f->present) file = f->str;
    f = flags_find(t, n, "log_dir");
    if (!file && f && f->present) {
        snprintf(path, sizeof path, "%s/mesos-%s.log", f->str, who);
        file = path;
    }
    if (file) {
        int rc = log_open_file(file);
        if (rc < 0) {
            fprintf(stderr, "Failed to open log file '%s': %s\n", file, strerror(-rc));
            return -1;
        }
    }
    return 0;
}

static int run_master(int argc, char **argv)
{
    int help;
    char err[512];
    if (flags_parse(master_flags, NFLAGS(master_flags), argc, argv, 2, &help, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n\nSee 'mesos_api master --help' for the flags.\n", err);
        return 1;
    }
    if (help) { flags_usage(master_flags, NFLAGS(master_flags), "master"); return 0; }
    if (flags_find(master_flags, NFLAGS(master_flags), "version")->i) {
        printf("mesos %s\n", build_version);
        return 0;
    }
    if (flags_find(master_flags, NFLAGS(master_flags), "registry_strict")->i) {
        fprintf(stderr, "Cannot run with --registry_strict; this feature is not supported\n");
        return 1;
    }
    if (setup_logging(master_flags, NFLAGS(master_flags), "master") < 0) return 1;

    main_loop = loop_new();
    struct master *m = master_start(main_loop, master_flags, NFLAGS(master_flags),
                                    master_calls, NFLAGS(master_calls), err);
    if (!m) {
        LOG_ERR("%s", err);
        return 1;
    }
    loop_run(main_loop);
    int rc = m->failed;
    LOG("Master shutting down");
    master_stop(m);
    struct loop *l = main_loop;
    main_loop = NULL;   /* a late signal must not reach a freed loop */
    loop_free(l);
    for (size_t i = 0; i < NFLAGS(master_flags); i++) free(master_flags[i].str);
    return rc ? 1 : 0;
}

/* A private copy of a flag table, so several agents keep their own values. */
static struct flag *copy_flags(const struct flag *t, size_t n)
{
    struct flag *c = xcalloc(n, sizeof *c);
    memcpy(c, t, n * sizeof *c);
    return c;
}

static void free_flags(struct flag *t, size_t n)
{
    for (size_t i = 0; i < n; i++) free(t[i].str);
}

/* The agent shut down on its master's ShutdownMessage: the process exits
 * 0, as upstream's mesos-agent does. */
static void agent_exited(struct agent_proc *a, void *arg)
{
    (void)a;
    loop_stop(arg);
}

/* In `mesos_api local` such an agent stops and the rest runs on, as an
 * agent process of mesos-local terminates on its own. */
static void local_agent_exited(struct agent_proc *a, void *arg)
{
    struct agent_proc **slot = arg;
    agent_stop(a);
    *slot = NULL;
}

static int run_agent(int argc, char **argv)
{
    int help;
    char err[512];
    size_t n = NFLAGS(agent_flags);
    struct flag *fl = copy_flags(agent_flags, n);
    if (flags_parse(fl, n, argc, argv, 2, &help, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n\nSee 'mesos_api agent --help' for the flags.\n", err);
        return 1;
    }
    if (help) { flags_usage(fl, n, "agent"); return 0; }
    if (flags_find(fl, n, "version")->i) { printf("mesos %s\n", build_version); return 0; }
    if (setup_logging(fl, n, "agent") < 0) return 1;
    main_loop = loop_new();
    struct agent_proc *a = agent_start(main_loop, fl, n, agent_calls, NFLAGS(agent_calls), err);
    if (!a) {
        LOG_ERR("%s", err);
        return 1;
    }
    agent_on_exit(a, agent_exited, main_loop);
    loop_run(main_loop);
    LOG("Agent shutting down");
    agent_stop(a);
    struct loop *l = main_loop;
    main_loop = NULL;   /* a late signal must not reach a freed loop */
    loop_free(l);
    free_flags(fl, n);
    free(fl);
    return 0;
}

/* mesos-local: a master and N agents on one loop, with no configuration. */
static int run_local(int argc, char **argv)
{
    int help;
    char err[512];
    if (flags_parse(local_flags, NFLAGS(local_flags), argc, argv, 2, &help, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n\nSee 'mesos_api local --help' for the flags.\n", err);
        return 1;
    }
    if (help) { flags_usage(local_flags, NFLAGS(local_flags), "local"); return 0; }
    if (setup_logging(local_flags, NFLAGS(local_flags), "local") < 0) return 1;
    const char *ip = flags_find(local_flags, NFLAGS(local_flags), "ip")->str;
    int port = (int)flags_find(local_flags, NFLAGS(local_flags), "port")->i;
    int64_t nagents = flags_find(local_flags, NFLAGS(local_flags), "agents")->i;
    const char *wd = flags_find(local_flags, NFLAGS(local_flags), "work_dir")->str;
    if (nagents < 0 || nagents > 64) {
        fprintf(stderr, "--agents must be between 0 and 64\n");
        return 1;
    }
    /* The master gets the local ip/port as if given on its command line,
     * and keeps its registry in <work_dir>/master, as mesos-local does. */
    char a_ip[300], a_port[32], m_wd[1200];
    snprintf(a_ip, sizeof a_ip, "--ip=%s", ip);
    snprintf(a_port, sizeof a_port, "--port=%d", port);
    snprintf(m_wd, sizeof m_wd, "--work_dir=%s/master", wd);
    char *margv[] = { argv[0], "master", a_ip, a_port, m_wd };
    if (flags_parse(master_flags, NFLAGS(master_flags), 5, margv, 2, &help, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    main_loop = loop_new();
    struct master *m = master_start(main_loop, master_flags, NFLAGS(master_flags),
                                    master_calls, NFLAGS(master_calls), err);
    if (!m) { LOG_ERR("%s", err); return 1; }
    size_t n = NFLAGS(agent_flags);
    struct flag **fls = xcalloc((size_t)nagents + 1, sizeof *fls);
    struct agent_proc **agents = xcalloc((size_t)nagents + 1, sizeof *agents);
    for (int64_t i = 0; i < nagents; i++) {
        char f_master[320], f_port[32], f_wd[1200];
        snprintf(f_master, sizeof f_master, "--master=%s:%d", ip, m->port);
        snprintf(f_port, sizeof f_port, "--port=%d", port == 0 ? 0 : port + 1 + (int)i);
        snprintf(f_wd, sizeof f_wd, "--work_dir=%s/agents/%lld", wd, (long long)i);
        char *aargv[] = { argv[0], "agent", f_master, f_port, f_wd, a_ip };
        fls[i] = copy_flags(agent_flags, n);
        if (flags_parse(fls[i], n, 6, aargv, 2, &help, err, sizeof err) < 0 ||
            !(agents[i] = agent_start(main_loop, fls[i], n, agent_calls, NFLAGS(agent_calls), err))) {
            LOG_ERR("agent %lld: %s", (long long)i, err);
            return 1;
        }
        agent_on_exit(agents[i], local_agent_exited, &agents[i]);
    }
    agent_siblings(agents, (size_t)nagents);        /* one reaps children for all (SIGCHLD) */
    loop_run(main_loop);
    int rc = m->failed;
    LOG("Shutting down");
    for (int64_t i = 0; i < nagents; i++) {
        agent_stop(agents[i]);
        free_flags(fls[i], n);
        free(fls[i]);
    }
    free(agents);
    free(fls);
    master_stop(m);
    struct loop *l = main_loop;
    main_loop = NULL;   /* a late signal must not reach a freed loop */
    loop_free(l);
    free_flags(master_flags, NFLAGS(master_flags));
    free_flags(local_flags, NFLAGS(local_flags));
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage();
        return argc < 2 ? 1 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("mesos %s\n", build_version);
        return 0;
    }
    if (strcmp(argv[1], "master") == 0) return run_master(argc, argv);
    if (strcmp(argv[1], "agent") == 0 || strcmp(argv[1], "slave") == 0) return run_agent(argc, argv);
    if (strcmp(argv[1], "local") == 0) return run_local(argc, argv);
    if (strcmp(argv[1], "executor") == 0) return executor_main(argc, argv);
    fprintf(stderr, "Unknown command '%s'\n\n", argv[1]);
    usage();
    return 1;
}
