/*
 * mode.h -- the capture modes and their choice (layer L5).
 *
 *   pp_mode_python  (mode_python.c) thread states read on a timer
 *   pp_mode_bpf     (mode_bpf.c)    perf events whose BPF program takes the
 *                                   Python frames in the same instant
 *   pp_mode_perf    (mode_perf.c)   perf events, drained as they arrive
 *   pp_mode_ptrace  (mode_ptrace.c) brief ptrace stops on a timer
 *
 * Each is a struct pp_mode_ops (sample.h) that the loop (loop.c), the
 * session and the process set call; a new mode is a new file and a line
 * in pp_mode_pick().
 */
#ifndef PP_MODE_H
#define PP_MODE_H

#include "loop.h"
#include "sample.h"

struct pp_bpf_record;

extern const struct pp_mode_ops pp_mode_python;
extern const struct pp_mode_ops pp_mode_bpf;
extern const struct pp_mode_ops pp_mode_perf;
extern const struct pp_mode_ops pp_mode_ptrace;

/* After pp_session_start: sets s->mode.  Without --native, Python-only.
 * With it, perf events -> ptrace -> Python-only as the kernel allows;
 * each step down is said once, with what would enable the better mode.
 * Fails only on fatal errors (s->mode is still set). */
int pp_mode_pick(struct pp_session *s);

/* bpf mode: loads the program and opens every thread's event.  PP_EPERM
 * or PP_ENOTFOUND / PP_EVERSION / PP_EIO (not possible here) with a
 * sentence in why; *why_perf when it was the perf events that were
 * refused (perf mode would be refused too).  PP_EGONE when no thread
 * could be opened. */
int pp_mode_bpf_open(struct pp_session *s, char *why, size_t whylen, bool *why_perf);
/* Lets go of what pp_mode_bpf_open set up (a fall-back to another mode). */
void pp_mode_bpf_release(struct pp_session *s);
/* -a with the bpf capture (system.c): s's records come from the per-CPU
 * events and are handed in by the caller.  Sets up the thread map and,
 * for a Python process whose layout fits the program, its configuration
 * (until then its records have no Python frames: read late, as in perf
 * mode, counted as bpf_late_py).  s->mode becomes pp_mode_bpf_system,
 * whose detach forgets the process's configuration and threads. */
int pp_mode_bpf_system_init(struct pp_session *s);
/* New threads and the thread map, at most every 50-100 ms. */
void pp_mode_bpf_system_maintain(struct pp_session *s, uint64_t now);
/* One record of s's process turned into a sample (the one way, for
 * --pid and -a alike). */
int pp_mode_bpf_record(struct pp_session *s, const struct pp_bpf_record *r);
extern const struct pp_mode_ops pp_mode_bpf_system;
/* perf mode: opens every thread's event.  PP_EPERM when refused (*why:
 * errno), PP_EGONE when no thread could be opened. */
int pp_mode_perf_open(struct pp_session *s, int *why);
/* ptrace mode: seizes tid (once).  PP_EPERM when refused (*why: errno). */
int pp_mode_ptrace_seize(struct pp_session *s, int tid, int *why);
/* One consistent sample of every thread (ptrace), for `dump --native`. */
int pp_mode_ptrace_dump(struct pp_session *s);

#endif
