"""The command line habits of py-spy and perf users (issue 12), on real processes.

Short flags (-p, -r, -f), a command without '--', a typo suggestion, the format
from the -o extension, a launched command that fails at once, the 0-sample
hint, no error counted for the target's own clean exit, an output error that
names the -o path and keeps the recording, and the launched target's own
terminal lines left untouched by the status line (under a pseudo-terminal).
"""
import gzip
import json
import os
import shutil
import subprocess
import sys
import time

import pyprof_e2e as e2e

EXIT_USAGE = 2
EXIT_LAUNCH = 7
EXIT_OUTPUT = 8

BUSY = """
import sys, time
def busy_function(seconds):
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        x += 1
    return x
busy_function(float(sys.argv[1]) if len(sys.argv) > 1 else 0.6)
"""


def _busy_script(tmp_path):
    path = tmp_path / "busy.py"
    path.write_text(BUSY)
    return str(path)


def _raw_meta(path):
    meta = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if fields[0] == "M":
                meta[fields[1]] = fields[2]
    return meta


def test_short_flags_p_r_f(any_interp, tmp_path):
    # GIVEN a running Python program
    target, _ = e2e.start_workload(any_interp.path, [e2e.workload("split.py"), "60"])
    try:
        out = tmp_path / "prof.raw"
        # WHEN it is recorded with py-spy's short flags
        result = e2e.run_pyprof(["record", "-p", target.pid, "-r", "50", "-f", "raw", "-d", "1", "-o", out])
    finally:
        e2e.stop_process(target)
    # THEN -p attached to it, -r set the rate and -f the format
    assert result.returncode == 0, e2e.describe(result)
    meta = _raw_meta(out)
    assert meta["pid"] == str(target.pid), meta
    assert float(meta["rate_hz"]) == 50, meta


def test_command_without_double_dash_passes_c_to_python(any_interp, tmp_path):
    # GIVEN a command typed without '--' whose own option -c is perf's letter
    out = tmp_path / "out.txt"
    code = BUSY.replace("float(sys.argv[1]) if len(sys.argv) > 1 else 0.6", "0.6")
    result = e2e.run_pyprof(["record", "-o", out, "-r", "200", any_interp.path, "-c", code])
    # THEN the options ended at the command: Python ran the -c code and it was profiled
    assert result.returncode == 0, e2e.describe(result)
    stacks = e2e.parse_collapsed(out.read_text())
    assert any("busy_function" in e2e.frame_func(f) for stack in stacks for f in stack), stacks


def test_typo_suggests_the_closest_flag(tmp_path):
    result = e2e.run_pyprof(["record", "--rat", "50", "python3", "x.py"])
    assert result.returncode == EXIT_USAGE, e2e.describe(result)
    assert "unrecognized arguments: --rat (did you mean --rate?)" in result.stderr, e2e.describe(result)
    # perf's -a means every process: with a command it is a usage error, not a typo of another flag
    result = e2e.run_pyprof(["record", "-a", "python3", "x.py"])
    assert result.returncode == EXIT_USAGE and "-a samples every process" in result.stderr, e2e.describe(result)


def test_blocking_without_native_is_a_usage_error():
    result = e2e.run_pyprof(["record", "--blocking", "-p", "1"])
    assert result.returncode == EXIT_USAGE, e2e.describe(result)
    assert "--native" in result.stderr, e2e.describe(result)


def test_format_follows_the_output_extension(any_interp, tmp_path):
    script = _busy_script(tmp_path)
    checks = {
        "p.json": lambda b: json.loads(b.decode())["$schema"].endswith("file-format-schema.json"),
        "p.speedscope.json": lambda b: "profiles" in json.loads(b.decode()),
        "p.pb.gz": lambda b: len(gzip.decompress(b)) > 0,
        "p.txt": lambda b: b.decode().strip().split("\n")[0].rsplit(" ", 1)[1].isdigit(),
        "p.collapsed": lambda b: b.decode().strip().split("\n")[0].rsplit(" ", 1)[1].isdigit(),
        "p.raw": lambda b: b.startswith(b"pyprof-raw\t"),
        "p.svg": lambda b: b.lstrip().startswith(b"<?xml") or b"<svg" in b[:400],
    }
    for name, ok in checks.items():
        out = tmp_path / name
        result = e2e.run_pyprof(["record", "-o", out, "--", any_interp.path, script, "0.3"])
        assert result.returncode == 0, e2e.describe(result)
        assert ok(out.read_bytes()), "%s is not in the format of its extension" % name
    # ... and a clash between --format and the extension is refused
    result = e2e.run_pyprof(["record", "-f", "collapsed", "-o", tmp_path / "x.svg", any_interp.path, script])
    assert result.returncode == EXIT_USAGE, e2e.describe(result)
    assert "x.svg" in result.stderr and "--format collapsed" in result.stderr, e2e.describe(result)


def test_launched_command_that_fails_at_once(any_interp, tmp_path):
    missing = str(tmp_path / "missing.py")
    for args in (["record", "-o", tmp_path / "a.svg", "--", any_interp.path, missing],
                 ["-o", tmp_path / "b.svg", missing]):  # python -m pyprof missing.py
        result = e2e.run_pyprof(args)
        assert result.returncode == EXIT_LAUNCH, e2e.describe(result)
        assert "can't open file" in result.stderr, e2e.describe(result)  # Python's own words
        assert "failed at once (exit 2" in result.stderr, e2e.describe(result)
    result = e2e.run_pyprof(["record", "-o", tmp_path / "c.svg", "no-such-command-pyprof"])
    assert result.returncode == EXIT_LAUNCH, e2e.describe(result)
    assert "cannot launch 'no-such-command-pyprof'" in result.stderr, e2e.describe(result)


def test_idle_target_says_why_it_has_no_samples(any_interp, tmp_path):
    # GIVEN a Python process that only sleeps
    sleeper = e2e.spawn([any_interp.path, "-c", "import time\nprint('ready', flush=True)\ntime.sleep(60)"],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        e2e.wait_for_ready(sleeper)
        result = e2e.run_pyprof(["record", "-p", sleeper.pid, "-d", "1", "-o", tmp_path / "idle.svg"])
    finally:
        e2e.stop_process(sleeper)
    # THEN the summary says 0 samples and suggests --idle
    assert result.returncode == 0, e2e.describe(result)
    assert "pyprof: 0 samples" in result.stderr, e2e.describe(result)
    assert "add --idle" in result.stderr, e2e.describe(result)


def test_clean_exit_of_the_target_is_no_error(any_interp, tmp_path):
    # GIVEN short programs that end on their own, cleanly
    script = _busy_script(tmp_path)
    summaries = []
    for i in range(4):
        result = e2e.run_pyprof(["record", "-r", "200", "-f", "collapsed", "-o", tmp_path / ("%d.txt" % i),
                                 any_interp.path, script, "0.4"])
        assert result.returncode == 0, e2e.describe(result)
        summaries.append([line for line in result.stderr.splitlines() if "samples" in line][-1])
    # THEN their exit is not counted as a sample error
    bad = [s for s in summaries if " 0 errors (0 transient, 0 bad data)" not in s or "target exit 0" not in s]
    assert not bad, "\n".join(bad)  # a str: pytest would cut the repr of a list in the middle


def test_output_error_names_the_output_and_keeps_the_recording(any_interp, tmp_path):
    # GIVEN a recording whose output directory disappears while it runs
    out_dir = tmp_path / "gone"
    out_dir.mkdir()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    target, _ = e2e.start_workload(any_interp.path, [e2e.workload("split.py"), "60"])
    try:
        proc = e2e.spawn(e2e.pyprof_cmd(["record", "-p", target.pid, "-d", "2", "-o", out_dir / "out.svg"]),
                         cwd=str(cwd), env=e2e.child_env({"PYTHONPATH": str(e2e.REPO)}),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8", errors="replace")
        time.sleep(0.7)
        shutil.rmtree(str(out_dir))
        result = e2e.finish_pyprof(proc, timeout=60)
    finally:
        e2e.stop_process(target)
    # THEN the error names the -o path, not an internal temp file ...
    assert result.returncode == EXIT_OUTPUT, e2e.describe(result)
    error = [line for line in result.stderr.splitlines() if line.startswith("pyprof: error:")]
    assert error and str(out_dir / "out.svg") in error[0], e2e.describe(result)
    assert "profile.raw" not in result.stderr and ".tmp" not in result.stderr, e2e.describe(result)
    # ... and the recording is kept (here in the current directory) and named
    kept = cwd / "out.svg.raw"
    assert kept.exists() and str(kept) in result.stderr, e2e.describe(result)
    assert kept.read_text().startswith("pyprof-raw\t")


def _pty_run(cmd, timeout=60):
    script = shutil.which("script")
    assert script, "the 'script' command (util-linux) is needed for this test"
    proc = subprocess.run([script, "-qec", subprocess.list2cmdline([str(c) for c in cmd]), "/dev/null"],
                          cwd=str(e2e.REPO), capture_output=True, timeout=timeout, env=e2e.child_env())
    return proc, proc.stdout.decode(errors="replace")


def test_launched_target_lines_are_untouched_by_the_status_line(any_interp, tmp_path):
    # GIVEN a program that prints a line every 0.2 s for 2.5 s, on the same terminal as pyprof
    prog = tmp_path / "talk.py"
    prog.write_text("import time\nend = time.time() + 2.5\ni = 0\n"
                    "while time.time() < end:\n"
                    "    t = time.time() + 0.2\n"
                    "    while time.time() < t: pass\n"
                    "    i += 1\n    print('request %d done' % i, flush=True)\n")
    out = tmp_path / "out.txt"
    proc, text = _pty_run(e2e.pyprof_cmd(["record", "-o", out, "--", any_interp.path, prog]))
    assert proc.returncode == 0, text
    # THEN each of its lines is whole, on a line of its own, and no status line was drawn
    lines = text.replace("\r\n", "\n").split("\n")
    requests = [line for line in lines if "request" in line]
    assert len(requests) >= 5, text
    assert all(line.startswith("request ") and line.endswith(" done") for line in requests), requests
    assert "Ctrl-C to stop" not in text.replace("Ctrl-C)", ""), text
    assert "\r\x1b[K" not in text, text


def test_status_line_shows_the_total_of_d(any_interp, tmp_path):
    # GIVEN an attached recording of 2.6 s on a terminal
    target, _ = e2e.start_workload(any_interp.path, [e2e.workload("split.py"), "60"])
    try:
        proc, text = _pty_run(e2e.pyprof_cmd(["record", "-p", target.pid, "-d", "2.6", "-o", tmp_path / "o.txt"]))
    finally:
        e2e.stop_process(target)
    assert proc.returncode == 0, text
    status = [part for part in text.split("\r") if "Ctrl-C to stop" in part]
    assert status and all(" of 3 s (Ctrl-C to stop)" in part for part in status), status


def test_not_a_python_process_names_no_attach_placeholder(tmp_path):
    sleeper = e2e.spawn(["sleep", "30"])
    try:
        result = e2e.run_pyprof(["record", "-p", sleeper.pid, "-d", "1", "-o", tmp_path / "o.txt"])
    finally:
        e2e.stop_process(sleeper)
    assert result.returncode == 5, e2e.describe(result)
    assert "PID %d is not a Python process" % sleeper.pid in result.stderr, e2e.describe(result)
    assert "(attach)" not in result.stderr, e2e.describe(result)
