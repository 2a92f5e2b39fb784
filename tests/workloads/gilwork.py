"""Three threads and the GIL (pyprof --gil / --idle tests).

Usage: python gilwork.py EXTDIR SECONDS

"holder" calls cbext.leaf (tests/native/cbext.c), a C function that burns the
CPU for 500 ms at a time WITHOUT releasing the GIL; "spinner-1" and
"spinner-2" run pure-Python loops, so they spend nearly all their time
waiting for the GIL.  "sleeper" sleeps in time.sleep() (it released the GIL)
at a known line.  Prints "ready" once all threads run.

After each cbext.leaf call "holder" prints "held H of P": H seconds of wall
time spent inside cbext.leaf (holding the GIL; leaf measures it in C, as the
GIL may change hands before the next bytecode) in the P seconds since the
threads were let go.  That is the truth --gil is checked against: whatever the
machine's load, the other threads held the GIL for at most P - H of those
seconds, and the spinners do not spin before.
"""
import sys
import threading
import time

sys.path.insert(0, sys.argv[1])
import cbext  # noqa: E402

END = time.time() + float(sys.argv[2])


GO = threading.Event()
GO_AT = [0.0]  # time.monotonic() when the threads were let go


def hold_gil():
    GO.wait()  # until every thread has started (starting one needs the GIL)
    held = 0.0
    while time.time() < END:
        held += cbext.leaf(500.0)
        print("held %.6f of %.6f" % (held, time.monotonic() - GO_AT[0]), flush=True)


def sleep_long():
    time.sleep(max(0.0, END - time.time()))  # the sleeping thread


def spin():
    GO.wait()  # spinning now would make starting the other threads a GIL convoy
    x = 0
    while time.time() < END:
        x += 1


def main():
    threads = [threading.Thread(target=spin, name="spinner-%d" % i) for i in (1, 2)]
    threads.append(threading.Thread(target=sleep_long, name="sleeper"))
    threads.append(threading.Thread(target=hold_gil, name="holder"))
    for t in threads:
        t.start()
    GO_AT[0] = time.monotonic()
    GO.set()
    print("ready", flush=True)
    while time.time() < END:
        time.sleep(1.0)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
