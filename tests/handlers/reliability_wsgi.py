"""WSGI applications for the reliability suite: checkable bodies for load,
faults in the response iterable, a stream whose close() leaves a file, and
echoes for the black-box fuzzer."""
import json
import os
import sys
import time
import urllib.parse

SCRATCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scratch")


def _note(name, text):
    with open(os.path.join(SCRATCH, name), "a") as f:
        f.write(text + "\n")


def _query(environ):
    return dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))


def expected_body(token, size):
    unit = (token + "|").encode()
    return (unit * (size // len(unit) + 1))[:size]


def load(environ, start_response):
    """?t=TOKEN&n=SIZE[&parts=K]: the expected body as K pieces of a generator."""
    q = _query(environ)
    body = expected_body(q.get("t", ""), int(q.get("n", "0")))
    parts = max(1, int(q.get("parts", "1")))
    imp = sys.modules.get("rel_generation")
    headers = [("Content-Type", "application/octet-stream"), ("X-Pid", str(os.getpid())),
               ("X-Import-Pid", str(getattr(imp, "IMPORT_PID", -1)))]
    if parts == 1:
        headers.append(("Content-Length", str(len(body))))
    if q.get("sleep"):
        time.sleep(float(q["sleep"]))
    start_response("200 OK", headers)
    step = len(body) // parts + 1
    return (body[i:i + step] for i in range(0, len(body), step))


def upload(environ, start_response):
    data = environ["wsgi.input"].read()
    out = ("%d %d" % (len(data), sum(data) % 65521)).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))])
    return [out]


def pid(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]


class Stream:
    """?blocks=N&tag=T: N blocks of 64 KiB; close() notes the tag and how far it got."""

    def __init__(self, tag, blocks, fail_at=None, close_raises=False):
        self.tag, self.blocks, self.fail_at, self.close_raises = tag, blocks, fail_at, close_raises
        self.sent = 0

    def __iter__(self):
        block = b"z" * 65536
        for i in range(self.blocks):
            if i == self.fail_at:
                raise RuntimeError("stream %s failed at block %d" % (self.tag, i))
            self.sent += 1
            yield block

    def close(self):
        _note("closed.txt", "%s after %d blocks at %.3f" % (self.tag, self.sent, time.time()))
        if self.close_raises:
            raise RuntimeError("close() of %s raised" % self.tag)


def stream(environ, start_response):
    q = _query(environ)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return Stream(q.get("tag", "stream"), int(q.get("blocks", "100000")))


def raises_midstream(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return Stream("midstream", 10, fail_at=3)


def close_raises(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(2 * 65536))])
    return Stream("close-raises", 2, close_raises=True)


def sys_exit(environ, start_response):
    sys.exit(4)


def returns_none(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return None


def returns_int(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return 42


def no_start_response(environ, start_response):
    return [b"never started"]


def yields_str(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"bytes first;"
    yield "then a str"


def echo_environ(environ, start_response):
    """Fuzzer target: every str in environ echoed; ?h=NAME:VALUE pairs become response headers."""
    lines = []
    for k, v in sorted(environ.items()):
        if isinstance(v, str):
            if type(v) is not str:
                raise TypeError("environ %s is a %s" % (k, type(v)))
            lines.append("%s=%r" % (k, v))
    try:
        body = environ["wsgi.input"].read(4096)
    except OSError:
        body = b""
    lines.append("body=%r" % body)
    headers = [("Content-Type", "text/plain; charset=latin-1")]
    qs = environ.get("QUERY_STRING", "")
    for k, v in urllib.parse.parse_qsl(qs, keep_blank_values=True, encoding="latin-1"):
        if k == "h" and ":" in v:
            headers.append(tuple(v.split(":", 1)))
    start_response("200 OK", headers)
    return ["\n".join(lines).encode("latin-1", "replace")]


def latin1_echo(environ, start_response):
    keys = ["PATH_INFO", "QUERY_STRING", "REQUEST_URI", "HTTP_X_RAW"]
    out = {k: environ.get(k) for k in keys}
    out["types_ok"] = all(type(v) is str for k, v in environ.items() if k.isupper())
    body = json.dumps(out).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def inject(environ, start_response):
    """CR/LF injection through the status line and header names and values."""
    kind = environ.get("QUERY_STRING", "")
    status, headers = "200 OK", [("Content-Type", "text/plain")]
    if kind == "value":
        headers.append(("X-Inject", "ok\r\nSet-Cookie: injected=1"))
    elif kind == "name":
        headers.append(("X-Inject\r\nSet-Cookie", "injected=1"))
    elif kind == "status":
        status = "200 OK\r\nSet-Cookie: injected=1"
    elif kind == "lf":
        headers.append(("X-Inject", "ok\nSet-Cookie: injected=1"))
    start_response(status, headers)
    return [b"app body"]
