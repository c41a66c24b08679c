"""WSGI applications for the adapter tests. Most are wrapped in
wsgiref.validate.validator, which raises (and so fails the request) whenever
the server side breaks PEP 3333."""
import json
import os
import sys
import threading
import time
from wsgiref.validate import validator

LOADED_AT = time.time()
LOADED_PID = os.getpid()
CLOSED = []


def _json(start_response, obj, status="200 OK"):
    body = json.dumps(obj).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


@validator
def env(environ, start_response):
    out = {}
    for k, v in environ.items():
        if isinstance(v, (str, bool, int, float)):
            out[k] = v
        elif isinstance(v, tuple):
            out[k] = list(v)
    out["_types_ok"] = all(type(v) is str for k, v in environ.items() if k.isupper())
    out["_has_file_wrapper"] = "wsgi.file_wrapper" in environ
    out["_loaded_pid"] = LOADED_PID
    out["_pid"] = os.getpid()
    environ["wsgi.errors"].write("wsgi.errors line from env app\n")
    return _json(start_response, out)


def raw_env(environ, start_response):
    """Unvalidated: reports exactly the str values (for latin-1 checks)."""
    keys = ["PATH_INFO", "QUERY_STRING", "HTTP_X_RAW", "SCRIPT_NAME", "REQUEST_URI"]
    body = "\n".join("%s=%s" % (k, environ.get(k, "<missing>")) for k in keys)
    data = body.encode("latin-1")
    start_response("200 OK", [("Content-Type", "text/plain; charset=latin-1")])
    return [data]


@validator
def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello WSGI!"]


def input_ops(environ, start_response):
    # Not validated: wsgiref's validator insists on read(size), and this
    # checks the forms applications use besides (read(), readline(n)...).
    inp = environ["wsgi.input"]
    mode = environ.get("QUERY_STRING", "")
    out = []
    if mode == "read":
        out.append(inp.read())
        out.append(inp.read())
        out.append(inp.read(10))
    elif mode == "chunks":
        while True:
            c = inp.read(7)
            if not c:
                break
            out.append(c)
        out.append(inp.read(0))
    elif mode == "lines":
        out.append(inp.readline())
        out.append(inp.readline(3))
        out.append(inp.readline())
        out.extend(inp.readlines())
        out.append(inp.readline())
    elif mode == "hint":
        out.extend(inp.readlines(5))
        out.append(b"|")
        out.append(inp.read())
    elif mode == "iter":
        for line in inp:
            out.append(line)
    body = repr(out).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


def input_disconnect(environ, start_response):
    try:
        environ["wsgi.input"].read()
        what = "read returned"
    except OSError as e:
        what = "OSError: %s" % e
    sys.stderr.write("input_disconnect saw %s\n" % what)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [what.encode()]


class Tracked:
    """An iterable whose close() is recorded."""
    def __init__(self, name, items, fail_at=None):
        self.name, self.items, self.fail_at = name, items, fail_at

    def __iter__(self):
        for i, item in enumerate(self.items):
            if self.fail_at == i:
                raise RuntimeError("iterable failed at item %d" % i)
            yield item
            if self.name == "slow":
                time.sleep(0.05)

    def close(self):
        CLOSED.append(self.name)


def generator(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Tracked("gen", [b"one,", b"two,", b"", b"three"])


def fails_midstream(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Tracked("midstream", [b"first block;"] * 2 + [b"x"], fail_at=2)


def fails_before_headers(environ, start_response):
    return Tracked("before", [b"never"], fail_at=0)


def slow_stream(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Tracked("slow", [b"x" * 65536] * 200)


def closed(environ, start_response):
    return _json(start_response, CLOSED)


def raises(environ, start_response):
    raise ValueError("wsgi app failure 777")


def bad_status(environ, start_response):
    kind = environ["QUERY_STRING"]
    status = {"nodigits": "OK", "short": "20 OK", "ctl": "200 O\x01K", "nonlatin": "200 \u2603",
              "bytes": b"200 OK", "newline": "200 OK\r\nX: y"}[kind]
    start_response(status, [("Content-Type", "text/plain")])
    return [b"should not be sent"]


def bad_headers(environ, start_response):
    kind = environ["QUERY_STRING"]
    headers = {
        "crlf": [("X-Bad", "a\r\nSet-Cookie: injected=1")],
        "lf": [("X-Bad", "a\nb")],
        "tuple": (("Content-Type", "text/plain"),),
        "notpair": [("Content-Type",)],
        "bytesname": [(b"X-A", "v")],
        "nonlatin": [("X-Snow", "\u2603")],
        "badname": [("Bad Name", "v")],
        "cl": [("Content-Length", "abc")],
    }[kind]
    start_response("200 OK", headers)
    return [b"should not be sent"]


def twice(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        start_response("500 Oops", [])
        return [b"second call was allowed"]
    except Exception as e:
        return [("second call refused: %s" % type(e).__name__).encode()]


def exc_info_before(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "1")])
    try:
        raise KeyError("boom")
    except KeyError:
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
    return [b"replaced"]


def exc_info_after(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"already sent;")
    try:
        raise KeyError("late")
    except KeyError:
        start_response("500 Oops", [("Content-Type", "text/plain")], sys.exc_info())
    return [b"not reached"]


@validator
def write_callable(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"from write;")
    return [b"from iterable;", b"end"]


def not_bytes(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["a str, not bytes"]


def too_long(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"12345", b"6789"]


@validator
def head(environ, start_response):
    body = b"body for GET only"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


class NoReadFile:
    """A real file whose read() must never be called: proves file buckets are used."""
    def __init__(self, path):
        self.f = open(path, "rb")

    def fileno(self):
        return self.f.fileno()

    def tell(self):
        return self.f.tell()

    def seek(self, *a):
        return self.f.seek(*a)

    def read(self, *a):
        raise AssertionError("read() called: the file did not go through httpd's file buckets")

    def close(self):
        CLOSED.append("file")
        self.f.close()


def file_wrapper(environ, start_response):
    path = os.path.join(os.path.dirname(__file__), "..", "htdocs", "big.bin")
    f = NoReadFile(path)
    if environ["QUERY_STRING"] == "offset":
        f.seek(1000)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](f, 8192)


def file_wrapper_pipe(environ, start_response):
    import io
    start_response("200 OK", [("Content-Type", "text/plain")])
    return environ["wsgi.file_wrapper"](io.BytesIO(b"not a real file, read in blocks"), 4)


def prints(environ, start_response):
    try:
        print("printed to stdout by a WSGI app")
        sys.stdout.flush()
        what = b"printed"
    except OSError as e:
        what = ("OSError: %s" % e).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [what]


application = hello
