#!/usr/bin/env python3
"""hold_sessions - open N SMTP sessions to a relay and hold them after RCPT.

Usage: hold_sessions.py HOST PORT N READYFILE
Each session says EHLO, MAIL FROM and RCPT TO (a forwarded domain, so the
milter keeps a message context), then waits. READYFILE gets the number of
sessions that got that far; then the sessions are held until killed.
"""
import socket
import sys
import time


def main():
    host, port, n, ready = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    held = []
    for i in range(n):
        try:
            s = socket.create_connection((host, port), timeout=30)
            f = s.makefile("rwb")
            def cmd(line=None):
                if line:
                    f.write(line.encode() + b"\r\n")
                    f.flush()
                while True:
                    r = f.readline()
                    if not r or r[3:4] != b"-":
                        return r
            cmd()
            cmd("EHLO hold%d.test" % i)
            cmd("MAIL FROM:<hold@sender.test>")
            r = cmd("RCPT TO:<rcpt%d@bench.example>" % i)
            if r.startswith(b"250"):
                held.append((s, f))
            else:
                s.close()
        except OSError:
            pass
    with open(ready, "w") as out:
        out.write(str(len(held)))
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main()
