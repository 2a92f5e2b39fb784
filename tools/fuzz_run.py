#!/usr/bin/env python3
"""Run the fuzz targets, JOBS at a time, each for SECONDS (make fuzz).

    python3 tools/fuzz_run.py --seconds S --jobs J [--python PY] TARGET...

A TARGET named fuzz_X is build/fuzz/fuzz_X (libFuzzer, C), except fuzz_raw:
tests/fuzz/fuzz_raw.py run by --python (Atheris; the raw reader and the
renderers).  Each writes new inputs to build/fuzz/corpus-TARGET, reads its
seeds from build/fuzz/seeds-TARGET (fuzz_raw: tests/fuzz/raw_corpus), logs to
build/fuzz/TARGET.log and saves a crashing input as build/fuzz/TARGET-*.
Prints a table (target, seconds, executions, result) at the end; exits 1 if
any target failed.
"""
import argparse
import os
import re
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUZZ = os.path.join("build", "fuzz")


def command(target, seconds, python):
    options = ["-max_total_time=%d" % seconds, "-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1",
               "-artifact_prefix=%s/%s-" % (FUZZ, target)]
    corpus = "%s/corpus-%s" % (FUZZ, target)
    os.makedirs(os.path.join(REPO, corpus), exist_ok=True)
    if target == "fuzz_raw":
        return [python, "tests/fuzz/fuzz_raw.py"] + options + ["-max_len=65536", corpus, "tests/fuzz/raw_corpus"]
    seeds = "%s/seeds-%s" % (FUZZ, target)
    os.makedirs(os.path.join(REPO, seeds), exist_ok=True)
    return ["./%s/%s" % (FUZZ, target)] + options + ["-max_len=262144", corpus, seeds]


def executions(log):
    m = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log) or re.findall(r"Done (\d+) runs", log)
    return int(m[-1]) if m else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--python", default="auto",
                        help="interpreter with Atheris, for fuzz_raw (auto: build/fuzz-venv, made by tools/deps.sh)")
    parser.add_argument("targets", nargs="+")
    args = parser.parse_args()
    os.chdir(REPO)
    if args.python == "auto":
        venv = os.path.join("build", "fuzz-venv", "bin", "python")
        args.python = venv if os.path.exists(venv) else sys.executable
    queue, running, done = list(args.targets), {}, []
    while queue or running:
        while queue and len(running) < args.jobs:
            target = queue.pop(0)
            log = open("%s/%s.log" % (FUZZ, target), "w")
            print("== %s (%d s)" % (target, args.seconds), flush=True)
            env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
            proc = subprocess.Popen(command(target, args.seconds, args.python), stdout=log, stderr=subprocess.STDOUT,
                                    env=env)
            running[target] = (proc, log, time.time())
        time.sleep(0.5)
        for target, (proc, log, start) in list(running.items()):
            if proc.poll() is None:
                continue
            log.close()
            del running[target]
            with open("%s/%s.log" % (FUZZ, target), errors="replace") as f:
                text = f.read()
            ok = proc.returncode == 0
            done.append((target, time.time() - start, executions(text), ok))
            if not ok:
                print("\n".join(text.splitlines()[-40:]))
                print("fuzz: %s FAILED (input saved as %s/%s-*)" % (target, FUZZ, target), flush=True)
    print("\n%-16s %8s %14s  %s" % ("target", "seconds", "executions", "result"))
    for target, seconds, runs, ok in done:
        print("%-16s %8.0f %14d  %s" % (target, seconds, runs, "ok" if ok else "CRASH"))
    return 0 if all(ok for *_, ok in done) else 1


if __name__ == "__main__":
    sys.exit(main())
