"""Handlers that look at req.hlist, req.add_handler and req.interpreter."""
from mod_python import apache


def _entry(h):
    return "%s|%s|%s|%s" % (h.handler, h.directory, h.is_location, h.silent)


def show(req):
    parent = req.hlist.parent
    req.write(_entry(req.hlist) + "|parent=%s" % (parent and parent.handler))
    return apache.OK


def walk(req):
    # req.hlist.next() moves the object it is called on only.
    h = req.hlist
    seen = []
    while h.handler is not None:
        seen.append(h.handler)
        h.next()
    req.write(",".join(seen) + ";")
    return apache.OK


def second(req):
    req.write("second;")
    return apache.OK


def add_with_dir(req):
    # A directory given in a non-canonical form comes back canonical, ending in '/'.
    req.add_handler("PythonHandler", "hlists::show", req.get_options()["adddir"] + "/./x/..")
    return apache.OK


def access_adds(req):
    req.add_handler("PythonHandler", "hlists::phase_and_parent")
    return apache.OK


def phase_and_parent(req):
    req.write("%s added by %s" % (req.phase, req.hlist.parent.handler))
    return apache.OK


def sets_handler(req):
    if req.phase == "PythonFixupHandler":
        req.handler = "mod_python"
        req.handler = None
        req.handler = "mod_python"
        req.add_handler("PythonHandler", "hlists::sets_handler")
        return apache.OK
    req.write("content phase after req.handler was set")
    return apache.OK


def add_bad(req):
    req.log_error("add_bad running as " + req.hlist.handler)
    req.add_handler("PythonHandler", "hlists::no_such_function")
    return apache.OK


def bad_phase(req):
    try:
        req.add_handler("PythonNoSuchHandler", "hlists::show")
    except IndexError as e:
        req.write("IndexError: %s" % e)
    return apache.OK


def ext_py(req):
    req.write("ext list;")
    return apache.OK


def plain(req):
    req.write("plain list;")
    return apache.OK


def inner(req):
    req.write("inner plain list;")
    return apache.OK


def trans(req):
    if req.uri.startswith("/trans-static"):
        req.filename = req.document_root() + "/index.txt"
        return apache.OK
    return apache.DECLINED


def interp(req):
    req.write(req.interpreter)
    return apache.DONE


def authen_alice(req):
    req.user = "alice"
    return apache.OK


def requires(req):
    req.write(repr(req.requires()))
    return apache.OK
