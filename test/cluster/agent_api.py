#!/usr/bin/python3
"""The agent's v1 Operator API (POST /api/v1 on the agent) against a real
agent running real tasks.

The test process plays the master over the libprocess wire (as
agent_tasks.py does): it registers the agent, sends RunTaskMessage and
acknowledges status updates. Then it talks to the agent's /api/v1 in JSON
and in protobuf (classes generated from our proto/ files): introspection
with real values, files of a running task's sandbox, containers with CPU
time from /proc, standalone and nested containers, and sessions with
streamed input and output (pipes and a pseudo-terminal), as `mesos task
exec` uses them. Every read has a timeout; waits poll with a deadline.
Ends with "N passed, N failed".

Usage: test/cluster/agent_api.py ./mesos_api
"""
import base64
import glob
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
from common import BIN, free_port, report

common.gen_protos(common.INTERNAL_PROTOS + ("mesos/v1/mesos.proto", "mesos/v1/agent/agent.proto"))
from mesos import mesos_pb2  # noqa: E402
from messages import messages_pb2  # noqa: E402
from mesos.v1.agent import agent_pb2  # noqa: E402

STATE = mesos_pb2.TaskState
PROCS = []


def wait_for(pred, timeout=20, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        try:
            v = pred()
        except FileNotFoundError:          # a file the task has not written yet
            v = None
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def sleeping_in(root):
    """Pids of processes working under root (this test's sandboxes: other
    tests on the machine may run sleeps of their own) whose command line
    says sleep (the task's `sh -c` until it has exec'd `sleep` itself)."""
    pids = []
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and os.readlink("/proc/%s/cwd" % pid).startswith(root) and \
                    b"sleep" in open("/proc/%s/cmdline" % pid, "rb").read():
                pids.append(int(pid))
        except OSError:
            pass
    return pids


# ==== The fake master (libprocess wire) =====================================

class FakeMaster(common.FakeMaster):
    def __init__(self):
        super().__init__(expect_timeout=20, server_close=True)


class Agent:
    """A registered agent process and the harness around it."""

    def __init__(self, fm, wd, flags=()):
        self.fm, self.wd = fm, wd
        self.port = free_port()
        self.proc = subprocess.Popen([BIN, "agent", "--ip=127.0.0.1", "--port=%d" % self.port,
                                      "--master=127.0.0.1:%d" % fm.port, "--work_dir=" + wd,
                                      "--resources=cpus:2;mem:256;disk:1024"] + list(flags),
                                     stderr=subprocess.PIPE)
        self.log = []
        threading.Thread(target=lambda: self.log.extend(self.proc.stderr), daemon=True).start()
        PROCS.append(self.proc)
        frm, body = fm.expect("RegisterSlaveMessage")
        ok = messages_pb2.SlaveRegisteredMessage()
        ok.slave_id.value = "S0"
        ok.connection.total_ping_timeout_seconds = 60
        fm.send(frm, ok)
        self.pid = frm
        self.statuses = {}
        # registered once the agent answers GET_AGENT with its id
        wait_for(lambda: self.json({"type": "GET_AGENT"})[1].get("get_agent", {})
                 .get("agent_info", {}).get("id", {}).get("value") == "S0", what="registration")

    # ---- tasks ----
    def run_task(self, task_id, command, cpus=0.1, user=None, executor=None, env=None):
        m = messages_pb2.RunTaskMessage()
        m.framework.user = "root"
        m.framework.name = "harness"
        m.framework.id.value = "fw1"
        m.pid = "scheduler-1@127.0.0.1:1"
        t = m.task
        t.name = "task " + task_id
        t.task_id.value = task_id
        t.slave_id.value = "S0"
        t.command.value = command
        if user:
            t.command.user = user
        for k, v in (env or {}).items():
            var = t.command.environment.variables.add()
            var.name, var.value = k, v
        if executor:
            t.executor.executor_id.value = executor[0]
            t.executor.framework_id.value = "fw1"
            t.executor.command.value = executor[1]
        r = t.resources.add()
        r.name, r.type, r.scalar.value = "cpus", mesos_pb2.Value.SCALAR, cpus
        self.fm.send(self.pid, m)

    def update(self, timeout=20):
        """The next status update, acknowledged."""
        frm, body = self.fm.expect("StatusUpdateMessage", timeout)
        m = messages_pb2.StatusUpdateMessage()
        m.ParseFromString(body)
        u = m.update
        a = messages_pb2.StatusUpdateAcknowledgementMessage()
        a.slave_id.value, a.framework_id.value = "S0", u.framework_id.value
        a.task_id.value = u.status.task_id.value
        a.uuid = u.uuid
        self.fm.send(self.pid, a)
        self.statuses.setdefault(u.status.task_id.value, []).append(u.status)
        return u.status

    def until(self, task_id, state, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            s = self.update(max(0.1, end - time.time()))
            if s.task_id.value == task_id and s.state == STATE.Value(state):
                return s
        raise AssertionError("%s never reached %s" % (task_id, state))

    def sandbox(self, executor_id):
        runs = glob.glob("%s/slaves/S0/frameworks/fw1/executors/%s/runs/*" % (self.wd, executor_id))
        assert len(runs) == 1, runs
        return runs[0]

    # ---- the operator API ----
    def raw(self, body, headers):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        h = "".join("%s: %s\r\n" % kv for kv in headers.items())
        s.sendall(("POST /api/v1 HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\nContent-Length: %d\r\n\r\n"
                   % (h, len(body))).encode() + body)
        head, payload = common.read_response(s)
        lines = head.decode().split("\r\n")
        hdrs = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        return int(lines[0].split(" ")[1]), hdrs, payload

    def json(self, body, headers=None):
        st, h, payload = self.raw(json.dumps(body).encode(),
                                  dict({"Content-Type": "application/json"}, **(headers or {})))
        if h.get("content-type") == "application/json":
            return st, json.loads(payload)
        return st, payload.decode(errors="replace")

    def pb(self, call):
        st, h, payload = self.raw(call.SerializeToString(), {"Content-Type": "application/x-protobuf",
                                                             "Accept": "application/x-protobuf"})
        if st != 200 or not payload:
            return st, payload.decode(errors="replace")
        assert h["content-type"] == "application/x-protobuf", h
        r = agent_pb2.Response()
        r.ParseFromString(payload)
        return st, r

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return "timeout"
        return self.proc.returncode


# ==== Streams ===============================================================

class Stream:
    """A streaming call: the request is sent whole (or, with input=True, as
    a chunked body fed later), the answer's chunked body is read by a
    thread into RecordIO records."""

    def __init__(self, port, body, headers, input=False):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        h = "".join("%s: %s\r\n" % kv for kv in headers.items())
        if input:
            self.s.sendall(("POST /api/v1 HTTP/1.1\r\nHost: x\r\n%sTransfer-Encoding: chunked\r\n\r\n" % h).encode())
        else:
            self.s.sendall(("POST /api/v1 HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n"
                            % (h, len(body))).encode() + body)
        self.status = None
        self.headers = {}
        self.body = b""
        self.records = []
        self.ended = False
        self.closed = False
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def send_record(self, data):
        rec = b"%d\n" % len(data) + data
        self.s.sendall(b"%x\r\n" % len(rec) + rec + b"\r\n")

    def end_input(self):
        self.s.sendall(b"0\r\n\r\n")

    def _read(self):
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                c = self.s.recv(65536)
                if not c:
                    self.closed = True
                    return
                buf += c
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            self.headers = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
            self.status = int(lines[0].split(" ")[1])
            if "content-length" in self.headers:
                n = int(self.headers["content-length"])
                while len(buf) < n:
                    c = self.s.recv(65536)
                    if not c:
                        break
                    buf += c
                self.body = buf[:n]
                self.ended = True
                return
            raw = b""
            while True:                     # chunked
                while b"\r\n" not in buf:
                    c = self.s.recv(65536)
                    if not c:
                        self.closed = True
                        return
                    buf += c
                line, _, buf = buf.partition(b"\r\n")
                size = int(line, 16)
                while len(buf) < size + 2:
                    c = self.s.recv(65536)
                    if not c:
                        self.closed = True
                        return
                    buf += c
                if size == 0:
                    self.ended = True
                    return
                raw += buf[:size]
                buf = buf[size + 2:]
                while b"\n" in raw:
                    n, _, rest = raw.partition(b"\n")
                    if len(rest) < int(n):
                        break
                    with self.lock:
                        self.records.append(rest[:int(n)])
                    raw = rest[int(n):]
        except OSError:
            self.closed = True

    def wait_status(self, timeout=20):
        wait_for(lambda: self.status is not None or self.closed, timeout, "an answer")
        return self.status

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def processio_json(records):
    return [json.loads(r) for r in records]


def output_text(ios, kind="STDOUT"):
    return b"".join(base64.b64decode(io["data"]["data"]) for io in ios
                    if io.get("type") == "DATA" and io["data"]["type"] == kind)


JSON_STREAM = {"Content-Type": "application/json", "Accept": "application/json"}
RECORDIO_PB = {"Content-Type": "application/json", "Accept": "application/recordio",
               "Message-Accept": "application/x-protobuf"}


def session(agent, parent, cid, command, tty=None, headers=JSON_STREAM, shell=True, args=None):
    body = {"type": "LAUNCH_NESTED_CONTAINER_SESSION",
            "launch_nested_container_session": {"container_id": {"value": cid, "parent": {"value": parent}},
                                                "command": {"value": command, "shell": shell}}}
    if args:
        body["launch_nested_container_session"]["command"]["arguments"] = args
    if tty:
        body["launch_nested_container_session"]["container"] = {
            "type": "MESOS", "tty_info": {"window_size": {"rows": tty[0], "columns": tty[1]}}}
    return Stream(agent.port, json.dumps(body).encode(), headers)


def attach_input(agent, parent, cid, records):
    """ATTACH_CONTAINER_INPUT with JSON records: the container id, then
    each of `records` (ProcessIO dicts)."""
    st = Stream(agent.port, b"", {"Content-Type": "application/recordio",
                                  "Message-Content-Type": "application/json",
                                  "Accept": "application/json"}, input=True)
    st.send_record(json.dumps({"type": "ATTACH_CONTAINER_INPUT", "attach_container_input": {
        "type": "CONTAINER_ID", "container_id": {"value": cid, "parent": {"value": parent}}}}).encode())
    for r in records:
        st.send_record(json.dumps({"type": "ATTACH_CONTAINER_INPUT", "attach_container_input": {
            "type": "PROCESS_IO", "process_io": r}}).encode())
    return st


def stdin(data):
    return {"type": "DATA", "data": {"type": "STDIN", "data": base64.b64encode(data).decode()}}


def executor_container(agent, task_id):
    """The container id the task's status names (container_status)."""
    for s in agent.statuses.get(task_id, []):
        if s.container_status.container_id.value:
            return s.container_status.container_id.value
    raise AssertionError("no container id in the statuses of " + task_id)


# ==== The runner ============================================================

def test(*flags):
    def wrap(fn):
        fm = FakeMaster()
        wd = tempfile.mkdtemp(prefix="mesos_api-agentapi-")
        agent = None
        try:
            logdir = tempfile.mkdtemp(prefix="mesos_api-agentlog-")
            agent = Agent(fm, wd, [f.replace("LOGDIR", logdir) for f in flags])
            fn(agent)
            common.passed(fn.__name__)
        except Exception as e:  # noqa: BLE001
            common.failed(fn.__name__, e)
            if agent:
                sys.stdout.write("".join("  " + l.decode(errors="replace") for l in agent.log[-25:]))
        finally:
            if agent:
                rc = agent.stop()
                if rc != 0:
                    print("FAIL - %s: agent exited %s after SIGTERM" % (fn.__name__, rc))
                    common.RESULTS["failed"] += 1
            kill_sandbox_processes(wd)
            fm.close()
        return fn
    return wrap


def kill_sandbox_processes(wd):
    common.kill_processes_in(wd)


# ==== Tests: introspection ==================================================

@test()
def introspection_in_json_and_protobuf(agent):
    st, r = agent.json({"type": "GET_HEALTH"})
    assert st == 200 and r == {"type": "GET_HEALTH", "get_health": {"healthy": True}}, r
    st, r = agent.pb(agent_pb2.Call(type=agent_pb2.Call.GET_HEALTH))
    assert st == 200 and r.type == agent_pb2.Response.GET_HEALTH and r.get_health.healthy, r
    st, r = agent.pb(agent_pb2.Call(type=agent_pb2.Call.GET_VERSION))
    assert r.get_version.version_info.version == "1.12.0", r
    st, r = agent.json({"type": "GET_FLAGS"})
    flags = {f["name"]: f.get("value") for f in r["get_flags"]["flags"]}
    assert flags["port"] == str(agent.port) and flags["switch_user"] == "true", flags
    assert flags["http_heartbeat_interval"] == "30secs" and flags["work_dir"] == agent.wd, flags
    assert [f["name"] for f in r["get_flags"]["flags"]] == sorted(flags), "flags not sorted"
    st, r = agent.json({"type": "GET_AGENT"})
    info = r["get_agent"]["agent_info"]
    assert info["id"]["value"] == "S0" and info["port"] == agent.port, info
    # logging level: set, read back in protobuf
    st, _ = agent.json({"type": "SET_LOGGING_LEVEL", "set_logging_level": {
        "level": 2, "duration": {"nanoseconds": 60 * 10**9}}})
    assert st == 200
    st, r = agent.pb(agent_pb2.Call(type=agent_pb2.Call.GET_LOGGING_LEVEL))
    assert r.get_logging_level.level == 2, r
    # empty lists are written, as upstream's agent writes them
    st, r = agent.json({"type": "GET_STATE"})
    assert r["get_state"]["get_tasks"]["launched_tasks"] == [], r
    assert r["get_state"]["get_frameworks"] == {"frameworks": [], "completed_frameworks": []}, r
    for t, f in (("GET_OPERATIONS", "get_operations"), ("GET_RESOURCE_PROVIDERS", "get_resource_providers")):
        st, r = agent.json({"type": t})
        assert st == 200 and r == {"type": t, f: {}}, r


@test()
def metrics_count_real_tasks_and_resources(agent):
    def metrics():
        st, r = agent.pb(agent_pb2.Call(type=agent_pb2.Call.GET_METRICS, get_metrics={}))
        assert st == 200, r
        names = [m.name for m in r.get_metrics.metrics]
        assert names == sorted(names)
        return {m.name: m.value for m in r.get_metrics.metrics}
    m = metrics()
    assert m["slave/registered"] == 1 and m["slave/cpus_total"] == 2 and m["slave/mem_total"] == 256, m
    assert m["slave/tasks_running"] == 0 and m["slave/cpus_used"] == 0, m
    agent.run_task("m1", "sleep 30", cpus=0.5)
    agent.until("m1", "TASK_RUNNING")
    m = metrics()
    assert m["slave/tasks_running"] == 1 and m["slave/executors_running"] == 1, m
    assert m["slave/cpus_used"] == 0.5 and m["slave/cpus_percent"] == 0.25, m
    assert m["slave/frameworks_active"] == 1 and m["slave/uptime_secs"] > 0, m
    agent.run_task("m2", "exit 0")
    agent.until("m2", "TASK_FINISHED")
    m = wait_for(lambda: (lambda x: x if x["slave/tasks_finished"] == 1 else None)(metrics()), what="counter")
    assert m["slave/tasks_running"] == 1, m
    st, r = agent.json({"type": "GET_METRICS", "get_metrics": {}})
    assert any(x["name"] == "slave/tasks_finished" and x["value"] == 1.0 for x in r["get_metrics"]["metrics"]), r


@test()
def state_calls_show_the_running_task(agent):
    agent.run_task("s1", "sleep 30")
    agent.until("s1", "TASK_RUNNING")
    st, r = agent.json({"type": "GET_TASKS"})
    tasks = r["get_tasks"]["launched_tasks"]
    assert [t["task_id"]["value"] for t in tasks] == ["s1"], r
    t = tasks[0]
    assert t["state"] == "TASK_RUNNING" and t["framework_id"]["value"] == "fw1" and t["agent_id"]["value"] == "S0", t
    assert t["statuses"][-1]["state"] == "TASK_RUNNING", t
    st, r = agent.pb(agent_pb2.Call(type=agent_pb2.Call.GET_EXECUTORS))
    assert [e.executor_info.executor_id.value for e in r.get_executors.executors] == ["s1"], r
    st, r = agent.pb(agent_pb2.Call(type=agent_pb2.Call.GET_FRAMEWORKS))
    assert [f.framework_info.id.value for f in r.get_frameworks.frameworks] == ["fw1"], r
    st, r = agent.json({"type": "GET_STATE"})
    assert r["get_state"]["get_tasks"]["launched_tasks"][0]["task_id"]["value"] == "s1", r
    assert r["get_state"]["get_executors"]["executors"][0]["executor_info"]["executor_id"]["value"] == "s1"
    # the status carries the executor's container, as upstream's agent adds it
    cid = executor_container(agent, "s1")
    assert agent.sandbox("s1").endswith("/" + cid)


def metrics(agent):
    st, r = agent.pb(agent_pb2.Call(type=agent_pb2.Call.GET_METRICS, get_metrics={}))
    assert st == 200, r
    return {m.name: m.value for m in r.get_metrics.metrics}


def until_metrics(agent, pred, what, timeout=20):
    return wait_for(lambda: (lambda m: m if pred(m) else None)(metrics(agent)), timeout, what)


@test()
def metrics_count_terminal_tasks_and_executors(agent):
    m = metrics(agent)
    for k in ("tasks_failed", "tasks_killed", "executors_terminated", "valid_status_updates",
              "executors_registering", "executors_running", "executors_terminating", "frameworks_active"):
        assert m["slave/" + k] == 0, (k, m)
    agent.run_task("x1", "exit 3")
    agent.until("x1", "TASK_FAILED")
    agent.run_task("x2", "sleep 60")
    agent.until("x2", "TASK_RUNNING")
    m = until_metrics(agent, lambda m: m["slave/executors_terminated"] == 1, "x1's executor to exit")
    assert m["slave/executors_running"] == 1 and m["slave/frameworks_active"] == 1, m
    k = messages_pb2.KillTaskMessage()
    k.framework_id.value, k.task_id.value = "fw1", "x2"
    agent.fm.send(agent.pid, k)
    agent.until("x2", "TASK_KILLED")
    m = until_metrics(agent, lambda m: m["slave/executors_terminated"] == 2, "x2's executor to exit")
    updates = sum(len(v) for v in agent.statuses.values())
    assert updates >= 5, agent.statuses                   # STARTING, FAILED; STARTING, RUNNING, KILLED
    assert m["slave/tasks_failed"] == 1 and m["slave/tasks_killed"] == 1 and m["slave/tasks_finished"] == 0, m
    assert m["slave/valid_status_updates"] == updates, (updates, m)
    assert m["slave/executors_running"] == 0 and m["slave/frameworks_active"] == 0, m
    # an executor that never subscribes is registering; told to shut down
    # (and ignoring SIGTERM) it is terminating; killed, it is terminated
    agent.run_task("x3", "true", executor=("mute", "trap '' TERM; exec sleep 60"))
    m = until_metrics(agent, lambda m: m["slave/executors_registering"] == 1, "a registering executor")
    assert m["slave/frameworks_active"] == 1 and m["slave/executors_running"] == 0, m
    sf = messages_pb2.ShutdownFrameworkMessage()
    sf.framework_id.value = "fw1"
    agent.fm.send(agent.pid, sf)
    m = until_metrics(agent, lambda m: m["slave/executors_terminating"] == 1, "a terminating executor")
    assert m["slave/executors_registering"] == 0, m
    st, r = agent.pb(agent_pb2.Call(type=agent_pb2.Call.GET_CONTAINERS))
    cid = [c.container_id.value for c in r.get_containers.containers if c.executor_id.value == "mute"]
    assert len(cid) == 1, r
    assert agent.json({"type": "KILL_CONTAINER", "kill_container": {"container_id": {"value": cid[0]}}})[0] == 200
    s = agent.until("x3", "TASK_FAILED")
    assert s.message == "Executor terminated", s
    m = until_metrics(agent, lambda m: m["slave/executors_terminated"] == 3, "the third executor to end")
    assert m["slave/executors_terminating"] == 0 and m["slave/tasks_failed"] == 2, m
    assert m["slave/container_launch_errors"] == 0 and m["slave/recovery_errors"] == 0, m


def state(agent):
    st, r = agent.json({"type": "GET_STATE"})
    assert st == 200, r
    return r["get_state"]


@test()
def completed_tasks_executors_and_frameworks_are_kept(agent):
    agent.run_task("c1", "exit 0")
    agent.until("c1", "TASK_FINISHED")
    # the command executor exits once its task is acknowledged: the task is
    # completed, then the executor, and the framework with its last executor
    s = wait_for(lambda: (lambda s: s if s["get_frameworks"]["completed_frameworks"] else None)(state(agent)),
                 what="the framework to complete")
    tasks = s["get_tasks"]
    assert tasks["launched_tasks"] == [] and tasks["terminated_tasks"] == [], tasks
    assert [t["task_id"]["value"] for t in tasks["completed_tasks"]] == ["c1"], tasks
    t = tasks["completed_tasks"][0]
    assert t["state"] == "TASK_FINISHED" and t["framework_id"]["value"] == "fw1" and t["agent_id"]["value"] == "S0", t
    assert t["statuses"][-1]["state"] == "TASK_FINISHED" and t["resources"][0]["name"] == "cpus", t
    ex = s["get_executors"]
    assert ex["executors"] == [] and [e["executor_info"]["executor_id"]["value"]
                                      for e in ex["completed_executors"]] == ["c1"], ex
    fw = s["get_frameworks"]
    assert fw["frameworks"] == [] and [f["framework_info"]["id"]["value"]
                                       for f in fw["completed_frameworks"]] == ["fw1"], fw
    assert fw["completed_frameworks"][0]["framework_info"]["name"] == "harness", fw
    # the same in protobuf, call by call
    st, r = agent.pb(agent_pb2.Call(type=agent_pb2.Call.GET_TASKS))
    assert [t.task_id.value for t in r.get_tasks.completed_tasks] == ["c1"], r
    assert r.get_tasks.completed_tasks[0].state == mesos_pb2.TASK_FINISHED, r
    st, r = agent.pb(agent_pb2.Call(type=agent_pb2.Call.GET_EXECUTORS))
    assert [e.executor_info.executor_id.value for e in r.get_executors.completed_executors] == ["c1"], r
    assert len(r.get_executors.executors) == 0, r
    st, r = agent.pb(agent_pb2.Call(type=agent_pb2.Call.GET_FRAMEWORKS))
    assert [f.framework_info.id.value for f in r.get_frameworks.completed_frameworks] == ["fw1"], r
    # a new task: the framework is active again and keeps its history
    agent.run_task("c2", "sleep 30")
    agent.until("c2", "TASK_RUNNING")
    s = state(agent)
    assert [f["framework_info"]["id"]["value"] for f in s["get_frameworks"]["frameworks"]] == ["fw1"], s
    assert s["get_frameworks"]["completed_frameworks"] == [], s
    assert [e["executor_info"]["executor_id"]["value"] for e in s["get_executors"]["executors"]] == ["c2"], s
    assert [e["executor_info"]["executor_id"]["value"]
            for e in s["get_executors"]["completed_executors"]] == ["c1"], s
    assert [t["task_id"]["value"] for t in s["get_tasks"]["launched_tasks"]] == ["c2"], s
    assert [t["task_id"]["value"] for t in s["get_tasks"]["completed_tasks"]] == ["c1"], s


def run_bad_task(agent, framework, task_id):
    """A task with neither command nor executor: the agent fails it
    (TASK_ERROR) without starting anything; acknowledged, it completes,
    and its executor and framework with it."""
    m = messages_pb2.RunTaskMessage()
    m.framework.user, m.framework.name = "root", "bounded"
    m.framework.id.value = framework
    m.task.name, m.task.task_id.value, m.task.slave_id.value = task_id, task_id, "S0"
    agent.fm.send(agent.pid, m)


@test("--max_completed_executors_per_framework=2")
def completed_history_is_bounded_as_upstream(agent):
    for tid in ("b1", "b2", "b3"):
        agent.run_task(tid, "exit 0")
        agent.until(tid, "TASK_FINISHED")
        wait_for(lambda: state(agent)["get_executors"]["executors"] == [], what="%s's executor to exit" % tid)
    s = state(agent)
    # two completed executors per framework: b1's went, and its tasks with it
    assert [e["executor_info"]["executor_id"]["value"]
            for e in s["get_executors"]["completed_executors"]] == ["b2", "b3"], s["get_executors"]
    assert [t["task_id"]["value"] for t in s["get_tasks"]["completed_tasks"]] == ["b2", "b3"], s["get_tasks"]
    # 50 completed frameworks at most (upstream's MAX_COMPLETED_FRAMEWORKS):
    # fw1 completed first, then 51 more; the two oldest are gone
    for i in range(51):
        run_bad_task(agent, "fwb%02d" % i, "x")
        st = agent.update()
        assert st.state == STATE.Value("TASK_ERROR"), st
    want = {"fwb%02d" % i for i in range(1, 51)}
    s = wait_for(lambda: (lambda s: s if {f["framework_info"]["id"]["value"] for f in
                                          s["get_frameworks"]["completed_frameworks"]} == want else None)(state(agent)),
                 what="50 completed frameworks")
    assert len(s["get_frameworks"]["completed_frameworks"]) == 50
    assert len(s["get_tasks"]["completed_tasks"]) == 50, len(s["get_tasks"]["completed_tasks"])
    assert all(t["state"] == "TASK_ERROR" for t in s["get_tasks"]["completed_tasks"])


@test()
def executor_containers_can_be_waited_on_and_killed(agent):
    agent.run_task("w1", "sleep 60")
    agent.until("w1", "TASK_RUNNING")
    cid = executor_container(agent, "w1")
    sandbox = agent.sandbox("w1")
    waiter = Stream(agent.port, json.dumps({"type": "WAIT_CONTAINER", "wait_container": {
        "container_id": {"value": cid}}}).encode(), JSON_STREAM)
    time.sleep(0.3)
    assert waiter.status is None                           # the executor runs: the wait waits
    st, body = agent.json({"type": "KILL_CONTAINER", "kill_container": {"container_id": {"value": cid}}})
    assert st == 200 and body == "", (st, body)
    assert waiter.wait_status() == 200
    wait_for(lambda: waiter.ended, what="the wait's answer")
    r = json.loads(waiter.body)
    assert r == {"type": "WAIT_CONTAINER", "wait_container": {"exit_status": signal.SIGKILL}}, r
    s = agent.until("w1", "TASK_FAILED")
    assert s.message == "Executor terminated", s
    # the container is destroyed: the task's process went with its executor
    def in_sandbox():
        n = 0
        for pid in os.listdir("/proc"):
            try:
                n += pid.isdigit() and os.readlink("/proc/%s/cwd" % pid).startswith(sandbox)
            except OSError:
                pass
        return n
    wait_for(lambda: in_sandbox() == 0, what="the task's process to die")
    st, body = agent.json({"type": "WAIT_CONTAINER", "wait_container": {"container_id": {"value": cid}}})
    assert st == 404 and body == "Container %s cannot be found" % cid, (st, body)
    st, body = agent.json({"type": "KILL_CONTAINER", "kill_container": {"container_id": {"value": cid}}})
    assert st == 404 and body == "Container '%s' cannot be found (or is already killed)" % cid, (st, body)
    # an executor that ends on its own, waited on in protobuf
    agent.run_task("w2", "sleep 1")
    agent.until("w2", "TASK_RUNNING")
    cid2 = executor_container(agent, "w2")
    call = agent_pb2.Call(type=agent_pb2.Call.WAIT_CONTAINER, wait_container={"container_id": {"value": cid2}})
    waiter = Stream(agent.port, call.SerializeToString(), {"Content-Type": "application/x-protobuf",
                                                           "Accept": "application/x-protobuf"})
    agent.until("w2", "TASK_FINISHED")
    assert waiter.wait_status() == 200
    wait_for(lambda: waiter.ended, what="the wait's answer")
    r = agent_pb2.Response()
    r.ParseFromString(waiter.body)
    assert r.type == agent_pb2.Response.WAIT_CONTAINER and r.wait_container.HasField("exit_status"), r
    assert r.wait_container.exit_status == 0, r
    waiter.close()


# ==== Tests: files ==========================================================

@test()
def read_file_returns_what_the_task_wrote(agent):
    text = "".join("line %03d of the task output\n" % i for i in range(200))
    agent.run_task("f1", "printf '%s'; ln -s /etc outside; sleep 30" % text.replace("\n", "\\n"))
    agent.until("f1", "TASK_RUNNING")
    vpath = "/frameworks/fw1/executors/f1/runs/latest/stdout"
    wait_for(lambda: agent.json({"type": "READ_FILE", "read_file": {"path": vpath, "offset": 0, "length": 0}})[1]
             ["read_file"]["size"] == len(text), what="the output")
    st, r = agent.json({"type": "READ_FILE", "read_file": {"path": vpath, "offset": 10, "length": 25}})
    assert st == 200 and r["read_file"]["size"] == len(text), r
    assert base64.b64decode(r["read_file"]["data"]) == text[10:35].encode(), r
    # no length: to the end; past the end: nothing
    st, r = agent.pb(agent_pb2.Call(type=agent_pb2.Call.READ_FILE, read_file={"path": vpath, "offset": 5000}))
    assert r.read_file.size == len(text) and r.read_file.data == text[5000:].encode(), r
    st, r = agent.pb(agent_pb2.Call(type=agent_pb2.Call.READ_FILE, read_file={"path": vpath, "offset": 10**6}))
    assert r.read_file.size == len(text) and r.read_file.data == b"", r
    # the real path and its "latest" alias
    run = agent.sandbox("f1")
    for p in (run + "/stdout", agent.wd + "/slaves/S0/frameworks/fw1/executors/f1/runs/latest/stdout"):
        st, r = agent.json({"type": "READ_FILE", "read_file": {"path": p, "offset": 0, "length": 9}})
        assert st == 200 and base64.b64decode(r["read_file"]["data"]) == b"line 000 ", (p, r)
    # listing
    st, r = agent.json({"type": "LIST_FILES", "list_files": {"path": "/frameworks/fw1/executors/f1/runs/latest"}})
    infos = {i["path"]: i for i in r["list_files"]["file_infos"]}
    assert infos[vpath]["size"] == len(text) and "/frameworks/fw1/executors/f1/runs/latest/stderr" in infos, infos
    assert infos[vpath]["uid"] == "root" or infos[vpath]["uid"].isdigit(), infos[vpath]
    # no way out: "..", a symbolic link to /etc, a directory, unknown paths
    st, body = agent.json({"type": "READ_FILE", "read_file": {
        "path": "/frameworks/fw1/executors/f1/runs/latest/" + "../" * 40 + "etc/passwd", "offset": 0}})
    assert st == 400 and body.endswith("/etc/passwd' is inaccessible.\n"), (st, body)
    st, body = agent.json({"type": "LIST_FILES", "list_files": {"path": "/frameworks/fw1/executors/f1/runs/latest/.."}})
    assert st == 400 and body.endswith("is inaccessible.\n"), (st, body)
    st, body = agent.json({"type": "READ_FILE", "read_file": {
        "path": "/frameworks/fw1/executors/f1/runs/latest/outside/passwd", "offset": 0}})
    assert st == 400 and "is inaccessible" in body, (st, body)
    st, body = agent.json({"type": "LIST_FILES", "list_files": {"path": "/frameworks/fw1/executors/f1/runs/latest/outside"}})
    assert st == 400 and "is inaccessible" in body, (st, body)
    st, body = agent.json({"type": "READ_FILE", "read_file": {"path": "/frameworks/fw1/executors/f1/runs/latest", "offset": 0}})
    assert st == 400 and body == "Cannot read a directory.\n", (st, body)
    for p in ("/frameworks/fw1/executors/nope/runs/latest/stdout", "/etc/passwd",
              "/frameworks/fw1/executors/f1/runs/latest/nope", "/frameworks/../etc/passwd"):
        st, body = agent.json({"type": "READ_FILE", "read_file": {"path": p, "offset": 0}})
        assert st == 404 and body == "", (p, st, body)


@test("--log_dir=LOGDIR")
def the_agent_log_is_slave_log(agent):
    st, r = agent.json({"type": "READ_FILE", "read_file": {"path": "/slave/log", "offset": 0}})
    assert st == 200 and b"Agent started on 127.0.0.1:%d" % agent.port in base64.b64decode(r["read_file"]["data"]), r
    st, r = agent.json({"type": "LIST_FILES", "list_files": {"path": "/slave/log"}})
    assert st == 200 and r == {"type": "LIST_FILES", "list_files": {}}, r       # a file lists as nothing
    st, body = agent.json({"type": "READ_FILE", "read_file": {"path": "/slave/log/x", "offset": 0}})
    assert st == 404, st


# ==== Tests: containers =====================================================

@test()
def get_containers_shows_cpu_time_of_a_busy_task(agent):
    agent.run_task("busy", "while :; do :; done")
    agent.until("busy", "TASK_RUNNING")
    cid = executor_container(agent, "busy")

    def busy():
        st, r = agent.pb(agent_pb2.Call(type=agent_pb2.Call.GET_CONTAINERS))
        for c in r.get_containers.containers:
            if c.container_id.value == cid and c.resource_statistics.cpus_user_time_secs > 0.2:
                return c
    c = wait_for(busy, 20, "CPU time")
    assert c.executor_id.value == "busy" and c.framework_id.value == "fw1", c
    assert c.container_status.executor_pid > 0 and c.container_status.container_id.value == cid, c
    s = c.resource_statistics
    assert s.processes >= 2 and s.threads >= 2 and s.mem_rss_bytes > 0 and s.timestamp > 0, s
    st, r = agent.json({"type": "GET_CONTAINERS"})
    assert r["get_containers"]["containers"][0]["resource_statistics"]["cpus_user_time_secs"] > 0.2, r


@test()
def standalone_containers_launch_wait_kill_remove(agent):
    launch = {"type": "LAUNCH_CONTAINER", "launch_container": {
        "container_id": {"value": "solo"}, "command": {"value": "echo standalone; trap 'exit 7' TERM; sleep 60 & wait"}}}
    st, body = agent.json(launch)
    assert st == 200 and body == "", (st, body)
    st, _ = agent.json(launch)
    assert st == 202, st                                   # already launched
    out = agent.wd + "/containers/solo/stdout"
    wait_for(lambda: os.path.exists(out) and open(out).read() == "standalone\n", what="output")
    st, r = agent.json({"type": "GET_CONTAINERS", "get_containers": {"show_standalone": True}})
    assert [c["container_id"]["value"] for c in r["get_containers"]["containers"]] == ["solo"], r
    st, r = agent.json({"type": "GET_CONTAINERS"})
    assert r["get_containers"] == {}, r                    # not without show_standalone
    waiter = Stream(agent.port, json.dumps({"type": "WAIT_CONTAINER", "wait_container": {
        "container_id": {"value": "solo"}}}).encode(), JSON_STREAM)
    time.sleep(0.3)
    assert waiter.status is None                           # still running: the wait waits
    st, _ = agent.json({"type": "KILL_CONTAINER", "kill_container": {"container_id": {"value": "solo"}, "signal": 15}})
    assert st == 200, st
    assert waiter.wait_status() == 200
    wait_for(lambda: waiter.ended, what="the wait's answer")
    r = json.loads(waiter.body)
    assert r == {"type": "WAIT_CONTAINER", "wait_container": {"exit_status": 7 << 8}}, r
    st, body = agent.json({"type": "KILL_CONTAINER", "kill_container": {"container_id": {"value": "solo"}}})
    assert st == 404 and body == "Container 'solo' cannot be found (or is already killed)", (st, body)
    st, body = agent.json({"type": "WAIT_CONTAINER", "wait_container": {"container_id": {"value": "solo"}}})
    assert st == 404 and body == "Container solo cannot be found", (st, body)
    # Upstream's containerizers remove nested containers only: a finished
    # top-level one is "not found" as a root container, and its sandbox stays.
    st, body = agent.json({"type": "REMOVE_CONTAINER", "remove_container": {"container_id": {"value": "solo"}}})
    assert st == 500 and body == "Root container solo not found", (st, body)
    assert os.path.exists(out)
    st, body = agent.pb(agent_pb2.Call(type=agent_pb2.Call.REMOVE_CONTAINER,
                                       remove_container={"container_id": {"value": "never-was"}}))
    assert st == 500 and body == "Root container never-was not found", (st, body)
    launch["launch_container"]["container_id"]["value"] = "solo2"
    assert agent.json(launch)[0] == 200
    st, body = agent.json({"type": "REMOVE_CONTAINER", "remove_container": {"container_id": {"value": "solo2"}}})
    assert st == 500 and body == "Container has not terminated yet", (st, body)
    assert agent.json({"type": "KILL_CONTAINER", "kill_container": {"container_id": {"value": "solo2"}}})[0] == 200


@test()
def nested_containers_live_in_the_executors_sandbox(agent):
    agent.run_task("n1", "sleep 60")
    agent.until("n1", "TASK_RUNNING")
    parent = executor_container(agent, "n1")
    cid = {"value": "child", "parent": {"value": parent}}
    st, body = agent.json({"type": "LAUNCH_CONTAINER", "launch_container": {
        "container_id": cid, "command": {"value": "echo $MESOS_SANDBOX; exit 3"}}})
    assert st == 200, (st, body)
    st, r = agent.json({"type": "WAIT_NESTED_CONTAINER", "wait_nested_container": {"container_id": cid}})
    assert r == {"type": "WAIT_NESTED_CONTAINER", "wait_nested_container": {"exit_status": 3 << 8}}, r
    sandbox = agent.sandbox("n1") + "/containers/child"
    assert open(sandbox + "/stdout").read() == sandbox + "\n"
    # a terminated nested container stays until removed
    st, r = agent.pb(agent_pb2.Call(type=agent_pb2.Call.WAIT_CONTAINER, wait_container={"container_id": cid}))
    assert r.type == agent_pb2.Response.WAIT_CONTAINER and r.wait_container.exit_status == 3 << 8, r
    st, _ = agent.json({"type": "REMOVE_NESTED_CONTAINER", "remove_nested_container": {"container_id": cid}})
    assert st == 200 and not os.path.exists(sandbox)
    # a running one shows with show_nested, and cannot be removed
    st, _ = agent.json({"type": "LAUNCH_NESTED_CONTAINER", "launch_nested_container": {
        "container_id": {"value": "sleeper", "parent": {"value": parent}}, "command": {"value": "sleep 60"}}})
    assert st == 200
    st, r = agent.json({"type": "GET_CONTAINERS", "get_containers": {"show_nested": True}})
    nested = [c for c in r["get_containers"]["containers"] if c["container_id"].get("parent")]
    assert [c["container_id"]["value"] for c in nested] == ["sleeper"], r
    st, body = agent.json({"type": "REMOVE_CONTAINER", "remove_container": {"container_id": {
        "value": "sleeper", "parent": {"value": parent}}}})
    assert st == 500 and body == "Nested container has not terminated yet", (st, body)
    st, body = agent.json({"type": "LAUNCH_CONTAINER", "launch_container": {
        "container_id": {"value": "x", "parent": {"value": "no-such-parent"}}, "command": {"value": "true"}}})
    assert st == 400 and body == "Parent container no-such-parent does not exist", (st, body)


@test()
def container_calls_are_validated_as_upstream(agent):
    cases = [
        ({"type": "LAUNCH_CONTAINER", "launch_container": {"container_id": {"value": "a.b"}}}, 400,
         "Failed to validate agent::Call: 'launch_container.container_id' is invalid: "
         "'ContainerID.value' 'a.b' contains invalid characters"),
        ({"type": "LAUNCH_CONTAINER", "launch_container": {"container_id": {"value": ".."}}}, 400,
         "Failed to validate agent::Call: 'launch_container.container_id' is invalid: '..' is disallowed"),
        ({"type": "LAUNCH_NESTED_CONTAINER", "launch_nested_container": {"container_id": {"value": "a"}}}, 400,
         "Failed to validate agent::Call: Expecting 'launch_nested_container.container_id.parent' to be present"),
        ({"type": "KILL_CONTAINER"}, 400, "Failed to validate agent::Call: Expecting 'kill_container' to be present"),
        ({"type": "WAIT_CONTAINER", "wait_container": {"container_id": {"value": "x", "parent": {"value": "a/b"}}}}, 400,
         "Failed to validate agent::Call: 'wait_container.container_id' is invalid: "
         "'ContainerID.parent' is invalid: 'a/b' contains invalid characters"),
        ({"type": "WAIT_CONTAINER", "wait_container": {}}, 400, "Missing required fields: wait_container.container_id"),
        ({"type": "KILL_CONTAINER", "kill_container": {"container_id": {"value": "ghost"}}}, 404,
         "Container 'ghost' cannot be found (or is already killed)"),
        ({"type": "LAUNCH_CONTAINER", "launch_container": {"container_id": {"value": "d"},
          "container": {"type": "DOCKER", "docker": {"image": "x"}}}}, 400, "The provided ContainerInfo is not supported"),
    ]
    for body, status, msg in cases:
        st, got = agent.json(body)
        assert (st, got) == (status, msg), (body, st, got)


# ==== Tests: sessions and attach ============================================

@test()
def session_output_arrives_and_the_stream_ends(agent):
    agent.run_task("e1", "sleep 60")
    agent.until("e1", "TASK_RUNNING")
    parent = executor_container(agent, "e1")
    st = session(agent, parent, "s1", "echo hi; echo oops >&2")
    assert st.wait_status() == 200 and st.headers["content-type"] == "application/json", st.headers
    wait_for(lambda: st.ended, what="the end of the session")
    ios = processio_json(st.records)
    assert output_text(ios) == b"hi\n" and output_text(ios, "STDERR") == b"oops\n", ios
    st.close()
    # recordio with protobuf records
    st = session(agent, parent, "s2", "echo protobuf", headers=RECORDIO_PB)
    assert st.wait_status() == 200
    assert st.headers["content-type"] == "application/recordio", st.headers
    assert st.headers["message-content-type"] == "application/x-protobuf", st.headers
    wait_for(lambda: st.ended, what="the end of the session")
    data = b""
    for rec in st.records:
        io = agent_pb2.ProcessIO()
        io.ParseFromString(rec)
        if io.type == agent_pb2.ProcessIO.DATA:
            data += io.data.data
    assert data == b"protobuf\n", st.records
    # a DEBUG container runs in its parent's sandbox with its environment
    st = session(agent, parent, "s3", "pwd; echo $MESOS_SANDBOX")
    wait_for(lambda: st.ended, what="the end of the session")
    sb = agent.sandbox("e1")
    assert output_text(processio_json(st.records)) == ("%s\n%s\n" % (sb, sb)).encode(), st.records


@test()
def input_reaches_cat_and_comes_back(agent):
    agent.run_task("e2", "sleep 60")
    agent.until("e2", "TASK_RUNNING")
    parent = executor_container(agent, "e2")
    out = session(agent, parent, "cat", "cat")
    assert out.wait_status() == 200
    inp = attach_input(agent, parent, "cat", [stdin(b"hello\n"), {"type": "CONTROL", "control": {
        "type": "HEARTBEAT", "heartbeat": {"interval": {"nanoseconds": 10**9}}}}, stdin(b"world\n")])
    wait_for(lambda: output_text(processio_json(out.records)) == b"hello\nworld\n", what="echo from cat")
    # one input at a time
    second = attach_input(agent, parent, "cat", [])
    assert second.wait_status() == 409, second.status
    wait_for(lambda: second.ended, what="the 409 body")
    assert second.body == b"Multiple input connections are not allowed", second.body
    second.close()
    inp.send_record(json.dumps({"type": "ATTACH_CONTAINER_INPUT", "attach_container_input": {
        "type": "PROCESS_IO", "process_io": stdin(b"")}}).encode())   # EOF: cat ends
    inp.end_input()
    assert inp.wait_status() == 200, inp.status
    wait_for(lambda: out.ended, what="the end of the output")
    inp.close()
    out.close()
    st, r = agent.json({"type": "WAIT_CONTAINER", "wait_container": {
        "container_id": {"value": "cat", "parent": {"value": parent}}}})
    assert r["wait_container"]["exit_status"] == 0, r


@test()
def a_session_with_a_terminal(agent):
    agent.run_task("e3", "sleep 60")
    agent.until("e3", "TASK_RUNNING")
    parent = executor_container(agent, "e3")
    out = session(agent, parent, "tty", "stty size; tty -s && echo on-a-tty; read line; stty size; echo got $line",
                  tty=(40, 100))
    assert out.wait_status() == 200
    wait_for(lambda: b"on-a-tty" in output_text(processio_json(out.records)), what="terminal output")
    text = output_text(processio_json(out.records))
    assert text.startswith(b"40 100\r\n"), text
    inp = attach_input(agent, parent, "tty", [{"type": "CONTROL", "control": {
        "type": "TTY_INFO", "tty_info": {"window_size": {"rows": 12, "columns": 34}}}}, stdin(b"abc\n")])
    wait_for(lambda: b"got abc" in output_text(processio_json(out.records)), what="the input through the terminal")
    text = output_text(processio_json(out.records))
    assert b"12 34\r\n" in text and b"abc\r\n" in text, text    # the terminal echoes input
    inp.end_input()
    assert inp.wait_status() == 200
    wait_for(lambda: out.ended, what="the end")
    inp.close()
    out.close()


@test("--http_heartbeat_interval=300ms")
def session_heartbeats_and_closing_the_connection_kills_the_container(agent):
    agent.run_task("e4", "sleep 60")
    agent.until("e4", "TASK_RUNNING")
    parent = executor_container(agent, "e4")
    out = session(agent, parent, "sleepy", "sleep 60")
    assert out.wait_status() == 200
    wait_for(lambda: any(io.get("type") == "CONTROL" for io in processio_json(out.records)), 10, "a heartbeat")
    hb = [io for io in processio_json(out.records) if io.get("type") == "CONTROL"][0]
    assert hb == {"type": "CONTROL", "control": {"type": "HEARTBEAT", "heartbeat": {
        "interval": {"nanoseconds": 300000000}}}}, hb
    cid = {"value": "sleepy", "parent": {"value": parent}}
    waiter = Stream(agent.port, json.dumps({"type": "WAIT_CONTAINER", "wait_container": {
        "container_id": cid}}).encode(), JSON_STREAM)
    time.sleep(0.2)
    out.close()                                              # the client goes away
    assert waiter.wait_status() == 200
    wait_for(lambda: waiter.ended, what="the wait")
    assert json.loads(waiter.body)["wait_container"]["exit_status"] == signal.SIGKILL, waiter.body


@test()
def attach_errors_as_upstream(agent):
    agent.run_task("e5", "sleep 60")
    agent.until("e5", "TASK_RUNNING")
    parent = executor_container(agent, "e5")
    st, body = agent.json({"type": "ATTACH_CONTAINER_OUTPUT", "attach_container_output": {
        "container_id": {"value": "nope", "parent": {"value": "unknown"}}}})
    assert st == 404 and body == "Container unknown.nope cannot be found", (st, body)
    agent.json({"type": "LAUNCH_NESTED_CONTAINER", "launch_nested_container": {
        "container_id": {"value": "plain", "parent": {"value": parent}}, "command": {"value": "sleep 60"}}})
    st, body = agent.json({"type": "ATTACH_CONTAINER_OUTPUT", "attach_container_output": {
        "container_id": {"value": "plain", "parent": {"value": parent}}}})
    assert st == 500 and body == "I/O switchboard server was disabled for this container", (st, body)
    st, body = agent.json({"type": "ATTACH_CONTAINER_INPUT", "attach_container_input": {"type": "CONTAINER_ID",
                           "container_id": {"value": "plain", "parent": {"value": parent}}}})
    assert st == 415 and body == ("Expecting 'Content-Type' to be application/recordio for "
                                  "ATTACH_CONTAINER_INPUT call"), (st, body)
    # a bad record after the first: 400 with the switchboard's message
    out = session(agent, parent, "c2", "cat")
    assert out.wait_status() == 200
    inp = attach_input(agent, parent, "c2", [{"type": "DATA", "data": {"type": "STDOUT", "data": ""}}])
    assert inp.wait_status() == 400
    wait_for(lambda: inp.ended, what="the body")
    assert inp.body == b"Expecting 'process_io.data.type' to be 'STDIN'", inp.body
    inp.close()
    out.close()


@test()
def task_group_tasks_are_nested_containers_of_the_executor(agent):
    m = messages_pb2.RunTaskGroupMessage()
    m.framework.user, m.framework.name = "root", "harness"
    m.framework.id.value = "fw1"
    m.executor.type = mesos_pb2.ExecutorInfo.DEFAULT
    m.executor.executor_id.value = "group"
    m.executor.framework_id.value = "fw1"
    for tid, cmd in (("g1", "echo one; sleep 60"), ("g2", "echo two; sleep 60")):
        t = m.task_group.tasks.add()
        t.name, t.task_id.value, t.slave_id.value, t.command.value = tid, tid, "S0", cmd
    agent.fm.send(agent.pid, m)
    running = {}
    while len(running) < 2:
        s = agent.update()
        if s.state == STATE.Value("TASK_RUNNING"):
            running[s.task_id.value] = s
    sandbox = agent.sandbox("group")
    executor_cid = os.path.basename(sandbox)
    cids = {}
    for tid, s in running.items():
        cid = s.container_status.container_id
        assert cid.parent.value == executor_cid and cid.value, s.container_status
        cids[tid] = cid.value
        wait_for(lambda: open("%s/containers/%s/stdout" % (sandbox, cid.value)).read() ==
                 {"g1": "one\n", "g2": "two\n"}[tid], what="the task's output")
    st, r = agent.pb(agent_pb2.Call(type=agent_pb2.Call.GET_CONTAINERS, get_containers={"show_nested": True}))
    nested = {c.container_id.value: c for c in r.get_containers.containers if c.container_id.HasField("parent")}
    assert set(nested) == set(cids.values()), r
    assert all(c.resource_statistics.processes >= 1 for c in nested.values()), r
    # killing one task kills the group: both nested containers end
    k = messages_pb2.KillTaskMessage()
    k.framework_id.value, k.task_id.value = "fw1", "g1"
    agent.fm.send(agent.pid, k)
    killed = set()
    while killed != {"g1", "g2"}:
        s = agent.update()
        if s.state == STATE.Value("TASK_KILLED"):
            killed.add(s.task_id.value)


@test()
def nested_containers_outlive_an_agent_restart(agent):
    """A task group's tasks (plain nested containers) run on while the agent
    restarts; the new agent adopts them, and killing the task still works
    and reports the exit status the container's init recorded."""
    m = messages_pb2.RunTaskGroupMessage()
    m.framework.user, m.framework.name = "root", "harness"
    m.framework.id.value = "fw1"
    m.executor.type = mesos_pb2.ExecutorInfo.DEFAULT
    m.executor.executor_id.value = "survivor"
    m.executor.framework_id.value = "fw1"
    t = m.task_group.tasks.add()
    t.name, t.task_id.value, t.slave_id.value, t.command.value = "r1", "r1", "S0", "sleep 120"
    t.kill_policy.grace_period.nanoseconds = 5 * 10**9
    agent.fm.send(agent.pid, m)
    s = agent.until("r1", "TASK_RUNNING")
    cid = s.container_status.container_id
    assert agent.stop() == 0
    # the agent is gone; the task is not
    wait_for(lambda: sleeping_in(agent.wd), 5, "the task's sleep after the agent stopped")
    again = subprocess.Popen([BIN, "agent", "--ip=127.0.0.1", "--port=%d" % agent.port,
                              "--master=127.0.0.1:%d" % agent.fm.port, "--work_dir=" + agent.wd,
                              "--resources=cpus:2;mem:256;disk:1024"], stderr=subprocess.PIPE)
    threading.Thread(target=lambda: agent.log.extend(again.stderr), daemon=True).start()
    agent.proc = again
    PROCS.append(again)
    frm, _ = agent.fm.expect("ReregisterSlaveMessage")
    ok = messages_pb2.SlaveReregisteredMessage()
    ok.slave_id.value = "S0"
    agent.fm.send(frm, ok)
    st, r = agent.pb(agent_pb2.Call(type=agent_pb2.Call.GET_CONTAINERS, get_containers={"show_nested": True}))
    assert [c.container_id.value for c in r.get_containers.containers if c.container_id.HasField("parent")] == \
        [cid.value], r
    time.sleep(1.5)                                    # the executor finds the new agent
    k = messages_pb2.KillTaskMessage()
    k.framework_id.value, k.task_id.value = "fw1", "r1"
    agent.fm.send(frm, k)
    s = agent.until("r1", "TASK_KILLED", 30)
    assert wait_for(lambda: not sleeping_in(agent.wd), 10, "the task's sleep to end")


# ==== Tests: transport and the features that are off ========================

@test()
def transport_rules_of_the_agent(agent):
    st, h, body = agent.raw(b"{}", {"Content-Type": "text/plain"})
    assert st == 415 and body == (b"Expecting 'Content-Type' of application/json or application/x-protobuf "
                                  b"or application/recordio"), body
    st, h, body = agent.raw(b'{"type":"GET_HEALTH"}', {"Content-Type": "application/json",
                                                        "Message-Content-Type": "application/json"})
    assert st == 415 and body == b"Expecting 'Message-Content-Type' to be not set for non-streaming requests", body
    st, h, body = agent.raw(b'{"type":"GET_HEALTH"}', {"Content-Type": "application/json", "Accept": "text/html"})
    assert st == 406 and body == (b"Expecting 'Accept' to allow application/json or application/x-protobuf or "
                                  b"application/recordio"), body
    st, h, body = agent.raw(b'{"type":"GET_HEALTH"}', {"Content-Type": "application/json",
                                                        "Accept": "application/recordio"})
    assert st == 406 and body == b"Streaming response is not supported for GET_HEALTH call", body
    st, h, body = agent.raw(b'{"type":"GET_HEALTH"}', {"Content-Type": "application/json",
                                                        "Message-Accept": "application/json"})
    assert st == 406 and body == b"Expecting 'Message-Accept' to be not set for non-streaming responses", body
    st, h, body = agent.raw(b"\xff\xff", {"Content-Type": "application/x-protobuf"})
    assert st == 400 and body == b"Failed to parse body into a protobuf object", body
    st, h, body = agent.raw(b'{"type":1}', {"Content-Type": "application/json"})
    assert st == 400 and body == b"Not expecting a JSON number for field 'type'", body
    st, h, body = agent.raw(b'{"type":', {"Content-Type": "application/json"})
    assert st == 400 and body.startswith(b"Failed to parse body into JSON: "), body
    st, h, body = agent.raw(b"", {"Content-Type": "application/recordio"})
    assert st == 400 and body == b"Expecting 'Message-Content-Type' to be set for streaming requests", body
    st, h, body = agent.raw(b"21\n" + b'{"type":"GET_HEALTH"}', {"Content-Type": "application/recordio",
                                                                  "Message-Content-Type": "application/json"})
    assert st == 415 and body == b"Streaming 'Content-Type' application/recordio is not supported for GET_HEALTH call", body
    st, h, body = agent.raw(b"", {"Content-Type": "application/recordio", "Message-Content-Type": "application/json"})
    assert st == 400 and body == b"Received EOF while reading request body", body
    st, r = agent.json({"type": "UNKNOWN"})
    assert st == 501, st
    # the path with the process id
    s = socket.create_connection(("127.0.0.1", agent.port), timeout=5)
    s.sendall(b'POST /slave(1)/api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
              b'Connection: close\r\nContent-Length: 21\r\n\r\n{"type":"GET_HEALTH"}')
    assert s.recv(100).startswith(b"HTTP/1.1 200 ")
    s.close()


@test()
def resource_providers_and_images_answer_as_an_agent_without_them(agent):
    info = {"type": "org.apache.mesos.rp.local.storage", "name": "test"}
    st, body = agent.json({"type": "ADD_RESOURCE_PROVIDER_CONFIG", "add_resource_provider_config": {"info": info}})
    assert st == 400 and body == ("Failed to validate resource provider config with type "
                                  "'org.apache.mesos.rp.local.storage' and name 'test': Unknown local resource "
                                  "provider type 'org.apache.mesos.rp.local.storage'"), (st, body)
    st, body = agent.json({"type": "UPDATE_RESOURCE_PROVIDER_CONFIG", "update_resource_provider_config": {
        "info": dict(info, id={"value": "x"})}})
    assert st == 400 and body == ("Failed to validate agent::Call: Expecting "
                                  "'update_resource_provider_config.info.id' to be unset"), (st, body)
    st, body = agent.json({"type": "REMOVE_RESOURCE_PROVIDER_CONFIG", "remove_resource_provider_config": {
        "type": "a", "name": "b"}})
    assert st == 500 and body == "Missing required flag --resource_provider_config_dir", (st, body)
    st, body = agent.json({"type": "MARK_RESOURCE_PROVIDER_GONE", "mark_resource_provider_gone": {
        "resource_provider_id": {"value": "rp"}}})
    assert st == 200, (st, body)
    st, body = agent.pb(agent_pb2.Call(type=agent_pb2.Call.PRUNE_IMAGES))
    assert st == 200 and body == "", (st, body)


# ==== Tests: executors (issue 3's agent side) ===============================

FAKE_EXECUTOR = r'''
import json, os, socket, sys
host, port = os.environ["MESOS_AGENT_ENDPOINT"].rsplit(":", 1)
call = json.dumps({"type": "SUBSCRIBE", "framework_id": {"value": os.environ["MESOS_FRAMEWORK_ID"]},
                   "executor_id": {"value": os.environ["MESOS_EXECUTOR_ID"]}, "subscribe": {}}).encode()
s = socket.create_connection((host, int(port)))
s.sendall(b"POST /api/v1/executor HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Accept: application/json\r\nContent-Length: %d\r\n\r\n" % len(call) + call)
log = open("events", "a")
while True:
    data = s.recv(65536)
    if not data:
        break
    for line in data.split(b"\n"):
        for t in (b"SUBSCRIBED", b"HEARTBEAT", b"LAUNCH"):
            if b'"type":"' + t + b'"' in line:
                log.write(t.decode() + "\n")
                log.flush()
'''


@test("--executor_heartbeat_interval=500ms")
def executors_get_heartbeats(agent):
    script = os.path.join(agent.wd, "fake_executor.py")
    open(script, "w").write(FAKE_EXECUTOR)
    agent.run_task("h1", "true", executor=("hb-executor", "exec /usr/bin/python3 " + script))
    events = lambda: open(agent.sandbox("hb-executor") + "/events").read().split()  # noqa: E731
    wait_for(lambda: glob.glob("%s/slaves/S0/frameworks/fw1/executors/hb-executor/runs/*/events" % agent.wd),
             what="the executor")
    wait_for(lambda: events().count("HEARTBEAT") >= 2, 15, "two heartbeats")
    ev = events()
    assert ev[0] == "SUBSCRIBED" and "LAUNCH" in ev, ev


@test("--switch_user=false")
def without_switch_user_tasks_run_as_the_agent(agent):
    agent.run_task("u1", "id -u", user="nobody")
    s = agent.until("u1", "TASK_FINISHED")
    assert s.state == STATE.Value("TASK_FINISHED"), s
    assert open(agent.sandbox("u1") + "/stdout").read().strip().endswith(str(os.getuid()))


report()
