#!/usr/bin/env python3
"""make stress: hundreds of kill-safety trials across the modes (issue 10).

    python3 tools/stress.py [--trials N] [--seed S] [--modes python,native,...]
                            [--python INTERP] [--log FILE]

Each trial (tests/e2e/killsafety.py) attaches `pyprof record` to a running
target and sends SIGKILL, SIGINT or SIGTERM to the CLI, to its sampler or to
both at a random moment, then checks that no target thread is stopped or
traced, that the target still progresses, that no sampler is left orphaned,
that no partial file is at -o and that no temp file is left.  Prints one line
per trial that found harm, then the summary table (docs/security.md).
Exit status 1 when any trial found harm.
"""
import argparse
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))

import killsafety as ks  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=int(os.environ.get("STRESS_TRIALS", 216)))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("STRESS_SEED", time.time())))
    parser.add_argument("--modes", default=",".join(ks.MODES))
    parser.add_argument("--python", default="/usr/bin/python3", help="the target's interpreter")
    parser.add_argument("--cli-root", default=REPO,
                        help="run `python -m pyprof` of this source tree (with its build/pyprof-sampler), "
                        "e.g. an older checkout to compare with")
    parser.add_argument("--log", default=os.path.join(REPO, "build", "stress.jsonl"),
                        help="one JSON line per trial (default: build/stress.jsonl)")
    args = parser.parse_args()
    modes = tuple(args.modes.split(","))
    plan = ks.trial_plan(args.trials, args.seed, modes)
    print("make stress: %d kill trials, seed %d, modes %s, target %s, pyprof from %s"
          % (len(plan), args.seed, ", ".join(modes), args.python, args.cli_root), flush=True)
    os.makedirs(os.path.dirname(args.log), exist_ok=True)
    results = []
    start = time.time()
    with open(args.log, "w") as log:
        for n, (mode, victim, signum, fmt, delay) in enumerate(plan, 1):
            result = ks.run_trial(mode, victim, signum, fmt, delay, args.python, log=log, cli_root=args.cli_root)
            results.append(result)
            if ks.harmed(result) or result["notes"]:
                print("trial %d/%d %s %s %s %s %.2fs: %s %s" % (
                    n, len(plan), mode, victim, result["signal"], fmt, delay,
                    ",".join(ks.harmed(result)) or "-", "; ".join(result["notes"])), flush=True)
            elif n % 20 == 0:
                print("... %d/%d trials, %.0f s" % (n, len(plan), time.time() - start), flush=True)
    print()
    print(ks.summary_table(results))
    print("\n%d trials in %.0f s; per-trial log: %s" % (len(results), time.time() - start, args.log))
    return 1 if any(ks.harmed(r) for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
