"""A page that shows how mod_pyrite sees the server, for checking a set-up:

    <Location /mpinfo>
        SetHandler mod_python
        PythonHandler mod_python.testhandler
        Require local
    </Location>

It lists httpd's and Python's versions, the MPM, the paths, the request's
headers and CGI variables, the Python* configuration and options (of the
request and of the server) and httpd's configuration tree. Everything on it
is HTML-escaped. Put it behind ``Require`` as above: it shows the server's
configuration to whoever can reach it.
"""
import html
import sys

from mod_python import apache, version


def _cell(text):
    return "<td><code>%s</code></td>" % html.escape(str(text))


def _rows(req, pairs):
    req.write('<table border="1">\n<tr><th>Key</th><th>Value</th></tr>\n')
    for key, value in pairs:
        req.write("<tr>%s%s</tr>\n" % (_cell(key), _cell(value)))
    req.write("</table>\n")


def _table_rows(req, table):
    _rows(req, list(table.items()))


def _tree_lines(tree, depth, out):
    for entry in tree:
        out.append("    " * depth + " ".join(str(part) for part in entry[:2]))
        if len(entry) > 2:
            _tree_lines(entry[2], depth + 1, out)
    return out


def _mpm_line(query_is, query_max, what, single):
    if apache.mpm_query(query_is):
        return "Yes, at most %d %s" % (apache.mpm_query(query_max), what)
    return single


def _importable(name):
    try:
        __import__(name)
        return "Yes"
    except Exception as e:  # a diagnostic page reports, it does not fail
        return "No (%s: %s)" % (type(e).__name__, e)


def handler(req):
    req.add_common_vars()
    req.content_type = "text/html; charset=utf-8"
    error_log = req.server.error_fname
    general = [
        ("Apache version", req.subprocess_env.get("SERVER_SOFTWARE")),
        ("Apache threaded MPM", _mpm_line(apache.AP_MPMQ_IS_THREADED, apache.AP_MPMQ_MAX_THREADS,
                                          "threads per process", "No (one thread per process)")),
        ("Apache forked MPM", _mpm_line(apache.AP_MPMQ_IS_FORKED, apache.AP_MPMQ_MAX_DAEMONS,
                                        "processes", "No (a single process)")),
        ("Apache server root", apache.server_root()),
        ("Apache document root", req.document_root()),
        ("Apache error log", error_log if error_log else "None"),
        ("mod_python API version", version.version),
        ("mod_pyrite version", version.pyrite_version),
        ("Python sys.version", sys.version),
        ("Python sys.path", "\n".join(sys.path)),
        ("Python interpreter name", req.interpreter),
        ("mod_python.publisher available", _importable("mod_python.publisher")),
        ("mod_python.psp available", _importable("mod_python.psp")),
    ]
    req.write("<html><head><title>mod_python test page</title></head><body>\n")
    req.write("<h3>General information</h3>\n")
    _rows(req, general)
    for title, table in (
        ("Request input headers", req.headers_in),
        ("Request environment", req.subprocess_env),
        ("Request configuration", req.get_config()),
        ("Request options", req.get_options()),
        ("Request notes", req.notes),
        ("Server configuration", req.server.get_config()),
        ("Server options", req.server.get_options()),
    ):
        req.write("<h3>%s</h3>\n" % title)
        _table_rows(req, table)
    req.write("<h3>Server configuration tree</h3>\n<pre>")
    req.write(html.escape("\n".join(_tree_lines(apache.config_tree(), 0, []))))
    req.write("</pre>\n</body></html>\n")
    return apache.OK
