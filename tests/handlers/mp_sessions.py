"""Fixtures for mod_python.Session: counters, expiry, invalidation, locking."""
import os
import time

from mod_python import apache, Session

kept = []


def _report(req, s, n):
    req.content_type = "text/plain"
    req.write("n=%d id=%s new=%s class=%s pid=%d" % (n, s.id(), s.is_new(), type(s).__name__, os.getpid()))


def counter(req):
    timeout = int(req.args) if req.args else 0
    s = Session.Session(req, timeout=timeout)
    s["n"] = s.get("n", 0) + 1
    s.save()
    _report(req, s, s["n"])
    return apache.OK


def invalidate(req):
    s = Session.Session(req)
    s.invalidate()
    req.write("invalidated %s" % s.id())
    return apache.OK


def slow(req):
    """Holds the session (locked) for a while and records when."""
    s = Session.Session(req)
    start = time.time()
    n = s.get("n", 0)
    time.sleep(0.4)
    s["n"] = n + 1
    s.save()
    end = time.time()
    req.write("%d %.6f %.6f %d" % (os.getpid(), start, end, s["n"]))
    return apache.OK


def forget(req):
    """Never unlocks, keeps the session alive past the request, then fails."""
    s = Session.Session(req)
    s["n"] = s.get("n", 0) + 1
    s.save()
    kept.append(s)
    if req.args == "raise":
        raise RuntimeError("handler failed while holding its session")
    _report(req, s, s["n"])
    return apache.OK


def twice(req):
    """Two session objects for one id in one request share its lock."""
    a = Session.Session(req)
    a["n"] = a.get("n", 0) + 1
    a.save()
    b = Session.Session(req)
    a.unlock()
    b.unlock()
    req.write("a=%s b=%s same=%s" % (a["n"], b["n"], a.id() == b.id()))
    return apache.OK


def cleanup(req):
    """Every session made here starts a cleanup of expired sessions."""
    Session.CLEANUP_CHANCE = 1
    try:
        s = Session.Session(req)
        s.save()
    finally:
        Session.CLEANUP_CHANCE = 1000
    req.write("cleanup started by %s" % s.id())
    return apache.OK


def two_ids(req):
    """Two sessions with different ids in one request: with
    mod_python.mutex_locks 2 every id hashes onto the same lock."""
    a = Session.Session(req)
    b = Session.Session(req, sid="0123456789abcdef0123456789abcdef")
    a["x"], b["y"] = 1, 2
    a.save()
    b.save()
    a.unlock()
    b.unlock()
    req.write("two sessions %s" % (a.id() != b.id()))
    return apache.OK
