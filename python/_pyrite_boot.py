"""Loads the pure-Python modules compiled into mod_pyrite.so.

The finder goes first on sys.meta_path, so ``import mod_python`` always gets
mod_pyrite's package, whatever other mod_python is installed on sys.path.
"""
import os
import sys
import importlib.machinery


# A finder and loader by protocol (find_spec; create_module/exec_module), not
# by subclassing importlib.abc: in 3.11 importing importlib.abc pulls in
# importlib.resources, pathlib, tempfile, typing and ~60 modules, which cost
# every child 30 ms and 4 MB before it serves a request.
class EmbeddedFinder:
    def __init__(self, sources):
        # name -> (is_package, source text)
        self.sources = dict(sources)

    def find_spec(self, fullname, path=None, target=None):
        entry = self.sources.get(fullname)
        if entry is None:
            return None
        is_pkg, _ = entry
        spec = importlib.machinery.ModuleSpec(
            fullname, self, origin="mod_pyrite:" + fullname.replace(".", "/") + ".py",
            is_package=is_pkg)
        if is_pkg:
            spec.submodule_search_locations = []
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        is_pkg, source = self.sources[module.__name__]
        filename = module.__spec__.origin
        code = compile(source, filename, "exec", dont_inherit=True)
        exec(code, module.__dict__)

    def get_source(self, fullname):
        entry = self.sources.get(fullname)
        return entry[1] if entry else None


def install(sources):
    finder = EmbeddedFinder(sources)
    sys.meta_path.insert(0, finder)
    # Anything imported under these names before now is not ours.
    for name in list(sys.modules):
        if name == "mod_python" or name.startswith("mod_python."):
            del sys.modules[name]
    return finder


# ---- bytecode of application code ------------------------------------------
# CPython writes a module's bytecode to __pycache__ beside its source. For a
# handler under a DocumentRoot or an Alias that directory is served, so the
# compiled module (constants, secrets) could be downloaded. Modules found on a
# sys.path entry outside Python's own installation (its standard library and
# site-packages) therefore keep their bytecode in a private directory, laid
# out as sys.pycache_prefix lays it out; the standard library and installed
# packages keep using their own __pycache__ (sys.pycache_prefix would send
# their reads to the private directory too, so every child would compile them
# again until it filled).

class PrivateBytecodeLoader(importlib.machinery.SourceFileLoader):
    """A source loader that reads and writes the ``__pycache__`` file CPython
    asks for at its place in the private directory (or nowhere, when the
    directory is None)."""

    cache_dir = None

    def _private(self, path):
        head, name = os.path.split(path)
        source_dir, pycache = os.path.split(head)
        if pycache != "__pycache__" or path == self.path:
            return path
        if self.cache_dir is None:
            return None
        return self.cache_dir + os.path.abspath(source_dir) + "/" + name

    def get_data(self, path):
        private = self._private(path)
        if private is None:
            raise OSError("bytecode of application code is not kept (PyriteBytecodeCache Off)")
        return super().get_data(private)

    def set_data(self, path, data, *, _mode=0o666):
        private = self._private(path)
        if private is None:
            return
        if private is path:
            return super().set_data(path, data, _mode=_mode)
        # CPython names its temporary file after id(path), which is the same
        # number in every child forked from one parent: one child dying while
        # it writes would keep that file from the others for good. This name
        # is the process's own, in a directory only httpd's user enters.
        tmp = "%s.%d.tmp" % (private, os.getpid())
        try:
            os.makedirs(os.path.dirname(private), 0o700, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
            with open(os.open(tmp, flags, 0o600), "wb") as f:
                f.write(data)
            os.replace(tmp, private)
        except OSError:
            # As CPython does: bytecode that cannot be kept is compiled again.
            try:
                os.unlink(tmp)
            except OSError:
                pass


def private_bytecode(cache_dir):
    """Sends the bytecode of application code to ``cache_dir`` (None: keeps
    none) from now on."""
    import site
    PrivateBytecodeLoader.cache_dir = cache_dir.rstrip("/") if cache_dir else None
    # The user's own site-packages is not Python's: www-data's is under /var/www.
    own = [os.path.dirname(os.__file__)]
    try:
        own += site.getsitepackages()
    except AttributeError:
        pass  # a site module without it (virtualenv's older one)
    own = tuple(os.path.abspath(d).rstrip("/") + "/" for d in own if d)
    machinery = importlib.machinery
    loaders = ((machinery.ExtensionFileLoader, machinery.EXTENSION_SUFFIXES),
               (PrivateBytecodeLoader, machinery.SOURCE_SUFFIXES),
               (machinery.SourcelessFileLoader, machinery.BYTECODE_SUFFIXES))

    def is_own(entry):
        full = os.path.abspath(entry or ".") + "/"
        return full.startswith(own)

    def hook(entry):
        if is_own(entry) or not os.path.isdir(entry or "."):
            raise ImportError("left to the next path hook")
        return machinery.FileFinder(entry, *loaders)

    sys.path_hooks.insert(0, hook)
    # Finders made before now for application directories read __pycache__.
    for entry in list(sys.path_importer_cache):
        if not is_own(entry):
            del sys.path_importer_cache[entry]
