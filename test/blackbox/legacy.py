"""The v0 endpoints that tools still read (OPERATOR_API.md 1.1, 7.1;
CLIENT_NOTES "Legacy").

GET /health answers 200 with an empty body; GET /metrics/snapshot is one
flat JSON object of doubles with sorted keys (master/elected written as
1.0), and with ?jsonp=cb it is `cb(<json>);` as text/javascript (the web
UI loads it that way); GET /version is a JSON object with the version and
build facts; these work on keep-alive connections alongside /api/v1.
"""
import gzip
import json
import re
from collections import OrderedDict

import client as C
from harness import check, eq, test


@test
def v0_health(srv):
    for path in ("/health", "/master/health"):
        r = C.get(srv.port, path)
        eq(r.status, 200, "status of GET %s" % path)
        eq(r.body, b"", "body of GET %s" % path)
        eq(r.header("Content-Length"), "0", "Content-Length of GET %s" % path)


def snapshot(r):
    eq(r.status, 200, "status")
    eq(r.header("Content-Type"), "application/json", "Content-Type")
    obj = r.json(object_pairs_hook=OrderedDict)
    check(isinstance(obj, dict), "not a JSON object")
    return obj


@test
def v0_metrics_snapshot(srv):
    r = C.get(srv.port, "/metrics/snapshot")
    obj = snapshot(r)
    keys = list(obj.keys())
    eq(keys, sorted(keys, key=lambda s: s.encode()), "key order")
    eq(obj.get("master/elected"), 1.0, "master/elected")
    check(b'"master/elected":1.0' in r.body, "master/elected not written as 1.0")
    check(obj.get("master/uptime_secs", 0) > 0, "master/uptime_secs %r" % obj.get("master/uptime_secs"))
    for k, v in obj.items():
        check(isinstance(v, float), "%s is not a double: %r" % (k, v))
    api = C.call(srv.port, {"type": "GET_METRICS", "get_metrics": {}})["get_metrics"]["metrics"]
    eq(sorted(keys), sorted(m["name"] for m in api), "key set vs GET_METRICS")


@test
def v0_metrics_snapshot_jsonp(srv):
    r = C.get(srv.port, "/metrics/snapshot?jsonp=cb")
    eq(r.status, 200, "status")
    eq(r.header("Content-Type"), "text/javascript", "Content-Type")
    m = re.match(rb"^cb\((.*)\);$", r.body, re.S)
    check(m, "body is not cb(...);: %r" % r.body[:80])
    obj = json.loads(m.group(1))
    eq(obj.get("master/elected"), 1.0, "master/elected")


@test
def v0_metrics_snapshot_timeout_param(srv):
    obj = snapshot(C.get(srv.port, "/metrics/snapshot?timeout=5secs"))
    eq(obj.get("master/elected"), 1.0, "master/elected")


@test
def v0_version(srv):
    r = C.get(srv.port, "/version")
    eq(r.status, 200, "status")
    eq(r.header("Content-Type"), "application/json", "Content-Type")
    obj = r.json()
    eq(obj.get("version"), "1.12.0", "version")
    for k in ("build_date", "build_time", "build_user"):
        check(k in obj, "%s missing: %r" % (k, obj))
    api = C.call(srv.port, {"type": "GET_VERSION"})["get_version"]["version_info"]
    eq(obj.get("build_time"), api.get("build_time"), "build_time vs GET_VERSION")


@test
def v0_and_v1_on_one_connection(srv):
    with C.Conn(srv.port) as c:
        c.request("GET", "/health")
        eq(c.read_response().status, 200, "GET /health")
        c.request("POST", "/api/v1", [("Content-Type", "application/json")], b'{"type":"GET_HEALTH"}')
        eq(c.read_response().status, 200, "POST /api/v1")
        c.request("GET", "/metrics/snapshot", [("Accept-Encoding", "gzip")])
        r = c.read_response()
        eq(r.status, 200, "GET /metrics/snapshot")
        plain = C.get(srv.port, "/metrics/snapshot")
        check(len(plain.body) >= 1024, "snapshot is only %d bytes" % len(plain.body))
        eq(r.header("Content-Encoding"), "gzip", "Content-Encoding of the snapshot with Accept-Encoding: gzip")
        check(gzip.decompress(r.body).startswith(b'{"'), "not a gzip'd JSON object")
        c.request("GET", "/version")
        eq(c.read_response().status, 200, "GET /version")
