"""A WSGI application that says in the error log when it is loaded and when
its atexit function runs (tests/daemon_mode.rs: a daemon's exit runs them)."""
import atexit
import os
import sys
import time

print("daemon_atexit loaded in %d" % os.getpid(), file=sys.stderr)
HANG = []


@atexit.register
def _bye():
    print("daemon_atexit: atexit ran in %d" % os.getpid(), file=sys.stderr)
    if HANG:
        time.sleep(600)


def application(environ, start_response):
    """Answers its pid; ?hang makes the atexit function hang."""
    if environ.get("QUERY_STRING") == "hang":
        HANG.append(1)
    data = b"%d" % os.getpid()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [data]
