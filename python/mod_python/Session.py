"""mod_python.Session for mod_pyrite: sessions kept across requests by a
cookie, stored in this child's memory, in a dbm file or in one file per
session, and locked across processes while a request uses them.

The names, arguments and PythonOptions are mod_python 3.5's. Where this module
deliberately behaves differently (docs/migration.md lists each case):

- Session ids are 32 hex digits from ``secrets``; an id from a cookie or the
  ``sid`` argument that is not one is replaced by a new session (mod_python
  raised ValueError for a bad ``sid`` argument).
- The ``Session()`` factory picks MemorySession only for an MPM that is
  threaded and not forked; mod_python also picked it for a forked MPM limited
  to one child, whose sessions then vanish whenever that child is replaced.
- Creating a second session object for the same id in one request, or one
  whose id hashes onto the same global lock, shares the lock instead of
  deadlocking the request.
- ``PythonOption mod_python.session.cookie_httponly On`` makes the session
  cookie HttpOnly and ``mod_python.session.cookie_secure On`` adds Secure
  (mod_python had neither; both are off by default, as there). Its path is
  ``mod_python.session.application_path``, else ``/``.
- Records are written to a temporary file and renamed into place, and only
  files owned by the httpd user are unpickled.
- Expired sessions are deleted when met; the periodic cleanup (1 request in
  CLEANUP_CHANCE) runs after the response, skips its turn when another
  process is cleaning, and stops after ``cleanup_time_limit`` seconds.
"""
import dbm as _dbm_package
import errno
import fcntl
import os
import pickle
import random
import re
import secrets
import stat
import tempfile
import threading
import time

import _apache
from mod_python import apache, Cookie

COOKIE_NAME = "pysid"
DFT_TIMEOUT = 30 * 60
CLEANUP_CHANCE = 1000  # a cleanup is started by 1 session in CLEANUP_CHANCE

DFT_FAST_CLEANUP = True
DFT_VERIFY_CLEANUP = True
DFT_GRACE_PERIOD = 240
DFT_CLEANUP_TIME_LIMIT = 2

tempdir = tempfile.gettempdir()

_SID = re.compile(r"[0-9a-f]{32}\Z")


def _check_sid(sid):
    """True for an id this module could have made: 32 lower-case hex digits.
    Anything else (path separators, dots, over-long text) is never used."""
    return isinstance(sid, str) and _SID.match(sid) is not None


def _new_sid(req=None):
    return secrets.token_hex(16)


def _true(value, default):
    if value is None:
        return default
    return str(value).strip().lower() in ("1", "on", "true", "yes")


def _option(opts, names, default=None):
    """The first of ``names`` (current name first, then the pre-3.3 ones) set."""
    for name in names:
        if name in opts:
            return opts[name]
    return default


def _root_request(req):
    """The first request of a chain of internal redirects and subrequests:
    the session locks held by one client request are counted there."""
    seen = 0
    while seen < 100:
        parent = getattr(req, "main", None) or getattr(req, "prev", None)
        if parent is None:
            return req
        req, seen = parent, seen + 1
    return req


def _held_locks(req):
    root = _root_request(req)
    held = getattr(root, "_mp_session_locks", None)
    if held is None:
        held = {}
        root._mp_session_locks = held
    return held


def _owned_by_us(path):
    """Refuses data another user could have planted: unpickling it runs code."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return True
    return st.st_uid == os.geteuid() and not (st.st_mode & stat.S_IWOTH)


class BaseSession(dict):
    """A session: a dict whose contents last across requests that carry its
    cookie. Subclasses store it (do_load, do_save, do_delete, do_cleanup)."""

    def __init__(self, req, sid=None, secret=None, lock=1, timeout=0):
        dict.__init__(self)
        self._req, self._secret, self._lock = req, secret, lock
        self._sid = None
        self._new = True
        self._created = 0
        self._accessed = 0
        self._timeout = 0
        self._locked = False
        self._cleanup_registered = False
        self._invalid = False

        opts = req.get_options()
        self._cookie_name = _option(opts, ("mod_python.session.cookie_name", "session_cookie_name"), COOKIE_NAME)

        if not sid:
            if secret:
                cookie = Cookie.get_cookie(req, self._cookie_name, Class=Cookie.SignedCookie,
                                           secret=secret, mismatch=Cookie.Cookie.IGNORE)
            else:
                cookie = Cookie.get_cookie(req, self._cookie_name)
            if cookie is not None:
                sid = cookie.value
        if sid and not _check_sid(sid):
            req.log_error("mod_python.Session: ignored a malformed session id (%d characters); "
                          "a new session is made" % len(str(sid)), apache.APLOG_INFO)
            sid = None

        if sid:
            self._sid = sid
            self.lock()
            if self.load():
                self._new = False
        if self._new:
            if self._sid:
                self.unlock()
            self._sid = _new_sid(req)
            self.lock()
            Cookie.add_cookie(req, self.make_cookie())
            self._created = time.time()
            self._timeout = timeout or DFT_TIMEOUT
        self._accessed = time.time()

        if random.randint(1, CLEANUP_CHANCE) == 1:
            self.cleanup()

    # ---- the cookie -------------------------------------------------------
    def make_cookie(self):
        """The cookie that carries this session's id."""
        opts = self._req.get_options()
        if self._secret:
            c = Cookie.SignedCookie(self._cookie_name, self._sid, secret=self._secret)
        else:
            c = Cookie.Cookie(self._cookie_name, self._sid)
        domain = opts.get("mod_python.session.application_domain")
        if domain:
            c.domain = domain
        c.path = _option(opts, ("mod_python.session.application_path", "ApplicationPath"), "/")
        if _true(opts.get("mod_python.session.cookie_secure"), False):
            c.secure = True
        # Off by default as in mod_python: page scripts of existing sites may read it.
        if _true(opts.get("mod_python.session.cookie_httponly"), False):
            c.httponly = True
        samesite = opts.get("mod_python.session.cookie_samesite")
        if samesite:
            c.samesite = samesite
        return c

    # ---- state ------------------------------------------------------------
    def is_new(self):
        return self._new

    def id(self):
        return self._sid

    def created(self):
        return self._created

    def last_accessed(self):
        return self._accessed

    def timeout(self):
        return self._timeout

    def set_timeout(self, secs):
        self._timeout = secs

    def invalidate(self):
        """Deletes the session and tells the browser to drop its cookie."""
        c = self.make_cookie()
        c.expires = 0
        c.max_age = 0
        Cookie.add_cookie(self._req, c)
        self.delete()
        self._invalid = True

    def load(self):
        """Reads the stored session; False when there is none or it expired
        (an expired one is deleted)."""
        record = self.do_load()
        if not isinstance(record, dict):
            return False
        try:
            accessed, timeout = record["_accessed"], record["_timeout"]
            data = record["_data"]
        except KeyError:
            return False
        if time.time() - accessed > timeout:
            self.do_delete()
            return False
        self._created = record.get("_created", accessed)
        self._accessed = accessed
        self._timeout = timeout
        self.update(data)
        return True

    def save(self):
        """Stores the session; it then stays valid for timeout() more seconds."""
        if self._invalid:
            return
        self.do_save({
            "_data": self.copy(),
            "_created": self._created,
            "_accessed": self._accessed,
            "_timeout": self._timeout,
        })

    def delete(self):
        self.do_delete()
        self.clear()

    # ---- locking ----------------------------------------------------------
    def init_lock(self):
        """For subclasses with their own locking (mod_python's hook)."""

    def lock(self):
        """Holds this session's cross-process lock until unlock() or the end
        of the request, waiting while another request holds it."""
        if not self._lock or self._locked:
            return
        # Holds are counted per lock, not per id: two ids can share one lock.
        index = _apache._global_lock_index(self._sid)
        held = _held_locks(self._req)
        if held.get(index, 0) == 0:
            _apache._global_lock(self._req.server, self._sid, index)
        held[index] = held.get(index, 0) + 1
        self._locked, self._lock_index = True, index
        if not self._cleanup_registered:
            self._cleanup_registered = True
            self._req.register_cleanup(_unlock_at_request_end, self)

    def unlock(self):
        if not self._locked:
            return
        self._locked = False
        index = self._lock_index
        held = _held_locks(self._req)
        count = held.get(index, 0) - 1
        if count > 0:
            held[index] = count
            return
        held.pop(index, None)
        _apache._global_unlock(self._req.server, self._sid, index)

    # ---- cleanup ----------------------------------------------------------
    def cleanup(self):
        """Starts a removal of expired sessions, run after the response."""
        self.do_cleanup()

    # ---- storage, for subclasses -----------------------------------------
    def do_load(self):
        raise NotImplementedError

    def do_save(self, record):
        raise NotImplementedError

    def do_delete(self):
        raise NotImplementedError

    def do_cleanup(self):
        pass


def _unlock_at_request_end(session):
    session.unlock()


def unlock_session_cleanup(session):
    """mod_python's name for the request-end unlock."""
    session.unlock()


class _FileLock:
    """An exclusive flock on ``path``, between processes and between threads
    (each holder opens the file itself). Released on close or process death."""

    def __init__(self, path, blocking=True):
        self.path, self.blocking, self.fd = path, blocking, None

    def __enter__(self):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if self.blocking else fcntl.LOCK_NB))
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return None
            raise
        self.fd = fd
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        return False


# ---------------------------------------------------------------------------
# MemorySession


_memory_sessions = {}
_memory_guard = threading.Lock()


class MemorySession(BaseSession):
    """Sessions in this child's memory: fastest, but only right when one
    process serves every request (a threaded, unforked MPM)."""

    def __init__(self, req, sid=0, secret=None, timeout=0, lock=1):
        BaseSession.__init__(self, req, sid=sid, secret=secret, timeout=timeout, lock=lock)

    def do_load(self):
        with _memory_guard:
            record = _memory_sessions.get(self._sid)
            return dict(record) if record is not None else None

    def do_save(self, record):
        with _memory_guard:
            _memory_sessions[self._sid] = record

    def do_delete(self):
        with _memory_guard:
            _memory_sessions.pop(self._sid, None)

    def do_cleanup(self):
        self._req.register_cleanup(_memory_cleanup)


def _memory_cleanup():
    now = time.time()
    with _memory_guard:
        for sid, record in list(_memory_sessions.items()):
            try:
                if now - record["_accessed"] > record["_timeout"]:
                    del _memory_sessions[sid]
            except (KeyError, TypeError):
                del _memory_sessions[sid]


# ---------------------------------------------------------------------------
# DbmSession


class DbmSession(BaseSession):
    """Sessions pickled into one dbm file (``mp_sess.dbm`` in the temporary
    directory unless the PythonOptions say otherwise), shared by all children."""

    def __init__(self, req, dbm=None, sid=0, secret=None, dbmtype=_dbm_package, timeout=0, lock=1):
        if not dbm:
            opts = req.get_options()
            dbm = _option(opts, ("mod_python.dbm_session.database_filename", "session_dbm"))
            if not dbm:
                directory = _option(opts, ("mod_python.dbm_session.database_directory",
                                           "mod_python.session.database_directory",
                                           "session_directory"), tempdir)
                dbm = os.path.join(directory, "mp_sess.dbm")
        self._dbmfile = dbm
        self._dbmtype = dbmtype
        BaseSession.__init__(self, req, sid=sid, secret=secret, timeout=timeout, lock=lock)

    def _open(self):
        for suffix in ("", ".db", ".dir", ".dat", ".pag"):
            if not _owned_by_us(self._dbmfile + suffix):
                raise RuntimeError("session database %s%s is not owned by the httpd user (or is "
                                   "world-writable): refusing to read sessions from it" % (self._dbmfile, suffix))
        return self._dbmtype.open(self._dbmfile, "c", 0o600)

    def _guard(self, blocking=True):
        return _FileLock(self._dbmfile + ".lock", blocking)

    def do_load(self):
        with self._guard():
            db = self._open()
            try:
                key = self._sid.encode()
                raw = db[key] if key in db else None
            finally:
                db.close()
        return pickle.loads(raw) if raw is not None else None

    def do_save(self, record):
        raw = pickle.dumps(record)
        with self._guard():
            db = self._open()
            try:
                db[self._sid.encode()] = raw
            finally:
                db.close()

    def do_delete(self):
        with self._guard():
            db = self._open()
            try:
                key = self._sid.encode()
                if key in db:
                    del db[key]
            finally:
                db.close()

    def do_cleanup(self):
        limit = _cleanup_time_limit(self._req.get_options())
        self._req.register_cleanup(_dbm_cleanup, (self, limit))


def _dbm_cleanup(args):
    """Deletes expired records, starting at a random key and stopping at the
    time limit; a cleanup already running elsewhere makes this one skip."""
    session, limit = args
    guard = session._guard(blocking=False)
    if guard.__enter__() is None:
        return
    removed = 0
    try:
        db = session._open()
        try:
            keys = list(db.keys())
            if not keys:
                return
            start = random.randrange(len(keys))
            deadline = time.time() + limit if limit > 0 else None
            for i in range(len(keys)):
                if deadline is not None and time.time() > deadline:
                    break
                key = keys[(start + i) % len(keys)]
                try:
                    record = pickle.loads(db[key])
                    expired = time.time() - record["_accessed"] > record["_timeout"]
                except Exception:
                    expired = True
                if expired:
                    del db[key]
                    removed += 1
        finally:
            db.close()
    finally:
        guard.__exit__()
    if removed:
        apache.log_error("mod_python.Session: DbmSession cleanup removed %d expired sessions" % removed,
                         apache.APLOG_INFO)


def _cleanup_time_limit(opts):
    try:
        return int(_option(opts, ("mod_python.file_session.cleanup_time_limit", "session_cleanup_time_limit"),
                           DFT_CLEANUP_TIME_LIMIT))
    except ValueError:
        return DFT_CLEANUP_TIME_LIMIT


# ---------------------------------------------------------------------------
# FileSession


class FileSession(BaseSession):
    """One pickle file per session under ``<directory>/mp_sess/<2 hex>/<sid>``
    (directory: the PythonOptions, else the temporary directory)."""

    def __init__(self, req, sid=0, secret=None, timeout=0, lock=1, fast_cleanup=-1, verify_cleanup=-1):
        opts = req.get_options()
        if fast_cleanup == -1:
            fast_cleanup = _true(_option(opts, ("mod_python.file_session.enable_fast_cleanup",
                                                "session_fast_cleanup")), DFT_FAST_CLEANUP)
        if verify_cleanup == -1:
            verify_cleanup = _true(_option(opts, ("mod_python.file_session.verify_session_timeout",
                                                  "session_verify_cleanup")), DFT_VERIFY_CLEANUP)
        self._fast_cleanup = bool(fast_cleanup)
        # Without the fast test every file is read, which is verifying.
        self._verify_cleanup = bool(verify_cleanup) or not self._fast_cleanup
        try:
            self._grace_period = int(_option(opts, ("mod_python.file_session.cleanup_grace_period",
                                                    "session_grace_period"), DFT_GRACE_PERIOD))
        except ValueError:
            self._grace_period = DFT_GRACE_PERIOD
        self._cleanup_time_limit = _cleanup_time_limit(opts)
        directory = _option(opts, ("mod_python.file_session.database_directory",
                                   "mod_python.session.database_directory",
                                   "session_directory"), tempdir)
        self._sessdir = os.path.join(directory, "mp_sess")
        self._cleanup_timeout = timeout or DFT_TIMEOUT
        BaseSession.__init__(self, req, sid=sid, secret=secret, timeout=timeout, lock=lock)

    def _path(self):
        # _check_sid guarantees 32 hex digits: never a separator or a dot.
        assert _check_sid(self._sid)
        return os.path.join(self._sessdir, self._sid[:2], self._sid)

    def do_load(self):
        path = self._path()
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if st.st_uid != os.geteuid() or not stat.S_ISREG(st.st_mode):
                self._req.log_error("mod_python.Session: %s is not a session file of the httpd user: ignored"
                                    % path, apache.APLOG_ERR)
                return None
            try:
                record = pickle.load(f)
            except Exception as e:
                self._req.log_error("mod_python.Session: unreadable session file %s: %s" % (path, e))
                return None
        try:
            # A fresh mtime keeps the fast cleanup away while this request runs.
            os.utime(path, None)
        except OSError:
            pass
        return record

    def do_save(self, record):
        path = self._path()
        directory = os.path.dirname(path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(record, f)
            # The rename is atomic: a reader sees the old record or the new one.
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def do_delete(self):
        try:
            os.unlink(self._path())
        except FileNotFoundError:
            pass

    def do_cleanup(self):
        self._req.register_cleanup(_file_cleanup, {
            "sessdir": self._sessdir,
            "fast_cleanup": self._fast_cleanup,
            "verify_cleanup": self._verify_cleanup,
            "timeout": self._cleanup_timeout,
            "grace_period": self._grace_period,
            "cleanup_time_limit": self._cleanup_time_limit,
        })


def _file_expired(path, now, opts):
    """Whether a session file is past its timeout plus the grace period."""
    margin = opts["grace_period"]
    if opts["fast_cleanup"]:
        if now - os.stat(path).st_mtime < opts["timeout"] + margin:
            return False
        if not opts["verify_cleanup"]:
            return True
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_uid != os.geteuid():
            return False
        try:
            record = pickle.load(f)
            return now - record["_accessed"] > record["_timeout"] + margin
        except Exception:
            return True


def _file_cleanup(opts):
    """Removes expired session files, one two-hex-digit directory after the
    other, resuming where the previous cleanup stopped (kept in the lock file)."""
    sessdir = opts["sessdir"]
    if not os.path.isdir(sessdir):
        return
    guard = _FileLock(os.path.join(sessdir, ".mp_sess.lck"), blocking=False)
    if guard.__enter__() is None:
        return  # another process is cleaning
    removed = 0
    try:
        limit = opts["cleanup_time_limit"]
        deadline = time.time() + limit if limit > 0 else None
        os.lseek(guard.fd, 0, os.SEEK_SET)
        saved = os.read(guard.fd, 8).decode("ascii", "replace").strip()
        start = int(saved, 16) if re.match(r"[0-9a-f]{2}\Z", saved) else 0
        stopped = None
        for n in range(256):
            bucket = "%02x" % ((start + n) % 256)
            if deadline is not None and time.time() > deadline:
                stopped = bucket
                break
            directory = os.path.join(sessdir, bucket)
            try:
                names = os.listdir(directory)
            except FileNotFoundError:
                continue
            now = time.time()
            for name in names:
                path = os.path.join(directory, name)
                try:
                    if name.startswith(".tmp-"):
                        # A write that died half-way (an hour is far past any request).
                        if now - os.stat(path).st_mtime > 3600:
                            os.unlink(path)
                        continue
                    if _check_sid(name) and _file_expired(path, now, opts):
                        os.unlink(path)
                        removed += 1
                except FileNotFoundError:
                    pass
        os.ftruncate(guard.fd, 0)
        os.lseek(guard.fd, 0, os.SEEK_SET)
        os.write(guard.fd, (stopped or "00").encode("ascii"))
    finally:
        guard.__exit__()
    if removed:
        apache.log_error("mod_python.Session: FileSession cleanup removed %d expired sessions" % removed,
                         apache.APLOG_INFO)


# ---------------------------------------------------------------------------
# The factory


_CLASSES = {"MemorySession": MemorySession, "DbmSession": DbmSession, "FileSession": FileSession}


def _default_class():
    threaded = apache.mpm_query(apache.AP_MPMQ_IS_THREADED)
    forked = apache.mpm_query(apache.AP_MPMQ_IS_FORKED)
    if threaded and not forked:
        return MemorySession
    return DbmSession


def Session(req, sid=0, secret=None, timeout=0, lock=1):
    """A session of the class named by ``PythonOption
    mod_python.session.session_type`` (MemorySession, DbmSession or
    FileSession), else DbmSession (MemorySession when one process serves
    every request)."""
    opts = req.get_options()
    name = _option(opts, ("mod_python.session.session_type", "session"))
    if name:
        cls = _CLASSES.get(name.strip())
        if cls is None:
            raise ValueError("PythonOption mod_python.session.session_type %r: not one of %s"
                             % (name, ", ".join(sorted(_CLASSES))))
    else:
        cls = _default_class()
    return cls(req, sid=sid, secret=secret, timeout=timeout, lock=lock)
