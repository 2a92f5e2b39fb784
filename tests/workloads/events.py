"""Workloads for the -e/-c and --off-cpu tests (tests/e2e/test_events.py).

    python events.py faults ROUNDS   touch_fresh() faults in 2048 fresh pages, compute() burns CPU
    python events.py opens ROUNDS    open_files() opens 20 files, compute() burns CPU

Each prints "ready", waits 0.5 s (a launching profiler has opened its events by then),
runs ROUNDS rounds and exits 0: the events under touch_fresh / open_files are known
(ROUNDS * 2048 faults, ROUNDS * 20 openat calls).  compute() takes most of the CPU time
(~30 ms a round against ~2 ms), so a CPU-time profile would not put the samples under
the other function: only the event does.
"""
import mmap
import sys
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


def compute(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def main():
    mode, rounds = sys.argv[1], int(sys.argv[2])
    print("ready", flush=True)
    time.sleep(0.5)
    for _ in range(rounds):
        if mode == "faults":
            touch_fresh(2048)
        elif mode == "opens":
            open_files(20)
        else:
            raise SystemExit("unknown mode " + mode)
        compute(400000)


if __name__ == "__main__":
    main()
