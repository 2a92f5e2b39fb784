"""Tests of the pyprof CLI: usage errors, exit codes, record orchestration
(with a fake sampler), convert, and ``python -m pyprof`` argument splitting."""

import gzip
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from pyprof import cli, errors, flamegraph, output, render, sampler
from pyprof.__main__ import split_argv

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Stands in for pyprof-sampler: logs its arguments, then behaves as FAKE_MODE says.
FAKE_SAMPLER = """#!{python}
import os, signal, sys, time
argv = sys.argv[1:]
log = os.environ["FAKE_LOG"]
with open(log, "w") as f:
    f.write("\\n".join(argv) + "\\n")
mode = os.environ.get("FAKE_MODE", "ok")
if mode.startswith("exit"):
    sys.stderr.write("pyprof: error: fake failure\\n")
    sys.exit(int(mode[4:]))
if mode == "crash":
    os.kill(os.getpid(), signal.SIGKILL)
if mode == "wait":
    got = []
    signal.signal(signal.SIGTERM, lambda signum, frame: got.append(signum))
    signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))
    open(log + ".ready", "w").close()
    deadline = time.time() + 20
    while not got and time.time() < deadline:
        time.sleep(0.01)
    with open(log, "a") as f:
        f.write("signals %s\\n" % got)

def option(name):
    return argv[argv.index(name) + 1] if name in argv else None

with open(option("--raw"), "w") as f:
    f.write(os.environ["FAKE_RAW"])
if option("--collapsed"):
    with open(option("--collapsed"), "w") as f:
        f.write("a;b 1\\n")
"""

SUMMARY = (
    "pyprof: 10 samples, 3 errors (2 transient, 1 bad data), 1 late ticks, 2.0 s, "
    "PID 1234 (python3 app.py --name=<x&y>), target exit 0 -> %s"
)


@pytest.fixture
def fake_sampler(tmp_path, monkeypatch, raw_file):
    """Install the fake sampler as $PYPROF_SAMPLER; return a function reading its argument log."""
    path = tmp_path / "fake-sampler"
    path.write_text(FAKE_SAMPLER.format(python=sys.executable))
    path.chmod(0o755)
    log = tmp_path / "sampler.log"
    with open(raw_file()) as f:
        monkeypatch.setenv("FAKE_RAW", f.read())
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv(sampler.ENV_VAR, str(path))
    monkeypatch.chdir(tmp_path)
    return lambda: log.read_text().splitlines()


def error_lines(capsys):
    return capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "no command given"),
        (["bogus"], "invalid choice: 'bogus'"),
        (["record"], "nothing to profile"),
        (["record", "--"], "no command after '--'"),
        (["record", "--pid", "1", "--", "python3"], "not both"),
        (["record", "--pid", "0"], "invalid PID 0"),
        (["record", "--pid", "abc"], "invalid int value: 'abc'"),
        (["record", "--pid", "1", "-F", "0"], "--rate must be between 1 and 100000 Hz, not 0"),
        (["record", "--pid", "1", "--rate", "100001"], "not 100001"),
        (["record", "--pid", "1", "-d", "0"], "--duration must be a positive number"),
        (["record", "--pid", "1", "-d", "-1"], "--duration must be a positive number"),
        (["record", "--pid", "1", "-d", "nan"], "--duration must be a positive number"),
        (["record", "--pid", "1", "-d", "1e300"], "--duration must be at most 10000000 seconds"),
        (["record", "--pid", "1", "-d", "inf"], "--duration must be a positive number"),
        (["record", "--pid", "1", "--format", "svg"], "invalid choice: 'svg'"),
        (["record", "--pid", "1", "--nonsense"], "unrecognized arguments: --nonsense"),
        (["record", "--pi", "1"], "unrecognized arguments: --pi"),
        (["dump"], "dump needs the process: pyprof dump --pid PID"),
        (["top"], "top needs the process: pyprof top --pid PID"),
        (["dump", "--pid", "12", "13"], "two PIDs given (--pid 12 and 13)"),
        (["dump", "-3"], "invalid PID -3"),
        (["dump", "--pid", "-3"], "invalid PID -3"),
        (["convert"], "required: RAWFILE"),
        (["version", "--", "x"], "only 'record' takes a command"),
    ],
)
def test_usage_errors(capsys, argv, message):
    assert cli.main(argv) == errors.EXIT_USAGE
    lines = error_lines(capsys)
    assert len(lines) == 1
    assert lines[0].startswith("pyprof: error: ")
    assert message in lines[0]


def test_version(capsys):
    assert cli.main(["version"]) == 0
    assert capsys.readouterr().out == "pyprof 0.1.0\n"


def test_help_exits_zero(capsys):
    assert cli.main(["record", "--help"]) == 0
    assert "--pid PID" in capsys.readouterr().out


def test_sampler_not_found(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv(sampler.ENV_VAR, raising=False)
    monkeypatch.setattr(sampler, "_PACKAGE_DIR", str(tmp_path / "pyprof"))
    assert cli.main(["record", "--pid", "1"]) == errors.EXIT_INTERNAL
    assert error_lines(capsys) == [
        "pyprof: error: the sampler binary was not found",
        "pyprof: hint: run 'make' in the source tree or reinstall with 'pip install .'",
    ]


def test_sampler_env_var_must_name_an_executable(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv(sampler.ENV_VAR, str(tmp_path / "missing"))
    assert cli.main(["dump", "--pid", "1"]) == errors.EXIT_INTERNAL
    assert "PYPROF_SAMPLER=" in error_lines(capsys)[0]


def test_sampler_search_order(monkeypatch, tmp_path):
    monkeypatch.delenv(sampler.ENV_VAR, raising=False)
    package = tmp_path / "pyprof"
    monkeypatch.setattr(sampler, "_PACKAGE_DIR", str(package))
    built = tmp_path / "build" / "pyprof-sampler"
    installed = package / "_bin" / "pyprof-sampler"
    for path in (built, installed):
        path.parent.mkdir(parents=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    assert sampler.find_sampler() == str(installed)
    installed.unlink()
    assert sampler.find_sampler() == str(built)


def test_record_flamegraph(capsys, fake_sampler, tmp_path):
    out = str(tmp_path / "out.svg")
    argv = ["record", "--pid", "42", "-o", out, "-F", "250", "-d", "1.5", "--threads", "--idle", "-v"]
    assert cli.main(argv) == 0
    log = fake_sampler()
    raw_path = log[log.index("--raw") + 1]
    # the sampler removes pyprof's temp dir if pyprof dies first
    assert log == ["record", "--cleanup-dir", os.path.dirname(raw_path), "--pid", "42", "--raw", raw_path,
                   "--no-summary", "--rate", "250", "--duration", "1.5", "--threads", "--idle", "-v"]
    assert not os.path.exists(raw_path)  # the temporary raw file is gone
    titles = [t.text for t in ET.parse(out).iter("{http://www.w3.org/2000/svg}title")]
    assert "thread 1234 (MainThread) (7 samples, 70.00%)" in titles
    assert error_lines(capsys) == [SUMMARY % out]
    assert not [name for name in os.listdir(str(tmp_path)) if ".tmp." in name]


def test_record_command_collapsed_default_name(capsys, fake_sampler, tmp_path):
    assert cli.main(["record", "--format", "collapsed", "--timestamps", "--", "/usr/bin/python3", "app.py", "-x"]) == 0
    log = fake_sampler()
    # the sampler writes into pyprof's temp dir; pyprof writes the output
    sampler_out = log[log.index("--collapsed") + 1]
    assert os.path.dirname(sampler_out) == os.path.dirname(log[log.index("--raw") + 1])
    assert not os.path.exists(sampler_out)
    (out,) = [name for name in os.listdir(str(tmp_path)) if name.startswith("pyprof-")]
    assert re.match(r"pyprof-python3-\d{8}-\d{6}\.txt$", out)
    assert log[-5:] == ["--timestamps", "--", "/usr/bin/python3", "app.py", "-x"]
    assert (tmp_path / out).read_text() == "a;b 1\n"
    assert error_lines(capsys) == [SUMMARY % out]


def test_record_raw_is_copied_from_the_sampler(capsys, fake_sampler, tmp_path):
    assert cli.main(["record", "--pid", "42", "--format", "raw", "-o", "p.raw"]) == 0
    log = fake_sampler()
    assert log[log.index("--raw") + 1] != "p.raw"  # written in pyprof's temp dir, then copied
    assert "--collapsed" not in log
    assert (tmp_path / "p.raw").read_text().startswith("pyprof-raw\t1\n")
    assert error_lines(capsys) == [SUMMARY % "p.raw"]


def test_record_passes_the_sampler_exit_code(capfd, fake_sampler, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "exit3")
    assert cli.main(["record", "--pid", "42"]) == 3
    assert error_lines(capfd) == ["pyprof: error: fake failure"]  # printed by the sampler only


def test_record_reports_a_crashed_sampler(capsys, fake_sampler, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "crash")
    assert cli.main(["record", "--pid", "42"]) == errors.EXIT_INTERNAL
    assert error_lines(capsys)[0] == "pyprof: error: the sampler was killed by signal 9"


def test_record_output_directory_must_exist(capsys, fake_sampler):
    assert cli.main(["record", "--pid", "42", "-o", "missing/out.svg"]) == errors.EXIT_OUTPUT
    assert error_lines(capsys)[0].startswith("pyprof: error: cannot write missing/out.svg: no such directory")
    with pytest.raises(FileNotFoundError):
        fake_sampler()  # never started


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_record_forwards_stop_signals_to_the_sampler(fake_sampler, tmp_path, signum):
    # pyprof itself survives SIGINT/SIGTERM; the sampler gets the signal,
    # ends the recording, and pyprof renders what it wrote.
    env = dict(os.environ, FAKE_MODE="wait", PYTHONPATH=REPO_ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyprof", "record", "--pid", "42", "-o", "out.svg"],
        cwd=str(tmp_path), env=env, stderr=subprocess.PIPE, universal_newlines=True,
    )
    ready = tmp_path / "sampler.log.ready"
    deadline = time.time() + 20
    while not ready.exists() and time.time() < deadline:
        time.sleep(0.01)
    assert ready.exists()
    proc.send_signal(signum)  # to pyprof only: forwarded
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert fake_sampler()[-1] == "signals [%d]" % signum
    assert err.splitlines() == [SUMMARY % "out.svg"]
    ET.parse(str(tmp_path / "out.svg"))


def test_convert_collapsed(capsys, raw_file, tmp_path):
    path = raw_file()
    assert cli.main(["convert", path, "--format", "collapsed", "--threads"]) == 0
    out = tmp_path / "profile.txt"
    assert out.read_text(encoding="utf-8").splitlines()[0] == (
        "thread 1234 (MainThread);<module> (app.py:30);main (app.py:25) 2"
    )
    assert error_lines(capsys) == [SUMMARY % out]


def test_convert_flamegraph(raw_file, tmp_path):
    out = str(tmp_path / "graph.svg")
    assert cli.main(["convert", raw_file(), "-o", out]) == 0
    ET.parse(out)


def test_convert_speedscope_default_name(capsys, raw_file, tmp_path):
    assert cli.main(["convert", raw_file(), "--format", "speedscope"]) == 0
    out = tmp_path / "profile.speedscope.json"
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    assert [p["name"] for p in doc["profiles"]] == ["thread 1234 (MainThread)", "thread 1240 (w\u00f6rker 1)"]
    assert error_lines(capsys) == [SUMMARY % out]


def test_convert_pprof_default_name(capsys, raw_file, tmp_path):
    assert cli.main(["convert", raw_file(), "--format", "pprof", "--threads"]) == 0
    out = tmp_path / "profile.pb.gz"
    data = gzip.decompress(out.read_bytes())
    assert b"thread 1240 (w\xc3\xb6rker 1)" in data and b"main" in data
    assert error_lines(capsys) == [SUMMARY % out]


def test_convert_cannot_write_raw(capsys, raw_file):
    assert cli.main(["convert", raw_file(), "--format", "raw"]) == errors.EXIT_USAGE
    assert "invalid choice: 'raw'" in error_lines(capsys)[0]


@pytest.mark.parametrize("fmt, magic", [("speedscope", b"{"), ("pprof", b"\x1f\x8b")])
def test_record_renders_speedscope_and_pprof(capsys, fake_sampler, tmp_path, fmt, magic):
    out = tmp_path / ("out." + render.EXTENSIONS[fmt])
    assert cli.main(["record", "--pid", "42", "--format", fmt, "--timeline", "-o", str(out)]) == 0
    log = fake_sampler()
    assert "--collapsed" not in log
    assert "--timestamps" in log  # --timeline is the sampler's --timestamps
    assert out.read_bytes().startswith(magic)
    assert error_lines(capsys) == [SUMMARY % out]


def test_convert_missing_file(capsys, tmp_path):
    assert cli.main(["convert", str(tmp_path / "nope.raw")]) == errors.EXIT_USAGE
    assert error_lines(capsys)[0].startswith("pyprof: error: cannot read ")


def test_convert_truncated_file(capsys, raw_file):
    path = raw_file("pyprof-raw\t1\nM\tpid\t1\n")
    assert cli.main(["convert", path]) == errors.EXIT_INTERNAL
    lines = error_lines(capsys)
    assert lines[0] == "pyprof: error: %s: truncated raw file (no 'E' record at the end)" % path
    assert lines[1].startswith("pyprof: hint: ")


def test_internal_error_has_no_traceback_unless_verbose(capsys, raw_file, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(flamegraph, "render_profile", broken)
    assert cli.main(["convert", raw_file()]) == errors.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "pyprof: error: internal error: RuntimeError: boom",
        "pyprof: hint: rerun with -v and report it",
    ]
    assert cli.main(["convert", raw_file(), "-v"]) == errors.EXIT_INTERNAL
    assert "Traceback" in capsys.readouterr().err


def test_keyboard_interrupt_exits_130_quietly(capsys, raw_file, monkeypatch, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(flamegraph, "render_profile", interrupted)
    assert cli.main(["convert", raw_file()]) == cli.EXIT_INTERRUPTED
    assert capsys.readouterr().err == ""
    assert os.listdir(str(tmp_path)) == ["profile.raw"]


PY = "/usr/bin/python3.X"


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["app.py"], ["record", "--", PY, "app.py"]),
        (["app.py", "-o", "x", "--", "y"], ["record", "--", PY, "app.py", "-o", "x", "--", "y"]),
        (["-o", "out.svg", "-F", "500", "--threads", "app.py", "-v"],
         ["record", "-o", "out.svg", "-F", "500", "--threads", "--", PY, "app.py", "-v"]),
        (["--rate=5", "-F100", "-d", "3", "app.py"], ["record", "--rate=5", "-F100", "-d", "3", "--", PY, "app.py"]),
        (["--format", "collapsed", "-m", "http.server", "8000"],
         ["record", "--format", "collapsed", "--", PY, "-m", "http.server", "8000"]),
        (["-c", "print(1)"], ["record", "--", PY, "-c", "print(1)"]),
        (["--idle", "--", "-weird.py"], ["record", "--idle", "--", PY, "-weird.py"]),
        (["--pid", "42", "-d", "1"], ["record", "--pid", "42", "-d", "1"]),
        (["record", "--pid", "42"], ["record", "--pid", "42"]),
        (["convert", "x.raw"], ["convert", "x.raw"]),
        (["--help"], ["--help"]),
        ([], []),
    ],
)
def test_split_argv(argv, expected):
    assert split_argv(argv, python=PY) == expected


def test_split_argv_knows_every_record_option_with_a_value():
    record = cli.build_parser()._subparsers._group_actions[0].choices["record"]
    with_value = {opt for action in record._actions if action.nargs != 0 for opt in action.option_strings}
    assert with_value == cli.RECORD_VALUE_OPTIONS


def test_python_m_pyprof_runs_the_cli():
    proc = subprocess.run(
        [sys.executable, "-m", "pyprof", "-F", "0", "app.py"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
    )
    assert proc.returncode == errors.EXIT_USAGE
    assert proc.stderr == "pyprof: error: --rate must be between 1 and 100000 Hz, not 0\n"


def test_convert_reads_collapsed_input(capsys, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("main (/srv/app.py:3);work (/srv/app.py:7) 5\nmain (/srv/app.py:3);sleep (libc.so.6) 2\n")
    out = tmp_path / "out.txt"
    assert cli.main(["convert", str(src), "-o", str(out)]) == 0  # format from the extension
    assert sorted(out.read_text().splitlines()) == sorted(src.read_text().splitlines())
    assert cli.main(["convert", str(src), "-o", str(tmp_path / "x.svg")]) == 0
    assert "work (/srv/app.py) (5 samples" in (tmp_path / "x.svg").read_text()
    assert "pyprof: 7 samples (collapsed input)" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["record", "--rat", "5", "python3", "x"], "unrecognized arguments: --rat (did you mean --rate?)"),
    (["record", "-P", "5"], "(did you mean -p?)"),
    (["recrod", "-p", "5"], "(did you mean 'record'?)"),
    (["record", "-a", "-p", "5"], "-a samples every process: give no --pid and no command"),
    (["record", "--kernel", "-p", "5"], "--kernel works with -a: add -a"),
    (["record", "-a", "--subprocesses"], "-a takes neither --subprocesses"),
    (["record", "--blocking", "-p", "5"], "--blocking chooses how --native samples"),
    (["record", "-f", "raw", "-o", "x.svg", "-p", "5"], "-o x.svg has the extension of the flamegraph format"),
    (["convert", "x.raw", "-o", "y.raw"], "cannot write the raw format here"),
])
def test_cli_habit_usage_errors(capsys, argv, message):
    assert cli.main(argv) == errors.EXIT_USAGE
    lines = error_lines(capsys)
    assert len(lines) == 1 and message in lines[0], lines


@pytest.mark.parametrize("argv, pid, command, fmt", [
    (["record", "-p", "7", "-r", "9", "-o", "x.pb.gz"], 7, None, "pprof"),
    (["record", "-o", "x.json", "python3", "-c", "pass", "-p"], None, ["python3", "-c", "pass", "-p"], "speedscope"),
    (["record", "-o", "-", "python3", "app.py"], None, ["python3", "app.py"], "flamegraph"),
    (["record", "-o", "x.PPROF", "--", "-weird"], None, ["-weird"], "pprof"),
    (["record", "-f", "collapsed", "python3"], None, ["python3"], "collapsed"),
])
def test_short_flags_and_command_without_double_dash(argv, pid, command, fmt):
    args = cli.parse_args(argv)
    assert (args.pid, args.command, args.format) == (pid, command, fmt)


# --- how outputs are written (issue 10, defects 2, 3 and 8) -------------------

def test_output_is_private_and_complete(tmp_path):
    out = tmp_path / "out.txt"
    output.write_output(str(out), "a;b 1\n")
    assert out.read_text() == "a;b 1\n"
    assert out.stat().st_mode & 0o777 == 0o600  # outputs hold command lines
    assert os.listdir(str(tmp_path)) == ["out.txt"]  # no temporary file left


def test_old_predictable_temp_names_are_not_followed(tmp_path):
    # GIVEN symlinks planted at <OUT>.tmp.<pid> for this and the next PIDs,
    # pointing at a file pyprof must not touch
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    out = tmp_path / "out.txt"
    pid = os.getpid()
    for n in range(pid, pid + 50):
        os.symlink(str(victim), "%s.tmp.%d" % (out, n))
    # WHEN pyprof writes the output
    output.write_output(str(out), "a;b 1\n")
    # THEN the victim is intact, the output is a regular file, the links are untouched
    assert victim.read_text() == "precious\n"
    assert not out.is_symlink() and out.read_text() == "a;b 1\n"
    assert os.readlink("%s.tmp.%d" % (out, pid)) == str(victim)


def test_a_symlink_at_the_output_planted_by_another_user_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    out = tmp_path / "out.txt"
    os.symlink(str(victim), str(out))
    os.lchown(str(out), 65534, 65534)  # nobody's link (the tests run as root)
    output.write_output(str(out), "a;b 1\n")
    assert victim.read_text() == "precious\n"
    assert not out.is_symlink() and out.read_text() == "a;b 1\n"


def test_fifo_is_written_in_place(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(str(fifo))
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    output.write_output(str(fifo), "a;b 1\n")
    assert reader.communicate(timeout=10)[0] == b"a;b 1\n"
    assert stat.S_ISFIFO(os.lstat(str(fifo)).st_mode)
    assert os.listdir(str(tmp_path)) == ["fifo"]


def _device(directory, name, minor):
    # a private copy of /dev/null or /dev/full: never risk the host's own
    path = str(directory / name)
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    return path


def test_dev_null_stays_a_device(tmp_path):
    null = _device(tmp_path, "null", 3)
    output.check_output_path(null)
    output.write_output(null, b"x" * 100000)
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    assert os.listdir(str(tmp_path)) == ["null"]


def test_dev_full_is_a_clear_error_and_stays_a_device(tmp_path):
    full = _device(tmp_path, "full", 7)
    with pytest.raises(errors.PyprofError) as info:
        output.write_output(full, "a;b 1\n")
    assert str(info.value) == "cannot write %s: No space left on device" % full
    assert info.value.code == errors.EXIT_OUTPUT
    assert stat.S_ISCHR(os.lstat(full).st_mode)


def test_dash_is_standard_output(capfd):
    output.write_output("-", "a;b 1\n")
    assert capfd.readouterr().out == "a;b 1\n"


def test_errors_name_the_output_not_a_temporary_file(tmp_path):
    with pytest.raises(errors.PyprofError) as info:
        output.check_output_path("/proc/version")
    assert str(info.value).startswith("cannot write /proc/version: ")
    read_only = tmp_path / "ro"
    read_only.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "none", str(read_only)], check=True)
    try:
        with pytest.raises(errors.PyprofError) as info:
            output.write_output(str(read_only / "out.svg"), "x")
        assert str(info.value) == "cannot write %s: Read-only file system" % (read_only / "out.svg")
    finally:
        subprocess.run(["umount", str(read_only)], check=True)


def test_record_streams_to_a_fifo_and_to_stdout(capfd, fake_sampler, tmp_path):
    assert cli.main(["record", "--pid", "42", "--format", "collapsed", "-o", "-"]) == 0
    captured = capfd.readouterr()
    assert captured.out == "a;b 1\n"
    assert captured.err.splitlines() == [SUMMARY % "<stdout>"]
    fifo = tmp_path / "fifo"
    os.mkfifo(str(fifo))
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    assert cli.main(["record", "--pid", "42", "--format", "raw", "-o", str(fifo)]) == 0
    assert reader.communicate(timeout=10)[0].startswith(b"pyprof-raw\t1\n")
    assert stat.S_ISFIFO(os.lstat(str(fifo)).st_mode)


@pytest.mark.parametrize(
    "record",
    ["M\trate_hz\t1e-300", "M\tduration_s\tinf", "M\tduration_s\tlong", "M\tstart_unix\t1e300",
     "C\t0\t0\t-5", "F\t9\tpy\t-1\t-1\t1"],
)
@pytest.mark.parametrize("fmt", render.CONVERT_FORMATS)
def test_convert_of_crafted_metadata_is_a_clear_error(capsys, raw_file, sample_records, record, fmt):
    sample_records.insert(1, record)
    path = raw_file("".join(r + "\n" for r in sample_records))
    code = cli.main(["convert", path, "--format", fmt, "-o", path + ".out"])
    err = capsys.readouterr().err
    assert code == errors.EXIT_INTERNAL and "internal error" not in err and "Traceback" not in err
    assert err.startswith("pyprof: error: %s: line 2: bad %r record" % (path, record[0]))
    assert not os.path.exists(path + ".out")


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_write_leaves_neither_output_nor_temporary_file(tmp_path, monkeypatch, failure):
    def write(fd, data):
        raise failure

    monkeypatch.setattr(output.os, "write", write)
    with pytest.raises((errors.PyprofError, KeyboardInterrupt)) as info:
        output.write_output(str(tmp_path / "out.svg"), "<svg/>")
    if isinstance(failure, OSError):
        assert str(info.value) == "cannot write %s: No space left on device" % (tmp_path / "out.svg")
    assert os.listdir(str(tmp_path)) == []


def test_temp_dirs_of_dead_runs_are_removed_by_the_next_run(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()  # a PID that no process has now
    stale = tmp_path / ("pyprof-%d-abc123_x" % dead.pid)
    stale.mkdir()
    (stale / "profile.raw").write_text("pyprof-raw\t1\n")
    alive = tmp_path / ("pyprof-%d-def456" % os.getpid())   # a live run's
    alive.mkdir()
    other = tmp_path / ("pyprof-%d-notmine" % dead.pid)       # someone else's
    other.mkdir()
    os.chown(str(other), 65534, 65534)
    unrelated = tmp_path / "pyprof-kept"
    unrelated.mkdir()
    cli.remove_stale_temp_dirs(str(tmp_path))
    assert sorted(os.listdir(str(tmp_path))) == sorted([alive.name, other.name, unrelated.name])


@pytest.mark.parametrize("argv", [["dump", "1234"], ["dump", "--pid", "1234"], ["dump", "-p", "1234", "1234"],
                                  ["top", "1234"], ["top", "-p", "1234"], ["dump", "--native", "1234", "--locals"]])
def test_pid_as_option_or_argument(argv):
    # py-spy's and perf's users type --pid/-p; pystack's type the bare PID: both mean it
    assert cli.parse_args(argv).pid == 1234
