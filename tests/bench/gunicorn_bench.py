#!/usr/bin/env python3
"""Requests per second of a Gunicorn/Flask app with and without pyprof (`make bench`, §5).

The app (examples/gunicorn_app/app.py) runs under Debian's /usr/bin/gunicorn with 2
workers; `ab -c 4 -t AB_SECONDS` loads GET /slow. Configurations, interleaved (the order
rotates each round, one Gunicorn for the whole section):

    unprofiled | pyprof --subprocesses at 100 Hz | at 1 kHz | --native at 1 kHz

pyprof is attached to the master (`record --pid MASTER --subprocesses`), given 1 s to
reach the workers, then ab runs and pyprof is stopped with SIGINT. On these 2-core
machines the workers, ab and pyprof share the CPUs: the drop includes the profiler's own
CPU time, which is what a user of a busy server sees.

Environment: BENCH_GUNICORN_ROUNDS (default 3), BENCH_GUNICORN_SECONDS (default 5).
Run alone: python3 tests/bench/gunicorn_bench.py; from bench.py: section(sampler).
"""
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "examples", "gunicorn_app"))
import harness  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_GUNICORN_ROUNDS", "3"))
AB_SECONDS = float(os.environ.get("BENCH_GUNICORN_SECONDS", "5"))
CLIENTS = 4
CONFIGS = [
    ("unprofiled", None),
    ("pyprof --subprocesses, 100 Hz", ["--subprocesses", "-F", "100"]),
    ("pyprof --subprocesses, 1 kHz", ["--subprocesses", "-F", "1000"]),
    ("pyprof --subprocesses --native, 1 kHz", ["--subprocesses", "--native", "-F", "1000"]),
]
SAMPLES_RE = re.compile(r"pyprof: (\d+) samples")


def log(msg):
    sys.stderr.write("[gunicorn bench] %s\n" % msg)
    sys.stderr.flush()


def one_run(server, extra, sampler, tmp):
    """ab against the server, with pyprof attached when extra is not None:
    (requests/s, failed + non-2xx, pyprof samples or None, problem or None)."""
    rec = None
    try:
        if extra is not None:
            env = dict(os.environ)
            if sampler:
                env["PYPROF_SAMPLER"] = sampler
            out = os.path.join(tmp, "gunicorn.collapsed")
            rec = subprocess.Popen(
                [sys.executable, "-m", "pyprof", "record", "--pid", str(server.pid),
                 "--format", "collapsed", "-o", out, *extra],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, start_new_session=True)
            time.sleep(1.0)
            if rec.poll() is not None:
                return None, None, None, "pyprof exited early: %s" % (
                    rec.stderr.read().decode(errors="replace").strip()[-300:])
        ab = harness.finish_ab(harness.start_ab(server.url("/slow"), CLIENTS, AB_SECONDS),
                               timeout=AB_SECONDS + 60)
        samples = None
        if rec is not None:
            os.killpg(rec.pid, signal.SIGINT)
            try:
                _, err = rec.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(rec.pid, signal.SIGKILL)
                _, err = rec.communicate()
            err = err.decode(errors="replace")
            m = SAMPLES_RE.search(err)
            samples = int(m.group(1)) if m else None
            if rec.returncode != 0:
                return None, None, None, "pyprof exited %s: %s" % (rec.returncode,
                                                                   err.strip()[-300:])
            rec = None
        if ab["rps"] is None:
            return None, None, None, "ab: %s" % (ab["err"].strip()[-300:])
        return ab["rps"], (ab["failed"] or 0) + (ab["non2xx"] or 0), samples, None
    finally:
        if rec is not None and rec.poll() is None:
            os.killpg(rec.pid, signal.SIGKILL)
            rec.wait()


def measure(sampler=None):
    """{config name: [(rps, failed, samples)]} and notes."""
    results = {name: [] for name, _ in CONFIGS}
    notes = []
    server = harness.Server([harness.DEBIAN_GUNICORN])
    tmp = tempfile.mkdtemp(prefix="pyprof-gunicorn-bench-")
    try:
        server.start()
        server.wait_ready(timeout=45)
        harness.finish_ab(harness.start_ab(server.url("/slow"), CLIENTS, requests=40))  # warm
        for rnd in range(ROUNDS):
            k = rnd % len(CONFIGS)
            for name, extra in CONFIGS[k:] + CONFIGS[:k]:
                log("round %d/%d: %s" % (rnd + 1, ROUNDS, name))
                rps, failed, samples, problem = one_run(server, extra, sampler, tmp)
                if problem:
                    notes.append("%s: %s" % (name, problem))
                    log("  " + problem)
                    continue
                log("  %.1f requests/s, %d failed" % (rps, failed))
                results[name].append((rps, failed, samples))
    finally:
        server.stop()
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)
    return results, notes


def table(results):
    base = [r[0] for r in results["unprofiled"]]
    base_med = statistics.median(base) if base else None
    out = ["| run | runs | requests/s median | min | max | vs unprofiled (median) "
           "| failed requests | samples/s (median) |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, extra in CONFIGS:
        rows = results[name]
        if not rows:
            out.append("| %s | 0 | n/a | | | | | |" % name)
            continue
        rps = [r[0] for r in rows]
        med = statistics.median(rps)
        vs = ("—" if extra is None or not base_med
              else "%+.1f %%" % ((med / base_med - 1) * 100))
        rates = [r[2] / (AB_SECONDS + 1.0) for r in rows if r[2]]
        out.append("| %s | %d | %.1f | %.1f | %.1f | %s | %d | %s |" % (
            name, len(rows), med, min(rps), max(rps), vs, sum(r[1] for r in rows),
            "—" if extra is None else ("%.0f" % statistics.median(rates) if rates else "n/a")))
    return "\n".join(out)


def section(sampler=None):
    """Markdown text of the section (problems are reported in it, never raised)."""
    problems = harness.missing_tools()
    head = ("## 5. Gunicorn + Flask under load (2 sync workers, `ab -c %d -t %g` on /slow, "
            "%d interleaved rounds; pyprof attached to the master)"
            % (CLIENTS, AB_SECONDS, ROUNDS))
    if problems:
        return head + "\n\nnot measured: " + "; ".join(problems) + "\n"
    t0 = time.monotonic()
    try:
        results, notes = measure(sampler)
    except Exception as e:  # noqa: BLE001  (a bench section reports, never aborts the bench)
        return head + "\n\nnot measured: %s: %s\n" % (type(e).__name__, e)
    text = head + "\n\n" + table(results) + (
        "\n\nsamples/s: the profile's samples over the time pyprof was attached (all "
        "processes; the CPU-time clock in --native). %.0f s in all." % (time.monotonic() - t0))
    if notes:
        text += "\n\nNotes:\n" + "".join("- %s\n" % n for n in notes)
    return text + "\n"


if __name__ == "__main__":
    print(section())
