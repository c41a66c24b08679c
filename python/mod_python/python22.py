"""Compatibility shims for very old Pythons, kept because code written for
mod_python does ``from mod_python.python22 import *``.

Every Python this module runs on already has what the shims once added
(``enumerate``, ``True``/``False``), so importing it defines nothing.
"""
__all__ = []
