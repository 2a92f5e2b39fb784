# -*- coding: utf-8 -*-
"""Stack shapes that a Python sampler must render correctly.

Usage: python shapes.py MODE [SECONDS]     (default 5 seconds)

MODE is one of:
  recursion  <module> -> main -> run_recursion -> recurse x 150 -> leaf   (leaf burns CPU)
  unicode    größe_berechnen() and 計算() burn CPU, alternately
  method     Worker.run_method burns CPU (qualname "Worker.run_method" on 3.11+)
  generator  consume() iterates produce(); produce burns CPU between yields
  coroutine  asyncio.run(outer()); outer awaits inner, which burns CPU without awaiting

Prints "ready" (flushed) before it starts. Works on Python 3.8+.
"""
import asyncio
import sys
import time

DEPTH = 150        # number of recurse() frames on the stack at the leaf
CHUNK_S = 0.02     # each burst of work, seconds

clock = time.perf_counter


# --- recursion ---------------------------------------------------------------

def leaf(deadline):
    x = 1
    while clock() < deadline:
        for i in range(32):
            x = (x * 31 + i) % 1000003
    return x


def recurse(n, deadline):
    """recurse(DEPTH) puts exactly DEPTH recurse frames on the stack."""
    if n <= 1:
        return leaf(deadline)
    return recurse(n - 1, deadline)


def run_recursion(end):
    while clock() < end:
        recurse(DEPTH, min(end, clock() + CHUNK_S))


# --- non-ASCII function names -------------------------------------------------

def größe_berechnen(deadline):
    x = 2
    while clock() < deadline:
        for i in range(32):
            x = (x * 37 + i) % 1000033
    return x


def 計算(deadline):
    x = 3
    while clock() < deadline:
        for i in range(32):
            x = (x * 41 + i) % 1000037
    return x


def run_unicode(end):
    while clock() < end:
        größe_berechnen(min(end, clock() + CHUNK_S))
        計算(min(end, clock() + CHUNK_S))


# --- method -------------------------------------------------------------------

class Worker:
    def run_method(self, deadline):
        x = 4
        while clock() < deadline:
            for i in range(32):
                x = (x * 43 + i) % 1000039
        return x


def run_method_mode(end):
    worker = Worker()
    while clock() < end:
        worker.run_method(min(end, clock() + CHUNK_S))


# --- generator ----------------------------------------------------------------

def produce(end):
    """Burns ~1 ms per item, in its own (generator) frame."""
    x = 5
    while clock() < end:
        item_deadline = clock() + 0.001
        while clock() < item_deadline:
            for i in range(32):
                x = (x * 47 + i) % 1000081
        yield x


def consume(end):
    total = 0
    for value in produce(end):
        total += value
    return total


def run_generator(end):
    consume(end)


# --- coroutine ----------------------------------------------------------------

async def inner(deadline):
    """Burns CPU without awaiting anything, so it runs inside outer's await."""
    x = 6
    while clock() < deadline:
        for i in range(32):
            x = (x * 53 + i) % 1000099
    return x


async def outer(end):
    total = 0
    while clock() < end:
        total += await inner(min(end, clock() + CHUNK_S))
    return total


def run_coroutine(end):
    asyncio.run(outer(end))


MODES = {
    "recursion": run_recursion,
    "unicode": run_unicode,
    "method": run_method_mode,
    "generator": run_generator,
    "coroutine": run_coroutine,
}


def main(argv):
    if len(argv) < 2 or argv[1] not in MODES:
        sys.exit("usage: shapes.py %s [SECONDS]" % "|".join(MODES))
    seconds = float(argv[2]) if len(argv) > 2 else 5.0
    print("ready", flush=True)
    MODES[argv[1]](clock() + seconds)


if __name__ == "__main__":
    main(sys.argv)
