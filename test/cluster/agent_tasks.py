#!/usr/bin/python3
"""Agent task tests against a fake master speaking the libprocess wire.

The test process plays the master: it listens for libprocess messages
(POST /master/mesos.internal.X, answered 202), answers the agent's
registration, sends RunTaskMessage / KillTaskMessage, and acknowledges each
StatusUpdateMessage the way a master relays a framework's acknowledgement.
Messages are encoded with Python classes generated from our proto/ files,
so this also checks the agent's bytes against an independent protobuf
implementation. Ends with "N passed, N failed".

Usage: test/cluster/agent_tasks.py ./mesos_api
"""
import glob
import http.server
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "./mesos_api")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

gen = tempfile.mkdtemp(prefix="mesos_api-pb-")
subprocess.check_call(["protoc", "-I" + os.path.join(ROOT, "proto"), "--python_out=" + gen,
                       "mesos/mesos.proto", "mesos/resource_provider/resource_provider.proto",
                       "messages/messages.proto"])
sys.path.insert(0, gen)
from mesos import mesos_pb2  # noqa: E402
from messages import messages_pb2  # noqa: E402

passed = failed = 0
STATE = mesos_pb2.TaskState
PROCS = []          # agent processes of the running test


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class FakeMaster:
    """Receives libprocess messages into a queue; sends messages to agents."""

    def __init__(self):
        self.port = free_port()
        self.inbox = queue.Queue()
        fm = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        body += self.rfile.read(size)
                        self.rfile.readline()
                else:
                    body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
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

    def send(self, to, msg):
        ident, addr = to.split("@")
        host, port = addr.rsplit(":", 1)
        body = msg.SerializeToString()
        name = "mesos.internal." + type(msg).__name__
        s = socket.create_connection((host, int(port)), timeout=5)
        s.sendall(("POST /%s/%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: libprocess/%s\r\nLibprocess-From: %s\r\n"
                   "Connection: close\r\nContent-Length: %d\r\n\r\n" % (ident, name, addr, self.pid, self.pid, len(body))
                   ).encode() + body)
        resp = s.recv(4096)
        s.close()
        assert b" 202 " in resp.split(b"\r\n")[0], resp

    def expect(self, name, timeout=15):
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


def start_agent(fm, agent_port, wd):
    env = dict(os.environ, MESOS_RECOVERY_TIMEOUT="10secs")
    p = subprocess.Popen([BIN, "agent", "--ip=127.0.0.1", "--port=%d" % agent_port,
                          "--master=127.0.0.1:%d" % fm.port, "--work_dir=" + wd,
                          "--resources=cpus:2;mem:256"], stderr=subprocess.PIPE, env=env)
    log = []
    threading.Thread(target=lambda: log.extend(p.stderr), daemon=True).start()
    p.log = log
    PROCS.append(p)
    return p


def register(fm, agent_port):
    frm, body = fm.expect("RegisterSlaveMessage")
    reg = messages_pb2.RegisterSlaveMessage()
    reg.ParseFromString(body)
    assert reg.slave.hostname and reg.slave.port == agent_port, reg
    assert {r.name for r in reg.slave.resources} == {"cpus", "mem"}
    ok = messages_pb2.SlaveRegisteredMessage()
    ok.slave_id.value = "S0"
    ok.connection.total_ping_timeout_seconds = 60
    fm.send(frm, ok)
    return frm


def run_task(fm, agent, task_id, command, shell=True, args=None, kill_grace=None, killing_state=False, user=None):
    m = messages_pb2.RunTaskMessage()
    if killing_state:
        m.framework.capabilities.add().type = mesos_pb2.FrameworkInfo.Capability.TASK_KILLING_STATE
    m.framework.user = "root"
    m.framework.name = "harness"
    m.framework.id.value = "fw1"
    m.pid = "scheduler-1@127.0.0.1:1"
    t = m.task
    t.name = "task " + task_id
    t.task_id.value = task_id
    t.slave_id.value = "S0"
    t.command.value = command
    t.command.shell = shell
    if user:
        t.command.user = user
    for a in args or []:
        t.command.arguments.append(a)
    if kill_grace is not None:
        t.kill_policy.grace_period.nanoseconds = int(kill_grace * 1e9)
    r = t.resources.add()
    r.name, r.type, r.scalar.value = "cpus", mesos_pb2.Value.SCALAR, 0.1
    fm.send(agent, m)


def next_update(fm, agent, task_id, ack=True, timeout=20):
    frm, body = fm.expect("StatusUpdateMessage", timeout)
    m = messages_pb2.StatusUpdateMessage()
    m.ParseFromString(body)
    u = m.update
    assert u.status.task_id.value == task_id, (u.status.task_id.value, task_id)
    assert u.framework_id.value == "fw1" and u.slave_id.value == "S0"
    assert u.status.slave_id.value == "S0" and len(u.uuid) == 16 and u.uuid == u.status.uuid
    assert m.pid == agent
    if ack:
        a = messages_pb2.StatusUpdateAcknowledgementMessage()
        a.slave_id.value = "S0"
        a.framework_id.value = "fw1"
        a.task_id.value = task_id
        a.uuid = u.uuid
        fm.send(agent, a)
    return u.status


def kill_sandbox_processes(wd):
    """SIGKILL every process whose working directory is inside wd: the
    executors and tasks of this test, and nothing else on the machine."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.readlink("/proc/%s/cwd" % pid).startswith(wd):
                os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass


def test(fn):
    global passed, failed
    fm = FakeMaster()
    wd = tempfile.mkdtemp(prefix="mesos_api-agent-")
    proc = None
    try:
        port = free_port()
        proc = start_agent(fm, port, wd)
        agent = register(fm, port)
        fn(fm, agent, wd)
        passed += 1
        print("ok - %s" % fn.__name__)
    except Exception as e:  # noqa: BLE001
        failed += 1
        print("FAIL - %s: %r" % (fn.__name__, e))
        if proc:
            sys.stdout.write("".join("  " + l.decode(errors="replace") for l in proc.log[-20:]))
    finally:
        for proc in [p for p in PROCS if p.poll() is None]:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = "timeout"
            if rc != 0:
                # A clean exit is part of the test (ASan reports make it non-zero).
                print("FAIL - %s: agent exited %s after SIGTERM" % (fn.__name__, rc))
                failed += 1
        # executors outlive the agent by design; stop the ones of this test
        del PROCS[:]
        kill_sandbox_processes(wd)
        fm.close()
    return fn


def states(fm, agent, task_id, n):
    return [next_update(fm, agent, task_id).state for _ in range(n)]


@test
def shell_command_finishes_with_its_output_in_the_sandbox(fm, agent, wd):
    run_task(fm, agent, "t1", "echo hello from $MESOS_SANDBOX; echo oops >&2")
    assert states(fm, agent, "t1", 3) == [STATE.Value("TASK_STARTING"), STATE.Value("TASK_RUNNING"),
                                          STATE.Value("TASK_FINISHED")]
    runs = glob.glob(wd + "/slaves/S0/frameworks/fw1/executors/t1/runs/*")
    assert len(runs) == 1, runs
    out = open(runs[0] + "/stdout").read()
    assert "hello from " + runs[0] in out, out
    assert "oops" in open(runs[0] + "/stderr").read()


@test
def failing_command_reports_its_exit_status(fm, agent, wd):
    run_task(fm, agent, "t2", "exit 3")
    s = [next_update(fm, agent, "t2") for _ in range(3)]
    assert s[2].state == STATE.Value("TASK_FAILED"), s[2]
    assert s[2].message == "Command exited with status 3", s[2].message
    assert s[2].source == mesos_pb2.TaskStatus.SOURCE_EXECUTOR


@test
def non_shell_command_with_arguments(fm, agent, wd):
    run_task(fm, agent, "t3", "/bin/echo", shell=False, args=["echo", "a b", "c"])
    assert states(fm, agent, "t3", 3)[2] == STATE.Value("TASK_FINISHED")
    run = glob.glob(wd + "/slaves/S0/frameworks/fw1/executors/t3/runs/*")[0]
    assert open(run + "/stdout").read().endswith("a b c\n")


@test
def kill_sends_sigterm_then_sigkill_after_the_grace_period(fm, agent, wd):
    run_task(fm, agent, "t4", "trap '' TERM; sleep 60", kill_grace=0.5)
    assert states(fm, agent, "t4", 2) == [STATE.Value("TASK_STARTING"), STATE.Value("TASK_RUNNING")]
    k = messages_pb2.KillTaskMessage()
    k.framework_id.value = "fw1"
    k.task_id.value = "t4"
    t0 = time.time()
    fm.send(agent, k)
    s = next_update(fm, agent, "t4")
    took = time.time() - t0
    assert s.state == STATE.Value("TASK_KILLED"), s
    assert 0.4 <= took < 10, took        # TERM ignored: killed by SIGKILL after 0.5 s


@test
def kill_reports_task_killing_to_frameworks_that_understand_it(fm, agent, wd):
    run_task(fm, agent, "t10", "sleep 60", killing_state=True)
    assert states(fm, agent, "t10", 2)[1] == STATE.Value("TASK_RUNNING")
    k = messages_pb2.KillTaskMessage()
    k.framework_id.value = "fw1"
    k.task_id.value = "t10"
    fm.send(agent, k)
    assert states(fm, agent, "t10", 2) == [STATE.Value("TASK_KILLING"), STATE.Value("TASK_KILLED")]


@test
def command_user_is_switched_to(fm, agent, wd):
    if os.getuid() != 0:
        raise AssertionError("this test needs root (CI runs as root)")
    nobody = [l for l in open("/etc/passwd") if l.startswith("nobody:")][0].split(":")[2]
    run_task(fm, agent, "u1", "id -u", user="nobody")
    assert states(fm, agent, "u1", 3)[2] == STATE.Value("TASK_FINISHED")
    run = glob.glob(wd + "/slaves/S0/frameworks/fw1/executors/u1/runs/*")[0]
    assert open(run + "/stdout").read().strip().endswith(nobody), open(run + "/stdout").read()
    run_task(fm, agent, "u2", "true", user="no-such-user-here")
    s = [next_update(fm, agent, "u2") for _ in range(3)]
    assert s[2].state == STATE.Value("TASK_FAILED") and s[2].message == "Command exited with status 127", s[2]
    run = glob.glob(wd + "/slaves/S0/frameworks/fw1/executors/u2/runs/*")[0]
    assert "no such user" in open(run + "/stderr").read()


@test
def updates_wait_for_acknowledgement_in_order(fm, agent, wd):
    run_task(fm, agent, "t5", "true")
    first = next_update(fm, agent, "t5", ack=False)
    assert first.state == STATE.Value("TASK_STARTING")
    # Without an acknowledgement nothing else for this task may arrive.
    try:
        fm.expect("StatusUpdateMessage", timeout=1.0)
        raise AssertionError("an update overtook an unacknowledged one")
    except AssertionError as e:
        if "overtook" in str(e):
            raise
    a = messages_pb2.StatusUpdateAcknowledgementMessage()
    a.slave_id.value, a.framework_id.value, a.task_id.value = "S0", "fw1", "t5"
    a.uuid = first.uuid
    fm.send(agent, a)
    assert states(fm, agent, "t5", 2) == [STATE.Value("TASK_RUNNING"), STATE.Value("TASK_FINISHED")]


@test
def task_without_command_or_executor_is_an_error(fm, agent, wd):
    m = messages_pb2.RunTaskMessage()
    m.framework.user, m.framework.name = "root", "harness"
    m.framework.id.value = "fw1"
    m.task.name = "bad"
    m.task.task_id.value = "t6"
    m.task.slave_id.value = "S0"
    fm.send(agent, m)
    s = next_update(fm, agent, "t6")
    assert s.state == STATE.Value("TASK_ERROR"), s
    assert s.source == mesos_pb2.TaskStatus.SOURCE_SLAVE


@test
def restarted_agent_keeps_its_running_task(fm, agent, wd):
    run_task(fm, agent, "t7", "sleep 60", kill_grace=0.2)
    assert states(fm, agent, "t7", 2) == [STATE.Value("TASK_STARTING"), STATE.Value("TASK_RUNNING")]
    procs = [p for p in PROCS if p.poll() is None]
    port = int(agent.rsplit(":", 1)[1])
    for p in procs:
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0
    # the task runs on without its agent
    again = start_agent(fm, port, wd)
    frm, body = fm.expect("ReregisterSlaveMessage")
    rr = messages_pb2.ReregisterSlaveMessage()
    rr.ParseFromString(body)
    assert rr.slave.id.value == "S0", rr.slave
    tasks = {t.task_id.value: t for t in rr.tasks}
    assert "t7" in tasks and tasks["t7"].state == STATE.Value("TASK_RUNNING"), rr.tasks
    assert tasks["t7"].framework_id.value == "fw1"
    assert [f.id.value for f in rr.frameworks] == ["fw1"]
    ok = messages_pb2.SlaveReregisteredMessage()
    ok.slave_id.value = "S0"
    fm.send(frm, ok)
    # the executor finds the new agent and still obeys: kill it
    time.sleep(2.5)
    k = messages_pb2.KillTaskMessage()
    k.framework_id.value = "fw1"
    k.task_id.value = "t7"
    fm.send(frm, k)
    s = next_update(fm, frm, "t7")
    assert s.state == STATE.Value("TASK_KILLED"), s


@test
def task_fails_when_its_executor_died_while_the_agent_was_down(fm, agent, wd):
    run_task(fm, agent, "t8", "sleep 60")
    assert states(fm, agent, "t8", 2)[1] == STATE.Value("TASK_RUNNING")
    port = int(agent.rsplit(":", 1)[1])
    for p in [p for p in PROCS if p.poll() is None]:
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0
    kill_sandbox_processes(wd)
    time.sleep(0.3)
    start_agent(fm, port, wd)
    frm, _ = fm.expect("ReregisterSlaveMessage")
    ok = messages_pb2.SlaveReregisteredMessage()
    ok.slave_id.value = "S0"
    fm.send(frm, ok)
    s = next_update(fm, frm, "t8")
    assert s.state == STATE.Value("TASK_FAILED"), s
    assert s.message == "Executor terminated" and s.source == mesos_pb2.TaskStatus.SOURCE_SLAVE


@test
def executor_info_with_a_command_runs_that_executor(fm, agent, wd):
    """A task with its own ExecutorInfo: the agent starts the executor's
    command (here our command executor, as a third-party executor would be
    started) and hands it the task over the v1 Executor API."""
    m = messages_pb2.RunTaskMessage()
    m.framework.user, m.framework.name = "root", "harness"
    m.framework.id.value = "fw1"
    t = m.task
    t.name = "custom"
    t.task_id.value = "t9"
    t.slave_id.value = "S0"
    t.command.value = "echo custom executor ran"
    t.executor.executor_id.value = "my-executor"
    t.executor.framework_id.value = "fw1"
    t.executor.command.value = "exec '%s' executor" % BIN
    fm.send(agent, m)
    assert states(fm, agent, "t9", 3)[2] == STATE.Value("TASK_FINISHED")
    runs = glob.glob(wd + "/slaves/S0/frameworks/fw1/executors/my-executor/runs/*")
    assert len(runs) == 1, runs
    assert "custom executor ran" in open(runs[0] + "/stdout").read()


def run_group(fm, agent, commands, executor_id="group-ex"):
    m = messages_pb2.RunTaskGroupMessage()
    m.framework.user, m.framework.name = "root", "harness"
    m.framework.id.value = "fw1"
    m.executor.type = mesos_pb2.ExecutorInfo.DEFAULT
    m.executor.executor_id.value = executor_id
    m.executor.framework_id.value = "fw1"
    for tid, cmd in commands:
        t = m.task_group.tasks.add()
        t.name = tid
        t.task_id.value = tid
        t.slave_id.value = "S0"
        t.command.value = cmd
    fm.send(agent, m)


def collect(fm, agent, count, timeout=20):
    """The next `count` updates, whatever their task, each acknowledged."""
    got = {}
    for _ in range(count):
        frm, body = fm.expect("StatusUpdateMessage", timeout)
        m = messages_pb2.StatusUpdateMessage()
        m.ParseFromString(body)
        st = m.update.status
        got.setdefault(st.task_id.value, []).append(st.state)
        a = messages_pb2.StatusUpdateAcknowledgementMessage()
        a.slave_id.value, a.framework_id.value = "S0", "fw1"
        a.task_id.value = st.task_id.value
        a.uuid = m.update.uuid
        fm.send(agent, a)
    return got


@test
def task_group_runs_all_its_tasks_under_one_executor(fm, agent, wd):
    run_group(fm, agent, [("g1", "echo one"), ("g2", "sleep 0.3; echo two")])
    got = collect(fm, agent, 6)
    want = [STATE.Value("TASK_STARTING"), STATE.Value("TASK_RUNNING"), STATE.Value("TASK_FINISHED")]
    assert got == {"g1": want, "g2": want}, got
    runs = glob.glob(wd + "/slaves/S0/frameworks/fw1/executors/group-ex/runs/*")
    assert len(runs) == 1, runs
    # each task ran as a nested container with its own sandbox, as upstream's
    # default executor runs them
    outs = sorted(open(p).read() for p in glob.glob(runs[0] + "/containers/*/stdout"))
    assert outs == ["one\n", "two\n"], outs


@test
def a_failing_task_takes_its_group_down(fm, agent, wd):
    run_group(fm, agent, [("h1", "exit 2"), ("h2", "sleep 60")])
    got = collect(fm, agent, 6)
    assert got["h1"][-1] == STATE.Value("TASK_FAILED"), got
    assert got["h2"][-1] == STATE.Value("TASK_KILLED"), got


print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
