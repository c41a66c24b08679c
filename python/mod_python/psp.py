"""mod_python.psp for mod_pyrite: Python Server Pages.

A template is translated to Python by mod_pyrite's translator (``_psp``,
written in Rust), compiled once and cached by file (and the files it
includes) and modification time, then run with ``req``, ``psp``, ``form``
and ``session`` as globals. ``PythonHandler mod_python.psp`` serves ``.psp``
files; with ``PythonDebug On`` a URL ending in ``_`` shows the generated code
beside the template.
"""
import builtins
import html
import inspect
import os
import sys
import threading

import _psp
from mod_python import apache

__all__ = ["PSP", "PSPInterface", "parse", "parsestring", "handler"]

# Cached templates per child: at most this many of each kind.
CACHE_SIZE = 512


class _Cache:
    """A bounded map; when full, the least used quarter goes."""

    def __init__(self, size=CACHE_SIZE):
        self.size = size
        self.entries = {}
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            entry = self.entries.get(key)
            if entry is None:
                return None
            entry[0] += 1
            return entry[1]

    def put(self, key, value):
        with self.lock:
            self.entries[key] = [1, value]
            if len(self.entries) > self.size:
                by_use = sorted(self.entries.items(), key=lambda kv: kv[1][0])
                for k, _ in by_use[: len(self.entries) - int(self.size * 0.75)]:
                    del self.entries[k]

    def clear(self):
        with self.lock:
            self.entries.clear()


_file_cache = _Cache()    # filename -> (stamp, code)
_string_cache = _Cache()  # template text -> code


def _stamp(paths):
    """What must stay the same for a cached template to be current."""
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append((p, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((p, None, None))
    return tuple(out)


def _base_globals():
    # mod_python ran templates in a copy of its psp module's globals; these
    # are the names templates relied on without importing them.
    return {"__builtins__": builtins, "apache": apache, "sys": sys, "os": os}


def _apply_fs_data(obj, form, req=None, **kw):
    """Calls ``obj`` with the form fields its parameters name (all of them
    when it takes ``**kwargs``); ``req`` is passed to a parameter of that name."""
    try:
        params = inspect.signature(obj).parameters
    except (TypeError, ValueError):
        params = {}
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    args = {}
    for key in form.keys():
        if takes_all or key in params:
            value = form[key]
            args[key] = value
    if req is not None and "req" in params:
        args["req"] = req
    args.update(kw)
    return obj(**args)


class PSPInterface:
    """The ``psp`` object a template sees."""

    def __init__(self, req, filename, form):
        self.req = req
        self.filename = filename
        self.form = form
        self.error_page = None

    def _dir(self):
        return os.path.dirname(self.filename or self.req.filename or "")

    def set_error_page(self, page):
        """The page run (with ``exception`` = sys.exc_info()) when this one
        raises: ``/x.psp`` is under the document root, ``x.psp`` beside this page."""
        if page and page[0] == "/":
            path = self.req.document_root().rstrip("/") + page
        else:
            path = os.path.join(self._dir(), page)
        self.error_page = PSP(self.req, path)

    def apply_data(self, object, **kw):
        """Calls ``object`` with the request's form fields as keyword arguments."""
        if self.form is None:
            self.form = _form_of(self.req)
        try:
            from mod_python import util
            apply = getattr(util, "apply_fs_data", None)
        except ImportError:
            apply = None
        if apply is not None and not isinstance(self.form, dict):
            return apply(object, self.form, req=self.req, **kw)
        return _apply_fs_data(object, self.form, req=self.req, **kw)

    def redirect(self, location, permanent=0):
        """Redirects the client; only before any output was sent."""
        from mod_python import util
        util.redirect(self.req, location, permanent)


def _form_of(req):
    form = getattr(req, "form", None)
    if form is None:
        from mod_python import util
        form = util.FieldStorage(req, keep_blank_values=1)
        req.form = form
    return form


def _session_of(req):
    session = getattr(req, "session", None)
    if session is None:
        from mod_python import Session
        session = Session.Session(req)
        req.session = session
    return session


class PSP:
    """A PSP template from a file (``req.filename`` by default) or a string."""

    def __init__(self, req, filename=None, string=None, vars={}):
        if string is not None and filename is not None:
            raise ValueError("Must specify either filename or string")
        self.req, self.vars = req, vars
        self.string = string
        if string is None and filename is None:
            filename = req.filename
        if filename is not None and not os.path.isabs(filename):
            filename = os.path.join(os.path.dirname(req.filename or ""), filename)
        self.filename = filename
        if filename is not None:
            self.code = self._load_file(filename)
        else:
            self.code = self._load_string(string)

    @staticmethod
    def _load_file(filename):
        if not os.path.isfile(filename):
            raise ValueError("%s is not a file" % filename)
        cached = _file_cache.get(filename)
        if cached is not None:
            stamp, code = cached
            if _stamp(p for p, _, _ in stamp) == stamp:
                return code
        # The stamp is taken before reading, so an edit made meanwhile is seen next time.
        before = _stamp([filename])
        source, includes = _psp.translate(filename)
        code = compile(source, filename, "exec", dont_inherit=True)
        _file_cache.put(filename, (before + _stamp(includes), code))
        return code

    @staticmethod
    def _load_string(string):
        if isinstance(string, bytes):
            string = string.decode("utf-8")
        code = _string_cache.get(string)
        if code is None:
            code = compile(_psp.parsestring(string), "__psp__", "exec", dont_inherit=True)
            _string_cache.put(string, code)
        return code

    def run(self, vars={}, flush=0):
        """Runs the template; ``vars`` are extra globals (over those given to
        the constructor). ``session`` and ``form`` are made only when the
        template names them."""
        code, req = self.code, self.req
        session = _session_of(req) if "session" in code.co_names else None
        form = _form_of(req) if "form" in code.co_names else None
        psp = PSPInterface(req, self.filename, form)
        scope = _base_globals()
        scope.update({"req": req, "session": session, "form": form, "psp": psp})
        scope.update(self.vars)
        scope.update(vars)
        try:
            try:
                exec(code, scope)
                if flush:
                    req.flush()
                # Merely loading a session changes it (its access time).
                if session is not None:
                    session.save()
            except apache.SERVER_RETURN:
                raise  # a redirect or a status, not an error
            except Exception:
                if psp.error_page is None:
                    raise
                psp.error_page.run({"exception": sys.exc_info()}, flush)
        finally:
            if session is not None:
                session.unlock()

    def __str__(self):
        self.req.content_type = "text/html"
        self.run()
        return ""

    def display_code(self):
        """Writes an HTML table: the generated Python beside the template."""
        req = self.req
        if self.filename is not None:
            with open(self.filename, encoding="utf-8", errors="replace") as f:
                source = f.read()
            pycode = _psp.parse(self.filename)
            title = self.filename
        else:
            source = self.string
            pycode = _psp.parsestring(self.string)
            title = "string"

        def cell(s):
            return html.escape(s.rstrip()).replace("\t", " " * 4).replace(" ", "&nbsp;")

        left, right = pycode.splitlines(), source.splitlines()
        out = ["<table>\n<tr><td></td><td><tt>&nbsp;PSP-produced Python Code:</tt></td>"
               "<td><tt>&nbsp;%s:</tt></td></tr>\n" % html.escape(title)]
        for n in range(max(len(left), len(right))):
            py_line = cell(left[n]) if n < len(left) else ""
            psp_line = cell(right[n]) if n < len(right) else ""
            out.append("<tr><td><tt>%d.&nbsp;</tt></td><td><tt><font color=blue>%s</font></tt></td>"
                       "<td><tt>&nbsp;<font color=green>%s</font></tt></td></tr>\n" % (n + 1, py_line, psp_line))
        out.append("</table>\n")
        req.write("".join(out), 0)


def parse(filename, dir=None):
    """The Python source of a template file (``dir`` is prepended to a relative name)."""
    return _psp.parse(filename, dir)


def parsestring(str):
    """The Python source of a template held in a string."""
    return _psp.parsestring(str)


def handler(req):
    """``PythonHandler mod_python.psp``: serves the requested .psp file."""
    req.content_type = "text/html"
    debug = req.get_config().get("PythonDebug", "0") not in ("0", "", "Off", "off")
    filename = req.filename or ""
    if debug and filename.endswith("_"):
        if not os.path.isfile(filename[:-1]):
            raise apache.SERVER_RETURN(apache.HTTP_NOT_FOUND)
        PSP(req, filename[:-1]).display_code()
    else:
        if not os.path.isfile(filename):
            raise apache.SERVER_RETURN(apache.HTTP_NOT_FOUND)
        PSP(req).run()
    return apache.OK
