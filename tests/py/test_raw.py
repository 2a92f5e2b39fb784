"""Tests of pyprof.raw: the raw-format reader and the collapsed output."""

import re

import pytest

from pyprof import raw
from pyprof.raw import Frame, RawFormatError


def lines(records):
    return [r + "\n" for r in records]


def test_reads_every_record_type(raw_file):
    profile = raw.read_raw(raw_file())
    assert profile.meta["pid"] == "1234"
    assert profile.meta["cmdline"] == "python3 app.py --name=<x&y>"
    assert profile.meta["target_exit"] == "exit 0"
    assert profile.stats == {
        "samples": 10,
        "ticks": 6,
        "late_ticks": 1,
        "errors_transient": 2,
        "errors_baddata": 1,
    }
    assert profile.threads == {0: (1234, "MainThread"), 1: (1240, "w\u00f6rker\t1")}
    assert profile.strings[3] == 'Work.run<&"\u00e9>'
    assert profile.frames[1] == Frame("py", "main", "app.py", 25)
    assert profile.frames[3] == Frame("marker", "<unreadable frame>", "", 0)
    assert profile.stacks == [[0, 1, 2], [0, 1], [0, 3]]
    assert profile.counts == [(0, 0, 5), (1, 0, 2), (0, 1, 2), (2, 1, 1)]
    assert profile.timestamps == []
    assert profile.total_samples == 10
    assert profile.stat("truncated") == 0


def test_timestamps(sample_records):
    sample_records.insert(-1, "P\t1\t0\t123456789")
    profile = raw.parse_raw(lines(sample_records))
    assert profile.timestamps == [(1, 0, 123456789)]


@pytest.mark.parametrize(
    "escaped, text",
    [
        ("plain", "plain"),
        ("a\\\\b", "a\\b"),
        ("a\\tb\\nc", "a\tb\nc"),
        ("\\\\t", "\\t"),
        ("odd\\x", "odd\\x"),
        ("trailing\\", "trailing\\"),
    ],
)
def test_unescape(escaped, text):
    assert raw.unescape(escaped) == text


def test_unknown_records_and_blank_lines_are_ignored(sample_records):
    sample_records[1:1] = ["", "Z\t1\t2\t3", "future"]
    profile = raw.parse_raw(lines(sample_records))
    assert profile.total_samples == 10


def test_missing_end_record_is_truncated(sample_records, raw_file):
    path = raw_file("".join(lines(sample_records[:-1])))
    with pytest.raises(RawFormatError, match="truncated raw file"):
        raw.read_raw(path)


def test_file_cut_mid_line_is_truncated(sample_records, raw_file):
    text = "".join(lines(sample_records))
    with pytest.raises(RawFormatError, match="truncated"):
        raw.read_raw(raw_file(text[: text.index("C\t1") + 3]))


def test_empty_file_is_rejected(raw_file):
    with pytest.raises(RawFormatError, match="not a pyprof raw file"):
        raw.read_raw(raw_file(""))


def test_wrong_magic_is_rejected():
    with pytest.raises(RawFormatError, match="not a pyprof raw file"):
        raw.parse_raw(["perf-script\t1\n", "E\n"])


def test_unknown_version_is_rejected():
    with pytest.raises(RawFormatError, match="unsupported raw format version '2'"):
        raw.parse_raw(["pyprof-raw\t2\n", "E\n"])


@pytest.mark.parametrize(
    "record, message",
    [
        ("K\t3\t0 99", "undefined frame id 99"),
        ("C\t7\t0\t1", "undefined stack id 7"),
        ("C\t0\t5\t1", "undefined thread index 5"),
        ("K\t9\t0", "stack id 9 out of sequence"),
        ("C\t0\t0\tmany", "bad 'C' record"),
        ("F\t4\tpy\t0", "bad 'F' record"),
    ],
)
def test_bad_records_are_rejected(sample_records, record, message):
    sample_records.insert(-1, record)
    with pytest.raises(RawFormatError, match=message):
        raw.parse_raw(lines(sample_records))


def test_error_names_the_file_and_line(sample_records, raw_file):
    sample_records.insert(-1, "C\t7\t0\t1")
    path = raw_file("".join(lines(sample_records)))
    with pytest.raises(RawFormatError) as info:
        raw.read_raw(path)
    assert str(info.value).startswith("%s: line %d: " % (path, len(sample_records) - 1))


@pytest.mark.parametrize(
    "frame, text",
    [
        (Frame("py", "main", "app.py", 25), "main (app.py:25)"),
        (Frame("py", "Outer.<locals>.f", "/srv/a b.py", 0), "Outer.<locals>.f (/srv/a b.py:0)"),
        (Frame("native", "deflate", "libz.so.1", 0), "deflate (libz.so.1)"),
        (Frame("native", "0x7f00deadbeef", "", 0), "0x7f00deadbeef"),
        (Frame("marker", "<truncated>", "", 0), "<truncated>"),
        (Frame("py", "a;b\nc\td", "x;y.py", 3), "a:b c d (x:y.py:3)"),
    ],
)
def test_frame_text(frame, text):
    assert raw.frame_text(frame) == text


def test_collapsed_lines_aggregate_threads(raw_file):
    profile = raw.read_raw(raw_file())
    assert list(raw.collapsed_lines(profile)) == [
        "<module> (app.py:30);<unreadable frame> 1",
        "<module> (app.py:30);main (app.py:25) 2",
        '<module> (app.py:30);main (app.py:25);Work.run<&"\u00e9> (app.py:10) 7',
    ]


def test_collapsed_lines_with_thread_roots(raw_file):
    profile = raw.read_raw(raw_file())
    assert list(raw.collapsed_lines(profile, threads=True)) == [
        "thread 1234 (MainThread);<module> (app.py:30);main (app.py:25) 2",
        'thread 1234 (MainThread);<module> (app.py:30);main (app.py:25);Work.run<&"\u00e9> (app.py:10) 5',
        "thread 1240 (w\u00f6rker 1);<module> (app.py:30);<unreadable frame> 1",
        'thread 1240 (w\u00f6rker 1);<module> (app.py:30);main (app.py:25);Work.run<&"\u00e9> (app.py:10) 2',
    ]


def test_thread_without_name():
    assert raw.thread_text(77, "") == "thread 77"


def test_iter_stacks_reports_kinds(raw_file):
    profile = raw.read_raw(raw_file())
    stacks = list(raw.iter_stacks(profile, threads=True))
    frames, count = stacks[3]
    assert count == 1
    assert [kind for _, kind in frames] == ["thread", "py", "marker"]


# --- crafted files (issue 10, defect 8): refused with a clear reason ----------

@pytest.mark.parametrize(
    "record, message",
    [
        ("M\trate_hz\t1e-300", "rate_hz '1e-300' is out of range"),
        ("M\trate_hz\tnan", "rate_hz 'nan' is out of range"),
        ("M\trate_hz\t-100", "rate_hz '-100' is out of range"),
        ("M\trate_hz\tfast", "rate_hz 'fast' is not a number"),
        ("M\tduration_s\tinf", "duration_s 'inf' is out of range"),
        ("M\tduration_s\t1e400", "duration_s '1e400' is out of range"),
        ("M\tduration_s\ttwo", "duration_s 'two' is not a number"),
        ("M\tstart_unix\t1e300", "start_unix '1e300' is out of range"),
        ("M\tpid\t-5", "'-5' is not a non-negative integer"),
        ("C\t0\t0\t-3", "'-3' is not a non-negative integer"),
        ("C\t0\t0\t99999999999999999999999", "is not a non-negative integer"),
        ("C\t0\t0\t\u0661\u0662", "is not a non-negative integer"),   # Arabic-Indic digits: int() takes them
        ("C\t0\t0\t1_000", "'1_000' is not a non-negative integer"),
        ("C\t-1\t0\t1", "'-1' is not a non-negative integer"),
        ("S\tsamples\t-1", "'-1' is not a non-negative integer"),
        ("T\t2\t-7\tx", "'-7' is not a non-negative integer"),
        ("P\t0\t0\t-1", "'-1' is not a non-negative integer"),
        ("K\t3\t0 -1", "'-1' is not a non-negative integer"),   # a negative id indexed from the end
        ("F\t4\tpy\t-1\t1\t3", "'-1' is not a non-negative integer"),
        ("F\t4\tpy\t0\t99\t3", "undefined string id 99"),
        ("F\t4\tpy\tabc\t1\t3", "'abc' is not a non-negative integer"),
        ("F\t4\tpy\t0\t1\t-2", "'-2' is not a non-negative integer"),
    ],
)
def test_crafted_records_are_refused(sample_records, record, message):
    # M records go before the first C record as the sampler writes them; the
    # others at the end, after everything they may refer to
    at = sample_records.index("S\tsamples\t10") if record.startswith("M") else -1
    sample_records.insert(at, record)
    with pytest.raises(RawFormatError, match=re.escape(message)):
        raw.parse_raw(lines(sample_records))


def test_sampler_metadata_values_are_accepted(sample_records):
    for record in ("M\trate_hz\t100000", "M\trate_hz\t1", "M\tduration_s\t0.000",
                   "M\tstart_unix\t1764790000.123456", "M\tpid\t4194304"):
        sample_records.insert(-1, record)
    profile = raw.parse_raw(lines(sample_records))
    assert profile.meta["rate_hz"] == "1" and profile.meta["pid"] == "4194304"


def test_merged_threads_have_tid_minus_one(sample_records, raw_file):
    # the sampler's --max-threads: later threads are counted together as thread -1
    records = [r.replace("T\t1\t1240\tw\u00f6rker\\t1", "T\t1\t-1\t<other threads>") for r in sample_records]
    profile = raw.read_raw(raw_file("".join(r + "\n" for r in records)))
    assert profile.threads[1] == (-1, "<other threads>")
    assert "thread -1 (<other threads>);<module> (app.py:30);<unreadable frame> 1" in \
        list(raw.collapsed_lines(profile, threads=True))
