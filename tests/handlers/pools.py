"""Pools as Python objects: values and cleanups scoped to request, connection and child."""
import os

from mod_python import apache


def _append(path):
    with open(path, "a") as f:
        f.write("cleanup ran\n")


def handler(req):
    scratch = req.get_options()["scratch"]
    req.pool["mine"] = "request value"
    req.pool.register_cleanup(_append, os.path.join(scratch, "request_pool.txt"))
    conn = req.connection.pool
    conn["count"] = conn.get("count", 0) + 1
    if conn["count"] == 1:
        conn.register_cleanup(_append, os.path.join(scratch, "conn_pool.txt"))
    child = apache.child_pool()
    child["n"] = child.get("n", 0) + 1
    if child["n"] == 1:
        apache.register_cleanup(_append, os.path.join(scratch, "child_exit.txt"))
    req.write("conn=%d child=%d mine=%s" % (conn["count"], child["n"], req.pool["mine"]))
    return apache.OK
