"""mod_python.util for mod_pyrite: form data (FieldStorage), query strings,
redirect and the argument matching the publisher uses.

The API and the types are mod_python 3.5's on Python 3, so a site written
for it runs unchanged: a text field is a StringField, a ``bytes`` subclass.
A field from the query string (``req.args``) has a ``str`` name and a ``str``
``value``; a field from an urlencoded POST body has a ``bytes`` name and a
``bytes`` value; a multipart part has a ``str`` name and a ``bytes`` value
(an upload's ``file`` is a binary file object). Text is decoded as UTF-8;
bytes that are not valid UTF-8 are read as latin-1, so no input makes a
field unreadable.

Uploads are streamed to temporary files in blocks of ``readBlockSize`` bytes:
the body is never held whole in memory.
"""
import codecs
import html
import inspect
import io
import re
import tempfile
from urllib.parse import unquote_to_bytes

from mod_python import apache

# Bytes asked of req.read() at a time while parsing a request body.
readBlockSize = 65536

# A multipart part's header block larger than this is refused (400).
_MAX_PART_HEADERS = 64 * 1024


def _decode(raw, charset="utf-8"):
    """Text from bytes: the given charset, else UTF-8, else latin-1 (never fails)."""
    for encoding in (charset, "utf-8"):
        try:
            return raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            pass
    return raw.decode("latin-1")


# ---- query strings -------------------------------------------------------------

def parse_qsl(qs, keep_blank_values=0, strict_parsing=0):
    """The ``name=value`` pairs of a query string (``&`` or ``;`` separated,
    ``+`` is a space, %XX escapes decoded): (str, str) pairs for a str query
    string, (bytes, bytes) pairs for a bytes one, as mod_python's do.

    Blank values are dropped unless ``keep_blank_values``; with
    ``strict_parsing`` a field without ``=`` raises ValueError."""
    text = isinstance(qs, str)
    if text:
        qs = qs.encode("utf-8", "surrogateescape")
    unquote = _unquote if text else _unquote_bytes
    pairs = []
    for field in re.split(b"[&;]", bytes(qs)):
        if not field:
            continue
        name, sep, value = field.partition(b"=")
        if not sep:
            if strict_parsing:
                raise ValueError("bad query field: %r" % _decode(field))
            if not keep_blank_values:
                continue
        if not value and not keep_blank_values:
            continue
        pairs.append((unquote(name), unquote(value)))
    return pairs


def parse_qs(qs, keep_blank_values=0, strict_parsing=0):
    """A query string as a dict: each name maps to the list of its values."""
    result = {}
    for name, value in parse_qsl(qs, keep_blank_values, strict_parsing):
        result.setdefault(name, []).append(value)
    return result


def _unquote_bytes(raw):
    return unquote_to_bytes(raw.replace(b"+", b" "))


def _unquote(raw):
    return _decode(_unquote_bytes(raw))


# ---- header values with parameters -------------------------------------------------

_PARAM = re.compile(r';\s*([^\s=;]+)\s*(?:=\s*("(?:\\.|[^"\\])*"|[^;]*))?')


class _Options(dict):
    """A header's parameters as mod_python 3.5 gives them: ``bytes`` names
    (``{b'name': 'a'}``), ``str`` values. A ``str`` name finds its entry too."""

    @staticmethod
    def _key(key):
        return key.encode("latin-1", "replace") if isinstance(key, str) else key

    def __getitem__(self, key):
        return dict.__getitem__(self, self._key(key))

    def __contains__(self, key):
        return dict.__contains__(self, self._key(key))

    def get(self, key, default=None):
        return dict.get(self, self._key(key), default)


def parse_header(line):
    """``'form-data; name="a"; filename="b"'`` -> ``('form-data', {'name': 'a', 'filename': 'b'})``.
    Parameter names are lower-cased; RFC 5987 ``name*=UTF-8''...`` values win
    over plain ones. Given ``bytes`` (as mod_python 3.5 requires), the main
    value is ``bytes`` and the parameters' names are too (values stay str)."""
    if isinstance(line, (bytes, bytearray)):
        main, params = parse_header(bytes(line).decode("latin-1"))
        return main.encode("latin-1"), _Options((k.encode("latin-1", "replace"), v) for k, v in params.items())
    main, _, rest = line.partition(";")
    params = {}
    extended = {}
    for match in _PARAM.finditer(";" + rest):
        key = match.group(1).lower()
        value = (match.group(2) or "").strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\\\', '\\').replace('\\"', '"')
        if key.endswith("*"):
            charset, _, encoded = value.partition("''")
            if encoded or charset:
                extended[key[:-1]] = _decode(unquote_to_bytes(encoded), charset or "utf-8")
            continue
        params[key] = value
    params.update(extended)
    return main.strip().lower(), params


# ---- fields --------------------------------------------------------------------------

class Field:
    """One multipart part that is a file upload (or any part, for code that
    builds fields itself). ``file`` is a binary file object; ``value`` reads
    it whole (bytes) and rewinds it."""

    filename = None
    headers = {}
    type = None
    type_options = {}
    disposition = None
    disposition_options = {}

    def __init__(self, name, *args, **kwargs):
        self.name = name
        if args or kwargs:
            # mod_python's older constructor, still used by some applications.
            self._init_parts(*args, **kwargs)

    def _init_parts(self, file, ctype, type_options, disp, disp_options, headers={}):
        self.file = file
        self.type = ctype
        self.type_options = type_options
        self.disposition = disp
        self.disposition_options = disp_options
        self.filename = disp_options.get("filename")
        self.headers = headers

    @property
    def value(self):
        f = self.__dict__.get("file")
        if f is None:
            return None
        f.seek(0)
        data = f.read()
        f.seek(0)
        return data

    def __repr__(self):
        return "Field(%r, %r)" % (self.name, self.value)


class StringField(bytes):
    """A text field, as in mod_python 3.5: ``bytes`` (a str value is stored
    UTF-8 encoded) whose ``value`` is the value it was made from, str or
    bytes; ``name``, ``filename`` None, ``file`` a binary file on demand."""

    name = None
    filename = None
    headers = {}
    ctype = "text/plain"
    type = None
    type_options = {}
    disposition = None
    disposition_options = {}
    disp_options = None

    def __new__(cls, value):
        if isinstance(value, str):
            data = value.encode("utf-8", "surrogateescape")
        else:
            value = data = bytes(value)
        obj = bytes.__new__(cls, data)
        obj.value = value
        return obj

    def __getattr__(self, name):
        if name != "file":
            raise AttributeError(name)
        self.file = io.BytesIO(bytes(self))
        return self.file

    def __repr__(self):
        return "Field(%r, %r)" % (self.name, self.value)


class FieldList(list):
    """The fields of a form in the order they came; ``table()`` indexes them by name."""

    def __init__(self, *args):
        list.__init__(self, *args)
        self._index = None

    def table(self):
        """{name: [fields]}, rebuilt when the list changed length since last time."""
        index = self.__dict__.get("_index")
        if index is None or index[0] != len(self):
            by_name = {}
            for item in self:
                by_name.setdefault(getattr(item, "name", None), []).append(item)
            index = self._index = (len(self), by_name)
        return index[1]

    def _changed(self):
        self._index = None


# ---- reading the body ----------------------------------------------------------------

class _BodyReader:
    """The request body in blocks of at most ``block`` bytes: ``length`` bytes
    in all, or up to the end when the length is unknown (chunked)."""

    def __init__(self, req, length, block):
        self.req, self.left, self.block = req, length, max(1, int(block))

    def read(self):
        if self.left == 0:
            return b""
        n = self.block if self.left is None else min(self.block, self.left)
        data = self.req.read(n)
        if not data:
            self.left = 0
            return b""
        if self.left is not None:
            self.left -= len(data)
        return data

    def drain(self):
        while self.read():
            pass


class _Sink:
    """Writes part content into a file object; a text-mode object (a
    StringIO from a callback written for Python 2) gets decoded text."""

    def __init__(self, f):
        self.f, self.decoder = f, None

    def __call__(self, data):
        if self.decoder is None:
            try:
                self.f.write(data)
                return
            except TypeError:
                self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.f.write(self.decoder.decode(bytes(data)))

    def finish(self):
        if self.decoder is not None:
            self.f.write(self.decoder.decode(b"", True))


class _Multipart:
    """A streaming multipart/form-data parser: a window of at most one block
    plus a delimiter's length is kept in memory, whatever the part sizes."""

    def __init__(self, reader, boundary):
        self.reader = reader
        self.delim = b"\r\n--" + boundary
        # A CRLF in front lets the first delimiter match like every later one.
        self.buf = bytearray(b"\r\n")
        self.eof = False

    def more(self):
        if self.eof:
            return False
        data = self.reader.read()
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def fill(self, n):
        """At least n bytes buffered, unless the body ends first."""
        while len(self.buf) < n and self.more():
            pass
        return len(self.buf) >= n

    def copy_until_delimiter(self, write):
        """Passes the bytes before the next delimiter to write (None: drop
        them) and consumes the delimiter. False when the body ends first."""
        buf, delim = self.buf, self.delim
        keep = len(delim) - 1
        start = 0
        while True:
            i = buf.find(delim, start)
            if i >= 0:
                after = i + len(delim)
                self.fill(after + 2)
                tail = bytes(buf[after:after + 2])
                # A real delimiter ends the body ("--") or its line; anything
                # else is content that merely starts like one.
                if tail == b"--" or not tail or tail[:1] in (b" ", b"\t", b"\r"):
                    if write is not None and i:
                        write(buf[:i])
                    del buf[:after]
                    return True
                start = i + 1
                continue
            safe = len(buf) - keep
            if safe > 0:
                if write is not None:
                    write(buf[:safe])
                del buf[:safe]
            if not self.more():
                return False
            start = 0

    def after_delimiter(self):
        """'end' after the closing delimiter, 'part' when a part follows."""
        self.fill(2)
        if self.buf[:2] == b"--":
            return "end"
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                break
            if len(self.buf) > 1024 or not self.more():
                _bad_request()
        if self.buf[:i].strip(b" \t"):
            _bad_request()
        del self.buf[:i + 2]
        return "part"

    def headers(self):
        """The part's headers as {lower-case name: str value}."""
        self.fill(2)
        if self.buf[:2] == b"\r\n":
            del self.buf[:2]
            return {}
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            if len(self.buf) > _MAX_PART_HEADERS or not self.more():
                _bad_request()
        block = bytes(self.buf[:i])
        del self.buf[:i + 4]
        headers = {}
        name = None
        for line in block.split(b"\r\n"):
            if line[:1] in (b" ", b"\t") and name is not None:
                headers[name] += " " + _decode(line.strip())
                continue
            key, sep, value = line.partition(b":")
            if not sep:
                continue
            name = _decode(key.strip()).lower()
            headers[name] = _decode(value.strip())
        return headers


def _bad_request():
    raise apache.SERVER_RETURN(apache.HTTP_BAD_REQUEST)


def _first(value):
    """One header value (tables give a list for a repeated header)."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


# ---- FieldStorage ----------------------------------------------------------------------

class FieldStorage:
    """The form data of a request: the query string's fields, then (for a
    POST) the body's, urlencoded or multipart/form-data.

    A POST without Content-Length (and not chunked) is refused with 411, a
    body of another content type with 501, a malformed one with 400.
    Subclasses may set ``block_size`` (bytes per req.read); the default is
    the module's ``readBlockSize``."""

    block_size = None

    def __init__(self, req, keep_blank_values=0, strict_parsing=0, file_callback=None, field_callback=None):
        self.list = FieldList()
        self.keep_blank_values = keep_blank_values
        self.strict_parsing = strict_parsing

        if req.args:
            self._add_query(req.args)

        if req.method != "POST":
            return

        headers = req.headers_in
        length = _first(headers.get("content-length"))
        if length is not None:
            try:
                length = int(length)
            except ValueError:
                _bad_request()
        elif "chunked" not in (_first(headers.get("transfer-encoding")) or "").lower():
            raise apache.SERVER_RETURN(apache.HTTP_LENGTH_REQUIRED)

        ctype = _first(headers.get("content-type")) or "application/x-www-form-urlencoded"
        main, params = parse_header(ctype)
        reader = _BodyReader(req, length, self.block_size or readBlockSize)

        if main == "application/x-www-form-urlencoded":
            body = []
            while True:
                data = reader.read()
                if not data:
                    break
                body.append(data)
            self._add_query(b"".join(body))
        elif main == "multipart/form-data":
            boundary = params.get("boundary", "")
            if not boundary or len(boundary) > 200:
                _bad_request()
            self._read_multipart(reader, boundary.encode("latin-1", "replace"), file_callback, field_callback)
        else:
            raise apache.SERVER_RETURN(apache.HTTP_NOT_IMPLEMENTED)

    def _add_query(self, qs):
        try:
            pairs = parse_qsl(qs, self.keep_blank_values, self.strict_parsing)
        except ValueError:
            _bad_request()
        for name, value in pairs:
            self.add_field(name, value)

    def _read_multipart(self, reader, boundary, file_callback, field_callback):
        parser = _Multipart(reader, boundary)
        # The preamble before the first delimiter is not part of the form.
        if not parser.copy_until_delimiter(None):
            _bad_request()
        while parser.after_delimiter() == "part":
            headers = parser.headers()
            disp, disp_options = parse_header(headers.get("content-disposition", ""))
            ctype, type_options = parse_header(headers.get("content-type", "text/plain"))
            if "/" not in ctype:
                ctype = "application/octet-stream"  # what a browser meant by a bare word
            disp_options = _Options((k.encode("latin-1", "replace"), v) for k, v in disp_options.items())
            type_options = _Options((k.encode("latin-1", "replace"), v) for k, v in type_options.items())
            name = disp_options.get("name")
            is_file = "filename" in disp_options
            if is_file:
                f = file_callback(disp_options["filename"]) if file_callback else tempfile.TemporaryFile("w+b")
            else:
                f = field_callback() if field_callback else io.BytesIO()
            sink = _Sink(f)
            if not parser.copy_until_delimiter(sink):
                _bad_request()  # the body ended inside a part
            sink.finish()
            if hasattr(f, "seek"):
                f.seek(0)
            if is_file:
                field = Field(name)
                field.filename = disp_options["filename"]
            else:
                raw = f.read() if hasattr(f, "read") else b""
                if hasattr(f, "seek"):
                    f.seek(0)
                field = StringField(raw)
                field.name = name
            field.file = f
            field.type = ctype
            field.type_options = type_options
            field.disposition = disp
            field.disposition_options = disp_options
            field.headers = headers
            self.list.append(field)
        # The epilogue after the closing delimiter is read and dropped.
        reader.drain()

    # ---- the mapping API ---------------------------------------------------------

    def add_field(self, key, value):
        """Adds a text field (value str or bytes); a field of that name
        already present is kept."""
        item = StringField(value)
        item.name = key
        self.list.append(item)

    def clear(self):
        del self.list[:]
        self.list._changed()

    def __getitem__(self, key):
        found = self.list.table()[key]
        return found[0] if len(found) == 1 else list(found)

    def __setitem__(self, key, value):
        """Replaces the fields named ``key``; like mod_python 3.5, name and
        value must be bytes (TypeError otherwise)."""
        if not isinstance(value, bytes):
            raise TypeError("Field value must be bytes")
        if not isinstance(key, bytes):
            raise TypeError("Field key must be bytes")
        self._remove(key)
        self.add_field(key, value)

    def __delitem__(self, key):
        if not self._remove(key):
            raise KeyError(key)

    def _remove(self, key):
        kept = [item for item in self.list if getattr(item, "name", None) != key]
        removed = len(self.list) - len(kept)
        self.list[:] = kept
        self.list._changed()
        return removed

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def getfirst(self, key, default=None):
        found = self.list.table().get(key)
        return found[0] if found else default

    def getlist(self, key):
        return list(self.list.table().get(key, ()))

    def keys(self):
        return list(self.list.table().keys())

    def values(self):
        return [self[key] for key in self.keys()]

    def items(self):
        """(name, field) for every field, in the order they were sent."""
        return [(getattr(item, "name", None), item) for item in self.list]

    def has_key(self, key):
        return key in self.list.table()

    __contains__ = has_key

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self.list.table())

    def __repr__(self):
        return repr(self.list.table())


# ---- calling a function with form data ----------------------------------------------------

def apply_fs_data(object, fs, **args):
    """Calls ``object`` with the form's fields as keyword arguments: only the
    names it accepts (all of them when it takes ``**kwargs``). A repeated
    field gives a list, an upload its Field, a text field its ``value``: str
    from the query string, bytes from a multipart part, as in mod_python 3.5.
    A field of an urlencoded body (bytes name and value) is passed as text:
    mod_python 3.5 matched no parameter with its bytes name. ``args``
    (the publisher passes ``req``) win over form fields of the same name."""
    req = args.get("req")
    for item in fs.list:
        name = getattr(item, "name", None)
        value = item if getattr(item, "filename", None) else getattr(item, "value", item)
        if isinstance(name, bytes):
            name = _decode(name)
            if isinstance(value, bytes):
                value = _decode(value)
        if name is None or name in args and not isinstance(args[name], _Values):
            continue
        args.setdefault(name, _Values()).append(value)
    for name, value in args.items():
        if isinstance(value, _Values):
            args[name] = value[0] if len(value) == 1 else list(value)

    try:
        signature = inspect.signature(object)
    except (TypeError, ValueError):
        return object()  # a builtin we cannot inspect: no form arguments
    params = signature.parameters.values()
    if not any(p.kind == p.VAR_KEYWORD for p in params):
        accepted = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        args = {k: v for k, v in args.items() if k in accepted}
    try:
        signature.bind(**args)
    except TypeError as e:
        # A required argument the form did not supply: the client's fault.
        message = "mod_python.util.apply_fs_data: cannot call %s: %s" % (getattr(object, "__qualname__", object), e)
        if req is not None and hasattr(req, "log_error"):
            req.log_error(message, apache.APLOG_NOTICE)
        else:
            apache.log_error(message, apache.APLOG_NOTICE)
        raise apache.SERVER_RETURN(apache.HTTP_BAD_REQUEST)
    return object(**args)


class _Values(list):
    """The values a form gave for one name (told apart from caller arguments)."""


# ---- redirect --------------------------------------------------------------------------------

def redirect(req, location, permanent=0, text=None):
    """Sends a redirect (301 when ``permanent``, else 302) to ``location`` with
    a short page (or ``text``) and ends the request: raises
    SERVER_RETURN(DONE). IOError when the response head was already sent."""
    if req.sent_bodyct:
        raise IOError("Cannot redirect after headers have already been sent.")
    if "\r" in location or "\n" in location:
        raise ValueError("redirect location contains a line break")
    req.err_headers_out["Location"] = location
    req.status = apache.HTTP_MOVED_PERMANENTLY if permanent else apache.HTTP_MOVED_TEMPORARILY
    if text is None:
        req.content_type = "text/html"
        text = '<p>The document has moved <a href="%s">here</a></p>\n' % html.escape(location, quote=True)
    req.write(text)
    raise apache.SERVER_RETURN(apache.DONE)
