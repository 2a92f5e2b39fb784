"""``python -m pyprof``: the pyprof command line, with a shortcut for scripts.

    python -m pyprof record|check|dump|convert|report|top|version ...   same as ``pyprof ...``
    python -m pyprof [record options] script.py [args...]
    python -m pyprof [record options] -m module [args...]

The last two are ``pyprof record [record options] -- PYTHON script.py ...``
with PYTHON the interpreter running pyprof.
"""

import _signal  # the builtin behind the signal module: no import time (signal.py builds enums)
import sys


def _interrupted_early(signum, frame):
    # Ctrl-C while pyprof is still importing: leave quietly, with no traceback
    # (main() puts the normal KeyboardInterrupt handler back once it runs)
    raise SystemExit(130)


# first thing, before the imports that take most of pyprof's start-up time (importing
# the signal module alone took long enough for a Ctrl-C to land in it)
if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
    _signal.signal(_signal.SIGINT, _interrupted_early)

from .cli import RECORD_VALUE_OPTIONS, SUBCOMMANDS, main  # noqa: E402

_PASS_THROUGH = ("-h", "--help", "--version")
_PYTHON_OPTIONS = ("-m", "-c")


def split_argv(argv, python=sys.executable):
    """Translate ``python -m pyprof`` arguments into ``pyprof`` arguments.

    A known subcommand is passed through.  Otherwise the record options run up
    to the first non-option argument (the script), ``-m``/``-c`` (a module or
    code for *python*) or ``--``; what follows is run with *python*.
    """
    argv = list(argv)
    if not argv or argv[0] in SUBCOMMANDS or argv[0] in _PASS_THROUGH:
        return argv
    options = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return ["record"] + options + ["--", python] + argv[i + 1 :]
        if arg in _PYTHON_OPTIONS or arg == "-" or not arg.startswith("-"):
            return ["record"] + options + ["--", python] + argv[i:]
        options.append(arg)
        if arg in RECORD_VALUE_OPTIONS and i + 1 < len(argv):
            options.append(argv[i + 1])
            i += 1
        i += 1
    return ["record"] + options


def console_main():
    """The ``pyprof`` console script (setup.py): ``main()`` behind the early Ctrl-C handler."""
    return main()


if __name__ == "__main__":
    sys.exit(main(split_argv(sys.argv[1:])))
