"""Handlers that fail in every way a handler can."""
from mod_python import apache


def raises(req):
    raise ValueError("deliberate failure 12345")


def raises_after_write(req):
    req.write("partial output")
    raise ValueError("failure after output")


def raises_after_buffered_write(req):
    req.write("buffered only", 0)
    raise ValueError("failure after buffered output")


def returns_string(req):
    return "not a status"


def returns_none(req):
    req.write("wrote then returned nothing", 0)


def returns_bool(req):
    return True


def returns_weird(req):
    return 12345


def rust_panic(req):
    import _apache
    _apache._panic_for_test()


def sys_exit(req):
    import sys
    sys.exit(3)


def ok(req):
    req.write("still serving")
    return apache.OK
