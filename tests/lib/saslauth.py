#!/usr/bin/env python3
"""saslauth - a Dovecot-protocol SASL server for Postfix (smtpd_sasl_type =
dovecot): one user and password, PLAIN only. Enough for a test to log in.

Usage: saslauth.py SOCKET USER PASSWORD
"""
import base64
import os
import socketserver
import sys


class Auth(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nSPID\t%d\nCUID\t1\n"
                         b"COOKIE\t0123456789abcdef0123456789abcdef\nDONE\n" % os.getpid())
        for line in self.rfile:
            f = line.rstrip(b"\n").split(b"\t")
            if f[0] != b"AUTH" or len(f) < 3:
                continue
            resp = [x[5:] for x in f[3:] if x.startswith(b"resp=")]
            if not resp:
                self.wfile.write(b"CONT\t%s\t\n" % f[1])
                cont = self.rfile.readline().rstrip(b"\n").split(b"\t")
                resp = cont[2:3]
            try:
                _, user, password = base64.b64decode(resp[0]).split(b"\0")
            except (ValueError, IndexError):
                user, password = b"", b""
            if user == USER and password == PASSWORD:
                self.wfile.write(b"OK\t%s\tuser=%s\n" % (f[1], user))
            else:
                self.wfile.write(b"FAIL\t%s\tuser=%s\n" % (f[1], user))
            self.wfile.flush()


path, USER, PASSWORD = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
if os.path.exists(path):
    os.unlink(path)
server = socketserver.ThreadingUnixStreamServer(path, Auth)
os.chmod(path, 0o666)
server.serve_forever()
