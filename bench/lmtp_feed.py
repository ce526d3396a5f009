#!/usr/bin/env python3
"""lmtp_feed - N messages on one LMTP session to "mxport-transport -L -".

Usage: lmtp_feed.py N MESSAGE_FILE SENDER RCPT -- COMMAND...
Starts COMMAND, speaks LMTP to it over its stdin and stdout (one LHLO, then
N transactions of one recipient each, then QUIT), the message taken from
MESSAGE_FILE (LF or CRLF lines; dot-stuffed here). With FEED_XFORWARD=1
in the environment each transaction starts with XFORWARD (the original
client, as Postfix's lmtp(8) sends it with lmtp_send_xforward_command); with
FEED_RCPTS=K each transaction has K recipients (1..K before RCPT's "@",
"rcpt@d" becoming rcpt1@d ... rcptK@d), all sent at once (pipelined, as
lmtp(8) does) and one reply each read after the dot. Prints "delivered D of N"
and exits 0 when every message got a 2xx reply (with FEED_EXPECT=4: a 4xx
reply, for deferrals); another reply is printed and ends the session
(exit 1). Every reply has a deadline (120 s).
"""
import os
import select
import subprocess
import sys


def main():
    sep = sys.argv.index("--")
    n, path, sender, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    cmd = sys.argv[sep + 1:]
    raw = open(path, "rb").read().replace(b"\r\n", b"\n")
    data = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
                    for l in raw.rstrip(b"\n").split(b"\n")) + b".\r\n"
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)

    def send(b):
        p.stdin.write(b)
        p.stdin.flush()

    buf = [b""]
    fd = p.stdout.fileno()

    def readline(what):
        # own buffer: select() cannot see what a buffered reader holds
        while b"\n" not in buf[0]:
            r, _, _ = select.select([fd], [], [], 120)
            if not r:
                sys.exit("lmtp_feed: no reply to %s within 120 s" % what)
            chunk = os.read(fd, 65536)
            if not chunk:
                sys.exit("lmtp_feed: the transport closed the session at %s" % what)
            buf[0] += chunk
        line, buf[0] = buf[0].split(b"\n", 1)
        return line.decode(errors="replace").rstrip("\r")

    def reply(what):
        while True:
            line = readline(what)
            if len(line) < 4 or line[3] != "-":
                return line

    reply("the greeting")
    send(b"LHLO feed.test\r\n")
    reply("LHLO")
    done = 0
    k = int(os.environ.get("FEED_RCPTS", "1"))
    if k > 1:
        local, dom = rcpt.split("@", 1)
        rcpts = ["%s%d@%s" % (local, j + 1, dom) for j in range(k)]
    else:
        rcpts = [rcpt]
    xforward = os.environ.get("FEED_XFORWARD") == "1"
    expect = os.environ.get("FEED_EXPECT", "2")
    for i in range(n):
        if xforward:
            send(b"XFORWARD NAME=client.example ADDR=192.0.2.7 HELO=client.example PROTO=ESMTP SOURCE=REMOTE\r\n")
            r = reply("XFORWARD of message %d" % (i + 1))
            if not r.startswith("2"):
                print("message %d: XFORWARD: %s" % (i + 1, r))
                break
        send(("MAIL FROM:<%s>\r\n%sDATA\r\n" % (sender, "".join("RCPT TO:<%s>\r\n" % r for r in rcpts))).encode())
        for what in ["MAIL"] + ["RCPT"] * k + ["DATA"]:
            r = reply("%s of message %d" % (what, i + 1))
            if not r.startswith(("2", "3")):
                print("message %d: %s: %s" % (i + 1, what, r))
                break
        else:
            send(data)
            bad = None
            for j in range(k):
                r = reply("the final dot of message %d" % (i + 1))
                if not r.startswith(expect) and bad is None:
                    bad = r
            if bad is None:
                done += 1
                continue
            print("message %d: %s" % (i + 1, bad))
        break
    send(b"QUIT\r\n")
    try:
        reply("QUIT")
    except SystemExit:
        pass
    p.stdin.close()
    p.wait(timeout=60)
    print("delivered %d of %d" % (done, n))
    sys.exit(0 if done == n else 1)


if __name__ == "__main__":
    main()
