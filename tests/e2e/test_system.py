"""record -a: every process on the machine, each under its own root.

Three Python processes of different versions (pyenv's 3.8 and 3.12,
Debian's python3), each spinning in a function named after it, and one C
program compiled here (a busy loop in c_busy_loop) run while `pyprof record
-a` samples the machine for 10 s at 99 Hz.  Each Python process must be a
`process PID (cmdline)` root whose samples are mostly its own function (and
no other's), the C program a root with native frames only, and neither the
sampler nor the pyprof CLI may appear.  `--python-only` leaves the C program
out.  The machine is shared (2 CPUs, other jobs): the thresholds are shares
of each process's own samples, not absolute counts.

As root -a takes the bpf capture (docs/native.md): each Python process's
frames are walked in the sample's own interrupt, so its merge failures stay
under MERGE_MAX of its samples.  PYPROF_DENY=bpf gives the perf samples (one
stderr line says so) and the same roots.
"""
import collections
import subprocess
import textwrap
import time

import pytest

import pyprof_e2e as e2e

SPIN = textwrap.dedent("""\
    import os, sys
    def {func}():
        x = 0
        for i in range(20000):
            x += i * i
        return x
    print("ready", os.getpid(), flush=True)
    while True:
        {func}()
""")

C_BUSY = textwrap.dedent("""\
    #include <stdio.h>
    #include <unistd.h>
    __attribute__((noinline)) static unsigned long c_busy_loop(unsigned long n)
    {
        volatile unsigned long x = 0;
        for (unsigned long i = 0; i < n; i++)
            x += i;
        return x;
    }
    int main(void)
    {
        printf("ready %d\\n", (int)getpid());
        fflush(stdout);
        for (;;)
            c_busy_loop(100000000UL);
    }
""")

# the share of a Python process's samples that must be in its own function
# (the rest: the interpreter's start-up is over, but an unwind may fail or
# a sample land in the eval loop's own code between two calls)
OWN_SHARE = 0.6
MIN_SAMPLES = 20  # per process in 10 s at 99 Hz, even with 1/8 of a CPU each
# -a with the bpf capture: a Python process's merge failures (<merge mismatch> and
# <merge unproven> stacks), as a share of its samples; only its first samples, taken
# before its session wrote the program's configuration, are read late
MERGE_MAX = 0.005
BPF_FALLBACK = "exact capture (bpf) unavailable"


def _interpreters():
    found = [e2e.find_pyenv_python(8), e2e.find_pyenv_python(12), e2e.find_system_python()]
    missing = [name for name, i in zip(("pyenv 3.8", "pyenv 3.12", "/usr/bin/python3"), found) if i is None]
    if missing:
        pytest.skip("interpreter not installed: %s" % ", ".join(missing))
    return found


@pytest.fixture
def machine(tmp_path):
    """The three Python processes and the C program, running: {pid: (kind, function)}."""
    procs = {}
    for interp in _interpreters():
        func = "spin_" + interp.id.replace(".", "_")
        script = tmp_path / ("%s.py" % func)
        script.write_text(SPIN.format(func=func))
        proc, ready = e2e.start_workload(interp.path, [str(script)])
        procs[int(ready.split()[1])] = ("python", func)
    src = tmp_path / "busy.c"
    src.write_text(C_BUSY)
    exe = tmp_path / "c_busy"
    subprocess.run(["cc", "-O1", "-g", "-fno-omit-frame-pointer", "-o", str(exe), str(src)], check=True)
    proc = e2e.spawn([str(exe)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    procs[int(e2e.wait_for_ready(proc).split()[1])] = ("c", "c_busy_loop")
    yield procs
    e2e.reap_children()


def _record(tmp_path, *extra, duration=10, env=None):
    out = tmp_path / "all.txt"
    proc = e2e.start_pyprof(["record", "-a", "-d", str(duration), "-F", "99", "-o", str(out)] + list(extra),
                            env=env)
    result = e2e.finish_pyprof(proc, timeout=duration + 90)
    assert result.returncode == 0, e2e.describe(result)
    per = collections.defaultdict(collections.Counter)  # pid -> stack -> count
    roots = {}
    for stack, count in e2e.parse_collapsed(out.read_text()).items():
        assert stack[0].startswith("process "), stack
        pid = int(stack[0].split()[1])
        roots[pid] = stack[0]
        per[pid][stack[1:]] += count
    return per, roots, result, proc.pid


def _merge_failures(stacks):
    """(samples with a merge failure marker, all samples) of one process."""
    bad = sum(n for s, n in stacks.items() if any(f in ("<merge mismatch>", "<merge unproven>") for f in s))
    return bad, sum(stacks.values())


def _share(stacks, func):
    total = sum(stacks.values())
    own = sum(n for s, n in stacks.items() if any(e2e.frame_func(f) == func for f in s))
    return own / total if total else 0.0


def test_every_process_its_own_root(tmp_path, machine):
    per, roots, result, cli_pid = _record(tmp_path)
    why = "\nroots: %s\n%s" % (sorted(roots.values())[:40], e2e.describe(result))
    assert "processes (" in result.stderr, why
    # as root, the bpf capture (no fall-back line), and each Python process's samples exact
    assert BPF_FALLBACK not in result.stderr, why
    for pid, (kind, func) in machine.items():
        if kind == "python" and pid in per:
            bad, total = _merge_failures(per[pid])
            print("PID %d (%s): %d of %d samples are merge failures" % (pid, func, bad, total))
            assert bad <= MERGE_MAX * total, "PID %d: %d of %d samples are merge failures%s" % (
                pid, bad, total, why)
    for pid, (kind, func) in machine.items():
        assert pid in per, "PID %d (%s) has no root%s" % (pid, func, why)
        stacks = per[pid]
        assert sum(stacks.values()) >= MIN_SAMPLES, "PID %d: %d samples%s" % (pid, sum(stacks.values()), why)
        share = _share(stacks, func)
        if kind == "python":
            assert share >= OWN_SHARE, "PID %d: %.0f%% of its samples in %s%s" % (pid, 100 * share, func, why)
            assert any(e2e.is_py_frame(f) for s in stacks for f in s), "PID %d: no Python frame" % pid
        else:
            assert share >= OWN_SHARE, "the C program: %.0f%% in c_busy_loop%s" % (100 * share, why)
            assert not any(e2e.is_py_frame(f) for s in stacks for f in s), "the C program has Python frames"
        for other, (_, other_func) in machine.items():  # no function under another process's root
            if other != pid:
                assert _share(stacks, other_func) == 0, "PID %d shows %s of PID %d" % (pid, other_func, other)
    # neither the CLI nor its sampler (whose command line names the CLI's temp dir, pyprof-CLIPID-...)
    assert cli_pid not in roots, why
    assert not [r for r in roots.values() if "/pyprof-%d-" % cli_pid in r], why


def test_python_only_leaves_native_programs_out(tmp_path, machine):
    per, roots, result, _ = _record(tmp_path, "--python-only", duration=5)
    why = "\nroots: %s\n%s" % (sorted(roots.values())[:40], e2e.describe(result))
    c_pid = next(pid for pid, (kind, _) in machine.items() if kind == "c")
    assert c_pid not in per, why
    for pid, (kind, func) in machine.items():
        if kind == "python":
            assert pid in per and _share(per[pid], func) >= OWN_SHARE, "PID %d (%s)%s" % (pid, func, why)
    for pid, stacks in per.items():  # every root is a Python process: Python frames, or libpython mapped
        if not any(e2e.is_py_frame(f) for s in stacks for f in s):  # (perf embeds libpython, for one)
            assert _maps_python(pid) is not False, "PID %d has no Python frame%s" % (pid, why)


def test_denied_bpf_takes_the_perf_samples(tmp_path, machine):
    """PYPROF_DENY=bpf: -a says once that it samples with perf, and every process still has its root."""
    per, roots, result, _ = _record(tmp_path, duration=5, env={"PYPROF_DENY": "bpf"})
    why = "\nroots: %s\n%s" % (sorted(roots.values())[:40], e2e.describe(result))
    lines = [l for l in result.stderr.splitlines() if BPF_FALLBACK in l]
    assert len(lines) == 1 and "perf samples" in lines[0] and "PYPROF_DENY" in lines[0], why
    for pid, (kind, func) in machine.items():
        assert pid in per and _share(per[pid], func) >= OWN_SHARE, "PID %d (%s)%s" % (pid, func, why)
        if kind == "python":
            bad, total = _merge_failures(per[pid])
            print("perf: PID %d (%s): %d of %d samples are merge failures" % (pid, func, bad, total))


def _maps_python(pid):
    """Whether PID maps a python executable or libpython (None: it is gone)."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            return any("python" in line.rsplit("/", 1)[-1] for line in f if "/" in line)
    except OSError:
        return None


READER = textwrap.dedent("""\
    import os
    def read_status():
        with open("/proc/self/status") as f:
            return f.read()
    print("ready", os.getpid(), flush=True)
    while True:
        read_status()
""")


def test_kernel_frames(tmp_path, machine):
    """--kernel: the kernel's frames at the leaf, under the Python function that made the syscall."""
    script = tmp_path / "reader.py"
    script.write_text(READER)
    proc, ready = e2e.start_workload(str(e2e.SYSTEM_PYTHON), [str(script)])
    reader = int(ready.split()[1])
    per, roots, result, _ = _record(tmp_path, "--kernel", duration=4)
    why = e2e.describe(result)
    # the kernel's callchains come from perf samples: said once
    assert [l for l in result.stderr.splitlines() if BPF_FALLBACK in l and "--kernel" in l], why
    assert reader in per, why
    stacks = per[reader]
    in_kernel = {s: n for s, n in stacks.items() if s and s[-1].endswith("([kernel.kallsyms])")}
    assert sum(in_kernel.values()) >= 0.3 * sum(stacks.values()), (sum(in_kernel.values()), sum(stacks.values()), why)
    under = sum(n for s, n in in_kernel.items() if any(e2e.frame_func(f) == "read_status" for f in s))
    assert under >= 0.8 * sum(in_kernel.values()), (under, in_kernel)
    for per_pid in per.values():  # kernel frames only at the leaf end
        for s in per_pid:
            ks = [i for i, f in enumerate(s) if f.endswith("([kernel.kallsyms])")]
            assert not ks or ks == list(range(ks[0], len(s))), ";".join(s)


LATE = textwrap.dedent("""\
    import os, time
    def started_late():
        t = time.monotonic() + 1.0
        while time.monotonic() < t:
            sum(range(1000))
    print(os.getpid(), flush=True)
    started_late()
""")


def test_processes_started_during_the_run(tmp_path):
    """Processes that start after -a began are picked up by their first sample, Python frames
    included (a pyenv interpreter is looked at again if its first sample came before libpython
    was mapped)."""
    py = e2e.find_pyenv_python(12)
    if py is None:
        pytest.skip("interpreter not installed: pyenv 3.12")
    script = tmp_path / "late.py"
    script.write_text(LATE)
    out = tmp_path / "late.txt"
    rec = e2e.start_pyprof(["record", "-a", "-d", "7", "-F", "99", "-o", str(out)])
    time.sleep(2)
    pids = []
    for _ in range(2):
        run = subprocess.run([py.path, str(script)], capture_output=True, text=True, timeout=30)
        pids.append(int(run.stdout.split()[0]))
    # a shell that spins, then execs the interpreter: a native process first, then a Python one
    run = subprocess.run(["sh", "-c", "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; exec %s %s"
                          % (py.path, script)], capture_output=True, text=True, timeout=60)
    pids.append(int(run.stdout.split()[0]))
    result = e2e.finish_pyprof(rec, timeout=90)
    assert result.returncode == 0, e2e.describe(result)
    per = collections.defaultdict(collections.Counter)  # by root: the exec'd shell has two
    for stack, count in e2e.parse_collapsed(out.read_text()).items():
        per[stack[0]][stack[1:]] += count
    for pid in pids:
        roots = [r for r in per if r.startswith("process %d (%s" % (pid, py.path))]
        assert roots, "PID %d started during the run has no Python root: %s\n%s" % (
            pid, [r for r in per if r.startswith("process %d " % pid)], e2e.describe(result))
        assert _share(per[roots[0]], "started_late") >= 0.5, (pid, per[roots[0]].most_common(3))
    shell = [r for r in per if r.startswith("process %d (sh -c" % pids[-1])]
    assert shell and not any(e2e.is_py_frame(f) for s in per[shell[0]] for f in s), shell
