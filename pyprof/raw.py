"""Reader for pyprof's raw profile format (docs/format.md, version 1).

The raw file is what the sampler knows: metadata, statistics, a thread table,
interned strings, frames, stacks (root first) and per-(stack, thread) counts.
Every other output format is rendered from the :class:`Profile` read here.
"""

import collections
import re

MAGIC = "pyprof-raw"
VERSION = "1"
DEFAULT_RATE_HZ = 100  # the sampler's default --rate

Frame = collections.namedtuple("Frame", "kind name file line")
Frame.__doc__ = "One frame: kind ('py', 'native', 'marker', 'process'), name, file and line."

_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n"}
_ESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)
_SANITIZE = str.maketrans({";": ":", "\n": " ", "\r": " ", "\t": " "})
_UINT_RE = re.compile(r"[0-9]{1,18}\Z")  # ASCII digits only; < 10**18 fits an int64
# Metadata that renderers compute with: (lowest, highest) accepted value.  A
# file written by the sampler is always inside these; a crafted one is refused.
NUMERIC_META = {
    "rate_hz": (1e-3, 1e9),          # the sampling period must be a sane number of ns
    "duration_s": (0.0, 1e9),
    "start_unix": (0.0, 9e9),        # nanoseconds since the epoch fit an int64
}


class RawFormatError(ValueError):
    """The file is not a valid (or complete) pyprof raw file."""


class Profile:
    """Everything read from one raw file.

    Attributes:
        meta: metadata ``{key: str}`` (``pid``, ``cmdline``, ``duration_s`` ...).
        stats: statistics counters ``{key: int}`` (``samples``, ``errors_transient`` ...).
        threads: ``{thread_idx: (tid, name)}``.
        strings: interned strings, indexed by string id.
        frames: :class:`Frame` list, indexed by frame id.
        stacks: lists of frame ids (root first), indexed by stack id.
        counts: ``(stack_id, thread_idx, count)`` tuples.
        timestamps: ``(stack_id, thread_idx, t_ns)`` tuples (``--timestamps`` only).
    """

    def __init__(self):
        self.meta = {}
        self.stats = {}
        self.threads = {}
        self.strings = []
        self.frames = []
        self.stacks = []
        self.counts = []
        self.timestamps = []

    def stat(self, key):
        """Return the statistics counter *key*, 0 when the file has none."""
        return self.stats.get(key, 0)

    @property
    def total_samples(self):
        """Sum of all sample counts (the width of a flame graph)."""
        return sum(count for _, _, count in self.counts)


def unescape(field):
    """Undo the raw format's string escaping (``\\\\``, ``\\t``, ``\\n``)."""
    if "\\" not in field:
        return field
    return _ESCAPE_RE.sub(lambda m: _UNESCAPES.get(m.group(1), m.group(0)), field)


def sanitize(text):
    """Make *text* safe as one collapsed-format frame: no ``;``, tab or newline."""
    return text.translate(_SANITIZE)


def frame_text(frame):
    """Return the collapsed-format text of *frame* (docs/format.md)."""
    if frame.kind == "py":
        text = "%s (%s:%d)" % (frame.name, frame.file, frame.line)
    elif frame.kind in ("marker", "process") or not frame.file:
        text = frame.name
    else:
        text = "%s (%s)" % (frame.name, frame.file)
    return sanitize(text)


def thread_text(tid, name):
    """Return the collapsed-format text of a thread root (``--threads``)."""
    return sanitize("thread %d (%s)" % (tid, name) if name else "thread %d" % tid)


def read_raw(path):
    """Read the raw file at *path* and return a :class:`Profile`.

    Raises :class:`RawFormatError` for a file that is not a raw file, is
    truncated (no ``E`` record) or refers to undefined ids.
    """
    with open(path, encoding="utf-8", errors="replace", newline="\n") as f:
        try:
            return parse_raw(f)
        except RawFormatError as e:
            raise RawFormatError("%s: %s" % (path, e)) from None


def parse_raw(lines):
    """Parse raw-format *lines* (an iterable of str) into a :class:`Profile`."""
    lines = iter(lines)
    header = next(lines, "").rstrip("\n").split("\t")
    if header[0] != MAGIC:
        raise RawFormatError("not a pyprof raw file")
    if len(header) != 2 or header[1] != VERSION:
        raise RawFormatError("unsupported raw format version %r" % "\t".join(header[1:]))
    profile = Profile()
    for lineno, line in enumerate(lines, start=2):
        fields = line.rstrip("\n").split("\t")
        if fields[0] == "E":
            return profile
        handler = _HANDLERS.get(fields[0])
        if handler is None:
            continue  # a record type from a newer writer
        if not line.endswith("\n"):
            break  # the file ends in the middle of a record
        try:
            handler(profile, fields[1:])
        except (ValueError, IndexError, KeyError) as e:
            raise RawFormatError("line %d: bad %r record (%s)" % (lineno, fields[0], e)) from None
    raise RawFormatError("truncated raw file (no 'E' record at the end)")


def _uint(text):
    """A non-negative decimal integer field (ASCII digits only, < 10**18)."""
    if not _UINT_RE.match(text):
        raise ValueError("%r is not a non-negative integer" % text[:40])
    return int(text)


def _index(text, items, what):
    """An id field that must name one of *items* (no negative indexing)."""
    value = _uint(text)
    if value >= len(items):
        raise ValueError("undefined %s id %d" % (what, value))
    return value


def _expect_next(items, item_id, what):
    if item_id != len(items):
        raise ValueError("%s id %d out of sequence" % (what, item_id))


def _parse_meta(profile, fields):
    key, value = fields[0], unescape("\t".join(fields[1:]))
    if key in NUMERIC_META:
        low, high = NUMERIC_META[key]
        try:
            number = float(value)
        except ValueError:
            raise ValueError("%s %r is not a number" % (key, value[:40])) from None
        if not low <= number <= high:  # also refuses nan and inf
            raise ValueError("%s %r is out of range (%g to %g)" % (key, value[:40], low, high))
    elif key == "pid" and value != "?":
        _uint(value)
    profile.meta[key] = value


def _parse_stat(profile, fields):
    key, value = fields
    profile.stats[key] = _uint(value)


def _parse_thread(profile, fields):
    # tid -1: the threads past the sampler's --max-threads, counted together
    tid = -1 if fields[1] == "-1" else _uint(fields[1])
    profile.threads[_uint(fields[0])] = (tid, unescape("\t".join(fields[2:])))


def _parse_string(profile, fields):
    _expect_next(profile.strings, _uint(fields[0]), "string")
    profile.strings.append(unescape("\t".join(fields[1:])))


def _parse_frame(profile, fields):
    frame_id, kind, name_id, file_id, line = fields
    _expect_next(profile.frames, _uint(frame_id), "frame")
    strings = profile.strings
    name = strings[_index(name_id, strings, "string")]
    filename = strings[_index(file_id, strings, "string")]
    profile.frames.append(Frame(kind, name, filename, _uint(line)))


def _parse_stack(profile, fields):
    stack_id, frames = fields
    _expect_next(profile.stacks, _uint(stack_id), "stack")
    profile.stacks.append([_index(f, profile.frames, "frame") for f in frames.split()])


def _sample_fields(profile, fields):
    stack_id, thread_idx, value = fields
    stack_id = _index(stack_id, profile.stacks, "stack")
    thread_idx = _uint(thread_idx)
    if thread_idx not in profile.threads:
        raise ValueError("undefined thread index %d" % thread_idx)
    return stack_id, thread_idx, _uint(value)


def _parse_count(profile, fields):
    profile.counts.append(_sample_fields(profile, fields))


def _parse_timestamp(profile, fields):
    profile.timestamps.append(_sample_fields(profile, fields))


_HANDLERS = {
    "M": _parse_meta,
    "S": _parse_stat,
    "T": _parse_thread,
    "s": _parse_string,
    "F": _parse_frame,
    "K": _parse_stack,
    "C": _parse_count,
    "P": _parse_timestamp,
}


def iter_stacks(profile, threads=False, describe=None):
    """Yield ``(frames, count)`` for each count record of *profile*.

    *frames* is a root-first tuple of ``(text, kind)`` pairs, where text is the
    collapsed-format frame text and kind is the frame kind, or ``"thread"``
    for the thread root that *threads* adds.  With *describe*, a frame is
    ``describe(frame)`` instead (a tuple whose second item is its kind) and a
    thread root ``(text, "thread", text)``.
    """
    if describe is None:
        texts = [(frame_text(f), f.kind) for f in profile.frames]
        roots = {idx: ((thread_text(tid, name), "thread"),) for idx, (tid, name) in profile.threads.items()}
    else:
        texts = [describe(f) for f in profile.frames]
        roots = {idx: ((thread_text(tid, name), "thread", thread_text(tid, name)),)
                 for idx, (tid, name) in profile.threads.items()}
    stacks = [tuple(texts[f] for f in stack) for stack in profile.stacks]
    for stack_id, thread_idx, count in profile.counts:
        frames = stacks[stack_id]
        if threads:
            # the thread root goes under the process root (--subprocesses)
            if frames and frames[0][1] == "process":
                frames = frames[:1] + roots[thread_idx] + frames[1:]
            else:
                frames = roots[thread_idx] + frames
        yield frames, count


def collapsed_lines(profile, threads=False):
    """Yield the collapsed-format lines (without newline) of *profile*.

    Stacks with the same text are aggregated; lines are sorted by stack so the
    output is deterministic.
    """
    totals = collections.Counter()
    for frames, count in iter_stacks(profile, threads):
        if frames:
            totals[";".join(text for text, _ in frames)] += count
    for stack in sorted(totals):
        yield "%s %d" % (stack, totals[stack])


def error_rate(profile):
    """Return the fraction of thread samples lost to errors (transient and bad data)."""
    errors = profile.stat("errors_transient") + profile.stat("errors_baddata")
    attempts = profile.stat("samples") + errors
    return errors / attempts if attempts else 0.0


def merge_failure_rate(profile):
    """Return ``merge_failures / samples``, or None when the file has no such counter."""
    if "merge_failures" not in profile.stats:
        return None
    samples = profile.stat("samples")
    return profile.stat("merge_failures") / samples if samples else 0.0


def stats_text(profile):
    """Return a one-line summary of the sampling statistics.

    E.g. ``377 samples, 3 errors (0.8%), 2 merge failures (0.5%)``; the merge
    failures only when the file counts them (native stacks).
    """
    errors = profile.stat("errors_transient") + profile.stat("errors_baddata")
    text = "%d samples" % profile.stat("samples")
    if profile.meta.get("event"):
        text += " of %s" % profile.meta["event"]
        count = event_count_text(profile.meta, profile.stat("samples"))
        if count:
            text += " (%s)" % count
    text += ", %d errors (%.1f%%)" % (errors, 100 * error_rate(profile))
    merge_rate = merge_failure_rate(profile)
    if merge_rate is not None:
        text += ", %d merge failures (%.1f%%)" % (profile.stat("merge_failures"), 100 * merge_rate)
        if profile.stat("merge_unproven") and profile.stat("native_samples"):
            text += ", %d unproven (%.1f%%)" % (profile.stat("merge_unproven"), 100.0 * profile.stat(
                "merge_unproven") / profile.stat("native_samples"))
    return text


CLOCK_EVENTS = ("cpu-clock", "task-clock")


def event_info(meta):
    """The sampled event of a profile's metadata: ``(name, unit, period, fixed)`` or None.

    None for a profile sampled on the timer (Python-only, --blocking) or
    written before the ``event`` keys existed.  *unit* is what one event is
    (``ns`` for the clock events, ``faults``, ``switches``, ``events``...),
    *period* the events per sample (the mean one when not *fixed*).
    """
    name = meta.get("event")
    if not name:
        return None
    try:
        period = int(meta.get("event_period", "0"))
    except ValueError:
        period = 0
    return name, meta.get("event_unit") or "events", period, meta.get("event_period_fixed") == "1"


def event_text(meta):
    """What one sample stands for, for headers and titles; '' without an event.

    ``task-clock (a sample every 10 ms of CPU time)``, ``page-faults (a sample
    every 10 faults)``.
    """
    info = event_info(meta)
    if info is None:
        return ""
    name, unit, period, fixed = info
    if name in CLOCK_EVENTS:
        every = "%g ms" % (period / 1e6) if period >= 100000 else "%d us" % (period // 1000)
        return "%s (a sample every %s%s of CPU time)" % (name, "" if fixed else "~", every)
    return "%s (a sample every %s)" % (name, unit[:-1] if period == 1 and unit.endswith("s") else
                                       "%d %s" % (period, unit))


def event_count_text(meta, samples):
    """*samples* of the profile's event as a count of events ('' for clock or no event)."""
    info = event_info(meta)
    if info is None or info[0] in CLOCK_EVENTS or not info[2]:
        return ""
    return "%d %s" % (samples * info[2], info[1])


def weighted_ns(meta):
    """True when the counts are nanoseconds (--off-cpu), not samples."""
    return meta.get("value_unit") == "ns"


def values_text(meta):
    """What the counts of a --off-cpu profile are ('' for a profile of samples)."""
    if not weighted_ns(meta):
        return ""
    info = event_info(meta)
    period = "%g ms" % (info[2] / 1e6) if info and info[2] else "its period"
    return ("nanoseconds: an on-CPU sample weighs %s of CPU time, a wait under [off-cpu] the time "
            "the thread was off CPU" % period)


def sampling_period_ns(profile):
    """Return the sampling period in nanoseconds, from the ``rate_hz`` metadata."""
    try:
        rate = float(profile.meta.get("rate_hz", DEFAULT_RATE_HZ))
    except ValueError:
        rate = DEFAULT_RATE_HZ
    if not rate > 0 or rate == float("inf"):
        rate = DEFAULT_RATE_HZ
    return int(round(1e9 / rate))
