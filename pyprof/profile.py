"""Profiles in memory: loading raw and collapsed files, and per-function aggregation.

Two shapes of a profile:

* :class:`raw.Profile` (raw.py reads the raw format) -- what the renderers
  take.  :func:`read_profile_file` also turns collapsed stacks into one
  (:func:`parse_collapsed`), for ``pyprof convert``.
* :class:`Source` -- the samples as root-first tuples of *function keys*, per
  thread, for ``report`` and ``top``: :func:`load_source` (a raw or collapsed
  file), :func:`source_from_profile`, :func:`source_from_collapsed`.  Over
  those, :func:`aggregate` gives per-function totals:

  - **Self**: samples in which the function is the leaf (the frame running);
  - **Children**: samples in which the function is anywhere on the stack,
    counted once per sample even when it recurses;

  and :func:`callers` / :func:`callees` the direct neighbours of one function.

A function is identified by its frame text without the line number:
``qualname (file.py)`` for a Python frame (``lines=True`` keeps the line:
``qualname (file.py:LINE)``), ``symbol (libname.so)`` for a native frame, the
marker text (``<truncated>``) for a marker.  Thread roots are not functions:
they select the thread.

:func:`read` and :func:`read_source` are the commands' entry points: a file
that cannot be read or parsed becomes the one-line error of errors.py.
"""

import collections
import re

from . import raw
from .errors import PyprofError, UsageError
from .raw import Frame, Profile, RawFormatError

ROOT = "[root]"   # the caller of a function that is a stack's root frame
SELF = "[self]"   # the "callee" standing for samples where the function is the leaf

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
# Collapsed stacks as a raw.Profile (pyprof convert)
# --------------------------------------------------------------------------- #

_PY_FRAME_RE = re.compile(r"^(.*) \(([^()]*):(\d+)\)$")
_NATIVE_FRAME_RE = re.compile(r"^(.*) \(([^()]*)\)$")


def parse_collapsed(lines):
    """Return a :class:`Profile` of collapsed-format *lines* (``frame;...;frame COUNT``).

    Frames ``name (file:LINE)`` are Python frames, ``name (lib)`` native
    ones, anything else a marker.  One thread, no timestamps; the only
    statistic is ``samples``.  Raises :class:`RawFormatError` for a line that
    is not collapsed-format.
    """
    profile = Profile()
    profile.threads[0] = (0, "")
    frame_ids, stack_ids, strings = {}, {}, {}

    def string_id(text):
        if text not in strings:
            strings[text] = len(profile.strings)
            profile.strings.append(text)
        return strings[text]

    def frame_id(text):
        if text not in frame_ids:
            m = _PY_FRAME_RE.match(text)
            if m:
                frame = Frame("py", m.group(1), m.group(2), int(m.group(3)))
            else:
                m = _NATIVE_FRAME_RE.match(text)
                frame = Frame("native", m.group(1), m.group(2), 0) if m else Frame("marker", text, "", 0)
            string_id(frame.name), string_id(frame.file)
            frame_ids[text] = len(profile.frames)
            profile.frames.append(frame)
        return frame_ids[text]

    total = 0
    for lineno, line in enumerate(lines, start=1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            raise RawFormatError("line %d: not a collapsed-format line ('frame;...;frame COUNT')" % lineno)
        ids = tuple(frame_id(text) for text in stack.split(";"))
        if ids not in stack_ids:
            stack_ids[ids] = len(profile.stacks)
            profile.stacks.append(list(ids))
        profile.counts.append((stack_ids[ids], 0, int(count)))
        total += int(count)
    profile.stats["samples"] = total
    profile.meta["input"] = "collapsed"
    return profile


def read_profile_file(path):
    """Read *path*: a raw file (first line ``pyprof-raw``) or collapsed stacks."""
    with open(path, encoding="utf-8", errors="replace", newline="\n") as f:
        first = f.readline()
        f.seek(0)
        try:
            if first.split("\t", 1)[0].rstrip("\n") == raw.MAGIC:
                return raw.parse_raw(f)
            return parse_collapsed(f)
        except RawFormatError as e:
            raise RawFormatError("%s: %s" % (path, e)) from None


# --------------------------------------------------------------------------- #
# The commands' entry points
# --------------------------------------------------------------------------- #

def _read_or_fail(path, reader, hint):
    try:
        return reader(path)
    except OSError as e:
        raise UsageError("cannot read %s: %s" % (path, e.strerror or e)) from e
    except (RawFormatError, ReportInputError) as e:
        raise PyprofError(str(e), hint=hint) from e


def read(path):
    """``pyprof convert``'s input: :func:`read_profile_file`; a missing or unreadable file is a usage error."""
    return _read_or_fail(path, read_profile_file,
                         "give a file written by 'pyprof record --format raw' or collapsed stacks")


def read_source(path, lines=False):
    """``pyprof report``'s input: :func:`load_source`; a missing or unreadable file is a usage error."""
    return _read_or_fail(path, lambda p: load_source(p, lines),
                         "give a file written by 'pyprof record --format raw' or '--format collapsed'")
