#!/usr/bin/python3
"""Cluster tests: real master and agent processes on loopback.

Starts `mesos_api master` and `mesos_api agent` processes on free
127.0.0.1 ports and checks, through the master's operator API, what a user
would check: agents register and show up in GET_AGENTS with their
resources and attributes; an agent killed with SIGKILL is marked
unreachable after the ping timeout; a restarted agent keeps its id; agents
re-register with a restarted master; an agent started before its master
registers once the master is up. Every wait is bounded.

Usage: test/cluster/run.py ./mesos_api      (ends with "N passed, N failed")
"""
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from common import BIN, Proc, free_port, free_run, gen_protos, report, wait_for
from common import operator_call as call
import common

gen_protos()
from messages import messages_pb2  # noqa: E402


def agents(port):
    status, body = call(port, {"type": "GET_AGENTS"})
    assert status == 200, (status, body)
    return body["get_agents"]["agents"]


def metric(port, name):
    status, body = call(port, {"type": "GET_METRICS", "get_metrics": {}})
    assert status == 200
    return {m["name"]: m.get("value") for m in body["get_metrics"]["metrics"]}[name]


def test(fn):
    tmp = tempfile.mkdtemp(prefix="mesos_api-cluster-")
    procs = []
    try:
        fn(tmp, procs)
        # A clean shutdown is part of every test: under ASan a leak or any
        # error report makes the exit status non-zero.
        for p in procs:
            if p.p.poll() is None:
                rc = p.stop()
                assert rc == 0, "%s exited %s after SIGTERM" % (" ".join(p.args[1:2]), rc)
        common.passed(fn.__name__)
    except Exception as e:  # noqa: BLE001 -- any failure is a test failure
        common.failed(fn.__name__, e)
        for p in procs:
            print("  --- %s" % " ".join(p.args[1:3]))
            sys.stdout.write("".join("  " + l for l in p.log[-15:]))
    finally:
        for p in procs:
            p.stop(signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
    return fn


def start_master(procs, port, *extra):
    m = Proc("master", "--ip=127.0.0.1", "--port=%d" % port, *extra)
    procs.append(m)
    assert m.wait_log(r"started on 127\.0\.0\.1:%d" % port), "master did not start"
    return m


def start_agent(procs, mport, wd, *extra):
    port = free_port()
    a = Proc("agent", "--ip=127.0.0.1", "--port=%d" % port, "--master=127.0.0.1:%d" % mport,
             "--work_dir=%s" % wd, *extra)
    procs.append(a)
    return a, port


@test
def two_agents_register_with_resources_and_attributes(tmp, procs):
    mp = free_port()
    start_master(procs, mp)
    a1, p1 = start_agent(procs, mp, tmp + "/a1", "--resources=cpus:4;mem:4096;disk:10000;ports:[31000-32000]",
                         "--attributes=rack:r1;zone:2")
    a2, p2 = start_agent(procs, mp, tmp + "/a2", "--resources=cpus(web):2;mem:1024")
    got = wait_for(lambda: len(agents(mp)) == 2 and agents(mp))
    assert got, "two agents never showed up"
    by_port = {a["agent_info"]["port"]: a for a in got}
    one = by_port[p1]
    assert one["active"] is True and one["deactivated"] is False
    assert one["pid"] == "slave(1)@127.0.0.1:%d" % p1
    assert one["agent_info"]["id"]["value"].endswith("-S0") or one["agent_info"]["id"]["value"].endswith("-S1")
    res = {r["name"]: r for r in one["total_resources"]}
    assert res["cpus"]["scalar"]["value"] == 4.0 and res["cpus"]["role"] == "*"
    assert res["ports"]["ranges"]["range"] == [{"begin": 31000, "end": 32000}]
    attrs = {a["name"]: a for a in one["agent_info"]["attributes"]}
    assert attrs["rack"] == {"name": "rack", "type": "TEXT", "text": {"value": "r1"}}
    assert attrs["zone"]["scalar"]["value"] == 2.0
    two = by_port[p2]
    cpus = [r for r in two["total_resources"] if r["name"] == "cpus"][0]
    assert cpus["role"] == "web", cpus
    assert cpus["reservations"] == [{"type": "STATIC", "role": "web"}], cpus
    assert metric(mp, "master/slaves_active") == 2.0
    assert metric(mp, "master/slave_registrations") == 2.0
    assert a1.wait_log("Registered with master"), "agent never heard back"
    ids = open(tmp + "/a1/meta/agent_id").read().strip()
    assert ids == one["agent_info"]["id"]["value"]


@test
def killed_agent_becomes_unreachable(tmp, procs):
    mp = free_port()
    start_master(procs, mp, "--agent_ping_timeout=200ms", "--max_agent_ping_timeouts=3")
    a1, _ = start_agent(procs, mp, tmp + "/a1", "--resources=cpus:1;mem:128")
    assert wait_for(lambda: len(agents(mp)) == 1), "agent did not register"
    t0 = time.time()
    a1.stop(signal.SIGKILL)
    assert wait_for(lambda: len(agents(mp)) == 0, timeout=10), "agent was never removed"
    took = time.time() - t0
    assert 0.4 <= took <= 5, took       # 3 missed pings of 200 ms, not at once
    assert metric(mp, "master/slaves_unreachable") == 1.0
    assert metric(mp, "master/slave_removals") == 1.0


@test
def restarted_agent_keeps_its_id(tmp, procs):
    mp = free_port()
    start_master(procs, mp)
    a1, port = start_agent(procs, mp, tmp + "/a1", "--resources=cpus:1;mem:128")
    first = wait_for(lambda: agents(mp))
    assert first, "agent did not register"
    aid = first[0]["agent_info"]["id"]["value"]
    # the agent must have heard back (and checkpointed its id) before it stops
    assert a1.wait_log("Registered with master"), "agent never heard back"
    a1.stop()
    a2 = Proc("agent", "--ip=127.0.0.1", "--port=%d" % port, "--master=127.0.0.1:%d" % mp,
              "--work_dir=%s" % (tmp + "/a1"), "--resources=cpus:1;mem:128")
    procs.append(a2)
    assert a2.wait_log("Re-registered with master"), "agent did not re-register"
    now = agents(mp)
    assert len(now) == 1 and now[0]["agent_info"]["id"]["value"] == aid
    assert "reregistered_time" in now[0]
    assert metric(mp, "master/slave_reregistrations") == 1.0


@test
def agents_reregister_with_a_restarted_master(tmp, procs):
    mp = free_port()
    m = start_master(procs, mp, "--agent_ping_timeout=200ms", "--max_agent_ping_timeouts=2")
    start_agent(procs, mp, tmp + "/a1", "--resources=cpus:1;mem:128")
    first = wait_for(lambda: agents(mp))
    assert first
    aid = first[0]["agent_info"]["id"]["value"]
    m.stop()
    start_master(procs, mp, "--agent_ping_timeout=200ms", "--max_agent_ping_timeouts=2")
    again = wait_for(lambda: agents(mp), timeout=15)
    assert again, "agent never came back"
    assert again[0]["agent_info"]["id"]["value"] == aid
    assert metric(mp, "master/slave_reregistrations") == 1.0


@test
def agent_started_before_its_master_registers(tmp, procs):
    mp = free_port()
    a1, _ = start_agent(procs, mp, tmp + "/a1", "--resources=cpus:1;mem:128")
    time.sleep(0.5)
    start_master(procs, mp)
    assert wait_for(lambda: len(agents(mp)) == 1, timeout=15), "agent never registered"


@test
def local_runs_a_master_with_agents(tmp, procs):
    mp = free_run(3)
    loc = Proc("local", "--agents=2", "--port=%d" % mp, "--work_dir=%s" % tmp)
    procs.append(loc)
    got = wait_for(lambda: len(agents(mp)) == 2 and agents(mp))
    assert got, "local cluster did not come up"
    assert sorted(a["agent_info"]["port"] for a in got) == [mp + 1, mp + 2]
    assert loc.stop() == 0


@test
def agent_flag_errors(tmp, procs):
    r = subprocess.run([BIN, "agent", "--work_dir=" + tmp], capture_output=True, timeout=10)
    assert r.returncode == 1 and b"--master" in r.stderr, r.stderr
    r = subprocess.run([BIN, "agent", "--master=zk://x:2181/mesos", "--work_dir=" + tmp],
                       capture_output=True, timeout=10)
    assert r.returncode == 1 and b"ZooKeeper" in r.stderr, r.stderr
    r = subprocess.run([BIN, "agent", "--master=127.0.0.1:1", "--work_dir=" + tmp,
                        "--resources=cpus:-1"], capture_output=True, timeout=10)
    assert r.returncode == 1 and b"cpus" in r.stderr, r.stderr


@test
def weights_from_flags_and_update_weights(tmp, procs):
    mp = free_port()
    start_master(procs, mp, "--weights=a=2.5,b=1", "--roles=a,b,c")
    status, body = call(mp, {"type": "GET_WEIGHTS"})
    assert body["get_weights"]["weight_infos"] == [{"weight": 2.5, "role": "a"}, {"weight": 1.0, "role": "b"}], body
    status, body = call(mp, {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [
        {"role": " c ", "weight": 4}, {"role": "a", "weight": 0.5}]}})
    assert (status, body) == (200, ""), (status, body)
    status, body = call(mp, {"type": "GET_WEIGHTS"})
    assert [(w["role"], w["weight"]) for w in body["get_weights"]["weight_infos"]] == \
        [("a", 0.5), ("b", 1.0), ("c", 4.0)], body
    status, body = call(mp, {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "a", "weight": 0}]}})
    assert (status, body) == (400, "Failed to validate update weights request JSON for role 'a': "
                                   "Invalid weight '0': Weights must be positive"), (status, body)
    status, body = call(mp, {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "d", "weight": 1}]}})
    assert (status, body) == (400, "Failed to validate update weights request JSON: Unknown role 'd'"), (status, body)
    # a refused update changes nothing
    status, body = call(mp, {"type": "GET_WEIGHTS"})
    assert len(body["get_weights"]["weight_infos"]) == 3
    r = subprocess.run([BIN, "master", "--port=%d" % free_port(), "--weights=a=-1"], capture_output=True, timeout=10)
    assert r.returncode == 1 and b"Weights must be positive" in r.stderr, r.stderr


def send_message(to_port, to_id, msg, from_pid="master@127.0.0.1:1"):
    """One libprocess message, as a master would send it."""
    common.send_message(to_port, to_id, msg, from_pid)


def tasks(port):
    status, body = call(port, {"type": "GET_TASKS"})
    assert status == 200, (status, body)
    return body["get_tasks"]


def ack_latest(agent_port, task):
    """Acknowledge a task's latest status to its agent, as a framework's
    acknowledgement reaches the agent through the master."""
    import base64
    st = task["statuses"][-1]
    a = messages_pb2.StatusUpdateAcknowledgementMessage()
    a.slave_id.value = task["agent_id"]["value"]
    a.framework_id.value = task["framework_id"]["value"]
    a.task_id.value = task["task_id"]["value"]
    a.uuid = base64.b64decode(st["uuid"])
    send_message(agent_port, "slave(1)", a)


def wait_task(mp, task_id, state, where="tasks", timeout=15):
    def look():
        for t in tasks(mp)[where]:
            if t["task_id"]["value"] == task_id and t["state"] == state:
                return t
        return None
    t = wait_for(look, timeout=timeout)
    assert t, "task %s never reached %s in %s: %s" % (task_id, state, where, tasks(mp))
    return t


@test
def master_restart_sees_tasks_again_and_updates_sent_meanwhile(tmp, procs):
    mp = free_port()
    flags = ("--agent_ping_timeout=200ms", "--max_agent_ping_timeouts=2")
    m = start_master(procs, mp, *flags)
    a, ap = start_agent(procs, mp, tmp + "/a1", "--resources=cpus:1;mem:128")
    aid = wait_for(lambda: agents(mp))[0]["agent_info"]["id"]["value"]
    run = messages_pb2.RunTaskMessage()
    run.framework.user, run.framework.name = "root", "test"
    run.framework.id.value = "fw1"
    run.task.name = "sleeper"
    run.task.task_id.value = "t1"
    run.task.slave_id.value = aid
    run.task.command.value = "sleep 30"
    for name, value in (("cpus", 0.5), ("mem", 32)):
        r = run.task.resources.add()
        r.name, r.type, r.scalar.value = name, 0, value     # 0: SCALAR
    send_message(ap, "slave(1)", run)
    t = wait_task(mp, "t1", "TASK_STARTING")
    assert t["framework_id"]["value"] == "fw1" and t["agent_id"]["value"] == aid
    ack_latest(ap, t)
    t = wait_task(mp, "t1", "TASK_RUNNING")
    ack_latest(ap, t)
    assert metric(mp, "master/tasks_running") == 1.0
    assert metric(mp, "master/cpus_total") == 1.0 and metric(mp, "master/mem_total") == 128.0
    # A restarted master learns the running task, with its resources, from
    # the agent's re-registration.
    m.stop()
    m = start_master(procs, mp, *flags)
    t = wait_task(mp, "t1", "TASK_RUNNING")
    assert {r["name"]: r["scalar"]["value"] for r in t["resources"]} == {"cpus": 0.5, "mem": 32.0}
    assert metric(mp, "master/cpus_used") == 0.5 and metric(mp, "master/mem_used") == 32.0
    assert metric(mp, "master/cpus_percent") == 0.5
    # The master goes away again; the task is killed while it is down.
    m.stop()
    k = messages_pb2.KillTaskMessage()
    k.framework_id.value = "fw1"
    k.task_id.value = "t1"
    send_message(ap, "slave(1)", k)
    time.sleep(0.5)
    start_master(procs, mp, *flags)
    # The agent re-registers with its task, then the kill's update arrives.
    wait_for(lambda: agents(mp), timeout=15)
    done = wait_task(mp, "t1", "TASK_KILLED", where="completed_tasks", timeout=20)
    assert [s["state"] for s in done["statuses"]][-1] == "TASK_KILLED"
    assert metric(mp, "master/tasks_killed") == 1.0
    assert metric(mp, "master/tasks_running") == 0.0
    ack_latest(ap, done)


report()
