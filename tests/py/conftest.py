"""Shared fixtures for pyprof's Python tests: synthetic raw files."""

import os
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

# A small profile, written by hand per docs/format.md: two threads, a marker
# frame, names that need escaping and sanitising, an unknown record type.
SAMPLE_RECORDS = [
    "pyprof-raw\t1",
    "M\tpid\t1234",
    "M\tcmdline\tpython3 app.py --name=<x&y>",
    "M\tpython_version\t3.11.7",
    "M\tmode\tpython",
    "M\trate_hz\t100",
    "M\tduration_s\t2.04",
    "M\ttarget_exit\texit 0",
    "S\tsamples\t10",
    "S\tticks\t6",
    "S\tlate_ticks\t1",
    "S\terrors_transient\t2",
    "S\terrors_baddata\t1",
    "T\t0\t1234\tMainThread",
    "T\t1\t1240\tw\u00f6rker\\t1",
    "s\t0\t<module>",
    "s\t1\tapp.py",
    "s\t2\tmain",
    "s\t3\tWork.run<&\"\u00e9>",
    "s\t4\t<unreadable frame>",
    "s\t5\t",
    "F\t0\tpy\t0\t1\t30",
    "F\t1\tpy\t2\t1\t25",
    "F\t2\tpy\t3\t1\t10",
    "F\t3\tmarker\t4\t5\t0",
    "K\t0\t0 1 2",
    "K\t1\t0 1",
    "K\t2\t0 3",
    "X\ta record type from the future",
    "C\t0\t0\t5",
    "C\t1\t0\t2",
    "C\t0\t1\t2",
    "C\t2\t1\t1",
    "E",
]

SAMPLE_RAW = "".join(line + "\n" for line in SAMPLE_RECORDS)


@pytest.fixture
def sample_records():
    """Return a fresh copy of the sample profile's records (lines without newline)."""
    return list(SAMPLE_RECORDS)


@pytest.fixture
def raw_file(tmp_path):
    """Return a function writing raw text (default: SAMPLE_RAW) to a file; it returns the path."""

    def write(text=SAMPLE_RAW, name="profile.raw"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


@pytest.fixture
def profile(raw_file):
    """The sample profile (SAMPLE_RAW) read by pyprof.raw."""
    from pyprof import raw

    return raw.read_raw(raw_file())
