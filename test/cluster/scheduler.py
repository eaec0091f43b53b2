#!/usr/bin/python3
"""End-to-end tests through the v1 Scheduler HTTP API.

A small scheduler written here (JSON over raw sockets, as the HTTP
framework libraries do it) subscribes to a real `mesos_api local` cluster,
takes offers, launches tasks, acknowledges their updates, kills and
reconciles them, and checks the master's operator view. Every read has a
timeout. Ends with "N passed, N failed".

Usage: test/cluster/scheduler.py ./mesos_api
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import common
from common import BIN, free_run, kill_processes_in, report, wait_for

def post(port, body, headers=None, timeout=5):
    data = json.dumps(body).encode()
    h = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(("POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s"
               "Connection: close\r\nContent-Length: %d\r\n\r\n" % (h, len(data))).encode() + data)
    head, payload = common.read_response(s)
    return int(head.split(b" ")[1]), payload.decode(errors="replace")


def operator(port, body):
    head, payload = common.http_post(port, common.OPERATOR_HEAD, json.dumps(body).encode(), 5)
    return json.loads(payload)


class Scheduler:
    """A subscribed framework: the stream is read by a thread into events."""

    def __init__(self, port, info):
        self.port = port
        self.events = []
        self.cv = threading.Condition()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        call = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
        if "id" in info:
            call["framework_id"] = info["id"]
        body = json.dumps(call).encode()
        self.sock.sendall(b"POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Accept: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        lines = head.decode().split("\r\n")
        assert " 200 " in lines[0], lines
        hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
        assert hdrs["content-type"] == "application/json", hdrs
        assert hdrs["transfer-encoding"] == "chunked"
        self.stream_id = hdrs["mesos-stream-id"]
        assert len(self.stream_id) == 36
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.time() + 20
        while True:
            with self.cv:
                if self.events:
                    break
            if time.time() > deadline:
                raise AssertionError("no SUBSCRIBED event")
            time.sleep(0.01)
        if self.events[0]["type"] == "ERROR":
            raise AssertionError("ERROR: %s" % self.events[0]["error"]["message"])
        sub = self.next("SUBSCRIBED")
        self.id = sub["subscribed"]["framework_id"]["value"]
        assert sub["subscribed"]["heartbeat_interval_seconds"] == 15.0

    def _read(self):
        f = self.sock.makefile("rb")
        buf = b""
        try:
            while True:
                size = int(f.readline().split(b";")[0], 16)
                if size == 0:
                    break
                chunk = f.read(size)
                f.readline()
                buf += chunk
                while b"\n" in buf:
                    n, rest = buf.split(b"\n", 1)
                    n = int(n)
                    if len(rest) < n:
                        break
                    with self.cv:
                        self.events.append(json.loads(rest[:n]))
                        self.cv.notify_all()
                    buf = rest[n:]
        except (OSError, ValueError):
            pass

    def next(self, type_, timeout=20, pred=lambda e: True):
        end = time.time() + timeout
        with self.cv:
            while True:
                for i, e in enumerate(self.events):
                    if e["type"] == type_ and pred(e):
                        return self.events.pop(i)
                left = end - time.time()
                if left <= 0:
                    raise AssertionError("no %s event in %ss; have %s" % (type_, timeout, [e["type"] for e in self.events]))
                self.cv.wait(left)

    def call(self, body, expect=202):
        body["framework_id"] = {"value": self.id}
        status, text = post(self.port, body, {"Mesos-Stream-Id": self.stream_id})
        assert status == expect, (status, text)
        return text

    def update(self, task_id, timeout=20, ack=True):
        e = self.next("UPDATE", timeout, lambda e: e["update"]["status"]["task_id"]["value"] == task_id)
        st = e["update"]["status"]
        if ack and "uuid" in st:
            self.call({"type": "ACKNOWLEDGE", "acknowledge": {"agent_id": st["agent_id"], "task_id": st["task_id"],
                                                              "uuid": st["uuid"]}})
        return st

    def close(self):
        # shutdown first: the reader thread's makefile() keeps the fd open
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def launch(s, offer, task_id, cmd, cpus=0.1, mem=32, refuse=0.1):
    task = {"name": task_id, "task_id": {"value": task_id}, "agent_id": offer["agent_id"],
            "command": {"value": cmd},
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
                          {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}}]}
    s.call({"type": "ACCEPT", "accept": {"offer_ids": [offer["id"]],
                                         "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}],
                                         "filters": {"refuse_seconds": refuse}}})


INFO = {"user": "root", "name": "test-framework", "capabilities": [{"type": "PARTITION_AWARE"}]}


AGENTS = {"n": 1}     # agents of the local cluster a test runs on


def test(fn):
    port = free_run(1 + AGENTS["n"])
    tmp = tempfile.mkdtemp(prefix="mesos_api-sched-")
    p = subprocess.Popen([BIN, "local", "--port=%d" % port, "--agents=%d" % AGENTS["n"], "--work_dir=" + tmp],
                         stderr=subprocess.PIPE, env=dict(os.environ, MESOS_RECOVERY_TIMEOUT="10secs"))
    log = []
    threading.Thread(target=lambda: log.extend(p.stderr), daemon=True).start()
    try:
        wait_for(lambda: len(operator(port, {"type": "GET_AGENTS"})["get_agents"]["agents"]) == AGENTS["n"],
                 10, errors=(OSError, ValueError, KeyError))
        fn(port)
        p.send_signal(signal.SIGTERM)
        rc = p.wait(10)
        assert rc == 0, "local exited %s" % rc
        common.passed(fn.__name__)
    except Exception as e:  # noqa: BLE001
        common.failed(fn.__name__, e)
        sys.stdout.write("".join("  " + l.decode(errors="replace") for l in log[-25:]))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        kill_processes_in(tmp)     # executors of this test
    return fn


@test
def offer_launch_and_finish(port):
    s = Scheduler(port, INFO)
    offer = s.next("OFFERS")["offers"]["offers"][0]
    assert offer["framework_id"]["value"] == s.id
    assert offer["url"]["path"] == "/slave(1)" and offer["url"]["scheme"] == "http"
    names = {r["name"] for r in offer["resources"]}
    assert {"cpus", "mem", "disk", "ports"} <= names, names
    launch(s, offer, "hello", "echo hello")
    states = [s.update("hello")["state"] for _ in range(3)]
    assert states == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"], states
    tasks = operator(port, {"type": "GET_TASKS"})["get_tasks"]
    done = [t for t in tasks["completed_tasks"] if t["task_id"]["value"] == "hello"]
    assert done and done[0]["state"] == "TASK_FINISHED", tasks
    fws = operator(port, {"type": "GET_FRAMEWORKS"})["get_frameworks"]
    assert [f["framework_info"]["id"]["value"] for f in fws["frameworks"]] == [s.id], fws
    f = fws["frameworks"][0]
    assert f["active"] is True and f["connected"] is True and f["recovered"] is False
    assert f["framework_info"]["name"] == "test-framework" and "registered_time" in f
    assert fws["completed_frameworks"] == []
    s.close()


@test
def kill_and_reconcile(port):
    s = Scheduler(port, INFO)
    offer = s.next("OFFERS")["offers"]["offers"][0]
    launch(s, offer, "sleeper", "sleep 60")
    assert [s.update("sleeper")["state"] for _ in range(2)] == ["TASK_STARTING", "TASK_RUNNING"]
    s.call({"type": "RECONCILE", "reconcile": {"tasks": [{"task_id": {"value": "sleeper"}}]}})
    rec = s.update("sleeper", ack=False)
    assert rec["state"] == "TASK_RUNNING" and rec["source"] == "SOURCE_MASTER" and "uuid" not in rec, rec
    assert rec["reason"] == "REASON_RECONCILIATION"
    s.call({"type": "RECONCILE", "reconcile": {"tasks": [{"task_id": {"value": "nope"}}]}})
    assert s.update("nope", ack=False)["state"] == "TASK_UNKNOWN"
    s.call({"type": "KILL", "kill": {"task_id": {"value": "sleeper"}}})
    assert s.update("sleeper")["state"] == "TASK_KILLED"
    s.close()


@test
def invalid_launches_are_refused_with_updates(port):
    s = Scheduler(port, INFO)
    offer = s.next("OFFERS")["offers"]["offers"][0]
    launch(s, offer, "greedy", "true", cpus=1000)
    st = s.update("greedy", ack=False)
    assert st["state"] == "TASK_ERROR" and st["source"] == "SOURCE_MASTER", st
    assert "more resources than available" in st["message"], st
    # a stale offer id: TASK_DROPPED with REASON_INVALID_OFFERS
    launch(s, offer, "late", "true")
    st = s.update("late", ack=False)
    assert st["state"] == "TASK_DROPPED" and st["reason"] == "REASON_INVALID_OFFERS", st
    s.close()


@test
def call_checks(port):
    s = Scheduler(port, INFO)
    status, text = post(port, {"type": "REVIVE", "framework_id": {"value": s.id}})
    assert (status, text) == (400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header"), (status, text)
    status, text = post(port, {"type": "REVIVE", "framework_id": {"value": s.id}}, {"Mesos-Stream-Id": "x"})
    assert status == 400 and text.startswith("The stream ID 'x' included in this request didn't match"), text
    status, text = post(port, {"type": "REVIVE", "framework_id": {"value": "nope"}}, {"Mesos-Stream-Id": "x"})
    assert (status, text) == (400, "Framework cannot be found"), (status, text)
    status, text = post(port, {"type": "REVIVE"})
    assert (status, text) == (400, "Failed to validate scheduler::Call: Expecting 'framework_id' to be present")
    status, text = post(port, {"type": "SUBSCRIBE"})
    assert (status, text) == (400, "Failed to validate scheduler::Call: Expecting 'subscribe' to be present")
    s.call({"type": "SUPPRESS"})
    s.call({"type": "TEARDOWN"})
    fws = operator(port, {"type": "GET_FRAMEWORKS"})["get_frameworks"]
    assert fws["frameworks"] == [], fws
    done = fws["completed_frameworks"][0]
    assert done["framework_info"]["id"]["value"] == s.id and done["active"] is False, done
    assert "unregistered_time" in done
    status, text = post(port, {"type": "REVIVE", "framework_id": {"value": s.id}}, {"Mesos-Stream-Id": s.stream_id})
    assert (status, text) == (400, "Framework cannot be found"), (status, text)
    s.close()
    # subscribing again as the removed framework: ERROR, then the stream ends
    refused = None
    try:
        Scheduler(port, dict(INFO, id={"value": s.id}))
    except AssertionError as e:
        refused = str(e)
    assert refused == "ERROR: Framework has been removed", refused


@test
def failover_keeps_tasks_and_teardown_kills_them(port):
    info = dict(INFO, failover_timeout=60.0)
    s = Scheduler(port, info)
    offer = s.next("OFFERS")["offers"]["offers"][0]
    launch(s, offer, "survivor", "sleep 60")
    assert [s.update("survivor")["state"] for _ in range(2)] == ["TASK_STARTING", "TASK_RUNNING"]
    fid = s.id
    s.close()                                      # the scheduler goes away...
    time.sleep(0.5)
    fws = operator(port, {"type": "GET_FRAMEWORKS"})["get_frameworks"]["frameworks"]
    assert fws[0]["connected"] is False and fws[0]["active"] is False, fws
    s2 = Scheduler(port, dict(info, id={"value": fid}))   # ...and comes back within its timeout
    assert s2.id == fid
    s2.call({"type": "RECONCILE", "reconcile": {}})
    st = s2.update("survivor", ack=False)
    assert st["state"] == "TASK_RUNNING", st
    s2.call({"type": "TEARDOWN"})
    end = time.time() + 15
    while time.time() < end:
        done = [t for t in operator(port, {"type": "GET_TASKS"})["get_tasks"]["completed_tasks"]
                if t["task_id"]["value"] == "survivor"]
        if done:
            break
        time.sleep(0.1)
    assert done and done[0]["state"] == "TASK_KILLED", operator(port, {"type": "GET_TASKS"})
    s2.close()


@test
def decline_filter_holds_offers_back(port):
    s = Scheduler(port, INFO)
    offer = s.next("OFFERS")["offers"]["offers"][0]
    t0 = time.time()
    s.call({"type": "DECLINE", "decline": {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 2.0}}})
    again = s.next("OFFERS", timeout=10)
    took = time.time() - t0
    assert 1.8 <= took <= 6, took
    assert again["offers"]["offers"][0]["agent_id"] == offer["agent_id"]
    s.close()


@test
def executors_in_get_executors_and_get_state(port):
    """A task group runs under an executor the master knows: it shows in
    GET_EXECUTORS and GET_STATE, and its exit reaches the framework as
    FAILURE (upstream's executor-exited event) and empties the list."""
    s = Scheduler(port, INFO)
    offer = s.next("OFFERS")["offers"]["offers"][0]
    task = {"name": "g", "task_id": {"value": "g"}, "agent_id": offer["agent_id"],
            "command": {"value": "sleep 1"},
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}]}
    ex = {"type": "DEFAULT", "executor_id": {"value": "my-ex"}, "framework_id": {"value": s.id}}
    s.call({"type": "ACCEPT", "accept": {"offer_ids": [offer["id"]], "operations": [
        {"type": "LAUNCH_GROUP", "launch_group": {"executor": ex, "task_group": {"tasks": [task]}}}]}})
    assert [s.update("g")["state"] for _ in range(2)] == ["TASK_STARTING", "TASK_RUNNING"]
    execs = operator(port, {"type": "GET_EXECUTORS"})["get_executors"]["executors"]
    assert [(e["executor_info"]["executor_id"]["value"], e["agent_id"]["value"]) for e in execs] == \
        [("my-ex", offer["agent_id"]["value"])], execs
    state = operator(port, {"type": "GET_STATE"})["get_state"]
    assert [t["task_id"]["value"] for t in state["get_tasks"]["tasks"]] == ["g"], state["get_tasks"]
    assert [e["executor_info"]["executor_id"]["value"] for e in state["get_executors"]["executors"]] == ["my-ex"]
    assert [f["framework_info"]["id"]["value"] for f in state["get_frameworks"]["frameworks"]] == [s.id]
    assert len(state["get_agents"]["agents"]) == 1 and state["get_agents"]["recovered_agents"] == []
    assert s.update("g")["state"] == "TASK_FINISHED"
    fail = s.next("FAILURE", timeout=15)["failure"]
    assert fail["executor_id"]["value"] == "my-ex" and fail["agent_id"] == offer["agent_id"], fail
    assert fail["status"] == 0, fail
    assert operator(port, {"type": "GET_EXECUTORS"})["get_executors"]["executors"] == []
    s.close()


AGENTS["n"] = 2


@test
def tasks_on_two_agents(port):
    s = Scheduler(port, INFO)
    seen = {}
    end = time.time() + 20
    while len(seen) < 2 and time.time() < end:
        for offer in s.next("OFFERS")["offers"]["offers"]:
            aid = offer["agent_id"]["value"]
            if aid in seen:
                s.call({"type": "DECLINE", "decline": {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 0}}})
                continue
            seen[aid] = "on-%d" % len(seen)
            launch(s, offer, seen[aid], "echo on $MESOS_AGENT_ID")
    assert len(seen) == 2, seen
    for tid in seen.values():
        assert [s.update(tid)["state"] for _ in range(3)][-1] == "TASK_FINISHED"
    done = {t["task_id"]["value"]: t["agent_id"]["value"]
            for t in operator(port, {"type": "GET_TASKS"})["get_tasks"]["completed_tasks"]}
    assert {done[t] for t in seen.values()} == set(seen), (done, seen)
    # Both agents see their executor exit, though they share one process
    # and whichever of them reaps a child may not be its parent agent; a
    # container of the second agent's operator API ends for it as well.
    for aport in (port + 1, port + 2):
        def executors():
            ex = operator(aport, {"type": "GET_EXECUTORS"})["get_executors"]
            return len(ex.get("executors", [])), len(ex.get("completed_executors", []))
        wait_for(lambda: executors() == (0, 1), 15)
    for aport in (port + 2, port + 1):
        cid = {"value": "solo-%d" % aport}
        head, payload = common.http_post(aport, common.OPERATOR_HEAD, json.dumps(
            {"type": "LAUNCH_CONTAINER", "launch_container": {"container_id": cid, "command": {"value": "exit 5"}}})
            .encode(), 10)
        assert b" 200 " in head, (head, payload)
        r = operator(aport, {"type": "WAIT_CONTAINER", "wait_container": {"container_id": cid}})
        assert r["wait_container"]["exit_status"] == 5 << 8, r
    s.close()


AGENTS["n"] = 1


def separate(master_flags, agent_resources, agent_env=None):
    """A test on its own master and agent processes (for master flags that
    `local` does not take). The function gets the master's port and the
    agent process; the master must exit 0 on SIGTERM afterwards."""
    def wrap(fn):
        port = free_run(2)
        tmp = tempfile.mkdtemp(prefix="mesos_api-sched-")
        m = subprocess.Popen([BIN, "master", "--ip=127.0.0.1", "--port=%d" % port] + master_flags,
                             stderr=subprocess.DEVNULL)
        a = subprocess.Popen([BIN, "agent", "--ip=127.0.0.1", "--port=%d" % (port + 1),
                              "--master=127.0.0.1:%d" % port, "--work_dir=" + tmp,
                              "--resources=" + agent_resources], stderr=subprocess.DEVNULL,
                             env=dict(os.environ, **(agent_env or {})))
        try:
            wait_for(lambda: operator(port, {"type": "GET_AGENTS"})["get_agents"]["agents"],
                     10, errors=(OSError, ValueError, KeyError))
            extra = fn(port, a)
            m.send_signal(signal.SIGTERM)
            assert m.wait(10) == 0, "master exited %s" % m.returncode
            common.passed("%s%s" % (fn.__name__, " %s" % extra if extra else ""))
        except Exception as e:  # noqa: BLE001
            common.failed(fn.__name__, e)
        finally:
            for p in (m, a):
                if p.poll() is None:
                    p.kill()
                    p.wait()
            kill_processes_in(tmp)
        return fn
    return wrap


@separate(["--agent_ping_timeout=200ms", "--max_agent_ping_timeouts=2"], "cpus:2;mem:512",
          {"MESOS_RECOVERY_TIMEOUT": "2secs"})
def lost_agent_tasks_reach_their_frameworks(port, agent):
    """The agent dies, and a running task's framework hears
    TASK_UNREACHABLE (partition-aware) or TASK_LOST."""
    results = {}
    for name, info in (("aware", INFO), ("legacy", {"user": "root", "name": "legacy"})):
        s = Scheduler(port, info)
        offer = s.next("OFFERS")["offers"]["offers"][0]
        launch(s, offer, name, "sleep 60", cpus=0.5, mem=64)
        assert [s.update(name)["state"] for _ in range(2)] == ["TASK_STARTING", "TASK_RUNNING"]
        results[name] = s
    ag = operator(port, {"type": "GET_AGENTS"})["get_agents"]["agents"][0]
    used = {r["name"]: r["scalar"]["value"] for r in ag["allocated_resources"]}
    assert used == {"cpus": 1.0, "mem": 128.0}, ag["allocated_resources"]
    agent.kill()
    agent.wait()
    for name, want in (("aware", "TASK_UNREACHABLE"), ("legacy", "TASK_LOST")):
        st = results[name].update(name, timeout=15, ack=False)
        assert st["state"] == want and st["reason"] == "REASON_AGENT_REMOVED", st
        assert st["source"] == "SOURCE_MASTER" and "uuid" not in st, st
    tasks = operator(port, {"type": "GET_TASKS"})["get_tasks"]
    assert sorted(t["task_id"]["value"] for t in tasks["unreachable_tasks"]) == ["aware", "legacy"], tasks
    for s in results.values():
        s.close()


@separate(["--offer_timeout=1secs"], "cpus:2;mem:512")
def offer_timeout_rescinds_offers(port, agent):
    """An offer left unanswered is rescinded, and its resources come back
    in a new offer."""
    s = Scheduler(port, INFO)
    first = s.next("OFFERS")["offers"]["offers"][0]
    t0 = time.time()
    resc = s.next("RESCIND", timeout=10)
    took = time.time() - t0
    assert resc["rescind"]["offer_id"] == first["id"], resc
    assert 0.8 <= took <= 4, took
    again = s.next("OFFERS", timeout=10)["offers"]["offers"][0]
    assert again["id"] != first["id"] and again["agent_id"] == first["agent_id"]
    s.close()


@separate(["--weights=a=1,b=3", "--allocation_interval=20ms"], "cpus:8;mem:8192",
          {"MESOS_RECOVERY_TIMEOUT": "2secs"})
def weighted_drf_converges_to_the_weights(port, agent):
    """Two frameworks in roles weighted 1 and 3 each take one small task
    per offer (no decline filter): their shares converge to 1:3."""
    fws = {r: Scheduler(port, {"user": "root", "name": "fw-" + r, "roles": [r],
                               "capabilities": [{"type": "MULTI_ROLE"}]}) for r in ("a", "b")}
    launched = {"a": 0, "b": 0}
    end = time.time() + 60
    while sum(launched.values()) < 24 and time.time() < end:
        for r, s in fws.items():
            try:
                e = s.next("OFFERS", timeout=0.05)
            except AssertionError:
                continue
            for offer in e["offers"]["offers"]:
                assert offer["allocation_info"]["role"] == r, offer
                launched[r] += 1
                launch(s, offer, "%s-%d" % (r, launched[r]), "sleep 60", cpus=0.25, mem=16, refuse=0)
    assert sum(launched.values()) >= 24, launched
    assert 5 <= launched["a"] <= 7 and 17 <= launched["b"] <= 19, launched
    for s in fws.values():
        s.close()
    return launched


@separate(["--max_completed_tasks_per_framework=2", "--allocation_interval=50ms"], "cpus:2;mem:512")
def completed_tasks_are_bounded_per_framework(port, agent):
    """--max_completed_tasks_per_framework keeps each framework's newest
    completed tasks: four finish, the last two remain (the other
    framework's are not touched)."""
    a = Scheduler(port, INFO)
    for i in range(4):
        offer = a.next("OFFERS", timeout=10)["offers"]["offers"][0]
        launch(a, offer, "a%d" % i, "true")
        assert [a.update("a%d" % i)["state"] for _ in range(3)][-1] == "TASK_FINISHED"
    b = Scheduler(port, dict(INFO, name="other"))
    offer = b.next("OFFERS", timeout=10)["offers"]["offers"][0]
    launch(b, offer, "b0", "true")
    assert [b.update("b0")["state"] for _ in range(3)][-1] == "TASK_FINISHED"
    done = operator(port, {"type": "GET_TASKS"})["get_tasks"]["completed_tasks"]
    assert [t["task_id"]["value"] for t in done] == ["b0", "a3", "a2"], done
    a.close()
    b.close()


report()
