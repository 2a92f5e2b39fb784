"""Gunicorn/Flask workers profiled through the master's PID (`--subprocesses`), end to end.

The app is examples/gunicorn_app/app.py under Gunicorn with 2 sync workers on a loopback
port (examples/gunicorn_app/harness.py starts, polls and stops it); its view

    slow (app.py) -> score (app.py, a pure-Python loop)
                  -> compress_payload (app.py) -> zlib.compress -> libz (deflate ...)

is loaded by `ab -c 4` (bounded by time and count) while `pyprof record --pid MASTER
--subprocesses` runs. Three Gunicorns:

* debian: /usr/bin/gunicorn (Debian's gunicorn + python3-flask) on /usr/bin/python3;
* py3.12: gunicorn + Flask from PyPI in a venv of pyenv's 3.12, build/gunicorn-venv-3.12
  (created on first use and kept; delete it to rebuild);
* py3.14.10: gunicorn + Flask in the interpreter cache's venv of Debian's 3.14.10
  (`make interpreters`, manifest id venv-py3.14.10).

A missing gunicorn, Flask or ab is a failure naming the tool (`make deps` installs them);
only an absent interpreter is a skip. What is checked:

1. 8 s at 200 Hz: every stack starts with `process PID (cmdline)`, PIDs of the master's
   family; at least 2 worker processes each show slow -> score and
   slow -> compress_payload; with --native, libz's own functions appear with
   compress_payload as the nearest Python frame above them, in 2 workers;
   --aggregate: the same frames and no process roots;
2. one worker SIGKILLed during the run: the master's replacement (a PID that did not exist
   at the start) appears as a process root with samples of the view;
3. 1 kHz with --subprocesses: ab sees 0 failed and 0 non-2xx requests;
4. --native in its default capture (bpf, as root): at most 0.5 % merge failures, and no
   impossible stack: no libz frame below score() or any Python frame but compress_payload,
   no big-int arithmetic (longobject.c) below compress_payload.
Every process (gunicorn's group, ab, pyprof) is killed at the end, pass or fail.
"""
import collections
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import pytest

import pyprof_e2e as e2e

sys.path.insert(0, str(e2e.REPO / "examples" / "gunicorn_app"))
import harness  # noqa: E402

APP_FILE = str(e2e.REPO / "examples" / "gunicorn_app" / "app.py")
VENV_MINOR = 12
VENV = e2e.REPO / "build" / ("gunicorn-venv-3.%d" % VENV_MINOR)

DURATION = 8                  # seconds of recording
LOAD_SLACK = 6                # ab's own bound: this much longer than the recording
CLIENTS = 4
RATE = 200
MIN_VIEW_SAMPLES = 10         # per worker, samples under slow() to count as "seen"

_PROCESS_RE = re.compile(r"process (?P<pid>[0-9]+) \((?P<cmd>.*)\)")


# --------------------------------------------------------------------------- #
# The two Gunicorns
# --------------------------------------------------------------------------- #

class Target:
    def __init__(self, name, python, gunicorn_cmd, version):
        self.name, self.python, self.gunicorn_cmd, self.version = (
            name, python, gunicorn_cmd, version)

    @property
    def has_qualnames(self):
        return self.version >= (3, 11)


def _debian_target():
    interp = e2e.find_system_python()
    if interp is None:
        pytest.skip("Debian's /usr/bin/python3 is not installed")
    problems = harness.missing_tools(interp.path)
    if problems:
        pytest.fail("Gunicorn test needs: " + "; ".join(problems))
    return Target("debian", interp.path, [harness.DEBIAN_GUNICORN], interp.version)


def _venv_ok(python):
    return os.access(python, os.X_OK) and subprocess.run(
        [python, "-c", "import flask, gunicorn"], capture_output=True).returncode == 0


def _pypi_target():
    interp = e2e.find_pyenv_python(VENV_MINOR)
    if interp is None:
        pytest.skip("pyenv Python 3.%d is not installed" % VENV_MINOR)
    py = str(VENV / "bin" / "python")
    if not _venv_ok(py):
        # gunicorn and Flask from PyPI, into a venv kept under build/ (never the interpreter)
        sys.stderr.write("\ntest_gunicorn: installing gunicorn and flask from PyPI into %s\n"
                         % VENV)
        steps = [[interp.path, "-m", "venv", "--clear", str(VENV)],
                 [py, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                  "gunicorn", "flask"]]
        for cmd in steps:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                pytest.fail("could not install gunicorn/flask from PyPI for %s (pip): %s\n%s"
                            % (interp.path, " ".join(cmd), (r.stderr or r.stdout)[-2000:]))
        if not _venv_ok(py):
            pytest.fail("gunicorn/flask still not importable in %s after pip install" % VENV)
    if harness.missing_tools(py, gunicorn_cmd=[]):
        pytest.fail("Gunicorn test needs: " + "; ".join(harness.missing_tools(py, [])))
    return Target("py3.%d" % VENV_MINOR, py, [str(VENV / "bin" / "gunicorn")], interp.version)


CACHED_VENV = "venv-py3.14.10"  # make interpreters: gunicorn + Flask over Debian's 3.14


def _cached_venv_target():
    """Gunicorn in the interpreter cache's venv of Debian's 3.14 (manifest id venv-py3.14.10)."""
    py = None
    try:
        for line in (e2e.interp_cache_dir() / "interpreters.txt").read_text().splitlines():
            parts = line.split(None, 1)
            if len(parts) == 2 and parts[0] == CACHED_VENV:
                py = parts[1].strip()
    except OSError:
        pass
    if not py or not os.access(py, os.X_OK):
        pytest.skip("interpreter %s is not installed" % CACHED_VENV)
    if not _venv_ok(py):
        pytest.fail("gunicorn/flask are not importable in %s" % py)
    gunicorn = os.path.join(os.path.dirname(py), "gunicorn")
    if harness.missing_tools(py, gunicorn_cmd=[]):
        pytest.fail("Gunicorn test needs: " + "; ".join(harness.missing_tools(py, [])))
    version = subprocess.run([py, "-c", "import sys; print(*sys.version_info[:3])"],
                             capture_output=True, text=True, timeout=30).stdout.split()
    return Target("py3.14", py, [gunicorn], tuple(int(x) for x in version))


@pytest.fixture(params=["debian", "py3.%d" % VENV_MINOR, "py3.14.10"])
def target(request):
    if request.param == "debian":
        return _debian_target()
    if request.param == "py3.14.10":
        return _cached_venv_target()
    return _pypi_target()


# --------------------------------------------------------------------------- #
# Running one profile under load
# --------------------------------------------------------------------------- #

class Run:
    """One recording: the profile, ab's numbers and the PIDs seen along the way."""

    def __init__(self, profile, ab, master, workers_at_start, events):
        self.profile, self.ab, self.master = profile, ab, master
        self.workers_at_start = workers_at_start
        self.events = events           # what the during() hook returned

    def describe(self):
        ab = {k: v for k, v in self.ab.items() if k not in ("out", "err")}
        return ("master %d, workers at start %s, ab %s %s\n%s"
                % (self.master, self.workers_at_start, ab, self.ab["err"].strip()[-300:],
                   self.profile.top(limit=15, width=600)))


def start_server(target):
    server = harness.Server(target.gunicorn_cmd, popen=e2e.spawn)
    server.start()
    try:
        server.wait_ready(timeout=45)
        # each worker has imported the app once the load has run a little
        for _ in range(6):
            status, _ = harness.http_get(server.port, "/slow", timeout=10)
            assert status == 200, "GET /slow answered %d" % status
    except BaseException:
        server.stop()
        raise
    return server


def profile_under_load(target, extra=(), rate=RATE, duration=DURATION, during=None):
    """Gunicorn + ab -c 4 + `pyprof record --pid MASTER EXTRA` for `duration` seconds.

    during(server) runs while pyprof records; its return value is kept in Run.events."""
    server = start_server(target)
    try:
        workers0 = server.workers()
        load = harness.start_ab(server.url("/slow"), concurrency=CLIENTS,
                                seconds=duration + LOAD_SLACK, popen=e2e.spawn)
        time.sleep(0.5)                                  # the load is on before we attach
        with tempfile.TemporaryDirectory(prefix="pyprof-e2e-gunicorn-") as tmp:
            out = os.path.join(tmp, "profile.collapsed")
            args = ["record", "-o", out, "--format", "collapsed", "--rate", str(rate),
                    "--duration", str(duration), "--pid", str(server.pid), *extra]
            proc = e2e.start_pyprof(args)
            events = during(server) if during else None
            result = e2e.finish_pyprof(proc, timeout=duration + 60)
            profile = e2e.read_profile(out, result, target_pid=server.pid)
        ab = harness.finish_ab(load, timeout=60, interrupt=True)   # the load ends with pyprof
        assert server.proc.poll() is None, (
            "gunicorn's master exited (code %s) during the run\n%s\n%s"
            % (server.proc.returncode, server.log_text(), e2e.describe(result)))
        run = Run(profile, ab, server.pid, workers0, events)
        run.result = result
        return run
    finally:
        server.stop()


# --------------------------------------------------------------------------- #
# Reading process roots and the view's frames
# --------------------------------------------------------------------------- #

def process_root(frame):
    """(pid, cmdline) of a `process PID (cmdline)` root frame, else None."""
    m = _PROCESS_RE.fullmatch(frame)
    return (int(m.group("pid")), m.group("cmd")) if m else None


def by_process(run):
    """{pid: {stack without the process root: count}}; asserts every stack has the root."""
    procs = collections.defaultdict(dict)
    for stack, n in run.profile.items():
        root = process_root(stack[0])
        assert root, ("stack without a `process PID (cmdline)` root: %r\n%s"
                      % (";".join(stack)[:500], run.describe()))
        pid, cmd = root
        assert "gunicorn" in cmd, "process root %r does not name gunicorn\n%s" % (
            stack[0], run.describe())
        procs[pid][stack[1:]] = n
    return procs


def _app_frame(frame, func):
    parsed = e2e.py_frame(frame)
    return bool(parsed) and parsed[0] == func and parsed[1].endswith("app.py")


def view_counts(stacks):
    """Samples in slow(), slow() -> score(), slow() -> compress_payload()."""
    counts = collections.Counter()
    for stack, n in stacks.items():
        slow_at = [i for i, f in enumerate(stack) if _app_frame(f, "slow")]
        if not slow_at:
            continue
        counts["slow"] += n
        below = stack[slow_at[0] + 1:]
        if any(_app_frame(f, "score") for f in below):
            counts["score"] += n
        if any(_app_frame(f, "compress_payload") for f in below):
            counts["compress_payload"] += n
    return counts


def libz_counts(stacks):
    """Samples with a libz frame whose nearest Python frame above it is compress_payload,
    and the libz symbols seen there (named ones, [unknown] left out)."""
    n_ok, symbols = 0, collections.Counter()
    for stack, n in stacks.items():
        first = next((i for i, f in enumerate(stack) if "(libz.so" in f), None)
        if first is None:
            continue
        above = e2e.leaf_py_frame(stack[:first])
        if above and above[0] == "compress_payload" and above[1].endswith("app.py"):
            n_ok += n
            for f in stack[first:]:
                if "(libz.so" in f and not f.startswith("["):
                    symbols[e2e.frame_func(f)] += n
    return n_ok, symbols


def workers_with_view(run, procs):
    """PIDs (not the master) whose samples show slow -> score and slow -> compress_payload."""
    good = []
    for pid, stacks in procs.items():
        c = view_counts(stacks)
        if (pid != run.master and c["slow"] >= MIN_VIEW_SAMPLES and c["score"] > 0
                and c["compress_payload"] > 0):
            good.append(pid)
    return sorted(good)


def summary(procs):
    lines = []
    for pid, stacks in sorted(procs.items()):
        c = view_counts(stacks)
        lines.append("  process %d: %d samples, view %s"
                     % (pid, sum(stacks.values()), dict(c)))
    return "\n".join(lines)


# --------------------------------------------------------------------------- #
# Tests
# --------------------------------------------------------------------------- #

def test_workers_by_master_pid(target):
    """Profiling the master shows the view and both callees under >= 2 workers."""
    run = profile_under_load(target, ["--subprocesses"])
    procs = by_process(run)
    good = workers_with_view(run, procs)
    assert len(good) >= 2, ("wanted slow -> score and slow -> compress_payload in at least 2 "
                            "worker processes, got %s\n%s\n%s"
                            % (good, summary(procs), run.describe()))
    assert set(good) <= set(run.workers_at_start), (
        "processes %s with the view were not the workers %s" % (good, run.workers_at_start))


def test_workers_native_zlib(target):
    """--native: libz's C functions sit under compress_payload, in >= 2 workers."""
    run = profile_under_load(target, ["--subprocesses", "--native"])
    procs = by_process(run)
    good = workers_with_view(run, procs)
    assert len(good) >= 2, ("--native: wanted the view in at least 2 workers, got %s\n%s\n%s"
                            % (good, summary(procs), run.describe()))
    with_libz = {}
    all_symbols = collections.Counter()
    for pid in good:
        n, symbols = libz_counts(procs[pid])
        all_symbols.update(symbols)
        if n >= MIN_VIEW_SAMPLES:
            with_libz[pid] = n
    assert len(with_libz) >= 2, (
        "--native: wanted libz.so frames under compress_payload (app.py) in at least 2 "
        "workers, got %s\n%s\n%s" % (with_libz, summary(procs), run.describe()))
    assert all_symbols, ("libz frames under compress_payload are all [unknown]\n%s"
                         % run.describe())
    # and nothing under the view keeps the raw eval loop in place of the Python frames
    stray = [s for s in run.profile if any(_app_frame(f, "slow") for f in s)
             and any(f.startswith("_PyEval_EvalFrameDefault ") for f in s)]
    assert not stray, "unspliced eval-loop frames in the view: %r" % (";".join(stray[0])[:600],)


def test_aggregate_drops_process_roots(target):
    """--aggregate: one profile without process roots, the view still there."""
    run = profile_under_load(target, ["--subprocesses", "--aggregate"], duration=4)
    roots = [s[0] for s in run.profile if process_root(s[0])]
    assert not roots, "--aggregate left process roots: %s\n%s" % (roots[:3], run.describe())
    c = view_counts(run.profile)
    assert c["score"] >= MIN_VIEW_SAMPLES and c["compress_payload"] >= MIN_VIEW_SAMPLES, (
        "--aggregate: view %s\n%s" % (dict(c), run.describe()))


def test_killed_worker_is_replaced_and_followed(target):
    """SIGKILL one worker mid-run: the master's replacement shows up in the profile."""
    def kill_one(server):
        time.sleep(2.5)
        before = server.workers()
        victim = before[0]
        os.kill(victim, signal.SIGKILL)
        new = server.wait_workers(count=harness.WORKERS, exclude=[victim], timeout=10)
        return {"victim": victim, "before": before, "after": new,
                "replacements": sorted(set(new) - set(before))}

    run = profile_under_load(target, ["--subprocesses"], during=kill_one)
    ev = run.events
    assert ev["replacements"], "gunicorn did not replace worker %d: %s" % (ev["victim"], ev)
    procs = by_process(run)
    known = {run.master, *run.workers_at_start}
    new_roots = sorted(set(procs) - known)
    assert new_roots, ("no process root with a PID that did not exist at the start "
                       "(start: master %d, workers %s; killed %d, replacement %s)\n%s\n%s"
                       % (run.master, run.workers_at_start, ev["victim"], ev["replacements"],
                          summary(procs), run.describe()))
    assert set(new_roots) <= set(ev["replacements"]), (
        "new process roots %s are not the replacement workers %s" % (new_roots,
                                                                     ev["replacements"]))
    repl = ev["replacements"][0]
    c = view_counts(procs.get(repl, {}))
    assert c["slow"] >= MIN_VIEW_SAMPLES and c["score"] > 0 and c["compress_payload"] > 0, (
        "replacement worker %d: view %s\n%s\n%s" % (repl, dict(c), summary(procs),
                                                    run.describe()))


def test_no_failed_requests_at_1khz(target):
    """1 kHz with --subprocesses: the load generator sees no failed request."""
    run = profile_under_load(target, ["--subprocesses"], rate=1000)
    ab = run.ab
    ab_ok = ab["rc"] == 0 or (ab["interrupted"] and ab["rc"] == 1)   # 1: ended by SIGINT
    assert ab_ok and ab["complete"], "ab failed (rc %s)\n%s\n%s" % (
        ab["rc"], ab["err"][-1000:], ab["out"][-2000:])
    assert ab["failed"] == 0 and ab["non2xx"] == 0, (
        "ab saw %s failed and %s non-2xx of %s requests under pyprof at 1 kHz\n%s"
        % (ab["failed"], ab["non2xx"], ab["complete"], ab["out"][-2000:]))
    assert ab["complete"] >= 100, "only %d requests completed\n%s" % (ab["complete"],
                                                                     run.describe())
    procs = by_process(run)
    good = workers_with_view(run, procs)
    assert len(good) >= 2, "1 kHz: view in workers %s\n%s\n%s" % (good, summary(procs),
                                                                 run.describe())


# The C functions of CPython's int arithmetic: score() runs them, compress_payload never does.
# (the arithmetic only: zlib.compress parses its level with _PyLong_AsInt, legitimately)
_LONG_FUNCS = re.compile(r"^(k_mul|k_lopsided_mul|x_add|x_sub|x_mul|x_divrem|l_divmod|l_mod|fast_mod|"
                         r"long_(add|sub|mul|mod|div|divmod|pow|xor|and|or|lshift|rshift|neg|invert)|"
                         r"_PyLong_(Add|Subtract|Multiply|Lshift|Rshift))$")
_MERGE_RE = re.compile(r"native \((\w+), \w+\): ([0-9]+) merge failures \(([0-9.]+)%\)")


def impossible_stacks(stacks):
    """Stacks the app never takes: libz below a Python frame other than compress_payload,
    int arithmetic below compress_payload.  {reason: [(stack, count)]}; marked merge
    failures (<merge mismatch>) are left out: they say they are not a splice."""
    bad = collections.defaultdict(list)
    for stack, n in stacks.items():
        if any(f.startswith("<merge mismatch>") for f in stack):
            continue
        for i, f in enumerate(stack):
            if e2e.py_frame(f):
                continue
            above = e2e.leaf_py_frame(stack[:i])
            if not above or not above[1].endswith("app.py"):
                continue
            if "(libz.so" in f and above[0] != "compress_payload":
                bad["libz under %s" % above[0]].append((stack, n))
                break
            if above[0] == "compress_payload" and _LONG_FUNCS.match(e2e.frame_func(f)):
                bad["int arithmetic under compress_payload"].append((stack, n))
                break
    return bad


def test_native_default_capture_is_exact(target):
    """--subprocesses --native under load: the default capture (bpf as root) joins the
    Python and native halves of one instant: <= 0.5 % merge failures, no impossible stack."""
    run = profile_under_load(target, ["--subprocesses", "--native"])
    m = _MERGE_RE.search(run.result.stderr)
    assert m, "no native summary in:\n" + run.result.stderr
    mode, failures, share = m.group(1), int(m.group(2)), float(m.group(3))
    print("\n%s: native (%s): %d merge failures (%.2f %%)" % (target.name if hasattr(target, "name")
                                                              else target, mode, failures, share))
    assert mode == "bpf", "as root the default capture should be bpf:\n" + run.result.stderr
    assert share <= 0.5, "%.2f %% merge failures (> 0.5 %%)\n%s" % (share, run.describe())
    procs = by_process(run)
    good = workers_with_view(run, procs)
    assert len(good) >= 2, "view in workers %s\n%s\n%s" % (good, summary(procs), run.describe())
    bad = {}
    for pid, stacks in procs.items():
        for why, found in impossible_stacks(stacks).items():
            bad.setdefault(why, []).extend(found)
    assert not bad, "impossible stacks:\n" + "\n".join(
        "%s: %d samples, e.g. %s" % (why, sum(n for _, n in v), ";".join(v[0][0])[-700:])
        for why, v in bad.items())
