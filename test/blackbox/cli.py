"""The command line: flag errors, --help and --version.

Like upstream mesos-master, an unknown flag or a value that does not parse
is an error that names the flag and exits 1 without serving anything;
--help exits 0 and lists the flags; --version prints the version (upstream
prints "mesos 1.12.0") and exits 0. Every run here is bounded by a timeout,
so a binary that starts serving instead of failing cannot hang the suite.
"""
import subprocess

import harness
from harness import check, eq, test


def run(*args, env=None):
    try:
        r = subprocess.run([harness.BIN] + list(args), capture_output=True, timeout=15,
                           env=harness.clean_env(env), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise harness.Failure("%s did not exit within 15 s" % " ".join(args))
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace")


@test(server=False)
def cli_unknown_flag_exits_1(srv=None):
    rc, out = run("master", "--ip=127.0.0.1", "--port=0", "--nope=1")
    eq(rc, 1, "exit status (output %r)" % out[:300])
    check("nope" in out, "the message does not name the flag: %r" % out[:300])


@test(server=False)
def cli_help_exits_0(srv=None):
    rc, out = run("master", "--help")
    eq(rc, 0, "exit status")
    check("--port" in out, "--help does not list --port: %r" % out[:300])
    for f in ("--ip", "--work_dir", "--logging_level", "--agent_ping_timeout"):
        check(f in out, "--help does not list %s" % f)


@test(server=False)
def cli_version(srv=None):
    for args in (("master", "--version"), ("--version",)):
        rc, out = run(*args)
        eq(rc, 0, "exit status of %s" % " ".join(args))
        check("1.12.0" in out, "%s printed %r" % (" ".join(args), out[:200]))


@test(server=False)
def cli_bad_values_exit_1(srv=None):
    for flag, name in (("--port=abc", "port"), ("--port", "port"), ("--logging_level=BOGUS", "logging_level"),
                       ("--allocation_interval=fast", "allocation_interval")):
        rc, out = run("master", "--ip=127.0.0.1", flag)
        eq(rc, 1, "exit status for %s (output %r)" % (flag, out[:300]))
        check(name in out, "the message for %s does not name %s: %r" % (flag, name, out[:300]))


@test(server=False)
def cli_port_in_use_exits_1(srv=None):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        rc, out = run("master", "--ip=127.0.0.1", "--port=%d" % s.getsockname()[1])
        check(rc != 0, "master started on a port that is in use (exit %s)" % rc)
    finally:
        s.close()
