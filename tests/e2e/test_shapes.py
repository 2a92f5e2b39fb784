# -*- coding: utf-8 -*-
"""Stack shapes, per interpreter: deep recursion, non-ASCII names, methods,
generators, coroutines (shapes.py, launched) and named threads (threads4.py,
attached, --threads).
"""
import collections
import re

import pytest

import pyprof_e2e as e2e

RATE = 300
DURATION = 2
WORKLOAD_SLACK = 3      # a launched workload outlives the recording by this much
SPIN = {"MainThread": "spin_main", "worker-a": "spin_a",
        "worker-b": "spin_b", "worker-c": "spin_c"}


def record_shape(interp, mode):
    """Attach to `shapes.py MODE` once it printed "ready" (so start-up imports,
    which take a while on a loaded 2-core machine, are not in the window)."""
    return e2e.record_attach(
        interp.path, [e2e.workload("shapes.py"), mode, str(DURATION + WORKLOAD_SLACK)],
        rate=RATE, duration=DURATION)


def longest_run(funcs, name):
    best = run = 0
    for func in funcs:
        run = run + 1 if func == name else 0
        best = max(best, run)
    return best


def parent_child_samples(profile, parent, child):
    """(samples with `child` as a Python frame, of which `parent` is its caller, bad stacks)."""
    with_child = with_parent = 0
    bad = []
    for stack, n in profile.items():
        funcs = e2e.py_funcs(stack)
        if child not in funcs:
            continue
        with_child += n
        i = funcs.index(child)
        if i > 0 and funcs[i - 1] == parent:
            with_parent += n
        else:
            bad.append(";".join(stack))
    return with_child, with_parent, bad


def test_recursion_150_deep_is_shown_whole(interp):
    # GIVEN recurse() nested exactly 150 deep above a CPU-burning leaf()
    # WHEN pyprof records it
    profile = record_shape(interp, "recursion")

    # THEN the deepest stacks hold all 150 recurse frames, from <module> down to leaf
    runs = {stack: longest_run(e2e.py_funcs(stack), "recurse") for stack in profile}
    deepest = max(runs.values())
    assert deepest == 150, "deepest run of recurse frames is %d, expected 150\n%s" % (
        deepest, profile.top(limit=5))
    full = [s for s, run in runs.items() if run == 150]
    full_samples = sum(profile[s] for s in full)
    recurse_samples = sum(profile[s] for s, run in runs.items() if run > 0)
    assert full_samples >= 0.8 * recurse_samples, (
        "only %d of %d recursion samples show all 150 frames\n%s"
        % (full_samples, recurse_samples, profile.top(limit=5)))
    for stack in full:
        assert e2e.py_funcs(stack)[0] == "<module>", (
            "150-deep stack does not start at <module>: %s" % ";".join(stack)[:600])
    at_leaf = sum(profile[s] for s in full if e2e.leaf_py_func(s) == "leaf")
    assert at_leaf >= 0.9 * full_samples, (
        "only %d of %d full-depth samples end in leaf()\n%s"
        % (at_leaf, full_samples, profile.top(limit=5)))
    assert not any("<truncated>" in stack for stack in profile), "stacks were truncated"


def test_non_ascii_function_names_appear_exactly(interp):
    # GIVEN functions named größe_berechnen and 計算 (UTF-8 source), burning CPU in turn
    # WHEN pyprof records it (read_profile already requires the file to be valid UTF-8)
    profile = record_shape(interp, "unicode")

    # THEN both names appear verbatim as leaf frames, each with a fair share of samples
    leaves = collections.Counter()
    for stack, n in profile.items():
        leaves[e2e.leaf_py_func(stack)] += n
    both = leaves["größe_berechnen"] + leaves["計算"]
    for name in ("größe_berechnen", "計算"):
        assert leaves[name] >= 0.25 * both and leaves[name] > 0, (
            "%r: %d samples (leaf functions: %s)\n%s"
            % (name, leaves[name], dict(leaves.most_common(8)), profile.top(limit=5)))
    assert both >= 0.8 * profile.total, profile.top(limit=8)


def test_method_shows_qualname_on_311_plus(interp):
    # GIVEN Worker.run_method burning CPU
    # WHEN pyprof records it
    profile = record_shape(interp, "method")

    # THEN the frame is "Worker.run_method" on 3.11+ (co_qualname), "run_method" before
    expected, other = ("Worker.run_method", "run_method") if interp.has_qualnames \
        else ("run_method", "Worker.run_method")
    leaves = collections.Counter()
    for stack, n in profile.items():
        leaves[e2e.leaf_py_func(stack)] += n
    assert leaves[expected] >= 0.8 * profile.total, (
        "%s: expected leaf %r in most samples; leaves: %s\n%s"
        % (interp, expected, dict(leaves.most_common(8)), profile.top(limit=5)))
    assert not any(other in e2e.py_funcs(s) for s in profile), (
        "%s: found frame name %r, expected %r" % (interp, other, expected))


def test_generator_frame_is_child_of_its_consumer(interp):
    # GIVEN consume() iterating produce(), which burns CPU between yields
    # WHEN pyprof records it
    profile = record_shape(interp, "generator")

    # THEN produce appears right below consume (caller order), in most samples
    with_child, with_parent, bad = parent_child_samples(profile, "consume", "produce")
    assert with_child >= 0.8 * profile.total, profile.top(limit=5)
    # the target is never stopped: a rare torn read may misplace a frame
    assert with_parent >= 0.99 * with_child, (
        "%d of %d produce samples are not directly under consume, e.g.:\n  %s"
        % (with_child - with_parent, with_child, "\n  ".join(bad[:3])))


def test_coroutine_frame_is_child_of_awaiting_coroutine(interp):
    # GIVEN asyncio.run(outer()), outer awaiting inner, inner burning CPU without awaiting
    # WHEN pyprof records it
    profile = record_shape(interp, "coroutine")

    # THEN inner appears right below outer, in most samples
    with_child, with_parent, bad = parent_child_samples(profile, "outer", "inner")
    assert with_child >= 0.8 * profile.total, profile.top(limit=5)
    assert with_parent >= 0.99 * with_child, (
        "%d of %d inner samples are not directly under outer, e.g.:\n  %s"
        % (with_child - with_parent, with_child, "\n  ".join(bad[:3])))


def test_threads_are_named_and_separated(interp):
    # GIVEN threads4.py: MainThread and worker-a/b/c, each spinning in its own function
    # WHEN pyprof attaches with --threads
    profile = e2e.record_attach(interp.path, [e2e.workload("threads4.py"), "60"],
                                rate=200, duration=3, extra=["--threads"])
    # "ready MainThread=TID worker-a=TID ..." as the workload printed it
    tids = {name: int(tid) for name, tid in
            (kv.split("=") for kv in profile.ready_line.split()[1:])}
    assert tids["MainThread"] == profile.target_pid

    # THEN every stack starts with a `thread TID (name)` root ...
    per_thread = collections.defaultdict(collections.Counter)   # (tid, name) -> leaf counts
    for stack, n in profile.items():
        root = e2e.thread_root(stack[0])
        assert root is not None, "stack without a thread root: %s" % ";".join(stack)[:400]
        per_thread[root][e2e.leaf_py_func(stack)] += n

    # ... the four threads all appear, with the names and TIDs the workload reported ...
    seen = sorted((name, tid) for tid, name in per_thread)
    expected = sorted(tids.items())
    assert seen == expected, "threads seen %s, expected %s\n%s" % (seen, expected, profile.top())

    # ... and each thread's samples are in its own spin function, never another's
    for (tid, name), leaves in per_thread.items():
        own = SPIN[name]
        others = {f for f in leaves if f in SPIN.values() and f != own}
        assert leaves[own] >= 10, "thread %s (%d): %d samples in %s; leaves %s" % (
            name, tid, leaves[own], own, dict(leaves))
        assert not others, "thread %s (%d) shows other threads' functions %s" % (
            name, tid, others)


def test_short_lived_generators_never_cut_a_stack(interp):
    # GIVEN generators created and exhausted thousands of times a second
    # WHEN pyprof records it (the target keeps running while it reads)
    profile = e2e.record_attach(interp.path, [e2e.workload("genchurn.py"), "8"],
                                rate=500, duration=3)

    # THEN stacks reach the module: a generator frame read just as it yielded (no
    # caller any more) is rejected and read again, not reported as a stack of its
    # own.  The target is never stopped, so one frame's fields can still be copied
    # on either side of a resume (f_back before, f_executing after): seen in about
    # 1 sample in 1400 on 3.8-3.10 (before the check: 5 % of samples).  Bound: 0.5 %.
    roots = {}
    for stack, n in profile.items():
        funcs = e2e.py_funcs(stack)
        roots[funcs[0] if funcs else stack[0]] = roots.get(funcs[0] if funcs else stack[0], 0) + n
    cut = profile.total - roots.get("<module>", 0)
    assert cut <= 0.005 * profile.total, "stack roots %s\n%s" % (roots, profile.top(limit=6))
    genexpr = profile.samples_where(lambda s: any("genexpr" in f for f in e2e.py_funcs(s)))
    # the race is exercised (3.13t spends far less time in the genexpr frame:
    # 0.4 % of samples in one CI run, so only the no-cut rule above is checked)
    if not interp.free_threaded:
        assert genexpr >= 0.01 * profile.total, profile.top(limit=6)
    # ... and few samples are lost to such races (each is read up to 3 times, then
    # counted).  This workload is adversarial (a generator frame dies every few µs;
    # on <=3.10 each one is a heap object): measured 1-2 % on 3.11+, 3.5-5.5 % on
    # 3.8-3.10, so the bound is 8 %.
    m = re.search(r"(\d+) samples, (\d+) errors", profile.result.stderr)
    assert m, profile.result.stderr
    samples, errors = int(m.group(1)), int(m.group(2))
    assert errors <= 0.08 * (samples + errors), "%d errors in %d samples" % (errors, samples)
