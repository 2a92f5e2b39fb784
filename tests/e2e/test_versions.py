"""3.13+ layouts come from the target's own _Py_DebugOffsets, per patch release.

The walkers read every offset the debug table carries from the target (csrc/py/
layout.c); only what the table lacks is kept per minor version.  A value taken
from a constant instead would still work on the patch release it was measured on,
and on any other whose table happens to agree: comparing two patch releases'
tables says little when they are equal.  So each target rewrites one slot of its
own table (tests/workloads/debugtable.py: code_object.qualname := the offset of
co_name; CPython never reads the table itself) and the profile must follow it:
`Worker.spin` becomes `spin`.  Unchanged, the same target shows `Worker.spin`.

The slot positions below are those of each minor's pycore_debug_offsets.h,
written here independently of csrc/py/layout.c.
"""
import os
import struct
import tempfile

import pytest

import pyprof_e2e as e2e

# minor -> (byte offset of code_object.qualname, of code_object.name) in the table
SLOTS = {13: (296, 288), 14: (336, 328), 15: (400, 392)}
IDS = ("py3.13", "py3.14.10", "py3.14.8", "py3.15.2", "py3.15.0")
FIELD_NAMES = {  # a few slots, for the report of what differs between patch releases
    14: {72: "interpreter_state.threads_head", 176: "thread_state.size",
         208: "thread_state.current_frame", 224: "thread_state.native_thread_id",
         288: "interpreter_frame.owner", 336: "code_object.qualname",
         384: "code_object.co_code_adaptive"},
    15: {72: "interpreter_state.threads_head", 176: "thread_state.size",
         208: "thread_state.current_frame", 216: "thread_state.base_frame",
         248: "thread_state.native_thread_id", 352: "interpreter_frame.owner",
         400: "code_object.qualname", 448: "code_object.co_code_adaptive",
         776: "gc.generation_stats_size"},
}


def _params():
    found = dict(e2e.discover_interpreters())
    return [pytest.param(found.get(i), id=i,
                         marks=() if found.get(i) else pytest.mark.skip(
                             reason="interpreter %s is not installed" % i))
            for i in IDS]


def _record_pid(pid, ready, rate, duration):
    with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
        out = os.path.join(tmp, "profile.collapsed")
        args = e2e._record_args(out, rate, duration, ()) + ["--pid", str(pid)]
        result = e2e.run_pyprof(args, timeout=duration + 60)
        return e2e.read_profile(out, result, target_pid=pid, ready_line=ready)


def _spin_names(interp, mode):
    """(names of the leaf frames of Worker.spin's samples, the target's table)."""
    qual, name = SLOTS[interp.version[1]]
    target, ready = e2e.start_workload(
        interp.path, [e2e.workload("debugtable.py"), str(qual), str(name), mode, "60"])
    try:
        profile = _record_pid(target.pid, ready, rate=200, duration=2)
    finally:
        e2e.stop_process(target)
    leaves = {}
    for stack, n in profile.items():
        leaf = e2e.leaf_py_frame(stack)
        if leaf and leaf[1].endswith("debugtable.py"):
            leaves[leaf[0]] = leaves.get(leaf[0], 0) + n
    return leaves, bytes.fromhex(ready.split()[1])


@pytest.mark.parametrize("interp", _params())
def test_qualname_offset_comes_from_the_targets_table(interp):
    # GIVEN a target whose debug table is left alone
    leaves, table = _spin_names(interp, "keep")
    assert struct.unpack_from("<Q", table, 8)[0] >> 16 == 0x0300 | interp.version[1]
    # THEN the method shows with its qualname
    assert leaves.get("Worker.spin", 0) >= 50, leaves

    # GIVEN the same target with code_object.qualname pointing at co_name
    leaves, _ = _spin_names(interp, "redirect")
    # THEN pyprof followed the table: the method shows with its bare name
    assert leaves.get("spin", 0) >= 50 and "Worker.spin" not in leaves, leaves


@pytest.mark.parametrize("minor,ids", [(14, ("py3.14.8", "py3.14.10")),
                                       (15, ("py3.15.0", "py3.15.2"))])
def test_two_patch_releases_each_read_their_own_table(minor, ids):
    found = dict(e2e.discover_interpreters())
    interps = [found.get(i) for i in ids]
    if not all(interps):
        pytest.skip("needs both %s and %s" % ids)
    tables = []
    for interp in interps:
        leaves, table = _spin_names(interp, "keep")
        assert leaves.get("Worker.spin", 0) >= 50, (interp, leaves)
        tables.append(table)
    # the tables' layout is the minor's, so slot by slot they can be compared;
    # whatever differs was read from each target (the redirect test above shows
    # that the reading follows the table)
    size = {14: 760, 15: 888}[minor]
    diffs = [off for off in range(16, size, 8)
             if tables[0][off:off + 8] != tables[1][off:off + 8]]
    print("%s vs %s: %d of %d debug-table slots differ: %s" % (
        ids[0], ids[1], len(diffs), (size - 16) // 8,
        ", ".join("%d (%s) %d -> %d" % (o, FIELD_NAMES[minor].get(o, "?"),
                                         struct.unpack_from("<Q", tables[0], o)[0],
                                         struct.unpack_from("<Q", tables[1], o)[0])
                  for o in diffs) or "none"))
