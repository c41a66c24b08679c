"""mod_python compatibility package of mod_pyrite.

Handlers written for mod_python 3.x import from here unchanged:
``from mod_python import apache``.
"""
from mod_python.version import version  # noqa: F401
