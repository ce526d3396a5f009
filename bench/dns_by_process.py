#!/usr/bin/env python3
"""dns_by_process - the DNS queries each process made, from an strace log.

Usage: dns_by_process.py STRACE_LOG DNS_PORT
The log is `strace -f -xx -e trace=connect,send,sendto` of the LMTP daemon
and its connection processes: a query is a send() on a socket connected to
127.0.0.1:DNS_PORT (the transport's DNS client connects a fresh UDP socket
for each query). Prints how many processes asked, and whether any process
asked for one name (and type) more than once.
"""
import collections
import re
import statistics
import sys

port = int(sys.argv[2])
dns_fd = {}  # (pid, fd) -> connected to the DNS server
asked = collections.Counter()  # (pid, qtype, qname) -> queries
conn = re.compile(r'^(\d+) +connect\((\d+), \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\)')
send = re.compile(r'^(\d+) +send(?:to)?\((\d+), "((?:\\x[0-9a-f]{2})*)"')
TYPES = {1: "A", 28: "AAAA", 33: "SRV", 15: "MX", 52: "TLSA"}


def question(wire):
    """(qtype, qname) of a DNS query in wire form (UDP), or None"""
    try:
        pos, labels = 12, []
        while wire[pos]:
            labels.append(wire[pos + 1:pos + 1 + wire[pos]].decode("ascii", "replace"))
            pos += 1 + wire[pos]
        qtype = wire[pos + 1] << 8 | wire[pos + 2]
        return TYPES.get(qtype, str(qtype)), ".".join(labels).lower() + "."
    except IndexError:
        return None


for line in open(sys.argv[1], errors="replace"):
    m = conn.match(line)
    if m:
        dns_fd[(m.group(1), m.group(2))] = int(m.group(3)) == port
        continue
    m = send.match(line)
    if m and dns_fd.get((m.group(1), m.group(2))):
        q = question(bytes.fromhex(m.group(3).replace("\\x", "")))
        if q:
            asked[(m.group(1),) + q] += 1

pids = sorted({k[0] for k in asked})
per_pid = collections.Counter()
for (pid, t, name), n in asked.items():
    per_pid[pid] += n
repeats = {k: n for k, n in asked.items() if n > 1}
print("     processes that asked DNS: %d; queries a process: median %g, max %d" %
      (len(pids), statistics.median(per_pid.values()) if pids else 0, max(per_pid.values(), default=0)))
srv = collections.Counter(k[2] for k in asked if k[1] == "SRV")
if srv:
    print("     SRV names: %d; processes that asked for a name: median %g, max %d" %
          (len(srv), statistics.median(srv.values()), max(srv.values())))
print("     a name asked more than once by one process: %s" %
      ("never (at most one query per name per TTL per process)" if not repeats else
       "%d times, e.g. %s" % (len(repeats), ", ".join("pid %s %s %s x%d" % (k + (n,)) for k, n in list(repeats.items())[:3]))))
