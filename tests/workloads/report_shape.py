"""Workload with a known call shape, for `pyprof report`.

Usage: python report_shape.py [SECONDS]      (default: run until killed)

    main -> driver -> work_a   60 % of the CPU time
                   -> work_b   40 % of the CPU time

driver does no work of its own (it only calls), so it has Children ~100 % and
Self ~0. work_a and work_b run the same pure-Python loop in their own frames
(no helper call, so they are the leaf-most Python frames), 6 and 4 units per
cycle: the split is by amount of work, not by wall-clock deadlines, so it holds
on a loaded machine where the process is preempted. Prints "ready" (flushed)
just before driver starts. Works on Python 3.7+.
"""
import sys
import time

UNIT = 200          # inner loops per unit of work (about 1 ms on a 2020s CPU)
A_UNITS = 6
B_UNITS = 4


def work_a(units):
    x = 1
    for _ in range(units * UNIT):
        for i in range(32):
            x = (x * 31 + i) % 1000003
    return x


def work_b(units):
    x = 2
    for _ in range(units * UNIT):
        for i in range(32):
            x = (x * 31 + i) % 1000003
    return x


def driver(end):
    clock = time.perf_counter
    while clock() < end:
        work_a(A_UNITS)
        work_b(B_UNITS)


def main(seconds):
    end = time.perf_counter() + seconds if seconds is not None else float("inf")
    print("ready", flush=True)
    driver(end)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else None)
