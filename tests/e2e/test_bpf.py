"""The bpf capture mode (docs/native.md): Python and native stacks of one instant.

1. Exactness under load, per interpreter (pyenv 3.8-3.13, Debian's python3, the cached
   3.14/3.15 and 3.13t): tests/native/shortcalls.py (caller -> C entry -> Python callback
   -> C leaf, 0.03 ms leaf calls, so the Python stack changes every few tens of
   microseconds) attached, with two CPU-bound processes on the two cores.  At 200 Hz and
   1 kHz, >= 99.5 % of the samples in the C leaf show the true order, and at most 0.5 %
   of all samples are merge failures.  The perf and ptrace modes are recorded on the same
   target right after, and their figures printed beside (not asserted: perf mode is the
   one this mode exists to beat).
2. The fall-backs: PYPROF_DENY=bpf -> perf mode with one line saying why; `--capture bpf`
   refused -> an error, not a fall-back; PYPROF_DENY=perf -> no bpf line (the perf line
   says it); a sampler that cannot load libbpf.so.1 (hidden in a private mount namespace)
   still samples, in perf mode, and says so.
3. A sampler built without clang (HAVE_BPF=0) has no bpf mode and says so.
"""
import os
import subprocess
import sys
import tempfile
import time

import pytest

import pyprof_e2e as e2e
from pyprof_e2e import REPO, SAMPLER, run_sampler

sys.path.insert(0, str(REPO / "tests" / "native"))
sys.path.insert(0, str(REPO / "tests" / "bench"))
from exact import LEAF_MS, SHORTCALLS, Hogs, leaf_figures  # noqa: E402  (tests/bench/exact.py: make bench's section 7)
from exact import record_mode as _record_mode  # noqa: E402
from pyprof import raw as rawfmt  # noqa: E402
from test_native import cbext_dir as ext_dir  # noqa: E402  (built once per session)


def record_mode(pid, capture, rate, seconds, env=None):
    """(raw profile, stderr) of the sampler on pid; a failed run fails the test."""
    prof, err = _record_mode(pid, capture, rate, seconds, env=env, sampler=str(SAMPLER))
    assert prof is not None, err
    return prof, err

EXACT_MIN = 99.5        # % of the leaf samples in the true order
MISMATCH_MAX = 0.5      # % of all samples that are merge failures
BPF_SECONDS = {200: 6, 1000: 3}   # >= ~600 leaf samples on a loaded machine
OTHER_SECONDS = 2


@pytest.mark.parametrize("rate", [200, 1000])
def test_bpf_exact_under_load(interp, rate):
    # GIVEN the short-call workload attached, and the two cores busy with other processes
    target = e2e.spawn([interp.path, SHORTCALLS, ext_dir(interp), LEAF_MS, "600"],
                       stdout=subprocess.PIPE)
    try:
        e2e.wait_for_ready(target)
        with Hogs():
            time.sleep(0.3)
            # WHEN bpf, then perf, then ptrace capture record it
            rows = {}
            for capture, seconds in (("bpf", BPF_SECONDS[rate]), ("perf", OTHER_SECONDS),
                                     ("ptrace", OTHER_SECONDS)):
                prof, err = record_mode(target.pid, capture, rate, seconds)
                rows[capture] = (prof, err)
    finally:
        e2e.kill_group(target)
        target.wait()

    print("\n%s at %d Hz, two busy loops beside it:" % (interp.id, rate))
    print("  %-7s %7s %11s %8s %7s %12s" % ("capture", "leaf", "true order", "marked", "wrong",
                                            "mismatch/all"))
    for capture, (prof, _) in rows.items():
        n, ok, det, wrong, mf = leaf_figures(prof)
        print("  %-7s %7d %10.2f%% %7.2f%% %6.2f%% %11.2f%%" % (capture, n, ok, det, wrong, mf))

    # THEN the bpf capture took its samples with its program, every one of one instant
    prof, err = rows["bpf"]
    assert prof.meta.get("native_mode") == "bpf", err
    assert prof.stat("bpf_runs") > 0 and prof.stat("bpf_run_ns_avg") > 0, prof.stats
    n, ok, det, wrong, mf = leaf_figures(prof)
    assert n >= 150, "too few samples in the C leaf (%d) for the check\n%s" % (n, err)
    assert wrong == 0, "%.2f %% of the leaf samples are wrong splices\n%s" % (wrong, err)
    assert ok >= EXACT_MIN, "%.2f %% in the true order (< %.1f %%)\n%s" % (ok, EXACT_MIN, err)
    assert mf <= MISMATCH_MAX, "%.2f %% merge failures (> %.1f %%)\n%s" % (mf, MISMATCH_MAX, err)


# --------------------------------------------------------------------------- #
# 2. Fall-backs
# --------------------------------------------------------------------------- #

@pytest.fixture
def fb_interp():
    interp = e2e.one_of([i for _, i in e2e.discover_interpreters() if i is not None])
    if interp is None:
        pytest.fail("no interpreter")
    return interp


def _target(interp):
    t = e2e.spawn([interp.path, SHORTCALLS, ext_dir(interp), "1", "600"], stdout=subprocess.PIPE)
    e2e.wait_for_ready(t)
    return t


def _bpf_lines(stderr):
    return [l for l in stderr.splitlines() if "(bpf)" in l or "--capture bpf" in l]


def test_denied_bpf_falls_back_to_perf_once(fb_interp):
    t = _target(fb_interp)
    try:
        prof, err = record_mode(t.pid, "auto", 200, 1, env={"PYPROF_DENY": "bpf"})
        assert prof.meta.get("native_mode") == "perf", err
        lines = _bpf_lines(err)
        assert len(lines) == 1 and "perf events" in lines[0] and "pyprof check" in lines[0], err
        # a perf refusal is said by the perf line alone (bpf runs on perf events too)
        prof, err = record_mode(t.pid, "auto", 200, 1, env={"PYPROF_DENY": "perf"})
        assert prof.meta.get("native_mode") == "blocking", err
        assert not _bpf_lines(err), err
        # --capture bpf is that mode or an error
        r = run_sampler(["record", "--pid", str(t.pid), "--native", "--capture", "bpf", "-d", "1",
                         "--collapsed", os.devnull], timeout=30)
        assert r.returncode == 0, e2e.describe(r)
        env = e2e.child_env({"PYPROF_DENY": "bpf"})
        r = subprocess.run([str(SAMPLER), "record", "--pid", str(t.pid), "--native", "--capture",
                            "bpf", "-d", "1", "--collapsed", os.devnull], capture_output=True,
                           text=True, timeout=30, env=env)
        assert r.returncode == 4, e2e.describe(r)
        assert "--capture bpf is not possible here" in r.stderr, r.stderr
    finally:
        e2e.kill_group(t)
        t.wait()


def _libbpf_path():
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "libbpf.so.1 " in line and "=>" in line:
            return os.path.realpath(line.split("=>", 1)[1].strip())
    return None


def test_sampler_runs_without_libbpf(fb_interp):
    lib = _libbpf_path()
    assert lib, "libbpf.so.1 is not installed (make deps installs libbpf1)"
    t = _target(fb_interp)
    try:
        with tempfile.TemporaryDirectory(prefix="pyprof-e2e-bpf-") as tmp:
            out = os.path.join(tmp, "p.raw")
            empty = os.path.join(tmp, "empty")
            open(empty, "w").close()
            # the library hidden under an empty file, in a mount namespace of the sampler's own
            script = ('mount --bind "$1" "$2" && shift 2 && exec "$@"')
            cmd = ["unshare", "-m", "sh", "-c", script, "sh", empty, lib, str(SAMPLER), "record",
                   "--pid", str(t.pid), "--native", "-F", "200", "-d", "1", "--raw", out]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                               env=e2e.child_env())
            assert r.returncode == 0, e2e.describe(r)
            prof = rawfmt.read_raw(out)
            assert prof.meta.get("native_mode") == "perf", r.stderr
            lines = _bpf_lines(r.stderr)
            assert len(lines) == 1 and "libbpf.so.1" in lines[0], r.stderr
            assert prof.stat("native_samples") > 0
    finally:
        e2e.kill_group(t)
        t.wait()


# --------------------------------------------------------------------------- #
# 3. A sampler built without clang
# --------------------------------------------------------------------------- #

def test_sampler_built_without_bpf(fb_interp):
    with tempfile.TemporaryDirectory(prefix="pyprof-e2e-nobpf-") as tmp:
        build = os.path.join(tmp, "build")
        r = subprocess.run(["make", "-s", "-j2", "HAVE_BPF=0", "BUILD=" + build, "sampler"],
                           cwd=str(REPO), capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, e2e.describe(r)
        sampler = os.path.join(build, "pyprof-sampler")
        assert os.path.isfile(os.path.join(build, "obj", "bpf.o"))
        assert not os.path.exists(os.path.join(build, "obj", "bpf_blob.o"))
        t = _target(fb_interp)
        try:
            out = os.path.join(tmp, "p.raw")
            r = subprocess.run([sampler, "record", "--pid", str(t.pid), "--native", "-d", "1",
                                "--raw", out], capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, e2e.describe(r)
            assert rawfmt.read_raw(out).meta.get("native_mode") == "perf", r.stderr
            lines = _bpf_lines(r.stderr)
            assert len(lines) == 1 and "built without" in lines[0], r.stderr
            r = subprocess.run([sampler, "record", "--pid", str(t.pid), "--native", "--capture",
                                "bpf", "-d", "1", "--raw", out], capture_output=True, text=True,
                               timeout=60)
            assert r.returncode == 1 and "built without" in r.stderr, e2e.describe(r)
        finally:
            e2e.kill_group(t)
            t.wait()
