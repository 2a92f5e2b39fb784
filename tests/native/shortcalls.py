"""Mixed-mode workload with SHORT calls, to measure how often the native and
Python views disagree (tests/bench/disagree.py).

    python shortcalls.py BUILD_DIR LEAF_MS [SECONDS]

caller -> cbext.entry (C) -> callback (Python) -> cbext.leaf(LEAF_MS) (C), with
some pure-Python work in between, so the Python stack changes every
LEAF_MS milliseconds or faster.
"""
import sys
import time

sys.path.insert(0, sys.argv[1])
import cbext  # noqa: E402

LEAF_MS = float(sys.argv[2])


def pywork():
    total = 0
    for i in range(200):
        total += i * i
    return total


def callback():
    pywork()
    cbext.leaf(LEAF_MS)


def caller():
    cbext.entry(callback, 20)
    pywork()


def main():
    end = time.time() + (float(sys.argv[3]) if len(sys.argv) > 3 else 1e9)
    print("ready", flush=True)
    while time.time() < end:
        caller()


if __name__ == "__main__":
    main()
