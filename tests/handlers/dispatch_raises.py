"""WSGIDispatchScript whose function raises: the request gets a clean 500."""


def application_group(environ):
    raise RuntimeError("dispatch script broke on purpose")
