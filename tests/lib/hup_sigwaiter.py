#!/usr/bin/env python3
"""hup_sigwaiter - SIGHUP straight to each thread of PID that waits in sigwait().

Usage: hup_sigwaiter.py PID
That thread is libmilter's signal thread, which stops the milter on a SIGHUP
it receives; the kernel may pick it for a process's SIGHUP. Prints how many
threads were signalled (tgkill).
"""
import ctypes
import os
import signal
import sys

SYS_TGKILL = {"x86_64": 234, "aarch64": 131}
SYS_RT_SIGTIMEDWAIT = {"x86_64": "128", "aarch64": "137"}


def main():
    pid = int(sys.argv[1])
    arch = os.uname().machine
    libc = ctypes.CDLL(None, use_errno=True)
    sent = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        base = "/proc/%d/task/%s/" % (pid, tid)
        try:
            with open(base + "syscall") as f:
                nr = f.read().split()[0]
            with open(base + "wchan") as f:
                wchan = f.read()
        except OSError:
            continue
        if "sigtimedwait" in wchan or nr == SYS_RT_SIGTIMEDWAIT.get(arch):
            libc.syscall(SYS_TGKILL[arch], pid, int(tid), signal.SIGHUP)
            sent += 1
    print(sent)


if __name__ == "__main__":
    main()
