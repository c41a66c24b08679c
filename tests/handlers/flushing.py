"""Handlers for tests/held_flush.rs: what a flushing req.write looks like to
the client when the handler returns at once, keeps working, or changes its
mind afterwards."""
import os
import sys
import time

from mod_python import apache


def page(req):
    req.content_type = "text/plain"
    req.write("Hello")
    return apache.OK


def two_writes(req):
    req.content_type = "text/plain"
    req.write("a")
    req.write("b")
    req.flush()
    return apache.OK


def stream(req):
    """Writes part1, then waits (up to 20 s) for the test to create the marker
    file, which it does only after it has received part1."""
    marker = req.args
    req.content_type = "text/plain"
    req.write("part1\n")
    deadline = time.time() + 20
    while not os.path.exists(marker) and time.time() < deadline:
        time.sleep(0.02)
    req.write("part2\n" if os.path.exists(marker) else "timeout\n")
    return apache.OK


def head_after(req):
    """Changes the status and a header after a flush: too late, as with any flush."""
    req.content_type = "text/plain"
    req.write("x")
    req.status = 500
    req.headers_out["X-Late"] = "1"
    return apache.OK


def raise_after(req):
    req.content_type = "text/plain"
    req.write("partial")
    raise ValueError("after the flush")


def not_found_after(req):
    req.content_type = "text/plain"
    req.write("x")
    return apache.HTTP_NOT_FOUND


def profiled(req):
    """Under a profiler the flush happens at once (the response is chunked)."""
    sys.setprofile(lambda *a: None)
    try:
        req.content_type = "text/plain"
        req.write("p")
    finally:
        sys.setprofile(None)
    return apache.OK


def not_flushed(req):
    req.content_type = "text/plain"
    req.write("n", 0)
    return apache.OK
