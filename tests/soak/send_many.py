#!/usr/bin/env python3
"""send_many - send COUNT numbered messages by SMTP over THREADS sessions.

Usage: send_many.py HOST PORT COUNT THREADS DOMAIN[,DOMAIN...] [FIRST]
Message i (FIRST <= i < COUNT; FIRST defaults to 0) has "Subject: soak-<i>"
and goes to rcpt<i>@DOMAIN from sender<i>@sender.test; with several
domains, message i goes to the (i mod their number)-th. A refused message is retried (the relay may answer
4xx under load), every 0.5 s, SEND_MANY_ATTEMPTS times (20); the exit status is 0 when
every message was accepted.
"""
import os
import smtplib
import sys
import threading
import time


def main():
    host, port, count, threads, domains = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                           int(sys.argv[4]), sys.argv[5].split(","))
    next_i = [int(sys.argv[6]) if len(sys.argv) > 6 else 0]
    failed = []
    lock = threading.Lock()
    body = ("x" * 70 + "\r\n") * 50

    def worker():
        s = None
        while True:
            with lock:
                i = next_i[0]
                next_i[0] += 1
            if i >= count:
                break
            domain = domains[i % len(domains)]
            msg = ("From: <sender%d@sender.test>\r\nTo: <rcpt%d@%s>\r\nSubject: soak-%d\r\n"
                   "Message-ID: <soak-%d@sender.test>\r\n\r\n%s" % (i, i, domain, i, i, body))
            for attempt in range(int(os.environ.get("SEND_MANY_ATTEMPTS", "20"))):
                try:
                    if s is None:
                        s = smtplib.SMTP(host, port, local_hostname="soak.test", timeout=120)
                    s.sendmail("sender%d@sender.test" % i, ["rcpt%d@%s" % (i, domain)], msg)
                    break
                except (smtplib.SMTPException, OSError):
                    try:
                        s.close()
                    except Exception:
                        pass
                    s = None
                    time.sleep(0.5)
            else:
                with lock:
                    failed.append(i)
        if s is not None:
            try:
                s.quit()
            except Exception:
                pass

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if failed:
        print("not accepted by the relay: %d messages" % len(failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
