"""`pyprof dump --locals`: each Python frame's arguments and locals under its line.

The workload (tests/workloads/locals.py) parks `parked(arg)` with locals of every
rendered kind and prints the lines pyprof must show for them, computed in the
target interpreter from the values themselves; each interpreter under test is
dumped for real:

1. Python-only `dump --locals` on every interpreter: the frame is at the park
   line, every expected line is printed under it (indented), the name bound
   after the park point is not, and the module frame above has none.
2. `dump --native --locals` (one interpreter): the same lines under the Python
   frame of the merged stack.
3. `dump --subprocesses --locals` (one interpreter): the same through the tree dump.
4. `record --locals` is a usage error (exit 2).
"""
import json
import re

import pyprof_e2e as e2e

_FRAME_RE = re.compile(r"^    (?P<func>\S+) \((?P<file>.+):(?P<line>\d+)\)$")


def frame_locals(text, func):
    """[(line number, [locals lines])] of each frame of *func* in a dump."""
    found = []
    current = None
    for line in text.splitlines():
        m = _FRAME_RE.match(line)
        if m:
            current = None
            if m.group("func") == func:
                current = []
                found.append((int(m.group("line")), current))
        elif current is not None and line.startswith("        ") and line.strip():
            current.append(line.strip())
        elif not line.startswith("        "):
            current = None
    return found


def start_target(interp):
    target, ready = e2e.start_workload(interp.path, [e2e.workload("locals.py")])
    return target, json.loads(ready[len("ready "):])


def check_dump(result, spec, what):
    assert result.returncode == 0, e2e.describe(result)
    frames = frame_locals(result.stdout, "parked")
    assert len(frames) == 1, "%s: parked frame not printed once:\n%s" % (what, result.stdout)
    line, shown = frames[0]
    assert line == spec["line"], "%s: parked at line %d, dump says %d" % (what, spec["line"], line)
    missing = [e for e in spec["expect"] if e not in shown]
    assert not missing, "%s: lines missing %s\n%s" % (what, missing, result.stdout)
    for name in spec["absent"]:
        assert not any(s.startswith(name + " = ") for s in shown), (
            "%s: unbound %s shown\n%s" % (what, name, result.stdout))
    module = frame_locals(result.stdout, "<module>")
    assert module and not module[0][1], "%s: module frame has locals\n%s" % (what, result.stdout)


def test_dump_locals_renders_known_values(interp):
    # GIVEN a target parked with known locals
    target, spec = start_target(interp)
    # WHEN `pyprof dump --pid PID --locals` runs
    result = e2e.run_pyprof(["dump", "--pid", str(target.pid), "--locals"], timeout=60)
    # THEN every expected line is under the parked frame, and the target still runs
    check_dump(result, spec, "%s dump --locals" % interp)
    assert target.poll() is None


def test_dump_native_locals(any_interp):
    target, spec = start_target(any_interp)
    result = e2e.run_pyprof(["dump", "--pid", str(target.pid), "--native", "--locals"], timeout=60)
    check_dump(result, spec, "%s dump --native --locals" % any_interp)
    assert target.poll() is None


def test_dump_subprocesses_locals(any_interp):
    target, spec = start_target(any_interp)
    result = e2e.run_pyprof(["dump", "--pid", str(target.pid), "--subprocesses", "--locals"],
                            timeout=60)
    check_dump(result, spec, "%s dump --subprocesses --locals" % any_interp)


def test_record_locals_is_a_usage_error(any_interp):
    target, _ = start_target(any_interp)
    result = e2e.run_sampler(["record", "--pid", str(target.pid), "--locals", "--raw", "/dev/null"])
    assert result.returncode == 2, e2e.describe(result)
    assert "--locals" in result.stderr
