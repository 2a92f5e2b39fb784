"""Mixed-mode workload: Python -> C -> Python -> C leaf (tests/native/cbext.c).

Usage: python cbwork.py BUILD_DIR [SECONDS]
"""
import sys
import time

sys.path.insert(0, sys.argv[1])
import cbext  # noqa: E402


def callback():
    cbext.leaf(3.0)


def caller(n):
    cbext.entry(callback, n)


def main():
    end = time.time() + (float(sys.argv[2]) if len(sys.argv) > 2 else 1e9)
    while time.time() < end:
        caller(5)


if __name__ == "__main__":
    main()
