#!/usr/bin/python3
"""The master's durable registry, black-box: kill -9 storms, recovery,
gone and recovered agents, damaged files, a task across a master restart.

The kill storm runs a master with --work_dir, drives registry changes from
several client threads (UPDATE_WEIGHTS, each setting a pair of roles at
once; agents registering and unregistering, simulated on one port speaking
the libprocess wire), SIGKILLs the master at random moments many times and
restarts it, and checks after every restart that every acknowledged change
is there and nothing unacknowledged is half-applied (a pair's two weights
are always equal; a recovered agent is one that asked to register, whole).

Registry files for the recovery tests are written here in Python from the
format described in src/registry.h, which checks that description against
the C reader. Every wait is bounded. Ends with "N passed, N failed".

Usage: test/cluster/registry.py ./mesos_api
"""
import base64
import http.server
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

import common  # noqa: E402  (the script's directory is first on sys.path)
from common import BIN, free_port  # noqa: E402

common.gen_protos()
from mesos import mesos_pb2  # noqa: E402
from messages import messages_pb2  # noqa: E402

passed = failed = 0
STORM_SECONDS = float(os.environ.get("REGISTRY_STORM_SECONDS", "40"))


class Proc(common.Proc):
    """A mesos_api process; wait_log gives up as soon as the process has
    exited without the line (start-up refusals are expected here)."""

    stop_timeout = 15

    def wait_log(self, pattern, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            for line in list(self.log):
                if re.search(pattern, line):
                    return line
            if self.p.poll() is not None and not re.search(pattern, "".join(self.log)):
                time.sleep(0.1)
                return next((l for l in self.log if re.search(pattern, l)), None)
            time.sleep(0.02)
        return None


def call(port, body, timeout=10):
    return common.operator_call(port, body, timeout)


def get(port, what):
    status, body = call(port, {"type": what})
    assert status == 200, (what, status, body)
    return body[what.lower()]


def metric(port, name):
    status, body = call(port, {"type": "GET_METRICS", "get_metrics": {}})
    assert status == 200
    return {m["name"]: m.get("value") for m in body["get_metrics"]["metrics"]}.get(name)


def _cwd_under(pid, root):
    try:
        return os.readlink("/proc/%s/cwd" % pid).startswith(root)
    except OSError:
        return False


def wait_for(pred, timeout=15, step=0.05):
    return common.wait_for(pred, timeout, step, common.WAIT_ERRORS + (IndexError, ValueError))


def test(fn):
    global passed, failed
    tmp = tempfile.mkdtemp(prefix="mesos_api-registry-")
    procs = []
    t0 = time.time()
    try:
        fn(tmp, procs)
        for p in procs:
            if p.p.poll() is None:
                rc = p.stop()
                assert rc == 0, "%s exited %s after SIGTERM" % (" ".join(p.args[1:2]), rc)
        passed += 1
        print("ok - %s (%.1fs)" % (fn.__name__, time.time() - t0))
    except Exception as e:  # noqa: BLE001 -- any failure is a test failure
        failed += 1
        print("FAIL - %s: %r" % (fn.__name__, e))
        for p in procs[-3:]:
            print("  --- %s" % " ".join(p.args[1:4]))
            sys.stdout.write("".join("  " + l for l in p.log[-15:]))
    finally:
        for p in procs:
            p.stop(signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
    sys.stdout.flush()
    return fn


def start_master(procs, port, wd, *extra, expect_start=True):
    m = Proc("master", "--ip=127.0.0.1", "--port=%d" % port, "--work_dir=%s" % wd, *extra)
    procs.append(m)
    if expect_start:
        assert m.wait_log(r"started on 127\.0\.0\.1:%d" % port), "master did not start"
        assert wait_for(lambda: call(port, {"type": "GET_HEALTH"})[0] == 200, timeout=10)
    return m


# ==== Simulated agents: many libprocess processes on one port ===============

class FakeAgents:
    """Agents "slave(N)@127.0.0.1:port": messages from the master land in
    per-agent lists; registrations are sent as an agent would."""

    def __init__(self):
        self.port = free_port()
        self.lock = threading.Lock()
        self.cv = threading.Condition(self.lock)
        self.inbox = {}           # process id -> [(name, body)]
        fa = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = common.request_body(self)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                parts = self.path.split("/")
                if len(parts) >= 3:
                    with fa.cv:
                        fa.inbox.setdefault(parts[1], []).append((parts[2].replace("mesos.internal.", ""), body))
                        fa.cv.notify_all()

            def log_message(self, *a):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass                        # a killed master resets its connections

        self.httpd = Server(("127.0.0.1", self.port), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def pid(self, n):
        return "slave(%d)@127.0.0.1:%d" % (n, self.port)

    def info(self, n, aid=None):
        si = mesos_pb2.SlaveInfo()
        si.hostname = "fake%d" % n
        si.port = 10000 + n
        r = si.resources.add()
        r.name, r.type, r.scalar.value = "cpus", 0, 1.0
        if aid:
            si.id.value = aid
        return si

    def send(self, mport, n, msg):
        body = msg.SerializeToString()
        name = "mesos.internal." + type(msg).__name__
        s = socket.create_connection(("127.0.0.1", mport), timeout=5)
        try:
            s.sendall(("POST /master/%s HTTP/1.1\r\nHost: x\r\nLibprocess-From: %s\r\nConnection: close\r\n"
                       "Content-Length: %d\r\n\r\n" % (name, self.pid(n), len(body))).encode() + body)
            s.recv(4096)
        finally:
            s.close()

    def take(self, n, name, timeout):
        """Wait for message `name` to agent n; returns its body or None."""
        key = "slave(%d)" % n
        end = time.time() + timeout
        with self.cv:
            while True:
                for i, (nm, body) in enumerate(self.inbox.get(key, [])):
                    if nm == name:
                        del self.inbox[key][i]
                        return body
                left = end - time.time()
                if left <= 0:
                    return None
                self.cv.wait(left)

    def register(self, mport, n, timeout=3, draining=False):
        m = messages_pb2.RegisterSlaveMessage()
        m.slave.CopyFrom(self.info(n))
        m.version = "1.12.0"
        if draining:
            m.agent_capabilities.add().type = mesos_pb2.SlaveInfo.Capability.AGENT_DRAINING
        self.send(mport, n, m)
        body = self.take(n, "SlaveRegisteredMessage", timeout)
        if body is None:
            return None
        r = messages_pb2.SlaveRegisteredMessage()
        r.ParseFromString(body)
        return r.slave_id.value

    def reregister(self, mport, n, aid, timeout=3, draining=False):
        m = messages_pb2.ReregisterSlaveMessage()
        m.slave.CopyFrom(self.info(n, aid))
        m.version = "1.12.0"
        if draining:
            m.agent_capabilities.add().type = mesos_pb2.SlaveInfo.Capability.AGENT_DRAINING
        self.send(mport, n, m)
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.cv:
                msgs = self.inbox.get("slave(%d)" % n, [])
                for i, (nm, body) in enumerate(msgs):
                    if nm in ("SlaveReregisteredMessage", "ShutdownMessage"):
                        del msgs[i]
                        return nm, body
                self.cv.wait(0.1)
        return None, None

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ==== Registry files written from the format in src/registry.h ==============

def pb_varint(v):
    out = b""
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_len(tag, data):
    return pb_varint(tag << 3 | 2) + pb_varint(len(data)) + data


def pb_uint(tag, v):
    return pb_varint(tag << 3) + pb_varint(v)


def pb_double(tag, v):
    return pb_varint(tag << 3 | 1) + struct.pack("<d", v)


def file_header(kind, gen):
    h = b"MAPIREG\n" + struct.pack("<IIQ", 2, kind, gen)
    return h + struct.pack("<I", zlib.crc32(h))


def file_record(payload, batch=0, idx=0, count=1):
    rest = struct.pack("<QII", batch, idx, count)
    c = zlib.crc32(struct.pack("<I", len(payload)) + rest + payload)
    return struct.pack("<II", len(payload), c) + rest + payload


def write_registry(wd, admitted=(), unreachable=(), gone=(), weights=(), log_ops=()):
    """admitted: SlaveInfo messages; unreachable/gone: (id, ns)."""
    d = os.path.join(wd, "registry")
    os.makedirs(d, exist_ok=True)
    reg = pb_len(2, b"".join(pb_len(1, pb_len(1, si.SerializeToString())) for si in admitted))
    reg += b"".join(pb_len(6, pb_len(1, pb_double(1, w) + pb_len(2, r.encode()))) for r, w in weights)
    reg += pb_len(7, b"".join(pb_len(1, pb_len(1, pb_len(1, i.encode())) + pb_len(2, pb_uint(1, t)))
                              for i, t in unreachable))
    reg += pb_len(8, b"".join(pb_len(1, pb_len(1, pb_len(1, i.encode())) + pb_len(2, pb_uint(1, t)))
                              for i, t in gone))
    with open(os.path.join(d, "snapshot"), "wb") as f:
        f.write(file_header(1, 7) + file_record(reg))
    log = file_header(2, 7)
    for i, op in enumerate(log_ops):
        log += file_record(op, batch=i + 1)
    with open(os.path.join(d, "log"), "wb") as f:
        f.write(log)
    return d


def op_weights(pairs):
    return pb_uint(1, 8) + pb_len(3, b"".join(pb_len(1, pb_double(1, w) + pb_len(2, r.encode())) for r, w in pairs))


# ==== The kill storm ========================================================

@test
def kill9_storm_loses_nothing_acknowledged(tmp, procs):
    mp = free_port()
    wd = tmp + "/m"
    flags = ("--agent_ping_timeout=60secs", "--registry_max_log_size=16KB")
    fa = FakeAgents()
    lock = threading.Lock()
    acked = {}          # pair -> last acknowledged value
    tried = {}          # pair -> set of every value sent
    agents_acked = {}   # agent id -> fake number
    agents_tried = set()  # fake numbers that sent a registration
    unregistered = set()  # ids we asked to unregister (no ack exists in the protocol)
    counts = {"weights": 0, "agents": 0, "kills": 0, "quota": 0, "schedule": 0}
    next_fake = [0]

    def weights_client(t, port, stop):
        seq = 0
        while not stop.is_set():
            pair = "p%d_%d" % (t, random.randrange(8))
            with lock:
                seq = max(seq, max(tried.get(pair, {0}))) + 1
                tried.setdefault(pair, set()).add(seq)
            body = {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [
                {"role": pair + "_a", "weight": seq}, {"role": pair + "_b", "weight": seq}]}}
            try:
                status, _ = call(port, body, timeout=5)
            except (OSError, IndexError, ValueError):
                return                      # the master is gone
            if status == 200:
                with lock:
                    acked[pair] = max(acked.get(pair, 0), seq)
                    counts["weights"] += 1
            elif status != 503:
                raise AssertionError("UPDATE_WEIGHTS answered %s" % status)

    q_acked, q_tried = {}, {}          # quota pair -> last acked / all sent cpus limits
    sched = {"acked": 0, "tried": set()}  # maintenance schedule generation

    def quota_client(port, stop):
        seq = 0
        while not stop.is_set():
            pair = "q%d" % random.randrange(6)
            with lock:
                seq = max(seq, max(q_tried.get(pair, {0}))) + 1
                q_tried.setdefault(pair, set()).add(seq)
            cfg = [{"role": pair + r, "limits": {"cpus": {"value": seq}}} for r in ("a", "b")]
            body = {"type": "UPDATE_QUOTA", "update_quota": {"force": True, "quota_configs": cfg}}
            try:
                status, _ = call(port, body, timeout=5)
            except (OSError, IndexError, ValueError):
                return
            if status == 200:
                with lock:
                    q_acked[pair] = max(q_acked.get(pair, 0), seq)
                    counts["quota"] += 1
            elif status != 503:
                raise AssertionError("UPDATE_QUOTA answered %s" % status)

    def schedule_client(port, stop):
        while not stop.is_set():
            with lock:
                seq = max(sched["tried"] | {0}) + 1
                sched["tried"].add(seq)
            body = {"type": "UPDATE_MAINTENANCE_SCHEDULE", "update_maintenance_schedule": {"schedule": {"windows": [
                {"machine_ids": [{"hostname": "s%da" % seq}, {"hostname": "s%db" % seq}],
                 "unavailability": {"start": {"nanoseconds": seq}}}]}}}
            try:
                status, _ = call(port, body, timeout=5)
            except (OSError, IndexError, ValueError):
                return
            if status == 200:
                with lock:
                    sched["acked"] = max(sched["acked"], seq)
                    counts["schedule"] += 1
            elif status != 503:
                raise AssertionError("UPDATE_MAINTENANCE_SCHEDULE answered %s" % status)

    def agents_client(port, stop):
        while not stop.is_set():
            with lock:
                n = next_fake[0]
                next_fake[0] += 1
                agents_tried.add(n)
            try:
                aid = fa.register(port, n, timeout=2)
            except OSError:
                return
            if aid is None:
                return
            with lock:
                agents_acked[aid] = n
                counts["agents"] += 1
            if n % 4 == 0:                  # some leave again
                u = messages_pb2.UnregisterSlaveMessage()
                u.slave_id.value = aid
                with lock:
                    unregistered.add(aid)
                try:
                    fa.send(port, n, u)
                except OSError:
                    return

    def check(port):
        ws = {w["role"]: w["weight"] for w in get(port, "GET_WEIGHTS").get("weight_infos", [])}
        with lock:
            for pair, seqs in tried.items():
                a, b = ws.get(pair + "_a"), ws.get(pair + "_b")
                assert a == b, "pair %s half-applied: %s != %s" % (pair, a, b)
                if pair in acked:
                    assert a is not None and a >= acked[pair], "pair %s lost %s (has %s)" % (pair, acked[pair], a)
                assert a is None or int(a) in seqs, "pair %s has %s, never sent" % (pair, a)
            assert len(ws) == 2 * sum(1 for p in tried if p + "_a" in ws)
        qs = {c["role"]: c["limits"]["cpus"]["value"]
              for c in get(port, "GET_QUOTA")["status"].get("configs", [])}
        with lock:
            for pair, seqs in q_tried.items():
                a, b = qs.get(pair + "a"), qs.get(pair + "b")
                assert a == b, "quota pair %s half-applied: %s != %s" % (pair, a, b)
                if pair in q_acked:
                    assert a is not None and a >= q_acked[pair], "quota %s lost %s (has %s)" % (pair, q_acked[pair], a)
                assert a is None or int(a) in seqs, "quota %s has %s, never sent" % (pair, a)
        ws_ = get(port, "GET_MAINTENANCE_SCHEDULE")["schedule"].get("windows", [])
        with lock:
            if sched["acked"]:
                assert len(ws_) == 1, ws_
            if ws_:
                seq = int(ws_[0]["unavailability"]["start"]["nanoseconds"])
                hs = [x["hostname"] for x in ws_[0]["machine_ids"]]
                assert hs == ["s%da" % seq, "s%db" % seq], (seq, hs)
                assert seq >= sched["acked"] and seq in sched["tried"], (seq, sched["acked"])
        ga = get(port, "GET_AGENTS")
        rec = ga.get("recovered_agents", [])
        ids = [a["id"]["value"] for a in rec] + [a["agent_info"]["id"]["value"] for a in ga.get("agents", [])]
        assert len(ids) == len(set(ids)), "agent listed twice"
        with lock:
            for aid, n in agents_acked.items():
                if aid not in unregistered:
                    assert aid in ids, "acknowledged agent %s (fake%d) lost" % (aid, n)
            for a in rec:
                m = re.match(r"fake(\d+)$", a.get("hostname", ""))
                assert m and int(m.group(1)) in agents_tried, "unknown agent recovered: %r" % a
                assert a["port"] == 10000 + int(m.group(1)) and a["resources"][0]["name"] == "cpus", a

    deadline = time.time() + STORM_SECONDS
    rounds = 0
    try:
        while rounds < 12 or (time.time() < deadline and counts["weights"] + counts["agents"] < 3000):
            if time.time() > deadline + 20:
                break
            m = start_master(procs, mp, wd, *flags)
            check(mp)
            stop = threading.Event()
            ts = [threading.Thread(target=weights_client, args=(t, mp, stop)) for t in range(4)]
            ts.append(threading.Thread(target=agents_client, args=(mp, stop)))
            ts.append(threading.Thread(target=quota_client, args=(mp, stop)))
            ts.append(threading.Thread(target=schedule_client, args=(mp, stop)))
            for t in ts:
                t.start()
            time.sleep(random.uniform(0.2, 1.5))
            m.stop(signal.SIGKILL)
            counts["kills"] += 1
            stop.set()
            for t in ts:
                t.join(15)
                assert not t.is_alive(), "a client hung"
            procs.remove(m)
            rounds += 1
        m = start_master(procs, mp, wd, *flags)
        check(mp)
    finally:
        fa.close()
    print("  %d kills; acknowledged: %d weight updates, %d agent admissions, %d quota updates, %d schedules" %
          (counts["kills"], counts["weights"], counts["agents"], counts["quota"], counts["schedule"]))
    assert counts["kills"] >= 12
    assert os.path.exists(wd + "/registry/snapshot"), "the log was never compacted"
    assert counts["weights"] >= 300 and counts["agents"] >= 20, counts
    assert counts["quota"] >= 50 and counts["schedule"] >= 50, counts


# ==== Recovery ==============================================================

@test
def recovered_agents_reregister_or_become_unreachable(tmp, procs):
    mp = free_port()
    fa = FakeAgents()
    try:
        write_registry(tmp + "/m", admitted=[fa.info(1, "R-S1"), fa.info(2, "R-S2"), fa.info(3, "R-S3")],
                       weights=[("w", 2.0)], log_ops=[op_weights([("w", 3.0), ("v", 0.5)])])
        start_master(procs, mp, tmp + "/m", "--agent_reregister_timeout=3secs")
        assert {w["role"]: w["weight"] for w in get(mp, "GET_WEIGHTS")["weight_infos"]} == {"w": 3.0, "v": 0.5}
        ga = get(mp, "GET_AGENTS")
        assert sorted(a["id"]["value"] for a in ga["recovered_agents"]) == ["R-S1", "R-S2", "R-S3"], ga
        assert ga.get("agents", []) == []
        st = get(mp, "GET_STATE")
        assert len(st["get_agents"]["recovered_agents"]) == 3
        # One comes back with the same info (no registry write), one with a
        # changed one (the registry is updated first).
        name, _ = fa.reregister(mp, 1, "R-S1")
        assert name == "SlaveReregisteredMessage", name
        changed = fa.info(2, "R-S2")
        changed.hostname = "renamed"
        m = messages_pb2.ReregisterSlaveMessage()
        m.slave.CopyFrom(changed)
        m.version = "1.12.0"
        fa.send(mp, 2, m)
        assert fa.take(2, "SlaveReregisteredMessage", 5) is not None
        ga = get(mp, "GET_AGENTS")
        assert [a["id"]["value"] for a in ga["recovered_agents"]] == ["R-S3"], ga
        assert sorted(a["agent_info"]["id"]["value"] for a in ga["agents"]) == ["R-S1", "R-S2"]
        # The third never returns: unreachable after the timeout, and it stays so.
        assert wait_for(lambda: metric(mp, "master/slaves_unreachable") == 1.0, timeout=15), "never unreachable"
        assert get(mp, "GET_AGENTS").get("recovered_agents", []) == []
        assert metric(mp, "master/recovery_slave_removals") == 1.0
        procs[-1].stop(signal.SIGKILL)
        start_master(procs, mp, tmp + "/m", "--agent_reregister_timeout=3secs")
        ga = get(mp, "GET_AGENTS")
        rec = sorted((a["id"]["value"], a["hostname"]) for a in ga.get("recovered_agents", []))
        assert rec == [("R-S1", "fake1"), ("R-S2", "renamed")], rec
        assert metric(mp, "master/slaves_unreachable") == 1.0
        # The unreachable one may come back: it is marked reachable first.
        name, _ = fa.reregister(mp, 3, "R-S3")
        assert name == "SlaveReregisteredMessage", name
        assert wait_for(lambda: metric(mp, "master/slaves_unreachable") == 0.0)
    finally:
        fa.close()


@test
def gone_agent_is_shut_down(tmp, procs):
    mp = free_port()
    fa = FakeAgents()
    try:
        write_registry(tmp + "/m", gone=[("G-S1", 1700000000000000000)])
        start_master(procs, mp, tmp + "/m")
        name, body = fa.reregister(mp, 1, "G-S1")
        assert name == "ShutdownMessage", name
        sm = messages_pb2.ShutdownMessage()
        sm.ParseFromString(body)
        assert sm.message == "Agent has been marked gone", sm.message
        assert get(mp, "GET_AGENTS").get("agents", []) == []
        # A new agent is still welcome.
        assert fa.register(mp, 2, timeout=5)
    finally:
        fa.close()


@test
def damaged_registry_files(tmp, procs):
    mp = free_port()
    d = write_registry(tmp + "/m", weights=[("w", 2.0)], log_ops=[op_weights([("a", 1.5)]), op_weights([("b", 4.0)])])
    # A torn last record: the master starts without it, with a warning.
    with open(d + "/log", "r+b") as f:
        f.truncate(os.path.getsize(d + "/log") - 5)
    m = start_master(procs, mp, tmp + "/m")
    assert m.wait_log("torn write: truncating"), "no warning"
    assert {w["role"]: w["weight"] for w in get(mp, "GET_WEIGHTS")["weight_infos"]} == {"w": 2.0, "a": 1.5}
    m.stop()
    # A damaged snapshot: the master refuses to start, and says why.
    with open(d + "/snapshot", "r+b") as f:
        f.seek(40)
        b = f.read(1)
        f.seek(40)
        f.write(bytes([b[0] ^ 0x40]))
    m = start_master(procs, mp, tmp + "/m", expect_start=False)
    assert m.p.wait(15) == 1
    assert m.wait_log(r"registry snapshot .* is corrupt.*Refusing to start"), m.log[-3:]
    # Unsupported --registry values are refused as upstream does.
    r = subprocess.run([BIN, "master", "--port=%d" % free_port(), "--registry=zookeeper"], capture_output=True, timeout=10)
    assert r.returncode == 1 and b"'zookeeper' is not a supported option for registry persistence" in r.stderr, r.stderr
    # in_memory writes nothing under --work_dir.
    m = start_master(procs, mp, tmp + "/mem", "--registry=in_memory")
    status, _ = call(mp, {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "x", "weight": 2}]}})
    assert status == 200
    m.stop()
    assert not os.path.exists(tmp + "/mem/registry")


# ==== A running task across a master restart ================================

def send_message(to_port, to_id, msg, from_pid="master@127.0.0.1:1"):
    common.send_message(to_port, to_id, msg, from_pid)


@test
def running_task_survives_master_kill9(tmp, procs):
    mp = free_port()
    flags = ("--agent_ping_timeout=500ms", "--max_agent_ping_timeouts=4")
    m = start_master(procs, mp, tmp + "/m", *flags)
    ap = free_port()
    a = Proc("agent", "--ip=127.0.0.1", "--port=%d" % ap, "--master=127.0.0.1:%d" % mp,
             "--work_dir=%s" % (tmp + "/a"), "--resources=cpus:1;mem:128")
    procs.append(a)
    got = wait_for(lambda: get(mp, "GET_AGENTS")["agents"])
    assert got, "agent did not register"
    aid = got[0]["agent_info"]["id"]["value"]
    run = messages_pb2.RunTaskMessage()
    run.framework.user, run.framework.name = "root", "test"
    run.framework.id.value = "fw1"
    run.task.name = "sleeper"
    run.task.task_id.value = "t1"
    run.task.slave_id.value = aid
    run.task.command.value = "sleep 60"
    for name, value in (("cpus", 0.5), ("mem", 32)):
        r = run.task.resources.add()
        r.name, r.type, r.scalar.value = name, 0, value
    send_message(ap, "slave(1)", run)

    def in_state(state):
        return lambda: [t for t in get(mp, "GET_TASKS").get("tasks", []) if t["state"] == state]

    def ack_latest(task):
        st = task["statuses"][-1]
        a = messages_pb2.StatusUpdateAcknowledgementMessage()
        a.slave_id.value = task["agent_id"]["value"]
        a.framework_id.value = task["framework_id"]["value"]
        a.task_id.value = task["task_id"]["value"]
        a.uuid = base64.b64decode(st["uuid"])
        send_message(ap, "slave(1)", a)
    running = in_state("TASK_RUNNING")
    t = wait_for(in_state("TASK_STARTING"), timeout=20)
    assert t, "task never started"
    ack_latest(t[0])
    t = wait_for(running, timeout=20)
    assert t, "task never ran"
    ack_latest(t[0])
    m.stop(signal.SIGKILL)
    procs.remove(m)
    m = start_master(procs, mp, tmp + "/m", *flags)
    # The agent is known from the registry until it re-registers with its task.
    ga = get(mp, "GET_AGENTS")
    assert [x["id"]["value"] for x in ga.get("recovered_agents", [])] + \
        [x["agent_info"]["id"]["value"] for x in ga.get("agents", [])] == [aid], ga
    t = wait_for(running, timeout=20)
    assert t and t[0]["task_id"]["value"] == "t1" and t[0]["agent_id"]["value"] == aid, t
    ga = get(mp, "GET_AGENTS")
    assert ga.get("recovered_agents", []) == [] and ga["agents"][0]["agent_info"]["id"]["value"] == aid
    assert metric(mp, "master/slaves_unreachable") == 0.0
    k = messages_pb2.KillTaskMessage()
    k.framework_id.value = "fw1"
    k.task_id.value = "t1"
    send_message(ap, "slave(1)", k)
    # Leave no executor behind: the kill ends the task, its update is
    # acknowledged, and the executor exits before the agent is stopped.
    killed = wait_for(lambda: [t for t in get(mp, "GET_TASKS").get("completed_tasks", [])
                               if t["state"] == "TASK_KILLED"], timeout=20)
    assert killed and killed[0]["task_id"]["value"] == "t1", killed
    ack_latest(killed[0])
    ex = os.path.join(tmp, "a")
    assert wait_for(lambda: not [p for p in os.listdir("/proc") if p.isdigit() and
                                 _cwd_under(p, ex)], timeout=20), "the executor did not exit"


# ==== Operator state across a SIGKILL restart ===============================

def ok(port, body):
    status, resp = call(port, body)
    assert status == 200, (body["type"], status, resp)
    return resp


def restart(procs, port, wd, *flags):
    procs[-1].stop(signal.SIGKILL)
    procs.pop()
    return start_master(procs, port, wd, *flags)


@test
def quota_survives_restart(tmp, procs):
    mp = free_port()
    wd = tmp + "/m"
    start_master(procs, mp, wd)
    ok(mp, {"type": "UPDATE_QUOTA", "update_quota": {"force": True, "quota_configs": [
        {"role": "qa", "guarantees": {"cpus": {"value": 1.5}}, "limits": {"cpus": {"value": 2}, "mem": {"value": 100}}},
        {"role": "qc", "limits": {"disk": {"value": 7}}}]}})
    ok(mp, {"type": "SET_QUOTA", "set_quota": {"quota_request": {"role": "qb", "force": True, "guarantee": [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 3}}]}}})
    ok(mp, {"type": "REMOVE_QUOTA", "remove_quota": {"role": "qc"}})
    before, roles = get(mp, "GET_QUOTA"), get(mp, "GET_ROLES")
    configs = {c["role"]: c for c in before["status"]["configs"]}
    assert sorted(configs) == ["qa", "qb"], before
    assert configs["qa"]["limits"] == {"cpus": {"value": 2.0}, "mem": {"value": 100.0}}, configs
    assert configs["qb"]["guarantees"] == configs["qb"]["limits"] == {"cpus": {"value": 3.0}}, configs
    restart(procs, mp, wd)
    assert get(mp, "GET_QUOTA") == before, (get(mp, "GET_QUOTA"), before)
    assert get(mp, "GET_ROLES") == roles
    # Removal and an empty config are durable too.
    ok(mp, {"type": "UPDATE_QUOTA", "update_quota": {"force": True, "quota_configs": [{"role": "qa"}]}})
    ok(mp, {"type": "REMOVE_QUOTA", "remove_quota": {"role": "qb"}})
    restart(procs, mp, wd)
    assert get(mp, "GET_QUOTA") == {"status": {}}, get(mp, "GET_QUOTA")


@test
def schedule_and_down_machine_survive_restart(tmp, procs):
    mp = free_port()
    wd = tmp + "/m"
    fa = FakeAgents()
    try:
        start_master(procs, mp, wd)
        aid = fa.register(mp, 1, timeout=5)
        assert aid
        h1, h2, h3 = {"hostname": "h1", "ip": "10.0.0.1"}, {"hostname": "h2"}, {"ip": "10.0.0.3"}
        fk = {"hostname": "fake1", "ip": "127.0.0.1"}      # the fake agent's machine
        ok(mp, {"type": "UPDATE_MAINTENANCE_SCHEDULE", "update_maintenance_schedule": {"schedule": {"windows": [
            {"machine_ids": [h1, h2, fk],
             "unavailability": {"start": {"nanoseconds": 1000}, "duration": {"nanoseconds": 5}}},
            {"machine_ids": [h3], "unavailability": {"start": {"nanoseconds": 2000}}}]}}})
        ok(mp, {"type": "START_MAINTENANCE", "start_maintenance": {"machines": [h1, h3, fk]}})
        assert fa.take(1, "ShutdownMessage", 5) is not None
        assert wait_for(lambda: get(mp, "GET_AGENTS").get("agents", []) == []), get(mp, "GET_AGENTS")
        sched, status = get(mp, "GET_MAINTENANCE_SCHEDULE"), get(mp, "GET_MAINTENANCE_STATUS")
        assert sorted(x.get("hostname", x.get("ip")) for x in status["status"]["down_machines"]) == \
            ["10.0.0.3", "fake1", "h1"], status
        restart(procs, mp, wd)
        assert get(mp, "GET_MAINTENANCE_SCHEDULE") == sched, (get(mp, "GET_MAINTENANCE_SCHEDULE"), sched)
        assert get(mp, "GET_MAINTENANCE_STATUS") == status, (get(mp, "GET_MAINTENANCE_STATUS"), status)
        # Its agent left the registry with the machine: not recovered, and
        # refused while the machine is DOWN.
        assert get(mp, "GET_AGENTS").get("recovered_agents", []) == [], get(mp, "GET_AGENTS")
        assert fa.register(mp, 1, timeout=2) is None
        # A DOWN machine still cannot leave the schedule; STOP brings it UP
        # and out of the schedule, durably.
        code, text = call(mp, {"type": "UPDATE_MAINTENANCE_SCHEDULE", "update_maintenance_schedule": {
            "schedule": {"windows": [{"machine_ids": [h2], "unavailability": {"start": {"nanoseconds": 1}}}]}}})
        assert code == 400 and "cannot be removed from the schedule" in text, (code, text)
        ok(mp, {"type": "STOP_MAINTENANCE", "stop_maintenance": {"machines": [h3, fk]}})
        restart(procs, mp, wd)
        windows = get(mp, "GET_MAINTENANCE_SCHEDULE")["schedule"]["windows"]
        assert [w["machine_ids"] for w in windows] == [[h1, h2]], windows
        st = get(mp, "GET_MAINTENANCE_STATUS")["status"]
        assert st["down_machines"] == [h1], st
        assert [d["id"] for d in st["draining_machines"]] == [h2], st
        assert fa.register(mp, 1, timeout=5), "the agent's machine is UP again"
    finally:
        fa.close()


@test
def deactivated_and_draining_agents_survive_restart(tmp, procs):
    mp = free_port()
    wd = tmp + "/m"
    fa = FakeAgents()
    try:
        start_master(procs, mp, wd)
        a1 = fa.register(mp, 1, timeout=5, draining=True)
        a2 = fa.register(mp, 2, timeout=5, draining=True)
        a3 = fa.register(mp, 3, timeout=5, draining=True)
        assert a1 and a2 and a3
        ok(mp, {"type": "DEACTIVATE_AGENT", "deactivate_agent": {"agent_id": {"value": a1}}})
        ok(mp, {"type": "DEACTIVATE_AGENT", "deactivate_agent": {"agent_id": {"value": a3}}})
        ok(mp, {"type": "DRAIN_AGENT", "drain_agent": {"agent_id": {"value": a2},
                                                       "max_grace_period": {"seconds": 10}}})
        assert fa.take(2, "DrainSlaveMessage", 5) is not None

        def agents():
            return {a["agent_info"]["id"]["value"]: a for a in get(mp, "GET_AGENTS").get("agents", [])}
        # No tasks: DRAINED at once. A later acknowledged write makes sure
        # that change is on disk as well (the log is written in order).
        assert wait_for(lambda: agents()[a2].get("drain_info", {}).get("state") == "DRAINED"), agents()[a2]
        ok(mp, {"type": "REACTIVATE_AGENT", "reactivate_agent": {"agent_id": {"value": a3}}})
        before = {k: (v.get("deactivated", False), v.get("drain_info")) for k, v in agents().items()}
        assert before[a1] == (True, None) and before[a3] == (False, None), before
        assert before[a2] == (True, {"state": "DRAINED", "config": {
            "max_grace_period": {"nanoseconds": 10000000000}, "mark_gone": False}}), before[a2]
        restart(procs, mp, wd)
        assert sorted(a["id"]["value"] for a in get(mp, "GET_AGENTS")["recovered_agents"]) == sorted([a1, a2, a3])
        for n, aid in ((1, a1), (2, a2), (3, a3)):
            assert fa.reregister(mp, n, aid, draining=True)[0] == "SlaveReregisteredMessage"
        after = {k: (v.get("deactivated", False), v.get("drain_info")) for k, v in agents().items()}
        assert after == before, (after, before)
        # Reactivation is durable as well.
        ok(mp, {"type": "REACTIVATE_AGENT", "reactivate_agent": {"agent_id": {"value": a2}}})
        restart(procs, mp, wd)
        for n, aid in ((1, a1), (2, a2), (3, a3)):
            assert fa.reregister(mp, n, aid, draining=True)[0] == "SlaveReregisteredMessage"
        after = {k: (v.get("deactivated", False), v.get("drain_info")) for k, v in agents().items()}
        assert after == {a1: (True, None), a2: (False, None), a3: (False, None)}, after
    finally:
        fa.close()


print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
