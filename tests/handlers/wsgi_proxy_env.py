# Reports the environ keys WSGITrustedProxyHeaders may change, for
# tests/wsgi_proxy_headers.rs (a missing key is reported as null).
import json

KEYS = [
    'REMOTE_ADDR', 'HTTP_HOST', 'SERVER_NAME', 'SERVER_PORT', 'SCRIPT_NAME',
    'PATH_INFO', 'wsgi.url_scheme', 'mod_wsgi.mount_point', 'HTTPS',
    'HTTP_X_FORWARDED_FOR', 'HTTP_X_CLIENT_IP', 'HTTP_X_REAL_IP',
    'HTTP_X_FORWARDED_HOST', 'HTTP_X_HOST', 'HTTP_X_FORWARDED_SERVER',
    'HTTP_X_FORWARDED_PORT', 'HTTP_X_SCRIPT_NAME', 'HTTP_X_FORWARDED_PROTO',
    'HTTP_X_FORWARDED_SSL', 'HTTP_X_SCHEME', 'HTTP_X_FORWARDED_PREFIX',
]


def application(environ, start_response):
    body = json.dumps({k: environ.get(k) for k in KEYS}).encode()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]
