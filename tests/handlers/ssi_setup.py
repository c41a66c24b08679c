"""Fills the globals of a page's #python elements before mod_include runs."""
from mod_python import apache


def fixuphandler(req):
    req.ssi_globals = {"greeting": "hi from the fixup"}
    return apache.OK
