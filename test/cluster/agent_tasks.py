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
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import tempfile
import struct
import threading
import time
import uuid
import zlib

import common
from common import BIN, FakeMaster, free_port, report

common.gen_protos()
from mesos import mesos_pb2  # noqa: E402
from messages import messages_pb2  # noqa: E402

STATE = mesos_pb2.TaskState
PROCS = []          # agent processes of the running test


def start_agent(fm, agent_port, wd, *flags, master_port=None):
    env = dict(os.environ, MESOS_RECOVERY_TIMEOUT="10secs")
    p = subprocess.Popen([BIN, "agent", "--ip=127.0.0.1", "--port=%d" % agent_port,
                          "--master=127.0.0.1:%d" % (master_port or fm.port), "--work_dir=" + wd,
                          "--resources=cpus:2;mem:256"] + list(flags), stderr=subprocess.PIPE, env=env)
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
    common.kill_processes_in(wd)


def test(fn):
    fm = FakeMaster()
    wd = tempfile.mkdtemp(prefix="mesos_api-agent-")
    proc = None
    try:
        port = free_port()
        proc = start_agent(fm, port, wd)
        agent = register(fm, port)
        fn(fm, agent, wd)
        common.passed(fn.__name__)
    except Exception as e:  # noqa: BLE001
        common.failed(fn.__name__, e)
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
                common.RESULTS["failed"] += 1
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
def simple_command_without_the_shell_sees_the_shells_environment(fm, agent, wd):
    # "env" has nothing for a shell to do: it is exec'd directly, and must
    # see what it would under sh -c (PWD = the sandbox, as dash sets it).
    run_task(fm, agent, "t1e", "env")
    assert states(fm, agent, "t1e", 3)[2] == STATE.Value("TASK_FINISHED")
    run = glob.glob(wd + "/slaves/S0/frameworks/fw1/executors/t1e/runs/*")[0]
    direct = open(run + "/stdout").read().splitlines()
    run_task(fm, agent, "t1f", "env;")                 # ';' sends it through sh
    assert states(fm, agent, "t1f", 3)[2] == STATE.Value("TASK_FINISHED")
    run2 = glob.glob(wd + "/slaves/S0/frameworks/fw1/executors/t1f/runs/*")[0]
    shell = open(run2 + "/stdout").read().splitlines()
    assert "PWD=" + run in direct, direct
    assert "PWD=" + run2 in shell, shell
    norm = lambda lines, r, t: sorted(l.replace(r, "RUN").replace(t, "T") for l in lines
                                      if not l.startswith("MESOS_CONTAINER_ID="))
    assert norm(direct, run, "t1e") == norm(shell, run2, "t1f"), (direct, shell)


@test
def simple_command_not_found_fails_as_in_the_shell(fm, agent, wd):
    run_task(fm, agent, "t1n", "no-such-command-here arg")
    s = [next_update(fm, agent, "t1n") for _ in range(3)]
    assert s[2].state == STATE.Value("TASK_FAILED"), s[2]
    assert s[2].message == "Command exited with status 127", s[2].message


@test
def non_shell_script_without_interpreter_line_runs_with_the_shell(fm, agent, wd):
    # As execvp does for ENOEXEC.
    script = os.path.join(wd, "noshebang")
    with open(script, "w") as f:
        f.write("echo from-script \"$1\"\n")
    os.chmod(script, 0o755)
    run_task(fm, agent, "t1x", script, shell=False, args=["noshebang", "arg1"])
    assert states(fm, agent, "t1x", 3)[2] == STATE.Value("TASK_FINISHED")
    run = glob.glob(wd + "/slaves/S0/frameworks/fw1/executors/t1x/runs/*")[0]
    assert open(run + "/stdout").read().endswith("from-script arg1\n"), open(run + "/stdout").read()


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


# ==== ShutdownMessage: the master does not want this agent ================

def wait_for(pred, timeout=20, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def log_has(proc, pattern):
    return any(re.search(pattern, l.decode(errors="replace")) for l in list(proc.log))


def processes_in(d):
    n = 0
    for pid in os.listdir("/proc"):
        try:
            n += pid.isdigit() and os.readlink("/proc/%s/cwd" % pid).startswith(d)
        except OSError:
            pass
    return n


def pending_messages(fm, name):
    out = []
    while True:
        try:
            n, _, body = fm.inbox.get_nowait()
        except queue.Empty:
            return out
        if n == name:
            out.append(body)


@test
def shutdown_message_kills_the_executors_and_the_agent_exits(fm, agent, wd):
    run_task(fm, agent, "s1", "sleep 60")
    assert states(fm, agent, "s1", 2)[1] == STATE.Value("TASK_RUNNING")
    proc = PROCS[-1]
    sandbox = glob.glob(wd + "/slaves/S0/frameworks/fw1/executors/s1/runs/*")[0]
    assert processes_in(sandbox) >= 2                 # the executor and its task
    sm = messages_pb2.ShutdownMessage()
    sm.message = "Agent has been marked gone"
    # from anyone but the master: ignored, as upstream ignores it
    stranger = "master@127.0.0.1:%d" % free_port()
    fm.send(agent, sm, frm=stranger)
    wait_for(lambda: log_has(proc, "Ignoring shutdown message from %s because it is not from the registered "
                                   "master: master@127.0.0.1:%d" % (re.escape(stranger), fm.port)), what="the refusal")
    assert proc.poll() is None and processes_in(sandbox) >= 2
    fm.send(agent, sm)
    assert proc.wait(30) == 0                         # upstream's mesos-agent exits with EXIT_SUCCESS
    assert log_has(proc, r"Agent asked to shut down by master@127\.0\.0\.1:%d because "
                         r"'Agent has been marked gone'" % fm.port), proc.log[-5:]
    wait_for(lambda: processes_in(sandbox) == 0, 5, "the executor and the task to be gone")
    # the tasks of terminating frameworks get no more updates
    for body in pending_messages(fm, "StatusUpdateMessage"):
        m = messages_pb2.StatusUpdateMessage()
        m.ParseFromString(body)
        assert m.update.status.state not in (STATE.Value("TASK_KILLED"), STATE.Value("TASK_FAILED")), m
    assert os.listdir(wd + "/meta/executors") == []   # nothing left to recover
    # like upstream, the agent keeps its id: started again, it comes back as S0
    assert open(wd + "/meta/agent_id").read() == "S0"
    start_agent(fm, int(agent.rsplit(":", 1)[1]), wd)
    _, body = fm.expect("ReregisterSlaveMessage")
    rr = messages_pb2.ReregisterSlaveMessage()
    rr.ParseFromString(body)
    assert rr.slave.id.value == "S0" and len(rr.tasks) == 0 and len(rr.frameworks) == 0, rr


@test
def shutdown_kills_an_executor_that_ignores_it_after_the_grace_period(fm, agent, wd):
    port = int(agent.rsplit(":", 1)[1])
    PROCS[-1].send_signal(signal.SIGTERM)
    assert PROCS[-1].wait(10) == 0
    proc = start_agent(fm, port, wd, "--executor_shutdown_grace_period=1secs")
    frm, _ = fm.expect("ReregisterSlaveMessage")
    ok = messages_pb2.SlaveReregisteredMessage()
    ok.slave_id.value = "S0"
    fm.send(frm, ok)
    wait_for(lambda: log_has(proc, "Re-registered with master"), what="re-registration")
    # an executor that never subscribes and ignores SIGTERM
    m = messages_pb2.RunTaskMessage()
    m.framework.user, m.framework.name = "root", "harness"
    m.framework.id.value = "fw1"
    t = m.task
    t.name, t.task_id.value, t.slave_id.value = "deaf", "s2", "S0"
    t.command.value = "true"
    t.executor.executor_id.value = "deaf"
    t.executor.framework_id.value = "fw1"
    t.executor.command.value = "trap '' TERM; exec sleep 60"
    fm.send(frm, m)
    wait_for(lambda: glob.glob(wd + "/slaves/S0/frameworks/fw1/executors/deaf/runs/*"), what="the executor")
    sandbox = glob.glob(wd + "/slaves/S0/frameworks/fw1/executors/deaf/runs/*")[0]
    wait_for(lambda: processes_in(sandbox) == 1, what="the executor's process")
    sm = messages_pb2.ShutdownMessage()
    sm.message = "Machine is `DOWN`"
    start = time.time()
    fm.send(frm, sm)
    assert proc.wait(30) == 0
    took = time.time() - start
    assert 0.9 <= took < 20, took                     # SIGTERM ignored: SIGKILL after the grace period
    assert log_has(proc, "Killing executor deaf of framework fw1: it did not exit after SHUTDOWN")
    wait_for(lambda: processes_in(sandbox) == 0, 5, "the executor to be gone")


# A registry that holds one agent marked gone (the format of src/registry.h,
# as test/cluster/registry.py writes it).
def pb_varint(v):
    out = b""
    while True:
        b = v & 0x7f
        v >>= 7
        if not v:
            return out + bytes([b])
        out += bytes([b | 0x80])


def pb_len(tag, data):
    return pb_varint(tag << 3 | 2) + pb_varint(len(data)) + data


def pb_uint(tag, v):
    return pb_varint(tag << 3) + pb_varint(v)


def free_run(n):
    """A base port with n consecutive bindable ports (local mode puts its
    agents on the ports after the master's)."""
    return common.free_run(n, error=AssertionError)


def write_gone_registry(wd, agent_id):
    d = os.path.join(wd, "registry")
    os.makedirs(d)

    def header(kind):
        h = b"MAPIREG\n" + struct.pack("<IIQ", 2, kind, 7)
        return h + struct.pack("<I", zlib.crc32(h))

    reg = pb_len(2, b"") + pb_len(8, pb_len(1, pb_len(1, pb_len(1, agent_id.encode())) +
                                         pb_len(2, pb_uint(1, 1700000000000000000))))
    rest = struct.pack("<QII", 0, 0, 1)
    rec = struct.pack("<II", len(reg), zlib.crc32(struct.pack("<I", len(reg)) + rest + reg)) + rest + reg
    with open(os.path.join(d, "snapshot"), "wb") as f:
        f.write(header(1) + rec)
    with open(os.path.join(d, "log"), "wb") as f:
        f.write(header(2))


@test
def a_master_that_marked_the_agent_gone_shuts_it_down(fm, agent, wd):
    """The real master: an agent it holds as gone re-registers (after an
    agent restart, with its running task) and is told to shut down."""
    run_task(fm, agent, "s3", "sleep 60")
    assert states(fm, agent, "s3", 2)[1] == STATE.Value("TASK_RUNNING")
    sandbox = glob.glob(wd + "/slaves/S0/frameworks/fw1/executors/s3/runs/*")[0]
    port = int(agent.rsplit(":", 1)[1])
    PROCS[-1].send_signal(signal.SIGTERM)
    assert PROCS[-1].wait(10) == 0
    assert processes_in(sandbox) >= 2                 # the task runs on without its agent
    mwd = tempfile.mkdtemp(prefix="mesos_api-gone-master-")
    write_gone_registry(mwd, "S0")
    mport = free_port()
    master = subprocess.Popen([BIN, "master", "--ip=127.0.0.1", "--port=%d" % mport, "--work_dir=" + mwd],
                              stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", mport)) == 0, what="the master")
        proc = start_agent(fm, port, wd, master_port=mport)
        assert proc.wait(30) == 0
        assert log_has(proc, r"Agent asked to shut down by master@127\.0\.0\.1:%d because "
                             r"'Agent has been marked gone'" % mport), proc.log[-5:]
        wait_for(lambda: processes_in(sandbox) == 0, what="the task to die")
        assert open(wd + "/meta/agent_id").read() == "S0"
    finally:
        master.send_signal(signal.SIGTERM)
        assert master.wait(10) == 0


@test
def in_a_local_cluster_the_shut_down_agent_stops_and_the_rest_runs_on(fm, agent, wd):
    """`mesos_api local` with two agents, one of them (its checkpointed id)
    marked gone in the master's registry: that agent stops, the master and
    the other agent go on, and the process still exits cleanly."""
    lwd = tempfile.mkdtemp(prefix="mesos_api-local-gone-")
    write_gone_registry(lwd + "/master", "L-GONE")
    os.makedirs(lwd + "/agents/1/meta")
    with open(lwd + "/agents/1/meta/agent_id", "w") as f:
        f.write("L-GONE")
    mport = free_run(3)                               # the agents take the next two ports
    local = subprocess.Popen([BIN, "local", "--agents=2", "--port=%d" % mport, "--work_dir=" + lwd],
                             stderr=subprocess.PIPE)
    local.log = []
    threading.Thread(target=lambda: local.log.extend(local.stderr), daemon=True).start()
    try:
        wait_for(lambda: log_has(local, r"Agent asked to shut down by master@127\.0\.0\.1:%d because "
                                        r"'Agent has been marked gone'" % mport), what="the shutdown")
        wait_for(lambda: log_has(local, "Agent terminating"), what="the agent to stop")
        wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", mport + 2)) != 0, what="its port to close")

        def agents():
            head, payload = common.http_post(mport, common.OPERATOR_HEAD, b'{"type":"GET_AGENTS"}', 5)
            return (head + payload).count(b'"agent_info"')
        wait_for(lambda: agents() == 1, what="the other agent registered")
        assert local.poll() is None, b"".join(local.log[-10:]).decode(errors="replace")
    finally:
        local.send_signal(signal.SIGTERM)
        rc = local.wait(15)
        kill_sandbox_processes(lwd)
    assert rc == 0, (rc, b"".join(local.log[-10:]).decode(errors="replace"))


report()
