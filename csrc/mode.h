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
/* perf mode: opens every thread's event.  PP_EPERM when refused (*why:
 * errno), PP_EGONE when no thread could be opened. */
int pp_mode_perf_open(struct pp_session *s, int *why);
/* ptrace mode: seizes tid (once).  PP_EPERM when refused (*why: errno). */
int pp_mode_ptrace_seize(struct pp_session *s, int tid, int *why);
/* One consistent sample of every thread (ptrace), for `dump --native`. */
int pp_mode_ptrace_dump(struct pp_session *s);

#endif
