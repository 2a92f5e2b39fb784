/*
 * multi.h -- one profile of a process tree: --subprocesses (layer L5).
 */
#ifndef PP_MULTI_H
#define PP_MULTI_H

#include "sample.h"

struct pp_multi;

/* Attaches to opts->pid (or launches opts->argv) and every Python
 * descendant found so far.  *out is set even on failure (free it). */
int pp_multi_start(struct pp_multi **out, const struct pp_session_opts *opts);
/* Samples until stopped, the duration ends, or the root and every
 * descendant are gone. */
int pp_multi_run(struct pp_multi *m);
/* Writes the profile (also for SIGUSR1) and, with opts.summary, the line. */
int pp_multi_write(struct pp_multi *m);
void pp_multi_stop_target(struct pp_multi *m);
void pp_multi_free(struct pp_multi *m);

#endif
