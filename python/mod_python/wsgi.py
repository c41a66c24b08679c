"""mod_python's way of running a WSGI application:

    PythonHandler mod_python.wsgi
    PythonOption mod_python.wsgi.application mymodule::application
    PythonOption mod_python.wsgi.base_uri /app        (optional)

The application runs in mod_pyrite's PEP 3333 adapter, the same one
WSGIScriptAlias uses: environ values are latin-1 str, wsgi.file_wrapper sends
files through httpd, and exc_info is honoured.
"""
import _apache
from mod_python import apache


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
    return _apache.wsgi_call(req, app, base_uri.rstrip("/"))
