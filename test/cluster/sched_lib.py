"""Helpers for the cluster tests of roles, quota, maintenance and agent
operations (roles.py, maintenance.py): a real master and real agents as
separate processes on loopback, a scheduler on the v1 HTTP API, operator
calls in JSON and protobuf. Every read has a timeout."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "blackbox"))
import protos  # noqa: E402  (python protobuf classes, generated with protoc)
from google.protobuf import json_format  # noqa: E402

import common  # noqa: E402
from common import BIN, free_run, kill_processes_in  # noqa: E402

report = common.report     # the scripts' last line


def http(port, path, data, ctype, accept, headers=None):
    h = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nAccept: %s\r\n%s"
               "Connection: close\r\nContent-Length: %d\r\n\r\n" % (path, ctype, accept, h, len(data))).encode() + data)
    head, payload = common.read_response(s)
    if b"transfer-encoding: chunked" in head.lower():
        out, rest = b"", payload
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        payload = out
    return int(head.split(b" ")[1]), payload


def op(port, body, expect=200):
    """An operator call in JSON; the parsed answer (or the error text)."""
    status, payload = http(port, "/api/v1", json.dumps(body).encode(), "application/json", "application/json")
    assert status == expect, (body.get("type"), status, payload[:500])
    if status == 200 and payload:
        return json.loads(payload)
    return payload.decode(errors="replace")


def op_pb(port, body, expect=200):
    """The same call in protobuf; the Response as a dict in proto names."""
    call = json_format.ParseDict(body, protos.master_pb2.Call())
    status, payload = http(port, "/api/v1", call.SerializeToString(), "application/x-protobuf",
                           "application/x-protobuf")
    assert status == expect, (body.get("type"), status, payload[:500])
    if status != 200 or not payload:
        return payload.decode(errors="replace")
    return json_format.MessageToDict(protos.parse_response(payload), preserving_proto_field_name=True)


def sched_post(port, body, headers=None):
    status, payload = http(port, "/api/v1/scheduler", json.dumps(body).encode(), "application/json",
                           "application/json", headers)
    return status, payload.decode(errors="replace")


class Scheduler:
    """A subscribed framework: a thread reads the stream into events."""

    def __init__(self, port, info, suppressed=None, expect_error=False):
        self.port = port
        self.events = []
        self.cv = threading.Condition()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        call = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
        if suppressed:
            call["subscribe"]["suppressed_roles"] = suppressed
        if "id" in info:
            call["framework_id"] = info["id"]
        body = json.dumps(call).encode()
        self.sock.sendall(b"POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Accept: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        head = b""
        while b"\r\n\r\n" not in head:
            c = self.sock.recv(1)
            if not c:
                raise AssertionError("connection closed")
            head += c
        lines = head.decode().split("\r\n")
        assert " 200 " in lines[0], lines
        hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
        self.stream_id = hdrs["mesos-stream-id"]
        threading.Thread(target=self._read, daemon=True).start()
        first = self.wait_any(20)
        if first["type"] == "ERROR":
            self.error = first["error"]["message"]
            if expect_error:
                return
            raise AssertionError("ERROR: %s" % self.error)
        assert not expect_error, first
        self.id = first["subscribed"]["framework_id"]["value"]

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

    def wait_any(self, timeout):
        end = time.time() + timeout
        with self.cv:
            while not self.events:
                left = end - time.time()
                if left <= 0:
                    raise AssertionError("no event")
                self.cv.wait(left)
            return self.events.pop(0)

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

    def none(self, type_, secs, pred=lambda e: True):
        """Assert that no such event comes within secs."""
        try:
            e = self.next(type_, secs, pred)
        except AssertionError:
            return
        raise AssertionError("unexpected %s: %s" % (type_, json.dumps(e)[:400]))

    def drain(self, type_):
        with self.cv:
            got = [e for e in self.events if e["type"] == type_]
            self.events = [e for e in self.events if e["type"] != type_]
        return got

    def offers(self, timeout=20, pred=lambda o: True):
        """The offers of the next OFFERS event with one matching pred."""
        e = self.next("OFFERS", timeout, lambda e: any(pred(o) for o in e["offers"]["offers"]))
        return [o for o in e["offers"]["offers"] if pred(o)]

    def call(self, body, expect=202):
        body["framework_id"] = {"value": self.id}
        status, text = sched_post(self.port, body, {"Mesos-Stream-Id": self.stream_id})
        assert status == expect, (status, text)
        return text

    def decline(self, offers, refuse=0.0):
        self.call({"type": "DECLINE", "decline": {"offer_ids": [o["id"] for o in offers],
                                                  "filters": {"refuse_seconds": refuse}}})

    def update(self, task_id, timeout=20, ack=True):
        e = self.next("UPDATE", timeout, lambda e: e["update"]["status"]["task_id"]["value"] == task_id)
        st = e["update"]["status"]
        if ack and "uuid" in st:
            self.call({"type": "ACKNOWLEDGE", "acknowledge": {"agent_id": st["agent_id"], "task_id": st["task_id"],
                                                              "uuid": st["uuid"]}})
        return st

    def launch(self, offer, task_id, cmd, cpus=0.1, mem=32, refuse=0.0):
        res = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
               {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}}]
        if "allocation_info" in offer:
            for r in res:
                r["allocation_info"] = offer["allocation_info"]
        task = {"name": task_id, "task_id": {"value": task_id}, "agent_id": offer["agent_id"],
                "command": {"value": cmd}, "resources": res}
        self.call({"type": "ACCEPT", "accept": {"offer_ids": [offer["id"]],
                                                "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}],
                                                "filters": {"refuse_seconds": refuse}}})

    def run(self, offer, task_id, cpus=0.1, mem=32):
        """Launch a long task and wait until it runs."""
        self.launch(offer, task_id, "sleep 120", cpus, mem)
        states = [self.update(task_id)["state"] for _ in range(2)]
        assert states == ["TASK_STARTING", "TASK_RUNNING"], states

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def scalars(resources, role=None):
    out = {}
    for r in resources:
        if r.get("type", "SCALAR") == "SCALAR" and "scalar" in r:
            out[r["name"]] = round(out.get(r["name"], 0) + r["scalar"]["value"], 3)
    return out


def poll(fn, timeout=15, what="condition"):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = fn()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s (last %r)" % (what, last))


class Cluster:
    """A master and agents as separate processes; agents can be stopped and
    started again on the same work_dir."""

    def __init__(self, master_flags, agents):
        self.port = free_run(1 + len(agents))
        self.tmp = tempfile.mkdtemp(prefix="mesos_api-maint-")
        self.log = open(os.path.join(self.tmp, "master.log"), "w")
        self.master = subprocess.Popen([BIN, "master", "--ip=127.0.0.1", "--port=%d" % self.port] + master_flags,
                                       stderr=self.log)
        self.resources = agents
        self.agents = [None] * len(agents)
        try:
            for i in range(len(agents)):
                self.start_agent(i)
            poll(lambda: self.nagents() == len(agents), 30, "agents to register")
        except Exception:
            self.kill()
            raise

    def nagents(self):
        try:
            return len(op(self.port, {"type": "GET_AGENTS"})["get_agents"]["agents"])
        except (OSError, ValueError, KeyError, AssertionError):
            return -1

    def start_agent(self, i):
        wd = os.path.join(self.tmp, "agent%d" % i)
        self.agents[i] = subprocess.Popen(
            [BIN, "agent", "--ip=127.0.0.1", "--port=%d" % (self.port + 1 + i), "--master=127.0.0.1:%d" % self.port,
             "--work_dir=" + wd, "--resources=" + self.resources[i]],
            stderr=open(os.path.join(self.tmp, "agent%d.log" % i), "a"),
            env=dict(os.environ, MESOS_RECOVERY_TIMEOUT="3secs"))
        return self.agents[i]

    def agent_ids(self):
        ags = op(self.port, {"type": "GET_AGENTS"})["get_agents"]["agents"]
        return {a["pid"].rsplit(":", 1)[1]: a["agent_info"]["id"]["value"] for a in ags}

    def stop(self):
        self.master.send_signal(signal.SIGTERM)
        rc = self.master.wait(10)
        assert rc == 0, "master exited %s" % rc

    def kill(self):
        for p in [self.master] + [a for a in self.agents if a]:
            if p.poll() is None:
                p.kill()
                p.wait()
        kill_processes_in(self.tmp)

    def cleanup(self):
        shutil.rmtree(self.tmp, True)

    def tail(self):
        try:
            with open(os.path.join(self.tmp, "master.log")) as f:
                return "".join("  " + l for l in f.readlines()[-20:])
        except OSError:
            return ""


def cluster_test(master_flags, agents):
    """Run the decorated test on a new cluster; it gets the Cluster."""
    def wrap(fn):
        c = None
        try:
            c = Cluster(master_flags, agents)
            extra = fn(c)
            c.stop()
            common.passed("%s%s" % (fn.__name__, " %s" % extra if extra else ""))
        except Exception as e:  # noqa: BLE001
            common.failed(fn.__name__, e)
            if c:
                sys.stdout.write(c.tail())
        finally:
            if c:
                c.kill()
                c.cleanup()
        sys.stdout.flush()
        return fn
    return wrap
