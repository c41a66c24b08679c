"""A publisher page, served as /pub/index.py: traversal, arguments, types."""
import os  # a module: never published
from mod_python import apache


def index(req):
    return "index of pub"


def hello(req, name="world"):
    return "hello %s" % name


def args(req, a, b="B", *, c="C"):
    return "a=%s b=%s c=%s" % (a, b, c)


def kwargs(req, **kw):
    return "kw=" + ",".join("%s:%s" % (k, kw[k]) for k in sorted(kw))


def multi(tag=None):
    return repr(tag)


def upload(req, file, note=""):
    return "%s %d %s %s %s" % (file.filename, len(file.value), type(file.value).__name__, type(note).__name__, note)


def page():
    return "<!DOCTYPE html>\n<html><body><p>hi</p></body></html>\n"


def fragment():
    return "<p>no closing html tag</p>"


def typed(req):
    req.content_type = "application/json"
    return '{"a": "\u00e9"}'


def raw_bytes(req):
    return b"\x00\x01bytes"


def pieces():
    return ["one ", "two ", b"three"]


def nothing(req):
    req.write("written directly")


def _private():
    return "must not be reachable"


class Thing:
    """A class: not published, not traversed."""


class Shop:
    greeting = "welcome"

    def buy(self, req, item="nothing"):
        return "bought %s" % item

    def _internal(self):
        return "hidden"


shop = Shop()
settings = {"key": "value"}
counter = 42
code = index.__code__
