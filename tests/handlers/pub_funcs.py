"""Function forms of __auth__ and __access__ (/pub/funcs.py)."""


def __auth__(req, user, password):
    return password == "pw"


def __access__(req, user):
    return user != "mallory"


def index(req):
    return "welcome %s" % req.user
