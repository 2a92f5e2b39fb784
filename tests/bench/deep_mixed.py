"""Benchmark target: a deep mixed Python/C stack (tests/native/cbext.c).

Usage:
  python deep_mixed.py EXTDIR spin SECONDS [ALTERNATIONS]
  python deep_mixed.py EXTDIR work OUTFILE ITERATIONS [ALTERNATIONS]

EXTDIR holds the built cbext extension (tests/native/build_ext.py).  The
stack alternates Python -> C -> Python ALTERNATIONS times (default 2): each
level is the Python function down(), which calls cbext.entry(down, 1), whose C
helper calls down() back through PyObject_CallObject; the last down() calls
the leaf.  With the default, on CPython 3.11 a sample in the C leaf is about
41 frames once merged (pyprof --native, inline frames included): 6 Python
frames (<module>, main, 3 x down, the leaf function) and about 35 native ones.

spin: prints "ready" once it is at full depth, then burns the CPU in the C
leaf (cbext.leaf, 5 ms at a time) until SECONDS have passed.

work: a fixed amount of mixed work.  Prints "ready", waits for a line on
stdin (so that a profiler can attach first), then runs ITERATIONS
descents; at the leaf of each it does a fixed amount of C work (zlib.crc32
of 64 KiB, in libz) and of Python work.  Writes "<wall s> <cpu s>" of the
iterations (time.perf_counter, time.thread_time) to OUTFILE.
"""
import sys
import time
import zlib

sys.path.insert(0, sys.argv[1])
import cbext  # noqa: E402

MODE = sys.argv[2]
_ALT_ARG = 5 if MODE == "work" else 4
ALTERNATIONS = int(sys.argv[_ALT_ARG]) if len(sys.argv) > _ALT_ARG else 2
BUF = bytes(range(256)) * 256  # 64 KiB
LEVEL = 0
STATE = {"deadline": 0.0, "acc": 0}


def leaf_spin():
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while time.monotonic() < STATE["deadline"]:
        cbext.leaf(5.0)


def leaf_work():
    acc = STATE["acc"]
    for _ in range(4):
        acc = zlib.crc32(BUF, acc)
    for i in range(1500):
        acc = (acc * 31 + i) & 0xFFFFFFFF
    STATE["acc"] = acc


def down():
    global LEVEL
    if LEVEL >= ALTERNATIONS:
        return LEAF()
    LEVEL += 1
    try:
        cbext.entry(down, 1)
    finally:
        LEVEL -= 1


def main():
    global LEAF
    if MODE == "spin":
        STATE["deadline"] = time.monotonic() + float(sys.argv[3])
        LEAF = leaf_spin
        down()
        return
    out, iters = sys.argv[3], int(sys.argv[4])
    LEAF = leaf_work
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()
    t0, c0 = time.perf_counter(), time.thread_time()
    for _ in range(iters):
        down()
    wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
    with open(out, "w") as f:
        f.write("%.6f %.6f\n" % (wall, cpu))


LEAF = None

if __name__ == "__main__":
    main()
