"""``pyprof check [--pid PID]``: what this user may profile here, and the commands that get more.

Each item is one line, ``ok``, ``no`` or ``warn``, followed by the exact
commands that fix it for this install (the sampler's full path, the pyprof
command's full path for ``sudo``).  The facts come from /proc, the sampler's
``security.capability`` extended attribute and, with ``--pid``, a one-shot
``pyprof-sampler dump`` of the target (the kernel's own answer).
"""

import os
import re
import shlex
import shutil
import struct
import subprocess
import sys

from .errors import EXIT_OK, EXIT_PERMISSION, SamplerNotFoundError, check_pid, check_process
from .sampler import find_sampler

CAP_SYS_PTRACE = 19
CAP_SYS_ADMIN = 21
CAP_PERFMON = 38
CAP_BPF = 39
CAP_NAMES = {CAP_SYS_PTRACE: "cap_sys_ptrace", CAP_SYS_ADMIN: "cap_sys_admin", CAP_PERFMON: "cap_perfmon",
             CAP_BPF: "cap_bpf"}
YAMA = "/proc/sys/kernel/yama/ptrace_scope"
PARANOID = "/proc/sys/kernel/perf_event_paranoid"
# exit codes of the sampler's dump (docs/errors.md)
DUMP_RESULTS = {0: "permitted", 3: "no such process", 4: "permission denied", 5: "not a Python process",
                6: "unsupported Python version"}


def add_parser(commands):
    """Add the ``check`` subcommand to the argparse *commands*."""
    p = commands.add_parser(
        "check", allow_abbrev=False, help="what is permitted here, and how to get more",
        description="Check what this user may profile on this machine (ptrace, perf events for --native, "
        "the sampler's capabilities, debug info) and print the commands that fix each missing item. "
        "Exit status 0 when Python frames can be sampled, 4 when not (3: no such process).")
    p.add_argument("-p", "--pid", type=int, help="check for this process in particular")
    p.set_defaults(func=cmd_check)
    return p


# --------------------------------------------------------------------------- #
# Facts
# --------------------------------------------------------------------------- #

def read_int(path):
    """The integer in the file *path*, or None (no such file, unreadable)."""
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def status_field(pid, name):
    """The words of the ``NAME:`` line of /proc/PID/status (``"self"`` for this process), or []."""
    try:
        with open("/proc/%s/status" % pid) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return line.split()[1:]
    except OSError:
        pass
    return []


def cap_set(hex_words):
    """The set of capability numbers of a ``CapEff``-style hex mask."""
    if not hex_words:
        return set()
    mask = int(hex_words[0], 16)
    return {bit for bit in range(64) if mask >> bit & 1}


def file_capabilities(path):
    """``(permitted set, effective flag)`` of the file *path* (security.capability), or (set(), False)."""
    try:
        data = os.getxattr(path, "security.capability")
    except (OSError, AttributeError):
        return set(), False
    if len(data) < 12:
        return set(), False
    magic, permitted_lo = struct.unpack_from("<II", data, 0)
    permitted = permitted_lo
    if len(data) >= 20:  # version 2 and 3: a second 32-bit word of each set
        permitted |= struct.unpack_from("<I", data, 12)[0] << 32
    caps = {bit for bit in range(64) if permitted >> bit & 1}
    return caps, bool(magic & 1)


def sampler_capabilities(sampler):
    """The capabilities the sampler runs with when this user starts it, and how it gets them."""
    bounding = cap_set(status_field("self", "CapBnd"))
    if os.geteuid() == 0:
        return cap_set(status_field("self", "CapEff")), "root"
    file_caps, effective = file_capabilities(sampler) if sampler else (set(), False)
    if file_caps and effective:
        try:
            nosuid = bool(os.statvfs(sampler).f_flag & os.ST_NOSUID)
        except OSError:
            nosuid = False
        if nosuid:
            return set(), "file capabilities ignored: its file system is mounted nosuid"
        return file_caps & bounding if bounding else file_caps, "file capabilities"
    return cap_set(status_field("self", "CapAmb")), "none"


def cap_text(caps):
    names = [CAP_NAMES.get(c) for c in sorted(caps) if c in CAP_NAMES]
    return ",".join(names) if names else "none that matter"


def proc_uids(pid):
    """Real, effective, saved and fs uid of *pid*, or []."""
    return [int(u) for u in status_field(pid, "Uid")]


def mapped_python(pid):
    """The file in /proc/PID/maps that holds the Python runtime: libpython if any, else the executable."""
    exe, lib = None, None
    try:
        with open("/proc/%d/maps" % pid) as f:
            for line in f:
                parts = line.split(None, 5)
                path = parts[5].strip() if len(parts) == 6 else ""
                base = os.path.basename(path)
                if base.startswith("libpython") and ".so" in base:
                    lib = lib or path
                elif base.startswith("python") and exe is None:
                    exe = path
    except OSError:
        return None
    return lib or exe


def elf_debug_info(path):
    """``(True, where)`` when *path* or a separate debug file has DWARF, else ``(False, build-id)``."""
    try:
        with open(path, "rb") as f:
            data = f.read(64)
            if data[:4] != b"\x7fELF" or data[4] != 2:
                return False, None
            shoff, = struct.unpack_from("<Q", data, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
            if not shoff or shnum > 4096:
                return False, None
            f.seek(shoff)
            table = f.read(shentsize * shnum)
            sections = [struct.unpack_from("<IIQQQQ", table, i * shentsize) for i in range(shnum)]
            _, _, _, _, stroff, strsize = sections[shstrndx]
            f.seek(stroff)
            names = f.read(min(strsize, 1 << 20))
            build_id = None
            for name_off, kind, _, _, off, size in sections:
                name = names[name_off:names.index(b"\0", name_off)]
                if name == b".debug_info" and kind != 8:  # not NOBITS
                    return True, path
                if name == b".note.gnu.build-id" and size <= 256:
                    f.seek(off)
                    note = f.read(size)
                    namesz, descsz, _ = struct.unpack_from("<III", note, 0)
                    start = 12 + (namesz + 3) // 4 * 4
                    build_id = note[start:start + descsz].hex()
    except (OSError, struct.error, ValueError, IndexError):
        return False, None
    if build_id:
        debug = "/usr/lib/debug/.build-id/%s/%s.debug" % (build_id[:2], build_id[2:])
        if os.path.exists(debug):
            return True, debug
    return False, build_id


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


def pyprof_command():
    """How to start this pyprof with sudo (sudo's PATH has no venv in it)."""
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) == "pyprof" and os.path.isfile(argv0):
        return shlex.quote(os.path.abspath(argv0))
    found = shutil.which("pyprof")
    if found:
        return shlex.quote(os.path.abspath(found))
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.basename(package_parent) in ("site-packages", "dist-packages"):
        return "%s -m pyprof" % shlex.quote(sys.executable)
    # a source checkout: sudo's Python would not find the package
    return "env PYTHONPATH=%s %s -m pyprof" % (shlex.quote(package_parent), shlex.quote(sys.executable))


def try_dump(sampler, pid):
    """Exit status of ``pyprof-sampler dump --pid PID`` (the kernel's own answer), and its first error."""
    try:
        proc = subprocess.run([sampler, "dump", "--pid", str(pid)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as e:
        return None, str(e)
    first = next((line for line in proc.stderr.splitlines() if "error:" in line), "")
    return proc.returncode, first.split("error:", 1)[-1].strip()


def try_bpf(sampler):
    """(True, '') when the sampler, with its own privileges, loads the BPF capture program;
    else (False, why) in the sampler's words."""
    try:
        proc = subprocess.run([sampler, "bpf-check"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as e:
        return False, str(e)
    out = proc.stdout.strip()
    if proc.returncode == 0 and out == "ok":
        return True, ""
    if out.startswith("no: "):
        return False, out[4:]
    return False, (proc.stderr.strip().splitlines() or ["this sampler has no bpf-check (rebuild it)"])[-1]


# --------------------------------------------------------------------------- #
# The report
# --------------------------------------------------------------------------- #

class Report:
    """The lines of ``pyprof check``; *failed* when Python frames cannot be sampled."""

    def __init__(self):
        self.lines = []
        self.failed = False

    def item(self, state, text, fixes=()):
        self.lines.append("%-5s %s" % (state, text))
        for fix in fixes:
            self.lines.append("      fix: %s" % fix)
        if state == "no" and text.startswith("ptrace"):
            self.failed = True

    def info(self, text):
        self.lines.append("      " + text)


def check(pid=None):
    """Return the :class:`Report` of this machine, user and install (for *pid* if given)."""
    r = Report()
    euid = os.geteuid()
    root = euid == 0
    pyprof = pyprof_command()
    try:
        sampler = find_sampler()
    except SamplerNotFoundError as e:
        sampler = None
        r.item("no", "sampler: %s" % e, [e.hint])
        r.failed = True
    caps, how = sampler_capabilities(sampler)
    has_ptrace = root or CAP_SYS_PTRACE in caps
    has_perfmon = root or bool(caps & {CAP_PERFMON, CAP_SYS_ADMIN})
    q_sampler = shlex.quote(sampler) if sampler else "PYPROF-SAMPLER"
    setcap_ptrace = "sudo setcap cap_sys_ptrace+ep %s" % q_sampler
    setcap_native = "sudo setcap cap_sys_ptrace,cap_perfmon+ep %s" % q_sampler
    setcap_bpf = "sudo setcap cap_sys_ptrace,cap_perfmon,cap_bpf+ep %s" % q_sampler
    pid_arg = str(pid) if pid else "PID"
    sudo_record = "sudo %s record --pid %s" % (pyprof, pid_arg)
    if sampler:
        file_caps, effective = file_capabilities(sampler)
        r.item("ok", "sampler: %s (file capabilities: %s%s)" % (
            sampler, cap_text(file_caps) if file_caps else "none", "" if effective or not file_caps else ", not effective"))
    r.info("user: uid %d%s; the sampler runs with: %s (%s)" % (
        euid, " (root)" if root else "", "all capabilities" if root else cap_text(caps), how))

    # ptrace: reading another process's memory
    yama = read_int(YAMA) if os.path.exists("/proc/sys/kernel/yama") else None
    yama_text = "kernel.yama.ptrace_scope = %d" % yama if yama is not None else "no Yama LSM"
    fixes_attach = [sudo_record, setcap_ptrace + "   (then run pyprof as yourself)"]
    if yama in (1, 2):
        fixes_attach.append("sudo sysctl kernel.yama.ptrace_scope=%d   (lasts until reboot)" % (0 if yama == 1 else 1))
    if yama == 3:
        r.item("no", "ptrace: %s forbids reading any process, for root too; only a reboot lowers it" % yama_text)
    elif pid is not None:
        status, error = try_dump(sampler, pid) if sampler else (None, "no sampler")
        uids = proc_uids(pid)
        owner = "uid %d" % uids[1] if uids else "unknown owner"
        if status == 0:
            r.item("ok", "ptrace: PID %d (%s) can be read (%s): 'pyprof record --pid %d' works" % (pid, owner, yama_text, pid))
        elif status == 4:
            r.item("no", "ptrace: PID %d (%s) cannot be read by this user (%s)" % (pid, owner, yama_text), fixes_attach)
        elif status in DUMP_RESULTS:
            r.item("no" if status == 3 else "warn", "ptrace: PID %d: %s (%s)" % (pid, DUMP_RESULTS[status], error))
            if status == 3:
                r.failed = True
        else:
            r.item("warn", "ptrace: PID %d: the sampler's dump failed (status %s): %s" % (pid, status, error))
    else:
        if has_ptrace:
            r.item("ok", "ptrace: any process can be read (%s; %s)" % (
                "root" if root else "the sampler has cap_sys_ptrace", yama_text))
        elif yama in (None, 0):
            r.item("ok", "ptrace: processes of your own user can be read (%s); other users' processes "
                   "need root or CAP_SYS_PTRACE" % yama_text, [sudo_record, setcap_ptrace])
        elif yama == 1:
            r.item("warn", "ptrace: only commands pyprof launches ('pyprof record -- CMD') can be read (%s); "
                   "--pid needs root or CAP_SYS_PTRACE" % yama_text, fixes_attach)
        else:
            r.item("no", "ptrace: %s: only root or CAP_SYS_PTRACE may read other processes" % yama_text,
                   fixes_attach)

    # perf events: --native without stopping the target
    paranoid = read_int(PARANOID)
    par_text = "kernel.perf_event_paranoid = %s" % paranoid
    if paranoid is None:
        r.item("no", "perf events (--native): this kernel has none (no %s); --native --blocking uses ptrace" % PARANOID)
    elif has_perfmon:
        r.item("ok", "perf events (--native): permitted (%s; %s)" % (
            "root" if root else "the sampler has cap_perfmon/cap_sys_admin", par_text))
    elif paranoid <= 2:
        text = "perf events (--native): permitted on processes of your own user (%s)" % par_text
        if not has_ptrace:
            text += "; other users' processes need root or CAP_PERFMON + CAP_SYS_PTRACE"
        r.item("ok", text, [] if has_ptrace else ["sudo %s record --native --pid %s" % (pyprof, pid_arg), setcap_native])
    else:
        r.item("no", "perf events (--native): %s forbids them without CAP_PERFMON: --native falls back to "
               "--blocking (stops each thread briefly)" % par_text,
               ["sudo sysctl kernel.perf_event_paranoid=2   (lasts until reboot)", setcap_native,
                "sudo %s record --native --pid %s" % (pyprof, pid_arg)])
    # the bpf capture: --native's Python and native stacks of one instant
    if sampler:
        ok, why = try_bpf(sampler)
        if ok:
            r.item("ok", "bpf capture (--native): the sampler loads its BPF program: Python and native "
                   "stacks of one instant, the target never stopped")
        else:
            fixes = []
            if "CAP_BPF" in why or "not permitted" in why or "refused" in why:
                fixes = [setcap_bpf + "   (then run pyprof as yourself)",
                         "sudo %s record --native --pid %s" % (pyprof, pid_arg)]
            elif "libbpf" in why:
                fixes = ["sudo apt install libbpf1   (Debian/Ubuntu; Fedora: dnf install libbpf)"]
            elif "built without" in why:
                fixes = ["install clang, then reinstall pyprof (pip install --force-reinstall ...) or run make"]
            r.item("warn", "bpf capture (--native): unavailable: %s; --native uses perf events, whose "
                   "Python frames are read ~0.1 ms after the native stack" % why, fixes)
    # -a: per-CPU perf events (every process) and every process's memory
    kptr = read_int("/proc/sys/kernel/kptr_restrict")
    kernel_text = ("--kernel names kernel frames" if kptr in (None, 0) or (kptr == 1 and root)
                   else "--kernel frames stay unnamed (kernel.kptr_restrict = %s)" % kptr)
    if paranoid is None:
        r.item("no", "system-wide (-a): this kernel has no perf events")
    elif (has_perfmon or paranoid <= 0) and has_ptrace:
        r.item("ok", "system-wide (-a): permitted (%s; %s); %s" % (
            "root" if root else "the sampler has cap_perfmon and cap_sys_ptrace", par_text, kernel_text))
    else:
        r.item("no", "system-wide (-a): needs root, or CAP_PERFMON (or %s <= 0) and CAP_SYS_PTRACE" % par_text.split(" =")[0],
               ["sudo %s record -a -d 10" % pyprof, setcap_native])
    if not root and caps:
        r.info("note: a setcap'd sampler reads native frames of your own processes; those of other "
               "users may need sudo (libdw opens files as you)")

    # debug info of the interpreter (--native names, inline frames)
    target = mapped_python(pid) if pid else os.path.realpath(sys.executable)
    if target and os.path.exists(target):
        found, where = elf_debug_info(target)
        if found:
            r.item("ok", "debug info for %s: %s" % (target, "built in" if where == target else where))
        else:
            r.item("warn", "debug info for %s: none (native names from its symbol table only; no inline frames)"
                   % target, [debug_package_hint(target)])
    elif pid:
        readable = os.access("/proc/%d/maps" % pid, os.R_OK)
        r.item("warn", "debug info: %s PID %d" % ("no Python executable or libpython in the maps of" if readable
                                                  else "this user cannot read the maps of", pid))
    return r


def cmd_check(args):
    """``pyprof check``: print the report; exit 4 when Python frames cannot be sampled."""
    check_pid(args.pid)
    if args.pid is not None:
        check_process(args.pid, "check the PID with 'ps -p %d' or find it with pgrep" % args.pid)
    report = check(args.pid)
    print("pyprof check%s: what this user may profile here, and how to get more"
          % (" --pid %d" % args.pid if args.pid else ""))
    for line in report.lines:
        print(line)
    return EXIT_PERMISSION if report.failed else EXIT_OK
