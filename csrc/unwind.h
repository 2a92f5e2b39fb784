/*
 * unwind.h -- native stack unwinding of a sampled thread (layer L2).
 *
 * Input: the thread's user registers at the sample (DWARF numbering,
 * 0-16 with rip as 16) and a copy of its stack from the sampled SP.
 * Output: the frames' PCs, innermost first.  The copy is unwound after
 * the fact, so the target does not have to be stopped; memory the
 * unwinder needs outside the copy (frames above it, CFA expressions) is
 * read from the live target through the memory interface and the sample
 * is flagged, since the target has run on since.
 *
 * Backends behind one vtable: elfutils libdw (DWARF CFI from .eh_frame /
 * .debug_frame, one long-lived Dwfl per address space) and libunwind
 * (remote address space with our own accessors).  Both are dlopen()ed.
 * Every frame is checked: the PC must lie in a known module and the stack
 * pointer must grow strictly; the walk stops at PP_UNWIND_MAX frames.
 */
#ifndef PP_UNWIND_H
#define PP_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem.h"

#define PP_UNWIND_MAX 256
#define PP_UNWIND_NREGS 17

enum pp_unwinder_kind { PP_UNWINDER_LIBDW, PP_UNWINDER_LIBUNWIND };

struct pp_unwind_input {
    int tid;
    const uint64_t *regs;  /* PP_UNWIND_NREGS, DWARF numbering */
    const uint8_t *stack;  /* copy of [regs[7], regs[7] + stack_len) */
    size_t stack_len;
};

/* Frame flags */
#define PP_UF_ACTIVATION 1u /* pc is exact (first frame, signal frame); else a return address - 1 */

/* Unwind status bits */
#define PP_US_TRUNCATED 1u  /* stopped by an error before the outermost frame */
#define PP_US_DEPTH 2u      /* hit PP_UNWIND_MAX or the caller's limit */
#define PP_US_LIVE 4u       /* read target memory outside the copied stack */
#define PP_US_NOMODULE 8u   /* stopped at a PC outside every known module */

struct pp_unwind_frame {
    uint64_t pc; /* already adjusted: return addresses have 1 subtracted */
    uint64_t sp; /* the stack pointer in this frame (the first: the sampled
                  * SP; the others: the CFA of the frame they called), 0
                  * unknown.  The frame's locals lie in [sp, the caller's sp). */
    uint32_t flags;
};

struct pp_unwinder;

struct pp_unwinder_ops {
    const char *name;
    int (*unwind)(struct pp_unwinder *u, const struct pp_unwind_input *in,
                  struct pp_unwind_frame *out, size_t max, size_t *n, unsigned *status);
    /* The target's mappings changed (dlopen): re-read them. */
    int (*refresh)(struct pp_unwinder *u);
    void (*destroy)(struct pp_unwinder *u);
};

struct pp_unwinder {
    const struct pp_unwinder_ops *ops;
    int pid;
    struct pp_mem *mem;   /* live reads outside the copy; may be NULL */
    bool allow_live;      /* false: never read outside the copy */
    /* statistics */
    uint64_t unwinds, frames, live_reads, failed_reads, refreshes;
};

/* why gets a sentence when a backend cannot be used (library missing). */
int pp_unwind_libdw_new(int pid, const char *root, struct pp_mem *mem, struct pp_unwinder **out,
                        char *why, size_t whylen);
int pp_unwind_libunwind_new(int pid, const char *root, struct pp_mem *mem,
                            struct pp_unwinder **out, char *why, size_t whylen);

static inline int
pp_unwind(struct pp_unwinder *u, const struct pp_unwind_input *in, struct pp_unwind_frame *out,
          size_t max, size_t *n, unsigned *status)
{
    return u->ops->unwind(u, in, out, max, n, status);
}

void pp_unwinder_free(struct pp_unwinder *u);

#endif
