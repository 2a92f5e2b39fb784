"""Outputs and error paths under hostile or odd conditions (issue 10).

Root must never be made to write through a symlink planted in a shared
directory; -o naming a FIFO, a device or standard output is written in place;
errors name the -o path; crafted inputs and command lines get a clear error;
Ctrl-C at start-up prints no traceback of pyprof's.
"""
import os
import random
import re
import signal
import stat
import subprocess
import sys
import time

import pytest

import pyprof_e2e as e2e
from test_errors import EXIT_UNSUPPORTED_VERSION, EXIT_USAGE, assert_error

EXIT_OUTPUT = 8
FORMATS = {"collapsed": "txt", "raw": "raw", "flamegraph": "svg"}


def record_args(out, fmt, python, duration=0.5):
    return ["record", "-o", str(out), "--format", fmt, "-d", str(duration), "-F", "200",
            "--", python, e2e.workload("split.py"), "30"]


def check_complete(path, fmt):
    text = open(path, encoding="utf-8").read()
    if fmt == "collapsed":
        assert e2e.parse_collapsed(text), "empty collapsed output"
    elif fmt == "raw":
        assert text.startswith("pyprof-raw\t1\n") and text.endswith("E\n")
    else:
        assert text.startswith("<?xml") and text.rstrip().endswith("</svg>")


@pytest.mark.skipif(os.geteuid() != 0, reason="the attack is on root's pyprof")
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_symlinks_planted_at_the_old_temp_names_are_not_followed(fmt, any_interp, tmp_path):
    # GIVEN a shared, world-writable directory where another user planted
    # symlinks at <OUT>.tmp.<pid> for the next few hundred PIDs, pointing at
    # a root-owned file
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    victim = tmp_path / "victim"
    victim.write_text("root's precious file\n")
    out = shared / ("profile." + FORMATS[fmt])
    last = int(open("/proc/sys/kernel/ns_last_pid").read())
    planted = ["%s.tmp.%d" % (out, pid) for pid in range(last + 1, last + 600)]
    for link in planted:
        os.symlink(str(victim), link)
        os.lchown(link, 65534, 65534)
    # WHEN root records a profile to that directory
    result = e2e.run_pyprof(record_args(out, fmt, any_interp.path))
    # THEN the victim is untouched, the output is a complete regular file of
    # root's alone, and every planted link is still a link where it was
    assert result.returncode == 0, e2e.describe(result)
    assert victim.read_text() == "root's precious file\n", "pyprof wrote through a planted symlink"
    st = os.lstat(str(out))
    assert stat.S_ISREG(st.st_mode) and st.st_mode & 0o777 == 0o600, oct(st.st_mode)
    check_complete(str(out), fmt)
    assert all(os.path.islink(link) for link in planted)
    assert sorted(os.listdir(str(shared))) == sorted([out.name] + [os.path.basename(p) for p in planted])


def device(directory, name, minor):
    """A private copy of /dev/null (minor 3) or /dev/full (7): a pyprof that
    replaced devices would replace this one, never the host's own."""
    path = directory / name
    os.mknod(str(path), 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    return path


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_dev_full_is_a_clear_error_and_stays_a_device(fmt, any_interp, tmp_path):
    full = device(tmp_path, "full", 7)
    result = e2e.run_pyprof(record_args(full, fmt, any_interp.path))
    error, _ = assert_error(result, EXIT_OUTPUT)
    assert error == "pyprof: error: cannot write %s: No space left on device" % full
    assert stat.S_ISCHR(os.lstat(str(full)).st_mode), "the device was replaced"
    assert os.listdir(str(tmp_path)) == ["full"]


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_dev_null_and_a_fifo_are_written_in_place(fmt, any_interp, tmp_path):
    null = device(tmp_path, "null", 3)
    result = e2e.run_pyprof(record_args(null, fmt, any_interp.path))
    assert result.returncode == 0, e2e.describe(result)
    assert stat.S_ISCHR(os.lstat(str(null)).st_mode), "the device was replaced"
    fifo = tmp_path / "fifo"
    os.mkfifo(str(fifo))
    received = tmp_path / "received"
    reader = e2e.spawn(["sh", "-c", 'cat "$1" > "$2"', "sh", str(fifo), str(received)])
    result = e2e.run_pyprof(record_args(fifo, fmt, any_interp.path))
    assert result.returncode == 0, e2e.describe(result)
    assert reader.wait(timeout=30) == 0
    check_complete(str(received), fmt)
    assert stat.S_ISFIFO(os.lstat(str(fifo)).st_mode), "the FIFO was replaced"
    assert sorted(os.listdir(str(tmp_path))) == ["fifo", "null", "received"]


def test_dash_writes_the_profile_to_stdout(any_interp):
    result = e2e.run_pyprof(record_args("-", "collapsed", any_interp.path))
    assert result.returncode == 0, e2e.describe(result)
    assert result.stderr.startswith("ready\n"), "the launched command's stdout goes to stderr"
    stacks = e2e.parse_collapsed(result.stdout)
    assert any("split.py" in frame for stack in stacks for frame in stack), e2e.describe(result)
    assert result.stderr.rstrip().endswith("-> <stdout>"), e2e.describe(result)


def test_unwritable_output_is_named_in_the_error(any_interp, tmp_path):
    result = e2e.run_pyprof(record_args("/proc/version", "collapsed", any_interp.path))
    error, _ = assert_error(result, EXIT_OUTPUT, tmp_path)
    assert error.startswith("pyprof: error: cannot write /proc/version: "), e2e.describe(result)
    assert ".tmp" not in result.stderr


def test_absurd_duration_is_a_usage_error(any_interp, tmp_path):
    result = e2e.run_pyprof(record_args(tmp_path / "out.txt", "collapsed", any_interp.path, "1e300"))
    error, _ = assert_error(result, EXIT_USAGE, tmp_path)
    assert "--duration must be at most" in error


def test_crafted_raw_metadata_is_a_clear_error(tmp_path):
    path = tmp_path / "crafted.raw"
    for record in ("M\trate_hz\t1e-300", "M\tduration_s\tinf", "M\tduration_s\tlots", "C\t0\t0\t-4"):
        path.write_text("pyprof-raw\t1\n%s\nT\t0\t1\tx\ns\t0\tf\nF\t0\tpy\t0\t0\t1\nK\t0\t0\nC\t0\t0\t3\nE\n"
                        % record)
        for command in (["convert", str(path), "--format", "pprof"], ["report", "--stdio", str(path)]):
            result = e2e.run_pyprof(command)
            assert result.returncode not in (0, 2), e2e.describe(result)
            assert "internal error" not in result.stderr and "Traceback" not in result.stderr, e2e.describe(result)
            assert str(path) in result.stderr.splitlines()[0], e2e.describe(result)
    assert os.listdir(str(tmp_path)) == ["crafted.raw"]


def test_ctrl_c_at_start_up_prints_no_traceback_of_pyprof(any_interp, tmp_path):
    # SIGINT at random moments of pyprof's first 60 ms (imports, argument
    # parsing, starting the sampler).  The interpreter's own start-up (the
    # site module, runpy for -m, before any of pyprof's code runs) may still
    # print its "Failed to import the site module" or "Could not import runpy
    # module" traceback: that one is not ours.
    rng = random.Random()
    seen = []
    for _ in range(20):
        proc = e2e.start_pyprof(["record", "-o", str(tmp_path / "o.svg"), "-d", "2", "--", any_interp.path,
                                 "-c", "pass"])
        time.sleep(rng.uniform(0, 0.06))
        proc.send_signal(signal.SIGINT)
        result = e2e.finish_pyprof(proc, timeout=60)
        # ours: a traceback through pyprof's own files (the interpreter's
        # start-up, before pyprof runs, has none)
        if re.search(r'File "[^"]*/pyprof/[^"]*\.py"', result.stderr):
            seen.append(result)
    assert not seen, "a KeyboardInterrupt traceback:\n" + e2e.describe(seen[0])


@pytest.mark.parametrize("minor", [(2, 7), (3, 6)])
def test_python_2_7_and_3_6_targets_are_unsupported_versions(minor, tmp_path):
    # GIVEN pyenv's Python 2.7 / 3.6 (skip when absent)
    root = e2e.pyenv_root()
    found = sorted((root / "versions").glob("%d.%d.*" % minor)) if root else []
    exe = [p / "bin" / ("python%d.%d" % minor) for p in found if (p / "bin" / ("python%d.%d" % minor)).exists()]
    if not exe:
        pytest.skip("pyenv Python %d.%d is not installed" % minor)
    # WHEN pyprof launches a program with it
    result = e2e.run_pyprof(["record", "-o", str(tmp_path / "out.txt"), "--format", "collapsed", "-d", "2",
                             "--", str(exe[-1]), "-c", "while 1: pass"])
    # THEN the CLI passes on the sampler's "unsupported Python version" (6)
    assert_error(result, EXIT_UNSUPPORTED_VERSION, tmp_path)
