"""The ``pyprof`` command line: record, dump, convert, version.

The sampling itself is done by the ``pyprof-sampler`` binary, run as a child
process; this module validates the command line, runs the sampler, renders the
requested format from its raw output and prints the one-line summary.
Exit codes are those of docs/errors.md.
"""

import argparse
import difflib
import errno
import math
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import traceback

from . import __version__, flamegraph, pprof, raw, speedscope
from ._sampler import SamplerNotFoundError, find_sampler

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_NO_PROCESS = 3
EXIT_PERMISSION = 4
EXIT_LAUNCH = 7
EXIT_OUTPUT = 8
EXIT_INTERRUPTED = 130

SUBCOMMANDS = ("record", "check", "dump", "convert", "report", "top", "version")
FORMATS = ("flamegraph", "collapsed", "speedscope", "pprof", "raw")
CONVERT_FORMATS = FORMATS[:-1]  # rendered from a raw file
SAMPLER_FORMATS = ("collapsed", "raw")  # written by the sampler itself
EXTENSIONS = {"flamegraph": "svg", "collapsed": "txt", "speedscope": "speedscope.json", "pprof": "pb.gz", "raw": "raw"}
MAX_RATE = 100000
MAX_DURATION = 1e7  # seconds (115 days): the sampler's clock arithmetic stays exact far beyond
STDOUT = "-"  # ``-o -``: write the profile to standard output
OUTPUT_MODE = 0o600  # outputs hold command lines: private unless the user chmods them
# The sampler option naming a directory it removes when pyprof (its parent)
# dies before it could (docs/security.md); one constant for the one name.
SAMPLER_CLEANUP_OPTION = "--cleanup-dir"
# The record options that take a value (``python -m pyprof`` needs them to
# find where the options end and the script begins).
RECORD_VALUE_OPTIONS = frozenset(["-p", "--pid", "-o", "--output", "-f", "--format", "-F", "-r", "--rate",
                                  "-d", "--duration", "--unwinder", "--stack-size", "--debug-dir"])
# The format an output file's name asks for (the longest matching ending wins).
FORMAT_BY_EXTENSION = ((".speedscope.json", "speedscope"), (".json", "speedscope"), (".svg", "flamegraph"),
                       (".collapsed", "collapsed"), (".txt", "collapsed"), (".pb.gz", "pprof"),
                       (".pprof", "pprof"), (".raw", "raw"))
DEFAULT_FORMAT = "flamegraph"
# perf's letters, kept for perf's meanings (a later version implements them).
RESERVED_OPTIONS = {"-e": "perf's --event", "--event": "perf's --event", "-c": "perf's --count (sample period)",
                    "--count": "perf's --count (sample period)", "-a": "perf's --all-cpus (system-wide)",
                    "--all-cpus": "perf's --all-cpus (system-wide)", "--off-cpu": "perf's --off-cpu"}
# A launched command that ends with a failure this soon did not really run.
FAILED_AT_ONCE_S = 1.0
SUMMARY_WORDS = (
    "Summary words: 'transient' errors are samples dropped because the target changed while it was read "
    "(a thread ending, a frame reused); 'bad data', samples whose memory made no sense; 'late ticks', ticks "
    "taken later than planned (a busy machine); 'lost', --native samples the kernel dropped because they "
    "were read too slowly. A few of each are normal.")


class UsageError(Exception):
    """A bad command line (exit code 2)."""


class PyprofError(Exception):
    """A failure reported as one ``pyprof: error:`` line, an optional hint and *code*."""

    def __init__(self, message, code=EXIT_INTERNAL, hint=None):
        super().__init__(message)
        self.code = code
        self.hint = hint


class _ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser that raises :class:`UsageError` instead of exiting."""

    def error(self, message):
        raise UsageError(message)


def build_parser():
    """Return the argument parser of the ``pyprof`` command."""
    parser = _ArgumentParser(prog="pyprof", description="Sampling profiler for Python programs.", allow_abbrev=False)
    parser.add_argument("--version", action="version", version="pyprof " + __version__)
    commands = parser.add_subparsers(dest="subcommand", metavar="COMMAND")

    record = commands.add_parser(
        "record",
        allow_abbrev=False,
        help="profile a running process or a command",
        usage="pyprof record [options] (-p PID | [--] CMD [ARGS...])",
        description="Sample a running process (-p/--pid) or a command run under the profiler (the first "
        "word that is not an option, or after '--') until it exits, Ctrl-C, SIGTERM or --duration, then "
        "write the profile. Permission problems: see 'pyprof check'.",
        epilog=SUMMARY_WORDS,
    )
    record.add_argument("-p", "--pid", type=int, help="profile the running process PID")
    record.add_argument("-o", "--output", metavar="FILE",
                        help="output file; its extension picks the format when -f is not given (.svg, .txt, "
                        ".collapsed, .json, .speedscope.json, .pb.gz, .pprof, .raw) "
                        "(default: pyprof-TARGET-DATE-TIME.svg)")
    record.add_argument("-f", "--format", choices=FORMATS,
                        help="output format (default: from the -o extension, else flamegraph)")
    record.add_argument("-F", "-r", "--rate", type=int, metavar="HZ", help="samples per second per thread (default: 100)")
    record.add_argument("-d", "--duration", type=float, metavar="SECONDS", help="stop after SECONDS")
    record.add_argument("--threads", action="store_true", help="add a root frame per thread")
    record.add_argument("--lines", action="store_true",
                        help="flame graph: one box per line of a Python function (default: one per function)")
    record.add_argument("--idle", action="store_true", help="also sample threads that are not on CPU")
    record.add_argument("--gil", action="store_true",
                        help="only samples of the thread holding the GIL (with --idle, threads waiting "
                        "for it end in a <waiting for GIL> frame either way)")
    record.add_argument("--subprocesses", action="store_true",
                        help="follow every descendant Python process too, present and future "
                        "(a 'process PID (cmdline)' root each)")
    record.add_argument("--aggregate", action="store_true",
                        help="with --subprocesses: merge the processes (no process roots)")
    record.add_argument("--timeline", "--timestamps", dest="timestamps", action="store_true",
                        help="record each sample's time (raw file; speedscope in time order)")
    add_native_arguments(record)
    record.add_argument("-v", "--verbose", action="store_true", help="verbose sampler output, tracebacks")
    record.set_defaults(func=cmd_record)

    from . import check as _check  # here: it imports this module
    _check.add_parser(commands)

    dump = commands.add_parser("dump", allow_abbrev=False, help="print the current stack of each thread")
    dump.add_argument("--pid", "-p", type=int, required=True, help="the process to inspect")
    dump.add_argument("--native", action="store_true",
                      help="native frames too (stops each thread for a few microseconds)")
    dump.add_argument("--subprocesses", action="store_true",
                      help="the process and every descendant process (Gunicorn: the master's PID)")
    dump.set_defaults(func=cmd_dump)

    convert = commands.add_parser("convert", allow_abbrev=False, help="render a raw or collapsed profile in another format")
    convert.add_argument("rawfile", metavar="RAWFILE",
                         help="a file written by 'pyprof record --format raw', or collapsed stacks")
    convert.add_argument("-f", "--format", choices=CONVERT_FORMATS,
                         help="(default: from the -o extension, else flamegraph)")
    convert.add_argument("-o", "--output", metavar="FILE",
                         help="output file (default: RAWFILE with .svg, .txt, .speedscope.json or .pb.gz)")
    convert.add_argument("--threads", action="store_true", help="add a root frame per thread")
    convert.add_argument("--lines", action="store_true",
                         help="flame graph: one box per line of a Python function (default: one per function)")
    convert.add_argument("-v", "--verbose", action="store_true", help="show tracebacks")
    convert.set_defaults(func=cmd_convert)

    from . import report as _report, top as _top  # here: they import this module
    _report.add_parser(commands)
    _top.add_parser(commands)

    version = commands.add_parser("version", help="print the version")
    version.set_defaults(func=cmd_version)
    parser.pyprof_commands = commands.choices
    return parser


def parse_args(argv):
    """Parse and validate *argv*; return the argparse namespace.

    The command of ``record`` starts at its first word that is not an option
    (or after ``--``): ``record -o x.svg python -c CODE`` gives ``-c`` to
    Python.  Raises :class:`UsageError` for a bad command line.
    """
    command = None
    if argv[:1] == ["record"]:
        options, command = split_record_command(argv[1:])
        argv = ["record"] + options
    elif "--" in argv:
        split = argv.index("--")
        argv, command = argv[:split], argv[split + 1 :]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as e:
        raise UsageError(explain_usage_error(str(e), parser, argv)) from None
    if args.subcommand is None:
        raise UsageError("no command given (one of %s); see 'pyprof --help'" % ", ".join(SUBCOMMANDS))
    if args.subcommand == "record":
        args.command = command
        validate_record_args(args)
    elif command is not None:
        raise UsageError("only 'record' takes a command after '--'")
    elif args.subcommand == "dump" and args.pid <= 0:
        raise UsageError("invalid PID %d" % args.pid)
    elif args.subcommand == "convert":
        args.format = resolve_format(args.format, args.output, CONVERT_FORMATS)
    return args


def split_record_command(argv):
    """Split the words after ``record`` into (options, command or None).

    The options end at ``--`` or at the first word that is not an option
    (nor the value of an option that takes one).
    """
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return argv[:i], argv[i + 1 :]
        if arg == "-" or not arg.startswith("-"):
            return argv[:i], argv[i:]
        if arg in RECORD_VALUE_OPTIONS:
            i += 1  # its value, whatever it looks like
        i += 1
    return argv, None


def explain_usage_error(message, parser, argv):
    """*message* of argparse, with the closest option or command when one was mistyped."""
    unknown = re.match(r"unrecognized arguments: (\S+)", message)
    choice = re.match(r"argument COMMAND: invalid choice: '([^']*)'", message)
    if choice:
        close = difflib.get_close_matches(choice.group(1), SUBCOMMANDS, n=1)
        return message + (" (did you mean '%s'?)" % close[0] if close else "")
    if not unknown:
        return message
    word = unknown.group(1).split("=", 1)[0]
    if word in RESERVED_OPTIONS:
        return "%s is kept for %s, which pyprof does not implement yet" % (word, RESERVED_OPTIONS[word])
    commands = getattr(parser, "pyprof_commands", {})
    sub = commands.get(argv[0]) if argv else None
    options = sorted({opt for action in (sub or parser)._actions for opt in action.option_strings})
    close = [opt for opt in options if opt.lower() == word.lower() and opt != word]
    close = close or difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return message + (" (did you mean %s?)" % close[0] if close else "")


def format_from_path(path):
    """The format the file name *path* asks for by its extension, or None."""
    if not path or path == "-":
        return None
    lower = path.lower()
    for extension, fmt in FORMAT_BY_EXTENSION:
        if lower.endswith(extension):
            return fmt
    return None


def resolve_format(given, output, allowed=FORMATS):
    """The output format: *given* (-f), else the one of *output*'s extension, else the default.

    A clash between -f and the extension is a usage error.
    """
    inferred = format_from_path(output)
    if given and inferred and given != inferred:
        raise UsageError("-o %s has the extension of the %s format but --format %s was given: change one"
                         % (output, inferred, given))
    fmt = given or inferred or DEFAULT_FORMAT
    if fmt not in allowed:
        raise UsageError("cannot write the %s format here (-o %s): choose one of %s"
                         % (fmt, output, ", ".join(allowed)))
    return fmt


def validate_record_args(args):
    """Raise :class:`UsageError` if the ``record`` options do not make sense."""
    if args.command == []:
        raise UsageError("no command after '--'")
    if args.pid is None and args.command is None:
        raise UsageError("nothing to profile: give --pid PID or a command after '--'")
    if args.pid is not None and args.command is not None:
        raise UsageError("give either --pid or a command after '--', not both")
    if args.pid is not None and args.pid <= 0:
        raise UsageError("invalid PID %d" % args.pid)
    if args.rate is not None and not 0 < args.rate <= MAX_RATE:
        raise UsageError("--rate must be between 1 and %d Hz, not %d" % (MAX_RATE, args.rate))
    if args.duration is not None and not (args.duration > 0 and math.isfinite(args.duration)):
        raise UsageError("--duration must be a positive number of seconds, not %s" % args.duration)
    if args.duration is not None and args.duration > MAX_DURATION:
        raise UsageError("--duration must be at most %d seconds, not %s" % (MAX_DURATION, args.duration))
    if args.aggregate and not args.subprocesses:
        raise UsageError("--aggregate merges the processes of --subprocesses: give both")
    validate_native_args(args)
    args.format = resolve_format(args.format, args.output)


def validate_native_args(args):
    """Raise :class:`UsageError` for a native-mode option given without --native."""
    if args.blocking and not args.native:
        raise UsageError("--blocking chooses how --native samples native frames: add --native")


def default_output_name(args, now=None):
    """Return ``pyprof-<pid or command>-<YYYYmmdd-HHMMSS>.<ext>`` for ``record``."""
    if args.pid is not None:
        target = str(args.pid)
    else:
        target = re.sub(r"[^\w.+-]", "_", os.path.basename(args.command[0])) or "cmd"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return "pyprof-%s-%s.%s" % (target, stamp, EXTENSIONS[args.format])


def add_native_arguments(parser):
    """Options of native (mixed-mode) sampling, shared by ``record`` and ``top``."""
    group = parser.add_argument_group("native frames (docs/native.md)")
    group.add_argument("--native", action="store_true",
                       help="C/C++ frames too, merged with the Python frames")
    mode = group.add_mutually_exclusive_group()
    mode.add_argument("--nonblocking", dest="blocking", action="store_false",
                      help="never stop the target: perf events (the default)")
    mode.add_argument("--blocking", dest="blocking", action="store_true",
                      help="with --native: stop each thread briefly per sample (ptrace): consistent stacks")
    group.add_argument("--unwinder", choices=("libdw", "libunwind"), help="native unwinder (default: libdw)")
    group.add_argument("--no-internals", action="store_true",
                       help="fold away the interpreter's own C functions")
    group.add_argument("--stack-size", type=int, metavar="BYTES",
                       help="user stack copied per sample (default 32768, at most 65528)")
    group.add_argument("--debug-dir", metavar="DIR", help="extra directory of separate debug info")
    group.add_argument("--debuginfod", action="store_true",
                       help="let libdw ask debuginfod servers (DEBUGINFOD_URLS) for debug info")
    group.add_argument("--no-inlines", action="store_true", help="do not expand inlined functions")
    parser.set_defaults(blocking=False)


def native_sampler_argv(args):
    """Sampler options for the native arguments of *args*."""
    if not getattr(args, "native", False):
        return []
    argv = ["--native"]
    if args.blocking:
        argv.append("--blocking")
    if args.unwinder:
        argv += ["--unwinder", args.unwinder]
    if args.stack_size is not None:
        argv += ["--stack-size", str(args.stack_size)]
    if args.debug_dir:
        argv += ["--debug-dir", args.debug_dir]
    flags = (args.no_internals, "--no-internals"), (args.debuginfod, "--debuginfod"), (args.no_inlines, "--no-inlines")
    return argv + [option for given, option in flags if given]


def sampler_record_argv(sampler, args, raw_path, output):
    """Return the sampler command line for ``record`` with *args*."""
    argv = [sampler, "record"]
    if args.pid is not None:
        argv += ["--pid", str(args.pid)]
    argv += ["--raw", raw_path, "--no-summary"]
    if args.command:
        # The launched command writes to the same terminal: a live status
        # line would be spliced into its lines (docs/errors.md).
        argv.append("--no-status")
    if args.format == "collapsed":
        argv += ["--collapsed", output]
    if args.rate is not None:
        argv += ["--rate", str(args.rate)]
    if args.duration is not None:
        argv += ["--duration", repr(args.duration)]
    flags = ((args.threads, "--threads"), (args.idle, "--idle"), (args.timestamps, "--timestamps"),
             (args.verbose, "-v"), (args.subprocesses, "--subprocesses"), (args.aggregate, "--aggregate"),
             (args.gil, "--gil"))
    argv += [option for given, option in flags if given]
    argv += native_sampler_argv(args)
    if args.command:
        argv += ["--"] + args.command
    return argv


def run_sampler(argv, raw_path=None, on_snapshot=None, stdout=None, die_with_parent=True):
    """Run the sampler *argv* to its end and return its exit status.

    While it runs, pyprof forwards SIGINT and SIGTERM to it instead of dying;
    either way the sampler ends the recording and writes the profile.  A
    terminal's Ctrl-C reaches the sampler twice (directly, as it is in the
    same process group, and forwarded), which is harmless: the first one
    already ends the run.

    SIGUSR1 is forwarded too: the sampler writes the profile so far to
    *raw_path* (a new file, renamed into place) and goes on; once that new
    file appears, *on_snapshot* is called to render it.
    """
    proc = None
    pending = []
    snapshot = {"asked": False, "inode": None}

    def forward(signum, frame):
        if proc is None:
            pending.append(signum)
        else:
            proc.send_signal(signum)

    def flush(signum, frame):
        snapshot["asked"] = True
        snapshot["inode"] = _inode(raw_path)
        forward(signum, frame)

    old = {sig: signal.signal(sig, handler) for sig, handler in
           ((signal.SIGINT, forward), (signal.SIGTERM, forward), (signal.SIGUSR1, flush))}
    try:
        try:
            preexec = _die_with_parent(signal.SIGTERM) if die_with_parent else None
            proc = subprocess.Popen(argv, stdout=stdout, preexec_fn=preexec)
        except OSError as e:
            raise PyprofError("cannot run the sampler %s: %s" % (argv[0], e.strerror or e))
        for signum in pending:
            proc.send_signal(signum)
        while True:
            try:
                return proc.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
            if snapshot["asked"] and _inode(raw_path) not in (None, snapshot["inode"]):
                snapshot["asked"] = False
                if on_snapshot:
                    on_snapshot()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _die_with_parent(signum):
    """A preexec_fn: the child gets *signum* when pyprof dies, even by SIGKILL.

    PR_SET_PDEATHSIG survives the exec of the sampler, which ends its run on
    SIGTERM as on Ctrl-C: it stops sampling and releases the target instead
    of going on as an orphan.  For samplers that do not set it themselves
    (those without --cleanup-dir).
    """
    try:
        import ctypes
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec():
        prctl(pr_set_pdeathsig, int(signum), 0, 0, 0)
        if os.getppid() != parent:  # pyprof died before prctl took effect
            os._exit(EXIT_INTERRUPTED)
    return preexec


def _inode(path):
    try:
        return os.stat(path).st_ino if path else None
    except OSError:
        return None


def output_stream(path):
    """How *path* is written: ``"stdout"`` (``-o -``), ``"stream"`` or None (a file).

    A stream is an existing FIFO, character device or socket (``/dev/null``,
    ``/dev/stdout``, a pipe to another program): it is opened and written in
    place, never replaced.  A symbolic link is followed to find one only when
    it belongs to root or to us (``/dev/stdout`` -> ``/proc/self/fd/1``): a link
    that another user planted is replaced like a file, never followed.
    """
    if path == STDOUT:
        return "stdout"
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            if st.st_uid not in (0, os.geteuid()):
                return None
            st = os.stat(path)
    except OSError:
        return None
    return "stream" if _is_stream(st.st_mode) else None


def _is_stream(mode):
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


def check_output_path(path):
    """Raise :class:`PyprofError` (exit 8) early if *path* cannot be written.

    For a file, a scratch file is created (and removed) where the temporary
    file will be, so that a read-only file system, ``/proc`` or a full disk's
    directory fail before the recording rather than after it.
    """
    if output_stream(path):
        return
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise PyprofError("cannot write %s: it is a directory" % path, EXIT_OUTPUT)
    if not os.path.isdir(directory):
        raise PyprofError("cannot write %s: no such directory %s" % (path, directory), EXIT_OUTPUT)
    try:
        fd, probe = _make_temp(path)
    except OSError as e:
        raise PyprofError("cannot write %s: %s" % (path, e.strerror or e), EXIT_OUTPUT,
                          "choose another -o FILE") from None
    os.close(fd)
    os.unlink(probe)


def _make_temp(path):
    """Create the temporary file for *path* in its directory: ``(fd, name)``.

    tempfile.mkstemp opens it with O_CREAT|O_EXCL|O_NOFOLLOW under an
    unpredictable name, mode 0600: nobody sharing the directory can plant a
    file or a symlink there for pyprof to write through.
    """
    directory, name = os.path.split(os.path.abspath(path))
    return tempfile.mkstemp(prefix="." + name[:200] + ".tmp.", dir=directory)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _open_stream(path):
    """Open the FIFO / device / socket *path* for writing, checking what was opened."""
    flags = os.O_WRONLY | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    if not os.path.islink(path):
        flags |= os.O_NOFOLLOW
    fd = os.open(path, flags)  # no O_CREAT, no O_TRUNC: a file swapped in meanwhile is not touched
    if not _is_stream(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EEXIST, "it changed into a regular file while pyprof ran")
    return fd


def write_output(path, data):
    """Write *data* (str, written as UTF-8, or bytes) to the output *path*.

    A file goes through a temporary file in the same directory (mode 0600,
    unpredictable name, never a followed symlink), fsync, then a rename over
    *path*; a reader never sees half a profile.  ``-`` is standard output; a
    FIFO, character device or socket is written in place (output_stream()).
    Errors name *path*, never the temporary file.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    kind = output_stream(path)
    fd = tmp = None
    try:
        if kind == "stdout":
            sys.stdout.flush()
            _write_all(sys.stdout.fileno(), data)
            return
        if kind == "stream":
            fd = _open_stream(path)
            _write_all(fd, data)
            os.close(fd)
            fd = None
            return
        fd, tmp = _make_temp(path)
        if OUTPUT_MODE != 0o600:
            os.fchmod(fd, OUTPUT_MODE)
        _write_all(fd, data)
        os.fsync(fd)
        os.close(fd)
        fd = None
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        name = "standard output" if kind == "stdout" else path
        raise PyprofError("cannot write %s: %s" % (name, e.strerror or e), EXIT_OUTPUT) from None
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass




def copy_output(source, path):
    """Write the file *source* (written by the sampler in pyprof's own temp dir) to the output *path*."""
    try:
        with open(source, "rb") as f:
            data = f.read()
    except OSError as e:
        raise PyprofError("cannot read the sampler's output %s: %s" % (source, e.strerror or e)) from None
    write_output(path, data)


def read_profile(path):
    """Read the raw file *path*; a missing or unreadable file is a usage error."""
    try:
        return raw.read_profile_file(path)
    except OSError as e:
        raise UsageError("cannot read %s: %s" % (path, e.strerror or e)) from e
    except raw.RawFormatError as e:
        raise PyprofError(str(e), hint="give a file written by 'pyprof record --format raw' or collapsed stacks") from e


def render(profile, fmt, threads, lines=True, root=None):
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


def summary_line(profile, path):
    """Return the one-line end-of-record summary of *profile* written to *path*."""
    transient, baddata = profile.stat("errors_transient"), profile.stat("errors_baddata")
    meta = profile.meta
    cmdline = raw.sanitize(meta.get("cmdline", ""))
    if len(cmdline) > 60:
        cmdline = cmdline[:57] + "..."
    return (
        "pyprof: %d samples, %d errors (%d transient, %d bad data), %d late ticks%s, %.1f s, "
        "PID %s (%s), target %s -> %s"
    ) % (
        profile.stat("samples"),
        transient + baddata,
        transient,
        baddata,
        profile.stat("late_ticks"),
        native_summary(profile) + processes_summary(profile),
        _to_float(meta.get("duration_s")),
        meta.get("pid", "?"),
        cmdline,
        meta.get("target_exit", "?"),
        path,
    )


def processes_summary(profile):
    """The --subprocesses part of the summary line ('' without it)."""
    if profile.meta.get("subprocesses_flag") != "1":
        return ""
    return ", %d processes followed (%d seen)" % (profile.stat("processes_python"), profile.stat("processes_seen"))


def native_summary(profile):
    """The native-mode part of the summary line ('' for Python-only profiles)."""
    mode = profile.meta.get("native_mode")
    if not mode:
        return ""
    samples = profile.stat("native_samples")
    failures = profile.stat("merge_failures")
    text = ", native (%s, %s): %d merge failures (%.2f%%), %d truncated" % (
        mode, profile.meta.get("unwinder", "?"), failures, 100.0 * failures / samples if samples else 0.0,
        profile.stat("native_truncated"))
    if mode == "blocking":
        text += ", stop median %.1f us" % (profile.stat("stop_ns_p50") / 1000.0)
    else:
        text += ", %d lost" % profile.stat("lost")
    return text


def debug_info_notes(profile):
    """One line per module sampled without debug info, naming the package to install."""
    notes = []
    for path in filter(None, profile.meta.get("nodebug", "").split(":")):
        notes.append("pyprof: note: no debug info for %s: native names come from its symbol table only "
                     "(no inline frames, static functions may show as [unknown]); %s"
                     % (path, debug_package_hint(path)))
    return notes


def debug_package_hint(path):
    """Which Debian package would provide debug info for *path* (best effort, never fails)."""
    base = os.path.basename(path)
    match = re.match(r"(?:lib)?python(\d+\.\d+)", base)
    try:
        out = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True, timeout=5).stdout
        package = out.split(":", 1)[0].strip() if out else ""
    except (OSError, subprocess.SubprocessError):
        package = ""
    if match and package.startswith(("python3", "libpython3")):
        return "install python%s-dbg, or pass --debug-dir" % match.group(1)
    if package:
        return "install %s-dbgsym (Debian's debug archive) or pass --debug-dir" % package
    return "build it with -g, or pass --debug-dir with its separate debug file"


def _to_float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def cmd_record(args):
    """``pyprof record``: run the sampler, render the output, print the summary.

    The sampler writes only into pyprof's private temp dir (removed at the
    end, and by the sampler if pyprof dies first); every output, raw and
    collapsed included, is then written by write_output(): one writer, which
    never follows a planted symlink and never replaces a FIFO or a device.
    """
    output = args.output or default_output_name(args)
    check_output_path(output)
    sampler = find_sampler()
    stream = output_stream(output)
    project_root = target_cwd(args)
    remove_stale_temp_dirs()
    if args.command and _isatty(sys.stderr):
        print("pyprof: recording %s until it exits or Ctrl-C%s (no live status line: it shares this terminal)"
              % (_shell_words(args.command), " or %g s" % args.duration if args.duration else ""),
              file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX % os.getpid()) as tmpdir:
        raw_path = os.path.join(tmpdir, "profile.raw")
        collapsed_path = os.path.join(tmpdir, "profile.txt")

        def snapshot():
            # SIGUSR1: write what the sampler wrote so far, keep recording
            if stream:
                print("pyprof: note: no snapshot is written to %s (a stream gets the final profile only)"
                      % output, file=sys.stderr)
                return
            try:
                if args.format == "raw":
                    copy_output(raw_path, output)
                else:
                    write_output(output, render(raw.read_raw(raw_path), args.format, args.threads, args.lines,
                                                project_root))
            except (OSError, raw.RawFormatError, PyprofError) as e:
                print("pyprof: warning: snapshot not written: %s" % e, file=sys.stderr)
                return
            print("pyprof: snapshot written to %s" % output, file=sys.stderr)

        argv = sampler_record_argv(sampler, args, raw_path, collapsed_path)
        # the sampler of record sets PR_SET_PDEATHSIG itself, once its signal
        # handlers are in place (set before its exec, the signal could kill it
        # before it had a chance to remove the dir), and removes the dir if we die
        argv[2:2] = [SAMPLER_CLEANUP_OPTION, os.path.abspath(tmpdir)]
        # -o -: the profile owns stdout; a launched command's output goes to stderr
        status = run_sampler(argv, raw_path, snapshot, sys.stderr.fileno() if stream == "stdout" else None,
                             die_with_parent=False)
        if status < 0:
            raise PyprofError("the sampler was killed by signal %d" % -status, hint="please report this bug")
        if status != 0:
            if status == EXIT_OUTPUT:
                keep_raw(raw_path, output)
            return status  # the sampler has printed the error
        written = False
        try:
            profile = raw.read_raw(raw_path)
            try:
                if args.format in SAMPLER_FORMATS:
                    copy_output(raw_path if args.format == "raw" else collapsed_path, output)
                else:
                    write_output(output, render(profile, args.format, args.threads, args.lines, project_root))
            except Exception:
                keep_raw(raw_path, output)
                raise
            written = True
        except KeyboardInterrupt:
            if not written:
                raise
            print("pyprof: profile written to %s" % output, file=sys.stderr)
            return EXIT_OK
    for note in debug_info_notes(profile):
        print(note, file=sys.stderr)
    print(summary_line(profile, "<stdout>" if output == STDOUT else output), file=sys.stderr)
    for note in no_samples_notes(profile, args):
        print(note, file=sys.stderr)
    failed = failed_at_once(profile, args)
    if failed:
        raise PyprofError(failed, EXIT_LAUNCH, "its own error is above; the profile of its start-up is in %s"
                          % output)
    return EXIT_OK


def target_cwd(args):
    """The target's working directory (its project root, for short paths), or None."""
    if args.command:
        return os.getcwd()
    try:
        return os.readlink("/proc/%d/cwd" % args.pid)
    except OSError:
        return None


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _shell_words(words):
    return " ".join(w if re.match(r"^[\w./:=+,@%-]+$", w) else "'%s'" % w.replace("'", "'\\''") for w in words)


def keep_raw(raw_path, output):
    """Keep the recording *raw_path* as ``<output>.raw`` (else in the current or home directory).

    Called when the output could not be written, so that a long recording is
    not lost; prints where it is.  Returns the path kept, or None.  A stream
    output (``-o -``, a FIFO or a device such as /dev/full) gets none: nothing
    is written beside a device, and its one error line stands alone.
    """
    if not raw_path or not os.path.isfile(raw_path) or os.path.getsize(raw_path) == 0:
        return None
    if output_stream(output):
        return None
    name = os.path.basename(output) + ".raw" if output and output != "-" else "pyprof-recording.raw"
    places = [output + ".raw"] if output and output != "-" else []
    places += [os.path.join(os.getcwd(), name), os.path.join(os.path.expanduser("~"), name)]
    for place in places:
        try:
            shutil.copyfile(raw_path, place)
        except OSError:
            continue
        print("pyprof: the recording is kept in %s (render it again with 'pyprof convert %s -o FILE')"
              % (place, place), file=sys.stderr)
        return place
    return None


def failed_at_once(profile, args):
    """The error message if the launched command failed at once (a missing script), else None."""
    if not args.command:
        return None
    end = profile.meta.get("target_exit", "")
    duration = _to_float(profile.meta.get("duration_s"))
    failed = end.startswith("exit ") and end != "exit 0"  # a signal: -d or Ctrl-C may have sent it
    if not failed or duration >= FAILED_AT_ONCE_S:
        return None
    return "%s failed at once (%s after %.1f s), so there is nothing of it to profile" % (
        _shell_words(args.command), end, duration)


def no_samples_notes(profile, args):
    """Why a profile has no samples and what to do, or []."""
    if profile.stat("samples"):
        return []
    idle = profile.stat("idle_skipped")
    if idle and not getattr(args, "idle", False):
        return ["pyprof: note: 0 samples: the target never ran Python on a CPU while it was sampled (%d "
                "samples of waiting or sleeping threads were skipped); add --idle to sample them too, or "
                "record while it is under load" % idle]
    return ["pyprof: note: 0 samples: no Python frame was running in the target while it was sampled; "
            "record for longer or under load%s" % ("" if getattr(args, "idle", False) else ", or add --idle")]


TEMP_PREFIX = "pyprof-%d-"  # pyprof's temp dir: its PID, then tempfile's random part
_TEMP_RE = re.compile(r"pyprof-(\d+)-[a-z0-9_]+\Z")


def remove_stale_temp_dirs(directory=None):
    """Remove the temp dirs that dead pyprof runs of ours left in *directory*.

    Only when pyprof and its sampler were both SIGKILLed is nobody left to
    remove a run's temp dir; the next run does it.  A dir is removed only when
    it is ours (owner, not a symlink), named pyprof-PID-XXXXXXXX and no process
    PID exists; only its files go, then the dir (as the sampler's
    --cleanup-dir does).
    """
    directory = directory or tempfile.gettempdir()
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        m = _TEMP_RE.match(name)
        if not m or os.path.exists("/proc/%s" % m.group(1)):
            continue
        path = os.path.join(directory, name)
        try:
            st = os.lstat(path)
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
                continue
            for entry in os.listdir(path)[:100]:
                os.unlink(os.path.join(path, entry))
            os.rmdir(path)
        except OSError:
            continue


def descendants(pid):
    """PIDs of the process tree under *pid* (itself first), from /proc/PID/task/*/children."""
    tree, i = [pid], 0
    while i < len(tree) and len(tree) < 4096:
        try:
            tasks = os.listdir("/proc/%d/task" % tree[i])
        except OSError:
            tasks = []
        for tid in tasks:
            try:
                with open("/proc/%d/task/%s/children" % (tree[i], tid)) as f:
                    tree.extend(int(c) for c in f.read().split() if int(c) not in tree)
            except (OSError, ValueError):
                pass
        i += 1
    return tree


def dump_tree(sampler, args):
    """``pyprof dump --subprocesses``: one dump per process of the tree."""
    if not os.path.exists("/proc/%d" % args.pid):
        raise PyprofError("no process with PID %d" % args.pid, EXIT_NO_PROCESS,
                          "check the PID with 'ps -p %d'" % args.pid)
    status = EXIT_OK
    for n, pid in enumerate(descendants(args.pid)):
        argv = [sampler, "dump", "--pid", str(pid)] + (["--native"] if args.native else [])
        proc = subprocess.run(argv, capture_output=True, text=True)
        if n:
            print()
        if proc.returncode == 0:
            sys.stdout.write(proc.stdout)
        elif n == 0 or proc.returncode not in (3, 5):  # gone, or not Python: skip quietly
            sys.stderr.write(proc.stderr)
            status = status or proc.returncode
    return status


def cmd_dump(args):
    """``pyprof dump``: replace this process with the sampler's ``dump``."""
    sampler = find_sampler()
    if args.subprocesses:
        return dump_tree(sampler, args)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sampler, [sampler, "dump", "--pid", str(args.pid)] + (["--native"] if args.native else []))
    except OSError as e:
        raise PyprofError("cannot run the sampler %s: %s" % (sampler, e.strerror or e))


def cmd_convert(args):
    """``pyprof convert``: render a raw file as a flame graph or collapsed stacks."""
    profile = read_profile(args.rawfile)
    output = args.output
    if output is None:
        output = os.path.splitext(args.rawfile)[0] + "." + EXTENSIONS[args.format]
        if os.path.abspath(output) == os.path.abspath(args.rawfile):
            output += "." + EXTENSIONS[args.format]
    check_output_path(output)
    write_output(output, render(profile, args.format, args.threads, args.lines, os.getcwd()))
    if profile.meta.get("input") == "collapsed":
        print("pyprof: %d samples (collapsed input) -> %s" % (profile.stat("samples"), output), file=sys.stderr)
    else:
        print(summary_line(profile, output), file=sys.stderr)
    return EXIT_OK


def cmd_version(args):
    """``pyprof version``: print the version."""
    print("pyprof " + __version__)
    return EXIT_OK


def _error(message, hint=None):
    print("pyprof: error: " + message, file=sys.stderr)
    if hint:
        print("pyprof: hint: " + hint, file=sys.stderr)


def _restore_interrupts():
    """Undo __main__'s start-up handler: Ctrl-C is KeyboardInterrupt again."""
    handler = signal.getsignal(signal.SIGINT)
    if getattr(handler, "__name__", "") == "_interrupted_early":
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv=None):
    """Run the pyprof command line on *argv* (default: ``sys.argv[1:]``); return the exit code."""
    args = None
    try:
        _restore_interrupts()
        args = parse_args(sys.argv[1:] if argv is None else list(argv))
        return args.func(args)
    except SystemExit as e:  # --help and --version
        return e.code or 0
    except UsageError as e:
        _error(str(e))
        return EXIT_USAGE
    except PyprofError as e:
        _error(str(e), e.hint)
        return e.code
    except SamplerNotFoundError as e:
        _error(str(e), e.hint)
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `pyprof check | head`: the reader has seen enough
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_OK
    except Exception as e:
        verbose = getattr(args, "verbose", False)
        _error("internal error: %s: %s" % (type(e).__name__, e), None if verbose else "rerun with -v and report it")
        if verbose:
            traceback.print_exc()
        return EXIT_INTERNAL
