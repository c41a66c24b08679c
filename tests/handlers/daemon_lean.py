"""Applications and an access script for tests/daemon_lean.rs: what a daemon
sees of a request whose child ran httpd's request cycle for it."""
import json
import os

KEYS = ("mod_wsgi.process_group", "mod_wsgi.application_group", "SCRIPT_NAME", "PATH_INFO",
        "QUERY_STRING", "REQUEST_METHOD", "SCRIPT_FILENAME", "FROM_LOCATION", "HTTP_X_TEST",
        "REMOTE_ADDR", "SERVER_NAME", "SERVER_PORT", "wsgi.url_scheme")


def env(environ, start_response):
    body = {k: environ.get(k) for k in KEYS}
    body["pid"] = os.getpid()
    data = json.dumps(body).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def fail(environ, start_response):
    raise RuntimeError("the application failed on purpose")


def missing(environ, start_response):
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"the application's own 404 body"]


def allow_access(environ, host):
    """Notes each call (the process that made it) beside this file's directory."""
    log = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scratch", "access.log")
    with open(log, "a") as f:
        f.write("%d\n" % os.getpid())
    return True


def file(environ, start_response):
    """A file of the scratch directory through wsgi.file_wrapper: ?name[&skip=N][&length=N][&bytesio=1]."""
    from urllib.parse import parse_qs
    q = parse_qs(environ.get("QUERY_STRING", ""))
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scratch", q["name"][0])
    f = open(path, "rb")
    if "skip" in q:
        f.seek(int(q["skip"][0]))
    if "bytesio" in q:
        import io
        f = io.BytesIO(f.read())
    headers = [("Content-Type", "application/octet-stream")]
    if "length" in q:
        headers.append(("Content-Length", q["length"][0]))
    start_response("200 OK", headers)
    return environ["wsgi.file_wrapper"](f, 65536)
