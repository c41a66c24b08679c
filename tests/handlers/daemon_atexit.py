"""A WSGI application that says in the error log when it is loaded and when
its atexit function runs (tests/daemon_mode.rs: a daemon's exit runs them)."""
import atexit
import os
import sys

print("daemon_atexit loaded in %d" % os.getpid(), file=sys.stderr)


@atexit.register
def _bye():
    print("daemon_atexit: atexit ran in %d" % os.getpid(), file=sys.stderr)


def application(environ, start_response):
    data = b"%d" % os.getpid()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [data]
