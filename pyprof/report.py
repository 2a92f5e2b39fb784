"""``pyprof report``: perf report for Python (docs/report.md).

The per-function Self and Children totals of a raw or collapsed profile
(profile.py loads and aggregates it), shown two ways:

* :func:`format_stdio`: the text report (``--stdio``, or no terminal), the
  functions' table and the callers/callees sections;
* :class:`ReportView` in a curses screen (:func:`run_tui`): the same table,
  with callers/callees expansion, sorting, incremental search and a
  per-thread filter.  The view is plain state (testable without curses);
  tui.py draws it.
"""

import collections
import os
import sys

from . import raw, tui
from .errors import EXIT_OK, UsageError
from .output import write_stdout
from .profile import ROOT, SELF, aggregate, callees, callers, match_functions, read_source, select

DEFAULT_EXPAND = 5


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
    if source.kind == "raw" and meta.get("event"):
        count = raw.event_count_text(meta, total)
        out.append("# event: %s%s" % (raw.event_text(meta), ", %d samples = %s" % (total, count) if count else ""))
    if source.kind == "raw" and raw.weighted_ns(meta):
        out[-2] = out[-2].replace("# samples: %d," % total, "# total: %.3f s (on and off CPU)," % (total / 1e9))
        out.append("# values: " + raw.values_text(meta))
    out.append("# thread: %s, sort: %s" % (source.thread_label(thread), sort))
    return out


def _count(value, ms):
    """A count column: samples, or with *ms* (--off-cpu: ns counts) milliseconds."""
    return "%9.1f" % (value / 1e6) if ms else "%9d" % value


def table_lines(agg, children=True, sort="children", limit=0, ms=False):
    """The table: ``Children  Self  Samples  Function`` (or ``Self  Samples
    Function`` without children; Samples is then the Self count).  With *ms*
    (a --off-cpu profile, counts in ns) the column is ``ms``."""
    rows = agg.rows(sort if children else "self")
    if limit:
        rows = rows[:limit]
    label = "ms" if ms else "Samples"
    if children:
        out = ["%9s %9s %9s  %s" % ("Children", "Self", label, "Function")]
        for s in rows:
            out.append("%8.2f%% %8.2f%% %s  %s" % (agg.percent(s.children), agg.percent(s.self),
                                                  _count(s.children, ms), s.name))
    else:
        out = ["%9s %9s  %s" % ("Self", label, "Function")]
        for s in rows:
            if s.self == 0:
                continue
            out.append("%8.2f%% %s  %s" % (agg.percent(s.self), _count(s.self, ms), s.name))
    return out


def tree_lines(samples, agg, name, thread=None, show_callers=True, show_callees=True, ms=False):
    """The callers/callees section of function *name*."""
    stat = agg.stat(name)
    out = ["%s  children %.2f%% (%s)  self %.2f%% (%s)" % (
        name, agg.percent(stat.children), _count(stat.children, ms).strip() + (" ms" if ms else ""),
        agg.percent(stat.self), _count(stat.self, ms).strip() + (" ms" if ms else ""))]
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
            out.append("  %8.2f%% %s  %s" % (100.0 * count / base if base else 0.0, _count(count, ms), other))
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
    ms = source.kind == "raw" and raw.weighted_ns(source.meta)
    out += table_lines(agg, children, sort, limit, ms)
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
            out += tree_lines(samples, agg, name, None, show_callers, show_callees, ms)
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
    resolved = []
    for query in queries:
        found = match_functions(names, query)
        if not found:
            raise UsageError("no function matches %r in %s" % (query, source_path))
        resolved += [n for n in found if n not in resolved]
    return resolved


def cmd_report(args):
    """``pyprof report``: the TUI on a terminal, else (or with --stdio) the text report."""
    if args.sort == "children" and not args.children:
        raise UsageError("--sort children needs the Children column (drop --no-children)")
    if args.limit < 0 or args.expand < 0:
        raise UsageError("--limit and --expand must not be negative")
    sort = args.sort or ("children" if args.children else "self")
    source = read_source(args.file, args.lines)
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
        write_stdout(text)  # `pyprof report --stdio | head`: not an error
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
                text = "%8.2f%% %8.2f%% %s  %s %s" % (agg.percent(row.children), agg.percent(row.self),
                                                      _count(row.children, self.ms()), mark, row.name)
            else:
                text = "%8.2f%% %s  %s %s" % (agg.percent(row.self), _count(row.self, self.ms()), mark,
                                              row.name)
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
                                        "%s  %7.2f%% %s  %s" % (indent, share,
                                                                _count(count, self.ms()).strip().rjust(8),
                                                                other)))
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

    def ms(self):
        """--off-cpu profiles count ns: their count column is in ms, as in --stdio."""
        return self.source.kind == "raw" and raw.weighted_ns(self.source.meta)

    def column_text(self):
        label = "ms" if self.ms() else "Samples"
        if self.children:
            return "  %9s %9s %9s  %s" % ("Children", "Self", label, "Function")
        return "  %9s %9s  %s" % ("Self", label, "Function")

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
            tui.put(win, 0, 0, "pyprof: terminal too small"[: max(0, width - 1)])
            win.refresh()
            return
        if self.show_help:
            for i, text in enumerate(HELP_TEXT[:height - 1]):
                tui.put(win, i, 1, text, curses.A_BOLD if i == 0 else 0)
            win.refresh()
            return
        tui.put(win, 0, 0, self.header_text().ljust(width), curses.A_REVERSE)
        tui.put(win, 1, 0, self.command_text())
        tui.put(win, 2, 0, self.column_text(), curses.A_BOLD)
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
            tui.put(win, y, 0, text.ljust(width) if selected else text, attr)
            if needle and line.kind == "func":
                start = text.lower().find(needle, 2 + len(line.text) - len(line.owner))
                if start >= 0:
                    tui.put(win, y, start, text[start:start + len(needle)], attr | curses.A_BOLD | curses.A_UNDERLINE)
        if not lines:
            tui.put(win, 3, 2, "(no function matches '%s')" % self.search if self.search else "(no samples)")
        if self.searching:
            status = "/" + self.search
        elif self.message:
            status = self.message
        else:
            shown = "%d/%d" % (self.cursor + 1 if lines else 0, len(lines))
            status = "%s  filter: %s  |  h help  q quit  Enter expand  c/s sort  / search  t thread" % (
                shown, self.search or "-")
        tui.put(win, height - 1, 0, status, curses.A_BOLD if self.searching else 0)
        win.refresh()


def run_tui(view):
    """Run the interactive *view* until ``q`` or Ctrl-C; the terminal is restored either way."""
    os.environ.setdefault("ESCDELAY", "25")

    def loop(stdscr):
        while True:
            view.draw(stdscr)
            key = tui.next_key(stdscr)
            if key is not None and not view.handle_key(key):
                return

    tui.run(loop, "check $TERM, or use --stdio")
