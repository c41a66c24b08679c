"""The ``mod_wsgi`` module applications import under mod_pyrite.

mod_wsgi puts a module of this name into every interpreter it starts, and
code checks it to learn where it runs (``import mod_wsgi`` succeeding means
"running inside httpd under mod_wsgi"). Where the configuration runs WSGI
scripts, mod_pyrite enters this module in ``sys.modules`` as ``mod_wsgi`` at
child start; a mod_python-only site does not see it, as under mod_python.
It holds the attributes mod_wsgi 4.9 documents. ``application_group`` is the
name of the interpreter the code runs in (the empty string, mod_wsgi's name
for ``%{GLOBAL}``, in the main one); ``process_group`` the daemon process
group's name in a daemon, empty in httpd's children.

The per-process numbers (``maximum_processes``, ``threads_per_process``) are
filled in when the process starts: from httpd's MPM in a child, from the
group's ``processes=`` and ``threads=`` in a daemon.
"""
import io
import sys

from _apache import FileWrapper, Input, Log, log_error

# The mod_wsgi release whose behaviour mod_pyrite follows.
version = (4, 9, 4)
process_group = ""
application_group = ""
maximum_processes = 1
threads_per_process = 1


class Restricted(object):
    """Stands in for sys.stdin or sys.stdout under WSGIRestrictStdin or
    WSGIRestrictStdout On: touching it in any way raises OSError, so code
    that would hang on a read or lose its output learns so at once."""

    def __init__(self, stream, directive):
        object.__setattr__(self, "_stream", stream)
        object.__setattr__(self, "_directive", directive)

    def __getattr__(self, name):
        raise OSError("%s access restricted by mod_pyrite (%s On); use the WSGI environ's "
                      "wsgi.input and wsgi.errors instead" % (self._stream, self._directive))

    def __setattr__(self, name, value):
        self.__getattr__(name)

    def __iter__(self):
        self.__getattr__("__iter__")

    def __repr__(self):
        return "<mod_wsgi.Restricted %s>" % self._stream


# Named as mod_wsgi names its types, whether or not the module is entered
# as mod_wsgi (code compares type names).
Restricted.__module__ = "mod_wsgi"


def _text_stream(raw):
    """A text stream over a Log (what sys.stdout, sys.stderr and
    wsgi.errors are): .buffer is the Log, which takes bytes."""
    return io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace",
                            write_through=True)


def _signal_intercept(signum, handler):
    """signal.signal under WSGIRestrictSignal On: httpd owns the child's
    signals, so the request is logged with where it came from and ignored."""
    import signal
    import traceback
    stack = "".join(traceback.format_stack(limit=8)[:-1]).rstrip()
    log_error("mod_pyrite: signal.signal(%r, ...) ignored: WSGIRestrictSignal On (httpd "
              "handles this process's signals)\n%s" % (signum, stack), 4)
    try:
        return signal.getsignal(signum)
    except Exception:
        return None


def _install(stdout_log, stderr_log, restrict_stdin, restrict_stdout, restrict_signal,
             as_mod_wsgi):
    """Called once per child at start-up."""
    if as_mod_wsgi:
        sys.modules["mod_wsgi"] = sys.modules[__name__]
    sys.stdout = Restricted("sys.stdout", "WSGIRestrictStdout") if restrict_stdout \
        else _text_stream(stdout_log)
    sys.stderr = _text_stream(stderr_log)
    if restrict_stdin:
        sys.stdin = Restricted("sys.stdin", "WSGIRestrictStdin")
    if restrict_signal:
        import signal
        signal.signal = _signal_intercept
