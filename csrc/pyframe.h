/*
 * pyframe.h -- thread states and Python frame chains of a target CPython
 * (layer L3).
 *
 * pp_pyframe_threads() walks every interpreter's thread-state list;
 * pp_pyframe_walk() walks one thread's frame chain into raw records
 * (code address, instruction offset, activation flags) with hard limits;
 * pp_pyframe_resolve() turns raw records into named frames through the
 * code cache, dropping shim and incomplete frames.  Shape flags of the
 * layout decide how; no version numbers here.
 */
#ifndef PP_PYFRAME_H
#define PP_PYFRAME_H

#include <stdbool.h>
#include <stdint.h>

#include "mem.h"
#include "proc.h"
#include "py/layout.h"
#include "pycode.h"
#include "util.h"

#define PP_MAX_DEPTH 2048
#define PP_MAX_THREADS 4096
#define PP_MAX_INTERPS 64

struct pp_pythread {
    uint64_t tstate_addr;
    uint64_t interp_addr;
    uint64_t thread_id;  /* pthread_t */
    int64_t native_tid;  /* TID in the target's namespace; -1 unknown */
    uint64_t top_frame;  /* frame object (<=3.10) or interpreter frame */
    uint64_t datastack_chunk;
};

enum {
    PP_RAWF_ENTRY = 1, /* 3.11: last frame of an eval-loop activation */
    PP_RAWF_SHIM = 2,  /* 3.12+: C-stack shim that closes an activation */
    PP_RAWF_GEN = 4,   /* owned by a generator/coroutine */
};

struct pp_pyframe_raw {
    uint64_t code_addr;
    uint64_t frame_addr;
    int64_t instr; /* f_lasti (<=3.10) or remote instruction pointer (3.11+) */
    uint32_t flags;
};

/* A named frame, innermost first in arrays. */
struct pp_pyframe {
    uint32_t name_id, file_id;
    int line;
};

/* Per-target walker state: caches that live across samples. */
struct pp_pywalker {
    struct pp_mem *mem;
    const struct pp_pylayout *L;
    uint64_t runtime_addr;
    /* <=3.10: pthread_t -> TID through glibc's struct pthread */
    int tid_offset;          /* -1 until discovered */
    struct pp_hmap tid_cache; /* thread_id -> tid */
    /* 3.11+: local copy of the current data-stack chunk */
    uint8_t *chunk;
    uint64_t chunk_addr;
    size_t chunk_len;
    uint64_t stats_frames;
};

void pp_pywalker_init(struct pp_pywalker *w, struct pp_mem *mem, const struct pp_pylayout *L,
                      uint64_t runtime_addr);
void pp_pywalker_free(struct pp_pywalker *w);

/* All thread states of all interpreters (bounded).  out: struct pp_pythread.
 * Hot path: one read per thread state. */
int pp_pyframe_threads(struct pp_pywalker *w, struct pp_vec *out);

/* True once the runtime has at least one interpreter with a thread. */
bool pp_pyframe_runtime_ready(struct pp_pywalker *w);

/* <=3.10: fills native_tid of each thread from glibc's descriptor,
 * discovering the TID field's offset against the known tasks on first use. */
int pp_pyframe_map_tids(struct pp_pywalker *w, struct pp_vec *threads, struct pp_tasks *tasks);

/* Walks t's frames, innermost first, into raw[0..max).  *truncated is set
 * when the depth limit cut the chain. */
int pp_pyframe_walk(struct pp_pywalker *w, const struct pp_pythread *t,
                    struct pp_pyframe_raw *raw, size_t max, size_t *n, bool *truncated);

/* Names raw frames through the code cache.  Skips shims and incomplete
 * frames.  out must hold n entries; *nout gets the count. */
int pp_pyframe_resolve(struct pp_pywalker *w, struct pp_pycode *codes,
                       const struct pp_pyframe_raw *raw, size_t n, struct pp_pyframe *out,
                       size_t *nout);

#endif
