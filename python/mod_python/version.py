"""The mod_python version this package is compatible with, mod_pyrite's own,
and where httpd and Python are (what mod_python's build wrote here and its
`mod_python` command and httpdconf read).

Outside httpd (the `mod_python` command) there is no `_apache`: the httpd
values are then found the way Debian and httpd's own layout place them.
"""
import os
import shutil
import sys

try:
    import _apache
    pyrite_version = _apache.pyrite_version
except ImportError:  # imported by the command-line tool, not inside httpd
    _apache = None
    pyrite_version = None

version = "3.5.0"


def _first(paths, default):
    for p in paths:
        if p and os.path.exists(p):
            return p
    return default


def _httpd_version():
    import subprocess
    try:
        out = subprocess.run([HTTPD, "-v"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    for word in out.split():
        if word.startswith("Apache/"):
            return word.split("/", 1)[1]
    return ""


HTTPD = _first([shutil.which("apache2"), "/usr/sbin/apache2", shutil.which("httpd"), "/usr/sbin/httpd",
                "/usr/local/apache2/bin/httpd"], "/usr/sbin/apache2")
LIBEXECDIR = _first(["/usr/lib/apache2/modules", "/usr/lib64/httpd/modules", "/usr/lib/httpd/modules",
                     "/usr/local/apache2/modules"], "/usr/lib/apache2/modules")
SYSCONFDIR = _first(["/etc/apache2", "/etc/httpd/conf", "/etc/httpd", "/usr/local/apache2/conf"], "/etc/apache2")
PYTHON_BIN = sys.executable if sys.executable and _apache is None else os.path.join(
    sys.base_exec_prefix, "bin", "python%d.%d" % sys.version_info[:2])
APR_VERSION = ""


def __getattr__(name):
    # Asked for rarely and costly to find (it runs httpd -v): computed on use.
    if name == "HTTPD_VERSION":
        value = globals()["HTTPD_VERSION"] = _httpd_version()
        return value
    raise AttributeError("module 'mod_python.version' has no attribute %r" % (name,))
