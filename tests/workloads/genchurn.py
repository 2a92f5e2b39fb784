"""Short-lived generators, created and exhausted thousands of times a second.

A sampler that reads a running generator's frame just as it yields or
finishes sees a frame with no caller; it must not report that as a whole
stack.  Prints "ready" once warmed up.  Usage: genchurn.py SECONDS
"""
import sys
import time

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]


def checksum(word):
    return sum(ord(c) for c in word)


def churn(deadline):
    total = 0
    while time.perf_counter() < deadline:
        for w in WORDS:
            total += checksum(w)
    return total


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    end = time.perf_counter() + seconds
    churn(time.perf_counter() + 0.2)
    print("ready", flush=True)
    churn(end)


if __name__ == "__main__":
    main()
