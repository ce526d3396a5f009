#!/usr/bin/env python3
"""cpu - user+system CPU of Postfix's smtpd and cleanup processes and of the
milter, between two moments.

Usage: cpu.py snap FILE MASTER_PID MILTER_PID   record the processes' times now
       cpu.py diff FILE MASTER_PID MILTER_PID   print "SMTPD_MS CLEANUP_MS MILTER_MS GONE"
       cpu.py tree-snap FILE ROOT_PID MILTER_PID
       cpu.py tree-diff FILE ROOT_PID MILTER_PID print "TREE_MS 0 MILTER_MS 0"
SMTPD and CLEANUP are children of Postfix's master (by name); a process that
started after the snapshot counts from zero. GONE counts processes of the
snapshot that exited meanwhile (their last CPU is then missed: the bench sets
max_use high so that none should).
       cpu.py names-snap FILE ROOT_PID MILTER_PID
       cpu.py names-diff FILE ROOT_PID MILTER_PID print "NAME=MS ..." per process name
NAMES: the same tree by process name (smtpd, cleanup, qmgr, trivial-rewrite,
lmtp, smtp, ...); a process that exited between the two moments is counted
under "reaped" (its parent's cutime, cstime), the milter as "milter".
TREE is a daemon that forks a process per session (Sendmail): its own time,
the time of the children it has reaped (cutime, cstime) and that of the
descendants still running, so that sessions that ended are not lost.
"""
import os
import sys

HZ = os.sysconf("SC_CLK_TCK")


def stats():
    """{pid: (ppid, name, own ticks, reaped children's ticks)} of every process now"""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        f = s[s.rindex(")") + 2:].split()
        out[int(d)] = (int(f[1]), comm, int(f[11]) + int(f[12]), int(f[13]) + int(f[14]))
    return out


def descendants(stat, root):
    """ROOT and every process below it in STAT"""
    inside, changed = {root}, True
    while changed:
        changed = False
        for pid, st in stat.items():
            if st[0] in inside and pid not in inside:
                inside.add(pid)
                changed = True
    return inside


def procs(master, milter):
    out = {}
    for pid, (ppid, comm, ticks, _) in stats().items():
        if pid == milter:
            out[pid] = ("milter", ticks)
        elif ppid == master and comm in ("smtpd", "cleanup"):
            out[pid] = (comm, ticks)
    return out


def tree(root, milter):
    """ticks of ROOT and its descendants (reaped ones included), and of the milter"""
    stat = stats()
    total = sum(stat[pid][2] + stat[pid][3] for pid in descendants(stat, root) if pid in stat)
    return total, stat[milter][2] if milter in stat else 0


def names(root, milter):
    """ticks per process of ROOT's tree: {pid: (name, own ticks, children's ticks)};
    a name's blanks become "_", as names-snap writes it, so that a snapshot's
    line compares equal to the same process later"""
    stat = stats()
    out = {pid: (stat[pid][1].replace(" ", "_"), stat[pid][2], stat[pid][3])
           for pid in descendants(stat, root) if pid in stat}
    if milter in stat:
        out[milter] = ("milter", stat[milter][2], 0)
    return out


def names_diff(path, root, milter):
    before = {}
    for line in open(path):
        pid, comm, t, c = line.split()
        before[int(pid)] = (comm, int(t), int(c))
    sums = {}
    for pid, (comm, t, c) in names(root, milter).items():
        old = before.get(pid)
        same = old is not None and old[0] == comm
        sums[comm] = sums.get(comm, 0) + t - (old[1] if same else 0)
        sums["reaped"] = sums.get("reaped", 0) + c - (old[2] if same else 0)
    return sums


def main():
    mode, path, master, milter = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    ms = lambda t: t * 1000 // HZ
    if mode == "tree-snap":
        with open(path, "w") as f:
            f.write("%d %d\n" % tree(master, milter))
        return
    if mode == "tree-diff":
        t0, m0 = (int(x) for x in open(path).read().split())
        t1, m1 = tree(master, milter)
        print("%d 0 %d 0" % (ms(t1 - t0), ms(m1 - m0)))
        return
    if mode == "names-snap":
        with open(path, "w") as f:
            for pid, (comm, t, c) in names(master, milter).items():
                f.write("%d %s %d %d\n" % (pid, comm, t, c))
        return
    if mode == "names-diff":
        sums = names_diff(path, master, milter)
        print(" ".join("%s=%d" % (k.replace(" ", "_"), ms(v)) for k, v in sorted(sums.items()) if v))
        return
    now = procs(master, milter)
    if mode == "snap":
        with open(path, "w") as f:
            for pid, (comm, t) in now.items():
                f.write("%d %s %d\n" % (pid, comm, t))
        return
    before = {}
    for line in open(path):
        pid, comm, t = line.split()
        before[int(pid)] = (comm, int(t))
    sums = {"smtpd": 0, "cleanup": 0, "milter": 0}
    for pid, (comm, t) in now.items():
        old = before.get(pid)
        sums[comm] += t - (old[1] if old and old[0] == comm else 0)
    gone = len([p for p in before if p not in now])
    print("%d %d %d %d" % (ms(sums["smtpd"]), ms(sums["cleanup"]), ms(sums["milter"]), gone))


if __name__ == "__main__":
    main()
