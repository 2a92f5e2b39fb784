/*
 * perf.h -- per-thread perf_event_open sampling of another process
 * (layer L1).
 *
 * One event per target thread (cpu = -1; task-clock, or the -e event of
 * struct pp_event, event.h), each with its own
 * small ring buffer, asking the kernel for the user registers and a copy
 * of the user stack at every sample.  The target is never stopped: the
 * kernel takes the sample in the thread's own context and we read the
 * ring buffers afterwards.  New threads are added by the caller (it
 * rescans /proc/PID/task); threads that exit are noticed (POLLHUP/ESRCH)
 * and closed.
 *
 * Registers come out in DWARF numbering (rax 0, rdx 1, rcx 2, rbx 3,
 * rsi 4, rdi 5, rbp 6, rsp 7, r8-r15 8-15, rip 16), ready for an unwinder.
 */
#ifndef PP_PERF_H
#define PP_PERF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "util.h"

#define PP_NREGS 17
#define PP_PERF_STACK_DEFAULT (32u << 10)
#define PP_PERF_STACK_MAX 65528u

/* What pp_perf_next returns: a sample (regs and stack), or --off-cpu's
 * switch records of a thread (time only). */
enum pp_perf_kind { PP_PERF_SAMPLE, PP_PERF_SWITCH_OUT, PP_PERF_SWITCH_IN };

struct pp_perf_sample {
    int kind;     /* enum pp_perf_kind */
    bool offcpu;  /* from the thread's context-switch event (--off-cpu) */
    bool preempt; /* PP_PERF_SWITCH_OUT: preempted (runnable), not blocked */
    int pid, tid;
    uint64_t time_ns; /* CLOCK_MONOTONIC */
    uint64_t regs[PP_NREGS];
    bool have_regs;         /* false: no user context (exiting thread) */
    const uint8_t *stack;   /* copy of [regs[7], regs[7] + stack_len) */
    size_t stack_len;       /* dyn_size: what the kernel could copy */
    /* per-CPU events with kernel frames (pp_perf_add_cpu): the kernel's
     * PCs of the callchain, leaf first (its PERF_CONTEXT_KERNEL part) */
    const uint64_t *kernel_pcs;
    size_t nkernel;
};

struct pp_perf_thread {
    int tid;         /* -1: a per-CPU event */
    int cpu;         /* -1: a per-thread event */
    bool offcpu;     /* the context-switch event of --off-cpu, beside tid's main one */
    int fd;
    uint8_t *base;   /* mmap: control page + data */
    size_t data_size;
    bool hup;
};

struct pp_perf {
    struct pp_event ev;         /* what is sampled, and how often */
    bool offcpu;                /* also a context-switch event per thread (set after init) */
    uint32_t stack_size;
    size_t data_pages;          /* per thread, a power of two */
    struct pp_vec threads;      /* struct pp_perf_thread */
    size_t next;                /* round-robin position for pp_perf_next */
    uint8_t *rec;               /* a record copied out of a ring (wraps) */
    size_t rec_cap;
    /* statistics */
    bool callchain;             /* per-CPU events with the kernel's callchain */
    uint64_t rng;               /* xorshift state of the period jitter */
    uint64_t lost, throttled, records, opened, closed, rearmed;
};

int pp_perf_init(struct pp_perf *p, const struct pp_event *ev, uint32_t stack_size);
/* Opens tid's event (and with p->offcpu its context-switch event: a
 * sample with regs and stack at each switch-out, and switch records).  PP_EPERM when the kernel refuses (perf_event_paranoid,
 * capabilities), PP_EGONE when the thread is gone, PP_ENOEVENT when the
 * kernel has no such event (no PMU: ENOENT/EOPNOTSUPP); *why (may be NULL)
 * gets the errno. */
int pp_perf_add(struct pp_perf *p, int tid, int *why);
bool pp_perf_has(const struct pp_perf *p, int tid);
/* System-wide (-a): a cpu-clock event of every process on cpu (pid -1);
 * each sample says its pid/tid.  kernel: kernel time is sampled too, with
 * the kernel's callchain (kernel_pcs).  Errors as pp_perf_add's. */
int pp_perf_add_cpu(struct pp_perf *p, int cpu, bool kernel, int *why);
/* For the poll of the sampling loop (loop.c): fills fds (at most max) and
 * sets *ready when a buffer already holds data; then hand poll's answer
 * back (threads whose event hung up and whose buffer is empty are closed). */
struct pollfd;
size_t pp_perf_pollfds(struct pp_perf *p, struct pollfd *fds, size_t max, bool *ready);
void pp_perf_after_poll(struct pp_perf *p, const struct pollfd *fds, size_t n);
/* Next sample of any thread (1), or 0 when every buffer is empty.  The
 * sample's stack points into p and is valid until the next call. */
int pp_perf_next(struct pp_perf *p, struct pp_perf_sample *out);
void pp_perf_free(struct pp_perf *p);

/* Period jitter: the next period, exponential with mean period_ns (at
 * most ten means, at least 10 us); *rng is xorshift state. */
uint64_t pp_perf_jitter(uint64_t *rng, uint64_t period_ns);
/* ev on tid (cpu -1), or on cpu for every process (tid -1, -a), sampled
 * every period events, writing nothing itself (for a BPF program to
 * attach to), disabled: PERF_EVENT_IOC_ENABLE starts it.
 * An fd, or PP_EPERM / PP_EGONE / PP_ENOEVENT / PP_EIO with *why the
 * errno. */
int pp_perf_open_counter(int tid, int cpu, const struct pp_event *ev, uint64_t period, int *why);

#endif
