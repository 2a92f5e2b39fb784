"""--gil and --idle: who holds the GIL, who waits for it, who sleeps.

tests/workloads/gilwork.py: "holder" runs a C function (tests/native/cbext.c,
cbext.leaf) that burns 500 ms at a time without releasing the GIL; two
"spinner" threads run pure Python and so wait for the GIL; "sleeper" sleeps
in time.sleep().  For 3.8 and 3.11-3.13 and Debian's python3:

- --gil keeps only samples of the thread holding the GIL: the holder;
- --idle shows the spinners waiting: their stacks end in <waiting for GIL>
  (the thread sleeps on the GIL's condition variable or mutex, read from
  /proc/PID/task/TID/syscall), and "sleeper" at the line that calls
  time.sleep(), not waiting for the GIL.
"""
import collections
import subprocess
import sys
from pathlib import Path

import pytest

import pyprof_e2e as e2e
from test_native import _NATIVE_PARAMS, cbext_dir

WORKLOAD = e2e.WORKLOADS / "gilwork.py"
SLEEP_LINE = next(i for i, line in enumerate(WORKLOAD.read_text().splitlines(), 1)
                  if "# the sleeping thread" in line)


@pytest.fixture(params=_NATIVE_PARAMS)
def interp(request):
    return request.param


def _record(interp, tmp_path, *flags):
    out = tmp_path / "gil.txt"
    cmd = [sys.executable, "-m", "pyprof", "record", "--threads", "-F", "200", "-d", "3", "--format", "collapsed",
           "-o", str(out)] + list(flags) + ["--", interp.path, str(WORKLOAD), str(cbext_dir(interp)), "5"]
    proc = subprocess.run(cmd, cwd=e2e.REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    per_thread = collections.defaultdict(collections.Counter)
    for line in out.read_text().splitlines():
        stack, count = line.rsplit(" ", 1)
        frames = stack.split(";")
        name = frames[0].split(" (", 1)[1].rstrip(")") if " (" in frames[0] else frames[0]
        per_thread[name][tuple(frames[1:])] += int(count)
    return per_thread


def _total(counter):
    return sum(counter.values())


def test_gil_keeps_only_the_holder(interp, tmp_path):
    per = _record(interp, tmp_path, "--gil")
    holder = _total(per["holder"])
    others = {name: _total(c) for name, c in per.items() if name not in ("holder",)}
    # the spinners get the GIL only in the few ms between two 500 ms C calls
    # (a switch interval each, 2-6 % of the samples); before the threads
    # start, the main thread holds it
    spinners = sum(n for name, n in others.items() if name.startswith("spinner"))
    assert holder >= 150, per.keys()
    assert spinners <= 0.10 * holder, "--gil: holder %d samples, others %s" % (holder, others)
    in_hold = sum(n for stack, n in per["holder"].items() if any(f.startswith("hold_gil ") for f in stack))
    assert in_hold >= 0.95 * holder, per["holder"].most_common(3)


def test_idle_shows_gil_waiters_and_the_sleeper(interp, tmp_path):
    per = _record(interp, tmp_path, "--idle")
    for name in ("spinner-1", "spinner-2"):
        stacks = per[name]
        waiting = sum(n for stack, n in stacks.items() if stack and stack[-1] == "<waiting for GIL>")
        assert _total(stacks) >= 100 and waiting >= 0.8 * _total(stacks), (
            "%s: %d of %d samples end in <waiting for GIL>: %s"
            % (name, waiting, _total(stacks), stacks.most_common(3)))
        assert all(any(f.startswith("spin ") for f in stack) for stack in stacks if len(stack) > 1)
    sleeper = per["sleeper"]
    at_sleep = sum(n for stack, n in sleeper.items()
                   if stack and stack[-1].startswith("sleep_long (") and stack[-1].endswith(":%d)" % SLEEP_LINE))
    assert _total(sleeper) >= 100 and at_sleep >= 0.95 * _total(sleeper), (
        "sleeper: %d of %d samples at the time.sleep line %d (and not waiting for the GIL): %s"
        % (at_sleep, _total(sleeper), SLEEP_LINE, sleeper.most_common(3)))
