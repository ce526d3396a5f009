#!/usr/bin/env python3
"""lmtpsession - one LMTP session written whole before the transport reads
any of it (every command and body there before the greeting: pipelining
abused at its worst), for "mxport-transport -L - <FILE": read from a file,
the transport's reads fill its 16 KB buffer exactly, so the cases below
put dots, CRs and end markers at known places of its buffer.

Usage: lmtpsession.py DIR DOMAIN
       lmtpsession.py DIR DOMAIN --split -- COMMAND...
Writes
  DIR/session        the client's bytes
  DIR/codes          the reply codes the session must get, one a line
  DIR/expect.N       the DATA bytes (dot-stuffed, CR LF, no final dot) the
                     customer must get for the N-th message it receives
The case "nest" gives a second MAIL with a bad path after a RCPT: 503,
and the message goes with the first sender. "limit" gives one RCPT more
than lmtp_recipient_limit (3): 452 for it. The session ends in the middle
of a DATA (a 10 MB line without a newline): nothing of it is delivered.

With --split, COMMAND (the daemon, "-L -") gets its session through a
pipe in pieces, each written only once the daemon has read all of the one
before (the pipe empty: FIONREAD), so that its reads end where the pieces
do: ".\r\n" split after the dot and after the CR, a stuffed dot alone at
the end of a read, a CR LF split, a line over 8 KB split before its LF.
Writes DIR/split.codes, DIR/split.expect.N and DIR/split.replies.
"""
import fcntl
import select
import struct
import subprocess
import termios
import time
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lmtpcases import expected  # noqa: E402

BUF = 16384  # smtp_conn.h's buffer
LINE = 8192  # lmtp.c's LMTP_LINE_MAX


def split(outdir, domain, cmd):
    """the pieces, through a pipe, each once the one before was read"""
    head = b"Subject: split case\r\n\r\n"
    pieces, codes, bodies = [b"LHLO split.test\r\n"], ["220", "250"], []
    cases = [[b"end split after the dot\r\n.", b"\r\n"],
             [b"end split after the CR\r\n.\r", b"\n"],
             [b"stuffed dot alone\r\n.", b".x\r\n.\r\n"],
             [b"crlf split\r", b"\nnext\r\n.\r\n"],
             [b"." + b"q" * (LINE + 10) + b"\r", b"\n.\r\n"],
             [b"q" * (BUF - 100) + b"\r\n.", b".\r\n.\r\n"]]
    for i, c in enumerate(cases):
        pieces.append(b"MAIL FROM:<a@sender.test>\r\nRCPT TO:<s%d@%s>\r\nDATA\r\n" % (i, domain.encode()) + head + c[0])
        pieces.extend(c[1:])
        codes.extend(["250", "250", "354", "250"])
        bodies.append(expected(head + b"".join(c)))
    pieces.append(b"QUIT\r\n")
    codes.append("221")
    with open(os.path.join(outdir, "split.codes"), "w") as f:
        f.write("".join(c + "\n" for c in codes))
    for i, b in enumerate(bodies):
        with open(os.path.join(outdir, "split.expect.%d" % (i + 1)), "wb") as f:
            f.write(b)
    with open(os.path.join(outdir, "split.replies"), "wb") as out:
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, bufsize=0)
        w = p.stdin.fileno()
        for piece in pieces:
            os.write(w, piece)
            deadline = time.monotonic() + 30
            while struct.unpack("i", fcntl.ioctl(w, termios.FIONREAD, b"\0\0\0\0"))[0] > 0:
                if time.monotonic() > deadline:
                    sys.exit("lmtpsession: the daemon did not read a piece within 30 s")
                select.select([], [], [], 0.001)
        p.stdin.close()
        return p.wait(timeout=60)


def main():
    outdir, domain = sys.argv[1], sys.argv[2]
    if len(sys.argv) > 4 and sys.argv[3] == "--split":
        sys.exit(split(outdir, domain, sys.argv[5:]))
    out, codes, bodies = [], ["220", "250"], []
    out.append(b"LHLO session.test\r\n")

    def txn(data, rcpts=None, extra=b"", extra_codes=()):
        rcpts = rcpts or ["r%d@%s" % (len(bodies), domain)]
        out.append(b"MAIL FROM:<a@sender.test>\r\n" + b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts)
                   + extra + b"DATA\r\n" + data)
        codes.extend(["250"] + ["250"] * len(rcpts) + list(extra_codes) + ["354"] + ["250"] * len(rcpts))
        bodies.append(expected(data))

    head = b"Subject: session case\r\n\r\n"
    # a second MAIL after RCPT, with a bad path: refused, the transaction goes on
    out.append(b"MAIL FROM:<first@sender.test>\r\nRCPT TO:<nest@%s>\r\nMAIL FROM:not a path\r\n"
               b"DATA\r\n" % domain.encode() + head + b"nested\r\n.\r\n")
    codes.extend(["250", "250", "503", "354", "250"])
    bodies.append(expected(head + b"nested\r\n.\r\n"))
    # lines of the buffer's and the line limit's sizes, +-1, starting with a
    # dot or ending in a bare CR; the final dot and ".\r\n" at every offset
    # near a buffer's end (the prefix moves them one byte a case)
    for size in (LINE - 1, LINE, LINE + 1, BUF - 1, BUF, BUF + 1):
        for first, last in ((b".", b"\r"), (b"..", b""), (b"x", b"\r\r")):
            line = (first + b"y" * size)[:size] + last
            txn(head + line + b"\r\n" + b".\r\n")
    for shift in range(0, 12):
        pad = b"p" * (BUF - 200 + shift)
        txn(head + pad + b"\r\n" + b".." * (shift + 1) + b"\r\n" + b"\r.\r\n" + b".\r\n")
    # a body that is all dots, lone and doubled; a bare CR right before the end
    txn(head + b"..\r\n" * 3000 + b"...\r\n" * 1000 + b"....\n" * 1000 + b".\r\n")
    txn(head + b"text\r\r.\r\n.\r\n")
    txn(head + b"\r.\r\n\r\r\n.\r\n")
    txn(head + b"text\r\r\n.\r\n")
    # 70 KB lines, with a leading dot, a bare LF, a CR at a 16 KB boundary
    txn(head + b"." + b"z" * 70000 + b"\r\n" + b"w" * 70000 + b"\n" + b"v" * (BUF - 1) + b"\r" + b"u" * BUF + b"\r\n.\r\n")
    # at lmtp_recipient_limit (3): the fourth RCPT waits for a later transaction
    out.append(b"MAIL FROM:<a@sender.test>\r\n" + b"".join(b"RCPT TO:<lim%d@%s>\r\n" % (i, domain.encode()) for i in range(4))
               + b"DATA\r\n" + head + b"at the limit\r\n.\r\n")
    codes.extend(["250", "250", "250", "250", "452", "354", "250", "250", "250"])
    bodies.append(expected(head + b"at the limit\r\n.\r\n"))
    # cut in the middle of DATA: a 10 MB line with no newline, then the end
    out.append(b"MAIL FROM:<a@sender.test>\r\nRCPT TO:<cut@%s>\r\nDATA\r\n" % domain.encode() + head
               + b"k" * (10 * 1024 * 1024))
    codes.extend(["250", "250", "354"])
    with open(os.path.join(outdir, "session"), "wb") as f:
        f.write(b"".join(out))
    with open(os.path.join(outdir, "codes"), "w") as f:
        f.write("".join(c + "\n" for c in codes))
    for i, b in enumerate(bodies):
        with open(os.path.join(outdir, "expect.%d" % (i + 1)), "wb") as f:
            f.write(b)


if __name__ == "__main__":
    main()
