"""WSGI applications for the daemon-mode tests (tests/daemon_*.rs)."""
import json
import os
import time

# A module global: each daemon group has its own copy (its own processes).
MARK = {"set_by": None}
LOADED_AT = time.time()


def info(environ, start_response):
    """Where the request ran and what the environ says."""
    if environ.get("QUERY_STRING", "").startswith("set="):
        MARK["set_by"] = environ["QUERY_STRING"][4:]
    keys = ("mod_wsgi.process_group", "mod_wsgi.application_group", "wsgi.multiprocess",
            "wsgi.multithread", "REMOTE_ADDR", "SERVER_PORT", "SERVER_PROTOCOL", "HTTP_HOST",
            "HTTP_CONNECTION", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "REQUEST_METHOD",
            "CONTENT_LENGTH", "HTTP_X_TEST", "REMOTE_PORT", "SERVER_ADDR")
    body = {k: environ.get(k) for k in keys}
    import builtins
    body.update(pid=os.getpid(), ppid=os.getppid(), uid=os.getuid(), mark=MARK["set_by"],
                imported=getattr(builtins, "PYRITE_TEST_IMPORTED", None), sys_prefix=__import__("sys").prefix,
                cwd=os.getcwd(), lang=os.environ.get("LANG"))
    data = json.dumps(body).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def echo(environ, start_response):
    """Streams the request body back, read in pieces, with its length and a checksum."""
    import hashlib
    h = hashlib.sha256()
    n = 0
    inp = environ["wsgi.input"]
    while True:
        block = inp.read(65536)
        if not block:
            break
        h.update(block)
        n += len(block)
    data = ("%d %s" % (n, h.hexdigest())).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [data]


def big(environ, start_response):
    """A large streamed response: ?n blocks of 64 KiB, each a repeated digit."""
    n = int(environ.get("QUERY_STRING") or "64")
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    for i in range(n):
        yield (b"%d" % (i % 10)) * 65536


def slow(environ, start_response):
    """Answers after ?seconds (default 1)."""
    time.sleep(float(environ.get("QUERY_STRING") or "1"))
    data = b"slow %d" % os.getpid()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [data]


def ignore_input(environ, start_response):
    """Answers with a large body without reading the request body (the deadlock case)."""
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [b"x" * (4 << 20)]


def pid(environ, start_response):
    data = b"%d" % os.getpid()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [data]


import threading

_gathering = threading.Condition()
_arrived = 0
_computing = 0


def together(environ, start_response):
    """Waits (blocked, as on a database) until ?n requests are in at once, or
    20 s; says whether they all were."""
    global _arrived
    n = int(environ.get("QUERY_STRING") or "8")
    with _gathering:
        _arrived += 1
        _gathering.notify_all()
        met = _gathering.wait_for(lambda: _arrived >= n, timeout=20)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"together" if met else b"alone %d" % _arrived]


def compute(environ, start_response):
    """Computes for ?seconds without blocking (holds the GIL but for its switches)."""
    global _computing
    with _gathering:
        _computing += 1
    end = time.monotonic() + float(environ.get("QUERY_STRING") or "3")
    n = 0
    while time.monotonic() < end:
        n += 1
    with _gathering:
        _computing -= 1
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"computed"]


def computing(environ, start_response):
    """How many `compute` requests this daemon is running now."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%d" % _computing]
