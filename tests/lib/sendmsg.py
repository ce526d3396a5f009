#!/usr/bin/env python3
"""sendmsg - send one message by SMTP and print every reply, for tests.

Usage: sendmsg.py HOST PORT FROM RCPT[,RCPT...] [MESSAGE_FILE]
Prints "MAIL <code> <text>", "RCPT <addr> <code> <text>" and "DATA <code>
<text>" lines; exits 0 when the message was accepted for at least one
recipient, 1 otherwise. Recipients refused with 452 are sent again in a new
transaction (a "MAIL" line starts each). With SENDMSG_SOURCE set, connect from that address
(a relay trusts its own 127.0.0.1: a test of its relay check must not).
"""
import os
import re
import smtplib
import sys


def main():
    host, port, sender, rcpts = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split(",")
    if len(sys.argv) > 5:
        with open(sys.argv[5], "rb") as f:
            msg = f.read()
    else:
        msg = b"From: <%s>\r\nTo: <%s>\r\nSubject: mxport test\r\n\r\nHello from the test.\r\n" % (
            sender.encode(), rcpts[0].encode())
    # SMTP wants CR LF; smtplib sends bytes as they are (Sendmail refuses bare LF).
    msg = re.sub(rb"(?<!\r)\n", b"\r\n", msg)
    source = os.environ.get("SENDMSG_SOURCE")
    s = smtplib.SMTP(host, port, local_hostname="client.test", timeout=60,
                     source_address=(source, 0) if source else None)
    s.ehlo()
    ok = 0
    # A recipient refused with 452 (too many recipients, RFC 5321
    # 4.5.3.1.10) is sent again in a new transaction once this one is done,
    # as a client should; a transaction that takes none ends the retries.
    for _ in range(10):
        code, text = s.mail(sender)
        print("MAIL %d %s" % (code, text.decode(errors="replace")))
        if code != 250:
            break
        taken, later = 0, []
        for r in rcpts:
            code, text = s.rcpt(r)
            print("RCPT %s %d %s" % (r, code, text.decode(errors="replace")))
            if code in (250, 251):
                taken += 1
            elif code == 452:
                later.append(r)
        if not taken:
            s.rset()
            break
        code, text = s.data(msg)
        print("DATA %d %s" % (code, text.decode(errors="replace")))
        if code != 250:
            ok = 0
            break
        ok += taken
        if not later:
            break
        rcpts = later
    try:
        s.quit()
    except smtplib.SMTPException:
        pass
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
