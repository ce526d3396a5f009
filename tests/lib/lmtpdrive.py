#!/usr/bin/env python3
"""lmtpdrive - talk LMTP to "mxport-transport -L -" over its stdin and stdout.

Usage: lmtpdrive.py SENDER PAUSES RCPT... -- COMMAND...
Sends one message per RCPT (each a message of its own, in order) on one
LMTP session, waiting PAUSES seconds before every message after the first,
and prints "RCPT <addr> <reply>" for each. Exits 0 when every reply was read.
"""
import subprocess
import sys
import time


def main():
    sep = sys.argv.index("--")
    sender, pause = sys.argv[1], float(sys.argv[2])
    rcpts, cmd = sys.argv[3:sep], sys.argv[sep + 1:]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def send(line):
        p.stdin.write(line.encode() + b"\r\n")
        p.stdin.flush()

    def reply():
        lines = []
        while True:
            line = p.stdout.readline().decode(errors="replace").rstrip("\r\n")
            if not line:
                raise SystemExit("lmtpdrive: the transport closed the session")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines[-1]

    reply()  # greeting
    send("LHLO client.test")
    reply()
    for i, r in enumerate(rcpts):
        if i:
            time.sleep(pause)
        send("MAIL FROM:<%s>" % sender)
        reply()
        send("RCPT TO:<%s>" % r)
        reply()
        send("DATA")
        reply()
        send("From: <%s>\r\nTo: <%s>\r\nSubject: message %d\r\n\r\nBody %d.\r\n." % (sender, r, i + 1, i + 1))
        print("RCPT %s %s" % (r, reply()), flush=True)
    send("QUIT")
    reply()
    p.stdin.close()
    p.wait(timeout=30)


if __name__ == "__main__":
    main()
