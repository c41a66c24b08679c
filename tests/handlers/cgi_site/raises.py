import sys
print("Content-Type: text/plain")
print()
print("partial")
raise RuntimeError("cgi script failed 9876")
