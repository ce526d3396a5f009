#!/usr/bin/env python3
"""lmtpcases - messages whose DATA bytes are the edge cases of the LMTP
daemon's reader, on one LMTP session to "mxport-transport -L -".

Usage: lmtpcases.py DIR DOMAIN -- COMMAND...
Speaks LMTP to COMMAND over its stdin and stdout: LHLO, then for each case
one transaction (MAIL, its RCPTs and DATA pipelined, as lmtp(8) sends
them), the case's bytes exactly as written here (dot-stuffed by hand, with
the line ends the case wants), and one reply read per recipient. Writes
  DIR/expect.NAME   the DATA bytes the customer must get (CR LF lines,
                    dot-stuffed, no final dot), by the rules of RFC 5321
                    4.5.2 and mxport's reader: a line ends at LF, one CR
                    before it is not part of the line, a leading dot of
                    the LMTP form is taken off and put back for SMTP
  DIR/replies       "NAME RCPT <addr> <reply>" and "NAME DATA <addr> <reply>"
Recipients of the case "many": u0..u799 accepted, bad0..bad99 refused by
the customer (550) and full0..full99 deferred (450), interleaved.
Exits 0 when every reply was read. Every read has a deadline (120 s).
"""
import os
import select
import subprocess
import sys


def expected(data):
    """the SMTP DATA bytes for LMTP DATA bytes (final ".\\r\\n" included)"""
    out = []
    lines = data.split(b"\n")
    for i, line in enumerate(lines[:-1]):
        if line.endswith(b"\r"):
            line = line[:-1]
        if line == b".":
            assert i == len(lines) - 2, "the final dot is the last line"
            break
        if line.startswith(b"."):
            line = line[1:]
        out.append((b"." if line.startswith(b".") else b"") + line + b"\r\n")
    return b"".join(out)


def stuffed(lines, end=b"\r\n"):
    """lines (bytes, no line end) as LMTP DATA with the final dot"""
    return b"".join((b"." + l if l.startswith(b".") else l) + end for l in lines) + b".\r\n"


HEAD = [b"From: <a@sender.test>", b"Subject: edge case", b""]


def cases(domain):
    c = []
    # lone dots, doubled dots, dots inside lines
    c.append(("dots", stuffed(HEAD + [b".", b"..", b"...x", b".x", b"x.", b"", b"x", b"."]), ["dots@" + domain]))
    # bare LF, bare CR, CR CR LF, a dot after a bare LF, an empty line of LF only
    c.append(("bare", b"\r\n".join(HEAD) + b"\r\n" +
              b"bare lf\nbare\rcr\r\ncr cr lf\r\r\n..dot after lf\n\nlast\r\n.\r\n", ["bare@" + domain]))
    # dot-stuffed lines and lone dots at every offset of the reader's blocks
    lines = []
    for i in range(6000):
        body = (b"%d " % i + b"y" * ((i * 7) % 131))[: (i * 7) % 131 + 1]
        if i % 3 == 0:
            body = b"." + body
        elif i % 17 == 0:
            body = b"."
        lines.append(body)
    c.append(("blocks", stuffed(HEAD + lines), ["blocks@" + domain]))
    # lines longer than any buffer, some starting with a dot, CR LF at the edges
    long_lines = [b"a" * 100000, b"." + b"b" * 40000, b"c" * 16383, b"d" * 16384, b"." * 16385,
                  b"e" * 8191, b"f" * 8192, b"g" * 8193, b"h" * 16383 + b"\r" + b"i" * 5, b"end"]
    c.append(("long", stuffed(HEAD + long_lines), ["long@" + domain]))
    # the same, every line ended by a bare LF
    c.append(("longlf", stuffed(HEAD + long_lines, b"\n"), ["longlf@" + domain]))
    # 10 MB of ordinary lines (copied whole), then 10 MB with one dot line at its end
    big = [b"%06d The quick brown fox jumps over the lazy dog; figures follow below." % i
           for i in range(140000)]
    c.append(("big", stuffed(HEAD + big), ["big@" + domain]))
    c.append(("bigdot", stuffed(HEAD + big + [b".the end"]), ["bigdot@" + domain]))
    # 1,000 recipients: accepted, refused and deferred by the customer, interleaved
    rcpts = []
    for i in range(800):
        rcpts.append("u%d@%s" % (i, domain))
        if i % 8 == 0:
            rcpts.append("bad%d@%s" % (i // 8, domain))
        elif i % 8 == 4:
            rcpts.append("full%d@%s" % (i // 8, domain))
    c.append(("many", stuffed(HEAD + [b"to many", b".", b"..."]), rcpts))
    return c


def main():
    sep = sys.argv.index("--")
    outdir, domain = sys.argv[1], sys.argv[2]
    cmd = sys.argv[sep + 1:]
    # all made before the session: a pause between messages longer than
    # connection_cache_time would end the kept SMTP session
    todo = []
    for name, data, rcpts in cases(domain):
        with open(os.path.join(outdir, "expect." + name), "wb") as f:
            f.write(expected(data))
        todo.append((name, data, rcpts,
                     ("MAIL FROM:<a@sender.test>\r\n" + "".join("RCPT TO:<%s>\r\n" % r for r in rcpts) +
                      "DATA\r\n").encode()))
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    buf = [b""]
    fd = p.stdout.fileno()

    def send(b):
        p.stdin.write(b)
        p.stdin.flush()

    def reply(what):
        while True:
            while b"\n" not in buf[0]:
                r, _, _ = select.select([fd], [], [], 120)
                if not r:
                    sys.exit("lmtpcases: no reply to %s within 120 s" % what)
                chunk = os.read(fd, 65536)
                if not chunk:
                    sys.exit("lmtpcases: the transport closed the session at %s" % what)
                buf[0] += chunk
            line, buf[0] = buf[0].split(b"\n", 1)
            line = line.decode(errors="replace").rstrip("\r")
            if len(line) < 4 or line[3] != "-":
                return line

    reply("the greeting")
    send(b"LHLO cases.test\r\n")
    reply("LHLO")
    with open(os.path.join(outdir, "replies"), "w") as out:
        for name, data, rcpts, envelope in todo:
            send(envelope)
            reply("MAIL of %s" % name)
            ok = []
            for r in rcpts:
                got = reply("RCPT %s" % r)
                out.write("%s RCPT %s %s\n" % (name, r, got))
                if got.startswith("2"):
                    ok.append(r)
            got = reply("DATA of %s" % name)
            if not got.startswith("354"):
                sys.exit("lmtpcases: %s: DATA: %s" % (name, got))
            send(data)
            for r in ok:
                out.write("%s DATA %s %s\n" % (name, r, reply("the dot of %s" % name)))
            out.flush()
    send(b"QUIT\r\n")
    reply("QUIT")
    p.stdin.close()
    p.wait(timeout=60)


if __name__ == "__main__":
    main()
