/*
 * system.h -- system-wide sampling, `record -a` (layer L5).
 *
 * One cpu-clock perf event per online CPU (pid -1), not one per thread:
 * every process that runs is sampled, each sample says its pid/tid and
 * carries the user registers and a stack copy (and, with --kernel, the
 * kernel's callchain).  The process set (multi.c) routes each sample to
 * the session of its process, made here on its first sample: a Python
 * process gets a session whose Python frames are merged as in perf mode,
 * any other process a native-only session (or none, with --python-only).
 * These sessions take no samples of their own: their mode,
 * pp_mode_system, only writes.
 */
#ifndef PP_SYSTEM_H
#define PP_SYSTEM_H

#include <stdbool.h>
#include <stdint.h>

#include "perf.h"
#include "sample.h"

struct pp_out_info;

/* The kernel's text symbols (/proc/kallsyms), sorted by address. */
struct pp_ksyms {
    uint64_t *addr;
    uint32_t *name; /* offsets into names */
    char *names;
    size_t n;
};

struct pp_system {
    struct pp_event ev;   /* cpu-clock at --rate */
    struct pp_perf perf;
    bool perf_open;
    /* the bpf capture (docs/native.md): per-CPU cpu-clock events that write
     * nothing, the program attached to each; records come from its ring */
    bool bpf;
    int *bpf_fds;       /* one per CPU, -1 once closed */
    bool kernel;        /* kernel frames are sampled */
    bool ksyms_hidden;  /* kptr_restrict: kernel frames are "[kernel]" */
    struct pp_ksyms ks;
    uint32_t *kframes;  /* one sample's kernel frames, root first */
    /* executables (device, inode) found not to be Python: the next process
     * of one (a compiler run again and again) skips the search for
     * _PyRuntime in its ELF files (at most NATIVE_EXES_MAX remembered) */
    struct pp_hmap native_exes;
    int ncpus;
    /* statistics */
    uint64_t own_skipped;     /* samples of the sampler or the pyprof CLI */
    uint64_t idle_skipped;    /* pid 0: the CPU was idle (with --kernel) */
    uint64_t gone_skipped;    /* the process was gone when its sample was read */
    uint64_t left_out;        /* samples of processes not sampled (--python-only, kernel threads, refused) */
    uint64_t stale;           /* read too late (a session was being set up) */
    uint64_t known_native;    /* sessions set up without the search, thanks to native_exes */
};

/* Opens the per-CPU events (opts: rate, stack size, kernel), with the bpf
 * capture when it is possible (not with --kernel), else as perf samples
 * (said once on stderr, with why).  PP_EPERM (said in one line) when the
 * kernel refuses system-wide events. */
int pp_system_open(struct pp_system *sys, const struct pp_session_opts *opts);
/* A session of pid for -a: Python with native frames, or (unless
 * --python-only) native-only.  *out is NULL on failure. */
int pp_system_attach(struct pp_system *sys, const struct pp_session_opts *opts, int pid,
                     struct pp_session **out);
/* One sample of s's process (the perf path): its Python stack read now,
 * unwound, merged and counted (with the kernel's frames at the leaf).
 * The bpf path's records go to pp_mode_bpf_record (mode.h). */
int pp_system_sample(struct pp_system *sys, struct pp_session *s,
                     const struct pp_perf_sample *smp);
/* Is pid's executable named python*?  Such a process found not to be
 * Python was probably looked at before the loader mapped libpython. */
bool pp_system_exe_is_python(int pid);
void pp_system_out_info(struct pp_system *sys, struct pp_out_info *info);
void pp_system_free(struct pp_system *sys);

extern const struct pp_mode_ops pp_mode_system;

#endif
