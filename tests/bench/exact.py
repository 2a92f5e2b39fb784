"""Is each sample's Python stack of the same instant as its C stack?  (`make bench` section 7,
tests/e2e/test_bpf.py, docs/native.md)

For each interpreter found (pyenv 3.8-3.13, Debian's python3, the cached 3.14/3.15 and
3.13t), tests/native/shortcalls.py (caller -> C entry -> Python callback -> C leaf of
0.03 ms, so the Python stack changes every few tens of microseconds) is attached by the
sampler with --native in each capture mode, bpf, perf and ptrace, one after the other on
the same target, at 200 Hz and 1 kHz, while two CPU-bound processes keep both cores busy.
Over the samples in the C leaf: the share in the true order, marked (<merge mismatch>)
and silently wrong; over all samples: the merge failures.

Usage: python tests/bench/exact.py [SECONDS_BPF_1KHZ]   (prints a markdown table)
"""
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests", "native"))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import build_ext  # noqa: E402
from disagree import classify  # noqa: E402
from pyprof import raw as rawfmt  # noqa: E402

SAMPLER = os.path.join(REPO, "build", "pyprof-sampler")
SHORTCALLS = os.path.join(REPO, "tests", "native", "shortcalls.py")
LEAF_MS = "0.03"
CAPTURES = ("bpf", "perf", "ptrace")


class Hogs:
    """Two CPU-bound processes, one per core, for the duration of a with-block."""

    def __enter__(self):
        self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                       start_new_session=True) for _ in range(2)]
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
            p.wait()


def start_target(python, ext_dir, leaf_ms=LEAF_MS, seconds=600, spawn=None):
    """shortcalls.py running, its "ready" line read."""
    cmd = [python, SHORTCALLS, ext_dir, leaf_ms, str(seconds)]
    p = (spawn or (lambda c, **kw: subprocess.Popen(c, start_new_session=True, **kw)))(
        cmd, stdout=subprocess.PIPE)
    line = p.stdout.readline()
    if not line.startswith(b"ready"):
        p.kill()
        raise RuntimeError("%s did not start: %r" % (" ".join(cmd), line))
    return p


def record_mode(pid, capture, rate, seconds, env=None, sampler=SAMPLER):
    """The sampler on pid with --native --capture capture: (raw profile or None, stderr)."""
    with tempfile.TemporaryDirectory(prefix="pyprof-exact-") as tmp:
        out = os.path.join(tmp, "p.raw")
        cmd = [sampler, "record", "--pid", str(pid), "--native", "--capture", capture,
               "-F", str(rate), "-d", str(seconds), "--raw", out]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60,
                           env=dict(os.environ, **(env or {})))
        if r.returncode != 0:
            return None, "exit %d: %s" % (r.returncode, r.stderr.strip()[-300:])
        return rawfmt.read_raw(out), r.stderr


def leaf_figures(prof):
    """(leaf samples, % true order, % marked (a mismatch, or an unproven join: perf mode),
    % silently wrong, % merge failures of all samples)."""
    c = {"merged": 0, "detected": 0, "wrong": 0, "unproven": 0, "unproven_wrong": 0}
    for stack_id, _, count in prof.counts:
        frames = [prof.frames[f] for f in prof.stacks[stack_id]]
        if any(f.name == "cbext_burn" for f in frames):
            c[classify(frames)] += count
    n = sum(c.values())
    pct = (lambda k: 100.0 * c[k] / n) if n else (lambda k: 0.0)
    samples = prof.stat("native_samples") or 1
    return (n, pct("merged"), pct("detected") + pct("unproven") + pct("unproven_wrong"),
            pct("wrong"), 100.0 * prof.stat("merge_failures") / samples)


def interpreters():
    """[(label, path)] of the interpreters present."""
    import pyprof_e2e as e2e
    return [(pid, i.path) for pid, i in e2e.discover_interpreters()
            if i is not None and not pid.startswith("venv-")]


def measure(python, rate, seconds, captures=CAPTURES):
    """{capture: (figures or None, bpf run ns or None, error)} on one target under two hogs."""
    ext = build_ext.build(python)
    target = start_target(python, ext)
    rows = {}
    try:
        with Hogs():
            time.sleep(0.3)
            for capture in captures:
                prof, err = record_mode(target.pid, capture, rate, seconds[capture])
                rows[capture] = ((leaf_figures(prof), prof.stats.get("bpf_run_ns_avg"), "")
                                 if prof else (None, None, err))
    finally:
        target.kill()
        target.wait()
    return rows


def main():
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    print("| interpreter | rate | capture | leaf samples | true order | marked | silently wrong "
          "| merge failures (all samples) | BPF program µs/sample |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for label, python in interpreters():
        for rate in (200, 1000):
            s = secs * (2 if rate == 200 else 1)
            seconds = {"bpf": s, "perf": s, "ptrace": s}
            try:
                rows = measure(python, rate, seconds)
            except Exception as e:  # one interpreter failing does not end the section
                print("| %s | %d | n/a | %s ||||||" % (label, rate, str(e)[:120]))
                continue
            for capture, (fig, bpf_ns, err) in rows.items():
                if fig is None:
                    print("| %s | %d | %s | n/a (%s) ||||||" % (label, rate, capture, err[:120]))
                    continue
                n, ok, det, wrong, mf = fig
                print("| %s | %d Hz | %s | %d | %.2f %% | %.2f %% | %.2f %% | %.2f %% | %s |"
                      % (label, rate, capture, n, ok, det, wrong, mf,
                         "%.1f" % (bpf_ns / 1000.0) if bpf_ns else "—"))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
