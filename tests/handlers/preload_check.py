import json
import os
import sys


def handler(req):
    mod = sys.modules.get("preload")
    out = {
        "preloaded": mod is not None,
        "import_pid": getattr(mod, "IMPORT_PID", None),
        "import_uid": getattr(mod, "IMPORT_UID", None),
        "called": getattr(mod, "CALLED", None),
        "pid": os.getpid(),
        "uid": os.getuid(),
    }
    req.write(json.dumps(out))
    return 0
