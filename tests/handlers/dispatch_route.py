"""WSGIDispatchScript: picks the application group from the path, and the
daemon process group when the query asks for one."""

SEEN = {"calls": 0}


def application_group(environ):
    SEEN["calls"] += 1
    path = environ.get("PATH_INFO", "")
    if path.startswith("/alpha"):
        return "alpha"
    if path.startswith("/beta"):
        return "beta"
    return None


def process_group(environ):
    query = environ.get("QUERY_STRING", "")
    if query.startswith("group="):
        return query[6:]
    return None
