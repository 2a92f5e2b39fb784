"""Workload with a known CPU split: alpha 60 %, beta 30 %, gamma 10 % (by time).

Usage: python split.py [SECONDS]      (default: run until killed)

Each 20 ms cycle spends 12 ms in alpha, 6 ms in beta and 2 ms in gamma, on the
thread's CPU clock (time.thread_time()), so the split holds on a busy machine:
a phase timed on the wall clock would stretch by the time the thread sat
descheduled.  Each function busy-loops on pure Python arithmetic in its *own*
frame (no helper call), so a sampler sees it as the leaf-most Python frame,
and checks the clock every few iterations until its deadline has passed.
The run's length (SECONDS) is wall-clock time.

Prints "ready" (flushed) once the cycles start. Works on Python 3.7+.
"""
import sys
import time

clock = time.thread_time

ALPHA_S = 0.012
BETA_S = 0.006
GAMMA_S = 0.002


def alpha(deadline):
    x = 1
    while True:
        for i in range(32):
            x = (x * 31 + i) % 1000003
        if clock() >= deadline:
            return x


def beta(deadline):
    x = 2
    while True:
        for i in range(32):
            x = (x * 37 + i) % 1000033
        if clock() >= deadline:
            return x


def gamma(deadline):
    x = 3
    while True:
        for i in range(32):
            x = (x * 41 + i) % 1000037
        if clock() >= deadline:
            return x


def main(seconds):
    wall = time.perf_counter
    end = wall() + seconds if seconds is not None else float("inf")
    print("ready", flush=True)
    while wall() < end:
        alpha(clock() + ALPHA_S)
        beta(clock() + BETA_S)
        gamma(clock() + GAMMA_S)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else None)
