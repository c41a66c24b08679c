"""Checks that the thread state a worker runs Python with is its own: CPython's
view of the thread matches the OS thread, and a C extension's
PyGILState_Ensure/Release (here through ctypes) finds it instead of making
another (which would deadlock waiting for the GIL this thread holds)."""
import ctypes
import sys
import threading

from mod_python import apache


def handler(req):
    ident = threading.get_ident()
    frames_ok = ident in sys._current_frames()
    ensure = ctypes.pythonapi.PyGILState_Ensure
    ensure.restype = ctypes.c_int
    state = ensure()
    ctypes.pythonapi.PyGILState_Release(ctypes.c_int(state))
    check = ctypes.pythonapi.PyGILState_Check()
    req.content_type = "text/plain"
    req.write("frames=%s gilstate=%d thread=%d" % (frames_ok, check, ident))
    return apache.OK
