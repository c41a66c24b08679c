"""The demo's WSGI application (served by WSGIScriptAlias)."""


def application(environ, start_response):
    body = (
        "Hello from a WSGI application on mod_pyrite!\n\n"
        "SCRIPT_NAME: %s\nPATH_INFO:   %s\nserver:      %s\n"
        % (environ["SCRIPT_NAME"], environ["PATH_INFO"], environ["SERVER_SOFTWARE"])
    ).encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]
