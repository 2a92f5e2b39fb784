"""Tests of pyprof.flamegraph: SVG validity, content, escaping and layout."""

import xml.etree.ElementTree as ET

import pytest

from pyprof import flamegraph, raw

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg):
    return ET.fromstring(svg.encode("utf-8"))


def frame_boxes(svg):
    """Return {title text: (x, y, width)} for every frame of *svg*."""
    boxes = {}
    for g in parse(svg).find(SVG + "g[@id='frames']"):
        rect = g.find(SVG + "rect")
        boxes[g.find(SVG + "title").text] = (
            float(rect.get("x")),
            float(rect.get("y")),
            float(rect.get("width")),
        )
    return boxes


def test_profile_svg_is_valid_xml_with_all_frames(profile):
    svg = flamegraph.render_profile(profile)
    assert svg.startswith('<?xml version="1.0" encoding="UTF-8"')
    titles = set(frame_boxes(svg))
    assert titles == {
        "all (10 samples, 100.00%)",
        "<module> (app.py:30) (10 samples, 100.00%)",
        "main (app.py:25) (9 samples, 90.00%)",
        'Work.run<&"\u00e9> (app.py:10) (7 samples, 70.00%)',
        "<unreadable frame> (1 samples, 10.00%)",
    }


def test_special_characters_are_escaped(profile):
    svg = flamegraph.render_profile(profile)
    assert "Work.run&lt;&amp;\"\u00e9&gt; (app.py:10)" in svg
    assert "<&" not in svg.split("<g id=\"frames\">")[1]
    root = parse(svg)
    assert root.find(SVG + "text[@id='title']").text.startswith("python3 app.py --name=<x&y>")


def test_invalid_xml_characters_are_replaced():
    svg = flamegraph.render([([("bad\x01name\udcff (a.py:1)", "py")], 3)], title="t\x00")
    titles = list(frame_boxes(svg))
    assert "bad\ufffdname\ufffd (a.py:1) (3 samples, 100.00%)" in titles


def test_title_has_command_samples_and_errors(profile):
    root = parse(flamegraph.render_profile(profile))
    title = root.find(SVG + "text[@id='title']").text
    # error rate: 3 errors of 10 samples + 3 errors
    assert title == "python3 app.py --name=<x&y> \u2014 10 samples, 3 errors (23.1%)"
    subtitle = root.find(SVG + "text[@id='subtitle']").text
    assert "PID 1234" in subtitle and "Python 3.11.7" in subtitle and "2.0 s" in subtitle


def test_title_has_merge_failure_rate_when_counted(sample_records):
    records = list(sample_records)
    records.insert(records.index("S\tsamples\t10"), "S\tmerge_failures\t2")
    profile = raw.parse_raw(line + "\n" for line in records)
    title = parse(flamegraph.render_profile(profile)).find(SVG + "text[@id='title']").text
    assert title.endswith("\u2014 10 samples, 3 errors (23.1%), 2 merge failures (20.0%)")


def test_long_command_is_shortened_but_counts_are_kept():
    profile = raw.parse_raw(["pyprof-raw\t1\n", "M\tcmdline\t%s\n" % ("x" * 300), "S\tsamples\t5\n", "E\n"])
    title = flamegraph.profile_title(profile)
    assert len(title) <= flamegraph.TITLE_CHARS
    assert title.endswith("... \u2014 5 samples, 0 errors (0.0%)")


def test_interactive_parts_are_present(profile):
    svg = flamegraph.render_profile(profile)
    root = parse(svg)
    assert root.find(SVG + "text[@id='unzoom']").text == "Reset Zoom"
    box = root.find(".//{http://www.w3.org/1999/xhtml}input[@id='search']")
    assert box is not None and "Ctrl-F" in box.get("placeholder")
    assert root.find(SVG + "text[@id='matched']") is not None
    script = root.find(SVG + "script").text
    for needle in ("function zoom(", "function unzoom(", "function search(", "% of samples", "ctrlKey",
                   "searchBox.focus()", '"total": 10'):
        assert needle in script
    assert "window.prompt" not in script
    assert root.get("onload") == "init(evt)"


def test_legend_names_every_kind_with_its_colour(profile):
    legend = parse(flamegraph.render_profile(profile)).find(SVG + "g[@id='legend']")
    items = {g.get("data-kind"): (g.find(SVG + "text").text, g.find(SVG + "rect").get("fill")) for g in legend}
    assert [kind for kind, _ in flamegraph.LEGEND] == list(items)
    assert {label for label, _ in items.values()} == {
        "Python", "native", "interpreter", "kernel", "marker", "thread/process"}
    assert len({fill for _, fill in items.values()}) == len(items)
    for kind, (_, fill) in items.items():
        assert fill == flamegraph.kind_color(kind)


def hue_family(color):
    """Classify an ``rgb(r,g,b)`` colour as warm, aqua, blue, grey, green or lavender."""
    r, g, b = (int(v) for v in color[4:-1].split(","))
    if r >= 200 and b <= 60:
        return "warm"
    if max(r, g, b) - min(r, g, b) <= 10:
        return "grey"
    if g > r + 50 and g > b + 50:
        return "green"
    if b >= 225 and r >= 155:
        return "lavender"
    if b >= 225 and g < 155:
        return "blue"
    if b >= 190 and g >= 165 and r <= 110:
        return "aqua"
    return "other"


@pytest.mark.parametrize(
    "text, kind, family",
    [
        ("work (app.py:10)", "py", "warm"),
        ("<module> (python3.11.py:1)", "py", "warm"),  # a Python file, whatever its name
        ("deflate (libz.so.1)", "native", "aqua"),
        ("_PyEval_EvalFrameDefault (libpython3.11.so.1.0)", "native", "blue"),
        ("PyObject_Call (python3.12)", "native", "blue"),
        ("PyObject_Call (/usr/bin/python3.11)", "native", "blue"),
        ("pythonic_helper (libpythonic.so)", "native", "aqua"),
        ("do_syscall_64 ([kernel])", "native", "grey"),
        ("<truncated>", "marker", "green"),
        ("thread 7 (Main)", "thread", "lavender"),
        ("process 9 (python3 a.py)", "process", "lavender"),
    ],
)
def test_frames_are_coloured_by_kind(text, kind, family):
    svg = flamegraph.render([([(text, kind)], 1)])
    fills = {g.find(SVG + "title").text: g.find(SVG + "rect").get("fill")
             for g in parse(svg).find(SVG + "g[@id='frames']")}
    fill = fills["%s (1 samples, 100.00%%)" % text]
    assert hue_family(fill) == family, fill
    # the legend's colour for that kind is in the same family
    legend_kind = flamegraph.display_kind(text, kind)
    assert hue_family(flamegraph.kind_color("thread" if legend_kind == "process" else legend_kind)) == family


@pytest.mark.parametrize(
    "module, kind",
    [
        ("libpython3.11.so.1.0", "interp"),
        ("python3.8", "interp"),
        ("/opt/py/lib/libpython3.13.so", "interp"),
        ("[kernel]", "kernel"),
        ("libc.so.6", "native"),
        ("python", "native"),  # no version digit: not recognisably the interpreter
        ("mypython3.so", "native"),
    ],
)
def test_native_kind(module, kind):
    assert flamegraph.native_kind(module) == kind


def test_thread_roots(profile):
    titles = set(frame_boxes(flamegraph.render_profile(profile, threads=True)))
    assert "thread 1234 (MainThread) (7 samples, 70.00%)" in titles
    assert "thread 1240 (w\u00f6rker 1) (3 samples, 30.00%)" in titles


def test_classic_layout_puts_root_at_the_bottom(profile):
    boxes = frame_boxes(flamegraph.render_profile(profile))
    root = boxes["all (10 samples, 100.00%)"]
    module = boxes["<module> (app.py:30) (10 samples, 100.00%)"]
    main = boxes["main (app.py:25) (9 samples, 90.00%)"]
    marker = boxes["<unreadable frame> (1 samples, 10.00%)"]
    assert root[1] > module[1] > main[1]
    assert root[0] == module[0] == marker[0]  # siblings sorted by name: '<' before 'm'
    assert main[0] == pytest.approx(marker[0] + marker[2])
    assert main[2] == pytest.approx(root[2] * 0.9)


def test_icicle_layout_puts_root_at_the_top(profile):
    boxes = frame_boxes(flamegraph.render_profile(profile, icicle=True))
    assert boxes["all (10 samples, 100.00%)"][1] < boxes["main (app.py:25) (9 samples, 90.00%)"][1]


def test_narrow_frames_are_left_out():
    stacks = [([("hot (a.py:1)", "py")], 5000), ([("cold (a.py:2)", "py")], 4)]
    titles = list(frame_boxes(flamegraph.render(stacks)))
    assert any(t.startswith("hot") for t in titles)
    assert not any(t.startswith("cold") for t in titles)


def test_empty_profile_is_valid():
    root = parse(flamegraph.render([], title="nothing"))
    assert root.find(".//" + SVG + "text[@id='empty']").text == "No samples"


def test_render_collapsed_merges_and_guesses_kinds():
    pairs = [
        ("thread 7 (Main);main (a.py:1);deflate (libz.so.1)", 2),
        ("thread 7 (Main);main (a.py:1);<truncated>", 2),
    ]
    svg = flamegraph.render_collapsed(pairs, title="collapsed")
    fills = {}
    for g in parse(svg).find(SVG + "g[@id='frames']"):
        fills[g.find(SVG + "title").text.split(" (")[0]] = g.find(SVG + "rect").get("fill")
    assert set(fills) == {"all", "thread 7", "main", "deflate", "<truncated>"}
    assert len(set(fills.values())) == 5


@pytest.mark.parametrize(
    "text, kind",
    [
        ("main (app.py:10)", "py"),
        ("f (weird (dir)/a.py:3)", "py"),
        ("deflate (libz.so.1)", "native"),
        ("<truncated>", "marker"),
        ("thread 12 (MainThread)", "thread"),
        ("process 99 (python3 app.py)", "process"),
        ("threaded (a.py:1)", "py"),
    ],
)
def test_frame_kind(text, kind):
    assert flamegraph.frame_kind(text) == kind


def test_same_name_same_color_and_python_frames_are_warm():
    color = flamegraph.frame_color("work (a.py:1)", "py")
    assert color == flamegraph.frame_color("work (a.py:1)", "py")
    red, green, blue = (int(v) for v in color[4:-1].split(","))
    assert red >= 205 and blue <= 55 and green <= 230


@pytest.mark.parametrize(
    "width, label",
    [(1000, "function (file.py:1)"), (100, "function (f.."), (20, ""), (5, "")],
)
def test_fit_label(width, label):
    assert flamegraph.fit_label("function (file.py:1)", width) == label


@pytest.mark.parametrize("path, root, short", [
    ("/srv/app/.venv/lib/python3.11/site-packages/flask/app.py", None, "flask/app.py"),
    ("/usr/lib/python3/dist-packages/werkzeug/serving.py", None, "werkzeug/serving.py"),
    ("/usr/lib/python3.11/json/encoder.py", None, "<stdlib>/json/encoder.py"),
    ("/root/.pyenv/versions/3.13.0/lib/python3.13/threading.py", "/root", "<stdlib>/threading.py"),
    ("/srv/app/views/home.py", "/srv/app", "views/home.py"),
    ("/srv/app/views/home.py", "/srv/other", "/srv/app/views/home.py"),
    ("<frozen importlib._bootstrap>", "/srv/app", "<frozen importlib._bootstrap>"),
    ("app.py", None, "app.py"),
])
def test_short_path(path, root, short):
    assert flamegraph.short_path(path, root) == short


def _two_line_profile():
    records = ["pyprof-raw\t1", "T\t0\t7\tMainThread", "s\t0\tmain", "s\t1\t/srv/app/app.py",
               "s\t2\tcompute", "F\t0\tpy\t0\t1\t3", "F\t1\tpy\t2\t1\t10", "F\t2\tpy\t2\t1\t11",
               "K\t0\t0 1", "K\t1\t0 2", "C\t0\t0\t3", "C\t1\t0\t5", "S\tsamples\t8", "E"]
    return raw.parse_raw(line + "\n" for line in records)


def test_one_box_per_function_with_short_labels():
    svg = flamegraph.render_profile(_two_line_profile(), lines=False, root="/srv/app")
    root = parse(svg)
    groups = list(root.find(SVG + "g[@id='frames']"))
    titles = [g.find(SVG + "title").text for g in groups]
    assert "compute (/srv/app/app.py) (8 samples, 100.00%)" in titles  # both lines: one box
    labels = [g.get("data-label") for g in groups]
    assert "compute (app.py)" in labels and "main (app.py)" in labels
    per_line = flamegraph.render_profile(_two_line_profile(), lines=True, root="/srv/app")
    per_line_labels = [g.get("data-label") for g in parse(per_line).find(SVG + "g[@id='frames']")]
    assert "compute (app.py:10)" in per_line_labels and "compute (app.py:11)" in per_line_labels
    script = root.find(SVG + "script").text
    assert "function fillWidth(" in script and 'getAttribute("data-label")' in script
