#!/usr/bin/env python3
"""routes_scale - what a route lookup costs against the number of routes.

Makes routes files of 10 and N lines ("custN.example [192.0.2.X]:PORT", the
issue 21 shape) and, beside them, Postfix tables of the same domains, then
measures each command's CPU (user + system) and peak resident memory with
GNU time, the median of --runs runs (fast commands are timed 20 at a time:
GNU time counts in 10 ms):

  mxport-route DOMAIN        the text (no index) and the index (--index)
  mxport-route --index       the build, against postmap hash:, cdb:, lmdb:
  postmap -q DOMAIN          Postfix's own lookup
  mxport-transport (pipe)    one message to smtp-sink, 10 routes vs N routes
  mxport-transport -L -      an LMTP session of two messages (a connection process)
  mxport-milter              started, three socketmap queries: its VmHWM (as root)

Usage: bench/routes_scale.py [--routes N] [--runs R] [--builddir DIR] [--srcdir DIR]
Needs GNU time (Debian time), postmap and smtp-sink (Debian postfix;
postfix-cdb and postfix-lmdb for those columns, skipped when absent). As root the transport runs as
nobody (it refuses root). Prints a Markdown table.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


LOOP = 20  # runs of a fast command timed together: GNU time counts in 10 ms


def run_once(argv, stdin=None, loop=1, want=0):
    """One run: (wall s, cpu s, maxrss KB) per command, from GNU time: its
    own small process forks the command, so the peak RSS is the command's
    (a child forked by this python would start with python's high-water
    mark, which exec does not reset). loop > 1: a shell runs the command
    loop times and the times are divided."""
    script = ('i=0; while [ $i -lt %d ]; do "$@" <"%s"; rc=$?; [ $rc = %d ] || exit 100; '
              'i=$((i + 1)); done' % (loop, stdin or "/dev/null", want))
    with tempfile.NamedTemporaryFile("r") as out:
        rc = subprocess.call(["/usr/bin/time", "-f", "%e %U %S %M", "-o", out.name,
                              "sh", "-c", script, "sh"] + argv,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        f = [x for x in out.read().split("\n") if x.strip()][-1].split()
    if rc != 0:
        sys.exit("routes_scale: %s did not exit %d" % (" ".join(argv), want))
    return float(f[0]) / loop, (float(f[1]) + float(f[2])) / loop, int(f[3])


def measure(argv, runs, stdin=None, want=0, loop=1):
    """Median wall, CPU and peak RSS of runs runs (each of loop commands)."""
    res = [run_once(argv, stdin, loop, want) for _ in range(runs)]
    return (statistics.median(r[0] for r in res), statistics.median(r[1] for r in res),
            statistics.median(r[2] for r in res))


def write_files(d, n, port):
    """routes.N and pf.N (postmap source) with n customers and target.example last."""
    with open(os.path.join(d, "routes.%d" % n), "w") as f, \
            open(os.path.join(d, "pf.%d" % n), "w") as g:
        for i in range(n):
            x, p = i % 254 + 1, 2000 + i % 1000
            f.write("cust%d.example [192.0.2.%d]:%d\n" % (i, x, p))
            g.write("cust%d.example smtp:[192.0.2.%d]:%d\n" % (i, x, p))
        f.write("target.example [127.0.0.1]:%d\n" % port)
        g.write("target.example smtp:[127.0.0.1]:%d\n" % port)
    with open(os.path.join(d, "conf.%d" % n), "w") as f:
        f.write("routes_file = %s/routes.%d\nallowed_networks = 127.0.0.0/8\n"
                "log_file = %s/transport.log\nhelo_name = relay.test\n"
                "dns_servers = 127.0.0.1:9\n"
                "milter_socket = unix:%s/milter.%d.sock\n"
                "socketmap_socket = unix:%s/socketmap.%d.sock\n" % (d, n, d, d, n, d, n))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def milter_peak(milter, conf, sock, pidfile, srcdir, want_text=False):
    """Start mxport-milter, ask its socketmap three questions, and return
    its peak resident memory (VmHWM, KB) and the seconds it took to start."""
    probe = os.path.join(srcdir, "tests", "lib", "sockprobe.py")
    t0 = time.monotonic()
    p = subprocess.Popen([milter, "-f", "-c", conf, "-u", "nobody", "-P", pidfile],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not os.path.exists(sock):
            if time.monotonic() > deadline or p.poll() is not None:
                sys.exit("routes_scale: mxport-milter did not open %s" % sock)
            time.sleep(0.05)
        started = time.monotonic() - t0
        for m, key in (("relay", "target.example"), ("transport", "cust5.example"),
                       ("relay", "nobody.example")):
            subprocess.run([sys.executable, probe, "socketmap", sock, m, key], check=True,
                           stdout=subprocess.DEVNULL)
        with open("/proc/%d/status" % p.pid) as f:
            hwm = [int(l.split()[1]) for l in f if l.startswith("VmHWM:")][0]
    finally:
        p.terminate()
        p.wait()
    return hwm, started


def row(name, m):
    return "| %s | %.3f s | %.3f s | %.1f MB |" % (name, m[0], m[1], m[2] / 1024.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--routes", type=int, default=1000000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--builddir", default=os.environ.get("MXPORT_BUILDDIR", "_build"))
    ap.add_argument("--srcdir", default=os.environ.get(
        "MXPORT_SRCDIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    a = ap.parse_args()
    route = os.path.join(a.builddir, "mxport-route")
    transport = os.path.join(a.builddir, "mxport-transport")
    milter = os.path.join(a.builddir, "mxport-milter")
    for tool in ("postmap", "smtp-sink", "/usr/bin/time"):
        if shutil.which(tool) is None:
            sys.exit("routes_scale: %s not found (Debian package postfix)" % tool)
    d = tempfile.mkdtemp(prefix="mxport-scale.")
    os.chmod(d, 0o755)
    port = free_port()
    sink = subprocess.Popen(["smtp-sink", "-u", "nobody", "127.0.0.1:%d" % port, "10"])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("routes_scale: smtp-sink did not come up")
                time.sleep(0.1)
        n = a.routes
        for k in (10, n):
            write_files(d, k, port)
        open(os.path.join(d, "transport.log"), "w").close()
        os.chmod(os.path.join(d, "transport.log"), 0o666)
        pfconf = os.path.join(d, "pfconf")
        os.mkdir(pfconf)
        open(os.path.join(pfconf, "main.cf"), "w").close()
        last = "cust%d.example" % (n - 1)
        print("| %d routes | wall | CPU (user+sys) | peak RSS |" % n)
        print("|---|---|---|---|")
        c10, cn = os.path.join(d, "conf.10"), os.path.join(d, "conf.%d" % n)
        msg = os.path.join(d, "msg")
        with open(msg, "w") as f:
            f.write("Subject: t\r\n\r\nbody\r\n")
        as_user = (["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
                   if os.geteuid() == 0 else [])

        def deliver(conf):
            return as_user + [transport, "-c", conf, "-q", "Q", "-f", "a@s.test", "--",
                              "b@target.example"]

        print(row("mxport-route lookup, 10 routes, text",
                  measure([route, "-c", c10, "cust9.example"], a.runs, want=75, loop=LOOP)))
        print(row("pipe delivery to smtp-sink, 10 routes, text",
                  measure(deliver(c10), a.runs, stdin=msg, loop=LOOP)))
        slow = max(1, a.runs // 3)
        print(row("mxport-route lookup, %d routes, text (no index)" % n,
                  measure([route, "-c", cn, last], slow, want=75)))
        print(row("pipe delivery to smtp-sink, %d routes, text (no index)" % n,
                  measure(deliver(cn), slow, stdin=msg)))
        print(row("mxport-route --index, %d routes" % n,
                  measure([route, "-c", cn, "--index"], a.runs)))
        print(row("mxport-route lookup, %d routes, index" % n,
                  measure([route, "-c", cn, last], a.runs, want=75, loop=LOOP)))
        print(row("pipe delivery to smtp-sink, %d routes, index" % n,
                  measure(deliver(cn), a.runs, stdin=msg, loop=LOOP)))
        drive = os.path.join(a.srcdir, "tests", "lib", "lmtpdrive.py")
        for k in (10, n):
            res = []
            for _ in range(a.runs):
                with tempfile.NamedTemporaryFile("r") as out:
                    subprocess.run([sys.executable, drive, "a@s.test", "0", "b@target.example",
                                    "c@target.example", "--", "/usr/bin/time", "-f",
                                    "%e %U %S %M", "-o", out.name] + as_user +
                                   [transport, "-c", os.path.join(d, "conf.%d" % k), "-L", "-"],
                                   check=True, stdout=subprocess.DEVNULL)
                    f = [x for x in out.read().split("\n") if x.strip()][-1].split()
                res.append((float(f[0]), float(f[1]) + float(f[2]), int(f[3])))
            print(row("LMTP session of 2 messages (`-L -`), %d routes, %s" %
                      (k, "index" if k == n else "text"),
                      tuple(statistics.median(r[i] for r in res) for i in range(3))))
        if os.geteuid() == 0:
            for k, label in ((10, "text"), (n, "index")):
                hwm, started = milter_peak(milter, os.path.join(d, "conf.%d" % k),
                                           os.path.join(d, "socketmap.%d.sock" % k),
                                           os.path.join(d, "milter.%d.pid" % k), a.srcdir)
                print("| mxport-milter start + 3 socketmap queries, %d routes, %s | %.3f s "
                      "(to its socket) | | %.1f MB (VmHWM) |" % (k, label, started, hwm / 1024.0))
        have = subprocess.run(["postconf", "-c", pfconf, "-m"], capture_output=True,
                              text=True).stdout.split()
        for kind in ("hash", "cdb", "lmdb"):
            if kind not in have:
                print("| postmap %s: (not installed) | | | |" % kind)
                continue
            table = "%s:%s/pf.%d" % (kind, d, n)
            print(row("postmap %s: build, %d routes" % (kind, n),
                      measure(["postmap", "-c", pfconf, table], a.runs)))
            print(row("postmap -q, %s: of %d routes" % (kind, n),
                      measure(["postmap", "-c", pfconf, "-q", last, table], a.runs, loop=LOOP)))
    finally:
        sink.terminate()
        sink.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
