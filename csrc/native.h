/*
 * native.h -- mixed native + Python sampling (layer L5).
 *
 * Modes (docs/native.md):
 *   perf      (default) perf_event_open task-clock events on every thread
 *             copy registers and stack in the kernel; the thread is never
 *             stopped.  The Python frames are read as soon as the sample
 *             arrives, the native stack is unwound from the copy.
 *   blocking  (--blocking) each thread is stopped briefly with
 *             PTRACE_INTERRUPT: registers, a stack copy and the Python
 *             frames are taken while it stands still, then it is resumed
 *             and the copy unwound.  Consistent by construction.
 * perf events -> ptrace -> Python-only, as permissions allow; each step
 * down is said once with what would enable the better mode.
 */
#ifndef PP_NATIVE_H
#define PP_NATIVE_H

#include <stdbool.h>

#include "out.h"
#include "sample.h"

enum pp_native_mode { PP_NATIVE_AUTO, PP_NATIVE_PERF, PP_NATIVE_BLOCKING };

/* After pp_session_start: sets up unwinder, symbolizer and the sampling
 * mode, stepping down as needed.  s->nat stays NULL when native sampling
 * is unavailable (Python-only then).  Fails only on fatal errors. */
int pp_native_start(struct pp_session *s);
/* Perf mode, for a loop over several processes (multi.c): the fds to
 * poll (*ready: data is already waiting), what poll said, the samples,
 * new threads (PP_EGONE when the process is gone). */
struct pollfd;
size_t pp_native_pollfds(struct pp_session *s, struct pollfd *fds, size_t max, bool *ready);
void pp_native_after_poll(struct pp_session *s, const struct pollfd *fds, size_t n);
int pp_native_drain(struct pp_session *s, uint64_t end);
int pp_native_maintain(struct pp_session *s, uint64_t now);
/* True when s samples natively in perf mode, in blocking mode. */
bool pp_native_is_perf(const struct pp_session *s);
bool pp_native_is_blocking(const struct pp_session *s);
/* Blocking mode over several processes: one tick of s (ptrace stops of
 * its threads; the caller passes on signals: pp_pstop_poll), and the
 * detach at the end. */
int pp_native_blocking_tick(struct pp_session *s);
void pp_native_detach(struct pp_session *s);
/* Blocking mode: passes on the signals that stopped seized threads (call
 * on SIGCHLD and after each tick); notes the launched child's exit. */
void pp_native_poll_stops(struct pp_session *s);

/* One consistent sample of every thread (ptrace), for `dump --native`. */
int pp_native_dump(struct pp_session *s);
/* The profile with its native PC frames expanded (inline chains resolved,
 * once per PC): what gets written.  out is initialised here. */
int pp_native_expand(struct pp_session *s, struct pp_agg *out);
void pp_native_out_info(struct pp_session *s, struct pp_out_info *info);
/* Appends native figures to the summary line. */
void pp_native_summary(struct pp_session *s, char *buf, size_t len);
void pp_native_free(struct pp_session *s);

#endif
