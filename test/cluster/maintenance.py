#!/usr/bin/python3
"""Maintenance and the operator's agent calls end to end: schedules and
their validation, inverse offers and the framework's answers in
GET_MAINTENANCE_STATUS, START_MAINTENANCE (agent DOWN, its tasks gone, it
may not register) and STOP_MAINTENANCE, DRAIN_AGENT (tasks killed, DRAINED),
DEACTIVATE_AGENT / REACTIVATE_AGENT, MARK_AGENT_GONE (the agent can never
come back) and the operator TEARDOWN. Real master and agent processes on
loopback, a scheduler on the v1 HTTP API; answers checked in JSON and
protobuf. Ends with "N passed, N failed".

Usage: test/cluster/maintenance.py ./mesos_api
"""
import time

from sched_lib import Scheduler, cluster_test, op, op_pb, poll, report

INFO = {"user": "root", "name": "maint", "capabilities": [{"type": "PARTITION_AWARE"}]}
ONE = ["cpus:2;mem:1024;disk:1000"]


def agent(c, i=0):
    return op(c.port, {"type": "GET_AGENTS"})["get_agents"]["agents"][i]


def machine(a):
    return {"hostname": a["agent_info"]["hostname"], "ip": "127.0.0.1"}


def window(machines, start_s=None, duration_s=3600):
    start = int((start_s if start_s is not None else time.time() + 60) * 1e9)
    return {"machine_ids": machines, "unavailability": {"start": {"nanoseconds": start},
                                                        "duration": {"nanoseconds": int(duration_s * 1e9)}}}


def schedule(c, windows, expect=200):
    return op(c.port, {"type": "UPDATE_MAINTENANCE_SCHEDULE",
                       "update_maintenance_schedule": {"schedule": {"windows": windows}}}, expect)


@cluster_test(["--allocation_interval=50ms"], ONE)
def schedule_validation(c):
    a = agent(c)
    cases = [
        ([{"machine_ids": [], "unavailability": {"start": {"nanoseconds": 1}}}],
         "List of machines in the maintenance window is empty"),
        ([window([machine(a)], duration_s=-1)], "Unavailability 'duration' is negative"),
        ([window([{"hostname": ""}])], "Both 'hostname' and 'ip' for a machine are empty"),
        ([window([{"ip": "300.1.1.1"}])], "Failed to parse IPv4: 300.1.1.1"),
        ([window([{"hostname": "h", "ip": "10.0.0.1"}]), window([{"hostname": "h", "ip": "10.0.0.1"}])],
         "Machine '{\"hostname\":\"h\",\"ip\":\"10.0.0.1\"}' appears more than once in the schedule"),
    ]
    for w, want in cases:
        text = schedule(c, w, expect=400)
        assert text == want, (text, want)
    for get in (op, op_pb):
        assert get(c.port, {"type": "GET_MAINTENANCE_SCHEDULE"})["get_maintenance_schedule"] == {"schedule": {}}
        assert get(c.port, {"type": "GET_MAINTENANCE_STATUS"})["get_maintenance_status"] == {"status": {}}
    m = {"type": "START_MAINTENANCE", "start_maintenance": {"machines": [{"hostname": "nowhere"}]}}
    text = op(c.port, m, expect=400)
    assert text == "Machine '{\"hostname\":\"nowhere\"}' is not part of a maintenance schedule", text
    text = op(c.port, {"type": "START_MAINTENANCE", "start_maintenance": {}}, expect=400)
    assert text == "List of machines is empty", text
    text = op(c.port, {"type": "STOP_MAINTENANCE", "stop_maintenance": {"machines": [{"hostname": "nowhere"}]}},
              expect=400)
    assert text == "Machine '{\"hostname\":\"nowhere\"}' is not part of a maintenance schedule", text


@cluster_test(["--allocation_interval=50ms"], ONE)
def inverse_offers_start_and_stop_maintenance(c):
    s = Scheduler(c.port, INFO)
    o = s.offers()[0]
    s.run(o, "busy", cpus=0.5, mem=64)
    a = agent(c)
    mid = machine(a)
    w = window([mid])
    schedule(c, [w])
    for get in (op, op_pb):
        got = get(c.port, {"type": "GET_MAINTENANCE_SCHEDULE"})["get_maintenance_schedule"]["schedule"]
        assert got["windows"][0]["machine_ids"] == [mid], got
        assert int(got["windows"][0]["unavailability"]["start"]["nanoseconds"]) == w["unavailability"]["start"]["nanoseconds"]
    st = op(c.port, {"type": "GET_MAINTENANCE_STATUS"})["get_maintenance_status"]["status"]
    assert st == {"draining_machines": [{"id": mid}]}, st
    # The framework using the agent hears about the window.
    inv = s.next("INVERSE_OFFERS")["inverse_offers"]["inverse_offers"][0]
    assert inv["agent_id"] == a["agent_info"]["id"] and inv["framework_id"]["value"] == s.id, inv
    assert int(inv["unavailability"]["start"]["nanoseconds"]) == w["unavailability"]["start"]["nanoseconds"], inv
    assert inv["url"]["path"] == "/slave(1)", inv
    # Offers of the agent now carry the unavailability.
    later = s.offers()[0]
    assert int(later["unavailability"]["start"]["nanoseconds"]) == w["unavailability"]["start"]["nanoseconds"], later
    s.call({"type": "DECLINE_INVERSE_OFFERS", "decline_inverse_offers": {"inverse_offer_ids": [inv["id"]],
                                                                          "filters": {"refuse_seconds": 60}}})
    for get in (op, op_pb):
        st = poll(lambda: get(c.port, {"type": "GET_MAINTENANCE_STATUS"})["get_maintenance_status"]["status"]
                  ["draining_machines"][0].get("statuses"), 10, "the answer")
        assert [(x["status"], x["framework_id"]["value"]) for x in st] == [("DECLINE", s.id)], st
    # A new window: the inverse offer state starts over (a new one comes).
    w2 = window([mid], start_s=time.time() + 120)
    schedule(c, [w2])
    inv2 = s.next("INVERSE_OFFERS")["inverse_offers"]["inverse_offers"][0]
    assert int(inv2["unavailability"]["start"]["nanoseconds"]) == w2["unavailability"]["start"]["nanoseconds"]
    s.call({"type": "ACCEPT_INVERSE_OFFERS", "accept_inverse_offers": {"inverse_offer_ids": [inv2["id"]]}})
    st = poll(lambda: op(c.port, {"type": "GET_MAINTENANCE_STATUS"})["get_maintenance_status"]["status"]
              ["draining_machines"][0].get("statuses"), 10, "the answer")
    assert [x["status"] for x in st] == ["ACCEPT"], st
    # An update while an inverse offer is outstanding rescinds it.
    w3 = window([mid], start_s=time.time() + 300)
    s.drain("INVERSE_OFFERS")
    time.sleep(5.5)                                   # the accept's default 5 s filter expires
    inv3 = s.next("INVERSE_OFFERS")["inverse_offers"]["inverse_offers"][0]
    schedule(c, [w3])
    resc = s.next("RESCIND_INVERSE_OFFER")["rescind_inverse_offer"]
    assert resc["inverse_offer_id"] == inv3["id"], resc
    # START_MAINTENANCE: the agent goes, its task is gone, it is told to stop.
    op(c.port, {"type": "START_MAINTENANCE", "start_maintenance": {"machines": [mid]}})
    st = s.update("busy", ack=False)
    assert st["state"] == "TASK_GONE_BY_OPERATOR" and st["reason"] == "REASON_AGENT_REMOVED_BY_OPERATOR", st
    assert st["message"] == "Operator initiated 'Machine DOWN'" and st["source"] == "SOURCE_MASTER", st
    assert op(c.port, {"type": "GET_AGENTS"})["get_agents"]["agents"] == []
    assert c.agents[0].wait(15) == 0
    for get in (op, op_pb):
        st = get(c.port, {"type": "GET_MAINTENANCE_STATUS"})["get_maintenance_status"]["status"]
        assert st == {"down_machines": [mid]}, st
    done = [t for t in op(c.port, {"type": "GET_TASKS"})["get_tasks"]["completed_tasks"] if t["task_id"]["value"] == "busy"]
    assert done and done[0]["state"] == "TASK_GONE_BY_OPERATOR", done
    text = schedule(c, [], expect=400)
    assert text == "Machine '%s' is deactivated and cannot be removed from the schedule" % \
        '{"hostname":"%s","ip":"127.0.0.1"}' % mid["hostname"], text
    text = op(c.port, {"type": "START_MAINTENANCE", "start_maintenance": {"machines": [mid]}}, expect=400)
    assert text.endswith("is not in DRAINING mode and cannot be brought down"), text
    # A DOWN machine's agent may not register.
    c.start_agent(0)
    assert c.agents[0].wait(15) == 0
    assert op(c.port, {"type": "GET_AGENTS"})["get_agents"]["agents"] == []
    # STOP_MAINTENANCE: UP, out of the schedule; the agent is welcome again.
    op(c.port, {"type": "STOP_MAINTENANCE", "stop_maintenance": {"machines": [mid]}})
    assert op(c.port, {"type": "GET_MAINTENANCE_SCHEDULE"})["get_maintenance_schedule"] == {"schedule": {}}
    assert op(c.port, {"type": "GET_MAINTENANCE_STATUS"})["get_maintenance_status"] == {"status": {}}
    c.start_agent(0)
    poll(lambda: op(c.port, {"type": "GET_AGENTS"})["get_agents"]["agents"], 15, "the agent back")
    s.close()


@cluster_test(["--allocation_interval=50ms"], ONE)
def drain_agent_kills_tasks_and_reaches_drained(c):
    s = Scheduler(c.port, INFO)
    o = s.offers()[0]
    s.run(o, "long", cpus=0.5, mem=64)
    aid = o["agent_id"]["value"]
    text = op(c.port, {"type": "DRAIN_AGENT", "drain_agent": {"agent_id": {"value": "nope"}}}, expect=400)
    assert text == "Unknown agent", text
    op(c.port, {"type": "DRAIN_AGENT", "drain_agent": {"agent_id": {"value": aid}, "max_grace_period": {"seconds": 1}}})
    st = s.update("long")
    assert st["state"] == "TASK_KILLED", st
    for get in (op, op_pb):
        a = poll(lambda: [x for x in get(c.port, {"type": "GET_AGENTS"})["get_agents"]["agents"]
                          if x.get("drain_info", {}).get("state") == "DRAINED"], 15, "DRAINED")[0]
        assert a["deactivated"] is True and a["active"] is False, a
        assert a["drain_info"]["config"]["max_grace_period"] == {"nanoseconds": "1000000000"} or \
            a["drain_info"]["config"]["max_grace_period"] == {"nanoseconds": 1000000000}, a
        assert "estimated_drain_start_time" not in a, a
    state = op(c.port, {"type": "GET_STATE"})["get_state"]["get_agents"]["agents"][0]
    assert state["drain_info"]["state"] == "DRAINED" and state["deactivated"] is True, state
    s.drain("OFFERS")
    s.none("OFFERS", 1.0)
    op(c.port, {"type": "REACTIVATE_AGENT", "reactivate_agent": {"agent_id": {"value": aid}}})
    a = agent(c)
    assert a["deactivated"] is False and "drain_info" not in a, a
    s.offers(timeout=10)
    text = op(c.port, {"type": "REACTIVATE_AGENT", "reactivate_agent": {"agent_id": {"value": aid}}}, expect=400)
    assert text == "Agent is not deactivated", text
    s.close()


@cluster_test(["--allocation_interval=50ms"], ONE)
def deactivate_and_reactivate_agent(c):
    s = Scheduler(c.port, INFO)
    o = s.offers()[0]
    aid = o["agent_id"]["value"]
    op(c.port, {"type": "DEACTIVATE_AGENT", "deactivate_agent": {"agent_id": {"value": aid}}})
    resc = s.next("RESCIND")["rescind"]
    assert resc["offer_id"] == o["id"], resc
    s.none("OFFERS", 1.0)
    for get in (op, op_pb):
        a = get(c.port, {"type": "GET_AGENTS"})["get_agents"]["agents"][0]
        assert a["deactivated"] is True and a["active"] is False and "drain_info" not in a, a
    text = op(c.port, {"type": "DEACTIVATE_AGENT", "deactivate_agent": {"agent_id": {"value": "x"}}}, expect=400)
    assert text == "Unknown agent", text
    op(c.port, {"type": "REACTIVATE_AGENT", "reactivate_agent": {"agent_id": {"value": aid}}})
    again = s.offers(timeout=10)[0]
    assert again["agent_id"]["value"] == aid
    assert agent(c)["deactivated"] is False
    s.close()


@cluster_test(["--allocation_interval=50ms"], ONE)
def mark_agent_gone_and_it_never_comes_back(c):
    s = Scheduler(c.port, INFO)
    legacy = Scheduler(c.port, {"user": "root", "name": "legacy"})
    o = s.offers()[0]
    s.run(o, "g1", cpus=0.5, mem=64)
    lo = legacy.offers()[0]
    legacy.run(lo, "g2", cpus=0.5, mem=64)
    aid = o["agent_id"]["value"]
    text = op(c.port, {"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": "x"}}}, expect=404)
    assert text == "Agent 'x' not found", text
    op(c.port, {"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": aid}}})
    st = s.update("g1", ack=False)
    assert st["state"] == "TASK_GONE_BY_OPERATOR" and st["reason"] == "REASON_AGENT_REMOVED_BY_OPERATOR", st
    assert st["message"] == "Agent has been marked gone", st
    st = legacy.update("g2", ack=False)
    assert st["state"] == "TASK_LOST" and st["reason"] == "REASON_AGENT_REMOVED", st
    assert c.agents[0].wait(15) == 0                     # told to shut down
    assert op(c.port, {"type": "GET_AGENTS"})["get_agents"]["agents"] == []
    op(c.port, {"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": aid}}})   # idempotent
    # The same agent (same work_dir, same id) comes back: refused, it exits.
    c.start_agent(0)
    assert c.agents[0].wait(15) == 0
    assert op(c.port, {"type": "GET_AGENTS"})["get_agents"]["agents"] == []
    s.close()
    legacy.close()


@cluster_test(["--allocation_interval=50ms"], ONE)
def operator_teardown_kills_the_frameworks_tasks(c):
    s = Scheduler(c.port, INFO)
    o = s.offers()[0]
    s.run(o, "t", cpus=0.5, mem=64)
    text = op(c.port, {"type": "TEARDOWN", "teardown": {"framework_id": {"value": "nope"}}}, expect=400)
    assert text == "No framework found with specified ID", text
    op_pb(c.port, {"type": "TEARDOWN", "teardown": {"framework_id": {"value": s.id}}})
    done = poll(lambda: [t for t in op(c.port, {"type": "GET_TASKS"})["get_tasks"]["completed_tasks"]
                         if t["task_id"]["value"] == "t"], 15, "the task to end")
    assert done[0]["state"] == "TASK_KILLED", done
    fws = op(c.port, {"type": "GET_FRAMEWORKS"})["get_frameworks"]
    assert fws["frameworks"] == [] and fws["completed_frameworks"][0]["framework_info"]["id"]["value"] == s.id
    text = op(c.port, {"type": "TEARDOWN", "teardown": {"framework_id": {"value": s.id}}}, expect=400)
    assert text == "No framework found with specified ID", text
    s.close()


report()
