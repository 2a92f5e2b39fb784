/*
 * sample.c -- session orchestration (layer L5).
 *
 * Start: launch or check the PID, open the live memory reader, find the
 * runtime, pick and validate the layout (the capture mode is chosen next,
 * mode.c).  Run: the one loop (loop.c) over this session, which its mode
 * (struct pp_mode_ops) samples.  The Python-only tick is here:
 * pp_session_tick() reads every thread state, skips threads that are not
 * on CPU (unless --idle; the state comes from /proc before the thread's
 * memory is touched), reads each thread's stack (pystack.c) and counts it.
 * The target is never stopped in this mode.  Then the outputs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "elf.h"
#include "err.h"
#include "log.h"
#include "loop.h"
#include "out.h"
#include "pstop.h"
#include "sample.h"

#define LAUNCH_FIND_TIMEOUT_NS (3ULL * 1000000000ULL)
#define LAUNCH_READY_TIMEOUT_NS (10ULL * 1000000000ULL)
#define TASK_REFRESH_NS (200ULL * 1000000ULL)

static void
sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL)};
    nanosleep(&ts, NULL);
}

/* Launched child: has it exited?  Records the status once. */
bool
pp_session_child_gone(struct pp_session *s)
{
    int status;
    if (!s->launched) {
        size_t i;
        if (kill(s->pid, 0) != 0 && errno == ESRCH)
            return true;
        /* a zombie (its parent has not waited for it yet) is gone too */
        for (i = 0; i < s->tasks.n; i++)
            if (s->tasks.v[i].tid == s->pid)
                return pp_proc_task_state(s->pid, &s->tasks.v[i]) == 'Z';
        return false;
    }
    /* reaped anywhere (a wait for a ptrace stop may have taken it): the
     * one record of its status */
    if (pp_proc_child_reaped(s->pid, &status)) {
        s->target_gone = true;
        s->target_status = status;
        return true;
    }
    if (s->target_gone)
        return true;
    /* __WALL: with --blocking the child is also our tracee, and its stops
     * come here too; such a stop is handed back, not taken for an exit */
    if (pp_proc_waitpid(s->pid, &status, WNOHANG | __WALL) == s->pid) {
        if (WIFSTOPPED(status)) {
            pp_pstop_resume(s->pid, status);
            return false;
        }
        s->target_gone = true;
        s->target_status = status;
        return true;
    }
    return false;
}

/*
 * No _PyRuntime (CPython 3.7+) found: is it an older CPython (2.7, 3.6)?
 * Every CPython exports Py_GetVersion; such a target is an unsupported
 * version (exit 6), not "not a Python process" (exit 5).  The version is
 * read from the file name (python2.7, libpython3.6m.so.1.0) when it says.
 */
static bool
old_cpython(struct pp_session *s)
{
    char exe[4096], link[64], real[4200];
    ssize_t n;
    size_t i;

    snprintf(link, sizeof(link), "/proc/%d/exe", s->pid);
    n = readlink(link, exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    for (i = 0; i <= s->maps.n && i < 4096; i++) {
        const char *path = i < s->maps.n ? s->maps.v[i].path : exe;
        const char *base = strrchr(path, '/');
        struct pp_elf e;
        uint64_t value;
        bool found;
        base = base ? base + 1 : path;
        if (path[0] != '/' || (i < s->maps.n && s->maps.v[i].offset != 0) ||
            (i < s->maps.n && !strstr(base, "python")))
            continue;
        pp_proc_root_path(s->pid, path, real, sizeof(real));
        if (pp_elf_open(real, &e) != 0)
            continue;
        found = pp_elf_find_symbol(&e, "Py_GetVersion", &value, NULL) == 0;
        pp_elf_close(&e);
        if (found) {
            const char *v = strstr(base, "python");
            unsigned major, minor;
            if (v && sscanf(v + 6, "%u.%u", &major, &minor) == 2 && major <= 3)
                snprintf(s->rt.version_str, sizeof(s->rt.version_str), "%u.%u", major, minor);
            else
                snprintf(s->rt.version_str, sizeof(s->rt.version_str), "older than 3.7");
            return true;
        }
    }
    return false;
}

static int
find_runtime(struct pp_session *s)
{
    int err;
    pp_maps_free(&s->maps);
    err = pp_maps_read(s->pid, &s->maps);
    if (err)
        return err;
    err = pp_pyruntime_find(s->pid, &s->maps, s->mem, &s->rt);
    if (err == PP_ENOTPY && old_cpython(s))
        err = PP_EVERSION;
    return err;
}

static int
launch(struct pp_session *s)
{
    uint64_t t0;
    int err;

    err = pp_proc_spawn(s->opts.argv, &s->pid);
    if (err)
        return err; /* errno tells why; main reports it */
    s->launched = true;
    if ((err = pp_mem_live_new(s->pid, &s->mem)))
        return err;
    /* the loader maps libpython (or the static interpreter) at once */
    t0 = pp_now_ns();
    for (;;) {
        err = find_runtime(s);
        if (err == 0 || err == PP_EVERSION || err == PP_EPERM)
            break;
        if (pp_session_child_gone(s) || pp_now_ns() - t0 > LAUNCH_FIND_TIMEOUT_NS || pp_stop_requested)
            break;
        sleep_ns(1000000);
    }
    return err;
}

static int
attach(struct pp_session *s)
{
    uint64_t probe;
    int err = pp_proc_check(s->opts.pid);

    if (err)
        return err;
    s->pid = s->opts.pid;
    if ((err = pp_mem_live_new(s->pid, &s->mem)))
        return err;
    if (s->opts.known_native) /* -a: another process of this executable was not Python */
        return PP_ENOTPY;
    err = find_runtime(s);
    if (err == PP_EIO)
        err = PP_EPERM; /* maps or files unreadable to us */
    if (err)
        return err;
    /* a read of the runtime itself tells whether ptrace access is granted */
    return pp_mem_read(s->mem, s->rt.runtime_addr, &probe, sizeof(probe));
}

int
pp_session_start(struct pp_session *s, const struct pp_session_opts *opts)
{
    struct timeval tv;
    int err;

    memset(s, 0, sizeof(*s));
    s->opts = *opts;
    s->attach_ns = pp_now_ns();
    pp_strtab_init(&s->strs);
    pp_pycode_init(&s->codes, &s->strs);
    pp_agg_init(&s->agg, &s->strs);
    s->agg.keep_timestamps = opts->timestamps;
    pp_vec_init(&s->threads, sizeof(struct pp_pythread));
    pp_hmap_init(&s->tid_seen);
    s->stack_buf = calloc(PP_MAX_DEPTH + 2, sizeof(*s->stack_buf));
    if ((err = pp_pystack_init(&s->py, &s->walker, &s->codes, &s->agg)) || !s->stack_buf)
        return err ? err : PP_ENOMEM;
    err = opts->argv ? launch(s) : attach(s);
    if ((err == PP_ENOTPY || err == PP_EVERSION) && opts->native_only_ok && s->mem) {
        s->native_only = true; /* -a: a native program, sampled without Python frames */
        err = pp_mem_cache_enable(s->mem);
    }
    if (err)
        return err;
    if (s->native_only)
        goto named;
    if ((err = pp_mem_cache_enable(s->mem)) ||
        (err = pp_pylayout_pick(s->mem, s->rt.runtime_addr, s->rt.version_hex, &s->layout)))
        return err;
    pp_pywalker_init(&s->walker, s->mem, &s->layout, &s->codes, s->rt.runtime_addr);
    if (opts->gil && s->layout.free_threaded)
        pp_log_warn("PID %d runs a free-threaded Python: --gil filters only while an "
                    "extension has turned the GIL on; otherwise every running thread is sampled",
                    s->pid);
    if (s->launched) {
        uint64_t t0 = pp_now_ns();
        while (!pp_pyframe_runtime_ready(&s->walker) && !pp_session_child_gone(s) && !pp_stop_requested &&
               pp_now_ns() - t0 < LAUNCH_READY_TIMEOUT_NS)
            sleep_ns(500000);
    }
named:
    pp_proc_cmdline(s->pid, s->cmdline, sizeof(s->cmdline));
    {
        uint32_t name, file;
        if ((err = pp_strtab_intern(&s->strs, "<truncated>", 11, &name)) ||
            (err = pp_strtab_intern(&s->strs, "", 0, &file)) ||
            (err = pp_agg_frame(&s->agg, PP_FRAME_MARKER, name, file, 0, &s->truncated_frame)) ||
            (err = pp_strtab_intern(&s->strs, "<waiting for GIL>", 17, &name)) ||
            (err = pp_agg_frame(&s->agg, PP_FRAME_MARKER, name, file, 0, &s->gil_wait_frame)))
            return err;
    }
    pp_proc_tasks_refresh(s->pid, &s->tasks);
    gettimeofday(&tv, NULL);
    s->start_unix = (double)tv.tv_sec + tv.tv_usec / 1e6;
    pp_session_begin(s);
    return 0;
}

void
pp_session_begin(struct pp_session *s)
{
    s->start_ns = pp_now_ns();
    s->status_ns = s->start_ns;
    s->exec_id = pp_proc_exec_id(s->pid);
    s->exec_checked_ns = s->start_ns;
    if (s->mode)
        pp_log_info("sampling PID %d (Python %s, runtime at 0x%llx in %s), %s mode", s->pid,
                    s->rt.version_str, (unsigned long long)s->rt.runtime_addr, s->rt.path,
                    s->mode->name);
}

/* ==== one tick ==== */

/* Is the target leaving (PF_EXITING in /proc/PID/stat's flags)?  Its
 * memory goes before it can be waited for. */
static bool
target_exiting(int pid)
{
    char path[64], buf[512], *p;
    unsigned long flags = 0;
    FILE *f;
    int i;

    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if (!(f = fopen(path, "r")))
        return true;
    p = fgets(buf, sizeof buf, f);
    fclose(f);
    if (!p || !(p = strrchr(buf, ')')))
        return false;
    for (i = 0; i < 7 && p; i++) /* ") S ppid pgrp session tty tpgid flags" */
        p = strchr(p + 1, ' ');
    if (p)
        flags = strtoul(p + 1, NULL, 10);
    return (flags & 0x4) != 0; /* PF_EXITING */
}

void
pp_session_count_error(struct pp_session *s, int err)
{
    /* the target's own exit makes the last read fail: that is no error */
    if (pp_session_child_gone(s) || target_exiting(s->pid) || pp_pyframe_finalizing(&s->walker))
        return;
    if (s->st.errors_transient + s->st.errors_baddata < 10)
        pp_log_debug("sample: thread sample dropped: %s", pp_strerror(err));
    if (pp_err_class(err) == PP_BADDATA)
        s->st.errors_baddata++;
    else
        s->st.errors_transient++;
}

/*
 * Thread names.  A thread is named once per TID: its Python name
 * (threading.Thread.name, looked up by tstate->thread_id in
 * threading._active), else the OS comm.  tid_seen maps the TID to the agg
 * thread index + 1 in the low 32 bits; a TID still waiting for its Python
 * name also has PYNAME_PENDING and the tick it was first seen in.  It
 * shows its comm until a name list read in or after that tick names it (an
 * older list may hold a dead thread's reused pthread_t).  The list is read
 * again only for such a pending thread, at most every pynames_backoff_ns:
 * 100 ms, doubling up to 3.2 s while reads name nothing (native threads,
 * no threading module); a new TID resets it.
 */
#define PYNAME_PENDING (1ULL << 63)
#define PYNAME_TICK_MASK 0x7fffffffULL
#define PYNAME_REREAD_NS (100ULL * 1000000ULL)
#define PYNAME_REREAD_MAX_NS (3200ULL * 1000000ULL)

static const char *
pyname_lookup(struct pp_session *s, const struct pp_pythread *t, uint64_t first_tick,
              uint64_t now, int *err)
{
    const char *name = NULL;
    int rerr;

    *err = 0;
    if (s->pynames_read && ((s->pynames_tick - first_tick) & PYNAME_TICK_MASK) <=
                               (PYNAME_TICK_MASK >> 1)) /* read since first seen */
        name = pp_pythreadname_find(&s->pynames, t->thread_id);
    if (name || now - s->pynames_ns < s->pynames_backoff_ns)
        return name;
    rerr = pp_pythreadname_read(s->mem, &s->layout, t->interp_addr, &s->pynames);
    if (rerr == PP_ENOMEM)
        *err = rerr;
    s->pynames_read = true;
    s->pynames_ns = now;
    s->pynames_tick = s->st.ticks & PYNAME_TICK_MASK;
    name = pp_pythreadname_find(&s->pynames, t->thread_id);
    if (name)
        s->pynames_backoff_ns = PYNAME_REREAD_NS;
    else if (s->pynames_backoff_ns < PYNAME_REREAD_MAX_NS)
        s->pynames_backoff_ns *= 2;
    return name;
}

int
pp_session_thread_idx(struct pp_session *s, const struct pp_pythread *t, int tid, uint64_t now,
                      uint32_t *idx)
{
    uint64_t key = (uint64_t)(uint32_t)tid, v, first_tick;
    const char *name;
    char comm[64];
    int err;

    if (pp_hmap_get(&s->tid_seen, key, &v)) {
        *idx = (uint32_t)v - 1;
        if (!(v & PYNAME_PENDING) || !t) /* no thread state this time: nothing to look up */
            return 0;
        first_tick = (v >> 32) & PYNAME_TICK_MASK;
    } else if (s->agg.threads.len >= (s->opts.max_threads ? s->opts.max_threads
                                                             : PP_THREADS_MAX)) {
        /* as many threads as we keep apart: later ones share one entry
         * (the counts per (stack, thread) stay bounded under thread churn) */
        if (!s->threads_capped) {
            s->threads_capped = true;
            pp_log_warn("PID %d: more than %zu threads seen; later ones are counted together "
                        "as thread -1 (<other threads>)", s->pid, s->agg.threads.len);
        }
        s->st.threads_merged++;
        return pp_agg_thread(&s->agg, -1, "<other threads>", idx) ? PP_ENOMEM : 0;
    } else {
        if (tid > 0)
            pp_proc_task_comm(s->pid, tid, comm, sizeof(comm));
        else /* the TID could not be told (<=3.10, before a second thread) */
            snprintf(comm, sizeof(comm), "unknown");
        if (pp_agg_thread(&s->agg, tid, comm, idx))
            return PP_ENOMEM;
        if (tid <= 0 || !t || !t->thread_id) /* no stable identity to name */
            return pp_hmap_put(&s->tid_seen, key, *idx + 1);
        first_tick = s->st.ticks & PYNAME_TICK_MASK;
        s->pynames_backoff_ns = PYNAME_REREAD_NS;
    }
    name = pyname_lookup(s, t, first_tick, now, &err);
    if (err)
        return err;
    if (!name)
        return pp_hmap_put(&s->tid_seen, key,
                           (uint64_t)(*idx + 1) | PYNAME_PENDING | first_tick << 32);
    if (pp_agg_thread(&s->agg, tid, name, idx))
        return PP_ENOMEM;
    return pp_hmap_put(&s->tid_seen, key, *idx + 1);
}

static int
sample_thread(struct pp_session *s, struct pp_pythread *t, struct pp_task *task,
              bool force_all, uint64_t now)
{
    struct pp_pystack ps;
    size_t nf = 0, depth = 0, i;
    uint32_t idx, stack;
    int tid = task ? task->tid : (int)t->native_tid;
    int err;

    bool running = true;

    if (s->opts.gil && s->gil_addr && t->tstate_addr != s->gil_holder) {
        pp_pyframe_spec_drop(&s->walker, t);
        s->st.gil_skipped++; /* --gil: not the thread holding the GIL */
        return 0;
    }
    if (!force_all && task) {
        running = pp_proc_state_is_running(pp_proc_task_state(s->pid, task));
        if (!running && !s->opts.idle) {
            pp_pyframe_spec_drop(&s->walker, t); /* don't read ahead for idle threads */
            s->st.idle_skipped++;
            return 0;
        }
    }
    err = pp_pystack_read(&s->py, t, PP_MAX_DEPTH, &ps);
    if (err) {
        pp_session_count_error(s, err);
        return pp_err_class(err) == PP_FATAL ? err : 0;
    }
    if (ps.truncated) {
        s->stack_buf[depth++] = s->truncated_frame;
        s->st.truncated++;
    }
    nf = depth;
    for (i = 0; i < ps.n; i++) /* root first; activations without a frame left out */
        if (ps.v[i].id != UINT32_MAX)
            s->stack_buf[depth++] = ps.v[i].id;
    if (depth == nf) {
        s->st.empty++;
        return 0;
    }
    if (!running && s->gil_addr && t->tstate_addr != s->gil_holder) {
        /* asleep on the GIL's condition variable or mutex: waiting for it */
        unsigned long long uaddr;
        if (pp_proc_task_futex(s->pid, tid, &uaddr) == 0 && uaddr >= s->gil_addr &&
            uaddr < s->gil_addr + PP_GIL_SPAN && depth < PP_MAX_DEPTH + 1) {
            s->stack_buf[depth++] = s->gil_wait_frame;
            s->st.gil_waiting++;
        }
    }
    if ((err = pp_agg_stack(&s->agg, s->stack_buf, depth, &stack)) ||
        (err = pp_session_thread_idx(s, t, tid > 0 ? tid : 0, now, &idx)) ||
        (err = pp_agg_add(&s->agg, stack, idx, now - s->start_ns)))
        return err;
    s->st.samples++;
    if (!s->first_sample_ns)
        s->first_sample_ns = pp_now_ns();
    return 0;
}

int
pp_session_tick(struct pp_session *s, bool force_all)
{
    uint64_t t0 = pp_now_ns();
    bool refreshed = false;
    size_t i;
    int err;

    s->st.ticks++;
    pp_mem_cache_reset(s->mem);
    if (t0 - s->tasks_refreshed_ns > TASK_REFRESH_NS) {
        if (pp_proc_tasks_refresh(s->pid, &s->tasks) == PP_EGONE)
            return PP_EGONE;
        s->tasks_refreshed_ns = t0;
        refreshed = true;
    }
    err = pp_pyframe_threads(&s->walker, &s->threads);
    if (err) {
        pp_session_count_error(s, err);
        return pp_session_child_gone(s) ? PP_EGONE : 0;
    }
    if (s->layout.o.tstate_native_thread_id < 0 &&
        pp_pyframe_map_tids(&s->walker, &s->threads, &s->tasks) != 0 && !refreshed &&
        s->threads.len > 1) {
        /* new threads' TIDs may not be listed yet: list them and retry once */
        pp_proc_tasks_refresh(s->pid, &s->tasks);
        refreshed = true;
        s->tasks_refreshed_ns = t0;
        pp_pyframe_map_tids(&s->walker, &s->threads, &s->tasks);
    }
    s->gil_addr = s->gil_holder = 0;
    if ((s->opts.gil || s->opts.idle) && s->threads.len &&
        pp_pyframe_gil(&s->walker, ((struct pp_pythread *)pp_vec_at(&s->threads, 0))->interp_addr,
                       &s->gil_addr, &s->gil_holder) != 0)
        s->gil_addr = s->gil_holder = 0; /* unknown this tick: no filter, no marker */
    for (i = 0; i < s->threads.len; i++) {
        struct pp_pythread *t = pp_vec_at(&s->threads, i);
        struct pp_task *task = NULL;
        if (t->native_tid > 0) {
            task = pp_proc_tasks_find_ns(&s->tasks, (int)t->native_tid);
            if (!task && !refreshed) {
                pp_proc_tasks_refresh(s->pid, &s->tasks);
                refreshed = true;
                s->tasks_refreshed_ns = t0;
                task = pp_proc_tasks_find_ns(&s->tasks, (int)t->native_tid);
            }
        }
        if ((err = sample_thread(s, t, task, force_all, t0)))
            return err;
    }
    s->st.sample_ns_total += pp_now_ns() - t0;
    return 0;
}

/* ==== exec ==== */

#define EXEC_CHECK_NS (200ULL * 1000000ULL)

bool
pp_session_exec_check(struct pp_session *s, uint64_t now)
{
    unsigned long long id;

    if (s->exec_seen)
        return true;
    if (!s->exec_id || now - s->exec_checked_ns < EXEC_CHECK_NS)
        return false;
    s->exec_checked_ns = now;
    id = pp_proc_exec_id(s->pid);
    if (!id || id == s->exec_id) /* 0: gone or unreadable, seen elsewhere */
        return false;
    s->exec_seen = true;
    pp_proc_cmdline(s->pid, s->exec_cmdline, sizeof(s->exec_cmdline));
    for (char *c = s->exec_cmdline; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    pp_session_status_clear(s);
    pp_log_warn("PID %d exec'd another program (%.120s) after %.1f s: sampling ends here, the "
                "profile covers the program before the exec (--subprocesses follows an exec)",
                s->pid, s->exec_cmdline, (now - s->start_ns) / 1e9);
    return true;
}

void
pp_session_wait_exit(struct pp_session *s)
{
    uint64_t end = s->opts.duration_s > 0 ? s->start_ns + (uint64_t)(s->opts.duration_s * 1e9)
                                          : UINT64_MAX;
    if (!s->launched || !s->exec_seen)
        return;
    while (!pp_stop_requested && !pp_session_child_gone(s) && pp_now_ns() < end)
        sleep_ns(20000000);
}

/* ==== the loop (loop.c) over one process ==== */

static unsigned
session_prepare(void *arg, uint64_t now, struct pollfd *fds, size_t max, size_t *nfds,
                bool *ready)
{
    struct pp_session *s = arg;
    (void)now;
    if (s->mode->pollfds)
        *nfds = s->mode->pollfds(s, fds, max, ready);
    return s->mode->need;
}

static int
session_drain(void *arg, const struct pollfd *fds, size_t nfds, uint64_t end)
{
    struct pp_session *s = arg;
    return s->mode->drain(s, fds, nfds, end);
}

static int
session_tick(void *arg, bool late)
{
    struct pp_session *s = arg;
    int err;
    if (late)
        s->st.late_ticks++;
    err = s->mode->tick(s);
    if (err == PP_EGONE)
        s->target_gone = true;
    return err;
}

static void
session_child(void *arg)
{
    struct pp_session *s = arg;
    s->mode->child(s);
}

static void
session_flush(void *arg)
{
    struct pp_session *s = arg;
    int err;
    s->end_ns = pp_now_ns();
    if ((err = pp_session_write(s)))
        pp_log_warn("snapshot not written: %s", pp_strerror(err));
    else
        pp_log_info("snapshot written");
}

static bool
session_after(void *arg, uint64_t now)
{
    struct pp_session *s = arg;
    pp_session_status(s, now);
    if (s->mode->maintain) {
        if (s->mode->maintain(s, now) == PP_EGONE)
            return true;
    } else if (pp_session_child_gone(s)) {
        s->target_gone = true;
        return true;
    }
    return pp_session_exec_check(s, pp_now_ns());
}

static const struct pp_loop_ops session_ops = {
    session_prepare, session_drain, session_tick, session_child, session_flush, session_after,
};

int
pp_session_run(struct pp_session *s)
{
    struct pp_loop l;
    int err;

    pp_loop_init(&l, &session_ops, s, s->opts.rate_hz, s->start_ns, s->opts.duration_s);
    err = pp_loop_run(&l);
    if (s->mode->detach)
        s->mode->detach(s);
    s->end_ns = pp_now_ns();
    pp_session_status_clear(s);
    return err;
}

/* ==== status line ==== */

void
pp_session_status(struct pp_session *s, uint64_t now)
{
    char what[96];
    if (!s->opts.status || now - s->status_ns < 1000000000ULL)
        return;
    s->status_ns = now;
    s->status_shown = true;
    snprintf(what, sizeof(what), "%llu samples, %llu errors", (unsigned long long)s->st.samples,
             (unsigned long long)(s->st.errors_transient + s->st.errors_baddata));
    pp_loop_status(what, now - s->start_ns, s->opts.duration_s);
}

void
pp_session_status_clear(struct pp_session *s)
{
    if (s->status_shown) {
        pp_loop_status_clear();
        s->status_shown = false;
    }
}

/* ==== output ==== */

static void
target_status_text(struct pp_session *s, char *buf, size_t len)
{
    if (s->launched)
        (void)pp_session_child_gone(s); /* its status, wherever it was reaped */
    if (s->exec_seen) { /* "exec'd (CMD), exit 0" */
        int n = snprintf(buf, len, "exec'd (%.60s)%s", s->exec_cmdline,
                         s->target_gone ? ", " : "");
        if (n < 0 || (size_t)n >= len || !s->target_gone)
            return;
        buf += n;
        len -= (size_t)n;
    }
    if (!s->target_gone)
        snprintf(buf, len, "running");
    else if (!s->launched)
        snprintf(buf, len, "exited");
    else
        pp_session_status_text(s->target_status, buf, len);
}

int
pp_session_out_agg(struct pp_session *s, struct pp_agg *tmp, const struct pp_agg **out)
{
    int err;
    *out = &s->agg;
    if (!s->mode || !s->mode->expand)
        return 0;
    /* native PCs become named frames (inline chains) now */
    if ((err = s->mode->expand(s, tmp))) {
        pp_agg_free(tmp);
        return err;
    }
    *out = tmp;
    return 0;
}

void
pp_session_out_info(struct pp_session *s, struct pp_out_info *info)
{
    char status[160];

    memset(info, 0, sizeof(*info));
    target_status_text(s, status, sizeof(status));
    pp_out_meta(info, "pid", "%d", s->pid);
    pp_out_meta(info, "cmdline", "%s", s->cmdline);
    pp_out_meta(info, "python_version", "%s", s->rt.version_str);
    pp_out_meta(info, "mode", "%s", s->nat ? "native" : "python");
    pp_out_meta(info, "rate_hz", "%g", s->opts.rate_hz);
    pp_out_meta(info, "start_unix", "%.6f", s->start_unix);
    pp_out_meta(info, "duration_s", "%.3f", (s->end_ns - s->start_ns) / 1e9);
    pp_out_meta(info, "target_exit", "%s", status);
    pp_out_meta(info, "threads_flag", "%d", s->opts.threads);
    pp_out_meta(info, "idle_flag", "%d", s->opts.idle);
    pp_out_meta(info, "gil_flag", "%d", s->opts.gil);
    pp_out_stat(info, "samples", s->st.samples);
    pp_out_stat(info, "ticks", s->st.ticks);
    pp_out_stat(info, "late_ticks", s->st.late_ticks);
    pp_out_stat(info, "idle_skipped", s->st.idle_skipped);
    pp_out_stat(info, "empty", s->st.empty);
    pp_out_stat(info, "errors_transient", s->st.errors_transient);
    pp_out_stat(info, "errors_baddata", s->st.errors_baddata);
    pp_out_stat(info, "truncated", s->st.truncated);
    pp_out_stat(info, "retries", s->py.retries);
    pp_out_stat(info, "gil_skipped", s->st.gil_skipped);
    pp_out_stat(info, "gil_waiting", s->st.gil_waiting);
    pp_out_stat(info, "threads_seen", s->agg.threads.len);
    pp_out_stat(info, "sample_ns_total", s->st.sample_ns_total);
    pp_out_stat(info, "mem_reads", s->mem ? s->mem->reads : 0);
    pp_out_stat(info, "code_cache_misses", s->codes.misses);
    pp_out_stat(info, "code_cache_slots", s->codes.infos.len);
    pp_out_stat(info, "threads_merged", s->st.threads_merged);
    pp_out_stat(info, "first_sample_us",
                s->first_sample_ns ? (s->first_sample_ns - s->attach_ns) / 1000 : 0);
    if (s->mode && s->mode->out_info)
        s->mode->out_info(s, info);
}

int
pp_session_write(struct pp_session *s)
{
    static struct pp_out_info info;
    struct pp_agg expanded;
    const struct pp_agg *agg;
    int err;

    /* the expansion first: it finds the modules without debug info */
    if ((err = pp_session_out_agg(s, &expanded, &agg)))
        return err;
    pp_session_out_info(s, &info);
    if (s->opts.raw_path)
        err = pp_out_write_raw(agg, &info, s->opts.raw_path);
    if (!err && s->opts.collapsed_path)
        err = pp_out_write_collapsed(agg, s->opts.threads, s->opts.collapsed_path);
    if (agg != &s->agg)
        pp_agg_free(&expanded);
    return err;
}

void
pp_session_summary(struct pp_session *s, const char *path)
{
    char status[160];
    char native[256];
    uint64_t errors = s->st.errors_transient + s->st.errors_baddata;
    target_status_text(s, status, sizeof(status));
    native[0] = '\0';
    if (s->mode && s->mode->summary)
        s->mode->summary(s, native, sizeof(native));
    fprintf(stderr,
            "pyprof: %llu samples, %llu errors (%llu transient, %llu bad data), %llu late "
            "ticks%s, %.1f s, PID %d (%.80s), target %s -> %s\n",
            (unsigned long long)s->st.samples, (unsigned long long)errors,
            (unsigned long long)s->st.errors_transient,
            (unsigned long long)s->st.errors_baddata, (unsigned long long)s->st.late_ticks,
            native, (s->end_ns - s->start_ns) / 1e9, s->pid, s->cmdline, status, path);
}

static bool
session_gone(void *arg)
{
    return pp_session_child_gone(arg);
}

void
pp_session_stop_target(struct pp_session *s)
{
    if (s->launched && !pp_session_child_gone(s)) {
        pp_session_stop_child(s->pid, session_gone, s, &s->target_status);
        (void)pp_session_child_gone(s); /* the recorded status, if reaped elsewhere */
        s->target_gone = true;
    }
}

void
pp_session_stop_child(int pid, bool (*gone)(void *arg), void *arg, int *status)
{
    /* the run ended first: Ctrl-C/SIGTERM are passed on, the end of
     * --duration sends SIGTERM (quiet, unlike SIGINT's traceback) */
    int sig = pp_stop_signal ? pp_stop_signal : SIGTERM;
    uint64_t t0 = pp_now_ns();
    /* not reaped yet (the caller checked just now): the PID is still our
     * child's, a zombie at worst, and cannot name another process */
    kill(pid, sig);
    while (!gone(arg)) {
        if (pp_now_ns() - t0 > 5000000000ULL) {
            kill(pid, SIGKILL);
            while (pp_proc_waitpid(pid, status, __WALL) < 0 && errno == EINTR)
                ;
            return;
        }
        sleep_ns(2000000);
    }
}

void
pp_session_status_text(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "signal %d", WTERMSIG(status));
    else
        snprintf(buf, len, "exited");
}

void
pp_session_free(struct pp_session *s)
{
    if (s->mode && s->mode->free)
        s->mode->free(s);
    pp_pywalker_free(&s->walker);
    pp_pycode_free(&s->codes);
    pp_agg_free(&s->agg);
    pp_strtab_free(&s->strs);
    pp_proc_tasks_free(&s->tasks);
    pp_vec_free(&s->threads);
    pp_hmap_free(&s->tid_seen);
    pp_pystack_free(&s->py);
    pp_pythreadname_list_free(&s->pynames);
    pp_maps_free(&s->maps);
    pp_mem_free(s->mem);
    s->mem = NULL;
    free(s->stack_buf);
}
