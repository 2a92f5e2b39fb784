"""The sampling loop (csrc/loop.c) under --subprocesses behaves as for one process.

Two regressions of the process-tree loops that lived beside the one-process
loop (issue 11):

1. late ticks: the sampler stopped for a while (SIGSTOP/SIGCONT: a suspended
   laptop, a starved CPU) must count the late tick, with --subprocesses too
   (it was always 0 there);
2. a child whose perf events are refused falls back to ptrace (--blocking):
   it must be sampled natively at --rate, not Python-only once per poll
   wake-up.
"""
import os
import signal
import subprocess
import sys
import time

import pytest

from pyprof_e2e import SAMPLER, child_env

from pyprof.raw import read_raw

BURN = "import time\nend = time.time() + %s\nx = 0\nwhile time.time() < end:\n    x += 1\n"


def _raw(path):
    """(stats, metadata) of a raw file, read by the package's own reader."""
    profile = read_raw(str(path))
    return profile.stats, profile.meta


def _start(tmp_path, args, seconds, env=None):
    raw = tmp_path / "out.raw"
    cmd = [str(SAMPLER), "record", "--raw", str(raw), *args,
           "--", sys.executable, "-c", BURN % seconds]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=child_env(env), start_new_session=True)
    return proc, raw


def _finish(proc, timeout=60):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError("sampler did not finish: %s" % err)
    assert proc.returncode == 0, err
    return err


@pytest.mark.parametrize("tree", [False, True], ids=["one", "subprocesses"])
def test_sampler_stopped_counts_late_ticks(tmp_path, tree):
    # GIVEN a recording at 200 Hz of a busy process (alone, or as a tree)
    args = ["-F", "200", "-d", "4"] + (["--subprocesses"] if tree else [])
    proc, raw = _start(tmp_path, args, 5)
    try:
        time.sleep(1.5)
        # WHEN the sampler itself stands still for 0.5 s (100 intervals)
        os.kill(proc.pid, signal.SIGSTOP)
        time.sleep(0.5)
        os.kill(proc.pid, signal.SIGCONT)
    finally:
        err = _finish(proc)
    stats, _ = _raw(raw)
    # THEN the tick after the pause is counted late
    assert stats["samples"] > 0, (stats, err)
    assert stats["late_ticks"] >= 1, (stats, err)


def test_ptrace_fallback_child_sampled_at_rate(tmp_path):
    # GIVEN --subprocesses --native where perf events are refused (simulated),
    # so the process falls back to ptrace (--blocking)
    rate, seconds = 200, 3
    proc, raw = _start(tmp_path, ["-F", str(rate), "-d", str(seconds), "--subprocesses",
                                  "--native"], seconds + 2, env={"PYPROF_DENY": "perf"})
    err = _finish(proc)
    stats, meta = _raw(raw)
    assert "falling back to --blocking" in err, err
    # THEN it is sampled natively (ptrace stops), at about --rate
    assert meta.get("native_mode") == "blocking", (meta, err)
    assert stats.get("native_samples", 0) > 0, (stats, err)
    # a tick every 5 ms for ~3 s (start-up aside): far more than the 50 per
    # second of a tick per 20 ms poll wake-up
    assert stats["ticks"] >= 0.5 * rate * seconds, (stats, err)
