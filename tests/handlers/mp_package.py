"""Fixtures for the parts of mod_python's package and request API that its own
test suite checks: every module of the package, the CGI variables, the
members of req/server/connection, tables, locks and the interpreter switches."""
import json
import sys

import _apache
from mod_python import apache
from mod_python.python22 import *  # noqa: F401,F403  (what mod_python's tests.py starts with)


def _json(req, value):
    req.content_type = "application/json"
    req.write(json.dumps(value, sort_keys=True))
    return apache.OK


def modules(req):
    import mod_python
    from mod_python import cache, httpdconf, testhandler, version, _psp  # noqa: F401
    calls = []

    def double(x):
        calls.append(x)
        return 2 * x

    memo = cache.FunctionCache(double, max_size=2)
    results = [memo(1), memo(1), memo(2), memo(3)]
    conf = httpdconf.Container(
        httpdconf.Listen("127.0.0.1:1"),
        httpdconf.Location("/app", httpdconf.SetHandler("mod_python"), httpdconf.PythonHandler("a.b")))
    again = eval(repr(conf), vars(httpdconf))
    return _json(req, {
        "argv": sys.argv,
        "version": version.version,
        "mp_version": mod_python.mp_version,
        "memo": results, "calls": calls, "lru": list(memo.lru()[0]),
        "conf": str(conf), "conf_again": str(again) == str(conf),
        "testhandler": callable(testhandler.handler),
        "psp": "req.write" in _psp.parsestring("hello"),
    })


def cgi_vars(req):
    before = set(req.subprocess_env.keys())
    req.add_cgi_vars()
    env = req.subprocess_env
    return _json(req, {"added": sorted(set(env.keys()) - before),
                       "values": {k: env.get(k) for k in ("HTTP_HOST", "HTTP_REFERER", "REMOTE_ADDR",
                                                          "CONTENT_TYPE", "CONTENT_LENGTH", "QUERY_STRING",
                                                          "SERVER_SOFTWARE", "GATEWAY_INTERFACE")}})


def members(req):
    s, c = req.server, req.connection
    t = apache.table({"a": "1"})
    t.add("a", "2")
    t.update({"b": 3})
    last = t.popitem()
    try:
        t.update(None)
        update_none = "no error"
    except AttributeError:
        update_none = "AttributeError"

    class Keys:
        def keys(self):
            return ["k"]

        def __getitem__(self, k):
            return "v"

    t.update(Keys())

    class Mine(apache.table):
        pass

    return _json(req, {
        "conn_type": str(type(c)), "server_type": str(type(s)),
        "path": s.path, "pathlen": s.pathlen, "names": list(s.names), "names_type": type(s.names).__name__,
        "content_languages": list(req.content_languages), "allowed_xmethods": list(req.allowed_xmethods),
        "allowed_methods": list(req.allowed_methods), "read_body": req.read_body,
        "double_reverse": c.double_reverse, "vlist_validator": req.vlist_validator,
        "no_local_copy": req.no_local_copy, "useragent_addr": list(req.useragent_addr),
        "mmn": apache.MODULE_MAGIC_NUMBER_MAJOR, "interpreter": [apache.interpreter, req.interpreter],
        "table": sorted(t.items()), "popped": list(last), "update_none": update_none,
        "subclass": type(Mine({"x": "y"})).__name__,
    })


def store_option():
    # PythonImport mp_package::store_option: runs at child start.
    apache.main_server.get_options()["stored_at_start"] = "yes from " + apache.interpreter


def read_option(req):
    req.write(str(apache.main_server.get_options().get("stored_at_start")))
    return apache.OK


def lock_int_key(req):
    _apache._global_lock(req.server, 1)
    _apache._global_unlock(req.server, 1)
    req.write("locked and unlocked")
    return apache.OK


def optimize(req):
    req.write("optimize=%d debug=%s" % (sys.flags.optimize, __debug__))
    return apache.OK


def ran(req):
    req.write("the handler ran; PythonEnablePdb=%s" % req.get_config().get("PythonEnablePdb"))
    return apache.OK


def wsgi_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    return ["input=%s errors_is_stderr=%s script=%s path=%s" % (
        type(environ["wsgi.input"]).__name__, environ["wsgi.errors"] is sys.stderr,
        environ["SCRIPT_NAME"], environ["PATH_INFO"]), b" body=", body]


def cgi_style(req):
    import os
    saved = apache.setup_cgi(req)
    try:
        body = sys.stdin.read()
        print("Status: 201 Created")
        print("Content-Type: text/plain")
        print()
        print("method=%s body=%s argv=%s" % (os.environ["REQUEST_METHOD"], body, sys.argv), end="")
    finally:
        apache.restore_nocgi(*saved)
    req.write(" after=%s" % ("REQUEST_METHOD" in os.environ))
    return apache.OK


def constants(req):
    finfo = apache.stat(req.document_root(), apache.APR_FINFO_MIN)
    return _json(req, {
        "dir": finfo[apache.FINFO_FILETYPE] == apache.APR_DIR,
        "values": [apache.REQUEST_NO_BODY, apache.AP_CONN_KEEPALIVE, apache.AP_REQ_DEFAULT_PATH_INFO,
                   apache.REQ_ABORTED, apache.REQ_NOACTION, apache.HTTP_IM_A_TEAPOT],
        "dir_type": apache.DIR_MAGIC_TYPE,
        "mtime": apache.module_mtime(sys.modules[__name__]) > 0,
    })
