"""mod_python's ``_psp`` module: the PSP translator (written in Rust, part of
mod_pyrite's ``_apache``) under the names mod_python gave it."""
from _apache import _psp_parse as parse
from _apache import _psp_parsestring as parsestring
from _apache import _psp_translate as translate

__all__ = ["parse", "parsestring", "translate"]
