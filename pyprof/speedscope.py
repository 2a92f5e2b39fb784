"""speedscope output (https://www.speedscope.app/file-format-schema.json).

One "sampled" profile per thread, named ``thread TID (name)``, over frames
shared by all of them.  Speedscope separates threads itself, so the thread
root frame of ``--threads`` is never added.

Without timestamps the samples are aggregated: one entry per distinct stack,
weighted by its sample count (unit ``none``).  When the raw file has per-sample
timestamps (``record --timeline``) every sample is kept, in time order, and
weighted by the time until the thread's next sample (unit ``nanoseconds``), so
speedscope's "Time Order" view is a timeline.  A gap of more than
``GAP_PERIODS`` sampling periods (the thread was off CPU and not sampled)
becomes an empty sample, so that time is not charged to the stack sampled
before it.
"""

import collections
import json

from . import __version__, raw

SCHEMA = "https://www.speedscope.app/file-format-schema.json"
GAP_PERIODS = 10


def _frame_json(frame):
    """Return the speedscope frame object of a :class:`pyprof.raw.Frame`."""
    entry = {"name": raw.sanitize(frame.name)}
    if frame.kind == "py":
        entry["file"] = frame.file
        if frame.line > 0:
            entry["line"] = frame.line
    elif frame.kind == "native" and frame.file:
        entry["file"] = frame.file
    return entry


class _Frames:
    """The shared frame table: raw frames mapped to unique speedscope frames."""

    def __init__(self, profile):
        self.table = []
        index = {}
        self.of_frame = []
        for frame in profile.frames:
            entry = _frame_json(frame)
            key = json.dumps(entry, sort_keys=True)
            if key not in index:
                index[key] = len(self.table)
                self.table.append(entry)
            self.of_frame.append(index[key])

    def stack(self, frame_ids):
        return [self.of_frame[f] for f in frame_ids]


def _aggregated_profile(name, stacks, counts):
    """Return a sampled profile of *counts* ``{stack_id: count}``, unit ``none``."""
    samples, weights = [], []
    for stack_id in sorted(counts):
        samples.append(stacks[stack_id])
        weights.append(counts[stack_id])
    total = sum(weights)
    return _sampled(name, "none", samples, weights, total)


def _timeline_profile(name, stacks, timestamps, period_ns):
    """Return a sampled profile of ``(t_ns, stack_id)`` pairs, unit ``nanoseconds``.

    Time 0 is the start of the recording; the weights add up to ``endValue``.
    """
    samples, weights = [], []
    timestamps = sorted(timestamps)
    if timestamps and timestamps[0][0] > 0:
        samples.append([])  # before the thread's first sample
        weights.append(timestamps[0][0])
    for i, (t_ns, stack_id) in enumerate(timestamps):
        gap = timestamps[i + 1][0] - t_ns if i + 1 < len(timestamps) else period_ns
        if gap > GAP_PERIODS * period_ns:
            samples += [stacks[stack_id], []]
            weights += [period_ns, gap - period_ns]
        else:
            samples.append(stacks[stack_id])
            weights.append(gap)
    return _sampled(name, "nanoseconds", samples, weights, sum(weights))


def _sampled(name, unit, samples, weights, end):
    """Return a speedscope "sampled" profile object."""
    return {
        "type": "sampled",
        "name": name,
        "unit": unit,
        "startValue": 0,
        "endValue": end,
        "samples": samples,
        "weights": weights,
    }


def profile_name(profile):
    """Return the top-level name: the command line and the sampling statistics."""
    meta = profile.meta
    command = raw.sanitize(meta.get("cmdline") or "PID %s" % meta.get("pid", "?"))
    return "%s \u2014 pyprof: %s" % (command, raw.stats_text(profile))


def build(profile, timeline=None):
    """Return the speedscope file of *profile* as a dict (ready for ``json.dump``).

    *timeline* (default: whether the file has timestamps) selects the time-
    ordered, time-weighted form.
    """
    if timeline is None:
        timeline = bool(profile.timestamps)
    frames = _Frames(profile)
    stacks = [frames.stack(stack) for stack in profile.stacks]
    profiles = []
    if timeline:
        period_ns = raw.sampling_period_ns(profile)
        per_thread = collections.defaultdict(list)
        for stack_id, thread_idx, t_ns in profile.timestamps:
            per_thread[thread_idx].append((t_ns, stack_id))
        for thread_idx in sorted(per_thread):
            name = raw.thread_text(*profile.threads[thread_idx])
            profiles.append(_timeline_profile(name, stacks, per_thread[thread_idx], period_ns))
    else:
        per_thread = collections.defaultdict(collections.Counter)
        for stack_id, thread_idx, count in profile.counts:
            per_thread[thread_idx][stack_id] += count
        for thread_idx in sorted(per_thread):
            name = raw.thread_text(*profile.threads[thread_idx])
            profiles.append(_aggregated_profile(name, stacks, per_thread[thread_idx]))
    if not profiles:  # speedscope needs at least one profile to open the file
        profiles.append(_sampled("no samples", "none", [], [], 0))
    return {
        "$schema": SCHEMA,
        "shared": {"frames": frames.table},
        "profiles": profiles,
        "name": profile_name(profile),
        "activeProfileIndex": 0,
        "exporter": "pyprof %s" % __version__,
    }


def render_profile(profile, threads=False, timeline=None):
    """Return the speedscope JSON text of *profile*.

    *threads* is accepted for symmetry with the other formats; speedscope
    always shows one profile per thread.
    """
    return json.dumps(build(profile, timeline), ensure_ascii=False, separators=(",", ":")) + "\n"
