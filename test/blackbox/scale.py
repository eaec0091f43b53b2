"""Many connections, and fairness between clients.

500 connections opened at once, each sending one request, must all be
answered. A client that pipelines ~2000 GET_FLAGS and reads nothing fills
its socket buffers and the server's output bound; the server must then
stop reading from it (back-pressure) without blocking anyone else: another
client's GET_HEALTH is answered in under 2 s. When the greedy client
finally reads, all its answers arrive, in order. A client that vanishes
with unread answers does not disturb the server either.
"""
import socket
import struct
import threading
import time

import client as C
from harness import check, eq, test

HEALTH = b'{"type":"GET_HEALTH"}'
HEALTH_JSON = b'{"type":"GET_HEALTH","get_health":{"healthy":true}}'
REQ = C.build_request("POST", "/api/v1", [("Content-Type", "application/json")], HEALTH)


@test
def many_connections_at_once(srv):
    n = 500
    conns = []
    try:
        for _ in range(n):
            conns.append(C.Conn(srv.port, timeout=15))
        for c in conns:
            c.send(REQ)
        bad = []
        for i, c in enumerate(conns):
            try:
                r = c.read_response(timeout=15)
                if (r.status, r.body) != (200, HEALTH_JSON):
                    bad.append((i, r.status, r.body[:60]))
            except Exception as e:  # noqa: BLE001 -- collect, report below
                bad.append((i, type(e).__name__, str(e)[:60]))
        eq(bad, [], "connections without a correct answer (of %d)" % n)
        # All still usable.
        for c in conns[::50]:
            c.send(REQ)
            eq(c.read_response().status, 200, "second request on a crowded server")
    finally:
        for c in conns:
            c.close()


def health_time(port):
    t0 = time.time()
    r = C.post(port, HEALTH, timeout=10)
    eq((r.status, r.body), (200, HEALTH_JSON), "GET_HEALTH")
    return time.time() - t0


@test
def greedy_pipeliner_does_not_block_others(srv):
    n = 2000
    req = C.build_request("POST", "/api/v1", [("Content-Type", "application/json")], b'{"type":"GET_FLAGS"}')
    greedy = C.Conn(srv.port, timeout=20)
    greedy.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sent = {"err": None}

    def pump():
        try:
            greedy.sock.settimeout(30)
            greedy.sock.sendall(req * n)
        except OSError as e:
            sent["err"] = e

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    try:
        time.sleep(0.5)
        took = [health_time(srv.port) for _ in range(3)]
        check(max(took) < 2.0, "GET_HEALTH took %s s while another client pipelined %d requests"
              % (["%.2f" % x for x in took], n))
        # Now read everything: all n answers, in order, complete.
        first = None
        for i in range(n):
            r = greedy.read_response(timeout=20)
            eq(r.status, 200, "status of pipelined answer %d" % i)
            check(r.body.startswith(b'{"type":"GET_FLAGS"'), "answer %d is not GET_FLAGS: %r" % (i, r.body[:40]))
            if first is None:
                first = r.body
            elif r.body != first:
                raise AssertionError("answer %d differs from the first" % i)
        t.join(10)
        check(not t.is_alive(), "the pipelined requests were never all read by the server")
        check(sent["err"] is None, "sending failed: %r" % sent["err"])
    finally:
        greedy.close()
        t.join(5)
    check(health_time(srv.port) < 2.0, "slow GET_HEALTH afterwards")


@test
def vanishing_greedy_client(srv):
    req = C.build_request("POST", "/api/v1", [("Content-Type", "application/json")], b'{"type":"GET_FLAGS"}')
    for _ in range(3):
        c = C.Conn(srv.port, timeout=5)
        try:
            c.sock.setblocking(False)
            try:
                c.sock.send(req * 300)
            except BlockingIOError:
                pass
            time.sleep(0.1)
            # Close with unread answers: the server sees a reset.
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        finally:
            c.close()
    check(health_time(srv.port) < 2.0, "slow GET_HEALTH after clients vanished")


@test
def connections_opened_and_dropped(srv):
    # Half-open and immediately closed connections do not leak or stall anything.
    for i in range(200):
        c = C.Conn(srv.port, timeout=5)
        if i % 3 == 0:
            c.send(b"POST /api/v1 HTTP/1.1\r\nContent-")
        elif i % 3 == 1:
            c.send(REQ[:-5])
        c.close()
    check(health_time(srv.port) < 2.0, "slow GET_HEALTH after 200 dropped connections")
    r = C.post(srv.port, {"type": "GET_METRICS", "get_metrics": {}})
    eq(r.status, 200, "GET_METRICS")


@test(flags=["--max_connections=10"])
def max_connections_503(srv):
    held = [C.Conn(srv.port) for _ in range(10)]
    try:
        for c in held:
            c.send(REQ)
            eq(c.read_response().status, 200, "answer within the limit")
        with C.Conn(srv.port) as extra:
            try:
                extra.send(REQ)
            except (BrokenPipeError, ConnectionResetError):
                pass
            r = extra.read_response(timeout=5)
            eq(r.status, 503, "status of the 11th connection")
            check(extra.wait_closed(3) is not None, "11th connection left open")
        held.pop().close()
        time.sleep(0.2)
        eq(C.post(srv.port, HEALTH).status, 200, "a new connection after one closed")
    finally:
        for c in held:
            c.close()


@test(flags=[])
def sigterm_with_open_connections_exits_0(srv):
    conns = []
    try:
        for i in range(30):
            c = C.Conn(srv.port)
            conns.append(c)
            if i % 3 == 0:
                c.send(REQ[:40])                       # half a head
            elif i % 3 == 1:
                c.send(REQ[:-5])                       # half a body
            else:
                c.send(REQ)                            # answered, then idle
                eq(c.read_response().status, 200, "answer")
        greedy = C.Conn(srv.port)
        conns.append(greedy)
        greedy.sock.setblocking(False)
        try:
            greedy.sock.send(C.build_request("POST", "/api/v1", [("Content-Type", "application/json")],
                                             b'{"type":"GET_FLAGS"}') * 300)
        except BlockingIOError:
            pass
        time.sleep(0.3)
        rc = srv.stop()
        eq(rc, 0, "exit status after SIGTERM with 31 connections open")
    finally:
        for c in conns:
            c.close()
