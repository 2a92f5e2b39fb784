"""--subprocesses: a process tree in one profile, a root per process.

tests/workloads/forker.py forks two children (1 s and 2.5 s of work) and a
fork + exec of a new interpreter (1 s of work after its start-up), and works
3 s itself.  Sampled at 200 Hz, each process must show its own functions
under its own `process PID (cmdline)` root, and its share of the samples
must follow its life.
"""
import collections
import re
import subprocess
import sys

import pytest

from pyprof_e2e import REPO, WORKLOADS

SAMPLER = REPO / "build" / "pyprof-sampler"


def _record(tmp_path, *extra, native=False):
    out = tmp_path / "out.txt"
    cmd = [str(SAMPLER), "record", "--subprocesses", "-F", "200", "-d", "10", "--collapsed", str(out),
           "--raw", str(tmp_path / "out.raw")] + (["--native"] if native else []) + list(extra) + [
        "--", sys.executable, str(WORKLOADS / "forker.py"), "3", "1.0,2.5", "1.0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    forked = sorted((float(sec), int(pid)) for pid, sec in re.findall(r"child (\d+) (\d+\.\d)", proc.stdout))
    execd = [int(pid) for pid in re.findall(r"exec (\d+)", proc.stdout)]
    children = [pid for _, pid in forked] + execd  # shortest-lived fork first, then the exec'd one
    stacks = collections.Counter()
    for line in out.read_text().splitlines():
        stack, count = line.rsplit(" ", 1)
        stacks[tuple(stack.split(";"))] += int(count)
    return stacks, children, proc.stderr


def _by_process(stacks):
    per = collections.defaultdict(collections.Counter)
    for frames, count in stacks.items():
        assert frames[0].startswith("process "), frames
        pid = int(frames[0].split()[1])
        leaf_fn = next((f.split(" (")[0] for f in reversed(frames) if f.split(" (")[0].endswith("_work")), None)
        per[pid][leaf_fn] += count
    return per


@pytest.mark.parametrize("native", [False, True], ids=["python", "native"])
def test_every_process_under_its_own_root(tmp_path, native):
    # --idle (Python mode): every thread every tick, so samples follow each
    # process's lifetime even when four processes share two loaded CPUs
    stacks, children, err = _record(tmp_path, *([] if native else ["--idle"]), native=native)
    assert len(children) == 3, "the workload did not start its children"
    per = _by_process(stacks)
    assert set(children) <= set(per), "children without samples: %s (sampled: %s)\n%s" % (
        set(children) - set(per), sorted(per), err)
    fork1, fork2, execd = children

    def top(pid):  # the busiest of the workload's functions in pid
        named = collections.Counter({k: v for k, v in per[pid].items() if k})
        return named.most_common(1)[0][0] if named else None

    # each process shows its own work, and only that (an exec'd interpreter
    # also has its start-up, outside any *_work function)
    assert top(fork1) == "child_work" and top(fork2) == "child_work", per
    assert top(execd) == "exec_work" and set(per[execd]) <= {"exec_work", None}, per[execd]
    parent = [pid for pid in per if pid not in children]
    assert len(parent) == 1 and top(parent[0]) == "parent_work", per
    # a longer life, more samples: the 2.5 s child has more than the 1 s one
    # (perf mode counts CPU time, which a loaded machine shares out unevenly)
    totals = {pid: sum(c.values()) for pid, c in per.items()}
    if not native:
        assert totals[fork2] > 1.5 * totals[fork1] > 0, totals


def test_aggregate_and_threads(tmp_path):
    stacks, children, _ = _record(tmp_path, "--aggregate")
    assert not any(f[0].startswith("process ") for f in stacks), "process roots with --aggregate"
    assert any("child_work" in ";".join(f) for f in stacks)
    stacks, children, _ = _record(tmp_path, "--threads")
    for frames in stacks:
        assert frames[0].startswith("process ") and frames[1].startswith("thread "), frames[:2]


def test_aggregate_needs_subprocesses(tmp_path):
    proc = subprocess.run([str(SAMPLER), "record", "--aggregate", "--collapsed", str(tmp_path / "x"), "--",
                           sys.executable, "-c", "pass"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "--subprocesses" in proc.stderr, proc.stderr
