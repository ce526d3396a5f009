#!/usr/bin/env python3
"""sockprobe - what a local client gets from a unix socket, for the tests.

  sockprobe.py connect PATH            "ok", or the errno name (EACCES, ...)
  sockprobe.py socketmap PATH MAP KEY  the socketmap reply ("OK forwarded")
  sockprobe.py lmtp PATH [CMD...]      the greeting, then the reply to each CMD
  sockprobe.py burst PATH MAP THREADS  the keys on stdin (one a line) looked up
                                       by THREADS connections at once; prints
                                       "KEY<TAB>REPLY<TAB>SECONDS" for each
  sockprobe.py flood PATH N HOLD       N connections that send nothing, held
                                       HOLD seconds (or until stdin closes when
                                       HOLD is "stdin"); prints "connected C",
                                       then "closed K AFTER_S" each time the
                                       count of connections the server closed
                                       changes, and "end" when done.

Run it as the user whose access is being tested (setpriv).
"""
import errno
import os
import select
import socket
import sys
import time


def connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def netstring(data):
    return b"%d:%s," % (len(data), data)


def read_netstring(s):
    buf = b""
    while b":" not in buf:
        chunk = s.recv(1)
        if not chunk:
            raise EOFError("closed before the length")
        buf += chunk
    n = int(buf[:-1])
    body = b""
    while len(body) < n + 1:
        chunk = s.recv(n + 1 - len(body))
        if not chunk:
            raise EOFError("closed in the reply")
        body += chunk
    return body[:-1].decode()


def read_reply(f):
    lines = []
    while True:
        line = f.readline()
        if not line:
            lines.append("EOF")
            break
        lines.append(line.rstrip("\r\n"))
        if len(line) < 4 or line[3] != "-":
            break
    return lines


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "connect":
        try:
            connect(path).close()
            print("ok")
        except OSError as e:
            print(errno.errorcode.get(e.errno, str(e)))
        return
    if mode == "socketmap":
        s = connect(path)
        s.sendall(netstring(("%s %s" % (sys.argv[3], sys.argv[4])).encode()))
        print(read_netstring(s))
        return
    if mode == "burst":
        import queue
        import threading
        table, nthreads = sys.argv[3], int(sys.argv[4])
        keys = queue.Queue()
        for line in sys.stdin:
            if line.strip():
                keys.put(line.strip())
        out_lock = threading.Lock()

        def worker():
            s = connect(path, timeout=300)
            while True:
                try:
                    key = keys.get_nowait()
                except queue.Empty:
                    break
                t0 = time.monotonic()
                s.sendall(netstring(("%s %s" % (table, key)).encode()))
                reply = read_netstring(s)
                with out_lock:
                    print("%s\t%s\t%.2f" % (key, reply, time.monotonic() - t0), flush=True)
            s.close()
        threads = [threading.Thread(target=worker) for _ in range(nthreads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return
    if mode == "lmtp":
        s = connect(path)
        f = s.makefile("r", encoding="utf-8", newline="\n")
        for line in read_reply(f):
            print(line)
        for cmd in sys.argv[3:]:
            s.sendall((cmd + "\r\n").encode())
            for line in read_reply(f):
                print(line)
        return
    if mode == "flood":
        n, hold = int(sys.argv[3]), sys.argv[4]
        socks = []
        for _ in range(n):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(path)
                socks.append(s)
            except BlockingIOError:
                s.close()
        print("connected %d" % len(socks), flush=True)
        start = time.monotonic()
        until = None if hold == "stdin" else start + float(hold)
        open_socks = {s.fileno(): s for s in socks}
        closed = 0
        watch = [sys.stdin] if hold == "stdin" else []
        while True:
            left = None if until is None else until - time.monotonic()
            if left is not None and left <= 0:
                break
            ready, _, _ = select.select(list(open_socks.values()) + watch, [], [],
                                        1.0 if left is None else min(left, 1.0))
            done = False
            for r in ready:
                if r is sys.stdin:
                    if not os.read(sys.stdin.fileno(), 100):
                        done = True
                    continue
                try:
                    data = r.recv(4096)
                except OSError:
                    data = b""
                if not data:  # the server closed it
                    del open_socks[r.fileno()]
                    r.close()
                    closed += 1
                    print("closed %d %.1f" % (closed, time.monotonic() - start), flush=True)
            if done:
                break
        print("end", flush=True)
        return
    sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
