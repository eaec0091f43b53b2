"""Helpers shared by the cluster test scripts (run.py, events.py, ...).

One copy of what every script needs: the binary under test, free ports,
a process wrapper whose stderr is collected in the background, polling
with a deadline, the operator API in JSON over a raw socket, libprocess
messages, the generated protobuf modules and the "N passed, N failed"
tally. Every read and every wait has a timeout.

The scripts run as `python3 test/cluster/<name>.py <binary>`; Python puts
the script's directory first on sys.path, so `import common` works from
the repo root and from anywhere else."""
import http.server
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "./mesos_api")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# The internal protos (libprocess messages and what they carry).
INTERNAL_PROTOS = ("mesos/mesos.proto", "mesos/resource_provider/resource_provider.proto",
                   "messages/messages.proto")


# ==== protobuf modules =====================================================

def gen_protos(protos=INTERNAL_PROTOS, prefix="mesos_api-pb-"):
    """Generate Python classes for `protos` (paths under proto/) into a new
    temporary directory and put it first on sys.path; returns the directory."""
    gen = tempfile.mkdtemp(prefix=prefix)
    subprocess.check_call(["protoc", "-I" + os.path.join(ROOT, "proto"), "--python_out=" + gen] + list(protos))
    sys.path.insert(0, gen)
    return gen


# ==== ports ================================================================

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def free_run(n, error=RuntimeError):
    """A base port with n consecutive free ports after it (local mode
    puts its agents on the ports that follow the master's)."""
    for _ in range(200):
        base = free_port()
        socks = []
        try:
            for i in range(n):
                t = socket.socket()
                t.bind(("127.0.0.1", base + i))
                socks.append(t)
            return base
        except OSError:
            continue
        finally:
            for t in socks:
                t.close()
    raise error("no run of %d free ports" % n)


# ==== processes ============================================================

class Proc:
    """A mesos_api process whose stderr is collected in the background.
    stop() sends a signal and waits up to stop_timeout seconds before it
    kills the process."""

    stop_timeout = 10

    def __init__(self, *args):
        self.args = [BIN] + list(args)
        self.log = []
        self.p = subprocess.Popen(self.args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.p.stderr:
            self.log.append(line.decode(errors="replace"))

    def wait_log(self, pattern, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            for line in list(self.log):
                if re.search(pattern, line):
                    return line
            time.sleep(0.02)
        return None

    def stop(self, sig=signal.SIGTERM):
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode


def kill_processes_in(tmp):
    """SIGKILL every process whose working directory is below tmp (the
    executors a test started)."""
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and os.readlink("/proc/%s/cwd" % pid).startswith(tmp):
                os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass


# ==== waiting ==============================================================

WAIT_ERRORS = (OSError, AssertionError, KeyError)


def wait_for(pred, timeout=10, step=0.05, errors=WAIT_ERRORS):
    """pred()'s first true value within timeout seconds, else None; the
    exceptions in `errors` count as "not yet"."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            v = pred()
            if v:
                return v
        except errors:
            pass
        time.sleep(step)
    return None


# ==== the operator API and libprocess ======================================

def http_post(port, head, data, timeout):
    """Send one request (`head` without Content-Length) and read the
    response up to the close; returns (status line and headers, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(head + b"Content-Length: %d\r\n\r\n" % len(data) + data)
    return read_response(s)


def read_response(s):
    """Read a response up to the close of socket s (its timeout bounds each
    read), close it; returns (status line and headers, body)."""
    resp = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        resp += chunk
    s.close()
    head, _, payload = resp.partition(b"\r\n\r\n")
    return head, payload


OPERATOR_HEAD = (b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Connection: close\r\n")


def operator_call(port, body, timeout=5):
    """An operator call in JSON: (status, parsed body) on 200, else
    (status, body text)."""
    head, payload = http_post(port, OPERATOR_HEAD, json.dumps(body).encode(), timeout)
    status = int(head.split(b" ")[1])
    return status, json.loads(payload) if payload and status == 200 else payload.decode()


def operator_ok(port, body, timeout=10):
    """An operator call in JSON that must answer 200; its parsed body."""
    head, payload = http_post(port, OPERATOR_HEAD, json.dumps(body).encode(), timeout)
    assert b" 200 " in head.split(b"\r\n")[0], head
    return json.loads(payload)


def send_message(to_port, to_id, msg, from_pid, timeout=5):
    """One libprocess message to process `to_id` on to_port, sent the way
    libprocess does it; the receiver must answer 202."""
    body = msg.SerializeToString()
    name = "mesos.internal." + type(msg).__name__
    s = socket.create_connection(("127.0.0.1", to_port), timeout=timeout)
    s.sendall(("POST /%s/%s HTTP/1.1\r\nHost: x\r\nLibprocess-From: %s\r\nConnection: close\r\n"
               "Content-Length: %d\r\n\r\n" % (to_id, name, from_pid, len(body))).encode() + body)
    assert b" 202 " in s.recv(4096).split(b"\r\n")[0]
    s.close()


def request_body(handler):
    """The body of the request an http.server handler is serving, plain or
    chunked (libprocess peers send either)."""
    if handler.headers.get("Transfer-Encoding", "").lower() != "chunked":
        return handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
    body = b""
    while True:
        size = int(handler.rfile.readline().split(b";")[0], 16)
        if size == 0:
            handler.rfile.readline()
            return body
        body += handler.rfile.read(size)
        handler.rfile.readline()


# ==== a fake master speaking the libprocess wire ===========================

class FakeMaster:
    """Receives libprocess messages (POST /master/mesos.internal.X, answered
    202) into a queue; sends messages to agents. expect() waits up to
    expect_timeout seconds unless told otherwise; close() also closes the
    listening socket when server_close is set."""

    def __init__(self, expect_timeout=15, server_close=False):
        self.port = free_port()
        self.inbox = queue.Queue()
        self.expect_timeout = expect_timeout
        self.server_close = server_close
        fm = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = request_body(self)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                name = self.path.rsplit("/", 1)[-1].replace("mesos.internal.", "", 1)
                fm.inbox.put((name, self.headers.get("Libprocess-From"), body))

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.pid = "master@127.0.0.1:%d" % self.port

    def send(self, to, msg, frm=None):
        ident, addr = to.split("@")
        host, port = addr.rsplit(":", 1)
        body = msg.SerializeToString()
        name = "mesos.internal." + type(msg).__name__
        frm = frm or self.pid
        s = socket.create_connection((host, int(port)), timeout=5)
        s.sendall(("POST /%s/%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: libprocess/%s\r\nLibprocess-From: %s\r\n"
                   "Connection: close\r\nContent-Length: %d\r\n\r\n" % (ident, name, addr, frm, frm, len(body))
                   ).encode() + body)
        resp = s.recv(4096)
        s.close()
        assert b" 202 " in resp.split(b"\r\n")[0], resp

    def expect(self, name, timeout=None):
        timeout = self.expect_timeout if timeout is None else timeout
        end = time.time() + timeout
        while time.time() < end:
            try:
                n, frm, body = self.inbox.get(timeout=max(0.01, end - time.time()))
            except queue.Empty:
                break
            if n == name:
                return frm, body
        raise AssertionError("no %s within %ss" % (name, timeout))

    def close(self):
        self.httpd.shutdown()
        if self.server_close:
            self.httpd.server_close()


# ==== the tally ============================================================

RESULTS = {"passed": 0, "failed": 0}


def passed(name):
    RESULTS["passed"] += 1
    print("ok - %s" % name)


def failed(name, e):
    RESULTS["failed"] += 1
    print("FAIL - %s: %r" % (name, e))


def report():
    """The last line of every script; the exit status says whether all passed."""
    print("%d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    sys.exit(1 if RESULTS["failed"] else 0)
