#!/usr/bin/python3
"""A large GET_STATE, black-box: the paths only a big answer takes.

Simulated agents (one port speaking the libprocess wire) re-register with
a master carrying 17,000 running tasks with labels, enough for the master
to write the JSON of its running tasks on two threads and to send the
answer in two parts. The JSON answer must then be one valid document with
every task, in the protobuf answer's order and with the same contents
(compared field by field through python-protobuf's own JSON reading),
and the gzip'd JSON must inflate to the very same bytes. Every wait is
bounded. Ends with "N passed, N failed".

Usage: test/cluster/state_large.py ./mesos_api
"""
import gzip
import json
import socket
import sys
import threading
import time

import common  # noqa: E402  (the script's directory is first on sys.path)
from common import free_port, report  # noqa: E402

common.gen_protos(common.INTERNAL_PROTOS + ("mesos/v1/mesos.proto", "mesos/v1/master/master.proto",
                                              "mesos/v1/maintenance/maintenance.proto",
                                              "mesos/v1/quota/quota.proto", "mesos/v1/scheduler/scheduler.proto",
                                              "mesos/v1/allocator/allocator.proto"))
from google.protobuf import json_format  # noqa: E402
from mesos import mesos_pb2  # noqa: E402
from mesos.v1 import mesos_pb2 as v1_pb2  # noqa: E402
from mesos.v1.master import master_pb2  # noqa: E402
from messages import messages_pb2  # noqa: E402

AGENTS, TASKS = 100, 170


def post(port, body, headers, timeout=60):
    """One POST /api/v1; returns (status, headers dict, body bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        head = "".join("%s: %s\r\n" % kv for kv in headers.items())
        s.sendall(("POST /api/v1 HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\nConnection: close\r\n\r\n"
                   % (head, len(body))).encode() + body)
        data = b""
        end = time.time() + timeout
        while time.time() < end:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    hd, _, rest = data.partition(b"\r\n\r\n")
    lines = hd.decode().split("\r\n")
    hdrs = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    assert "content-length" in hdrs, lines
    assert len(rest) == int(hdrs["content-length"]), (len(rest), hdrs)
    return int(lines[0].split()[1]), hdrs, rest


def reregister_message(n, sink_port):
    m = messages_pb2.ReregisterSlaveMessage()
    m.version = "1.12.0"
    si = m.slave
    si.hostname = "agent%d" % n
    si.port = 5051
    si.id.value = "agent%d" % n
    for name, v in (("cpus", 1000.0), ("mem", 100000.0)):
        r = si.resources.add()
        r.name, r.type, r.scalar.value = name, mesos_pb2.Value.SCALAR, v
    fi = m.frameworks.add()
    fi.user, fi.name = "u", "f"
    fi.id.value = "framework-%d" % (n % 3)
    for t in range(TASKS):
        task = m.tasks.add()
        task.name = "task %d.%d \"quoted\"" % (n, t) if t % 17 == 0 else "task-%d-%d" % (n, t)
        task.task_id.value = "t-%d-%d" % (n, t)
        task.framework_id.value = fi.id.value
        task.slave_id.value = si.id.value
        task.state = mesos_pb2.TASK_RUNNING
        for name, v in (("cpus", 0.1), ("mem", 32.0)):
            r = task.resources.add()
            r.name, r.type, r.scalar.value = name, mesos_pb2.Value.SCALAR, v
        for k in range(10):
            lab = task.labels.labels.add()
            lab.key = "key%d" % k
            if k != 3:
                lab.value = "value%d-%d" % (k, t)
        if t % 50 == 0:
            task.user = "someone"             # a later field: the general path
    return m


def send(mport, pid, msg):
    body = msg.SerializeToString()
    name = "mesos.internal." + type(msg).__name__
    s = socket.create_connection(("127.0.0.1", mport), timeout=10)
    try:
        s.sendall(("POST /master/%s HTTP/1.1\r\nHost: x\r\nLibprocess-From: %s\r\nConnection: close\r\n"
                   "Content-Length: %d\r\n\r\n" % (name, pid, len(body))).encode() + body)
        s.recv(4096)
    finally:
        s.close()


def large_state_in_json_protobuf_and_gzip(procs):
    port = free_port()
    m = common.Proc("master", "--ip=127.0.0.1", "--port=%d" % port)
    procs.append(m)
    assert m.wait_log("started on", 15), "".join(m.log)
    # The agents' replies go to a sink that accepts and drops them.
    sink = socket.socket()
    sink.bind(("127.0.0.1", 0))
    sink.listen(64)
    sport = sink.getsockname()[1]

    def drain():
        while True:
            try:
                c, _ = sink.accept()
            except OSError:
                return
            c.settimeout(5)
            try:
                while c.recv(1 << 16):
                    c.sendall(b"")
            except OSError:
                pass
            c.close()
    threading.Thread(target=drain, daemon=True).start()
    for n in range(AGENTS):
        send(port, "slave(%d)@127.0.0.1:%d" % (n, sport), reregister_message(n, sport))

    def count():
        _, _, body = post(port, b'{"type":"GET_METRICS","get_metrics":{}}', {"Content-Type": "application/json"})
        d = json.loads(body)
        return {x["name"]: x["value"] for x in d["get_metrics"]["metrics"]}.get("master/tasks_running", 0)
    assert common.wait_for(lambda: count() == AGENTS * TASKS, 60), count()

    call = b'{"type":"GET_STATE"}'
    st, h, pb = post(port, b"\x08\x09", {"Content-Type": "application/x-protobuf",
                                        "Accept": "application/x-protobuf"})
    assert st == 200, st
    st, h, js = post(port, call, {"Content-Type": "application/json"})
    assert st == 200 and h["content-type"] == "application/json", (st, h)
    assert len(js) > (9 << 20), len(js)                 # large enough for the two-part path
    st, hz, jz = post(port, call, {"Content-Type": "application/json", "Accept-Encoding": "gzip"})
    assert st == 200 and hz.get("content-encoding") == "gzip", hz
    assert gzip.decompress(jz) == js, "gzip'd JSON differs"

    resp = master_pb2.Response()
    resp.ParseFromString(pb)
    doc = json.loads(js)
    tasks = doc["get_state"]["get_tasks"]["tasks"]
    assert len(tasks) == AGENTS * TASKS == len(resp.get_state.get_tasks.tasks), len(tasks)
    for i, (t, want) in enumerate(zip(tasks, resp.get_state.get_tasks.tasks)):
        back = v1_pb2.Task()
        json_format.ParseDict(t, back)
        assert back == want, (i, t)
    # The rest of the answer is there too.
    assert len(doc["get_state"]["get_agents"]["agents"]) == AGENTS
    assert doc["get_state"]["get_tasks"]["completed_tasks"] == []


def main():
    for fn in (large_state_in_json_protobuf_and_gzip,):
        procs = []
        try:
            fn(procs)
            common.passed(fn.__name__)
        except Exception as e:              # noqa: BLE001  (reported, and counted as failed)
            common.failed(fn.__name__, e)
            for p in procs:
                sys.stderr.write("".join(p.log[-20:]))
        finally:
            for p in procs:
                p.stop()
    report()


if __name__ == "__main__":
    main()
