"""A PythonConnectionHandler speaking a tiny line protocol (tests/filters.rs)."""
import os
from mod_python import apache


def connectionhandler(conn):
    conn.write(b"hello from pid %d on %s\n" % (os.getpid(), conn.local_ip.encode()))
    while True:
        line = conn.readline()
        if not line:
            break
        cmd = line.strip()
        if cmd == b"quit":
            conn.write(b"bye\n")
            break
        if cmd.startswith(b"read "):
            n = int(cmd[5:])
            data = b""
            while len(data) < n:
                part = conn.read(n - len(data))
                if not part:
                    break
                data += part
            conn.write(b"read %d bytes: %s\n" % (len(data), data[:10]))
            continue
        if cmd == b"split":
            # A line longer than asked for: the rest comes with the next read.
            first = conn.readline(4)
            rest = conn.readline()
            conn.write(b"split: %s|%s" % (first, rest))
            continue
        if cmd == b"raise":
            raise RuntimeError("connection handler failed on purpose")
        conn.write(b"echo: " + line)
    return apache.OK


def declining(conn):
    return apache.DECLINED
