"""Handlers exercising mod_python.util: FieldStorage, parse_qs, redirect."""
import hashlib
import io
import json
import resource

from mod_python import apache, util


def _text(x):
    """A name or value for JSON: bytes shown as their UTF-8 text (the
    ``*_type`` entries say which type it was)."""
    if isinstance(x, bytes):
        return bytes(x).decode("utf-8")
    if isinstance(x, list):
        return [_text(v) for v in x]
    return x


def _describe(fs):
    """The form as JSON: every field in order with its Python types."""
    fields = []
    for item in fs.list:
        entry = {"name": _text(item.name), "name_type": type(item.name).__name__,
                 "class": type(item).__name__}
        if item.filename is not None:
            data = item.value
            entry.update(filename=item.filename, value_type=type(data).__name__, len=len(data),
                         sha256=hashlib.sha256(data).hexdigest(), file_mode=getattr(item.file, "mode", None),
                         content_type=item.type)
        else:
            entry.update(value=_text(item.value), value_type=type(item.value).__name__,
                         is_bytes=isinstance(item, bytes), repr=repr(item))
        fields.append(entry)
    return {
        "fields": fields,
        "keys": _text(fs.keys()),
        "key_types": [type(k).__name__ for k in fs.keys()],
        "len": len(fs),
    }


def _reply(req, obj):
    req.content_type = "application/json"
    req.write(json.dumps(obj, sort_keys=True))
    return apache.OK


def dump(req):
    return _reply(req, _describe(util.FieldStorage(req)))


def dump_blank(req):
    return _reply(req, _describe(util.FieldStorage(req, keep_blank_values=1)))


class _TinyBlocks(util.FieldStorage):
    block_size = 7  # every delimiter and CRLF straddles reads


def dump_small_blocks(req):
    return _reply(req, _describe(_TinyBlocks(req)))


def list_repr(req):
    """What mod_python's own test prints: the repr of the form's field list."""
    req.write(repr(util.FieldStorage(req).list))
    return apache.OK


def mapping(req):
    """The mapping API over a form with a repeated field (from the query
    string: str names, StringFields whose value is str)."""
    fs = util.FieldStorage(req)
    out = {
        "getitem_a": [v.value for v in fs["a"]] if isinstance(fs["a"], list) else fs["a"].value,
        "getitem_b": fs["b"].value,
        "getitem_b_bytes": _text(fs["b"]),
        "getitem_b_type": type(fs["b"]).__bases__[0].__name__,
        "get_missing": fs.get("zz", "dflt"),
        "getfirst_a": fs.getfirst("a").value,
        "getfirst_missing": fs.getfirst("zz"),
        "getlist_a": [v.value for v in fs.getlist("a")],
        "getlist_missing": fs.getlist("zz"),
        "has_key_b": fs.has_key("b"),
        "in_zz": "zz" in fs,
        "keys": fs.keys(),
        "len": len(fs),
        "items": [[k, v.value] for k, v in fs.items()],
        "list_len": len(fs.list),
        "value_attr": fs["b"].value,
        "file_attr": fs["b"].file.read().decode("utf-8"),
        "repr": repr(fs),
    }
    fs.add_field("b", "added")
    out["after_add"] = [v.value for v in fs.getlist("b")]
    try:
        fs["a"] = "replaced"
        out["set_str"] = "accepted"
    except TypeError as e:
        out["set_str"] = "TypeError: %s" % e
    fs[b"a"] = b"replaced"
    out["after_set"] = repr(fs[b"a"])
    del fs["b"]
    out["after_del"] = _text(fs.keys())
    fs.clear()
    out["after_clear"] = [len(fs), fs.keys()]
    return _reply(req, out)


class _Recorder(io.BytesIO):
    """A file object a file_callback hands out, remembering its advisory name."""

    def __init__(self, advisory_filename):
        super().__init__()
        self.advisory_filename = advisory_filename


def callbacks(req):
    calls = []

    def file_cb(filename):
        calls.append(["file", filename])
        return _Recorder(filename)

    def field_cb():
        calls.append(["field"])
        return io.BytesIO()

    fs = util.FieldStorage(req, file_callback=file_cb, field_callback=field_cb)
    out = _describe(fs)
    out["calls"] = calls
    out["file_objects"] = [type(item.file).__name__ for item in fs.list]
    out["advisory"] = [getattr(item.file, "advisory_filename", None) for item in fs.list]
    return _reply(req, out)


def text_field_callback(req):
    """A field_callback written for Python 2 returns a text StringIO."""
    fs = util.FieldStorage(req, field_callback=io.StringIO)
    return _reply(req, _describe(fs))


def _peak_rss_kb():
    """This process's peak resident set (VmHWM) in kB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def upload_digest(req):
    """Parses a big upload and reports its digest and how far the child's
    peak memory rose while parsing it."""
    before = _peak_rss_kb()
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fs = util.FieldStorage(req)
    upload = fs["file"]
    h = hashlib.sha256()
    total = 0
    while True:
        chunk = upload.file.read(65536)
        if not chunk:
            break
        h.update(chunk)
        total += len(chunk)
    after = _peak_rss_kb()
    maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return _reply(req, {
        "sha256": h.hexdigest(),
        "len": total,
        "chunk_type": type(chunk).__name__,
        "note": fs["note"].value.decode("utf-8"),
        "peak_growth_kb": after - before,
        "maxrss_growth_kb": maxrss_after - maxrss_before,
    })


def read_whole_body(req):
    """The control for upload_digest: reading the body at once does raise the peak."""
    before = _peak_rss_kb()
    data = req.read()
    after = _peak_rss_kb()
    return _reply(req, {"len": len(data), "peak_growth_kb": after - before})


def qs(req):
    return _reply(req, {
        "parse_qs": util.parse_qs(req.args or ""),
        "parse_qs_blank": util.parse_qs(req.args or "", 1),
        "parse_qsl": util.parse_qsl(req.args or ""),
        "parse_qsl_blank": util.parse_qsl(req.args or "", keep_blank_values=1),
    })


def strict(req):
    return _reply(req, _describe(util.FieldStorage(req, strict_parsing=1)))


def redirect(req):
    permanent = req.args == "permanent"
    util.redirect(req, "/elsewhere?x=1", permanent=permanent)
    req.write("not reached")
    return apache.OK


def redirect_text(req):
    util.redirect(req, "/there", text="moved, see /there")


def redirect_late(req):
    req.content_type = "text/plain"
    req.write("already started\n")  # flushed: the head is on the wire
    try:
        util.redirect(req, "/too-late")
    except IOError as e:
        req.write("IOError: %s" % e)
    return apache.OK
