"""The operator calls, in JSON and in protobuf (OPERATOR_API.md 2.2, 4, 7).

GET_HEALTH, GET_VERSION, GET_FLAGS, GET_METRICS, GET_LOGGING_LEVEL,
SET_LOGGING_LEVEL and GET_MASTER, each checked for real values: the exact
GET_HEALTH bytes and headers, the Date format, flag values and their
sorting, the environment and alias rules of GET_FLAGS, doubles written
with ".0", the logging level reverting after its duration, MasterInfo's
integer IP. The protobuf tests send binary Calls and decode binary
Responses with classes generated from the upstream .proto files (see
protos.py), and compare them with the JSON answers. JSON key order is
checked against .proto declaration order where the spec makes it matter
(4.1).
"""
import calendar
import json
import re
import time
from collections import OrderedDict

import client as C
import protos
from harness import check, eq, test

VERSION = "1.12.0"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DATE_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                     r"\d{4} \d\d:\d\d:\d\d GMT$")


def ordered(resp):
    return resp.json(object_pairs_hook=OrderedDict)


def check_key_order(obj, declared, what):
    keys = list(obj.keys())
    known = [k for k in keys if k in declared]
    eq(known, [k for k in declared if k in keys], "key order of %s" % what)


def check_date(resp):
    d = resp.header("Date")
    check(d is not None, "no Date header")
    check(DATE_RE.match(d), "Date %r is not in '%%a, %%d %%b %%Y %%H:%%M:%%S GMT' format" % d)
    t = calendar.timegm(time.strptime(d, "%a, %d %b %Y %H:%M:%S GMT"))
    check(abs(t - time.time()) < 120, "Date %r is not now" % d)


def proto_call(port, type_name, accept=C.PROTO, **sub):
    r = C.post(port, protos.call_bytes(type_name, **sub), ctype=C.PROTO, accept=accept)
    eq(r.status, 200, "status of protobuf %s (body %r)" % (type_name, r.body[:200]))
    if accept == C.PROTO:
        eq(r.header("Content-Type"), C.PROTO, "Content-Type")
        resp = protos.parse_response(r.body)
        eq(protos.Response.Type.Name(resp.type), type_name, "Response.type")
        return resp
    return r


def flags_of(port):
    body = C.call(port, {"type": "GET_FLAGS"})
    eq(body["type"], "GET_FLAGS", "type")
    return body["get_flags"]["flags"]


def flags_dict(flags):
    return {f["name"]: f.get("value") for f in flags}


# ---- GET_HEALTH -------------------------------------------------------------

@test
def get_health_json_exact(srv):
    r = C.post(srv.port, b'{"type":"GET_HEALTH"}')
    eq(r.status, 200, "status")
    eq(r.version, "HTTP/1.1", "version")
    eq(r.reason, "OK", "reason phrase")
    eq(r.body, b'{"type":"GET_HEALTH","get_health":{"healthy":true}}', "body")
    eq(r.all("Content-Type"), ["application/json"], "Content-Type")
    eq(r.header("Content-Length"), "51", "Content-Length")
    check_date(r)


@test
def get_health_protobuf(srv):
    resp = proto_call(srv.port, "GET_HEALTH")
    check(resp.HasField("get_health"), "no get_health")
    eq(resp.get_health.healthy, True, "healthy")
    eq(resp.SerializeToString(), b"\x08\x01\x12\x02\x08\x01", "wire bytes (tag order)")


@test
def get_health_protobuf_in_json_out(srv):
    r = proto_call(srv.port, "GET_HEALTH", accept=None)
    eq(r.header("Content-Type"), "application/json", "Content-Type without Accept")
    eq(r.body, b'{"type":"GET_HEALTH","get_health":{"healthy":true}}', "body")


@test
def get_health_json_in_protobuf_out(srv):
    r = C.post(srv.port, {"type": "GET_HEALTH"}, accept=C.PROTO)
    eq(r.status, 200, "status")
    eq(r.header("Content-Type"), C.PROTO, "Content-Type")
    eq(r.body, b"\x08\x01\x12\x02\x08\x01", "body")


# ---- GET_VERSION ------------------------------------------------------------

VERSION_KEYS = ["version", "build_date", "build_time", "build_user", "git_sha", "git_branch", "git_tag"]


@test
def get_version_json(srv):
    r = C.post(srv.port, {"type": "GET_VERSION"})
    eq(r.status, 200, "status")
    eq(r.header("Content-Type"), "application/json", "Content-Type")
    body = ordered(r)
    eq(list(body.keys()), ["type", "get_version"], "top-level keys")
    eq(body["type"], "GET_VERSION", "type")
    vi = body["get_version"]["version_info"]
    eq(vi.get("version"), VERSION, "version")
    for k in ("build_date", "build_time", "build_user"):
        check(k in vi, "version_info has no %s: %r" % (k, vi))
    check(isinstance(vi["build_date"], str) and vi["build_date"], "build_date %r" % vi.get("build_date"))
    check(isinstance(vi["build_user"], str), "build_user %r" % vi.get("build_user"))
    check(isinstance(vi["build_time"], float), "build_time is not a JSON double: %r" % vi["build_time"])
    check(re.search(rb'"build_time":\d+\.\d+[,}]', r.body), "build_time not written like 1700000000.0: %r" % r.body)
    check(vi["build_time"] > 1e9, "build_time %r is not epoch seconds" % vi["build_time"])
    check_key_order(vi, VERSION_KEYS, "version_info")


@test
def get_version_protobuf(srv):
    resp = proto_call(srv.port, "GET_VERSION")
    vi = resp.get_version.version_info
    eq(vi.version, VERSION, "version")
    check(vi.HasField("build_date") and vi.HasField("build_time") and vi.HasField("build_user"),
          "build_* missing: %s" % vi)
    js = C.call(srv.port, {"type": "GET_VERSION"})["get_version"]["version_info"]
    eq(vi.build_time, js["build_time"], "build_time in protobuf vs JSON")
    eq(vi.build_date, js["build_date"], "build_date in protobuf vs JSON")


# ---- GET_FLAGS --------------------------------------------------------------

# Upstream defaults (OPERATOR_API.md 7.2) for flags this master must report.
DEFAULT_FLAGS = {
    "agent_ping_timeout": "15secs",
    "agent_reregister_timeout": "10mins",
    "allocation_interval": "1secs",
    "allocator": "hierarchical",
    "authenticate_agents": "false",
    "authenticate_frameworks": "false",
    "authenticate_http_frameworks": "false",
    "authenticate_http_readonly": "false",
    "authenticate_http_readwrite": "false",
    "logging_level": "INFO",
    "max_agent_ping_timeouts": "5",
    "max_completed_frameworks": "50",
    "max_completed_tasks_per_framework": "1000",
    "max_operator_event_stream_subscribers": "1000",
    "quiet": "false",
    "version": "false",
    "zk_session_timeout": "10secs",
    "registry_max_agent_age": "2weeks",
    "recovery_agent_removal_limit": "100%",
    "offer_constraints_re2_max_mem": "4KB",
}


@test(port="fixed")
def get_flags_json_defaults(srv):
    flags = flags_of(srv.port)
    names = [f["name"] for f in flags]
    eq(names, sorted(names, key=lambda s: s.encode()), "flag order (byte order by name)")
    eq(len(names), len(set(names)), "number of distinct flag names")
    for f in flags:
        check(set(f) <= {"name", "value"}, "flag entry %r" % f)
        check(isinstance(f.get("value", ""), str), "flag value is not a string: %r" % f)
    d = flags_dict(flags)
    eq(d.get("port"), str(srv.port), "port")
    eq(d.get("ip"), "127.0.0.1", "ip")
    for k, v in DEFAULT_FLAGS.items():
        eq(d.get(k), v, "flag %s" % k)
    for k in ("cluster", "zk", "slave_ping_timeout", "hostname"):
        check(k not in d, "unset flag %s is listed: %r" % (k, d.get(k)))


@test(env={"MESOS_CLUSTER": "xyz"}, flags=["--slave_ping_timeout=30secs"])
def get_flags_env_and_alias(srv):
    d = flags_dict(flags_of(srv.port))
    eq(d.get("cluster"), "xyz", "cluster from MESOS_CLUSTER")
    eq(d.get("slave_ping_timeout"), "30secs", "flag given by its alias slave_ping_timeout")
    check("agent_ping_timeout" not in d,
          "agent_ping_timeout listed (%r) although it was set through its alias" % d.get("agent_ping_timeout"))


@test(env={"MESOS_ALLOCATION_INTERVAL": "5secs", "MESOS_LOGGING_LEVEL": "WARNING"},
      flags=["--allocation_interval=2secs"], port="fixed")
def get_flags_command_line_beats_environment(srv):
    d = flags_dict(flags_of(srv.port))
    eq(d.get("allocation_interval"), "2secs", "allocation_interval (command line wins)")
    eq(d.get("logging_level"), "WARNING", "logging_level from the environment")


@test
def get_flags_protobuf_matches_json(srv):
    resp = proto_call(srv.port, "GET_FLAGS")
    pb = [(f.name, f.value if f.HasField("value") else None) for f in resp.get_flags.flags]
    js = [(f["name"], f.get("value")) for f in flags_of(srv.port)]
    eq(pb, js, "flags in protobuf vs JSON")


# ---- GET_METRICS ------------------------------------------------------------

STARRED = ["master/uptime_secs", "master/elected", "master/slaves_connected", "master/slaves_disconnected",
           "master/slaves_active", "master/slaves_inactive", "master/frameworks_connected",
           "master/frameworks_disconnected", "master/frameworks_active", "master/frameworks_inactive",
           "master/outstanding_offers", "master/tasks_staging", "master/tasks_starting", "master/tasks_running",
           "master/tasks_killing", "master/tasks_unreachable", "master/tasks_finished", "master/tasks_failed",
           "master/tasks_killed", "master/tasks_lost", "master/tasks_error",
           "master/operator_event_stream_subscribers"] + \
          ["master/%s_%s" % (r, k) for r in ("cpus", "gpus", "mem", "disk") for k in ("total", "used", "percent")]


@test
def get_metrics_requires_sub_message(srv):
    r = C.post(srv.port, {"type": "GET_METRICS"})
    eq(r.status, 400, "status")
    eq(r.text, "Failed to validate master::Call: Expecting 'get_metrics' to be present", "body")
    eq(r.header("Content-Type"), "text/plain; charset=utf-8", "Content-Type")


@test
def get_metrics_json(srv):
    time.sleep(0.05)
    r = C.post(srv.port, {"type": "GET_METRICS", "get_metrics": {}})
    eq(r.status, 200, "status")
    body = r.json()
    eq(body["type"], "GET_METRICS", "type")
    metrics = body["get_metrics"]["metrics"]
    names = [m["name"] for m in metrics]
    eq(names, sorted(names, key=lambda s: s.encode()), "metric order (sorted by name)")
    eq(len(names), len(set(names)), "number of distinct metric names")
    vals = {m["name"]: m.get("value") for m in metrics}
    for k in STARRED:
        check(k in vals, "metric %s missing" % k)
    for m in metrics:
        check(isinstance(m.get("value"), float), "metric value is not a JSON double: %r" % m)
    check(vals["master/uptime_secs"] > 0, "master/uptime_secs = %r" % vals["master/uptime_secs"])
    eq(vals["master/elected"], 1.0, "master/elected")
    check(b'{"name":"master/elected","value":1.0}' in r.body,
          "master/elected not written as 1.0: %r" % re.findall(rb'\{"name":"master/elected"[^}]*\}', r.body))
    check(b'"value":0,' not in r.body and b'"value":0}' not in r.body, "an integral value without .0")


@test
def get_metrics_with_timeout_and_string_number(srv):
    body = C.call(srv.port, {"type": "GET_METRICS", "get_metrics": {"timeout": {"nanoseconds": "5000000000"}}})
    names = [m["name"] for m in body["get_metrics"]["metrics"]]
    check("master/elected" in names, "master/elected missing with a timeout")


@test
def get_metrics_protobuf(srv):
    resp = proto_call(srv.port, "GET_METRICS", get_metrics={})
    vals = {m.name: m.value for m in resp.get_metrics.metrics}
    eq(vals.get("master/elected"), 1.0, "master/elected")
    check(vals.get("master/uptime_secs", 0) > 0, "master/uptime_secs %r" % vals.get("master/uptime_secs"))
    js = C.call(srv.port, {"type": "GET_METRICS", "get_metrics": {}})
    eq([m.name for m in resp.get_metrics.metrics], [m["name"] for m in js["get_metrics"]["metrics"]],
       "metric names in protobuf vs JSON")


# ---- GET_LOGGING_LEVEL / SET_LOGGING_LEVEL ---------------------------------

def level(port):
    body = C.call(port, {"type": "GET_LOGGING_LEVEL"})
    eq(body["type"], "GET_LOGGING_LEVEL", "type")
    return body["get_logging_level"]["level"]


@test
def get_logging_level_is_0(srv):
    r = C.post(srv.port, {"type": "GET_LOGGING_LEVEL"})
    eq(r.status, 200, "status")
    eq(r.body, b'{"type":"GET_LOGGING_LEVEL","get_logging_level":{"level":0}}', "body")
    resp = proto_call(srv.port, "GET_LOGGING_LEVEL")
    eq(resp.get_logging_level.level, 0, "protobuf level")


@test(flags=[])
def set_logging_level_and_revert(srv):
    r = C.post(srv.port, {"type": "SET_LOGGING_LEVEL",
                          "set_logging_level": {"level": 1, "duration": {"nanoseconds": 1000000000}}})
    t0 = time.time()
    eq(r.status, 200, "status (upstream answers 200, not 202)")
    eq(r.body, b"", "body")
    eq(r.header("Content-Type"), None, "Content-Type")
    eq(r.header("Content-Length"), "0", "Content-Length")
    eq(level(srv.port), 1, "level just after SET_LOGGING_LEVEL")
    while level(srv.port) != 0:
        check(time.time() - t0 < 4.0, "level did not revert within 4 s of a 1 s duration")
        time.sleep(0.1)
    took = time.time() - t0
    check(took > 0.7, "level reverted after %.2f s, before the 1 s duration" % took)


@test(flags=[])
def set_logging_level_protobuf(srv):
    body = protos.call_bytes("SET_LOGGING_LEVEL", set_logging_level=dict(level=2, duration=dict(nanoseconds=60 * 10**9)))
    r = C.post(srv.port, body, ctype=C.PROTO, accept=C.PROTO)
    eq(r.status, 200, "status")
    eq(r.body, b"", "body")
    eq(r.header("Content-Type"), None, "Content-Type")
    eq(level(srv.port), 2, "level")


@test
def set_logging_level_missing_duration(srv):
    r = C.post(srv.port, {"type": "SET_LOGGING_LEVEL", "set_logging_level": {"level": 1}})
    eq(r.status, 400, "status")
    eq(r.text, "Failed to convert JSON into Call protobuf: Missing required fields: set_logging_level.duration",
       "body")
    r = C.post(srv.port, {"type": "SET_LOGGING_LEVEL", "set_logging_level": {}})
    eq(r.status, 400, "status")
    eq(r.text, "Failed to convert JSON into Call protobuf: Missing required fields: "
               "set_logging_level.level, set_logging_level.duration", "body with both fields missing")
    r = C.post(srv.port, {"type": "SET_LOGGING_LEVEL"})
    eq(r.status, 400, "status without the sub-message")
    eq(level(srv.port), 0, "level after rejected calls")


@test
def set_logging_level_protobuf_missing_required(srv):
    body = protos.call_bytes("SET_LOGGING_LEVEL", partial=True, set_logging_level=dict(level=1))
    r = C.post(srv.port, body, ctype=C.PROTO, accept=C.PROTO)
    eq(r.status, 400, "status")
    eq(r.text, "Failed to parse body into Call protobuf", "body")


# ---- GET_MASTER -------------------------------------------------------------

MASTER_INFO_KEYS = ["id", "ip", "port", "pid", "hostname", "version", "address", "domain", "capabilities"]


@test
def get_master_json(srv):
    r = C.post(srv.port, {"type": "GET_MASTER"})
    now = time.time()
    eq(r.status, 200, "status")
    body = ordered(r)
    eq(body["type"], "GET_MASTER", "type")
    gm = body["get_master"]
    mi = gm["master_info"]
    check_key_order(mi, MASTER_INFO_KEYS, "master_info")
    check(UUID_RE.match(mi.get("id", "")), "id is not a UUID: %r" % mi.get("id"))
    eq(mi.get("ip"), 16777343, "ip (127.0.0.1 in network byte order)")
    eq(mi.get("port"), srv.port, "port")
    eq(mi.get("pid"), "master@127.0.0.1:%d" % srv.port, "pid")
    eq(mi.get("version"), VERSION, "version")
    check(isinstance(mi.get("hostname"), str) and mi["hostname"], "hostname %r" % mi.get("hostname"))
    addr = mi.get("address", {})
    eq(addr.get("ip"), "127.0.0.1", "address.ip")
    eq(addr.get("port"), srv.port, "address.port")
    caps = [c.get("type") for c in mi.get("capabilities", [])]
    for cap in ("AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"):
        check(cap in caps, "capability %s missing: %r" % (cap, caps))
    st = gm.get("start_time")
    check(isinstance(st, float), "start_time is not a double: %r" % st)
    check(now - 120 < st <= now + 1, "start_time %r is not close to now %r" % (st, now))
    et = gm.get("elected_time")
    check(isinstance(et, float) and st - 1 <= et <= now + 1, "elected_time %r (start_time %r)" % (et, st))
    check(srv.wait_log(re.escape(mi["id"]), 1), "master id %s is not the one it logged" % mi["id"])


@test
def get_master_protobuf(srv):
    resp = proto_call(srv.port, "GET_MASTER")
    mi = resp.get_master.master_info
    js = C.call(srv.port, {"type": "GET_MASTER"})["get_master"]
    eq(mi.id, js["master_info"]["id"], "id in protobuf vs JSON")
    eq(mi.ip, 16777343, "ip")
    eq(mi.port, srv.port, "port")
    eq(mi.pid, "master@127.0.0.1:%d" % srv.port, "pid")
    eq(mi.address.ip, "127.0.0.1", "address.ip")
    eq(resp.get_master.start_time, js["start_time"], "start_time in protobuf vs JSON")


@test
def get_master_is_stable(srv):
    a = C.call(srv.port, {"type": "GET_MASTER"})["get_master"]
    b = C.call(srv.port, {"type": "GET_MASTER"})["get_master"]
    eq(b["master_info"], a["master_info"], "master_info on a second call")
    eq(b["start_time"], a["start_time"], "start_time on a second call")


@test
def json_key_order_and_compact_layout(srv):
    r = C.post(srv.port, {"type": "GET_MASTER"})
    check(b", " not in r.body and b": " not in r.body and b"\n" not in r.body, "JSON is not compact: %r" % r.body[:200])
    eq(json.loads(r.body)["type"], "GET_MASTER", "type")
