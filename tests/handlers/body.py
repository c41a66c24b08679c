"""Handlers that read the request body."""
import hashlib

from mod_python import apache


def echo(req):
    data = req.read()
    req.content_type = "application/octet-stream"
    req.headers_out["X-Read-Len"] = str(len(data))
    req.write(data, 0)
    return apache.OK


def digest(req):
    h = hashlib.sha256()
    total = 0
    while True:
        chunk = req.read(65536)
        if not chunk:
            break
        h.update(chunk)
        total += len(chunk)
    req.write("%d %s" % (total, h.hexdigest()))
    return apache.OK


def lines(req):
    out = []
    first = req.readline()
    out.append(first)
    limited = req.readline(3)
    out.append(limited)
    out.extend(req.readlines())
    out.append(req.read())
    req.write(repr(out))
    return apache.OK


def after_end(req):
    first = req.read()
    again = req.read()
    line = req.readline()
    req.write("%d %r %r" % (len(first), again, line))
    return apache.OK
