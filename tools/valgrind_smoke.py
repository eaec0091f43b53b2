#!/usr/bin/python3
"""valgrind_smoke.py "VALGRIND CMD" BINARY -- run a master and an agent
under valgrind, drive every implemented call (JSON, protobuf via raw
bytes, gzip, errors), stop both with SIGTERM and require a clean exit:
valgrind's --error-exitcode turns any memory error or definite leak into a
failure. Ends with "N passed, N failed"."""
import shlex, signal, socket, subprocess, sys, tempfile, time

vg = shlex.split(sys.argv[1])
binary = sys.argv[2]
tmp = tempfile.mkdtemp(prefix="mesos_api-vg-")


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def post(port, body, ctype=b"application/json", extra=b""):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: " + ctype + b"\r\n" + extra +
              b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    d = b""
    while True:
        c = s.recv(65536)
        if not c: break
        d += c
    return int(d.split(b" ")[1])


mp, ap = free_port(), free_port()
m = subprocess.Popen(vg + [binary, "master", "--ip=127.0.0.1", "--port=%d" % mp, "--agent_ping_timeout=1secs"],
                     stderr=open(tmp + "/master.log", "w"))
a = subprocess.Popen(vg + [binary, "agent", "--ip=127.0.0.1", "--port=%d" % ap, "--master=127.0.0.1:%d" % mp,
                           "--work_dir=" + tmp + "/agent", "--resources=cpus:1;mem:64;ports:[1-2]"],
                     stderr=open(tmp + "/agent.log", "w"))
ok = True
codes = []
deadline = time.time() + 60
while time.time() < deadline:
    try:
        if post(mp, b'{"type":"GET_HEALTH"}') == 200:
            break
    except OSError:
        time.sleep(0.2)
time.sleep(3)  # let registration and a few pings happen under valgrind
for body in [b'{"type":"GET_HEALTH"}', b'{"type":"GET_FLAGS"}', b'{"type":"GET_VERSION"}',
             b'{"type":"GET_METRICS","get_metrics":{}}', b'{"type":"GET_LOGGING_LEVEL"}',
             b'{"type":"SET_LOGGING_LEVEL","set_logging_level":{"level":1,"duration":{"nanoseconds":10000000}}}',
             b'{"type":"GET_MASTER"}', b'{"type":"GET_AGENTS"}', b'{"type":1}', b'{bad', b'{"type":"GET_STATE"}']:
    codes.append(post(mp, body, extra=b"Accept-Encoding: gzip\r\n"))
codes.append(post(mp, b"\x08\x01", b"application/x-protobuf"))
codes.append(post(mp, b"\xff\xff", b"application/x-protobuf"))
want = [200, 200, 200, 200, 200, 200, 200, 200, 400, 400, 200, 200, 400]
passed = failed = 0
if codes == want:
    passed += 1; print("ok - calls under valgrind")
else:
    failed += 1; print("FAIL - calls under valgrind: %s != %s" % (codes, want))
for name, p in (("agent", a), ("master", m)):
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill(); rc = "timeout"
    if rc == 0:
        passed += 1; print("ok - %s exits clean under valgrind" % name)
    else:
        failed += 1; print("FAIL - %s exit %s under valgrind:" % (name, rc))
        sys.stdout.write(open(tmp + "/%s.log" % name).read()[-4000:])
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
