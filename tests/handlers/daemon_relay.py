"""Applications for tests/daemon_relay.rs: responses whose heads and bodies
a child relays from its daemon."""


def many(environ, start_response):
    """More header fields than most responses: 40, two of them Set-Cookie."""
    headers = [("Content-Type", "text/plain; charset=utf-8")]
    headers += [("X-Field-%02d" % i, "value %d" % i) for i in range(36)]
    headers += [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Spaced", "  kept inside  ")]
    data = b"many fields"
    headers.append(("Content-Length", str(len(data))))
    start_response("299 Quite Fine Indeed", headers)
    return [data]


def pieces(environ, start_response):
    """A body without a length, in pieces (the daemon sends it chunked)."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    for i in range(5):
        yield b"piece %d;" % i


def small(environ, start_response):
    data = b"small:" + environ.get("PATH_INFO", "").encode()
    start_response("201 Made", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
