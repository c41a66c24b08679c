"""Says which process served the request and its thread's scheduling policy."""
import os


def application(environ, start_response):
    body = "%d %d" % (os.getpid(), os.sched_getscheduler(0))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
