"""`pyprof top --pid` against a running split.py (alpha 60 %, beta 30 %, gamma 10 %).

Without a terminal it prints a table per refresh; on a terminal (tmux) `q` and
Ctrl-C quit. Either way the target keeps running and the sampler is gone.
"""
import os
import re
import time

import pytest

import pyprof_e2e as e2e
from tmux_e2e import Tmux, terminal_restored

ROW_RE = re.compile(r"^ *([0-9.]+)% +([0-9.]+)% +([0-9.]+)% +([0-9.]+)% +([0-9]+)  (\S+) \(")


@pytest.fixture
def target(any_interp):
    proc, _ = e2e.start_workload(any_interp.path, [e2e.workload("split.py"), "300"])
    yield proc
    e2e.stop_process(proc)


def samplers_of(pid):
    """PIDs of pyprof-sampler processes attached to pid."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv = f.read().decode("utf-8", "replace").split("\0")
        except OSError:
            continue
        if argv and argv[0].endswith("pyprof-sampler") and "--pid" in argv \
                and argv[argv.index("--pid") + 1:argv.index("--pid") + 2] == [str(pid)]:
            found.append(int(entry))
    return found


def assert_detached(target, context):
    assert target.poll() is None, "the target exited (code %s)\n%s" % (target.returncode, context)
    deadline = time.monotonic() + 10
    while samplers_of(target.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not samplers_of(target.pid), "a sampler is still running on the target\n" + context


def test_batch_prints_a_table_per_refresh(target):
    before = set(os.listdir("/tmp"))
    result = e2e.run_pyprof(["top", "--pid", target.pid, "--iterations", "3", "-F", "200"], timeout=60)
    context = e2e.describe(result)
    assert result.returncode == 0, context
    assert "Traceback" not in result.stderr and "error" not in result.stderr, context

    tables = [t for t in result.stdout.split("\n\n") if t.strip()]
    assert len(tables) == 3, context
    for n, table in enumerate(tables, 1):
        lines = table.splitlines()
        assert lines[0].startswith("pyprof top: PID %d (" % target.pid), context
        assert lines[0].endswith(", 200 Hz, refresh %d" % n), context
        m = re.match(r"samples: ([0-9]+) in the last ([0-9.]+) s, ([0-9]+) in all; errors: [0-9]+; threads: 1$",
                     lines[1])
        assert m, context
        assert int(m.group(1)) >= 100, "too few samples per refresh\n" + context
        assert lines[2].split() == ["Own%", "Total%", "CumOwn%", "CumTotal%", "Samples", "Function"], context
        rows = {m.group(6): m for m in map(ROW_RE.match, lines[3:]) if m}
        # the hot function leads, at about its known share of the last second
        first = ROW_RE.match(lines[3])
        assert first and first.group(6) == "alpha", "alpha is not the top row\n" + table
        assert 45.0 <= float(first.group(1)) <= 75.0, table
        assert 15.0 <= float(rows["beta"].group(1)) <= 45.0, table
        # main only calls: Total ~100 %, Own 0
        assert float(rows["main"].group(2)) >= 95.0 and float(rows["main"].group(1)) <= 5.0, table
    # the cumulative sample count grows from refresh to refresh
    alls = [int(re.search(r", ([0-9]+) in all;", t).group(1)) for t in tables]
    assert alls[0] < alls[1] < alls[2], context
    assert_detached(target, context)
    leftovers = [d for d in set(os.listdir("/tmp")) - before if d.startswith("pyprof-top-")]
    assert not leftovers, "temporary files left behind: %s" % leftovers


def test_no_such_process_is_one_line():
    result = e2e.run_pyprof(["top", "--pid", e2e.free_pid(), "--iterations", "1"], timeout=60)
    assert result.returncode == 3, e2e.describe(result)
    assert result.stdout == "", e2e.describe(result)
    errors = [l for l in result.stderr.splitlines() if l.startswith("pyprof: error: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, e2e.describe(result)


@pytest.mark.parametrize("key", ["q", "C-c"])
def test_terminal_view_quits_and_leaves_the_target_running(target, key):
    tmux = Tmux(e2e.pyprof_cmd(["top", "--pid", target.pid, "-F", "200"]), width=110, height=20, cwd=e2e.REPO)
    try:
        screen = tmux.wait_for(lambda s: re.search(r"^ *[0-9.]+% .*  alpha \(", s, re.M), "the alpha row",
                               timeout=30)
        assert screen.splitlines()[0].startswith("pyprof top: PID %d (" % target.pid), screen
        tmux.keys(key)
        code, screen = tmux.wait_exit()
        assert code == 0, screen
        assert terminal_restored(screen), "terminal modes not restored:\n" + screen
        history = tmux.history()
        assert "Traceback" not in history and "error" not in history, history
    finally:
        tmux.close()
    assert_detached(target, screen)
