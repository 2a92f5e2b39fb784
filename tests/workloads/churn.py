"""A soak target: THREADS threads that come and go, through many distinct stacks.

Usage: python churn.py [THREADS] [PATHS]

THREADS worker threads (default 8) are alive at any time; each runs for a
random 20-300 ms, then ends and a new one takes its place (tens of new
thread ids per second).  Each worker walks call chains drawn from PATHS
(default 3000) fixed paths of depth 1-6 through 40 distinct functions, so the
number of distinct stacks is large but bounded: a profile's size should level
off once every path has been seen.  Prints "ready", runs until killed.
"""
import random
import sys
import threading
import time

FUNCS = 40


# one code object per function (closures of one factory would share theirs,
# and a profiler names frames by code object)
_SOURCE = "".join(
    "def f%02d(path, i):\n"
    "    if i < len(path):\n"
    "        return FUNCTIONS[path[i]](path, i + 1)\n"
    "    x = 0\n"
    "    for k in range(300):\n"
    "        x += k * k\n"
    "    return x\n\n" % n for n in range(FUNCS))
exec(compile(_SOURCE, __file__ + ":generated", "exec"))
FUNCTIONS = [globals()["f%02d" % n] for n in range(FUNCS)]


def worker(paths, seed):
    rng = random.Random(seed)
    end = time.time() + rng.uniform(0.02, 0.3)
    while time.time() < end:
        path = paths[rng.randrange(len(paths))]
        FUNCTIONS[path[0]](path, 1)


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    npaths = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    rng = random.Random(42)
    paths = [tuple(rng.randrange(FUNCS) for _ in range(rng.randint(1, 6))) for _ in range(npaths)]
    alive, seed = [], 0
    print("ready", flush=True)
    while True:
        alive = [t for t in alive if t.is_alive()]
        while len(alive) < threads:
            seed += 1
            t = threading.Thread(target=worker, args=(paths, seed), name="churn-%d" % seed, daemon=True)
            t.start()
            alive.append(t)
        time.sleep(0.005)


if __name__ == "__main__":
    main()
