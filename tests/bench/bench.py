#!/usr/bin/env python3
"""pyprof benchmarks (`make bench`; not part of the tests).

Measures, in one run and on the same workloads, pyprof side by side with
py-spy (default blocking mode and --nonblocking) and Austin:

  1. pyprof's cost per sample of a 20-deep stack, for every interpreter found
     (`pyprof-sampler bench`: N ticks back to back), and the sampling rate it
     sustains (computed 1e9/ns_per_sample, and measured with record -F 100000).
  2. For all profilers on the same 20-deep target (pyenv 3.11): the rate they
     achieve when asked for far more than they can do, the profiler's own CPU
     time per sample (utime+stime from wait4 / samples taken) at that rate and
     at 1 kHz, and process_vm_readv calls per sample (perf stat, syscall tracepoint).
  3. The slowdown of a fixed-work CPU workload at 1 kHz, against unprofiled
     runs interleaved in the same invocation (min and median of BENCH_ROUNDS).
  4. Native (mixed-mode) sampling: tests/bench/native_bench.py (per-sample
     cost on a deep mixed stack, attach to first sample, slowdown at 100 Hz and
     1 kHz next to perf, py-spy --native and austinp, merged-stack share).
     BENCH_NATIVE=0 skips it; `python3 tests/bench/native_bench.py` runs it alone.
  5. Gunicorn + Flask (examples/gunicorn_app) under `ab -c 4`: requests per second
     unprofiled and with `pyprof record --pid MASTER --subprocesses` (100 Hz, 1 kHz,
     --native 1 kHz), interleaved rounds, ~1.5 min: tests/bench/gunicorn_bench.py.
     BENCH_GUNICORN=0 skips it; `python3 tests/bench/gunicorn_bench.py` runs it alone.
  6. How often the native and Python views disagree, per native mode and call
     length (tests/bench/disagree.py, ~1 min; BENCH_DISAGREE=0 skips it).
  7. `record -a` at 99 Hz: a CPU-bound Python loop's iterations/s with and
     without it, alternating in one run (tests/bench/system_bench.py, ~40 s;
     BENCH_SYSTEM=0 skips it; needs root).
  8. One instant? Per interpreter, capture mode (bpf, perf, ptrace) and rate (200 Hz,
     1 kHz), with two busy loops beside the target: the share of C-leaf samples in the
     true order (tests/bench/exact.py, ~5 min; BENCH_EXACT=0 skips it).

py-spy and austin-dist are installed from PyPI into build/bench-venv (never
into the user's interpreter); if that fails the run says so and goes on
without them.  Results are printed and written to build/bench-results.md.

Environment: BENCH_ROUNDS (default 5) rounds of the slowdown test,
BENCH_BUDGET (default 600) seconds: slowdown rounds stop early past it,
BENCH_COUNT (default 20000) ticks per `pyprof-sampler bench` repeat,
BENCH_BASELINE=PATH: first compare another sampler binary's cost per sample
with this one's (tests/bench/compare.py; BENCH_COMPARE_REPEATS, default 3).
"""
import copy
import datetime
import glob
import os
import platform
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, "build")
SAMPLER = os.path.join(BUILD, "pyprof-sampler")
VENV = os.path.join(BUILD, "bench-venv")
RESULTS = os.path.join(BUILD, "bench-results.md")
DEEP = os.path.join(HERE, "deep.py")
WORK = os.path.join(HERE, "work.py")

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
BUDGET = float(os.environ.get("BENCH_BUDGET", "600"))
COUNT = int(os.environ.get("BENCH_COUNT", "20000"))
DEPTH = 20
REPEATS = 3

T_START = time.monotonic()
NOTES = []
TMP = tempfile.mkdtemp(prefix="pyprof-bench-")


def log(msg):
    sys.stderr.write("[bench %5.0fs] %s\n" % (time.monotonic() - T_START, msg))
    sys.stderr.flush()


def note(msg):
    NOTES.append(msg)
    log("note: " + msg)


# ---------------------------------------------------------------- processes

class Result:
    def __init__(self, rc, wall, cpu, out, err):
        self.rc, self.wall, self.cpu, self.out, self.err = rc, wall, cpu, out, err


def run(cmd, sigint_after=None, timeout=120, env=None):
    """Run cmd; return its exit code, wall time, CPU time (utime+stime of the
    process and the children it waited for, from wait4) and its output."""
    fo = tempfile.TemporaryFile(dir=TMP)
    fe = tempfile.TemporaryFile(dir=TMP)
    t0 = time.monotonic()
    try:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe, env=env,
                             start_new_session=True)
    except OSError as e:
        fo.close()
        fe.close()
        return Result(127, 0.0, 0.0, "", "cannot run %s: %s" % (cmd[0], e))
    deadline = t0 + timeout
    sent_int = False
    while True:
        # WNOWAIT: the zombie keeps the process group alive until it is
        # killed below, so the group id cannot have been reused
        if os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
            break
        now = time.monotonic()
        if sigint_after is not None and not sent_int and now - t0 >= sigint_after:
            os.killpg(p.pid, signal.SIGINT)  # the whole group: wrappers pass it on
            sent_int = True
        if now > deadline:
            os.killpg(p.pid, signal.SIGKILL)
        time.sleep(0.005 if sigint_after is not None else 0.02)
    wall = time.monotonic() - t0
    try:
        os.killpg(p.pid, signal.SIGKILL)  # leave nothing of the group behind
    except OSError:
        pass
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    fo.seek(0)
    fe.seek(0)
    out = fo.read().decode(errors="replace")
    err = fe.read().decode(errors="replace")
    fo.close()
    fe.close()
    return Result(p.returncode, wall, ru.ru_utime + ru.ru_stime, out, err)


class Target:
    """tests/bench/deep.py: one thread DEPTH frames deep in a CPU loop."""

    def __init__(self, python, depth=DEPTH):
        # deep.py exits by itself after 900 s should the bench die
        self.p = subprocess.Popen([python, DEEP, str(depth), "900"], stdout=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL)
        r, _, _ = select.select([self.p.stdout], [], [], 20)
        line = self.p.stdout.readline() if r else b""
        if line.strip() != b"ready":
            self.close()
            raise RuntimeError("%s did not start the target" % python)
        self.pid = self.p.pid

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def stats(xs):
    return (min(xs), statistics.median(xs)) if xs else (None, None)


def fmt(x, spec="%.2f", none="n/a"):
    return none if x is None else spec % x


# ---------------------------------------------------------------- tools

def interpreters():
    """pyenv 3.8..3.13 (newest patch of each), Debian's 3.14/3.15 from the interpreter
    cache (newest patch of each in its manifest) and /usr/bin/python3."""
    root = os.environ.get("PYENV_ROOT")
    if not root and shutil.which("pyenv"):
        try:
            root = subprocess.check_output(["pyenv", "root"], text=True).strip()
        except (OSError, subprocess.CalledProcessError):
            root = None
    root = root or os.path.expanduser("~/.pyenv")
    found = {}
    for d in glob.glob(os.path.join(root, "versions", "3.*")):
        m = re.match(r"3\.(\d+)\.(\d+)$", os.path.basename(d))
        exe = os.path.join(d, "bin", "python3")
        if m and 8 <= int(m.group(1)) <= 13 and os.access(exe, os.X_OK):
            key = int(m.group(1))
            if key not in found or int(m.group(2)) > found[key][0]:
                found[key] = (int(m.group(2)), "pyenv " + os.path.basename(d), exe)
    out = [(label, exe) for _, (_, label, exe) in sorted(found.items())]
    missing = [v for v in range(8, 14) if v not in found]
    if missing:
        note("pyenv interpreters absent: " + ", ".join("3.%d" % v for v in missing))
    cache = os.environ.get("PYPROF_INTERP_CACHE") or os.path.expanduser(
        "~/.cache/pyprof/interpreters")
    cached = {}
    try:
        with open(os.path.join(cache, "interpreters.txt")) as f:
            for line in f:
                parts = line.split(None, 1)
                m = re.fullmatch(r"py3\.(\d+)\.(\d+)", parts[0]) if len(parts) == 2 else None
                if m and os.access(parts[1].strip(), os.X_OK):
                    key, patch = int(m.group(1)), int(m.group(2))
                    if key not in cached or patch > cached[key][0]:
                        cached[key] = (patch, "debian 3.%d.%d" % (key, patch), parts[1].strip())
    except OSError:
        pass
    out += [(label, exe) for _, (_, label, exe) in sorted(cached.items())]
    if not cached:
        note("Debian 3.14/3.15 absent from %s (make interpreters)" % cache)
    if os.access("/usr/bin/python3", os.X_OK):
        v = subprocess.run(["/usr/bin/python3", "-c",
                            "import platform; print(platform.python_version())"],
                           capture_output=True, text=True).stdout.strip()
        out.append(("system %s" % v, "/usr/bin/python3"))
    return out


def main_python(interps):
    for label, exe in interps:
        if label.startswith("pyenv 3.11."):
            return label, exe
    note("pyenv 3.11 absent: peers and slowdown use %s" % sys.executable)
    return "python %s" % platform.python_version(), sys.executable


def venv_tool(name):
    exe = os.path.join(VENV, "bin", name)
    return exe if os.access(exe, os.X_OK) else None


def tool_version(exe):
    try:
        r = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (r.stdout + r.stderr).strip()
    return text.splitlines()[0] if r.returncode == 0 and text else None


def install_peers(python):
    """py-spy and austin-dist into build/bench-venv.  Never fatal."""
    logf = os.path.join(BUILD, "bench-venv-install.log")
    pip = os.path.join(VENV, "bin", "pip")
    if not os.access(pip, os.X_OK):
        log("creating %s" % VENV)
        r = subprocess.run([python, "-m", "venv", VENV], capture_output=True, text=True)
        if r.returncode != 0:
            note("could not create %s (%s): py-spy and Austin not measured"
                 % (VENV, r.stderr.strip().splitlines()[-1:] or "?"))
            return {}
    versions = {}

    def pip_install(spec):
        with open(logf, "a") as f:
            r = subprocess.run([pip, "install", "--disable-pip-version-check", spec],
                               stdout=f, stderr=subprocess.STDOUT)
        return r.returncode == 0

    for tool, specs in (("py-spy", ["py-spy"]), ("austin", ["austin-dist", "austin-dist<4"])):
        exe = venv_tool(tool)
        ver = tool_version(exe) if exe else None
        for spec in specs:
            if ver:
                break
            log("pip install %s into %s" % (spec, VENV))
            if not pip_install(spec):
                note("pip install %s failed (see %s)" % (spec, logf))
                continue
            exe = venv_tool(tool)
            ver = tool_version(exe) if exe else None
            if not ver:
                err = ""
                if exe:
                    r = subprocess.run([exe, "--version"], capture_output=True, text=True)
                    err = (r.stderr.strip().splitlines() or [""])[0]
                note("%s from `pip install %s` does not run here: %s" % (tool, spec, err[:160]))
        if ver:
            versions[tool] = (exe, ver)
        else:
            note("%s unavailable: not measured" % tool)
    return versions


# ---------------------------------------------------------------- sample counts

SUMMARY_RE = re.compile(r"pyprof: (\d+) samples, (\d+) errors.*?(\d+) late ticks")


def pyprof_samples(res):
    m = SUMMARY_RE.search(res.err)
    return (int(m.group(1)), int(m.group(3)), int(m.group(2))) if m else (None, None, None)


def pyspy_samples(path):
    n = 0
    try:
        with open(path) as f:
            for line in f:
                parts = line.rsplit(None, 1)
                if len(parts) == 2 and parts[1].isdigit():
                    n += int(parts[1])
    except OSError:
        return None
    return n


def austin_samples(path):
    """Austin's text output has one line per sample; metadata lines start with #."""
    n = 0
    try:
        with open(path) as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    n += 1
    except OSError:
        return None
    return n


# ---------------------------------------------------------------- profilers

class Profiler:
    """How to run each profiler: attached to a PID for T seconds at RATE Hz
    (or as fast as it goes, rate=None), or launching a command at RATE Hz."""

    def __init__(self, name, exe):
        self.name, self.exe = name, exe

    def out(self):
        return os.path.join(TMP, "%s.out" % re.sub(r"\W+", "_", self.name))


class PyprofP(Profiler):
    def attach(self, pid, secs, rate):
        rate = rate or 100000
        r = run([self.exe, "record", "--pid", str(pid), "-F", str(rate), "-d", str(secs),
                 "--collapsed", self.out()], timeout=secs * 10 + 30)
        return r, pyprof_samples(r)[0]

    def launch(self, cmd, rate):
        r = run([self.exe, "record", "-F", str(rate), "--collapsed", self.out(), "--"] + cmd,
                timeout=300)
        return r, pyprof_samples(r)[0]


class PyspyP(Profiler):
    def __init__(self, name, exe, nonblocking):
        Profiler.__init__(self, name, exe)
        self.extra = ["--nonblocking"] if nonblocking else []

    def attach(self, pid, secs, rate):
        # py-spy's -d counts samples (it runs until rate*d are taken even when
        # far behind), so stop it with SIGINT after secs of wall time instead.
        rate = rate or 100000
        r = run([self.exe, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
                 "-o", self.out()] + self.extra, sigint_after=secs, timeout=secs * 10 + 30)
        return r, pyspy_samples(self.out())

    def launch(self, cmd, rate):
        r = run([self.exe, "record", "--rate", str(rate), "--format", "raw", "-o", self.out()]
                + self.extra + ["--"] + cmd, timeout=300)
        return r, pyspy_samples(self.out())


class AustinP(Profiler):
    def attach(self, pid, secs, rate):
        interval = int(1e6 / rate) if rate else 1  # -i is in microseconds
        r = run([self.exe, "-i", str(interval), "-x", str(secs), "-p", str(pid),
                 "-o", self.out()], timeout=secs * 10 + 30)
        return r, austin_samples(self.out())

    def launch(self, cmd, rate):
        r = run([self.exe, "-i", str(int(1e6 / rate)), "-o", self.out()] + cmd, timeout=300)
        return r, austin_samples(self.out())


# ---------------------------------------------------------------- section 1

BENCH_RE = re.compile(r"^(\w+) ([\d.]+)$", re.M)


def pyprof_cost(interps):
    rows = []
    for label, exe in interps:
        log("pyprof-sampler bench on %s" % label)
        try:
            target = Target(exe)
        except (RuntimeError, OSError) as e:
            note("%s: %s" % (label, e))
            continue
        with target:
            ns, reads, frames, errs = [], [], [], 0
            for _ in range(REPEATS):
                r = run([SAMPLER, "bench", "--pid", str(target.pid), "--count", str(COUNT)])
                kv = dict(BENCH_RE.findall(r.out))
                if r.rc != 0 or "ns_per_sample" not in kv:
                    note("%s: pyprof-sampler bench failed (exit %d): %s"
                         % (label, r.rc, r.err.strip()[:200]))
                    break
                ns.append(float(kv["ns_per_sample"]))
                reads.append(float(kv["reads_per_tick"]))
                frames.append(float(kv["frames_per_sample"]))
                errs += int(kv.get("errors", 0))
            rec = run([SAMPLER, "record", "--pid", str(target.pid), "-F", "100000", "-d", "2",
                       "--collapsed", os.path.join(TMP, "rec.txt")], timeout=60)
            n, late, rec_errs = pyprof_samples(rec)
        if not ns:
            continue
        mn, md = stats(ns)
        rows.append({
            "interp": label, "us_min": mn / 1e3, "us_med": md / 1e3,
            "reads": statistics.median(reads), "frames": statistics.median(frames),
            "errors": errs, "ticks": COUNT * len(ns),
            "max_rate": 1e9 / mn,
            "rec_rate": n / rec.wall if n else None, "rec_wall": rec.wall,
            "rec_late": late, "rec_errs": rec_errs,
            "rec_cpu_us": rec.cpu / n * 1e6 if n else None,
        })
    return rows


def table_cost(rows):
    out = ["| interpreter | µs/sample min | µs/sample median | reads/sample | frames/sample "
           "| sample errors | max rate = 1e9/ns_per_sample (min) | record -F 100000 -d 2: achieved "
           "samples/s (wall s, late ticks, sample errors) | record CPU µs/sample |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append("| %s | %.2f | %.2f | %.2f | %.1f | %d/%d | %s/s "
                   "| %s/s (%.1f s, %s late, %s errors) | %s |" % (
            r["interp"], r["us_min"], r["us_med"], r["reads"], r["frames"], r["errors"],
            r["ticks"], fmt_k(r["max_rate"]), fmt_k(r["rec_rate"]),
            r["rec_wall"], fmt(r["rec_late"], "%d"), fmt(r["rec_errs"], "%d"),
            fmt(r["rec_cpu_us"], "%.1f")))
    return "\n".join(out)


def fmt_k(x):
    return "n/a" if x is None else "{:,.0f}".format(x)


def readv_floor(python):
    """Cost of one process_vm_readv (64 B) on this machine: the floor under
    pyprof's per-sample cost is reads/sample times this."""
    src = os.path.join(HERE, "readv_floor.c")
    exe = os.path.join(TMP, "readv_floor")
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc or subprocess.run([cc, "-O2", "-o", exe, src]).returncode != 0:
        note("could not build %s: no process_vm_readv floor" % src)
        return None
    ns = []
    with Target(python) as t:
        for _ in range(REPEATS):
            r = run([exe, str(t.pid), "100000", "64"])
            m = re.search(r"ns_per_read ([\d.]+)", r.out)
            if m:
                ns.append(float(m.group(1)) / 1e3)
    return stats(ns) if ns else None


# ---------------------------------------------------------------- section 2

def peer_rates(profs, python, secs=3, reps=2):
    rows = []
    for prof in profs:
        row = {"name": prof.name}
        for key, rate in (("max", None), ("1k", 1000)):
            rates, cpus = [], []
            for _ in range(reps):
                log("%s attached, %s, %d s" % (prof.name, "max rate" if rate is None
                                                  else "%d Hz" % rate, secs))
                with Target(python) as t:
                    r, n = prof.attach(t.pid, secs, rate)
                if not n:
                    note("%s (%s) took no samples (exit %d): %s"
                         % (prof.name, key, r.rc, r.err.strip()[-200:]))
                    continue
                rates.append(n / r.wall)
                cpus.append(r.cpu / n * 1e6)
            row[key + "_rate"] = max(rates) if rates else None
            row[key + "_cpu"] = min(cpus) if cpus else None
        row["reads"] = syscall_reads(prof, python)
        rows.append(row)
    return rows


def syscall_reads(prof, python, secs=2):
    """process_vm_readv calls per sample at 1 kHz, counted by the kernel's
    syscall tracepoint (perf stat; strace would fight py-spy's ptrace)."""
    perf = shutil.which("perf")
    if not perf:
        return None
    countf = os.path.join(TMP, "perf-stat.txt")
    wrapper = os.path.join(TMP, "perf-wrap.sh")
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\nexec %s stat -x, -e syscalls:sys_enter_process_vm_readv '
                '-o %s -- %s "$@"\n' % (perf, countf, prof.exe))
    os.chmod(wrapper, 0o755)
    wrapped = copy.copy(prof)
    wrapped.exe = wrapper
    if os.path.exists(countf):
        os.unlink(countf)
    log("%s under perf stat" % prof.name)
    with Target(python) as t:
        _, n = wrapped.attach(t.pid, secs, 1000)
    try:
        text = open(countf).read()
    except OSError:
        return None
    m = re.search(r"^(\d+),[^\n]*sys_enter_process_vm_readv", text, re.M)
    return int(m.group(1)) / n if m and n else None


def table_peers(rows):
    out = ["| profiler | achieved samples/s when asked for 100 kHz (best of 2) "
           "| CPU µs/sample at that rate | achieved samples/s at 1 kHz "
           "| CPU µs/sample at 1 kHz | process_vm_readv/sample at 1 kHz |",
           "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append("| %s | %s | %s | %s | %s | %s |" % (
            r["name"], fmt_k(r["max_rate"]), fmt(r["max_cpu"], "%.1f"), fmt_k(r["1k_rate"]),
            fmt(r["1k_cpu"], "%.1f"), fmt(r["reads"], "%.1f")))
    return "\n".join(out)


# ---------------------------------------------------------------- section 3

def slowdown(profs, python):
    configs = [("unprofiled", None)] + [(p.name, p) for p in profs]
    times = {name: [] for name, _ in configs}
    rates = {name: [] for name, _ in configs}
    elapsed_f = os.path.join(TMP, "elapsed.txt")
    cmd = [python, WORK, elapsed_f]
    rounds_done = 0
    for rnd in range(ROUNDS):
        if rnd > 0 and time.monotonic() - T_START > BUDGET:
            note("time budget of %.0f s reached: slowdown after %d of %d rounds"
                 % (BUDGET, rounds_done, ROUNDS))
            break
        k = rnd % len(configs)
        for name, prof in configs[k:] + configs[:k]:  # rotate the order each round
            if os.path.exists(elapsed_f):
                os.unlink(elapsed_f)
            log("slowdown round %d/%d: %s" % (rnd + 1, ROUNDS, name))
            if prof is None:
                r, n = run(cmd, timeout=300), None
            else:
                r, n = prof.launch(cmd, 1000)
            try:
                el = float(open(elapsed_f).read())
            except (OSError, ValueError):
                note("slowdown %s: workload did not finish (exit %d): %s"
                     % (name, r.rc, r.err.strip()[-200:]))
                continue
            times[name].append(el)
            if n:
                rates[name].append(n / el)
            elif prof is not None:
                note("slowdown %s: profiler took no samples" % name)
        rounds_done += 1
    return configs, times, rates


def table_slowdown(configs, times, rates):
    base_min, base_med = stats(times["unprofiled"])
    out = ["| run | runs | elapsed min s | elapsed median s | slowdown (min vs unprofiled min) "
           "| slowdown (median vs median) | samples/s of work time (median) |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for name, _ in configs:
        mn, md = stats(times[name])
        sd_min = (mn / base_min - 1) * 100 if mn and base_min else None
        sd_med = (md / base_med - 1) * 100 if md and base_med else None
        rt = statistics.median(rates[name]) if rates[name] else None
        out.append("| %s | %d | %s | %s | %s | %s | %s |" % (
            name, len(times[name]), fmt(mn, "%.3f"), fmt(md, "%.3f"),
            "—" if name == "unprofiled" else fmt(sd_min, "%+.1f %%"),
            "—" if name == "unprofiled" else fmt(sd_med, "%+.1f %%"),
            "—" if name == "unprofiled" else fmt(rt, "%.0f")))
    return "\n".join(out)


# ---------------------------------------------------------------- main

def git_state():
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "csrc"],
                               capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"
    return head + (" with uncommitted changes in csrc/" if dirty else "")


def loadavg():
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def private_sampler():
    """A copy of build/pyprof-sampler for this run, so that a rebuild while
    the bench runs neither breaks it nor mixes two builds in one table."""
    global SAMPLER
    if not os.access(SAMPLER, os.X_OK):
        sys.exit("bench: %s is missing: run `make sampler` first" % SAMPLER)
    copy_path = os.path.join(TMP, "pyprof-sampler")
    for _ in range(10):
        shutil.copy2(SAMPLER, copy_path)
        r = subprocess.run([copy_path, "version"], capture_output=True, text=True)
        if r.returncode == 0:
            SAMPLER = copy_path
            return
        time.sleep(1)
    sys.exit("bench: %s does not run (being rebuilt?)" % SAMPLER)


def main():
    private_sampler()
    load0 = loadavg()
    interps = interpreters()
    py_label, py = main_python(interps)
    peers = install_peers(py)

    profs = [PyprofP("pyprof", SAMPLER)]
    if "py-spy" in peers:
        profs.append(PyspyP("py-spy (default, blocking)", peers["py-spy"][0], False))
        profs.append(PyspyP("py-spy --nonblocking", peers["py-spy"][0], True))
    if "austin" in peers:
        profs.append(AustinP("austin", peers["austin"][0]))

    compare_text = None
    if os.environ.get("BENCH_BASELINE"):
        # another sampler binary side by side with this one (tests/bench/compare.py)
        sys.modules.setdefault("bench", sys.modules[__name__])
        import compare
        compare_text = compare.section(os.path.abspath(os.environ["BENCH_BASELINE"]), SAMPLER)
    cost = pyprof_cost(interps)
    floor = readv_floor(py)
    peer_rows = peer_rates(profs, py)
    configs, times, rates = slowdown(profs, py)
    native_text = None
    if os.environ.get("BENCH_NATIVE", "1") != "0":
        # native_bench imports this module as `bench`: let it find this one
        sys.modules.setdefault("bench", sys.modules[__name__])
        import native_bench
        native_text = native_bench.section(py, py_label, peers)
    gunicorn_text = None
    if os.environ.get("BENCH_GUNICORN", "1") != "0":
        import gunicorn_bench     # requests/s of Gunicorn+Flask with and without pyprof
        gunicorn_text = gunicorn_bench.section(SAMPLER)

    disagree_text = None
    if os.environ.get("BENCH_DISAGREE", "1") != "0":
        # native vs Python views per mode and call length (docs/native.md)
        out = subprocess.run([py, os.path.join(os.path.dirname(os.path.abspath(__file__)), "disagree.py"), py],
                             capture_output=True, text=True)
        disagree_text = "## 6. Native and Python views: how often they disagree (tests/bench/disagree.py)\n\n```\n%s```" % (
            out.stdout if out.returncode == 0 else "failed: %s\n" % out.stderr[-500:])

    system_text = None
    if os.environ.get("BENCH_SYSTEM", "1") != "0":
        if os.geteuid() == 0:
            import system_bench   # a Python loop's speed under record -a
            system_text = system_bench.section(SAMPLER, py)
        else:
            note("section 7 (record -a) skipped: it needs root")
    exact_text = None
    if os.environ.get("BENCH_EXACT", "1") != "0":
        # per interpreter and capture mode, two busy loops beside: same instant? (docs/native.md)
        out = subprocess.run([py, os.path.join(os.path.dirname(os.path.abspath(__file__)), "exact.py")],
                             capture_output=True, text=True)
        exact_text = ("## 8. One instant? Native and Python halves per capture mode, two busy loops "
                      "beside the target (tests/bench/exact.py)\n\n%s" % (
                          out.stdout if out.returncode == 0 else "failed: %s\n" % out.stderr[-500:]))

    sampler_ver = subprocess.run([SAMPLER, "version"], capture_output=True,
                                 text=True).stdout.strip()
    head = [
        "# pyprof benchmark results",
        "",
        "- date: %s" % datetime.datetime.now().strftime("%Y-%m-%d %H:%M %Z").strip(),
        "- machine: %s, %d CPUs, kernel %s; load average %s at start, %s at end"
        % (platform.machine(), os.cpu_count() or 0, platform.release(), load0, loadavg()),
        "- pyprof: %s, git %s" % (sampler_ver, git_state()),
        "- peers: %s" % (", ".join("%s" % v for _, v in peers.values()) or "none"),
        "- target for peers and slowdown: %s; stack depth %d; %d × %d ticks per interpreter "
        "in the cost table; slowdown: %d round(s) requested, order rotated each round"
        % (py_label, DEPTH, REPEATS, COUNT, ROUNDS),
        "- total bench time: %.0f s" % (time.monotonic() - T_START),
    ]
    text = "\n".join(head) + "\n\n" + "\n\n".join(([compare_text.strip()] if compare_text else []) + [
        "## 1. pyprof cost per sample (20-deep stack, one thread, "
        "`pyprof-sampler bench --count %d`, %d repeats)" % (COUNT, REPEATS),
        table_cost(cost) + "\n\nOne process_vm_readv of 64 B from the %s target costs %s µs "
        "(min of %d × 100000; median %s µs; tests/bench/readv_floor.c), so reads/sample × that "
        "is the floor under µs/sample."
        % (py_label, fmt(floor and floor[0]), REPEATS, fmt(floor and floor[1])),
        "## 2. All profilers on the same 20-deep target (%s)" % py_label,
        table_peers(peer_rows),
        "## 3. Target slowdown at 1 kHz (fixed work, %s, elapsed timed inside the target)"
        % py_label,
        table_slowdown(configs, times, rates),
    ] + ([native_text.strip()] if native_text else [])
      + ([gunicorn_text.strip()] if gunicorn_text else [])
      + ([disagree_text.strip()] if disagree_text else [])
      + ([system_text.strip()] if system_text else [])
      + ([exact_text.strip()] if exact_text else [])) + "\n"
    if NOTES:
        text += "\nNotes:\n" + "".join("- %s\n" % n for n in NOTES)
    os.makedirs(BUILD, exist_ok=True)
    with open(RESULTS, "w") as f:
        f.write(text)
    print(text)
    print("(written to %s)" % RESULTS)
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
