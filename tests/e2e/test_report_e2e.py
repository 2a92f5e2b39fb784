"""`pyprof report` on a real recording of a workload with a known call shape.

report_shape.py: main -> driver (no work of its own) -> work_a 60 % / work_b 40 %.
Recorded once (attached after "ready", so every sample is inside driver) with one
supported interpreter: the report's aggregation does not depend on the version.
The --stdio report is parsed; the TUI is driven in tmux and its screen read back.
"""
import os
import re
import tempfile

import pytest

import pyprof_e2e as e2e
from tmux_e2e import Tmux, terminal_restored

RATE = 300
DURATION = 3
TOLERANCE = 5.0
ROW_RE = re.compile(r"^\s*([0-9.]+)%\s+([0-9.]+)%\s+([0-9]+)\s+(\S.*)$")
SELF_ROW_RE = re.compile(r"^\s*([0-9.]+)%\s+([0-9]+)\s+(\S.*)$")
SHARE_RE = re.compile(r"^\s+([0-9.]+)%\s+([0-9]+)\s+(\S.*)$")
TUI_ROW_RE = re.compile(r"^([> ]) +([0-9.]+)% +([0-9.]+)% +([0-9]+)  ([+-]) (\S+) \(")


def tui_rows(screen):
    """[(selected, function name, expanded)] of the function rows on a TUI screen."""
    rows = []
    for line in screen.splitlines():
        m = TUI_ROW_RE.match(line)
        if m:
            rows.append((m.group(1) == ">", m.group(6), m.group(5) == "-"))
    return rows


@pytest.fixture(scope="module")
def shape_raw(any_interp):
    """Path of a raw recording of report_shape.py (attached, 3 s at 300 Hz)."""
    interp = any_interp
    tmp = tempfile.mkdtemp(prefix="pyprof-e2e-report-")
    path = os.path.join(tmp, "shape.raw")
    target, _ = e2e.start_workload(interp.path, [e2e.workload("report_shape.py"), "120"])
    try:
        result = e2e.run_pyprof(["record", "--pid", target.pid, "-F", RATE, "-d", DURATION,
                                 "--format", "raw", "-o", path], timeout=DURATION + 60)
    finally:
        e2e.stop_process(target)
    assert result.returncode == 0 and os.path.isfile(path), "record failed\n" + e2e.describe(result)
    yield path
    for name in os.listdir(tmp):
        os.unlink(os.path.join(tmp, name))
    os.rmdir(tmp)


def rows_total(screen):
    """The sample count in the TUI header."""
    return int(re.search(r"\| +([0-9]+) samples +\|", screen.splitlines()[0]).group(1))


def report(*args, timeout=60):
    result = e2e.run_pyprof(["report", *args], timeout=timeout)
    assert result.returncode == 0, "pyprof report failed\n" + e2e.describe(result)
    assert result.stderr == "", "unexpected stderr\n" + e2e.describe(result)
    return result.stdout


def func(name):
    return name.split(" (", 1)[0]


def parse_table(text):
    """[(children %, self %, samples, function name)] of a --stdio table."""
    rows = []
    lines = text.splitlines()
    start = lines.index(" Children      Self   Samples  Function") + 1
    for line in lines[start:]:
        if not line.strip():
            break
        m = ROW_RE.match(line)
        assert m, "bad table row %r in\n%s" % (line, text)
        rows.append((float(m.group(1)), float(m.group(2)), int(m.group(3)), func(m.group(4))))
    return rows


def parse_section(text, function, which):
    """{name: share %} of the callers/callees block of `function` in a --stdio report."""
    lines = text.splitlines()
    heads = [i for i, l in enumerate(lines) if l.startswith(function + " (") and "  children " in l]
    assert heads, "no section for %s in\n%s" % (function, text)
    i = heads[0] + 1
    while i < len(lines) and lines[i].strip() != which + ":":
        assert lines[i].startswith("  "), "no %s of %s in\n%s" % (which, function, text)
        i += 1
    assert i < len(lines), "no %s of %s in\n%s" % (which, function, text)
    shares = {}
    for line in lines[i + 1:]:
        m = SHARE_RE.match(line)
        if not m or not line.startswith("    "):
            break
        shares[func(m.group(3))] = float(m.group(1))
    return shares


def near(value, expected, what, context):
    assert abs(value - expected) <= TOLERANCE, "%s is %.2f%%, expected %.0f%% +- %.0f\n%s" % (
        what, value, expected, TOLERANCE, context)


def test_stdio_children_and_self_match_the_shape(shape_raw):
    # WHEN the recording is reported as text
    text = report(shape_raw, "--stdio")

    # THEN the header names the command and counts samples and errors
    header = text.splitlines()[:4]
    assert header[0] == "# pyprof report: %s" % shape_raw
    assert "report_shape.py 120 (PID " in header[1], text
    m = re.match(r"# samples: ([0-9]+), errors: [0-9]+ \([0-9]+ transient, [0-9]+ bad data\)$", header[2])
    assert m, text
    total = int(m.group(1))
    assert total >= RATE * DURATION * 0.5, text

    # AND driver, which only calls, has Children ~100 % and Self ~0
    rows = parse_table(text)
    by_name = {name: (children, self_, n) for children, self_, n, name in rows}
    for caller in ("<module>", "main", "driver"):
        children, self_, n = by_name[caller]
        assert children >= 98.0 and self_ <= 2.0, "%s: children %.2f self %.2f\n%s" % (
            caller, children, self_, text)
    # callers come first (Children order), before the leaves that do the work
    assert [name for *_, name in rows[:3]] == ["<module>", "main", "driver"], text
    assert by_name["driver"][2] == total, text
    # AND the leaves have Self == Children at their known shares
    near(by_name["work_a"][1], 60, "work_a Self", text)
    near(by_name["work_b"][1], 40, "work_b Self", text)
    assert by_name["work_a"][0] == by_name["work_a"][1], text
    assert [name for *_, name in rows[3:5]] == ["work_a", "work_b"], text


def test_stdio_no_children_sorts_by_self(shape_raw):
    text = report(shape_raw, "--stdio", "--no-children", "--expand", "0")
    lines = text.splitlines()
    assert "# thread: all threads, sort: self" in lines, text
    start = lines.index("     Self   Samples  Function") + 1
    rows = [SELF_ROW_RE.match(l) for l in lines[start:]]
    assert all(rows), text
    names = [func(m.group(3)) for m in rows]
    assert names[:2] == ["work_a", "work_b"], text
    near(float(rows[0].group(1)), 60, "work_a Self", text)
    assert "main" not in names and "<module>" not in names, text   # no Self: no row
    assert "Callers and callees" not in text


def test_callers_and_callees(shape_raw):
    text = report(shape_raw, "--stdio", "--callers", "work_a", "--callees", "driver")
    callers = parse_section(text, "work_a", "callers")
    assert callers == {"driver": 100.0}, text
    callees = parse_section(text, "driver", "callees")
    assert set(callees) <= {"work_a", "work_b", "[self]"}, text
    near(callees["work_a"], 60, "work_a's share of driver", text)
    near(callees["work_b"], 40, "work_b's share of driver", text)
    assert callees.get("[self]", 0.0) <= 2.0, text
    driver_callers = parse_section(text.replace("--callees", ""), "driver", "callees")
    assert driver_callers == callees
    # only the asked-for sections
    assert "\nwork_a (" in text and "\nmain (" not in text.split("# Callers and callees", 1)[1]


def test_collapsed_input_gives_the_same_table(shape_raw, tmp_path):
    collapsed = str(tmp_path / "shape.txt")
    result = e2e.run_pyprof(["convert", shape_raw, "--format", "collapsed", "-o", collapsed])
    assert result.returncode == 0, e2e.describe(result)
    from_raw = parse_table(report(shape_raw, "--stdio"))
    from_collapsed_text = report(collapsed, "--stdio")
    assert "# command: unknown (collapsed input has no metadata)" in from_collapsed_text
    assert parse_table(from_collapsed_text) == from_raw


def test_tui_keys_on_a_terminal(shape_raw):
    # GIVEN pyprof report FILE on a 100x24 terminal (tmux)
    tmux = Tmux(e2e.pyprof_cmd(["report", shape_raw]), width=100, height=24, cwd=e2e.REPO)
    try:
        screen = tmux.wait_for(lambda s: "work_b" in s and "Children" in s, "the report table")
        lines = screen.splitlines()
        assert "sort: children" in lines[0], screen
        rows = tui_rows(screen)
        assert [name for _, name, _ in rows] == ["<module>", "main", "driver", "work_a", "work_b"], screen
        assert [sel for sel, _, _ in rows] == [True, False, False, False, False], screen

        # Down, Enter: the second row (main) expands into its callers and callees
        tmux.keys("Down", "Enter")
        screen = tmux.wait_for(lambda s: "callees:" in s, "main to expand")
        lines = screen.splitlines()
        cur = [i for i, l in enumerate(lines) if l.startswith(">")]
        assert len(cur) == 1 and "- main (" in lines[cur[0]], screen
        assert (True, "main", True) in tui_rows(screen), screen
        assert lines[cur[0] + 1].strip() == "callers:", screen
        assert lines[cur[0] + 2].split()[:3] == ["100.00%", str(rows_total(screen)), "<module>"], screen
        assert lines[cur[0] + 3].strip() == "callees:", screen
        assert lines[cur[0] + 4].split()[:3] == ["100.00%", str(rows_total(screen)), "driver"], screen

        # /work_a: the incremental search filters the table down to work_a
        tmux.keys("/", "work_a")
        screen = tmux.wait_for(lambda s: "/work_a" in s.splitlines()[-1] and "work_b" not in s,
                               "the search to filter")
        assert tui_rows(screen) == [(True, "work_a", False)], screen
        tmux.keys("Enter")
        tmux.wait_for(lambda s: "filter: work_a" in s, "the search to be kept")

        # s: sort by Self (shown in the header)
        tmux.keys("s")
        screen = tmux.wait_for(lambda s: "sort: self" in s.splitlines()[0], "sort by self")
        assert tui_rows(screen) == [(True, "work_a", False)], screen

        # a tiny terminal does not crash it; back to a normal size it draws again
        tmux.resize(12, 3)
        tmux.wait_for(lambda s: "Children" not in s, "the tiny screen")
        tmux.resize(100, 24)
        tmux.wait_for(lambda s: "sort: self" in s and "work_a" in s, "the redraw after resize")

        # q quits with 0 and the terminal is back to normal
        tmux.keys("q")
        code, screen = tmux.wait_exit()
        assert code == 0, screen
        assert terminal_restored(screen), "terminal modes not restored:\n" + screen
        assert "Children" not in screen, "the report was left on the screen:\n" + screen
        assert "Traceback" not in tmux.history()
    finally:
        tmux.close()


def test_tui_ctrl_c_restores_the_terminal(shape_raw):
    tmux = Tmux(e2e.pyprof_cmd(["report", shape_raw]), width=80, height=20, cwd=e2e.REPO)
    try:
        tmux.wait_for(lambda s: "Children" in s, "the report table")
        tmux.keys("Down", "Enter", "C-c")
        code, screen = tmux.wait_exit()
        assert code == 0, screen
        assert terminal_restored(screen), "terminal modes not restored:\n" + screen
        assert "Traceback" not in tmux.history()
    finally:
        tmux.close()
