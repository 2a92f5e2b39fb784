#!/usr/bin/env python3
"""Native (mixed-mode) section of `make bench` (docs/performance.md, "Native mode").

Called by tests/bench/bench.py after its Python-only sections; run on its own
(`python3 tests/bench/native_bench.py`) it does only this section and writes
build/bench-native-results.md.  Everything is measured in one run, side by
side, on pyenv 3.11 with the test extension tests/native/cbext.c (built by
tests/native/build_ext.py):

  a. pyprof's per-sample native cost on a deep mixed stack
     (tests/bench/deep_mixed.py spin: Python -> C -> Python -> C -> Python -> C
     leaf, about 40 frames once merged), per unwinder and mode.  The raw file's native_ns_total (Python
     read + unwind + symbolize + merge, per sample) includes first-time
     symbolization, so the steady-state cost is taken from two attaches of
     different lengths: (ns_long - ns_short) / (samples_long - samples_short).
  b. attach-to-first-sample: the sampler's first_sample_us (session start to
     first counted sample) of `pyprof record --native --pid`, and the wall
     time of the whole command with -d 0.5 (less the 0.5 s).
  c. target slowdown at 100 Hz and 1 kHz of a fixed amount of mixed work
     (deep_mixed.py work) under pyprof --native in each capture (bpf, the
     default as root; perf; --blocking), perf record --call-graph dwarf, py-spy record --native and
     austinp, all attached by PID; runs interleaved with unprofiled ones,
     order rotated each round, medians.
  d. each tool's share of correctly merged samples on tests/native/cbwork.py.

Environment: BENCH_NATIVE_ROUNDS (default 3) rounds of (c),
BENCH_NATIVE_ITERS (default 4000) iterations of the (c) workload,
BENCH_NATIVE_REPEATS (default 3) attach pairs per row of (a).
"""
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (helpers: run, log, note, peers, interpreters)

ROOT = bench.ROOT
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "native"))
from pyprof import raw as rawmod  # noqa: E402
import build_ext  # noqa: E402

DEEP_MIXED = os.path.join(HERE, "deep_mixed.py")
CBWORK = os.path.join(ROOT, "tests", "native", "cbwork.py")
ALTERNATIONS = 2  # 41 frames at the leaf once merged on 3.11 (deep_mixed.py)
ROUNDS = int(os.environ.get("BENCH_NATIVE_ROUNDS", "3"))
ITERS = int(os.environ.get("BENCH_NATIVE_ITERS", "4000"))
REPEATS = int(os.environ.get("BENCH_NATIVE_REPEATS", "3"))
ATTACH_WAIT = 1.5  # s between starting a profiler and starting the timed work
COST_RATE = 1000
COST_SHORT, COST_LONG = 1.5, 4.5
MERGE_RATE, MERGE_SECS = 250, 3

log, note = bench.log, bench.note


def tmp(name):
    return os.path.join(bench.TMP, name)


def median(xs):
    return statistics.median(xs) if xs else None


def fmt(x, spec="%.1f", none="n/a"):
    return none if x is None else spec % x


def last_line(text, n=160):
    """The line that says what went wrong: an "Error..." line if there is one
    (py-spy prints a Rust backtrace after it), else the last line."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    errs = [ln for ln in lines if ln.lower().startswith(("error", "pyprof: error"))]
    return (errs[0] if errs else lines[-1] if lines else "no output")[:n]


# ---------------------------------------------------------------- tools

class Env:
    """What the section runs: the interpreter, the extension, the tools."""

    def __init__(self, python, peers):
        self.python = python
        self.ext = build_ext.build(python)
        self.env = dict(os.environ, PYPROF_SAMPLER=bench.SAMPLER,
                        PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.pyspy = peers.get("py-spy", (None,))[0]
        austin = peers.get("austin", (None,))[0]
        self.austinp = None
        if austin:
            p = os.path.join(os.path.dirname(austin), "austinp")
            self.austinp = p if os.access(p, os.X_OK) else None
        self.perf = shutil.which("perf")


def pyprof_cmd(e, pid, rate, out, dur=None, capture="bpf", unwinder=None):
    cmd = [e.python, "-m", "pyprof", "record", "--native", "-F", str(rate),
           "--format", "raw", "-o", out, "--pid", str(pid), "--capture", capture]
    if unwinder:
        cmd += ["--unwinder", unwinder]
    if dur is not None:
        cmd += ["-d", str(dur)]
    return cmd


def run_pyprof(e, cmd, timeout=120):
    return bench.run(cmd, timeout=timeout, env=e.env)


def read_raw(path):
    try:
        return rawmod.read_raw(path)
    except (OSError, rawmod.RawFormatError):
        return None


# ---------------------------------------------------------------- targets

class Spin:
    """deep_mixed.py spin: the deep mixed stack, burning in the C leaf."""

    def __init__(self, e, script=DEEP_MIXED, args=None, secs=600):
        args = args if args is not None else ["spin", str(secs), str(ALTERNATIONS)]
        self.p = subprocess.Popen([e.python, script, e.ext] + args, stdout=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL)
        self.pid = self.p.pid
        if script == DEEP_MIXED:
            r, _, _ = select.select([self.p.stdout], [], [], 20)
            if not r or self.p.stdout.readline().strip() != b"ready":
                self.close()
                raise RuntimeError("deep_mixed.py spin did not start")
        else:
            # cbwork.py prints nothing: wait until it has imported cbext
            t0 = time.monotonic()
            while time.monotonic() - t0 < 20 and self.p.poll() is None:
                try:
                    if "cbext" in open("/proc/%d/maps" % self.pid).read():
                        break
                except OSError:
                    pass
                time.sleep(0.05)
            time.sleep(0.3)

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


# ---------------------------------------------------------------- a. cost per sample

def frames_per_sample(prof):
    tot = nat = py = 0
    for sid, _, c in prof.counts:
        st = prof.stacks[sid]
        tot += c * len(st)
        nat += c * sum(1 for f in st if prof.frames[f].kind == "native")
        py += c * sum(1 for f in st if prof.frames[f].kind == "py")
    n = sum(c for _, _, c in prof.counts)
    return (tot / n, nat / n, py / n) if n else (None, None, None)


def cost_rows(e):
    configs = [("bpf (default)", "libdw", "bpf"), ("perf", "libdw", "perf"),
               ("perf", "libunwind", "perf"), ("--blocking", "libdw", "ptrace")]
    rows = []
    with Spin(e, secs=600) as t:
        for mode, unw, capture in configs:
            row = {"mode": mode, "unwinder": unw, "steady": [], "unwind": [], "cpu": [],
                   "why": None}
            for rep in range(REPEATS):
                got = []
                for dur in (COST_SHORT, COST_LONG):
                    out = tmp("cost-%s-%s-%d-%s.raw" % (unw, capture, rep, dur))
                    log("a. %s %s, attach for %.1f s (repeat %d/%d)" % (mode, unw, dur, rep + 1,
                                                                       REPEATS))
                    r = run_pyprof(e, pyprof_cmd(e, t.pid, COST_RATE, out, dur, capture, unw))
                    prof = read_raw(out) if r.rc == 0 else None
                    if prof is None or not prof.stat("native_samples"):
                        row["why"] = "exit %d: %s" % (r.rc, last_line(r.err))
                        break
                    got.append((prof, r.cpu))
                if row["why"]:
                    break
                (s, s_cpu), (l, l_cpu) = got
                dn = l.stat("native_samples") - s.stat("native_samples")
                if dn > 0:
                    row["steady"].append((l.stat("native_ns_total") - s.stat("native_ns_total"))
                                         / dn / 1e3)
                    row["unwind"].append((l.stat("unwind_ns_total") - s.stat("unwind_ns_total"))
                                         / dn / 1e3)
                    row["cpu"].append((l_cpu - s_cpu) / dn * 1e6)
                row["long"] = l
                row.setdefault("longs", []).append(l)
            if row["why"]:
                note("a. %s %s: n/a (%s)" % (mode, unw, row["why"]))
            rows.append(row)
    return rows


def table_cost(rows):
    out = ["| mode | unwinder | frames/sample (native + Python) | µs/sample, steady state: "
           "median (min–max) | unwind only µs/sample, steady: median | profiler CPU "
           "µs/sample, steady: median | µs/sample of one %.1f s run incl. first-time "
           "symbolization | samples (%.1f s run) | merge failures | truncated | lost "
           "| py read delay p50/p99 µs (perf) or thread stop p50/p99 µs (blocking) or the BPF "
           "program's own run time per sample, µs (bpf) |"
           % (COST_LONG, COST_LONG),
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["why"] or not r["steady"]:
            out.append("| %s | %s | n/a (%s) ||||||||||" % (r["mode"], r["unwinder"],
                                                           (r["why"] or "no samples")[:140]))
            continue
        l = r["long"]
        tot, nat, py = frames_per_sample(l)
        n = l.stat("native_samples")
        if r["mode"].startswith("bpf"):
            delay = "BPF program %s" % (fmt(l.stats["bpf_run_ns_avg"] / 1e3, "%.1f")
                                        if "bpf_run_ns_avg" in l.stats else "n/a")
        elif r["mode"] == "--blocking":
            delay = "stop %s / %s" % tuple(
                fmt(l.stats[k] / 1e3, "%.0f") if k in l.stats else "n/a"
                for k in ("stop_ns_p50", "stop_ns_p99"))
        else:
            delay = "delay %s / %s" % tuple(str(l.stats.get(k, "n/a"))
                                            for k in ("py_delay_us_p50", "py_delay_us_p99"))
        out.append("| %s | %s | %.1f (%.1f + %.1f) | %.1f (%.1f–%.1f) | %.1f | %.1f | %.1f "
                   "| %d | %d | %d | %d | %s |" % (
                       r["mode"], r["unwinder"], tot, nat, py, median(r["steady"]),
                       min(r["steady"]), max(r["steady"]), median(r["unwind"]),
                       median(r["cpu"]), l.stat("native_ns_total") / n / 1e3, n,
                       l.stat("merge_failures"), l.stat("native_truncated"), l.stat("lost"),
                       delay))
    return "\n".join(out)


# ---------------------------------------------------------------- b. attach to first sample

def attach_rows(e, n=3):
    rows = []
    for unw in ("libdw", "libunwind"):
        firsts, walls, swalls, why = [], [], [], None
        for i in range(n):
            with Spin(e, secs=60) as t:
                out = tmp("attach-%s-%d.raw" % (unw, i))
                log("b. attach %s %d/%d" % (unw, i + 1, n))
                r = run_pyprof(e, pyprof_cmd(e, t.pid, 1000, out, 0.5, "bpf", unw))
                prof = read_raw(out) if r.rc == 0 else None
                if prof is None or not prof.stat("first_sample_us"):
                    why = "exit %d: %s" % (r.rc, last_line(r.err))
                    break
                firsts.append(prof.stat("first_sample_us") / 1e3)
                walls.append((r.wall - 0.5) * 1e3)
                # the sampler alone, without the Python CLI around it
                r = bench.run([bench.SAMPLER, "record", "--native", "--unwinder", unw, "--pid",
                               str(t.pid), "--rate", "1000", "--duration", "0.5", "--raw",
                               tmp("attach-direct.raw")], timeout=60)
                if r.rc == 0:
                    swalls.append((r.wall - 0.5) * 1e3)
        if why:
            note("b. %s: n/a (%s)" % (unw, why))
        rows.append({"unwinder": unw, "firsts": firsts, "walls": walls, "swalls": swalls,
                     "why": why})
    cli = []
    for _ in range(3):
        r = bench.run([e.python, "-m", "pyprof", "--version"], env=e.env, timeout=60)
        if r.rc == 0:
            cli.append(r.wall * 1e3)
    rows.append({"cli": cli})
    return rows


def minmedmax(xs, spec="%.0f"):
    if not xs:
        return "n/a"
    return (spec + " (" + spec + "–" + spec + ")") % (median(xs), min(xs), max(xs))


def table_attach(rows):
    out = ["| unwinder | attaches | first_sample_us: sampler session start → first counted "
           "sample, ms: median (min–max) | whole `python3 -m pyprof record --native --pid P "
           "-F 1000 -d 0.5 --format raw` wall − 0.5 s, ms | same with `pyprof-sampler record "
           "--native` alone, wall − 0.5 s, ms |",
           "|---|---:|---:|---:|---:|"]
    cli = [r for r in rows if "cli" in r]
    rows = [r for r in rows if "cli" not in r]
    for r in rows:
        if r["why"]:
            out.append("| %s | 0 | n/a (%s) | | |" % (r["unwinder"], r["why"][:140]))
            continue
        out.append("| %s | %d | %s | %s | %s |" % (
            r["unwinder"], len(r["firsts"]), minmedmax(r["firsts"]), minmedmax(r["walls"]),
            minmedmax(r["swalls"])))
    if cli:
        out.append("\n`python3 -m pyprof --version` alone (interpreter start-up and import): "
                   "%s ms, median (min–max) of 3." % minmedmax(cli[0]["cli"]))
    return "\n".join(out)


# ---------------------------------------------------------------- c. slowdown

PERF_SAMPLES_RE = re.compile(r"\((\d+) samples\)")
PYSPY_ERR_RE = re.compile(r"Samples: (\d+) Errors: (\d+)")


def tool_cmd(e, tool, pid, rate, out, dur=None):
    """(argv, sigint_after) of a profiler attached to pid at rate Hz."""
    if tool == "pyprof (bpf)":
        return pyprof_cmd(e, pid, rate, out, dur, "bpf"), None
    if tool == "pyprof (perf)":
        return pyprof_cmd(e, pid, rate, out, dur, "perf"), None
    if tool == "pyprof --blocking":
        return pyprof_cmd(e, pid, rate, out, dur, "ptrace"), None
    if tool == "perf":
        cmd = [e.perf, "record", "--call-graph", "dwarf", "-F", str(rate), "-p", str(pid),
               "-o", out]
        return cmd + (["--", "sleep", str(dur)] if dur else []), None
    if tool == "py-spy --native":
        # py-spy's -d counts samples; stop it by the clock instead
        return ([e.pyspy, "record", "--native", "-r", str(rate), "-p", str(pid),
                 "--format", "raw", "-o", out], dur)
    if tool == "austinp":
        cmd = [e.austinp, "-i", str(int(1e6 / rate)), "-p", str(pid), "-o", out]
        return cmd + (["-x", str(dur)] if dur else []), None
    raise ValueError(tool)


def tool_available(e, tool):
    if tool == "perf" and not e.perf:
        return "perf not installed (Debian linux-perf)"
    if tool == "py-spy --native" and not e.pyspy:
        return "py-spy not installed in %s" % bench.VENV
    if tool == "austinp" and not e.austinp:
        return "austinp not in %s" % bench.VENV
    return None


def work_samples(e, tool, res, out):
    """Samples the tool took during the timed work."""
    if res is None:
        return None
    if tool.startswith("pyprof"):
        prof = read_raw(out)
        return prof.stat("native_samples") if prof else None
    if tool == "perf":
        m = PERF_SAMPLES_RE.search(res.err)
        return int(m.group(1)) if m else None
    # py-spy and Austin sample the idle wait too: count stacks in down()
    n = 0
    try:
        with open(out, errors="replace") as f:
            for line in f:
                if tool == "austinp" and line.startswith("#"):
                    continue
                if ("down (" in line) or (":down:" in line):
                    parts = line.rsplit(None, 1)
                    n += int(parts[1]) if tool.startswith("py-spy") and parts[1].isdigit() else 1
    except OSError:
        return None
    return n


class Bg:
    """A profiler running in the background in its own process group."""

    def __init__(self, cmd, env):
        self.fo = open(tmp("bg.stdout"), "w+")
        self.fe = open(tmp("bg.stderr"), "w+")
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.fo, stderr=self.fe,
                                  env=env, start_new_session=True)
        self.status = self.ru = None

    def poll(self):
        if self.status is None:
            pid, status, ru = os.wait4(self.p.pid, os.WNOHANG)
            if pid == self.p.pid:
                self.status, self.ru = status, ru
                self.wall = time.monotonic() - self.t0
        return self.status is not None

    def signal(self, sig):
        try:
            os.killpg(self.p.pid, sig)
        except OSError:
            pass

    def finish(self, grace):
        """Wait up to grace s for it to exit, then SIGINT, 5 s, SIGKILL.
        Returns (bench.Result, hung)."""
        hung = False
        for sig, wait in ((None, grace), (signal.SIGINT, 5), (signal.SIGKILL, 30)):
            if sig is not None:
                hung = True
                self.signal(sig)
            t = time.monotonic() + wait
            while time.monotonic() < t and not self.poll():
                time.sleep(0.02)
            if self.status is not None:
                break
        self.signal(signal.SIGKILL)  # leave nothing of the group behind
        self.fo.seek(0)
        self.fe.seek(0)
        res = bench.Result(os.waitstatus_to_exitcode(self.status) if self.status is not None
                           else -9, getattr(self, "wall", 0.0),
                           self.ru.ru_utime + self.ru.ru_stime if self.ru else 0.0,
                           self.fo.read(), self.fe.read())
        self.fo.close()
        self.fe.close()
        return res, hung


def file_complete(path):
    try:
        with open(path) as f:
            return f.read().endswith("\n")
    except OSError:
        return False


TOOL_GRACE = 20  # s a profiler may take to exit after the target has


def one_work_run(e, tool, rate, idx):
    """Run the fixed work once, under tool at rate (tool None: unprofiled).
    Returns ((wall, cpu) or None, samples, problem or None)."""
    elapsed_f = tmp("elapsed.txt")
    if os.path.exists(elapsed_f):
        os.unlink(elapsed_f)
    p = subprocess.Popen([e.python, DEEP_MIXED, e.ext, "work", elapsed_f, str(ITERS),
                          str(ALTERNATIONS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    bg, out, problem = None, None, None
    try:
        r, _, _ = select.select([p.stdout], [], [], 20)
        if not r or p.stdout.readline().strip() != b"ready":
            return None, None, "workload did not start"
        if tool is not None:
            out = tmp("work-%d.out" % idx)
            cmd, _ = tool_cmd(e, tool, p.pid, rate, out)
            bg = Bg(cmd, e.env)
            time.sleep(ATTACH_WAIT)
        p.stdin.write(b"go\n")
        p.stdin.flush()
        # The target cannot be reaped while a ptrace-based profiler still
        # holds it, so watch its result file as well as its exit.
        t_end, deadline = None, time.monotonic() + 300
        while p.poll() is None:
            now = time.monotonic()
            if t_end is None and file_complete(elapsed_f):
                t_end = now
            if (t_end and now - t_end > TOOL_GRACE) or now > deadline:
                break
            time.sleep(0.02)
        if p.poll() is None and bg is not None and t_end is not None:
            problem = ("the target stayed a zombie %d s after its work ended: the profiler "
                       "had not released it" % TOOL_GRACE)
    finally:
        res, hung = bg.finish(TOOL_GRACE) if bg is not None else (None, False)
        if p.poll() is None:
            p.kill()
        p.wait()
    if hung:
        problem = (problem + "; " if problem else "") + (
            "profiler still running %d s after the target ended: stopped with SIGINT"
            % TOOL_GRACE)
    try:
        wall, cpu = map(float, open(elapsed_f).read().split())
    except (OSError, ValueError):
        return None, None, "workload did not finish (profiler exit %s: %s)" % (
            res.rc if res else "?", last_line(res.err) if res else "")
    n = work_samples(e, tool, res, out) if tool else None
    if tool and not n and not problem:
        problem = "no samples (exit %s: %s)" % (res.rc, last_line(res.err))
    if out and os.path.exists(out):
        os.unlink(out)
    return (wall, cpu), n, problem


SLOW_TOOLS = ["pyprof (bpf)", "pyprof (perf)", "pyprof --blocking", "perf", "py-spy --native",
              "austinp"]


def slowdown(e):
    configs = []
    skipped = {}
    for tool in SLOW_TOOLS:
        why = tool_available(e, tool)
        if why:
            skipped[tool] = why
            continue
        for rate in (100, 1000):
            configs.append((tool, rate))
    data = {c: [] for c in configs}
    data["base"] = []
    samples = {c: [] for c in configs}
    paired = {c: [] for c in configs}  # (wall, cpu) ratios to the unprofiled run just before
    fails = {}
    idx = 0
    last_base = None
    for rnd in range(ROUNDS):
        k = (rnd * 3) % len(configs)
        for cfg in configs[k:] + configs[:k]:
            for c in ("base", cfg):
                idx += 1
                log("c. round %d/%d: %s" % (rnd + 1, ROUNDS, "unprofiled" if c == "base"
                                            else "%s at %d Hz" % c))
                t, n, why = one_work_run(e, None if c == "base" else c[0],
                                         None if c == "base" else c[1], idx)
                if why:
                    fails.setdefault(c, []).append(why)
                    note("c. %s: %s" % ("unprofiled" if c == "base" else "%s at %d Hz" % c,
                                        why))
                if t is None:
                    continue
                data[c].append(t)
                if c == "base":
                    last_base = t
                elif last_base:
                    paired[c].append((t[0] / last_base[0], t[1] / last_base[1]))
                if n:
                    samples[c].append(n / t[0])
    return configs, skipped, data, samples, paired, fails


def table_slowdown(configs, skipped, data, samples, paired, fails):
    base = data["base"]
    bw, bwmin = median([t[0] for t in base]), min([t[0] for t in base], default=None)
    bc, bcmin = median([t[1] for t in base]), min([t[1] for t in base], default=None)

    def pct(x, b):
        return fmt((x / b - 1) * 100 if x and b else None, "%+.1f %%")

    out = ["| rate | profiler | runs | work wall s: median (min) | slowdown, wall: median vs "
           "unprofiled median | slowdown, wall: min vs min | slowdown, wall: median of "
           "ratios to the unprofiled run just before | work CPU s: median (min) | slowdown, "
           "CPU: median vs median | slowdown, CPU: min vs min | samples/s of work wall time "
           "(median) |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
           "| — | unprofiled | %d | %s (%s) | — | — | — | %s (%s) | — | — | — |" % (
               len(base), fmt(bw, "%.3f"), fmt(bwmin, "%.3f"), fmt(bc, "%.3f"),
               fmt(bcmin, "%.3f"))]
    for rate in (100, 1000):
        for cfg in [c for c in configs if c[1] == rate]:
            ts = data[cfg]
            w, wmin = median([t[0] for t in ts]), min([t[0] for t in ts], default=None)
            c, cmin = median([t[1] for t in ts]), min([t[1] for t in ts], default=None)
            pw = median([(x[0] - 1) * 100 for x in paired[cfg]])
            extra = (" (problem in %d run(s): %s)" % (len(fails[cfg]), fails[cfg][0][:150])
                     if cfg in fails else "")
            out.append("| %d Hz | %s | %d | %s (%s) | %s | %s | %s | %s (%s) | %s | %s | %s%s |"
                       % (rate, cfg[0], len(ts), fmt(w, "%.3f"), fmt(wmin, "%.3f"),
                          pct(w, bw), pct(wmin, bwmin), fmt(pw, "%+.1f %%"), fmt(c, "%.3f"),
                          fmt(cmin, "%.3f"), pct(c, bc), pct(cmin, bcmin),
                          fmt(median(samples[cfg]), "%.0f"), extra))
    for tool, why in skipped.items():
        out.append("| — | %s | 0 | n/a (%s) | | | | | | | |" % (tool, why))
    return "\n".join(out)


# ---------------------------------------------------------------- d. merge share

CHAIN = [("py", "caller"), ("native", "cbext_entry"), ("native", "cbext_helper"),
         ("py", "callback"), ("native", "cbext_leaf"), ("native", "cbext_burn")]
PY_SEQ = ["<module>", "main", "caller", "callback"]


def chain_ok(frames):
    """frames: [(kind, name)], root first.  The Python frames are exactly
    <module> main caller callback, and the six key frames come in order."""
    if [n for k, n in frames if k == "py"] != PY_SEQ:
        return False
    i = 0
    for f in frames:
        if i < len(CHAIN) and f == CHAIN[i]:
            i += 1
    return i == len(CHAIN)


def native_chain_ok(frames):
    want = [n for k, n in CHAIN if k == "native"]
    i = 0
    for _, n in frames:
        if i < len(want) and n == want[i]:
            i += 1
    return i == len(want)


def parse_pyprof(out, res):
    prof = read_raw(out)
    if prof is None:
        return None
    stacks = []
    for sid, _, c in prof.counts:
        stacks.append(([(prof.frames[f].kind, prof.frames[f].name) for f in prof.stacks[sid]], c))
    errors = prof.stat("errors_transient") + prof.stat("errors_baddata")
    extra = "merge_ok %d, merge_failures %d, native_only %d" % (
        prof.stat("merge_ok"), prof.stat("merge_failures"), prof.stat("native_only"))
    return stacks, errors, extra


PYSPY_FRAME_RE = re.compile(r"^(.*) \(([^()]*)\)$")


def parse_pyspy(out, res):
    stacks = []
    try:
        with open(out, errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").rsplit(" ", 1)
                if len(parts) != 2 or not parts[1].isdigit():
                    continue
                frames = []
                for fr in parts[0].split(";"):
                    m = PYSPY_FRAME_RE.match(fr)
                    name, where = (m.group(1), m.group(2)) if m else (fr, "")
                    kind = "py" if re.search(r"\.py:\d+$", where) else "native"
                    frames.append((kind, name))
                stacks.append((frames, int(parts[1])))
    except OSError:
        return None
    m = PYSPY_ERR_RE.search(res.err + res.out)
    errors = int(m.group(2)) if m else 0
    return stacks, errors, "py-spy: %s" % (m.group(0) if m else "no summary line")


def parse_austin(out, res):
    stacks, invalid = [], 0
    try:
        with open(out, errors="replace") as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                body = line.rstrip("\n").rsplit(" ", 1)[0]
                fields = body.split(";")[2:]  # P<pid>;T<iid>:<tid>;frames...
                if any(":INVALID:" in fr for fr in fields):
                    invalid += 1
                    continue
                frames = []
                for fr in fields:
                    if fr.startswith("native@"):
                        bits = fr.split(":")
                        frames.append(("native", bits[1] if len(bits) > 1 else fr))
                    else:
                        bits = fr.rsplit(":", 2)
                        frames.append(("py", bits[1] if len(bits) == 3 else fr))
                stacks.append((frames, 1))
    except OSError:
        return None
    return stacks, invalid, "%d samples flagged :INVALID:" % invalid


def parse_perf(out, res, e):
    r = subprocess.run([e.perf, "script", "-i", out, "-F", "ip,sym"], capture_output=True,
                       text=True, timeout=300)
    if r.returncode != 0:
        return None
    stacks, cur = [], []
    for line in r.stdout.splitlines() + [""]:
        s = line.strip()
        if not s:
            if cur:
                stacks.append((list(reversed(cur)), 1))
            cur = []
            continue
        parts = s.split(None, 1)
        if len(parts) == 2 and re.match(r"^[0-9a-f]+$", parts[0]):
            name = re.sub(r"\+0x[0-9a-f]+$", "", parts[1].split(" (")[0])
            cur.append(("native", name))
    return stacks, 0, "perf script cannot name Python functions"


MERGE_TOOLS = ["pyprof (bpf)", "pyprof (perf)", "pyprof --blocking", "py-spy --native", "austinp",
               "perf"]


def merge_rows(e):
    rows = []
    for tool in MERGE_TOOLS:
        why = tool_available(e, tool)
        if why:
            rows.append({"tool": tool, "why": why})
            continue
        first_failure, failed = None, 0
        for attempt in (1, 2, 3):
            with Spin(e, script=CBWORK, args=["60"]) as t:
                out = tmp("merge-%s.out" % re.sub(r"\W+", "_", tool))
                cmd, sigint = tool_cmd(e, tool, t.pid, MERGE_RATE, out, MERGE_SECS)
                log("d. %s on cbwork.py, %d Hz, %d s" % (tool, MERGE_RATE, MERGE_SECS))
                res = bench.run(cmd, sigint_after=sigint, timeout=120, env=e.env)
            if tool.startswith("pyprof"):
                parsed = parse_pyprof(out, res)
            elif tool.startswith("py-spy"):
                parsed = parse_pyspy(out, res)
            elif tool == "austinp":
                parsed = parse_austin(out, res)
            else:
                parsed = parse_perf(out, res, e)
            if parsed and parsed[0]:
                break
            why = "no samples (exit %d: %s)" % (res.rc, last_line(res.err))
            failed += 1
            first_failure = first_failure or why
            note("d. %s, attempt %d: %s" % (tool, attempt, why))
        if not parsed or not parsed[0]:
            rows.append({"tool": tool, "why": "%s, in all 3 attempts" % why})
            continue
        stacks, errors, extra = parsed
        total = sum(c for _, c in stacks) + errors
        burn = sum(c for fr, c in stacks if any(n == "cbext_burn" for _, n in fr))
        if tool == "perf":
            good = 0
            native_good = sum(c for fr, c in stacks if native_chain_ok(fr))
            extra += "; native chain complete in %d of %d samples in cbext_burn" % (
                native_good, burn)
        else:
            good = sum(c for fr, c in stacks if chain_ok(fr))
        if tool != "perf":
            nopy = [(fr, c) for fr, c in stacks if not any(k == "py" for k, _ in fr)]
            vdso = sum(c for fr, c in nopy
                       if any(n == "clock_gettime" for _, n in fr) and fr[-1][1] == "<unknown>")
            extra += "; %d samples without any Python frame" % sum(c for _, c in nopy)
            if vdso:
                extra += (" (%d of them: clock_gettime then an unnamed frame, i.e. stopped in "
                          "the vDSO and not unwound past it)" % vdso)
        if first_failure:
            extra = "%d failed attempt(s) before this one: %s; " % (failed, first_failure) + extra
        rows.append({"tool": tool, "total": total, "errors": errors, "burn": burn, "good": good,
                     "extra": extra})
    return rows


def table_merge(rows):
    out = ["| profiler | samples (incl. errors) | errors / invalid | samples in cbext_burn "
           "| correctly merged | merged share of samples in cbext_burn | merged share of all "
           "samples | notes |",
           "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if "why" in r:
            out.append("| %s | n/a (%s) | | | | | | |" % (r["tool"], r["why"][:140]))
            continue
        out.append("| %s | %d | %d | %d | %d | %s | %s | %s |" % (
            r["tool"], r["total"], r["errors"], r["burn"], r["good"],
            fmt(100.0 * r["good"] / r["burn"] if r["burn"] else None, "%.1f %%"),
            fmt(100.0 * r["good"] / r["total"] if r["total"] else None, "%.1f %%"),
            r["extra"] + (" — Python frames invisible: 0 % merged by definition"
                          if r["tool"] == "perf" else "")))
    return "\n".join(out)


# ---------------------------------------------------------------- section

def section(python, py_label, peers):
    """Run the native section; return its markdown text."""
    t0 = time.monotonic()
    try:
        e = Env(python, peers)
    except build_ext.BuildError as ex:
        note("native section skipped: %s" % ex)
        return "## 4. Native mode\n\nnot measured: %s\n" % ex
    load0 = bench.loadavg()

    def guarded(name, fn, table):
        """One subsection; a failure costs its table, not the whole bench."""
        try:
            return table(fn(e))
        except Exception as ex:  # noqa: BLE001  (report, go on)
            note("%s failed: %s: %s" % (name, type(ex).__name__, ex))
            return "not measured: %s: %s" % (type(ex).__name__, ex)

    cost = guarded("4a", cost_rows, table_cost)
    attach = guarded("4b", attach_rows, table_attach)
    merge = guarded("4d", merge_rows, table_merge)
    slow = guarded("4c", slowdown, lambda r: table_slowdown(*r))
    secs = time.monotonic() - t0
    return "\n\n".join([
        "## 4. Native mode (%s, test extension tests/native/cbext.c, %.0f s, load average "
        "%s at start, %s at end)" % (py_label, secs, load0, bench.loadavg()),
        "### 4a. Cost per sample, deep mixed stack (tests/bench/deep_mixed.py spin, %d "
        "alternations; attached at %d Hz; steady state = (ns of a %.1f s attach − ns of a "
        "%.1f s attach) ÷ (their sample difference), %d pairs)"
        % (ALTERNATIONS, COST_RATE, COST_LONG, COST_SHORT, REPEATS),
        cost,
        "### 4b. Attach to first sample (a fresh deep_mixed.py spin target each time)",
        attach,
        "### 4c. Target slowdown (deep_mixed.py work: %d iterations of fixed mixed work, "
        "timed inside the target; each profiler attached by PID %.1f s before the work "
        "starts; an unprofiled run before every profiled one; %d rounds, order rotated)"
        % (ITERS, ATTACH_WAIT, ROUNDS),
        slow,
        "### 4d. Correctly merged samples on tests/native/cbwork.py (%d Hz, %d s, attached; a tool "
        "that gives no samples is tried up to 3 times; "
        "merged = Python frames exactly <module> main caller callback, and caller → "
        "cbext_entry → cbext_helper → callback → cbext_leaf → cbext_burn in order)"
        % (MERGE_RATE, MERGE_SECS),
        merge,
    ]) + "\n"


def main():
    bench.private_sampler()
    interps = bench.interpreters()
    py_label, py = bench.main_python(interps)
    peers = bench.install_peers(py)
    text = "# pyprof benchmark results: native section only\n\n- date: %s\n- pyprof: git %s\n" \
        "- peers: %s\n\n" % (time.strftime("%Y-%m-%d %H:%M"), bench.git_state(),
                            ", ".join(v for _, v in peers.values()) or "none")
    text += section(py, py_label, peers)
    if bench.NOTES:
        text += "\nNotes:\n" + "".join("- %s\n" % n for n in bench.NOTES)
    out = os.path.join(bench.BUILD, "bench-native-results.md")
    with open(out, "w") as f:
        f.write(text)
    print(text)
    print("(written to %s)" % out)
    shutil.rmtree(bench.TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
