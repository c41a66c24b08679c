"""The demo's mod_python handler: unchanged mod_python code."""
from mod_python import apache


def handler(req):
    options = req.get_options()
    req.content_type = "text/plain; charset=utf-8"
    req.write("%s!\n\n" % options.get("greeting", "Hello"))
    req.write("uri:        %s\n" % req.uri)
    req.write("args:       %s\n" % req.args)
    req.write("client:     %s\n" % req.connection.client_ip)
    req.write("server:     %s\n" % req.server.server_hostname)
    req.write("user agent: %s\n" % req.headers_in.get("User-Agent", "-"))
    req.write("\nPOST a body to /echo and it comes back.\n")
    return apache.OK


def echo(req):
    body = req.read()
    req.content_type = req.headers_in.get("Content-Type", "application/octet-stream")
    req.write(body)
    return apache.OK
