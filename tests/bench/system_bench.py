#!/usr/bin/env python3
"""The cost of `pyprof record -a` at 99 Hz to a CPU-bound Python loop (`make bench`, §7).

One target process (the bench's interpreter) runs a pure-Python loop and prints, every
0.25 s, its monotonic time and the iterations so far.  Each round measures its
iterations per second over WINDOW seconds without a profiler and over WINDOW seconds
while `pyprof record -a -F 99` samples the whole machine (after 1 s for the sampler to
set up the processes it sees), the order alternating between rounds; the ratio
with/without is the target's speed under -a.  The profiler's CPU time (the pyprof CLI
and its sampler, from wait4) per second of recording is reported beside it.  On the
project's 2-core VMs other jobs share the CPUs: the median over rounds is the figure.

The sampler's own CPU time inside the window (/proc/PID/stat) is its steady cost; the wait4
figure adds the CLI's start-up and rendering and the sampler's write at the end.

Environment: BENCH_SYSTEM_ROUNDS (default 5), BENCH_SYSTEM_SECONDS (WINDOW, default 4).
Run alone: python3 tests/bench/system_bench.py; from bench.py: section(sampler).
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ROUNDS = int(os.environ.get("BENCH_SYSTEM_ROUNDS", "5"))
WINDOW = float(os.environ.get("BENCH_SYSTEM_SECONDS", "4"))
RATE = 99
SETUP = 1.0

TARGET = r"""
import sys, time
def step(n):
    x = 0
    for i in range(50):
        x += i * n
    return x
n = 0
last = time.monotonic()
while True:
    for _ in range(256):
        step(n)
        n += 1
    now = time.monotonic()
    if now - last >= 0.25:
        last = now
        print("%.6f %d" % (now, n), flush=True)
"""


def log(msg):
    sys.stderr.write("[system bench] %s\n" % msg)
    sys.stderr.flush()


class Target:
    """The loop, and its (time, iterations) reports as they come."""

    def __init__(self, python, tmp):
        path = os.path.join(tmp, "system_target.py")
        with open(path, "w") as f:
            f.write(TARGET)
        self.proc = subprocess.Popen([python, path], stdout=subprocess.PIPE, text=True)
        self.points = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            t, n = line.split()
            with self.lock:
                self.points.append((float(t), int(n)))

    def rate(self, t0, t1):
        """Iterations per second between the first report after t0 and the last before t1."""
        with self.lock:
            inside = [(t, n) for t, n in self.points if t0 <= t <= t1]
        if len(inside) < 2:
            return None
        (ta, na), (tb, nb) = inside[0], inside[-1]
        return (nb - na) / (tb - ta)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def unprofiled(target):
    t0 = time.monotonic()
    time.sleep(WINDOW)
    return target.rate(t0, time.monotonic())


def cpu_seconds(pid):
    """utime + stime of pid in seconds, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def sampler_of(cli_pid):
    try:
        with open("/proc/%d/task/%d/children" % (cli_pid, cli_pid)) as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None
    except (OSError, ValueError):
        return None


def profiled(target, sampler, tmp):
    """(iterations/s under -a, profiler CPU s per s, sampler CPU s per s in the window,
    the target's samples, the summary line)."""
    env = dict(os.environ)
    if sampler:
        env["PYPROF_SAMPLER"] = sampler
    out = os.path.join(tmp, "system.txt")
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "pyprof", "record", "-a", "-F", str(RATE),
                             "-d", str(SETUP + WINDOW + 0.5), "-o", out],
                            cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    time.sleep(SETUP)
    spid = sampler_of(proc.pid)
    c0 = cpu_seconds(spid) if spid else None
    t0 = time.monotonic()
    time.sleep(WINDOW)
    c1 = cpu_seconds(spid) if spid else None
    t1 = time.monotonic()
    rate = target.rate(t0, t1)
    steady = (c1 - c0) / (t1 - t0) if c0 is not None and c1 is not None else None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
    elapsed = time.monotonic() - start
    cpu = (usage.ru_utime + usage.ru_stime) / elapsed
    own = 0
    if proc.returncode == 0 and os.path.exists(out):
        root = "process %d " % target.proc.pid
        with open(out) as f:
            own = sum(int(line.rsplit(" ", 1)[1]) for line in f if line.startswith(root))
    summary = next((line for line in err.splitlines() if re.match(r"pyprof: \d+ samples", line)), err.strip()[-300:])
    return rate, cpu, steady, own, summary


def section(sampler=None, python=None):
    python = python or sys.executable
    tmp = tempfile.mkdtemp(prefix="pyprof-system-bench-")
    target = Target(python, tmp)
    rows, ratios, steadies = [], [], []
    try:
        time.sleep(1.0)  # past the interpreter's start-up
        for r in range(ROUNDS):
            order = ("without", "with") if r % 2 == 0 else ("with", "without")
            got = {}
            for which in order:
                if which == "without":
                    got["without"] = unprofiled(target)
                else:
                    got["with"] = profiled(target, sampler, tmp)
            base, (prof, cpu, steady, own, summary) = got["without"], got["with"]
            ratio = prof / base if base and prof else None
            if ratio:
                ratios.append(ratio)
            if steady is not None:
                steadies.append(steady)
            rows.append((r + 1, base, prof, ratio, cpu, steady, own, summary))
            log("round %d: %s it/s without, %s with -a (ratio %s), profiler %.3f CPU s/s (sampler in the window "
                "%s), %d target samples" % (r + 1, base and "%.0f" % base, prof and "%.0f" % prof,
                                            ratio and "%.3f" % ratio, cpu, steady and "%.3f" % steady, own))
    finally:
        target.stop()
    lines = [
        "## 7. `record -a` at %d Hz: a CPU-bound Python loop's speed (tests/bench/system_bench.py)" % RATE,
        "",
        "Iterations/s of one pure-Python loop (%s) over %g s windows, without a profiler and while "
        "`pyprof record -a -F %d` samples every process of the machine (measured from %g s after its start), "
        "alternating; the profiler's CPU is the pyprof CLI's and its sampler's (wait4) per second recorded."
        % (os.path.basename(python), WINDOW, RATE, SETUP),
        "",
        "| round | it/s without | it/s with -a | with / without | profiler CPU s/s (all) | sampler CPU s/s (window) | target's samples |",
        "|---|---|---|---|---|---|---|",
    ]
    for r, base, prof, ratio, cpu, steady, own, _ in rows:
        lines.append("| %d | %s | %s | %s | %.3f | %s | %d |" % (
            r, "%.0f" % base if base else "n/a", "%.0f" % prof if prof else "n/a",
            "%.3f" % ratio if ratio else "n/a", cpu, "%.3f" % steady if steady is not None else "n/a", own))
    lines.append("")
    lines.append("Median with / without: %s; median sampler CPU in the window: %s s/s; load average %s; "
                 "last summary: `%s`" % (
                     "%.3f" % statistics.median(ratios) if ratios else "n/a",
                     "%.3f" % statistics.median(steadies) if steadies else "n/a",
                     " ".join(open("/proc/loadavg").read().split()[:3]), rows[-1][7] if rows else ""))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(section(os.environ.get("PYPROF_SAMPLER") or os.path.join(ROOT, "build", "pyprof-sampler")))
