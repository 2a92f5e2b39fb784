"""``pyprof report``: perf report for Python (docs/report.md).

Two parts:

* a pure aggregation part (:func:`load_source`, :func:`source_from_profile`,
  :func:`source_from_collapsed`, :func:`aggregate`, :func:`callers`,
  :func:`callees`, :func:`format_stdio`) that turns a raw profile or a
  collapsed file into per-function totals:

  - **Self**: samples in which the function is the leaf (the frame running);
  - **Children**: samples in which the function is anywhere on the stack,
    counted once per sample even when it recurses;

  both as a percentage of all samples (of the selected thread).

* a curses TUI (:func:`run_tui`) showing the same table, with callers/callees
  expansion, sorting, incremental search and a per-thread filter.

A function is identified by its frame text without the line number:
``qualname (file.py)`` for a Python frame (``--lines`` keeps the line:
``qualname (file.py:LINE)``), ``symbol (libname.so)`` for a native frame, the
marker text (``<truncated>``) for a marker.  Thread roots are not functions:
they select the thread.
"""

import collections
import locale
import os
import re
import sys

from . import raw

ROOT = "[root]"   # the caller of a function that is a stack's root frame
SELF = "[self]"   # the "callee" standing for samples where the function is the leaf

DEFAULT_EXPAND = 5

Sample = collections.namedtuple("Sample", "stack thread count")
Sample.__doc__ = "Root-first tuple of function keys, thread id (None if unknown), sample count."

FuncStat = collections.namedtuple("FuncStat", "name self children")
FuncStat.__doc__ = "One function's totals: Self and Children sample counts."

_PY_LINE_RE = re.compile(r"^(.*) \((.*):([0-9]+)\)$", re.DOTALL)
_THREAD_ROOT_RE = re.compile(r"^thread ([0-9]+)(?: \((.*)\))?$", re.DOTALL)


class ReportInputError(ValueError):
    """The input is neither a raw file nor a valid collapsed file."""


class Source:
    """The samples of one profile, with what is known about how it was recorded.

    Attributes:
        path: the file read (or None).
        kind: ``"raw"`` or ``"collapsed"``.
        meta: raw metadata ``{key: str}`` (empty for collapsed input).
        stats: raw statistics ``{key: int}`` (empty for collapsed input).
        threads: ``{tid: name}`` (empty when the input has no thread information).
        samples: list of :class:`Sample`.
    """

    def __init__(self, kind, samples, meta=None, stats=None, threads=None, path=None):
        self.kind = kind
        self.samples = samples
        self.meta = meta or {}
        self.stats = stats or {}
        self.threads = threads or {}
        self.path = path

    def stat(self, key):
        return self.stats.get(key, 0)

    @property
    def total(self):
        return sum(s.count for s in self.samples)

    def thread_label(self, tid):
        """``"all threads"`` for None, else ``"TID (name)"``."""
        if tid is None:
            return "all threads"
        name = self.threads.get(tid)
        return "%d (%s)" % (tid, name) if name else str(tid)


# --------------------------------------------------------------------------- #
# Input
# --------------------------------------------------------------------------- #

def frame_key(frame, lines=False):
    """The function key of a raw :class:`raw.Frame` (see the module docstring)."""
    if frame.kind == "py" and not lines:
        return raw.sanitize("%s (%s)" % (frame.name, frame.file))
    return raw.frame_text(frame)


def text_key(text, lines=False):
    """The function key of a collapsed-format frame *text*."""
    if not lines:
        m = _PY_LINE_RE.match(text)
        if m:
            return "%s (%s)" % (m.group(1), m.group(2))
    return text


def source_from_profile(profile, lines=False, path=None):
    """Return the :class:`Source` of a :class:`raw.Profile`."""
    keys = [frame_key(f, lines) for f in profile.frames]
    stacks = [tuple(keys[f] for f in stack) for stack in profile.stacks]
    tids = {idx: tid for idx, (tid, _) in profile.threads.items()}
    merged = collections.Counter()
    for stack_id, thread_idx, count in profile.counts:
        if count > 0 and stacks[stack_id]:
            merged[(stacks[stack_id], tids[thread_idx])] += count
    samples = [Sample(stack, tid, n) for (stack, tid), n in merged.items()]
    threads = {}
    for tid, name in profile.threads.values():
        threads.setdefault(tid, name)
    return Source("raw", samples, dict(profile.meta), dict(profile.stats), threads, path)


def source_from_collapsed(lines_in, lines=False, path=None):
    """Return the :class:`Source` of collapsed-format lines (an iterable of str).

    A ``thread TID (name)`` root frame (``record --threads``) gives the
    sample's thread and is not a function.  Raises :class:`ReportInputError`
    for a line that is not ``frame;...;frame COUNT``.
    """
    merged = collections.Counter()
    threads = {}
    for lineno, line in enumerate(lines_in, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        stack_text, sep, count = line.rpartition(" ")
        if not sep or not stack_text or not count.isdigit():
            raise ReportInputError("line %d: not a collapsed-format line ('frame;...;frame COUNT')" % lineno)
        frames = stack_text.split(";")
        tid = None
        m = _THREAD_ROOT_RE.match(frames[0])
        if m:
            tid = int(m.group(1))
            threads.setdefault(tid, m.group(2) or "")
            frames = frames[1:]
        stack = tuple(text_key(f, lines) for f in frames if f)
        if stack and int(count) > 0:
            merged[(stack, tid)] += int(count)
    samples = [Sample(stack, tid, n) for (stack, tid), n in merged.items()]
    return Source("collapsed", samples, threads=threads, path=path)


def load_source(path, lines=False):
    """Read *path*, a raw file (first line ``pyprof-raw``) or a collapsed file.

    Raises OSError, :class:`raw.RawFormatError` or :class:`ReportInputError`.
    """
    with open(path, encoding="utf-8", errors="replace", newline="\n") as f:
        first = f.readline()
        if first.startswith(raw.MAGIC):
            f.seek(0)
            try:
                profile = raw.parse_raw(f)
            except raw.RawFormatError as e:
                raise raw.RawFormatError("%s: %s" % (path, e)) from None
            return source_from_profile(profile, lines, path)
        f.seek(0)
        try:
            return source_from_collapsed(f, lines, path)
        except ReportInputError as e:
            raise ReportInputError("%s: %s" % (path, e)) from None


# --------------------------------------------------------------------------- #
# Aggregation
# --------------------------------------------------------------------------- #

class Aggregate:
    """Per-function Self and Children counts over some samples.

    Attributes:
        total: number of samples.
        self_counts, children_counts: ``Counter`` by function key.
    """

    def __init__(self, total, self_counts, children_counts, depths=None):
        self.total = total
        self.self_counts = self_counts
        self.children_counts = children_counts
        self.depths = depths or {}

    def stat(self, name):
        return FuncStat(name, self.self_counts.get(name, 0), self.children_counts.get(name, 0))

    def percent(self, count):
        return 100.0 * count / self.total if self.total else 0.0

    def rows(self, sort="children"):
        """Every function as a :class:`FuncStat`, sorted by *sort* (``children`` or
        ``self``) descending.  Ties: by Children, the one with less Self first
        (a caller before its callee), by Self, the one with more Children; then
        the one nearest the root, then by name."""
        stats = [self.stat(name) for name in self.children_counts]
        depth = self.depths.get
        if sort == "self":
            key = lambda s: (-s.self, -s.children, depth(s.name, 0), s.name)
        else:
            key = lambda s: (-s.children, s.self, depth(s.name, 0), s.name)
        return sorted(stats, key=key)


def select(samples, thread=None):
    """The samples of thread *thread* (all of them for None)."""
    return samples if thread is None else [s for s in samples if s.thread == thread]


def aggregate(samples, thread=None):
    """Return the :class:`Aggregate` of *samples* (only thread *thread* if given)."""
    self_counts = collections.Counter()
    children_counts = collections.Counter()
    depths = {}
    total = 0
    for stack, _, count in select(samples, thread):
        if not stack:
            continue
        total += count
        self_counts[stack[-1]] += count
        for name in set(stack):
            children_counts[name] += count
        for i, name in enumerate(stack):
            if depths.get(name, i + 1) > i:
                depths[name] = i
    return Aggregate(total, self_counts, children_counts, depths)


def _neighbours(samples, name, thread, step):
    counts = collections.Counter()
    base = 0
    for stack, _, count in select(samples, thread):
        if name not in stack:
            continue
        base += count
        found = set()
        last = len(stack) - 1
        for i, frame in enumerate(stack):
            if frame != name:
                continue
            j = i + step
            if step < 0:
                found.add(stack[j] if j >= 0 else ROOT)
            else:
                found.add(stack[j] if j <= last else SELF)
        for other in found:
            counts[other] += count
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return base, rows


def callers(samples, name, thread=None):
    """The direct callers of function *name*: ``(children, [(caller, count)])``.

    *children* is the number of samples with *name* on the stack; each count
    is the number of those samples in which *caller* calls *name* directly
    (``[root]`` when *name* is the root frame).  A sample counts once per
    caller; with recursion *name* is its own caller and the shares can add up
    to more than 100 %.  Sorted by count, descending.
    """
    return _neighbours(samples, name, thread, -1)


def callees(samples, name, thread=None):
    """The direct callees of function *name*: ``(children, [(callee, count)])``.

    Like :func:`callers`; ``[self]`` counts the samples where *name* is the leaf.
    """
    return _neighbours(samples, name, thread, +1)


def match_functions(names, query):
    """Function keys matching *query*: the exact key, else those whose name part
    (before `` (``) is *query*, else those containing *query*; sorted."""
    names = list(names)
    if query in names:
        return [query]
    exact = sorted(n for n in names if n.split(" (", 1)[0] == query)
    if exact:
        return exact
    return sorted(n for n in names if query in n)


# --------------------------------------------------------------------------- #
# --stdio
# --------------------------------------------------------------------------- #

def header_lines(source, path, thread=None, sort="children", total=None):
    """The ``# ...`` header lines: file, command, samples, errors, thread, sort."""
    meta = source.meta
    out = ["# pyprof report: %s" % (path or source.path or "-")]
    if source.kind == "raw":
        command = raw.sanitize(meta.get("cmdline", "")) or "?"
        details = ["PID %s" % meta.get("pid", "?")]
        if meta.get("python_version"):
            details.append("Python %s" % meta["python_version"])
        if meta.get("duration_s"):
            details.append("%s s" % meta["duration_s"])
        out.append("# command: %s (%s)" % (command, ", ".join(details)))
        transient, baddata = source.stat("errors_transient"), source.stat("errors_baddata")
        errors = "%d (%d transient, %d bad data)" % (transient + baddata, transient, baddata)
        if "merge_failures" in source.stats:
            errors += ", merge failures: %d" % source.stat("merge_failures")
    else:
        out.append("# command: unknown (collapsed input has no metadata)")
        errors = "unknown"
    if total is None:
        total = aggregate(source.samples, thread).total
    out.append("# samples: %d, errors: %s" % (total, errors))
    out.append("# thread: %s, sort: %s" % (source.thread_label(thread), sort))
    return out


def table_lines(agg, children=True, sort="children", limit=0):
    """The table: ``Children  Self  Samples  Function`` (or ``Self  Samples
    Function`` without children; Samples is then the Self count)."""
    rows = agg.rows(sort if children else "self")
    if limit:
        rows = rows[:limit]
    if children:
        out = ["%9s %9s %9s  %s" % ("Children", "Self", "Samples", "Function")]
        for s in rows:
            out.append("%8.2f%% %8.2f%% %9d  %s" % (agg.percent(s.children), agg.percent(s.self),
                                                   s.children, s.name))
    else:
        out = ["%9s %9s  %s" % ("Self", "Samples", "Function")]
        for s in rows:
            if s.self == 0:
                continue
            out.append("%8.2f%% %9d  %s" % (agg.percent(s.self), s.self, s.name))
    return out


def tree_lines(samples, agg, name, thread=None, show_callers=True, show_callees=True):
    """The callers/callees section of function *name*."""
    stat = agg.stat(name)
    out = ["%s  children %.2f%% (%d)  self %.2f%% (%d)" % (
        name, agg.percent(stat.children), stat.children, agg.percent(stat.self), stat.self)]
    parts = []
    if show_callers:
        parts.append(("callers", callers(samples, name, thread)))
    if show_callees:
        parts.append(("callees", callees(samples, name, thread)))
    for label, (base, rows) in parts:
        out.append("  %s:" % label)
        if not rows:
            out.append("    (none)")
        for other, count in rows:
            out.append("  %8.2f%% %9d  %s" % (100.0 * count / base if base else 0.0, count, other))
    return out


def format_stdio(source, children=True, sort="children", thread=None, callers_of=(),
                 callees_of=(), limit=0, expand=DEFAULT_EXPAND, path=None):
    """Return the whole ``--stdio`` report as text.

    *callers_of* / *callees_of* are function keys: when either is given, only
    their sections are shown after the table; else the top *expand* functions
    (in table order) get a callers and callees section.
    """
    samples = select(source.samples, thread)
    agg = aggregate(samples)
    sort = sort if children else "self"
    out = header_lines(source, path, thread, sort, agg.total)
    out.append("#")
    if agg.total == 0:
        out.append("# no samples")
        return "\n".join(out) + "\n"
    out += table_lines(agg, children, sort, limit)
    sections = []
    if callers_of or callees_of:
        for name in list(callers_of) + [n for n in callees_of if n not in callers_of]:
            sections.append((name, name in callers_of, name in callees_of))
        title = "# Callers and callees (share of the function's Children samples)"
    elif expand > 0:
        rows = agg.rows(sort)
        if not children:
            rows = [s for s in rows if s.self]
        sections = [(s.name, True, True) for s in rows[:expand]]
        title = "# Callers and callees of the top %d functions (share of each function's Children samples)" % len(sections)
    if sections:
        out += ["", title]
        for name, show_callers, show_callees in sections:
            out.append("")
            out += tree_lines(samples, agg, name, None, show_callers, show_callees)
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- #
# The command
# --------------------------------------------------------------------------- #

def add_parser(commands):
    """Add the ``report`` subcommand to the argparse *commands*."""
    p = commands.add_parser(
        "report", allow_abbrev=False, help="per-function Self/Children view of a profile (perf report)",
        description="Show per-function Self and Children totals of a raw or collapsed profile: "
        "an interactive view on a terminal, a text report with --stdio (or when stdout is not a terminal).")
    p.add_argument("file", metavar="FILE", help="a raw (record --format raw) or collapsed profile")
    p.add_argument("--stdio", action="store_true", help="print a text report instead of the interactive view")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--children", dest="children", action="store_true", default=True,
                       help="show the Children column and sort by it (default)")
    group.add_argument("--no-children", dest="children", action="store_false",
                       help="show only Self, sorted by Self")
    p.add_argument("--sort", choices=("children", "self"), help="sort key (default: children; self with --no-children)")
    p.add_argument("--thread", type=int, metavar="TID", help="only the samples of thread TID")
    p.add_argument("--callers", action="append", default=[], metavar="FUNC",
                   help="show who calls FUNC (name, qualname or part of a function)")
    p.add_argument("--callees", action="append", default=[], metavar="FUNC", help="show what FUNC calls")
    p.add_argument("--lines", action="store_true", help="one entry per function and line (qualname (file:LINE))")
    p.add_argument("--limit", type=int, default=0, metavar="N", help="--stdio: show only the top N rows")
    p.add_argument("--expand", type=int, default=DEFAULT_EXPAND, metavar="N",
                   help="--stdio: callers/callees of the top N functions (default %d)" % DEFAULT_EXPAND)
    p.add_argument("-v", "--verbose", action="store_true", help="show tracebacks")
    p.set_defaults(func=cmd_report)
    return p


def _resolve(names, queries, source_path):
    from .cli import UsageError
    resolved = []
    for query in queries:
        found = match_functions(names, query)
        if not found:
            raise UsageError("no function matches %r in %s" % (query, source_path))
        resolved += [n for n in found if n not in resolved]
    return resolved


def cmd_report(args):
    """``pyprof report``: the TUI on a terminal, else (or with --stdio) the text report."""
    from .cli import EXIT_OK, PyprofError, UsageError

    if args.sort == "children" and not args.children:
        raise UsageError("--sort children needs the Children column (drop --no-children)")
    if args.limit < 0 or args.expand < 0:
        raise UsageError("--limit and --expand must not be negative")
    sort = args.sort or ("children" if args.children else "self")
    try:
        source = load_source(args.file, args.lines)
    except OSError as e:
        raise UsageError("cannot read %s: %s" % (args.file, e.strerror or e)) from e
    except (raw.RawFormatError, ReportInputError) as e:
        raise PyprofError(str(e), hint="give a file written by 'pyprof record --format raw' or "
                          "'--format collapsed'") from e
    if args.thread is not None and args.thread not in source.threads:
        if not source.threads:
            raise UsageError("%s has no thread information (record with --threads, or use --format raw)"
                             % args.file)
        raise UsageError("no thread %d in %s (threads: %s)" % (
            args.thread, args.file, ", ".join(str(t) for t in sorted(source.threads))))
    names = aggregate(source.samples, args.thread).children_counts
    callers_of = _resolve(names, args.callers, args.file)
    callees_of = _resolve(names, args.callees, args.file)
    if args.stdio or not (sys.stdout.isatty() and sys.stdin.isatty()):
        text = format_stdio(source, args.children, sort, args.thread, callers_of, callees_of,
                            args.limit, args.expand, args.file)
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            # `pyprof report --stdio | head`: not an error
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    view = ReportView(source, children=args.children, sort=sort, thread=args.thread, path=args.file)
    for name in callers_of + callees_of:
        view.expanded.add(name)
    if callers_of or callees_of:
        view.goto(callers_of[0] if callers_of else callees_of[0])
    run_tui(view)
    return EXIT_OK


# --------------------------------------------------------------------------- #
# TUI
# --------------------------------------------------------------------------- #

HELP_TEXT = [
    "pyprof report - keys",
    "",
    "  Up/Down, k/j     move",
    "  PgUp/PgDn        move a page",
    "  Home/End, g/G    first / last row",
    "  Enter, +         expand/collapse callers and callees",
    "                   (Enter on a caller/callee jumps to it)",
    "  c / s            sort by Children / Self",
    "  /                search (incremental filter); Enter keeps, Esc cancels",
    "  t                next thread (all threads, then each thread)",
    "  h, ?             this help",
    "  q                quit",
    "",
    "Children: % of samples with the function anywhere on the stack",
    "Self:     % of samples with the function as the leaf",
    "",
    "press any key",
]

Line = collections.namedtuple("Line", "kind owner target text")
# kind: "func" (a function row), "label" ("callers:"/"callees:"), "entry" (a caller/callee)


class ReportView:
    """The state of the interactive report, independent of curses (testable)."""

    def __init__(self, source, children=True, sort="children", thread=None, path=None):
        self.source = source
        self.path = path or source.path or "-"
        self.children = children
        self.sort = sort if children else "self"
        self.threads = [None] + sorted(source.threads)
        self.thread_index = self.threads.index(thread) if thread in self.threads else 0
        self.search = ""
        self.searching = False
        self._saved_search = ""
        self.expanded = set()
        self.cursor = 0
        self.top = 0
        self.show_help = False
        self.message = ""
        self._cache = {}

    # --- data ---

    @property
    def thread(self):
        return self.threads[self.thread_index]

    def samples(self):
        key = ("samples", self.thread)
        if key not in self._cache:
            self._cache[key] = select(self.source.samples, self.thread)
        return self._cache[key]

    def agg(self):
        key = ("agg", self.thread)
        if key not in self._cache:
            self._cache[key] = aggregate(self.samples())
        return self._cache[key]

    def _tree(self, which, name):
        key = (which, self.thread, name)
        if key not in self._cache:
            fn = callers if which == "callers" else callees
            self._cache[key] = fn(self.samples(), name)
        return self._cache[key]

    def visible_rows(self):
        rows = self.agg().rows(self.sort)
        if not self.children:
            rows = [r for r in rows if r.self]
        if self.search:
            needle = self.search.lower()
            rows = [r for r in rows if needle in r.name.lower()]
        return rows

    def lines(self):
        """The display lines of the table body."""
        agg = self.agg()
        out = []
        for row in self.visible_rows():
            mark = "-" if row.name in self.expanded else "+"
            if self.children:
                text = "%8.2f%% %8.2f%% %9d  %s %s" % (agg.percent(row.children), agg.percent(row.self),
                                                       row.children, mark, row.name)
            else:
                text = "%8.2f%% %9d  %s %s" % (agg.percent(row.self), row.self, mark, row.name)
            out.append(Line("func", row.name, row.name, text))
            if row.name in self.expanded:
                indent = " " * (self.name_column() + 2)
                for which in ("callers", "callees"):
                    base, entries = self._tree(which, row.name)
                    out.append(Line("label", row.name, None, indent + which + ":"))
                    for other, count in entries:
                        share = 100.0 * count / base if base else 0.0
                        target = None if other in (ROOT, SELF) else other
                        out.append(Line("entry", row.name, target,
                                        "%s  %7.2f%% %8d  %s" % (indent, share, count, other)))
        return out

    def name_column(self):
        return 31 if self.children else 21

    def header_text(self):
        agg = self.agg()
        parts = ["pyprof report", "sort: %s" % self.sort, "thread: %s" % self.source.thread_label(self.thread),
                 "%d samples" % agg.total]
        if self.source.kind == "raw":
            parts.append("%d errors" % (self.source.stat("errors_transient") + self.source.stat("errors_baddata")))
        parts.append(self.path)
        return "  |  ".join(parts)

    def command_text(self):
        if self.source.kind == "raw":
            return "command: %s (PID %s)" % (raw.sanitize(self.source.meta.get("cmdline", "")) or "?",
                                             self.source.meta.get("pid", "?"))
        return "command: unknown (collapsed input)"

    def column_text(self):
        if self.children:
            return "  %9s %9s %9s  %s" % ("Children", "Self", "Samples", "Function")
        return "  %9s %9s  %s" % ("Self", "Samples", "Function")

    # --- actions ---

    def goto(self, name, clear_search=True):
        """Put the cursor on function *name*'s row (clearing a search hiding it,
        if *clear_search*); return whether the row is shown."""
        for i, line in enumerate(self.lines()):
            if line.kind == "func" and line.owner == name:
                self.cursor = i
                return True
        if self.search and clear_search:
            self.search = ""
            return self.goto(name, False)
        return False

    def _current(self, lines):
        if not lines:
            return None
        self.cursor = max(0, min(self.cursor, len(lines) - 1))
        return lines[self.cursor]

    def _keep_cursor(self, change):
        """Apply *change*, keeping the cursor on the same function if still shown."""
        current = self._current(self.lines())
        change()
        if current is None or not self.goto(current.owner, clear_search=False):
            self.cursor = 0
        self._clamp()

    def _clamp(self):
        n = len(self.lines())
        self.cursor = max(0, min(self.cursor, n - 1)) if n else 0

    def move(self, delta):
        n = len(self.lines())
        self.cursor = max(0, min(self.cursor + delta, n - 1)) if n else 0

    def toggle(self):
        lines = self.lines()
        line = self._current(lines)
        if line is None:
            return
        if line.kind == "entry" and line.target is not None:
            self.goto(line.target)
            return
        name = line.owner
        if name in self.expanded:
            self.expanded.discard(name)
        else:
            self.expanded.add(name)
        self.goto(name)

    def set_sort(self, sort):
        if sort == "children" and not self.children:
            self.message = "no Children column (started with --no-children)"
            return
        self._keep_cursor(lambda: setattr(self, "sort", sort))

    def next_thread(self):
        def change():
            self.thread_index = (self.thread_index + 1) % len(self.threads)
        if len(self.threads) == 1:
            self.message = "no thread information in this profile"
            return
        self._keep_cursor(change)

    def set_search(self, text):
        """Filter the rows to functions containing *text* (case-insensitive);
        the cursor goes to the first match."""
        self.search = text
        if not self.goto_first_match():
            self.cursor = 0
        self._clamp()

    def goto_first_match(self):
        if not self.search:
            return False
        for i, line in enumerate(self.lines()):
            if line.kind == "func":
                self.cursor = i
                return True
        return False

    def handle_key(self, key):
        """Apply one key (a str, or an int curses key code); return False to quit."""
        import curses

        self.message = ""
        if self.show_help:
            self.show_help = False
            return True
        if self.searching:
            return self._search_key(key)
        if key in ("q", "Q"):
            return False
        if key in ("j", curses.KEY_DOWN):
            self.move(1)
        elif key in ("k", curses.KEY_UP):
            self.move(-1)
        elif key == curses.KEY_NPAGE or key == " ":
            self.move(self.page)
        elif key == curses.KEY_PPAGE:
            self.move(-self.page)
        elif key in ("g", curses.KEY_HOME):
            self.cursor = 0
        elif key in ("G", curses.KEY_END):
            self.cursor = max(0, len(self.lines()) - 1)
        elif key in ("\n", "\r", "+", curses.KEY_ENTER):
            self.toggle()
        elif key == "c":
            self.set_sort("children")
        elif key == "s":
            self.set_sort("self")
        elif key == "t":
            self.next_thread()
        elif key == "/":
            self.searching = True
            self._saved_search = self.search
            self.set_search("")
        elif key in ("h", "?"):
            self.show_help = True
        return True

    def _search_key(self, key):
        import curses

        if key in ("\n", "\r", curses.KEY_ENTER):
            self.searching = False
            if self.search and not self.visible_rows():
                self.message = "no function matches '%s'" % self.search
        elif key == "\x1b":
            self.searching = False
            self.set_search(self._saved_search)
        elif key in ("\x7f", "\b", curses.KEY_BACKSPACE):
            self.set_search(self.search[:-1])
        elif key == "\x15":  # Ctrl-U
            self.set_search("")
        elif isinstance(key, str) and key.isprintable():
            self.set_search(self.search + key)
        return True

    page = 10

    # --- drawing ---

    def draw(self, win):
        import curses

        win.erase()
        height, width = win.getmaxyx()
        if height < 4 or width < 20:
            _put(win, 0, 0, "pyprof: terminal too small"[: max(0, width - 1)])
            win.refresh()
            return
        if self.show_help:
            for i, text in enumerate(HELP_TEXT[:height - 1]):
                _put(win, i, 1, text, curses.A_BOLD if i == 0 else 0)
            win.refresh()
            return
        _put(win, 0, 0, self.header_text().ljust(width), curses.A_REVERSE)
        _put(win, 1, 0, self.command_text())
        _put(win, 2, 0, self.column_text(), curses.A_BOLD)
        body = height - 4
        self.page = max(1, body - 1)
        lines = self.lines()
        self._clamp()
        if self.cursor < self.top:
            self.top = self.cursor
        elif self.cursor >= self.top + body:
            self.top = self.cursor - body + 1
        self.top = max(0, min(self.top, max(0, len(lines) - body)))
        needle = self.search.lower()
        for row, line in enumerate(lines[self.top:self.top + body]):
            y = 3 + row
            selected = self.top + row == self.cursor
            text = (">" if selected else " ") + " " + line.text
            attr = curses.A_REVERSE if selected else (curses.A_DIM if line.kind != "func" else 0)
            _put(win, y, 0, text.ljust(width) if selected else text, attr)
            if needle and line.kind == "func":
                start = text.lower().find(needle, 2 + len(line.text) - len(line.owner))
                if start >= 0:
                    _put(win, y, start, text[start:start + len(needle)], attr | curses.A_BOLD | curses.A_UNDERLINE)
        if not lines:
            _put(win, 3, 2, "(no function matches '%s')" % self.search if self.search else "(no samples)")
        if self.searching:
            status = "/" + self.search
        elif self.message:
            status = self.message
        else:
            shown = "%d/%d" % (self.cursor + 1 if lines else 0, len(lines))
            status = "%s  filter: %s  |  h help  q quit  Enter expand  c/s sort  / search  t thread" % (
                shown, self.search or "-")
        _put(win, height - 1, 0, status, curses.A_BOLD if self.searching else 0)
        win.refresh()


def _put(win, y, x, text, attr=0):
    """addnstr clipped to the window; never raises for a small window."""
    import curses

    height, width = win.getmaxyx()
    if y < 0 or y >= height or x < 0 or x >= width:
        return
    room = width - x - (1 if y == height - 1 else 0)
    if room <= 0:
        return
    try:
        win.addnstr(y, x, text, room, attr)
    except curses.error:
        pass


def run_tui(view):
    """Run the interactive *view* until ``q`` or Ctrl-C; the terminal is restored either way."""
    import curses

    try:
        locale.setlocale(locale.LC_ALL, "")
    except locale.Error:
        pass
    os.environ.setdefault("ESCDELAY", "25")

    def main(stdscr):
        try:
            curses.curs_set(0)
        except curses.error:
            pass
        stdscr.keypad(True)
        while True:
            view.draw(stdscr)
            try:
                key = stdscr.get_wch()
            except curses.error:
                continue
            if key == curses.KEY_RESIZE:
                try:
                    curses.update_lines_cols()
                except AttributeError:
                    pass
                continue
            if not view.handle_key(key):
                return

    try:
        curses.wrapper(main)
    except KeyboardInterrupt:
        pass  # Ctrl-C quits, like q (curses.wrapper has restored the terminal)
    except curses.error as e:
        from .cli import PyprofError

        raise PyprofError("cannot start the interactive view: %s" % e,
                          hint="check $TERM, or use --stdio") from e
