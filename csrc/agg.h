/*
 * agg.h -- aggregation of samples into interned frames and stacks
 * (layer L4).
 *
 * Pure bookkeeping over plain records: no remote memory, no process.
 * Frames are interned by (kind, name, file, line); stacks (root first) by
 * their frame-id sequence; counts are kept per (stack, thread).
 */
#ifndef PP_AGG_H
#define PP_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum pp_frame_kind {
    PP_FRAME_PY,
    PP_FRAME_NATIVE,
    PP_FRAME_MARKER,
    /* a native PC not symbolized in full yet (native.c): line holds its
     * index; pp_agg_remap() expands it before anything is written */
    PP_FRAME_PC,
    PP_FRAME_PROCESS, /* root of a process's stacks (--subprocesses) */
};

struct pp_agg_frame {
    uint32_t kind;
    uint32_t name_id, file_id;
    int32_t line;
};

struct pp_agg_thread {
    int tid;
    uint32_t name_id;
};

struct pp_agg_count {
    uint32_t stack_id, thread_idx;
    uint64_t count;
};

struct pp_agg_sample { /* with --timestamps */
    uint32_t stack_id, thread_idx;
    uint64_t t_ns;
};

struct pp_agg {
    struct pp_strtab *strs;
    struct pp_vec frames;      /* struct pp_agg_frame */
    struct pp_hmap frame_ids;  /* hash -> id + 1 */
    struct pp_vec stack_off;   /* uint32_t start into stack_data, per stack */
    struct pp_vec stack_len;   /* uint32_t */
    struct pp_vec stack_data;  /* uint32_t frame ids, root first */
    struct pp_hmap stack_ids;  /* hash -> id + 1 */
    struct pp_vec threads;     /* struct pp_agg_thread */
    struct pp_hmap thread_ids; /* tid -> idx + 1 */
    struct pp_vec counts;      /* struct pp_agg_count */
    struct pp_hmap count_ids;  /* (stack, thread) -> idx + 1 */
    struct pp_vec samples;     /* struct pp_agg_sample */
    bool keep_timestamps;
    uint64_t total;
};

void pp_agg_init(struct pp_agg *a, struct pp_strtab *strs);
void pp_agg_free(struct pp_agg *a);

int pp_agg_frame(struct pp_agg *a, enum pp_frame_kind kind, uint32_t name_id, uint32_t file_id,
                 int line, uint32_t *id);
/* Frame ids root first. */
int pp_agg_stack(struct pp_agg *a, const uint32_t *frames, size_t n, uint32_t *id);
/* Registers or renames a thread. */
int pp_agg_thread(struct pp_agg *a, int tid, const char *name, uint32_t *idx);
int pp_agg_add(struct pp_agg *a, uint32_t stack_id, uint32_t thread_idx, uint64_t t_ns);
/* The same with a weight n (--off-cpu: nanoseconds) instead of 1. */
int pp_agg_add_n(struct pp_agg *a, uint32_t stack_id, uint32_t thread_idx, uint64_t t_ns,
                 uint64_t n);

/*
 * Builds dst (initialised, sharing src's string table) from src with every
 * frame replaced by expand()'s frames (dst ids, root first; zero or more):
 * stacks that become equal are merged, counts, timestamps and threads
 * carried over.
 */
typedef int (*pp_agg_expand_fn)(void *arg, struct pp_agg *dst, const struct pp_agg_frame *f,
                                uint32_t *out, size_t max, size_t *n);
int pp_agg_remap(const struct pp_agg *src, struct pp_agg *dst, pp_agg_expand_fn expand,
                 void *arg);

/* Adds every sample of src to dst (which may have another string table),
 * each stack under prefix (a dst frame id) unless prefix is UINT32_MAX. */
int pp_agg_append(struct pp_agg *dst, const struct pp_agg *src, uint32_t prefix);

static inline const uint32_t *
pp_agg_stack_frames(const struct pp_agg *a, uint32_t id, uint32_t *len)
{
    *len = *(uint32_t *)pp_vec_at(&a->stack_len, id);
    return (const uint32_t *)pp_vec_at(&a->stack_data, *(uint32_t *)pp_vec_at(&a->stack_off, id));
}

#endif
