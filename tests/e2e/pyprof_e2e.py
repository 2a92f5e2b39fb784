"""Helpers for pyprof's end-to-end tests (imported by conftest.py and the tests).

Everything here is plain Python (no fixtures): interpreter discovery, running the
CLI, starting workloads, parsing collapsed output. The fixtures that wrap these
live in conftest.py. (Helpers are kept out of conftest.py itself because
importing from a conftest module is fragile in pytest.)

Process hygiene: every child we start gets PYPROF_E2E_TAG=<per-test tag> in its
environment and its own session. At the end of each test, reap_children() kills
what is still alive: first the Popen objects we hold, then any process whose
environment carries the tag (a workload that pyprof launched and left behind).
"""
from __future__ import annotations

import dataclasses
import functools
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[2]
WORKLOADS = REPO / "tests" / "workloads"
SAMPLER = str(REPO / "build" / "pyprof-sampler")

SUPPORTED_MINORS = (8, 9, 10, 11, 12, 13)
SYSTEM_PYTHON = Path("/usr/bin/python3")
# Debian's builds provisioned into the interpreter cache (make interpreters):
# two patch releases of each minor, so a per-patch constant shows up.
# py3.13t is a free-threaded (--disable-gil) 3.13 built from Debian's source package.
CACHED_IDS = ("py3.14.10", "py3.14.8", "py3.15.2", "py3.15.0", "py3.13t")

Stack = Tuple[str, ...]


# --------------------------------------------------------------------------- #
# Interpreters
# --------------------------------------------------------------------------- #

@dataclasses.dataclass(frozen=True)
class Interpreter:
    id: str                      # pytest id: "py3.8", "system3.11"
    path: str                    # absolute path of the executable
    version: Tuple[int, int, int]
    free_threaded: bool = False  # a --disable-gil build (py3.13t): no GIL

    @property
    def has_qualnames(self) -> bool:
        """Collapsed frames carry co_qualname on 3.11+, co_name before."""
        return self.version >= (3, 11)

    def __str__(self) -> str:
        return "%s (%s)" % (self.id, self.path)


@functools.lru_cache(maxsize=None)
def pyenv_root() -> Optional[Path]:
    candidates = []
    if os.environ.get("PYENV_ROOT"):
        candidates.append(Path(os.environ["PYENV_ROOT"]))
    try:
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    except (OSError, subprocess.SubprocessError):
        pass
    candidates.append(Path.home() / ".pyenv")
    for root in candidates:
        if (root / "versions").is_dir():
            return root
    return None


def find_pyenv_python(minor: int) -> Optional[Interpreter]:
    """The highest installed patch release of pyenv's 3.<minor>, or None."""
    root = pyenv_root()
    if root is None:
        return None
    best = None
    for d in (root / "versions").glob("3.%d.*" % minor):
        m = re.fullmatch(r"3\.%d\.(\d+)" % minor, d.name)
        exe = d / "bin" / ("python3.%d" % minor)
        if m and exe.is_file() and os.access(str(exe), os.X_OK):
            version = (3, minor, int(m.group(1)))
            if best is None or version > best.version:
                best = Interpreter("py3.%d" % minor, str(exe), version)
    return best


def find_system_python() -> Optional[Interpreter]:
    if not (SYSTEM_PYTHON.is_file() and os.access(str(SYSTEM_PYTHON), os.X_OK)):
        return None
    out = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import sys; print('%d %d %d' % sys.version_info[:3])"],
        capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        return None
    version = tuple(int(x) for x in out.stdout.split())
    return Interpreter("system%d.%d" % version[:2], str(SYSTEM_PYTHON), version)


def interp_cache_dir() -> Path:
    """Where `make interpreters` puts Debian's 3.14/3.15 (PYPROF_INTERP_CACHE overrides)."""
    env = os.environ.get("PYPROF_INTERP_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "pyprof" / "interpreters"


def find_cached_interpreters() -> Dict[str, Interpreter]:
    """{id: Interpreter} from the cache's manifest (`ID PATH` lines, ids like py3.14.10)."""
    found: Dict[str, Interpreter] = {}
    try:
        lines = (interp_cache_dir() / "interpreters.txt").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        parts = line.split(None, 1)
        m = re.fullmatch(r"py(3)\.(\d+)(?:\.(\d+)|(t))", parts[0]) if len(parts) == 2 else None
        path = parts[1].strip() if m else ""
        if m and os.path.isfile(path) and os.access(path, os.X_OK):
            if m.group(4):  # free-threaded: the id names no patch release
                out = subprocess.run([path, "-c", "import sys; print(sys.version_info[2])"],
                                     capture_output=True, text=True, timeout=30)
                if out.returncode != 0:
                    continue
                version = (3, int(m.group(2)), int(out.stdout))
            else:
                version = (3, int(m.group(2)), int(m.group(3)))
            found[parts[0]] = Interpreter(parts[0], path, version, bool(m.group(4)))
    return found


def discover_interpreters() -> List[Tuple[str, Optional[Interpreter]]]:
    """[(pytest id, Interpreter or None when absent)] for every interpreter we test."""
    found: List[Tuple[str, Optional[Interpreter]]] = []
    for minor in SUPPORTED_MINORS:
        found.append(("py3.%d" % minor, find_pyenv_python(minor)))
    cached = find_cached_interpreters()
    for cid in CACHED_IDS:
        found.append((cid, cached.get(cid)))
    system = find_system_python()
    found.append((system.id if system else "system", system))
    return found


def one_of(present: Sequence[Interpreter]) -> Optional[Interpreter]:
    """The interpreter for a test that is not per version: Debian's python3 (the
    static, non-PIE case) if it is among *present*, else the last (newest); None if
    *present* is empty."""
    system = [i for i in present if i.id.startswith("system")]
    return system[0] if system else (present[-1] if present else None)


# --------------------------------------------------------------------------- #
# Child processes and cleanup
# --------------------------------------------------------------------------- #

_TAG_VAR = "PYPROF_E2E_TAG"
_tag = "pyprof-e2e-%s" % uuid.uuid4().hex
_children: List[subprocess.Popen] = []


def begin_test() -> None:
    """Start a new cleanup scope: children started from now on get a fresh tag."""
    global _tag
    _tag = "pyprof-e2e-%s" % uuid.uuid4().hex


def child_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env[_TAG_VAR] = _tag
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # keep the checkout free of __pycache__
    if extra:
        env.update(extra)
    return env


def spawn(cmd: Sequence[str], **kwargs) -> subprocess.Popen:
    """Popen in a new session with the cleanup tag; reaped at the end of the test."""
    kwargs.setdefault("env", child_env())
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    proc = subprocess.Popen([str(c) for c in cmd], start_new_session=True, **kwargs)
    _children.append(proc)
    return proc


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal the process group led by proc (spawn() makes each child a leader).

    Only while the leader is unreaped, so the group id cannot have been reused."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass


def stop_process(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; always reaps and closes pipes."""
    if proc.poll() is None:
        kill_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            kill_group(proc, signal.SIGKILL)
            proc.wait(timeout=30)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe:
            pipe.close()


def tagged_pids(var: str, tag: str, exe_suffix: Optional[str] = None) -> List[int]:
    """PIDs (not this one) whose environment holds VAR=TAG, as pgrep would find them
    (and whose executable ends with *exe_suffix*, if given). Also used by killsafety.py."""
    needle = ("%s=%s" % (var, tag)).encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/environ" % entry, "rb") as f:
                if needle not in f.read().split(b"\0"):
                    continue
            if exe_suffix and not os.readlink("/proc/%s/exe" % entry).endswith(exe_suffix):
                continue
        except OSError:
            continue
        pids.append(int(entry))
    return pids


def reap_children() -> None:
    """Kill and reap every child started in this test scope, and their descendants."""
    while _children:
        proc = _children.pop()
        kill_group(proc, signal.SIGKILL)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe:
                pipe.close()
    for pid in tagged_pids(_TAG_VAR, _tag):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


# --------------------------------------------------------------------------- #
# Running pyprof
# --------------------------------------------------------------------------- #

def pyprof_cmd(args: Sequence[str], python: str = sys.executable,
               prefix: Sequence[str] = ()) -> List[str]:
    return [*prefix, python, "-m", "pyprof", *[str(a) for a in args]]


def start_pyprof(args: Sequence[str], python: str = sys.executable,
                 prefix: Sequence[str] = (), env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
    """Start `python -m pyprof ARGS` from the repository root, output captured
    (*env*: variables added to the test's environment)."""
    return spawn(pyprof_cmd(args, python, prefix), cwd=str(REPO), env=child_env(env),
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                 encoding="utf-8", errors="replace")


def finish_pyprof(proc: subprocess.Popen, timeout: float) -> subprocess.CompletedProcess:
    """Wait for a started pyprof; on timeout kill its group and fail the test."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc, signal.SIGKILL)
        out, err = proc.communicate()
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        raise AssertionError("pyprof did not finish within %.0f s\n%s"
                             % (timeout, describe(result)))
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run_pyprof(args: Sequence[str], timeout: float = 60, python: str = sys.executable,
               prefix: Sequence[str] = ()) -> subprocess.CompletedProcess:
    """Run `python -m pyprof ARGS` to completion (cwd = repository root)."""
    proc = start_pyprof(args, python, prefix)
    try:
        return finish_pyprof(proc, timeout)
    finally:
        kill_group(proc, signal.SIGKILL)   # no-op when it exited; never leave it behind


def run_sampler(args: Sequence[str], timeout: float = 60) -> subprocess.CompletedProcess:
    """Run build/pyprof-sampler ARGS to completion (tagged, reaped), output captured."""
    proc = spawn([SAMPLER, *args], cwd=str(REPO), stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE, encoding="utf-8", errors="replace")
    return finish_pyprof(proc, timeout)


def describe(result: subprocess.CompletedProcess, tail: int = 3000) -> str:
    """Command, exit code and output of a run, for assertion messages."""
    cmd = " ".join(str(a) for a in result.args)
    return ("command: %s\nexit code: %s\n--- stderr ---\n%s\n--- stdout ---\n%s"
            % (cmd, result.returncode, (result.stderr or "")[-tail:],
               (result.stdout or "")[-tail:]))


# --------------------------------------------------------------------------- #
# Workloads
# --------------------------------------------------------------------------- #

def workload(name: str) -> str:
    """Absolute path of tests/workloads/NAME."""
    path = WORKLOADS / name
    assert path.is_file(), "missing workload %s" % path
    return str(path)


def wait_for_ready(proc: subprocess.Popen, timeout: float = 30) -> str:
    """Read the workload's stdout until a line starting with "ready"; return it."""
    fd = proc.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    while True:
        for line in buf.split(b"\n")[:-1]:
            if line.startswith(b"ready"):
                return line.decode("utf-8", "replace").strip()
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("workload %s printed no 'ready' line within %.0f s"
                                 % (proc.args, timeout))
        readable, _, _ = select.select([fd], [], [], min(left, 0.5))
        if readable:
            chunk = os.read(fd, 4096)
            if not chunk:   # EOF: the workload exited
                proc.wait(timeout=10)
                err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
                raise AssertionError("workload %s exited (code %s) before 'ready'\n%s"
                                     % (proc.args, proc.returncode, err[-3000:]))
            buf += chunk


def start_workload(python: str, workload_args: Sequence[str],
                   timeout: float = 30) -> Tuple[subprocess.Popen, str]:
    """Start `python WORKLOAD ARGS...`, wait for its "ready" line: (process, ready line)."""
    proc = spawn([python, *workload_args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        return proc, wait_for_ready(proc, timeout)
    except BaseException:
        stop_process(proc)
        raise


# --------------------------------------------------------------------------- #
# Collapsed format
# --------------------------------------------------------------------------- #

_COUNT_RE = re.compile(r"[1-9][0-9]*")
_PY_FRAME_RE = re.compile(r"(?P<func>.+?) \((?P<file>.+):(?P<line>[0-9]+)\)")
_THREAD_RE = re.compile(r"thread (?P<tid>[0-9]+) \((?P<name>.*)\)")


def parse_collapsed(text: str) -> Dict[Stack, int]:
    """Parse collapsed output into {stack tuple (root first): count}.

    Asserts the format of docs/format.md: every line is `frame;...;frame COUNT`
    (split on the LAST space), no blank, comment or header lines, counts are
    positive integers, no empty frames and each stack appears once."""
    counts: Dict[Stack, int] = {}
    if text.endswith("\n"):
        text = text[:-1]
    if not text:
        return counts
    for lineno, line in enumerate(text.split("\n"), 1):
        where = "collapsed line %d: %r" % (lineno, line[:300])
        assert line.strip(), "blank line in collapsed output (%s)" % where
        assert not line.startswith("#"), "comment line in collapsed output (%s)" % where
        stack_text, sep, count = line.rpartition(" ")
        assert sep and stack_text, "no 'STACK COUNT' form (%s)" % where
        assert _COUNT_RE.fullmatch(count), "count is not a positive integer (%s)" % where
        stack = tuple(stack_text.split(";"))
        assert all(stack), "empty frame (%s)" % where
        assert "\t" not in stack_text and "\r" not in stack_text, "tab/CR in frames (%s)" % where
        assert stack not in counts, "stack appears twice (%s)" % where
        counts[stack] = int(count)
    return counts


def frame_func(frame: str) -> str:
    """Function part of a frame: `qualname (file.py:12)` -> `qualname`."""
    return frame.split(" (", 1)[0]


def py_frame(frame: str) -> Optional[Tuple[str, str, int]]:
    """(func, file, line) for a Python frame `func (file:LINE)`, else None."""
    if _THREAD_RE.fullmatch(frame):
        return None
    m = _PY_FRAME_RE.fullmatch(frame)
    return (m.group("func"), m.group("file"), int(m.group("line"))) if m else None


def is_py_frame(frame: str) -> bool:
    return py_frame(frame) is not None


def leaf_py_frame(stack: Stack) -> Optional[Tuple[str, str, int]]:
    """(func, file, line) of the leaf-most Python frame of a stack."""
    for frame in reversed(stack):
        parsed = py_frame(frame)
        if parsed:
            return parsed
    return None


def leaf_py_func(stack: Stack) -> Optional[str]:
    """Function name of the leaf-most Python frame of a stack."""
    leaf = leaf_py_frame(stack)
    return leaf[0] if leaf else None


def py_funcs(stack: Stack) -> List[str]:
    """Function names of the Python frames of a stack, root first."""
    return [p[0] for p in map(py_frame, stack) if p]


def thread_root(frame: str) -> Optional[Tuple[int, str]]:
    """(tid, name) of a `thread TID (name)` root frame, else None."""
    m = _THREAD_RE.fullmatch(frame)
    return (int(m.group("tid")), m.group("name")) if m else None


class Profile(dict):
    """{stack tuple: count} from a collapsed file, plus how it was recorded."""

    def __init__(self, counts: Dict[Stack, int], path: str,
                 result: subprocess.CompletedProcess, target_pid: Optional[int] = None,
                 ready_line: Optional[str] = None, raw=None, watch=None):
        super().__init__(counts)
        self.path = path
        self.result = result
        self.target_pid = target_pid
        self.ready_line = ready_line
        self.raw = raw          # the pyprof.raw.Profile, for --format raw
        self.watch = watch      # what record(watch=...) made, stopped

    @property
    def total(self) -> int:
        return sum(self.values())

    def samples_where(self, predicate) -> int:
        return sum(n for stack, n in self.items() if predicate(stack))

    def top(self, limit: int = 12, width: int = 400) -> str:
        """The heaviest stacks, for assertion messages."""
        lines = []
        for stack, n in sorted(self.items(), key=lambda kv: -kv[1])[:limit]:
            text = ";".join(stack)
            if len(text) > width:
                text = "..." + text[-width:]
            lines.append("%7d  %s" % (n, text))
        return ("%d samples in %d stacks; heaviest:\n%s\n--- pyprof stderr ---\n%s"
                % (self.total, len(self), "\n".join(lines), (self.result.stderr or "")[-1500:]))


def read_profile(path: str, result: subprocess.CompletedProcess, nonempty: bool = True,
                 fmt: str = "collapsed", threads: bool = False, **kw) -> Profile:
    """Check that pyprof succeeded and wrote its output (non-empty unless *nonempty* is
    False); parse it. A raw file (*fmt* "raw") is read with pyprof.raw and its
    collapsed lines (with thread roots if *threads*) are the counts."""
    assert result.returncode == 0, "pyprof failed\n" + describe(result)
    assert "Traceback" not in result.stderr, "traceback on stderr\n" + describe(result)
    assert os.path.isfile(path), "no output file %s\n%s" % (path, describe(result))
    raw = None
    if fmt == "raw":
        if str(REPO) not in sys.path:
            sys.path.insert(0, str(REPO))
        from pyprof import raw as pyprof_raw
        raw = pyprof_raw.read_raw(path)
        text = "".join(line + "\n" for line in pyprof_raw.collapsed_lines(raw, threads=threads))
    else:
        with open(path, "rb") as f:
            data = f.read()
        try:
            text = data.decode("utf-8")                 # strict: the file must be UTF-8
        except UnicodeDecodeError as e:
            raise AssertionError("collapsed output is not UTF-8: %s" % e)
    profile = Profile(parse_collapsed(text), path, result, raw=raw, **kw)
    if nonempty:
        assert profile, "empty profile\n" + describe(result)
    return profile


def _record_args(out: str, rate: int, duration: float, extra: Iterable[str],
                 fmt: str = "collapsed") -> List[str]:
    return ["record", "-o", out, "--format", fmt, "--rate", str(rate),
            "--duration", str(duration), *extra]


def record(python: str, workload_args: Sequence[str], rate: int, duration: float,
           extra: Sequence[str] = (), attach: bool = False, fmt: str = "collapsed",
           env: Optional[Dict[str, str]] = None, timeout: Optional[float] = None,
           watch=None, keep_target: bool = False, nonempty: bool = True) -> Profile:
    """`pyprof record EXTRA` of `PYTHON WORKLOAD ARGS`, launched (`-- PYTHON ...`) or, with
    *attach*, started first, waited for ("ready") and recorded with `--pid`.

    *watch(proc, target)*, if given, makes an object that is started while pyprof
    runs and stopped after (the profile's .watch). An attached target must still be
    alive after pyprof detached; it is stopped then, unless *keep_target* (the test
    looks at it afterwards; the reaper ends it)."""
    target = ready = None
    if attach:
        target, ready = start_workload(python, workload_args)
    try:
        with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
            out = os.path.join(tmp, "profile." + ("raw" if fmt == "raw" else "collapsed"))
            args = _record_args(out, rate, duration, extra, fmt)
            args += ["--pid", str(target.pid)] if attach else ["--", python, *workload_args]
            proc = start_pyprof(args, env=env)
            watcher = watch(proc, target) if watch else None
            if watcher:
                watcher.start()
            try:
                result = finish_pyprof(proc, timeout or duration + 60)
            finally:
                if watcher:
                    watcher.stop()
                kill_group(proc, signal.SIGKILL)   # no-op when it exited; never leave it behind
            profile = read_profile(out, result, nonempty, fmt, "--threads" in extra,
                                   target_pid=target.pid if target else None, ready_line=ready,
                                   watch=watcher)
        if target is not None:
            assert target.poll() is None, (
                "the target exited (code %s) while/after pyprof attached\n%s"
                % (target.returncode, profile.top()))
        return profile
    finally:
        if target is not None and not keep_target:
            stop_process(target)


def record_launch(python: str, workload_args: Sequence[str], rate: int, duration: float,
                  extra: Sequence[str] = (), timeout: Optional[float] = None) -> Profile:
    """`pyprof record ... -- PYTHON WORKLOAD ARGS`; returns the parsed profile."""
    return record(python, workload_args, rate, duration, extra, timeout=timeout)


def record_attach(python: str, workload_args: Sequence[str], rate: int, duration: float,
                  extra: Sequence[str] = (), timeout: Optional[float] = None) -> Profile:
    """Start the workload, wait for "ready", `pyprof record --pid`, stop the workload.

    Also asserts that the target is still alive after pyprof detached."""
    return record(python, workload_args, rate, duration, extra, attach=True, timeout=timeout)


# --------------------------------------------------------------------------- #
# /proc
# --------------------------------------------------------------------------- #

def proc_stat_fields(pid: int, tid: Optional[int] = None) -> List[str]:
    """Fields of /proc/PID[/task/TID]/stat from field 3 (state) on; [0] is the state."""
    path = "/proc/%d/stat" % pid if tid is None else "/proc/%d/task/%d/stat" % (pid, tid)
    with open(path) as f:
        data = f.read()
    return data[data.rindex(")") + 2:].split()


PF_KTHREAD = 0x00200000


def is_kernel_thread(pid: int) -> bool:
    try:
        flags = int(proc_stat_fields(pid)[6])       # field 9: flags
    except (OSError, ValueError, IndexError):
        return False
    return bool(flags & PF_KTHREAD)


def tracer_pid(pid: int, tid: int) -> int:
    with open("/proc/%d/task/%d/status" % (pid, tid)) as f:
        for line in f:
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
    raise AssertionError("no TracerPid in /proc/%d/task/%d/status" % (pid, tid))


def free_pid() -> int:
    """A PID that names no process right now (searching down from pid_max)."""
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    for pid in range(pid_max - 1, 300, -1):
        if not os.path.exists("/proc/%d" % pid):
            return pid
    raise AssertionError("no free PID found")
