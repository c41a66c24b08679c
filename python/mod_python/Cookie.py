"""mod_python.Cookie for mod_pyrite: one HTTP cookie per object, signed and
marshalled cookies, and helpers that read and set cookies on a request.

The names and calling conventions are mod_python 3.5's. Where this module
deliberately behaves differently (docs/migration.md lists each case):

- ``str()`` writes attribute names in lower case as mod_python did (``path``,
  ``domain``, ``httponly``; RFC 6265 matches them in any case), except that
  ``max_age`` is written ``max-age``: mod_python's ``max_age=`` is ignored by
  browsers.
- ``secure``, ``httponly`` and ``discard`` are flags that appear only when
  true; mod_python wrote them whenever the attribute was set, even to False.
- Names must be RFC 6265 tokens and values may not hold control characters or
  ``;``: such a cookie raises ``CookieError`` instead of corrupting the header.
- ``SignedCookie`` signs with HMAC-SHA256 over ``name=value`` (64 hex digits
  before the value). mod_python used HMAC-MD5 over ``name + value``, which no
  longer runs on Python 3.8+ and let a signed cookie be renamed. Cookies signed
  by mod_python are therefore not accepted (they are downgraded, like any
  cookie whose signature fails).
- ``samesite`` is accepted as an attribute (``samesite=Lax`` ...).
"""
import base64
import calendar
import hashlib
import hmac
import marshal
import re
import time

__all__ = [
    "CookieError", "Cookie", "SignedCookie", "MarshalCookie",
    "add_cookie", "get_cookies", "get_cookie",
]


class CookieError(Exception):
    pass


# attribute name (lower case) -> (Python attribute, name written in Set-Cookie)
_ATTRIBUTES = {
    "version": ("version", "version"),
    "path": ("path", "path"),
    "domain": ("domain", "domain"),
    "secure": ("secure", "secure"),
    "comment": ("comment", "comment"),
    "expires": ("expires", "expires"),
    "max_age": ("max_age", "max-age"),
    "max-age": ("max_age", "max-age"),
    "commenturl": ("commentURL", "commentURL"),
    "discard": ("discard", "discard"),
    "port": ("port", "port"),
    "httponly": ("httponly", "httponly"),
    "samesite": ("samesite", "samesite"),
}
_FLAGS = ("secure", "discard", "httponly")
# The order attributes are written in.
_ORDER = ("version", "path", "domain", "secure", "comment", "expires", "max_age",
          "commentURL", "discard", "port", "httponly", "samesite")

# RFC 6265 token: visible ASCII except separators.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_BAD_VALUE = re.compile(r"[\x00-\x1f\x7f;]")

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# The Netscape form mod_python writes, and the RFC 1123 form browsers also send.
_DATE = re.compile(
    r"(?:[A-Za-z]{3}),\s*(\d{1,2})[- ]([A-Za-z]{3})[- ](\d{4})\s+(\d{2}):(\d{2}):(\d{2})\s+GMT\Z")


def _http_date(seconds):
    """``Wdy, DD-Mon-YYYY HH:MM:SS GMT`` in English whatever the locale."""
    t = time.gmtime(seconds)
    return "%s, %02d-%s-%04d %02d:%02d:%02d GMT" % (
        _DAYS[t.tm_wday], t.tm_mday, _MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min, t.tm_sec)


def _parse_http_date(text):
    m = _DATE.match(text.strip())
    if not m or m.group(2).title() not in _MONTHS:
        raise ValueError("Invalid expires time: %r" % (text,))
    day, mon, year, hh, mm, ss = m.groups()
    try:
        return calendar.timegm((int(year), _MONTHS.index(mon.title()) + 1, int(day),
                                int(hh), int(mm), int(ss), 0, 0, 0))
    except (ValueError, OverflowError):
        raise ValueError("Invalid expires time: %r" % (text,))


def _check_text(what, text):
    if _BAD_VALUE.search(text):
        raise CookieError("cookie %s %r holds a control character or ';'" % (what, text))


class Cookie(object):
    """One cookie: ``name``, ``value`` and the attributes of the Netscape
    specification and RFC 2109/2965/6265 as keyword arguments."""

    # What SignedCookie.parse and MarshalCookie.parse do with a cookie whose
    # signature fails (mod_python's constants).
    DOWNGRADE = 0
    IGNORE = 1
    EXCEPTION = 3

    __slots__ = ("name", "value", "version", "path", "domain", "secure", "comment",
                 "_expires", "max_age", "commentURL", "discard", "port", "httponly",
                 "samesite", "__data__")

    def __init__(self, name, value, **kw):
        self.name, self.value = name, value
        # For subclasses' own state (mod_python's general-purpose dictionary).
        self.__data__ = {}
        for key, val in kw.items():
            attr = _ATTRIBUTES.get(key.lower())
            if attr is None:
                raise AttributeError("%r is not a cookie attribute" % (key,))
            setattr(self, attr[0], val)

    @property
    def expires(self):
        try:
            return self._expires
        except AttributeError:
            raise AttributeError("expires") from None

    @expires.setter
    def expires(self, value):
        """A number of seconds since the epoch, or a date string in the
        ``Wdy, DD-Mon-YYYY HH:MM:SS GMT`` form (``Wdy, DD Mon YYYY ...`` too)."""
        if isinstance(value, str):
            _parse_http_date(value)
            self._expires = value.strip()
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            self._expires = _http_date(value)
        else:
            raise ValueError("Invalid expires time: %r (a number of seconds or a date string)" % (value,))

    @expires.deleter
    def expires(self):
        del self._expires

    @classmethod
    def parse(cls, s, names=None, attributes=True, **kw):
        """A dict of the cookies in ``s`` (a ``Cookie`` or ``Set-Cookie``
        header value), made with this class. With ``attributes`` (the
        default), ``Set-Cookie`` attributes after a cookie are applied to it;
        ``get_cookies`` turns that off, since in a request every pair is a
        cookie. ``names`` restricts the result to those names."""
        return _parse_cookies(s, cls, names, attributes)

    def _attribute_text(self):
        parts = []
        for attr in _ORDER:
            if not hasattr(self, attr):
                continue
            val = getattr(self, attr)
            label = _ATTRIBUTES[attr.lower()][1]
            if attr in _FLAGS:
                if val:
                    parts.append(label)
                continue
            if val is None:
                continue
            text = str(val)
            _check_text("attribute %s" % label, text)
            parts.append("%s=%s" % (label, text))
        return parts

    def _pair(self, value_text):
        name = str(self.name)
        if not _TOKEN.match(name):
            raise CookieError("cookie name %r is not a token (letters, digits and !#$%%&'*+-.^_`|~)" % (name,))
        _check_text("value", value_text)
        return "%s=%s" % (name, value_text)

    def __str__(self):
        """The cookie as a ``Set-Cookie`` header value."""
        return "; ".join([self._pair(str(self.value))] + self._attribute_text())

    def __repr__(self):
        try:
            text = str(self)
        except (CookieError, ValueError):
            text = "%s=%r (not writable as a header)" % (self.name, self.value)
        return "<%s: %s>" % (type(self).__name__, text)


def _as_bytes(secret):
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, (bytes, bytearray)) or not secret:
        raise CookieError("a signed cookie needs a non-empty secret (str or bytes)")
    return bytes(secret)


_SIG_LEN = 64  # hex digits of HMAC-SHA256


class SignedCookie(Cookie):
    """A cookie whose value carries an HMAC-SHA256 signature of its name and
    value made with ``secret``. The signature shows tampering; it does not
    hide the value."""

    __slots__ = ()

    def __init__(self, name, value, secret=None, **kw):
        Cookie.__init__(self, name, value, **kw)
        self.__data__["secret"] = secret

    def hexdigest(self, text):
        """The signature of ``text`` as this cookie's value."""
        secret = _as_bytes(self.__data__.get("secret"))
        mac = hmac.new(secret, digestmod=hashlib.sha256)
        mac.update(str(self.name).encode("utf-8") + b"=" + text.encode("utf-8"))
        return mac.hexdigest()

    def _signed_value(self):
        text = str(self.value)
        return self.hexdigest(text) + text

    def __str__(self):
        return "; ".join([self._pair(self._signed_value())] + self._attribute_text())

    def unsign(self, secret):
        """Checks the signature of a parsed cookie and strips it from the value;
        raises CookieError when it does not match."""
        raw = self.value if isinstance(self.value, str) else str(self.value)
        sig, text = raw[:_SIG_LEN], raw[_SIG_LEN:]
        self.__data__["secret"] = secret
        expected = self.hexdigest(text)
        # compare_digest takes the same time wherever the strings differ.
        if len(sig) != _SIG_LEN or not hmac.compare_digest(sig.encode("ascii", "replace"), expected.encode("ascii")):
            self.__data__["secret"] = None
            raise CookieError("Incorrectly signed cookie: %s" % (self.name,))
        self.value = text

    @classmethod
    def parse(cls, s, secret, mismatch=Cookie.DOWNGRADE, names=None, attributes=True, **kw):
        """As ``Cookie.parse``, keeping only cookies whose signature matches
        ``secret`` as this class. A cookie that fails becomes a plain
        ``Cookie`` with its raw value (``mismatch=Cookie.DOWNGRADE``, the
        default), is left out (``Cookie.IGNORE``) or raises CookieError
        (``Cookie.EXCEPTION``)."""
        _as_bytes(secret)
        found = _parse_cookies(s, cls, names, attributes)
        result = {}
        for name, cookie in found.items():
            raw = cookie.value
            try:
                cookie._verify(secret)
            except CookieError:
                if mismatch == Cookie.EXCEPTION:
                    raise
                if mismatch == Cookie.IGNORE:
                    continue
                cookie = _downgrade(cookie, raw)
            result[name] = cookie
        return result

    def _verify(self, secret):
        self.unsign(secret)


def _downgrade(cookie, raw):
    plain = Cookie(cookie.name, raw)
    for attr in _ORDER:
        if hasattr(cookie, attr):
            setattr(plain, attr, getattr(cookie, attr))
    return plain


class MarshalCookie(SignedCookie):
    """A signed cookie whose value is any object ``marshal`` can write (str,
    bytes, numbers, lists, dicts, ...). The signature is checked before
    anything is unmarshalled, so a forged cookie never reaches ``marshal``."""

    __slots__ = ()

    def _signed_value(self):
        try:
            data = marshal.dumps(self.value)
        except ValueError as e:
            raise CookieError("MarshalCookie value cannot be marshalled: %s" % (e,))
        text = base64.b64encode(data).decode("ascii")
        return self.hexdigest(text) + text

    def unmarshal(self, secret):
        """Checks the signature, then decodes the value."""
        self.unsign(secret)
        try:
            data = base64.b64decode(self.value.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):
            raise CookieError("Cannot base64-decode cookie %s" % (self.name,))
        try:
            self.value = marshal.loads(data)
        except (EOFError, ValueError, TypeError):
            raise CookieError("Cannot unmarshal cookie %s" % (self.name,))

    def _verify(self, secret):
        self.unmarshal(secret)


# A cookie header is read by a scanner whose work is linear in its length
# whatever the header holds: one pattern with a lazy value before optional
# white space took time quadratic in a run of spaces, holding the GIL while a
# client's header was parsed. Each pattern below matches where the scanner
# stands and can match a text in one way only, so a character is read a
# bounded number of times (tests/support/cookie_work.py counts it).
_SPACES = re.compile(r"\s*")
_SEPARATORS = re.compile(r"[\s,]*")
_NAME = re.compile(r"[^;=\s]*")
_UNTIL_SEMICOLON = re.compile(r"[^;]*")
# A double-quoted value; a backslash escapes the next character (not a newline).
_QUOTED = re.compile(r'"(?:[^\\"]|\\.)*"')


def _pairs(s):
    """The (name, value) pairs of a cookie header in order; value is None for a
    bare word (a flag such as Secure). Separators are ``;``, with white space
    and commas before a name; a value runs to the next ``;`` without trailing
    white space, or is a double-quoted string (kept with its quotes) followed
    only by white space before ``;``. Text that is not a pair is skipped up to
    the next ``;``."""
    n = len(s)
    pos = 0
    while pos < n:
        if s[pos] == ";":
            pos += 1  # an empty pair
            continue
        start = _SEPARATORS.match(s, pos).end()
        end = _NAME.match(s, start).end()
        if end > start:
            name = s[start:end]
        else:
            # No name where the separators stop (';', '=' or the end): a comma
            # among the separators is the name, as the older pattern read it.
            name = None
            i = start - 1
            while i >= pos:
                if s[i] == ",":
                    name = ","
                    break
                i -= 1
        if name is not None:
            i = _SPACES.match(s, end).end()
            if i < n and s[i] == "=":
                value_start = _SPACES.match(s, i + 1).end()
                quoted = _QUOTED.match(s, value_start)
                if quoted is not None:
                    after = _SPACES.match(s, quoted.end()).end()
                    if after == n or s[after] == ";":
                        yield name, quoted.group()
                        pos = after + 1
                        continue
                semicolon = _UNTIL_SEMICOLON.match(s, value_start).end()
                yield name, s[value_start:semicolon].rstrip()
                pos = semicolon + 1
                continue
            if i == n or s[i] == ";":
                yield name, None
                pos = i + 1
                continue
        else:
            i = start
        # Not a pair: go on after the next ';'.
        pos = _UNTIL_SEMICOLON.match(s, i).end() + 1


def _parse_cookies(s, cls, names, attributes):
    result = {}
    last = None
    for key, val in _pairs(s):
        attr = _ATTRIBUTES.get(key.lower()) if attributes else None
        if attr is not None and last is not None:
            try:
                if attr[0] in _FLAGS:
                    setattr(last, attr[0], True)
                elif val is not None:
                    setattr(last, attr[0], val)
            except ValueError:
                pass  # an unreadable Expires is dropped, not fatal
            continue
        if val is None or key.startswith("$"):
            # $Version, $Path ... are RFC 2965 attributes a client sent.
            last = None
            continue
        if names is not None and key not in names:
            last = None
            continue
        last = cls(key, val)
        result[key] = last
    return result


def add_cookie(req, cookie, value="", **kw):
    """Adds a ``Set-Cookie`` header to the response (``cookie`` is a Cookie,
    or a name to make one from ``value`` and the attribute keywords), and
    ``Cache-Control: no-cache="set-cookie"`` with the first one so that shared
    caches do not store the cookie."""
    if not isinstance(cookie, Cookie):
        cookie = Cookie(cookie, value, **kw)
    text = str(cookie)
    if "Set-Cookie" not in req.headers_out:
        req.headers_out.add("Cache-Control", 'no-cache="set-cookie"')
    req.headers_out.add("Set-Cookie", text)


def get_cookies(req, Class=Cookie, **kw):
    """A dict of the request's cookies made with ``Class.parse`` (keywords
    such as ``secret`` are passed on)."""
    if "cookie" not in req.headers_in:
        return {}
    header = req.headers_in["cookie"]
    if isinstance(header, (list, tuple)):
        header = "; ".join(header)
    kw.setdefault("attributes", False)
    return Class.parse(header, **kw)


def get_cookie(req, name, Class=Cookie, **kw):
    """The request's cookie called ``name``, or None."""
    return get_cookies(req, Class, names=[name], **kw).get(name)
