"""Imported by PythonImport at child start: records where and when."""
import os
import time

IMPORTED_AT = time.time()
IMPORT_PID = os.getpid()
IMPORT_UID = os.getuid()
CALLED = []


def init():
    CALLED.append(os.getpid())
