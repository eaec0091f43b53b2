#!/usr/bin/python3
"""bench/run.py -- run every benchmark, print one table, write BENCHMARKS.md.

Called by `make bench` (after the tools are built). Each part runs one of
the C tools in bench/ (or wrk and nginx, installed from Debian packages when
missing) and the figures are gathered into one Markdown table, printed and
written to BENCHMARKS.md at the top of the tree together with the machine
description and the command that reproduces them.

    bench/run.py [--quick] [--only=1,3] [--out=BENCHMARKS.md]

--quick skips the 20000 and 40000 agent state queries (the two big runs);
--only runs some parts (the others are left out of the table).
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.path.join(ROOT, "mesos_api")
ENV = dict(os.environ, MESOS_API=BIN)

args = sys.argv[1:]
QUICK = "--quick" in args
ONLY = None
OUT = os.path.join(ROOT, "BENCHMARKS.md")
for a in args:
    if a.startswith("--only="):
        ONLY = {int(x) for x in a[7:].split(",")}
    elif a.startswith("--out="):
        OUT = a[6:]

rows = []       # (part, measure, value, target/reference, verdict)
notes = []


def want(part):
    return ONLY is None or part in ONLY


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def run_tool(argv, timeout):
    """Run a tool, return its "key value" lines as a dict (and the raw text)."""
    log(" ".join(argv))
    # Its own process group: on a timeout the tool and the processes it
    # started go together.
    p = subprocess.Popen(argv, cwd=HERE, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        stdout, stderr = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        stdout, stderr = p.communicate()
        stderr += "\nbench: timed out after %d s" % timeout
    p = subprocess.CompletedProcess(argv, p.returncode, stdout, stderr)
    kv = {}
    for line in p.stdout.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2:
            kv[parts[0]] = parts[1].strip()
    return p.returncode, kv, p.stdout + p.stderr


def add(part, measure, value, target="", ok=None):
    verdict = "" if ok is None else ("met" if ok else "missed")
    rows.append((part, measure, value, target, verdict))


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def machine():
    model, cores = "?", 0
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                cores += 1
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1048576)
    u = os.uname()
    return "%s, %d cores, %s RAM; %s %s %s" % (model, cores, mem, u.sysname, u.release, u.machine)


def apt_install(pkgs):
    missing = [p for p, cmd in pkgs if shutil.which(cmd) is None]
    if not missing:
        return True
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        log("missing %s; run: apt-get install %s" % (" ".join(missing), " ".join(missing)))
        return False
    log("installing %s" % " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(["apt-get", "install", "-y", "-qq"] + missing, env=env, capture_output=True)
    if r.returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
        r = subprocess.run(["apt-get", "install", "-y", "-qq"] + missing, env=env, capture_output=True)
    return r.returncode == 0


def start_master(extra=(), port=None):
    """A master on 127.0.0.1: on `port`, or on a free one read from its log."""
    d = tempfile.mkdtemp(prefix="mesos_api-bench-")
    logf = open(os.path.join(d, "log"), "w")
    p = subprocess.Popen([BIN, "master", "--ip=127.0.0.1", "--port=%d" % (port or 0), "--work_dir=" + d] +
                         list(extra), stderr=logf, stdout=subprocess.DEVNULL)
    if port:
        return p, port, d
    for _ in range(4000):
        with open(os.path.join(d, "log")) as f:
            m = re.search(r"started on 127\.0\.0\.1:(\d+)", f.read())
        if m:
            return p, int(m.group(1)), d
        time.sleep(0.005)
    raise RuntimeError("master did not start")


def stop(p, d=None):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    if d:
        shutil.rmtree(d, ignore_errors=True)


def post(port, body, ctype="application/json"):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(("POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
               % (ctype, len(body))).encode() + body)
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, rest = data.split(b"\r\n\r\n", 1)
    n = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    while len(rest) < n:
        rest += s.recv(65536)
    s.close()
    return head, rest[:n]


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return -1


started = time.time()
load_start = loadavg()

# ---- 1. State query (MasterStateQuery_BENCHMARK_Test) ------------------------
if want(1):
    configs = [1000, 10000] + ([] if QUICK else [20000, 40000])
    for agents in configs:
        cfg = "%dx5x2x5x2" % agents
        rc, kv, out = run_tool(["./state_query", "--requests=5", str(agents), "5", "2", "5", "2"], 1800)
        if rc != 0 or "protobuf_median_ms" not in kv:
            add(1, "GET_STATE " + cfg, "failed: " + out.strip().splitlines()[-1] if out.strip() else "failed")
            continue
        big = agents == 10000
        for f, name, target in (("json", "JSON", 300), ("json_gzip", "JSON+gzip", None), ("protobuf", "protobuf", 150)):
            val = "%s / %s / %s ms, %s bytes" % (kv[f + "_min_ms"], kv[f + "_median_ms"], kv[f + "_max_ms"],
                                                 kv[f + "_bytes"])
            if big and target:
                add(1, "GET_STATE %s %s (min/median/max)" % (cfg, name), val, "< %d ms" % target,
                    float(kv[f + "_median_ms"]) < target)
            else:
                add(1, "GET_STATE %s %s (min/median/max)" % (cfg, name), val)
        tasks = int(kv["running_tasks"])
        delta = (int(kv["master_rss_kb"]) - int(kv["master_idle_rss_kb"])) * 1024
        per_task = delta / tasks if tasks else 0
        beyond = (delta - int(kv["protobuf_bytes"])) / tasks if tasks else 0
        add(1, "master RSS %s (loaded / peak while serving)" % cfg,
            "%.1f MB / %.1f MB" % (int(kv["master_rss_kb"]) / 1024, int(kv["master_peak_rss_kb"]) / 1024))
        add(1, "master memory per running task %s (beyond the encoded state)" % cfg,
            "%.0f B (%.0f B)" % (per_task, beyond), "< 1 KB beyond", beyond < 1024)
        add(1, "register the cluster %s (master CPU)" % cfg,
            "%s s (%s s)" % (kv["register_s"], kv.get("register_master_cpu_s", "?")))
        add(1, "kept from re-registration %s: tasks / completed tasks / frameworks / agents" % cfg,
            "%s / %s / %s / %s" % (kv["state_tasks"], kv["state_completed_tasks"], kv["state_frameworks"],
                                   kv["state_agents"]))

    # After a network partition: the 10000-agent cluster goes unreachable and
    # every agent re-registers with its tasks.
    rc, kv, out = run_tool(["./state_query", "--partition", "10000", "5", "2", "5", "2"], 900)
    if rc == 0 and "partition_reregister_s" in kv:
        add(1, "10000x5x2x5x2 back from unreachable: re-register every agent (master CPU)",
            "%s s (%s s); all unreachable after %s s without pongs" % (
                kv["partition_reregister_s"], kv.get("partition_master_cpu_s", "?"), kv["partition_unreachable_s"]))
    else:
        add(1, "10000x5x2x5x2 back from unreachable", "failed: " + (out.strip().splitlines() or ["?"])[-1])

# ---- 2. Parallel state serving (Mesos 1.7) -----------------------------------
if want(2):
    rc, kv, out = run_tool(["./state_query", "--clients=1,2,4,8,16", "--polls=50", "100", "10", "10", "10", "10"],
                           1800)
    for c in (1, 2, 4, 8, 16):
        k = "parallel_%d_mean_ms" % c
        if k in kv:
            add(2, "GET_STATE 100x10x10x10x10 JSON, %d client%s x 50 (mean / p99)" % (c, "s" if c > 1 else ""),
                "%s / %s ms (%s req/s)" % (kv[k], kv["parallel_%d_p99_ms" % c], kv["parallel_%d_rps" % c]))
        else:
            add(2, "GET_STATE parallel, %d clients" % c, "failed")

# ---- 3. Small calls vs nginx --------------------------------------------------
WRK_LUA = """wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"
"""


def cpu_secs(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url, body, tmp, pid=None):
    """req/s, p99 ms, the command, and the server's CPU per request in us
    (utime + stime of `pid` over the run / requests): steadier than req/s
    on a machine shared with other work."""
    c0 = cpu_secs(pid) if pid else 0
    script = os.path.join(tmp, "post.lua")
    with open(script, "w") as f:
        f.write(WRK_LUA % body)
    cmd = ["wrk", "-t1", "-c32", "-d5s", "--latency", "-s", script, url]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", r.stdout).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)", r.stdout, re.M)
    p99 = float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
    if errs:
        raise RuntimeError("wrk got %s non-2xx answers from %s" % (errs.group(1), url))
    n = int(re.search(r"(\d+) requests in", r.stdout).group(1))
    cpu_us = (cpu_secs(pid) - c0) / n * 1e6 if pid and n else 0
    return rps, p99, " ".join(cmd[:-3]), cpu_us


if want(3):
    if not apt_install([("wrk", "wrk"), ("nginx-light", "nginx")]):
        add(3, "small calls vs nginx", "skipped: wrk/nginx missing")
    else:
        tmp = tempfile.mkdtemp(prefix="mesos_api-wrk-")
        m, port, d = start_master()
        bodies = {}
        for call in ("GET_HEALTH", "GET_VERSION"):
            bodies[call] = post(port, b'{"type":"%s"}' % call.encode())[1].decode()
        nport = free_port()
        conf = os.path.join(tmp, "nginx.conf")
        locs = "".join("        location = /%s { default_type application/json; return 200 '%s'; }\n"
                       % (c.lower(), b.replace("'", "\\'")) for c, b in bodies.items())
        with open(conf, "w") as f:
            f.write("worker_processes 1;\ndaemon off;\nmaster_process off;\npid %s/nginx.pid;\n"
                    "error_log %s/error.log;\nevents { worker_connections 1024; }\n"
                    "http {\n    access_log off;\n    server_tokens off;\n    keepalive_requests 1000000;\n"
                    "    client_body_temp_path %s;\n    proxy_temp_path %s;\n    fastcgi_temp_path %s;\n"
                    "    uwsgi_temp_path %s;\n    scgi_temp_path %s;\n"
                    "    server {\n        listen 127.0.0.1:%d;\n%s    }\n}\n"
                    % (tmp, tmp, tmp, tmp, tmp, tmp, tmp, nport, locs))
        ng = subprocess.Popen(["nginx", "-c", conf, "-p", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", nport), timeout=1).close()
                break
            except OSError:
                time.sleep(0.01)
        try:
            for call, body in bodies.items():
                req = '{"type":"%s"}' % call
                mr, mp, cmd, mc = wrk("http://127.0.0.1:%d/api/v1" % port, req, tmp, m.pid)
                nr, np_, _, nc = wrk("http://127.0.0.1:%d/%s" % (nport, call.lower()), req, tmp, ng.pid)
                ratio = mr / nr
                add(3, "%s (%d-byte JSON answer): mesos_api vs nginx req/s" % (call, len(body)),
                    "%.0f vs %.0f = %.0f %%" % (mr, nr, ratio * 100), ">= 80 % of nginx", ratio >= 0.8)
                add(3, "%s p99 latency: mesos_api vs nginx" % call, "%.2f ms vs %.2f ms" % (mp, np_))
                add(3, "%s server CPU per request (user+sys): mesos_api vs nginx" % call,
                    "%.1f us vs %.1f us" % (mc, nc))
            notes.append("Small calls: `%s` (1 wrk thread, 32 keep-alive connections, 5 s, POST via a Lua "
                         "script) against mesos_api and against nginx (1 worker: mesos_api is one thread too) "
                         "serving the same bytes with `return 200` from a temporary config." % cmd)
        finally:
            ng.send_signal(signal.SIGQUIT)
            try:
                ng.wait(10)
            except subprocess.TimeoutExpired:
                ng.kill()
            stop(m, d)
            shutil.rmtree(tmp, ignore_errors=True)

# ---- 4. Event fan-out --------------------------------------------------------
if want(4):
    rc, kv, out = run_tool(["./fanout", "--subscribers=1,100,1000", "--events=200"], 900)
    if rc == 3:
        add(4, "event fan-out to 1 / 100 / 1000 subscribers", "pending (no operator SUBSCRIBE stream yet)",
            "1000: < 50 ms p99")
    elif rc != 0:
        add(4, "event fan-out", "failed: " + out.strip().splitlines()[-1])
    else:
        for n in (1, 100, 1000):
            k = "fanout_%d_p50_ms" % n
            if k in kv:
                p99 = float(kv["fanout_%d_p99_ms" % n])
                add(4, "TASK_UPDATED to %d subscriber%s (p50 / p99; master CPU per event)" % (n, "s" if n > 1 else ""),
                    "%s / %.2f ms; %s us" % (kv[k], p99, kv["fanout_%d_cpu_us_per_event" % n]),
                    "< 50 ms p99" if n == 1000 else "", p99 < 50 if n == 1000 else None)

# ---- 5. Task launches and the allocator -----------------------------------------
if want(5):
    rc, kv, out = run_tool(["./launch", "--tasks=10000", "--agents=10", "--window=500"], 900)
    if "launches_per_s" in kv:
        add(5, "launch 10,000 `true` tasks on 10 agents (ACCEPT -> TASK_FINISHED)",
            "%s tasks/s; %s finished, %s failed; task latency p50 %s ms, p99 %s ms" %
            (kv["launches_per_s"], kv["finished"], kv["failed"], kv["task_latency_p50_ms"], kv["task_latency_p99_ms"]),
            ">= 2000/s", float(kv["launches_per_s"]) >= 2000)
    else:
        add(5, "launch 10,000 tasks", "failed: " + (out.strip().splitlines() or ["?"])[-1])
    # The same, with the window spread over the agents' offers (at most
    # 50 tasks per offer), as a scheduler placing work evenly would.
    rc, kv, out = run_tool(["./launch", "--tasks=10000", "--agents=10", "--window=500", "--spread"], 900)
    if "launches_per_s" in kv:
        add(5, "the same, at most 50 tasks per offer (`--spread`)",
            "%s tasks/s; %s finished, %s failed; task latency p50 %s ms, p99 %s ms" %
            (kv["launches_per_s"], kv["finished"], kv["failed"], kv["task_latency_p50_ms"], kv["task_latency_p99_ms"]))
    for agents in (1000, 10000):
        rc, kv, out = run_tool(["./state_query", "--frameworks=100", "--seconds=5", str(agents), "0", "0", "0", "0"],
                               900)
        vals = {k: v for k, v in kv.items() if k.startswith("allocator/mesos/allocation_run_ms")}
        if vals:
            add(5, "allocator cycle, %d agents, 100 frameworks (allocation_run_ms)" % agents,
                ", ".join("%s %s" % (k.split("allocation_run_ms")[1] or "last", v) for k, v in sorted(vals.items())))
        else:
            add(5, "allocator cycle, %d agents, 100 frameworks" % agents,
                "pending (no allocator/mesos/allocation_run_ms metric yet)")

    # The allocator alone (bench/allocator_bench.c): cycles over simulated
    # agents with 100 connected frameworks, no HTTP or wire in the way.
    rc, kv, out = run_tool([os.path.join(ROOT, "build", "bench", "allocator_bench")], 900)
    for line in out.splitlines():
        if line.startswith("allocator:"):
            what, _, figures = line[len("allocator:"):].partition(":")
            add(5, "allocator cycle alone, %s (cold / steady / 10%% of offers back)" % what.strip(), figures.strip())

# ---- 7. Registry ----------------------------------------------------------------
if want(7):
    rc, kv, out = run_tool([os.path.join(ROOT, "build", "bench", "registry_bench")], 900)
    for line in out.splitlines():
        line = line.strip()
        if "clients:" in line:
            clients, _, figures = line.partition("clients:")
            add(7, "registry writes with group commit, %s clients" % clients.strip(), " ".join(figures.split()))
        elif line.startswith("recovery of"):
            what, _, figures = line.partition(":")
            add(7, what, figures.strip())

# ---- 6. Footprint -------------------------------------------------------------
if want(6):
    tmp = tempfile.mkdtemp(prefix="mesos_api-size-")
    stripped = os.path.join(tmp, "stripped")
    subprocess.run(["strip", "-o", stripped, BIN], check=True)
    size = os.path.getsize(stripped)
    add(6, "static binary, stripped", "%d bytes (%.2f MB)" % (size, size / 1e6), "<= 1.5 MB", size <= 1.5e6)
    ups = []
    for _ in range(5):
        port = free_port()
        t0 = time.perf_counter()
        m, port, d = start_master(port=port)
        for _ in range(10000):
            try:
                post(port, b'{"type":"GET_HEALTH"}')
                break
            except OSError:
                time.sleep(0.0002)
        ups.append((time.perf_counter() - t0) * 1e3)
        stop(m, d)
    ups.sort()
    add(6, "start-up to the first answered GET_HEALTH (median of 5)", "%.1f ms" % ups[2])
    m, port, d = start_master()
    aport = free_port()
    alog = open(os.path.join(tmp, "agent.log"), "w")
    a = subprocess.Popen([BIN, "agent", "--ip=127.0.0.1", "--port=%d" % aport, "--master=127.0.0.1:%d" % port,
                          "--work_dir=" + os.path.join(tmp, "agent"), "--resources=cpus:1;mem:256"],
                         stderr=alog, stdout=subprocess.DEVNULL)
    time.sleep(2)
    mr, ar = rss_kb(m.pid), rss_kb(a.pid)
    stop(a)
    stop(m, d)
    add(6, "idle RSS: master / agent (one agent registered)", "%d KB / %d KB" % (mr, ar), "<= 4 MB",
        mr <= 4096 and ar <= 4096)
    shutil.rmtree(tmp, ignore_errors=True)

# ---- the table ------------------------------------------------------------------
load_end = loadavg()
elapsed = time.time() - started
PARTS = {1: "1. State query (MasterStateQuery_BENCHMARK_Test)", 2: "2. Parallel GET_STATE (Mesos 1.7)",
         3: "3. Small calls vs nginx", 4: "4. Event fan-out", 5: "5. Task launches, allocator",
         6: "6. Footprint", 7: "7. Registry"}
table = ["| Part | Measure | Value | Target | |", "|---|---|---|---|---|"]
for part, measure, value, target, verdict in sorted(rows, key=lambda r: r[0]):
    table.append("| %d | %s | %s | %s | %s |" % (part, measure, value, target, verdict))
cmd = "make bench" + ("" if len(args) == 0 else "  (bench/run.py %s)" % " ".join(args))
loaded = float(load_start) > 0.5 or float(load_end) > 2.5
text = []
text.append("Machine: %s." % machine())
text.append("Load average (1 min) at start / end: %s / %s%s." %
            (load_start, load_end, " -- **figures from a loaded machine**" if loaded else ""))
text.append("Run: %s, %s, took %.0f s." % (cmd, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), elapsed))
try:
    sha = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    text.append("Commit: %s." % sha)
except OSError:
    pass
report = "\n".join(text) + "\n\n" + "\n".join(table) + "\n"
if notes:
    report += "\n" + "\n".join("- " + n for n in notes) + "\n"
print(report)

begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
block = begin + "\n" + report + end
if os.path.exists(OUT):
    old = open(OUT).read()
    if begin in old and end in old:
        new = old[:old.index(begin)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
else:
    new = "# Benchmarks\n\n" + block + "\n"
with open(OUT, "w") as f:
    f.write(new)
log("wrote %s" % OUT)
