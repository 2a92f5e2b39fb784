/*
 * mode_bpf.c -- the bpf capture mode (see mode.h, bpf.h, docs/native.md).
 *
 * Every thread of the target has a task-clock event at --rate, as in perf
 * mode, but the event itself writes nothing: the BPF program attached to
 * it (bpf/capture.bpf.c) copies the registers and the top of the stack
 * AND walks the thread's Python frames in the same interrupt, so the two
 * halves of a sample are of one instant.  Here, as records arrive: the
 * captured frames are named through the code cache (pystack.c), the
 * native stack is unwound from the copy, and native.c merges and counts.
 *
 * The program finds a thread's frames from its thread state, which it
 * looks up by TID in a map kept here from the walker's own discovery
 * (pp_pyframe_threads, every PP_BPF_TMAP_NS, and at once when a sample
 * comes from a thread the map does not know yet).  Such a sample's Python
 * frames are read from user space, as in perf mode, and counted
 * (bpf_late_py).
 *
 * One program serves every target of the sampler (--subprocesses): each
 * session registers its PID, and whichever session drains the ring hands
 * each record to the session of its process.
 */
#define _GNU_SOURCE
#include "mode.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/perf_event.h>
#include <unistd.h>

#include "bpf.h"
#include "err.h"
#include "log.h"
#include "native.h"

#define PP_BPF_TMAP_NS (50ULL * 1000000ULL) /* thread map refresh */
#define PP_BPF_TMAP_MIN_NS (5ULL * 1000000ULL) /* at most this often on demand */
#define PP_BPF_STALE_US 20000 /* -a: a late Python read later than this is dropped, as in perf */
#define MAX_SESSIONS 256

struct pp_bpf_thread {
    int tid;          /* our namespace */
    int fd;           /* its task-clock event, -1 once closed */
    uint64_t tstate;  /* in the program's map (0: none) */
    bool seen;
};

static struct pp_session *sessions[MAX_SESSIONS];

static struct pp_session *
session_of(uint32_t pid)
{
    size_t i;
    for (i = 0; i < MAX_SESSIONS; i++)
        if (sessions[i] && (uint32_t)sessions[i]->pid == pid)
            return sessions[i];
    return NULL;
}

static int
register_session(struct pp_session *s)
{
    size_t i;
    for (i = 0; i < MAX_SESSIONS; i++)
        if (!sessions[i]) {
            sessions[i] = s;
            return 0;
        }
    return PP_ENOMEM;
}

static void
unregister_session(struct pp_session *s)
{
    size_t i;
    for (i = 0; i < MAX_SESSIONS; i++)
        if (sessions[i] == s)
            sessions[i] = NULL;
}

static struct pp_bpf_thread *
thread_of(struct pp_native *nt, int tid)
{
    uint64_t v;
    if (!pp_hmap_get(&nt->bpf_thread_ids, (uint64_t)(uint32_t)tid, &v))
        return NULL;
    return pp_vec_at(&nt->bpf_threads, v - 1);
}

/* The event's period (-e, -c; --rate for clocks), jittered where it is drawn. */
static uint64_t
next_period(struct pp_session *s)
{
    const struct pp_event *ev = &s->opts.event;
    return ev->jitter ? pp_perf_jitter(&s->nat->bpf_rng, ev->period) : ev->period;
}

static int
add_thread(struct pp_session *s, int tid, int *why)
{
    struct pp_native *nt = s->nat;
    struct pp_bpf_thread t;
    int fd, err;

    if (thread_of(nt, tid))
        return 0;
    if (nt->bpf_system) {
        fd = -1; /* -a: the per-CPU events sample it */
    } else {
        fd = pp_perf_open_counter(tid, -1, &s->opts.event, next_period(s), why);
        if (fd < 0)
            return fd;
        if ((err = pp_bpf_attach(fd))) {
            *why = errno;
            close(fd);
            return err;
        }
    }
    memset(&t, 0, sizeof t);
    t.tid = tid;
    t.fd = fd;
    t.seen = true;
    if ((err = pp_vec_append(&nt->bpf_threads, &t)) ||
        (err = pp_hmap_put(&nt->bpf_thread_ids, (uint64_t)(uint32_t)tid, nt->bpf_threads.len))) {
        if (fd >= 0)
            close(fd);
        return err;
    }
    if (fd >= 0)
        ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
    return 0;
}

/* Drops threads whose task is gone (their events are closed). */
static void
compact_threads(struct pp_native *nt)
{
    size_t i, k = 0;
    bool changed = false;
    for (i = 0; i < nt->bpf_threads.len; i++) {
        struct pp_bpf_thread *t = pp_vec_at(&nt->bpf_threads, i);
        if (!t->seen) {
            if (t->fd >= 0)
                close(t->fd);
            if (t->tstate)
                pp_bpf_thread_set(t->tid, 0);
            changed = true;
            continue;
        }
        if (k != i)
            memcpy(pp_vec_at(&nt->bpf_threads, k), t, sizeof *t);
        k++;
    }
    if (!changed)
        return;
    nt->bpf_threads.len = k;
    pp_hmap_clear(&nt->bpf_thread_ids);
    for (i = 0; i < k; i++) {
        struct pp_bpf_thread *t = pp_vec_at(&nt->bpf_threads, i);
        pp_hmap_put(&nt->bpf_thread_ids, (uint64_t)(uint32_t)t->tid, i + 1);
    }
}

/* The program's tid -> thread state map, from the walker's discovery. */
static void
refresh_tmap(struct pp_session *s, uint64_t now)
{
    struct pp_native *nt = s->nat;
    size_t i;

    nt->bpf_tmap_ns = now;
    if (pp_native_threads(s) != 0)
        return;
    pp_hmap_clear(&nt->bpf_tstate_ids);
    for (i = 0; i < nt->bpf_threads.len; i++)
        ((struct pp_bpf_thread *)pp_vec_at(&nt->bpf_threads, i))->seen = false;
    for (i = 0; i < s->threads.len; i++) {
        struct pp_pythread *t = pp_vec_at(&s->threads, i);
        struct pp_bpf_thread *bt;
        struct pp_task *task;
        int tid;
        pp_hmap_put(&nt->bpf_tstate_ids, t->tstate_addr, i + 1);
        if (t->native_tid <= 0)
            continue;
        task = pp_proc_tasks_find_ns(&s->tasks, (int)t->native_tid);
        tid = task ? task->tid : (int)t->native_tid;
        if (!(bt = thread_of(nt, tid)))
            continue;
        bt->seen = true;
        if (bt->tstate != t->tstate_addr && pp_bpf_thread_set(tid, t->tstate_addr) == 0)
            bt->tstate = t->tstate_addr;
    }
    for (i = 0; i < nt->bpf_threads.len; i++) { /* threads without Python (any more) */
        struct pp_bpf_thread *bt = pp_vec_at(&nt->bpf_threads, i);
        if (!bt->seen && bt->tstate) {
            pp_bpf_thread_set(bt->tid, 0);
            bt->tstate = 0;
        }
        bt->seen = true;
    }
}

int
pp_mode_bpf_open(struct pp_session *s, char *why, size_t whylen, bool *why_perf)
{
    struct pp_native *nt = s->nat;
    struct pp_bpf_config cfg;
    size_t i;
    int err, e = 0, opened = 0;

    *why_perf = false;
    if (pp_native_denied_by_test("bpf")) {
        snprintf(why, whylen, "BPF refused (PYPROF_DENY=bpf, as a kernel without CAP_BPF would)");
        return PP_EPERM;
    }
    if (s->opts.event.cls == PP_EVENT_TRACEPOINT || s->opts.offcpu) {
        /* a tracepoint takes another program type; --off-cpu reads switch records */
        snprintf(why, whylen, "%s is sampled through perf events only",
                 s->opts.offcpu ? "--off-cpu" : s->opts.event.name);
        *why_perf = true;
        return PP_ENOTFOUND;
    }
    if (pp_native_denied_by_test("perf")) { /* the program runs on perf events */
        snprintf(why, whylen, "perf events on this process are not permitted (%s)",
                 strerror(EACCES));
        *why_perf = true;
        return PP_EPERM;
    }
    if (pp_pyframe_capture_config(&s->layout, s->opts.stack_size ? s->opts.stack_size
                                                                  : PP_PERF_STACK_DEFAULT,
                                  PP_BPF_MAX_FRAMES, &cfg) != 0) {
        snprintf(why, whylen, "this interpreter's frame layout does not fit the capture program");
        return PP_EVERSION;
    }
    if ((err = pp_bpf_open(why, whylen)))
        return err;
    nt->bpf_open = true;
    nt->bpf_rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid() ^ pp_now_ns();
    pp_vec_init(&nt->bpf_threads, sizeof(struct pp_bpf_thread));
    pp_hmap_init(&nt->bpf_thread_ids);
    pp_hmap_init(&nt->bpf_tstate_ids);
    if ((err = pp_bpf_config_set(s->pid, &cfg)) || (err = register_session(s))) {
        snprintf(why, whylen, "cannot configure the capture program");
        return err;
    }
    pp_proc_tasks_refresh(s->pid, &s->tasks);
    for (i = 0; i < s->tasks.n; i++) {
        err = add_thread(s, s->tasks.v[i].tid, &e);
        if ((err == PP_EPERM || err == PP_ENOEVENT) && opened == 0) {
            snprintf(why, whylen, "perf events on this process are not permitted (%s)",
                     strerror(e ? e : EPERM));
            *why_perf = true; /* the perf mode meets the same refusal and says it */
            return err;
        }
        if (!err)
            opened++;
    }
    if (!opened) {
        snprintf(why, whylen, "no thread of the process could be sampled");
        return PP_EGONE;
    }
    refresh_tmap(s, pp_now_ns());
    return 0;
}

/* pt_regs (x86-64) -> DWARF register numbers 0-16 */
static const int dwarf_from_pt[PP_UNWIND_NREGS] = {
    10, 12, 11, 5, 13, 14, 4, 19, 9, 8, 7, 6, 3, 2, 1, 0, 16,
};

int
pp_mode_bpf_record(struct pp_session *s, const struct pp_bpf_record *r)
{
    struct pp_native *nt = s->nat;
    struct pp_native_py *py = &nt->py;
    struct pp_bpf_thread *bt;
    uint64_t regs[PP_UNWIND_NREGS], now = pp_now_ns(), lat;
    int i, err;

    if (!(r->flags & PP_BPF_REC_REGS) || r->stack_len == 0 || r->stack_len > PP_BPF_STACK_MAX) {
        nt->no_user++; /* no user context: the thread was exiting */
        return 0;
    }
    s->st.ticks++;
    if (s->opts.event.jitter && (bt = thread_of(nt, (int)r->tid)) && bt->fd >= 0) {
        uint64_t period = next_period(s); /* the next period, jittered */
        ioctl(bt->fd, PERF_EVENT_IOC_PERIOD, &period);
    }
    lat = now > r->time_ns ? (now - r->time_ns) / 1000 : 0;
    if (nt->nlat < PP_NATIVE_LAT_KEEP)
        nt->lat_us[nt->nlat++] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
    for (i = 0; i < PP_UNWIND_NREGS; i++)
        regs[i] = r->regs[dwarf_from_pt[i]];

    memset(py, 0, sizeof(*py));
    if (s->native_only) {
        /* no Python in it (-a): the native stack alone */
    } else if (r->flags & PP_BPF_REC_TSTATE) {
        static struct pp_pyframe_raw raw[PP_BPF_MAX_FRAMES];
        size_t n = r->nframes > PP_BPF_MAX_FRAMES ? PP_BPF_MAX_FRAMES : r->nframes;
        bool ended = !(r->flags & (PP_BPF_REC_PYFAULT | PP_BPF_REC_PYTRUNC | PP_BPF_REC_PYBASE));
        uint64_t v;
        if (pp_hmap_get(&nt->bpf_tstate_ids, r->tstate, &v) && v - 1 < s->threads.len)
            py->thread = pp_vec_at(&s->threads, v - 1);
        if (py->thread && py->thread->tstate_addr != r->tstate) /* re-read since the map */
            py->thread = NULL;
        for (i = 0; !py->thread && (size_t)i < s->threads.len; i++) {
            struct pp_pythread *t = pp_vec_at(&s->threads, (size_t)i);
            if (t->tstate_addr == r->tstate)
                py->thread = t;
        }
        if (r->flags & PP_BPF_REC_PYFAULT) {
            nt->bpf_pyfault++;
            py->err = PP_EFAULT;
        } else {
            if (r->flags & PP_BPF_REC_PYTRUNC)
                nt->bpf_pytrunc++;
            pp_mem_cache_reset(s->mem);
            py->err = pp_pyframe_from_capture(&s->layout, r->frames, n, ended, raw);
            if (py->err)
                pp_log_debug("bpf: tid %u: captured chain of %zu frames refused (flags %#x)",
                             r->tid, n, r->flags);
            if (!py->err)
                py->err = pp_pystack_name(&s->py, raw, n, (r->flags & PP_BPF_REC_PYTRUNC) != 0,
                                          &py->stack);
            if (py->err)
                pp_log_debug("bpf: tid %u: %zu frames: %s", r->tid, n, pp_strerror(py->err));
        }
        if (!py->err && s->opts.gil && py->thread) { /* --gil: read now, not exact */
            uint64_t gil, holder;
            if (pp_pyframe_gil(&s->walker, py->thread->interp_addr, &gil, &holder) == 0 &&
                holder != py->thread->tstate_addr)
                py->gil_skip = true;
        }
    } else {
        /* a thread the map did not know (new, or without Python): look
         * again now; a Python thread found so is read from here (late) */
        if (now - nt->bpf_tmap_ns > PP_BPF_TMAP_MIN_NS)
            refresh_tmap(s, now);
        if ((bt = thread_of(nt, (int)r->tid)) && bt->tstate) {
            if (nt->bpf_system && lat > PP_BPF_STALE_US) {
                /* -a: the process's session was being set up; the Python
                 * stack read now would not be the sample's */
                nt->stale++;
                s->st.errors_transient++;
                return 0;
            }
            nt->bpf_late++;
            pp_native_capture_py(s, (int)r->tid);
        } else if (s->opts.gil) {
            py->gil_skip = true; /* no thread state: cannot hold the GIL */
        }
    }
    if ((err = pp_native_process(s, (int)r->tid, regs, r->stack, r->stack_len, r->time_ns)))
        return err;
    s->st.sample_ns_total += pp_now_ns() - now;
    return 0;
}

static int
on_record(void *arg, const struct pp_bpf_record *r)
{
    struct pp_session *s = session_of(r->pid);
    int err;
    (void)arg;
    if (!s || !s->nat) /* its session ended: the records left of it are dropped */
        return 0;
    err = pp_mode_bpf_record(s, r);
    return err && pp_err_class(err) == PP_FATAL ? err : 0;
}

static int
bpf_drain(struct pp_session *s, const struct pollfd *fds, size_t n, uint64_t end)
{
    (void)s;
    (void)fds;
    (void)n;
    (void)end;
    if (pp_stop_requested)
        return 0;
    return pp_bpf_consume(on_record, NULL);
}

static size_t
bpf_pollfds(struct pp_session *s, struct pollfd *fds, size_t max, bool *ready)
{
    (void)s;
    (void)ready;
    if (max == 0)
        return 0;
    fds[0].fd = pp_bpf_ring_fd();
    fds[0].events = POLLIN;
    fds[0].revents = 0;
    return fds[0].fd >= 0 ? 1 : 0;
}

/* New threads (every 100 ms), the thread map; PP_EGONE once the process is
 * gone and its records are drained. */
static void
refresh_threads(struct pp_session *s, uint64_t now)
{
    struct pp_native *nt = s->nat;
    bool added = false;
    size_t i;
    int why;

    if (now - nt->last_tasks_ns > PP_NATIVE_REFRESH_TASKS_NS) {
        nt->last_tasks_ns = now;
        if (pp_proc_tasks_refresh(s->pid, &s->tasks) == 0) {
            for (i = 0; i < nt->bpf_threads.len; i++)
                ((struct pp_bpf_thread *)pp_vec_at(&nt->bpf_threads, i))->seen = false;
            for (i = 0; i < s->tasks.n; i++) {
                struct pp_bpf_thread *bt = thread_of(nt, s->tasks.v[i].tid);
                if (bt)
                    bt->seen = true;
                else if (add_thread(s, s->tasks.v[i].tid, &why) == 0)
                    added = true;
            }
            compact_threads(nt);
        }
    }
    /* a new thread's state goes in the map before its first samples arrive */
    if (added || now - nt->bpf_tmap_ns > PP_BPF_TMAP_NS)
        refresh_tmap(s, now);
}

static int
bpf_maintain(struct pp_session *s, uint64_t now)
{
    if (pp_session_child_gone(s) || (s->opts.pid && kill(s->pid, 0) != 0 && errno == ESRCH)) {
        pp_bpf_consume(on_record, NULL);
        s->target_gone = true;
        return PP_EGONE;
    }
    refresh_threads(s, now);
    return 0;
}

static void
bpf_detach(struct pp_session *s)
{
    struct pp_native *nt = s->nat;
    size_t i;
    if (!nt || !nt->bpf_open)
        return;
    for (i = 0; i < nt->bpf_threads.len; i++) {
        struct pp_bpf_thread *t = pp_vec_at(&nt->bpf_threads, i);
        if (t->fd >= 0) {
            close(t->fd); /* the program no longer runs for it */
            t->fd = -1;
        }
        if (t->tstate) {
            pp_bpf_thread_set(t->tid, 0);
            t->tstate = 0;
        }
    }
    if (!nt->bpf_system) /* -a: the process set drains the ring (and routes) */
        pp_bpf_consume(on_record, NULL); /* what is left of this session's */
    pp_bpf_config_set(s->pid, NULL);
    unregister_session(s);
}

static void
bpf_out_info(struct pp_session *s, struct pp_out_info *info)
{
    uint64_t c[PP_BPF_CNT_N], run_ns, run_cnt;
    pp_native_out_info(s, info);
    if (!s->nat || !s->nat->bpf_open)
        return;
    pp_out_stat(info, "bpf_late_py", s->nat->bpf_late);
    pp_out_stat(info, "bpf_py_fault", s->nat->bpf_pyfault);
    pp_out_stat(info, "bpf_py_truncated", s->nat->bpf_pytrunc);
    if (s->nat->bpf_system) { /* the program's own figures: once, in the process set's */
        pp_out_stat(info, "stale_dropped", s->nat->stale);
        return;
    }
    pp_bpf_counters(c);
    pp_out_stat(info, "bpf_runs", c[PP_BPF_CNT_RUNS]);
    if (pp_bpf_run_stats(&run_ns, &run_cnt) == 0 && run_cnt) {
        pp_out_stat(info, "bpf_run_ns_avg", run_ns / run_cnt);
        pp_out_stat(info, "bpf_run_cnt", run_cnt);
    }
}

void
pp_mode_bpf_release(struct pp_session *s)
{
    struct pp_native *nt = s->nat;
    if (!nt || !nt->bpf_open)
        return;
    bpf_detach(s);
    pp_vec_free(&nt->bpf_threads);
    pp_hmap_free(&nt->bpf_thread_ids);
    pp_hmap_free(&nt->bpf_tstate_ids);
    pp_bpf_close();
    nt->bpf_open = false;
}

static void
bpf_free(struct pp_session *s)
{
    pp_mode_bpf_release(s);
    pp_native_free(s);
}

/* ==== -a (system.c, multi.c) ==== */

int
pp_mode_bpf_system_init(struct pp_session *s)
{
    struct pp_native *nt = s->nat;
    struct pp_bpf_config cfg;
    char why[300];
    size_t i;
    int err, e;

    if ((err = pp_bpf_open(why, sizeof why))) /* a reference: the process set holds one */
        return err;
    nt->bpf_open = nt->bpf_system = true;
    nt->mode = PP_NATIVE_BPF;
    pp_vec_init(&nt->bpf_threads, sizeof(struct pp_bpf_thread));
    pp_hmap_init(&nt->bpf_thread_ids);
    pp_hmap_init(&nt->bpf_tstate_ids);
    s->mode = &pp_mode_bpf_system;
    nt->last_tasks_ns = pp_now_ns();
    if (s->native_only)
        return 0; /* the defaults entry serves it: registers and stack */
    if (pp_pyframe_capture_config(&s->layout, s->opts.stack_size ? s->opts.stack_size
                                                                  : PP_PERF_STACK_DEFAULT,
                                  PP_BPF_MAX_FRAMES, &cfg) != 0)
        pp_log_info("-a: PID %d: its frame layout does not fit the capture program: Python "
                    "frames read late", s->pid);
    else if (pp_bpf_config_set(s->pid, &cfg) != 0)
        pp_log_warn("-a: PID %d: cannot configure the capture program: Python frames read late",
                    s->pid);
    pp_proc_tasks_refresh(s->pid, &s->tasks);
    for (i = 0; i < s->tasks.n; i++)
        add_thread(s, s->tasks.v[i].tid, &e);
    refresh_tmap(s, pp_now_ns());
    return 0;
}

void
pp_mode_bpf_system_maintain(struct pp_session *s, uint64_t now)
{
    if (!s->native_only && s->nat && s->nat->bpf_system)
        refresh_threads(s, now);
}

/* -a's sessions: fed by the process set, they only write and forget */
const struct pp_mode_ops pp_mode_bpf_system = {
    .name = "system",
    .need = 0,
    .detach = bpf_detach,
    .expand = pp_native_expand,
    .out_info = bpf_out_info,
    .summary = pp_native_summary,
    .free = bpf_free,
};

const struct pp_mode_ops pp_mode_bpf = {
    .name = "bpf",
    .need = 0,
    .pollfds = bpf_pollfds,
    .drain = bpf_drain,
    .maintain = bpf_maintain,
    .detach = bpf_detach,
    .expand = pp_native_expand,
    .out_info = bpf_out_info,
    .summary = pp_native_summary,
    .free = bpf_free,
};
