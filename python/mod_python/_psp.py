"""``mod_python._psp``, where mod_python 3.5 installs its PSP translator: the
same functions as the top-level ``_psp`` (mod_pyrite's Rust translator)."""
from _psp import parse, parsestring, translate  # noqa: F401

__all__ = ["parse", "parsestring", "translate"]
