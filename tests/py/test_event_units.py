"""The unit of a profile follows its event (issue 14): raw meta -> texts, report
header and table, pprof sample types; synthetic raw files per docs/format.md."""

from pyprof import flamegraph, pprof, raw, report
from pyprof.profile import source_from_profile
from test_pprof import Decoded


def _with_meta(raw_file, sample_records, meta):
    records = list(sample_records)
    records[1:1] = ["M\t%s\t%s" % kv for kv in meta]
    return raw.read_raw(raw_file("".join(line + "\n" for line in records)))


FAULTS = (("event", "page-faults"), ("event_unit", "faults"), ("event_period", "10"),
          ("event_period_fixed", "1"), ("native_mode", "perf"))
CLOCK = (("event", "task-clock"), ("event_unit", "ns"), ("event_period", "10000000"),
         ("event_period_fixed", "0"), ("native_mode", "perf"))
OFFCPU = CLOCK + (("value_unit", "ns"), ("offcpu_flag", "1"))


def test_event_texts():
    assert raw.event_text(dict(FAULTS)) == "page-faults (a sample every 10 faults)"
    assert raw.event_count_text(dict(FAULTS), 7) == "70 faults"
    assert raw.event_text(dict(CLOCK)) == "task-clock (a sample every ~10 ms of CPU time)"
    assert raw.event_count_text(dict(CLOCK), 7) == ""  # clock samples stay samples
    one = dict(FAULTS, event="syscalls:sys_enter_openat", event_unit="events", event_period="1")
    assert raw.event_text(one) == "syscalls:sys_enter_openat (a sample every event)"
    assert raw.event_text({}) == "" and raw.event_info({}) is None  # old files: no event


def test_report_header_and_svg_title_name_the_event(raw_file, sample_records):
    p = _with_meta(raw_file, sample_records, FAULTS)
    text = report.format_stdio(source_from_profile(p))
    assert "# event: page-faults (a sample every 10 faults), 10 samples = 100 faults" in text
    assert "10 samples of page-faults (100 faults)" in flamegraph.profile_title(p)
    assert "event page-faults (a sample every 10 faults)" in flamegraph.profile_subtitle(p)


def test_old_profile_has_no_event_line(profile):
    text = report.format_stdio(source_from_profile(profile))
    assert "# event:" not in text and "# samples: 10," in text
    assert "samples of" not in flamegraph.profile_title(profile)


def test_pprof_types_follow_the_event(raw_file, sample_records):
    d = Decoded(pprof.render_profile(_with_meta(raw_file, sample_records, FAULTS)))
    assert d.sample_types == [("samples", "count"), ("page-faults", "faults")]
    assert d.period_type == ("page-faults", "faults") and d.period == 10
    assert all(values[1] == 10 * values[0] for _, values, _ in d.samples)
    d = Decoded(pprof.render_profile(_with_meta(raw_file, sample_records, CLOCK)))
    assert d.sample_types == [("samples", "count"), ("cpu", "nanoseconds")]


def test_offcpu_profile_is_time(raw_file, sample_records):
    p = _with_meta(raw_file, sample_records, OFFCPU)
    d = Decoded(pprof.render_profile(p))
    assert d.sample_types == [("time", "nanoseconds")]
    assert sorted(values[0] for _, values, _ in d.samples) == [1, 2, 2, 5]
    text = report.format_stdio(source_from_profile(p))
    assert "# total: 0.000 s (on and off CPU)" in text and "# values: nanoseconds" in text
    assert "       ms  Function" in text
