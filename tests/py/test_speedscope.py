"""Tests of pyprof.speedscope: the file's structure (speedscope's file-format
schema), aggregated and time-ordered (--timeline) profiles."""

import json

from pyprof import __version__, raw, speedscope

UNITS = {"none", "nanoseconds", "microseconds", "milliseconds", "seconds", "bytes"}


def check_schema(doc):
    """Assert what https://www.speedscope.app/file-format-schema.json requires."""
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    frames = doc["shared"]["frames"]
    for frame in frames:
        assert isinstance(frame["name"], str) and frame["name"]
        assert set(frame) <= {"name", "file", "line", "col"}
        if "file" in frame:
            assert isinstance(frame["file"], str)
        if "line" in frame:
            assert isinstance(frame["line"], int) and frame["line"] > 0
    assert set(doc) <= {"$schema", "shared", "profiles", "name", "activeProfileIndex", "exporter"}
    assert doc["profiles"]
    for profile in doc["profiles"]:
        assert set(profile) == {"type", "name", "unit", "startValue", "endValue", "samples", "weights"}
        assert profile["type"] == "sampled"
        assert profile["unit"] in UNITS
        assert len(profile["weights"]) == len(profile["samples"])
        assert all(w >= 0 for w in profile["weights"])
        for stack in profile["samples"]:
            assert all(isinstance(i, int) and 0 <= i < len(frames) for i in stack)
        assert profile["endValue"] >= profile["startValue"]
    assert 0 <= doc["activeProfileIndex"] < len(doc["profiles"])


def stacks_of(doc, profile):
    """{(frame name, ...) root first: total weight} of one profile of *doc*."""
    names = [f["name"] for f in doc["shared"]["frames"]]
    totals = {}
    for stack, weight in zip(profile["samples"], profile["weights"]):
        key = tuple(names[i] for i in stack)
        totals[key] = totals.get(key, 0) + weight
    return totals


def test_aggregated_profile_per_thread(profile):
    text = speedscope.render_profile(profile)
    doc = json.loads(text)
    check_schema(doc)
    assert doc["exporter"] == "pyprof " + __version__
    assert doc["name"] == "python3 app.py --name=<x&y> \u2014 pyprof: 10 samples, 3 errors (23.1%)"
    assert [p["name"] for p in doc["profiles"]] == ["thread 1234 (MainThread)", "thread 1240 (w\u00f6rker 1)"]
    main, worker = doc["profiles"]
    assert main["unit"] == worker["unit"] == "none"
    assert (main["startValue"], main["endValue"]) == (0, 7)
    assert (worker["startValue"], worker["endValue"]) == (0, 3)
    work = ("<module>", "main", 'Work.run<&"\u00e9>')
    assert stacks_of(doc, main) == {work: 5, ("<module>", "main"): 2}
    assert stacks_of(doc, worker) == {work: 2, ("<module>", "<unreadable frame>"): 1}


def test_frames_are_shared_with_file_and_line(profile):
    doc = speedscope.build(profile)
    assert doc["shared"]["frames"] == [
        {"name": "<module>", "file": "app.py", "line": 30},
        {"name": "main", "file": "app.py", "line": 25},
        {"name": 'Work.run<&"\u00e9>', "file": "app.py", "line": 10},
        {"name": "<unreadable frame>"},
    ]


def test_threads_flag_adds_no_root_frame(profile):
    assert speedscope.build(profile, timeline=False) == json.loads(speedscope.render_profile(profile, threads=True))


TIMELINE_RAW = """\
pyprof-raw\t1
M\tcmdline\tpython3 t.py
M\trate_hz\t1000
S\tsamples\t6
T\t0\t10\tMainThread
T\t1\t11\t
s\t0\tmain
s\t1\tt.py
s\t2\tspin
s\t3\tPyNumber_Add
s\t4\tlibpython3.12.so.1.0
F\t0\tpy\t0\t1\t5
F\t1\tpy\t2\t1\t9
F\t2\tnative\t3\t4\t0
K\t0\t0 1
K\t1\t0 2
C\t0\t0\t3
C\t1\t0\t1
C\t0\t1\t2
P\t0\t0\t3000000
P\t1\t1\t2500000
P\t1\t0\t1000000
P\t0\t0\t2000000
P\t0\t1\t4000000
P\t0\t0\t40000000
E
"""


def test_timeline_keeps_samples_in_time_order_weighted_by_time():
    profile = raw.parse_raw(TIMELINE_RAW.splitlines(True))
    doc = json.loads(speedscope.render_profile(profile))
    check_schema(doc)
    frames = doc["shared"]["frames"]
    assert frames[2] == {"name": "PyNumber_Add", "file": "libpython3.12.so.1.0"}
    main, other = doc["profiles"]
    assert (main["name"], other["name"]) == ("thread 10 (MainThread)", "thread 11")
    for p in doc["profiles"]:
        assert p["unit"] == "nanoseconds"
        assert p["startValue"] == 0 and p["endValue"] == sum(p["weights"])
    spin, native = [0, 1], [0, 2]
    # thread 10: samples at 1, 2, 3 and 40 ms (1 ms period); before 1 ms: nothing;
    # the 37 ms gap after 3 ms (> 10 periods) is charged 1 period, then nothing
    assert main["samples"] == [[], native, spin, spin, [], spin]
    assert main["weights"] == [1000000, 1000000, 1000000, 1000000, 36000000, 1000000]
    # thread 11: samples at 2.5 and 4 ms
    assert other["samples"] == [[], native, spin]
    assert other["weights"] == [2500000, 1500000, 1000000]


def test_timeline_can_be_turned_off():
    profile = raw.parse_raw(TIMELINE_RAW.splitlines(True))
    main, other = speedscope.build(profile, timeline=False)["profiles"]
    assert main["unit"] == "none"
    assert sorted(zip(map(tuple, main["samples"]), main["weights"])) == [((0, 1), 3), ((0, 2), 1)]


def test_empty_profile_still_has_a_profile():
    doc = speedscope.build(raw.parse_raw(["pyprof-raw\t1\n", "E\n"]))
    check_schema(doc)
    assert doc["profiles"][0]["samples"] == []
