"""CPU shares: split.py burns alpha/beta/gamma 60/30/10 % by time; pyprof must see that.

Per interpreter, launched (`record -- python split.py`) and attached (`record --pid`),
at 1 kHz for 5 s.
"""
import ast
import collections

import pytest

import pyprof_e2e as e2e

RATE = 1000
DURATION = 5
EXPECTED = {"alpha": 60.0, "beta": 30.0, "gamma": 10.0}
TOLERANCE_PP = 3.0
MIN_SAMPLES = 3000


def _function_lines(path, names):
    """{function name: range of its source lines} in a workload file."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    return {node.name: range(node.lineno, node.end_lineno + 1)
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef) and node.name in names}


@pytest.mark.parametrize("how", ["launch", "attach"])
def test_split_shares_match_60_30_10(interp, how):
    # GIVEN split.py, burning alpha/beta/gamma for 12/6/2 ms of every 20 ms
    split = e2e.workload("split.py")

    # WHEN pyprof records it at 1 kHz for 5 s
    if how == "launch":
        # the workload ends on its own a little after the recording would
        profile = e2e.record_launch(interp.path, [split, str(DURATION + 3)],
                                    rate=RATE, duration=DURATION)
    else:
        profile = e2e.record_attach(interp.path, [split, "120"],
                                    rate=RATE, duration=DURATION)

    # THEN the leaf-most Python frames split 60/30/10 (+-3 points) ...
    counts = collections.Counter()
    for stack, n in profile.items():
        func = e2e.leaf_py_func(stack)
        if func in EXPECTED:
            counts[func] += n
    total = sum(counts.values())
    shares = {f: 100.0 * counts[f] / total if total else 0.0 for f in EXPECTED}
    report = ("%s, %s: shares %s of %d samples in alpha/beta/gamma (expected 60/30/10 "
              "+-%.0f pp, >= %d samples)\n%s"
              % (interp, how, ", ".join("%s %.1f%%" % kv for kv in shares.items()),
                 total, TOLERANCE_PP, MIN_SAMPLES, profile.top()))
    assert total >= MIN_SAMPLES, report
    for func, expected in EXPECTED.items():
        assert abs(shares[func] - expected) <= TOLERANCE_PP, report

    # ... every alpha stack has <module> on its root side ...
    alpha_stacks = [s for s in profile if e2e.leaf_py_func(s) == "alpha"]
    for stack in alpha_stacks:
        funcs = e2e.py_funcs(stack)
        assert "<module>" in funcs[:funcs.index("alpha")], (
            "no <module> frame rootward of alpha in:\n  %s" % ";".join(stack))

    # ... and alpha's frames point at lines of alpha in split.py
    body = _function_lines(split, {"alpha"})["alpha"]
    in_body = 0
    for stack in alpha_stacks:
        _, filename, line = e2e.leaf_py_frame(stack)
        if filename.endswith("split.py") and line in body:
            in_body += profile[stack]
    assert in_body >= 0.99 * counts["alpha"], (
        "only %d of %d alpha samples name split.py:%d-%d\n%s"
        % (in_body, counts["alpha"], body.start, body.stop - 1, profile.top()))
