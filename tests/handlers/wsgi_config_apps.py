"""Applications for the WSGI configuration tests."""
import json
import os
import sys
import time

LOADED_AT = time.time()
LOADED_PID = os.getpid()


def info(environ, start_response):
    try:
        import on_wsgi_python_path
        extra = on_wsgi_python_path.MARK
    except ImportError:
        extra = None
    out = {
        "group": environ["mod_wsgi.application_group"],
        "auth": environ.get("HTTP_AUTHORIZATION"),
        "loaded_pid": LOADED_PID,
        "pid": os.getpid(),
        "loaded_before_first_request": environ["pyrite.request_start"] >= LOADED_AT,
        "python_path_mark": extra,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "sys_path": sys.path,
    }
    body = json.dumps(out).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def other_name(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"called other_name"]
