"""mod_python handlers for the reliability suite: bodies a load generator can
check byte for byte, faults in every phase, misbehaving-client probes and
echoes for the black-box fuzzer."""
import json
import os
import sys
import time
import urllib.parse

from mod_python import apache

SCRATCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scratch")


def _note(name, text):
    with open(os.path.join(SCRATCH, name), "a") as f:
        f.write(text + "\n")


def _query(req):
    return dict(urllib.parse.parse_qsl(req.args or "", keep_blank_values=True))


def expected_body(token, size):
    """The body the load generator expects for token and size (it computes the same)."""
    unit = (token + "|").encode()
    return (unit * (size // len(unit) + 1))[:size]


def _where(req):
    imp = sys.modules.get("rel_generation")
    return {
        "X-Pid": str(os.getpid()),
        "X-Gen": str(req.server.my_generation),
        "X-Import-Pid": str(getattr(imp, "IMPORT_PID", -1)),
    }


def load(req):
    """GET /mp/load?t=TOKEN&n=SIZE[&parts=K]: the expected body, written in K parts."""
    q = _query(req)
    body = expected_body(q.get("t", ""), int(q.get("n", "0")))
    parts = max(1, int(q.get("parts", "1")))
    req.content_type = "application/octet-stream"
    for k, v in _where(req).items():
        req.headers_out[k] = v
    if parts == 1:
        req.set_content_length(len(body))
        req.write(body, 0)
    else:
        step = len(body) // parts + 1
        for i in range(0, len(body), step):
            req.write(body[i:i + step])
    if q.get("sleep"):
        time.sleep(float(q["sleep"]))
    return apache.OK


def upload(req):
    """POST: answers the size and a simple checksum of what it read."""
    data = req.read()
    req.content_type = "text/plain"
    req.write("%d %d" % (len(data), sum(data) % 65521))
    return apache.OK


def child_cleanup(req):
    """Registers a child-exit cleanup once per child; answers its pid."""
    pool = apache.child_pool()
    if not pool.get("registered"):
        pool["registered"] = True
        apache.register_cleanup(_note, "child_exit.txt", str(os.getpid()))
    req.content_type = "text/plain"
    req.write(str(os.getpid()))
    return apache.OK


def pid(req):
    req.content_type = "text/plain"
    req.write(str(os.getpid()))
    return apache.OK


def rss(req):
    """This child's resident set size in kB, from /proc."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                req.write(line.split()[1])
    return apache.OK


def many_writes(req):
    """?n=COUNT: that many small req.write + req.flush calls; then the RSS
    growth (kB) between the first 1% and the end, in a trailer line."""
    n = int(_query(req).get("n", "100000"))
    req.content_type = "text/plain"
    warm = max(1, n // 100)
    before = None
    for i in range(n):
        req.write(b"0123456789abcdef\n", 0)
        req.flush()
        if i == warm:
            before = _vm_rss()
    after = _vm_rss()
    req.write(("rss-growth-kb %d before %d after %d\n" % (after - before, before, after)).encode())
    return apache.OK


def _vm_rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---- faults -----------------------------------------------------------------

def raise_in_phase(req):
    """Raises when req.phase is the phase named in the URI (/fault/<phase>/...)."""
    parts = req.uri.split("/")
    if len(parts) > 2 and parts[1] == "fault" and parts[2] == req.phase:
        raise ValueError("deliberate failure in %s" % req.phase)
    if req.phase == "PythonAuthenHandler":
        req.user = "tester"
        return apache.OK
    if req.phase == "PythonHandler":
        req.content_type = "text/plain"
        req.write("content %d" % os.getpid())
        return apache.OK
    return apache.DECLINED


def sleeps(req):
    """Blocks for ?s seconds (past httpd's Timeout), then answers."""
    time.sleep(float(_query(req).get("s", "3")))
    req.content_type = "text/plain"
    req.write("woke %d" % os.getpid())
    return apache.OK


def reads_stalled_body(req):
    """Reads a body the client never sends: httpd's Timeout ends the wait."""
    started = time.time()
    try:
        data = req.read()
        what = "read %d bytes" % len(data)
    except Exception as e:  # the read fails when httpd gives up on the client
        what = "%s" % type(e).__name__
    _note("stalled_body.txt", "%s after %.1fs" % (what, time.time() - started))
    req.content_type = "text/plain"
    req.write(what)
    return apache.OK


# ---- misbehaving clients ----------------------------------------------------

def read_body_noting(req):
    """Reads the whole body; notes how it ended (the client may go away)."""
    try:
        data = req.read()
        what = "read %d" % len(data)
    except OSError as e:
        what = "OSError %s" % e
    _note("body_end.txt", what)
    req.write(what)
    return apache.OK


def endless_writes(req):
    """Writes 64 KiB blocks with flush until a write fails (the client left) or 100,000 blocks."""
    block = b"y" * 65536
    sent = 0
    try:
        for _ in range(100000):
            req.write(block)
            sent += 1
        what = "all sent"
    except OSError as e:
        what = "OSError after %d blocks: %s" % (sent, e)
    _note("endless_writes.txt", what)
    return apache.OK


def latin1_echo(req):
    """Every request field that carries client bytes, as repr() of str values."""
    out = {
        "uri": req.uri,
        "unparsed_uri": req.unparsed_uri,
        "args": req.args,
        "path_info": req.path_info,
        "the_request": req.the_request,
        "headers": [[k, v] for k, v in req.headers_in.items()],
        "types_ok": all(type(x) is str for x in (req.uri, req.unparsed_uri, req.the_request))
        and all(type(k) is str and type(v) is str for k, v in req.headers_in.items()),
    }
    req.content_type = "application/json"
    req.write(json.dumps(out))
    return apache.OK


def echo_fields(req):
    """Fuzzer target: touches every field built from request data and echoes it."""
    fields = [req.method, req.protocol, req.uri, req.unparsed_uri, req.args, req.path_info,
              req.filename, req.hostname, req.the_request, req.content_type]
    fields.extend("%s: %s" % kv for kv in req.headers_in.items())
    try:
        body = req.read(4096)
    except OSError:
        body = b""
    fields.append(repr(body))
    # Python values back into response headers: ?h=NAME:VALUE pairs.
    for k, v in urllib.parse.parse_qsl(req.args or "", keep_blank_values=True, encoding="latin-1"):
        if k == "h" and ":" in v:
            name, value = v.split(":", 1)
            try:
                req.headers_out[name] = value
            except Exception as e:
                fields.append("refused %s" % type(e).__name__)
    req.content_type = "text/plain; charset=latin-1"
    req.write("\n".join("%r" % (f,) for f in fields).encode("latin-1", "replace"))
    return apache.OK


def inject_headers(req):
    """Tries CR/LF injection through every response-header path of req."""
    kind = req.args or ""
    bad = "ok\r\nSet-Cookie: injected=1"
    if kind == "headers_out":
        req.headers_out["X-Inject"] = bad
    elif kind == "headers_out_add":
        req.headers_out.add("X-Inject", bad)
    elif kind == "err_headers_out":
        req.err_headers_out["X-Inject"] = bad
    elif kind == "name":
        req.headers_out["X-Inject\r\nSet-Cookie"] = "injected=1"
    elif kind == "content_type":
        req.content_type = "text/plain\r\nSet-Cookie: injected=1"
    elif kind == "lf":
        req.headers_out["X-Inject"] = "ok\nSet-Cookie: injected=1"
    elif kind == "del":
        req.headers_out["X-Inject"] = "ok\x7f"
    req.write("handler body")
    return apache.OK
