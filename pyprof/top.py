"""``pyprof top --pid PID``: a live per-function view of a running process.

The sampler runs in raw mode to a temporary file for as long as ``top`` runs;
every interval (1 s) pyprof sends it SIGUSR1, which makes it rewrite the file
with the profile so far (atomically, a new inode) and keep sampling.  pyprof
re-reads that snapshot and shows, per function:

* ``Own%`` / ``Total%``: Self / Children (docs/report.md) over the **last
  interval** -- the difference between this snapshot and the previous one;
* ``CumOwn%`` / ``CumTotal%``: the same over everything since ``top`` started;
* ``Samples``: samples since the start with the function on the stack.

Rows are sorted by ``Own%``, then ``Total%``, then the cumulative columns.
On a terminal the view is a curses screen (``q`` or Ctrl-C quits); otherwise
a text table is printed every interval (like ``top -b``).  Quitting stops the
sampler with SIGINT (it detaches; the target keeps running) and removes the
temporary file.
"""

import collections
import argparse
import os
import signal
import sys
import tempfile
import time

from . import raw, tui
from .errors import EXIT_OK, UsageError, check_pid, check_rate, sampler_killed
from .output import write_stdout
from .profile import Sample, aggregate, source_from_profile
from .sampler import Sampler, add_event_arguments, find_sampler, record_argv, validate_event_args

DEFAULT_INTERVAL = 1.0
DEFAULT_LIMIT = 20
# The options of top the sampler takes as they are (its --threads is top's own).
SAMPLER_FLAGS = (("verbose", "-v"), ("subprocesses", "--subprocesses"))

TopRow = collections.namedtuple("TopRow", "name thread own total cum_own cum_total")


def add_parser(commands):
    """Add the ``top`` subcommand to the argparse *commands*."""
    p = commands.add_parser(
        "top", allow_abbrev=False, help="live per-function view of a running process",
        description="Sample a running process and show its hottest functions, refreshed every second. "
        "q or Ctrl-C quits; the target keeps running. Without a terminal a table is printed every second.")
    p.add_argument("--pid", "-p", type=int, help="the process to watch (or as the first argument: top PID)")
    p.add_argument("pid_arg", nargs="?", type=int, metavar="PID", help=argparse.SUPPRESS)
    p.add_argument("-F", "-r", "--rate", type=int, metavar="HZ", help="samples per second per thread (default: 100)")
    p.add_argument("--native", action="store_true", help="include native (C) frames (passed to the sampler)")
    add_event_arguments(p, offcpu=False)
    p.add_argument("--threads", action="store_true", help="one row per thread and function, with a Thread column")
    p.add_argument("--subprocesses", action="store_true",
                   help="the process and every descendant Python process (Gunicorn: the master's PID)")
    p.add_argument("--iterations", type=int, metavar="N", help="stop after N refreshes")
    p.add_argument("--interval", type=float, default=DEFAULT_INTERVAL, metavar="SECONDS",
                   help="refresh interval (default: %g)" % DEFAULT_INTERVAL)
    p.add_argument("-n", "--limit", type=int, default=DEFAULT_LIMIT, metavar="N",
                   help="rows per table without a terminal (default: %d; 0: all)" % DEFAULT_LIMIT)
    p.add_argument("-v", "--verbose", action="store_true", help="verbose sampler output, tracebacks")
    p.set_defaults(func=cmd_top)
    return p


# --------------------------------------------------------------------------- #
# Pure part: snapshots -> rows
# --------------------------------------------------------------------------- #

def snapshot_counts(profile):
    """``Counter{(stack of function keys, tid): count}`` of a raw :class:`raw.Profile`."""
    source = source_from_profile(profile)
    return collections.Counter({(s.stack, s.thread): s.count for s in source.samples})


def _samples(counts):
    return [Sample(stack, tid, n) for (stack, tid), n in counts.items() if n > 0]


class TopState:
    """Cumulative and last-interval counts, updated from successive snapshots."""

    def __init__(self, started=None):
        self.previous = collections.Counter()
        self.interval = collections.Counter()
        self.cumulative = collections.Counter()
        self.meta = {}
        self.stats = {}
        self.threads = {}
        self.updates = 0
        self.interval_seconds = 0.0
        self._last_time = started

    def update(self, profile, now):
        """Take the snapshot *profile* (cumulative since the start) read at time *now*."""
        counts = snapshot_counts(profile)
        self.interval = counts - self.previous
        self.previous = counts
        self.cumulative = counts
        self.meta = dict(profile.meta)
        self.stats = dict(profile.stats)
        for tid, name in profile.threads.values():
            self.threads[tid] = name
        self.interval_seconds = now - self._last_time if self._last_time is not None else 0.0
        self._last_time = now
        self.updates += 1

    @property
    def interval_total(self):
        return sum(self.interval.values())

    @property
    def cumulative_total(self):
        return sum(self.cumulative.values())

    def errors(self):
        return self.stats.get("errors_transient", 0) + self.stats.get("errors_baddata", 0)

    def rows(self, threads=False):
        """The :class:`TopRow` list (percentages), sorted hottest first."""
        interval, cumulative = _samples(self.interval), _samples(self.cumulative)
        keys = [None]
        if threads:
            keys = sorted({s.thread for s in cumulative})
        i_total, c_total = sum(s.count for s in interval), sum(s.count for s in cumulative)
        rows = []
        counts = {}
        for tid in keys:
            iagg = aggregate(interval, tid)
            cagg = aggregate(cumulative, tid)
            for name, cum_total in cagg.children_counts.items():
                counts[(name, tid)] = cum_total
                rows.append(TopRow(name, tid,
                                   _pct(iagg.self_counts.get(name, 0), i_total),
                                   _pct(iagg.children_counts.get(name, 0), i_total),
                                   _pct(cagg.self_counts.get(name, 0), c_total),
                                   _pct(cum_total, c_total)))
        rows.sort(key=lambda r: (-r.own, -r.total, -r.cum_own, -r.cum_total, r.name, r.thread or 0))
        return rows, counts


def _pct(count, total):
    return 100.0 * count / total if total else 0.0


def header_lines(state, pid, elapsed, rate, iteration=None):
    """The two header lines of a ``top`` table."""
    cmdline = raw.sanitize(state.meta.get("cmdline", "")) or "?"
    if len(cmdline) > 60:
        cmdline = cmdline[:57] + "..."
    first = "pyprof top: PID %d (%s), %.1f s elapsed, %s" % (
        pid, cmdline, elapsed, ("event " + raw.event_text(state.meta)) if state.meta.get("event") else "%d Hz" % rate)
    if iteration is not None:
        first += ", refresh %d" % iteration
    second = "samples: %d in the last %.1f s, %d in all%s; errors: %d; threads: %d" % (
        state.interval_total, state.interval_seconds, state.cumulative_total,
        (" (%s)" % raw.event_count_text(state.meta, state.cumulative_total))
        if raw.event_count_text(state.meta, state.cumulative_total) else "",
        state.errors(), len(state.threads))
    return [first, second]


def table_lines(state, threads=False, limit=0):
    """The column header and the rows of a ``top`` table."""
    rows, counts = state.rows(threads)
    if limit:
        rows = rows[:limit]
    if threads:
        out = ["%6s %7s %8s %9s %8s %8s  %s" % ("Own%", "Total%", "CumOwn%", "CumTotal%", "Samples",
                                                "Thread", "Function")]
    else:
        out = ["%6s %7s %8s %9s %8s  %s" % ("Own%", "Total%", "CumOwn%", "CumTotal%", "Samples", "Function")]
    for r in rows:
        cells = "%5.1f%% %6.1f%% %7.1f%% %8.1f%% %8d" % (r.own, r.total, r.cum_own, r.cum_total,
                                                          counts[(r.name, r.thread)])
        if threads:
            cells += " %8s" % r.thread
        out.append("%s  %s" % (cells, r.name))
    if not rows:
        out.append("(no samples yet)")
    return out


# --------------------------------------------------------------------------- #
# The command
# --------------------------------------------------------------------------- #

def cmd_top(args):
    """``pyprof top``: sample *args.pid*, show a refreshed table until q, Ctrl-C or --iterations."""
    check_pid(args.pid)
    check_rate(args.rate)
    if args.iterations is not None and args.iterations <= 0:
        raise UsageError("--iterations must be a positive number, not %d" % args.iterations)
    if not (args.interval >= 0.1 and args.interval < 3600):
        raise UsageError("--interval must be between 0.1 and 3600 seconds, not %s" % args.interval)
    if args.limit < 0:
        raise UsageError("--limit must not be negative")
    validate_event_args(args)
    sampler_path = find_sampler()
    interactive = sys.stdout.isatty() and sys.stdin.isatty()
    with tempfile.TemporaryDirectory(prefix="pyprof-top-") as tmpdir:
        raw_path = os.path.join(tmpdir, "top.raw")
        sampler = Sampler(record_argv(sampler_path, args, raw_path, status=False, flags=SAMPLER_FLAGS),
                          raw_path, os.path.join(tmpdir, "sampler.err"))
        old_int = signal.getsignal(signal.SIGINT)
        ended = None
        try:
            sampler.start(background=True)
            status = sampler.wait_ready()
            if status is not None:
                ended = status
            else:
                loop = _run_curses if interactive else _run_batch
                ended = loop(sampler, args)
        except KeyboardInterrupt:
            ended = None  # Ctrl-C: the normal way to leave top
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip the cleanup
            try:
                status = sampler.stop()
            finally:
                signal.signal(signal.SIGINT, old_int)
            errors = sampler.stderr_text()
            if errors:
                sys.stderr.write(errors if errors.endswith("\n") else errors + "\n")
        if ended == "target":
            ended = sampler.proc.returncode
        if ended == 0:
            # the sampler ended on its own: the target has exited
            profile = sampler.final_profile()
            how = profile.meta.get("target_exit", "ended") if profile else "ended"
            print("pyprof: target PID %d %s; top stopped" % (args.pid, _exit_text(how)), file=sys.stderr)
        elif ended is not None and ended < 0:
            raise sampler_killed(-ended)
        elif ended is not None:
            return ended  # the sampler has printed the error (relayed above)
    return EXIT_OK


def _exit_text(how):
    if how.startswith("exit") or how.startswith("signal"):
        return "exited (%s)" % how
    return "ended"


def _refresh(sampler, state, started):
    """Take one snapshot into *state*; return False when the sampler has ended."""
    profile = sampler.snapshot()
    if profile is None:
        return sampler.proc.poll() is None  # no snapshot in time but still running: try again
    state.update(profile, time.monotonic())
    return True


def _run_batch(sampler, args):
    """Print a table every interval; return ``"target"`` if the sampler ended on its own."""
    started = time.monotonic()
    state = TopState(started)
    rate = args.rate or 100
    iteration = 0
    next_time = started + args.interval
    while args.iterations is None or iteration < args.iterations:
        delay = next_time - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        next_time += args.interval
        if not _refresh(sampler, state, started):
            return "target"
        if state.updates == 0:
            continue
        iteration += 1
        lines = header_lines(state, args.pid, time.monotonic() - started, rate, iteration)
        lines += table_lines(state, args.threads, args.limit)
        if not write_stdout("\n".join(lines) + "\n\n"):
            return None
    return None


def _run_curses(sampler, args):
    """The interactive view; return ``"target"`` if the sampler ended on its own."""
    result = {"ended": None}

    def loop(stdscr):
        started = time.monotonic()
        state = TopState(started)
        rate = args.rate or 100
        iteration = 0
        next_time = started + args.interval
        message = "waiting for the first %.0f s of samples..." % args.interval
        while True:
            if time.monotonic() >= next_time:
                next_time = max(next_time + args.interval, time.monotonic() + 0.1)
                if not _refresh(sampler, state, started):
                    result["ended"] = "target"
                    return
                if state.updates:
                    iteration += 1
                    message = ""
            _draw_top(stdscr, state, args, time.monotonic() - started, rate, message)
            if args.iterations is not None and iteration >= args.iterations:
                return
            if tui.next_key(stdscr) in ("q", "Q"):
                return

    tui.run(loop, "check $TERM", timeout_ms=100)
    return result["ended"]


def _draw_top(win, state, args, elapsed, rate, message):
    import curses

    win.erase()
    height, width = win.getmaxyx()
    if height < 4 or width < 20:
        tui.put(win, 0, 0, "pyprof: terminal too small")
        win.refresh()
        return
    head = header_lines(state, args.pid, elapsed, rate)
    tui.put(win, 0, 0, head[0].ljust(width), curses.A_REVERSE)
    tui.put(win, 1, 0, head[1])
    table = table_lines(state, args.threads, max(1, height - 4))
    tui.put(win, 2, 0, table[0], curses.A_BOLD)
    for i, text in enumerate(table[1:height - 3]):
        tui.put(win, 3 + i, 0, text)
    tui.put(win, height - 1, 0, message or "q quit")
    win.refresh()
