/*
 * mode.c -- the choice of the capture mode (see mode.h).
 */
#define _GNU_SOURCE
#include "mode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "native.h"
#include "pstop.h"

static void
say_perf_denied(int why)
{
    long paranoid = pp_proc_sysctl("/proc/sys/kernel/perf_event_paranoid");
    fprintf(stderr,
            "pyprof: perf events on this process are not permitted (%s; "
            "kernel.perf_event_paranoid = %ld): falling back to --blocking, which stops each "
            "thread for a few microseconds per sample. For the no-stop mode, profile a process "
            "of your own user with kernel.perf_event_paranoid <= 2, or grant CAP_PERFMON.\n",
            strerror(why ? why : EACCES), paranoid);
}

static void
say_ptrace_denied(int why)
{
    long yama = pp_proc_sysctl("/proc/sys/kernel/yama/ptrace_scope");
    char ys[64] = "";
    if (yama != -99)
        snprintf(ys, sizeof ys, "; kernel.yama.ptrace_scope = %ld", yama);
    fprintf(stderr,
            "pyprof: ptrace of this process is not permitted (%s%s): sampling Python frames "
            "only, without native frames. Native mode needs CAP_SYS_PTRACE%s (or perf events, "
            "see above); 'pyprof check' prints the commands for this machine.\n",
            strerror(why ? why : EPERM), ys,
            yama != -99 ? " or kernel.yama.ptrace_scope = 0" : "");
}

static void
say_bpf_unavailable(const char *why)
{
    static bool said;
    if (said)
        return;
    said = true;
    fprintf(stderr,
            "pyprof: exact capture (bpf) unavailable: %s. Using perf events: the Python frames "
            "are read about 0.1 ms after the native stack, and samples whose halves disagree "
            "are counted as merge failures. 'pyprof check' says what would allow it.\n",
            why);
}

static void
say_event_unavailable(const struct pp_event *ev, int why)
{
    if (ev->cls == PP_EVENT_HARDWARE)
        fprintf(stderr, "pyprof: error: -e %s: this CPU (or VM) exposes no hardware performance "
                        "counters to perf events (%s); software events such as cpu-clock or "
                        "page-faults and tracepoints work\n",
                ev->name, strerror(why ? why : ENOENT));
    else
        fprintf(stderr, "pyprof: error: -e %s: the kernel does not offer this event (%s)\n",
                ev->name, strerror(why ? why : ENOENT));
}

int
pp_mode_pick(struct pp_session *s)
{
    struct pp_native *nt;
    int err, e = 0;
    bool forced = s->opts.capture_forced;

    s->mode = &pp_mode_python;
    if (!s->opts.native)
        goto begin;
    if ((err = pp_native_init(s)))
        goto fail;
    if (!(nt = s->nat)) /* native frames unavailable (said) */
        goto begin;
    switch (s->opts.native_mode) {
    case PP_NATIVE_BLOCKING: nt->mode = PP_NATIVE_BLOCKING; break;
    case PP_NATIVE_PERF: nt->mode = PP_NATIVE_PERF; break;
    default: nt->mode = PP_NATIVE_BPF; break; /* auto: the best the kernel allows */
    }
    if (nt->mode != PP_NATIVE_BLOCKING && s->opts.idle) {
        static bool said;
        if (!said && s->opts.native_mode == PP_NATIVE_AUTO)
            fprintf(stderr, "pyprof: --idle with --native samples waiting threads too: that "
                            "takes the --blocking mode (perf events count CPU time only).\n");
        said = true;
        nt->mode = PP_NATIVE_BLOCKING;
    }
    if (nt->mode == PP_NATIVE_BPF) {
        char why[300];
        bool why_perf;
        err = pp_mode_bpf_open(s, why, sizeof why, &why_perf);
        if (err == PP_EGONE) {
            err = PP_ENOPROC;
            goto fail;
        }
        if (err) {
            pp_mode_bpf_release(s);
            if (forced) {
                fprintf(stderr, "pyprof: --capture bpf is not possible here: %s\n", why);
                err = err == PP_EPERM ? PP_EPERM : PP_EIO;
                goto fail;
            }
            if (!why_perf) /* else the perf mode's refusal says it */
                say_bpf_unavailable(why);
            nt->mode = PP_NATIVE_PERF;
        }
    }
    if (nt->mode == PP_NATIVE_PERF) {
        err = pp_mode_perf_open(s, &e);
        if (err == PP_EPERM && forced) {
            fprintf(stderr, "pyprof: --capture perf is not possible here: perf events on this "
                            "process are not permitted (%s)\n", strerror(e ? e : EACCES));
            goto fail;
        }
        if (err == PP_EPERM && (s->opts.event_given || s->opts.count || s->opts.offcpu)) {
            /* -e, -c, --off-cpu have no other mode to fall back to */
            char what[PP_EVENT_NAME_MAX + 16];
            if (s->opts.event_given)
                snprintf(what, sizeof what, "-e %s", s->opts.event.name);
            else
                snprintf(what, sizeof what, "%s", s->opts.offcpu ? "--off-cpu" : "-c");
            fprintf(stderr, "pyprof: error: perf events on this process are not permitted (%s; "
                            "kernel.perf_event_paranoid = %ld): %s needs them; run as root or "
                            "grant CAP_PERFMON\n",
                    strerror(e ? e : EACCES), pp_proc_sysctl("/proc/sys/kernel/perf_event_paranoid"),
                    what);
            s->error_said = true;
            goto fail;
        }
        if (err == PP_ENOEVENT) {
            say_event_unavailable(&s->opts.event, e);
            s->error_said = true;
            goto fail;
        }
        if (err == PP_EPERM) {
            say_perf_denied(e);
            pp_perf_free(&nt->perf);
            nt->perf_open = false;
            nt->mode = PP_NATIVE_BLOCKING;
        } else if (err) {
            err = err == PP_EGONE ? PP_ENOPROC : err;
            goto fail;
        }
    }
    if (nt->mode == PP_NATIVE_BLOCKING) {
        err = pp_mode_ptrace_seize(s, s->pid, &e);
        if (err == PP_EPERM && forced) {
            fprintf(stderr, "pyprof: --capture ptrace is not possible here: ptrace of this "
                            "process is not permitted (%s)\n", strerror(e ? e : EPERM));
            goto fail;
        }
        if (err == PP_EPERM) {
            say_ptrace_denied(e);
            pp_native_free(s);
            goto begin;
        }
        if (err) {
            err = err == PP_EGONE ? PP_ENOPROC : err;
            goto fail;
        }
        nt->stackbuf = malloc((s->opts.stack_size ? s->opts.stack_size : PP_PERF_STACK_DEFAULT) +
                              PP_PSTOP_SLACK);
        if (!nt->stackbuf) {
            err = PP_ENOMEM;
            goto fail;
        }
    }
    s->mode = nt->mode == PP_NATIVE_BPF    ? &pp_mode_bpf
              : nt->mode == PP_NATIVE_PERF ? &pp_mode_perf
                                           : &pp_mode_ptrace;
    nt->last_tasks_ns = pp_now_ns();
    pp_log_info("native mode: %s, unwinder %s", s->mode->name, nt->unw->ops->name);
begin:
    pp_session_begin(s);
    return 0;
fail:
    pp_mode_bpf_release(s);
    pp_native_free(s); /* s->mode stays Python-only */
    return err;
}
