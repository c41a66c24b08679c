"""Handlers for the basic request-object tests."""
import json
import os
import threading

from mod_python import apache


def handler(req):
    req.content_type = "text/plain"
    req.write("Hello World!")
    return apache.OK


def write_bytes(req):
    req.content_type = "application/octet-stream"
    req.write(b"\x00\x01binary\xff", 0)
    req.write(bytearray(b"-more"))
    return apache.OK


def attrs(req):
    """Reports the request's attributes as JSON."""
    out = {
        "uri": req.uri,
        "unparsed_uri": req.unparsed_uri,
        "args": req.args,
        "method": req.method,
        "path_info": req.path_info,
        "filename": req.filename,
        "protocol": req.protocol,
        "hostname": req.hostname,
        "the_request": req.the_request,
        "user": req.user,
        "content_type_before": req.content_type,
        "status_before": req.status,
        "client_ip": req.connection.client_ip,
        "remote_ip": req.connection.remote_ip,
        "server_hostname": req.server.server_hostname,
        "proto_num": req.proto_num,
        "method_number": req.method_number,
        "header_only": req.header_only,
        "request_time_is_float": isinstance(req.request_time, float),
        "phase": req.phase,
        "options": dict(req.get_options().items()),
        "config": dict(req.get_config().items()),
        "pid": os.getpid(),
        "thread": threading.get_ident(),
        "req_type": type(req).__name__,
    }
    req.some_attribute = "kept"
    out["dict_attr"] = req.some_attribute
    req.content_type = "application/json"
    req.write(json.dumps(out))
    return apache.OK


def headers(req):
    """Echoes request headers into the response and checks the table's behaviour."""
    hin = req.headers_in
    report = {
        "x_one_lower": hin["x-one"],
        "x_one_upper": hin["X-ONE"],
        "repeated": hin["X-Rep"],
        "contains": "x-one" in hin,
        "missing_get": hin.get("X-Missing", "dflt"),
        "keys_have_host": any(k.lower() == "host" for k in hin.keys()),
        "len_positive": len(hin) > 0,
    }
    try:
        hin["X-Missing"]
    except KeyError:
        report["keyerror"] = True
    req.headers_out["X-Echo"] = hin.get("X-Echo", "")
    req.headers_out.add("X-Multi", "a")
    req.headers_out.add("X-Multi", "b")
    req.headers_out["X-Bytes"] = b"raw-bytes"
    req.err_headers_out["X-Err"] = "err-header"
    del req.headers_out["X-Multi"]
    req.headers_out.add("X-Multi", "1")
    req.headers_out.add("X-Multi", "2")
    t = apache.table()
    t["A"] = "1"
    t.add("a", "2")
    report["own_table"] = t["a"]
    report["own_table_len"] = len(t)
    try:
        req.headers_out["X-Bad"] = 5
    except TypeError:
        report["int_value_typeerror"] = True
    req.content_type = "application/json"
    req.write(json.dumps(report))
    return apache.OK


def status_teapot(req):
    req.status = 202
    req.content_type = "text/plain"
    req.write("short and stout")
    return apache.OK


def return_404(req):
    return apache.HTTP_NOT_FOUND


def server_return_403(req):
    raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)


def declined(req):
    return apache.DECLINED


def first(req):
    req.write("first;", 0)
    return apache.OK


def second(req):
    req.write("second;", 0)
    return apache.OK


def stop_chain(req):
    req.write("stop;", 0)
    return apache.DONE


def log_something(req):
    req.log_error("handler says hello at notice", apache.APLOG_NOTICE)
    apache.log_error("module level log line", apache.APLOG_ERR)
    req.write("logged")
    return apache.OK


class Page:
    def __init__(self, req):
        self.req = req

    def show(self, req):
        req.write("method of an instance made for %s" % self.req.uri)
        return apache.OK


_kept = {}


def keep_table(req):
    _kept["t"] = req.headers_in
    req.write("kept")
    return apache.OK


def use_kept_table(req):
    try:
        _kept["t"]["Host"]
        req.write("no error")
    except RuntimeError as e:
        req.write("RuntimeError: %s" % e)
    return apache.OK
