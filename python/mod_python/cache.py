"""mod_python.cache: thread-safe caches whose values are built on demand and
rebuilt when their source changes.

``Cache`` is the general form: ``cache[name]`` finds the entry for
``key(name)``, asks ``check(key, name, entry)`` whether it is stale (None:
fresh; anything else: an opened resource) and, when there is no value yet or
it is stale, stores ``build(key, name, opened, entry)``. With ``max_size`` the
least recently used entry goes once there are more. Each entry has its own
lock, so two threads asking for different names never wait for each other,
and two asking for the same name build it once.

Ready-made kinds: ``FileCache`` (a file's content, reread when its mtime
changes), ``ModuleCache`` (a Python file run as a module, not put in
sys.modules), ``HTTPCache`` and ``HttpModuleCache`` (a URL, revalidated with
ETag / Last-Modified and kept for max-age or until Expires), ``WeakCache``
(values held weakly) and ``FunctionCache`` (a memoized function).
"""
import collections
import email.utils
import os
import re
import threading
import time
import types
import urllib.error
import urllib.request
import weakref

__all__ = [
    "NOT_INITIALIZED", "Entry", "Cache", "WeakCache", "FileCache", "HTTPEntity",
    "HTTPCache", "ModuleCache", "HttpModuleCache", "FunctionCache", "parseRFC822Time",
]

NOT_INITIALIZED = object()  # the value of an entry nothing was built for yet


class Entry(object):
    """One cached value and what its ``check`` keeps about it (mtime, validators)."""

    def __init__(self, key):
        self._key = key
        self._value = NOT_INITIALIZED
        self._lock = threading.RLock()


class Cache(object):
    """A cache of values built by ``build``; subclasses override the hooks."""

    def __init__(self, max_size=0):
        self._maxsize = max_size
        self._dict = collections.OrderedDict()  # key -> Entry, least recently used first
        self._lock = threading.Lock()

    # ---- the hooks subclasses override -----------------------------------
    def key(self, name):
        """The dictionary key for ``name`` (by default ``name`` itself)."""
        return name

    def check(self, key, name, entry):
        """None when the entry's value is fresh, else an opened resource for ``build``."""
        return None

    def build(self, key, name, opened, entry):
        """The value for ``name``, made from what ``check`` returned."""
        raise NotImplementedError("%s.build" % type(self).__name__)

    def commit(self):
        """Called after every change of a value (e.g. to persist the cache)."""

    def _pack(self, entry, value):
        entry._value = value

    def _unpack(self, entry):
        return entry._value

    # ---- the mapping ---------------------------------------------------------
    def _get_entry(self, key):
        with self._lock:
            entry = self._dict.get(key)
            if entry is None:
                entry = self._dict[key] = Entry(key)
                if self._maxsize:
                    while len(self._dict) > self._maxsize:
                        self._dict.popitem(last=False)
            elif self._maxsize:
                self._dict.move_to_end(key)
            return entry

    def _checkitem(self, name):
        """(is_new, key, value, entry): is_new when the value was (re)built now."""
        key = self.key(name)
        entry = self._get_entry(key)
        with entry._lock:
            value = self._unpack(entry)
            opened = self.check(key, name, entry)
            if value is NOT_INITIALIZED or opened is not None:
                value = self.build(key, name, opened, entry)
                self._pack(entry, value)
                self.commit()
                return True, key, value, entry
            return False, key, value, entry

    def __getitem__(self, name):
        return self._checkitem(name)[2]

    def __setitem__(self, name, value):
        entry = self._get_entry(self.key(name))
        with entry._lock:
            self._pack(entry, value)
            self.commit()

    def __delitem__(self, name):
        with self._lock:
            del self._dict[self.key(name)]

    def __contains__(self, name):
        with self._lock:
            return self.key(name) in self._dict

    def __len__(self):
        with self._lock:
            return len(self._dict)

    def clear(self):
        with self._lock:
            self._dict.clear()

    def mru(self):
        """The most recently used key (None without max_size, or when empty)."""
        with self._lock:
            if not self._maxsize or not self._dict:
                return None
            return next(reversed(self._dict))

    def lru(self):
        """The least recently used key (None without max_size, or when empty)."""
        with self._lock:
            if not self._maxsize or not self._dict:
                return None
            return next(iter(self._dict))


class WeakCache(Cache):
    """Holds its values weakly: a value nobody else uses any more leaves the cache."""

    def _pack(self, entry, value):
        key = entry._key

        def gone(_ref, cache=weakref.ref(self)):
            c = cache()
            if c is not None:
                with c._lock:
                    if c._dict.get(key) is entry:
                        del c._dict[key]

        entry._value = weakref.ref(value, gone)

    def _unpack(self, entry):
        if entry._value is NOT_INITIALIZED:
            return NOT_INITIALIZED
        value = entry._value()
        return NOT_INITIALIZED if value is None else value


class FileCache(Cache):
    """A file's content by file name, read again when its modification time changes."""

    def __init__(self, max_size=0, mode="rb"):
        Cache.__init__(self, max_size)
        self.mode = mode

    def check(self, key, name, entry):
        mtime = os.stat(key).st_mtime
        if entry._value is NOT_INITIALIZED or getattr(entry, "_timestamp", None) != mtime:
            entry._timestamp = mtime
            return open(key, self.mode)
        return None

    def build(self, key, name, opened, entry):
        with opened:
            return opened.read()


def parseRFC822Time(t):
    """Seconds since the epoch for an HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT")."""
    return email.utils.mktime_tz(email.utils.parsedate_tz(t))


_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.I)


class HTTPEntity(object):
    """A fetched resource: its body (bytes) and its response headers (dict)."""

    def __init__(self, entity, metadata):
        self.entity = entity
        self.metadata = metadata

    def __repr__(self):
        return "HTTPEntity(%r, %r)" % (self.entity, self.metadata)

    def __str__(self):
        if isinstance(self.entity, str):
            return self.entity
        return self.entity.decode("utf-8", "replace")


class HTTPCache(Cache):
    """The resource at a URL. Kept for Cache-Control max-age (or until Expires),
    then revalidated with If-None-Match / If-Modified-Since: a 304 keeps it."""

    def check(self, key, name, entry):
        if time.time() < getattr(entry, "_expires", 0) and entry._value is not NOT_INITIALIZED:
            return None
        request = urllib.request.Request(key)
        validator = getattr(entry, "_validator", None)
        if validator is not None and entry._value is not NOT_INITIALIZED:
            request.add_header(*validator)
        try:
            opened = urllib.request.urlopen(request)
        except urllib.error.HTTPError as error:
            if error.code == 304:
                error.close()
                return None
            raise
        headers = opened.info()
        entry._expires = 0
        age = _MAX_AGE.search(headers.get("cache-control", ""))
        if age:
            entry._expires = time.time() + int(age.group(1))
        elif headers.get("expires") and headers.get("date"):
            try:
                lifetime = parseRFC822Time(headers["expires"]) - parseRFC822Time(headers["date"])
                entry._expires = time.time() + lifetime
            except (TypeError, ValueError):
                pass
        if headers.get("etag"):
            entry._validator = ("If-None-Match", headers["etag"])
        elif headers.get("last-modified"):
            entry._validator = ("If-Modified-Since", headers["last-modified"])
        else:
            entry._validator = None
        return opened

    def build(self, key, name, opened, entry):
        with opened:
            return HTTPEntity(opened.read(), dict(opened.info()))


_NOT_WORD = re.compile(r"\W+")


def _module_from_source(key, source, filename):
    module = types.ModuleType(_NOT_WORD.sub("_", key))
    module.__file__ = key
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


class ModuleCache(FileCache):
    """A Python file, run as a module (not added to sys.modules) and run again
    when the file changes."""

    def __init__(self, max_size=0):
        FileCache.__init__(self, max_size, "rb")

    def build(self, key, name, opened, entry):
        with opened:
            return _module_from_source(key, opened.read(), key)


class HttpModuleCache(HTTPCache):
    """A Python module fetched from a URL, as HTTPCache keeps it fresh."""

    def build(self, key, name, opened, entry):
        with opened:
            return _module_from_source(key, opened.read().replace(b"\r\n", b"\n"), name)


class FunctionCache(Cache):
    """Memoizes ``function``: calling the cache with the same arguments
    returns the result of the first call."""

    def __init__(self, function, max_size=0):
        Cache.__init__(self, max_size)
        self.function = function

    def __call__(self, *args, **kw):
        return self[args, tuple(sorted(kw.items()))]

    def build(self, key, name, opened, entry):
        args, kw = key
        return self.function(*args, **dict(kw))
