"""Filters and a content handler for tests/filters.rs."""
import hashlib
from mod_python import apache


def outputfilter(filter):
    """UPCASE: upper-cases the response, read in pieces."""
    s = filter.read(7)
    while s:
        filter.write(s.upper())
        s = filter.read(7)
    if s is None:
        filter.close()


def inputfilter(filter):
    """UPIN: upper-cases the request body."""
    s = filter.read()
    while s:
        filter.write(s.upper())
        s = filter.read()
    if s is None:
        filter.close()


def counting(filter):
    """COUNT: counts its calls on the request and reports them at the end."""
    req = filter.req
    req.filter_calls = getattr(req, "filter_calls", 0) + 1
    s = filter.read()
    while s:
        filter.write(s)
        s = filter.read()
    if s is None:
        filter.write("[calls=%d name=%s input=%s]" % (req.filter_calls, filter.name, filter.is_input))
        filter.close()


def lines(filter):
    """LINES: numbers every line, reading with readline."""
    req = filter.req
    n = getattr(req, "line_no", 0)
    line = filter.readline()
    while line:
        n += 1
        filter.write(b"%d: %s" % (n, line))
        line = filter.readline()
    req.line_no = n
    if line is None:
        filter.close()


def raising(filter):
    raise ValueError("boom in a filter")


def passer(filter):
    filter.pass_on()


def disabler(filter):
    filter.disable()
    filter.pass_on()


def reverser(filter):
    """Buffers the whole body across calls and sends it reversed at the end."""
    req = filter.req
    if not hasattr(req, "chunks"):
        req.chunks = []
    s = filter.read()
    while s:
        req.chunks.append(s)
        s = filter.read()
    if s is None:
        filter.write(b"".join(req.chunks)[::-1])
        filter.close()


def forgets_close(filter):
    """Never calls close(): mod_pyrite ends the stream for it."""
    s = filter.read()
    while s:
        filter.write(s.replace(b"o", b"0"))
        s = filter.read()


def handler(req):
    req.content_type = "text/plain"
    req.write("hello ")
    req.write("filtered ")
    req.write("world\n")
    return apache.OK


def multiline(req):
    req.content_type = "text/plain"
    for i in range(3):
        req.write("line %d\n" % i)
    return apache.OK


def echo(req):
    data = req.read()
    req.content_type = "text/plain"
    req.write(b"len=%d sha=%s head=%s" % (len(data), hashlib.sha256(data).hexdigest().encode(), data[:16]))
    return apache.OK


def dynamic(req):
    req.register_output_filter("REVERSE", "filters::reverser")
    req.add_output_filter("REVERSE")
    req.content_type = "text/plain"
    req.write("abc")
    req.write("def")
    return apache.OK


def dynamic_input(req):
    req.register_input_filter("UPIN_DYN", "filters::inputfilter")
    req.add_input_filter("UPIN_DYN")
    return echo(req)


def unknown_filter(req):
    req.content_type = "text/plain"
    try:
        req.add_output_filter("NO_SUCH_FILTER")
    except ValueError as e:
        req.write("refused: %s" % e)
    return apache.OK


def late_use(req):
    """Keeps the filter object past its call and uses it from the handler."""
    req.register_output_filter("KEEP", "filters::keeper")
    req.add_output_filter("KEEP")
    req.content_type = "text/plain"
    req.write("x")
    try:
        req.kept.write("late")
        req.write(" not refused")
    except RuntimeError as e:
        req.write(" refused: %s" % e)
    return apache.OK


def keeper(filter):
    filter.req.kept = filter
    filter.pass_on()


def reentrant(filter):
    """REENTRANT: tries req.write from inside the filter its output passes through."""
    s = filter.read()
    while s:
        try:
            filter.req.write("nested")
        except RuntimeError as e:
            filter.write(b"refused(%s) " % str(e).split(":")[0].encode())
        filter.write(s)
        s = filter.read()
    if s is None:
        filter.close()
