#!/usr/bin/env python3
"""`make demo`: profile a Flask app under Gunicorn through the master's PID.

1. starts examples/gunicorn_app/app.py under Debian's /usr/bin/gunicorn with 2 workers
   on a free loopback port and waits until it answers;
2. loads GET /slow with `ab -c 4` (bounded: DURATION + 4 seconds; ended with SIGINT
   when the recording ends);
3. runs `pyprof record --pid MASTER --subprocesses --native` for DURATION seconds;
4. writes the flame graph (pyprof-demo.svg), the raw profile (pyprof-demo.raw) and
   `pyprof report --stdio` of it (pyprof-demo-report.txt: the Children view, then Self);
5. stops ab and Gunicorn (SIGTERM, then SIGKILL to their process groups), also when a
   step fails or on Ctrl-C.

Usage: python3 examples/gunicorn_demo.py [--duration S] [--rate HZ] [--outdir DIR]
"""
import argparse
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "gunicorn_app"))
import harness  # noqa: E402


class Stop(Exception):
    pass


def say(msg):
    print("demo: %s" % msg, flush=True)


def _on_signal(signum, frame):
    raise Stop("interrupted by %s" % signal.Signals(signum).name)


def pyprof(args):
    return [sys.executable, "-m", "pyprof", *args]


def has_subprocesses():
    r = subprocess.run(pyprof(["record", "--help"]), cwd=ROOT, capture_output=True, text=True)
    return "--subprocesses" in r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=10, help="seconds of recording (10)")
    ap.add_argument("--rate", type=int, default=500, help="samples per second (500)")
    ap.add_argument("--outdir", default=os.getcwd(), help="where the outputs go (cwd)")
    opts = ap.parse_args()

    problems = harness.missing_tools(harness.DEBIAN_PYTHON)
    if problems:
        for p in problems:
            print("demo: error: %s" % p, file=sys.stderr)
        return 2

    svg = os.path.join(opts.outdir, "pyprof-demo.svg")
    raw = os.path.join(opts.outdir, "pyprof-demo.raw")
    report = os.path.join(opts.outdir, "pyprof-demo-report.txt")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)

    server = harness.Server([harness.DEBIAN_GUNICORN])
    load = rec = None
    try:
        say("starting gunicorn (2 workers) on %s" % server.url())
        say("  " + " ".join(server.command()))
        server.start()
        workers = server.wait_ready(timeout=45)
        say("ready: master PID %d, workers %s" % (server.pid, " ".join(map(str, workers))))

        seconds = opts.duration + 4
        load = harness.start_ab(server.url("/slow"), concurrency=4, seconds=seconds)
        say("load: %s" % " ".join(harness.ab_command(server.url("/slow"), 4, seconds)))
        time.sleep(0.5)

        follow = ["--pid", str(server.pid), "--subprocesses"]
        if not has_subprocesses():      # a pyprof older than --subprocesses: one worker
            say("note: this pyprof has no --subprocesses; profiling worker %d only"
                % workers[0])
            follow = ["--pid", str(workers[0])]
        args = ["record", *follow, "--native", "-F", str(opts.rate),
                "-d", "%g" % opts.duration, "--format", "raw", "-o", raw]
        say("profiling: pyprof %s" % " ".join(args))
        rec = subprocess.Popen(pyprof(args), cwd=ROOT, start_new_session=True)
        rc = rec.wait(timeout=opts.duration + 120)
        rec = None
        if rc != 0:
            say("error: pyprof record exited with %d" % rc)
            return 1

        stats = harness.finish_ab(load, timeout=60, interrupt=True)   # ends with pyprof
        load = None
        say("load generator: %s requests, %s failed, %s requests/s"
            % (stats["complete"], stats["failed"], stats["rps"]))

        r = subprocess.run(pyprof(["convert", raw, "--format", "flamegraph", "-o", svg]),
                           cwd=ROOT)
        if r.returncode != 0:
            say("error: pyprof convert exited with %d" % r.returncode)
            return 1
        # perf-report style: Children first (who calls what), then Self (where the time is)
        with open(report + ".tmp", "w") as f:
            for view in (["--limit", "60"], ["--no-children", "--limit", "25", "--expand", "3"]):
                r = subprocess.run(pyprof(["report", raw, "--stdio", *view]), cwd=ROOT,
                                   stdout=f)
                if r.returncode != 0:
                    say("error: pyprof report exited with %d" % r.returncode)
                    return 1
                f.write("\n")
                f.flush()
        os.replace(report + ".tmp", report)
    except Stop as e:
        say(str(e) + ": stopping")
        return 130
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        say("error: %s" % e)
        return 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)      # cleanup is not interrupted
        for p in (rec, load):
            if p is not None and p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                p.wait()
        server.stop()
        say("gunicorn stopped")

    say("flame graph: %s (open it in a browser)" % svg)
    say("report:      %s (interactive: python3 -m pyprof report %s)" % (report, raw))
    return 0


if __name__ == "__main__":
    sys.exit(main())
