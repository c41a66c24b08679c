"""mod_python's way of running a WSGI application:

    PythonHandler mod_python.wsgi
    PythonOption mod_python.wsgi.application mymodule::application
    PythonOption mod_python.wsgi.base_uri /app        (optional)

The application runs in mod_pyrite's PEP 3333 adapter, the same one
WSGIScriptAlias uses (environ values are latin-1 str, wsgi.file_wrapper sends
files through httpd, exc_info is honoured), with what mod_python's handler
gives applications on top:

- ``wsgi.input`` is the request object itself (it has ``read``, ``readline``
  and ``readlines``) and ``wsgi.errors`` is ``sys.stderr`` (the error log);
- the iterable may yield ``str`` as well as ``bytes``: text is sent as UTF-8,
  as ``req.write`` sends it (mod_python's manual shows ``return [output]``
  with a ``str``).
"""
import sys

import _apache
from mod_python import apache


class _Body:
    """The application's iterable with str items sent as UTF-8; close() is
    passed on as PEP 3333 requires."""

    def __init__(self, result):
        self._result = result
        self._items = iter(result)

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self._items)
        if isinstance(item, str):
            return item.encode("utf-8")
        return item

    def close(self):
        close = getattr(self._result, "close", None)
        if close is not None:
            close()


def _as_mod_python(req, app):
    def application(environ, start_response):
        environ["wsgi.input"] = req
        environ["wsgi.errors"] = sys.stderr
        result = app(environ, start_response)
        if isinstance(result, list):
            return [i.encode("utf-8") if isinstance(i, str) else i for i in result]
        if isinstance(result, (bytes, bytearray)) or type(result) is _apache.FileWrapper:
            return result  # a file wrapper keeps its path through httpd
        return _Body(result)

    return application


def handler(req):
    options = req.get_options()
    spec = options.get("mod_python.wsgi.application") or options.get("wsgi.application")
    if not spec:
        req.log_error("mod_python.wsgi: PythonOption mod_python.wsgi.application is not set "
                      "(e.g. PythonOption mod_python.wsgi.application mysite.wsgi::application)")
        return apache.HTTP_INTERNAL_SERVER_ERROR
    module_name, _, callable_name = spec.partition("::")
    autoreload = req.get_config().get("PythonAutoReload", "1") == "1"
    module = apache.import_module(module_name, autoreload=autoreload)
    app = getattr(module, callable_name or "application")
    base_uri = options.get("mod_python.wsgi.base_uri")
    if base_uri is None:
        # The <Location> the handler was declared in, as mod_python does.
        base_uri = req._pyrite_location or ""
    return _apache.wsgi_call(req, _as_mod_python(req, app), base_uri.rstrip("/"))
