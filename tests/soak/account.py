#!/usr/bin/env python3
"""account - where did every soak message end up?

Usage: account.py COUNT PEER_DIR[:PEER_DIR...] SENDER_SINK_DIR [CRASHES]
Prints delivered, bounced, lost, duplicates and the peer's faults, and the
line "soak: COUNT sent, D delivered, B bounced, L lost, X duplicates (Y drops
after the final dot)". Exit 0 when nothing is lost, every bounce carries the
customer's words, and every duplicate is explained by a drop after the dot
or by one of CRASHES processes killed (an LMTP connection process, the
customer's server) that may each have died after the customer had taken a
message and before the relay heard so. Several PEER_DIRs: the customer's
server restarted (each run records into a folder of its own).
"""
import collections
import glob
import os
import re
import sys


def subjects(path):
    with open(path, "rb") as f:
        data = f.read()
    return [int(m) for m in re.findall(rb"^Subject: soak-(\d+)\r?$", data, re.M)], data


def main():
    count, peers, sink = int(sys.argv[1]), sys.argv[2].split(":"), sys.argv[3]
    crashes = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    delivered = collections.Counter()
    for peer in peers:
        for p in glob.glob(os.path.join(peer, "msg.*")):
            for i in subjects(p)[0]:
                delivered[i] += 1
    bounced = set()
    bad_bounces = 0
    for p in glob.glob(os.path.join(sink, "msg.*")):
        nums, data = subjects(p)
        for i in nums:
            bounced.add(i)
        if b"Chaos: no such user here" not in data:
            bad_bounces += 1
    faults = collections.Counter()
    for peer in peers:
        fpath = os.path.join(peer, "faults")
        if os.path.exists(fpath):
            for line in open(fpath):
                faults[line.split()[1]] += 1
    lost = [i for i in range(count) if i not in delivered and i not in bounced]
    dups = sum(n - 1 for n in delivered.values() if n > 1)
    both = len([i for i in bounced if i in delivered])
    print("faults injected: %s" % ", ".join("%s=%d" % kv for kv in sorted(faults.items())))
    print("soak: %d sent, %d delivered, %d bounced, %d lost, %d duplicates (%d drops after the "
          "final dot; %d delivered and later bounced%s)" % (
              count, len(delivered), len(bounced), len(lost), dups, faults["drop_dot"], both,
              "; %d processes killed" % crashes if crashes else ""))
    if lost:
        print("lost: %s" % " ".join(str(i) for i in lost[:50]))
    if bad_bounces:
        print("bounces without the customer's text: %d" % bad_bounces)
    ok = not lost and bad_bounces == 0 and dups + both <= faults["drop_dot"] + crashes
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
