"""``python -m pyprof``: the pyprof command line, with a shortcut for scripts.

    python -m pyprof record|check|dump|convert|report|top|version ...   same as ``pyprof ...``
    python -m pyprof [record options] script.py [args...]
    python -m pyprof [record options] -m module [args...]

The last two are ``pyprof record [record options] -- PYTHON script.py ...``
with PYTHON the interpreter running pyprof.
"""

import sys

from .cli import RECORD_VALUE_OPTIONS, SUBCOMMANDS, main

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


if __name__ == "__main__":
    sys.exit(main(split_argv(sys.argv[1:])))
