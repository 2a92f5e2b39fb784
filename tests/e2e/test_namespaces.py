"""A target in its own PID and mount namespaces (the container case),
profiled from the host by its host PID.

Inside the namespace the threads are numbered from 1: CPython records those
TIDs (native_thread_id on 3.11+, glibc's descriptor on 3.8-3.10), while
/proc on the host lists host TIDs.  pyprof must map one to the other
(NSpid), read files through /proc/PID/root, and still name every thread.
"""
import os
import shutil
import subprocess
import tempfile
import time

import pyprof_e2e as e2e

SPIN = {"MainThread": "spin_main", "worker-a": "spin_a",
        "worker-b": "spin_b", "worker-c": "spin_c"}


def host_pid_of_namespaced_python(unshare_pid, timeout=10.0):
    """The child of `unshare --fork`: PID 1 of the new namespace."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/task/%d/children" % (unshare_pid, unshare_pid)) as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            kids = []
        if kids:
            return kids[0]
        time.sleep(0.05)
    raise AssertionError("unshare started no child")


def test_threads_of_a_process_in_its_own_pid_namespace(interp):
    # GIVEN threads4.py running as PID 1 of a new PID + mount namespace
    unshare = shutil.which("unshare")
    assert unshare, "unshare (util-linux) is needed for this test"
    proc = e2e.spawn([unshare, "--pid", "--fork", "--mount-proc", interp.path,
                      e2e.workload("threads4.py"), "8"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready = e2e.wait_for_ready(proc)
        pid = host_pid_of_namespaced_python(proc.pid)
        with open("/proc/%d/status" % pid) as f:
            nspid = [l.split()[1:] for l in f if l.startswith("NSpid:")][0]
        assert nspid[-1] == "1", "the target is not PID 1 of its namespace: NSpid %s" % nspid
        host_tids = {int(t) for t in os.listdir("/proc/%d/task" % pid)}

        # WHEN pyprof attaches by the host PID with --threads
        with tempfile.TemporaryDirectory(prefix="pyprof-e2e-") as tmp:
            out = os.path.join(tmp, "profile.collapsed")
            result = e2e.run_pyprof(["record", "--pid", str(pid), "-o", out, "--format",
                                     "collapsed", "--rate", "200", "--duration", "2",
                                     "--threads"], timeout=60)
            profile = e2e.read_profile(out, result, target_pid=pid, ready_line=ready)
    finally:
        e2e.stop_process(proc)

    # THEN each of the 4 threads is a root with its HOST TID and Python name,
    # holding its own spin function
    roots = {}
    for stack, n in profile.items():
        root = e2e.thread_root(stack[0])
        assert root, "stack without a thread root: %r" % (stack,)
        roots.setdefault(root, set()).update(e2e.py_funcs(stack))
    names = {name: tid for tid, name in roots}
    assert set(names) == set(SPIN), "thread roots %s\n%s" % (sorted(roots), profile.top(5))
    for (tid, name), funcs in roots.items():
        assert tid in host_tids, "thread %s has TID %d, not a host TID of %d (%s)" % (
            name, tid, pid, sorted(host_tids))
        assert SPIN[name] in funcs, "%s lacks %s: %s" % (name, SPIN[name], sorted(funcs))
        others = set(SPIN.values()) - {SPIN[name]}
        assert not funcs & others, "%s shows another thread's function: %s" % (name, funcs)
