#!/usr/bin/env python3
"""smtppeer - the customer's SMTP server, played from a script, for tests.

Usage: smtppeer.py SCRIPT.json DIR
Listens on 127.0.0.1 (port from the script, 0 = any), writes the port to
DIR/port, and for each connection N records what it received:
  DIR/session.N   every line received (after TLS, if any)
  DIR/msg.N       the DATA bytes exactly as received, without the final ".\r\n"
                  (msg.N.2, msg.N.3, ... for further messages of one connection)
  DIR/env.N       "MAIL FROM:<...>" and "RCPT TO:<...>" lines of accepted transactions
Script keys (all optional):
  host (a loopback address, default 127.0.0.1), port, greeting, ehlo (list of lines after the first), helo, mail, data, dot,
  rset, quit, starttls_reply, auth_reply, xforward (the reply to XFORWARD; offer it
  with "XFORWARD NAME ADDR ..." in ehlo),
  rcpt: reply for every recipient, or {"default": ..., "addr": reply},
  rcpt_match: [[regex, reply], ...]  the reply of the first regex that matches
                                     the whole address (before rcpt's), e.g. a
                                     set of unknown users answered 550
  tls: {"cert": file, "key": file}   offer STARTTLS (or implicit TLS with "implicit": true)
  no_starttls: true                  do not offer STARTTLS even with a certificate
  auth: {"user": u, "pass": p}       offer AUTH PLAIN LOGIN, require it before MAIL
  delay: {stage: seconds}            wait before replying at that stage
  disconnect: stage                  close the connection instead of replying
  garbage: {stage: "text"}           send this line instead of the reply
  close_after: N                     close without a word when MAIL comes after
                                     N messages on one connection
  late_mail: "reply"                 the reply to MAIL once the connection has
                                     carried a message (closing after a 421)
  idle_close: seconds                "421" and close when the client is silent
                                     that long (a server's idle timeout)
  rcpt_limit: N                      "452 4.5.3" to every RCPT after N accepted in
                                     one transaction (smtpd_recipient_limit)
  max_line: N                        refuse a message with a line longer than N
                                     bytes ("500 5.5.0 Line too long" to the dot)
  sessions: [ {overrides for connection 1}, {... 2}, ... ]
A command line with a NUL byte always gets "501 5.5.2 NUL characters are
not allowed" (as Exim answers), and is counted in DIR/nul.
  chaos: {"seed": S, "rate": 0.2, "stall": seconds}
                                     on that share of connections (chosen by a
                                     generator seeded with S and the connection
                                     number, so runs repeat), one fault: 4xx or
                                     5xx to RCPT, 4xx to the final dot, a drop at
                                     MAIL, RCPT, DATA or after the final dot, or a
                                     stall at the greeting; each logged to DIR/faults
Stages: greeting ehlo helo starttls auth xforward mail rcpt data dot quit.
"""
import json
import os
import socket
import socketserver
import ssl
import sys
import threading
import time
import base64
import random
import re

SCRIPT = {}
DIR = "."
COUNTER = [0]
LOCK = threading.Lock()

DEFAULTS = {
    "greeting": "220 peer.test ESMTP mxport test peer",
    "ehlo": ["PIPELINING", "SIZE 100000000", "8BITMIME", "SMTPUTF8"],
    "helo": "250 peer.test",
    "mail": "250 2.1.0 Ok",
    "rcpt": "250 2.1.5 Ok",
    "data": "354 End data with <CR><LF>.<CR><LF>",
    "dot": "250 2.0.0 Ok: queued as TEST",
    "rset": "250 2.0.0 Ok",
    "quit": "221 2.0.0 Bye",
    "starttls_reply": "220 2.0.0 Ready to start TLS",
    "auth_reply": "235 2.7.0 Authentication successful",
    "xforward": "250 2.0.0 Ok",
}


class Closed(Exception):
    pass


class Session(socketserver.BaseRequestHandler):
    def setup(self):
        with LOCK:
            COUNTER[0] += 1
            self.n = COUNTER[0]
        self.conf = dict(DEFAULTS)
        self.conf.update({k: v for k, v in SCRIPT.items() if k != "sessions"})
        per = SCRIPT.get("sessions", [])
        if self.n <= len(per):
            self.conf.update(per[self.n - 1])
        chaos = SCRIPT.get("chaos")
        if chaos:
            rnd = random.Random(chaos["seed"] * 1000003 + self.n)
            if rnd.random() < chaos.get("rate", 0.2):
                fault = rnd.choice(["rcpt4xx", "rcpt5xx", "dot4xx", "drop_mail", "drop_rcpt",
                                    "drop_data", "drop_dot", "stall"])
                if fault == "rcpt4xx":
                    self.conf["rcpt"] = "451 4.3.0 Chaos: try again later"
                elif fault == "rcpt5xx":
                    self.conf["rcpt"] = "550 5.1.1 Chaos: no such user here"
                elif fault == "dot4xx":
                    self.conf["dot"] = "452 4.3.1 Chaos: insufficient storage"
                elif fault == "stall":
                    self.conf.setdefault("delay", {})["greeting"] = chaos.get("stall", 30)
                else:
                    self.conf["disconnect"] = fault[5:]
                with LOCK:
                    with open(os.path.join(DIR, "faults"), "a") as f:
                        f.write("%d %s\n" % (self.n, fault))
        self.sock = self.request
        self.rfile = self.sock.makefile("rb")
        self.log = open(os.path.join(DIR, "session.%d" % self.n), "ab")
        self.authed = False
        self.msgs = 0
        self.tls = False

    def finish(self):
        self.log.close()

    def readraw(self):
        line = self.rfile.readline()
        if not line.endswith(b"\n"):
            raise Closed()
        return line

    def readline(self):
        line = self.readraw().rstrip(b"\n")
        self.log.write(line.rstrip(b"\r") + b"\n")
        self.log.flush()
        return line.rstrip(b"\r")

    def reply(self, stage, text):
        c = self.conf
        if stage in c.get("delay", {}):
            time.sleep(c["delay"][stage])
        if c.get("disconnect") == stage:
            raise Closed()
        if stage in c.get("garbage", {}):
            text = c["garbage"][stage]
        if isinstance(text, list):
            text = "\r\n".join(text)
        self.sock.sendall(text.encode("utf-8", "replace") + b"\r\n")

    def ehlo_lines(self):
        c = self.conf
        ext = list(c["ehlo"])
        if c.get("tls") and not self.tls and not c.get("no_starttls") and not c["tls"].get("implicit"):
            ext.append("STARTTLS")
        if c.get("auth"):
            ext.append("AUTH PLAIN LOGIN")
        lines = ["250-peer.test"] + ["250-" + e for e in ext]
        lines[-1] = "250 " + lines[-1][4:]
        return lines

    def start_tls(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.conf["tls"]["cert"], self.conf["tls"]["key"])
        self.sock = ctx.wrap_socket(self.sock, server_side=True)
        self.tls = True
        self.rfile = self.sock.makefile("rb")

    def handle(self):
        try:
            self.converse()
        except (Closed, ConnectionError, ssl.SSLError, OSError):
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    def converse(self):
        c = self.conf
        if c.get("tls", {}).get("implicit"):
            self.start_tls()
        self.reply("greeting", c["greeting"])
        env = []
        while True:
            if c.get("idle_close"):
                self.sock.settimeout(c["idle_close"])
                try:
                    line = self.readline()
                except socket.timeout:
                    self.sock.sendall(b"421 4.4.2 peer.test Error: timeout exceeded\r\n")
                    raise Closed()
                self.sock.settimeout(None)
            else:
                line = self.readline()
            cmd = line[:4].upper()
            if b"\0" in line:
                with LOCK:
                    with open(os.path.join(DIR, "nul"), "a") as f:
                        f.write("%d\n" % self.n)
                self.sock.sendall(b"501 5.5.2 NUL characters are not allowed\r\n")
                continue
            if cmd == b"EHLO":
                self.reply("ehlo", c.get("ehlo_reply", self.ehlo_lines()))
            elif cmd == b"HELO":
                self.reply("helo", c["helo"])
            elif line.upper() == b"STARTTLS":
                self.reply("starttls", c["starttls_reply"])
                if c["starttls_reply"].startswith("220"):
                    self.start_tls()
            elif cmd == b"AUTH":
                self.do_auth(line)
            elif cmd == b"MAIL":
                if c.get("close_after") is not None and self.msgs >= c["close_after"]:
                    raise Closed()
                if c.get("late_mail") and self.msgs >= 1:
                    self.reply("mail", c["late_mail"])
                    if c["late_mail"].startswith("421"):
                        raise Closed()
                    continue
                if c.get("auth") and not self.authed:
                    self.reply("mail", "530 5.7.0 Authentication required")
                    continue
                env = [line.decode("utf-8", "replace")]
                self.reply("mail", c["mail"])
            elif cmd == b"RCPT":
                addr = line.decode("utf-8", "replace").split(":", 1)[1].strip().strip("<>")
                r = c["rcpt"]
                for pattern, reply in c.get("rcpt_match", []):
                    if re.fullmatch(pattern, addr):
                        r = reply
                        break
                if isinstance(r, dict):
                    r = r.get(addr, r.get("default", DEFAULTS["rcpt"]))
                if c.get("rcpt_limit") is not None and len(env) - 1 >= c["rcpt_limit"]:
                    r = "452 4.5.3 Error: too many recipients"
                first = r[0] if isinstance(r, list) else r
                if first.startswith("2"):
                    env.append(line.decode("utf-8", "replace"))
                self.reply("rcpt", r)
            elif cmd == b"DATA":
                self.reply("data", c["data"])
                if not c["data"].startswith("354"):
                    continue
                parts = []
                while True:
                    raw = self.readraw()
                    if raw == b".\r\n":
                        break
                    parts.append(raw)
                body = b"".join(parts)
                if c.get("max_line") and any(len(p.rstrip(b"\r\n")) > c["max_line"] for p in parts):
                    self.sock.sendall(b"500 5.5.0 Line too long\r\n")
                    env = []
                    continue
                # Saved before the reply: "disconnect": "dot" is a peer that took
                # the message and then vanished without saying so. A message
                # refused at the dot was not taken.
                dot = c["dot"][0] if isinstance(c["dot"], list) else c["dot"]
                if dot.startswith("2") or c.get("disconnect") == "dot":
                    # One file per message: a client may send several per session.
                    self.msgs += 1
                    name = "%d" % self.n if self.msgs == 1 else "%d.%d" % (self.n, self.msgs)
                    with open(os.path.join(DIR, "msg." + name), "wb") as f:
                        f.write(body)
                    with open(os.path.join(DIR, "env." + name), "w") as f:
                        f.write("\n".join(env) + "\n")
                self.reply("dot", c["dot"])
            elif cmd == b"RSET":
                env = []
                self.reply("rset", c["rset"])
            elif cmd == b"QUIT":
                self.reply("quit", c["quit"])
                return
            elif cmd == b"NOOP":
                self.sock.sendall(b"250 2.0.0 Ok\r\n")
            elif line[:9].upper() == b"XFORWARD ":
                self.reply("xforward", c["xforward"])
            else:
                self.sock.sendall(b"502 5.5.2 Error: command not recognized\r\n")

    def do_auth(self, line):
        c = self.conf
        parts = line.decode().split()
        want = (c["auth"]["user"], c["auth"]["pass"])
        if len(parts) >= 2 and parts[1].upper() == "PLAIN":
            blob = parts[2] if len(parts) > 2 else None
            if blob is None:
                self.sock.sendall(b"334 \r\n")
                blob = self.readline().decode()
            fields = base64.b64decode(blob).split(b"\0")
            got = (fields[1].decode(), fields[2].decode()) if len(fields) == 3 else None
        elif len(parts) >= 2 and parts[1].upper() == "LOGIN":
            self.sock.sendall(b"334 VXNlcm5hbWU6\r\n")
            u = base64.b64decode(self.readline()).decode()
            self.sock.sendall(b"334 UGFzc3dvcmQ6\r\n")
            p = base64.b64decode(self.readline()).decode()
            got = (u, p)
        else:
            self.sock.sendall(b"504 5.5.4 Unrecognized authentication type\r\n")
            return
        if got == want:
            self.authed = True
            self.reply("auth", c["auth_reply"])
        else:
            self.reply("auth", "535 5.7.8 Authentication credentials invalid")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    global SCRIPT, DIR
    with open(sys.argv[1]) as f:
        SCRIPT = json.load(f)
    DIR = sys.argv[2]
    os.makedirs(DIR, exist_ok=True)
    srv = Server((SCRIPT.get("host", "127.0.0.1"), SCRIPT.get("port", 0)), Session)
    with open(os.path.join(DIR, "port.tmp"), "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
    srv.serve_forever()


if __name__ == "__main__":
    main()
