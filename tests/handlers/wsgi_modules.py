"""Lists the modules a child has imported when it serves its first request."""
import sys


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [" ".join(sorted(sys.modules)).encode()]
