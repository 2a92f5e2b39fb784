"""Fuzzer of the raw-format reader and every renderer (issue 10).

    python fuzz_raw.py [libFuzzer options] CORPUS_DIR [SEED_DIR...]

Each input is read as a raw file (pyprof/raw.py); one the reader accepts is
rendered as collapsed, flame graph, speedscope, pprof, the ``report --stdio``
text and the end-of-record summary line, with and without thread roots.  The
reader may refuse an input with RawFormatError (a clear error line in the
CLI); any other exception is a crash: a bug that would reach the user as an
"internal error".

With Atheris (PyPI; tools/deps.sh installs it for `make fuzz`), coverage
guided: libFuzzer's options (-max_total_time=N, -runs=N ...) apply and
crashing inputs are saved with -artifact_prefix.  Without Atheris, a mutation
driver of our own runs over the same corpus (-max_total_time=N honoured).
Seeds: tests/fuzz/raw_corpus/ (real sampler outputs and hand-made edge cases).
"""
import os
import random
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

try:
    import atheris
except ImportError:
    atheris = None

if atheris is not None:
    with atheris.instrument_imports(include=["pyprof"]):
        from pyprof import cli, flamegraph, pprof, raw, report, speedscope
        from pyprof.profile import source_from_profile
else:
    from pyprof import cli, flamegraph, pprof, raw, report, speedscope
    from pyprof.profile import source_from_profile


def render_all(profile):
    """Everything a user can ask of a profile read from a raw file."""
    for threads in (False, True):
        list(raw.collapsed_lines(profile, threads))
        flamegraph.render_profile(profile, threads=threads)
        speedscope.render_profile(profile, threads=threads)
        pprof.render_profile(profile, threads=threads)
    speedscope.render_profile(profile, timeline=True)
    cli.summary_line(profile, "out.svg")
    source = source_from_profile(profile)
    report.format_stdio(source)
    report.format_stdio(source, children=False, sort="self")


def test_one_input(data):
    text = data.decode("utf-8", errors="replace")
    try:
        profile = raw.parse_raw(text.splitlines(keepends=True))
    except raw.RawFormatError:
        return
    render_all(profile)


# --- the fallback driver (no Atheris) ------------------------------------------

_TOKENS = [b"\t", b"\n", b" ", b"-1", b"0", b"1e-300", b"inf", b"nan", b"99999999999999999999", b"E\n",
           b"M\trate_hz\t", b"M\tduration_s\t", b"C\t0\t0\t", b"K\t0\t0", b"F\t0\tpy\t0\t0\t", b"\\",
           b"\xff", b";", b"\x00", b"T\t0\t1\t", b"P\t0\t0\t", b"process 1 (x)", b"<merge mismatch>"]


def _mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(5)
        pos = rng.randint(0, len(data))
        if op == 0 and data:
            del data[pos:pos + rng.randint(1, 16)]
        elif op == 1:
            data[pos:pos] = rng.choice(_TOKENS)
        elif op == 2 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op == 3 and data:  # duplicate a line
            lines = bytes(data).split(b"\n")
            i = rng.randrange(len(lines))
            lines.insert(rng.randrange(len(lines) + 1), lines[i])
            data = bytearray(b"\n".join(lines))
        elif op == 4 and data:  # swap two lines
            lines = bytes(data).split(b"\n")
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            data = bytearray(b"\n".join(lines))
    return bytes(data)


def _own_driver(argv):
    options = dict(a[1:].split("=", 1) for a in argv if a.startswith("-") and "=" in a)
    dirs = [a for a in argv if not a.startswith("-")]
    seconds = float(options.get("max_total_time", 10))
    prefix = options.get("artifact_prefix", "./")
    corpus = []
    for d in dirs:
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                corpus.append(f.read())
    if not corpus:
        corpus = [b"pyprof-raw\t1\nE\n"]
    rng = random.Random(int(options.get("seed", time.time())))
    runs, end = 0, time.time() + seconds
    while time.time() < end:
        data = _mutate(rng, rng.choice(corpus))
        try:
            test_one_input(data)
        except Exception:
            path = "%scrash-%d" % (prefix, runs)
            with open(path, "wb") as f:
                f.write(data)
            print("fuzz_raw: crash, input saved as %s" % path, file=sys.stderr)
            raise
        runs += 1
    print("Done %d runs in %d second(s) (own mutation driver: no Atheris)" % (runs, seconds))
    print("stat::number_of_executed_units: %d" % runs)


def main():
    if atheris is None:
        _own_driver(sys.argv[1:])
        return
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
