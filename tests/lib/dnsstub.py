#!/usr/bin/env python3
"""dnsstub - a DNS server for failure cases that NSD cannot produce.

Listens on 127.0.0.1 (UDP) and answers every question the same way:
  servfail  - RCODE 2 (SERVFAIL)
  refused   - RCODE 5 (REFUSED)
  silent    - reads queries, never answers (a server that is down or filtered)
  truncate  - TC bit and no records, and no TCP listener behind it
Usage: dnsstub.py MODE PORTFILE  (writes the port it bound to PORTFILE)
"""
import socket
import sys


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


def main():
    mode, portfile = sys.argv[1], sys.argv[2]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    with open(portfile + ".tmp", "w") as f:
        f.write(str(sock.getsockname()[1]))
    import os
    os.rename(portfile + ".tmp", portfile)
    while True:
        data, peer = sock.recvfrom(4096)
        if mode == "silent":
            continue
        out = reply(data, mode)
        if out:
            sock.sendto(out, peer)


if __name__ == "__main__":
    main()
