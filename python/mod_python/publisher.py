"""mod_python.publisher for mod_pyrite: ``PythonHandler mod_python.publisher``
maps a URL to an object in a .py file and publishes it.

    /dir/page.py/obj/method?x=1  ->  page.py, then page.obj.method(x="1")
    /dir/page/func               ->  page.py, func
    /dir/func                    ->  index.py, func (no page.py of that name)
    /dir/ or /dir/page.py        ->  the page's ``index``

Rules, as in mod_python 3.5: a path part starting with ``_`` is refused
(403); modules, classes, builtins and code objects are neither traversed nor
published (403); objects of builtin types (functions, str, dict...) are
published but not traversed; a missing object is 404. Callables are called
with the form fields they accept (``util.apply_fs_data``); the result is
written as text/html when it ends with ``</html>``, else text/plain, unless
the handler set ``req.content_type``. ``__auth__``, ``__access__`` and
``__auth_realm__`` are honoured on the page module and on every object met
on the way, including ones defined inside a published function or method.
Pages are cached per file and loaded again when the file changes.
"""
import base64
import binascii
import dis
import functools
import hashlib
import hmac
import os
import re
import sys
import threading
import types

from mod_python import apache, util

_HTML_END = re.compile(r"</html\s*>\s*$", re.IGNORECASE)
_CHARSET = re.compile(r"charset\s*=\s*\"?([^\s;\"]+)", re.IGNORECASE)


# ---- the page cache ----------------------------------------------------------------

class PageCache:
    """Page modules by file name, loaded again when the file's mtime, size
    or inode changes (unless ``PythonAutoReload Off``). A page module gets a
    name of its own (``_mp_`` + a digest of its path), so pages with the same
    file name in different directories never meet."""

    def __init__(self):
        self._pages = {}
        self._lock = threading.Lock()

    def get(self, req, filename):
        config = req.get_config()
        autoreload = config.get("PythonAutoReload", "1") != "0"
        entry = self._pages.get(filename)
        if entry is not None and not autoreload:
            return entry[1]
        try:
            st = os.stat(filename)
        except OSError:
            raise apache.SERVER_RETURN(apache.HTTP_NOT_FOUND)
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if entry is not None and entry[0] == stamp:
            return entry[1]
        with self._lock:
            entry = self._pages.get(filename)
            if entry is not None and entry[0] == stamp:
                return entry[1]
            if config.get("PythonDebug", "0") == "1":
                verb = "reloading" if entry is not None else "loading"
                req.log_error("mod_python.publisher: %s page %s" % (verb, filename), apache.APLOG_NOTICE)
            module = _load_page(filename)
            self._pages[filename] = (stamp, module)
            return module

    def clear(self):
        with self._lock:
            self._pages.clear()


def _load_page(filename):
    """A fresh module executed from the file (no bytecode cache: a rewritten
    file is always read anew)."""
    name = "_mp_" + hashlib.md5(filename.encode("utf-8", "surrogateescape")).hexdigest()
    with open(filename, "rb") as f:
        source = f.read()
    code = compile(source, filename, "exec", dont_inherit=True)
    module = types.ModuleType(name)
    module.__file__ = filename
    previous = sys.modules.get(name)
    # In sys.modules while it runs and after, as an imported module would be
    # (dataclasses, pickle and typing look their module up there).
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except BaseException:
        if previous is not None:
            sys.modules[name] = previous
        else:
            sys.modules.pop(name, None)
        raise
    return module


page_cache = PageCache()


def get_page(req, path):
    """The page module at ``path``, relative to the page being published
    (absolute paths as they are); loaded through the page cache."""
    base = os.path.dirname(req.filename or "")
    filename = os.path.normpath(path if os.path.isabs(path) else os.path.join(base, path))
    return page_cache.get(req, filename)


# ---- the handler --------------------------------------------------------------------

def handler(req):
    req.allow_methods(["GET", "POST", "HEAD"])
    if req.method not in ("GET", "POST", "HEAD"):
        raise apache.SERVER_RETURN(apache.HTTP_METHOD_NOT_ALLOWED)

    filename, func_path = _locate(req)
    if not filename.endswith(".py"):
        req.log_error("mod_python.publisher: %s is not a .py file; not published" % filename, apache.APLOG_WARNING)
        raise apache.SERVER_RETURN(apache.HTTP_NOT_FOUND)
    req.filename = filename
    module = page_cache.get(req, filename)

    realm, user, passwd = process_auth(req, module)
    obj = resolve_object(req, module, func_path, realm, user, passwd)
    published = publish_object(req, obj)
    if not published and req.get_config().get("PythonDebug", "0") == "1":
        req.log_error("mod_python.publisher: nothing to publish for %s" % req.unparsed_uri, apache.APLOG_NOTICE)
    return apache.OK


def _locate(req):
    """(the page's file name, the dotted object path) for the request."""
    filename = req.filename or ""
    path_info = req.path_info or ""
    if req.finfo is not None:
        # /dir/page.py[/obj...] or /dir/[obj...]: the file (or directory) exists.
        if req.finfo[apache.FINFO_FILETYPE] == apache.APR_DIR:
            filename = os.path.join(filename, "index.py")
        func_path = path_info[1:]
    elif os.path.isfile(filename + ".py"):
        # /dir/page[/obj...]
        filename += ".py"
        func_path = path_info[1:]
    else:
        # /dir/obj[/...]: an object of the directory's index.py
        directory, first = os.path.split(filename)
        filename = os.path.join(directory, "index.py")
        func_path = first + path_info
    func_path = func_path.replace("/", ".")
    if func_path.endswith("."):
        func_path = func_path[:-1]
    return os.path.normpath(filename), func_path or "index"


# ---- authentication -----------------------------------------------------------------

_AUTH_NAMES = ("__auth__", "__access__", "__auth_realm__")

# Stores into a function's own names (not attributes or items of other objects).
_NAME_STORES = ("STORE_FAST", "STORE_DEREF", "STORE_NAME", "STORE_GLOBAL", "STORE_FAST_STORE_FAST", "STORE_FAST_LOAD_FAST")


class _Computed:
    """An __auth__ or __access__ a function computes when it runs: it cannot
    be known without running the function, so the request is refused."""

    def __repr__(self):
        return "<computed at run time>"


_COMPUTED = _Computed()


class _NestedFunction:
    """A function defined inside a published function (its code object)."""

    def __init__(self, code):
        self.code, self.defaults, self.kwdefaults, self.closure = code, None, None, False

    def set_attribute(self, flag, value):
        """What MAKE_FUNCTION's flags (or SET_FUNCTION_ATTRIBUTE) attach."""
        if flag & 0x01:
            self.defaults = value
        elif flag & 0x02:
            self.kwdefaults = value
        elif flag & 0x08:
            self.closure = True

    def build(self, globals_):
        if self.closure:
            raise RuntimeError("a nested %s uses variables of its enclosing function; "
                               "the publisher cannot call it without running that function" % self.code.co_name)
        fn = types.FunctionType(self.code, globals_, self.code.co_name, self.defaults)
        if self.kwdefaults:
            fn.__kwdefaults__ = self.kwdefaults
        return fn


@functools.lru_cache(maxsize=1024)
def _nested_auth(code):
    """{name: value} for __auth__, __access__ and __auth_realm__ assigned in a
    function's body, read from its bytecode without running it: literals
    (constants, dict/list/tuple/set displays) and nested defs. Anything else
    assigned to them is _COMPUTED (the request is then refused, never let
    through)."""
    names = set(code.co_varnames) | set(code.co_cellvars) | set(code.co_names)
    if not names.intersection(_AUTH_NAMES):
        return {}
    found = {}
    stack = []
    for ins in dis.get_instructions(code):
        op, arg = ins.opname, ins.arg
        if op in ("LOAD_CONST", "LOAD_SMALL_INT"):
            stack.append(ins.argval)
        elif op in ("BUILD_TUPLE", "BUILD_LIST", "BUILD_SET") and len(stack) >= arg:
            items = stack[len(stack) - arg:] if arg else []
            del stack[len(stack) - arg:]
            stack.append({"BUILD_TUPLE": tuple, "BUILD_LIST": list, "BUILD_SET": set}[op](items))
        elif op == "BUILD_MAP" and len(stack) >= 2 * arg:
            items = stack[len(stack) - 2 * arg:] if arg else []
            del stack[len(stack) - 2 * arg:]
            stack.append(dict(zip(items[0::2], items[1::2])))
        elif op == "BUILD_CONST_KEY_MAP" and len(stack) >= arg + 1 and isinstance(stack[-1], tuple):
            keys = stack.pop()
            values = stack[len(stack) - arg:]
            del stack[len(stack) - arg:]
            stack.append(dict(zip(keys, values)))
        elif op in ("LIST_EXTEND", "SET_UPDATE", "DICT_UPDATE") and arg == 1 and len(stack) >= 2:
            more = stack.pop()
            target = stack[-1]
            target.update(more) if isinstance(target, (set, dict)) else target.extend(more)
        elif op == "MAKE_FUNCTION":
            if len(stack) >= 2 and isinstance(stack[-1], str) and isinstance(stack[-2], types.CodeType):
                stack.pop()  # the qualified name (Python 3.10)
            if not stack or not isinstance(stack[-1], types.CodeType):
                stack.clear()
                continue
            fn = _NestedFunction(stack.pop())
            # Up to Python 3.12 the flags say which values lie below the code.
            for flag in (0x08, 0x04, 0x02, 0x01):
                if (arg or 0) & flag:
                    fn.set_attribute(flag, stack.pop() if stack else None)
            stack.append(fn)
        elif op == "SET_FUNCTION_ATTRIBUTE" and len(stack) >= 2 and isinstance(stack[-1], _NestedFunction):
            fn = stack.pop()
            fn.set_attribute(arg, stack.pop())
            stack.append(fn)
        elif op in _NAME_STORES:
            targets = ins.argval if isinstance(ins.argval, tuple) else (ins.argval,)
            for target in targets:
                if target in _AUTH_NAMES:
                    simple = stack and len(targets) == 1 and op != "STORE_FAST_LOAD_FAST"
                    found[target] = stack[-1] if simple else _COMPUTED
            stack.clear()
        elif op in ("NOP", "RESUME", "CACHE", "EXTENDED_ARG", "MAKE_CELL", "COPY_FREE_VARS"):
            continue
        else:
            stack.clear()
    return found


def _credentials(req):
    """(user, password) from a Basic Authorization header, or (None, None);
    400 for a malformed one."""
    header = req.headers_in.get("Authorization")
    if isinstance(header, list):
        header = header[0] if header else None
    if not header:
        return None, None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise apache.SERVER_RETURN(apache.HTTP_BAD_REQUEST)
    user, sep, passwd = raw.partition(b":")
    if not sep:
        raise apache.SERVER_RETURN(apache.HTTP_BAD_REQUEST)
    return util._decode(user), util._decode(passwd)


def _same(a, b):
    """String equality in constant time (for passwords)."""
    if not isinstance(a, str) or not isinstance(b, str):
        return a == b
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _challenge(req, realm):
    req.err_headers_out["WWW-Authenticate"] = 'Basic realm="%s"' % str(realm).replace('"', "'")
    raise apache.SERVER_RETURN(apache.HTTP_UNAUTHORIZED)


def process_auth(req, object, realm="unknown", user=None, passwd=None):
    """Checks ``object``'s __auth__ (401 with a Basic challenge) and
    __access__ (403); returns (realm, user, passwd) for the next step."""
    if user is None:
        user, passwd = _credentials(req)

    found = {}
    if isinstance(object, (types.FunctionType, types.MethodType)):
        fn = object.__func__ if isinstance(object, types.MethodType) else object
        for name in _AUTH_NAMES:
            if name in fn.__dict__:
                found[name] = fn.__dict__[name]
        for name, value in _nested_auth(fn.__code__).items():
            if value is _COMPUTED:
                req.log_error("mod_python.publisher: %s in %s is computed when the function runs; only a literal "
                              "or a nested def can be checked before calling it: refusing %s"
                              % (name, fn.__qualname__, req.unparsed_uri), apache.APLOG_ERR)
                raise apache.SERVER_RETURN(apache.HTTP_INTERNAL_SERVER_ERROR)
            found[name] = value.build(fn.__globals__) if isinstance(value, _NestedFunction) else value
    else:
        for name in _AUTH_NAMES:
            try:
                found[name] = getattr(object, name)
            except AttributeError:
                pass

    if "__auth_realm__" in found:
        realm = found["__auth_realm__"]

    if "__auth__" in found:
        auth = found["__auth__"]
        if user is None:
            _challenge(req, realm)
        if callable(auth):
            ok = auth(req, user, passwd)
        elif isinstance(auth, dict):
            ok = user in auth and _same(auth[user], passwd)
        else:
            ok = auth
        if not ok:
            _challenge(req, realm)
        req.user = user

    if "__access__" in found:
        access = found["__access__"]
        if callable(access):
            ok = access(req, user)
        elif isinstance(access, (list, tuple, set, frozenset)):
            ok = user in access
        else:
            ok = access
        if not ok:
            raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)

    return realm, user, passwd


# ---- traversal ------------------------------------------------------------------------

# Never published: importing a module, class or builtin into a page must not
# expose it, and code objects or frames mean nothing to a client.
_UNPUBLISHABLE = (
    types.ModuleType,
    type,
    types.BuiltinFunctionType,
    types.BuiltinMethodType,
    types.MethodWrapperType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
    types.CodeType,
    types.FrameType,
    types.TracebackType,
)


def _traversable(obj):
    """Only instances of classes written in Python are traversed: not
    modules, classes, functions or values of builtin types (str, dict...)."""
    return not isinstance(obj, type) and type(obj).__module__ != "builtins"


def _publishable(obj):
    return not isinstance(obj, _UNPUBLISHABLE)


def resolve_object(req, obj, object_str, realm=None, user=None, passwd=None):
    """Follows the dotted ``object_str`` from ``obj`` (the page module),
    checking authentication at every step; 403 for forbidden parts and
    types, 404 for missing ones."""
    for i, part in enumerate(object_str.split(".")):
        if not part:
            raise apache.SERVER_RETURN(apache.HTTP_NOT_FOUND)
        if part.startswith("_"):
            req.log_error("mod_python.publisher: cannot traverse %s in %s: it starts with an underscore"
                          % (part, req.unparsed_uri), apache.APLOG_WARNING)
            raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)
        if i > 0 and not _traversable(obj):
            req.log_error("mod_python.publisher: cannot traverse %s in %s: %s is not traversable"
                          % (part, req.unparsed_uri, type(obj).__name__), apache.APLOG_WARNING)
            raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise apache.SERVER_RETURN(apache.HTTP_NOT_FOUND)
        realm, user, passwd = process_auth(req, obj, realm or "unknown", user, passwd)

    if not _publishable(obj):
        req.log_error("mod_python.publisher: cannot publish %s in %s: a %s is not publishable"
                      % (object_str, req.unparsed_uri, type(obj).__name__), apache.APLOG_WARNING)
        raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)
    return obj


# ---- publishing -------------------------------------------------------------------------

def _form(req):
    form = getattr(req, "form", None)
    if form is None:
        form = req.form = util.FieldStorage(req, keep_blank_values=1)
    return form


def publish_object(req, obj):
    """Writes ``obj`` to the client: callables are called with the form and
    their result published, iterables item by item, None is nothing, text is
    encoded (the charset of req.content_type, else UTF-8). True when
    something was written."""
    if callable(obj) and not isinstance(obj, type):
        return publish_object(req, util.apply_fs_data(obj, _form(req), req=req))
    if obj is None:
        return False
    if isinstance(obj, (bytes, bytearray, memoryview)):
        data, text = bytes(obj), None
    elif isinstance(obj, str):
        data, text = None, obj
    elif hasattr(obj, "__iter__"):
        published = False
        for item in obj:
            published = publish_object(req, item) or published
        return published
    else:
        data, text = None, str(obj)

    charset = None
    if text is not None:
        if req._content_type_set:
            m = _CHARSET.search(req.content_type or "")
            if m:
                charset = m.group(1)
            else:
                charset = "UTF-8"
                req.content_type = (req.content_type or "text/plain") + "; charset=UTF-8"
        else:
            charset = "UTF-8"
        try:
            data = text.encode(charset)
        except LookupError:
            data = text.encode("UTF-8")

    if not req._content_type_set:
        tail = data[-100:].decode("latin-1")
        guessed = "text/html" if _HTML_END.search(tail) else "text/plain"
        req.content_type = guessed + ("; charset=%s" % charset if charset else "")

    # Not flushed: httpd can then give the response a Content-Length.
    req.write(data, 0)
    return True
