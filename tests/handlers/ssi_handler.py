"""A handler whose output goes through mod_include (SetOutputFilter INCLUDES)."""
from mod_python import apache


def handler(req):
    req.content_type = "text/html"
    req.write('<p><!--#python eval="filter.req.uri + str(2 * 21)" --></p>\n')
    req.write('<!--#python exec="filter.write(str(len(filter.req.ssi_globals)))" -->\n', 0)
    return apache.OK
