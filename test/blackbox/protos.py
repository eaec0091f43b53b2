"""Python protobuf classes for the suite, generated from the repo's proto/.

At import, protoc compiles the repository's own proto/mesos/v1/... files
(the same wire definitions as upstream) into a temporary directory that is
put on sys.path and removed at exit. google/protobuf/duration.proto is not
generated: the generated code imports the system google.protobuf package
(python3-protobuf), which already carries it. Exposes `master_pb2`
(mesos.v1.master Call/Response) and `mesos_pb2`.
"""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FILES = ["mesos/v1/mesos.proto", "mesos/v1/master/master.proto",
         "mesos/v1/maintenance/maintenance.proto", "mesos/v1/quota/quota.proto",
         "mesos/v1/scheduler/scheduler.proto", "mesos/v1/allocator/allocator.proto"]

_tmp = tempfile.mkdtemp(prefix="mesos_api-bb-proto-")
atexit.register(shutil.rmtree, _tmp, True)
_r = subprocess.run(["protoc", "-I" + os.path.join(REPO, "proto"), "--python_out=" + _tmp] + FILES,
                    capture_output=True, timeout=60)
if _r.returncode != 0:
    raise RuntimeError("protoc failed: %s" % _r.stderr.decode(errors="replace"))
sys.path.insert(0, _tmp)

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
