"""Reports the process globals cgihandler swaps, to show they were restored."""
import os
import sys

from mod_python import apache


def handler(req):
    req.content_type = "text/plain"
    req.write("stdout=%s stdin=%s cgi_env=%s cwd=%s argv=%s path0=%s\n" % (
        type(sys.stdout).__name__, type(sys.stdin).__name__,
        "REQUEST_METHOD" in os.environ, os.getcwd(), sys.argv, sys.path[0]))
    return apache.OK
