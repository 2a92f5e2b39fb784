"""A process tree for --subprocesses: forks and a fork + exec.

Usage: python forker.py SECONDS_PARENT CHILD_SECONDS[,CHILD_SECONDS...] [EXEC_SECONDS]

The parent prints "ready", forks one child per CHILD_SECONDS (each burns the
CPU in child_work() for that long, then exits), optionally forks and execs a
new interpreter that burns EXEC_SECONDS in exec_work(), burns
SECONDS_PARENT in parent_work() itself, then waits for its children.  Each
child prints "child PID" when it starts.
"""
import os
import sys
import time


def burn(seconds):
    end = time.time() + seconds
    x = 0
    while time.time() < end:
        x += 1
    return x


def parent_work(seconds):
    return burn(seconds)


def child_work(seconds):
    return burn(seconds)


def main():
    parent_s = float(sys.argv[1])
    children = [float(x) for x in sys.argv[2].split(",") if x]
    exec_s = float(sys.argv[3]) if len(sys.argv) > 3 else 0
    print("ready", flush=True)
    for seconds in children:
        pid = os.fork()
        if pid == 0:
            print("child %d %s" % (os.getpid(), seconds), flush=True)
            child_work(seconds)
            os._exit(0)
    if exec_s:
        if os.fork() == 0:
            code = ("import sys\nsys.path.insert(0, %r)\nimport forker\nprint('exec %%d' %% __import__('os').getpid(), flush=True)\n"
                    "forker.exec_work(%r)\n" % (os.path.dirname(os.path.abspath(__file__)), exec_s))
            os.execv(sys.executable, [sys.executable, "-c", code])
    parent_work(parent_s)
    while True:
        try:
            os.wait()
        except ChildProcessError:
            break


def exec_work(seconds):
    return burn(seconds)


if __name__ == "__main__":
    main()
