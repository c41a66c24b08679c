"""For PythonHandlerModule: only some phases have a function here."""


def fixuphandler(req):
    req.via_module = "fixup"
    return 0


def handler(req):
    req.write("module handler after %s" % getattr(req, "via_module", "nothing"))
    return 0
