#!/usr/bin/env python3
"""Cost per sample of two sampler binaries, measured side by side.

    python3 tests/bench/compare.py BASELINE [CANDIDATE]
    BENCH_BASELINE=BASELINE make bench          (as section 0 of make bench)

CANDIDATE defaults to build/pyprof-sampler.  Both binaries are measured in the
same run, alternating (baseline, candidate, baseline, ...), BENCH_COMPARE_REPEATS
(default 3) times each, on pyenv 3.11:

  - Python-only: `pyprof-sampler bench --count BENCH_COUNT` on the 20-deep
    tests/bench/deep.py target: ns per sample;
  - native (perf mode, libdw): the steady-state cost of one sample on the deep
    mixed stack of tests/bench/deep_mixed.py, from two attaches at 1 kHz of
    1 s and 6 s: (native_ns_total_long - native_ns_total_short) /
    (native_samples_long - native_samples_short), which leaves out the
    first-time symbolization.

It prints the medians and the candidate / baseline ratio.  The issue that
restructured the sampling loop (issue 11) asks for the ratio to stay within
+5 %; the numbers are noisy on a shared VM, so read them with the min-max.
"""
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402
import native_bench  # noqa: E402

REPEATS = int(os.environ.get("BENCH_COMPARE_REPEATS", "3"))
SHORT, LONG = 1.0, 6.0


def python_cost(sampler, pid):
    r = bench.run([sampler, "bench", "--pid", str(pid), "--count", str(bench.COUNT)])
    kv = dict(bench.BENCH_RE.findall(r.out))
    if r.rc != 0 or "ns_per_sample" not in kv:
        raise RuntimeError("%s bench failed (exit %d): %s" % (sampler, r.rc, r.err.strip()[:200]))
    return float(kv["ns_per_sample"]) / 1e3


def native_cost(sampler, pid):
    got = []
    for secs in (SHORT, LONG):
        out = native_bench.tmp("compare-%d.raw" % int(secs * 10))
        r = bench.run([sampler, "record", "--native", "--pid", str(pid), "-F", "1000", "-d", str(secs),
                       "--raw", out], timeout=60)
        prof = native_bench.read_raw(out) if r.rc == 0 else None
        if prof is None or not prof.stat("native_samples"):
            raise RuntimeError("%s record --native failed (exit %d): %s"
                               % (sampler, r.rc, native_bench.last_line(r.err)))
        got.append((prof.stat("native_ns_total"), prof.stat("native_samples")))
    (ns_s, n_s), (ns_l, n_l) = got
    if n_l <= n_s:
        raise RuntimeError("%s: the long attach took no more samples than the short one" % sampler)
    return (ns_l - ns_s) / (n_l - n_s) / 1e3


def measure(baseline, candidate, python):
    """{(kind, which): [µs per sample, ...]}, alternating the two binaries."""
    res = {}
    binaries = (("baseline", baseline), ("candidate", candidate))
    with bench.Target(python) as target:
        for rep in range(REPEATS):
            for which, path in binaries:
                bench.log("compare: Python-only, %s (%d/%d)" % (which, rep + 1, REPEATS))
                res.setdefault(("python", which), []).append(python_cost(path, target.pid))
    e = native_bench.Env(python, {})
    with native_bench.Spin(e, secs=600) as spin:
        for rep in range(REPEATS):
            for which, path in binaries:
                bench.log("compare: native, %s (%d/%d)" % (which, rep + 1, REPEATS))
                res.setdefault(("native", which), []).append(native_cost(path, spin.pid))
    return res


def table(res, baseline, candidate):
    out = ["baseline `%s`, candidate `%s`; %d alternating runs of each; µs per sample"
           % (baseline, candidate, REPEATS), "",
           "| cost | baseline: median (min–max) | candidate: median (min–max) | candidate / baseline (medians) |",
           "|---|---:|---:|---:|"]
    for kind, label in (("python", "Python-only (`bench`, 20-deep, pyenv 3.11)"),
                        ("native", "native, perf mode, libdw (steady state, deep mixed stack, 1 kHz)")):
        b, c = res[(kind, "baseline")], res[(kind, "candidate")]
        bm, cm = statistics.median(b), statistics.median(c)
        out.append("| %s | %.2f (%.2f–%.2f) | %.2f (%.2f–%.2f) | %.3f (%+.1f %%) |"
                   % (label, bm, min(b), max(b), cm, min(c), max(c), cm / bm, 100.0 * (cm / bm - 1)))
    return "\n".join(out)


def section(baseline, candidate=None):
    candidate = candidate or bench.SAMPLER
    interps = bench.interpreters()
    _, python = bench.main_python(interps)
    try:
        res = measure(baseline, candidate, python)
    except (RuntimeError, OSError) as err:
        return "## 0. Against a baseline sampler\n\nn/a: %s\n" % err
    return "## 0. Against a baseline sampler\n\n" + table(res, baseline, candidate) + "\n"


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.split("\n\n")[1])
    print(section(os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]) if len(sys.argv) == 3 else None))


if __name__ == "__main__":
    main()
