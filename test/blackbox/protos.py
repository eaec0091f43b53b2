"""Python protobuf classes for the suite, generated at import time.

The wire definitions come, by preference, from the unmodified upstream
files in the shared reference (<repo>/../shared/reference/mesos-v1-proto,
laid out as mesos.proto, master/master.proto, ...), so the tests do not
share any mistake the project's own proto/ copy might carry. The reference
is not laid out like its import paths (mesos/v1/...), so a temporary
include tree maps `mesos/v1` and `google` onto it with symlinks. When the
shared directory is missing (a lone clone), the repository's own proto/
(already laid out as proto/mesos/v1/... and proto/google/protobuf/...) is
compiled instead. `SOURCE` says which one was used.

protoc writes the Python modules into a second temporary directory, the
only one put on sys.path; google/protobuf/duration.proto is on the include
path but not generated, so the generated code imports the system
google.protobuf package (python3-protobuf), which already carries it and
is not shadowed. Both directories are removed at exit. Exposes
`master_pb2` (mesos.v1.master Call/Response) and `mesos_pb2`.
"""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.path.normpath(os.path.join(REPO, "..", "shared", "reference", "mesos-v1-proto"))
FILES = ["mesos/v1/mesos.proto", "mesos/v1/master/master.proto",
         "mesos/v1/maintenance/maintenance.proto", "mesos/v1/quota/quota.proto",
         "mesos/v1/scheduler/scheduler.proto", "mesos/v1/allocator/allocator.proto"]


def _include_dir(tmp):
    """The -I directory for protoc: a symlink tree over the shared reference,
    or the repository's proto/."""
    if os.path.isfile(os.path.join(SHARED, "master", "master.proto")):
        inc = os.path.join(tmp, "include")
        os.makedirs(os.path.join(inc, "mesos"))
        os.symlink(SHARED, os.path.join(inc, "mesos", "v1"))
        os.symlink(os.path.join(SHARED, "google"), os.path.join(inc, "google"))
        return inc, SHARED
    own = os.path.join(REPO, "proto")
    return own, own


_tmp = tempfile.mkdtemp(prefix="mesos_api-bb-proto-")
atexit.register(shutil.rmtree, _tmp, True)
_out = os.path.join(_tmp, "py")
os.makedirs(_out)
_inc, SOURCE = _include_dir(_tmp)
try:
    _r = subprocess.run(["protoc", "-I" + _inc, "--python_out=" + _out] + FILES,
                        capture_output=True, timeout=60)
except FileNotFoundError:
    raise RuntimeError("protoc not found (install protobuf-compiler)")
if _r.returncode != 0:
    raise RuntimeError("protoc failed on %s: %s" % (SOURCE, _r.stderr.decode(errors="replace")))
sys.path.insert(0, _out)

from mesos.v1 import mesos_pb2  # noqa: E402
from mesos.v1.master import master_pb2  # noqa: E402

Call = master_pb2.Call
Response = master_pb2.Response


def call_bytes(type_name, partial=False, **sub):
    """Serialize a Call of `type_name`; `sub` fills its sub-message, e.g.
    call_bytes("SET_LOGGING_LEVEL", set_logging_level=dict(level=1, duration=...))."""
    c = Call(type=Call.Type.Value(type_name))
    for field, value in sub.items():
        _fill(getattr(c, field), value)
        getattr(c, field).SetInParent()
    return c.SerializePartialToString() if partial else c.SerializeToString()


def _fill(msg, d):
    for k, v in d.items():
        if isinstance(v, dict):
            _fill(getattr(msg, k), v)
            getattr(msg, k).SetInParent()
        else:
            setattr(msg, k, v)


def parse_response(data):
    r = Response()
    r.ParseFromString(data)
    return r
