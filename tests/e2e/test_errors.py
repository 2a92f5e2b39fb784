"""Exit codes and error output (docs/errors.md), and ending a record cleanly.

Every error is exactly one `pyprof: error: ...` line on stderr, optionally followed
by one `pyprof: hint: ...` line, and never a traceback.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

import pytest

import pyprof_e2e as e2e

EXIT_USAGE = 2
EXIT_NO_SUCH_PROCESS = 3
EXIT_PERMISSION = 4
EXIT_NOT_PYTHON = 5
EXIT_UNSUPPORTED_VERSION = 6
EXIT_CANNOT_LAUNCH = 7


def assert_error(result, code, out_dir=None):
    """Check exit code and the one-error-line (+ optional hint) form; return (error, hint)."""
    assert result.returncode == code, "expected exit code %d\n%s" % (code, e2e.describe(result))
    assert "Traceback" not in result.stderr, "traceback on stderr\n" + e2e.describe(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, "expected 1 error line (+1 hint)\n" + e2e.describe(result)
    assert lines[0].startswith("pyprof: error: "), e2e.describe(result)
    if len(lines) == 2:
        assert lines[1].startswith("pyprof: hint: "), e2e.describe(result)
    if out_dir is not None:
        leftovers = os.listdir(str(out_dir))
        assert not leftovers, "files left in the output directory: %s" % leftovers
    return lines[0], (lines[1] if len(lines) == 2 else "")


def record_pid_args(pid, out, duration=2):
    return ["record", "--pid", str(pid), "-o", str(out), "--format", "collapsed",
            "--duration", str(duration)]


# --- targets that cannot be profiled ------------------------------------------

def test_no_such_process_exits_3(tmp_path):
    # GIVEN a PID that names no process
    pid = e2e.free_pid()
    # WHEN pyprof is asked to attach to it
    result = e2e.run_pyprof(record_pid_args(pid, tmp_path / "out.txt"))
    # THEN it exits 3 with one error line
    assert_error(result, EXIT_NO_SUCH_PROCESS, tmp_path)


def test_process_that_is_not_python_exits_5(tmp_path):
    # GIVEN a running process that is not Python (sleep)
    sleeper = e2e.spawn(["sleep", "30"])
    # WHEN pyprof attaches to it
    result = e2e.run_pyprof(record_pid_args(sleeper.pid, tmp_path / "out.txt"))
    # THEN it exits 5 and leaves the process running
    assert_error(result, EXIT_NOT_PYTHON, tmp_path)
    assert sleeper.poll() is None, "pyprof ended the non-Python process"


def _a_kernel_thread():
    if e2e.is_kernel_thread(2):                    # kthreadd, normally
        return 2
    for entry in sorted(os.listdir("/proc"), key=lambda e: (len(e), e)):
        if entry.isdigit() and e2e.is_kernel_thread(int(entry)):
            return int(entry)
    pytest.fail("no kernel thread is visible in /proc (PID 2 is not kthreadd here)")


def test_kernel_thread_exits_5_and_says_so(tmp_path):
    # GIVEN a kernel thread (PF_KTHREAD in /proc/PID/stat flags)
    pid = _a_kernel_thread()
    # WHEN pyprof attaches to it
    result = e2e.run_pyprof(record_pid_args(pid, tmp_path / "out.txt"))
    # THEN it exits 5 and the error names a kernel thread
    error, _ = assert_error(result, EXIT_NOT_PYTHON, tmp_path)
    assert "kernel thread" in error, e2e.describe(result)


def test_permission_denied_exits_4_with_ptrace_hint(any_interp):
    if os.geteuid() != 0:
        pytest.skip("needs root to run pyprof as 'nobody' against a root-owned process")
    # GIVEN a Python process owned by root
    target, _ = e2e.start_workload(any_interp.path, [e2e.workload("split.py"), "60"])
    # ... and an output directory that 'nobody' may write to
    out_dir = tempfile.mkdtemp(prefix="pyprof-e2e-nobody-")
    os.chmod(out_dir, 0o777)
    try:
        # WHEN pyprof runs as user nobody (no capabilities) against it; the CLI runs on
        # the system python3 because pyenv's interpreters live under /root (mode 700)
        cli_python = str(e2e.SYSTEM_PYTHON) if e2e.SYSTEM_PYTHON.exists() else None
        assert cli_python, "the permission test needs /usr/bin/python3 to run pyprof as nobody"
        # ... from a copy 'nobody' can read: the checkout may sit in a mode-700
        # directory (mktemp -d, /root)
        cli_dir = tempfile.mkdtemp(prefix="pyprof-e2e-cli-")
        shutil.copytree(str(e2e.REPO / "pyprof"), os.path.join(cli_dir, "pyprof"),
                        ignore=shutil.ignore_patterns("__pycache__", "_bin"))
        sampler = os.path.join(cli_dir, "pyprof-sampler")
        shutil.copy2(str(e2e.REPO / "build" / "pyprof-sampler"), sampler)
        for dirpath, dirnames, filenames in os.walk(cli_dir):
            os.chmod(dirpath, 0o755)
            for name in filenames:
                os.chmod(os.path.join(dirpath, name), 0o755)
        try:
            proc = e2e.spawn(
                ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
                 cli_python, "-m", "pyprof"]
                + record_pid_args(target.pid, os.path.join(out_dir, "out.txt")),
                cwd=cli_dir,
                env=e2e.child_env({"PYPROF_SAMPLER": sampler, "PYTHONPATH": cli_dir}),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8",
                errors="replace")
            result = e2e.finish_pyprof(proc, timeout=60)
        finally:
            shutil.rmtree(cli_dir, ignore_errors=True)
        # THEN it exits 4 and the hint names the fix
        _, hint = assert_error(result, EXIT_PERMISSION, out_dir)
        assert "cap_sys_ptrace" in hint.lower() or "ptrace_scope" in hint, (
            "hint should mention CAP_SYS_PTRACE or ptrace_scope\n" + e2e.describe(result))
        assert target.poll() is None, "the target died"
    finally:
        e2e.stop_process(target)
        shutil.rmtree(out_dir, ignore_errors=True)


@pytest.mark.parametrize("how", ["attach", "launch"])
def test_unsupported_python_version_exits_6(python37, how, tmp_path):
    # GIVEN a Python 3.7 program (3.8-3.13 are supported)
    split = e2e.workload("split.py")
    out = tmp_path / "out.txt"
    # WHEN pyprof attaches to it / launches it
    if how == "attach":
        target, _ = e2e.start_workload(python37.path, [split, "60"])
        try:
            result = e2e.run_pyprof(record_pid_args(target.pid, out))
        finally:
            e2e.stop_process(target)
    else:
        result = e2e.run_pyprof(["record", "-o", str(out), "--format", "collapsed",
                                 "--duration", "2", "--", python37.path, split, "5"])
    # THEN it exits 6
    assert_error(result, EXIT_UNSUPPORTED_VERSION, tmp_path)


# --- bad command lines -----------------------------------------------------------

USAGE_ERRORS = {
    "no-pid-or-command": ["record", "-o", "{out}"],
    "rate-zero": ["record", "--rate", "0", "-o", "{out}", "--", "{python}", "{split}", "1"],
    "negative-duration": ["record", "--duration", "-1", "-o", "{out}",
                          "--", "{python}", "{split}", "1"],
    "unknown-option": ["record", "--no-such-option", "-o", "{out}",
                       "--", "{python}", "{split}", "1"],
}


@pytest.mark.parametrize("args", USAGE_ERRORS.values(), ids=USAGE_ERRORS.keys())
def test_usage_errors_exit_2(args, any_interp, tmp_path):
    # GIVEN a bad command line
    values = {"out": str(tmp_path / "out.txt"), "python": any_interp.path,
              "split": e2e.workload("split.py")}
    # WHEN pyprof runs it
    result = e2e.run_pyprof([a.format(**values) for a in args], timeout=30)
    # THEN it exits 2 with one error line and writes nothing
    assert_error(result, EXIT_USAGE, tmp_path)


@pytest.mark.parametrize("kind", ["missing", "not-executable"])
def test_command_that_cannot_be_launched_exits_7(kind, tmp_path):
    # GIVEN a command that does not exist, or a file without execute permission
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    if kind == "missing":
        command = str(tmp_path / "no-such-command")
    else:
        command = str(tmp_path / "script.sh")
        with open(command, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(command, 0o644)
    # WHEN pyprof is asked to launch it
    result = e2e.run_pyprof(["record", "-o", str(out_dir / "out.txt"), "--format", "collapsed",
                             "--duration", "2", "--", command], timeout=30)
    # THEN it exits 7
    assert_error(result, EXIT_CANNOT_LAUNCH, out_dir)


# --- ending a record ----------------------------------------------------------------

def test_target_exiting_mid_run_still_writes_profile(any_interp):
    # GIVEN a workload that exits after 1 s, recorded with --duration 5
    started = time.monotonic()
    profile = e2e.record_launch(any_interp.path, [e2e.workload("split.py"), "1"],
                                rate=200, duration=5)
    elapsed = time.monotonic() - started
    # THEN pyprof exits 0 (checked by record_launch) with the samples it took ...
    assert any(e2e.leaf_py_func(s) == "alpha" for s in profile), profile.top()
    # ... and it stopped when the target exited rather than waiting out --duration
    assert elapsed < 4.5, "pyprof took %.1f s for a 1 s target" % elapsed


def _task_states(pid):
    """{tid: (state letter, TracerPid)} for every thread of a process."""
    states = {}
    for tid in map(int, os.listdir("/proc/%d/task" % pid)):
        try:
            states[tid] = (e2e.proc_stat_fields(pid, tid)[0], e2e.tracer_pid(pid, tid))
        except FileNotFoundError:
            pass                                    # the thread just exited
    return states


def _cpu_ticks(pid):
    fields = e2e.proc_stat_fields(pid)
    return int(fields[11]) + int(fields[12])         # utime + stime


@pytest.mark.parametrize("to", ["pyprof-pid", "process-group"])
def test_sigint_writes_profile_and_leaves_target_running(any_interp, to, tmp_path):
    # GIVEN a running Python target and pyprof attached to it without --duration
    target, _ = e2e.start_workload(any_interp.path, [e2e.workload("split.py"), "120"])
    try:
        out = tmp_path / "out.txt"
        pyprof = e2e.start_pyprof(["record", "--pid", str(target.pid), "-o", str(out),
                                   "--format", "collapsed", "--rate", "200"])
        time.sleep(2)
        assert pyprof.poll() is None, "pyprof ended early\n" + e2e.describe(
            e2e.finish_pyprof(pyprof, timeout=10))

        # WHEN it gets SIGINT: sent to the pyprof process, or to its whole process
        # group as a terminal's Ctrl-C would
        if to == "pyprof-pid":
            os.kill(pyprof.pid, signal.SIGINT)
        else:
            os.killpg(pyprof.pid, signal.SIGINT)
        result = e2e.finish_pyprof(pyprof, timeout=30)

        # THEN it exits 0 having written the profile ...
        profile = e2e.read_profile(str(out), result)
        assert any(e2e.leaf_py_func(s) in ("alpha", "beta", "gamma") for s in profile), \
            profile.top()

        # ... and the target is still running: alive, no thread stopped or traced ...
        time.sleep(0.2)
        assert target.poll() is None, "the target exited (code %s)" % target.returncode
        states = _task_states(target.pid)
        stuck = {tid: st for tid, st in states.items() if st[0] in "tT" or st[1] != 0}
        assert not stuck, "target threads stopped or still traced {tid: (state, TracerPid)}: %s" \
            % stuck
        # ... and it keeps using CPU
        before = _cpu_ticks(target.pid)
        time.sleep(0.5)
        assert _cpu_ticks(target.pid) > before, "the target makes no progress"
    finally:
        e2e.stop_process(target)


def test_sigusr1_writes_a_snapshot_and_recording_goes_on(any_interp, tmp_path):
    # GIVEN pyprof recording a flame graph of a running target, without --duration
    target, _ = e2e.start_workload(any_interp.path, [e2e.workload("split.py"), "120"])
    try:
        out = tmp_path / "out.svg"
        pyprof = e2e.start_pyprof(["record", "--pid", str(target.pid), "-o", str(out),
                                   "--rate", "200"])
        time.sleep(1.5)
        assert not out.exists(), "output written before any signal"

        # WHEN it gets SIGUSR1
        os.kill(pyprof.pid, signal.SIGUSR1)

        # THEN a flame graph of the samples so far appears while it keeps recording
        deadline = time.monotonic() + 10
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert out.exists(), "no snapshot after SIGUSR1\n" + e2e.describe(
            e2e.finish_pyprof(pyprof, timeout=10) if pyprof.poll() is not None else
            subprocess.CompletedProcess(pyprof.args, None, "", ""))
        first = ET.parse(str(out))
        assert "alpha" in ET.tostring(first.getroot(), encoding="unicode")
        assert pyprof.poll() is None, "pyprof ended after SIGUSR1"
        first_size = out.stat().st_size

        # ... and SIGINT then ends it with the full profile
        time.sleep(1.0)
        os.kill(pyprof.pid, signal.SIGINT)
        result = e2e.finish_pyprof(pyprof, timeout=30)
        assert result.returncode == 0, e2e.describe(result)
        assert "snapshot written to" in result.stderr, e2e.describe(result)
        final = ET.parse(str(out))
        assert final.getroot().tag.endswith("svg")
        assert out.stat().st_size > 0 and first_size > 0
    finally:
        e2e.stop_process(target)
