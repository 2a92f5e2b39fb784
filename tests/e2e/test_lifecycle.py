"""Lifecycle of targets and of the sampler itself (issue 10): libraries that
come and go under --native, exit statuses, exec, PID reuse and many short
children under --subprocesses, the CLI dying under the sampler.

Each test here failed before the fix it guards (see the commit that added it)."""
import os
import signal
import subprocess
import tempfile
import time

import pytest

import pyprof_e2e as e2e
from pyprof_e2e import SAMPLER, run_sampler

from pyprof import raw as rawfmt  # noqa: E402


# --------------------------------------------------------------------------- #
# 1. modules removed from a --native target (dwfl_report_end's callback)
# --------------------------------------------------------------------------- #

@pytest.mark.parametrize("mode", [["--capture", "bpf"], ["--capture", "perf"], ["--blocking"],
                                  ["--unwinder", "libunwind"]],
                         ids=["bpf", "perf", "blocking", "libunwind"])
def test_dlopen_churn_native(any_interp, mode):
    """ld.so maps /etc/ld.so.cache only while it resolves a soname: every
    dlopen by name removes a module from libdwfl's list.  The sampler used to
    take the removed callback's `void **` for its own struct and crash (SIGSEGV
    in 14 of 14 runs)."""
    with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
        out = os.path.join(tmp, "p.txt")
        result = e2e.run_pyprof(["record", "--native", "-F", "1000", "-d", "20", "-o", out,
                                 "--format", "collapsed", *mode, "--",
                                 any_interp.path, e2e.workload("dlopen_churn.py"), "3"],
                                timeout=90)
        assert "killed by signal" not in result.stderr, e2e.describe(result)
        profile = e2e.read_profile(out, result)
        funcs = {e2e.frame_func(f) for st in profile for f in st}
        assert "call_fresh" in funcs or "churn" in funcs, profile.top()
        assert "target exit 0" in result.stderr, e2e.describe(result)


# --------------------------------------------------------------------------- #
# 4. the launched child's exit status, wherever it is reaped
# --------------------------------------------------------------------------- #

EXIT3 = ("import sys, time\nt = time.time()\nwhile time.time() - t < 0.3: pass\nsys.exit(3)\n")

FORK_THEN_EXIT5 = """
import os, sys, time
t = time.time()
while time.time() - t < 0.2: pass
for i in range(200):
    pid = os.fork()
    if pid == 0:
        t = time.time()
        while time.time() - t < 0.01: pass
        os._exit(0)
    os.waitpid(pid, 0)
sys.exit(5)
"""


def test_exit_status_native_blocking(any_interp):
    """With --blocking the sampler is the child's tracer too: a wait for a
    ptrace stop of its main thread could consume its exit, and the summary
    said "target exit 0" (6 of 12 runs here)."""
    with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
        out = os.path.join(tmp, "p.txt")
        for i in range(12):
            result = run_sampler(["record", "--native", "--blocking", "-F", "1000",
                                  "--collapsed", out, "--", any_interp.path, "-c", EXIT3])
            assert result.returncode == 0, e2e.describe(result)
            assert "target exit 3" in result.stderr, "run %d:\n%s" % (i, e2e.describe(result))


@pytest.mark.parametrize("mode", [["--native", "--blocking"], ["--native", "--capture", "perf"],
                                  ["--native", "--capture", "bpf"], []],
                         ids=["blocking", "perf", "bpf", "python"])
def test_subprocesses_root_exit_is_seen(any_interp, mode):
    """--subprocesses --native --blocking: the launched root's exit used to be
    consumed by a wait for a ptrace stop; the run then hung ("target running")
    until -d and finally sent SIGTERM/SIGKILL to a PID that was reaped long
    ago (2 of 3 runs here).  No -d here: the run must end by itself."""
    with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
        out = os.path.join(tmp, "p.txt")
        for i in range(3):
            result = run_sampler(["record", "--subprocesses", *mode, "-F", "200",
                                  "--collapsed", out, "--", any_interp.path, "-c",
                                  FORK_THEN_EXIT5], timeout=40)
            assert result.returncode == 0, e2e.describe(result)
            assert "target exit 5" in result.stderr, "run %d:\n%s" % (i, e2e.describe(result))


# --------------------------------------------------------------------------- #
# 5. the parent (the CLI) dies: the sampler stops, detaches, removes its dir
# --------------------------------------------------------------------------- #

PARENT = """
import subprocess, sys, tempfile, time
d = tempfile.mkdtemp(prefix="pyprof-")
args = [a.replace("@DIR@", d) for a in sys.argv[1:]]
p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(d, p.pid, flush=True)
time.sleep(600)
"""


def _task_states(pid):
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            out[int(tid)] = (e2e.proc_stat_fields(pid, int(tid))[0],
                             e2e.tracer_pid(pid, int(tid)))
        except (OSError, AssertionError):
            pass
    return out


def _gone(pid):
    try:
        return e2e.proc_stat_fields(pid)[0] in ("Z", "X")
    except OSError:
        return True


@pytest.mark.parametrize("mode", [["--native", "--blocking"], ["--native", "--capture", "perf"],
                                  ["--native", "--capture", "bpf"], []],
                         ids=["blocking", "perf", "bpf", "python"])
def test_parent_sigkill_stops_the_sampler(any_interp, mode):
    """SIGKILL to the CLI used to orphan the sampler, which kept sampling (with
    --blocking: kept the target ptrace-attached at 1 kHz) forever without -d."""
    target, _ = e2e.start_workload(any_interp.path, [e2e.workload("threads4.py"), "60"])
    parent = e2e.spawn([any_interp.path, "-c", PARENT, SAMPLER, "record", *mode, "-F", "1000",
                        "--pid", str(target.pid), "--raw", "@DIR@/p.raw",
                        "--cleanup-dir", "@DIR@"],
                       stdout=subprocess.PIPE, encoding="utf-8")
    tmpdir, sampler = parent.stdout.readline().split()
    sampler = int(sampler)
    try:
        time.sleep(1.5)                      # sampling for a while
        assert not _gone(sampler), "the sampler ended early"
        parent.kill()                        # the CLI, alone (not its group)
        parent.wait()
        deadline = time.time() + 10
        while time.time() < deadline and not _gone(sampler):
            time.sleep(0.05)
        assert _gone(sampler), "the sampler outlived its parent by 10 s"
        states = _task_states(target.pid)
        assert all(tracer == 0 for _, tracer in states.values()), states
        assert not any(state in ("t", "T") for state, _ in states.values()), states
        assert target.poll() is None, "the target died"
        assert not os.path.exists(tmpdir), "the CLI's temporary directory was left"
    finally:
        if not _gone(sampler):
            os.kill(sampler, signal.SIGKILL)
        e2e.stop_process(target)
        if os.path.isdir(tmpdir):
            for n in os.listdir(tmpdir):
                os.unlink(os.path.join(tmpdir, n))
            os.rmdir(tmpdir)


# --------------------------------------------------------------------------- #
# 8. small ones: bad numbers, old interpreters
# --------------------------------------------------------------------------- #

@pytest.mark.parametrize("opt", ["--rate", "--duration"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "NaN", "1e300"])
def test_bad_numbers_are_usage_errors(any_interp, opt, value):
    """--rate nan used to give 0 samples and --duration nan to run forever."""
    with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
        result = run_sampler(["record", opt, value, "--collapsed", os.path.join(tmp, "p.txt"),
                              "--", any_interp.path, "-c", "pass"], timeout=20)
        assert result.returncode == 2, e2e.describe(result)
        assert opt in result.stderr, e2e.describe(result)
        assert os.listdir(tmp) == []


OLD_VERSIONS = [(2, 7), (3, 6), (3, 7)]


def _old_python(major, minor):
    root = e2e.pyenv_root()
    if root is None:
        return None
    for d in sorted((root / "versions").glob("%d.%d.*" % (major, minor))):
        exe = d / "bin" / ("python%d.%d" % (major, minor))
        if exe.exists():
            return str(exe)
    return None


@pytest.mark.parametrize("version", OLD_VERSIONS, ids=["py2.7", "py3.6", "py3.7"])
def test_old_interpreters_are_unsupported_versions(version):
    """2.7 and 3.6 have no _PyRuntime: they were "not a Python process" (exit 5)."""
    exe = _old_python(*version)
    if exe is None:
        pytest.skip("pyenv Python %d.%d is not installed" % version)
    with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
        out = os.path.join(tmp, "p.txt")
        result = run_sampler(["record", "-d", "2", "--collapsed", out, "--", exe, "-c",
                              "import time; time.sleep(5)"], timeout=30)
        assert result.returncode == 6, e2e.describe(result)
        assert "unsupported Python version %d.%d" % version in result.stderr, e2e.describe(result)
        # attached, too
        target = e2e.spawn([exe, "-c", "import time; time.sleep(30)"])
        time.sleep(0.5)
        result = run_sampler(["record", "-d", "1", "--collapsed", out, "--pid",
                              str(target.pid)], timeout=30)
        assert result.returncode == 6, e2e.describe(result)
        assert "unsupported Python version %d.%d" % version in result.stderr, e2e.describe(result)
        e2e.stop_process(target)


def test_not_python_is_still_exit_5(any_interp):
    with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
        result = run_sampler(["record", "-d", "2", "--collapsed", os.path.join(tmp, "p.txt"),
                              "--", "sleep", "5"], timeout=30)
        assert result.returncode == 5, e2e.describe(result)


# --------------------------------------------------------------------------- #
# 7. an exec of a single target
# --------------------------------------------------------------------------- #

EXECER = """
import os, sys, time
def before_exec():
    t = time.time()
    while time.time() - t < 1.0: pass
print("ready", flush=True)
before_exec()
code = ("import sys, time\\ndef after_exec():\\n    t = time.time()\\n"
        "    while time.time() - t < %s: pass\\nafter_exec()\\nsys.exit(4)\\n")
os.execv(sys.executable, [sys.executable, "-c", code % sys.argv[1]])
"""

_SUMMARY_RE = __import__("re").compile(r"pyprof: ([0-9]+) samples, ([0-9]+) errors")


@pytest.mark.parametrize("mode", [[], ["--native", "--capture", "perf"],
                                  ["--native", "--capture", "bpf"], ["--native", "--blocking"]],
                         ids=["python", "perf", "bpf", "blocking"])
def test_exec_of_a_launched_target(any_interp, mode):
    """The rest of the run used to be counted as transient errors (~65 % of the
    samples), the new program never appeared and nothing was said."""
    with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
        out = os.path.join(tmp, "p.txt")
        result = run_sampler(["record", *mode, "-F", "200", "--collapsed", out, "--",
                              any_interp.path, "-c", EXECER, "1.5"], timeout=60)
        assert result.returncode == 0, e2e.describe(result)
        assert "exec'd another program" in result.stderr, e2e.describe(result)
        assert "target exec'd" in result.stderr and "exit 4" in result.stderr, \
            e2e.describe(result)
        m = _SUMMARY_RE.search(result.stderr)
        samples, errors = int(m.group(1)), int(m.group(2))
        assert samples > 0 and errors <= 0.25 * samples, e2e.describe(result)
        with open(out) as f:
            stacks = e2e.parse_collapsed(f.read())
        funcs = {e2e.frame_func(fr) for st in stacks for fr in st}
        assert "before_exec" in funcs, stacks


def test_exec_of_an_attached_target(any_interp):
    target, _ = e2e.start_workload(any_interp.path, ["-c", EXECER, "30"])
    try:
        with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
            out = os.path.join(tmp, "p.txt")
            t0 = time.time()
            result = run_sampler(["record", "-F", "200", "-d", "20", "--collapsed", out,
                                  "--pid", str(target.pid)], timeout=60)
            assert result.returncode == 0, e2e.describe(result)
            assert time.time() - t0 < 10, "the record went on after the exec"
            assert "exec'd another program" in result.stderr, e2e.describe(result)
            assert "target exec'd" in result.stderr, e2e.describe(result)
            assert target.poll() is None, "the target died"
    finally:
        e2e.stop_process(target)


# --------------------------------------------------------------------------- #
# 6. --subprocesses: PID reuse, more than 4096 processes over a run
# --------------------------------------------------------------------------- #

PID_REUSE = """
import os, sys, time
def burn(s):
    t = time.time()
    while time.time() - t < s: pass
def func_a(): burn(0.6)
def func_b(): burn(1.0)
burn(0.3)
a = os.fork()
if a == 0:
    func_a(); os._exit(0)
os.waitpid(a, 0)
burn(0.4)
with open("/proc/sys/kernel/ns_last_pid", "w") as f:   # our own PID namespace's
    f.write(str(a - 1))
b = os.fork()
if b == 0:
    func_b(); os._exit(0)
os.waitpid(b, 0)
print("a=%d b=%d" % (a, b), flush=True)
"""


def test_subprocesses_pid_reuse(any_interp):
    """A process whose PID was used earlier in the run was never followed (its
    PID's old, finished entry matched).  The sampler and the tree run in a PID
    namespace of their own, where the child B is given child A's PID."""
    with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
        out = os.path.join(tmp, "p.txt")
        proc = e2e.spawn(["unshare", "--pid", "--fork", "--mount-proc", SAMPLER, "record",
                          "--subprocesses", "-F", "200", "--collapsed", out, "--",
                          any_interp.path, "-c", PID_REUSE], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, encoding="utf-8", errors="replace")
        result = e2e.finish_pyprof(proc, 60)
        assert result.returncode == 0, e2e.describe(result)
        a, b = [int(x.split("=")[1]) for x in result.stdout.split()]
        assert a == b, "the PID was not reused (a=%d b=%d)" % (a, b)
        with open(out) as f:
            stacks = e2e.parse_collapsed(f.read())
        roots = {}
        for st, n in stacks.items():
            for fr in st:
                func = e2e.frame_func(fr)
                if func in ("func_a", "func_b"):
                    roots[func] = roots.get(func, 0) + n
        assert roots.get("func_a", 0) > 0, stacks
        assert roots.get("func_b", 0) > 0, "the process with the reused PID was not followed"


MANY = """
import os, sys, time
N, BATCH, LIFE = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
def burn(s):
    t = time.time()
    while time.time() - t < s: pass
def late_child(): burn(1.5)
done = 0
while done < N:
    pids = []
    for i in range(min(BATCH, N - done)):
        pid = os.fork()
        if pid == 0:
            time.sleep(LIFE); os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    done += len(pids)
pid = os.fork()
if pid == 0:
    late_child(); os._exit(0)
os.waitpid(pid, 0)
"""


def test_subprocesses_more_than_4096_processes(any_interp):
    """After 4,096 processes seen nothing new was followed (entries were never
    freed) and nothing was said.  5,000 short children (each alive for a scan),
    then one that burns the CPU: it must be in the profile."""
    with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
        out, raw = os.path.join(tmp, "p.txt"), os.path.join(tmp, "p.raw")
        result = run_sampler(["record", "--subprocesses", "-F", "100", "--collapsed", out,
                              "--raw", raw, "--", any_interp.path, "-c", MANY, "5000", "250",
                              "0.25"], timeout=180)
        assert result.returncode == 0, e2e.describe(result)
        with open(raw) as f:
            stats = dict(line.split("\t")[1:3] for line in f if line.startswith("S\t"))
        assert int(stats["processes_seen"]) > 4096, stats
        with open(out) as f:
            stacks = e2e.parse_collapsed(f.read())
        late = sum(n for st, n in stacks.items() if "late_child" in map(e2e.frame_func, st))
        assert late > 0, "the child after the first 4096 was not followed\n" + e2e.describe(result)


# --------------------------------------------------------------------------- #
# 8. bounded tables: the code-object cache, the (stack, thread) counts
# --------------------------------------------------------------------------- #

CODE_CHURN = """
import sys, time
end = time.time() + float(sys.argv[1])
i = 0
while time.time() < end:
    src = "def f%d(x):\\n    s = 0\\n    for j in range(3000): s += j * %d\\n    return s\\n" % (i, i)
    ns = {}
    exec(src, ns)
    ns["f%d" % i](1)
    i += 1
"""


def test_code_cache_reuses_forgotten_slots(any_interp):
    """Code objects that die and give their address to new ones are forgotten
    by the cache; their slots used to stay taken for ever (slots == misses)."""
    with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
        raw = os.path.join(tmp, "p.raw")
        result = run_sampler(["record", "-F", "1000", "--raw", raw, "--", any_interp.path,
                              "-c", CODE_CHURN, "4"], timeout=60)
        assert result.returncode == 0, e2e.describe(result)
        stats = rawfmt.read_raw(raw).stats
        misses, slots = stats["code_cache_misses"], stats["code_cache_slots"]
        assert misses > 300, stats               # the churn did replace cached code objects
        assert slots < 0.75 * misses, "forgotten slots are not reused: %s" % stats


THREAD_CHURN = """
import sys, threading, time
def work():
    t = time.time()
    while time.time() - t < 0.004: pass
for i in range(int(sys.argv[1])):
    th = threading.Thread(target=work); th.start(); th.join()
"""


def test_thread_churn_is_bounded(any_interp):
    """The count table is per (stack, thread): 600 short threads made 600 thread
    entries and counts.  Past --max-threads (4096 by default) later threads are
    counted together as thread -1, with a warning."""
    with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
        raw, col = os.path.join(tmp, "p.raw"), os.path.join(tmp, "p.txt")
        result = run_sampler(["record", "-F", "1000", "--threads", "--max-threads", "100",
                              "--raw", raw, "--collapsed", col, "--", any_interp.path, "-c",
                              THREAD_CHURN, "600"], timeout=90)
        assert result.returncode == 0, e2e.describe(result)
        prof = rawfmt.read_raw(raw)
        stats, threads = prof.stats, [tid for tid, _ in prof.threads.values()]
        assert len(threads) <= 101, len(threads)
        assert -1 in threads and stats["threads_merged"] > 0, stats
        assert "later ones are counted together" in result.stderr, e2e.describe(result)
        with open(col) as f:
            stacks = e2e.parse_collapsed(f.read())
        assert any(st[0].startswith("thread -1 (<other threads>)") for st in stacks), stacks
        # the CLI renders such a raw file in every format (it once refused tid -1)
        for fmt, name in (("flamegraph", "p.svg"), ("speedscope", "p.json"), ("pprof", "p.pb.gz"),
                          ("collapsed", "c.txt")):
            out = os.path.join(tmp, name)
            conv = e2e.run_pyprof(["convert", "--threads", "-f", fmt, "-o", out, raw])
            assert conv.returncode == 0 and os.path.getsize(out) > 0, e2e.describe(conv)
        with open(os.path.join(tmp, "c.txt")) as f:
            assert "thread -1 (<other threads>);" in f.read()
        rep = e2e.run_pyprof(["report", raw])
        assert rep.returncode == 0, e2e.describe(rep)
