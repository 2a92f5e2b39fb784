"""The ``pyprof-sampler`` child: where it is, its command line, and one runner.

``record`` and ``top`` both run the sampler's ``record`` to a raw file in a
private temp dir and ask it for snapshots with SIGUSR1 (it rewrites the file
under a new inode and goes on).  :class:`Sampler` is that child: ``record``
uses :meth:`Sampler.run` (in pyprof's foreground, signals forwarded, until the
sampler ends), ``top`` uses :meth:`Sampler.start`, :meth:`Sampler.snapshot`
and :meth:`Sampler.stop` (in its own process group, stopped by pyprof).
``dump`` execs the sampler or runs it once per process (:func:`descendants`).
"""

import os
import signal
import subprocess
import time

from . import raw
from .errors import EXIT_INTERRUPTED, SamplerNotFoundError, UsageError, cannot_run_sampler

SAMPLER_NAME = "pyprof-sampler"
ENV_VAR = "PYPROF_SAMPLER"
# The sampler option naming a directory it removes when pyprof (its parent)
# dies before it could (docs/security.md); one constant for the one name.
SAMPLER_CLEANUP_OPTION = "--cleanup-dir"
READY_TIMEOUT = 15.0
SNAPSHOT_TIMEOUT = 5.0
STOP_TIMEOUT = 10.0
POLL_S = 0.1        # how often a foreground run looks for a new snapshot
SPIN_S = 0.01       # how often top looks for a new snapshot or readiness
MAX_TREE = 4096     # processes walked by descendants()

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


# --------------------------------------------------------------------------- #
# The binary
# --------------------------------------------------------------------------- #

def candidate_paths():
    """Return the places searched for the sampler, in order.

    ``$PYPROF_SAMPLER`` when set (and then only it), else the copy installed
    as package data, else ``build/`` of a source checkout.
    """
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        return [explicit]
    return [
        os.path.join(_PACKAGE_DIR, "_bin", SAMPLER_NAME),
        os.path.join(os.path.dirname(_PACKAGE_DIR), "build", SAMPLER_NAME),
    ]


def find_sampler():
    """Return the path of the sampler binary or raise :class:`SamplerNotFoundError`."""
    paths = candidate_paths()
    for path in paths:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    if os.environ.get(ENV_VAR):
        raise SamplerNotFoundError("%s=%s is not an executable file" % (ENV_VAR, paths[0]))
    raise SamplerNotFoundError("the sampler binary was not found")


# --------------------------------------------------------------------------- #
# Its command line
# --------------------------------------------------------------------------- #

EVENT_HELP = (
    "sample on a perf event instead of the CPU-time clock, as perf record -e does (docs/events.md): "
    "cpu-clock, task-clock, page-faults (faults), minor-faults, major-faults, context-switches (cs), "
    "cpu-migrations, hardware events where the CPU exposes them (cycles, instructions, cache-misses, "
    "branch-misses), or a tracepoint SYSTEM:NAME (sched:sched_switch, syscalls:sys_enter_openat). "
    "Implies --native: every sample carries its Python and native stack. The profile counts in the "
    "event's unit")
COUNT_HELP = (
    "a sample every N events (perf's -c; the clock events: every N ns of CPU time). Without it the "
    "clock events take -F; page-faults take a sample every 10 faults, switches, migrations and "
    "tracepoints every event, hardware events every 1000003 cycles or instructions, 10007 misses. "
    "(In 'python -m pyprof' without 'record', -c is Python's: spell it --count)")


OFFCPU_HELP = (
    "also where threads wait (sleep, I/O, locks, the GIL), weighted by the time they were off CPU: "
    "each wait's Python + native stack under an [off-cpu] root, beside the on-CPU samples; the "
    "profile's values are then nanoseconds (docs/events.md). Implies --native")


def add_event_arguments(parser, offcpu=True):
    """-e and -c (and --off-cpu), shared by ``record`` and ``top``."""
    parser.add_argument("-e", "--event", metavar="EVENT", help=EVENT_HELP)
    parser.add_argument("-c", "--count", type=int, metavar="N", help=COUNT_HELP)
    if offcpu:
        parser.add_argument("--off-cpu", dest="offcpu", action="store_true", help=OFFCPU_HELP)


def validate_event_args(args):
    """-e/-c: perf events, hence --native; not with the timer options."""
    if getattr(args, "count", None) is not None and args.count < 1:
        raise UsageError("-c/--count must be at least 1, not %d" % args.count)
    if not getattr(args, "event", None) and getattr(args, "count", None) is None and \
            not getattr(args, "offcpu", False):
        return
    if getattr(args, "blocking", False) or getattr(args, "idle", False):
        raise UsageError("-e/-c/--off-cpu sample on perf events; --%s samples on a timer: give one or the other"
                         % ("blocking" if getattr(args, "blocking", False) else "idle"))
    args.native = True


def native_argv(args):
    """Sampler options for the native arguments of *args* (``record`` has them all, ``top`` only --native)."""
    if not getattr(args, "native", False):
        return []
    argv = ["--native"]
    if getattr(args, "capture", None):
        argv += ["--capture", args.capture]
    elif getattr(args, "blocking", False):
        argv.append("--blocking")
    if getattr(args, "unwinder", None):
        argv += ["--unwinder", args.unwinder]
    if getattr(args, "stack_size", None) is not None:
        argv += ["--stack-size", str(args.stack_size)]
    if getattr(args, "debug_dir", None):
        argv += ["--debug-dir", args.debug_dir]
    flags = ("no_internals", "--no-internals"), ("debuginfod", "--debuginfod"), ("no_inlines", "--no-inlines")
    return argv + [option for name, option in flags if getattr(args, name, False)]


# The on/off options of ``record`` the sampler takes as they are.
RECORD_FLAGS = (("threads", "--threads"), ("idle", "--idle"), ("timestamps", "--timestamps"), ("verbose", "-v"),
                ("subprocesses", "--subprocesses"), ("aggregate", "--aggregate"), ("gil", "--gil"),
                ("system", "-a"), ("python_only", "--python-only"), ("kernel", "--kernel"))


def record_argv(sampler, args, raw_path, collapsed_path=None, status=True, cleanup_dir=None, flags=RECORD_FLAGS):
    """Return the sampler's ``record`` command line for the options *args*.

    *args* is the namespace of ``record`` or ``top`` (an option it lacks is
    off).  The sampler writes *raw_path*, and *collapsed_path* for ``-f
    collapsed``; *status* False turns its live status line off (a launched
    command shares the terminal; top draws its own screen); *cleanup_dir* is
    removed by the sampler if pyprof dies first; *flags* are the ``(attribute,
    option)`` pairs of *args* passed on (``top``'s --threads is its own).
    """
    argv = [sampler, "record"]
    if cleanup_dir:
        argv += [SAMPLER_CLEANUP_OPTION, os.path.abspath(cleanup_dir)]
    command = getattr(args, "command", None)
    if args.pid is not None:
        argv += ["--pid", str(args.pid)]
    argv += ["--raw", raw_path, "--no-summary"]
    if not status:
        argv.append("--no-status")
    if getattr(args, "format", None) == "collapsed":
        argv += ["--collapsed", collapsed_path]
    if args.rate is not None:
        argv += ["--rate", str(args.rate)]
    if getattr(args, "duration", None) is not None:
        argv += ["--duration", repr(args.duration)]
    argv += [option for name, option in flags if getattr(args, name, False)]
    if getattr(args, "event", None):
        argv += ["--event", args.event]
    if getattr(args, "count", None) is not None:
        argv += ["--count", str(args.count)]
    if getattr(args, "offcpu", False):
        argv.append("--off-cpu")
    argv += native_argv(args)
    if command:
        argv += ["--"] + command
    return argv


# --------------------------------------------------------------------------- #
# The runner
# --------------------------------------------------------------------------- #

def inode(path):
    """The inode number of *path*, or None (no path, or no file)."""
    try:
        return os.stat(path).st_ino if path else None
    except OSError:
        return None


def catches_signal(pid, signum):
    """Whether process *pid* has a handler installed for *signum* (/proc/PID/status SigCgt)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signum - 1)))
    except (OSError, ValueError):
        pass
    return False


def _child_setup(own_group, death_signal):
    """A preexec_fn for the sampler child, or None when it has nothing to do.

    *own_group*: a process group of its own (a terminal's Ctrl-C then reaches
    only pyprof, which stops the sampler).  *death_signal*: sent to it when
    pyprof dies, even by SIGKILL (PR_SET_PDEATHSIG survives the exec; the
    sampler ends its run on SIGTERM as on Ctrl-C and releases the target) --
    for runs whose sampler does not set it itself (no --cleanup-dir).
    """
    if not own_group and not death_signal:
        return None
    prctl = None
    if death_signal:
        try:
            import ctypes
            prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (ImportError, OSError, AttributeError):
            prctl = None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec():
        if own_group:
            os.setpgid(0, 0)
        if prctl is not None:
            prctl(pr_set_pdeathsig, int(death_signal), 0, 0, 0)
            if os.getppid() != parent:  # pyprof died before prctl took effect
                os._exit(EXIT_INTERRUPTED)
    return preexec


class Sampler:
    """One ``pyprof-sampler record`` child writing raw snapshots to *raw_path*.

    *err_path*, when given, receives the sampler's stderr (``top``: its
    screen is not the place for it; :meth:`stderr_text` reads it back).
    """

    def __init__(self, argv, raw_path, err_path=None):
        self.argv = argv
        self.raw_path = raw_path
        self.err_path = err_path
        self.proc = None

    def start(self, stdout=None, background=False):
        """Start the child.  *background*: own process group, stdin and stdout
        /dev/null, SIGTERM when pyprof dies (``top``)."""
        kwargs = {"stdout": stdout, "preexec_fn": _child_setup(background, signal.SIGTERM if background else 0)}
        if background:
            kwargs.update(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        err = open(self.err_path, "w") if self.err_path else None
        try:
            self.proc = subprocess.Popen(self.argv, stderr=err, **kwargs)
        except OSError as e:
            raise cannot_run_sampler(self.argv[0], e) from None
        finally:
            if err:
                err.close()

    def _new_snapshot(self, before):
        """Whether the raw file is a new one since its inode was *before*."""
        return inode(self.raw_path) not in (None, before)

    def run(self, on_snapshot=None, stdout=None):
        """Run the sampler to its end in pyprof's foreground; return its exit status.

        While it runs, pyprof forwards SIGINT and SIGTERM to it instead of
        dying; either way the sampler ends the recording and writes the
        profile.  A terminal's Ctrl-C reaches the sampler twice (directly, as
        it is in the same process group, and forwarded), which is harmless:
        the first one already ends the run.

        SIGUSR1 is forwarded too: the sampler writes the profile so far to
        *raw_path* (a new file, renamed into place) and goes on; once that new
        file appears, *on_snapshot* is called to render it.
        """
        pending = []
        snapshot = {"asked": False, "inode": None}

        def forward(signum, frame):
            if self.proc is None:
                pending.append(signum)
            else:
                self.proc.send_signal(signum)

        def flush(signum, frame):
            snapshot["asked"] = True
            snapshot["inode"] = inode(self.raw_path)
            forward(signum, frame)

        old = {sig: signal.signal(sig, handler) for sig, handler in
               ((signal.SIGINT, forward), (signal.SIGTERM, forward), (signal.SIGUSR1, flush))}
        try:
            self.start(stdout)
            for signum in pending:
                self.proc.send_signal(signum)
            while True:
                try:
                    return self.proc.wait(timeout=POLL_S)
                except subprocess.TimeoutExpired:
                    pass
                if snapshot["asked"] and self._new_snapshot(snapshot["inode"]):
                    snapshot["asked"] = False
                    if on_snapshot:
                        on_snapshot()
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Wait until the sampler catches SIGUSR1; return None, or its exit status if it ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.proc.poll()
            if status is not None:
                return status
            if catches_signal(self.proc.pid, signal.SIGUSR1):
                return None
            time.sleep(SPIN_S)
        return None

    def snapshot(self, timeout=SNAPSHOT_TIMEOUT):
        """Ask for a snapshot and return the :class:`raw.Profile`, or None if the
        sampler has ended (then :attr:`proc` has its status) or sent none in time."""
        before = inode(self.raw_path)
        if self.proc.poll() is not None:
            return None
        try:
            self.proc.send_signal(signal.SIGUSR1)
        except OSError:
            return None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._new_snapshot(before):
                try:
                    return raw.read_raw(self.raw_path)
                except (OSError, raw.RawFormatError):
                    pass
            if self.proc.poll() is not None:
                return None
            time.sleep(SPIN_S)
        return None

    def final_profile(self):
        """The profile the sampler wrote when it ended, or None."""
        try:
            return raw.read_raw(self.raw_path)
        except (OSError, raw.RawFormatError):
            return None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGINT (the sampler detaches, the target keeps running); SIGKILL if it hangs."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGINT)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            except OSError:
                pass
        return self.proc.returncode

    def stderr_text(self):
        """What the sampler wrote to *err_path* ("" without one)."""
        if not self.err_path:
            return ""
        try:
            with open(self.err_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""


# --------------------------------------------------------------------------- #
# Processes
# --------------------------------------------------------------------------- #

def descendants(pid, limit=MAX_TREE):
    """PIDs of the process tree under *pid* (itself first), from /proc/PID/task/*/children."""
    tree, i = [pid], 0
    while i < len(tree) and len(tree) < limit:
        try:
            tasks = os.listdir("/proc/%d/task" % tree[i])
        except OSError:
            tasks = []
        for tid in tasks:
            try:
                with open("/proc/%d/task/%s/children" % (tree[i], tid)) as f:
                    tree.extend(int(c) for c in f.read().split() if int(c) not in tree)
            except (OSError, ValueError):
                pass
        i += 1
    return tree
