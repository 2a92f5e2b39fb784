/*
 * pyframe.h -- thread states and Python frame chains of a target CPython
 * (layer L3).
 *
 * pp_pyframe_threads() walks every interpreter's thread-state list;
 * pp_pyframe_walk() walks one thread's frame chain into raw records
 * (code address, instruction offset, activation flags) with hard limits;
 * pp_pyframe_validate() and pp_pyframe_name() turn raw records into named
 * frames through the code cache, dropping shim and incomplete frames (the
 * one caller: pystack.c).  Shape flags of the layout decide how; no
 * version numbers here.
 */
#ifndef PP_PYFRAME_H
#define PP_PYFRAME_H

#include <stdbool.h>
#include <stdint.h>

#include "bpf/capture.h"
#include "mem.h"
#include "proc.h"
#include "py/layout.h"
#include "pycode.h"
#include "util.h"

#define PP_MAX_DEPTH 2048
#define PP_MAX_THREADS 4096
#define PP_MAX_INTERPS 64

struct pp_pythread {
    int spec;            /* read-ahead slot of this thread state, or -1 */
    uint64_t tstate_addr;
    uint64_t interp_addr;
    uint64_t thread_id;  /* pthread_t */
    int64_t native_tid;  /* TID in the target's namespace; -1 unknown */
    uint64_t top_frame;  /* frame object (<=3.10) or interpreter frame */
    uint64_t cframe_addr; /* 3.11-3.12: where top_frame was read */
    uint64_t datastack_chunk;
    uint64_t base_frame; /* 3.15+: where a complete chain ends, else 0 */
};

enum {
    PP_RAWF_ENTRY = 1, /* 3.11: last frame of an eval-loop activation */
    PP_RAWF_SHIM = 2,  /* 3.12+: C-stack shim / entry frame that closes an activation */
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

/*
 * Read-ahead.  A thread's stack rarely changes completely between two
 * ticks, so the walker remembers what the last walk of each thread state
 * read (the _PyCFrame word, the data-stack range or the frame objects, the
 * code objects' fingerprints) and reads all of it again together with the
 * thread state, in ONE process_vm_readv.  What the new thread state says
 * decides which of it is still valid (same cframe, same chunk); what is
 * not is read the ordinary way.  Steady state: one read per thread.
 */
#define PP_SPEC_SLOTS 256
#define PP_FAST_THREADS 256 /* threads read in one go per tick */
#define PP_SPEC_REGIONS 64
#define PP_SPEC_CODES 64
#define PP_SPEC_BYTES (64u << 10)

struct pp_pyspec {
    uint64_t tstate_addr;    /* 0: free slot */
    uint64_t last_tick;
    /* what to read ahead next time */
    uint64_t cframe_addr;
    size_t nregions;
    uint64_t reg_addr[PP_SPEC_REGIONS];
    uint32_t reg_len[PP_SPEC_REGIONS], reg_off[PP_SPEC_REGIONS];
    size_t ncodes;
    uint64_t codes[PP_SPEC_CODES];
    /* what was read ahead this tick */
    size_t nfp;                      /* fingerprints read: the due codes */
    uint64_t fp_code[PP_SPEC_CODES];
    bool have;               /* prefetched this tick */
    uint64_t cframe_word;
    bool cframe_ok;
    bool reg_ok[PP_SPEC_REGIONS];
    bool fp_ok[PP_SPEC_CODES];
    uint8_t *data;           /* PP_SPEC_BYTES, page aligned */
    uint8_t *fp;             /* PP_SPEC_CODES * PP_CODE_FP_MAX */
    /* being recorded by the current walk */
    size_t rec_n, rec_bytes;
    bool rec_full;
};

/* Per-target walker state: caches that live across samples. */
struct pp_pywalker {
    struct pp_mem *mem;
    const struct pp_pylayout *L;
    struct pp_pycode *codes; /* the code cache (for read-ahead of fingerprints) */
    uint64_t runtime_addr;
    /* <=3.10: pthread_t -> TID through glibc's struct pthread */
    int tid_offset;          /* -1 until discovered */
    struct pp_hmap tid_cache; /* thread_id -> tid */
    /* 3.11+: local copy of the current data-stack chunk */
    uint8_t *chunk;            /* own copy buffer */
    const uint8_t *chunk_view; /* the copy in use: chunk or read-ahead */
    uint64_t chunk_addr;
    size_t chunk_len;
    uint64_t stats_frames;
    /* read-ahead */
    struct pp_pyspec *spec;   /* PP_SPEC_SLOTS */
    struct pp_hmap spec_ids;  /* tstate_addr -> slot + 1 */
    struct pp_pyspec *cur;    /* slot of the thread being walked */
    uint64_t tick;
    uint64_t prev_interp;     /* first interpreter seen last tick */
    uint64_t now_ns, head_checked_ns;
    uint64_t fast_ts[PP_FAST_THREADS]; /* last tick's thread states, in order */
    size_t fast_n;
    uint64_t spec_hits, spec_misses;
};

void pp_pywalker_init(struct pp_pywalker *w, struct pp_mem *mem, const struct pp_pylayout *L,
                      struct pp_pycode *codes, uint64_t runtime_addr);
void pp_pywalker_free(struct pp_pywalker *w);

/* All thread states of all interpreters (bounded).  out: struct pp_pythread.
 * Hot path: one read per thread state. */
int pp_pyframe_threads(struct pp_pywalker *w, struct pp_vec *out);

/* The GIL of the interpreter at interp_addr: its address (the struct
 * whose condition variable and mutex waiting threads sleep on) and the
 * thread state holding it (0 when it is free).  One small read (two on
 * 3.12+, where the interpreter points at its GIL). */
#define PP_GIL_SPAN 256 /* bytes of the GIL struct a waiter may sleep on */
int pp_pyframe_gil(struct pp_pywalker *w, uint64_t interp_addr, uint64_t *gil_addr,
                   uint64_t *holder);

/* True once the runtime has at least one interpreter with a thread. */
bool pp_pyframe_runtime_ready(struct pp_pywalker *w);
/* The runtime is finalizing (or unreadable): a failed read is the target exiting. */
bool pp_pyframe_finalizing(struct pp_pywalker *w);

/* <=3.10: fills native_tid of each thread from glibc's descriptor,
 * discovering the TID field's offset against the known tasks on first use. */
int pp_pyframe_map_tids(struct pp_pywalker *w, struct pp_vec *threads, struct pp_tasks *tasks);

/* Reads t's thread state again, without read-ahead, for a retry after a
 * walk hit memory that changed under it. */
int pp_pyframe_reread(struct pp_pywalker *w, struct pp_pythread *t);

/* Forgets the read-ahead of t (e.g. the thread was idle: not worth it). */
void pp_pyframe_spec_drop(struct pp_pywalker *w, const struct pp_pythread *t);

/* Walks t's frames, innermost first, into raw[0..max).  *truncated is set
 * when the depth limit cut the chain. */
int pp_pyframe_walk(struct pp_pywalker *w, const struct pp_pythread *t,
                    struct pp_pyframe_raw *raw, size_t max, size_t *n, bool *truncated);

/* Checks the cached code objects of raw[] against the target (one batched
 * read, or none when they were read ahead with the thread state). */
int pp_pyframe_validate(struct pp_pywalker *w, struct pp_pycode *codes,
                        const struct pp_pyframe_raw *raw, size_t n);
/* Names one validated raw frame; *skip for shim and incomplete frames. */
int pp_pyframe_name(struct pp_pywalker *w, struct pp_pycode *codes, const struct pp_pyframe_raw *r,
                    struct pp_pyframe *out, bool *skip);

/*
 * Frames captured in the kernel by the BPF program (bpf/capture.h).
 * pp_pyframe_capture_config() describes this layout's frame chain to the
 * program (PP_EVERSION when an offset does not fit its bounds);
 * pp_pyframe_from_capture() turns a captured chain into raw records with
 * the flags and torn-chain rules of pp_pyframe_walk().  ended: the chain
 * ended at a NULL link (not cut by a fault, the depth limit or a base
 * frame).
 */
int pp_pyframe_capture_config(const struct pp_pylayout *L, uint32_t stack_size, uint32_t max_frames,
                              struct pp_bpf_config *out);
int pp_pyframe_from_capture(const struct pp_pylayout *L, const struct pp_bpf_frame *in, size_t n,
                            bool ended, struct pp_pyframe_raw *raw);

#endif
