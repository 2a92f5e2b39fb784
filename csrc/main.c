/*
 * main.c -- pyprof-sampler's command line, signals and exit codes
 * (layer L5).  Contract: docs/sampler-cli.md and docs/errors.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpf.h"
#include "err.h"
#include "log.h"
#include "multi.h"
#include "native.h"
#include "mode.h"
#include "out.h"
#include "perf.h"
#include "sample.h"
#include "unwind.h"

#define PP_VERSION "0.1.0"

static void
usage_error(const char *msg)
{
    fprintf(stderr, "pyprof: error: %s\n", msg);
    fprintf(stderr, "pyprof: hint: pyprof-sampler record (--pid PID | -a | -- CMD ...) "
                    "[--raw FILE] [--collapsed FILE] [--rate HZ] [--duration S]\n");
}

static void
report(int err, const struct pp_session *s, const struct pp_session_opts *o)
{
    int pid = o->pid;
    const char *what = o->argv ? o->argv[0] : "";

    if (s->error_said)
        return;
    switch (err) {
    case PP_ENOPROC:
        fprintf(stderr, "pyprof: error: no process with PID %d\n", pid);
        fprintf(stderr, "pyprof: hint: check the PID with 'ps -p %d' or find it with pgrep\n",
                pid);
        break;
    case PP_EKTHREAD:
        fprintf(stderr, "pyprof: error: PID %d is a kernel thread, not a Python process\n",
                pid);
        break;
    case PP_EPERM:
        fprintf(stderr, "pyprof: error: permission denied reading the memory of PID %d\n",
                s->pid ? s->pid : pid);
        fprintf(stderr, "pyprof: hint: run as root or as the target's user, or grant "
                        "CAP_SYS_PTRACE%s; 'pyprof check --pid %d' prints the commands for this "
                        "machine\n",
                access("/proc/sys/kernel/yama", F_OK) == 0 ? ", or lower kernel.yama.ptrace_scope"
                                                          : "",
                s->pid ? s->pid : pid);
        break;
    case PP_ENOTPY:
        fprintf(stderr, "pyprof: error: PID %d%s%s%s is not a Python process: no CPython "
                        "runtime (_PyRuntime) in its executable or libraries\n",
                s->pid ? s->pid : pid, o->argv ? " (" : "", o->argv ? what : "", o->argv ? ")" : "");
        fprintf(stderr, "pyprof: hint: point pyprof at the python process itself "
                        "(pgrep -a python)\n");
        break;
    case PP_EVERSION:
        fprintf(stderr, "pyprof: error: unsupported Python version %s\n",
                s->rt.version_str[0] ? s->rt.version_str : "(unknown)");
        fprintf(stderr, "pyprof: hint: pyprof supports CPython 3.8 to 3.15 (default, "
                        "non-debug builds)\n");
        break;
    case PP_ELAUNCH:
        fprintf(stderr, "pyprof: error: cannot launch '%s': %s\n", what, strerror(errno));
        break;
    case PP_EOUTPUT: {
        int e;
        bool tmp;
        const char *path = pp_out_error(&e, &tmp);
        if (tmp) {
            fprintf(stderr, "pyprof: error: cannot write %s: cannot create a temporary file in "
                            "its directory: %s\n", path, strerror(e));
            fprintf(stderr, "pyprof: hint: outputs are written next to their path, then "
                            "renamed; check that the directory exists and is writable\n");
        } else if (e == ELOOP) {
            fprintf(stderr, "pyprof: error: cannot write %s: it is a symbolic link (to a file)\n",
                    path);
            fprintf(stderr, "pyprof: hint: give the link's target itself; only links to a FIFO "
                            "or a device are written through\n");
        } else {
            fprintf(stderr, "pyprof: error: cannot write %s: %s\n", path[0] ? path : "the output",
                    strerror(e ? e : errno));
            fprintf(stderr, "pyprof: hint: check that the directory exists, is writable and has "
                            "space\n");
        }
        break;
    }
    default:
        fprintf(stderr, "pyprof: error: %s\n", pp_strerror(err));
    }
}

static void
on_stop(int sig)
{
    pp_stop_signal = sig;
    pp_stop_requested = 1;
}

static void
on_flush(int sig)
{
    (void)sig;
    pp_flush_requested = 1;
}

static void
install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_flush;
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/*
 * The parent (the pyprof CLI) dying must not leave the sampler running
 * (with --blocking it would keep the target ptrace-attached): the kernel
 * sends us SIGTERM when it dies, which ends the record as SIGTERM always
 * does (threads detached, output written).  A parent that died before
 * prctl() took effect is caught by the getppid() check after it.
 */
static pid_t parent_pid;
static bool orphaned; /* the parent was gone before we watched it */

static void
watch_parent(void)
{
    parent_pid = getppid();
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0)
        return;
    if (getppid() != parent_pid || parent_pid == 1) {
        orphaned = true;
        pp_stop_signal = SIGTERM;
        pp_stop_requested = 1;
    }
}

static bool
parent_died(void)
{
    return orphaned || getppid() != parent_pid;
}

/*
 * --cleanup-dir DIR: the CLI's temporary directory, removed by the sampler
 * when the CLI died (SIGKILL leaves it no chance to do it itself).  Only a
 * real directory (not a symlink) owned by our user; only its top-level
 * entries that are not directories, then the directory itself.
 */
static void
cleanup_dir(const char *dir)
{
    struct stat st;
    struct dirent *e;
    DIR *d;
    int fd, n = 0;

    fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || !(d = fdopendir(fd))) {
        close(fd);
        return;
    }
    while ((e = readdir(d)) != NULL && n++ < 10000) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        (void)unlinkat(fd, e->d_name, 0); /* fails on a directory: left alone */
    }
    closedir(d);
    if (rmdir(dir) == 0)
        pp_log_info("the parent is gone: removed %s", dir);
}

static int
parse_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    /* nan and inf are numbers to strtod, never to us */
    return errno == 0 && end != s && *end == '\0' && isfinite(*out);
}

enum {
    OPT_RAW = 256,
    OPT_COLLAPSED,
    OPT_TIMESTAMPS,
    OPT_NO_SUMMARY,
    OPT_NATIVE,
    OPT_LOCALS,
    OPT_BLOCKING,
    OPT_NONBLOCKING,
    OPT_UNWINDER,
    OPT_NO_INTERNALS,
    OPT_STACK_SIZE,
    OPT_DEBUG_DIR,
    OPT_DEBUGINFOD,
    OPT_NO_INLINES,
    OPT_NO_STATUS,
    OPT_SUBPROCESSES,
    OPT_AGGREGATE,
    OPT_GIL,
    OPT_OUTPUT_MODE,
    OPT_CLEANUP_DIR,
    OPT_MAX_THREADS,
    OPT_CAPTURE,
    OPT_OFFCPU,
    OPT_PYTHON_ONLY,
    OPT_KERNEL,
};

static const struct option long_opts[] = {
    {"pid", required_argument, NULL, 'p'},
    {"raw", required_argument, NULL, OPT_RAW},
    {"collapsed", required_argument, NULL, OPT_COLLAPSED},
    {"rate", required_argument, NULL, 'F'},
    {"duration", required_argument, NULL, 'd'},
    {"threads", no_argument, NULL, 't'},
    {"idle", no_argument, NULL, 'i'},
    {"timestamps", no_argument, NULL, OPT_TIMESTAMPS},
    {"no-summary", no_argument, NULL, OPT_NO_SUMMARY},
    {"verbose", no_argument, NULL, 'v'},
    {"native", no_argument, NULL, OPT_NATIVE},
    {"locals", no_argument, NULL, OPT_LOCALS},
    {"blocking", no_argument, NULL, OPT_BLOCKING},
    {"nonblocking", no_argument, NULL, OPT_NONBLOCKING},
    {"unwinder", required_argument, NULL, OPT_UNWINDER},
    {"no-internals", no_argument, NULL, OPT_NO_INTERNALS},
    {"stack-size", required_argument, NULL, OPT_STACK_SIZE},
    {"debug-dir", required_argument, NULL, OPT_DEBUG_DIR},
    {"debuginfod", no_argument, NULL, OPT_DEBUGINFOD},
    {"no-inlines", no_argument, NULL, OPT_NO_INLINES},
    {"no-status", no_argument, NULL, OPT_NO_STATUS},
    {"subprocesses", no_argument, NULL, OPT_SUBPROCESSES},
    {"aggregate", no_argument, NULL, OPT_AGGREGATE},
    {"gil", no_argument, NULL, OPT_GIL},
    {"output-mode", required_argument, NULL, OPT_OUTPUT_MODE},
    {"cleanup-dir", required_argument, NULL, OPT_CLEANUP_DIR},
    {"max-threads", required_argument, NULL, OPT_MAX_THREADS},
    {"capture", required_argument, NULL, OPT_CAPTURE},
    {"event", required_argument, NULL, 'e'},
    {"off-cpu", no_argument, NULL, OPT_OFFCPU},
    {"count", required_argument, NULL, 'c'},
    {"all-cpus", no_argument, NULL, 'a'},
    {"python-only", no_argument, NULL, OPT_PYTHON_ONLY},
    {"kernel", no_argument, NULL, OPT_KERNEL},
    {NULL, 0, NULL, 0},
};

/* -e, -c and -F into o->event (event.h); a tracepoint's id is looked up
 * here, so that a bad name is one line before anything starts. */
static int
parse_event(struct pp_session_opts *o, const char *name)
{
    char known[1024], msg[1200];
    int err, why;

    o->event_given = name != NULL;
    if (pp_event_parse(name ? name : PP_EVENT_DEFAULT, &o->event) != 0) {
        pp_event_known(known, sizeof known);
        fprintf(stderr, "pyprof: error: unknown event '%s'; known events: %s\n", name, known);
        return PP_EUSAGE;
    }
    if (o->offcpu && o->event.cls != PP_EVENT_CLOCK) {
        usage_error("--off-cpu weighs on-CPU samples by their CPU time: it goes with the clock "
                    "events (task-clock, cpu-clock), not -e of a counting event");
        return PP_EUSAGE;
    }
    if (o->event_given || o->count || o->offcpu) {
        if (o->native_mode == PP_NATIVE_BLOCKING || o->idle) {
            usage_error("-e/-c/--off-cpu sample on perf events; --blocking and --idle sample "
                        "on a timer: give one or the other");
            return PP_EUSAGE;
        }
        o->native = true; /* every sample carries its native stack */
        /* bpf where it can (software and hardware events), else perf events */
    }
    if (pp_event_set_rate(&o->event, o->rate_hz, o->count) != 0) {
        snprintf(msg, sizeof msg, "-c %llu: a clock event's period is in nanoseconds, at least "
                                  "10000 (100 kHz)", (unsigned long long)o->count);
        usage_error(msg);
        return PP_EUSAGE;
    }
    err = pp_event_resolve(&o->event, &why);
    if (err == PP_EPERM) {
        fprintf(stderr, "pyprof: error: -e %s: tracefs is not mounted at /sys/kernel/tracing "
                        "and cannot be mounted here (%s); mount it as root: mount -t tracefs "
                        "tracefs /sys/kernel/tracing\n", name, strerror(why));
        return PP_EPERM;
    }
    if (err) {
        fprintf(stderr, "pyprof: error: -e %s: no such tracepoint (see "
                        "/sys/kernel/tracing/available_events)\n", name);
        return PP_EUSAGE;
    }
    return 0;
}

static int
parse_args(int argc, char **argv, struct pp_session_opts *o)
{
    const char *event = NULL;
    int c;
    double v;

    memset(o, 0, sizeof(*o));
    o->rate_hz = 100;
    o->summary = true;
    o->status = true;
    optind = 2;
    while ((c = getopt_long(argc, argv, "+p:F:d:tive:c:a", long_opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (!parse_number(optarg, &v) || v <= 0 || v > 0x7fffffff || v != (int)v) {
                usage_error("--pid needs a positive process id");
                return PP_EUSAGE;
            }
            o->pid = (int)v;
            break;
        case OPT_RAW:
            o->raw_path = optarg;
            break;
        case OPT_COLLAPSED:
            o->collapsed_path = optarg;
            break;
        case 'F':
            if (!parse_number(optarg, &v) || v <= 0 || v > 100000) {
                usage_error("--rate must be between 1 and 100000 samples per second");
                return PP_EUSAGE;
            }
            o->rate_hz = v;
            break;
        case 'd':
            if (!parse_number(optarg, &v) || v <= 0 || v > 1e9) {
                usage_error("--duration must be a positive number of seconds (at most 1e9)");
                return PP_EUSAGE;
            }
            o->duration_s = v;
            break;
        case 't':
            o->threads = true;
            break;
        case 'i':
            o->idle = true;
            break;
        case OPT_TIMESTAMPS:
            o->timestamps = true;
            break;
        case OPT_NO_SUMMARY:
            o->summary = false;
            break;
        case 'v':
            pp_log_set_level(PP_LOG_DEBUG);
            break;
        case OPT_NATIVE:
            o->native = true;
            break;
        case OPT_LOCALS:
            o->locals = true;
            break;
        case OPT_BLOCKING:
            o->native_mode = PP_NATIVE_BLOCKING;
            break;
        case OPT_NONBLOCKING:
            o->native_mode = PP_NATIVE_PERF;
            break;
        case OPT_CAPTURE:
            o->capture_forced = true;
            if (strcmp(optarg, "bpf") == 0)
                o->native_mode = PP_NATIVE_BPF;
            else if (strcmp(optarg, "perf") == 0)
                o->native_mode = PP_NATIVE_PERF;
            else if (strcmp(optarg, "ptrace") == 0 || strcmp(optarg, "blocking") == 0)
                o->native_mode = PP_NATIVE_BLOCKING;
            else if (strcmp(optarg, "auto") == 0) {
                o->native_mode = PP_NATIVE_AUTO;
                o->capture_forced = false;
            } else {
                usage_error("--capture is auto, bpf, perf or ptrace");
                return PP_EUSAGE;
            }
            break;
        case OPT_UNWINDER:
            if (strcmp(optarg, "libdw") == 0)
                o->unwinder = PP_UNWINDER_LIBDW;
            else if (strcmp(optarg, "libunwind") == 0)
                o->unwinder = PP_UNWINDER_LIBUNWIND;
            else {
                usage_error("--unwinder is libdw or libunwind");
                return PP_EUSAGE;
            }
            break;
        case OPT_NO_INTERNALS:
            o->no_internals = true;
            break;
        case OPT_STACK_SIZE:
            if (!parse_number(optarg, &v) || v < 1024 || v > PP_PERF_STACK_MAX) {
                usage_error("--stack-size must be between 1024 and 65528 bytes");
                return PP_EUSAGE;
            }
            o->stack_size = (unsigned)v;
            break;
        case OPT_DEBUG_DIR:
            o->debug_dirs = optarg;
            break;
        case OPT_DEBUGINFOD:
            o->debuginfod = true;
            break;
        case OPT_NO_INLINES:
            o->no_inlines = true;
            break;
        case OPT_NO_STATUS:
            o->status = false;
            break;
        case OPT_SUBPROCESSES:
            o->subprocesses = true;
            break;
        case OPT_AGGREGATE:
            o->aggregate = true;
            break;
        case 'a':
            o->system = true;
            break;
        case OPT_PYTHON_ONLY:
            o->python_only = true;
            break;
        case OPT_KERNEL:
            o->kernel = true;
            break;
        case OPT_GIL:
            o->gil = true;
            break;
        case OPT_OUTPUT_MODE: {
            char *end;
            long mode = strtol(optarg, &end, 8);
            if (end == optarg || *end || mode < 0 || mode > 0777) {
                usage_error("--output-mode is an octal mode such as 0600 or 0644");
                return PP_EUSAGE;
            }
            pp_out_set_mode((unsigned)mode);
            break;
        }
        case OPT_MAX_THREADS:
            if (!parse_number(optarg, &v) || v < 1 || v > 1000000 || v != (unsigned)v) {
                usage_error("--max-threads must be between 1 and 1000000");
                return PP_EUSAGE;
            }
            o->max_threads = (unsigned)v;
            break;
        case 'e':
            event = optarg;
            break;
        case OPT_OFFCPU:
            o->offcpu = true;
            break;
        case 'c':
            if (!parse_number(optarg, &v) || v < 1 || v > 1e15 || v != (double)(uint64_t)v) {
                usage_error("-c/--count must be a whole number of events between samples (at "
                            "least 1)");
                return PP_EUSAGE;
            }
            o->count = (uint64_t)v;
            break;
        case OPT_CLEANUP_DIR:
            if (optarg[0] != '/') {
                usage_error("--cleanup-dir needs an absolute path");
                return PP_EUSAGE;
            }
            o->cleanup_dir = optarg;
            break;
        default:
            usage_error("unknown option");
            return PP_EUSAGE;
        }
    }
    if (optind < argc)
        o->argv = &argv[optind];
    if (o->system && (event || o->count || o->offcpu)) {
        usage_error("-a samples each CPU's clock; -e, -c and --off-cpu go with --pid or a "
                    "command");
        return PP_EUSAGE;
    }
    return parse_event(o, event);
}

/* record --subprocesses: the root and every Python descendant. */
static int
record_tree(struct pp_session_opts *o)
{
    struct pp_multi *m;
    struct pp_session dummy;
    int err;

    memset(&dummy, 0, sizeof(dummy));
    err = pp_multi_start(&m, o);
    if (err) {
        if (!(o->system && err == PP_EPERM)) /* -a's refusal was said in one line */
            report(err, &dummy, o);
        pp_multi_stop_target(m);
        pp_multi_free(m);
        return pp_err_exit_code(err) ? pp_err_exit_code(err) : 1;
    }
    err = pp_multi_run(m);
    if (err && err != PP_EGONE)
        pp_log_warn("sampling stopped early: %s", pp_strerror(err));
    pp_multi_stop_target(m);
    err = pp_multi_write(m);
    if (err)
        report(err, &dummy, o);
    pp_multi_free(m);
    return pp_err_exit_code(err);
}

/* record of one process */
static int
record_session(struct pp_session_opts *o)
{
    struct pp_session s;
    int err = pp_session_start(&s, o);

    if (!err)
        err = pp_mode_pick(&s);
    if (err) {
        report(err, &s, o);
        if (s.launched && err != PP_ELAUNCH)
            pp_session_stop_target(&s);
        pp_session_free(&s);
        return pp_err_exit_code(err) ? pp_err_exit_code(err) : 1;
    }
    err = pp_session_run(&s);
    if (err && err != PP_EGONE)
        pp_log_warn("sampling stopped early: %s", pp_strerror(err));
    pp_session_wait_exit(&s);   /* an exec'ed child runs on to its end */
    pp_session_stop_target(&s); /* the child's exit status belongs in the output */
    err = pp_session_write(&s);
    if (err)
        report(err, &s, o);
    else if (o->summary)
        pp_session_summary(&s, o->collapsed_path ? o->collapsed_path : o->raw_path);
    pp_session_free(&s);
    return pp_err_exit_code(err);
}

static int
cmd_record(int argc, char **argv)
{
    struct pp_session_opts o;
    int err = parse_args(argc, argv, &o);

    if (err)
        return pp_err_exit_code(err);
    if (o.locals) {
        usage_error("--locals is an option of dump (pyprof-sampler dump --pid PID --locals)");
        return 2;
    }
    if (o.system && (o.pid || o.argv)) {
        usage_error("-a samples every process: give no --pid and no command");
        return 2;
    }
    if ((o.python_only || o.kernel) && !o.system) {
        usage_error(o.kernel ? "--kernel adds kernel frames to -a: give -a"
                             : "--python-only leaves native programs out of -a: give -a");
        return 2;
    }
    if (o.system && (o.subprocesses || o.aggregate || o.idle || o.native_mode == PP_NATIVE_BLOCKING)) {
        usage_error("-a takes neither --subprocesses, --aggregate, --idle nor --blocking");
        return 2;
    }
    if (o.system)
        o.native = true; /* per-CPU perf events: registers and stack copies */
    if (!o.system && !o.pid == !o.argv) {
        usage_error(o.pid ? "give either --pid or a command, not both"
                          : "nothing to profile: give --pid PID or -- CMD ARGS...");
        return 2;
    }
    if (!o.raw_path && !o.collapsed_path) {
        usage_error("no output: give --raw FILE and/or --collapsed FILE");
        return 2;
    }
    install_signals();
    watch_parent();
    /* a terminal gets a status line; --no-status (the Python CLI's top)
     * or a pipe does not */
    o.status = o.status && isatty(2);
    if (o.aggregate && !o.subprocesses) {
        usage_error("--aggregate merges the processes of --subprocesses: give both");
        return 2;
    }
    if (o.subprocesses || o.system) {
        err = record_tree(&o);
        if (o.cleanup_dir && parent_died())
            cleanup_dir(o.cleanup_dir);
        return err;
    }
    err = record_session(&o);
    if (o.cleanup_dir && parent_died())
        cleanup_dir(o.cleanup_dir);
    return err;
}

/* dump --locals: under each Python frame line, the frame's locals (read
 * with the stack, pylocals.c), indented.  They are matched to the printed
 * stack by position among its Python frames, root first; a thread whose
 * printed stack does not have as many Python frames as were read gets one
 * line saying so instead of locals put under the wrong frame. */
static void
print_thread(const struct pp_session *s, const struct pp_pylocals *ls, int tid, const uint32_t *fr,
             uint32_t n)
{
    const struct pp_pylocals_thread *lt = ls ? pp_pylocals_find(ls, tid) : NULL;
    uint32_t j, npy = 0, k;
    char text[4096];

    for (j = 0; j < n; j++)
        if (((const struct pp_agg_frame *)pp_vec_at(&s->agg.frames, fr[j]))->kind == PP_FRAME_PY)
            npy++;
    if (ls && npy && (!lt || lt->n != npy)) { /* a native-only thread has none to show */
        printf("    (locals not shown: %s)\n",
               lt ? "the printed stack's Python frames do not match the frames read"
                  : "this thread's frames were not read");
        lt = NULL;
    }
    k = npy; /* Python frames below (root side of) the current one, + 1 */
    for (j = n; j-- > 0;) {
        pp_out_frame_text(&s->agg, fr[j], text, sizeof(text));
        printf("    %s\n", text);
        if (lt && ((const struct pp_agg_frame *)pp_vec_at(&s->agg.frames, fr[j]))->kind == PP_FRAME_PY) {
            const char *p = lt->frames[--k], *e;
            for (; *p; p = e + 1) {
                e = strchr(p, '\n');
                if (!e)
                    e = p + strlen(p);
                printf("        %.*s\n", (int)(e - p), p);
                if (!*e)
                    break;
            }
        }
    }
}

static int
cmd_dump(int argc, char **argv)
{
    struct pp_session_opts o;
    struct pp_session s;
    struct pp_pylocals ls = {0};
    size_t i;
    int err = parse_args(argc, argv, &o);

    if (err)
        return pp_err_exit_code(err);
    if (!o.pid || o.argv) {
        usage_error("dump needs --pid PID");
        return 2;
    }
    o.native_mode = PP_NATIVE_BLOCKING; /* one consistent look: stop each thread briefly */
    err = pp_session_start(&s, &o);
    if (!err)
        err = pp_mode_pick(&s);
    if (!err && o.locals)
        s.py.locals = &ls;
    if (!err)
        err = s.nat ? pp_mode_ptrace_dump(&s) : pp_session_tick(&s, true);
    s.py.locals = NULL;
    if (err) {
        report(err, &s, &o);
        pp_pylocals_free(&ls);
        pp_session_free(&s);
        return pp_err_exit_code(err) ? pp_err_exit_code(err) : 1;
    }
    if (s.mode->expand) { /* native PCs -> named frames */
        struct pp_agg expanded;
        if ((err = s.mode->expand(&s, &expanded))) {
            pp_agg_free(&expanded);
            report(err, &s, &o);
            pp_pylocals_free(&ls);
            pp_session_free(&s);
            return 1;
        }
        pp_agg_free(&s.agg);
        s.agg = expanded;
    }
    printf("PID %d: %s (Python %s)\n", s.pid, s.cmdline, s.rt.version_str);
    for (i = 0; i < s.agg.counts.len; i++) {
        const struct pp_agg_count *c = pp_vec_at(&s.agg.counts, i);
        const struct pp_agg_thread *t = pp_vec_at(&s.agg.threads, c->thread_idx);
        uint32_t n;
        const uint32_t *fr = pp_agg_stack_frames(&s.agg, c->stack_id, &n);
        printf("\nThread %d (%s)\n", t->tid, pp_strtab_get(&s.strs, t->name_id));
        print_thread(&s, o.locals ? &ls : NULL, t->tid, fr, n);
    }
    if (o.locals && ls.errors)
        fprintf(stderr, "pyprof: %" PRIu64 " local value(s) could not be read (shown as <unreadable>)\n",
                ls.errors);
    pp_pylocals_free(&ls);
    pp_session_free(&s);
    return 0;
}

/* bench --pid PID [--count N]: N ticks back to back over every thread
 * (idle ones too), printing the cost per tick and per thread sample. */
static int
cmd_bench(int argc, char **argv)
{
    struct pp_session_opts o;
    struct pp_session s;
    uint64_t t0, t1;
    long count = 10000, i;
    int err;

    for (i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], "--count") == 0) {
            count = atol(argv[i + 1]);
            memmove(&argv[i], &argv[i + 2], (size_t)(argc - i - 2) * sizeof(char *));
            argc -= 2;
            break;
        }
    err = parse_args(argc, argv, &o);
    if (err || !o.pid || count <= 0) {
        usage_error("bench needs --pid PID [--count N]");
        return 2;
    }
    /* force_all samples idle threads too; o.idle stays off so that the
     * tick costs what a default recording's does (--idle adds the GIL read) */
    err = pp_session_start(&s, &o);
    if (!err)
        err = pp_mode_pick(&s);
    if (!err)
        err = pp_session_tick(&s, true); /* warm the code cache */
    if (err) {
        report(err, &s, &o);
        pp_session_free(&s);
        return pp_err_exit_code(err) ? pp_err_exit_code(err) : 1;
    }
    memset(&s.st, 0, sizeof(s.st));
    s.mem->reads = 0;
    t0 = pp_now_ns();
    for (i = 0; i < count && !err; i++)
        err = pp_session_tick(&s, true);
    t1 = pp_now_ns();
    printf("ticks %ld\nsamples %llu\nerrors %llu\nns_per_tick %.1f\nns_per_sample %.1f\n"
           "reads_per_tick %.2f\nframes_per_sample %.1f\n",
           count, (unsigned long long)s.st.samples,
           (unsigned long long)(s.st.errors_transient + s.st.errors_baddata),
           (double)(t1 - t0) / (double)count,
           s.st.samples ? (double)(t1 - t0) / (double)s.st.samples : 0.0,
           (double)s.mem->reads / (double)count,
           s.st.samples ? (double)s.walker.stats_frames / (double)(count + 1) : 0.0);
    pp_session_free(&s);
    return 0;
}

/* snapshot --pid PID OUT: one sample of every thread, with every byte it
 * read saved as a snapshot (mem_snap.c) plus OUT.expected, the collapsed
 * stacks it produced.  Used to make the fixtures of tests/fixtures/. */
static int
cmd_snapshot(int argc, char **argv)
{
    struct pp_session_opts o;
    struct pp_session s;
    struct pp_mem *rec, *live;
    char meta[512], expected[4200];
    const char *path;
    int err = parse_args(argc, argv, &o);

    if (err || !o.pid || !o.argv || o.argv[1]) {
        usage_error("snapshot needs --pid PID OUTFILE");
        return 2;
    }
    path = o.argv[0];
    o.argv = NULL;
    o.idle = true;
    err = pp_session_start(&s, &o);
    if (!err)
        err = pp_mode_pick(&s);
    if (!err)
        err = pp_mem_recorder_new(s.mem, &rec);
    if (err) {
        report(err, &s, &o);
        pp_session_free(&s);
        return pp_err_exit_code(err) ? pp_err_exit_code(err) : 1;
    }
    live = s.mem;
    /* no page cache on the recorder: it keeps exact reads, not whole pages */
    s.mem = rec;
    s.walker.mem = rec;
    { /* the layout was read before the recorder existed: record the head of
       * _PyRuntime (3.13+: _Py_DebugOffsets) so a replay can read it again */
        uint8_t head[1024];
        (void)pp_mem_read(rec, s.rt.runtime_addr, head, sizeof(head));
    }
    err = pp_session_tick(&s, true);
    snprintf(meta, sizeof(meta), "version_hex=0x%08x\nruntime_addr=0x%llx\nversion=%s\n",
             s.rt.version_hex, (unsigned long long)s.rt.runtime_addr, s.rt.version_str);
    if (!err)
        err = pp_mem_recorder_save(rec, path, meta);
    snprintf(expected, sizeof(expected), "%s.expected", path);
    if (!err)
        err = pp_out_write_collapsed(&s.agg, false, expected);
    pp_mem_free(rec);
    s.mem = live;
    if (err)
        report(err, &s, &o);
    pp_session_free(&s);
    return pp_err_exit_code(err);
}

/* `pyprof-sampler bpf-check`: can this sampler, with its privileges, load
 * the capture program?  (pyprof check)  Prints "ok" or why not. */
static int
cmd_bpf_check(void)
{
    char why[300];
    int err;
    if (pp_native_denied_by_test("bpf")) {
        printf("no: BPF refused (PYPROF_DENY=bpf)\n");
        return pp_err_exit_code(PP_EPERM);
    }
    err = pp_bpf_open(why, sizeof why);
    if (err) {
        printf("no: %s\n", why);
        return pp_err_exit_code(err) ? pp_err_exit_code(err) : 1;
    }
    pp_bpf_close();
    printf("ok\n");
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage_error("missing command (record, dump, version)");
        return 2;
    }
    if (strcmp(argv[1], "record") == 0)
        return cmd_record(argc, argv);
    if (strcmp(argv[1], "dump") == 0)
        return cmd_dump(argc, argv);
    if (strcmp(argv[1], "bench") == 0)
        return cmd_bench(argc, argv);
    if (strcmp(argv[1], "snapshot") == 0)
        return cmd_snapshot(argc, argv);
    if (strcmp(argv[1], "bpf-check") == 0)
        return cmd_bpf_check();
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("pyprof-sampler %s\n", PP_VERSION);
        return 0;
    }
    usage_error("unknown command");
    return 2;
}
