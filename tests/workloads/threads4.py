"""Four threads burning CPU in distinct functions.

Usage: python threads4.py [SECONDS]    (default 5)

MainThread runs spin_main; threading.Threads named worker-a, worker-b and
worker-c run spin_a, spin_b and spin_c. Once all threads run, prints one line
(flushed):

    ready MainThread=TID worker-a=TID worker-b=TID worker-c=TID

with each thread's native (kernel) thread id. Works on Python 3.8+.
"""
import sys
import threading
import time


# Each spin_* function inlines its loop (no helper call), so it is the
# leaf-most Python frame of its thread.
def spin_main(deadline):
    x = 1
    while time.perf_counter() < deadline:
        for i in range(64):
            x = (x * 31 + i) % 1000003
    return x


def spin_a(deadline):
    x = 2
    while time.perf_counter() < deadline:
        for i in range(64):
            x = (x * 37 + i) % 1000033
    return x


def spin_b(deadline):
    x = 3
    while time.perf_counter() < deadline:
        for i in range(64):
            x = (x * 41 + i) % 1000037
    return x


def spin_c(deadline):
    x = 4
    while time.perf_counter() < deadline:
        for i in range(64):
            x = (x * 43 + i) % 1000039
    return x


def main(seconds):
    deadline = time.perf_counter() + seconds
    workers = [
        threading.Thread(target=fn, args=(deadline,), name=name)
        for name, fn in (("worker-a", spin_a), ("worker-b", spin_b), ("worker-c", spin_c))
    ]
    for t in workers:
        t.start()
    tids = ["%s=%d" % (threading.current_thread().name, threading.get_native_id())]
    tids += ["%s=%d" % (t.name, t.native_id) for t in workers]
    print("ready " + " ".join(tids), flush=True)
    spin_main(deadline)
    for t in workers:
        t.join()


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)
