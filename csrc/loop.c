/*
 * loop.c -- the one sampling loop (see loop.h).
 *
 * One step: ask the members what they need (prepare), wait, pass on a
 * SIGUSR1 flush, drain perf data, tick the timed members once their
 * deadline has passed, pass on ptrace stops, then the status line and the
 * end test (after).  The wait is one of
 *   - a sleep to the absolute deadline (Python-only members);
 *   - a poll on the perf fds, to the deadline or PP_LOOP_POLL_MS;
 *   - with ptrace members, the same plus a signalfd of SIGCHLD (blocked
 *     for the run): a seized thread that stops on its own between samples
 *     (a signal for it) gets its signal at once, not at the next tick;
 * with the last stretch before a tick spun (PP_LOOP_SPIN_BELOW_NS, and
 * PP_LOOP_WARM_NS with ptrace members).
 *
 * Deadlines are exponential intervals (a Poisson process: sampling never
 * locks onto a periodic workload).  A tick more than one interval behind
 * its deadline is late (counted); more than a second behind (a suspended
 * machine, a stopped sampler) the schedule restarts from now instead of
 * bursting.  The clock, not the tick count, ends a run.
 */
#define _GNU_SOURCE
#include "loop.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "util.h"

volatile sig_atomic_t pp_stop_requested;
volatile sig_atomic_t pp_flush_requested;
volatile sig_atomic_t pp_stop_signal;

uint64_t
pp_loop_interval(double mean_ns)
{
    double u = (random() + 1.0) / ((double)RAND_MAX + 2.0);
    double v = -log(u) * mean_ns;
    return (uint64_t)(v > 10 * mean_ns ? 10 * mean_ns : v);
}

struct wait {
    struct pollfd *fds; /* nfds perf fds, then room for the signalfd */
    size_t nfds;
    int sigfd;          /* -1: no ptrace members yet */
    sigset_t chld, old;
};

/* SIGCHLD blocked and read from a signalfd from the first ptrace member
 * on, until the end of the run. */
static void
child_watch(struct wait *w)
{
    if (w->sigfd >= 0)
        return;
    sigemptyset(&w->chld);
    sigaddset(&w->chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &w->chld, &w->old);
    w->sigfd = signalfd(-1, &w->chld, SFD_NONBLOCK | SFD_CLOEXEC);
    if (w->sigfd < 0)
        sigprocmask(SIG_SETMASK, &w->old, NULL);
}

static bool
child_signalled(struct wait *w)
{
    struct signalfd_siginfo si;
    bool got = false;
    int i;
    for (i = 0; i < 64 && read(w->sigfd, &si, sizeof si) == (ssize_t)sizeof si; i++)
        got = true;
    return got;
}

/*
 * Waits until `until` (or stop/flush), or until perf data arrives.
 * warm_ns: awake (spinning) for the last stretch.  SIGCHLD wakes the wait
 * and calls ops->child.  PP_EIO when poll itself fails.
 */
static int
wait_until(const struct pp_loop *l, struct wait *w, uint64_t until, uint64_t warm_ns,
           bool spin)
{
    uint64_t spin_ns = warm_ns > PP_LOOP_SPIN_BELOW_NS ? warm_ns : PP_LOOP_SPIN_BELOW_NS;
    int step;

    for (step = 0; step < 1000000; step++) {
        uint64_t now = pp_now_ns(), to;
        struct timespec ts;
        size_t n = w->nfds;
        int r;

        if (now >= until || pp_stop_requested || pp_flush_requested)
            return 0;
        if (spin && until - now <= spin_ns) {
            while (pp_now_ns() < until && !pp_stop_requested)
                ;
            return 0;
        }
        to = spin ? until - warm_ns : until;
        if (n == 0 && w->sigfd < 0) {
            /* nothing to watch: a sleep to the absolute deadline */
            ts.tv_sec = (time_t)(to / 1000000000ULL);
            ts.tv_nsec = (long)(to % 1000000000ULL);
            if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == 0 && !spin)
                return 0;
            continue;
        }
        if (w->sigfd >= 0) {
            w->fds[n].fd = w->sigfd;
            w->fds[n].events = POLLIN;
            w->fds[n].revents = 0;
            n++;
        }
        ts.tv_sec = (time_t)((to - now) / 1000000000ULL);
        ts.tv_nsec = (long)((to - now) % 1000000000ULL);
        r = ppoll(w->fds, n, &ts, NULL);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return PP_EIO;
        }
        if (r == 0)
            continue;
        if (w->sigfd >= 0 && w->fds[n - 1].revents) {
            if (child_signalled(w) && l->ops->child)
                l->ops->child(l->arg);
            if (r == 1)
                continue;
        }
        return 0; /* perf data */
    }
    return 0;
}

void
pp_loop_init(struct pp_loop *l, const struct pp_loop_ops *ops, void *arg, double rate_hz,
             uint64_t start_ns, double duration_s)
{
    l->ops = ops;
    l->arg = arg;
    l->rate_hz = rate_hz;
    l->end_ns = duration_s > 0 ? start_ns + (uint64_t)(duration_s * 1e9) : UINT64_MAX;
}

int
pp_loop_run(const struct pp_loop *l)
{
    const struct pp_loop_ops *ops = l->ops;
    double mean = 1e9 / l->rate_hz;
    uint64_t deadline = 0; /* 0: no timed members */
    struct wait w;
    int err = 0;

    w.fds = calloc(PP_LOOP_MAX_FDS + 1, sizeof(*w.fds));
    w.sigfd = -1;
    if (!w.fds)
        return PP_ENOMEM;
    srandom((unsigned)(pp_now_ns() ^ (uint64_t)getpid()));
    while (!pp_stop_requested) {
        uint64_t now = pp_now_ns(), until;
        bool ready = false;
        unsigned need;

        if (now >= l->end_ns)
            break;
        w.nfds = 0;
        need = ops->prepare(l->arg, now, w.fds, PP_LOOP_MAX_FDS, &w.nfds, &ready);
        if (need & PP_LOOP_CHILD)
            child_watch(&w);
        if (!(need & PP_LOOP_TIMED))
            deadline = 0;
        else if (!deadline)
            deadline = now + pp_loop_interval(mean);
        if (deadline)
            until = deadline;
        else
            until = now + PP_LOOP_POLL_MS * 1000000ULL;
        if (until > l->end_ns)
            until = l->end_ns;
        if (!ready && (err = wait_until(l, &w, until,
                                        need & PP_LOOP_CHILD ? PP_LOOP_WARM_NS : 0,
                                        deadline != 0)))
            break;
        if (pp_stop_requested)
            break;
        if (pp_flush_requested) {
            pp_flush_requested = 0;
            ops->flush(l->arg);
        }
        now = pp_now_ns();
        if (now >= l->end_ns) /* behind schedule: the clock ends a run */
            break;
        if (w.nfds && (err = ops->drain(l->arg, w.fds, w.nfds, l->end_ns)))
            break;
        if (deadline && now >= deadline) {
            bool late = now > deadline + (uint64_t)mean;
            if (late && now > deadline + 1000000000ULL)
                deadline = now; /* far behind (suspended?): don't burst */
            err = ops->tick(l->arg, late);
            deadline += pp_loop_interval(mean);
            if (err == PP_EGONE) {
                err = 0;
                if (need & PP_LOOP_CHILD)
                    ops->child(l->arg);
                (void)ops->after(l->arg, pp_now_ns());
                break;
            }
            if (err)
                break;
        }
        if (need & PP_LOOP_CHILD)
            ops->child(l->arg);
        if (ops->after(l->arg, pp_now_ns()))
            break;
    }
    if (w.sigfd >= 0) {
        if (ops->child)
            ops->child(l->arg);
        close(w.sigfd);
        sigprocmask(SIG_SETMASK, &w.old, NULL);
    }
    free(w.fds);
    return err;
}

void
pp_loop_status(const char *what, uint64_t elapsed_ns, double duration_s)
{
    fprintf(stderr, "\rpyprof: %s, %.0f s", what, elapsed_ns / 1e9);
    if (duration_s > 0)
        fprintf(stderr, " of %.0f s", duration_s); /* -d: show the total */
    fputs(" (Ctrl-C to stop)\033[K", stderr);
    fflush(stderr);
}

void
pp_loop_status_clear(void)
{
    fputs("\r\033[K", stderr);
    fflush(stderr);
}
