"""A target for the kill-safety trials: busy threads and a heartbeat file.

Usage: python heartbeat.py HEARTBEAT_FILE [CHILDREN]

Three threads burn the CPU through a few distinct functions; the main thread
writes an ever-growing counter to HEARTBEAT_FILE every 10 ms (a thread left
stopped by a profiler stops the counter).  With CHILDREN > 0 it first starts
that many child interpreters running the same script, each with its own
heartbeat file HEARTBEAT_FILE.N (for --subprocesses).  Prints "ready" when
the first heartbeat is written; runs until killed (a child: until its parent
is gone).
"""
import os
import subprocess
import sys
import threading
import time


def leaf_a(n):
    return sum(i * i for i in range(n))


def leaf_b(n):
    return "".join(str(i) for i in range(n))


def middle(k):
    return leaf_a(2000) if k % 2 else leaf_b(800)


def burner(k):
    while True:
        middle(k)
        k += 1


def main():
    path = sys.argv[1]
    children = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    procs = [subprocess.Popen([sys.executable, __file__, "%s.%d" % (path, n)], stdout=subprocess.DEVNULL)
             for n in range(children)]
    for k in range(3):
        threading.Thread(target=burner, args=(k,), daemon=True).start()
    parent = os.getppid()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    beat = 0
    while True:
        beat += 1
        os.pwrite(fd, b"%20d\n" % beat, 0)
        if beat == 1:
            print("ready", flush=True)
        time.sleep(0.01)
        for proc in procs:
            proc.poll()
        if os.getppid() != parent:  # a child whose parent is gone ends too
            return


if __name__ == "__main__":
    main()
