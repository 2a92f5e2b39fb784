/*
 * mode_perf.c -- the perf capture mode (see mode.h, native.h).
 *
 * Every thread of the target has a perf event (task-clock at --rate, or
 * the -e event of s->opts.event, event.h) that
 * copies its registers and the top of its stack into a ring buffer; the
 * thread is never stopped.  The loop (loop.c) waits on the events' fds;
 * each sample is then taken as it arrives: the thread's Python stack is
 * read at once (the sample is already 50-100 us old), the native stack is
 * unwound from the copy (native.c).  New threads get their event within
 * PP_NATIVE_REFRESH_TASKS_NS.
 */
#define _GNU_SOURCE
#include "mode.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#include "err.h"
#include "native.h"

#define STALE_US 20000 /* samples read later than this are dropped */
#define OFFCPU_SLOTS_MAX 4096 /* --off-cpu: threads with a wait being timed */

int
pp_mode_perf_open(struct pp_session *s, int *why)
{
    struct pp_native *nt = s->nat;
    size_t i;
    int err, opened = 0;

    *why = 0;
    if (pp_native_denied_by_test("perf")) {
        *why = EACCES;
        return PP_EPERM;
    }
    if ((err = pp_perf_init(&nt->perf, &s->opts.event,
                            s->opts.stack_size ? s->opts.stack_size : PP_PERF_STACK_DEFAULT)))
        return err;
    nt->perf_open = true;
    if (s->opts.offcpu) {
        nt->perf.offcpu = true;
        nt->weight_ns = s->opts.event.period; /* one on-CPU sample: its mean period */
    }
    pp_proc_tasks_refresh(s->pid, &s->tasks);
    for (i = 0; i < s->tasks.n; i++) {
        err = pp_perf_add(&nt->perf, s->tasks.v[i].tid, why);
        if ((err == PP_EPERM || err == PP_ENOEVENT) && opened == 0)
            return err;
        if (!err)
            opened++;
    }
    /* the Python frames are read after the sample: check every join */
    nt->verify_joins = !pp_native_verify_off();
    return opened ? 0 : PP_EGONE;
}

static void
add_new_tasks(struct pp_session *s)
{
    struct pp_native *nt = s->nat;
    size_t i;
    int why;
    if (pp_proc_tasks_refresh(s->pid, &s->tasks) != 0)
        return;
    for (i = 0; i < s->tasks.n; i++) {
        int tid = s->tasks.v[i].tid;
        if (!pp_perf_has(&nt->perf, tid))
            pp_perf_add(&nt->perf, tid, &why);
    }
}

/*
 * --off-cpu.  A thread's context-switch event gives, in its ring and in
 * this order: a sample at the switch-out (the user registers and stack
 * where it blocked), the switch-out record, then the switch-in record when
 * it runs again.  The stack of the sample is built at once (the thread is
 * off CPU: its Python frames hold still until it wakes) and kept per
 * thread; the switch-in adds the time between, in ns, under [off-cpu].
 */
static struct pp_native_offcpu *
offcpu_slot(struct pp_native *nt, int tid, bool create)
{
    struct pp_native_offcpu *o, fresh;
    size_t i;
    for (i = 0; i < nt->offcpu_pending.len; i++) {
        o = pp_vec_at(&nt->offcpu_pending, i);
        if (o->tid == tid)
            return o;
    }
    if (!create)
        return NULL;
    if (nt->offcpu_pending.len >= OFFCPU_SLOTS_MAX) {
        /* thread churn: keep the threads that wait now, forget the others */
        size_t j = 0;
        for (i = 0; i < nt->offcpu_pending.len; i++) {
            o = pp_vec_at(&nt->offcpu_pending, i);
            if (o->valid)
                *(struct pp_native_offcpu *)pp_vec_at(&nt->offcpu_pending, j++) = *o;
        }
        nt->offcpu_pending.len = j;
        if (j >= OFFCPU_SLOTS_MAX)
            return NULL;
    }
    memset(&fresh, 0, sizeof fresh);
    fresh.tid = tid;
    if (pp_vec_append(&nt->offcpu_pending, &fresh) != 0)
        return NULL;
    return pp_vec_at(&nt->offcpu_pending, nt->offcpu_pending.len - 1);
}

static int
offcpu_record(struct pp_session *s, const struct pp_perf_sample *smp)
{
    struct pp_native *nt = s->nat;
    struct pp_native_offcpu *o = offcpu_slot(nt, smp->tid, smp->kind == PP_PERF_SAMPLE);
    uint64_t waited;
    int err;

    if (!o)
        return 0;
    switch (smp->kind) {
    case PP_PERF_SAMPLE: /* at the switch-out: where it waits */
        o->valid = false;
        pp_native_capture_py(s, smp->tid);
        if ((err = pp_native_stack(s, smp->tid, smp->regs, smp->stack, smp->stack_len,
                                   smp->time_ns, nt->offcpu_marker, &o->stack_id,
                                   &o->thread_idx)))
            return err;
        o->valid = o->stack_id != UINT32_MAX;
        if (o->valid) { /* a sample too: the merge statistics count it */
            s->st.samples++;
            nt->samples++;
        }
        o->out_ns = smp->time_ns;
        o->preempt = false;
        return 0;
    case PP_PERF_SWITCH_OUT:
        if (o->valid && smp->preempt)
            o->preempt = true;
        return 0;
    default: /* switch-in */
        if (!o->valid) {
            nt->offcpu_unmatched++;
            return 0;
        }
        o->valid = false;
        if (smp->time_ns <= o->out_ns || smp->time_ns - o->out_ns > 3600ull * 1000000000ull)
            return 0; /* not a wait of this thread (clock mishap): never a huge weight */
        waited = smp->time_ns - o->out_ns;
        nt->offcpu_ns += waited;
        nt->offcpu_waits++;
        if (o->preempt)
            nt->offcpu_preempted_ns += waited;
        return pp_agg_add_n(&s->agg, o->stack_id, o->thread_idx, o->out_ns - s->start_ns, waited);
    }
}

/* After the loop's wait: the hang-ups poll saw, then every sample the
 * kernel holds for s. */
static int
perf_drain(struct pp_session *s, const struct pollfd *fds, size_t n, uint64_t end)
{
    struct pp_native *nt = s->nat;
    struct pp_perf_sample smp;
    int err;

    pp_perf_after_poll(&nt->perf, fds, n);
    while (!pp_stop_requested && pp_perf_next(&nt->perf, &smp) == 1) {
        uint64_t lat, now;
        if (smp.kind != PP_PERF_SAMPLE) {
            if ((err = offcpu_record(s, &smp)))
                return err;
            continue;
        }
        if (!smp.have_regs || smp.stack_len == 0) {
            nt->no_user++; /* the thread was exiting */
            continue;
        }
        s->st.ticks++;
        now = pp_now_ns();
        lat = now > smp.time_ns ? (now - smp.time_ns) / 1000 : 0;
        if (nt->nlat < PP_NATIVE_LAT_KEEP)
            nt->lat_us[nt->nlat++] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
        if (lat > STALE_US) {
            /* read this late, the Python stack says little about the
             * moment of the sample (a backlog: attach, a busy machine) */
            nt->stale++;
            s->st.errors_transient++;
            continue;
        }
        if (smp.offcpu) {
            if ((err = offcpu_record(s, &smp)))
                return err;
            s->st.sample_ns_total += pp_now_ns() - now;
            continue;
        }
        pp_native_capture_py(s, smp.tid);
        if ((err = pp_native_process(s, smp.tid, smp.regs, smp.stack, smp.stack_len, smp.time_ns)))
            return err;
        s->st.sample_ns_total += pp_now_ns() - now;
        if (pp_now_ns() >= end)
            break;
    }
    return 0;
}

static size_t
perf_pollfds(struct pp_session *s, struct pollfd *fds, size_t max, bool *ready)
{
    return pp_perf_pollfds(&s->nat->perf, fds, max, ready);
}

/* New threads (every 100 ms); PP_EGONE once the process is gone and its
 * samples are drained. */
static int
perf_maintain(struct pp_session *s, uint64_t now)
{
    struct pp_native *nt = s->nat;
    struct pp_perf_sample smp;
    bool gone = pp_session_child_gone(s);

    if (gone || nt->perf.threads.len == 0) {
        /* drain what the kernel still holds, then stop */
        while (pp_perf_next(&nt->perf, &smp) == 1)
            ;
        if (gone || pp_session_child_gone(s)) {
            s->target_gone = true;
            return PP_EGONE;
        }
    }
    if (now - nt->last_tasks_ns > PP_NATIVE_REFRESH_TASKS_NS) {
        nt->last_tasks_ns = now;
        add_new_tasks(s);
    }
    return 0;
}


const struct pp_mode_ops pp_mode_perf = {
    .name = "perf",
    .need = 0,
    .pollfds = perf_pollfds,
    .drain = perf_drain,
    .maintain = perf_maintain,
    .detach = pp_native_detach,
    .expand = pp_native_expand,
    .out_info = pp_native_out_info,
    .summary = pp_native_summary,
    .free = pp_native_free,
};
