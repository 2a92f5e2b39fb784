"""--blocking (ptrace) mode must never leave the target waiting on the profiler.

- Signals that arrive between samples stop a seized thread until its tracer
  passes them on: pyprof must do so at once (a 1 kHz SIGALRM still reaches
  the program's handler at about the same rate as without the profiler).
- A SIGSTOP from someone else is a group-stop: it must stay a stop (the
  profiler does not resume it), SIGCONT resumes it, and after the run the
  target runs, untraced.
"""
import os
import signal
import subprocess
import sys
import time

from pyprof_e2e import REPO, WORKLOADS

SAMPLER = REPO / "build" / "pyprof-sampler"


def _handled(output):
    for line in output.splitlines():
        if line.startswith("handled "):
            return int(line.split()[1])
    raise AssertionError("no 'handled' line in %r" % output)


def test_signals_are_passed_on_at_once(tmp_path):
    workload = [sys.executable, str(WORKLOADS / "sigalarm.py"), "2"]
    alone = subprocess.run(workload, capture_output=True, text=True, timeout=30)
    base = _handled(alone.stdout)
    prof = subprocess.run([str(SAMPLER), "record", "--native", "--blocking", "--idle", "-F", "100", "-d", "10",
                           "--collapsed", str(tmp_path / "out.txt"), "--"] + workload,
                          capture_output=True, text=True, timeout=60)
    assert prof.returncode == 0, prof.stderr
    got = _handled(prof.stdout)
    # without the SIGCHLD-driven hand-over, only one signal per tick arrived (~200)
    assert got >= 0.8 * base, "handler ran %d times under --blocking, %d without" % (got, base)
    assert "native (blocking" in prof.stderr


def _state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def _tracer(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
    return -1


def test_group_stop_is_kept_and_target_left_running(tmp_path):
    target = subprocess.Popen([sys.executable, str(WORKLOADS / "split.py"), "20"], stdout=subprocess.PIPE,
                              text=True, start_new_session=True)
    try:
        assert target.stdout.readline().strip() == "ready"
        prof = subprocess.Popen([str(SAMPLER), "record", "--native", "--blocking", "--idle", "-F", "200", "-d", "4",
                                 "--collapsed", str(tmp_path / "out.txt"), "--pid", str(target.pid)],
                                stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        assert _tracer(target.pid) == prof.pid  # blocking mode does attach
        os.kill(target.pid, signal.SIGSTOP)
        time.sleep(0.8)
        # a stop is a stop: the profiler's interrupts must not resume it
        assert _state(target.pid) in ("T", "t"), _state(target.pid)
        with open("/proc/%d/stat" % target.pid) as f:
            utime0 = int(f.read().rsplit(")", 1)[1].split()[11])
        time.sleep(0.5)
        with open("/proc/%d/stat" % target.pid) as f:
            utime1 = int(f.read().rsplit(")", 1)[1].split()[11])
        assert utime1 == utime0, "the stopped target ran"
        os.kill(target.pid, signal.SIGCONT)
        _, err = prof.communicate(timeout=30)
        assert prof.returncode == 0, err
        time.sleep(0.3)
        assert _tracer(target.pid) == 0
        assert _state(target.pid) in ("R", "S"), _state(target.pid)
        assert target.poll() is None
    finally:
        target.kill()
        target.wait()
