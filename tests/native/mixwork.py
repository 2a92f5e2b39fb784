"""Mixed-mode workloads for the --native end-to-end tests (tests/e2e/test_native.py).

Usage: python mixwork.py BUILD_DIR MODE [SECONDS]

BUILD_DIR holds the cbext module built by tests/native/build_ext.py. Prints a
line starting with "ready" (flushed) once the hot path has run once, then loops
until SECONDS have passed (forever without SECONDS).

Modes (every hot sample is in the C leaf cbext_burn, 3 ms per call):
  callback  caller -> cbext.entry (C: cbext_entry -> cbext_helper) -> callback
            -> cbext.leaf (C: cbext_leaf -> cbext_burn)         (as cbwork.py)
  gen       half the time a generator resumed from C:
              gen_caller -> cbext.consume (C: cbext_consume) -> leaf_gen
              -> cbext.leaf -> cbext_burn
            half the time a generator driven inside the callback:
              caller -> cbext.entry -> cbext_helper -> gen_callback
              -> inner_gen -> cbext.leaf -> cbext_burn
  threads   `callback` on the main thread, plus a pthread with no Python thread
            state (cbext.spawn_native_thread) spinning in C; the ready line is
            "ready native_tid=TID".
"""
import sys
import time

sys.path.insert(0, sys.argv[1])
import cbext  # noqa: E402

LEAF_MS = 3.0


def callback():
    cbext.leaf(LEAF_MS)


def caller(n):
    cbext.entry(callback, n)


def leaf_gen():
    while True:
        cbext.leaf(LEAF_MS)
        yield 1


def gen_caller(n):
    cbext.consume(leaf_gen(), 2 * n)    # as many leaf calls as gen_cb_caller(n)


def inner_gen(n):
    for _ in range(n):
        cbext.leaf(LEAF_MS)
        yield 1


def gen_callback():
    for _ in inner_gen(2):
        pass


def gen_cb_caller(n):
    cbext.entry(gen_callback, n)


def main():
    mode = sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 1e9
    per_step = 5
    if mode == "callback":
        steps = [caller]
    elif mode == "gen":
        # each shape runs for ~120 ms at a time: the test is about splicing generators,
        # not about the stack changing between the native sample and the Python read
        steps = [gen_caller, gen_cb_caller]
        per_step = 20
    elif mode == "threads":
        steps = [caller]
    else:
        sys.exit("unknown mode %r" % mode)
    ready = "ready"
    if mode == "threads":
        tid = cbext.spawn_native_thread((seconds + 5.0) * 1000.0)
        ready = "ready native_tid=%d" % tid
    end = time.time() + seconds
    for step in steps:
        step(1)
    print(ready, flush=True)
    while time.time() < end:
        for step in steps:
            step(per_step)


if __name__ == "__main__":
    main()
