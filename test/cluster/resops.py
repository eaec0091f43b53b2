#!/usr/bin/python3
"""Resource operations, operation status, executor messages and the
master's files, end to end on a real master and agent on loopback.

Operator calls RESERVE_RESOURCES ... SHRINK_VOLUME and frameworks' ACCEPT
operations (RESERVE, CREATE, DESTROY, ...) change the agent's total, which
GET_AGENTS and later offers show; reserved resources are offered to their
role only; reservations and volumes survive an agent restart; operations
with an id get UPDATE_OPERATION_STATUS, RECONCILE_OPERATIONS and
ACKNOWLEDGE_OPERATION_STATUS work; MESSAGE goes both ways through a custom
executor (echo_executor.py); SHUTDOWN stops it; READ_FILE serves
/master/log. Calls are made in JSON and in protobuf. Every wait has a
deadline. Ends with "N passed, N failed".

Usage: test/cluster/resops.py ./mesos_api
"""
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
import protos  # noqa: E402  (generates the Python protobuf classes)
from google.protobuf import json_format  # noqa: E402
from mesos.v1.scheduler import scheduler_pb2  # noqa: E402

import common  # noqa: E402
from common import BIN, kill_processes_in, report  # noqa: E402

EXECUTOR = os.path.join(HERE, "echo_executor.py")


def free_port():
    """A port with the next one free too (the agent takes port + 1)."""
    return common.free_run(2)


def http(port, path, body, headers=None, timeout=10):
    """One request; returns (status, headers dict, body bytes)."""
    h = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\nContent-Length: %d\r\n\r\n"
               % (path, h, len(body))).encode() + body)
    head, payload = common.read_response(s)
    lines = head.decode().split("\r\n")
    hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
    if hdrs.get("transfer-encoding") == "chunked":
        out, rest = b"", payload
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        payload = out
    return int(lines[0].split(" ")[1]), hdrs, payload


def operator(port, body, expect=200, proto=False):
    """An operator call in JSON (a dict back) or protobuf (a Response dict)."""
    if proto:
        msg = json_format.ParseDict(body, protos.Call())
        status, _, payload = http(port, "/api/v1", msg.SerializeToString(),
                                  {"Content-Type": "application/x-protobuf", "Accept": "application/x-protobuf"})
        assert status == expect, (status, payload[:300])
        if status != 200:
            return payload.decode(errors="replace")
        r = protos.Response()
        r.ParseFromString(payload)
        return json_format.MessageToDict(r, preserving_proto_field_name=True)
    status, _, payload = http(port, "/api/v1", json.dumps(body).encode(),
                              {"Content-Type": "application/json", "Accept": "application/json"})
    assert status == expect, (status, payload[:300])
    return json.loads(payload) if status == 200 and payload else payload.decode(errors="replace")


def scalar(v):
    return {"value": v}


def res(name, value, role=None, principal=None, volume=None):
    r = {"name": name, "type": "SCALAR", "scalar": scalar(value)}
    if role:
        rsv = {"type": "DYNAMIC", "role": role}
        if principal:
            rsv["principal"] = principal
        r["reservations"] = [rsv]
    if volume:
        r["disk"] = {"persistence": {"id": volume}, "volume": {"container_path": "data", "mode": "RW"}}
    return r


def totals(port, proto=False):
    """GET_AGENTS total_resources of the one agent as {(name, role, volume): value}."""
    ag = operator(port, {"type": "GET_AGENTS"}, proto=proto)["get_agents"]["agents"]
    assert len(ag) == 1, ag
    return summarize(ag[0]["total_resources"]), ag[0]


def summarize(resources):
    out = {}
    for r in resources:
        role = r["reservations"][-1]["role"] if r.get("reservations") else r.get("role", "*")
        vol = r.get("disk", {}).get("persistence", {}).get("id")
        key = (r["name"], role, vol)
        out[key] = round(out.get(key, 0) + r.get("scalar", {}).get("value", 0), 3)
    return out


class Scheduler:
    """A subscribed framework over /api/v1/scheduler in JSON or protobuf;
    events are read by a thread into dicts (protobuf ones converted with
    the proto field names, so tests read both the same way)."""

    def __init__(self, port, info, proto=False):
        self.port, self.proto = port, proto
        self.events = []
        self.cv = threading.Condition()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        body = self.encode({"type": "SUBSCRIBE", "subscribe": {"framework_info": info}})
        ct = "application/x-protobuf" if proto else "application/json"
        self.sock.sendall(b"POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nAccept: %s\r\n"
                          b"Content-Length: %d\r\n\r\n" % (ct.encode(), ct.encode(), len(body)) + body)
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        lines = head.decode().split("\r\n")
        assert " 200 " in lines[0], lines
        hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
        assert hdrs["content-type"] == ct, hdrs
        self.stream_id = hdrs["mesos-stream-id"]
        threading.Thread(target=self._read, daemon=True).start()
        self.id = self.next("SUBSCRIBED")["subscribed"]["framework_id"]["value"]

    def encode(self, body):
        if self.proto:
            return json_format.ParseDict(body, scheduler_pb2.Call()).SerializeToString()
        return json.dumps(body).encode()

    def decode(self, raw):
        if self.proto:
            ev = scheduler_pb2.Event()
            ev.ParseFromString(raw)
            return json_format.MessageToDict(ev, preserving_proto_field_name=True)
        return json.loads(raw)

    def _read(self):
        f = self.sock.makefile("rb")
        buf = b""
        try:
            while True:
                size = int(f.readline().split(b";")[0], 16)
                if size == 0:
                    break
                buf += f.read(size)
                f.readline()
                while b"\n" in buf:
                    n, rest = buf.split(b"\n", 1)
                    if len(rest) < int(n):
                        break
                    with self.cv:
                        self.events.append(self.decode(rest[:int(n)]))
                        self.cv.notify_all()
                    buf = rest[int(n):]
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
                    raise AssertionError("no %s event in %ss; have %s" % (type_, timeout,
                                                                        [e["type"] for e in self.events]))
                self.cv.wait(left)

    def call(self, body, expect=202, headers=None):
        body["framework_id"] = {"value": self.id}
        ct = "application/x-protobuf" if self.proto else "application/json"
        h = {"Content-Type": ct, "Mesos-Stream-Id": self.stream_id}
        h.update(headers or {})
        status, _, text = http(self.port, "/api/v1/scheduler", self.encode(body), h)
        assert status == expect, (status, text)
        return text.decode(errors="replace")

    def offer(self, pred=lambda o: True, timeout=20):
        """The next offer that satisfies pred; other offers are declined at once."""
        end = time.time() + timeout
        while True:
            e = self.next("OFFERS", max(0.1, end - time.time()))
            for o in e["offers"]["offers"]:
                if pred(o):
                    return o
                self.call({"type": "DECLINE", "decline": {"offer_ids": [o["id"]], "filters": {"refuse_seconds": 0}}})

    def op_status(self, op_id, timeout=20):
        e = self.next("UPDATE_OPERATION_STATUS", timeout,
                      lambda e: e["update_operation_status"]["status"].get("operation_id", {}).get("value") == op_id)
        return e["update_operation_status"]["status"]

    def ack_op(self, st):
        self.call({"type": "ACKNOWLEDGE_OPERATION_STATUS", "acknowledge_operation_status": {
            "agent_id": st["agent_id"], "uuid": st["uuid"]["value"], "operation_id": st["operation_id"]}})

    def update(self, task_id, timeout=20):
        e = self.next("UPDATE", timeout, lambda e: e["update"]["status"]["task_id"]["value"] == task_id)
        st = e["update"]["status"]
        if "uuid" in st:
            self.call({"type": "ACKNOWLEDGE", "acknowledge": {"agent_id": st["agent_id"], "task_id": st["task_id"],
                                                              "uuid": st["uuid"]}})
        return st

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def fw(role, name="resops", caps=("PARTITION_AWARE",), principal=None):
    info = {"user": "root", "name": name, "role": role, "capabilities": [{"type": c} for c in caps]}
    if principal:
        info["principal"] = principal
    return info


class Cluster:
    """A master and one agent, each its own process; the agent can be
    restarted on the same work_dir."""

    def __init__(self, master_flags=(), resources="cpus:4;mem:2048;disk:2000"):
        self.port = free_port()
        self.tmp = tempfile.mkdtemp(prefix="mesos_api-resops-")
        self.resources = resources
        self.master_flags = list(master_flags)
        self.mlog = open(os.path.join(self.tmp, "master.err"), "ab")
        self.start_master()
        self.agent = None
        self.start_agent()

    def start_master(self):
        self.master = subprocess.Popen([BIN, "master", "--ip=127.0.0.1", "--port=%d" % self.port,
                                        "--allocation_interval=100ms"] + self.master_flags, stderr=self.mlog)

    def kill_master(self):
        self.master.kill()
        self.master.wait()

    def start_agent(self):
        self.alog = open(os.path.join(self.tmp, "agent.err"), "ab")
        self.agent = subprocess.Popen([BIN, "agent", "--ip=127.0.0.1", "--port=%d" % (self.port + 1),
                                       "--master=127.0.0.1:%d" % self.port, "--work_dir=" + self.tmp + "/agent",
                                       "--resources=" + self.resources], stderr=self.alog,
                                      env=dict(os.environ, MESOS_RECOVERY_TIMEOUT="5secs"))
        self.wait_agent()

    def wait_agent(self, pred=lambda a: True):
        end = time.time() + 15
        while time.time() < end:
            try:
                ag = operator(self.port, {"type": "GET_AGENTS"})["get_agents"]["agents"]
                if ag and pred(ag[0]):
                    return ag[0]
            except (OSError, ValueError, KeyError, AssertionError):
                pass
            time.sleep(0.05)
        raise AssertionError("the agent did not (re)register")

    def agent_id(self):
        return operator(self.port, {"type": "GET_AGENTS"})["get_agents"]["agents"][0]["agent_info"]["id"]["value"]

    def kill_agent(self):
        self.agent.kill()
        self.agent.wait()
        self.alog.close()

    def stop(self):
        """SIGTERM to both; the exit status of each (0 expected: under ASan
        a leak makes it non-zero)."""
        arc = None
        if self.agent and self.agent.poll() is None:
            self.agent.send_signal(signal.SIGTERM)
            arc = self.agent.wait(10)
        self.master.send_signal(signal.SIGTERM)
        rc = self.master.wait(10)
        for p in (self.master, self.agent):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        kill_processes_in(self.tmp)                     # executors of this test
        self.mlog.close()
        return rc, arc

    def tail(self):
        out = []
        for name in ("master.err", "agent.err"):
            try:
                with open(os.path.join(self.tmp, name), "rb") as f:
                    out += [name + ": " + l.decode(errors="replace") for l in f.readlines()[-12:]]
            except OSError:
                pass
        return "".join(out)


def test(master_flags=(), resources="cpus:4;mem:2048;disk:2000"):
    def wrap(fn):
        c = None
        try:
            c = Cluster(master_flags, resources)
            fn(c)
            rc, arc = c.stop()
            assert rc == 0 and arc in (0, None), "master exited %s, agent %s" % (rc, arc)
            common.passed(fn.__name__)
        except Exception as e:  # noqa: BLE001
            common.failed(fn.__name__, e)
            if c:
                sys.stdout.write(c.tail())
                try:
                    c.stop()
                except Exception:  # noqa: BLE001
                    pass
        return fn
    return wrap


def wait_for(fn, what, timeout=15):
    end = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


# ==== Operator calls ========================================================

@test()
def operator_reserve_unreserve_json_and_protobuf(c):
    aid = c.agent_id()
    # RESERVE in JSON: 202, empty body; GET_AGENTS shows it in both encodings.
    body = operator(c.port, {"type": "RESERVE_RESOURCES", "reserve_resources": {
        "agent_id": {"value": aid}, "resources": [res("cpus", 1, "r1", "ops"), res("mem", 256, "r1", "ops")]}},
        expect=202)
    assert body == "", body
    for proto in (False, True):
        t, agent = totals(c.port, proto)
        assert t[("cpus", "r1", None)] == 1 and t[("cpus", "*", None)] == 3, t
        assert t[("mem", "r1", None)] == 256 and t[("mem", "*", None)] == 1792, t
        reserved = [r for r in agent["total_resources"] if r.get("reservations")]
        assert all(r["role"] == "r1" and r["reservation"] == {"principal": "ops"} for r in reserved), reserved
        assert reserved[0]["reservations"] == [{"type": "DYNAMIC", "role": "r1", "principal": "ops"}], reserved
        # agent_info.resources stays what the agent was started with
        assert summarize(agent["agent_info"]["resources"]) == {("cpus", "*", None): 4, ("mem", "*", None): 2048,
                                                               ("disk", "*", None): 2000}
    # RESERVE in protobuf: 202.
    operator(c.port, {"type": "RESERVE_RESOURCES", "reserve_resources": {
        "agent_id": {"value": aid}, "resources": [res("disk", 100, "r1")]}}, expect=202, proto=True)
    assert totals(c.port)[0][("disk", "r1", None)] == 100
    # The role's offers carry the reservation; another role's do not.
    s1 = Scheduler(c.port, fw("r1"))
    o = s1.offer(lambda o: any(r.get("role") == "r1" for r in o["resources"]))
    got = summarize(o["resources"])
    assert got[("cpus", "r1", None)] == 1 and got[("disk", "r1", None)] == 100, got
    # without RESERVATION_REFINEMENT: pre-refinement format (role, reservation, no reservations)
    assert all("reservations" not in r and "role" in r for r in o["resources"]), o["resources"]
    s1.call({"type": "DECLINE", "decline": {"offer_ids": [o["id"]], "filters": {"refuse_seconds": 60}}})
    s2 = Scheduler(c.port, fw("r2", caps=("PARTITION_AWARE", "RESERVATION_REFINEMENT")))
    o2 = s2.offer()
    roles = {r.get("reservations", [{}])[-1].get("role", "*") for r in o2["resources"]}
    assert roles == {"*"}, o2["resources"]
    assert summarize(o2["resources"])[("cpus", "*", None)] == 3, o2["resources"]
    s2.call({"type": "DECLINE", "decline": {"offer_ids": [o2["id"]], "filters": {"refuse_seconds": 60}}})
    # Errors, with upstream's texts.
    text = operator(c.port, {"type": "RESERVE_RESOURCES", "reserve_resources": {
        "agent_id": {"value": "nope"}, "resources": [res("cpus", 1, "r1")]}}, expect=400)
    assert text == "No agent found with specified ID", text
    text = operator(c.port, {"type": "RESERVE_RESOURCES", "reserve_resources": {
        "agent_id": {"value": aid}, "resources": [res("cpus", 1)]}}, expect=400)
    assert text == ("Invalid RESERVE operation on agent %s at slave(1)@127.0.0.1:%d (%s): Resource cpus:1 is not "
                    "dynamically reserved" % (aid, c.port + 1, socket.gethostname())), text
    text = operator(c.port, {"type": "RESERVE_RESOURCES", "reserve_resources": {
        "agent_id": {"value": aid}, "resources": [res("cpus", 100, "r1")]}}, expect=409)
    assert text.endswith(" does not contain cpus(reservations: [(DYNAMIC,r1)]):100") or \
        "does not contain cpus:100" in text, text
    text = operator(c.port, {"type": "RESERVE_RESOURCES", "reserve_resources": {
        "agent_id": {"value": aid}, "resources": [res("cpus", -1, "r1")]}}, expect=400)
    assert text.startswith("Failed to validate master::Call: Resource '") and "is invalid" in text, text
    # UNRESERVE (JSON): back to unreserved; the framework in r1 no longer sees it.
    operator(c.port, {"type": "UNRESERVE_RESOURCES", "unreserve_resources": {
        "agent_id": {"value": aid}, "resources": [res("cpus", 1, "r1", "ops"), res("mem", 256, "r1", "ops")]}},
        expect=202)
    operator(c.port, {"type": "UNRESERVE_RESOURCES", "unreserve_resources": {
        "agent_id": {"value": aid}, "resources": [res("disk", 100, "r1")]}}, expect=202, proto=True)
    t = totals(c.port)[0]
    assert t == {("cpus", "*", None): 4, ("mem", "*", None): 2048, ("disk", "*", None): 2000}, t
    text = operator(c.port, {"type": "UNRESERVE_RESOURCES", "unreserve_resources": {
        "agent_id": {"value": aid}, "resources": [res("cpus", 1)]}}, expect=400)
    assert text == "Invalid UNRESERVE operation: Resource cpus:1 is not dynamically reserved", text
    s1.close()
    s2.close()


@test()
def operator_volumes_grow_shrink_destroy(c):
    aid = c.agent_id()
    operator(c.port, {"type": "RESERVE_RESOURCES", "reserve_resources": {
        "agent_id": {"value": aid}, "resources": [res("disk", 300, "r1")]}}, expect=202)
    operator(c.port, {"type": "CREATE_VOLUMES", "create_volumes": {
        "agent_id": {"value": aid}, "volumes": [res("disk", 100, "r1", volume="v1")]}}, expect=202)
    voldir = os.path.join(c.tmp, "agent", "volumes", "roles", "r1", "v1")
    wait_for(lambda: os.path.isdir(voldir), "the volume directory")
    t = totals(c.port)[0]
    assert t[("disk", "r1", "v1")] == 100 and t[("disk", "r1", None)] == 200 and t[("disk", "*", None)] == 1700, t
    # a second volume with the same id: refused
    text = operator(c.port, {"type": "CREATE_VOLUMES", "create_volumes": {
        "agent_id": {"value": aid}, "volumes": [res("disk", 10, "r1", volume="v1")]}}, expect=400)
    assert text.endswith(": Persistence ID 'v1' is not unique"), text
    # GROW_VOLUME by 50 (protobuf), SHRINK_VOLUME by 30 (JSON)
    operator(c.port, {"type": "GROW_VOLUME", "grow_volume": {
        "agent_id": {"value": aid}, "volume": res("disk", 100, "r1", volume="v1"),
        "addition": res("disk", 50, "r1")}}, expect=202, proto=True)
    t = totals(c.port)[0]
    assert t[("disk", "r1", "v1")] == 150 and t[("disk", "r1", None)] == 150, t
    operator(c.port, {"type": "SHRINK_VOLUME", "shrink_volume": {
        "agent_id": {"value": aid}, "volume": res("disk", 150, "r1", volume="v1"), "subtract": {"value": 30}}},
        expect=202)
    t = totals(c.port)[0]
    assert t[("disk", "r1", "v1")] == 120 and t[("disk", "r1", None)] == 180, t
    text = operator(c.port, {"type": "SHRINK_VOLUME", "shrink_volume": {
        "agent_id": {"value": aid}, "volume": res("disk", 120, "r1", volume="v1"), "subtract": {"value": 120}}},
        expect=400)
    assert text.startswith("Invalid SHRINK_VOLUME operation on agent %s" % aid) and text.endswith(
        ": Value of 'ShrinkVolume.subtract' must be smaller than the size of 'ShrinkVolume.volume'"), text
    text = operator(c.port, {"type": "GROW_VOLUME", "grow_volume": {
        "volume": res("disk", 120, "r1", volume="v1"), "addition": res("disk", 5, "r1")}}, expect=400)
    assert text == ("Failed to validate master::Call: Expecting 'agent_id' to be present; only agent default "
                    "resources are supported right now"), text
    # DESTROY: the directory goes; an unknown volume is refused.
    text = operator(c.port, {"type": "DESTROY_VOLUMES", "destroy_volumes": {
        "agent_id": {"value": aid}, "volumes": [res("disk", 10, "r1", volume="zz")]}}, expect=400)
    assert text == "Invalid DESTROY operation: Persistent volumes not found", text
    operator(c.port, {"type": "DESTROY_VOLUMES", "destroy_volumes": {
        "agent_id": {"value": aid}, "volumes": [res("disk", 120, "r1", volume="v1")]}}, expect=202)
    wait_for(lambda: not os.path.exists(voldir), "the volume directory to go")
    t = totals(c.port)[0]
    assert t[("disk", "r1", None)] == 300 and ("disk", "r1", "v1") not in t, t
    # CREATE from unreserved disk: refused as upstream does.
    text = operator(c.port, {"type": "CREATE_VOLUMES", "create_volumes": {
        "agent_id": {"value": aid}, "volumes": [dict(res("disk", 10), disk={
            "persistence": {"id": "x"}, "volume": {"container_path": "d", "mode": "RW"}})]}}, expect=400)
    assert "Persistent volumes cannot be created from unreserved resources" in text, text


@test()
def accept_reserve_create_launch_destroy(c):
    s = Scheduler(c.port, fw("r1", caps=("PARTITION_AWARE", "RESERVATION_REFINEMENT")))
    o = s.offer()
    aid = o["agent_id"]["value"]
    task = {"name": "vol", "task_id": {"value": "vol"}, "agent_id": o["agent_id"],
            "executor": {"executor_id": {"value": "echo"}, "framework_id": {"value": s.id},
                         "command": {"value": "/usr/bin/python3 " + EXECUTOR}},
            "data": base64.b64encode(b"write:data/f").decode(),
            "resources": [res("cpus", 0.5, "r1"), res("mem", 64, "r1"), res("disk", 64, "r1", volume="v1")]}
    s.call({"type": "ACCEPT", "accept": {"offer_ids": [o["id"]], "operations": [
        {"type": "RESERVE", "id": {"value": "op-reserve"},
         "reserve": {"resources": [res("cpus", 0.5, "r1"), res("mem", 64, "r1"), res("disk", 128, "r1")]}},
        {"type": "CREATE", "id": {"value": "op-create"}, "create": {"volumes": [res("disk", 64, "r1", volume="v1")]}},
        {"type": "LAUNCH", "launch": {"task_infos": [task]}}], "filters": {"refuse_seconds": 0}}})
    st = {}
    for op in ("op-reserve", "op-create"):
        st[op] = s.op_status(op)
        assert st[op]["state"] == "OPERATION_FINISHED" and st[op]["agent_id"]["value"] == aid, st[op]
        assert len(base64.b64decode(st[op]["uuid"]["value"])) == 16, st[op]
    # Until acknowledged, GET_OPERATIONS lists them.
    ops = operator(c.port, {"type": "GET_OPERATIONS"})["get_operations"]["operations"]
    assert sorted(x["info"]["id"]["value"] for x in ops) == ["op-create", "op-reserve"], ops
    assert all(x["latest_status"]["state"] == "OPERATION_FINISHED" and x["framework_id"]["value"] == s.id
               and x["agent_id"]["value"] == aid for x in ops), ops
    for op in st.values():
        s.ack_op(op)
    wait_for(lambda: operator(c.port, {"type": "GET_OPERATIONS"})["get_operations"] == {}, "operations to go")
    # The task runs with the volume in its sandbox and writes into it.
    assert s.update("vol")["state"] == "TASK_RUNNING"
    f = os.path.join(c.tmp, "agent", "volumes", "roles", "r1", "v1", "f")
    wait_for(lambda: os.path.exists(f), "the task's file in the volume")
    assert open(f).read() == "hello"
    text = operator(c.port, {"type": "DESTROY_VOLUMES", "destroy_volumes": {
        "agent_id": {"value": aid}, "volumes": [res("disk", 64, "r1", volume="v1")]}}, expect=400)
    assert text == "Invalid DESTROY operation: Persistent volumes in use", text
    t = totals(c.port)[0]
    assert t[("disk", "r1", "v1")] == 64 and t[("disk", "r1", None)] == 64 and t[("cpus", "r1", None)] == 0.5, t
    # SHUTDOWN the executor: its task is killed, the executor exits.
    s.call({"type": "SHUTDOWN", "shutdown": {"executor_id": {"value": "echo"}, "agent_id": {"value": aid}}})
    assert s.update("vol")["state"] == "TASK_KILLED"
    fail = s.next("FAILURE", 15)["failure"]
    assert fail["executor_id"]["value"] == "echo", fail
    # The volume comes back in the role's offers; DESTROY and UNRESERVE it.
    o = s.offer(lambda o: any(r.get("disk", {}).get("persistence") for r in o["resources"]))
    vol = [r for r in o["resources"] if r.get("disk", {}).get("persistence")][0]
    assert vol["disk"]["persistence"]["id"] == "v1" and vol["scalar"]["value"] == 64, vol
    # What the offer holds reserved (the volume's disk included once
    # destroyed) is unreserved in the same ACCEPT; whatever reserved disk
    # another offer holds is unreserved through the operator API, which
    # rescinds that offer.
    back = [res(r["name"], r["scalar"]["value"], "r1") for r in o["resources"]
            if r.get("reservations") and not r.get("disk", {}).get("persistence")]
    back.append(res("disk", 64, "r1"))
    s.call({"type": "ACCEPT", "accept": {"offer_ids": [o["id"]], "operations": [
        {"type": "DESTROY", "destroy": {"volumes": [vol]}},
        {"type": "UNRESERVE", "unreserve": {"resources": back}}], "filters": {"refuse_seconds": 0}}})
    wait_for(lambda: ("disk", "r1", "v1") not in totals(c.port)[0], "the volume to go")
    left = totals(c.port)[0].get(("disk", "r1", None))
    if left:
        operator(c.port, {"type": "UNRESERVE_RESOURCES", "unreserve_resources": {
            "agent_id": {"value": aid}, "resources": [res("disk", left, "r1")]}}, expect=202)
    wait_for(lambda: totals(c.port)[0] == {("cpus", "*", None): 4, ("mem", "*", None): 2048,
                                           ("disk", "*", None): 2000}, "the agent back to unreserved")
    wait_for(lambda: not os.path.exists(os.path.dirname(f)), "the volume directory to go")
    s.close()


@test()
def operation_status_reconcile_and_errors(c):
    for proto in (False, True):
        s = Scheduler(c.port, fw("r1"), proto=proto)
        o = s.offer()
        aid = o["agent_id"]["value"]
        s.call({"type": "ACCEPT", "accept": {"offer_ids": [o["id"]], "operations": [
            {"type": "RESERVE", "id": {"value": "res-ok"}, "reserve": {"resources": [res("cpus", 1, "r1")]}},
            {"type": "RESERVE", "id": {"value": "res-bad"}, "reserve": {"resources": [res("mem", 8, "r9")]}},
            {"type": "UNRESERVE", "id": {"value": "unres-bad"}, "unreserve": {"resources": [res("mem", 8)]}},
            {"type": "LAUNCH", "id": {"value": "launch-id"}, "launch": {"task_infos": [{
                "name": "x", "task_id": {"value": "with-id"}, "agent_id": o["agent_id"], "command": {"value": "true"},
                "resources": [res("cpus", 0.1)]}]}}],
            "filters": {"refuse_seconds": 0}}})
        st = s.update("with-id")
        assert st["state"] == "TASK_ERROR" and st["reason"] == "REASON_TASK_INVALID", st
        assert st["message"] == "The `id` field cannot be set on LAUNCH operations", st
        ok = s.op_status("res-ok")
        assert ok["state"] == "OPERATION_FINISHED" and "uuid" in ok, ok
        bad = s.op_status("res-bad")
        assert bad["state"] == "OPERATION_ERROR" and "uuid" not in bad, bad
        assert bad["message"].startswith("A reserve operation was attempted for a resource with role 'r9', but the "
                                         "resource was allocated to role 'r1'; on agent %s" % aid), bad
        bad = s.op_status("unres-bad")
        assert bad["state"] == "OPERATION_ERROR" and "is not dynamically reserved" in bad["message"], bad
        # Implicit reconciliation: the known operation, without a uuid.
        s.call({"type": "RECONCILE_OPERATIONS", "reconcile_operations": {}})
        rec = s.op_status("res-ok")
        assert rec["state"] == "OPERATION_FINISHED" and "uuid" not in rec, rec
        # Explicit: known, unknown on a known agent, unknown without an agent.
        s.call({"type": "RECONCILE_OPERATIONS", "reconcile_operations": {"operations": [
            {"operation_id": {"value": "res-ok"}, "agent_id": {"value": aid}},
            {"operation_id": {"value": "ghost"}, "agent_id": {"value": aid}},
            {"operation_id": {"value": "nowhere"}}]}})
        assert s.op_status("res-ok")["state"] == "OPERATION_FINISHED"
        g = s.op_status("ghost")
        assert g["state"] == "OPERATION_UNKNOWN" and g["message"] == "Reconciliation: Operation is unknown", g
        g = s.op_status("nowhere")
        assert g["state"] == "OPERATION_UNKNOWN" and g["message"] == \
            "Reconciliation: Operation is unknown and no 'agent_id' was provided", g
        # Validation of the calls (scheduler::Call).
        if not proto:
            text = s.call({"type": "ACKNOWLEDGE_OPERATION_STATUS", "acknowledge_operation_status": {
                "agent_id": {"value": aid}, "uuid": base64.b64encode(b"short").decode(),
                "operation_id": {"value": "res-ok"}}}, expect=400)
            assert text == "Failed to validate scheduler::Call: Not a valid UUID", text
            text = s.call({"type": "ACKNOWLEDGE_OPERATION_STATUS", "acknowledge_operation_status": {
                "uuid": ok["uuid"]["value"], "operation_id": {"value": "res-ok"}}}, expect=400)
            assert text == "Failed to validate scheduler::Call: Expecting 'agent_id' to be present", text
            text = s.call({"type": "RECONCILE_OPERATIONS"}, expect=400)
            assert text == "Failed to validate scheduler::Call: Expecting 'reconcile_operations' to be present", text
            text = s.call({"type": "RECONCILE_OPERATIONS", "reconcile_operations": {}}, expect=406,
                          headers={"Accept": "text/plain"})
            assert text == "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'", text
        ops = operator(c.port, {"type": "GET_OPERATIONS"}, proto=proto)["get_operations"]["operations"]
        assert [x["info"]["id"]["value"] for x in ops] == ["res-ok"], ops
        # The agent's own GET_OPERATIONS holds it too, until acknowledged.
        aops = operator(c.port + 1, {"type": "GET_OPERATIONS"})["get_operations"]["operations"]
        assert [(x["info"]["id"]["value"], x["latest_status"]["state"], x["uuid"]) for x in aops] == \
            [("res-ok", "OPERATION_FINISHED", ops[0]["uuid"])], (aops, ops)
        assert ops[0]["info"]["type"] == "RESERVE" and ops[0]["latest_status"]["state"] == "OPERATION_FINISHED", ops
        s.ack_op(ok)
        wait_for(lambda: operator(c.port, {"type": "GET_OPERATIONS"})["get_operations"] == {}, "the ack")
        wait_for(lambda: operator(c.port + 1, {"type": "GET_OPERATIONS"})["get_operations"] == {},
                 "the ack on the agent")
        # unreserve again (without an id: no status comes back)
        o = s.offer(lambda o: any(r.get("role") == "r1" for r in o["resources"]))
        s.call({"type": "ACCEPT", "accept": {"offer_ids": [o["id"]], "operations": [
            {"type": "UNRESERVE", "unreserve": {"resources": [res("cpus", 1, "r1")]}}]}})
        wait_for(lambda: ("cpus", "r1", None) not in totals(c.port)[0], "the unreservation")
        s.close()


@test()
def reservations_survive_an_agent_restart(c):
    aid = c.agent_id()
    operator(c.port, {"type": "RESERVE_RESOURCES", "reserve_resources": {
        "agent_id": {"value": aid}, "resources": [res("cpus", 2, "r1"), res("disk", 500, "r1")]}}, expect=202)
    operator(c.port, {"type": "CREATE_VOLUMES", "create_volumes": {
        "agent_id": {"value": aid}, "volumes": [res("disk", 200, "r1", volume="keep")]}}, expect=202)
    before = totals(c.port)[0]
    # The agent has checkpointed both when the master has seen them acknowledged.
    ckpt = os.path.join(c.tmp, "agent", "meta", "resources_and_operations")
    wait_for(lambda: os.path.exists(ckpt) and
             operator(c.port, {"type": "GET_OPERATIONS"})["get_operations"] == {}, "the checkpoint")
    c.kill_agent()
    first = operator(c.port, {"type": "GET_AGENTS"})["get_agents"]["agents"][0].get("reregistered_time")
    c.start_agent()
    c.wait_agent(lambda a: a.get("reregistered_time") and a.get("reregistered_time") != first)
    after, agent = totals(c.port)
    assert after == before, (before, after)
    assert after[("disk", "r1", "keep")] == 200 and after[("cpus", "r1", None)] == 2, after
    assert os.path.isdir(os.path.join(c.tmp, "agent", "volumes", "roles", "r1", "keep"))
    s = Scheduler(c.port, fw("r1"))
    o = s.offer(lambda o: any(r.get("disk", {}).get("persistence") for r in o["resources"]))
    got = summarize(o["resources"])
    assert got[("disk", "r1", "keep")] == 200 and got[("cpus", "r1", None)] == 2, got
    s.close()


@test(master_flags=("--agent_ping_timeout=300ms", "--max_agent_ping_timeouts=2"))
def operations_and_reservations_survive_a_master_restart(c):
    """The master forgets everything; the agent re-registers with its
    checkpointed resources and reports its operations (UpdateSlaveMessage).
    An operation whose framework is not back yet waits for it (an orphan);
    the framework re-subscribes with its id, reconciles and acknowledges."""
    s = Scheduler(c.port, dict(fw("r1"), failover_timeout=60.0))
    o = s.offer()
    s.call({"type": "ACCEPT", "accept": {"offer_ids": [o["id"]], "operations": [
        {"type": "RESERVE", "id": {"value": "kept"}, "reserve": {"resources": [res("cpus", 1.5, "r1")]}}]}})
    st = s.op_status("kept")
    assert st["state"] == "OPERATION_FINISHED", st
    fid = s.id
    s.close()
    c.kill_master()
    c.start_master()
    c.wait_agent(lambda a: ("cpus", "r1", None) in summarize(a["total_resources"]))
    assert totals(c.port)[0][("cpus", "r1", None)] == 1.5
    ops = wait_for(lambda: operator(c.port, {"type": "GET_OPERATIONS"})["get_operations"].get("operations"),
                   "the agent's operations")
    assert [(x["info"]["id"]["value"], x["framework_id"]["value"], x["latest_status"]["state"]) for x in ops] == \
        [("kept", fid, "OPERATION_FINISHED")], ops
    s = Scheduler(c.port, dict(fw("r1"), failover_timeout=60.0, id={"value": fid}))
    assert s.id == fid
    s.call({"type": "RECONCILE_OPERATIONS", "reconcile_operations": {}})
    rec = s.op_status("kept")
    assert rec["state"] == "OPERATION_FINISHED" and "uuid" not in rec, rec
    s.ack_op(st)
    wait_for(lambda: operator(c.port, {"type": "GET_OPERATIONS"})["get_operations"] == {}, "the acknowledgement")
    s.close()


# ==== MESSAGE, SHUTDOWN, REQUEST ============================================

@test()
def messages_both_ways_and_shutdown(c):
    s = Scheduler(c.port, fw("*"))
    o = s.offer()
    aid = o["agent_id"]["value"]
    for i, cmd in enumerate(("/usr/bin/python3 " + EXECUTOR, "ECHO_IGNORE_SHUTDOWN=1 /usr/bin/python3 " + EXECUTOR)):
        ex = {"executor_id": {"value": "ex%d" % i}, "framework_id": {"value": s.id}, "command": {"value": cmd}}
        if i:
            ex["shutdown_grace_period"] = {"nanoseconds": 1000000000}
        task = {"name": "t%d" % i, "task_id": {"value": "t%d" % i}, "agent_id": o["agent_id"], "executor": ex,
                "resources": [res("cpus", 0.1), res("mem", 32)]}
        s.call({"type": "ACCEPT", "accept": {"offer_ids": [o["id"]], "operations": [
            {"type": "LAUNCH", "launch": {"task_infos": [task]}}], "filters": {"refuse_seconds": 0}}})
        assert s.update("t%d" % i)["state"] == "TASK_RUNNING"
        if i == 0:
            o = s.offer()
    # MESSAGE to each executor; each echoes it back as a MESSAGE event.
    for i in range(2):
        s.call({"type": "MESSAGE", "message": {"agent_id": {"value": aid}, "executor_id": {"value": "ex%d" % i},
                                               "data": base64.b64encode(b"ping%d" % i).decode()}})
        m = s.next("MESSAGE", 15, lambda e: e["message"]["executor_id"]["value"] == "ex%d" % i)["message"]
        assert base64.b64decode(m["data"]) == b"echo:ping%d" % i and m["agent_id"]["value"] == aid, m
    # the agent counted them: two to executors, two back
    metrics = {x["name"]: x["value"] for x in operator(c.port + 1, {"type": "GET_METRICS", "get_metrics": {}})
               ["get_metrics"]["metrics"]}
    assert metrics["slave/valid_framework_messages"] == 4, metrics
    assert metrics["slave/invalid_framework_messages"] == 0, metrics
    # A message for an unknown agent is accepted and dropped, as upstream.
    s.call({"type": "MESSAGE", "message": {"agent_id": {"value": "nope"}, "executor_id": {"value": "ex0"},
                                           "data": ""}})
    s.call({"type": "REQUEST", "request": {"requests": [{"agent_id": {"value": aid}}]}})
    for call, sub in (("MESSAGE", "message"), ("SHUTDOWN", "shutdown"), ("REQUEST", "request")):
        text = s.call({"type": call}, expect=400)
        assert text == "Failed to validate scheduler::Call: Expecting '%s' to be present" % sub, text
    # SHUTDOWN: ex0 obeys (TASK_KILLED); ex1 ignores it and is killed after its 1 s grace period.
    t0 = time.time()
    for i in range(2):
        s.call({"type": "SHUTDOWN", "shutdown": {"executor_id": {"value": "ex%d" % i}, "agent_id": {"value": aid}}})
    assert s.update("t0")["state"] == "TASK_KILLED"
    st = s.update("t1", timeout=20)
    assert st["state"] == "TASK_FAILED" and st["source"] == "SOURCE_AGENT", st
    assert time.time() - t0 >= 0.9, time.time() - t0
    gone = {s.next("FAILURE", 15)["failure"]["executor_id"]["value"] for _ in range(2)}
    assert gone == {"ex0", "ex1"}, gone
    s.close()


# ==== The master's files ====================================================

def read_file(port, path, offset, length=None, expect=200, proto=False):
    rf = {"path": path, "offset": offset}
    if length is not None:
        rf["length"] = length
    r = operator(port, {"type": "READ_FILE", "read_file": rf}, expect=expect, proto=proto)
    if expect != 200:
        return r
    d = r["read_file"]
    return int(d["size"]), base64.b64decode(d.get("data", ""))


def master_log_files(c, log):
    wait_for(lambda: os.path.getsize(log) > 200, "the master log")
    for proto in (False, True):
        listed = operator(c.port, {"type": "LIST_FILES", "list_files": {"path": "/master/log"}}, proto=proto)
        assert listed == {"type": "LIST_FILES", "list_files": {}}, listed
        size, data = read_file(c.port, "/master/log", 0, 100, proto=proto)
        content = open(log, "rb").read()
        assert size >= 200 and len(data) == 100 and data == content[:100], (size, data)
        size, data = read_file(c.port, "/master/log/", 10, 20, proto=proto)   # a trailing slash is ignored
        assert data == content[10:30], data
        size, data = read_file(c.port, "/master/log", size + 10, 5, proto=proto)
        assert data == b"" and size >= len(content), size
        size, data = read_file(c.port, "/master/log", 0, 0, proto=proto)
        assert data == b"" and size >= len(content), size
        size, data = read_file(c.port, "/master/log", 5, proto=proto)   # no length: to the end (<= 16 pages)
        assert data[:50] == content[5:55] and len(data) == min(size - 5, 16 * os.sysconf("SC_PAGESIZE")), len(data)
    assert read_file(c.port, "/master/nope", 0, expect=404) == ""
    assert read_file(c.port, "/master", 0, expect=404) == ""
    assert operator(c.port, {"type": "LIST_FILES", "list_files": {"path": "/nope"}}, expect=404) == ""
    text = operator(c.port, {"type": "READ_FILE", "read_file": {"path": "/master/log"}}, expect=400)
    assert text.startswith("Failed to convert JSON into Call protobuf: ") and "read_file.offset" in text, text
    text = operator(c.port, {"type": "READ_FILE"}, expect=400)
    assert text == "Failed to validate master::Call: Expecting 'read_file' to be present", text


def make_log_dir_test():
    tmp = tempfile.mkdtemp(prefix="mesos_api-resops-log-")

    @test(master_flags=("--log_dir=" + tmp,))
    def read_file_of_master_log(c):
        master_log_files(c, os.path.join(tmp, "mesos-master.log"))


make_log_dir_test()


@test()
def no_log_file_no_master_log(c):
    assert read_file(c.port, "/master/log", 0, expect=404) == ""
    assert operator(c.port, {"type": "LIST_FILES", "list_files": {"path": "/master/log"}}, expect=404) == ""


report()
