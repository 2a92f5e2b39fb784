/*
 * bpf.h -- the BPF capture program, loaded (layer L1).
 *
 * libbpf (Debian's libbpf1) is dlopen()ed like libdw: the sampler starts
 * and samples without it.  The program object (bpf/capture.bpf.c) is
 * built with clang at build time and embedded; a sampler built without
 * clang has none, and says so.  One object per sampler process, shared
 * by every target (--subprocesses): per-process configuration and the
 * tid -> thread-state map are keyed by PID/TID of the sampler's
 * namespace, and one ring buffer carries every record.
 */
#ifndef PP_BPF_H
#define PP_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/capture.h"

/* The sampler carries the program (built with clang). */
bool pp_bpf_built(void);

/* Loads libbpf and the program (once; later calls share it).  On failure
 * why gets one sentence: what is missing and what would allow it
 * (PP_ENOTFOUND: not built / no libbpf; PP_EPERM: the kernel refused,
 * CAP_BPF + CAP_PERFMON or root needed; PP_EIO: the kernel could not
 * load it). */
int pp_bpf_open(char *why, size_t whylen);
/* Drops one pp_bpf_open(); the last one unloads. */
void pp_bpf_close(void);

/* The capture configuration of process pid (NULL: forget it). */
int pp_bpf_config_set(int pid, const struct pp_bpf_config *c);
/* -a: the configuration of every process without its own (NULL: none;
 * such processes are then not sampled). */
int pp_bpf_default_set(const struct pp_bpf_config *c);
/* tid's thread state (0: forget it). */
int pp_bpf_thread_set(int tid, uint64_t tstate_addr);

/* Attaches the program to a perf event. */
int pp_bpf_attach(int perf_fd);

/* The fd to poll for records (POLLIN). */
int pp_bpf_ring_fd(void);
/* Calls cb for each record waiting, in order, until cb returns non-zero
 * (that value is returned) or the ring is empty (0). */
typedef int (*pp_bpf_record_fn)(void *arg, const struct pp_bpf_record *r);
int pp_bpf_consume(pp_bpf_record_fn cb, void *arg);

/* Per-CPU counters summed (PP_BPF_CNT_*), and the program's own run time
 * (the kernel measures it while the sampler holds BPF_ENABLE_STATS). */
void pp_bpf_counters(uint64_t out[PP_BPF_CNT_N]);
int pp_bpf_run_stats(uint64_t *run_ns, uint64_t *run_cnt);

#endif
