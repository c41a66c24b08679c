"""The mod_python version this package is compatible with, and mod_pyrite's own."""
import _apache

version = "3.5.0"
pyrite_version = _apache.pyrite_version
