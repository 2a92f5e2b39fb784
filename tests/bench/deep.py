"""Benchmark target: one thread that sits DEPTH Python frames deep in a CPU loop.

Usage: python deep.py [DEPTH] [SECONDS]
Prints "ready" on stdout once it is at full depth, then spins until SECONDS pass
(default: forever, until killed).
"""
import sys
import time


def spin(deadline):
    x = 0
    while True:
        for _ in range(10000):
            x += 1
        if deadline and time.monotonic() > deadline:
            return x


def down(n, deadline):
    if n <= 1:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        return spin(deadline)
    return down(n - 1, deadline)


def main():
    depth = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    deadline = time.monotonic() + secs if secs else 0.0
    # main() + <module> are 2 frames; down() adds depth-3 more, spin() 1 -> depth total
    down(max(depth - 3, 1), deadline)


if __name__ == "__main__":
    main()
