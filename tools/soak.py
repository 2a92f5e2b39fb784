#!/usr/bin/env python3
"""make soak: a long recording of a churning target; the sampler's memory and
the output's size (issue 10).

    python3 tools/soak.py [--seconds S] [--runs python,native] [--python INTERP]

Target: tests/workloads/churn.py, 8 threads alive at any time that come and go
(tens of new thread ids a second) through ~3,000 distinct call paths.  Runs:

  python   pyprof record -F 1000 --threads  (Python-only, 1 kHz per thread)
  native   pyprof record -F 100 --native --threads

For each run it samples the sampler's VmRSS every second and prints it at the
end of the warm-up (the first 10 % of the run, at least 5 s, at most 60 s) and
at the end, with the peak; then the raw output's size against its distinct
stacks, threads and count records.  A sampler whose memory keeps growing
after the warm-up shows as end >> start.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from pyprof import raw  # noqa: E402

RUNS = {
    "python": ["-F", "1000", "--threads"],
    "native": ["-F", "100", "--native", "--threads"],
}


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def sampler_of(cli_pid):
    try:
        for tid in os.listdir("/proc/%d/task" % cli_pid):
            with open("/proc/%d/task/%s/children" % (cli_pid, tid)) as f:
                for child in f.read().split():
                    if os.readlink("/proc/%s/exe" % child).endswith("pyprof-sampler"):
                        return int(child)
    except OSError:
        pass
    return None


def soak(name, seconds, python):
    workdir = tempfile.mkdtemp(prefix="pyprof-soak-")
    out = os.path.join(workdir, "soak.raw")
    target = subprocess.Popen([python, os.path.join(REPO, "tests", "workloads", "churn.py")],
                              stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)
    assert target.stdout.readline().strip() == b"ready"
    argv = [sys.executable, "-m", "pyprof", "record", "--pid", str(target.pid), "--format", "raw", "-o", out,
            "-d", str(seconds)] + RUNS[name]
    print("== %s: %s" % (name, " ".join(argv[3:])), flush=True)
    cli = subprocess.Popen(argv, cwd=REPO, stderr=subprocess.PIPE)
    warmup = min(60.0, max(5.0, seconds * 0.1))
    start, sampler, series = time.time(), None, []
    while cli.poll() is None:
        if sampler is None:
            sampler = sampler_of(cli.pid)
        elif time.time() - start > 1:
            rss = rss_kib(sampler)
            if rss is not None:
                series.append((time.time() - start, rss))
        time.sleep(1)
    err = cli.stderr.read().decode(errors="replace").strip()
    target.kill()
    target.wait()
    if cli.returncode != 0 or not series:
        print("   FAILED (exit %s): %s" % (cli.returncode, err[-500:]))
        return False
    after = [rss for t, rss in series if t >= warmup] or [series[-1][1]]
    at_warmup, at_end, peak = after[0], series[-1][1], max(rss for _, rss in series)
    profile = raw.read_raw(out)
    size = os.path.getsize(out)
    unique = len(profile.stacks)
    print("   %s" % err.splitlines()[-1])
    print("   sampler RSS: %d KiB after the %.0f s warm-up, %d KiB at the end (%+.1f %%), peak %d KiB"
          % (at_warmup, warmup, at_end, 100.0 * (at_end - at_warmup) / at_warmup, peak))
    marks = []
    for tenth in range(1, 11):
        t_mark = seconds * tenth / 10.0
        rss_mark = next((rss for t, rss in series if t >= t_mark), series[-1][1])
        marks.append("%.0fs %.1f" % (t_mark, rss_mark / 1024.0))
    print("   RSS (MiB) over the run: %s" % ", ".join(marks))
    print("   output: %d bytes raw, %d distinct stacks, %d threads, %d count records, %d frames "
          "(%.0f bytes per distinct stack)" % (size, unique, len(profile.threads), len(profile.counts),
                                                len(profile.frames), size / max(unique, 1)))
    print("   samples %d, ticks %d, errors %d transient %d bad data, late ticks %d"
          % (profile.stat("samples"), profile.stat("ticks"), profile.stat("errors_transient"),
             profile.stat("errors_baddata"), profile.stat("late_ticks")), flush=True)
    os.unlink(out)
    os.rmdir(workdir)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 600)))
    parser.add_argument("--runs", default="python,native")
    parser.add_argument("--python", default="/usr/bin/python3", help="the target's interpreter")
    args = parser.parse_args()
    ok = True
    for name in args.runs.split(","):
        ok = soak(name, args.seconds, args.python) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
