"""Handlers and a WSGI application for the metrics tests: known statuses,
a request that runs until the test releases it, and pyrite.metrics()."""
import json
import os
import time

import pyrite
from mod_python import apache


def handler(req):
    last = req.uri.rsplit("/", 1)[-1]
    if last == "ok":
        req.content_type = "text/plain"
        req.write("ok")
        return apache.OK
    if last == "missing":
        return apache.HTTP_NOT_FOUND
    if last == "boom":
        raise RuntimeError("deliberate failure for the metrics test")
    if last == "slow":
        # Runs until the test creates the release file (at most 20 s).
        release = req.get_options()["release"]
        deadline = time.time() + 20
        while not os.path.exists(release) and time.time() < deadline:
            time.sleep(0.02)
        req.write("released")
        return apache.OK
    if last == "py":
        req.content_type = "application/json"
        req.write(json.dumps(pyrite.metrics()))
        return apache.OK
    return apache.HTTP_BAD_REQUEST


def application(environ, start_response):
    body = b"wsgi ok"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
