"""Mesos' JSON mapping, seen from outside (OPERATOR_API.md 4.1, 4.2).

Input (stout's protobuf::parse): numbers given as strings, fractions cast
to integers, wrong JSON kinds named in the error, unparsable numeric
strings, the last of duplicate keys winning, null meaning unset, the
nesting limit of 200 and NaN being rejected. Output (rapidjson): compact,
strings escaped minimally (quote, backslash, control characters as
\\u00XX; not "/" and not UTF-8), 64-bit integers exact. The level-changing
calls run on a master of their own.
"""
import client as C
from harness import check, eq, test

CONV = "Failed to convert JSON into Call protobuf: "


def set_level(port, sll):
    return C.post(port, {"type": "SET_LOGGING_LEVEL", "set_logging_level": sll})


def level(port):
    return C.call(port, {"type": "GET_LOGGING_LEVEL"})["get_logging_level"]["level"]


@test(flags=[])
def json_numbers_as_strings(srv):
    r = set_level(srv.port, {"level": "2", "duration": {"nanoseconds": "60000000000"}})
    eq((r.status, r.body), (200, b""), "answer")
    eq(level(srv.port), 2, "level")


@test(flags=[])
def json_fraction_cast_to_integer(srv):
    r = set_level(srv.port, {"level": 3.9, "duration": {"nanoseconds": 60e9}})
    eq((r.status, r.body), (200, b""), "answer")
    eq(level(srv.port), 3, "level given as 3.9")


@test(flags=[])
def json_int64_max_duration(srv):
    r = C.post(srv.port, b'{"type":"SET_LOGGING_LEVEL","set_logging_level":{"level":1,'
                         b'"duration":{"nanoseconds":9223372036854775807}}}')
    eq((r.status, r.body), (200, b""), "answer")
    eq(level(srv.port), 1, "level")


@test
def json_wrong_kinds(srv):
    for sll, msg in (({"level": True, "duration": {"nanoseconds": 1}}, "Not expecting a JSON boolean for field 'level'"),
                     ({"level": [1], "duration": {"nanoseconds": 1}}, "Not expecting a JSON array for field 'level'"),
                     ({"level": {}, "duration": {"nanoseconds": 1}}, "Not expecting a JSON object for field 'level'"),
                     ({"level": 1, "duration": 5}, "Not expecting a JSON number for field 'duration'"),
                     ({"level": 1, "duration": "5secs"}, "Not expecting a JSON string for field 'duration'")):
        r = set_level(srv.port, sll)
        eq((r.status, r.text), (400, CONV + msg), "answer for %r" % sll)
    r = C.post(srv.port, {"type": "GET_METRICS", "get_metrics": "x"})
    eq((r.status, r.text), (400, CONV + "Not expecting a JSON string for field 'get_metrics'"), "get_metrics as string")
    eq(level(srv.port), 0, "level after rejected calls")


@test
def json_bad_numeric_string(srv):
    r = set_level(srv.port, {"level": "abc", "duration": {"nanoseconds": 1}})
    eq(r.status, 400, "status")
    check(r.text.startswith(CONV + "Failed to parse 'abc' as a JSON number for field 'level'"), "body %r" % r.text)


@test
def json_null_means_unset(srv):
    r = set_level(srv.port, {"level": None, "duration": {"nanoseconds": 1}})
    eq((r.status, r.text), (400, CONV + "Missing required fields: set_logging_level.level"), "level null")
    r = C.post(srv.port, {"type": "GET_METRICS", "get_metrics": None})
    eq((r.status, r.text), (400, "Failed to validate master::Call: Expecting 'get_metrics' to be present"),
       "get_metrics null")


@test
def json_duplicate_keys_last_wins(srv):
    r = C.post(srv.port, b'{"type":"GET_HEALTH","type":"GET_VERSION"}')
    eq(r.status, 200, "status")
    eq(r.json()["type"], "GET_VERSION", "type answered")


@test
def json_nesting_limit(srv):
    ok = b'{"type":"GET_HEALTH","x":' + b"[" * 150 + b"]" * 150 + b"}"
    r = C.post(srv.port, ok)
    eq(r.status, 200, "status for depth 151 (body %r)" % r.body[:100])
    deep = b'{"type":"GET_HEALTH","x":' + b"[" * 300 + b"]" * 300 + b"}"
    r = C.post(srv.port, deep)
    eq(r.status, 400, "status for depth 301")
    check(r.text.startswith("Failed to parse body into JSON: "), "body %r" % r.text)


@test
def json_nan_rejected(srv):
    for lit in (b"NaN", b"Infinity", b"-Infinity"):
        r = C.post(srv.port, b'{"type":"GET_HEALTH","x":' + lit + b"}")
        eq(r.status, 400, "status for %r" % lit)
        check(r.text.startswith("Failed to parse body into JSON: "), "body %r" % r.text)


@test
def json_whitespace_and_unicode_input(srv):
    r = C.post(srv.port, b' \r\n\t{ "type" : "GET_\\u0048EALTH" , "x" : "\xc3\xa9\\ud83d\\ude00" }\n ')
    eq((r.status, r.body), (200, b'{"type":"GET_HEALTH","get_health":{"healthy":true}}'), "answer")


@test(flags=['--cluster=a"b\\c/d\x01\u00e9\tz'])
def json_string_escaping(srv):
    r = C.post(srv.port, {"type": "GET_FLAGS"})
    eq(r.status, 200, "status")
    check(b'{"name":"cluster","value":"a\\"b\\\\c/d\\u0001\xc3\xa9\\tz"}' in r.body,
          "cluster flag not escaped as rapidjson does: %r" %
          r.body[r.body.find(b'"cluster"') - 9:r.body.find(b'"cluster"') + 40])
    d = {f["name"]: f.get("value") for f in r.json()["get_flags"]["flags"]}
    eq(d.get("cluster"), 'a"b\\c/d\x01\u00e9\tz', "cluster round trip")
