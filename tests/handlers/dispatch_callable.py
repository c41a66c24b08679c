"""WSGIDispatchScript: chooses the callable; None keeps the configured one."""


def callable_object(environ):
    if environ.get("QUERY_STRING") == "other":
        return "other"
    return None
