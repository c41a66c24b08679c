"""mod_python compatibility package of mod_pyrite.

Handlers written for mod_python 3.x import from here unchanged:
``from mod_python import apache``. As in mod_python, ``mod_python.version`` is
the version module and ``mod_python.mp_version`` the version string.
"""
__all__ = ["apache", "cgihandler", "psp", "publisher", "util", "python22", "version"]

from mod_python import version
mp_version = version.version

try:
    from mod_python import apache  # noqa: F401
except ImportError:
    # Outside httpd (the mod_python command, httpdconf) there is no _apache.
    pass
