"""Tests of pyprof.report (aggregation, callers/callees, --stdio, the TUI state)
and of pyprof.top's snapshot arithmetic, on synthetic profiles."""

import curses

import pytest

from pyprof import cli, profile, raw, report, top
from pyprof.profile import ROOT, SELF, Sample


def S(frames, count, thread=None):
    """A sample from a ';'-separated stack of function names."""
    return Sample(tuple(frames.split(";")), thread, count)


def rows_by_name(agg):
    return {r.name: r for r in agg.rows()}


# --------------------------------------------------------------------------- #
# Aggregation
# --------------------------------------------------------------------------- #

def test_caller_without_own_work_has_full_children_and_zero_self():
    # GIVEN main -> driver -> work_a (6 samples) / work_b (4), driver doing nothing itself
    samples = [S("main;driver;work_a", 6), S("main;driver;work_b", 4)]

    # WHEN aggregated
    agg = profile.aggregate(samples)

    # THEN driver is on every stack but never the leaf
    rows = rows_by_name(agg)
    assert agg.total == 10
    assert (rows["driver"].children, rows["driver"].self) == (10, 0)
    assert agg.percent(rows["driver"].children) == 100.0
    assert (rows["work_a"].children, rows["work_a"].self) == (6, 6)
    assert (rows["work_b"].children, rows["work_b"].self) == (4, 4)
    # sorted by Children; on a tie the caller (less Self, nearer the root) comes first
    assert [r.name for r in agg.rows()] == ["main", "driver", "work_a", "work_b"]
    assert [r.name for r in agg.rows("self")] == ["work_a", "work_b", "main", "driver"]


def test_recursion_is_counted_once_per_sample():
    # GIVEN r recursing 3 deep above leaf (5 samples) and r alone as the leaf (5)
    samples = [S("r;r;r;leaf", 5), S("r", 5)]

    agg = profile.aggregate(samples)

    # THEN r's Children is 10 samples (100 %), not 20 (one per frame)
    rows = rows_by_name(agg)
    assert rows["r"].children == 10
    assert agg.percent(rows["r"].children) == 100.0
    assert rows["r"].self == 5
    assert (rows["leaf"].children, rows["leaf"].self) == (5, 5)


def test_recursion_callers_and_callees_count_each_sample_once():
    samples = [S("r;r;r;leaf", 5), S("r", 5)]

    base, rows = profile.callers(samples, "r")
    assert base == 10
    # r is the root in all 10 samples and its own caller in the 5 deep ones (once each)
    assert rows == [(ROOT, 10), ("r", 5)]

    base, rows = profile.callees(samples, "r")
    assert base == 10
    assert dict(rows) == {"r": 5, "leaf": 5, SELF: 5}


def test_callers_and_callees_shares():
    # GIVEN f called by g (3 samples) and by h (1); f calls x in 2 of them, is the leaf in 2
    samples = [S("main;g;f;x", 2), S("main;g;f", 1), S("main;h;f", 1), S("main;other", 6)]

    base, rows = profile.callers(samples, "f")
    assert (base, rows) == (4, [("g", 3), ("h", 1)])
    base, rows = profile.callees(samples, "f")
    assert (base, rows) == (4, [(SELF, 2), ("x", 2)])

    # and --stdio shows them as shares of f's Children samples
    source = profile.Source("collapsed", samples)
    text = report.format_stdio(source, callers_of=["f"], callees_of=["f"])
    section = text.split("\nf  children ", 1)[1]
    assert section.startswith("40.00% (4)  self 20.00% (2)\n")
    assert "     75.00%         3  g" in section
    assert "     25.00%         1  h" in section
    assert "     50.00%         2  [self]" in section
    assert "     50.00%         2  x" in section
    assert "other" not in section


def test_thread_filter_changes_the_base():
    samples = [S("main;a", 3, thread=1), S("main;b", 1, thread=2)]
    agg = profile.aggregate(samples, thread=2)
    assert agg.total == 1
    assert rows_by_name(agg)["b"].self == 1
    assert "a" not in rows_by_name(agg)


def test_match_functions():
    names = ["main (a.py)", "main (b.py)", "work (a.py)", "Work.run (c.py)"]
    assert profile.match_functions(names, "work (a.py)") == ["work (a.py)"]
    assert profile.match_functions(names, "main") == ["main (a.py)", "main (b.py)"]
    assert profile.match_functions(names, "run") == ["Work.run (c.py)"]
    assert profile.match_functions(names, "nothing") == []


# --------------------------------------------------------------------------- #
# Input
# --------------------------------------------------------------------------- #

COLLAPSED = (
    "<module> (app.py:30);main (app.py:25);work (app.py:10) 4\n"
    "<module> (app.py:30);main (app.py:25);work (app.py:12) 2\n"
    "<module> (app.py:30);main (app.py:26);deflate (libz.so.1) 3\n"
)


def test_collapsed_input_merges_lines_of_a_function():
    source = profile.source_from_collapsed(COLLAPSED.splitlines(True))
    agg = profile.aggregate(source.samples)
    rows = rows_by_name(agg)
    assert agg.total == 9
    assert set(rows) == {"<module> (app.py)", "main (app.py)", "work (app.py)", "deflate (libz.so.1)"}
    assert rows["work (app.py)"].self == 6
    assert rows["deflate (libz.so.1)"].self == 3      # a native frame keeps its text
    assert rows["main (app.py)"].children == 9
    assert source.kind == "collapsed" and source.threads == {}


def test_collapsed_input_with_lines_keeps_them():
    source = profile.source_from_collapsed(COLLAPSED.splitlines(True), lines=True)
    rows = rows_by_name(profile.aggregate(source.samples))
    assert rows["work (app.py:10)"].self == 4
    assert rows["work (app.py:12)"].self == 2
    assert rows["main (app.py:25)"].children == 6


def test_collapsed_thread_roots_select_threads():
    text = ("thread 10 (MainThread);main (a.py:1);spin (a.py:2) 5\n"
            "thread 11 (worker-1);run (a.py:9) 2\n")
    source = profile.source_from_collapsed(text.splitlines(True))
    assert source.threads == {10: "MainThread", 11: "worker-1"}
    assert source.thread_label(11) == "11 (worker-1)"
    agg = profile.aggregate(source.samples, 11)
    assert agg.total == 2
    assert list(rows_by_name(agg)) == ["run (a.py)"]
    # the thread root is not a function
    assert not any(r.name.startswith("thread") for r in profile.aggregate(source.samples).rows())


def test_bad_collapsed_line_is_an_error(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("a;b 3\nthis is not collapsed\n")
    with pytest.raises(profile.ReportInputError, match="line 2"):
        profile.load_source(str(path))


def test_load_source_detects_raw(raw_file):
    source = profile.load_source(raw_file())
    assert source.kind == "raw"
    assert source.threads == {1234: "MainThread", 1240: "w\u00f6rker\t1"}
    agg = profile.aggregate(source.samples)
    rows = rows_by_name(agg)
    assert agg.total == 10
    assert rows["<module> (app.py)"].children == 10
    assert rows['Work.run<&"\u00e9> (app.py)'].self == 7
    assert rows["main (app.py)"].self == 2
    assert rows["<unreadable frame>"].self == 1
    assert profile.aggregate(source.samples, 1240).total == 3


# --------------------------------------------------------------------------- #
# --stdio and the command
# --------------------------------------------------------------------------- #

def test_stdio_header_table_and_trees(raw_file):
    text = report.format_stdio(profile.load_source(raw_file()), path="p.raw")
    lines = text.splitlines()
    assert lines[0] == "# pyprof report: p.raw"
    assert lines[1] == "# command: python3 app.py --name=<x&y> (PID 1234, Python 3.11.7, 2.04 s)"
    assert lines[2] == "# samples: 10, errors: 3 (2 transient, 1 bad data)"
    assert lines[3] == "# thread: all threads, sort: children"
    assert lines[5] == " Children      Self   Samples  Function"
    assert lines[6] == "  100.00%     0.00%        10  <module> (app.py)"
    assert lines[7] == "   90.00%    20.00%         9  main (app.py)"
    assert lines[8] == '   70.00%    70.00%         7  Work.run<&"\u00e9> (app.py)'
    assert lines[9] == "   10.00%    10.00%         1  <unreadable frame>"
    assert "# Callers and callees of the top 4 functions" in text
    assert "main (app.py)  children 90.00% (9)  self 20.00% (2)" in lines


def test_stdio_no_children_shows_self_sorted_by_self(raw_file):
    text = report.format_stdio(profile.load_source(raw_file()), children=False, expand=0)
    lines = text.splitlines()
    assert "# thread: all threads, sort: self" in lines
    table = lines[lines.index("#") + 1:]
    assert table == [
        "     Self   Samples  Function",
        '   70.00%         7  Work.run<&"\u00e9> (app.py)',
        "   20.00%         2  main (app.py)",
        "   10.00%         1  <unreadable frame>",
    ]


def test_cli_report_stdio_with_thread_and_callers(raw_file, capsys):
    code = cli.main(["report", raw_file(), "--stdio", "--thread", "1240", "--callers", "Work.run"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert "# thread: 1240 (w\u00f6rker\t1), sort: children" in out
    assert "# samples: 3," in out
    assert "   66.67%    66.67%         2  Work.run" in out
    section = out.split("# Callers and callees", 1)[1]
    assert "  callers:\n    100.00%         2  main (app.py)\n" in section
    assert "callees:" not in section


@pytest.mark.parametrize("argv, message, code", [
    (["--callers", "nosuch"], "pyprof: error: no function matches 'nosuch' in ", 2),
    (["--thread", "999"], "pyprof: error: no thread 999 in ", 2),
    (["--no-children", "--sort", "children"], "pyprof: error: --sort children needs", 2),
])
def test_cli_report_usage_errors_are_one_line(raw_file, capsys, argv, message, code):
    assert cli.main(["report", raw_file(), "--stdio"] + argv) == code
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(message) and err.count("\n") == 1 and "Traceback" not in err


def test_cli_report_bad_files(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path / "missing.raw"), "--stdio"]) == 2
    assert capsys.readouterr().err.startswith("pyprof: error: cannot read ")
    bad = tmp_path / "bad.raw"
    bad.write_text("pyprof-raw\t1\nM\tpid\t1\n")   # truncated
    assert cli.main(["report", str(bad), "--stdio"]) == 1
    err = capsys.readouterr().err
    assert "truncated raw file" in err and "pyprof: hint: " in err and "Traceback" not in err


def test_cli_report_collapsed_file(tmp_path, capsys):
    path = tmp_path / "p.txt"
    path.write_text(COLLAPSED)
    assert cli.main(["report", str(path), "--stdio", "--expand", "0"]) == 0
    out = capsys.readouterr().out
    assert "# command: unknown (collapsed input has no metadata)" in out
    assert "# samples: 9, errors: unknown" in out
    assert "   66.67%    66.67%         6  work (app.py)" in out
    assert "Callers and callees" not in out


# --------------------------------------------------------------------------- #
# The TUI state (no terminal needed)
# --------------------------------------------------------------------------- #

def make_view(**kw):
    samples = [S("main;driver;work_a", 6, 1), S("main;driver;work_b", 3, 1), S("main;idle", 1, 2)]
    source = profile.Source("collapsed", samples, threads={1: "MainThread", 2: "bg"})
    return report.ReportView(source, **kw)


def funcs(view):
    return [line.owner for line in view.lines() if line.kind == "func"]


def test_view_expand_search_sort_and_threads():
    view = make_view()
    assert funcs(view) == ["main", "driver", "work_a", "work_b", "idle"]

    # Down, Enter: driver expands into callers and callees
    view.handle_key(curses.KEY_DOWN)
    view.handle_key("\n")
    texts = [line.text.strip() for line in view.lines()]
    i = texts.index("callers:")
    assert texts[i + 1].split() == ["100.00%", "9", "main"]
    assert texts[i + 2] == "callees:"
    assert texts[i + 3].split() == ["66.67%", "6", "work_a"]
    assert texts[i + 4].split() == ["33.33%", "3", "work_b"]
    assert view.lines()[view.cursor].owner == "driver"

    # Enter on a callee line jumps to that function
    view.cursor = i + 3
    view.handle_key("\n")
    assert view.lines()[view.cursor].kind == "func" and view.lines()[view.cursor].owner == "work_a"

    # incremental search filters, Esc restores
    view.handle_key("/")
    for ch in "work":
        view.handle_key(ch)
    assert funcs(view) == ["work_a", "work_b"]
    view.handle_key("_")
    view.handle_key("b")
    assert funcs(view) == ["work_b"]
    view.handle_key("\x1b")
    assert funcs(view)[0] == "main" and view.search == ""

    # s sorts by Self, c back by Children
    view.handle_key("s")
    assert funcs(view)[:2] == ["work_a", "work_b"] and view.sort == "self"
    view.handle_key("c")
    assert funcs(view)[0] == "main"

    # t: all threads, then thread 1, then thread 2, then all again
    view.handle_key("t")
    assert view.thread == 1 and "idle" not in funcs(view)
    view.handle_key("t")
    assert view.thread == 2 and funcs(view) == ["main", "idle"]
    view.handle_key("t")
    assert view.thread is None
    assert view.handle_key("q") is False


def test_view_no_children_has_no_children_sort():
    view = make_view(children=False, sort="self")
    assert funcs(view) == ["work_a", "work_b", "idle"]       # only functions with Self
    view.handle_key("c")
    assert view.sort == "self" and "no Children column" in view.message


# --------------------------------------------------------------------------- #
# top: last interval vs cumulative
# --------------------------------------------------------------------------- #

def raw_profile(counts):
    """A raw Profile with stacks main;a and main;b sampled *counts* = (a, b) times."""
    records = ["pyprof-raw\t1", "M\tpid\t7", "M\tcmdline\tpython3 w.py", "T\t0\t7\tMainThread",
               "s\t0\tmain", "s\t1\ta", "s\t2\tb", "s\t3\tw.py",
               "F\t0\tpy\t0\t3\t1", "F\t1\tpy\t1\t3\t2", "F\t2\tpy\t2\t3\t3",
               "K\t0\t0 1", "K\t1\t0 2",
               "C\t0\t0\t%d" % counts[0], "C\t1\t0\t%d" % counts[1], "E"]
    return raw.parse_raw([r + "\n" for r in records])


def test_top_shows_last_interval_and_cumulative():
    state = top.TopState(started=0.0)
    state.update(raw_profile((90, 10)), now=1.0)
    state.update(raw_profile((100, 100)), now=2.0)   # last second: a 10, b 90

    assert state.interval_total == 100 and state.cumulative_total == 200
    rows, counts = state.rows()
    first = rows[0]
    assert first.name == "b (w.py)"
    assert (first.own, first.total, first.cum_own, first.cum_total) == (90.0, 90.0, 50.0, 50.0)
    assert counts[("main (w.py)", None)] == 200
    lines = top.table_lines(state)
    assert lines[0].split() == ["Own%", "Total%", "CumOwn%", "CumTotal%", "Samples", "Function"]
    assert lines[1].split() == ["90.0%", "90.0%", "50.0%", "50.0%", "100", "b", "(w.py)"]
    head = top.header_lines(state, 7, 2.0, 100)
    assert head[1].startswith("samples: 100 in the last 1.0 s, 200 in all; errors: 0")
