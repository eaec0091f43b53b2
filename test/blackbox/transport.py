"""The /api/v1 transport rules (OPERATOR_API.md 1.1-1.6, 1.15, Appendix A).

Methods (405 with Allow), Content-Type presence and exactness (400, 415),
body decoding and validation errors with upstream's exact texts, 501 for
UNKNOWN, Accept negotiation (no header, wildcards, q=0, exact match beats
wildcard, 406 and its text, several Accept lines), the order in which the
checks apply when several things are wrong at once, error bodies being
text/plain; charset=utf-8, path aliasing (/master/api/v1), query strings
being ignored, and 404 for unknown paths.
"""
import client as C
import protos
from harness import check, eq, test

HEALTH = b'{"type":"GET_HEALTH"}'
HEALTH_JSON = b'{"type":"GET_HEALTH","get_health":{"healthy":true}}'
HEALTH_PB = b"\x08\x01\x12\x02\x08\x01"
TEXT = "text/plain; charset=utf-8"


def expect_error(r, status, body, what=""):
    eq(r.status, status, "status%s (body %r)" % (what, r.body[:200]))
    if isinstance(body, bytes):
        eq(r.body, body, "body" + what)
    else:
        eq(r.text, body, "body" + what)
    eq(r.header("Content-Type"), TEXT, "Content-Type of the error" + what)
    eq(r.header("Content-Length"), str(len(r.body)), "Content-Length" + what)


# ---- methods ----------------------------------------------------------------

@test
def get_is_405(srv):
    with C.Conn(srv.port) as c:
        c.request("GET", "/api/v1", [("Content-Type", "application/json")])
        r = c.read_response()
    expect_error(r, 405, "405 Method Not Allowed. Expecting one of { 'POST' }, but received 'GET'.")
    eq(r.reason, "Method Not Allowed", "reason phrase")
    eq(r.all("Allow"), ["POST"], "Allow")


@test
def put_and_delete_are_405(srv):
    for m in ("PUT", "DELETE", "OPTIONS"):
        with C.Conn(srv.port) as c:
            c.request(m, "/api/v1", [("Content-Type", "application/json")], HEALTH)
            r = c.read_response()
        expect_error(r, 405, "405 Method Not Allowed. Expecting one of { 'POST' }, but received '%s'." % m,
                     " for %s" % m)
        eq(r.header("Allow"), "POST", "Allow for %s" % m)


@test
def head_is_405(srv):
    with C.Conn(srv.port) as c:
        c.request("HEAD", "/api/v1")
        r = c.read_response(method="HEAD")
    eq(r.status, 405, "status")
    eq(r.header("Allow"), "POST", "Allow")


# ---- Content-Type -----------------------------------------------------------

@test
def no_content_type_is_400(srv):
    expect_error(C.post(srv.port, HEALTH, ctype=None), 400, "Expecting 'Content-Type' to be present")


@test
def text_plain_is_415(srv):
    expect_error(C.post(srv.port, HEALTH, ctype="text/plain"), 415,
                 "Expecting 'Content-Type' of application/json or application/x-protobuf")


@test
def content_type_with_charset_is_415(srv):
    expect_error(C.post(srv.port, HEALTH, ctype="application/json; charset=utf-8"), 415,
                 "Expecting 'Content-Type' of application/json or application/x-protobuf")


@test
def content_type_recordio_and_case_are_415(srv):
    for ct in ("application/recordio", "Application/JSON", "application/protobuf"):
        expect_error(C.post(srv.port, HEALTH, ctype=ct), 415,
                     "Expecting 'Content-Type' of application/json or application/x-protobuf", " for %r" % ct)


# ---- decoding and validation -----------------------------------------------

@test
def bad_json_is_400(srv):
    for body in (b'{"type":', b"not json", b'{"type":"GET_HEALTH"} x', b""):
        r = C.post(srv.port, body)
        eq(r.status, 400, "status for %r" % body)
        check(r.text.startswith("Failed to parse body into JSON: "), "body for %r: %r" % (body, r.text))
        check(len(r.text) > len("Failed to parse body into JSON: "), "no parser message for %r" % body)
        eq(r.header("Content-Type"), TEXT, "Content-Type")


@test
def json_not_an_object_is_400(srv):
    for body in (b"[]", b'"GET_HEALTH"', b"1"):
        r = C.post(srv.port, body)
        eq(r.status, 400, "status for %r" % body)
        eq(r.text, "Failed to convert JSON into Call protobuf: Expecting a JSON object", "body for %r" % body)


@test
def type_as_number_is_400(srv):
    expect_error(C.post(srv.port, b'{"type":1}'), 400,
                 "Failed to convert JSON into Call protobuf: Not expecting a JSON number for field 'type'")


@test
def unknown_type_name_is_400(srv):
    expect_error(C.post(srv.port, b'{"type":"NOPE"}'), 400,
                 "Failed to validate master::Call: Expecting 'type' to be present")
    expect_error(C.post(srv.port, b"{}"), 400, "Failed to validate master::Call: Expecting 'type' to be present",
                 " for {}")
    expect_error(C.post(srv.port, b'{"type":null}'), 400,
                 "Failed to validate master::Call: Expecting 'type' to be present", " for type null")


@test
def unknown_is_501(srv):
    expect_error(C.post(srv.port, b'{"type":"UNKNOWN"}'), 501, "501 Not Implemented.")
    r = C.post(srv.port, protos.call_bytes("UNKNOWN"), ctype=C.PROTO, accept=C.PROTO)
    expect_error(r, 501, "501 Not Implemented.", " (protobuf)")


@test
def unknown_json_keys_are_ignored(srv):
    r = C.post(srv.port, b'{"type":"GET_HEALTH","nope":{"x":[1,2,{}]},"get_health":null}')
    eq((r.status, r.body), (200, HEALTH_JSON), "answer")


@test
def garbage_protobuf_is_400(srv):
    for body in (b"\x0a\x05ab", b"\x07", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"):
        expect_error(C.post(srv.port, body, ctype=C.PROTO), 400, "Failed to parse body into Call protobuf",
                     " for %r" % body)


@test
def empty_protobuf_is_400_type_missing(srv):
    expect_error(C.post(srv.port, b"", ctype=C.PROTO), 400,
                 "Failed to validate master::Call: Expecting 'type' to be present")


@test
def protobuf_unknown_fields_are_ignored(srv):
    body = protos.call_bytes("GET_HEALTH") + b"\xa0\x06\x2a" + b"\xaa\x06\x03abc"   # fields 100 and 101
    r = C.post(srv.port, body, ctype=C.PROTO, accept=C.PROTO)
    eq((r.status, r.body), (200, HEALTH_PB), "answer")


# ---- Accept -----------------------------------------------------------------

def accept_case(port, accept, want):
    hdrs = [("Content-Type", "application/json")] + [("Accept", a) for a in accept]
    with C.Conn(port) as c:
        c.request("POST", "/api/v1", hdrs, HEALTH)
        r = c.read_response()
    if want == "json":
        eq((r.status, r.header("Content-Type"), r.body), (200, "application/json", HEALTH_JSON),
           "answer for Accept %r" % accept)
    elif want == "proto":
        eq((r.status, r.header("Content-Type"), r.body), (200, C.PROTO, HEALTH_PB), "answer for Accept %r" % accept)
    else:
        expect_error(r, 406, "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'",
                     " for Accept %r" % accept)


@test
def accept_none_is_json(srv):
    accept_case(srv.port, [], "json")


@test
def accept_wildcards_are_json(srv):
    accept_case(srv.port, ["*/*"], "json")
    accept_case(srv.port, ["application/*"], "json")


@test
def accept_protobuf(srv):
    accept_case(srv.port, ["application/x-protobuf"], "proto")
    accept_case(srv.port, ["application/json"], "json")


@test
def accept_json_q0_then_wildcard_is_protobuf(srv):
    accept_case(srv.port, ["application/json;q=0, */*"], "proto")
    accept_case(srv.port, ["application/json; q=0 , */*"], "proto")


@test
def accept_no_ranking_by_q(srv):
    accept_case(srv.port, ["application/x-protobuf;q=1, application/json;q=0.1"], "json")


@test
def accept_exact_match_beats_wildcard(srv):
    accept_case(srv.port, ["*/*;q=0, application/x-protobuf"], "proto")
    accept_case(srv.port, ["*/*, application/json;q=0"], "proto")


@test
def accept_text_html_is_406(srv):
    accept_case(srv.port, ["text/html"], "406")
    accept_case(srv.port, ["application/json;q=0, application/x-protobuf;q=0"], "406")
    accept_case(srv.port, ["application/recordio"], "406")


@test
def accept_empty_is_406(srv):
    accept_case(srv.port, [""], "406")


@test
def accept_two_header_lines(srv):
    # Comma-joined and last-line-wins readings agree on these.
    accept_case(srv.port, ["text/html", "application/x-protobuf"], "proto")
    accept_case(srv.port, ["application/x-protobuf", "application/json"], "json")


@test
def accept_case_insensitive_media_type(srv):
    accept_case(srv.port, ["Application/X-Protobuf"], "proto")


# ---- order of checks (1.2) --------------------------------------------------

@test
def check_order(srv):
    # method before Content-Type
    with C.Conn(srv.port) as c:
        c.request("GET", "/api/v1")
        eq(c.read_response().status, 405, "GET without Content-Type")
    # Content-Type value before body decoding
    eq(C.post(srv.port, b"garbage", ctype="text/plain").status, 415, "text/plain with a bad body")
    # body decoding and validation before Accept
    eq(C.post(srv.port, b"garbage", accept="text/html").status, 400, "bad body with Accept: text/html")
    eq(C.post(srv.port, b'{"type":"GET_METRICS"}', accept="text/html").status, 400,
       "invalid call with Accept: text/html")
    # Accept before dispatch
    eq(C.post(srv.port, b'{"type":"UNKNOWN"}', accept="text/html").status, 406, "UNKNOWN with Accept: text/html")


# ---- paths ------------------------------------------------------------------

@test
def master_prefix_alias(srv):
    for path in ("/master/api/v1", "/api/v1"):
        r = C.post(srv.port, HEALTH, path=path)
        eq((r.status, r.body), (200, HEALTH_JSON), "answer on %s" % path)
    r = C.post(srv.port, b'{"type":"GET_FLAGS"}', path="/master/api/v1")
    eq(r.json(), C.call(srv.port, {"type": "GET_FLAGS"}), "GET_FLAGS on /master/api/v1 vs /api/v1")


@test
def query_string_ignored(srv):
    for path in ("/api/v1?_ts=123", "/master/api/v1?_ts=1700000000&x=y"):
        r = C.post(srv.port, HEALTH, path=path)
        eq((r.status, r.body), (200, HEALTH_JSON), "answer on %s" % path)


@test
def unknown_path_is_404(srv):
    for path in ("/nope", "/api/v2", "/master/nope"):
        r = C.post(srv.port, HEALTH, path=path)
        eq(r.status, 404, "status on %s" % path)
        eq(r.text, "404 Not Found.", "body on %s" % path)
    r = C.get(srv.port, "/nope")
    eq(r.status, 404, "GET /nope")


@test
def error_then_success_on_one_connection(srv):
    with C.Conn(srv.port) as c:
        for body, ct, want in ((HEALTH, "text/plain", 415), (b"x", "application/json", 400),
                               (b'{"type":"UNKNOWN"}', "application/json", 501), (HEALTH, "application/json", 200)):
            c.request("POST", "/api/v1", [("Content-Type", ct)], body)
            eq(c.read_response().status, want, "status for %r as %s" % (body, ct))
        check(c.is_open(), "connection closed after API errors")
