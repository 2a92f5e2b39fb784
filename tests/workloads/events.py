"""Workloads for the -e/-c and --off-cpu tests (tests/e2e/test_events.py).

    python events.py faults ROUNDS   touch_fresh() faults in 2048 fresh pages, compute() burns CPU
    python events.py opens ROUNDS    open_files() opens 20 files, compute() burns CPU

    python events.py offcpu ROUNDS TRUTH   wait_long() sleeps 7 ms, wait_short() reads a pipe a
                                           helper thread writes 3 ms later; the blocked time
                                           each really spent (wall - thread CPU time) -> TRUTH

Each prints "ready", waits 0.5 s (a launching profiler has opened its events by then),
runs ROUNDS rounds and exits 0: the events under touch_fresh / open_files are known
(ROUNDS * 2048 faults, ROUNDS * 20 openat calls).  compute() takes most of the CPU time
(~30 ms a round against ~2 ms), so a CPU-time profile would not put the samples under
the other function: only the event does.
"""
import mmap
import os
import sys
import threading
import time

PAGE = mmap.PAGESIZE


def touch_fresh(pages):
    # a new anonymous mapping each call (malloc would reuse its heap): each
    # page written for the first time is one page fault; a little work per
    # page, as real code does between the pages it fills
    m = mmap.mmap(-1, pages * PAGE)
    n = 0
    for i in range(0, pages * PAGE, PAGE):
        m[i] = 1
        n += len(str(i))
    m.close()
    return n


def open_files(n):
    # some work on what each file gave (~1 ms): the sampler reads the
    # Python stack when the sample reaches it, 20-100 us after the openat
    # (docs/events.md, "Python frames of bursty events")
    total = 0
    for _ in range(n):
        with open(__file__, "rb") as f:
            data = f.read(64)
        for i in range(10000):
            total += data[i % len(data)]
    return total


class Blocked:
    """Time a function spent blocked: its wall time minus its thread's CPU time, which
    holds on a busy machine too (waiting for a CPU after the wake-up is blocked time,
    as it is for the profiler: the thread is off CPU until it runs)."""

    def __init__(self):
        self.ns = 0

    def __enter__(self):
        self.t = time.monotonic_ns(), time.thread_time_ns()

    def __exit__(self, *exc):
        self.ns += (time.monotonic_ns() - self.t[0]) - (time.thread_time_ns() - self.t[1])


LONG, SHORT = Blocked(), Blocked()


def wait_long():
    with LONG:
        time.sleep(0.007)


def wait_short(rfd, wake):
    with SHORT:
        wake.set()
        os.read(rfd, 1)


def writer(wfd, wake):
    while True:
        wake.wait()
        wake.clear()
        time.sleep(0.003)
        os.write(wfd, b"x")


def compute(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def main():
    mode, rounds = sys.argv[1], int(sys.argv[2])
    if mode == "offcpu":
        rfd, wfd = os.pipe()
        wake = threading.Event()
        threading.Thread(target=writer, args=(wfd, wake), daemon=True).start()
    print("ready", flush=True)
    time.sleep(0.5)
    for _ in range(rounds):
        if mode == "offcpu":
            wait_long()
            wait_short(rfd, wake)
            compute(20000)
            continue
        if mode == "faults":
            touch_fresh(2048)
        elif mode == "opens":
            open_files(20)
        else:
            raise SystemExit("unknown mode " + mode)
        compute(400000)
    if mode == "offcpu":
        with open(sys.argv[3], "w") as f:
            f.write("%d %d\n" % (LONG.ns, SHORT.ns))


if __name__ == "__main__":
    main()
