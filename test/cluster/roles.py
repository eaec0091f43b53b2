#!/usr/bin/python3
"""Roles and quota end to end: multi-role frameworks, hierarchical roles,
per-role SUPPRESS/REVIVE and suppressed_roles, GET_ROLES, GET_QUOTA,
UPDATE_QUOTA (validation, force, capacity), SET_QUOTA/REMOVE_QUOTA, and
what quota guarantees and limits do to offers. Real master and agent
processes on loopback, a scheduler on the v1 HTTP API; operator answers
checked in JSON and protobuf. Ends with "N passed, N failed".

Usage: test/cluster/roles.py ./mesos_api
"""
import time

from sched_lib import Scheduler, cluster_test, op, op_pb, poll, report, scalars

MULTI = [{"type": "MULTI_ROLE"}, {"type": "PARTITION_AWARE"}]


def fw(name, roles):
    return {"user": "root", "name": name, "roles": roles, "capabilities": MULTI}


@cluster_test(["--allocation_interval=50ms"], ["cpus:4;mem:1024;disk:1000"])
def multi_role_offers_hierarchical_roles_and_per_role_suppress(c):
    s = Scheduler(c.port, fw("multi", ["a", "b/c"]))
    roles = set()
    deadline = time.time() + 20
    while roles != {"a", "b/c"} and time.time() < deadline:
        for o in s.offers():
            role = o["allocation_info"]["role"]
            assert all(r["allocation_info"]["role"] == role for r in o["resources"]), o
            roles.add(role)
            if role == "b/c" and "bc" not in s.__dict__:
                s.bc = True
                s.run(o, "in-bc", cpus=1, mem=128)
            else:
                s.decline([o], refuse=0)
    assert roles == {"a", "b/c"}, roles
    # Suppress "a": offers keep coming for b/c only.
    s.call({"type": "SUPPRESS", "suppress": {"roles": ["a"]}})
    for o in s.drain("OFFERS"):
        s.decline(o["offers"]["offers"], refuse=0)
    time.sleep(0.3)
    for o in s.drain("OFFERS"):
        s.decline(o["offers"]["offers"], refuse=0)
    got = set()
    end = time.time() + 2
    while time.time() < end:
        try:
            for o in s.offers(timeout=0.5):
                got.add(o["allocation_info"]["role"])
                s.decline([o], refuse=0)
        except AssertionError:
            pass
    assert got == {"b/c"}, got
    # A role the framework is not in: the call is dropped (202, no effect).
    s.call({"type": "SUPPRESS", "suppress": {"roles": ["zzz"]}})
    # Suppress everything, then GET_ROLES shows exactly the task.
    s.call({"type": "SUPPRESS"})
    time.sleep(0.3)
    for o in s.drain("OFFERS"):
        s.decline(o["offers"]["offers"], refuse=0)
    poll(lambda: op(c.port, {"type": "GET_FRAMEWORKS"})["get_frameworks"]["frameworks"][0].get("offers") is None, 10,
         "offers to go")
    for get in (op, op_pb):
        rs = get(c.port, {"type": "GET_ROLES"})["get_roles"]["roles"]
        by = {r["name"]: r for r in rs}
        assert sorted(by) == ["a", "b", "b/c"], rs
        assert [f["value"] for f in by["b/c"]["frameworks"]] == [s.id] and "frameworks" not in by["b"], rs
        assert scalars(by["b/c"]["resources"]) == {"cpus": 1.0, "mem": 128.0}, by["b/c"]
        assert scalars(by["b"]["resources"]) == {"cpus": 1.0, "mem": 128.0}, by["b"]     # the parent counts it
        assert "resources" not in by["a"] and by["a"]["weight"] == 1.0, by["a"]
    # REVIVE "a": offers for a again.
    s.call({"type": "REVIVE", "revive": {"roles": ["a"]}})
    o = s.offers(timeout=10)[0]
    assert o["allocation_info"]["role"] == "a", o
    # UPDATE_FRAMEWORK: suppressed_roles replaces the set.
    info = dict(fw("multi", ["a", "b/c"]), id={"value": s.id})
    s.call({"type": "UPDATE_FRAMEWORK", "update_framework": {"framework_info": info, "suppressed_roles": ["a", "b/c"]}},
           expect=200)
    text = s.call({"type": "UPDATE_FRAMEWORK", "update_framework": {"framework_info": info,
                                                                    "suppressed_roles": ["x"]}}, expect=400)
    assert text == "'UpdateFramework' call is not valid: Suppressed roles { x } are not contained in the set of roles", text
    bad = dict(info, role="r")
    text = s.call({"type": "UPDATE_FRAMEWORK", "update_framework": {"framework_info": bad}}, expect=400)
    assert text == ("Supplied FrameworkInfo is not valid: 'FrameworkInfo.role' must not be set when the framework "
                    "is MULTI_ROLE capable"), text
    s.close()
    # SUBSCRIBE with invalid roles: an ERROR event.
    e = Scheduler(c.port, {"user": "root", "name": "x", "roles": ["a"]}, expect_error=True)
    assert e.error == "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable", e.error
    e.close()
    e = Scheduler(c.port, fw("x", ["a", "a"]), expect_error=True)
    assert e.error == "'FrameworkInfo.roles' contains duplicate items: { a }", e.error
    e.close()
    e = Scheduler(c.port, fw("x", ["a"]), suppressed=["b"], expect_error=True)
    assert e.error == "Suppressed roles { b } are not contained in the set of roles", e.error
    e.close()


@cluster_test(["--allocation_interval=50ms"], ["cpus:2;mem:1024;disk:1000", "cpus:2;mem:1024;disk:1000"])
def quota_calls_validation_and_capacity(c):
    p = c.port
    cap = "cpus:4; disk:2000; mem:2048"
    text = op(p, {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
        {"role": "q", "guarantees": {"cpus": {"value": 8}}}]}}, expect=400)
    assert text == ("Invalid QuotaConfig: total quota guarantees 'cpus:8' exceed cluster capacity '%s' "
                    "(use 'force' flag to bypass this check)" % cap), text
    cases = [
        ({"role": "a/b", "limits": {"cpus": {"value": 1}}}, "Updating quota on nested role 'a/b' is not supported yet"),
        ({"role": "q", "guarantees": {"cpus": {"value": 2}}, "limits": {"cpus": {"value": 1}}},
         "Invalid QuotaConfig: 'QuotaConfig.guarantees' { cpus: 2 } is not contained within the "
         "'QuotaConfig.limits' { cpus: 1 }"),
        ({"role": "q", "limits": {"cpus": {"value": -1}}},
         "Invalid QuotaConfig: Invalid limit configuration {'cpus': -1}: Negative values not supported"),
        ({"role": "q", "guarantees": {"mem": {"value": 2e12}}},
         "Invalid QuotaConfig: Invalid 'QuotaConfig.guarantees': {'mem': 2000000000000} is invalid: values greater "
         "than 1 exabyte (1099511627776) are not supported"),
        ({"role": ".", "limits": {"cpus": {"value": 1}}},
         "Invalid QuotaConfig: Invalid 'QuotaConfig.role': Role '.' cannot include '.' as a component"),
    ]
    for cfg, want in cases:
        text = op(p, {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [cfg]}}, expect=400)
        assert text == want, (text, want)
    # force bypasses the capacity check; the role then has a quota.
    op(p, {"type": "UPDATE_QUOTA", "update_quota": {"force": True, "quota_configs": [
        {"role": "q", "guarantees": {"cpus": {"value": 8}}, "limits": {"cpus": {"value": 10}, "mem": {"value": 512}}}]}})
    for get in (op, op_pb):
        st = get(p, {"type": "GET_QUOTA"})["get_quota"]["status"]
        assert st["configs"] == [{"role": "q", "guarantees": {"cpus": {"value": 8.0}},
                                  "limits": {"cpus": {"value": 10.0}, "mem": {"value": 512.0}}}], st
        assert st["infos"] == [{"role": "q", "guarantee": [{"name": "cpus", "type": "SCALAR",
                                                              "scalar": {"value": 8.0}}]}], st
    roles = op(p, {"type": "GET_ROLES"})["get_roles"]["roles"]
    assert [r["name"] for r in roles] == ["q"], roles
    # An empty config resets the role.
    op(p, {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [{"role": "q"}]}})
    assert op(p, {"type": "GET_QUOTA"}) == {"type": "GET_QUOTA", "get_quota": {"status": {}}}
    # The deprecated calls.
    req = {"type": "SET_QUOTA", "set_quota": {"quota_request": {"role": "old", "guarantee": [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]}}}
    op(p, req)
    st = op_pb(p, {"type": "GET_QUOTA"})["get_quota"]["status"]
    assert st["configs"] == [{"role": "old", "guarantees": {"cpus": {"value": 1.0}},
                              "limits": {"cpus": {"value": 1.0}}}], st
    text = op(p, req, expect=400)
    assert text == "Failed to validate set quota request: Cannot set quota for role 'old' which already has quota", text
    big = {"type": "SET_QUOTA", "set_quota": {"quota_request": {"role": "big", "guarantee": [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 4}}]}}}
    text = op(p, big, expect=409)
    assert text == ("Quota guarantees overcommit the cluster (use 'force' to bypass this check): Total quota "
                    "guarantees 'cpus:5' exceed cluster capacity '%s'" % cap), text
    dup = {"type": "SET_QUOTA", "set_quota": {"quota_request": {"role": "d", "guarantee": [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}},
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]}}}
    text = op(p, dup, expect=400)
    assert text == "Failed to validate set quota request: QuotaInfo contains duplicate resource name 'cpus'", text
    op(p, {"type": "REMOVE_QUOTA", "remove_quota": {"role": "old"}})
    text = op(p, {"type": "REMOVE_QUOTA", "remove_quota": {"role": "old"}}, expect=400)
    assert text == "Failed to remove quota: Role 'old' has no quota set", text


@cluster_test(["--allocation_interval=50ms"], ["cpus:2;mem:1024;disk:1000", "cpus:2;mem:1024;disk:1000"])
def quota_limit_caps_offers(c):
    op(c.port, {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
        {"role": "lim", "limits": {"cpus": {"value": 1.5}}}]}})
    s = Scheduler(c.port, fw("limited", ["lim"]))
    time.sleep(1.5)
    offers = [o for e in s.drain("OFFERS") for o in e["offers"]["offers"]]
    total = sum(scalars(o["resources"]).get("cpus", 0) for o in offers)
    assert total == 1.5, (total, [scalars(o["resources"]) for o in offers])
    assert sum(scalars(o["resources"]).get("mem", 0) for o in offers) == 2048, offers   # mem is not limited
    # A limit below what the role already holds needs force.
    o = [o for o in offers if scalars(o["resources"]).get("cpus", 0) >= 1][0]
    s.run(o, "t1", cpus=1, mem=64)
    text = op(c.port, {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
        {"role": "lim", "limits": {"cpus": {"value": 0.5}}}]}}, expect=400)
    assert text.startswith("Invalid QuotaConfig: Role 'lim' is already consuming 'cpus:1; mem:64") and \
        text.endswith("this is more than the requested limits 'cpus:0.5' (use 'force' flag to bypass this check)"), text
    op(c.port, {"type": "UPDATE_QUOTA", "update_quota": {"force": True, "quota_configs": [
        {"role": "lim", "limits": {"cpus": {"value": 0.5}}}]}})
    # Over its limit now: offers without cpus at all.
    s.drain("OFFERS")
    time.sleep(1)
    offers = [o for e in s.drain("OFFERS") for o in e["offers"]["offers"]]
    assert offers and all("cpus" not in scalars(o["resources"]) for o in offers), offers
    s.close()


@cluster_test(["--allocation_interval=50ms"], ["cpus:2;mem:1024;disk:1000", "cpus:2;mem:1024;disk:1000"])
def quota_guarantee_is_held_back_then_goes_to_its_role(c):
    op(c.port, {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
        {"role": "g", "guarantees": {"cpus": {"value": 3}}}]}})
    other = Scheduler(c.port, fw("other", ["other"]))
    time.sleep(1.5)
    offers = [o for e in other.drain("OFFERS") for o in e["offers"]["offers"]]
    cpus = sum(scalars(o["resources"]).get("cpus", 0) for o in offers)
    assert cpus == 1.0, (cpus, [scalars(o["resources"]) for o in offers])   # 3 of 4 held back for "g"
    g = Scheduler(c.port, fw("guaranteed", ["g"]))
    time.sleep(1.5)
    got = [o for e in g.drain("OFFERS") for o in e["offers"]["offers"]]
    assert sum(scalars(o["resources"]).get("cpus", 0) for o in got) == 3.0, [scalars(o["resources"]) for o in got]
    assert all(o["allocation_info"]["role"] == "g" for o in got)
    m = op(c.port, {"type": "GET_METRICS", "get_metrics": {}})["get_metrics"]["metrics"]
    by = {x["name"]: x.get("value") for x in m}
    assert by["allocator/mesos/quota/roles/g/resources/cpus/guarantee"] == 3.0, by
    assert by["allocator/mesos/quota/roles/g/resources/cpus/offered_or_allocated"] == 3.0, by
    assert by["allocator/mesos/allocation_runs"] > 0 and "allocator/mesos/allocation_run_ms" in by, by
    assert by["allocator/mesos/resources/cpus/total"] == 4.0
    other.close()
    g.close()


report()
