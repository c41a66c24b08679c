"""Loaded by WSGIImportScript ... process-group=one in tests/daemon_mode.rs."""
import builtins
import os

builtins.PYRITE_TEST_IMPORTED = os.getpid()
