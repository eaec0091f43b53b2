"""Test registration, the server fixture and assertion helpers.

`@test` registers a function in file order. A test takes one argument, the
`Server` it talks to: by default a shared master started once with default
flags (cheap, and it also shows the server survives everything the earlier
tests threw at it); `@test(flags=[...], env={...})` gives the test its own
master with those flags, stopped afterwards with SIGTERM, and the test
fails unless that exit status is 0 (under ASan a leak report makes it
non-zero); `@test(server=False)` runs without one (the CLI tests). After a
test on the shared master, the master must still be running; if it died,
that test fails with its stderr and the next test gets a fresh one.

`Server` starts `<bin> master --ip=127.0.0.1 --port=0 ...`, reads stderr in
a background thread (kept for diagnostics, printed under a failure) and
takes the port from the glog line "... started on 127.0.0.1:<PORT>".
Assertions raise `Failure` with both values in the message (`eq`), so a
failing line says what was expected and what came back.
"""
import os
import re
import signal
import socket
import subprocess
import threading
import time
import traceback

BIN = None              # set by run.py
TESTS = []              # (name, fn, options) in registration order
SERVERS = []            # every Server started, for the watchdog
START_TIMEOUT = 20.0    # an ASan build under load can be slow to start
STOP_TIMEOUT = 5.0


class Failure(Exception):
    pass


def check(cond, msg="check failed"):
    if not cond:
        raise Failure(msg)


def eq(got, want, what="value"):
    if got != want:
        raise Failure("%s: expected %r, got %r" % (what, want, got))


def test(fn=None, *, flags=None, env=None, server=True, port=None):
    """Register a test. See the module docstring for the options."""
    def reg(f):
        TESTS.append((f.__name__, f, dict(flags=flags, env=env, server=server, port=port)))
        return f
    return reg(fn) if fn is not None else reg


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def clean_env(extra=None):
    """The caller's environment without MESOS_* (so the flags under test are
    only the ones a test sets), plus `extra`."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("MESOS_")}
    e.update(extra or {})
    return e


class Server:
    """A `mesos_api master` process on 127.0.0.1."""

    def __init__(self, flags=(), env=None, port=0):
        self.args = [BIN, "master", "--ip=127.0.0.1", "--port=%d" % port] + list(flags)
        self.log = []
        self.port = None
        self._started = threading.Event()
        self.p = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=clean_env(env))
        SERVERS.append(self)
        self._threads = [threading.Thread(target=self._drain, args=(self.p.stderr, "2"), daemon=True),
                         threading.Thread(target=self._drain, args=(self.p.stdout, "1"), daemon=True)]
        for t in self._threads:
            t.start()
        deadline = time.time() + START_TIMEOUT
        while not self._started.wait(0.05):
            if port and self._connectable(port):
                # With --logging_level=WARNING there is no "started on" line.
                self.port = port
                break
            if self.p.poll() is not None or time.time() > deadline:
                time.sleep(0.1)   # let the drain threads catch the last lines
                self.stop(signal.SIGKILL)
                raise Failure("master did not start (exit %s): %s" %
                              (self.p.returncode, " | ".join(l.strip() for l in self.log[-10:])))

    @staticmethod
    def _connectable(port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    def _drain(self, f, which):
        for line in iter(f.readline, b""):
            text = line.decode("utf-8", errors="replace")
            self.log.append(text if which == "2" else "[stdout] " + text)
            if which == "2" and self.port is None:
                m = re.search(r"started on 127\.0\.0\.1:(\d+)", text)
                if m:
                    self.port = int(m.group(1))
                    self._started.set()
        f.close()

    def alive(self):
        return self.p.poll() is None

    def stop(self, sig=signal.SIGTERM):
        """Signal the process and wait for it (SIGKILL after STOP_TIMEOUT).
        Returns the exit status (negative for a signal)."""
        if self.p.poll() is None:
            try:
                self.p.send_signal(sig)
                self.p.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.log.append("[harness] no exit %gs after signal %d: killed\n" % (STOP_TIMEOUT, sig))
                self.p.kill()
                self.p.wait()
        for t in self._threads:
            t.join(2)
        return self.p.returncode

    def wait_log(self, pattern, timeout=5.0):
        end = time.time() + timeout
        while time.time() < end:
            for line in list(self.log):
                if re.search(pattern, line):
                    return line
            time.sleep(0.02)
        return None

    def tail(self, n=25):
        return self.log[-n:]


def start_server(flags=(), env=None, port=None):
    """Start a master; an explicit `port` of None means --port=0. A fixed
    port that turns out to be taken is retried once with another."""
    if port is None:
        return Server(flags, env, 0)
    try:
        return Server(flags, env, port)
    except Failure:
        return Server(flags, env, free_port())


class Runner:
    def __init__(self, out):
        self.out = out
        self.passed = self.failed = 0
        self.shared = None

    def _shared(self):
        if self.shared is None or not self.shared.alive():
            self.shared = start_server()
        return self.shared

    def _report(self, name, err, servers):
        self.failed += 1
        self.out("FAIL - %s: %s" % (name, err))
        for s in servers:
            if s is None:
                continue
            self.out("  # %s (exit %s), last stderr:" % (" ".join(s.args[1:]), s.p.returncode))
            for line in s.tail():
                self.out("  #   " + line.rstrip("\n"))

    def run(self, name, fn, opts):
        srv, own = None, False
        try:
            if opts["server"] is False:
                fn()
            elif opts["flags"] is None and opts["env"] is None and opts["port"] is None:
                srv = self._shared()
                fn(srv)
                if not srv.alive():
                    raise Failure("the shared master died (exit %s)" % srv.p.returncode)
            else:
                own = True
                port = free_port() if opts["port"] == "fixed" else None
                srv = start_server(opts["flags"] or (), opts["env"], port)
                fn(srv)
                rc = srv.stop()
                if rc != 0:
                    raise Failure("master exited %s after SIGTERM" % rc)
        except Failure as e:
            self._report(name, e, [srv])
        except Exception as e:  # noqa: BLE001 -- any error is a test failure
            tb = traceback.extract_tb(e.__traceback__)
            where = next((f for f in reversed(tb) if f.filename != __file__), tb[-1])
            self._report(name, "%s: %s (%s:%d)" % (type(e).__name__, e,
                                                    os.path.basename(where.filename), where.lineno), [srv])
        else:
            self.passed += 1
            self.out("ok - %s" % name)
        finally:
            if own and srv is not None:
                srv.stop(signal.SIGKILL)

    def finish_shared(self):
        """The shared master's clean exit is a test of its own."""
        name = "shared_master_exits_0_on_sigterm"
        if self.shared is None:
            return
        rc = self.shared.stop()
        if rc == 0:
            self.passed += 1
            self.out("ok - %s" % name)
        else:
            self._report(name, "exit status %s" % rc, [self.shared])
