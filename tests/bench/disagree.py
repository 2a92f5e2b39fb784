"""How often do the native and Python views disagree?  (`make bench`, docs/native.md)

For each capture (bpf, the default as root; perf events; the same without the join checks,
PYPROF_VERIFY_JOINS=0, as before issue 13; --blocking) and each call length of
the C leaf (3 ms, 0.3 ms, 0.03 ms), profiles tests/native/shortcalls.py at
1 kHz and counts, over the samples whose stack contains the C leaf cbext_burn (their
share of all samples should agree between the modes: a fixed sampling
period would alias with this periodic workload):

  merged      the full order caller -> cbext_entry -> callback -> cbext_leaf
              -> cbext_burn, no eval-loop frame, no marker, and no Python frame
              between callback and cbext_leaf (pywork never calls the leaf)
  detected    a <merge mismatch> / truncated marker: pyprof said it could not merge
  unproven    merged behind <merge unproven>: nothing showed that both halves
              are of one instant (in parentheses: how many of them are wrong)
  wrong       none of these: a splice that looks whole but has the wrong Python
              frames (the failure that matters most: silent)

Usage: python tests/bench/disagree.py [PYTHON] [SECONDS]
"""
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "native"))
sys.path.insert(0, REPO)
import build_ext  # noqa: E402
from pyprof import raw  # noqa: E402

WANT = ["caller", "cbext_entry", "callback", "cbext_leaf", "cbext_burn"]


def classify(frames):
    marks = [f.name for f in frames if f.kind == "marker"]
    if any(m != "<merge unproven>" for m in marks):
        return "detected"
    names = [f.name for f in frames if f.kind != "marker"]
    i = 0
    for n in names:
        if i < len(WANT) and n == WANT[i]:
            i += 1
    ok = i == len(WANT) and not any("_PyEval_EvalFrameDefault" in n for n in names)
    # the C leaf's Python caller is callback itself (pywork never calls it: a
    # Python stack read while callback was in pywork, spliced onto the leaf)
    leaf = next((k for k, f in enumerate(frames) if f.name == "cbext_leaf"), 0)
    py_before_leaf = [f.name for f in frames[:leaf] if f.kind == "py"]
    ok = ok and py_before_leaf[-1:] == ["callback"]
    if marks:
        return "unproven" if ok else "unproven_wrong"
    return "merged" if ok else "wrong"


def run(python, ext_dir, leaf_ms, mode, seconds):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "p.raw")
        cmd = [sys.executable, "-m", "pyprof", "record", "--native", "-F", "1000", "-d", str(seconds),
               "--format", "raw", "-o", out]
        env = dict(os.environ)
        env.pop("PYPROF_VERIFY_JOINS", None)
        if mode == "perf-nocheck":
            env["PYPROF_VERIFY_JOINS"] = "0"
        cmd += ["--capture", {"blocking": "ptrace", "perf-nocheck": "perf"}.get(mode, mode)]
        cmd += ["--", python, os.path.join(REPO, "tests", "native", "shortcalls.py"), ext_dir, str(leaf_ms)]
        subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, timeout=seconds + 60, env=env)
        prof = raw.read_raw(out)
    counts = {"merged": 0, "detected": 0, "unproven": 0, "unproven_wrong": 0, "wrong": 0}
    for stack_id, _, count in prof.counts:
        frames = [prof.frames[f] for f in prof.stacks[stack_id]]
        if any(f.name == "cbext_burn" for f in frames):
            counts[classify(frames)] += count
    return counts, prof


def main():
    python = sys.argv[1] if len(sys.argv) > 1 else sys.executable
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 4
    ext_dir = build_ext.build(python)
    print("native/Python disagreement, %s, 1 kHz, %g s per run" % (python, seconds))
    print("%-12s %7s %7s %10s %8s %9s %17s %8s %12s" % (
        "mode", "leaf ms", "samples", "leaf share", "merged", "detected", "unproven (wrong)", "wrong",
        "py delay p50"))
    for leaf_ms in (3.0, 0.3, 0.03):
        for mode in ("bpf", "perf-nocheck", "perf", "blocking"):
            c, prof = run(python, ext_dir, leaf_ms, mode, seconds)
            total = sum(c.values()) or 1
            delay = ("0 (same instant)" if mode == "bpf" else
                     ("%d us" % prof.stat("py_delay_us_p50")) if mode != "blocking" else
                     ("stop %d us" % (prof.stat("stop_ns_p50") // 1000)))
            share = 100.0 * sum(c.values()) / max(prof.total_samples, 1)
            unproven = c["unproven"] + c["unproven_wrong"]
            print("%-12s %7g %7d %9.1f%% %7.2f%% %8.2f%% %7.2f%% (%5.2f%%) %7.2f%% %12s" % (
                mode, leaf_ms, total, share, 100.0 * c["merged"] / total, 100.0 * c["detected"] / total,
                100.0 * unproven / total, 100.0 * c["unproven_wrong"] / total,
                100.0 * c["wrong"] / total, delay))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
