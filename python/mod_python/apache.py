"""mod_python.apache for mod_pyrite: return codes, log levels, the table type,
SERVER_RETURN and the module-level helpers handlers use.

The request dispatch itself runs in mod_pyrite's Rust core; this module is what
handler code sees.
"""
import sys
import os
import time
import importlib

import _apache

# ---- handler return codes --------------------------------------------------
OK = REQ_PROCEED = 0
DECLINED = PROG_TRACEBACK = REQ_NOACTION = -1
DONE = -2
SUSPENDED = -3

# ---- HTTP status codes -----------------------------------------------------
HTTP_CONTINUE = 100
HTTP_SWITCHING_PROTOCOLS = 101
HTTP_PROCESSING = 102
HTTP_EARLY_HINTS = 103
HTTP_OK = 200
HTTP_CREATED = 201
HTTP_ACCEPTED = 202
HTTP_NON_AUTHORITATIVE = 203
HTTP_NO_CONTENT = 204
HTTP_RESET_CONTENT = 205
HTTP_PARTIAL_CONTENT = 206
HTTP_MULTI_STATUS = 207
HTTP_ALREADY_REPORTED = 208
HTTP_IM_USED = 226
HTTP_MULTIPLE_CHOICES = 300
HTTP_MOVED_PERMANENTLY = 301
HTTP_MOVED_TEMPORARILY = 302
HTTP_SEE_OTHER = 303
HTTP_NOT_MODIFIED = 304
HTTP_USE_PROXY = 305
HTTP_TEMPORARY_REDIRECT = 307
HTTP_PERMANENT_REDIRECT = 308
HTTP_BAD_REQUEST = 400
HTTP_UNAUTHORIZED = 401
HTTP_PAYMENT_REQUIRED = 402
HTTP_FORBIDDEN = 403
HTTP_NOT_FOUND = 404
HTTP_METHOD_NOT_ALLOWED = 405
HTTP_NOT_ACCEPTABLE = 406
HTTP_PROXY_AUTHENTICATION_REQUIRED = 407
HTTP_REQUEST_TIME_OUT = 408
HTTP_CONFLICT = 409
HTTP_GONE = 410
HTTP_LENGTH_REQUIRED = 411
HTTP_PRECONDITION_FAILED = 412
HTTP_REQUEST_ENTITY_TOO_LARGE = 413
HTTP_REQUEST_URI_TOO_LARGE = 414
HTTP_UNSUPPORTED_MEDIA_TYPE = 415
HTTP_RANGE_NOT_SATISFIABLE = 416
HTTP_IM_A_TEAPOT = 418
HTTP_EXPECTATION_FAILED = 417
HTTP_MISDIRECTED_REQUEST = 421
HTTP_UNPROCESSABLE_ENTITY = 422
HTTP_LOCKED = 423
HTTP_FAILED_DEPENDENCY = 424
HTTP_UPGRADE_REQUIRED = 426
HTTP_PRECONDITION_REQUIRED = 428
HTTP_TOO_MANY_REQUESTS = 429
HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE = 431
HTTP_UNAVAILABLE_FOR_LEGAL_REASONS = 451
HTTP_INTERNAL_SERVER_ERROR = 500
HTTP_NOT_IMPLEMENTED = 501
HTTP_BAD_GATEWAY = 502
HTTP_SERVICE_UNAVAILABLE = 503
HTTP_GATEWAY_TIME_OUT = 504
HTTP_VERSION_NOT_SUPPORTED = 505
HTTP_VARIANT_ALSO_VARIES = 506
HTTP_INSUFFICIENT_STORAGE = 507
HTTP_LOOP_DETECTED = 508
HTTP_NOT_EXTENDED = 510
HTTP_NETWORK_AUTHENTICATION_REQUIRED = 511

# ---- error log levels ------------------------------------------------------
APLOG_EMERG = 0
APLOG_ALERT = 1
APLOG_CRIT = 2
APLOG_ERR = 3
APLOG_WARNING = 4
APLOG_NOTICE = 5
APLOG_INFO = 6
APLOG_DEBUG = 7
APLOG_NOERRNO = 16  # accepted for compatibility; it changes nothing in httpd 2.4

# ---- method numbers (req.method_number) --------------------------------------
M_GET = 0
M_PUT = 1
M_POST = 2
M_DELETE = 3
M_CONNECT = 4
M_OPTIONS = 5
M_TRACE = 6
M_PATCH = 7
M_PROPFIND = 8
M_PROPPATCH = 9
M_MKCOL = 10
M_COPY = 11
M_MOVE = 12
M_LOCK = 13
M_UNLOCK = 14
M_VERSION_CONTROL = 15
M_CHECKOUT = 16
M_UNCHECKOUT = 17
M_CHECKIN = 18
M_UPDATE = 19
M_LABEL = 20
M_REPORT = 21
M_MKWORKSPACE = 22
M_MKACTIVITY = 23
M_BASELINE_CONTROL = 24
M_MERGE = 25
M_INVALID = 26

# ---- req.get_remote_host() lookup types --------------------------------------
REMOTE_HOST = 0
REMOTE_NAME = 1
REMOTE_NOLOOKUP = 2
REMOTE_DOUBLE_REV = 3

# ---- MPM queries (apache.mpm_query) ------------------------------------------
AP_MPMQ_NOT_SUPPORTED = 0
AP_MPMQ_STATIC = 1
AP_MPMQ_DYNAMIC = 2
AP_MPMQ_MAX_DAEMON_USED = 1
AP_MPMQ_IS_THREADED = 2
AP_MPMQ_IS_FORKED = 3
AP_MPMQ_HARD_LIMIT_DAEMONS = 4
AP_MPMQ_HARD_LIMIT_THREADS = 5
AP_MPMQ_MAX_THREADS = 6
AP_MPMQ_MIN_SPARE_DAEMONS = 7
AP_MPMQ_MIN_SPARE_THREADS = 8
AP_MPMQ_MAX_SPARE_DAEMONS = 9
AP_MPMQ_MAX_SPARE_THREADS = 10
AP_MPMQ_MAX_REQUESTS_DAEMON = 11
AP_MPMQ_MAX_DAEMONS = 12
AP_MPMQ_MPM_STATE = 13
AP_MPMQ_IS_ASYNC = 14
AP_MPMQ_GENERATION = 15
AP_MPMQ_STARTING = 0
AP_MPMQ_RUNNING = 1
AP_MPMQ_STOPPING = 2

# ---- finfo tuples (req.finfo, apache.stat) -------------------------------------
FINFO_MODE = 0
FINFO_INO = 1
FINFO_DEV = 2
FINFO_NLINK = 3
FINFO_UID = 4
FINFO_GID = 5
FINFO_SIZE = 6
FINFO_ATIME = 7
FINFO_MTIME = 8
FINFO_CTIME = 9
FINFO_FNAME = 10
FINFO_NAME = 11
FINFO_FILETYPE = 12

# APR file types (finfo[FINFO_FILETYPE])
APR_NOFILE = 0
APR_REG = 1
APR_DIR = 2
APR_CHR = 3
APR_BLK = 4
APR_PIPE = 5
APR_LNK = 6
APR_SOCK = 7
APR_UNKFILE = 127

# what apache.stat(fname, wanted) asks APR for (apr_file_info.h)
APR_FINFO_LINK = 0x00000001
APR_FINFO_MTIME = 0x00000010
APR_FINFO_CTIME = 0x00000020
APR_FINFO_ATIME = 0x00000040
APR_FINFO_SIZE = 0x00000100
APR_FINFO_CSIZE = 0x00000200
APR_FINFO_DEV = 0x00001000
APR_FINFO_INODE = 0x00002000
APR_FINFO_NLINK = 0x00004000
APR_FINFO_TYPE = 0x00008000
APR_FINFO_USER = 0x00010000
APR_FINFO_GROUP = 0x00020000
APR_FINFO_UPROT = 0x00100000
APR_FINFO_GPROT = 0x00200000
APR_FINFO_WPROT = 0x00400000
APR_FINFO_ICASE = 0x01000000
APR_FINFO_NAME = 0x02000000
APR_FINFO_MIN = 0x00008170
APR_FINFO_IDENT = 0x00003000
APR_FINFO_OWNER = 0x00030000
APR_FINFO_PROT = 0x00700000
APR_FINFO_NORM = 0x0073b170
APR_FINFO_DIRENT = 0x02000000

# ---- req.parsed_uri -------------------------------------------------------------
URI_SCHEME = 0
URI_HOSTINFO = 1
URI_USER = 2
URI_PASSWORD = 3
URI_HOSTNAME = 4
URI_PORT = 5
URI_PATH = 6
URI_QUERY = 7
URI_FRAGMENT = 8

# ---- req.proxyreq --------------------------------------------------------------
PROXYREQ_NONE = 0
PROXYREQ_PROXY = 1
PROXYREQ_REVERSE = 2
PROXYREQ_RESPONSE = 3

# ---- req.used_path_info, req.read_body, conn.keepalive (httpd.h) -----------------
AP_REQ_ACCEPT_PATH_INFO = 0
AP_REQ_REJECT_PATH_INFO = 1
AP_REQ_DEFAULT_PATH_INFO = 2
REQUEST_NO_BODY = 0
REQUEST_CHUNKED_ERROR = 1
REQUEST_CHUNKED_DECHUNK = 2
AP_CONN_UNKNOWN = 0
AP_CONN_CLOSE = 1
AP_CONN_KEEPALIVE = 2

# ---- content types httpd gives a meaning (httpd.h) -------------------------------
CGI_MAGIC_TYPE = "application/x-httpd-cgi"
INCLUDES_MAGIC_TYPE = "text/x-server-parsed-html"
INCLUDES_MAGIC_TYPE3 = "text/x-server-parsed-html3"
DIR_MAGIC_TYPE = "httpd/unix-directory"

# ---- old names of the return codes --------------------------------------------------
REQ_ABORTED = HTTP_INTERNAL_SERVER_ERROR
REQ_EXIT = "REQ_EXIT"

SERVER_RETURN = _apache.SERVER_RETURN
MODULE_MAGIC_NUMBER_MAJOR = _apache.MODULE_MAGIC_NUMBER_MAJOR
MODULE_MAGIC_NUMBER_MINOR = _apache.MODULE_MAGIC_NUMBER_MINOR
mpm_query = _apache.mpm_query
server_root = _apache.server_root
exists_config_define = _apache.exists_config_define
config_tree = _apache.config_tree
child_pool = _apache.child_pool
stat = _apache.stat
register_cleanup = _apache.register_cleanup
table = _apache.table
mp_table = _apache.table


def make_table(*args, **kw):
    """A new, empty table (mod_python's old spelling of ``table()``)."""
    return table(*args, **kw)


def log_error(message, level=APLOG_ERR, server=None):
    """Writes ``message`` to httpd's error log (the server's, when one is given)."""
    _apache.log_error(str(message), level, server)


def _module_mtime(module):
    path = getattr(module, "__file__", None)
    if not path:
        return 0
    try:
        return os.path.getmtime(path)
    except OSError:
        return 0


def module_mtime(module):
    """The modification time of the file ``module`` was loaded from (0 when none)."""
    return _module_mtime(module)


def import_module(module_name, autoreload=1, log=0, path=None):
    """Imports ``module_name`` and returns it; with autoreload, a module whose
    file changed since it was loaded is reloaded (checked at most once a second).
    ``path`` restricts where the module may come from."""
    module = sys.modules.get(module_name)
    if module is not None and path:
        origin = getattr(module, "__file__", None) or ""
        if not any(origin.startswith(p) for p in path):
            module = None  # a different module of the same name
            del sys.modules[module_name]
    if module is None:
        if log:
            log_error("mod_python: importing module %r" % module_name, APLOG_NOTICE)
        if path:
            saved = sys.path[:]
            sys.path[:0] = [p for p in path if p not in sys.path]
            try:
                module = importlib.import_module(module_name)
            finally:
                sys.path[:] = saved
        else:
            module = importlib.import_module(module_name)
        module.__mtime__ = _module_mtime(module)
        module.__mtime_check__ = time.time()
        return module
    if autoreload:
        now = time.time()
        if now - module.__dict__.get("__mtime_check__", 0) > 1:
            module.__mtime_check__ = now
            mtime = _module_mtime(module)
            if mtime != module.__dict__.get("__mtime__", mtime):
                if log:
                    log_error("mod_python: reimporting module %r" % module_name, APLOG_NOTICE)
                module = importlib.reload(module)
                module.__mtime__ = mtime
            else:
                module.__mtime__ = mtime
    return module


def resolve_object(module, obj_str, arg=None, silent=0):
    """Follows a dotted path from ``module``; a class met on the way is
    instantiated with ``arg`` (mod_python's rule for ``module::Class.method``)."""
    obj = module
    for part in obj_str.split("."):
        parent = obj
        if silent and not hasattr(obj, part):
            return None
        if obj is module and not hasattr(module, part):
            raise AttributeError("module '%s' contains no '%s'"
                                 % (getattr(module, "__file__", module.__name__), part))
        obj = getattr(obj, part)
        if isinstance(parent, type):
            obj = getattr(parent(arg), part)
    return obj


def _resolve_for_request(module, obj_str, req):
    """Called by the dispatcher for object paths that pass through a class."""
    return resolve_object(module, obj_str, arg=req)


def _needs_instance(module, obj_str):
    """True when resolving ``obj_str`` meets a class before its last part, so
    the object must be resolved anew for every request."""
    obj = module
    parts = obj_str.split(".")
    for part in parts[:-1]:
        obj = getattr(obj, part)
        if isinstance(obj, type):
            return True
    return False


def _error_page(phase, handler, lines):
    """The body PythonDebug On sends: the traceback, HTML-escaped."""
    import html
    body = ['\n<pre>\nMod_python error: "%s %s"\n\n' % (html.escape(phase), html.escape(handler))]
    body.extend(html.escape(line) + "\n" for line in lines)
    body.append("</pre>\n")
    return "".join(body)


def build_cgi_env(req):
    """The CGI/1.1 environment of a request, as a dict (mod_python's helper)."""
    req.add_common_vars()
    req.add_cgi_vars()
    env = dict(req.subprocess_env.items())
    env["GATEWAY_INTERFACE"] = "Python-CGI/1.1"
    return env


def setup_cgi(req):
    """Makes the process look like a CGI one for ``req``: the CGI variables in
    ``os.environ`` (Python's view only), the request body on ``sys.stdin``, a
    CGI response writer (header lines, a blank line, the body) on
    ``sys.stdout``, ``sys.argv`` empty. Returns what ``restore_nocgi`` needs.
    These belong to the whole process: code using them runs one request at a
    time (mod_python.cgihandler holds a lock for that)."""
    from mod_python import cgihandler
    environ_before = dict(os.environ)
    merged = dict(environ_before)
    merged.update(build_cgi_env(req))
    restore_environ = cgihandler._swap_environ(merged)
    stdin, stdout, response = cgihandler._streams(req)
    stdout._pyrite_cgi = (response, restore_environ)
    saved = (environ_before, sys.stdin, sys.stdout)
    sys.stdin, sys.stdout, sys.argv = stdin, stdout, []
    return saved


def restore_nocgi(sav_env, si, so):
    """Undoes ``setup_cgi``: finishes the CGI response written so far and puts
    back ``os.environ``, ``sys.stdin`` and ``sys.stdout``."""
    out = sys.stdout
    response, restore_environ = getattr(out, "_pyrite_cgi", (None, None))
    try:
        if response is not None:
            out.flush()
            response.done = True
            response.finish()
            if response.error is not None:
                log_error("mod_python: CGI output: %s" % response.error, APLOG_ERR)
    finally:
        if restore_environ is not None:
            restore_environ()
        else:
            os.environ.clear()
            os.environ.update(sav_env)
        sys.stdin, sys.stdout = si, so


class global_lock:
    """``with apache.global_lock(key):`` holds the cross-process lock for key."""

    def __init__(self, key, index=-1):
        self.key, self.index = key, index

    def __enter__(self):
        _apache._global_lock(main_server, self.key, self.index)
        return self

    def __exit__(self, *exc):
        _apache._global_unlock(main_server, self.key, self.index)
        return False


main_server = None  # set per child by mod_pyrite


def __getattr__(name):
    # apache.interpreter: in mod_python each interpreter has its own copy of
    # this module, so the name is where the calling code runs. A
    # sub-interpreter gets its name set when it is made; in the main one
    # (a single site, or main_interpreter) it is the running request's name.
    if name == "interpreter":
        return _apache._current_interpreter()
    raise AttributeError("module 'mod_python.apache' has no attribute %r" % (name,))
