"""Echoes the request's own token with where it ran: shows no cross-talk."""
import os
import threading
import time

from mod_python import apache

_local = threading.local()


def handler(req):
    token = req.args or ""
    seen = getattr(_local, "count", 0)
    _local.count = seen + 1
    if token.endswith("slow"):
        time.sleep(0.01)
    req.content_type = "text/plain"
    req.write("%s %d %d %d" % (token, os.getpid(), threading.get_ident(), _local.count), 0)
    return apache.OK
