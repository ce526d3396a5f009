#!/usr/bin/env python3
"""dnscount - a DNS forwarder that writes down every question it passes on.

Usage: dnscount.py UPSTREAM_PORT PORTFILE LOGFILE
Listens on 127.0.0.1 (UDP and TCP, the same free port, written to PORTFILE),
forwards each query unchanged to 127.0.0.1:UPSTREAM_PORT over the same
transport, returns the answer, and appends "udp|tcp QTYPE QNAME" per query
to LOGFILE, so that a test can count what one delivery made the relay ask.
"""
import os
import socket
import struct
import sys
import threading

UP = ("127.0.0.1", int(sys.argv[1]))
LOG = sys.argv[3]
LOCK = threading.Lock()


def question(msg):
    """(qtype, qname) of a query, or ("?", "?") when it does not parse."""
    try:
        pos, labels = 12, []
        while msg[pos] != 0:
            n = msg[pos]
            labels.append(msg[pos + 1:pos + 1 + n].decode("ascii", "replace"))
            pos += 1 + n
        qtype = struct.unpack("!H", msg[pos + 1:pos + 3])[0]
        names = {1: "A", 28: "AAAA", 33: "SRV", 15: "MX", 52: "TLSA", 6: "SOA"}
        return names.get(qtype, str(qtype)), ".".join(labels) + "."
    except (IndexError, struct.error):
        return "?", "?"


def note(proto, msg):
    qtype, qname = question(msg)
    with LOCK:
        with open(LOG, "a") as f:
            f.write("%s %s %s\n" % (proto, qtype, qname))


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        part = sock.recv(n - len(buf))
        if not part:
            raise ConnectionError("closed")
        buf += part
    return buf


def tcp_client(conn):
    try:
        while True:
            n = struct.unpack("!H", recv_exact(conn, 2))[0]
            query = recv_exact(conn, n)
            note("tcp", query)
            up = socket.create_connection(UP, timeout=5)
            up.sendall(struct.pack("!H", len(query)) + query)
            m = struct.unpack("!H", recv_exact(up, 2))[0]
            answer = recv_exact(up, m)
            up.close()
            conn.sendall(struct.pack("!H", len(answer)) + answer)
    except (OSError, ConnectionError, struct.error):
        pass
    conn.close()


def tcp_server(lsock):
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=tcp_client, args=(conn,), daemon=True).start()


def udp_one(usock, query, addr):
    note("udp", query)
    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    up.settimeout(5)
    try:
        up.sendto(query, UP)
        answer, _ = up.recvfrom(65535)
        usock.sendto(answer, addr)
    except OSError:
        pass
    up.close()


def main():
    for _ in range(50):
        usock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        usock.bind(("127.0.0.1", 0))
        port = usock.getsockname()[1]
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            lsock.bind(("127.0.0.1", port))
            break
        except OSError:
            usock.close()
            lsock.close()
    else:
        sys.exit("dnscount: no port free for both UDP and TCP")
    lsock.listen(16)
    threading.Thread(target=tcp_server, args=(lsock,), daemon=True).start()
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    while True:
        query, addr = usock.recvfrom(65535)
        threading.Thread(target=udp_one, args=(usock, query, addr), daemon=True).start()


main()
