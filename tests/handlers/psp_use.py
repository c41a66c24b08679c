"""PSP used from a handler: psp.PSP(req, string=...), vars, apply_data, parse errors."""
from mod_python import apache, psp

TEMPLATE = """Hello <%= what %>!
<%
for i in range(count):
%><%= i %>,<%
%>
a=<%= a %> b=<%= b %> sum=<%= psp.apply_data(add) %>
"""


def add(x, y, req=None):
    return "%d (req %s)" % (int(x) + int(y), "given" if req is not None else "missing")


class FakeSession(dict):
    """Stands in for mod_python.Session: counts what PSP does with it."""
    saved = unlocked = 0

    def save(self):
        self.saved += 1

    def unlock(self):
        self.unlocked += 1


def handler(req):
    req.content_type = "text/plain"
    req.form = {"x": "40", "y": "2", "ignored": "z"}
    template = psp.PSP(req, string=TEMPLATE, vars={"what": "world", "a": 1, "b": 1, "add": add})
    template.run({"b": 2, "count": 3})
    req.write("source starts: %s\n" % psp.parsestring("t<%= 1 %>").split(";")[0])
    try:
        psp.PSP(req, string="fine\n<%= unclosed")
    except SyntaxError as e:
        req.write("error: %s line %s\n" % (e.msg, e.lineno))
    try:
        psp.PSP(req, string="x", filename="y")
    except ValueError as e:
        req.write("both: %s\n" % e)
    # session and form come from req when a handler set them, and only for
    # templates that name them.
    req.session = FakeSession(n=5)
    psp.PSP(req, string="n=<%= session['n'] %> x=<%= form['x'] %>\n").run()
    psp.PSP(req, string="no session here\n").run()
    req.write("saved=%d unlocked=%d\n" % (req.session.saved, req.session.unlocked))
    return apache.OK
