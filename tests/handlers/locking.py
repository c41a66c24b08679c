"""Cross-process locks: intervals of holding are recorded to show serialisation."""
import os
import time

import _apache
from mod_python import apache


def _log(req, line):
    with open(os.path.join(req.get_options()["scratch"], "locks.txt"), "a") as f:
        f.write(line + "\n")


def serialised(req):
    _apache._global_lock(req.server, "shared-key")
    try:
        start = time.time()
        time.sleep(0.1)
        end = time.time()
        _log(req, "%d %.6f %.6f" % (os.getpid(), start, end))
    finally:
        _apache._global_unlock(req.server, "shared-key")
    req.write("done")
    return apache.OK


def with_context(req):
    with apache.global_lock("ctx-key"):
        free = _apache._global_trylock(req.server, "ctx-key")
    again = _apache._global_trylock(req.server, "ctx-key")
    if again:
        _apache._global_unlock(req.server, "ctx-key")
    req.write("inside_trylock=%s after_trylock=%s" % (free, again))
    return apache.OK


def leak(req):
    _apache._global_lock(req.server, "leaky-key")
    req.write("leaked")
    return apache.OK


# ---- locks owned by the request, released from any thread (tests/locks_threads.rs) ----

def _args(req):
    from mod_python import util
    return {k: v[0] for k, v in util.parse_qs(req.args or "").items()}


def _index(args):
    return int(args.get("idx", "-1"))


def handoff(req):
    """Takes a lock, releases it from another Python thread, then stays
    `hold` seconds in the request: meanwhile others must be able to take it."""
    import threading
    args = _args(req)
    key, idx, via = args["key"], _index(args), args.get("via", "raw")
    if via == "ctx":
        ctx = apache.global_lock(key, idx)
        ctx.__enter__()
        release = lambda: ctx.__exit__(None, None, None)
    else:
        _apache._global_lock(req.server, key, idx)
        server = req.server  # req itself belongs to the thread serving the request
        release = lambda: _apache._global_unlock(server, key, idx)
    outcome = []

    def in_thread():
        try:
            release()
            outcome.append("ok")
        except Exception as e:
            outcome.append("%s: %s" % (type(e).__name__, e))

    t = threading.Thread(target=in_thread)
    t.start()
    t.join(10)
    result = "released_in_thread=%s" % (outcome[0] if outcome else "hung")
    # Tells the test the thread is done while this request still runs.
    with open(os.path.join(req.get_options()["scratch"], "handoff-" + key), "w") as f:
        f.write(result)
    time.sleep(float(args.get("hold", "0")))
    req.write(result)
    return apache.OK


def trylock(req):
    args = _args(req)
    key, idx = args.get("key", ""), _index(args)
    if _apache._global_trylock(req.server, key, idx):
        _apache._global_unlock(req.server, key, idx)
        req.write("free")
    else:
        req.write("busy")
    return apache.OK


def hold(req):
    """Holds a lock for `secs` seconds (across a restart, in the restart test)."""
    args = _args(req)
    key = args["key"]
    with apache.global_lock(key):
        time.sleep(float(args.get("secs", "1")))
    req.write("held")
    return apache.OK


def count(req):
    """Read-sleep-write of a shared counter under the lock: a lost update
    shows two holders at once. via=thread releases from another thread."""
    import threading
    args = _args(req)
    path = os.path.join(req.get_options()["scratch"], "counter.txt")
    _apache._global_lock(req.server, "counter")
    try:
        try:
            with open(path) as f:
                n = int(f.read() or "0")
        except FileNotFoundError:
            n = 0
        time.sleep(0.005)
        with open(path + ".tmp", "w") as f:
            f.write(str(n + 1))
        os.rename(path + ".tmp", path)
        _log(req, "%d %d" % (os.getpid(), n + 1))
    finally:
        if args.get("via") == "thread":
            t = threading.Thread(target=_apache._global_unlock, args=(req.server, "counter"))
            t.start()
            t.join()
        else:
            _apache._global_unlock(req.server, "counter")
    req.headers_out["X-Gen"] = str(req.server.my_generation)
    req.write("counted")
    return apache.OK


def leak_big(req):
    """Leaves lock `idx` held and returns with a large response still going
    out: under the event MPM, a slow reader makes write completion (and the
    request pool's cleanup) asynchronous, on whichever worker handles it."""
    import threading
    args = _args(req)
    idx = _index(args)
    _apache._global_lock(req.server, "leak-big", idx)
    req.content_type = "application/octet-stream"
    req.headers_out["X-Tid"] = str(threading.get_native_id())
    req.headers_out["X-Pid"] = str(os.getpid())
    size = int(args.get("n", "8388608"))
    block = b"x" * 65536
    for _ in range(size // len(block)):
        req.write(block, 0)  # no flush: the last blocks stay queued in httpd when the handler returns
    with open(os.path.join(req.get_options()["scratch"], "returned-%d" % idx), "w") as f:
        f.write("returned")
    return apache.OK


def misuse(req):
    """Each misuse gives an exception (or False), never a wait for itself."""
    out = []

    def attempt(name, fn):
        try:
            out.append("%s=%r" % (name, fn()))
        except Exception as e:
            out.append("%s=%s" % (name, type(e).__name__))

    attempt("unlock_not_held", lambda: _apache._global_unlock(req.server, "m", 2))
    _apache._global_lock(req.server, "m", 2)
    attempt("lock_again", lambda: _apache._global_lock(req.server, "m", 2))
    attempt("other_key_same_lock", lambda: _apache._global_lock(req.server, "another", 2))
    attempt("trylock_own", lambda: _apache._global_trylock(req.server, "m", 2))
    _apache._global_unlock(req.server, "m", 2)
    attempt("unlock_twice", lambda: _apache._global_unlock(req.server, "m", 2))
    attempt("trylock_after", lambda: _apache._global_trylock(req.server, "m", 2))
    _apache._global_unlock(req.server, "m", 2)
    attempt("bad_index", lambda: _apache._global_lock(req.server, "m", 999))
    req.write(" ".join(out))
    return apache.OK


def nap(req):
    """Keeps a worker thread busy for `secs` seconds."""
    time.sleep(float(_args(req).get("secs", "0.3")))
    req.write("napped")
    return apache.OK
