"""Fixtures for mod_python.Cookie: setting, parsing, signing and marshalling."""
from mod_python import apache, Cookie

SECRET = "s3cret-key"
# 2026-01-01 00:00:00 UTC
NEW_YEAR = 1767225600


def _describe(c):
    fields = ["%s=%r" % (a, getattr(c, a)) for a in ("name", "value", "path", "domain", "expires", "max_age")
              if hasattr(c, a)]
    fields += [flag for flag in ("secure", "httponly") if getattr(c, flag, False)]
    return "%s(%s)" % (type(c).__name__, " ".join(fields))


def set_cookies(req):
    c = Cookie.Cookie("spam", "eggs", path="/shop", domain="example.com", expires=NEW_YEAR,
                      max_age=300, secure=True, httponly=True)
    Cookie.add_cookie(req, c)
    Cookie.add_cookie(req, "plain", "v1", expires="Sat, 14-Jun-2003 02:42:36 GMT")
    Cookie.add_cookie(req, Cookie.Cookie("flags_off", "x", secure=False, httponly=False))
    # The string form parses back to the same cookie and attributes.
    again = Cookie.Cookie.parse(str(c))["spam"]
    req.write(_describe(again) + "\n")
    for bad in (lambda: Cookie.Cookie("a", "b", expires="yesterday"),
                lambda: str(Cookie.Cookie("bad name", "v")),
                lambda: str(Cookie.Cookie("n", "v\r\nSet-Cookie: evil=1")),
                lambda: Cookie.Cookie("n", "v", colour="red")):
        try:
            bad()
            req.write("accepted\n")
        except (ValueError, Cookie.CookieError, AttributeError) as e:
            req.write(type(e).__name__ + "\n")
    return apache.OK


def echo(req):
    cookies = Cookie.get_cookies(req)
    req.write(" ".join("%s=%s" % (k, cookies[k].value) for k in sorted(cookies)))
    one = Cookie.get_cookie(req, "b")
    req.write("\nb=%s missing=%s" % (one.value if one else None, Cookie.get_cookie(req, "nope")))
    return apache.OK


def sign(req):
    Cookie.add_cookie(req, Cookie.SignedCookie("user", "alice", SECRET, path="/"))
    return apache.OK


def verify(req):
    secret = req.args or SECRET
    c = Cookie.get_cookie(req, "user", Class=Cookie.SignedCookie, secret=secret)
    req.write("%s %s" % (type(c).__name__, c.value if c else None))
    try:
        Cookie.get_cookies(req, Cookie.SignedCookie, secret=secret, mismatch=Cookie.Cookie.EXCEPTION)
        req.write(" strict=ok")
    except Cookie.CookieError:
        req.write(" strict=CookieError")
    ignored = Cookie.get_cookies(req, Cookie.SignedCookie, secret=secret, mismatch=Cookie.Cookie.IGNORE)
    req.write(" ignore=%s" % sorted(ignored))
    return apache.OK


VALUE = {"egg_count": 32, "colour": "white", "list": [1, 2.5, "three"], "raw": b"\x00\xff"}


def marshal_set(req):
    Cookie.add_cookie(req, Cookie.MarshalCookie("data", VALUE, SECRET))
    return apache.OK


def marshal_get(req):
    c = Cookie.get_cookie(req, "data", Class=Cookie.MarshalCookie, secret=SECRET)
    if c is None:
        req.write("none")
    elif type(c) is Cookie.MarshalCookie:
        req.write("MarshalCookie equal=%s" % (c.value == VALUE))
    else:
        req.write("%s value_is_str=%s" % (type(c).__name__, isinstance(c.value, str)))
    return apache.OK
