/*
 * pstop.h -- brief per-thread ptrace stops (layer L1): the consistent
 * native sampling mode (--blocking) and one-shot dumps.
 *
 * Threads are attached with PTRACE_SEIZE (no SIGSTOP, no options: never
 * PTRACE_O_EXITKILL on a process we did not start).  A sample is
 * PTRACE_INTERRUPT, a wait for the stop, the registers, one
 * process_vm_readv of the stack, the caller's callback (the Python
 * frames are read while the thread stands still), PTRACE_CONT.  Every
 * path after a successful interrupt ends in a resume; the resume is in
 * one place.  Group-stops (SIGSTOP from someone else) are left alone with
 * PTRACE_LISTEN, signals are re-injected.  If the profiler dies, the
 * kernel detaches and resumes the threads.
 */
#ifndef PP_PSTOP_H
#define PP_PSTOP_H

#include <stddef.h>
#include <stdint.h>

/* PP_EPERM (Yama, capabilities, another tracer), PP_EGONE. *why: errno. */
int pp_pstop_seize(int tid, int *why);
/* Interrupts, waits and detaches (the thread keeps running). */
void pp_pstop_detach(int tid);

struct pp_pstop_sample {
    uint64_t regs[17];  /* DWARF numbering */
    uint8_t *buf;       /* caller's buffer: stack_cap + PP_PSTOP_SLACK bytes */
    size_t stack_cap;
    uint64_t sp_hint;   /* the thread's SP at its last sample, or 0 */
    const uint8_t *stack; /* out: the copy of [regs[7], + stack_len), in buf */
    size_t stack_len;
    uint64_t stopped_ns; /* from the interrupt to the resume */
    uint64_t stopped_cpu_ns; /* the sampler thread's CPU time (user + system) in that span */
};

/* The stack is copied from below the hinted SP, before the registers are
 * known; the thread's SP must fall within this many bytes of the hint. */
#define PP_PSTOP_SLACK (8u << 10)

/*
 * Between samples a seized thread can stop on its own: a signal arrives
 * (signal-delivery-stop: it waits for us to pass the signal on) or a
 * group-stop begins.  Call this often (every few ms): it delivers such
 * signals and leaves group-stops listening, so no thread waits on us.
 * Returns 1 when `watch` (a child of ours) exited, with its status.
 */
int pp_pstop_poll(int watch, int *watch_status);

/* Whoever reaps a wait status of a seized thread that is a stop (a
 * waitpid on the launched child, say) hands it here: the signal is
 * delivered, a group-stop kept, anything else resumed. */
void pp_pstop_resume(int tid, int status);

/* cb (may be NULL) runs while the thread is stopped. */
int pp_pstop_sample(int pid, int tid, struct pp_pstop_sample *smp, void (*cb)(void *arg),
                    void *arg);

#endif
