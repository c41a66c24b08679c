"""More of the request object and of mod_python.apache."""
import json
import os

from mod_python import apache


def send_part(req):
    path = os.path.join(req.document_root(), "big.bin")
    req.write(b"[", 0)
    n = req.sendfile(path, 10, 1000)
    req.write(b"]%d" % n, 0)
    return apache.OK


def redirect_src(req):
    req.internal_redirect("/redirect-dst?from=src")
    return apache.OK


def redirect_dst(req):
    prev = req.prev
    req.write("dst args=%s prev_uri=%s main=%s" % (req.args, prev.uri if prev else None, req.main))
    return apache.OK


def info(req):
    tree = apache.config_tree()
    names = [item[0] for item in tree]
    out = {
        "threaded": apache.mpm_query(apache.AP_MPMQ_IS_THREADED),
        "max_threads": apache.mpm_query(apache.AP_MPMQ_MAX_THREADS),
        "server_root": apache.server_root(),
        "define_x": apache.exists_config_define("PYRITE_NOT_DEFINED"),
        "tree_has_listen": "Listen" in names,
        "remote_host": req.get_remote_host(apache.REMOTE_NOLOOKUP),
        "auth_type": req.auth_type(),
        "meets": req.meets_conditions(),
        "main_server": apache.main_server.server_hostname,
        "imported": apache.import_module("extras").__name__,
    }
    req.allow_methods(["GET", "POST"], 1)
    req.write(json.dumps(out))
    return apache.OK


def not_allowed(req):
    req.allow_methods(["GET", "PUT"], 1)
    return apache.HTTP_METHOD_NOT_ALLOWED


def interp(req):
    req.write(req.interpreter)
    return apache.OK


def adds(req):
    req.write("first;", 0)
    req.add_handler("PythonHandler", "extras::added")
    return apache.OK


def added(req):
    req.write("added;", 0)
    return apache.OK


def adds_log(req):
    """The site's only handler adds one for a later phase (the log phase)."""
    req.add_handler("PythonLogHandler", "extras::logs")
    req.write("logged later")
    return apache.OK


def logs(req):
    req.log_error("mod_pyrite test: the added log handler ran", apache.APLOG_NOTICE)
    return apache.OK


def fixup_adds(req):
    req.add_handler("PythonHandler", "extras::added")
    return apache.OK


def fileinfo(req):
    fi = req.finfo
    st = apache.stat(req.filename)
    pu = req.parsed_uri
    out = {
        "size": fi[apache.FINFO_SIZE],
        "type": fi[apache.FINFO_FILETYPE] == apache.APR_REG,
        "stat_size": st[apache.FINFO_SIZE],
        "mtime_float": isinstance(fi[apache.FINFO_MTIME], float),
        "path": pu[apache.URI_PATH],
        "query": pu[apache.URI_QUERY],
        "generation": req.server.my_generation,
        "ssl": req.ssl_var_lookup("HTTPS"),
        "allowed_int": isinstance(req.allowed, int),
    }
    req.content_type = "application/json"
    req.write(json.dumps(out))
    return apache.OK


def cgi_env(req):
    env = apache.build_cgi_env(req)
    req.write("%s %s %s %s" % (env["REQUEST_METHOD"], env["SCRIPT_NAME"], env["QUERY_STRING"], req.server.restart_time > 1e9))
    return apache.OK
