#!/usr/bin/env python3
"""summarize - the interleaved passes of bench/run.sh as medians and ranges.

Usage: summarize.py [--verify] RESULTS N
       summarize.py --scale RESULTS
--verify: the verify section (7): receive passes with and without
recipients verified at RCPT (every RCPT a cache hit).
--scale: the scale section (8): lines "scale DIM VALUE PATH ROUND MS
MESSAGES POSTFIX_CPU_MS LMTP_CPU_MS MILTER_CPU_MS", PATH a (Postfix's
smtp(8)), b2 (the default path) or d (discard(8), the ceiling).
RESULTS holds lines "pass PATH ROUND MS [SMTPD_MS CLEANUP_MS MILTER_MS GONE]"
and "ceiling MS"; the Sendmail passes s_map and s_milter put the sendmail
processes' CPU where smtpd's is and 0 for cleanup. Every ratio is computed within a round (the paths of one
round ran minutes apart, not hours) and reported as the median over the
rounds with its range; a range wider than WIDE of the median is called too
wide to conclude anything.
"""
import collections
import statistics
import sys

WIDE = 0.25


def fmt_range(vals, f="%.2f"):
    return (f + " [" + f + "-" + f + "]") % (statistics.median(vals), min(vals), max(vals))


def verdict(vals, goal=None, higher_is_better=True, points=None):
    """points: judge the spread in absolute units (percentage points) against
    this width, for values near zero such as overheads"""
    med = statistics.median(vals)
    words = []
    if points is not None:
        spread, wide = max(vals) - min(vals), points
        what = "range %.1f points" % spread
    else:
        spread = (max(vals) - min(vals)) / abs(med) if med else float("inf")
        wide, what = WIDE, "range %.0f%% of the median" % (100 * spread)
    side = None
    if goal is not None:
        ok = [(v >= goal) if higher_is_better else (v <= goal) for v in vals]
        side = "met" if all(ok) else ("missed" if not any(ok) else None)
    if len(vals) < 3:
        words.append("only %d round%s: no spread to judge" % (len(vals), "" if len(vals) == 1 else "s"))
    elif spread > wide:
        if side:
            words.append("wide spread (%s), but the goal was %s in every round" % (what, side))
        else:
            words.append("SPREAD TOO WIDE TO CONCLUDE ANYTHING (%s)" % what)
    else:
        words.append(what)
    if goal is not None and not (len(vals) >= 3 and spread > wide and side):
        if side:
            words.append("goal %s in every round" % side)
        else:
            words.append("goal met in %d of %d rounds: not conclusive" % (sum(ok), len(ok)))
    return "; ".join(words)


def load(path):
    ms = collections.defaultdict(dict)
    cpu = collections.defaultdict(dict)
    for line in open(path):
        f = line.split()
        if f[0] == "pass":
            ms[f[1]][int(f[2])] = int(f[3])
            if len(f) >= 8:
                cpu[f[1]][int(f[2])] = tuple(int(x) for x in f[4:8])
    return ms, cpu


def verify_section(path, n):
    """7: verification on (cache warm) against off, through the milter and the socketmap"""
    ms, cpu = load(path)
    rounds = sorted(set(r for p in ms for r in ms[p]))
    print("7. verify: receive with recipients verified at RCPT, every RCPT a cache hit (%d messages a pass, %d rounds)"
          % (n, len(rounds)))
    for off, on, label in [("r_milter", "r_mverify", "milter RCPT callback"),
                           ("r_map", "r_tverify", "socketmap verify table (no milter)")]:
        if not (ms[off] and ms[on]):
            continue
        common = [r for r in rounds if r in ms[off] and r in ms[on]]
        rate = lambda t: n * 1000.0 / max(t, 1)
        print("   %s: off %s msg/s, on %s msg/s" % (label, fmt_range([rate(ms[off][r]) for r in common], "%.0f"),
                                                    fmt_range([rate(ms[on][r]) for r in common], "%.0f")))
        tp = [100 * (1 - ms[off][r] / float(max(ms[on][r], 1))) for r in common]
        print("     throughput cost of verification: %s %%  -- %s" % (fmt_range(tp, "%.1f"), verdict(tp, None, False, 10.0)))
        if cpu[off] and cpu[on]:
            per = lambda p, r: sum(cpu[p][r][:3]) / float(n)
            both = [r for r in common if r in cpu[off] and r in cpu[on]]
            print("     CPU per message (smtpd + cleanup + milter, ms): off %s, on %s; milter process alone: off %.3f, on %.3f"
                  % (fmt_range([per(off, r) for r in both], "%.3f"), fmt_range([per(on, r) for r in both], "%.3f"),
                     statistics.median([cpu[off][r][2] / float(n) for r in both]),
                     statistics.median([cpu[on][r][2] / float(n) for r in both])))
            o = [100 * (per(on, r) / per(off, r) - 1) for r in both if per(off, r) > 0]
            if o:
                print("     CPU cost of verification: %s %%  -- %s" % (fmt_range(o, "%.1f"), verdict(o, None, False, 10.0)))


SCALE_LABELS = {
    "routes": lambda v: "%s routes" % format(int(v), ","),
    "size": lambda v: {"4096": "4 KB", "102400": "100 KB", "10485760": "10 MB"}.get(v, v + " B"),
    "rcpt": lambda v: "%s recipient%s" % (v, "" if v == "1" else "s"),
    "tls": lambda v: {"plain": "plain", "kept": "STARTTLS, kept session",
                      "conn": "STARTTLS per connection"}.get(v, v),
}


def scale_section(path):
    """8: the default path against smtp(8) and the discard ceiling, per row"""
    ms, msgs, cpu, conns = {}, {}, {}, {}
    order = []
    for line in open(path):
        f = line.split()
        if not f or f[0] != "scale":
            continue
        dim, val, p, r = f[1], f[2], f[3], int(f[4])
        if (dim, val) not in order:
            order.append((dim, val))
        ms[(dim, val, p, r)] = int(f[5])
        msgs[(dim, val)] = int(f[6])
        cpu[(dim, val, p, r)] = sum(int(x) for x in f[7:10])
        if len(f) >= 12:
            conns[(dim, val, p, r)] = (int(f[10]), int(f[11]))
    rounds = sorted(set(k[3] for k in ms))
    rate = lambda dim, val, p, r: msgs[(dim, val)] * 1000.0 / max(ms[(dim, val, p, r)], 1)
    print("   msg/s and ratios as median [min-max] over %d rounds; CPU ms per message: Postfix's processes"
          " + the LMTP daemon's + the milter's (socketmap)" % len(rounds))
    print("   goals: b''/a >= 1.00 in every round; b''/d >= 0.85 (within 15% of the discard ceiling)")
    print("   | row | msgs | (a) smtp(8) msg/s | (b'') default msg/s | (d) discard msg/s | b''/a | b''/d | CPU ms/msg a / b'' / d |")
    print("   |---|---|---|---|---|---|---|---|")
    verdicts = []
    for dim, val in order:
        rs = [r for r in rounds if all((dim, val, p, r) in ms for p in ("a", "b2", "d"))]
        if not rs:
            continue
        rates = {p: [rate(dim, val, p, r) for r in rs] for p in ("a", "b2", "d")}
        ra = [ms[(dim, val, "a", r)] / float(max(ms[(dim, val, "b2", r)], 1)) for r in rs]
        rd = [ms[(dim, val, "d", r)] / float(max(ms[(dim, val, "b2", r)], 1)) for r in rs]
        c = {p: statistics.median(cpu[(dim, val, p, r)] / float(msgs[(dim, val)]) for r in rs) for p in ("a", "b2", "d")}
        label = SCALE_LABELS.get(dim, str)(val)
        print("   | %s | %d | %s | %s | %s | %s | %s | %.2f / %.2f / %.2f |"
              % (label, msgs[(dim, val)], fmt_range(rates["a"], "%.0f"), fmt_range(rates["b2"], "%.0f"),
                 fmt_range(rates["d"], "%.0f"), fmt_range(ra), fmt_range(rd), c["a"], c["b2"], c["d"]))
        verdicts.append("   %-28s b''/a: %s; b''/d: %s" % (label + ":", verdict(ra, 1.0), verdict(rd, 0.85)))
        verdicts.append("   %-28s per round b''/a %s; b''/d %s" % ("", " ".join("%.2f" % x for x in ra),
                                                                    " ".join("%.2f" % x for x in rd)))
    tls = [(d, v) for d, v in order if d == "tls"]
    if tls:
        print("   the TLS customer's smtpd, per pass (median): SMTP sessions / TLS handshakes")
        for dim, val in tls:
            parts = []
            for p, name in (("a", "smtp(8)"), ("b2", "default")):
                c = [conns[(dim, val, p, r)] for r in rounds if (dim, val, p, r) in conns]
                if c:
                    parts.append("%s %g / %g" % (name, statistics.median(x[0] for x in c), statistics.median(x[1] for x in c)))
            print("     %-26s %s (%d messages a pass)" % (SCALE_LABELS["tls"](val) + ":", ", ".join(parts), msgs[(dim, val)]))
    print("   verdicts:")
    for v in verdicts:
        print(v)
    routes = [v for d, v in order if d == "routes"]
    if len(routes) >= 2:
        lo = min(routes, key=int)
        print("   cost per message against %s routes (pass time and CPU per message, within a round; 1.00 = flat):" % lo)
        for hi in sorted(routes, key=int):
            if hi == lo:
                continue
            for p, name in (("b2", "default"), ("a", "smtp(8) with a cdb: table")):
                rs = [r for r in rounds if ("routes", lo, p, r) in ms and ("routes", hi, p, r) in ms]
                if not rs:
                    continue
                t = [ms[("routes", hi, p, r)] / float(max(ms[("routes", lo, p, r)], 1)) for r in rs]
                cc = [cpu[("routes", hi, p, r)] / float(max(cpu[("routes", lo, p, r)], 1)) for r in rs]
                print("     %s routes, %-26s time %s -- %s; CPU %s -- %s"
                      % (format(int(hi), ","), name + ":", fmt_range(t), verdict(t), fmt_range(cc), verdict(cc)))


def main():
    if sys.argv[1] == "--scale":
        scale_section(sys.argv[2])
        return
    if sys.argv[1] == "--verify":
        verify_section(sys.argv[2], int(sys.argv[3]))
        return
    path, n = sys.argv[1], int(sys.argv[2])
    ms, cpu = load(path)
    ceiling = [int(line.split()[1]) for line in open(path) if line.startswith("ceiling ")]
    rounds = sorted(set(r for p in ms for r in ms[p]))
    rate = lambda t: n * 1000.0 / max(t, 1)

    def rates(p):
        return [rate(ms[p][r]) for r in rounds if r in ms[p]]

    def ratios(num, den):  # throughput of num / throughput of den, per round
        return [ms[den][r] / max(ms[num][r], 1) for r in rounds if r in ms[num] and r in ms[den]]

    if ms["s_map"] and ms["s_milter"]:
        sendmail(ms, cpu, rounds, n, rates, ratios)
    if not ms["a"]:
        return
    print("1. relay throughput: %d messages a pass, %d interleaved rounds (a, b, b', b'', receive passes, a, ...)"
          % (n, len(rounds)))
    print("   msg/s as median [min-max], first send to last delivery")
    if ceiling:
        print("   (c) smtp-source -> smtp-sink directly:                 %.0f msg/s" % rate(statistics.median(ceiling)))
    names = [("a", "(a) Postfix smtp(8) to [127.0.0.1]:port:               "),
             ("b", "(b) pipe path (milter, FILTER, pipe; --variant milter):"),
             ("b1", "(b') LMTP path (milter, FILTER, LMTP; --variant lmtp): "),
             ("b2", "(b'') DEFAULT path (mxport-setup's tables + LMTP):   ")]
    for p, label in names:
        if ms[p]:
            print("   %s %s msg/s" % (label, fmt_range(rates(p), "%.0f")))
    for p, label in [("b", "b/a   (pipe / Postfix's own)         "), ("b1", "b'/a  (milter + LMTP / Postfix's own)"),
                     ("b2", "b''/a (DEFAULT / Postfix's own)      ")]:
        v = ratios(p, "a")
        if v:
            print("   ratio %s: %s  -- %s" % (label, fmt_range(v), verdict(v, 1.0)))
            print("         per round: %s" % " ".join("%.2f" % x for x in v))
    print("")
    if not (ms["r_plain"] and ms["r_milter"]):
        return
    print("2. milter overhead on receive (realistic message, deliveries deferred; %d rounds)" % len(rounds))
    for p, label in [("r_plain", "no mxport (relay_domains = the domain):    "),
                     ("r_map", "socketmap relay check only, no milter:     "),
                     ("r_milter", "socketmap relay check and mxport-milter:   ")]:
        if ms[p]:
            print("   %s %s msg/s" % (label, fmt_range(rates(p), "%.0f")))
    tp = [100 * (1 - x) for x in ratios("r_milter", "r_map")]
    if tp:
        print("   throughput overhead of the milter (against the socketmap pass): %s %%  -- %s"
              % (fmt_range(tp, "%.1f"), verdict(tp, 5.0, False, 10.0)))
    tp2 = [100 * (1 - x) for x in ratios("r_milter", "r_plain")]
    print("   throughput overhead of all of mxport's receive (against no mxport): %s %%" % fmt_range(tp2, "%.1f"))
    print("   CPU per message (user+sys ms of smtpd + cleanup + mxport-milter process, from /proc/PID/stat):")
    per = {}
    for p in ("r_plain", "r_map", "r_milter"):
        if not cpu[p]:
            continue
        vals = {r: [x / float(n) for x in cpu[p][r][:3]] for r in rounds if r in cpu[p]}
        per[p] = {r: sum(v) for r, v in vals.items()}
        med = [statistics.median([vals[r][i] for r in vals]) for i in range(3)]
        gone = sum(cpu[p][r][3] for r in cpu[p])
        print("     %-9s total %s ms  (medians: smtpd %.3f, cleanup %.3f, milter process %.3f)%s"
              % (p, fmt_range(list(per[p].values()), "%.3f"), med[0], med[1], med[2],
                 "  [%d processes exited mid-pass: undercounted]" % gone if gone else ""))
    coarse = [p for p in cpu for r in cpu[p] if sum(cpu[p][r][:3]) < 100]
    if coarse:
        print("   (a pass used under 100 ms of CPU: /proc counts in 10 ms steps, too coarse to judge; send more messages)")
    if "r_milter" in per and "r_map" in per:
        o = [100 * (per["r_milter"][r] / per["r_map"][r] - 1) for r in rounds
             if r in per["r_milter"] and r in per["r_map"] and per["r_map"][r] > 0]
        if o:
            print("   CPU overhead of the milter (against the socketmap pass): %s %%  -- %s"
                  % (fmt_range(o, "%.1f"), verdict(o, 5.0, False, 10.0)))
    if "r_milter" in per and "r_plain" in per:
        o = [100 * (per["r_milter"][r] / per["r_plain"][r] - 1) for r in rounds
             if r in per["r_milter"] and r in per["r_plain"] and per["r_plain"][r] > 0]
        if o:
            print("   CPU overhead of all of mxport's receive (against no mxport): %s %%" % fmt_range(o, "%.1f"))
    print("")


def sendmail(ms, cpu, rounds, n, rates, ratios):
    print("2b. milter overhead on receive on Sendmail (the same message, queue-only; %d interleaved rounds)"
          % len(rounds))
    for p, label in [("s_map", "socket map only, no milter:         "),
                     ("s_milter", "socket map and mxport-milter:       ")]:
        print("   %s %s msg/s" % (label, fmt_range(rates(p), "%.0f")))
    tp = [100 * (1 - x) for x in ratios("s_milter", "s_map")]
    print("   throughput overhead of the milter: %s %%  -- %s" % (fmt_range(tp, "%.1f"), verdict(tp, 5.0, False, 10.0)))
    print("   CPU per message (user+sys ms of the sendmail daemon and its session processes + mxport-milter process):")
    per = {}
    for p in ("s_map", "s_milter"):
        vals = {r: (cpu[p][r][0] / float(n), cpu[p][r][2] / float(n)) for r in rounds if r in cpu[p]}
        per[p] = {r: a + b for r, (a, b) in vals.items()}
        print("     %-9s total %s ms  (medians: sendmail %.3f, milter process %.3f)"
              % (p, fmt_range(list(per[p].values()), "%.3f"), statistics.median(v[0] for v in vals.values()),
                 statistics.median(v[1] for v in vals.values())))
    o = [100 * (per["s_milter"][r] / per["s_map"][r] - 1) for r in rounds
         if r in per["s_milter"] and r in per["s_map"] and per["s_map"][r] > 0]
    if o:
        print("   CPU overhead of the milter (against the socket map pass): %s %%  -- %s"
              % (fmt_range(o, "%.1f"), verdict(o, 5.0, False, 10.0)))
    print("")


if __name__ == "__main__":
    main()
