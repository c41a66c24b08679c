"""mod_python.httpdconf: httpd configuration written as Python objects.

    from mod_python.httpdconf import *
    config = Container(
        Listen("127.0.0.1:8080"),
        VirtualHost("*:8080",
                    ServerName("example"),
                    Location("/app",
                             SetHandler("mod_python"),
                             PythonHandler("mysite.handlers"))))
    print(config)

``str()`` of an object is httpd configuration text (sections indented by two
spaces, backslashes turned into slashes unless ``flipslash=0``); ``repr()``
is Python that builds the same object again, which is how
``write_basic_config`` (and ``mod_python create``) store a configuration
that is edited as Python and turned into httpd's form with
``mod_python genconfig``.

Every directive class takes its value as one string, written as it is:
quote values with spaces yourself (``quote_if_space``). A directive with no
class of its own is ``Directive("Name", "value")``, a section
``ContainerTag("Name", "argument", [children])``.
"""
import os
import shutil
import sys

import mod_python.version


def _slashes(text, flip):
    return text.replace("\\", "/") if flip else text


class Directive:
    """One directive line: ``Name value``."""

    def __init__(self, name, val, flipslash=1):
        self.name = name
        self.val = val
        self.indent = 0
        self.flipslash = flipslash

    def __repr__(self):
        val = _slashes(self.val, self.flipslash) if isinstance(self.val, str) else self.val
        return "%s%s(%r)" % (" " * self.indent, self.name, val)

    def __str__(self):
        return _slashes("%s%s %s\n" % (" " * self.indent, self.name, self.val), self.flipslash)


class Comment:
    """Comment lines (``# text``), one per line of ``comment``."""

    def __init__(self, comment):
        self.comment = comment
        self.indent = 0

    def __repr__(self):
        pad = " " * self.indent
        lines = [repr(line + "\n") for line in self.comment.splitlines()] or [repr("")]
        return pad + "Comment(" + ("\n        " + pad).join(lines) + ")"

    def __str__(self):
        pad = " " * self.indent
        return "".join("%s# %s\n" % (pad, line) for line in self.comment.splitlines())


class Container:
    """A list of directives, sections, comments and containers, written one
    after the other. With ``only_if`` (a Python expression), it is written
    only when the expression is true when the configuration is printed."""

    def __init__(self, *args, **kwargs):
        self.args = list(args)
        self.indent = 0
        self.only_if = kwargs.get("only_if")

    def append(self, value):
        if not isinstance(value, (Directive, Container, ContainerTag, Comment)):
            raise TypeError("a Container holds Directive, Container, ContainerTag or Comment objects, not %s"
                            % type(value).__name__)
        self.args.append(value)

    def __repr__(self):
        pad = " " * self.indent
        parts = []
        for arg in self.args:
            arg.indent = self.indent + 4
            parts.append("\n%r," % (arg,))
        tail = ("\n%s    only_if=%r)" % (pad, self.only_if)) if self.only_if else "\n%s)" % pad
        return pad + "Container(" + "".join(parts) + tail

    def __str__(self):
        if self.only_if and not eval(self.only_if, {"mod_python": mod_python, "os": os, "sys": sys}):
            return ""
        out = []
        for arg in self.args:
            arg.indent = self.indent
            out.append(str(arg))
        return "".join(out)


class ContainerTag:
    """A section: ``<Tag attr>`` children ``</Tag>``."""

    def __init__(self, tag, attr, args, flipslash=1):
        self.tag = tag
        self.attr = attr
        self.args = list(args)
        self.indent = 0
        self.flipslash = flipslash

    def append(self, value):
        self.args.append(value)

    def __repr__(self):
        pad = " " * self.indent
        attr = _slashes(self.attr, self.flipslash) if isinstance(self.attr, str) else self.attr
        head = "%s%s(%r," % (pad, self.tag, attr)
        parts = []
        for arg in self.args:
            arg.indent = self.indent + 4
            parts.append("\n%r," % (arg,))
        return head + "".join(parts) + "\n" + pad + ")"

    def __str__(self):
        pad = " " * self.indent
        out = [_slashes("%s<%s %s>\n" % (pad, self.tag, self.attr), self.flipslash)]
        for arg in self.args:
            arg.indent = self.indent + 2
            out.append(str(arg))
        out.append("%s</%s>\n" % (pad, self.tag))
        return "".join(out)


# ---- a class per directive: Name(value) ----------------------------------------
_DIRECTIVES = (
    "AddHandler", "AddOutputFilter", "AddType", "Alias", "AllowOverride", "AuthBasicAuthoritative",
    "AuthBasicProvider", "AuthName", "AuthType", "AuthUserFile", "CustomLog", "DirectoryIndex",
    "DocumentRoot", "ErrorLog", "Group", "Header", "Include", "KeepAlive", "KeepAliveTimeout",
    "Listen", "LoadModule", "LockFile", "LogFormat", "LogLevel", "MaxClients",
    "MaxConnectionsPerChild", "MaxKeepAliveRequests", "MaxRequestWorkers", "MaxRequestsPerChild",
    "MaxSpareServers", "MaxSpareThreads", "MinSpareServers", "MinSpareThreads", "Mutex",
    "NameVirtualHost", "NumServers", "Options", "PidFile", "Require", "ServerAdmin", "ServerAlias",
    "ServerLimit", "ServerName", "ServerPath", "ServerRoot", "ServerTokens", "SetEnv", "SetHandler",
    "StartServers", "StartThreads", "ThreadsPerChild", "Timeout", "TypesConfig", "User",
    # mod_python's directives
    "PythonAccessHandler", "PythonAuthenHandler", "PythonAuthzHandler", "PythonAutoReload",
    "PythonCleanupHandler", "PythonConnectionHandler", "PythonDebug", "PythonEnablePdb",
    "PythonFixupHandler", "PythonHandler", "PythonHandlerModule", "PythonHeaderParserHandler",
    "PythonImport", "PythonInitHandler", "PythonInputFilter", "PythonInterpreter",
    "PythonLogHandler", "PythonOptimize", "PythonOption", "PythonOutputFilter", "PythonPath",
    "PythonPostReadRequestHandler", "PythonTransHandler", "PythonTypeHandler",
)
_SECTIONS = ("Directory", "DirectoryMatch", "Files", "FilesMatch", "IfDefine", "IfModule", "Location",
             "LocationMatch", "VirtualHost")


# Values that are not paths: their backslashes are escapes and stay.
_NO_FLIP = {"CustomLog", "Header", "LogFormat", "PythonOption", "PythonPath", "SetEnv"}


def _directive_class(name, default=None):
    flip = 0 if name in _NO_FLIP else 1
    if default is None:
        def __init__(self, val):
            Directive.__init__(self, name, val, flip)
    else:
        def __init__(self, val=default):
            Directive.__init__(self, name, val, flip)
    return type(name, (Directive,), {"__init__": __init__, "__doc__": "The %s directive." % name})


def _section_class(tag):
    def __init__(self, attr, *args):
        ContainerTag.__init__(self, tag, attr, args)
    return type(tag, (ContainerTag,), {"__init__": __init__, "__doc__": "A <%s> section." % tag})


for _name in _DIRECTIVES:
    globals()[_name] = _directive_class(_name)
for _name in ("PythonInterpPerDirectory", "PythonInterpPerDirective"):
    globals()[_name] = _directive_class(_name, "Off")
for _name in _SECTIONS:
    globals()[_name] = _section_class(_name)
del _name


def quote_if_space(s):
    """``s`` in double quotes when it holds a space (a path for a directive)."""
    return '"%s"' % s if " " in s else s


__all__ = (["Directive", "Comment", "Container", "ContainerTag", "quote_if_space", "write_basic_config"]
           + list(_DIRECTIVES) + ["PythonInterpPerDirectory", "PythonInterpPerDirective"] + list(_SECTIONS))

# Modules a standalone server needs, loaded when httpd does not have them built in.
_BASIC_MODULES = (
    ("mpm_event_module", "mod_mpm_event.so"), ("authn_file_module", "mod_authn_file.so"),
    ("authn_core_module", "mod_authn_core.so"), ("authz_host_module", "mod_authz_host.so"),
    ("authz_groupfile_module", "mod_authz_groupfile.so"), ("authz_user_module", "mod_authz_user.so"),
    ("authz_core_module", "mod_authz_core.so"), ("access_compat_module", "mod_access_compat.so"),
    ("auth_basic_module", "mod_auth_basic.so"), ("reqtimeout_module", "mod_reqtimeout.so"),
    ("include_module", "mod_include.so"), ("filter_module", "mod_filter.so"),
    ("mime_module", "mod_mime.so"), ("log_config_module", "mod_log_config.so"),
    ("env_module", "mod_env.so"), ("headers_module", "mod_headers.so"),
    ("setenvif_module", "mod_setenvif.so"), ("version_module", "mod_version.so"),
    ("unixd_module", "mod_unixd.so"), ("status_module", "mod_status.so"),
    ("autoindex_module", "mod_autoindex.so"), ("dir_module", "mod_dir.so"),
    ("alias_module", "mod_alias.so"),
)


def _say(text):
    print(text, file=sys.stderr)


def _make_dirs(dirs):
    for d in dirs:
        if os.path.isdir(d):
            _say("Warning: directory %r already exists, continuing." % d)
        else:
            _say("Creating directory %r." % d)
            os.makedirs(d)


def _copy_mime_types(dest):
    if os.path.isfile(dest):
        _say("Warning: file %r already exists, continuing." % dest)
        return
    for src_dir in (mod_python.version.SYSCONFDIR, "/etc"):
        src = os.path.join(src_dir, "mime.types")
        if os.path.isfile(src):
            _say("Copying %r to %r" % (src, dest))
            shutil.copy(src, dest)
            return


def _run_as():
    """User and Group for a server started as root (httpd refuses to run as root)."""
    if os.geteuid() != 0:
        return []
    import grp
    import pwd
    for user in ("www-data", "apache", "nobody"):
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            continue
        return [User(user), Group(grp.getgrgid(pw.pw_gid).gr_name)]
    return []


def write_basic_config(server_root, listen="0.0.0.0:8888", conf="conf", logs="logs",
                       htdocs="public", pythonhandler="mod_python.publisher",
                       pythonpath=[], pythonoptions=[], mp_comments=[],
                       conf_name="httpd_conf.py", createdirs=True, replace_config=False,
                       module_path=None):
    """Writes ``server_root/conf/httpd_conf.py``: a Python script that prints a
    complete httpd configuration running ``pythonhandler`` under mod_pyrite for
    everything below ``server_root/public``. Makes the directories (and copies
    mime.types) with ``createdirs``. Returns the script's path, or None when it
    exists already and ``replace_config`` is false. ``module_path`` is
    mod_pyrite.so's path (default: httpd's module directory)."""
    server_root = os.path.abspath(server_root)
    conf_path = os.path.join(server_root, conf, conf_name)
    if os.path.exists(conf_path) and not replace_config:
        _say("Error: %r already exists, aborting." % conf_path)
        return None
    if createdirs:
        _make_dirs([server_root] + [os.path.join(server_root, d) for d in (htdocs, conf, logs)])
        _copy_mime_types(os.path.join(server_root, conf, "mime.types"))
    mime_types = os.path.join(conf, "mime.types")
    if not os.path.exists(os.path.join(server_root, mime_types)):
        _say("Warning: file %r does not exist." % os.path.join(server_root, mime_types))

    libexec = mod_python.version.LIBEXECDIR
    modules = Container(Comment("\nThe modules a standalone server needs (skipped when built in):\n\n"))
    for name, so in _BASIC_MODULES:
        if os.path.exists(os.path.join(libexec, so)):
            modules.append(IfModule("!" + name, LoadModule("%s %s" % (name, quote_if_space(os.path.join(libexec, so))))))

    main = Container(Comment("\nMain configuration options:\n\n"),
                     ServerRoot(quote_if_space(server_root)),
                     *_run_as())
    for d in (MaxConnectionsPerChild("65536"),
              LogFormat(r'"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" combined'),
              CustomLog("%s combined" % quote_if_space(os.path.join(logs, "access_log"))),
              ErrorLog(quote_if_space(os.path.join(logs, "error_log"))),
              LogLevel("warn"),
              PidFile(quote_if_space(os.path.join(logs, "httpd.pid"))),
              TypesConfig(quote_if_space(mime_types)),
              ServerName("127.0.0.1"),
              Listen(listen),
              DocumentRoot(quote_if_space(os.path.join(server_root, htdocs)))):
        main.append(d)

    mp = Container(Comment("\nmod_python (mod_pyrite) options:\n\n"),
                   LoadModule("pyrite_module %s" % quote_if_space(
                       os.path.abspath(module_path) if module_path else os.path.join(libexec, "mod_pyrite.so"))),
                   SetHandler("mod_python"),
                   Comment("PythonDebug On"),
                   PythonHandler(pythonhandler))
    if pythonpath:
        mp.append(PythonPath('"sys.path+%r"' % (list(pythonpath),)))
    for option in pythonoptions:
        mp.append(PythonOption(option))
    for c in mp_comments:
        mp.append(Comment(c))

    config = Container(Comment("\nThis config was auto-generated, do not edit!\n\n"), modules, main, mp)
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = (
        "#!%s\n\n"
        "#\n"
        "# Written by `mod_python create`; edit it as you like. Run it to get the\n"
        "# httpd configuration:  mod_python genconfig <this file> > <httpd.conf>\n"
        "#\n\n"
        "import sys\n"
        "sys.path.insert(0, %r)  # mod_pyrite's mod_python package\n"
        "from mod_python.httpdconf import *\n\n"
        "config = %r\n\n"
        "print(config)\n"
    ) % (mod_python.version.PYTHON_BIN, package_dir, config)
    _say("Writing %r." % conf_path)
    with open(conf_path, "w") as f:
        f.write(script)
    return conf_path
