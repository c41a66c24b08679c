"""A second page (/pub/other.py): module-level defaults and a nested __auth__."""


def index():
    return "other index"


def greet(req, who):
    return "greetings, %s" % who


def protected(req):
    __auth_realm__ = "Nested realm"

    def __auth__(req, user, password):
        return user == "spam" and password == "eggs"

    return "protected for %s" % req.user


def members(req):
    __auth__ = {"alice": "wonderland"}
    __access__ = ("alice",)
    return "members only"


class Panel:
    def admin(self, req):
        __auth__ = {"root": "toor"}
        return "admin panel"

    def public(self):
        return "public panel"


panel = Panel()


def computed(req):
    __access__ = sorted(["x"])  # known only when the function runs
    return "must not be published"
