"""Imported by PythonImport in every child of every generation: records the
child's pid and uid, so a test can tell that each generation rebuilt its
Python state and that Python never ran as root or in the parent."""
import os
import time

IMPORT_PID = os.getpid()
IMPORT_UID = os.getuid()

_scratch = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scratch")
with open(os.path.join(_scratch, "imports.txt"), "a") as _f:
    _f.write("pid=%d uid=%d ppid=%d at=%.3f\n" % (IMPORT_PID, IMPORT_UID, os.getppid(), time.time()))


def _child_exits(pid):
    with open(os.path.join(_scratch, "child_exits.txt"), "a") as f:
        f.write("pid=%d\n" % pid)


from mod_python import apache  # noqa: E402  (after the import record, which must not depend on it)

apache.register_cleanup(_child_exits, IMPORT_PID)
