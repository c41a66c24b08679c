"""Applications for tests/wsgi_parity.rs: what a mod_wsgi application sees and
does (types, the mod_wsgi module, start_response's errors, restrictions).
One application, routed by PATH_INFO."""
import io
import json
import os
import sys
from urllib.parse import parse_qs


def qualname(v):
    t = v if isinstance(v, type) else type(v)
    return t.__module__ + "." + t.__name__


def reply(start_response, body, status="200 OK"):
    if isinstance(body, str):
        body = body.encode()
    start_response(status, [("Content-Type", "text/plain")])
    return [body]


def error_text(e):
    return "%s:%s" % (type(e).__name__, e)


BAD_HEADERS = {
    "str": "X-Foo: value",
    "tuple": (("X-Foo", "value"),),
    "dict": {"X-Foo": "value"},
    "empty-name": [("", "value")],
    "space-name": [("X Foo", "value")],
    "tab-name": [("X\tFoo", "value")],
    "crlf-value": [("X-Foo", "a\r\nSet-Cookie: x=1")],
    "int-name": [(42, "value")],
    "non-latin1": [("X-Foo", "\u65e5\u672c")],
    "not-a-tuple": ["X-Foo: value"],
    "three": [("a", "b", "c")],
}
READS = []


class CountingFile(io.FileIO):
    """A real file that counts the reads Python makes of it."""

    def read(self, n=-1):
        READS.append(n)
        return super().read(n)


BAD_STATUS = {"no-digits": "OK", "four-digits": "2000 OK", "no-space": "200OK", "ctl": "200 OK\r\nX: y"}


LENT = {"ref": None, "kept": []}


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    case = parse_qs(environ.get("QUERY_STRING", "")).get("case", [""])[0]

    if path == "/bad-headers":
        try:
            start_response("200 OK", BAD_HEADERS[case])
        except Exception as e:
            return reply(start_response, error_text(e))
        return reply(start_response, "accepted")

    if path == "/bad-status":
        try:
            start_response(BAD_STATUS[case], [])
        except Exception as e:
            return reply(start_response, error_text(e))
        return reply(start_response, "accepted")

    if path == "/bad-exc-info":
        try:
            start_response("200 OK", [], "not-a-tuple")
        except RuntimeError as e:
            return reply(start_response, error_text(e))
        return reply(start_response, "accepted")

    if path == "/second-before-output":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "1")])
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-Second", "2")])
        return [b"second wins"]

    if path == "/second-after-output":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"sent;")
        try:
            start_response("500 Oops", [])
        except RuntimeError as e:
            write(error_text(e).encode())
        return []

    if path == "/types":
        import mod_wsgi
        errors = environ["wsgi.errors"]
        errors.buffer.write(b"PARITY_BYTES\n")
        errors.buffer.write(bytearray(b"PARITY_BYTEARRAY\n"))
        errors.buffer.write(memoryview(b"PARITY_MEMORYVIEW\n"))
        errors.buffer.writelines([b"PARITY_WL_A\n", memoryview(b"PARITY_WL_B\n")])
        sys.stdout.buffer.write(b"PARITY_STDOUT_BUFFER\n")
        sys.stderr.write("PARITY_STDERR_TEXT\n")
        return reply(start_response, json.dumps({
            "input": qualname(environ["wsgi.input"]),
            "errors": qualname(errors),
            "errors_buffer": qualname(errors.buffer),
            "file_wrapper": qualname(environ["wsgi.file_wrapper"]),
            "stdout": qualname(sys.stdout),
            "stderr": qualname(sys.stderr),
            "environ_version": list(environ["mod_wsgi.version"]),
            "thread_id": environ["mod_wsgi.thread_id"],
            "module": {
                "version": list(mod_wsgi.version),
                "process_group": mod_wsgi.process_group,
                "application_group": mod_wsgi.application_group,
                "maximum_processes": mod_wsgi.maximum_processes,
                "threads_per_process": mod_wsgi.threads_per_process,
                "input_class": mod_wsgi.Input is type(environ["wsgi.input"]),
            },
            "request_rec": qualname(environ["apache.request_rec"]) if "apache.request_rec" in environ else None,
        }))

    if path == "/errors-lent":
        # What a thread's next request gets as wsgi.errors after this one:
        # ?then=keep holds the stream, ?then=change reconfigures it and sets
        # an attribute, ?then=leave lets it go. A weak reference sees whether
        # the next request got the very same object, without holding it.
        import weakref
        errors = environ["wsgi.errors"]
        before = LENT["ref"]() if LENT["ref"] else None
        report = {
            "same_as_last": before is errors,
            "kept_is_other": all(k is not errors for k in LENT["kept"]),
            "errors": errors.errors,
            "line_buffering": errors.line_buffering,
            "attr": getattr(errors, "soak_attr", None),
            "name": errors.buffer.name,
        }
        then = parse_qs(environ.get("QUERY_STRING", "")).get("then", ["leave"])[0]
        if then == "keep":
            LENT["kept"].append(errors)
        elif then == "change":
            errors.reconfigure(errors="strict", line_buffering=True)
            errors.soak_attr = 1
        LENT["ref"] = weakref.ref(errors)
        errors.write("errors-lent %s\n" % then)
        return reply(start_response, json.dumps(report))

    if path == "/errors-write-kept":
        # Writes through the streams earlier requests kept (their requests are over).
        for k in LENT["kept"]:
            k.write("PARITY_KEPT_STREAM\n")
        return reply(start_response, "%d" % len(LENT["kept"]))

    if path == "/method":
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("X-Method-Seen", environ["REQUEST_METHOD"])])
        return [b"method=" + environ["REQUEST_METHOD"].encode()]

    if path == "/system-exit":
        raise SystemExit("parity-exit-message")

    if path == "/bytes-then-int":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"bytes-ok", 12345]

    if path == "/stdin":
        try:
            sys.stdin.read
            return reply(start_response, "stdin:" + qualname(sys.stdin))
        except OSError as e:
            return reply(start_response, "%s|%s" % (qualname(sys.stdin), error_text(e)))

    if path == "/stdout":
        try:
            print("PARITY_PRINTED")
            return reply(start_response, "printed")
        except OSError as e:
            return reply(start_response, error_text(e))

    if path == "/signal":
        import signal
        try:
            before = signal.getsignal(signal.SIGUSR2)
            signal.signal(signal.SIGUSR2, lambda *a: None)
            after = signal.getsignal(signal.SIGUSR2)
            return reply(start_response, "unchanged" if after is before else "changed")
        except Exception as e:
            return reply(start_response, error_text(e))

    if path == "/flags":
        return reply(start_response, json.dumps({
            "optimize": sys.flags.optimize,
            "dont_write_bytecode": sys.dont_write_bytecode,
            "warnoptions": sys.warnoptions,
            "hash": hash("mod_pyrite parity"),
            "egg_cache": os.environ.get("PYTHON_EGG_CACHE"),
        }))

    if path == "/not-found":
        return reply(start_response, "the application's own 404 page", "404 Not Found")

    if path == "/file":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](CountingFile(__file__), 4096)

    if path == "/file-reads":
        return reply(start_response, str(len(READS)))

    if path == "/atexit":
        import atexit
        target = parse_qs(environ.get("QUERY_STRING", "")).get("file", [""])[0]

        def at_exit():
            with open(target, "w") as f:
                f.write("atexit ran in %d" % os.getpid())

        atexit.register(at_exit)
        return reply(start_response, "registered")

    if path == "/modules":
        return reply(start_response, json.dumps(sorted(m for m in sys.modules if m.startswith("parity_"))))

    return reply(start_response, "unknown path " + path, "404 Not Found")


def handler(req):
    """mod_python's view (PythonHandler wsgi_parity): is signal.signal the
    real one, and is there a mod_wsgi module?"""
    import signal
    req.content_type = "text/plain"
    try:
        import mod_wsgi
        found = "mod_wsgi %s" % (mod_wsgi.version,)
    except ImportError:
        found = "no mod_wsgi"
    req.write("%s.%s|%s" % (signal.signal.__module__, signal.signal.__qualname__, found))
    return 0
