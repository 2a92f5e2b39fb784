"""``pyprof check [--pid PID]``: as root, and as user nobody with and without
CAP_SYS_PTRACE set on a copy of the sampler (setcap).

The unprivileged runs use the system python3 and a world-readable copy of the
package and sampler (the checkout may sit under /root, mode 700), as
test_errors.py does.
"""
import os
import shutil
import subprocess
import tempfile

import pytest

import pyprof_e2e as e2e

EXIT_PERMISSION = 4


@pytest.fixture
def nobody_copy():
    """A world-readable copy of pyprof/ and the sampler, and a directory nobody may write."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run pyprof as 'nobody' and to setcap")
    assert e2e.SYSTEM_PYTHON.exists(), "these tests need /usr/bin/python3 to run pyprof as nobody"
    assert shutil.which("setcap"), "setcap (libcap2-bin) is needed for this test"
    top = tempfile.mkdtemp(prefix="pyprof-e2e-check-")
    shutil.copytree(str(e2e.REPO / "pyprof"), os.path.join(top, "pyprof"),
                    ignore=shutil.ignore_patterns("__pycache__", "_bin"))
    shutil.copy2(str(e2e.REPO / "build" / "pyprof-sampler"), os.path.join(top, "pyprof-sampler"))
    os.mkdir(os.path.join(top, "out"))
    for dirpath, _, filenames in os.walk(top):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o755)
    os.chmod(os.path.join(top, "out"), 0o777)
    try:
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _as_nobody(top, args, timeout=60):
    proc = e2e.spawn(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
         str(e2e.SYSTEM_PYTHON), "-m", "pyprof"] + [str(a) for a in args],
        cwd=top, env=e2e.child_env({"PYPROF_SAMPLER": os.path.join(top, "pyprof-sampler"), "PYTHONPATH": top}),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8", errors="replace")
    return e2e.finish_pyprof(proc, timeout)


def _item(stdout, name):
    lines = [line for line in stdout.splitlines() if line[6:].startswith(name)]
    assert lines, "no %r item in:\n%s" % (name, stdout)
    return lines[0]


def test_check_as_root(any_interp):
    target, _ = e2e.start_workload(any_interp.path, [e2e.workload("split.py"), "60"])
    try:
        plain = e2e.run_pyprof(["check"])
        with_pid = e2e.run_pyprof(["check", "-p", target.pid])
    finally:
        e2e.stop_process(target)
    assert plain.returncode == 0, e2e.describe(plain)
    assert _item(plain.stdout, "ptrace").startswith("ok    ptrace: any process can be read (root")
    assert _item(plain.stdout, "perf events").startswith("ok ")
    assert _item(plain.stdout, "bpf capture").startswith("ok    bpf capture (--native): the sampler "
                                                         "loads its BPF program"), plain.stdout
    assert str(e2e.REPO / "build" / "pyprof-sampler") in _item(plain.stdout, "sampler")
    assert with_pid.returncode == 0, e2e.describe(with_pid)
    assert "ok    ptrace: PID %d (uid 0) can be read" % target.pid in with_pid.stdout, with_pid.stdout
    assert _item(with_pid.stdout, "debug info").split()[0] in ("ok", "warn")


def test_check_as_nobody_without_and_with_the_capability(nobody_copy, any_interp):
    sampler = os.path.join(nobody_copy, "pyprof-sampler")
    out = os.path.join(nobody_copy, "out", "o.txt")
    target, _ = e2e.start_workload(any_interp.path, [e2e.workload("split.py"), "60"])  # root's
    try:
        # WITHOUT a capability: root's process cannot be read, and the fixes name this install
        denied = _as_nobody(nobody_copy, ["check", "--pid", target.pid])
        assert denied.returncode == EXIT_PERMISSION, e2e.describe(denied)
        assert "no    ptrace: PID %d (uid 0) cannot be read by this user" % target.pid in denied.stdout, denied.stdout
        assert "fix: sudo setcap cap_sys_ptrace+ep %s" % sampler in denied.stdout, denied.stdout
        assert "fix: sudo " in denied.stdout and "record --pid %d" % target.pid in denied.stdout, denied.stdout
        assert "file capabilities: none" in _item(denied.stdout, "sampler")
        if not os.path.exists("/proc/sys/kernel/yama"):
            assert "no Yama LSM" in denied.stdout and "yama.ptrace_scope" not in denied.stdout, denied.stdout
        # ... the record fails with exit 4 and its hint points to pyprof check
        record = _as_nobody(nobody_copy, ["record", "-p", target.pid, "-d", "1", "-o", out])
        assert record.returncode == EXIT_PERMISSION, e2e.describe(record)
        assert "pyprof check --pid %d" % target.pid in record.stderr, e2e.describe(record)

        # WITH cap_sys_ptrace set on the sampler (setcap), check says it and record works
        subprocess.run(["setcap", "cap_sys_ptrace+ep", sampler], check=True)
        allowed = _as_nobody(nobody_copy, ["check", "--pid", target.pid])
        assert allowed.returncode == 0, e2e.describe(allowed)
        assert "file capabilities: cap_sys_ptrace" in _item(allowed.stdout, "sampler"), allowed.stdout
        assert "ok    ptrace: PID %d (uid 0) can be read" % target.pid in allowed.stdout, allowed.stdout
        record = _as_nobody(nobody_copy, ["record", "-p", target.pid, "-d", "1", "-o", out])
        assert record.returncode == 0, e2e.describe(record)
        assert any("alpha" in e2e.frame_func(f) for stack in e2e.parse_collapsed(open(out).read())
                   for f in stack)
        # ... and --native, which a setcap'd sampler may not get for root's process, says why
        native = _as_nobody(nobody_copy, ["record", "--native", "-p", target.pid, "-d", "1", "-o", out])
        assert native.returncode == 0, e2e.describe(native)
        if "Sampling Python frames only" in native.stderr:
            assert "pyprof check --pid %d" % target.pid in native.stderr, e2e.describe(native)
        # ... the bpf capture needs cap_bpf + cap_perfmon: check names the setcap that adds them
        bpf = _item(allowed.stdout, "bpf capture")
        assert bpf.startswith("warn  bpf capture (--native): unavailable: the kernel refused"), allowed.stdout
        assert "fix: sudo setcap cap_sys_ptrace,cap_perfmon,cap_bpf+ep %s" % sampler in allowed.stdout, allowed.stdout
        subprocess.run(["setcap", "cap_sys_ptrace,cap_perfmon,cap_bpf+ep", sampler], check=True)
        allowed = _as_nobody(nobody_copy, ["check"])
        assert _item(allowed.stdout, "bpf capture").startswith("ok    bpf capture"), allowed.stdout
    finally:
        e2e.stop_process(target)
