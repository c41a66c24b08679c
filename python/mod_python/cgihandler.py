"""mod_python.cgihandler for mod_pyrite: runs a CGI script (req.filename)
inside the httpd child.

The script gets the CGI environment in ``os.environ``, the request body on
``sys.stdin`` and writes its CGI response (header lines, a blank line, the
body) to ``sys.stdout``; ``Status:``, ``Content-Type:`` and ``Location:``
mean what the CGI specification says. These are process-wide, so scripts run
one at a time in a child (a lock), and everything swapped is put back however
the script ends.
"""
import builtins
import io
import os
import sys
import threading

from mod_python import apache

# One script at a time: sys.stdin/stdout, os.environ, the working directory
# and sys.argv belong to the whole process.
_lock = threading.Lock()

# A script that never ends its header block is cut off here.
MAX_HEADER_BYTES = 64 * 1024


class _RequestBody(io.RawIOBase):
    """The request body, as the bytes under ``sys.stdin``."""

    def __init__(self, req):
        self.req = req

    def readable(self):
        return True

    def readinto(self, buf):
        data = self.req.read(len(buf))
        n = len(data)
        buf[:n] = data
        return n


class _CGIResponse(io.RawIOBase):
    """The bytes under ``sys.stdout``: the header block is parsed into the
    request, the rest is the body."""

    def __init__(self, req):
        self.req = req
        self.head = b""
        self.in_body = False
        self.error = None
        self.status_given = False
        self.location = None
        # Set when the script is over: later writes (a wrapper flushed when
        # it is collected) must not reach a request that has moved on.
        self.done = False

    def writable(self):
        return True

    def write(self, b):
        data = bytes(b)
        if self.done or self.error is not None:
            return len(data)
        if self.in_body:
            self.req.write(data, 0)
            return len(data)
        self.head += data
        end = _header_end(self.head)
        if end is None:
            if len(self.head) > MAX_HEADER_BYTES:
                self.error = "no end of the CGI header block in the first %d bytes" % MAX_HEADER_BYTES
            return len(data)
        block, body = self.head[: end[0]], self.head[end[1]:]
        self.head = b""
        self.in_body = True
        self._headers(block)
        if body and self.error is None:
            self.req.write(body, 0)
        return len(data)

    def finish(self):
        """After the script: a header block without the blank line still counts."""
        if not self.in_body and self.error is None:
            if self.head.strip():
                self._headers(self.head)
            else:
                self.error = "the script wrote no CGI header"
            self.in_body = True

    def _headers(self, block):
        for raw in block.split(b"\n"):
            line = raw.rstrip(b"\r").decode("latin-1")
            if not line.strip():
                continue
            name, sep, value = line.partition(":")
            if not sep or not name.strip() or name != name.strip():
                self.error = "malformed header from script: %r" % line[:200]
                return
            value = value.strip()
            lname = name.lower()
            if lname == "status":
                try:
                    self.req.status = int(value.split(None, 1)[0])
                    self.status_given = True
                except (ValueError, IndexError):
                    self.error = "bad Status header from script: %r" % value[:200]
                    return
            elif lname == "content-type":
                self.req.content_type = value
            elif lname == "location":
                self.location = value
                self.req.headers_out["Location"] = value
            else:
                self.req.headers_out.add(name, value)


def _header_end(head):
    """(end of the header block, start of the body), or None when not yet seen."""
    ends = [(i, i + n) for i, n in ((head.find(b"\n\n"), 2), (head.find(b"\n\r\n"), 3)) if i >= 0]
    return min(ends) if ends else None


def _swap_environ(new):
    """Makes ``os.environ`` show ``new``; returns the function that puts it back.
    Only Python's view changes: the C environment (read by other threads of
    the child) is left alone."""
    env = os.environ
    data = getattr(env, "_data", None)
    if isinstance(data, dict) and hasattr(env, "encodekey") and hasattr(env, "encodevalue"):
        saved = dict(data)
        data.clear()
        for k, v in new.items():
            data[env.encodekey(str(k))] = env.encodevalue(str(v))

        def restore():
            data.clear()
            data.update(saved)
        return restore
    saved = dict(env)
    env.clear()
    env.update(new)

    def restore_plain():
        env.clear()
        env.update(saved)
    return restore_plain


def _run_script(path, env, stdin, stdout):
    """Runs the script at ``path`` as ``__main__`` with the CGI globals in
    place, restoring them afterwards whatever happens."""
    directory = os.path.dirname(path)
    saved = (sys.stdin, sys.stdout, sys.argv, list(sys.path), os.getcwd())
    modules_before = set(sys.modules)
    restore_environ = _swap_environ(env)
    try:
        sys.stdin, sys.stdout, sys.argv = stdin, stdout, [path]
        sys.path.insert(0, directory)
        os.chdir(directory)
        with open(path, "rb") as f:
            code = compile(f.read(), path, "exec", dont_inherit=True)
        scope = {"__name__": "__main__", "__file__": path, "__builtins__": builtins}
        try:
            exec(code, scope)
        except SystemExit:
            pass  # a CGI script may end with sys.exit(); its output stands
        stdout.flush()
    finally:
        restore_environ()
        sys.stdin, sys.stdout, sys.argv = saved[0], saved[1], saved[2]
        sys.path[:] = saved[3]
        try:
            os.chdir(saved[4])
        except OSError:
            pass
        # Helper modules beside the script are read afresh next time, as a
        # CGI process would.
        prefix = directory.rstrip(os.sep) + os.sep
        for name in set(sys.modules) - modules_before:
            origin = getattr(sys.modules.get(name), "__file__", None) or ""
            if origin.startswith(prefix):
                del sys.modules[name]


def _streams(req):
    """(stdin, stdout, response): text streams over the request body and a
    CGI response writer, and the writer itself (its finish() ends the head)."""
    response = _CGIResponse(req)
    stdout = io.TextIOWrapper(io.BufferedWriter(response), encoding="utf-8", newline="\n")
    stdin = io.TextIOWrapper(io.BufferedReader(_RequestBody(req)), encoding="utf-8",
                             errors="surrogateescape")
    return stdin, stdout, response


def handler(req):
    """``PythonHandler mod_python.cgihandler``: runs req.filename as a CGI script."""
    path = req.filename
    if not path or not os.path.isfile(path):
        raise apache.SERVER_RETURN(apache.HTTP_NOT_FOUND)
    env = apache.build_cgi_env(req)
    stdin, stdout, response = _streams(req)
    try:
        with _lock:
            _run_script(path, env, stdin, stdout)
    finally:
        response.done = True
    response.finish()
    if response.error is not None:
        req.log_error("mod_python.cgihandler: %s: %s" % (path, response.error), apache.APLOG_ERR)
        return apache.HTTP_INTERNAL_SERVER_ERROR
    if response.location and not response.status_given:
        if response.location.startswith("/"):
            # A local path: the CGI specification's internal redirect.
            req.internal_redirect(response.location)
            return apache.OK
        req.status = apache.HTTP_MOVED_TEMPORARILY
    return apache.OK
