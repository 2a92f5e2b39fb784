/*
 * multi.c -- one profile of a process tree (--subprocesses) (layer L5).
 *
 * The root (attached, or launched) and every descendant process are found
 * by walking /proc/PID/task/TID/children every 100 ms, so a Gunicorn
 * worker respawned by its master is sampled within about that.  Each
 * Python process gets a session of its own (sample.c: layout, caches) and
 * its own capture mode (mode.c: perf, ptrace or Python-only, each child
 * as its permissions allow), all sampled by one loop (loop.c); processes that are not Python (yet: a fork that is about
 * to exec) are retried for a while, then left alone.  When a process
 * exits, its samples are folded into the tree's profile under a
 * "process PID (cmdline)" root and its session is freed.  The output is
 * the folded profile plus the live sessions', each under its process
 * root (or, with --aggregate, without them).
 */
#define _GNU_SOURCE
#include "multi.h"

#include <dirent.h>
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

#include "bpf.h"
#include "err.h"
#include "log.h"
#include "loop.h"
#include "mode.h"
#include "out.h"
#include "pstop.h"
#include "system.h"

#define SCAN_NS (100ULL * 1000000ULL)          /* look for new processes */
#define NOT_PYTHON_AFTER_NS (3000ULL * 1000000ULL) /* give up on a non-Python child */
#define MAX_PROCS 4096
#define SYSTEM_PRUNE_NS (1000ULL * 1000000ULL) /* -a: forget exited processes */
#define SYSTEM_EXEC_NS (100ULL * 1000000ULL)   /* -a: a young python* process looked at again */
#define SYSTEM_YOUNG_NS (2000ULL * 1000000ULL) /* -a: a python* found not Python is looked at again */

struct mproc {
    int pid;
    unsigned long long start_time; /* with pid, the process's identity (PID reuse) */
    uint64_t first_seen_ns;
    struct pp_session *s; /* NULL: not attached (yet) */
    bool done;            /* exited and folded, or not Python */
    unsigned long long exec_id; /* pp_proc_exec_id() when attached */
    bool seen;            /* in the last scan */
    uint64_t exec_checked_ns; /* -a: last look at a young python* found not Python */
};

struct pp_multi {
    struct pp_session_opts opts;
    int root;
    bool launched, root_reaped;
    int root_status;
    struct pp_strtab strs;
    struct pp_agg folded;        /* exited processes, with their roots */
    struct pp_out_info *folded_info;
    bool have_folded;
    struct pp_vec procs;         /* struct mproc */
    uint64_t start_ns, end_ns, last_scan_ns, status_ns;
    double start_unix;
    char cmdline[1024];
    uint64_t processes_seen, processes_python;
    uint64_t processes_sampled; /* -a: with a session (Python or native-only) */
    bool status_shown;
    bool cap_warned; /* MAX_PROCS reached once: said so */
    size_t first[MAX_PROCS + 1]; /* this step's perf fds of procs[i]: first[i]..first[i+1] */
    size_t nfirst;
    int err; /* a fold failed: the run ends with it */
    /* -a (opts.system): every process of the machine, from per-CPU events */
    bool system;
    struct pp_system sys;
    int cli_pid; /* the pyprof CLI that runs us: left out like ourselves */
    uint64_t last_prune_ns;
    uint64_t attach_ns; /* time spent attaching (sessions set up on a first sample) */
};

/* ==== statistics of several sessions ==== */

static bool
is_quantile(const char *key)
{
    return strstr(key, "_p50") || strstr(key, "_p99");
}

/* dst += src: counters add up, quantiles take the larger, metadata stays. */
static void
info_add(struct pp_out_info *dst, const struct pp_out_info *src)
{
    size_t i, j;
    for (i = 0; i < src->nstats; i++) {
        for (j = 0; j < dst->nstats; j++)
            if (strcmp(dst->stat_key[j], src->stat_key[i]) == 0)
                break;
        if (j == dst->nstats) {
            pp_out_stat(dst, src->stat_key[i], src->stat_val[i]);
        } else if (strcmp(src->stat_key[i], "first_sample_us") == 0) {
            if (!dst->stat_val[j] || (src->stat_val[i] && src->stat_val[i] < dst->stat_val[j]))
                dst->stat_val[j] = src->stat_val[i];
        } else if (is_quantile(src->stat_key[i])) {
            if (src->stat_val[i] > dst->stat_val[j])
                dst->stat_val[j] = src->stat_val[i];
        } else {
            dst->stat_val[j] += src->stat_val[i];
        }
    }
    for (i = 0; i < src->nmeta; i++) {
        for (j = 0; j < dst->nmeta; j++)
            if (strcmp(dst->meta_key[j], src->meta_key[i]) == 0)
                break;
        if (j == dst->nmeta)
            pp_out_meta(dst, src->meta_key[i], "%s", src->meta_val[i]);
    }
}

static uint64_t
info_stat(const struct pp_out_info *info, const char *key)
{
    size_t i;
    for (i = 0; i < info->nstats; i++)
        if (strcmp(info->stat_key[i], key) == 0)
            return info->stat_val[i];
    return 0;
}

/* ==== the process tree ==== */

static struct mproc *
find_proc(struct pp_multi *m, int pid, unsigned long long start_time)
{
    size_t i;
    for (i = 0; i < m->procs.len; i++) {
        struct mproc *p = pp_vec_at(&m->procs, i);
        if (p->pid == pid && p->start_time == start_time)
            return p;
    }
    return NULL;
}

static void
cap_reached(struct pp_multi *m)
{
    if (m->cap_warned)
        return;
    m->cap_warned = true;
    pp_log_warn("--subprocesses: %d processes at once in the tree: further ones are not "
                "followed until some exit", MAX_PROCS);
}

/* Appends the children of pid (all its threads' children) to out. */
static void
children_of(int pid, struct pp_vec *out)
{
    char path[64];
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof(path), "/proc/%d/task", pid);
    d = opendir(path);
    if (!d)
        return;
    while ((e = readdir(d)) != NULL && out->len < MAX_PROCS + 1) {
        char cpath[320];
        FILE *f;
        int child;
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", pid, e->d_name);
        f = fopen(cpath, "r");
        if (!f)
            continue;
        while (fscanf(f, "%d", &child) == 1 && out->len < MAX_PROCS + 1)
            pp_vec_append(out, &child);
        fclose(f);
    }
    closedir(d);
}

static int
fold(struct pp_multi *m, struct mproc *p)
{
    struct pp_agg expanded;
    const struct pp_agg *agg;
    struct pp_out_info *info;
    uint32_t root = UINT32_MAX;
    char name[1200];
    int err;

    p->done = true;
    if (!p->s)
        return 0;
    p->s->end_ns = pp_now_ns();
    info = calloc(1, sizeof(*info));
    if (!info)
        return PP_ENOMEM;
    err = pp_session_out_agg(p->s, &expanded, &agg);
    if (!err) {
        pp_session_out_info(p->s, info);
        if (!m->opts.aggregate) {
            uint32_t n, f;
            snprintf(name, sizeof(name), "process %d (%s)", p->pid, p->s->cmdline);
            if ((err = pp_strtab_intern(&m->strs, name, strlen(name), &n)) ||
                (err = pp_strtab_intern(&m->strs, "", 0, &f)) ||
                (err = pp_agg_frame(&m->folded, PP_FRAME_PROCESS, n, f, 0, &root)))
                goto out;
        }
        err = pp_agg_append(&m->folded, agg, root);
        if (agg != &p->s->agg)
            pp_agg_free(&expanded);
        if (!err) {
            info_add(m->folded_info, info);
            m->have_folded = true;
        }
    }
out:
    free(info);
    pp_session_free(p->s);
    free(p->s);
    p->s = NULL;
    return err;
}

static void
try_attach(struct pp_multi *m, struct mproc *p, uint64_t now)
{
    struct pp_session_opts o = m->opts;
    struct pp_session *s;
    int err;

    s = calloc(1, sizeof(*s));
    if (!s)
        return;
    o.pid = p->pid;
    o.argv = NULL;
    o.raw_path = o.collapsed_path = NULL;
    o.status = false;
    o.summary = false;
    p->exec_id = pp_proc_exec_id(p->pid);
    err = pp_session_start(s, &o);
    if (!err)
        err = pp_mode_pick(s);
    if (!err) {
        p->s = s;
        m->processes_python++;
        pp_log_info("following PID %d (%s)", p->pid, s->cmdline);
        return;
    }
    pp_session_free(s);
    free(s);
    /* a fork about to exec, an interpreter still starting: try again for a
     * while; a process that is gone, refused or another program: leave it */
    if (err == PP_ENOPROC || err == PP_EPERM || err == PP_EKTHREAD ||
        now - p->first_seen_ns > NOT_PYTHON_AFTER_NS) {
        if (err == PP_EPERM)
            pp_log_warn("PID %d: permission denied; not followed", p->pid);
        p->done = true;
    }
}

/*
 * Finds new descendants, attaches to the Python ones.  A process is known
 * by (PID, start time): a PID used again (Gunicorn's --max-requests
 * respawns) is a new process, and the old entry, if its session still
 * runs, is folded first.  Entries of processes gone from the tree are
 * freed (their samples were folded), so the table holds the live tree,
 * at most MAX_PROCS processes (a warning says when that was reached).
 */
static void
scan(struct pp_multi *m, uint64_t now)
{
    struct pp_vec todo;
    size_t i, j;

    for (i = 0; i < m->procs.len; i++)
        ((struct mproc *)pp_vec_at(&m->procs, i))->seen = false;
    pp_vec_init(&todo, sizeof(int));
    pp_vec_append(&todo, &m->root);
    for (i = 0; i < todo.len && i < MAX_PROCS + 1; i++) { /* breadth first */
        int pid = *(int *)pp_vec_at(&todo, i);
        unsigned long long start = pp_proc_start_time(pid);
        struct mproc *p;
        if (!start) /* gone already */
            continue;
        p = find_proc(m, pid, start);
        if (!p) {
            for (j = 0; j < m->procs.len; j++) { /* its PID's previous process */
                struct mproc *old = pp_vec_at(&m->procs, j);
                if (old->pid == pid && old->s) {
                    old->s->target_gone = true;
                    fold(m, old);
                }
            }
        }
        if (!p && m->procs.len >= MAX_PROCS) {
            cap_reached(m);
        } else if (!p) {
            struct mproc np;
            memset(&np, 0, sizeof(np));
            np.pid = pid;
            np.start_time = start;
            np.first_seen_ns = now;
            if (pp_vec_append(&m->procs, &np) == 0) {
                p = pp_vec_at(&m->procs, m->procs.len - 1);
                m->processes_seen++;
            }
        }
        if (p)
            p->seen = true;
        children_of(pid, &todo);
    }
    if (todo.len > MAX_PROCS)
        cap_reached(m);
    pp_vec_free(&todo);
    /* free the entries of processes no longer in the tree (and folded) */
    for (i = j = 0; i < m->procs.len; i++) {
        struct mproc *p = pp_vec_at(&m->procs, i);
        if (!p->seen && !p->s)
            continue;
        if (i != j)
            memcpy(pp_vec_at(&m->procs, j), p, sizeof(*p));
        j++;
    }
    m->procs.len = j;
    for (i = 0; i < m->procs.len; i++) {
        struct mproc *p = pp_vec_at(&m->procs, i);
        if (p->s && pp_proc_exec_id(p->pid) != p->exec_id) {
            /* it exec'ed (a fork that runs another program): the session
             * describes the old address space; start over */
            p->s->target_gone = true;
            fold(m, p);
            p->done = false;
            p->first_seen_ns = now;
        }
        if (!p->done && !p->s && p->seen)
            try_attach(m, p, now);
    }
}

/* ==== -a: every process of the machine ==== */

/* p's session for -a; a failed detection (not Python with --python-only,
 * a kernel thread, refused) is kept as p->done, so it is tried once. */
static void
system_attach(struct pp_multi *m, struct mproc *p)
{
    uint64_t t0 = pp_now_ns();
    int err = pp_system_attach(&m->sys, &m->opts, p->pid, &p->s);
    m->attach_ns += pp_now_ns() - t0;
    if (err) {
        p->done = true;
        pp_log_debug("-a: PID %d left out: %s", p->pid, pp_strerror(err));
        return;
    }
    m->processes_sampled++;
    if (!p->s->native_only)
        m->processes_python++;
    pp_log_info("-a: PID %d (%.80s): %s", p->pid, p->s->cmdline,
                p->s->native_only ? "native frames" : "Python and native frames");
}

/*
 * The entry of a sample's process, made (and its session attached) on
 * the process's first sample; NULL: the sample is left out.  Processes
 * are known by (PID, start time) as in the tree; one that exec'ed
 * another program (looked at for every sample) is folded and attached
 * again, so a shell that execs python becomes a Python process.
 */
static struct mproc *
system_proc(struct pp_multi *m, int pid, uint64_t now)
{
    unsigned long long start = pp_proc_start_time(pid);
    struct mproc *p, np;
    size_t j;

    if (!start) {
        m->sys.gone_skipped++;
        return NULL;
    }
    p = find_proc(m, pid, start);
    if (p) {
        /* an exec (looked at for every sample: unwound with the old
         * program's modules, a sample of the new one can even trip an
         * assert in libdw); or a python* executable seen before its loader
         * had mapped libpython (a pyenv interpreter just started), looked
         * at every SYSTEM_EXEC_NS while young: a new session */
        unsigned long long id = pp_proc_exec_id(pid);
        bool again = id && id != p->exec_id;
        if (!again && now - p->exec_checked_ns > SYSTEM_EXEC_NS &&
            now - p->first_seen_ns < SYSTEM_YOUNG_NS && (p->s ? p->s->native_only : p->done)) {
            p->exec_checked_ns = now;
            again = pp_system_exe_is_python(pid);
        }
        if (again) {
            if (p->s) {
                p->s->target_gone = true;
                if ((m->err = fold(m, p)))
                    return NULL;
            }
            if (id)
                p->exec_id = id;
            p->done = false;
            system_attach(m, p);
        }
        return p;
    }
    for (j = 0; j < m->procs.len; j++) { /* its PID's previous process */
        struct mproc *old = pp_vec_at(&m->procs, j);
        if (old->pid == pid && old->s) {
            old->s->target_gone = true;
            if ((m->err = fold(m, old)))
                return NULL;
        }
    }
    if (m->procs.len >= MAX_PROCS) {
        cap_reached(m);
        return NULL;
    }
    memset(&np, 0, sizeof np);
    np.pid = pid;
    np.start_time = start;
    np.first_seen_ns = np.exec_checked_ns = now;
    np.exec_id = pp_proc_exec_id(pid);
    if (pp_vec_append(&m->procs, &np))
        return NULL;
    p = pp_vec_at(&m->procs, m->procs.len - 1);
    m->processes_seen++;
    system_attach(m, p);
    return p;
}

/* Every second: the sessions of exited processes are folded, and the
 * entries of processes no longer there are forgotten. */
static int reap(struct pp_multi *m);

static int
system_prune(struct pp_multi *m)
{
    size_t i, j;
    int err;

    if ((err = reap(m)))
        return err;
    for (i = j = 0; i < m->procs.len; i++) {
        struct mproc *p = pp_vec_at(&m->procs, i);
        if (!p->s && pp_proc_start_time(p->pid) != p->start_time)
            continue;
        if (i != j)
            memcpy(pp_vec_at(&m->procs, j), p, sizeof(*p));
        j++;
    }
    m->procs.len = j;
    return 0;
}

/* The session a sample of pid goes to (made on its first), or NULL: left
 * out (counted) or an error (m->err). */
static struct pp_session *
system_route(struct pp_multi *m, int pid)
{
    struct mproc *p;
    if (pid <= 0) { /* the idle task (kernel samples) */
        m->sys.idle_skipped++;
        return NULL;
    }
    if (pid == getpid() || pid == m->cli_pid) {
        m->sys.own_skipped++;
        return NULL;
    }
    p = system_proc(m, pid, pp_now_ns());
    if (p && !p->s)
        m->sys.left_out++;
    return p ? p->s : NULL;
}

/* One bpf record (pp_bpf_consume's callback): a negative value stops. */
static int
system_record(void *arg, const struct pp_bpf_record *r)
{
    struct pp_multi *m = arg;
    struct pp_session *s;
    int err;

    if (m->err || pp_stop_requested)
        return 0; /* the rest is dropped */
    if (!(s = system_route(m, (int)r->pid)))
        return 0;
    err = pp_mode_bpf_record(s, r);
    if (err && pp_err_class(err) == PP_FATAL)
        m->err = err;
    return 0;
}

/* After the wait: every sample of the per-CPU events (or every record of
 * the bpf ring), each to its process's session. */
static int
system_drain(struct pp_multi *m, const struct pollfd *fds, size_t nfds, uint64_t end)
{
    struct pp_perf_sample smp;
    size_t i;
    int err;

    if (m->sys.bpf) {
        uint64_t now;
        if (!pp_stop_requested && (err = pp_bpf_consume(system_record, m)) < 0 && !m->err)
            pp_log_debug("-a: the bpf ring: %s", strerror(-err));
        now = pp_now_ns(); /* thread maps of the live Python processes (rate-limited) */
        for (i = 0; i < m->procs.len; i++) {
            struct mproc *p = pp_vec_at(&m->procs, i);
            if (p->s)
                pp_mode_bpf_system_maintain(p->s, now);
        }
        return m->err;
    }
    pp_perf_after_poll(&m->sys.perf, fds, nfds);
    while (!pp_stop_requested && pp_perf_next(&m->sys.perf, &smp) == 1) {
        struct pp_session *s = system_route(m, smp.pid);
        if (m->err)
            return m->err;
        if (!s)
            continue;
        if ((err = pp_system_sample(&m->sys, s, &smp)))
            return err;
        if (pp_now_ns() >= end)
            break;
    }
    return 0;
}

static bool
root_gone(struct pp_multi *m)
{
    if (m->launched) {
        int st;
        if (!m->root_reaped && pp_proc_child_reaped(m->root, &st)) {
            m->root_reaped = true; /* reaped elsewhere (a wait for a ptrace stop) */
            m->root_status = st;
        }
        /* __WALL: with --blocking the root is also our tracee; its stops
         * are handed back, not taken for an exit */
        if (!m->root_reaped && pp_proc_waitpid(m->root, &st, WNOHANG | __WALL) == m->root) {
            if (WIFSTOPPED(st)) {
                pp_pstop_resume(m->root, st);
            } else {
                m->root_reaped = true;
                m->root_status = st;
            }
        }
        return m->root_reaped;
    }
    return kill(m->root, 0) != 0 && errno == ESRCH;
}

static size_t
live(struct pp_multi *m)
{
    size_t i, n = 0;
    for (i = 0; i < m->procs.len; i++)
        n += ((struct mproc *)pp_vec_at(&m->procs, i))->s != NULL;
    return n;
}

/* ==== output ==== */

int
pp_multi_write(struct pp_multi *m)
{
    static struct pp_out_info info, one;
    struct pp_agg out;
    char status[64];
    size_t i;
    int err = 0;

    pp_agg_init(&out, &m->strs);
    memset(&info, 0, sizeof(info));
    if (m->system)
        snprintf(status, sizeof(status), "running");
    else if (m->root_reaped)
        pp_session_status_text(m->root_status, status, sizeof(status));
    else
        snprintf(status, sizeof(status), "%s", root_gone(m) ? "exited" : "running");
    if (m->system) {
        pp_out_meta(&info, "pid", "?");
        pp_system_out_info(&m->sys, &info);
    } else {
        pp_out_meta(&info, "pid", "%d", m->root);
    }
    pp_out_meta(&info, "cmdline", "%s", m->cmdline);
    pp_out_meta(&info, "start_unix", "%.6f", m->start_unix);
    pp_out_meta(&info, "duration_s", "%.3f",
                ((m->end_ns ? m->end_ns : pp_now_ns()) - m->start_ns) / 1e9);
    pp_out_meta(&info, "target_exit", "%s", status);
    pp_out_meta(&info, "subprocesses_flag", "1");
    pp_out_meta(&info, "aggregate_flag", "%d", m->opts.aggregate);
    pp_out_stat(&info, "processes_seen", m->processes_seen);
    pp_out_stat(&info, "processes_python", m->processes_python);
    if (m->system)
        pp_out_stat(&info, "processes_sampled", m->processes_sampled);
    if (m->system)
        pp_out_stat(&info, "attach_ns_total", m->attach_ns);
    if (m->have_folded)
        info_add(&info, m->folded_info);
    err = pp_agg_append(&out, &m->folded, UINT32_MAX);
    for (i = 0; i < m->procs.len && !err; i++) {
        struct mproc *p = pp_vec_at(&m->procs, i);
        struct pp_agg expanded;
        const struct pp_agg *agg;
        uint32_t root = UINT32_MAX;
        if (!p->s)
            continue;
        p->s->end_ns = pp_now_ns();
        if ((err = pp_session_out_agg(p->s, &expanded, &agg)))
            break;
        pp_session_out_info(p->s, &one);
        info_add(&info, &one);
        if (!m->opts.aggregate) {
            char name[1200];
            uint32_t n, f;
            snprintf(name, sizeof(name), "process %d (%s)", p->pid, p->s->cmdline);
            if ((err = pp_strtab_intern(&m->strs, name, strlen(name), &n)) ||
                (err = pp_strtab_intern(&m->strs, "", 0, &f)) ||
                (err = pp_agg_frame(&out, PP_FRAME_PROCESS, n, f, 0, &root))) {
                if (agg != &p->s->agg)
                    pp_agg_free(&expanded);
                break;
            }
        }
        err = pp_agg_append(&out, agg, root);
        if (agg != &p->s->agg)
            pp_agg_free(&expanded);
    }
    if (!err && m->opts.raw_path)
        err = pp_out_write_raw(&out, &info, m->opts.raw_path);
    if (!err && m->opts.collapsed_path)
        err = pp_out_write_collapsed(&out, m->opts.threads, m->opts.collapsed_path);
    if (!err && m->opts.summary && m->system)
        fprintf(stderr,
                "pyprof: %llu samples, %llu errors, %llu processes (%llu Python) on %d CPUs, "
                "%.1f s, all processes -> %s\n",
                (unsigned long long)info_stat(&info, "samples"),
                (unsigned long long)(info_stat(&info, "errors_transient") +
                                     info_stat(&info, "errors_baddata")),
                (unsigned long long)m->processes_sampled, (unsigned long long)m->processes_python,
                m->sys.ncpus, ((m->end_ns ? m->end_ns : pp_now_ns()) - m->start_ns) / 1e9,
                m->opts.collapsed_path ? m->opts.collapsed_path : m->opts.raw_path);
    else if (!err && m->opts.summary)
        fprintf(stderr,
                "pyprof: %llu samples, %llu errors, %llu processes followed (%llu seen), "
                "%.1f s, PID %d (%.80s), target %s -> %s\n",
                (unsigned long long)info_stat(&info, "samples"),
                (unsigned long long)(info_stat(&info, "errors_transient") +
                                     info_stat(&info, "errors_baddata")),
                (unsigned long long)m->processes_python, (unsigned long long)m->processes_seen,
                ((m->end_ns ? m->end_ns : pp_now_ns()) - m->start_ns) / 1e9, m->root,
                m->cmdline, status, m->opts.collapsed_path ? m->opts.collapsed_path
                                                           : m->opts.raw_path);
    pp_agg_free(&out);
    return err;
}

/* ==== the loop ==== */

static void
status_line(struct pp_multi *m, uint64_t now)
{
    char what[96];
    size_t i;
    uint64_t samples = 0;
    if (!m->opts.status || now - m->status_ns < 1000000000ULL)
        return;
    m->status_ns = now;
    for (i = 0; i < m->procs.len; i++) {
        struct mproc *p = pp_vec_at(&m->procs, i);
        if (p->s)
            samples += p->s->st.samples;
    }
    snprintf(what, sizeof(what), "%zu processes, %llu samples (live ones)", live(m),
             (unsigned long long)samples);
    pp_loop_status(what, now - m->start_ns, m->opts.duration_s);
    m->status_shown = true;
}

/* After a tick or a drain: fold the processes that are gone. */
static int
reap(struct pp_multi *m)
{
    size_t i;
    int err;
    for (i = 0; i < m->procs.len; i++) {
        struct mproc *p = pp_vec_at(&m->procs, i);
        if (p->s && (p->s->target_gone || pp_session_child_gone(p->s)))
            if ((err = fold(m, p)))
                return err;
    }
    return 0;
}

/* --blocking: passes on the signals that stopped seized threads, and
 * notes the launched root's exit if the wait reaped it. */
static void
poll_stops(struct pp_multi *m)
{
    int status;
    if (pp_pstop_poll(m->launched ? m->root : -1, &status) && m->launched) {
        m->root_reaped = true;
        m->root_status = status;
    }
}

/*
 * The loop (loop.c) over the tree.  Each live process is sampled the way
 * its session could: perf members are drained when their fds wake the
 * wait, the others (Python-only, or fallen back to ptrace) are ticked at
 * --rate, the ptrace ones with SIGCHLD watched.
 */
static unsigned
multi_prepare(void *arg, uint64_t now, struct pollfd *fds, size_t max, size_t *nfds,
              bool *ready)
{
    struct pp_multi *m = arg;
    unsigned need = 0;
    size_t i, n = 0;

    if (m->system) {
        if (now - m->last_prune_ns > SYSTEM_PRUNE_NS) {
            m->last_prune_ns = now;
            if (!m->err)
                m->err = system_prune(m);
        }
        m->nfirst = 0;
        if (m->sys.bpf) {
            *nfds = 0;
            if (max && (fds[0].fd = pp_bpf_ring_fd()) >= 0) {
                fds[0].events = POLLIN;
                fds[0].revents = 0;
                *nfds = 1;
            }
        } else {
            *nfds = pp_perf_pollfds(&m->sys.perf, fds, max, ready);
        }
        return 0;
    }
    if (now - m->last_scan_ns > SCAN_NS) {
        m->last_scan_ns = now;
        scan(m, now);
    }
    for (i = 0; i < m->procs.len && i < MAX_PROCS; i++) {
        struct mproc *p = pp_vec_at(&m->procs, i);
        m->first[i] = n;
        if (!p->s)
            continue;
        if (p->s->mode->pollfds)
            n += p->s->mode->pollfds(p->s, fds + n, max - n, ready);
        need |= p->s->mode->need;
    }
    m->first[i] = n;
    m->nfirst = i;
    *nfds = n;
    return need;
}

static int
multi_drain(void *arg, const struct pollfd *fds, size_t nfds, uint64_t end)
{
    struct pp_multi *m = arg;
    size_t i;
    int err;

    if (m->system)
        return system_drain(m, fds, nfds, end);
    for (i = 0; i < m->nfirst && i < m->procs.len; i++) {
        struct mproc *p = pp_vec_at(&m->procs, i);
        if (!p->s || !p->s->mode->drain)
            continue;
        if ((err = p->s->mode->drain(p->s, fds + m->first[i], m->first[i + 1] - m->first[i],
                                     end)))
            return err;
        if (p->s->mode->maintain && p->s->mode->maintain(p->s, pp_now_ns()) == PP_EGONE)
            p->s->target_gone = true;
    }
    return 0;
}

static int
multi_tick(void *arg, bool late)
{
    struct pp_multi *m = arg;
    size_t i;
    int err;

    for (i = 0; i < m->procs.len; i++) {
        struct mproc *p = pp_vec_at(&m->procs, i);
        if (!p->s || !p->s->mode->tick)
            continue;
        if (late)
            p->s->st.late_ticks++;
        err = p->s->mode->tick(p->s);
        if (err == PP_EGONE)
            p->s->target_gone = true;
        else if (err)
            return err;
    }
    return 0;
}

static void
multi_child(void *arg)
{
    poll_stops(arg);
}

static void
multi_flush(void *arg)
{
    int err;
    if ((err = pp_multi_write(arg)))
        pp_log_warn("snapshot not written: %s", pp_strerror(err));
}

static bool
multi_after(void *arg, uint64_t now)
{
    struct pp_multi *m = arg;
    (void)now;
    if (m->system) { /* until the duration or a stop; sessions are reaped every second */
        status_line(m, pp_now_ns());
        return m->err != 0;
    }
    if ((m->err = reap(m)))
        return true;
    status_line(m, pp_now_ns());
    return root_gone(m) && live(m) == 0;
}

static const struct pp_loop_ops multi_ops = {
    multi_prepare, multi_drain, multi_tick, multi_child, multi_flush, multi_after,
};

int
pp_multi_start(struct pp_multi **out, const struct pp_session_opts *opts)
{
    struct pp_multi *m = calloc(1, sizeof(*m));
    struct timeval tv;
    int err;

    *out = m;
    if (!m)
        return PP_ENOMEM;
    m->opts = *opts;
    pp_strtab_init(&m->strs);
    pp_agg_init(&m->folded, &m->strs);
    m->folded.keep_timestamps = opts->timestamps;
    pp_vec_init(&m->procs, sizeof(struct mproc));
    m->folded_info = calloc(1, sizeof(*m->folded_info));
    if (!m->folded_info)
        return PP_ENOMEM;
    if (opts->system) {
        m->system = true;
        m->cli_pid = getppid();
        if ((err = pp_system_open(&m->sys, opts)))
            return err;
        gettimeofday(&tv, NULL);
        m->start_unix = (double)tv.tv_sec + tv.tv_usec / 1e6;
        m->start_ns = m->status_ns = m->last_prune_ns = pp_now_ns();
        snprintf(m->cmdline, sizeof(m->cmdline), "all processes (-a)");
        return 0;
    }
    if (opts->argv) {
        if ((err = pp_proc_spawn(opts->argv, &m->root)))
            return err;
        m->launched = true;
    } else {
        if ((err = pp_proc_check(opts->pid)))
            return err;
        m->root = opts->pid;
    }
    gettimeofday(&tv, NULL);
    m->start_unix = (double)tv.tv_sec + tv.tv_usec / 1e6;
    m->start_ns = m->status_ns = pp_now_ns();
    pp_proc_cmdline(m->root, m->cmdline, sizeof(m->cmdline));
    scan(m, m->start_ns);
    m->last_scan_ns = m->start_ns;
    return 0;
}

int
pp_multi_run(struct pp_multi *m)
{
    struct pp_loop l;
    size_t i;
    int err;

    if (m->opts.native && m->opts.idle) /* waiting threads too: ptrace (native.c says so) */
        m->opts.native_mode = PP_NATIVE_BLOCKING;
    pp_loop_init(&l, &multi_ops, m, m->opts.rate_hz, m->start_ns, m->opts.duration_s);
    err = pp_loop_run(&l);
    if (!err)
        err = m->err;
    for (i = 0; i < m->procs.len; i++) {
        struct mproc *p = pp_vec_at(&m->procs, i);
        if (p->s && p->s->mode->detach)
            p->s->mode->detach(p->s);
    }
    poll_stops(m);
    m->end_ns = pp_now_ns();
    if (m->status_shown)
        pp_loop_status_clear();
    return err;
}

static bool
root_gone_cb(void *arg)
{
    return root_gone(arg);
}

void
pp_multi_stop_target(struct pp_multi *m)
{
    if (!m->launched || root_gone(m)) /* -a launches nothing */
        return;
    pp_session_stop_child(m->root, root_gone_cb, m, &m->root_status);
    if (!m->root_reaped) { /* waited for after SIGKILL */
        (void)root_gone(m);
        m->root_reaped = true;
    }
}

void
pp_multi_free(struct pp_multi *m)
{
    size_t i;
    if (!m)
        return;
    for (i = 0; i < m->procs.len; i++) {
        struct mproc *p = pp_vec_at(&m->procs, i);
        if (p->s) {
            pp_session_free(p->s);
            free(p->s);
        }
    }
    pp_vec_free(&m->procs);
    if (m->system)
        pp_system_free(&m->sys);
    pp_agg_free(&m->folded);
    pp_strtab_free(&m->strs);
    free(m->folded_info);
    free(m);
}
