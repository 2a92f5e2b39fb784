"""SIGALRM every millisecond while the main thread sleeps: counts handler runs.

Usage: python sigalarm.py SECONDS   (prints "handled N" at the end)
"""
import signal
import sys
import time

handled = 0


def on_alarm(signum, frame):
    global handled
    handled += 1


def main():
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
    end = time.time() + float(sys.argv[1])
    print("ready", flush=True)
    while time.time() < end:
        time.sleep(0.05)
    signal.setitimer(signal.ITIMER_REAL, 0, 0)
    print("handled", handled, flush=True)


if __name__ == "__main__":
    main()
