"""A page protected at module level (/pub/secure.py): a dict __auth__ and a list __access__."""

__auth_realm__ = "Members only"
__auth__ = {"eggs": "spam", "joe": "eoj"}
__access__ = ["eggs"]


def index(req):
    return "secure for %s" % req.user
