"""Benchmark target: a fixed amount of pure-Python CPU work in one thread.

Usage: python work.py OUTFILE [SCALE]
Times its own work with time.perf_counter() (start-up and interpreter exit are
not counted) and writes the elapsed seconds to OUTFILE.  SCALE (default 1.0)
multiplies the amount of work; 1.0 is about 3 s on CPython 3.11 on the
project's VMs.
"""
import sys
import time


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def churn(n):
    d = {}
    for i in range(n):
        k = "k%d" % (i % 1000)
        d[k] = d.get(k, 0) + len(k)
    return sum(d.values())


def work(rounds):
    total = 0
    for _ in range(rounds):
        total += fib(24)
        total += churn(40000)
    return total


def main():
    out = sys.argv[1]
    scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    rounds = max(1, int(round(ROUNDS_AT_SCALE_1 * scale)))
    t0 = time.perf_counter()
    work(rounds)
    elapsed = time.perf_counter() - t0
    with open(out, "w") as f:
        f.write("%.6f\n" % elapsed)


ROUNDS_AT_SCALE_1 = 140

if __name__ == "__main__":
    main()
