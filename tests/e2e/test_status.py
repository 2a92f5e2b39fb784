"""The status line of long runs: shown on a terminal, never in a pipe or a file.

`script` (util-linux) gives the CLI a pseudo-terminal as its stderr.
"""
import os
import shutil
import subprocess
import sys

from pyprof_e2e import REPO, WORKLOADS


def _record(tmp_path, through_pty, pid=None):
    out = tmp_path / "out.txt"
    # launch mode draws no live status line (the target shares the terminal):
    # on a terminal, attach to a running target (test_cli_habits.py checks launch mode)
    target = ["--pid", str(pid)] if pid else ["--", sys.executable, str(WORKLOADS / "split.py"), "4"]
    cmd = [sys.executable, "-m", "pyprof", "record", "-F", "100", "-d", "2.6", "--format", "collapsed",
           "-o", str(out)] + target
    if through_pty:
        script = shutil.which("script")
        assert script, "the 'script' command (util-linux) is needed for this test"
        cmd = [script, "-qec", subprocess.list2cmdline(cmd), "/dev/null"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, timeout=60, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc, out


def test_status_line_on_a_terminal(tmp_path):
    target = subprocess.Popen([sys.executable, str(WORKLOADS / "split.py"), "30"], stdout=subprocess.DEVNULL)
    try:
        proc, out = _record(tmp_path, through_pty=True, pid=target.pid)
    finally:
        target.kill()
        target.wait()
    text = proc.stdout.decode(errors="replace")  # script copies the terminal to stdout
    lines = [part for part in text.split("\r") if part.startswith("pyprof: ") and "Ctrl-C to stop" in part]
    assert len(lines) >= 2, text
    counts = [int(line.split()[1]) for line in lines]
    assert counts == sorted(counts) and counts[-1] > 0, lines
    assert "\r\x1b[K" in text, "the status line is cleared before the summary"
    assert out.stat().st_size > 0


def test_no_status_line_in_a_pipe(tmp_path):
    proc, _ = _record(tmp_path, through_pty=False)
    assert b"Ctrl-C to stop" not in proc.stderr
    assert b"\r" not in proc.stderr
