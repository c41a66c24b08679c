"""Handlers for every request phase."""
import os

from mod_python import apache

SCRATCH = None


def _scratch(req):
    return req.get_options()["scratch"]


def postreadrequesthandler(req):
    req.seen = ["postread"]
    return apache.OK


def transhandler(req):
    if req.uri == "/trans-me":
        req.filename = req.get_options()["docs"] + "/index.txt"
        return apache.OK
    return apache.DECLINED


def _mark(req, name):
    if not hasattr(req, "seen"):
        req.seen = []
    req.seen.append(name)


def headerparser(req):
    _mark(req, "headerparser")
    return apache.OK


def init(req):
    _mark(req, "init")
    return apache.OK


def access_ok(req):
    _mark(req, "access")
    return apache.OK


def access_deny(req):
    return apache.HTTP_FORBIDDEN


def authen(req):
    pw = req.get_basic_auth_pw()
    if req.user == "alice" and pw == "secret":
        _mark(req, "authen")
        return apache.OK
    return apache.HTTP_UNAUTHORIZED


def authen_no_user(req):
    return apache.OK


def authz(req):
    _mark(req, "authz")
    return apache.OK if req.user == "alice" else apache.HTTP_FORBIDDEN


def typehandler(req):
    _mark(req, "type")
    req.content_type = "text/x-pyrite"
    return apache.OK


def fixup_declines(req):
    _mark(req, "fixup1")
    return apache.DECLINED


def fixup(req):
    _mark(req, "fixup2")
    req.headers_out["X-Fixup"] = "yes"
    return apache.OK


def handler(req):
    _mark(req, "handler")
    req.write(",".join(req.seen))
    req.write(" user=%s" % req.user)
    req.write(" ctype=%s" % req.content_type)
    return apache.OK


def loghandler(req):
    with open(os.path.join(_scratch(req), "log.txt"), "a") as f:
        f.write("logged %s %d\n" % (req.uri, req.status))
    return apache.OK


def cleanuphandler(req):
    with open(os.path.join(_scratch(req), "cleanup.txt"), "a") as f:
        f.write("cleanup %s\n" % req.uri)
    return apache.OK


def _callable_cleanup(path):
    with open(path, "a") as f:
        f.write("register_cleanup ran\n")


def with_cleanup(req):
    req.register_cleanup(_callable_cleanup, os.path.join(_scratch(req), "registered.txt"))
    req.write("registered")
    return apache.OK
