#!/usr/bin/python3
"""A tiny custom executor for the cluster tests, speaking the v1 Executor
HTTP API (POST /api/v1/executor on MESOS_AGENT_ENDPOINT) in JSON.

It subscribes, answers LAUNCH with TASK_RUNNING, echoes every MESSAGE back
to its framework as a MESSAGE call carrying b"echo:" + data, and on SHUTDOWN
reports TASK_KILLED for its tasks and exits, unless ECHO_IGNORE_SHUTDOWN is
set (then the agent has to kill it). A task whose data is b"write:<path>"
also writes "hello" to that path in the sandbox first (persistent volumes).
Every wait has a timeout; it gives up after 120 s on its own."""
import base64
import json
import os
import socket
import sys
import threading
import uuid

HOST, PORT = os.environ["MESOS_AGENT_ENDPOINT"].rsplit(":", 1)
PORT = int(PORT)
FW = os.environ["MESOS_FRAMEWORK_ID"]
EX = os.environ["MESOS_EXECUTOR_ID"]
tasks = {}
lock = threading.Lock()


def post(body):
    data = json.dumps(dict(body, framework_id={"value": FW}, executor_id={"value": EX})).encode()
    s = socket.create_connection((HOST, PORT), timeout=10)
    s.sendall(b"POST /api/v1/executor HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(data) + data)
    resp = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        resp += c
    s.close()
    return resp.split(b" ", 2)[1]


def update(task_id, state):
    post({"type": "UPDATE", "update": {"status": {
        "task_id": {"value": task_id}, "state": state, "source": "SOURCE_EXECUTOR",
        "uuid": base64.b64encode(uuid.uuid4().bytes).decode()}}})


def events():
    body = json.dumps({"type": "SUBSCRIBE", "framework_id": {"value": FW}, "executor_id": {"value": EX},
                       "subscribe": {}}).encode()
    s = socket.create_connection((HOST, PORT), timeout=60)
    s.sendall(b"POST /api/v1/executor HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Accept: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    f = s.makefile("rb")
    while f.readline() not in (b"\r\n", b""):
        pass
    buf = b""
    while True:
        line = f.readline()
        if not line:
            return
        size = int(line.split(b";")[0], 16)
        if size == 0:
            return
        buf += f.read(size)
        f.readline()
        while b"\n" in buf:
            n, rest = buf.split(b"\n", 1)
            if len(rest) < int(n):
                break
            yield json.loads(rest[:int(n)])
            buf = rest[int(n):]


def main():
    threading.Timer(120, lambda: os._exit(3)).start()
    for ev in events():
        t = ev["type"]
        if t == "LAUNCH":
            task = ev["launch"]["task"]
            tid = task["task_id"]["value"]
            data = base64.b64decode(task.get("data", ""))
            if data.startswith(b"write:"):
                with open(data[6:].decode(), "w") as out:
                    out.write("hello")
            with lock:
                tasks[tid] = "TASK_RUNNING"
            update(tid, "TASK_RUNNING")
        elif t == "MESSAGE":
            data = base64.b64decode(ev["message"]["data"])
            post({"type": "MESSAGE", "message": {"data": base64.b64encode(b"echo:" + data).decode()}})
        elif t == "SHUTDOWN":
            if os.environ.get("ECHO_IGNORE_SHUTDOWN"):
                continue
            for tid in list(tasks):
                update(tid, "TASK_KILLED")       # answered 202: the agent holds it
            os._exit(0)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
