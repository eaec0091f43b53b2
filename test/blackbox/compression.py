"""gzip in both directions (OPERATOR_API.md 1.4, 1.7).

Responses of at least 1024 bytes are compressed when Accept-Encoding
allows gzip (same element rules as Accept: q=0 refuses, `*` matches), with
Content-Encoding: gzip and the compressed Content-Length; smaller bodies
(GET_HEALTH) are not; the decompressed bytes equal the uncompressed answer.
Request bodies sent with Content-Encoding: gzip are decompressed before
decoding, for JSON and protobuf, with Content-Length or chunked.
"""
import gzip
import json
import zlib

import client as C
import protos
from harness import check, eq, test

HEALTH_JSON = b'{"type":"GET_HEALTH","get_health":{"healthy":true}}'


def post(port, body, accept_encoding, **kw):
    return C.post(port, body, headers=[("Accept-Encoding", accept_encoding)], **kw)


@test
def gzip_get_flags(srv):
    plain = C.post(srv.port, b'{"type":"GET_FLAGS"}')
    eq(plain.status, 200, "status")
    check(len(plain.body) >= 1024, "GET_FLAGS is only %d bytes" % len(plain.body))
    eq(plain.header("Content-Encoding"), None, "Content-Encoding without Accept-Encoding")
    r = post(srv.port, b'{"type":"GET_FLAGS"}', "gzip")
    eq(r.status, 200, "status")
    eq(r.header("Content-Encoding"), "gzip", "Content-Encoding")
    eq(r.header("Content-Type"), "application/json", "Content-Type")
    eq(r.header("Content-Length"), str(len(r.body)), "Content-Length (of the compressed body)")
    check(r.body[:2] == b"\x1f\x8b", "not a gzip stream: %r" % r.body[:10])
    check(len(r.body) < len(plain.body), "compressed %d >= plain %d" % (len(r.body), len(plain.body)))
    eq(gzip.decompress(r.body), plain.body, "decompressed body")


@test
def gzip_accept_encoding_variants(srv):
    body = b'{"type":"GET_FLAGS"}'
    for ae, want in (("gzip, deflate, br", "gzip"), ("deflate, gzip;q=0.5", "gzip"), ("*", "gzip"),
                     ("GZIP", "gzip"), ("gzip;q=0", None), ("identity", None), ("deflate", None), ("", None),
                     ("*;q=0, gzip", "gzip"), ("gzip;q=0, *", None)):
        r = post(srv.port, body, ae)
        eq(r.status, 200, "status for Accept-Encoding %r" % ae)
        eq(r.header("Content-Encoding"), want, "Content-Encoding for Accept-Encoding %r" % ae)


@test
def gzip_not_for_small_bodies(srv):
    r = post(srv.port, b'{"type":"GET_HEALTH"}', "gzip")
    eq(r.status, 200, "status")
    eq(r.header("Content-Encoding"), None, "Content-Encoding")
    eq(r.body, HEALTH_JSON, "body")


@test
def gzip_protobuf_response(srv):
    r = post(srv.port, protos.call_bytes("GET_FLAGS"), "gzip", ctype=C.PROTO, accept=C.PROTO)
    eq(r.status, 200, "status")
    eq(r.header("Content-Encoding"), "gzip", "Content-Encoding")
    resp = protos.parse_response(gzip.decompress(r.body))
    check(len(resp.get_flags.flags) > 10, "few flags: %d" % len(resp.get_flags.flags))


@test
def gzip_metrics_keepalive(srv):
    with C.Conn(srv.port) as c:
        for _ in range(3):
            c.request("POST", "/api/v1", [("Content-Type", "application/json"), ("Accept-Encoding", "gzip")],
                      b'{"type":"GET_METRICS","get_metrics":{}}')
            r = c.read_response()
            eq(r.header("Content-Encoding"), "gzip", "Content-Encoding")
            names = [m["name"] for m in json.loads(gzip.decompress(r.body))["get_metrics"]["metrics"]]
            check("master/elected" in names, "master/elected missing")


@test
def gzip_request_body(srv):
    r = C.post(srv.port, gzip.compress(b'{"type":"GET_HEALTH"}'), headers=[("Content-Encoding", "gzip")])
    eq((r.status, r.body), (200, HEALTH_JSON), "JSON answer")
    r = C.post(srv.port, gzip.compress(protos.call_bytes("GET_HEALTH")), ctype=C.PROTO, accept=C.PROTO,
               headers=[("Content-Encoding", "gzip")])
    eq((r.status, r.body), (200, b"\x08\x01\x12\x02\x08\x01"), "protobuf answer")


@test
def gzip_request_body_chunked(srv):
    z = gzip.compress(b'{"type":"GET_METRICS","get_metrics":{}}')
    with C.Conn(srv.port) as c:
        c.request("POST", "/api/v1", [("Content-Type", "application/json"), ("Content-Encoding", "gzip"),
                                      ("Transfer-Encoding", "chunked")], C.chunked(z, [7, 9]))
        r = c.read_response()
    eq(r.status, 200, "status (%r)" % r.body[:100])
    check(b'"master/elected"' in r.body, "not a metrics answer: %r" % r.body[:100])


@test
def gzip_request_body_zlib_level_and_big(srv):
    # A body that is mostly padding compresses well: the decompressed size,
    # not the wire size, is what the server parses.
    doc = b'{"type":"GET_HEALTH","pad":"' + b"x" * 200000 + b'"}'
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    z = co.compress(doc) + co.flush()
    r = C.post(srv.port, z, headers=[("Content-Encoding", "gzip")])
    eq((r.status, r.body), (200, HEALTH_JSON), "answer")
