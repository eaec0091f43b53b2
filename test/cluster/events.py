#!/usr/bin/python3
"""The operator event stream (SUBSCRIBE on the master's /api/v1), end to end.

Real `mesos_api master` and `agent` processes on loopback, a scheduler
written here (v1 Scheduler API, JSON over raw sockets) and operator
streams read in JSON and in protobuf. Checks what a consumer of the stream
relies on: the first record is SUBSCRIBED with the state, then HEARTBEAT;
each change arrives once, in order, as upstream emits it (TASK_ADDED and
TASK_UPDATED of a launched task, AGENT_ADDED on registration, AGENT_REMOVED
when an agent unregisters and not when it turns unreachable, FRAMEWORK_ADDED,
_UPDATED and _REMOVED); heartbeats come at the interval; a reader that stops
reading is cut off while the others and the master go on; 1,000 subscribers
at once all get an event. Every wait is bounded.

Usage: test/cluster/events.py ./mesos_api      (ends with "N passed, N failed")
"""
import base64
import json
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

import common
from common import free_port, kill_processes_in, report

_gen = common.gen_protos(("mesos/v1/mesos.proto", "mesos/v1/master/master.proto",
                          "mesos/v1/maintenance/maintenance.proto", "mesos/v1/quota/quota.proto",
                          "mesos/v1/scheduler/scheduler.proto", "mesos/v1/allocator/allocator.proto")
                         + common.INTERNAL_PROTOS, prefix="mesos_api-ev-pb-")
from google.protobuf import json_format  # noqa: E402
from mesos.v1.master import master_pb2  # noqa: E402
from messages import messages_pb2  # noqa: E402
shutil.rmtree(_gen, ignore_errors=True)

PB = "application/x-protobuf"
CT_JSON = "application/json"


# ==== processes ============================================================

class Proc(common.Proc):
    stop_timeout = 15


def start_master(procs, *extra):
    port = free_port()
    m = Proc("master", "--ip=127.0.0.1", "--port=%d" % port, *extra)
    procs.append(m)
    assert m.wait_log(r"started on 127\.0\.0\.1:%d" % port), "master did not start"
    return port


def start_agent(procs, mport, wd, resources="cpus:2;mem:1024"):
    port = free_port()
    a = Proc("agent", "--ip=127.0.0.1", "--port=%d" % port, "--master=127.0.0.1:%d" % mport,
             "--work_dir=%s" % wd, "--resources=" + resources)
    procs.append(a)
    return a


def operator(port, body):
    return common.operator_ok(port, body, timeout=10)


def metric(port, name):
    ms = operator(port, {"type": "GET_METRICS", "get_metrics": {}})["get_metrics"]["metrics"]
    return {m["name"]: m.get("value") for m in ms}[name]


def wait_for(pred, timeout=10, step=0.05):
    return common.wait_for(pred, timeout, step, common.WAIT_ERRORS + (ValueError,))


def wait_agents(port, n, timeout=15):
    assert wait_for(lambda: len(operator(port, {"type": "GET_AGENTS"})["get_agents"]["agents"]) == n,
                    timeout), "%d agents never registered" % n


# ==== the operator stream ==================================================

class Decoder:
    """An HTTP response fed as it arrives: head, chunked body, RecordIO."""

    def __init__(self):
        self.buf = bytearray()
        self.body = bytearray()
        self.status = None
        self.headers = {}
        self.chunk = None       # bytes left in the current chunk (None: a size line is next)
        self.records = []
        self.ended = False      # the terminating 0-length chunk arrived

    def feed(self, data):
        self.buf += data
        if self.status is None:
            i = self.buf.find(b"\r\n\r\n")
            if i < 0:
                return
            lines = bytes(self.buf[:i]).decode().split("\r\n")
            del self.buf[:i + 4]
            self.status = int(lines[0].split(" ")[1])
            self.headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
        while not self.ended:
            if self.chunk is None:
                j = self.buf.find(b"\r\n")
                if j < 0:
                    break
                size = int(bytes(self.buf[:j]).split(b";")[0], 16)
                del self.buf[:j + 2]
                if size == 0:
                    self.ended = True
                    break
                self.chunk = size
            if len(self.buf) < self.chunk + 2:
                break
            self.body += self.buf[:self.chunk]
            del self.buf[:self.chunk + 2]
            self.chunk = None
        while True:
            j = self.body.find(b"\n")
            if j < 0:
                break
            n = int(bytes(self.body[:j]))
            if len(self.body) - j - 1 < n:
                break
            self.records.append(bytes(self.body[j + 1:j + 1 + n]))
            del self.body[:j + 1 + n]


def subscribe_request(proto, extra=""):
    body = b"\x08\x12" if proto else b'{"type":"SUBSCRIBE"}'     # Call.type = SUBSCRIBE (18)
    ct = PB if proto else CT_JSON
    return (("POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nAccept: %s\r\n%s"
             "Content-Length: %d\r\n\r\n" % (ct, ct, extra, len(body))).encode() + body)


def decode_event(rec, proto):
    """An Event as a dict, the same shape for both encodings (enum names,
    snake_case keys); 64-bit integers are strings in the protobuf form."""
    if not proto:
        return json.loads(rec)
    ev = master_pb2.Event()
    ev.ParseFromString(rec)
    return json_format.MessageToDict(ev, preserving_proto_field_name=True)


class Stream:
    """An operator SUBSCRIBE stream read by a thread; events kept in order."""

    def __init__(self, port, proto=False, extra="", request=None):
        self.proto = proto
        self.events = []        # (arrival time, event dict)
        self.raw = []           # the records as they came
        self.pos = 0
        self.cv = threading.Condition()
        self.d = Decoder()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.sendall(request or subscribe_request(proto, extra))
        threading.Thread(target=self._read, daemon=True).start()
        with self.cv:
            assert self.cv.wait_for(lambda: self.d.status is not None, 20), "no response head"
        assert self.d.status == 200, self.d.status

    def _read(self):
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                with self.cv:
                    self.d.feed(data)
                    while len(self.raw) < len(self.d.records):
                        rec = self.d.records[len(self.raw)]
                        self.raw.append(rec)
                        self.events.append((time.time(), decode_event(rec, self.proto)))
                    self.cv.notify_all()
        except OSError:
            pass
        with self.cv:
            self.d.ended = True
            self.cv.notify_all()

    def take(self, timeout=20, heartbeats=False):
        """The next event in order (heartbeats skipped unless asked for)."""
        end = time.time() + timeout
        with self.cv:
            while True:
                while self.pos < len(self.events):
                    e = self.events[self.pos][1]
                    self.pos += 1
                    if heartbeats or e["type"] != "HEARTBEAT":
                        return e
                left = end - time.time()
                if left <= 0 or (self.d.ended and self.pos >= len(self.events)):
                    raise AssertionError("no event in %ss (seen %s)" % (timeout, [e["type"] for _, e in self.events]))
                self.cv.wait(left)

    def expect(self, type_, timeout=20):
        e = self.take(timeout)
        assert e["type"] == type_, "expected %s, got %s" % (type_, json.dumps(e)[:600])
        return e

    def quiet(self, secs):
        """No event but heartbeats for `secs`."""
        time.sleep(secs)
        with self.cv:
            rest = [e for _, e in self.events[self.pos:] if e["type"] != "HEARTBEAT"]
        assert not rest, "unexpected events: %s" % [e["type"] for e in rest]

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


# ==== a scheduler ==========================================================

def sched_post(port, body, headers=None):
    data = json.dumps(body).encode()
    h = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(("POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s"
               "Connection: close\r\nContent-Length: %d\r\n\r\n" % (h, len(data))).encode() + data)
    head, payload = common.read_response(s)
    return int(head.split(b" ")[1]), payload.decode(errors="replace")


class Scheduler:
    """A subscribed framework; its own stream (JSON) is read by a thread."""

    def __init__(self, port, info, framework_id=None):
        self.port = port
        if framework_id:
            info = dict(info, id={"value": framework_id})
        call = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
        if framework_id:
            call["framework_id"] = {"value": framework_id}
        body = json.dumps(call).encode()
        self.s = Stream(port, request=b"POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                      b"Accept: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        sub = self.s.expect("SUBSCRIBED")
        self.id = sub["subscribed"]["framework_id"]["value"]
        self.stream_id = self.s.d.headers["mesos-stream-id"]

    def next(self, type_, pred=lambda e: True, timeout=20):
        end = time.time() + timeout
        while True:
            e = self.s.take(max(0.01, end - time.time()))
            if e["type"] == type_ and pred(e):
                return e

    def call(self, body, expect=202):
        body["framework_id"] = {"value": self.id}
        status, text = sched_post(self.port, body, {"Mesos-Stream-Id": self.stream_id})
        assert status == expect, (status, text)

    def launch(self, task_id, cmd, cpus=0.1, mem=32):
        offer = self.next("OFFERS")["offers"]["offers"][0]
        task = {"name": task_id, "task_id": {"value": task_id}, "agent_id": offer["agent_id"],
                "command": {"value": cmd},
                "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
                              {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}}]}
        self.call({"type": "ACCEPT", "accept": {"offer_ids": [offer["id"]],
                                                "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}],
                                                "filters": {"refuse_seconds": 0.1}}})
        return offer

    def update(self, task_id, timeout=20):
        e = self.next("UPDATE", lambda e: e["update"]["status"]["task_id"]["value"] == task_id, timeout)
        st = e["update"]["status"]
        if "uuid" in st:
            self.call({"type": "ACKNOWLEDGE", "acknowledge": {"agent_id": st["agent_id"], "task_id": st["task_id"],
                                                              "uuid": st["uuid"]}})
        return st

    def close(self):
        self.s.close()


INFO = {"user": "root", "name": "events-test", "capabilities": [{"type": "PARTITION_AWARE"}]}


# ==== the runner ===========================================================

def test(fn):
    tmp = tempfile.mkdtemp(prefix="mesos_api-events-")
    procs = []
    t0 = time.time()
    try:
        fn(tmp, procs)
        for p in procs:
            if p.p.poll() is None and p.args[1] == "master":
                rc = p.stop()
                assert rc == 0, "master exited %s after SIGTERM" % rc
        common.passed("%s (%.1fs)" % (fn.__name__, time.time() - t0))
    except Exception as e:  # noqa: BLE001 -- any failure is a test failure
        common.failed(fn.__name__, e)
        for p in procs:
            print("  --- %s" % " ".join(p.args[1:3]))
            sys.stdout.write("".join("  " + l for l in p.log[-20:]))
    finally:
        for p in procs:
            p.stop(signal.SIGKILL)
        kill_processes_in(tmp)     # executors of this test
        shutil.rmtree(tmp, ignore_errors=True)
    return fn


# ==== tests ================================================================

EMPTY = (b'{"type":"SUBSCRIBED","subscribed":{"get_state":{"get_tasks":{"tasks":[],"unreachable_tasks":[],'
         b'"completed_tasks":[]},"get_executors":{"executors":[]},"get_frameworks":{"frameworks":[],'
         b'"completed_frameworks":[]},"get_agents":{"agents":[],"recovered_agents":[]}},'
         b'"heartbeat_interval_seconds":15.0}}')


@test
def subscribed_then_heartbeat_on_an_empty_master(tmp, procs):
    port = start_master(procs)
    js = Stream(port, extra="Accept-Encoding: gzip\r\n")
    assert js.d.headers["content-type"] == CT_JSON, js.d.headers
    assert js.d.headers["transfer-encoding"] == "chunked" and "content-encoding" not in js.d.headers
    assert "content-length" not in js.d.headers and "mesos-stream-id" not in js.d.headers, js.d.headers
    assert js.take(heartbeats=True)["type"] == "SUBSCRIBED"
    assert js.raw[0] == EMPTY, js.raw[0]
    assert js.take(heartbeats=True) == {"type": "HEARTBEAT"} and js.raw[1] == b'{"type":"HEARTBEAT"}'
    pb = Stream(port, proto=True)
    assert pb.d.headers["content-type"] == PB, pb.d.headers
    ev = pb.take(heartbeats=True)
    assert ev["type"] == "SUBSCRIBED" and ev["subscribed"]["heartbeat_interval_seconds"] == 15.0, ev
    assert pb.take(heartbeats=True) == {"type": "HEARTBEAT"} and pb.raw[1] == b"\x08\x09", pb.raw[1]
    # A stream leaves no trace in the flags: upstream's GET_FLAGS, byte for byte.
    names = {f["name"] for f in operator(port, {"type": "GET_FLAGS"})["get_flags"]["flags"]}
    assert "operator_event_heartbeat_interval" not in names
    assert wait_for(lambda: metric(port, "master/operator_event_stream_subscribers") == 2), \
        metric(port, "master/operator_event_stream_subscribers")
    js.close()
    assert wait_for(lambda: metric(port, "master/operator_event_stream_subscribers") == 1)
    # Accept must allow JSON or protobuf, as for every call.
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b'POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAccept: text/plain\r\n'
              b'Connection: close\r\nContent-Length: 20\r\n\r\n{"type":"SUBSCRIBE"}')
    assert b" 406 " in s.recv(4096).split(b"\r\n")[0]
    s.close()
    pb.close()


@test
def launched_task_appears_as_added_then_updated_in_both_encodings(tmp, procs):
    port = start_master(procs)
    start_agent(procs, port, os.path.join(tmp, "a1"))
    wait_agents(port, 1)
    streams = [Stream(port), Stream(port, proto=True)]
    for st in streams:
        sub = st.expect("SUBSCRIBED")
        assert len(sub["subscribed"]["get_state"]["get_agents"]["agents"]) == 1, sub
    s = Scheduler(port, INFO)
    offer = s.launch("hello", "echo hello")
    agent_id = offer["agent_id"]["value"]
    states = [s.update("hello")["state"] for _ in range(3)]
    assert states == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"], states
    for st in streams:
        fa = st.expect("FRAMEWORK_ADDED")["framework_added"]["framework"]
        assert fa["framework_info"]["id"]["value"] == s.id and fa["connected"] and fa["active"], fa
        added = st.expect("TASK_ADDED")["task_added"]["task"]
        assert added["task_id"]["value"] == "hello" and added["state"] == "TASK_STAGING", added
        assert added["framework_id"]["value"] == s.id and added["agent_id"]["value"] == agent_id, added
        assert added["name"] == "hello" and {r["name"] for r in added["resources"]} == {"cpus", "mem"}, added
        seen = []
        for _ in range(3):
            u = st.expect("TASK_UPDATED")["task_updated"]
            assert u["framework_id"]["value"] == s.id, u
            assert u["status"]["task_id"]["value"] == "hello", u
            assert u["status"]["agent_id"]["value"] == agent_id, u
            assert u["status"]["executor_id"]["value"], u
            assert u["status"]["source"] == "SOURCE_EXECUTOR" and "uuid" in u["status"], u
            assert u["state"] == u["status"]["state"], u
            seen.append(u["state"])
        assert seen == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"], seen
    # Retransmissions and acknowledgements are no news.
    streams[0].quiet(0.5)
    done = operator(port, {"type": "GET_TASKS"})["get_tasks"]["completed_tasks"]
    assert [t["state"] for t in done if t["task_id"]["value"] == "hello"] == ["TASK_FINISHED"], done
    s.close()
    for st in streams:
        st.close()


@test
def subscribed_carries_the_current_state(tmp, procs):
    port = start_master(procs)
    start_agent(procs, port, os.path.join(tmp, "a1"))
    start_agent(procs, port, os.path.join(tmp, "a2"))
    wait_agents(port, 2)
    s = Scheduler(port, INFO)
    s.launch("sleeper", "sleep 60")
    assert [s.update("sleeper")["state"] for _ in range(2)] == ["TASK_STARTING", "TASK_RUNNING"]
    for proto in (False, True):
        st = Stream(port, proto=proto)
        sub = st.take(heartbeats=True)
        assert sub["type"] == "SUBSCRIBED" and st.take(heartbeats=True)["type"] == "HEARTBEAT"
        gs = sub["subscribed"]["get_state"]
        want = operator(port, {"type": "GET_STATE"})["get_state"]
        assert sorted(a["agent_info"]["id"]["value"] for a in gs["get_agents"]["agents"]) == \
            sorted(a["agent_info"]["id"]["value"] for a in want["get_agents"]["agents"]), gs["get_agents"]
        assert [f["framework_info"]["id"]["value"] for f in gs["get_frameworks"]["frameworks"]] == [s.id], gs
        tasks = gs["get_tasks"]["tasks"]
        assert [(t["task_id"]["value"], t["state"]) for t in tasks] == [("sleeper", "TASK_RUNNING")], tasks
        assert [t["state"] for t in tasks[0]["statuses"]] == ["TASK_STARTING", "TASK_RUNNING"], tasks
        # (protobuf-to-dict leaves empty lists out)
        assert len(gs["get_executors"].get("executors", [])) == len(want["get_executors"]["executors"])
        st.close()
    s.close()


@test
def agent_added_on_registration_and_no_agent_removed_when_unreachable(tmp, procs):
    port = start_master(procs, "--agent_ping_timeout=200ms", "--max_agent_ping_timeouts=2")
    st = Stream(port)
    st.expect("SUBSCRIBED")
    wd = os.path.join(tmp, "a1")
    a = start_agent(procs, port, wd)
    ag = st.expect("AGENT_ADDED")["agent_added"]["agent"]
    agent_id = ag["agent_info"]["id"]["value"]
    assert ag["active"] is True and ag["deactivated"] is False and ag["pid"].startswith("slave(1)@127.0.0.1:"), ag
    assert {r["name"]: r["scalar"]["value"] for r in ag["total_resources"]} == {"cpus": 2.0, "mem": 1024.0}, ag
    assert ag == operator(port, {"type": "GET_AGENTS"})["get_agents"]["agents"][0]   # GET_AGENTS' own Agent
    fws = []
    for info, name in (({"user": "root", "name": "legacy"}, "l"), (INFO, "p")):
        f = Scheduler(port, info)
        f.launch(name, "sleep 60", cpus=0.5, mem=64)
        assert [f.update(name)["state"] for _ in range(2)] == ["TASK_STARTING", "TASK_RUNNING"]
        fws.append(f)
    a.stop(signal.SIGKILL)
    got = {}
    for _ in range(2):
        e = st.take(30)
        while e["type"] != "TASK_UPDATED" or e["task_updated"]["status"]["state"] not in ("TASK_LOST", "TASK_UNREACHABLE"):
            assert e["type"] != "AGENT_REMOVED", e
            e = st.take(30)
        u = e["task_updated"]
        got[u["status"]["task_id"]["value"]] = u
    assert got["p"]["state"] == "TASK_UNREACHABLE" and got["l"]["state"] == "TASK_LOST", got
    for u in got.values():
        stt = u["status"]
        assert stt["source"] == "SOURCE_MASTER" and stt["reason"] == "REASON_AGENT_REMOVED" and "uuid" not in stt, stt
        assert stt["agent_id"]["value"] == agent_id and "unreachable_time" in stt, stt
    # Upstream sends no AGENT_REMOVED for an unreachable agent.
    st.quiet(0.6)
    un = operator(port, {"type": "GET_TASKS"})["get_tasks"]["unreachable_tasks"]
    assert sorted((t["task_id"]["value"], t["state"]) for t in un) == [("l", "TASK_LOST"), ("p", "TASK_UNREACHABLE")], un
    # Back again with the same id: AGENT_ADDED once more.
    start_agent(procs, port, wd)
    e = st.take(30)
    while e["type"] != "AGENT_ADDED":
        assert e["type"] == "TASK_ADDED", e        # tasks it still reports come first
        e = st.take(30)
    assert e["agent_added"]["agent"]["agent_info"]["id"]["value"] == agent_id, e
    for f in fws:
        f.close()
    st.close()


def fake_agent_listener():
    """A socket that answers the master's libprocess messages with 202."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)

    def serve(c):
        data = b""
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    return
                data += d
                while data.count(b"POST ") > 0 and b"\r\n\r\n" in data:
                    head, _, rest = data.partition(b"\r\n\r\n")
                    m = re.search(rb"Content-Length: *(\d+)", head, re.I)
                    n = int(m.group(1)) if m else 0
                    if len(rest) < n:
                        break
                    data = rest[n:]
                    c.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
        except OSError:
            pass

    def accept():
        try:
            while True:
                c, _ = ls.accept()
                threading.Thread(target=serve, args=(c,), daemon=True).start()
        except OSError:
            pass
    threading.Thread(target=accept, daemon=True).start()
    return ls


def libprocess_post(port, msg, from_pid):
    common.send_message(port, "master", msg, from_pid, timeout=10)


@test
def agent_removed_when_an_agent_unregisters(tmp, procs):
    port = start_master(procs)
    st = Stream(port, proto=True)
    st.expect("SUBSCRIBED")
    ls = fake_agent_listener()
    pid = "slave(1)@127.0.0.1:%d" % ls.getsockname()[1]
    reg = messages_pb2.RegisterSlaveMessage()
    reg.slave.hostname = "fake"
    reg.slave.port = ls.getsockname()[1]
    r = reg.slave.resources.add()
    r.name, r.type, r.scalar.value = "cpus", 0, 1.0
    reg.version = "1.12.0"
    libprocess_post(port, reg, pid)
    added = st.expect("AGENT_ADDED")["agent_added"]["agent"]
    agent_id = added["agent_info"]["id"]["value"]
    assert added["pid"] == pid and added["agent_info"]["hostname"] == "fake", added
    libprocess_post(port, reg, pid)          # a registration retry is no news
    un = messages_pb2.UnregisterSlaveMessage()
    un.slave_id.value = agent_id
    libprocess_post(port, un, pid)
    assert st.expect("AGENT_REMOVED") == {"type": "AGENT_REMOVED", "agent_removed": {"agent_id": {"value": agent_id}}}
    assert wait_for(lambda: operator(port, {"type": "GET_AGENTS"})["get_agents"]["agents"] == [])
    ls.close()
    st.close()


@test
def framework_added_updated_and_removed(tmp, procs):
    port = start_master(procs)
    start_agent(procs, port, os.path.join(tmp, "a1"))
    wait_agents(port, 1)
    st = Stream(port)
    st.expect("SUBSCRIBED")
    info = dict(INFO, failover_timeout=60.0)
    s = Scheduler(port, info)
    fa = st.expect("FRAMEWORK_ADDED")["framework_added"]["framework"]
    assert fa["framework_info"]["id"]["value"] == s.id and fa["framework_info"]["name"] == "events-test", fa
    assert fa["active"] is True and fa["connected"] is True and fa["recovered"] is False, fa
    assert fa["registered_time"]["nanoseconds"] > 0 and fa["reregistered_time"] == {"nanoseconds": 0}, fa
    assert fa["unregistered_time"] == {"nanoseconds": 0}, fa
    assert "offers" not in fa and "allocated_resources" not in fa and "offered_resources" not in fa, fa
    # UPDATE_FRAMEWORK: an event when the FrameworkInfo changes, none when not.
    new = dict(info, id={"value": s.id}, name="renamed")
    s.call({"type": "UPDATE_FRAMEWORK", "update_framework": {"framework_info": new}}, expect=200)
    fu = st.expect("FRAMEWORK_UPDATED")["framework_updated"]["framework"]
    assert fu["framework_info"]["name"] == "renamed" and fu["connected"] is True, fu
    s.call({"type": "UPDATE_FRAMEWORK", "update_framework": {"framework_info": new}}, expect=200)
    # A disconnection is no event; the re-subscription is FRAMEWORK_UPDATED.
    s.close()
    assert wait_for(lambda: not operator(port, {"type": "GET_FRAMEWORKS"})["get_frameworks"]["frameworks"][0]["connected"])
    st.quiet(0.3)
    s2 = Scheduler(port, dict(info, name="renamed"), framework_id=s.id)
    fu = st.expect("FRAMEWORK_UPDATED")["framework_updated"]["framework"]
    assert fu["framework_info"]["id"]["value"] == s.id and fu["connected"] is True, fu
    assert fu["reregistered_time"]["nanoseconds"] > fu["registered_time"]["nanoseconds"], fu
    s2.launch("victim", "sleep 60")
    assert [s2.update("victim")["state"] for _ in range(2)] == ["TASK_STARTING", "TASK_RUNNING"]
    assert st.expect("TASK_ADDED")["task_added"]["task"]["task_id"]["value"] == "victim"
    assert [st.expect("TASK_UPDATED")["task_updated"]["state"] for _ in range(2)] == ["TASK_STARTING", "TASK_RUNNING"]
    # TEARDOWN: the task is killed first, then the framework is removed.
    s2.call({"type": "TEARDOWN"})
    u = st.expect("TASK_UPDATED")["task_updated"]
    assert u["state"] == "TASK_KILLED" and u["status"]["reason"] == "REASON_FRAMEWORK_REMOVED", u
    assert u["status"]["source"] == "SOURCE_MASTER" and u["status"]["message"] == "Framework %s removed" % s.id, u
    fr = st.expect("FRAMEWORK_REMOVED")["framework_removed"]
    assert fr["framework_info"]["id"]["value"] == s.id and fr["framework_info"]["name"] == "renamed", fr
    # The agent's own TASK_KILLED for the task is no news any more.
    st.quiet(1.0)
    done = operator(port, {"type": "GET_TASKS"})["get_tasks"]["completed_tasks"]
    assert [t["state"] for t in done if t["task_id"]["value"] == "victim"] == ["TASK_KILLED"], done
    st.close()


@test
def heartbeats_come_at_the_interval(tmp, procs):
    port = start_master(procs, "--operator_event_heartbeat_interval=300ms")
    flags = {f["name"]: f["value"] for f in operator(port, {"type": "GET_FLAGS"})["get_flags"]["flags"]}
    assert flags["operator_event_heartbeat_interval"] == "300ms", flags.get("operator_event_heartbeat_interval")
    for proto in (False, True):
        st = Stream(port, proto=proto)
        sub = st.take(heartbeats=True)
        assert sub["subscribed"]["heartbeat_interval_seconds"] == 0.3, sub
        t_first = st.events[0][0]
        for _ in range(5):
            assert st.take(timeout=5, heartbeats=True) == {"type": "HEARTBEAT"}
        times = [t for t, _ in st.events[1:6]]
        assert times[0] - t_first < 0.25, times[0] - t_first      # the first one at once
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert all(0.15 <= g <= 1.5 for g in gaps), gaps
        st.close()


@test
def a_reader_that_stops_is_cut_off_and_the_others_go_on(tmp, procs):
    port = start_master(procs, "--max_stream_buffer_size=256KB")
    # The stalled reader: a tiny receive window, and it never reads.
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.settimeout(30)
    stalled.connect(("127.0.0.1", port))
    stalled.sendall(subscribe_request(False))
    good = Stream(port, proto=True)
    good.expect("SUBSCRIBED")
    assert wait_for(lambda: metric(port, "master/operator_event_stream_subscribers") == 2)
    s = Scheduler(port, INFO)
    good.expect("FRAMEWORK_ADDED")
    big = "x" * 32768
    n = 200          # 6.5 MB: more than any kernel buffering (tcp_wmem max 4 MB) plus ours
    for i in range(n):           # each FRAMEWORK_UPDATED carries a 32 KB name
        info = dict(INFO, id={"value": s.id}, name="%s-%d" % (big, i))
        s.call({"type": "UPDATE_FRAMEWORK", "update_framework": {"framework_info": info}}, expect=200)
    for i in range(n):
        fu = good.expect("FRAMEWORK_UPDATED", timeout=30)["framework_updated"]["framework"]
        assert fu["framework_info"]["name"] == "%s-%d" % (big, i), fu["framework_info"]["name"][-8:]
    assert wait_for(lambda: metric(port, "master/operator_event_stream_subscribers") == 1), \
        metric(port, "master/operator_event_stream_subscribers")
    assert procs[0].wait_log(r"dropping stream to .*: reader too slow"), "not cut off for its buffer"
    assert operator(port, {"type": "GET_HEALTH"})["get_health"]["healthy"] is True
    # The stalled one got a prefix of the stream, then the connection ended.
    d = Decoder()
    try:
        while True:
            data = stalled.recv(65536)
            if not data:
                break
            d.feed(data)
    except OSError:
        pass            # a reset is an end too
    assert d.status == 200 and len(d.records) < n, (d.status, len(d.records))
    stalled.close()
    # The master still serves new subscribers.
    again = Stream(port)
    assert again.take(heartbeats=True)["type"] == "SUBSCRIBED"
    again.close()
    good.close()
    s.close()


@test
def a_thousand_subscribers_all_get_each_event(tmp, procs):
    n = 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 4 * n + 256) if hard != resource.RLIM_INFINITY else 4 * n + 256
    assert want >= 2 * n + 100, "the hard fd limit (%s) is too low for this test" % hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    port = start_master(procs)                   # inherits the raised limit
    sel = selectors.DefaultSelector()
    conns = []
    t0 = time.time()
    for i in range(n):
        c = socket.create_connection(("127.0.0.1", port), timeout=10)
        c.sendall(subscribe_request(proto=i % 2 == 1))
        c.setblocking(False)
        d = Decoder()
        d.proto = i % 2 == 1
        conns.append((c, d))
        sel.register(c, selectors.EVENT_READ, d)

    def pump(pred, timeout):
        end = time.time() + timeout
        while time.time() < end:
            if pred():
                return True
            for key, _ in sel.select(0.2):
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                if not data:
                    key.data.ended = True
                    sel.unregister(key.fileobj)
                else:
                    key.data.feed(data)
        return pred()

    assert pump(lambda: all(len(d.records) >= 2 for _, d in conns), 60), \
        sum(len(d.records) >= 2 for _, d in conns)
    for c, d in conns:
        assert d.status == 200 and d.headers["content-type"] == (PB if d.proto else CT_JSON)
        assert decode_event(d.records[0], d.proto)["type"] == "SUBSCRIBED"
        assert decode_event(d.records[1], d.proto)["type"] == "HEARTBEAT"
    assert metric(port, "master/operator_event_stream_subscribers") == n
    s = Scheduler(port, INFO)                    # one event for all of them
    assert pump(lambda: all(len(d.records) >= 3 for _, d in conns), 60), \
        sum(len(d.records) >= 3 for _, d in conns)
    for c, d in conns:
        e = decode_event(d.records[2], d.proto)
        assert e["type"] == "FRAMEWORK_ADDED", e
        assert e["framework_added"]["framework"]["framework_info"]["id"]["value"] == s.id
    json_recs = {d.records[2] for _, d in conns if not d.proto}
    pb_recs = {d.records[2] for _, d in conns if d.proto}
    assert len(json_recs) == 1 and len(pb_recs) == 1, (len(json_recs), len(pb_recs))
    # One more than --max_operator_event_stream_subscribers: the oldest goes.
    extra = Stream(port)
    assert extra.take(heartbeats=True)["type"] == "SUBSCRIBED"
    assert pump(lambda: conns[0][1].ended, 20), "the oldest stream did not end"
    assert all(not d.ended for _, d in conns[1:])
    assert metric(port, "master/operator_event_stream_subscribers") == n
    for c, _ in conns:
        try:
            sel.unregister(c)
        except (KeyError, ValueError):
            pass
        c.close()
    extra.close()
    assert wait_for(lambda: metric(port, "master/operator_event_stream_subscribers") == 0, 20)
    s.close()
    took = time.time() - t0
    assert took < 120, took


report()
