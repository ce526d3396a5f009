#!/usr/bin/env python3
"""lmtpmsg - one message with several recipients to "mxport-transport -L -".

Usage: lmtpmsg.py SENDER MSGFILE RCPT... -- COMMAND...
Speaks LMTP to COMMAND over its stdin and stdout: LHLO, MAIL, a RCPT for
each recipient, DATA with MSGFILE (dot-stuffed here, CR LF line ends), and
prints "RCPT <addr> <reply>" for every RCPT reply and "DATA <addr> <reply>"
for every per-recipient reply after the dot (RFC 2033: one for each
recipient that RCPT accepted). Exits 0 when every reply was read.
"""
import subprocess
import sys


def main():
    sep = sys.argv.index("--")
    sender, msgfile = sys.argv[1], sys.argv[2]
    rcpts, cmd = sys.argv[3:sep], sys.argv[sep + 1:]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def send(data):
        p.stdin.write(data)
        p.stdin.flush()

    def reply():
        lines = []
        while True:
            line = p.stdout.readline().decode(errors="replace").rstrip("\r\n")
            if not line:
                raise SystemExit("lmtpmsg: the transport closed the session")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return " / ".join(lines)

    reply()
    send(b"LHLO client.test\r\n")
    reply()
    send(("MAIL FROM:<%s>\r\n" % sender).encode())
    reply()
    accepted = []
    for r in rcpts:
        send(("RCPT TO:<%s>\r\n" % r).encode())
        rep = reply()
        print("RCPT %s %s" % (r, rep))
        if rep.startswith("2"):
            accepted.append(r)
    send(b"DATA\r\n")
    rep = reply()
    print("DATA-CMD %s" % rep)
    if rep.startswith("354"):
        with open(msgfile, "rb") as f:
            body = f.read()
        out = []
        for line in body.replace(b"\r\n", b"\n").split(b"\n")[:-1] if body.endswith(b"\n") else body.replace(b"\r\n", b"\n").split(b"\n"):
            out.append((b"." + line if line.startswith(b".") else line) + b"\r\n")
        send(b"".join(out) + b".\r\n")
        for r in accepted:
            print("DATA %s %s" % (r, reply()))
    send(b"QUIT\r\n")
    reply()
    p.stdin.close()
    p.wait()


if __name__ == "__main__":
    main()
