#!/usr/bin/env python3
"""dnsstub - a DNS server for failure and attack cases that NSD cannot produce.

Listens on 127.0.0.1 (UDP) and answers every question the same way:
  servfail  - RCODE 2 (SERVFAIL)
  refused   - RCODE 5 (REFUSED)
  silent    - reads queries, never answers (a server that is down or filtered)
  truncate  - TC bit and no records, and no TCP listener behind it
or, in mode
  hostile   - a small zone under .test (UDP and TCP on the same port) whose
              answers come with forgeries, chosen by the label before "test"
              in the question name (_smtp._tcp.SCENARIO.test):
    wrongsrc   forged SRV answer sent from 127.0.0.2 (same port), then NXDOMAIN
    wrongport  forged SRV answer sent from 127.0.0.1, another port, then NXDOMAIN
    wrongid    forged SRV answer with another ID, then NXDOMAIN
    wrongname  forged answer to _smtp._tcp.zzz.example, then NXDOMAIN
    wrongtype  forged answer to the same name with type A, then NXDOMAIN
    wrongclass forged answer to the same name in class CH, then NXDOMAIN
    notreply   forged SRV answer without the QR bit, then NXDOMAIN
    flood      3000 forged SRV answers (random other IDs, other questions,
               garbage, and a copy from 127.0.0.2), then NXDOMAIN
    forgedonly forged SRV answers (another ID, another question), and no
               true answer at all
    owner      NOERROR with SRV records owned by another name only
    cname      CNAME to _smtp._tcp.target.cname.test, which has the SRV
    cnameother CNAME to _smtp._tcp.target.cnameother.test; the SRV records
               are owned by yet another name
    cnameloop  a CNAME b, b CNAME a
    cnamelong  a chain of 12 CNAMEs, then the SRV
    aowner     genuine SRV answer; the A answer for mail.aowner.test has
               only a record owned by evil.attack.test
    mxowner    no SRV (NXDOMAIN); the MX answer has only an MX record owned
               by another name (to evil.attack.test); mxowner.test itself
               has A 127.0.0.1
    upper      genuine SRV answer, question repeated in upper case
    forgedad   genuine SRV answer, AD bit set (the A records too)
    tc         UDP: TC bit with a forged SRV record; TCP: the genuine SRV
  A question for mail.SCENARIO.test gets A 127.0.0.10 (AAAA: no record);
  evil.attack.test (the forged target) has A 127.0.0.66. Every other name
  is NXDOMAIN. The genuine SRV answer is "10 0 2525 mail.SCENARIO.test".
  Each query is logged to PORTFILE.log as "ID SOURCEPORT QNAME QTYPE".
Usage: dnsstub.py MODE PORTFILE  (writes the port it bound to PORTFILE)
"""
import os
import random
import socket
import struct
import sys
import threading
import time

T_A, T_SRV, T_CNAME, T_AAAA, T_MX = 1, 33, 5, 28, 15
QR, AA, TC, RD, RA, AD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0020


def reply(query, mode):
    if len(query) < 12:
        return None
    qid = query[0:2]
    flags_in = query[2]
    # End of the question section: name labels, then type and class.
    pos = 12
    while pos < len(query) and query[pos] != 0:
        pos += 1 + query[pos]
    pos += 5
    question = query[12:pos]
    rd = flags_in & 0x01
    flags = 0x80 | rd  # QR, RD copied
    rcode = {"servfail": 2, "refused": 5, "truncate": 0}[mode]
    if mode == "truncate":
        flags |= 0x02  # TC
    return qid + bytes([flags, 0x80 | rcode]) + b"\x00\x01\x00\x00\x00\x00\x00\x00" + question


# --- the hostile mode: a tiny encoder, enough for the answers above ---

def wname(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def rr(owner, rtype, rdata, ttl=300, rclass=1):
    return wname(owner) + struct.pack(">HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def srv(owner, target, port=2525):
    return rr(owner, T_SRV, struct.pack(">HHH", 10, 0, port) + wname(target))


def a_rr(owner, addr):
    return rr(owner, T_A, socket.inet_aton(addr))


def mx(owner, target, pref=5):
    return rr(owner, T_MX, struct.pack(">H", pref) + wname(target))


def cname(owner, target):
    return rr(owner, T_CNAME, wname(target))


def message(qid, flags, rcode, qname, qtype, answers=(), auth=(), qclass=1):
    head = struct.pack(">HHHHHH", qid, flags | rcode, 1, len(answers), len(auth), 0)
    return head + wname(qname) + struct.pack(">HH", qtype, qclass) + b"".join(answers) + b"".join(auth)


def parse(query):
    """(id, flags, qname, qtype, qclass) of a query, or None."""
    if len(query) < 17:
        return None
    qid, flags = struct.unpack(">HH", query[0:4])
    pos, labels = 12, []
    while pos < len(query) and query[pos] != 0:
        n = query[pos]
        labels.append(query[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    if pos + 5 > len(query):
        return None
    qtype, qclass = struct.unpack(">HH", query[pos + 1:pos + 5])
    return qid, flags, ".".join(labels), qtype, qclass


def scenario_of(qname):
    labels = qname.lower().split(".")
    if len(labels) >= 2 and labels[-1] == "test":
        return labels[-2]
    return ""


EVIL = "evil.attack.test"


def genuine(q, tcp=False):
    """The true answer to a question."""
    qid, _, qname, qtype, qclass = q
    low = qname.lower()
    scen = scenario_of(low)
    flags = QR | AA | RD | RA
    if scen == "forgedad":
        flags |= AD
    if low == EVIL:
        return message(qid, flags, 0, qname, qtype, [a_rr(qname, "127.0.0.66")] if qtype == T_A else [])
    if low == "mail.aowner.test":
        return message(qid, flags, 0, qname, qtype, [a_rr(EVIL, "127.0.0.66")] if qtype == T_A else [])
    if scen == "mxowner" and qtype == T_MX:
        return message(qid, flags, 0, qname, qtype, [mx("other.test", EVIL), mx("test", EVIL)])
    if low == "mxowner.test":
        return message(qid, flags, 0, qname, qtype, [a_rr(qname, "127.0.0.1")] if qtype == T_A else [])
    if low.startswith("mail."):
        return message(qid, flags, 0, qname, qtype, [a_rr(qname, "127.0.0.10")] if qtype == T_A else [])
    if qtype != T_SRV or not low.startswith("_smtp._tcp."):
        return message(qid, flags, 3, qname, qtype)
    mail = "mail.%s.test" % scen
    if scen in ("upper", "forgedad", "tc", "aowner"):
        if scen == "tc" and not tcp:
            return message(qid, flags | TC, 0, qname, qtype, [srv(qname, EVIL, 25)])
        qn = qname.upper() if scen == "upper" else qname
        return message(qid, flags, 0, qn, qtype, [srv(qname, mail)])
    if scen == "owner":
        return message(qid, flags, 0, qname, qtype,
                       [srv("_smtp._tcp.evil.test", EVIL, 25), srv("owner.test", EVIL, 25)],
                       [srv(qname, EVIL, 25)])
    if scen == "cname":
        target = "_smtp._tcp.target.cname.test"
        if low == target:
            return message(qid, flags, 0, qname, qtype, [srv(qname, mail)])
        return message(qid, flags, 0, qname, qtype, [cname(qname, target), srv(target, mail)])
    if scen == "cnameother":
        target = "_smtp._tcp.target.cnameother.test"
        return message(qid, flags, 0, qname, qtype,
                       [cname(qname, target), srv("_smtp._tcp.other.cnameother.test", EVIL, 25)])
    if scen == "cnameloop":
        b = "_smtp._tcp.b.cnameloop.test"
        return message(qid, flags, 0, qname, qtype,
                       [cname(qname, b), cname(b, qname), srv("_smtp._tcp.c.cnameloop.test", EVIL, 25)])
    if scen == "cnamelong":
        chain, prev = [], qname
        for i in range(12):
            nxt = "_smtp._tcp.l%d.cnamelong.test" % i
            chain.append(cname(prev, nxt))
            prev = nxt
        return message(qid, flags, 0, qname, qtype, chain + [srv(prev, EVIL, 25)])
    return message(qid, flags, 3, qname, qtype)  # NXDOMAIN for the attack scenarios


def forged_srv(qid, qname, qtype=T_SRV, qclass=1, flags=QR | AA | RD | RA | AD):
    return message(qid, flags, 0, qname, qtype, [srv(qname, EVIL, 25)], qclass=qclass)


class Hostile:
    def __init__(self, portfile):
        self.log = open(portfile + ".log", "a", buffering=1)
        for _ in range(50):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            try:
                self.other_addr = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self.other_addr.bind(("127.0.0.2", self.port))
                self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self.tcp.bind(("127.0.0.1", self.port))
                self.tcp.listen(16)
                break
            except OSError:
                self.udp.close()
        self.other_port = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other_port.bind(("127.0.0.1", 0))
        threading.Thread(target=self.serve_tcp, daemon=True).start()

    def serve_tcp(self):
        while True:
            conn, _ = self.tcp.accept()
            try:
                conn.settimeout(5)
                head = conn.recv(2, socket.MSG_WAITALL)
                n = struct.unpack(">H", head)[0]
                data = conn.recv(n, socket.MSG_WAITALL)
                q = parse(data)
                if q:
                    self.log.write("%d tcp %s %d\n" % (q[0], q[2], q[3]))
                    out = genuine(q, tcp=True)
                    conn.sendall(struct.pack(">H", len(out)) + out)
            except OSError:
                pass
            finally:
                conn.close()

    def attack(self, q, peer):
        qid, flags, qname, qtype, qclass = q
        scen = scenario_of(qname)
        s = self.udp
        if qtype != T_SRV:
            return
        if scen == "wrongsrc":
            self.other_addr.sendto(forged_srv(qid, qname), peer)
        elif scen == "wrongport":
            self.other_port.sendto(forged_srv(qid, qname), peer)
        elif scen == "wrongid":
            s.sendto(forged_srv(qid ^ 0x5A5A, qname), peer)
        elif scen == "wrongname":
            s.sendto(forged_srv(qid, "_smtp._tcp.zzz.example"), peer)
        elif scen == "wrongtype":
            s.sendto(forged_srv(qid, qname, qtype=T_A), peer)
        elif scen == "wrongclass":
            s.sendto(forged_srv(qid, qname, qclass=3), peer)
        elif scen == "forgedonly":
            s.sendto(forged_srv(qid ^ 1, qname), peer)
            s.sendto(forged_srv(qid, "_smtp._tcp.zzz.example"), peer)
            return
        elif scen == "notreply":
            s.sendto(forged_srv(qid, qname, flags=AA | RD | RA | AD), peer)
        elif scen == "flood":
            self.other_addr.sendto(forged_srv(qid, qname), peer)
            for i in range(3000):
                fid = random.randrange(65536)
                if fid == qid:
                    fid ^= 1
                kind = i % 4
                if kind == 0:
                    pkt = forged_srv(fid, qname)
                elif kind == 1:
                    pkt = forged_srv(qid, "_smtp._tcp.flood%d.test" % i)
                elif kind == 2:
                    pkt = os.urandom(random.randrange(1, 200))
                else:
                    pkt = forged_srv(qid, qname)[:random.randrange(12, 40)]
                try:
                    s.sendto(pkt, peer)
                except OSError:
                    pass
        else:
            return
        time.sleep(0.05)

    def run(self):
        while True:
            data, peer = self.udp.recvfrom(4096)
            q = parse(data)
            if not q:
                continue
            self.log.write("%d %d %s %d\n" % (q[0], peer[1], q[2], q[3]))
            self.attack(q, peer)
            if scenario_of(q[2]) == "forgedonly" and q[3] == T_SRV:
                continue
            self.udp.sendto(genuine(q), peer)


def main():
    mode, portfile = sys.argv[1], sys.argv[2]
    if mode == "hostile":
        h = Hostile(portfile)
        port = h.port
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with open(portfile + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(portfile + ".tmp", portfile)
    if mode == "hostile":
        h.run()
    while True:
        data, peer = sock.recvfrom(4096)
        if mode == "silent":
            continue
        out = reply(data, mode)
        if out:
            sock.sendto(out, peer)


if __name__ == "__main__":
    main()
