"""An application run through mod_python's WSGI handler (PythonHandler mod_python.wsgi)."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s|%s|%s" % (environ["SCRIPT_NAME"], environ["PATH_INFO"], environ["wsgi.url_scheme"])).encode()]
