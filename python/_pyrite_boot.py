"""Loads the pure-Python modules compiled into mod_pyrite.so.

The finder goes first on sys.meta_path, so ``import mod_python`` always gets
mod_pyrite's package, whatever other mod_python is installed on sys.path.
"""
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
