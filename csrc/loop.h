/*
 * loop.h -- the one sampling loop (layer L5).
 *
 * Every record runs here: one process or a process tree, Python-only,
 * perf or ptrace (--blocking) capture, or a mix of them (a tree whose
 * children fell back differently).  The loop owns the wait step, the
 * Poisson-jittered deadlines, late ticks, the warm-up spin, the stop,
 * flush (SIGUSR1) and duration rules; what is sampled, and how, is behind
 * struct pp_loop_ops.  docs/architecture.md walks one sample through it.
 */
#ifndef PP_LOOP_H
#define PP_LOOP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Set by signal handlers (main.c); the loop polls them. */
extern volatile sig_atomic_t pp_stop_requested;
extern volatile sig_atomic_t pp_flush_requested;
extern volatile sig_atomic_t pp_stop_signal;

/* What the members of a run need from the next wait (prepare's result). */
#define PP_LOOP_TIMED 1u /* some are sampled on the timer, at --rate */
#define PP_LOOP_CHILD 2u /* some are ptrace-seized: wake on SIGCHLD, warm up */

/* Longest wait for perf data (and the wait when nothing is timed). */
#define PP_LOOP_POLL_MS 20
/* A wait shorter than this is spun: a wake-up from sleep costs more. */
#define PP_LOOP_SPIN_BELOW_NS (50ULL * 1000ULL)
/* With ptrace members: awake this long before a tick.  A CPU that just
 * left an idle state makes every syscall of the stop slower, and the
 * stopped thread waits for all of them. */
#define PP_LOOP_WARM_NS (100ULL * 1000ULL)
/* At most this many perf fds are waited on at once. */
#define PP_LOOP_MAX_FDS 4096

struct pollfd;

struct pp_loop_ops {
    /* Before each wait: what the members need (PP_LOOP_*), and the perf
     * fds to wait on (at most max, *nfds of them; *ready: data is already
     * waiting, do not wait).  A process set looks for new members here. */
    unsigned (*prepare)(void *arg, uint64_t now, struct pollfd *fds, size_t max, size_t *nfds,
                        bool *ready);
    /* After each wait, when fds were given: the perf samples (until end). */
    int (*drain)(void *arg, const struct pollfd *fds, size_t nfds, uint64_t end);
    /* The deadline passed: one tick of the timed members.  late: more than
     * one interval after its deadline (counted in the members' stats).
     * PP_EGONE ends the run without an error. */
    int (*tick)(void *arg, bool late);
    /* With PP_LOOP_CHILD, on SIGCHLD and after each step: ptrace stops
     * that are not ours are passed on. */
    void (*child)(void *arg);
    /* SIGUSR1: write the profile so far. */
    void (*flush)(void *arg);
    /* After each step: the status line, reaping; true ends the run. */
    bool (*after)(void *arg, uint64_t now);
};

struct pp_loop {
    const struct pp_loop_ops *ops;
    void *arg;
    double rate_hz;
    uint64_t end_ns; /* UINT64_MAX: until stopped */
};

/* A loop of ops over arg at rate_hz that ends duration_s after start_ns
 * (duration_s <= 0: until stopped). */
void pp_loop_init(struct pp_loop *l, const struct pp_loop_ops *ops, void *arg, double rate_hz,
                  uint64_t start_ns, double duration_s);

/* Runs until a stop is requested, end_ns, ops->after says so, or an op
 * fails (its error is returned). */
int pp_loop_run(const struct pp_loop *l);

/* The one status line (stderr, a terminal): "\rpyprof: WHAT, N s[ of D s]
 * (Ctrl-C to stop)"; the caller draws it at most once a second.  clear
 * erases it before other output. */
void pp_loop_status(const char *what, uint64_t elapsed_ns, double duration_s);
void pp_loop_status_clear(void);

/* One exponential interval of mean mean_ns, at most ten means. */
uint64_t pp_loop_interval(double mean_ns);

#endif
