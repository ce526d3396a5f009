#!/usr/bin/env python3
"""dnscount - a counting UDP relay in front of a real DNS server (NSD).

Usage: dnscount.py UPSTREAM_PORT PORTFILE LOGFILE
Listens on 127.0.0.1 (UDP, a free port, written to PORTFILE), passes every
query to 127.0.0.1:UPSTREAM_PORT and the answer back from the port the
client asked (so a resolver that checks the answer's source accepts it),
and appends "QNAME QTYPE" to LOGFILE for each query, flushed at once.
An answer with TC set is passed on unchanged (no TCP relay: the bench's
answers are small).
"""
import os
import socket
import sys
import threading

TYPES = {1: "A", 28: "AAAA", 33: "SRV", 15: "MX", 52: "TLSA", 5: "CNAME"}


def qname(q):
    labels, pos = [], 12
    while pos < len(q) and q[pos] != 0:
        n = q[pos]
        labels.append(q[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    qtype = int.from_bytes(q[pos + 1:pos + 3], "big") if pos + 3 <= len(q) else 0
    return ".".join(labels).lower() + ".", TYPES.get(qtype, str(qtype))


def main():
    upstream = ("127.0.0.1", int(sys.argv[1]))
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    log = open(sys.argv[3], "a")
    lock = threading.Lock()
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])

    def relay(q, client):
        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        up.settimeout(5)
        try:
            up.sendto(q, upstream)
            a, _ = up.recvfrom(65535)
            srv.sendto(a, client)
        except OSError:
            pass
        finally:
            up.close()

    while True:
        q, client = srv.recvfrom(65535)
        if len(q) < 12:
            continue
        name, qtype = qname(q)
        with lock:
            log.write("%s %s\n" % (name, qtype))
            log.flush()
        threading.Thread(target=relay, args=(q, client), daemon=True).start()


if __name__ == "__main__":
    main()
