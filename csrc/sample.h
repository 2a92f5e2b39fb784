/*
 * sample.h -- one profiling session: attach or launch, the Python-only
 * tick, the loop over one process, the outputs (layer L5).  How it is
 * sampled is its capture mode (struct pp_mode_ops below; mode.h).
 */
#ifndef PP_SAMPLE_H
#define PP_SAMPLE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agg.h"
#include "event.h"
#include "loop.h"
#include "maps.h"
#include "mem.h"
#include "proc.h"
#include "py/layout.h"
#include "py/runtime.h"
#include "pycode.h"
#include "pyframe.h"
#include "pystack.h"
#include "pythreadname.h"
#include "util.h"

enum pp_native_mode { PP_NATIVE_AUTO, PP_NATIVE_PERF, PP_NATIVE_BLOCKING, PP_NATIVE_BPF };

struct pp_session_opts {
    int pid;          /* attach; 0 when launching */
    char **argv;      /* launch */
    double rate_hz;
    double duration_s; /* <= 0: until stopped */
    bool threads, idle, timestamps, summary;
    bool status; /* a status line on stderr (a terminal) once a second */
    const char *raw_path, *collapsed_path;
    /* --native (native.c) */
    bool native, no_internals, debuginfod, no_inlines;
    bool subprocesses, aggregate; /* multi.c */
    bool gil; /* only the thread holding the GIL */
    bool locals; /* dump --locals: each Python frame's arguments and locals */
    int native_mode;   /* enum pp_native_mode */
    bool capture_forced; /* --capture MODE: that mode or an error, no fall-back */
    int unwinder;      /* enum pp_unwinder_kind */
    unsigned stack_size;
    const char *debug_dirs;
    const char *cleanup_dir; /* removed if the parent dies (main.c) */
    unsigned max_threads;    /* 0: PP_THREADS_MAX */
    /* the perf event sampled in perf mode (-e, -c; event.h): task-clock at
     * rate_hz unless -e was given, which needs perf mode */
    struct pp_event event;
    bool event_given;
    uint64_t count; /* -c N; 0: not given */
    bool offcpu;    /* --off-cpu: also where threads wait, weighted in ns (mode_perf.c) */
    /* -a (system.c, multi.c): every process on the machine */
    bool system, python_only, kernel;
    bool native_only_ok; /* a process that is not Python gets a native-only session */
    bool known_native;   /* its executable was found not to be Python: do not look again */
};

struct pp_stats {
    uint64_t samples, ticks, late_ticks, idle_skipped, empty;
    uint64_t errors_transient, errors_baddata, truncated;
    uint64_t gil_skipped, gil_waiting;
    uint64_t sample_ns_total;
    uint64_t threads_merged; /* samples of threads past the cap (PP_THREADS_MAX) */
};

/* Distinct threads kept apart per process (--max-threads): the count table
 * is per (stack, thread), so thread churn would grow it without end.
 * Later threads are counted together as thread -1 "<other threads>". */
#define PP_THREADS_MAX 4096

struct pp_session {
    struct pp_session_opts opts;
    pid_t pid;
    bool launched;
    bool target_gone;
    int target_status; /* waitpid status when launched and gone */
    struct pp_mem *mem;
    struct pp_maps maps;
    struct pp_pyruntime rt;
    struct pp_pylayout layout;
    struct pp_pywalker walker;
    struct pp_strtab strs;
    struct pp_pycode codes;
    struct pp_agg agg;
    struct pp_tasks tasks;
    uint64_t tasks_refreshed_ns; /* last /proc/PID/task listing */
    struct pp_vec threads; /* struct pp_pythread, per tick */
    struct pp_hmap tid_seen; /* tid -> agg thread idx + 1 (| name state, see sample.c) */
    /* Python thread names (threading._active), re-read on demand */
    struct pp_pythreadname_list pynames;
    uint64_t pynames_ns;         /* tick time of the last read */
    uint64_t pynames_tick;       /* tick count of the last read */
    uint64_t pynames_backoff_ns; /* least time between reads; 0 = initial */
    bool pynames_read;           /* read at least once */
    struct pp_pystack_reader py; /* the Python stack of one thread (pystack.c) */
    uint32_t *stack_buf;
    struct pp_stats st;
    char cmdline[1024];
    double start_unix;
    uint64_t start_ns, end_ns;
    uint64_t attach_ns;       /* when pp_session_start began */
    uint64_t status_ns;       /* last status line */
    bool status_shown;
    uint64_t first_sample_ns; /* when the first sample was counted; 0: none yet */
    uint32_t truncated_frame; /* marker frame id */
    uint32_t gil_wait_frame;  /* "<waiting for GIL>" */
    uint64_t gil_addr, gil_holder; /* this tick's GIL; gil_addr 0: unknown */
    const struct pp_mode_ops *mode; /* how it is sampled (pp_mode_pick, mode.c) */
    struct pp_native *nat;    /* native mode state (native.c), or NULL */
    /* an exec of the target ends the sampling (pp_session_exec_check) */
    unsigned long long exec_id; /* pp_proc_exec_id() at start */
    uint64_t exec_checked_ns;
    bool exec_seen;
    bool threads_capped; /* the thread cap was reached (warned once) */
    bool error_said;     /* a fatal error was printed where it happened (mode.c) */
    bool native_only;    /* not a Python process (opts.native_only_ok): native frames only */
    char exec_cmdline[256];
};

/*
 * A capture mode (mode_python.c, mode_perf.c, mode_ptrace.c): how the
 * session's samples are taken, for the loop (loop.c) and the output.
 * NULL members are not needed by the mode.
 */
struct pollfd;
struct pp_out_info;
struct pp_mode_ops {
    const char *name; /* "python", "perf", "blocking" */
    unsigned need;    /* PP_LOOP_*: what the loop waits for */
    /* perf: the fds to wait on; after the wait, their samples (until end) */
    size_t (*pollfds)(struct pp_session *s, struct pollfd *fds, size_t max, bool *ready);
    int (*drain)(struct pp_session *s, const struct pollfd *fds, size_t n, uint64_t end);
    /* after each step: new threads; PP_EGONE once the target is gone
     * (NULL: pp_session_child_gone() tells) */
    int (*maintain)(struct pp_session *s, uint64_t now);
    /* timed modes: one tick over the threads */
    int (*tick)(struct pp_session *s);
    /* ptrace: pass on the signals that stopped seized threads */
    void (*child)(struct pp_session *s);
    /* the end of sampling: every thread let go */
    void (*detach)(struct pp_session *s);
    /* the profile to write, native PCs expanded (NULL: s->agg as is) */
    int (*expand)(struct pp_session *s, struct pp_agg *out);
    void (*out_info)(struct pp_session *s, struct pp_out_info *info);
    void (*summary)(struct pp_session *s, char *buf, size_t len);
    void (*free)(struct pp_session *s);
};

/* Launches or attaches, finds the runtime and the layout: Python-only
 * sampling is possible after it; pp_mode_pick() (mode.c) then chooses the
 * capture mode. */
int pp_session_start(struct pp_session *s, const struct pp_session_opts *opts);
/* After the mode is set up: the sampling starts now. */
void pp_session_begin(struct pp_session *s);
/* Samples until stopped, the duration ends or the target exits. */
int pp_session_run(struct pp_session *s);
/* One tick over all threads; with force_all, idle threads too. */
int pp_session_tick(struct pp_session *s, bool force_all);
int pp_session_write(struct pp_session *s);
/* The profile to write: s->agg, or tmp with native PCs expanded (free tmp
 * when *out == tmp).  Then the metadata and statistics (after: the
 * expansion notes modules without debug info). */
int pp_session_out_agg(struct pp_session *s, struct pp_agg *tmp, const struct pp_agg **out);
void pp_session_out_info(struct pp_session *s, struct pp_out_info *info);
/* A launched child still running is sent the stop signal (SIGTERM by
 * default) and waited for (SIGKILL after 5 s); its status is recorded. */
void pp_session_stop_target(struct pp_session *s);
/* The same for any launched child pid (the tree's root too): gone(arg)
 * says whether it exited (and records its status); after SIGKILL the
 * status is waited for into *status. */
void pp_session_stop_child(int pid, bool (*gone)(void *arg), void *arg, int *status);
/* A launched child's wait status as the output says it: "exit N",
 * "signal N", or "exited". */
void pp_session_status_text(int status, char *buf, size_t len);
void pp_session_free(struct pp_session *s);
void pp_session_summary(struct pp_session *s, const char *path);

/* Redraws the status line when a second has passed (opts.status). */
void pp_session_status(struct pp_session *s, uint64_t now);
/* Clears the status line before other output. */
void pp_session_status_clear(struct pp_session *s);

/* Every 200 ms (cheap otherwise): has the target exec'ed another program?
 * Then its memory is no longer the interpreter we found: the sampling
 * loops end (a warning says so) instead of counting errors.  Without
 * --subprocesses an exec is not followed. */
bool pp_session_exec_check(struct pp_session *s, uint64_t now);
/* After an exec of a launched child: wait, without sampling, until it
 * exits, a stop is requested or the duration ends (its status goes in the
 * output). */
void pp_session_wait_exit(struct pp_session *s);

/* For the capture modes: the per-thread pieces of a sample. */
bool pp_session_child_gone(struct pp_session *s);
void pp_session_count_error(struct pp_session *s, int err);
/* t may be NULL: a thread without Python state (named by its comm). */
int pp_session_thread_idx(struct pp_session *s, const struct pp_pythread *t, int tid, uint64_t now,
                          uint32_t *idx);

#endif
