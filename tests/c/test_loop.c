/*
 * test_loop.c -- the one sampling loop (loop.c) with a fake capture mode:
 * ticks at the rate, late ticks, no burst after a long stall, flush,
 * duration, stop, a gone target, perf-style fds, a member that falls back
 * from perf to timed ticks mid-run, and SIGCHLD waking a ptrace wait.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "loop.h"
#include "tap.h"
#include "util.h"

struct fake {
    unsigned need;        /* prepare's answer */
    uint64_t fall_back_ns; /* > 0: fds until then, PP_LOOP_TIMED after */
    int fd;               /* a pipe's read end offered as a perf fd, or -1 */
    long ticks, late, flushes, drains, children, afters;
    long sleep_at_tick;   /* this tick sleeps sleep_ns */
    uint64_t sleep_ns;
    long flush_at_tick, stop_at_tick, gone_at_tick;
    uint64_t first_child_ns, start_ns, ticks_after_fallback;
    pid_t child_pid;
};

static void
sleep_for(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static unsigned
f_prepare(void *arg, uint64_t now, struct pollfd *fds, size_t max, size_t *nfds, bool *ready)
{
    struct fake *f = arg;
    (void)ready;
    if (f->fall_back_ns) {
        if (now - f->start_ns < f->fall_back_ns && max > 0) {
            fds[0].fd = f->fd;
            fds[0].events = POLLIN;
            fds[0].revents = 0;
            *nfds = 1;
            return 0;
        }
        return PP_LOOP_TIMED;
    }
    if (f->fd >= 0 && max > 0) {
        fds[0].fd = f->fd;
        fds[0].events = POLLIN;
        fds[0].revents = 0;
        *nfds = 1;
    }
    return f->need;
}

static int
f_drain(void *arg, const struct pollfd *fds, size_t nfds, uint64_t end)
{
    struct fake *f = arg;
    char buf[64];
    (void)end;
    if (nfds == 1 && (fds[0].revents & POLLIN))
        (void)!read(f->fd, buf, sizeof buf);
    f->drains++;
    return 0;
}

static int
f_tick(void *arg, bool late)
{
    struct fake *f = arg;
    f->ticks++;
    f->late += late;
    if (f->fall_back_ns && pp_now_ns() - f->start_ns >= f->fall_back_ns)
        f->ticks_after_fallback++;
    if (f->ticks == f->sleep_at_tick)
        sleep_for(f->sleep_ns);
    if (f->ticks == f->flush_at_tick)
        pp_flush_requested = 1;
    if (f->ticks == f->stop_at_tick)
        pp_stop_requested = 1;
    if (f->ticks == f->gone_at_tick)
        return PP_EGONE;
    return 0;
}

static void
f_child(void *arg)
{
    struct fake *f = arg;
    f->children++;
    /* the child's exit noted the moment it is seen */
    if (!f->first_child_ns && f->child_pid > 0 && waitpid(f->child_pid, NULL, WNOHANG) == f->child_pid)
        f->first_child_ns = pp_now_ns();
}

static void
f_flush(void *arg)
{
    ((struct fake *)arg)->flushes++;
}

static bool
f_after(void *arg, uint64_t now)
{
    (void)now;
    ((struct fake *)arg)->afters++;
    return false;
}

static const struct pp_loop_ops fake_ops = {f_prepare, f_drain, f_tick, f_child, f_flush, f_after};

static int
run(struct fake *f, double rate, uint64_t duration_ns)
{
    struct pp_loop l = {&fake_ops, f, rate, 0};
    f->start_ns = pp_now_ns();
    l.end_ns = f->start_ns + duration_ns;
    pp_stop_requested = pp_flush_requested = 0;
    return pp_loop_run(&l);
}

static void
fake_init(struct fake *f)
{
    memset(f, 0, sizeof *f);
    f->need = PP_LOOP_TIMED;
    f->fd = -1;
}

int
main(void)
{
    struct fake f;
    uint64_t t0, took;
    int p[2];

    /* ticks at about the rate, none late on a quiet run, none past the end */
    fake_init(&f);
    CHECK_EQ_INT(run(&f, 500, 400000000ULL), 0);
    CHECK(f.ticks > 100 && f.ticks < 400);
    CHECK(f.late < f.ticks / 4);
    CHECK_EQ_INT(f.flushes, 0);

    /* a tick that takes 30 intervals: the next one is late */
    fake_init(&f);
    f.sleep_at_tick = 5;
    f.sleep_ns = 60000000ULL;
    run(&f, 500, 300000000ULL);
    CHECK(f.late >= 1);

    /* stalled 1.1 s (suspended): the schedule restarts, no burst of the
     * 1100 missed ticks */
    fake_init(&f);
    f.sleep_at_tick = 3;
    f.sleep_ns = 1100000000ULL;
    run(&f, 1000, 1250000000ULL);
    CHECK(f.late >= 1);
    CHECK(f.ticks < 600);

    /* SIGUSR1's flag: flushed once, and the run goes on */
    fake_init(&f);
    f.flush_at_tick = 10;
    run(&f, 1000, 200000000ULL);
    CHECK_EQ_INT(f.flushes, 1);
    CHECK(f.ticks > 20);

    /* the duration ends the run on time, even with intervals of up to 1 s */
    fake_init(&f);
    t0 = pp_now_ns();
    run(&f, 10, 100000000ULL);
    took = pp_now_ns() - t0;
    CHECK(took >= 100000000ULL && took < 300000000ULL);

    /* a stop request ends it at once */
    fake_init(&f);
    f.stop_at_tick = 7;
    CHECK_EQ_INT(run(&f, 1000, 2000000000ULL), 0);
    CHECK_EQ_INT(f.ticks, 7);

    /* a gone target ends it without an error */
    fake_init(&f);
    f.gone_at_tick = 4;
    CHECK_EQ_INT(run(&f, 1000, 2000000000ULL), 0);
    CHECK_EQ_INT(f.ticks, 4);

    /* perf-style members: data on their fd wakes the wait and is drained,
     * no timed ticks */
    CHECK_EQ_INT(pipe(p), 0);
    fake_init(&f);
    f.need = 0;
    f.fd = p[0];
    (void)!write(p[1], "x", 1);
    run(&f, 1000, 100000000ULL);
    CHECK(f.drains >= 1);
    CHECK_EQ_INT(f.ticks, 0);

    /* a member that falls back from perf to timed sampling mid-run is
     * ticked at the rate from then on (not once per poll wake-up) */
    fake_init(&f);
    f.fd = p[0];
    f.fall_back_ns = 100000000ULL;
    run(&f, 1000, 400000000ULL);
    CHECK(f.ticks_after_fallback > 100); /* 300 expected; 15 at one per 20 ms poll */
    close(p[0]);
    close(p[1]);

    /* with ptrace members, SIGCHLD wakes the wait at once (not at the next
     * tick, here 10 s away on average) */
    fake_init(&f);
    f.need = PP_LOOP_TIMED | PP_LOOP_CHILD;
    f.child_pid = fork();
    if (f.child_pid == 0) {
        usleep(50000);
        _exit(0);
    }
    run(&f, 0.1, 300000000ULL);
    if (!f.first_child_ns)
        waitpid(f.child_pid, NULL, 0);
    CHECK(f.children >= 1);
    CHECK(f.first_child_ns && f.first_child_ns - f.start_ns < 250000000ULL);

    TEST_DONE();
}
