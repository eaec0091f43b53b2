"""HTTP/1.1 connection handling (RFC 9112; OPERATOR_API.md 1.6; README limits).

Keep-alive and pipelining (responses in request order, errors included),
chunked request bodies (extensions, trailers, split at awkward places),
a request fed byte by byte, HTTP/1.0 (close after the answer unless
keep-alive), Connection: close (also in the middle of a pipeline),
Expect: 100-continue, header names in odd case, and the protective limits
of mesos_api: malformed heads (400 and close), head over 64 KiB (431), URI
over 8 KiB (414), bodies over --max_request_body_size (413, by
Content-Length without waiting for the body, and by chunked), a request
that does not arrive whole within --http_request_timeout (408 and close,
even when trickled), and --http_idle_timeout closing idle connections.
"""
import threading
import time

import client as C
from harness import check, eq, test

HEALTH = b'{"type":"GET_HEALTH"}'
HEALTH_JSON = b'{"type":"GET_HEALTH","get_health":{"healthy":true}}'
JSON_CT = [("Content-Type", "application/json")]


def health_req(extra=(), version="HTTP/1.1"):
    return C.build_request("POST", "/api/v1", JSON_CT + list(extra), HEALTH, version=version)


def expect_health(r, what="answer"):
    eq((r.status, r.body), (200, HEALTH_JSON), what)


def send_ignoring_reset(c, data):
    """Send data the server may refuse half-way (it answers and closes)."""
    try:
        c.send(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def expect_reject(c, status, what):
    r = c.read_response(timeout=5)
    eq(r.status, status, "status for %s (body %r)" % (what, r.body[:100]))
    eq(r.header("Content-Type"), "text/plain; charset=utf-8", "Content-Type for %s" % what)
    check(c.wait_closed(5) is not None, "connection still open 5 s after %d for %s" % (status, what))
    return r


# ---- persistence and pipelining ---------------------------------------------

@test
def keepalive_10_requests(srv):
    with C.Conn(srv.port) as c:
        for i in range(10):
            c.send(health_req())
            expect_health(c.read_response(), "answer %d" % i)
        check(c.is_open(), "connection closed after 10 keep-alive requests")


@test
def pipelining_5_in_one_send(srv):
    reqs = [(b'{"type":"GET_HEALTH"}', "application/json", 200, b'"GET_HEALTH"'),
            (b'{"type":"GET_VERSION"}', "application/json", 200, b'"GET_VERSION"'),
            (b'{"type":"GET_HEALTH"}', "text/plain", 415, b"Expecting 'Content-Type'"),
            (b'{"type":"GET_LOGGING_LEVEL"}', "application/json", 200, b'"GET_LOGGING_LEVEL"'),
            (b'{"type":"GET_FLAGS"}', "application/json", 200, b'"GET_FLAGS"')]
    data = b"".join(C.build_request("POST", "/api/v1", [("Content-Type", ct)], b) for b, ct, _, _ in reqs)
    with C.Conn(srv.port) as c:
        c.send(data)
        for i, (_, _, status, marker) in enumerate(reqs):
            r = c.read_response()
            eq(r.status, status, "status of pipelined response %d" % i)
            check(marker in r.body, "pipelined response %d out of order: %r" % (i, r.body[:80]))
        eq(c.read_some(0.3), b"", "bytes after the 5 responses")
        check(c.is_open(), "connection closed after the pipeline")


@test
def pipelining_more_than_64k(srv):
    # 3000 small requests (~330 KB) sent at once: far more pipelined bytes
    # than the 64 KiB head limit, but every head is small, so every one
    # must be answered, in order.
    n = 3000
    err = []
    with C.Conn(srv.port, timeout=15) as c:
        def pump():
            try:
                c.send(health_req() * n)
            except OSError as e:
                err.append(e)
        t = threading.Thread(target=pump, daemon=True)
        t.start()
        try:
            for i in range(n):
                try:
                    r = c.read_response()
                except (C.Closed, OSError) as e:
                    raise AssertionError("answer %d of %d: %s: %s" % (i, n, type(e).__name__, e))
                expect_health(r, "answer %d of %d" % (i, n))
        finally:
            t.join(10)
        eq(err, [], "errors sending the pipeline")
        check(c.is_open(), "connection closed after the pipeline")


@test
def pipelining_split_everywhere(srv):
    data = health_req() * 3
    with C.Conn(srv.port) as c:
        # Send the three requests in pieces that cut heads, CRLFs and bodies.
        for a, b in ((0, 7), (7, 40), (40, 90), (90, 91), (91, 130), (130, len(data))):
            c.send(data[a:b])
            time.sleep(0.02)
        for i in range(3):
            expect_health(c.read_response(), "answer %d" % i)


@test
def request_sent_byte_by_byte(srv):
    data = C.build_request("POST", "/api/v1", JSON_CT + [("Transfer-Encoding", "chunked")],
                           C.chunked(HEALTH, [3, 5, 1]))
    with C.Conn(srv.port) as c:
        for i in range(len(data)):
            c.send(data[i:i + 1])
        expect_health(c.read_response())


@test
def connection_close_in_a_pipeline(srv):
    data = health_req() + health_req([("Connection", "close")]) + health_req()
    with C.Conn(srv.port) as c:
        c.send(data)
        expect_health(c.read_response(), "first answer")
        expect_health(c.read_response(), "answer to the Connection: close request")
        check(c.wait_closed(3) is not None, "connection not closed after Connection: close")


@test
def connection_close(srv):
    with C.Conn(srv.port) as c:
        c.send(health_req([("Connection", "close")]))
        expect_health(c.read_response())
        t = c.wait_closed(3)
        check(t is not None, "connection still open 3 s after Connection: close")


@test
def http10_answer_then_close(srv):
    with C.Conn(srv.port) as c:
        c.send(health_req(version="HTTP/1.0"))
        r = c.read_response()
        expect_health(r)
        eq(r.version, "HTTP/1.1", "response version")
        check(c.wait_closed(3) is not None, "HTTP/1.0 connection still open 3 s after the answer")


@test
def http10_keep_alive(srv):
    with C.Conn(srv.port) as c:
        c.send(health_req([("Connection", "keep-alive")], version="HTTP/1.0"))
        expect_health(c.read_response(), "first answer")
        c.send(health_req([("Connection", "keep-alive")], version="HTTP/1.0"))
        expect_health(c.read_response(), "second answer on an HTTP/1.0 keep-alive connection")


# ---- request bodies ---------------------------------------------------------

@test
def chunked_body_with_extension_split(srv):
    head = C.build_request("POST", "/api/v1", JSON_CT + [("Transfer-Encoding", "chunked")], b"")
    pieces = [head[:25], head[25:],
              b"5;ext=1\r\n", b'{"typ', b"\r\n", b"a", b";name=\"quoted;val\"\r\n",
              b'e":"GET_H', b"E", b"\r\n6\r", b'\nALTH"}\r\n', b"0", b"\r\n", b"\r\n"]
    with C.Conn(srv.port) as c:
        for p in pieces:
            c.send(p)
            time.sleep(0.02)
        expect_health(c.read_response())
        # The connection is still in sync for the next request.
        c.send(health_req())
        expect_health(c.read_response(), "next answer")


@test
def chunked_body_with_trailer(srv):
    body = C.chunked(HEALTH, [4, 4])[:-2] + b"X-Trailer: yes\r\nX-Other: 1\r\n\r\n"
    with C.Conn(srv.port) as c:
        c.send(C.build_request("POST", "/api/v1", JSON_CT + [("Transfer-Encoding", "chunked")], body))
        expect_health(c.read_response())
        c.send(health_req())
        expect_health(c.read_response(), "next answer")


@test
def chunked_uppercase_hex_and_empty_chunks_end(srv):
    pad = b'{"type":"GET_HEALTH","pad":"' + b"y" * 300 + b'"}'
    body = b"%X\r\n%s\r\n0\r\n\r\n" % (len(pad), pad)
    with C.Conn(srv.port) as c:
        c.send(C.build_request("POST", "/api/v1", JSON_CT + [("Transfer-Encoding", "chunked")], body))
        expect_health(c.read_response())


@test
def expect_100_continue(srv):
    with C.Conn(srv.port) as c:
        c.send(C.build_request("POST", "/api/v1", JSON_CT + [("Expect", "100-continue"),
                                                             ("Content-Length", str(len(HEALTH)))], b""))
        r = c.read_response(timeout=3, allow_1xx=True)
        eq((r.version, r.status), ("HTTP/1.1", 100), "interim response before the body")
        eq(r.raw_head.split(b"\r\n")[0], b"HTTP/1.1 100 Continue", "status line")
        c.send(HEALTH)
        expect_health(c.read_response(), "final answer")


@test
def odd_case_header_names(srv):
    with C.Conn(srv.port) as c:
        c.send(b"POST /api/v1 HTTP/1.1\r\nhOsT: x\r\ncOnTeNt-TyPe: application/json\r\n"
               b"ACCEPT: application/x-protobuf\r\ncontent-length: 21\r\n\r\n" + HEALTH)
        r = c.read_response()
        eq((r.status, r.header("Content-Type"), r.body), (200, "application/x-protobuf", b"\x08\x01\x12\x02\x08\x01"),
           "answer")
        c.send(b"POST /api/v1 HTTP/1.1\r\nTRANSFER-ENCODING: CHUNKED\r\ncontent-type: application/json\r\n\r\n"
               + C.chunked(HEALTH, [10]))
        expect_health(c.read_response(), "answer with TRANSFER-ENCODING: CHUNKED")


@test
def header_value_whitespace(srv):
    with C.Conn(srv.port) as c:
        c.send(b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type:application/json\r\n"
               b"Content-Length:   21  \r\nAccept: \t*/*\t\r\n\r\n" + HEALTH)
        expect_health(c.read_response())


# ---- malformed requests -----------------------------------------------------

@test
def malformed_request_line_is_400(srv):
    for line in (b"THIS IS NOT HTTP\r\n\r\n", b"POST /api/v1 HTTX/1.1\r\nHost: x\r\n\r\n",
                 b"POST  HTTP/1.1\r\n\r\n", b"\x00\x01\x02\x03\r\n\r\n"):
        with C.Conn(srv.port) as c:
            send_ignoring_reset(c, line)
            expect_reject(c, 400, repr(line))


@test
def error_answer_survives_unread_input(srv):
    """The server answers a bad request and then finds more bytes it will
    never read: it must half-close and drain, not reset, or the answer
    can be destroyed before the client reads it (RFC 9112 9.6)."""
    flags = C.build_request("POST", "/api/v1", JSON_CT, b'{"type":"GET_FLAGS"}')
    with C.Conn(srv.port) as c:
        # Many answers the client is slow to read, then a bad request and
        # bytes the server never reads: the last answers sit in the kernel
        # when the server closes.
        send_ignoring_reset(c, flags * 300 + b"THIS IS NOT HTTP\r\n\r\n" + b"x" * 100000)
        time.sleep(0.5)
        for i in range(300):
            r = c.read_response(timeout=5)
            eq(r.status, 200, "answer %d" % i)
        expect_reject(c, 400, "a bad line after 300 requests, followed by 100 KB")


@test
def malformed_headers_are_400(srv):
    for head in (b"POST /api/v1 HTTP/1.1\r\nNo colon here\r\n\r\n",
                 b"POST /api/v1 HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
                 b"POST /api/v1 HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
                 b"POST /api/v1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
        with C.Conn(srv.port) as c:
            send_ignoring_reset(c, head)
            expect_reject(c, 400, repr(head))


@test
def header_block_over_64k_is_431(srv):
    with C.Conn(srv.port) as c:
        send_ignoring_reset(c, b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
        expect_reject(c, 431, "a 70 KB header")
    with C.Conn(srv.port) as c:
        # Never terminated: the limit, not the blank line, must end it.
        send_ignoring_reset(c, b"POST /api/v1 HTTP/1.1\r\n" + b"X-Pad: " + b"b" * 80000)
        expect_reject(c, 431, "an unterminated 80 KB head")


@test
def header_block_under_64k_is_fine(srv):
    hdrs = JSON_CT + [("X-Pad-%d" % i, "p" * 5000) for i in range(11)]    # ~55 KB
    with C.Conn(srv.port) as c:
        c.request("POST", "/api/v1", hdrs, HEALTH)
        expect_health(c.read_response())


@test
def uri_over_8k_is_414(srv):
    with C.Conn(srv.port) as c:
        send_ignoring_reset(c, C.build_request("POST", "/api/v1?pad=" + "a" * 9000, JSON_CT, HEALTH))
        expect_reject(c, 414, "a 9 KB URI")


@test
def uri_under_8k_is_fine(srv):
    with C.Conn(srv.port) as c:
        c.request("POST", "/api/v1?pad=" + "a" * 8000, JSON_CT, HEALTH)
        expect_health(c.read_response())


# ---- body limit (--max_request_body_size=1KB) -------------------------------

LIMIT = ["--max_request_body_size=1KB"]


def padded_health(n):
    pre, post = b'{"type":"GET_HEALTH","pad":"', b'"}'
    return pre + b"z" * (n - len(pre) - len(post)) + post


@test(flags=LIMIT)
def body_over_limit_by_content_length_is_413(srv):
    with C.Conn(srv.port) as c:
        # Only the head: the answer must not wait for a body it will refuse.
        c.send(C.build_request("POST", "/api/v1", JSON_CT + [("Content-Length", "1025")], b""))
        r = expect_reject(c, 413, "Content-Length: 1025")
    with C.Conn(srv.port) as c:
        c.send(C.build_request("POST", "/api/v1", JSON_CT + [("Content-Length", "99999999999")], b""))
        expect_reject(c, 413, "Content-Length: 99999999999")
    del r


@test(flags=LIMIT)
def body_over_limit_chunked_is_413(srv):
    with C.Conn(srv.port) as c:
        send_ignoring_reset(c, C.build_request("POST", "/api/v1", JSON_CT + [("Transfer-Encoding", "chunked")],
                                               C.chunked(padded_health(1500), [600, 600])))
        expect_reject(c, 413, "a 1500-byte chunked body")


@test(flags=LIMIT)
def body_over_limit_announced_chunk_is_413(srv):
    # Like Content-Length: a chunk size over the limit is refused at once,
    # without waiting for data that will be refused anyway.
    with C.Conn(srv.port) as c:
        send_ignoring_reset(c, C.build_request("POST", "/api/v1", JSON_CT + [("Transfer-Encoding", "chunked")],
                                               b"100000\r\n" + b"a" * 100))
        expect_reject(c, 413, "a chunk of 1 MiB announced")


@test(flags=LIMIT)
def body_at_limit_is_fine(srv):
    body = padded_health(1024)
    eq(len(body), 1024, "test body size")
    with C.Conn(srv.port) as c:
        c.request("POST", "/api/v1", JSON_CT, body)
        expect_health(c.read_response(), "answer with a 1024-byte body")
        c.request("POST", "/api/v1", JSON_CT + [("Transfer-Encoding", "chunked")], C.chunked(body, [500, 500]))
        expect_health(c.read_response(), "answer with a 1024-byte chunked body")


# ---- timeouts ---------------------------------------------------------------

@test(flags=["--http_request_timeout=1secs"])
def request_timeout_half_head_is_408(srv):
    with C.Conn(srv.port) as c:
        c.send(b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Ty")
        t0 = time.time()
        r = c.read_response(timeout=6)
        took = time.time() - t0
        eq(r.status, 408, "status")
        eq(r.text, "408 Request Timeout.", "body")
        check(0.7 <= took <= 4, "408 after %.2f s with a 1 s timeout" % took)
        check(c.wait_closed(3) is not None, "connection open after 408")


@test(flags=["--http_request_timeout=1secs"])
def request_timeout_half_body_is_408(srv):
    with C.Conn(srv.port) as c:
        c.send(C.build_request("POST", "/api/v1", JSON_CT + [("Content-Length", "100")], b'{"type":'))
        t0 = time.time()
        r = c.read_response(timeout=6)
        eq(r.status, 408, "status")
        check(time.time() - t0 <= 4, "408 after %.2f s" % (time.time() - t0))
        check(c.wait_closed(3) is not None, "connection open after 408")


@test(flags=["--http_request_timeout=1secs"])
def request_timeout_not_reset_by_trickle(srv):
    head = b"POST /api/v1 HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"s" * 40
    with C.Conn(srv.port) as c:
        t0 = time.time()
        got = b""
        for i in range(len(head)):
            if time.time() - t0 > 5:
                break
            try:
                c.send(head[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            got += c.read_some(0.1)
            if got:
                break
        took = time.time() - t0
        check(got.startswith(b"HTTP/1.1 408 "), "no 408 for a trickled head after %.2f s: %r" % (took, got[:60]))
        check(took <= 4, "408 only after %.2f s" % took)


@test(flags=["--http_request_timeout=1secs"])
def request_timeout_spares_keepalive(srv):
    # Between requests the idle timeout (1hrs by default) applies, not the request timeout.
    with C.Conn(srv.port) as c:
        c.send(health_req())
        expect_health(c.read_response())
        time.sleep(1.6)
        check(c.is_open(0.1), "idle keep-alive connection closed by the request timeout")
        c.send(health_req())
        expect_health(c.read_response(), "answer after 1.6 s idle")


@test(flags=["--http_idle_timeout=1secs"])
def idle_timeout_closes(srv):
    with C.Conn(srv.port) as c:
        t = c.wait_closed(5)
        check(t is not None, "silent connection still open after 5 s")
        check(0.7 <= t <= 4, "silent connection closed after %.2f s with a 1 s idle timeout" % t)
    with C.Conn(srv.port) as c:
        c.send(health_req())
        expect_health(c.read_response())
        t = c.wait_closed(5)
        check(t is not None and 0.7 <= t <= 4, "idle keep-alive connection closed after %r s" % t)


@test(flags=["--http_idle_timeout=1secs"])
def idle_timeout_reset_by_activity(srv):
    with C.Conn(srv.port) as c:
        for i in range(6):
            c.send(health_req())
            expect_health(c.read_response(), "answer %d" % i)
            time.sleep(0.4)
        check(c.is_open(0.1), "active connection closed")
