/*
 * pstop.c -- brief per-thread ptrace stops (see pstop.h).
 */
#define _GNU_SOURCE
#include "pstop.h"

#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>

#include "err.h"
#include "proc.h"
#include "util.h"

#define SPIN_NS (40ULL * 1000ULL)
#define WAIT_MAX_NS (1000ULL * 1000000ULL) /* a stop that never comes */

int
pp_pstop_seize(int tid, int *why)
{
    if (ptrace(PTRACE_SEIZE, tid, 0, 0) == 0)
        return 0;
    if (why)
        *why = errno;
    if (errno == ESRCH)
        return PP_EGONE;
    return PP_EPERM;
}

/*
 * waitpid, polling first.  The stop usually comes within 10-30 us; the
 * profiler's own sleep and wake-up would add about as much again to the
 * time the thread stands still.  The poll is short: on a machine with no
 * idle CPU, spinning would keep the target from reaching its stop.
 */
static pid_t
spin_wait(int tid, int *st)
{
    uint64_t t0 = pp_now_ns();
    struct timespec nap = {0, 50000};
    do {
        pid_t r = pp_proc_waitpid(tid, st, __WALL | WNOHANG);
        if (r != 0)
            return r;
    } while (pp_now_ns() - t0 < SPIN_NS);
    /* then in naps, bounded: a stop whose report someone else consumed
     * must not hang the profiler (the caller resumes the thread anyway) */
    while (pp_now_ns() - t0 < WAIT_MAX_NS) {
        pid_t r = pp_proc_waitpid(tid, st, __WALL | WNOHANG);
        if (r != 0)
            return r;
        nanosleep(&nap, NULL);
    }
    errno = ETIMEDOUT;
    return -1;
}

void
pp_pstop_resume(int tid, int status)
{
    if (!WIFSTOPPED(status))
        return;
    if ((status >> 16) == PTRACE_EVENT_STOP) {
        int sig = WSTOPSIG(status);
        if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
            ptrace(PTRACE_LISTEN, tid, 0, 0); /* a group-stop: as if we were not there */
        else
            ptrace(PTRACE_CONT, tid, 0, 0);
    } else if ((status >> 16) != 0) {
        ptrace(PTRACE_CONT, tid, 0, 0);
    } else {
        ptrace(PTRACE_CONT, tid, 0, (void *)(long)WSTOPSIG(status)); /* deliver the signal */
    }
}

/* Waits until tid is in our interrupt's stop.  0: stopped (resume it);
 * PP_EGONE: it exited; PP_EFAULT: in a group-stop (left listening). */
static int
wait_stop(int tid)
{
    int st, tries;
    for (tries = 0; tries < 16; tries++) {
        pid_t r = spin_wait(tid, &st);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ETIMEDOUT) /* never leave it stopped on our account */
                ptrace(PTRACE_CONT, tid, 0, 0);
            return PP_EGONE;
        }
        if (WIFEXITED(st) || WIFSIGNALED(st))
            return PP_EGONE;
        if (!WIFSTOPPED(st))
            continue;
        if ((st >> 16) == PTRACE_EVENT_STOP) {
            int sig = WSTOPSIG(st);
            if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
                /* a group-stop: keep it, as if we were not there */
                ptrace(PTRACE_LISTEN, tid, 0, 0);
                return PP_EFAULT;
            }
            return 0;
        }
        if ((st >> 16) != 0) { /* another ptrace event: resume and wait on */
            ptrace(PTRACE_CONT, tid, 0, 0);
            continue;
        }
        /* a signal-delivery stop: deliver it; our interrupt is still pending */
        ptrace(PTRACE_CONT, tid, 0, (void *)(long)WSTOPSIG(st));
    }
    return PP_EGONE;
}

int
pp_pstop_poll(int watch, int *watch_status)
{
    int st, n, gone = 0;
    pid_t r;

    for (n = 0; n < 256; n++) {
        r = pp_proc_waitpid(-1, &st, WNOHANG | __WALL);
        if (r <= 0)
            break;
        if (WIFEXITED(st) || WIFSIGNALED(st)) {
            if (r == watch) {
                *watch_status = st;
                gone = 1;
            }
            continue;
        }
        pp_pstop_resume(r, st);
    }
    return gone;
}

void
pp_pstop_detach(int tid)
{
    if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) == 0 && wait_stop(tid) == 0)
        ptrace(PTRACE_DETACH, tid, 0, 0);
    else
        ptrace(PTRACE_DETACH, tid, 0, 0);
}

int
pp_pstop_sample(int pid, int tid, struct pp_pstop_sample *smp, void (*cb)(void *arg), void *arg)
{
    struct user_regs_struct r;
    struct iovec iov = {&r, sizeof r}, local, remote;
    uint64_t cpu0 = pp_thread_cpu_ns(), t0 = pp_now_ns(), pre_start;
    size_t pre_len = 0;
    ssize_t got;
    int err;

    smp->stack = smp->buf;
    smp->stack_len = 0;
    smp->stopped_ns = smp->stopped_cpu_ns = 0;
    if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) != 0)
        return errno == ESRCH ? PP_EGONE : PP_EIO;
    if ((err = wait_stop(tid)))
        return err;
    /* The thread has reported its stop but may still be leaving its CPU,
     * and PTRACE_GETREGSET waits until it has (10-20 us on these VMs):
     * read the Python frames and the stack first (process_vm_readv does
     * not wait), the stack from a little below where the SP was last
     * time, then the registers. */
    if (cb)
        cb(arg);
    pre_start = 0;
    if (smp->sp_hint > PP_PSTOP_SLACK) {
        pre_start = (smp->sp_hint - PP_PSTOP_SLACK / 2) & ~7ULL;
        local.iov_base = smp->buf;
        local.iov_len = smp->stack_cap + PP_PSTOP_SLACK;
        remote.iov_base = (void *)(uintptr_t)pre_start;
        remote.iov_len = local.iov_len;
        got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
        pre_len = got > 0 ? (size_t)got : 0;
    }
    err = 0;
    if (ptrace(PTRACE_GETREGSET, tid, (void *)(long)NT_PRSTATUS, &iov) != 0) {
        err = PP_EGONE;
    } else {
        uint64_t *g = smp->regs;
        g[0] = r.rax; g[1] = r.rdx; g[2] = r.rcx; g[3] = r.rbx;
        g[4] = r.rsi; g[5] = r.rdi; g[6] = r.rbp; g[7] = r.rsp;
        g[8] = r.r8; g[9] = r.r9; g[10] = r.r10; g[11] = r.r11;
        g[12] = r.r12; g[13] = r.r13; g[14] = r.r14; g[15] = r.r15;
        g[16] = r.rip;
        if (pre_len && r.rsp >= pre_start && r.rsp - pre_start < pre_len &&
            r.rsp - pre_start <= PP_PSTOP_SLACK) {
            /* the early copy holds the stack from the SP on (up to the
             * stack's end or stack_cap bytes, at most SLACK fewer: frames
             * beyond are read live later, and the root end is stable) */
            smp->stack = smp->buf + (r.rsp - pre_start);
            smp->stack_len = pre_len - (size_t)(r.rsp - pre_start);
            if (smp->stack_len > smp->stack_cap)
                smp->stack_len = smp->stack_cap;
        } else {
            local.iov_base = smp->buf;
            local.iov_len = smp->stack_cap;
            remote.iov_base = (void *)(uintptr_t)r.rsp;
            remote.iov_len = smp->stack_cap;
            /* a partial read stops at the stack's end: that is the copy */
            got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
            smp->stack = smp->buf;
            smp->stack_len = got > 0 ? (size_t)got : 0;
        }
    }
    /* the one resume of this stop */
    ptrace(PTRACE_CONT, tid, 0, 0);
    smp->stopped_ns = pp_now_ns() - t0;
    /* the work done while the thread stood still, whatever the scheduler
     * did to us: on a busy machine the wall time above also holds the
     * time this thread waited for a CPU */
    smp->stopped_cpu_ns = pp_thread_cpu_ns() - cpu0;
    return err;
}
