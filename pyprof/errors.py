"""Exit codes, the error classes and the one-line messages of the ``pyprof`` commands.

Every failure reaches the user as one ``pyprof: error: WHAT`` line and an
optional ``pyprof: hint: HOW`` line (:func:`print_error`, called by cli.main);
the codes are those of docs/errors.md, shared with ``pyprof-sampler``.  The
checks and messages that more than one command gives (a PID, a rate, the
sampler's start and death, the curses screen) are here, written once.

This module imports nothing else of pyprof: every other module may import it.
"""

import os
import sys

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_NO_PROCESS = 3
EXIT_PERMISSION = 4
EXIT_NOT_PYTHON = 5
EXIT_UNSUPPORTED = 6
EXIT_LAUNCH = 7
EXIT_OUTPUT = 8
EXIT_EVENT = 9  # -e EVENT: not offered here (no PMU); the sampler prints the line
EXIT_INTERRUPTED = 130

MAX_RATE = 100000
REPORT_BUG = "please report this bug"


class UsageError(Exception):
    """A bad command line (exit code 2)."""


class PyprofError(Exception):
    """A failure reported as one ``pyprof: error:`` line, an optional hint and *code*."""

    def __init__(self, message, code=EXIT_INTERNAL, hint=None):
        super().__init__(message)
        self.code = code
        self.hint = hint


class SamplerNotFoundError(Exception):
    """No usable sampler binary was found (exit code 1)."""

    hint = "run 'make' in the source tree or reinstall with 'pip install .'"


def print_error(message, hint=None):
    """Print the ``pyprof: error:`` line and the ``pyprof: hint:`` line (if any) on stderr."""
    print("pyprof: error: " + message, file=sys.stderr)
    if hint:
        print("pyprof: hint: " + hint, file=sys.stderr)


def check_pid(pid):
    """Raise :class:`UsageError` unless *pid* (an int, or None) can be a process id."""
    if pid is not None and pid <= 0:
        raise UsageError("invalid PID %d" % pid)


def check_rate(rate):
    """Raise :class:`UsageError` unless *rate* (Hz, or None for the default) is in range."""
    if rate is not None and not 0 < rate <= MAX_RATE:
        raise UsageError("--rate must be between 1 and %d Hz, not %d" % (MAX_RATE, rate))


def check_process(pid, hint):
    """Raise :class:`PyprofError` (exit 3) when no process *pid* exists; *hint* tells how to find it."""
    if not os.path.exists("/proc/%d" % pid):
        raise PyprofError("no process with PID %d" % pid, EXIT_NO_PROCESS, hint)


def cannot_run_sampler(path, error):
    """The :class:`PyprofError` for a sampler binary *path* that the OS refused to start."""
    return PyprofError("cannot run the sampler %s: %s" % (path, error.strerror or error))


def sampler_killed(signum):
    """The :class:`PyprofError` for a sampler that died of signal *signum*."""
    return PyprofError("the sampler was killed by signal %d" % signum, hint=REPORT_BUG)


def no_interactive_view(error, hint):
    """The :class:`PyprofError` for a curses screen that could not be set up."""
    return PyprofError("cannot start the interactive view: %s" % error, hint=hint)
