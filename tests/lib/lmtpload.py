#!/usr/bin/env python3
"""lmtpload - steady LMTP traffic into the LMTP daemon, for the fault tests.

Usage: lmtpload.py SOCKET OUT STOPFILE THREADS DOMAIN...
THREADS clients each connect to the unix SOCKET, send 3 messages (one
recipient each, the DOMAINs in turn) and QUIT, again and again, until
STOPFILE exists. Each reply to a final dot is a line of OUT:
"<n> <domain> <code>" (code "err" when the connection broke). Exits 0.
"""
import itertools
import os
import socket
import sys
import threading
import time

sock, out, stopfile, nthreads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
domains = sys.argv[5:]
lock = threading.Lock()
counter = itertools.count(1)
log = open(out, "a", buffering=1)


def record(n, domain, code):
    with lock:
        log.write("%d %s %s\n" % (n, domain, code))


def reply(f):
    while True:
        line = f.readline().decode(errors="replace")
        if not line:
            raise EOFError
        if len(line) < 4 or line[3] != "-":
            return line.strip()


def client(tid):
    i = 0
    while not os.path.exists(stopfile):
        n = None
        try:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(60)
            s.connect(sock)
            f = s.makefile("rwb")
            reply(f)
            f.write(b"LHLO load.test\r\n"); f.flush(); reply(f)
            for _ in range(3):
                domain = domains[i % len(domains)]
                i += 1
                n = next(counter)
                f.write(b"MAIL FROM:<load@sender.test>\r\nRCPT TO:<u%d@%s>\r\nDATA\r\n"
                        % (n, domain.encode()))
                f.flush()
                reply(f); reply(f); reply(f)
                f.write(b"Subject: load %d\r\n\r\nmessage %d\r\n.\r\n" % (n, n)); f.flush()
                record(n, domain, reply(f)[:3])
                n = None
            f.write(b"QUIT\r\n"); f.flush(); reply(f)
            s.close()
        except (OSError, EOFError):
            if n is not None:
                record(n, domain, "err")
            time.sleep(0.05)


threads = [threading.Thread(target=client, args=(t,)) for t in range(nthreads)]
for t in threads:
    t.start()
for t in threads:
    t.join()
