"""The application behind the WSGIDispatchScript tests (tests/wsgi_dispatch.rs)."""
import json

# A module global: each application group (interpreter) has its own.
MARK = {"set_by": None}


def _answer(start_response, body):
    data = json.dumps(body).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def application(environ, start_response):
    query = environ.get("QUERY_STRING", "")
    if query.startswith("set="):
        MARK["set_by"] = query[4:]
    return _answer(start_response, {
        "callable": "application",
        "application_group": environ.get("mod_wsgi.application_group"),
        "module_group": __import__("mod_wsgi").application_group,
        "process_group": environ.get("mod_wsgi.process_group"),
        "mark": MARK["set_by"],
        "marker": environ.get("mod_pyrite.dispatched"),
    })


def other(environ, start_response):
    return _answer(start_response, {
        "callable": "other",
        "application_group": environ.get("mod_wsgi.application_group"),
    })
