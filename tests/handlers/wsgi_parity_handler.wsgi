"""A WSGIHandlerScript for tests/wsgi_parity.rs: serves any resource mapped
to its handler name, reading the file the request names."""


def handle_request(environ, start_response):
    target = environ["SCRIPT_FILENAME"]
    with open(target, "rb") as f:
        data = f.read()
    import mod_wsgi
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("X-Group", environ["mod_wsgi.application_group"]),
                              ("X-Mod-Wsgi", "%d.%d.%d" % mod_wsgi.version)])
    return [b"handled " + target.rsplit("/", 1)[-1].encode() + b": " + data]


def application(environ, start_response):
    start_response("500 Wrong Callable", [])
    return [b"application is not the handler script's entry point"]
