/*
 * pystack.h -- one thread's Python stack, read and named: the one reader
 * used by every capture mode, `dump` and the fixture tests (layer L4).
 *
 * A read walks the thread's frame chain (pyframe.c), checks the code
 * objects against the target, and turns each raw frame into an interned
 * frame id of the profile (agg.c), reading the thread again at once when
 * the target moved under us.  The value is the stack root first, with the
 * eval-loop activations marked (where each C-level run of the eval loop
 * starts): what the native merge (merge.c) needs to splice Python runs into
 * the native stack; Python-only sampling keeps the ids.
 */
#ifndef PP_PYSTACK_H
#define PP_PYSTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agg.h"
#include "merge.h"
#include "pycode.h"
#include "pyframe.h"
#include "pylocals.h"
#include "util.h"

/* Functions remembered as recently on top of an innermost run. */
#define PP_PYSTACK_RECENT 32

/* Reads of one thread before its sample is dropped as an error. */
#define PP_PYSTACK_ATTEMPTS 3

struct pp_pystack {
    const struct pp_merge_py *v; /* root first; id UINT32_MAX: an activation
                                  * with no frame of its own (a shim) */
    size_t n;
    bool truncated; /* the depth limit cut the chain */
    uint64_t cframe_addr; /* 3.11-3.12: the thread's _PyCFrame when read (its
                           * innermost activation's, on the C stack) */
    const uint64_t *recent_code; /* 3.11+: [lo, hi) pairs, sorted: the bytecode of */
    size_t nrecent;              /* the functions last on top of an innermost run */
};

struct pp_pystack_reader {
    struct pp_pywalker *walker;
    struct pp_pycode *codes;
    struct pp_agg *agg;
    struct pp_pyframe_raw *raw;  /* PP_MAX_DEPTH */
    struct pp_merge_py *runs;    /* PP_MAX_DEPTH + 1 */
    /* (code address, instruction) -> frame id, see pp_pystack_frame_id() */
    struct pp_vec cache;         /* struct pp_pystack_cached */
    struct pp_hmap cache_ids;    /* hash -> index + 1 */
    uint64_t cache_stale;        /* codes->stale when it was last valid */
    uint64_t retries;            /* reads again after a transient error */
    /* bytecode [lo, hi) of the functions last on top (join evidence) */
    uint64_t recent[PP_PYSTACK_RECENT][2];
    uint64_t recent_sorted[2 * PP_PYSTACK_RECENT];
    size_t nrecent, recent_next;
    size_t nraw;                 /* raw frames of the last read */
    /* dump --locals: when set, each successful read also renders the
     * locals of the thread's Python frames (pylocals.c) into it */
    struct pp_pylocals *locals;
};

int pp_pystack_init(struct pp_pystack_reader *r, struct pp_pywalker *walker,
                    struct pp_pycode *codes, struct pp_agg *agg);
void pp_pystack_free(struct pp_pystack_reader *r);

/* Reads t's stack (at most max frames, max <= PP_MAX_DEPTH) into *out,
 * valid until the next read.  Errors as pyframe.c's, after the retries. */
int pp_pystack_read(struct pp_pystack_reader *r, struct pp_pythread *t, size_t max,
                    struct pp_pystack *out);

/* Names frames read by someone else (the BPF program, in the same
 * instant as the native stack): raw[0..n), innermost first, into *out
 * like pp_pystack_read (no retry: the frames cannot be read again). */
int pp_pystack_name(struct pp_pystack_reader *r, const struct pp_pyframe_raw *raw, size_t n,
                    bool truncated, struct pp_pystack *out);

/* Raw frame -> frame id of r->agg; *skip for shims and incomplete frames. */
int pp_pystack_frame_id(struct pp_pystack_reader *r, const struct pp_pyframe_raw *raw,
                        uint32_t *id, bool *skip);

#endif
