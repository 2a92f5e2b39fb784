"""Kill-safety (issue 10): SIGKILL/SIGINT/SIGTERM to the CLI, the sampler or
both at a random moment of a recording, in each mode; afterwards no thread of
the target is stopped or traced, the target still progresses, there is no
orphan sampler, no partial file at -o and no temp file left.

A few trials per mode here (`make test`); `make stress` runs hundreds of the
same trials (tools/stress.py) and prints a summary table.  The trials live in
killsafety.py.
"""
import os
import random
import signal

import pytest

import killsafety as ks

SEED = int(os.environ.get("PYPROF_KILL_SEED", random.randrange(1 << 30)))

# per mode: (victim, signal); the delay and the format vary with the seed
TRIALS = (
    ("cli", signal.SIGKILL),           # the sampler must not outlive it, nor its temp dir
    ("sampler", signal.SIGKILL),       # pyprof must report it and leave nothing behind
    ("both", None),                    # SIGINT or SIGTERM to both: a normal, complete end
)


@pytest.mark.parametrize("mode", list(ks.MODES))
def test_kill_at_a_random_moment_harms_nothing(mode, any_interp):
    rng = random.Random("%d-%s" % (SEED, mode))
    failures = []
    for n, (victim, signum) in enumerate(TRIALS):
        signum = signum or rng.choice((signal.SIGINT, signal.SIGTERM))
        fmt = ks.FORMATS[(n + rng.randrange(3)) % 3]
        result = ks.run_trial(mode, victim, signum, fmt, rng.uniform(0.05, 1.2), any_interp.path)
        # a Ctrl-C that lands while the interpreter itself starts (before any
        # of pyprof's code) may print Python's own site-import traceback
        notes = [n for n in result["notes"] if not n.startswith("traceback in the interpreter's start-up")]
        if ks.harmed(result) or notes:
            failures.append(result)
    assert not failures, "seed %d (PYPROF_KILL_SEED=%d to replay):\n%s" % (
        SEED, SEED, "\n".join(str(f) for f in failures))
