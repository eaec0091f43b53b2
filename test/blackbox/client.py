"""A raw-socket HTTP/1.1 client for the black-box suite.

The tests need to say things no ordinary client library will say (half a
request head, two Accept lines, a chunked body split mid-size-line, 2000
pipelined requests nobody reads), and to see exactly what came back: the
status line, every header line in order, the body as bytes, and whether the
server closed the connection. So this module speaks HTTP by hand over a
plain socket. `Conn` keeps the bytes it has read past one response, so
pipelined responses are read one after another; `read_response` handles
Content-Length, chunked (with extensions and trailers) and close-delimited
bodies, and interim 1xx answers. Every socket operation has a timeout and
every read loop has an overall deadline, so nothing here can hang.
"""
import json
import socket
import time

HOST = "127.0.0.1"
DEFAULT_TIMEOUT = 10.0


class HTTPError(Exception):
    """The peer sent something that is not a well-formed HTTP response."""


class Closed(Exception):
    """The connection ended before a whole response arrived."""


class Response:
    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version          # "HTTP/1.1"
        self.status = status            # int
        self.reason = reason            # "OK"
        self.headers = headers          # [(name, value)] in wire order
        self.body = body                # bytes (de-chunked, still compressed)
        self.raw_head = raw_head        # bytes up to and including CRLFCRLF
        self.chunked = False
        self.trailers = []

    def header(self, name):
        """The first value of header `name` (case-insensitive), or None."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def json(self, **kw):
        try:
            return json.loads(self.body.decode("utf-8"), **kw)
        except ValueError as e:
            raise HTTPError("body is not JSON (%s): %r" % (e, self.body[:200]))

    def __repr__(self):
        return "<%d %s %r>" % (self.status, self.header("Content-Type"), self.body[:120])


class Conn:
    """One client connection to the server under test."""

    def __init__(self, port, timeout=DEFAULT_TIMEOUT, host=HOST):
        self.port = port
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False

    # ---- sending ---------------------------------------------------------

    def send(self, data):
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def request(self, method, path, headers=(), body=b"", version="HTTP/1.1", host=True,
                content_length=None):
        """Send one request. `headers` is a list of (name, value) pairs sent
        as given (duplicates allowed) or a dict. Host and Content-Length are
        added unless already there (content_length=False suppresses it)."""
        self.send(build_request(method, path, headers, body, version, host, content_length))

    # ---- receiving -------------------------------------------------------

    def _fill(self, deadline):
        """Read more bytes into self.buf; False at EOF."""
        if self.eof:
            return False
        left = deadline - time.time()
        if left <= 0:
            raise socket.timeout("no complete response before the deadline")
        self.sock.settimeout(min(left, self.timeout))
        try:
            data = self.sock.recv(262144)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _read_until(self, sep, deadline):
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out, self.buf = self.buf[:i + len(sep)], self.buf[i + len(sep):]
                return out
            if not self._fill(deadline):
                raise Closed("connection closed; partial data %r" % self.buf[:200])

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise Closed("connection closed after %d of %d body bytes" % (len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, timeout=None, allow_1xx=False, method="POST"):
        """Read one whole response. Interim 1xx responses are returned when
        allow_1xx is set, otherwise skipped."""
        deadline = time.time() + (timeout if timeout is not None else self.timeout)
        while True:
            resp = self._read_one(deadline, method)
            if 100 <= resp.status < 200 and not allow_1xx:
                continue
            return resp

    def _read_one(self, deadline, method):
        raw = self._read_until(b"\r\n\r\n", deadline)
        lines = raw[:-4].split(b"\r\n")
        parts = lines[0].decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise HTTPError("bad status line %r" % lines[0])
        version, status = parts[0], int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = []
        for line in lines[1:]:
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep or not name or name != name.strip():
                raise HTTPError("bad header line %r" % line)
            headers.append((name, value.strip(" \t")))
        resp = Response(version, status, reason, headers, b"", raw)
        if 100 <= status < 200 or status in (204, 304) or method == "HEAD":
            return resp
        te = resp.header("Transfer-Encoding")
        cl = resp.header("Content-Length")
        if te is not None:
            if te.lower() != "chunked":
                raise HTTPError("unexpected Transfer-Encoding %r" % te)
            if cl is not None:
                raise HTTPError("both Transfer-Encoding and Content-Length")
            resp.chunked = True
            body = []
            while True:
                size_line = self._read_until(b"\r\n", deadline)[:-2]
                size_txt = size_line.split(b";", 1)[0].strip()
                try:
                    size = int(size_txt, 16)
                except ValueError:
                    raise HTTPError("bad chunk size line %r" % size_line)
                if size == 0:
                    while True:
                        t = self._read_until(b"\r\n", deadline)
                        if t == b"\r\n":
                            break
                        resp.trailers.append(t[:-2])
                    break
                body.append(self._read_exact(size, deadline))
                if self._read_exact(2, deadline) != b"\r\n":
                    raise HTTPError("chunk not followed by CRLF")
            resp.body = b"".join(body)
        elif cl is not None:
            if len(resp.all("Content-Length")) != 1 or not cl.isdigit():
                raise HTTPError("bad Content-Length %r" % resp.all("Content-Length"))
            resp.body = self._read_exact(int(cl), deadline)
        else:
            # Close-delimited.
            while self._fill(deadline):
                pass
            resp.body, self.buf = self.buf, b""
        return resp

    def read_some(self, timeout):
        """Whatever bytes arrive within `timeout` (b"" at EOF or timeout)."""
        if self.buf:
            out, self.buf = self.buf, b""
            return out
        if self.eof:
            return b""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return b""
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
        return data

    def wait_closed(self, timeout):
        """Wait up to `timeout` seconds for the server to close. Returns the
        number of seconds it took, or None if the connection is still open.
        Unexpected bytes raise HTTPError."""
        start = time.time()
        deadline = start + timeout
        if self.buf:
            raise HTTPError("unexpected bytes before close: %r" % self.buf[:200])
        while not self.eof:
            left = deadline - time.time()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            except ConnectionResetError:
                data = b""
            if data:
                raise HTTPError("unexpected bytes before close: %r" % data[:200])
            self.eof = True
        return time.time() - start

    def is_open(self, wait=0.2):
        """True if the server has not closed the connection within `wait`."""
        return self.wait_closed(wait) is None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def build_request(method, path, headers=(), body=b"", version="HTTP/1.1", host=True,
                  content_length=None):
    if isinstance(headers, dict):
        headers = list(headers.items())
    headers = list(headers)
    names = {k.lower() for k, _ in headers}
    if isinstance(body, str):
        body = body.encode()
    if host and "host" not in names:
        headers.insert(0, ("Host", "%s" % HOST))
    if content_length is None:
        content_length = "transfer-encoding" not in names and "content-length" not in names \
            and (body or method in ("POST", "PUT"))
    if content_length:
        headers.append(("Content-Length", str(len(body))))
    head = "%s %s %s\r\n" % (method, path, version)
    head += "".join("%s: %s\r\n" % (k, v) for k, v in headers)
    return head.encode("latin-1") + b"\r\n" + body


def chunked(body, sizes):
    """Encode `body` as chunks of the given sizes (the rest in one chunk),
    followed by the last chunk."""
    out, i = b"", 0
    for n in list(sizes) + [len(body)]:
        piece = body[i:i + n]
        if not piece:
            continue
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
        i += len(piece)
        if i >= len(body):
            break
    return out + b"0\r\n\r\n"


# ---- one-shot helpers -------------------------------------------------------

JSON = "application/json"
PROTO = "application/x-protobuf"


def post(port, body, ctype=JSON, accept=None, headers=(), path="/api/v1", timeout=DEFAULT_TIMEOUT):
    """POST one body on a fresh connection and return the Response."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body, separators=(",", ":")).encode()
    hdrs = []
    if ctype is not None:
        hdrs.append(("Content-Type", ctype))
    if accept is not None:
        hdrs.append(("Accept", accept))
    hdrs += list(headers.items() if isinstance(headers, dict) else headers)
    with Conn(port, timeout=timeout) as c:
        c.request("POST", path, hdrs, body)
        return c.read_response()


def get(port, path, headers=(), timeout=DEFAULT_TIMEOUT):
    with Conn(port, timeout=timeout) as c:
        c.request("GET", path, headers)
        return c.read_response()


def call(port, body, **kw):
    """A JSON call that must succeed with 200: returns the parsed JSON."""
    r = post(port, body, **kw)
    if r.status != 200:
        raise AssertionError("%s -> %d %r" % (body, r.status, r.body[:300]))
    return r.json()
