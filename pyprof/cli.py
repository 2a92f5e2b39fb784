"""The ``pyprof`` command line: record, dump, convert, version.

The sampling itself is done by the ``pyprof-sampler`` binary, run as a child
process; this module validates the command line, runs the sampler, renders the
requested format from its raw output and prints the one-line summary.
Exit codes are those of docs/errors.md.
"""

import argparse
import difflib
import math
import os
import re
import signal
import stat
import subprocess
import sys
import tempfile
import time
import traceback

from . import __version__, check, raw, report, top
from .check import debug_package_hint
from .errors import (EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_LAUNCH, EXIT_NO_PROCESS, EXIT_NOT_PYTHON, EXIT_OK,
                     EXIT_OUTPUT, EXIT_USAGE, PyprofError, SamplerNotFoundError, UsageError,
                     cannot_run_sampler, check_pid, check_process, check_rate, print_error, sampler_killed)
from .output import STDOUT, check_output_path, copy_output, keep_raw, output_stream, write_output
from .profile import read as read_profile
from .raw import RawFormatError, read_raw, sanitize
from .render import CONVERT_FORMATS, EXTENSIONS, FORMATS, SAMPLER_FORMATS, render
from .sampler import Sampler, add_event_arguments, descendants, find_sampler, record_argv, validate_event_args

SUBCOMMANDS = ("record", "check", "dump", "convert", "report", "top", "version")
MAX_DURATION = 1e7  # seconds (115 days): the sampler's clock arithmetic stays exact far beyond
# The record options that take a value (``python -m pyprof`` needs them to
# find where the options end and the script begins).
RECORD_VALUE_OPTIONS = frozenset(["-p", "--pid", "-o", "--output", "-f", "--format", "-F", "-r", "--rate",
                                  "-d", "--duration", "--unwinder", "--capture", "--stack-size", "--debug-dir",
                                  "-e", "--event", "-c", "--count"])
# The format an output file's name asks for (the longest matching ending wins).
FORMAT_BY_EXTENSION = ((".speedscope.json", "speedscope"), (".json", "speedscope"), (".svg", "flamegraph"),
                       (".collapsed", "collapsed"), (".txt", "collapsed"), (".pb.gz", "pprof"),
                       (".pprof", "pprof"), (".raw", "raw"))
DEFAULT_FORMAT = "flamegraph"
# A launched command that ends with a failure this soon did not really run.
FAILED_AT_ONCE_S = 1.0
SUMMARY_WORDS = (
    "Summary words: 'transient' errors are samples dropped because the target changed while it was read "
    "(a thread ending, a frame reused); 'bad data', samples whose memory made no sense; 'late ticks', ticks "
    "taken later than planned (a busy machine); 'lost', --native samples the kernel dropped because they "
    "were read too slowly. A few of each are normal.")


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
        usage="pyprof record [options] (-p PID | -a | [--] CMD [ARGS...])",
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
    record.add_argument("-a", "--all-cpus", dest="system", action="store_true",
                        help="every process on the machine (root): Python ones with Python and native frames, "
                        "others with native frames, a 'process PID (cmdline)' root each (docs/events.md)")
    record.add_argument("--python-only", action="store_true", help="with -a: leave out the processes that are not Python")
    record.add_argument("--kernel", action="store_true",
                        help="with -a: the kernel's frames too, where permitted")
    record.add_argument("--timeline", "--timestamps", dest="timestamps", action="store_true",
                        help="record each sample's time (raw file; speedscope in time order)")
    add_event_arguments(record)
    add_native_arguments(record)
    record.add_argument("-v", "--verbose", action="store_true", help="verbose sampler output, tracebacks")
    record.set_defaults(func=cmd_record)

    check.add_parser(commands)

    dump = commands.add_parser("dump", allow_abbrev=False, help="print the current stack of each thread")
    dump.add_argument("--pid", "-p", type=int, help="the process to inspect (or as the first argument: dump PID)")
    dump.add_argument("pid_arg", nargs="?", type=int, metavar="PID", help=argparse.SUPPRESS)
    dump.add_argument("--native", action="store_true",
                      help="native frames too (stops each thread for a few microseconds)")
    dump.add_argument("--subprocesses", action="store_true",
                      help="the process and every descendant process (Gunicorn: the master's PID)")
    dump.add_argument("--locals", action="store_true",
                      help="each Python frame's arguments and local variables, under its line")
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

    report.add_parser(commands)
    top.add_parser(commands)

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
    elif args.subcommand in ("dump", "top"):
        args.pid = pid_of(args)
        if args.subcommand == "dump":
            check_pid(args.pid)
    elif args.subcommand == "convert":
        args.format = resolve_format(args.format, args.output, CONVERT_FORMATS)
    return args


def pid_of(args):
    """The PID of ``dump``/``top``: ``--pid PID`` or the bare ``PID`` py-spy's and
    pystack's users type (``pyprof dump 1234``); one of them, once."""
    if args.pid is not None and args.pid_arg is not None and args.pid != args.pid_arg:
        raise UsageError("two PIDs given (--pid %d and %d): give one" % (args.pid, args.pid_arg))
    pid = args.pid if args.pid is not None else args.pid_arg
    if pid is None:
        raise UsageError("%s needs the process: pyprof %s --pid PID" % (args.subcommand, args.subcommand))
    return pid


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
    if args.system and (args.pid is not None or args.command is not None):
        raise UsageError("-a samples every process: give no --pid and no command")
    if (args.python_only or args.kernel) and not args.system:
        raise UsageError("--%s works with -a: add -a" % ("kernel" if args.kernel else "python-only"))
    if args.system and (args.subprocesses or args.aggregate or args.idle or args.blocking):
        raise UsageError("-a takes neither --subprocesses, --aggregate, --idle nor --blocking")
    if args.pid is None and args.command is None and not args.system:
        raise UsageError("nothing to profile: give --pid PID, -a or a command after '--'")
    if args.pid is not None and args.command is not None:
        raise UsageError("give either --pid or a command after '--', not both")
    check_pid(args.pid)
    check_rate(args.rate)
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
    validate_event_args(args)
    if args.blocking and not args.native:
        raise UsageError("--blocking chooses how --native samples native frames: add --native")
    if getattr(args, "capture", None) and not args.native:
        raise UsageError("--capture chooses how --native samples native frames: add --native")
    if getattr(args, "capture", None) and args.blocking and args.capture != "ptrace":
        raise UsageError("--blocking is --capture ptrace: it cannot be combined with --capture %s"
                         % args.capture)


def default_output_name(args, now=None):
    """Return ``pyprof-<pid or command>-<YYYYmmdd-HHMMSS>.<ext>`` for ``record``."""
    if args.pid is not None:
        target = str(args.pid)
    elif getattr(args, "system", False):
        target = "all"
    else:
        target = re.sub(r"[^\w.+-]", "_", os.path.basename(args.command[0])) or "cmd"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return "pyprof-%s-%s.%s" % (target, stamp, EXTENSIONS[args.format])


def add_native_arguments(parser):
    """Options of native (mixed-mode) sampling, shared by ``record`` and ``top``."""
    group = parser.add_argument_group("native frames (docs/native.md)")
    group.add_argument("--native", action="store_true",
                       help="C/C++ frames too, merged with the Python frames")
    group.add_argument("--capture", choices=("auto", "bpf", "perf", "ptrace"),
                       help="how --native takes a sample (default auto: the first of these the "
                            "kernel allows): bpf, Python and native stacks of one instant, taken "
                            "in the kernel; perf, perf events, the Python stack read ~0.1 ms later; "
                            "ptrace, each thread stopped briefly. A mode given here is that mode "
                            "or an error")
    mode = group.add_mutually_exclusive_group()
    mode.add_argument("--nonblocking", dest="blocking", action="store_false",
                      help="never stop the target (bpf or perf events; the default)")
    mode.add_argument("--blocking", dest="blocking", action="store_true",
                      help="with --native: --capture ptrace, each thread stopped briefly per sample")
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


def summary_line(profile, path):
    """Return the one-line end-of-record summary of *profile* written to *path*."""
    transient, baddata = profile.stat("errors_transient"), profile.stat("errors_baddata")
    meta = profile.meta
    cmdline = sanitize(meta.get("cmdline", ""))
    if len(cmdline) > 60:
        cmdline = cmdline[:57] + "..."
    if meta.get("system_flag") == "1":  # -a: no one target
        return "pyprof: %d samples, %d errors (%d transient, %d bad data)%s, %.1f s, all processes -> %s" % (
            profile.stat("samples"), transient + baddata, transient, baddata,
            native_summary(profile) + processes_summary(profile), _to_float(meta.get("duration_s")), path)
    return (
        "pyprof: %d samples%s, %d errors (%d transient, %d bad data), %d late ticks%s, %.1f s, "
        "PID %s (%s), target %s -> %s"
    ) % (
        profile.stat("samples"),
        event_summary(profile),
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


def event_summary(profile):
    """' of EVENT (N UNIT)' for a -e profile, the off-CPU time with --off-cpu ('' otherwise)."""
    meta = profile.meta
    text = ""
    if meta.get("event") and meta.get("event") != "task-clock":
        count = raw.event_count_text(meta, profile.stat("samples"))
        text = " of %s%s" % (meta["event"], " (%s)" % count if count else "")
    if raw.weighted_ns(meta):
        text += " (%.2f s off CPU in %d waits)" % (profile.stat("offcpu_ns") / 1e9, profile.stat("offcpu_waits"))
    return text


def processes_summary(profile):
    """The --subprocesses part of the summary line ('' without it)."""
    if profile.meta.get("system_flag") == "1":
        return ", %d processes (%d Python) on %d CPUs" % (
            profile.stat("processes_sampled"), profile.stat("processes_python"), profile.stat("cpus"))
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
    if "merge_unproven" in profile.stats and (mode == "perf" or profile.stat("merge_unproven")):
        # (bpf and blocking take both halves in one instant: nothing to prove)
        unproven = profile.stat("merge_unproven")   # joins nothing showed to be of one instant
        text += ", %d unproven (%.2f%%)" % (unproven, 100.0 * unproven / samples if samples else 0.0)
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
                    write_output(output, render(read_raw(raw_path), args.format, args.threads, args.lines,
                                                project_root))
            except (OSError, RawFormatError, PyprofError) as e:
                print("pyprof: warning: snapshot not written: %s" % e, file=sys.stderr)
                return
            print("pyprof: snapshot written to %s" % output, file=sys.stderr)

        # the sampler of record sets PR_SET_PDEATHSIG itself, once its signal
        # handlers are in place (set before its exec, the signal could kill it
        # before it had a chance to remove the dir), and removes the dir if we die.
        # A launched command writes to the same terminal: a live status line
        # would be spliced into its lines (docs/errors.md).
        argv = record_argv(sampler, args, raw_path, collapsed_path, status=not args.command, cleanup_dir=tmpdir)
        # -o -: the profile owns stdout; a launched command's output goes to stderr
        status = Sampler(argv, raw_path).run(snapshot, sys.stderr.fileno() if stream == "stdout" else None)
        if status < 0:
            raise sampler_killed(-status)
        if status != 0:
            if status == EXIT_OUTPUT:
                keep_raw(raw_path, output)
            return status  # the sampler has printed the error
        written = False
        try:
            profile = read_raw(raw_path)
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
    if args.pid is None:  # -a: many processes, no one project
        return None
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


def dump_options(args):
    """The sampler's ``dump`` options for *args* (after ``--pid PID``)."""
    return (["--native"] if args.native else []) + (["--locals"] if args.locals else [])


def dump_tree(sampler, args):
    """``pyprof dump --subprocesses``: one dump per process of the tree."""
    check_process(args.pid, "check the PID with 'ps -p %d'" % args.pid)
    status = EXIT_OK
    for n, pid in enumerate(descendants(args.pid)):
        argv = [sampler, "dump", "--pid", str(pid)] + dump_options(args)
        proc = subprocess.run(argv, capture_output=True, text=True)
        if n:
            print()
        if proc.returncode == 0:
            sys.stdout.write(proc.stdout)
            sys.stderr.write(proc.stderr)  # --locals: how many values could not be read
        elif n == 0 or proc.returncode not in (EXIT_NO_PROCESS, EXIT_NOT_PYTHON):  # gone, or not Python: skip quietly
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
        os.execv(sampler, [sampler, "dump", "--pid", str(args.pid)] + dump_options(args))
    except OSError as e:
        raise cannot_run_sampler(sampler, e)


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
        print_error(str(e))
        return EXIT_USAGE
    except PyprofError as e:
        print_error(str(e), e.hint)
        return e.code
    except SamplerNotFoundError as e:
        print_error(str(e), e.hint)
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
        print_error("internal error: %s: %s" % (type(e).__name__, e), None if verbose else "rerun with -v and report it")
        if verbose:
            traceback.print_exc()
        return EXIT_INTERNAL
