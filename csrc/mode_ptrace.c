/*
 * mode_ptrace.c -- the ptrace capture mode, --blocking (see mode.h,
 * native.h).
 *
 * At each tick of the loop (loop.c) every running thread is stopped
 * briefly with PTRACE_INTERRUPT (pstop.c): registers, a stack copy and
 * the Python frames are taken while it stands still, then it is resumed
 * and the copy unwound (native.c).  The loop watches SIGCHLD for this
 * mode: a seized thread that stops on its own (a signal for it) is
 * resumed with its signal at once.
 */
#define _GNU_SOURCE
#include "mode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "native.h"
#include "pstop.h"

int
pp_mode_ptrace_seize(struct pp_session *s, int tid, int *why)
{
    struct pp_native *nt = s->nat;
    uint64_t v;
    int err;
    if (pp_hmap_get(&nt->seized, (uint64_t)tid, &v))
        return 0;
    if (pp_native_denied_by_test("ptrace")) {
        *why = EPERM;
        return PP_EPERM;
    }
    if ((err = pp_pstop_seize(tid, why)))
        return err;
    pp_vec_append(&nt->seized_list, &tid);
    return pp_hmap_put(&nt->seized, (uint64_t)tid, 1);
}

static int
sample_blocking(struct pp_session *s, int tid, uint64_t now)
{
    struct pp_native *nt = s->nat;
    struct pp_pstop_sample smp;
    struct pp_native_cap arg = {s, tid};
    uint64_t sp;
    int why, err;

    if ((err = pp_mode_ptrace_seize(s, tid, &why))) {
        if (err == PP_EPERM)
            nt->perm_skipped++;
        return 0;
    }
    memset(&smp, 0, sizeof smp);
    smp.buf = nt->stackbuf;
    smp.stack_cap = s->opts.stack_size ? s->opts.stack_size : PP_PERF_STACK_DEFAULT;
    /* a read of the same memory just before the stop brings what the
     * reads inside it touch (page tables, caches, our own lookups) in, so
     * the thread stands still for less: 60 -> 40 us at 200 Hz here */
    pp_native_capture_py(s, tid);
    if (pp_hmap_get(&nt->last_sp, (uint64_t)tid, &sp) && sp) {
        /* the stack too, from where it was at this thread's last sample */
        uint64_t from = (sp & ~4095ULL) - 4096;
        (void)pp_mem_read(s->mem, from, nt->stackbuf, 64);
        (void)pp_mem_read(s->mem, sp, nt->stackbuf, 64);
        smp.sp_hint = sp;
    }
    err = pp_pstop_sample(s->pid, tid, &smp, pp_native_capture_py_cb, &arg);
    if (!err)
        pp_hmap_put(&nt->last_sp, (uint64_t)tid, smp.regs[7]);
    if (smp.stopped_ns && nt->nstop < PP_NATIVE_LAT_KEEP) {
        nt->stop_cpu_ns[nt->nstop] = smp.stopped_cpu_ns > UINT32_MAX ? UINT32_MAX
                                                                     : (uint32_t)smp.stopped_cpu_ns;
        nt->stop_ns[nt->nstop++] = smp.stopped_ns > UINT32_MAX ? UINT32_MAX
                                                                : (uint32_t)smp.stopped_ns;
    }
    if (err) {
        if (err != PP_EFAULT) /* not a group-stop */
            pp_session_count_error(s, err);
        return 0;
    }
    return pp_native_process(s, tid, smp.regs, smp.stack, smp.stack_len, now);
}

static int
blocking_tick(struct pp_session *s, bool force_all)
{
    uint64_t t0 = pp_now_ns();
    size_t i;
    int err;

    s->st.ticks++;
    if (t0 - s->nat->last_tasks_ns > PP_NATIVE_REFRESH_TASKS_NS) {
        s->nat->last_tasks_ns = t0;
        if (pp_proc_tasks_refresh(s->pid, &s->tasks) == PP_EGONE)
            return PP_EGONE;
    }
    for (i = 0; i < s->tasks.n; i++) {
        struct pp_task *task = &s->tasks.v[i];
        if (!force_all && !s->opts.idle &&
            !pp_proc_state_is_running(pp_proc_task_state(s->pid, task))) {
            s->st.idle_skipped++;
            continue;
        }
        if ((err = sample_blocking(s, task->tid, pp_now_ns())))
            return err;
    }
    s->st.sample_ns_total += pp_now_ns() - t0;
    return 0;
}

static int
ptrace_tick(struct pp_session *s)
{
    return blocking_tick(s, false);
}

static void
ptrace_child(struct pp_session *s)
{
    int status;
    if (pp_pstop_poll(s->launched ? s->pid : -1, &status) && s->launched) {
        s->target_gone = true; /* reaped here: pp_session_child_gone() sees the flag */
        s->target_status = status;
    }
}

int
pp_mode_ptrace_dump(struct pp_session *s)
{
    int err;
    pp_proc_tasks_refresh(s->pid, &s->tasks);
    if (!s->nat->stackbuf) {
        s->nat->stackbuf = malloc((s->opts.stack_size ? s->opts.stack_size : PP_PERF_STACK_DEFAULT) +
                                  PP_PSTOP_SLACK);
        if (!s->nat->stackbuf)
            return PP_ENOMEM;
    }
    s->nat->mode = PP_NATIVE_BLOCKING;
    err = blocking_tick(s, true);
    pp_native_detach(s);
    return err;
}

const struct pp_mode_ops pp_mode_ptrace = {
    .name = "blocking",
    .need = PP_LOOP_TIMED | PP_LOOP_CHILD,
    .tick = ptrace_tick,
    .child = ptrace_child,
    .detach = pp_native_detach,
    .expand = pp_native_expand,
    .out_info = pp_native_out_info,
    .summary = pp_native_summary,
    .free = pp_native_free,
};
