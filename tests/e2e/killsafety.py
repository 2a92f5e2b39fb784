"""Kill-safety trials: signal pyprof, its sampler or both at a random moment
of a recording, then check that nothing was harmed (issue 10).

One trial attaches ``pyprof record`` to a running target (tests/workloads/
heartbeat.py: busy threads plus a heartbeat counter in a file), sends SIGKILL,
SIGINT or SIGTERM to the CLI, to the sampler or to both at a random moment,
and then checks:

* stopped:  a thread of the target left stopped (/proc/TID/status State t/T)
* traced:   a thread of the target still traced (TracerPid != 0)
* stalled:  a target whose heartbeat does not advance any more
* orphan:   a sampler of this trial still alive 5 s after the CLI ended
            (found by the trial's tag in its environment, as pgrep would)
* partial:  a file at -o that does not parse completely
* temps:    anything left in pyprof's TMPDIR or beside the output (when both
            got SIGKILL nothing is alive to clean up: counted apart, as
            temps_inherent)

Used by tests/e2e/test_kill_safety.py (a few trials per mode, in `make test`)
and tools/stress.py (`make stress`, hundreds, with a summary table).
Plain Python, no pytest: the same code runs in both.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET

import pyprof_e2e as e2e

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEARTBEAT = os.path.join(REPO, "tests", "workloads", "heartbeat.py")
SAMPLER = os.path.join(REPO, "build", "pyprof-sampler")
TAG_VAR = "PYPROF_KILL_TAG"

MODES = {
    "python": [],
    "native": ["--native"],
    "blocking": ["--native", "--blocking"],
    "subprocesses": ["--subprocesses"],
}
VICTIMS = ("cli", "sampler", "both")
SIGNALS = (signal.SIGKILL, signal.SIGINT, signal.SIGTERM)
FORMATS = ("collapsed", "raw", "flamegraph")
CHECKS = ("stopped", "traced", "stalled", "orphan", "partial", "temps")


def _read(path, mode="r"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return None


def _status_field(pid, tid, field):
    text = _read("/proc/%d/task/%d/status" % (pid, tid)) or ""
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return None


def _tasks(pid):
    try:
        return [int(t) for t in os.listdir("/proc/%d/task" % pid)]
    except OSError:
        return []


def _children(pid):
    kids = []
    for tid in _tasks(pid):
        text = _read("/proc/%d/task/%d/children" % (pid, tid)) or ""
        kids += [int(c) for c in text.split()]
    return kids


def _tree(pid):
    tree, i = [pid], 0
    while i < len(tree) and len(tree) < 200:
        tree += [c for c in _children(tree[i]) if c not in tree]
        i += 1
    return tree


def _tagged(tag, exe_suffix=None):
    """PIDs whose environment holds TAG_VAR=tag (and whose exe ends with exe_suffix)."""
    return e2e.tagged_pids(TAG_VAR, tag, exe_suffix)


def _heartbeats(pids_files):
    beats = {}
    for path in pids_files:
        text = _read(path)
        try:
            beats[path] = int(text.strip()) if text else -1
        except ValueError:
            beats[path] = -1
    return beats


def check_output(path, fmt):
    """None when *path* is a complete profile in *fmt*, else why not."""
    try:
        if fmt == "collapsed":
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if text and not text.endswith("\n"):
                return "collapsed: no final newline"
            for line in text.splitlines():
                stack, _, count = line.rpartition(" ")
                if not stack or not count.isdigit():
                    return "collapsed: bad line %r" % line[:80]
            return None
        if fmt == "raw":
            sys.path.insert(0, REPO)
            from pyprof import raw
            raw.read_raw(path)
            return None
        root = ET.parse(path).getroot()
        return None if root.tag.endswith("svg") else "svg: root is %s" % root.tag
    except Exception as e:  # any failure to parse is a partial output
        return "%s: %s" % (type(e).__name__, e)


class Target:
    """The heartbeat workload, in its own session (and its children with --subprocesses)."""

    def __init__(self, python, workdir, children=0):
        self.beat_files = [os.path.join(workdir, "beat")] + [
            os.path.join(workdir, "beat.%d" % n) for n in range(children)]
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        env.pop(TAG_VAR, None)
        self.proc = subprocess.Popen([python, HEARTBEAT, self.beat_files[0], str(children)],
                                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     start_new_session=True, env=env)
        line = self.proc.stdout.readline()
        if line.strip() != b"ready":
            self.stop()
            raise RuntimeError("the heartbeat target did not start")
        deadline = time.time() + 20
        while time.time() < deadline and any(not os.path.exists(p) for p in self.beat_files):
            time.sleep(0.02)
        time.sleep(0.2)  # let the threads start

    def pids(self):
        return _tree(self.proc.pid)

    def harm(self):
        """(stopped, traced) thread descriptions across the target's tree."""
        stopped, traced = [], []
        for pid in self.pids():
            for tid in _tasks(pid):
                state = _status_field(pid, tid, "State") or ""
                if state[:1] in ("t", "T"):
                    stopped.append("%d/%d %s" % (pid, tid, state))
                tracer = _status_field(pid, tid, "TracerPid")
                if tracer not in (None, "0"):
                    traced.append("%d/%d by %s" % (pid, tid, tracer))
        return stopped, traced

    def progressing(self, wait=0.5):
        before = _heartbeats(self.beat_files)
        time.sleep(wait)
        after = _heartbeats(self.beat_files)
        return [p for p in self.beat_files if not after[p] > before[p] >= 0]

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        self.proc.stdout.close()


def run_trial(mode, victim, signum, fmt, delay, python_target, python_cli=sys.executable, rate=1000, log=None,
              cli_root=REPO):
    """One trial; returns a dict of what was found (CHECKS keys, truthy = harm).

    *cli_root* is the source tree whose ``python -m pyprof`` runs (another
    checkout, to compare with an older pyprof); its sampler is its own
    build/pyprof-sampler."""
    workdir = tempfile.mkdtemp(prefix="pyprof-kill-")
    outdir, tmpdir = os.path.join(workdir, "out"), os.path.join(workdir, "tmp")
    os.mkdir(outdir)
    os.mkdir(tmpdir)
    out = os.path.join(outdir, "profile." + {"collapsed": "txt", "raw": "raw", "flamegraph": "svg"}[fmt])
    tag = uuid.uuid4().hex
    result = {"mode": mode, "victim": victim, "signal": signal.Signals(signum).name, "format": fmt,
              "delay": round(delay, 3), "notes": []}
    target = Target(python_target, workdir, children=2 if mode == "subprocesses" else 0)
    cli = sampler = None
    try:
        env = dict(os.environ, TMPDIR=tmpdir, PYTHONDONTWRITEBYTECODE="1", **{TAG_VAR: tag})
        env.pop("PYPROF_SAMPLER", None)
        argv = [python_cli, "-m", "pyprof", "record", "--pid", str(target.proc.pid), "-o", out,
                "--format", fmt, "-F", str(rate), "-d", "30"] + MODES[mode]
        # stderr to a file, not a pipe: an orphaned sampler holds its copy of
        # stderr open, and reading a pipe to EOF would wait for the orphan
        errfile = open(os.path.join(workdir, "stderr"), "w+b")
        cli = subprocess.Popen(argv, cwd=cli_root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=errfile, start_new_session=True)
        start = time.time()
        while time.time() < start + delay:
            if sampler is None:
                kids = [k for k in _children(cli.pid) if k in _tagged(tag, "pyprof-sampler")]
                sampler = kids[0] if kids else None
            time.sleep(0.005)
        # the sampler may start late on a loaded machine: a trial aimed at it
        # waits for it (then signals at once); one aimed at the CLI does not
        deadline = time.time() + (15 if victim != "cli" else 0)
        while sampler is None:
            kids = [k for k in _children(cli.pid) if k in _tagged(tag, "pyprof-sampler")]
            sampler = kids[0] if kids else None
            if sampler is not None or time.time() > deadline or cli.poll() is not None:
                break
            time.sleep(0.005)
        if victim in ("cli", "both"):
            cli.send_signal(signum)
        if victim in ("sampler", "both") and sampler is not None:
            try:
                os.kill(sampler, signum)
            except ProcessLookupError:
                pass
        if sampler is None and victim != "cli":
            result["notes"].append("no sampler to signal")
        try:
            cli.wait(timeout=60)
        except subprocess.TimeoutExpired:
            result["notes"].append("CLI still running 60 s after the signal")
            cli.kill()
            cli.wait()
        errfile.seek(0)
        err = errfile.read().decode(errors="replace")
        errfile.close()
        result["cli_exit"] = cli.returncode
        errors = [line for line in err.splitlines() if line.startswith("pyprof: error:")]
        result["cli_error"] = errors[0][len("pyprof: error: "):] if errors else None
        if "Traceback" in err:
            where = "the interpreter's start-up" if "init_import_site" in err else "pyprof"
            result["notes"].append("traceback in %s: %s" % (where, err.strip().splitlines()[-1][:120]))
            result["stderr"] = err[-2000:]
        # orphan: a sampler of this trial alive 5 s after the CLI ended
        deadline = time.time() + 5
        while time.time() < deadline and _tagged(tag, "pyprof-sampler"):
            time.sleep(0.05)
        orphans = _tagged(tag, "pyprof-sampler")
        result["orphan"] = len(orphans)
        stopped, traced = target.harm()
        result["stopped"], result["traced"] = len(stopped), len(traced)
        if stopped or traced:
            result["notes"].append("while the sampler lives: " + "; ".join(stopped + traced)[:200])
        for pid in orphans:  # end the orphans, then look at the target again
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.time() + 5
        while time.time() < deadline and _tagged(tag, "pyprof-sampler"):
            time.sleep(0.05)
        stopped, traced = target.harm()
        result["stopped"] = max(result["stopped"], len(stopped)) if orphans else len(stopped)
        result["traced"] = max(result["traced"], len(traced)) if orphans else len(traced)
        result["stopped_after"] = len(stopped)
        result["traced_after"] = len(traced)
        stalled = target.progressing()
        result["stalled"] = len(stalled)
        # outputs: complete or absent; nothing else beside them, nothing in TMPDIR
        result["output"] = os.path.exists(out)
        why = check_output(out, fmt) if os.path.exists(out) else None
        result["partial"] = 1 if why else 0
        if why:
            result["notes"].append("partial output: " + why[:150])
        left = [os.path.join("out", n) for n in os.listdir(outdir) if os.path.join(outdir, n) != out]
        left += [os.path.join("tmp", n) for n in os.listdir(tmpdir)]
        if victim == "both" and signum == signal.SIGKILL:
            # nobody is left alive to remove pyprof's temp dir: counted apart
            result["temps_inherent"], result["temps"] = len(left), 0
        else:
            result["temps"] = len(left)
        if left:
            result["notes"].append("left: " + " ".join(left)[:150])
    finally:
        if cli is not None and cli.poll() is None:
            cli.kill()
            cli.wait()
        for pid in _tagged(tag):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        target.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if log:
        log.write(json.dumps(result) + "\n")
        log.flush()
    return result


def trial_plan(n, seed, modes=tuple(MODES), max_delay=1.5):
    """n trials cycling through every (mode, victim, signal), formats in turn, random delays."""
    rng = random.Random(seed)
    combos = [(m, v, s) for m in modes for v in VICTIMS for s in SIGNALS]
    rng.shuffle(combos)
    plan = []
    for i in range(n):
        mode, victim, signum = combos[i % len(combos)]
        plan.append((mode, victim, signum, FORMATS[i % len(FORMATS)], rng.uniform(0.02, max_delay)))
    return plan


def harmed(result):
    """The CHECKS that found harm in *result*."""
    return [c for c in CHECKS if result.get(c)]


def summary_table(results):
    """A text table: per mode and victim, the trials and each kind of harm."""
    rows = {}
    for r in results:
        for key in ((r["mode"], r["victim"]), (r["mode"], "all"), ("all", "all")):
            row = rows.setdefault(key, dict.fromkeys(("trials", "temps_inherent") + CHECKS, 0))
            row["trials"] += 1
            row["temps_inherent"] += 1 if r.get("temps_inherent") else 0
            for c in CHECKS:
                row[c] += 1 if r.get(c) else 0
    head = ("%-13s %-8s %6s " % ("mode", "victim", "trials") + " ".join("%8s" % c for c in CHECKS)
            + "  (temps when both got SIGKILL)")
    lines = [head, "-" * len(head)]
    order = [m for m in MODES] + ["all"]
    for mode in order:
        for victim in VICTIMS + ("all",):
            row = rows.get((mode, victim))
            if row:
                lines.append("%-13s %-8s %6d " % (mode, victim, row["trials"])
                             + " ".join("%8d" % row[c] for c in CHECKS) + "  (%d)" % row["temps_inherent"])
    return "\n".join(lines)
