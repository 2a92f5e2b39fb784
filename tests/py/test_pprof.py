"""Tests of pyprof.pprof: the protobuf encoder and the profile.proto it writes.

The output is decoded here by a small wire-format decoder of its own (not
pyprof's encoder run backwards), then checked field by field against
profile.proto (github.com/google/pprof/blob/main/proto/profile.proto).
"""

import collections
import gzip

import pytest

from pyprof import __version__, pprof, raw

# --------------------------------------------------------------------------- #
# An independent protobuf wire-format decoder
# --------------------------------------------------------------------------- #


def read_varint(data, pos):
    """Return (value, next position) of the varint at data[pos]."""
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos
        assert shift < 70, "varint longer than 10 bytes"


def decode(data):
    """Decode a message into {field number: [int (varint) or bytes (length-delimited)]}."""
    fields = collections.defaultdict(list)
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        field, wire_type = key >> 3, key & 7
        assert field > 0
        if wire_type == 0:
            value, pos = read_varint(data, pos)
        elif wire_type == 2:
            length, pos = read_varint(data, pos)
            value = bytes(data[pos : pos + length])
            assert len(value) == length, "truncated length-delimited field"
            pos += length
        else:
            raise AssertionError("unexpected wire type %d" % wire_type)
        fields[field].append(value)
    assert pos == len(data)
    return fields


def packed(values):
    """Decode packed varints (bytes), or pass unpacked ints through."""
    out = []
    for value in values:
        if isinstance(value, int):
            out.append(value)
            continue
        pos = 0
        while pos < len(value):
            item, pos = read_varint(value, pos)
            out.append(item)
    return out


def one(fields, number, default=0):
    values = fields.get(number, [])
    assert len(values) <= 1, "field %d repeated" % number
    return values[0] if values else default


def signed(value):
    return value - (1 << 64) if value >= 1 << 63 else value


class Decoded:
    """A pprof Profile decoded into plain Python, with the string indexes resolved."""

    def __init__(self, blob):
        self.fields = top = decode(gzip.decompress(blob))
        self.strings = [s.decode("utf-8") for s in top[6]]
        text = self.strings.__getitem__
        self.sample_types = [(text(one(v, 1)), text(one(v, 2))) for v in map(decode, top[1])]
        self.mappings = {}
        for m in map(decode, top[3]):
            self.mappings[one(m, 1)] = {"filename": text(one(m, 5)), "has_functions": one(m, 7)}
        self.functions = {}
        for f in map(decode, top[5]):
            self.functions[one(f, 1)] = (text(one(f, 2)), text(one(f, 3)), text(one(f, 4)))
        self.locations = {}
        for loc in map(decode, top[4]):
            lines = [decode(line) for line in loc[4]]
            assert len(lines) == 1
            self.locations[one(loc, 1)] = (one(loc, 2), one(lines[0], 1), signed(one(lines[0], 2)))
        self.samples = []
        for s in map(decode, top[2]):
            labels = {}
            for label in map(decode, s[3]):
                key = text(one(label, 1))
                labels[key] = text(one(label, 2)) if one(label, 2) else one(label, 3)
            self.samples.append((packed(s[1]), packed(s[2]), labels))
        self.period_type = tuple(text(one(decode(one(top, 11, b"")), n)) for n in (1, 2))
        self.period = one(top, 12)
        self.time_nanos = one(top, 9)
        self.duration_nanos = one(top, 10)
        self.comments = [text(i) for i in packed(top[13])]

    def function_of(self, location_id):
        mapping_id, function_id, line = self.locations[location_id]
        return self.functions[function_id]

    def stack_names(self, location_ids):
        """Function names of a sample, ROOT FIRST (pprof stores the leaf first)."""
        return [self.function_of(loc)[0] for loc in reversed(location_ids)]


# --------------------------------------------------------------------------- #
# The encoder
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "value, encoded",
    [
        (0, b"\x00"),
        (1, b"\x01"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (300, b"\xac\x02"),
        (2**63 - 1, b"\xff\xff\xff\xff\xff\xff\xff\xff\x7f"),
        (-1, b"\xff" * 9 + b"\x01"),  # int64 -1: ten bytes, two's complement
    ],
)
def test_encode_varint(value, encoded):
    assert pprof.encode_varint(value) == encoded
    decoded, end = read_varint(encoded, 0)
    assert end == len(encoded)
    assert signed(decoded) == value


@pytest.mark.parametrize("value", [0, 5, 2**7 - 1, 2**7, 2**14, 2**35 + 3, 2**64 - 1, -2, -(2**63)])
def test_varint_round_trip(value):
    decoded, _ = read_varint(pprof.encode_varint(value), 0)
    assert decoded == value & (2**64 - 1)


def test_message_fields():
    inner = pprof.Message().int(1, 7).int(2, 0)  # zero scalars are left out
    message = (
        pprof.Message()
        .int(1, 150)
        .repeated_string(2, "")
        .repeated_string(2, "h\u00e9")
        .packed(3, [1, 300, 0])
        .packed(4, [])
        .message(5, inner)
        .int(6, True)
        .int(7, -1)
    )
    data = bytes(message)
    assert data[:3] == b"\x08\x96\x01"  # the classic example: field 1 = 150
    fields = decode(data)
    assert fields[1] == [150]
    assert fields[2] == [b"", "h\u00e9".encode("utf-8")]
    assert packed(fields[3]) == [1, 300, 0]
    assert 4 not in fields
    assert decode(fields[5][0]) == {1: [7]}
    assert fields[6] == [1]
    assert signed(fields[7][0]) == -1


# --------------------------------------------------------------------------- #
# The profile
# --------------------------------------------------------------------------- #


@pytest.fixture
def decoded(profile):
    return Decoded(pprof.render_profile(profile))


def test_output_is_gzip_and_deterministic(profile):
    blob = pprof.render_profile(profile)
    assert blob[:2] == b"\x1f\x8b"
    assert blob == pprof.render_profile(profile)


def test_string_table_and_types(decoded):
    assert decoded.strings[0] == ""
    assert len(set(decoded.strings)) == len(decoded.strings)
    assert decoded.sample_types == [("samples", "count"), ("cpu", "nanoseconds")]
    assert decoded.period_type == ("cpu", "nanoseconds")
    assert decoded.period == 10000000  # 1e9 / rate_hz 100
    assert decoded.duration_nanos == 2040000000
    assert decoded.time_nanos == 0  # no start_unix in the sample file


def test_samples_are_leaf_first_with_count_and_cpu_values(decoded):
    stacks = collections.Counter()
    for locations, values, labels in decoded.samples:
        count, cpu = values
        assert cpu == count * decoded.period
        stacks[(labels["thread_id"], tuple(decoded.stack_names(locations)))] += count
    assert stacks == {
        (1234, ("<module>", "main", 'Work.run<&"\u00e9>')): 5,
        (1234, ("<module>", "main")): 2,
        (1240, ("<module>", "main", 'Work.run<&"\u00e9>')): 2,
        (1240, ("<module>", "<unreadable frame>")): 1,
    }
    names = {labels["thread_id"]: labels["thread_name"] for _, _, labels in decoded.samples}
    assert names == {1234: "MainThread", 1240: "w\u00f6rker\t1"}
    assert sum(values[0] for _, values, _ in decoded.samples) == 10


def test_locations_functions_and_mappings(decoded):
    # one location per distinct frame, each with its line
    assert len(decoded.locations) == 4
    lines = {decoded.function_of(loc)[0]: line for loc, (_, _, line) in decoded.locations.items()}
    assert lines == {"<module>": 30, "main": 25, 'Work.run<&"\u00e9>': 10, "<unreadable frame>": 0}
    # Python functions carry their file; no system name (pprof would "demangle" <module>)
    assert decoded.functions[1] == ("<module>", "", "app.py")
    # one mapping, the main binary: the command's first word
    assert decoded.mappings == {1: {"filename": "python3", "has_functions": 1}}
    for mapping_id, function_id, _ in decoded.locations.values():
        assert mapping_id == 1 and function_id in decoded.functions
    assert all(function_id > 0 for function_id in decoded.functions)


def test_thread_roots(profile):
    decoded = Decoded(pprof.render_profile(profile, threads=True))
    roots = collections.Counter()
    for locations, values, _ in decoded.samples:
        roots[decoded.stack_names(locations)[0]] += values[0]
    assert roots == {"thread 1234 (MainThread)": 7, "thread 1240 (w\u00f6rker 1)": 3}


def test_comments_carry_the_statistics(decoded):
    assert decoded.comments == [
        "pyprof %s: python3 app.py --name=<x&y> (PID 1234, Python 3.11.7, 100 Hz, 2.04 s, target exit 0)"
        % __version__,
        "10 samples, 3 errors (23.1%)",
        "stats: errors_baddata=1 errors_transient=2 late_ticks=1 samples=10 ticks=6",
    ]


NATIVE_RAW = """\
pyprof-raw\t1
M\tcmdline\t/usr/bin/python3 -c pass
M\trate_hz\t250
M\tstart_unix\t1700000000.5
S\tsamples\t4
S\tmerge_failures\t1
T\t0\t7\tMainThread
s\t0\tmain
s\t1\tapp.py
s\t2\t_PyEval_EvalFrameDefault
s\t3\tlibpython3.11.so.1.0
s\t4\tdeflate
s\t5\tlibz.so.1
F\t0\tpy\t0\t1\t3
F\t1\tnative\t2\t3\t0
F\t2\tnative\t4\t5\t0
K\t0\t1 0 2
C\t0\t0\t4
E
"""


def test_native_frames_get_the_mapping_of_their_module():
    profile = raw.parse_raw(NATIVE_RAW.splitlines(True))
    decoded = Decoded(pprof.render_profile(profile))
    filenames = {m["filename"]: mapping_id for mapping_id, m in decoded.mappings.items()}
    assert filenames == {"/usr/bin/python3": 1, "libpython3.11.so.1.0": 2, "libz.so.1": 3}
    by_name = {}
    for mapping_id, function_id, line in decoded.locations.values():
        name, system_name, filename = decoded.functions[function_id]
        by_name[name] = (mapping_id, system_name, filename, line)
    assert by_name == {
        "_PyEval_EvalFrameDefault": (2, "_PyEval_EvalFrameDefault", "libpython3.11.so.1.0", 0),
        "main": (1, "", "app.py", 3),
        "deflate": (3, "deflate", "libz.so.1", 0),
    }
    (locations, values, _), = decoded.samples
    assert decoded.stack_names(locations) == ["_PyEval_EvalFrameDefault", "main", "deflate"]
    assert values == [4, 4 * 4000000]
    assert decoded.time_nanos == 1700000000500000000
    assert "10 samples" not in decoded.comments[1]
    assert decoded.comments[1] == "4 samples, 0 errors (0.0%), 1 merge failures (25.0%)"


def test_empty_profile_is_valid():
    profile = raw.parse_raw(["pyprof-raw\t1\n", "E\n"])
    decoded = Decoded(pprof.render_profile(profile))
    assert decoded.samples == []
    assert decoded.sample_types == [("samples", "count"), ("cpu", "nanoseconds")]
    assert decoded.mappings == {1: {"filename": "python", "has_functions": 1}}
