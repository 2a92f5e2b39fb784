/*
 * native.h -- the native half of mixed native + Python sampling, shared by
 * the perf and ptrace capture modes (layer L5).
 *
 * Modes (docs/native.md):
 *   perf      (mode_perf.c, the default) perf_event_open task-clock events
 *             on every thread copy registers and stack in the kernel; the
 *             thread is never stopped.  The Python frames are read as soon
 *             as the sample arrives, the native stack is unwound from the
 *             copy.
 *   blocking  (mode_ptrace.c, --blocking) each thread is stopped briefly
 *             with PTRACE_INTERRUPT: registers, a stack copy and the Python
 *             frames are taken while it stands still, then it is resumed
 *             and the copy unwound.  Consistent by construction.
 * perf events -> ptrace -> Python-only, as permissions allow (pp_mode_pick,
 * mode.c); each step down is said once with what would enable the better
 * mode.  Here: the state both modes share, the Python side of one thread,
 * one sample unwound, symbolized, merged and counted, and the output.
 */
#ifndef PP_NATIVE_H
#define PP_NATIVE_H

#include <stdbool.h>

#include "merge.h"
#include "out.h"
#include "perf.h"
#include "sample.h"
#include "sym.h"
#include "unwind.h"

#define PP_NATIVE_REFRESH_TASKS_NS (100ULL * 1000000ULL)
#define PP_NATIVE_LAT_KEEP 65536

/* The Python side of one native sample, read just before (perf) or while
 * (ptrace) the thread's native state is taken. */
struct pp_native_py {
    const struct pp_pythread *thread; /* its thread state (in s->threads), or NULL */
    struct pp_pystack stack;          /* empty without a thread state */
    int err;                          /* the read failed: the sample is an error */
    bool gil_skip;                    /* --gil: the thread does not hold the GIL */
    bool late;                        /* read from user space after the native half */
};

/* A native PC seen in a sample.  Stacks hold it as one PP_FRAME_PC frame
 * (line = index here) while sampling; only the function's symbol is
 * looked up then (a binary search).  Inline chains need the DWARF scope
 * walk (~0.3 ms per PC), so they are resolved when a profile is written,
 * once per PC, and pp_agg_remap() expands the PC frames. */
struct symentry {
    uint64_t pc;
    uint32_t flags;     /* PP_MF_* */
    uint32_t frame;     /* the PP_FRAME_PC frame id */
    uint32_t self_frame; /* eval frames: the loop's own (native) frame */
    uint32_t name_id;   /* function name ("[unknown]"); unused for eval frames */
    uint32_t module_id; /* module basename ("" when in no module) */
    bool expanded;
    bool nomodule;      /* in no module when looked up: look again after a refresh */
    uint32_t maps_gen;  /* nt->maps_gen of that lookup */
    uint32_t off, n;    /* expanded: string ids in names_pool, root first */
};

struct pp_native {
    enum pp_native_mode mode;
    struct pp_unwinder *unw;
    struct pp_symbolizer *sym;
    struct pp_perf perf;
    bool perf_open;
    struct pp_hmap seized; /* tid -> 1 (blocking) */
    struct pp_hmap last_sp; /* tid -> stack pointer at its last stop */
    struct pp_vec seized_list; /* int */
    /* PC -> symbolized frames */
    struct pp_vec syms;
    struct pp_hmap sym_ids;
    struct pp_vec names_pool; /* uint32_t string ids (struct symentry) */
    /* per sample */
    struct pp_unwind_frame *uf;
    struct pp_merge_native *mn;
    uint32_t *off;
    uint64_t *sp; /* per native frame, root first: its SP (join evidence) */
    bool verify_joins; /* check each join with evidence of both halves (perf mode) */
    struct pp_native_py py; /* the Python side of this sample (pp_native_capture_py) */
    uint32_t *merged;
    /* frames added at the leaf of the next sample, then cleared: the
     * kernel's (-a --kernel, system.c) */
    const uint32_t *leaf;
    size_t nleaf;
    uint8_t *stackbuf; /* blocking mode copy */
    uint32_t mismatch_marker, truncated_marker, unwind_failed_marker, unproven_marker;
    /* --off-cpu (mode_perf.c): a thread's switch-out stack until its
     * switch-in; on-CPU samples weigh weight_ns each */
    struct pp_vec offcpu_pending; /* struct pp_native_offcpu */
    uint32_t offcpu_marker;       /* "[off-cpu]", the root of off-CPU stacks */
    uint64_t weight_ns;           /* 0: samples are counted, not weighed */
    uint64_t offcpu_ns, offcpu_waits, offcpu_preempted_ns, offcpu_unmatched;
    uint64_t last_tasks_ns, last_maps_ns;
    uint32_t maps_gen; /* maps re-read this many times */
    struct pp_hmap unknown_pages; /* pages of PCs outside every module, looked at */
    /* statistics */
    uint64_t samples, merged_ok, mismatches, truncated, nopy, unwind_failed, no_user;
    uint64_t unproven; /* merged, but nothing showed both halves are of one instant */
    uint64_t contradicted; /* mismatches found by the join evidence (in mismatches too) */
    uint64_t py_missing, unwind_ns, process_ns, perm_skipped, stale;
    uint32_t *lat_us; size_t nlat; /* perf: sample -> Python read delay */
    uint32_t *stop_ns; size_t nstop; /* blocking: thread stop times */
    uint32_t *stop_cpu_ns;           /* and the sampler's CPU time in each stop */
    /* bpf mode (mode_bpf.c) */
    bool bpf_open;                   /* holds a pp_bpf_open() */
    bool bpf_system;                 /* -a: records come from the per-CPU events (no own ones) */
    struct pp_vec bpf_threads;       /* struct pp_bpf_thread (mode_bpf.c) */
    struct pp_hmap bpf_thread_ids;   /* tid -> index + 1 */
    struct pp_hmap bpf_tstate_ids;   /* thread state -> index in s->threads + 1 */
    uint64_t bpf_rng, bpf_tmap_ns;
    uint64_t bpf_late, bpf_pyfault, bpf_pytrunc;
};

struct pp_native_offcpu {
    int tid;
    uint32_t stack_id, thread_idx;
    uint64_t out_ns; /* when it was switched out */
    bool valid, preempt;
};

/* Sets up s->nat: the unwinder and the symbolizer.  When native frames
 * are unavailable (no libdw, ...) it says so and leaves s->nat NULL
 * (Python-only then).  Fails only on fatal errors. */
int pp_native_init(struct pp_session *s);
/* PYPROF_DENY=perf,ptrace makes the sampler act as if the kernel had
 * refused: for the tests of the fall-back path. */
bool pp_native_denied_by_test(const char *what);
/* PYPROF_VERIFY_JOINS=0: no join evidence checks (for before/after
 * comparisons); =1: checks in blocking mode too. */
bool pp_native_verify_off(void);
/* The target's thread states now (s->threads), with their TIDs. */
int pp_native_threads(struct pp_session *s);
/* Reads the Python stack of tid now (into s->nat). */
void pp_native_capture_py(struct pp_session *s, int tid);
/* The same, as a pp_pstop_sample() callback: arg is a struct pp_native_cap. */
struct pp_native_cap {
    struct pp_session *s;
    int tid;
};
void pp_native_capture_py_cb(void *arg);
/* One sample of tid (registers, stack copy) after its Python stack was
 * captured: unwound, symbolized, merged and counted at time now. */
int pp_native_process(struct pp_session *s, int tid, const uint64_t *regs, const uint8_t *stack,
                      size_t len, uint64_t now);
/* The same, not counted: the merged stack under root (a marker frame id;
 * UINT32_MAX: none) and its thread, for a later pp_agg_add_n().
 * *stack_id is UINT32_MAX when the sample gives no stack. */
int pp_native_stack(struct pp_session *s, int tid, const uint64_t *regs, const uint8_t *stack,
                    size_t len, uint64_t now, uint32_t root, uint32_t *stack_id, uint32_t *idx);
/* Lets every ptrace-seized thread go. */
void pp_native_detach(struct pp_session *s);

/* The profile with its native PC frames expanded (inline chains resolved,
 * once per PC): what gets written.  out is initialised here. */
int pp_native_expand(struct pp_session *s, struct pp_agg *out);
void pp_native_out_info(struct pp_session *s, struct pp_out_info *info);
/* Appends native figures to the summary line. */
void pp_native_summary(struct pp_session *s, char *buf, size_t len);
void pp_native_free(struct pp_session *s);

#endif
