import os
import sys
import helper_module

print("Content-Type: text/plain; charset=utf-8")
print("X-Cgi: yes")
print()
print("method=%s query=%s" % (os.environ["REQUEST_METHOD"], os.environ.get("QUERY_STRING", "")))
print("gateway=%s" % os.environ.get("GATEWAY_INTERFACE"))
print("cwd=%s" % os.path.basename(os.getcwd()))
print("name=%s argv=%s" % (__name__, os.path.basename(sys.argv[0])))
print("helper=%s" % helper_module.VALUE)
