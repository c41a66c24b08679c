import sys

data = sys.stdin.read()
sys.stdout.write("Status: 201 Created\r\nContent-Type: text/plain\r\n\r\n")
sys.stdout.write("got %d bytes: %s" % (len(data), data))
