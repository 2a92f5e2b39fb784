"""The output formats of a profile, behind one :func:`render`.

The sampler writes two formats itself (raw, and collapsed at the end of a
record): ``record`` copies those bytes as they are (output.copy_output).
Every other format, and collapsed in ``convert`` and in a SIGUSR1 snapshot,
is rendered here from a :class:`raw.Profile`.
"""

from . import flamegraph, pprof, raw, speedscope

FORMATS = ("flamegraph", "collapsed", "speedscope", "pprof", "raw")
CONVERT_FORMATS = FORMATS[:-1]  # rendered from a raw file
SAMPLER_FORMATS = ("collapsed", "raw")  # written by the sampler itself
EXTENSIONS = {"flamegraph": "svg", "collapsed": "txt", "speedscope": "speedscope.json", "pprof": "pb.gz", "raw": "raw"}


def render(profile, fmt, threads=False, lines=True, root=None):
    """Return *profile* in format *fmt* (one of CONVERT_FORMATS): str, or bytes for pprof.

    *lines* and *root* (the project directory, for short paths) are the
    flame graph's: one box per line or per function.
    """
    if fmt == "collapsed":
        return "".join(line + "\n" for line in raw.collapsed_lines(profile, threads))
    if fmt == "speedscope":
        return speedscope.render_profile(profile, threads=threads)
    if fmt == "pprof":
        return pprof.render_profile(profile, threads=threads)
    return flamegraph.render_profile(profile, threads=threads, lines=lines, root=root)
