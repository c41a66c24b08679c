"""Handlers for tests/early_send.rs: a small finished page is on the wire
before httpd logs the request and looks for the client's next one."""
import os
import threading
import time

from mod_python import apache


def page(req):
    """Answers with the OS thread serving the request."""
    req.content_type = "text/plain"
    req.write(str(threading.get_native_id()))
    return apache.OK


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(threading.get_native_id()).encode()]


def wait_for_marker(req):
    """Log phase: when the query names a marker file, waits (up to 20 s) for
    the test to create it, which it does only after it has read this
    request's response and sent its next request."""
    marker = req.args
    if marker:
        deadline = time.time() + 20
        while not os.path.exists(marker) and time.time() < deadline:
            time.sleep(0.01)
    return apache.OK
