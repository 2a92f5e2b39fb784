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
};

enum pp_merge_result {
    PP_MERGE_OK = 0,         /* (also: one leaf-most activation without a run, same_instant) */
    PP_MERGE_NOPY,       /* no eval activation and no Python frame: native only */
    PP_MERGE_MISMATCH,   /* activations and runs disagree */
    PP_MERGE_TRUNCATED,  /* native stack cut short; aligned from the leaf */
};

/* Writes the merged stack, root first, into out[0..*n) (at most max).
 * Returns one of enum pp_merge_result. */
int pp_merge(const struct pp_merge_in *in, uint32_t *out, size_t max, size_t *n);

#endif
