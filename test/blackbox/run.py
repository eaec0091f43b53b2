#!/usr/bin/python3
"""Black-box tests: the real mesos_api binary, spoken to over loopback.

Usage: /usr/bin/python3 test/blackbox/run.py ./mesos_api [NAME-SUBSTRING ...]

Starts `mesos_api master --ip=127.0.0.1 --port=0` (one shared master, plus
a master of its own for each test that needs particular flags or
environment), talks to it with a raw-socket HTTP client, and checks the
answers against the behaviour of real Mesos as OPERATOR_API.md and
CLIENT_NOTES.md describe it. The tests live in the modules imported below,
one per area: the operator calls (calls), the JSON mapping (jsonmap),
the /api/v1 transport rules
(transport), gzip (compression), HTTP/1.1 framing, limits and timeouts
(http11), many and greedy clients (scale), the command line (cli) and the
v0 endpoints (legacy). Arguments after the binary select tests whose name
contains one of them. Prints "ok - name" or "FAIL - name: reason" (with
the master's last stderr lines) per test and ends with "N passed, N
failed"; exits 1 if anything failed. Needs python3-protobuf and protoc;
every socket operation and every wait is bounded, so the whole run cannot
hang (about 20 s against a normal build).
"""
import os
import resource
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True    # no __pycache__ in the source tree

import harness  # noqa: E402

WATCHDOG = 170    # seconds for the whole run


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: %s <path-to-mesos_api> [name-substring ...]\n" % argv[0])
        return 2
    harness.BIN = os.path.abspath(argv[1])
    if not os.access(harness.BIN, os.X_OK):
        sys.stderr.write("%s is not an executable\n" % harness.BIN)
        return 2
    # 500 simultaneous connections need file descriptors on both sides
    # (the server inherits this limit).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    def out(line):
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    runner = harness.Runner(out)
    try:
        import protos  # noqa: F401 -- generates the protobuf classes (needs protoc)
        import calls, jsonmap, transport, compression, http11, scale, cli, legacy  # noqa: F401,E401
    except Exception as e:  # noqa: BLE001
        out("FAIL - setup: %s: %s" % (type(e).__name__, e))
        out("0 passed, 1 failed")
        return 1

    names = argv[2:]
    start = time.time()

    def watchdog(signum, frame):
        # Everything is bounded already; this is the last line of defence.
        for s in harness.SERVERS:
            if s.p.poll() is None:
                s.p.kill()
        out("FAIL - suite: still running after %d s, stopped in %s" % (WATCHDOG, frame.f_code.co_name))
        out("%d passed, %d failed" % (runner.passed, runner.failed + 1))
        os._exit(1)
    signal.signal(signal.SIGALRM, watchdog)
    signal.alarm(WATCHDOG)
    try:
        for name, fn, opts in harness.TESTS:
            if names and not any(n in name for n in names):
                continue
            runner.run(name, fn, opts)
    finally:
        runner.finish_shared()
    out("# %d tests in %.1f s" % (runner.passed + runner.failed, time.time() - start))
    out("%d passed, %d failed" % (runner.passed, runner.failed))
    return 1 if runner.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
