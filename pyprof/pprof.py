"""pprof output: a gzipped ``profile.proto`` message (github.com/google/pprof).

The profile has two sample types, ``samples/count`` and ``cpu/nanoseconds``
(count times the sampling period) -- or, for a profile of a counting event
(``-e page-faults``), that event's name and unit (``page-faults/faults``,
count times the event period) -- one Location per distinct frame, one
Function per distinct (name, file) and one Mapping per code object: the first
(the "main binary") holds the Python frames, thread roots and markers, and
every native module named by a native frame gets its own.  Every sample
carries ``thread_id`` and ``thread_name`` labels; the statistics and metadata
go into the profile's comments.

pyprof writes the protobuf wire format itself: profile.proto needs nothing
but varints and length-delimited fields, so a few functions do, and pyprof
keeps depending on nothing but the standard library.
"""

import gzip

from . import __version__, raw

PYTHON_MAPPING = "python"

# Protobuf wire types.
WIRE_VARINT = 0
WIRE_LEN = 2

_UINT64_MASK = (1 << 64) - 1


def encode_varint(value):
    """Return the base-128 varint encoding of *value*.

    A negative value is encoded as its 64-bit two's complement (ten bytes),
    as protobuf does for ``int64``.
    """
    value &= _UINT64_MASK
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class Message:
    """A protobuf message being encoded, field by field.

    Scalar fields equal to their default (0, False, "") are left out, as
    proto3 does; repeated fields are written with :meth:`repeated_string`,
    :meth:`packed` and :meth:`message`, which always write.
    """

    def __init__(self):
        self._buf = bytearray()

    def __bytes__(self):
        return bytes(self._buf)

    def _key(self, field, wire_type):
        self._buf += encode_varint(field << 3 | wire_type)

    def _length_delimited(self, field, data):
        self._key(field, WIRE_LEN)
        self._buf += encode_varint(len(data))
        self._buf += data

    def int(self, field, value):
        """An ``int64``/``uint64``/``bool`` field (left out when zero)."""
        if value:
            self._key(field, WIRE_VARINT)
            self._buf += encode_varint(int(value))
        return self

    def repeated_string(self, field, text):
        """One element of a ``repeated string`` field (written even when empty)."""
        self._length_delimited(field, text.encode("utf-8", "replace"))
        return self

    def packed(self, field, values):
        """A packed ``repeated int64/uint64`` field (left out when empty)."""
        if values:
            self._length_delimited(field, b"".join(encode_varint(v) for v in values))
        return self

    def message(self, field, message):
        """An embedded message field (one element of a repeated one)."""
        self._length_delimited(field, bytes(message))
        return self


class _Builder:
    """Interns strings, mappings, functions and locations of one profile."""

    def __init__(self, main_binary):
        self.strings = {"": 0}
        self.string_table = [""]
        self.mappings = {}  # filename -> id
        self.functions = {}  # (name, filename) -> id
        self.locations = {}  # (mapping_id, function_id, line) -> id
        self.native_functions = set()  # ids of the functions of native frames
        self.main_mapping = self.mapping(main_binary)

    def string(self, text):
        index = self.strings.get(text)
        if index is None:
            index = self.strings[text] = len(self.string_table)
            self.string_table.append(text)
        return index

    def mapping(self, filename):
        return self.mappings.setdefault(filename, len(self.mappings) + 1)

    def function(self, name, filename):
        return self.functions.setdefault((name, filename), len(self.functions) + 1)

    def location(self, mapping_id, function_id, line):
        return self.locations.setdefault((mapping_id, function_id, line), len(self.locations) + 1)

    def frame_location(self, frame):
        """Return the location id of a :class:`pyprof.raw.Frame`."""
        if frame.kind == "native":
            # A native frame's file is its module (libfoo.so); it is also the mapping.
            mapping_id = self.mapping(frame.file or "[unknown]")
            function_id = self.function(frame.name, frame.file)
            self.native_functions.add(function_id)
            return self.location(mapping_id, function_id, 0)
        filename = frame.file if frame.kind == "py" else ""
        return self.location(self.main_mapping, self.function(frame.name, filename), frame.line)

    def thread_location(self, tid, name):
        """Return the location id of a ``thread TID (name)`` root frame."""
        return self.location(self.main_mapping, self.function(raw.thread_text(tid, name), ""), 0)


def _nanoseconds(value):
    """Return metadata *value* (seconds, a string) in integer nanoseconds; 0 when missing or bad."""
    try:
        return int(round(float(value) * 1e9))
    except (TypeError, ValueError):
        return 0


def comments(profile):
    """Return the profile's comment lines (``go tool pprof -comments``; ``-top`` shows them too).

    Three lines: what was profiled, the sampling statistics in short, and
    every statistics counter of the raw file.
    """
    meta = profile.meta
    details = ["PID %s" % meta.get("pid", "?")]
    for key, text in (("python_version", "Python %s"), ("rate_hz", "%s Hz"), ("duration_s", "%s s"),
                      ("target_exit", "target %s")):
        if key in meta:
            details.append(text % meta[key])
    command = raw.sanitize(meta.get("cmdline") or "?")
    return [
        "pyprof %s: %s (%s)" % (__version__, command, ", ".join(details)),
        raw.stats_text(profile),
        "stats: " + " ".join("%s=%d" % item for item in sorted(profile.stats.items())),
    ]


def main_binary(profile):
    """Return the name of the first mapping: the program run, as its command line says."""
    cmdline = profile.meta.get("cmdline", "").split()
    return cmdline[0] if cmdline else PYTHON_MAPPING


def build_profile(profile, threads=False):
    """Return the encoded (not compressed) ``Profile`` message of *profile*.

    With *threads*, each stack gets its thread as a root frame, as in the
    collapsed format.
    """
    builder = _Builder(main_binary(profile))
    period = raw.sampling_period_ns(profile)
    frame_locations = [builder.frame_location(frame) for frame in profile.frames]
    stacks = [[frame_locations[f] for f in reversed(stack)] for stack in profile.stacks]  # leaf first

    totals = {}
    for stack_id, thread_idx, count in profile.counts:
        key = (stack_id, thread_idx)
        totals[key] = totals.get(key, 0) + count

    out = Message()
    # the second type follows the event: cpu/nanoseconds for the clock (and
    # timer) profiles, the event's own name and unit for counting events
    value_type = ("cpu", "nanoseconds")
    event = raw.event_info(profile.meta)
    if event and event[0] not in raw.CLOCK_EVENTS and event[2]:
        value_type, period = (event[0], event[1]), event[2]
    weighted = raw.weighted_ns(profile.meta)  # --off-cpu: the counts are ns already
    types = (("time", "nanoseconds"),) if weighted else (("samples", "count"), value_type)
    if weighted:
        value_type, period = types[0], 1
    for type_, unit in types:
        out.message(1, Message().int(1, builder.string(type_)).int(2, builder.string(unit)))

    for (stack_id, thread_idx), count in sorted(totals.items()):
        tid, thread_name = profile.threads[thread_idx]
        locations = stacks[stack_id]
        if threads:
            locations = locations + [builder.thread_location(tid, thread_name)]
        sample = Message().packed(1, locations).packed(2, [count] if weighted else [count, count * period])
        sample.message(3, Message().int(1, builder.string("thread_id")).int(3, tid))
        if thread_name:
            sample.message(3, Message().int(1, builder.string("thread_name")).int(2, builder.string(thread_name)))
        out.message(2, sample)

    for filename, mapping_id in builder.mappings.items():
        is_python = mapping_id == builder.main_mapping
        mapping = Message().int(1, mapping_id).int(5, builder.string(filename))
        mapping.int(7, True).int(8, is_python).int(9, is_python)
        out.message(3, mapping)

    for (mapping_id, function_id, line), location_id in builder.locations.items():
        line_message = Message().int(1, function_id).int(2, line)
        out.message(4, Message().int(1, location_id).int(2, mapping_id).message(4, line_message))

    for (name, filename), function_id in builder.functions.items():
        function = Message().int(1, function_id).int(2, builder.string(name))
        if function_id in builder.native_functions:
            # pprof demangles (simplifies) a function whose system name equals
            # its name; that is for native symbols only: it would turn a
            # Python "<module>" or a "<truncated>" marker into "".
            function.int(3, builder.string(name))
        out.message(5, function.int(4, builder.string(filename)))

    period_type = Message().int(1, builder.string(value_type[0])).int(2, builder.string(value_type[1]))
    comment_ids = [builder.string(line) for line in comments(profile)]
    # Every string is interned by now: the table can be written.
    for text in builder.string_table:
        out.repeated_string(6, text)
    out.int(9, _nanoseconds(profile.meta.get("start_unix")))
    out.int(10, _nanoseconds(profile.meta.get("duration_s")))
    out.message(11, period_type)
    out.int(12, period)
    out.packed(13, comment_ids)
    return bytes(out)


def render_profile(profile, threads=False):
    """Return *profile* as a gzipped pprof protobuf (bytes), as ``go tool pprof`` reads it."""
    return gzip.compress(build_profile(profile, threads), mtime=0)
