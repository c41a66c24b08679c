"""Measures how many requests are inside Python at once (the gate's job)."""
import sys
import threading
import time

_lock = threading.Lock()
active = 0
max_seen = 0


def handler(req):
    global active, max_seen
    with _lock:
        active += 1
        max_seen = max(max_seen, active)
    # Busy for a while without the GIL held all along (sleep releases it).
    time.sleep(0.05)
    with _lock:
        active -= 1
    req.write("ok")
    return 0


def report(req):
    req.write("%d %s" % (max_seen, sys.getswitchinterval()))
    return 0
