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
