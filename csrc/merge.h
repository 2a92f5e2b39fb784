/*
 * merge.h -- splicing Python frames into a native stack (layer L4).
 *
 * Pure: plain records in, frame ids out; no memory, no process.
 *
 * The native stack (root first) holds eval-loop activations
 * (_PyEval_EvalFrameDefault and its split parts).  The Python stack
 * (root first) is cut into runs, one per activation:
 *   3.8-3.10  every frame is its own run (one activation per frame);
 *   3.11      a run starts at a frame with is_entry set;
 *   3.12+     a run starts above each C-stack shim frame.
 * With as many runs as activations, activation i is replaced by run i.
 * When the native unwind was cut short (no CFI, a stack deeper than the
 * copy), the runs are matched from the leaf and a marker stands for the
 * missing native part.  Otherwise the merge failed (the Python stack was
 * read after it changed): the sample becomes "<merge mismatch>" followed
 * by its native stack alone, eval frames included, so that a flame graph
 * never shows a path the program did not take; the caller counts it.
 * With evidence (struct pp_merge_evidence), each join is also checked
 * against addresses both halves hold: a contradiction is a mismatch, a
 * join nothing proves is marked "<merge unproven>".
 * Interpreter-internal native frames can be folded away.
 */
#ifndef PP_MERGE_H
#define PP_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A native frame, after symbolization: one or more output frames (an
 * inline chain, root first). */
#define PP_MF_EVAL 1u     /* an eval-loop activation */
#define PP_MF_INTERNAL 2u /* interpreter internals (libpython) */

struct pp_merge_native {
    uint32_t flags;
    uint32_t nids;
    const uint32_t *ids; /* frame ids, root first (an eval frame: what is
                          * inlined into the loop at its PC) */
    uint32_t self_id;    /* an eval frame: the loop's own frame, shown when
                          * the sample could not be merged */
};

struct pp_merge_py {
    uint32_t id;        /* frame id; UINT32_MAX: a run boundary only (shim) */
    bool run_start;     /* first frame of an activation's run */
    /* run_start entries: where the run was in the target when the Python
     * half was read (0: not known) */
    uint64_t base_addr; /* its C-stack shim / entry frame (3.12+), its frame
                         * object (<=3.10) */
    uint64_t top_addr;  /* its innermost frame (incomplete ones included) */
    uint64_t code_lo, code_hi; /* 3.11+: that frame's bytecode [lo, hi) */
};

/*
 * Evidence that the two halves show the same instant (perf mode: the
 * native half is copied by the kernel at the sample, the Python half read
 * tens of microseconds later).  Each join of run i to activation i is
 * checked with what both halves hold:
 *   PP_MEV_SHIM    3.12+: run i's shim frame is the activation's local
 *                  entry frame: base_addr in [sp_i, cfa_i).  Exact.
 *   PP_MEV_CFRAME  3.11-3.12: each activation's local _PyCFrame, from the
 *                  thread's (Python half) along `previous` in the copy
 *                  (native half): in [sp_i, cfa_i), and its current_frame
 *                  in the copy is run i's top_addr.  Exact.
 *   PP_MEV_FRAMEOBJ  <=3.10: the run's frame object (base_addr), an
 *                  argument of its activation, kept in a callee-saved
 *                  register: in the sampled registers or in the copy
 *                  below cfa_i (spilled by a callee, or by the activation).
 *   PP_MEV_INSTR   3.11+: the activation's instruction pointer (next_instr,
 *                  a callee-saved register while it calls out) points into
 *                  the bytecode of the run's top frame [code_lo, code_hi):
 *                  in the sampled registers or in the copy below cfa_i (the
 *                  callees' spills, or the activation's own stack slot:
 *                  3.12's loop keeps it there while it calls out; a slot
 *                  may also hold a value of an earlier call, see
 *                  docs/native.md).  For the innermost activation, a
 *                  pointer into the bytecode of another function recently
 *                  on top (other_code) found nearer the leaf than the
 *                  match leaves the join unproven: that slot was stale.
 *                  For these two: found, proven; not found, no evidence
 *                  either way.
 * A contradiction makes the sample a mismatch; a join that nothing proves
 * (with no contradiction) is merged behind "<merge unproven>".
 */
#define PP_MEV_SHIM 1u
#define PP_MEV_CFRAME 2u
#define PP_MEV_FRAMEOBJ 4u
#define PP_MEV_INSTR 8u

struct pp_merge_evidence {
    unsigned checks;           /* PP_MEV_*; 0: the counts alone decide */
    const uint64_t *sp;        /* per native frame, root first: its SP (0 unknown) */
    const uint64_t *regs;      /* the sampled registers */
    size_t nregs;
    const uint8_t *stack;      /* the copy of [stack_addr, stack_addr + stack_len) */
    uint64_t stack_addr;
    size_t stack_len;
    uint64_t cframe_addr;      /* PP_MEV_CFRAME: the thread's _PyCFrame (Python half) */
    uint32_t cframe_current, cframe_previous; /* offsets in a _PyCFrame */
    const uint64_t *other_code; /* PP_MEV_INSTR: n_other [lo, hi) pairs, sorted, the
                                 * bytecode of functions recently on top */
    size_t n_other;
};

struct pp_merge_in {
    const struct pp_merge_native *native; /* root first */
    size_t nnative;
    bool native_truncated; /* the unwind did not reach the outermost frame */
    const struct pp_merge_py *py;          /* root first */
    size_t npy;
    bool no_internals;
    /* Both halves were taken in the same instant (bpf, ptrace captures):
     * a leaf-most activation with no run is entering or leaving (its
     * frames not pushed yet, or popped): like an activation whose run is
     * empty, it shows no frame of its own.  A capture of two instants cannot tell that from a Python
     * stack that moved on, and leaves it a mismatch. */
    bool same_instant;
    uint32_t mismatch_marker;  /* frame id of "<merge mismatch>" */
    uint32_t truncated_marker; /* frame id of "<native stack truncated>" */
    uint32_t unproven_marker;  /* frame id of "<merge unproven>" */
    struct pp_merge_evidence ev;
};

enum pp_merge_result {
    PP_MERGE_OK = 0,         /* (also: one leaf-most activation without a run, same_instant) */
    PP_MERGE_NOPY,       /* no eval activation and no Python frame: native only */
    PP_MERGE_MISMATCH,   /* activations and runs disagree */
    PP_MERGE_TRUNCATED,  /* native stack cut short; aligned from the leaf */
    PP_MERGE_CONTRADICTED, /* the counts agree, the evidence does not: a mismatch
                            * (the same output as PP_MERGE_MISMATCH) */
    PP_MERGE_UNPROVEN,   /* merged (OK or TRUNCATED: in->native_truncated), but no
                          * evidence that both halves are of one instant:
                          * "<merge unproven>" comes first */
};

/* Writes the merged stack, root first, into out[0..*n) (at most max).
 * Returns one of enum pp_merge_result. */
int pp_merge(const struct pp_merge_in *in, uint32_t *out, size_t max, size_t *n);

#endif
